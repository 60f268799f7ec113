// Workers: the threads that help the audio thread run one block of a parallel plan.
//
// Design note. The audio thread never waits for a worker to wake up and never makes a system call
// for one: it opens a block (an odd epoch, with one release store), does the work itself
// (ParallelJob::work(0)) and closes the block (an even epoch). A worker that sees the open epoch in
// time registers (inside_ = the epoch), checks the epoch again (the audio thread may have closed it
// meanwhile) and joins the work; the job hands out its pieces through atomics tagged with the
// epoch, so whatever no worker took the audio thread does itself. The audio thread closes the
// block as soon as every piece is done and never waits for workers to leave: a worker still in a
// closed block can take nothing (its tags are old) and leaves at its next look at the epoch. So a
// worker may still read a retired plan's bookkeeping (never its modules) for a moment: the UI
// thread frees a plan retired at epoch R only once no worker is inside a block <= R
// (quietSince). The register-then-check is Dekker's pattern (seq_cst on both sides): a worker
// either sees its block closed or is seen inside it.
//
// Backing off. A worker that took a piece of the block and then lost its core (the machine is
// busier than its cores) makes the audio thread wait for it. When the audio thread waited for
// more than half of a block, it runs the next blocks alone, 16 at first and twice as many after
// each such block (up to 65536), so a machine with no core to spare gets the serial speed and
// not less; a block without that trouble halves the count again.
//
// Between blocks a worker spins (pause) for kSpinNanos after its last work, then naps in
// kNapNanos sleeps (its own system calls, never the audio thread's), and after kRestAfterNanos
// without work it sleeps kRestNanos at a time: a worker costs next to nothing while the engine
// renders serial plans or is stopped. A late worker only means the audio thread does more itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace kabel {

/// Which block a thread works on, and how it may wait.
struct BlockTicket {
    std::uint64_t epoch = 0;                              // the block's (odd) epoch; grows every block
    const std::atomic<std::uint64_t>* current = nullptr;  // the epoch now (null: the audio thread)
    bool mayYield = false;                                // a thread that waited a while may give its core away (sched_yield)
    /// A worker whose block has been closed: it must stop waiting and leave.
    bool stale() const noexcept { return current && current->load(std::memory_order_acquire) != epoch; }
};

/// A block's work split over threads. Implemented by Plan.
class ParallelJob {
public:
    /// Thread `thread` (0: the audio thread; 1..: workers) takes part in the block of `ticket`.
    /// On the audio thread it returns when the whole job is done, by whichever threads; a worker
    /// may leave earlier once the ticket is stale. Returns the nanoseconds this thread waited.
    virtual std::int64_t work(int thread, const BlockTicket& ticket) noexcept = 0;

protected:
    ~ParallelJob() = default;
};

/// Tests: called on a worker thread around every block it works on (e.g. to count allocations).
class WorkerObserver {
public:
    virtual void beginWork(int thread) noexcept = 0;
    virtual void endWork(int thread) noexcept = 0;

protected:
    ~WorkerObserver() = default;
};

class Workers {
public:
    static constexpr std::int64_t kSpinNanos = 200'000;
    static constexpr std::int64_t kNapNanos = 50'000;
    static constexpr std::int64_t kRestAfterNanos = 50'000'000;
    static constexpr std::int64_t kRestNanos = 2'000'000;

    /// UI thread: starts `count` worker threads (0: none; run() then does everything itself).
    /// `realtimePriority` > 0 asks for SCHED_FIFO at that priority (live audio; ignored if the
    /// system refuses) and means no thread ever yields its core while waiting; 0 (offline
    /// rendering) lets waiting threads yield. `observer` (tests) must outlive the workers.
    explicit Workers(int count, int realtimePriority = 0, WorkerObserver* observer = nullptr);
    /// UI thread, with no run() in progress: stops and joins the workers.
    ~Workers();
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;

    int count() const noexcept { return static_cast<int>(threads_.size()); }

    /// Audio thread: runs `job` for one block, with the workers that join in time. Never
    /// allocates or locks, and makes no system call unless waiting threads may yield; returns
    /// when the job is done.
    void run(ParallelJob& job) noexcept;

    /// Audio thread: the epoch of the last block run (a plan retired now is retired at it).
    std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_relaxed); }
    /// UI thread: true when no worker is inside a block whose epoch is <= `epoch`, so a plan
    /// retired at `epoch` may be freed.
    bool quietSince(std::uint64_t epoch) const noexcept;

    /// Blocks the audio thread ran alone because workers had made it wait (see the design note).
    std::uint64_t soloBlocks() const noexcept { return solo_.load(std::memory_order_relaxed); }

    /// How many times a worker joined a block (any thread): 0 means the audio thread did it all.
    std::uint64_t joins() const noexcept { return joins_.load(std::memory_order_relaxed); }

    /// The number of threads the machine can run at once (at least 1).
    static int hardwareThreads() noexcept;

private:
    void loop(int thread);

    std::vector<std::thread> threads_;
    WorkerObserver* observer_ = nullptr;
    std::atomic<ParallelJob*> job_{nullptr};
    alignas(64) std::atomic<std::uint64_t> epoch_{0};  // odd: a block is open
    struct alignas(64) Inside {
        std::atomic<std::uint64_t> epoch{0};  // the block this worker is in; 0: none
    };
    std::unique_ptr<Inside[]> inside_;  // per worker
    std::atomic<std::uint64_t> joins_{0};
    std::atomic<std::uint64_t> solo_{0};
    bool mayYield_ = true;
    // Audio thread only: the back-off.
    std::uint32_t soloLeft_ = 0;
    std::uint32_t soloNext_ = 16;
    std::atomic<bool> stop_{false};
};

/// Steady-clock nanoseconds (a vDSO read: no system call).
std::int64_t steadyNanos() noexcept;

/// One spin-wait step (the CPU's pause hint).
inline void cpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace kabel
