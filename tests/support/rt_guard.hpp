// Counting heap allocations and mutex locks on one thread, to prove the audio thread makes none.
//
// rt_guard.cpp replaces malloc/calloc/realloc/free/memalign/aligned_alloc/posix_memalign and
// pthread_mutex_lock in the test executable (operator new/delete and std::mutex go through them)
// and forwards to glibc. Only threads that armed an RtGuard are counted. Not for sanitizer builds
// (they own malloc): there kRtGuardActive is false and the counts stay 0.
#pragma once

namespace kabel::test {

extern const bool kRtGuardActive;

struct RtCounts {
    long allocations = 0;  // malloc-family calls and frees
    long locks = 0;        // pthread_mutex_lock calls
};

/// Counts on the constructing thread until destroyed. Audio thread: construct at the top of the
/// callback; read counts() before it ends.
class RtGuard {
public:
    RtGuard() noexcept;
    ~RtGuard();
    RtGuard(const RtGuard&) = delete;
    RtGuard& operator=(const RtGuard&) = delete;
    RtCounts counts() const noexcept;
};

}  // namespace kabel::test
