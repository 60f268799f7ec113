#include "core/engine/workers.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>

#include "core/util/denormals.hpp"

namespace kabel {
namespace {

void sleepNanos(std::int64_t nanos) noexcept {
    timespec t{static_cast<time_t>(nanos / 1'000'000'000), static_cast<long>(nanos % 1'000'000'000)};
    nanosleep(&t, nullptr);
}

}  // namespace

std::int64_t steadyNanos() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Workers::hardwareThreads() noexcept {
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Workers::Workers(int count, int realtimePriority, WorkerObserver* observer) : observer_(observer), mayYield_(realtimePriority <= 0) {
    threads_.reserve(static_cast<std::size_t>(std::max(0, count)));
    inside_ = std::make_unique<Inside[]>(static_cast<std::size_t>(std::max(0, count)));
    for (int i = 1; i <= count; ++i) {
        threads_.emplace_back([this, i] { loop(i); });
        if (realtimePriority > 0) {
            sched_param param{};
            param.sched_priority = realtimePriority;
            pthread_setschedparam(threads_.back().native_handle(), SCHED_FIFO, &param);  // refused: stays normal
        }
    }
}

Workers::~Workers() {
    stop_.store(true, std::memory_order_release);
    for (std::thread& t : threads_) t.join();
}

bool Workers::quietSince(std::uint64_t epoch) const noexcept {
    for (std::size_t i = 0; i < threads_.size(); ++i) {
        const std::uint64_t inside = inside_[i].epoch.load(std::memory_order_seq_cst);
        if (inside != 0 && inside <= epoch) return false;
    }
    return true;
}

void Workers::run(ParallelJob& job) noexcept {
    const std::uint64_t open = epoch_.load(std::memory_order_relaxed) + 1;
    const BlockTicket ticket{open, nullptr, mayYield_};
    if (threads_.empty() || soloLeft_ > 0) {  // alone: the epoch still moves on, unpublished
        if (soloLeft_ > 0) {
            --soloLeft_;
            solo_.fetch_add(1, std::memory_order_relaxed);
        }
        job.work(0, ticket);
        epoch_.store(open + 1, std::memory_order_release);
        return;
    }
    const std::int64_t start = steadyNanos();
    job_.store(&job, std::memory_order_release);
    epoch_.store(open, std::memory_order_release);
    const std::int64_t waited = job.work(0, ticket);
    epoch_.store(open + 1, std::memory_order_release);
    if (waited > 0 && 2 * waited > steadyNanos() - start) {
        soloLeft_ = soloNext_;
        soloNext_ = std::min<std::uint32_t>(2 * soloNext_, 65536);
    } else if (soloNext_ > 16) {
        soloNext_ /= 2;
    }
}

void Workers::loop(int thread) {
    const ScopedFlushDenormals noDenormals;  // as the audio thread has during each block: the same bits
    std::uint64_t seen = 0;
    std::int64_t lastWork = steadyNanos();
    unsigned looks = 0;
    while (!stop_.load(std::memory_order_acquire)) {
        const std::uint64_t epoch = epoch_.load(std::memory_order_acquire);
        if ((epoch & 1) != 0 && epoch != seen) {
            seen = epoch;
            std::atomic<std::uint64_t>& inside = inside_[static_cast<std::size_t>(thread - 1)].epoch;
            inside.store(epoch, std::memory_order_seq_cst);
            // The job is read before the second look at the epoch: if that look still sees this
            // block open, the job is this block's (a newer job is stored only after the close).
            ParallelJob* job = job_.load(std::memory_order_acquire);
            if (epoch_.load(std::memory_order_seq_cst) == epoch) {
                if (observer_) observer_->beginWork(thread);
                job->work(thread, BlockTicket{epoch, &epoch_, mayYield_});
                if (observer_) observer_->endWork(thread);
                joins_.fetch_add(1, std::memory_order_relaxed);
            }
            inside.store(0, std::memory_order_release);
            lastWork = steadyNanos();
            continue;
        }
        // Spin with one pause per look at the epoch (a block is joined within ~100 ns), reading
        // the clock only every 64 looks.
        if (++looks % 64 != 0) {
            cpuRelax();
            continue;
        }
        const std::int64_t idle = steadyNanos() - lastWork;
        if (idle < kSpinNanos) continue;
        sleepNanos(idle < kRestAfterNanos ? kNapNanos : kRestNanos);
    }
}

}  // namespace kabel
