// Denormal protection for DSP code: subnormal floats are up to 100x slower on x86, and recursive
// filters and feedback delays decay into them. The engine flushes them to zero for every block.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace kabel {

/// Sets flush-to-zero and denormals-are-zero on the calling thread for its lifetime and restores
/// the previous mode after. Any thread; noexcept, no syscalls (two register writes on x86).
class ScopedFlushDenormals {
public:
    ScopedFlushDenormals() noexcept {
#if defined(__SSE__) || defined(__x86_64__)
        saved_ = _mm_getcsr();
        _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#endif
    }
    ~ScopedFlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
        _mm_setcsr(saved_);
#endif
    }
    ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
    ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

private:
    unsigned saved_ = 0;
};

}  // namespace kabel
