// Block screening for output stages: the peak of a block and whether it is all finite, written as
// sixteen independent lanes so the compiler vectorises them (a single running max or sum is a
// serial chain it may not reorder).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace kabel::dsp {

/// The largest |x[i]| of n samples; NaN samples are ignored (as std::max(peak, |x|) ignores them).
inline float peakAbs(const float* x, std::size_t n) noexcept {
    float part[16] = {};
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (std::size_t j = 0; j < 16; ++j) {
            const float a = std::fabs(x[i + j]);
            part[j] = a > part[j] ? a : part[j];
        }
    float peak = 0.0f;
    for (float p : part) peak = std::max(peak, p);
    for (; i < n; ++i) peak = std::max(peak, std::fabs(x[i]));
    return peak;
}

/// True when every sample is finite. The engine screens every module output with this right after
/// the module wrote it, so it must cost a few cycles, not a reduction: with AVX-512 each 16 floats
/// are classified into a mask (vfpclassps: NaN or Inf) and the masks are or-ed; otherwise a float
/// is NaN or Inf exactly when its bits without the sign are at least those of Inf, and an
/// unsigned maximum of them (a one-cycle op, no serial float chain) is compared once at the end.
inline bool allFinite(const float* x, std::size_t n) noexcept {
    std::size_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    constexpr int kNanOrInf = 0x01 | 0x08 | 0x10 | 0x80;  // quiet NaN, +Inf, -Inf, signalling NaN
    auto bad = [x](std::size_t at) { return _mm512_fpclass_ps_mask(_mm512_loadu_ps(x + at), kNanOrInf); };
    if (n == 64) return (bad(0) | bad(16) | bad(32) | bad(48)) == 0;  // one channel of the default block, unrolled
    __mmask16 any = 0;
    for (; i + 16 <= n; i += 16) any |= bad(i);
    if (any) return false;
#endif
    std::uint32_t worst = 0;
    for (; i < n; ++i) {
        const std::uint32_t bits = std::bit_cast<std::uint32_t>(x[i]) & 0x7fffffffu;
        worst = bits > worst ? bits : worst;
    }
    return worst < 0x7f800000u;
}

}  // namespace kabel::dsp
