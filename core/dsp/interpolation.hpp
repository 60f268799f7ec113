// Interpolation between samples, shared by every delay line, comb, chorus and reverb.
#pragma once

namespace kabel::dsp {

/// 4-point, 3rd-order Hermite (Catmull-Rom) between y0 (t = 0) and y1 (t = 1); ym1 and y2 are
/// the outer neighbours. t = 0 returns y0 exactly. Its gain is at most 1 at every frequency and
/// fraction, so a loop through it with |feedback| < 1 is stable.
inline float hermite(float ym1, float y0, float y1, float y2, float t) noexcept {
    const float c1 = 0.5f * (y1 - ym1);
    const float c2 = ym1 - 2.5f * y0 + 2.0f * y1 - 0.5f * y2;
    const float c3 = 0.5f * (y2 - ym1) + 1.5f * (y0 - y1);
    return ((c3 * t + c2) * t + c1) * t + y0;
}

}  // namespace kabel::dsp
