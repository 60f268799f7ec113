// Fast, vectorisable approximations for filter coefficients: tan() for bilinear prewarping and
// exp2() for 1 V/oct cutoff control. Branch-free and inline so loops that call them vectorise.
// Any thread; no globals, no state.
//
// Limits (measured in tests/unit/test_filters.cpp):
//   tanRatio / fastTan: 0 <= x <= 0.45*pi (cutoff up to 0.45 fs), relative error < 1e-6 in float.
//   fastExp2: -126 < x < 127, relative error < 2e-7.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace kabel::dsp {

/// a * b + c, fused where the CPU has FMA (one rounding, one instruction); plain otherwise, so a
/// build without FMA never calls the slow library fmaf().
inline float mulAdd(float a, float b, float c) noexcept {
#if defined(__FMA__)
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

/// tan(x) as num / den: Lambert's continued fraction for tan, cut after the x^2/11 term (a
/// [5/6] rational function). Returning the ratio lets a caller fold the division into one it
/// makes anyway (the SVF needs g/(1+g(g+k)) and friends: one division for all of them).
/// Valid for 0 <= x <= 0.45*pi: relative error < 4e-7 in exact arithmetic there.
struct TanRatio {
    float num;
    float den;
};

inline TanRatio tanRatio(float x) noexcept {
    // tan x = x (10395 - 1260 x^2 + 21 x^4) / (10395 - 4725 x^2 + 210 x^4 - x^6), both divided
    // by 10395 so the terms stay near 1.
    const float y = x * x;
    const float num = x * mulAdd(mulAdd(21.0f / 10395.0f, y, -1260.0f / 10395.0f), y, 1.0f);
    const float den = mulAdd(mulAdd(mulAdd(-1.0f / 10395.0f, y, 210.0f / 10395.0f), y, -4725.0f / 10395.0f), y, 1.0f);
    return {num, den};
}

inline float fastTan(float x) noexcept {
    const TanRatio r = tanRatio(x);
    return r.num / r.den;
}

/// 2^x for -126 < x < 127 (callers clamp): exponent bits from x rounded to the nearest integer,
/// a degree-5 Chebyshev fit of 2^f on [-1/2, 1/2] for the rest (max error 8e-8; 2^n is exact for
/// integer n). The rounding uses the 1.5 * 2^23 trick, not std::floor or a float-to-int
/// conversion: GCC vectorises neither in a loop with other branches unless -fno-trapping-math.
inline float fastExp2(float x) noexcept {
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: x + kRound has round(x) in its low bits
    const float t = x + kRound;
    const std::int32_t i = std::bit_cast<std::int32_t>(t) - std::bit_cast<std::int32_t>(kRound);
    const float f = x - (t - kRound);
    float p = 1.3390863365e-3f;
    p = mulAdd(p, f, 9.6760319183e-3f);
    p = mulAdd(p, f, 5.5503571142e-2f);
    p = mulAdd(p, f, 2.4022107485e-1f);
    p = mulAdd(p, f, 6.9314718803e-1f);
    p = mulAdd(p, f, 1.0000000755e+0f);
    return std::bit_cast<float>(std::bit_cast<std::int32_t>(p) + i * (1 << 23));
}

}  // namespace kabel::dsp
