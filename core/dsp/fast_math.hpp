// Fast math for oscillators, LFOs, envelopes and filters: a sine of a phase, 2^x for pitch ->
// frequency, tan() for filter prewarping, and the fixed-point phase that keeps oscillators exact
// in frequency.
//
// Everything here is inline, branch-free and free of globals, so a loop over a block that calls
// it auto-vectorises (GCC 12 -O3, SSE4.1 or better; AVX2/AVX-512 with -march=native). Any thread.
//
// Limits (measured exhaustively over every float input in tests/unit/test_oscillators.cpp):
//   fastSin2pi(x): x in [-0.5, 0.5], |error| <= 2e-7 (worst 1.8e-7, at the peaks).
//   fastPow2(x):   x in [-126, 126] (clamped outside), relative error <= 2e-7 (worst 8e-8:
//                  1e-4 cent). Integers give exact powers of two: fastPow2(0) == 1.
//   tanRatio / fastTan(x): 0 <= x <= 0.45*pi (cutoff up to 0.45 fs), relative error < 1e-6
//                  (measured in tests/unit/test_filters.cpp).
//   Phase (uint32, 2^32 per cycle): wraps exactly; 48 kHz / 2^32 = 1.1e-5 Hz resolution.
//
// The polynomial coefficients are our own fits (minimax by iteratively reweighted least squares in
// long double, then rounded to float and checked in float arithmetic).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace kabel::dsp {

/// a * b + c, fused where the CPU has FMA (one rounding, one instruction); plain otherwise, so a
/// build without FMA never calls the slow library fmaf() (which would also stop vectorisation).
inline float mulAdd(float a, float b, float c) noexcept {
#if defined(__FMA__)
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

/// sin(2 pi x) for x in [-0.5, 0.5]: folds to the quarter wave [-0.25, 0.25] and evaluates an odd
/// degree-9 polynomial. The fold is written as a compare-select and copysign (not fmin or a
/// ternary around the whole expression) so GCC vectorises it without AVX-512 masks.
inline float fastSin2pi(float x) noexcept {
    const float ax = std::fabs(x);
    const float mirror = 0.5f - ax;                               // sin(pi - t) = sin(t)
    const float y = std::copysign(ax < mirror ? ax : mirror, x);  // [-0.25, 0.25]
    const float y2 = y * y;
    float p = 39.53670502f;
    p = mulAdd(p, y2, -76.54978180f);
    p = mulAdd(p, y2, 81.60100555f);
    p = mulAdd(p, y2, -41.34165573f);
    p = mulAdd(p, y2, 6.283185005f);
    return p * y;
}

/// 2^x, for pitch (octaves) -> frequency ratio and for exponential curves. x is clamped to
/// [-126, 126]; NaN gives 2^126 or 2^-126. Rounds x to the nearest integer n (by the 1.5 * 2^23 trick, which
/// is exact for |x| < 2^22), builds 2^n from exponent bits and multiplies by a degree-6
/// polynomial for 2^f, f in [-0.5, 0.5] (constant term exactly 1).
inline float fastPow2(float x) noexcept {
    // Clamp by magnitude and copysign: GCC 12 will not if-convert a select with a constant arm
    // when arithmetic follows (it sinks the arithmetic into the arms), which stops vectorisation.
    const float ax = std::fabs(x);
    x = std::copysign(ax < 126.0f ? ax : 126.0f, x);
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
    const float n = (x + kRound) - kRound;
    const float f = x - n;
    const float scale = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
    float p = 1.535336196e-4f;
    p = mulAdd(p, f, 1.339887385e-3f);
    p = mulAdd(p, f, 9.618436918e-3f);
    p = mulAdd(p, f, 5.550332367e-2f);
    p = mulAdd(p, f, 2.402264774e-1f);
    p = mulAdd(p, f, 6.931471825e-1f);
    p = mulAdd(p, f, 1.0f);
    return p * scale;
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

// ---------------------------------------------------------------------------------------------
// Fixed-point phase: a uint32 where 2^32 is one cycle. Unsigned overflow is the wrap, so the
// phase never drifts or needs a conditional subtract, and an oscillator's frequency is exactly
// increment * sampleRate / 2^32 (resolution 1.1e-5 Hz at 48 kHz).

/// One cycle in phase units.
inline constexpr double kPhaseCycle = 4294967296.0;  // 2^32

/// The increment for `cyclesPerSample` (frequency / sample rate), rounded to nearest; the
/// argument is clamped to [-0.5, 0.5] (negative frequencies run backwards). Off the hot path:
/// double precision, once per block.
inline std::uint32_t phaseIncrement(double cyclesPerSample) noexcept {
    double c = cyclesPerSample < 0.5 ? cyclesPerSample : 0.5;
    c = c > -0.5 ? c : -0.5;
    return static_cast<std::uint32_t>(static_cast<std::int64_t>(std::llround(c * kPhaseCycle)));
}

/// The increment for a per-sample float frequency, vectorisable: the magnitude of
/// `cyclesPerSample`, clamped below 0.5 (NaN gives the clamp), truncated. Precision is float's
/// (6e-8 relative): for modulated pitch, where the frequency changes every sample anyway.
inline std::uint32_t phaseIncrementFast(float cyclesPerSample) noexcept {
    const float x = std::fabs(cyclesPerSample * 4294967296.0f);
    // Compare-select into the conversion only: see fastPow2 for why no constant-arm select may
    // be followed by arithmetic.
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(x < 2147483520.0f ? x : 2147483520.0f));
}

/// The phase as a signed fraction of a cycle, [-0.5, 0.5) (0.5 itself only by float rounding
/// just below the wrap, which fastSin2pi handles). Phase 0 gives 0.
inline float phaseToSigned(std::uint32_t phase) noexcept {
    return static_cast<float>(static_cast<std::int32_t>(phase)) * 0x1p-32f;
}

/// The phase as a fraction of a cycle in [0, 1), exactly (24 bits).
inline float phaseToUnit(std::uint32_t phase) noexcept {
    return static_cast<float>(phase >> 8) * 0x1p-24f;
}

}  // namespace kabel::dsp
