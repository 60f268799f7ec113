// Block screening for output stages: the peak of a block and whether it is all finite, written as
// sixteen independent lanes so the compiler vectorises them (a single running max or sum is a
// serial chain it may not reorder).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

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

/// True when every sample is finite: x * 0 is 0 for finite x and NaN for NaN and Inf, and a NaN
/// anywhere makes the lane sums NaN.
inline bool allFinite(const float* x, std::size_t n) noexcept {
    float part[16] = {};
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (std::size_t j = 0; j < 16; ++j) part[j] += x[i + j] * 0.0f;
    float probe = 0.0f;
    for (float p : part) probe += p;
    for (; i < n; ++i) probe += x[i] * 0.0f;
    return probe == probe;
}

}  // namespace kabel::dsp
