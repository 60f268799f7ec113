// Eight-lane float helpers for kernels that run eight independent recurrences side by side
// (the reverb's combs): a vector of eight floats, and an 8x8 transpose that turns eight rows
// (eight consecutive samples of each of eight delay lines) into eight columns (one sample of
// every line) and back. AVX only; callers keep a scalar path for other builds (kSimd8 == false).
//
// The arithmetic helpers round exactly as core/dsp/fast_math.hpp's scalar mulAdd does (fused
// where the CPU has FMA), so a kernel written with them gives the same bits as its scalar form.
#pragma once

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace kabel::dsp {

#if defined(__AVX__)
inline constexpr bool kSimd8 = true;

using Float8 = __m256;

inline Float8 load8(const float* p) noexcept {
    return _mm256_loadu_ps(p);
}
inline void store8(float* p, Float8 v) noexcept {
    _mm256_storeu_ps(p, v);
}
inline Float8 splat8(float x) noexcept {
    return _mm256_set1_ps(x);
}
inline Float8 add8(Float8 a, Float8 b) noexcept {
    return _mm256_add_ps(a, b);
}
inline Float8 mul8(Float8 a, Float8 b) noexcept {
    return _mm256_mul_ps(a, b);
}
/// a * b + c per lane, rounded as dsp::mulAdd rounds it.
inline Float8 mulAdd8(Float8 a, Float8 b, Float8 c) noexcept {
#if defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return _mm256_add_ps(_mm256_mul_ps(a, b), c);
#endif
}

/// Transposes the 8x8 matrix whose rows are r[0..7], in place (row k lane j <-> row j lane k).
inline void transpose8(Float8 (&r)[8]) noexcept {
    // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
    const __m256 a0 = _mm256_unpacklo_ps(r[0], r[1]), a1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 a2 = _mm256_unpacklo_ps(r[2], r[3]), a3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 a4 = _mm256_unpacklo_ps(r[4], r[5]), a5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 a6 = _mm256_unpacklo_ps(r[6], r[7]), a7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 b0 = _mm256_shuffle_ps(a0, a2, _MM_SHUFFLE(1, 0, 1, 0)), b1 = _mm256_shuffle_ps(a0, a2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 b2 = _mm256_shuffle_ps(a1, a3, _MM_SHUFFLE(1, 0, 1, 0)), b3 = _mm256_shuffle_ps(a1, a3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 b4 = _mm256_shuffle_ps(a4, a6, _MM_SHUFFLE(1, 0, 1, 0)), b5 = _mm256_shuffle_ps(a4, a6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 b6 = _mm256_shuffle_ps(a5, a7, _MM_SHUFFLE(1, 0, 1, 0)), b7 = _mm256_shuffle_ps(a5, a7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(b0, b4, 0x20);
    r[1] = _mm256_permute2f128_ps(b1, b5, 0x20);
    r[2] = _mm256_permute2f128_ps(b2, b6, 0x20);
    r[3] = _mm256_permute2f128_ps(b3, b7, 0x20);
    r[4] = _mm256_permute2f128_ps(b0, b4, 0x31);
    r[5] = _mm256_permute2f128_ps(b1, b5, 0x31);
    r[6] = _mm256_permute2f128_ps(b2, b6, 0x31);
    r[7] = _mm256_permute2f128_ps(b3, b7, 0x31);
}
#else
inline constexpr bool kSimd8 = false;
#endif

}  // namespace kabel::dsp
