// Parameter smoothing. Parameters arrive as atomics read once per block; a jump (knob, MIDI CC,
// automation) must never click. ParamSmoother glides toward the target with a one-pole response
// (time constant ~10 ms by default) evaluated once per block, and spreads each block's step as a
// linear ramp, so the per-sample cost is one add and there is no exp() per sample.
#pragma once

#include <cmath>

namespace kabel {

/// A linear segment across one block: value at frame n is start + n * step.
struct Ramp {
    float start = 0.0f;
    float step = 0.0f;
    bool constant() const noexcept { return step == 0.0f; }
    float at(int n) const noexcept { return start + static_cast<float>(n) * step; }
    /// The value after the block (the next block's start).
    float end(int frames) const noexcept { return at(frames); }
};

class ParamSmoother {
public:
    /// UI thread (prepare). `timeMs` is the one-pole time constant: ~63% of a jump in timeMs,
    /// ~99% in 5 x timeMs.
    void prepare(double sampleRate, float timeMs = 10.0f) noexcept {
        framesPerTau_ = static_cast<float>(sampleRate * timeMs * 0.001);
        cachedFrames_ = -1;
    }

    /// Jumps to `value` with no glide (on reset or first use). Audio or UI thread.
    void reset(float value) noexcept {
        current_ = value;
        primed_ = true;
    }

    /// Audio thread, once per block: the ramp from the current value toward `target`.
    /// The first call after construction jumps straight to the target.
    Ramp next(float target, int frames) noexcept {
        if (!primed_) reset(target);
        const float diff = target - current_;
        const float tolerance = 1e-6f * (1.0f + std::fabs(target));
        if (std::fabs(diff) <= tolerance || framesPerTau_ <= 0.0f || frames <= 0) {
            current_ = target;
            return {target, 0.0f};
        }
        if (frames != cachedFrames_) {
            cachedFrames_ = frames;
            coefficient_ = 1.0f - std::exp(-static_cast<float>(frames) / framesPerTau_);
        }
        float next = current_ + diff * coefficient_;
        // Arrived, or too close to move in float (the step is below half an ulp: without this the
        // glide would stall just short of the target).
        if (std::fabs(target - next) <= tolerance || next == current_) next = target;
        const Ramp ramp{current_, (next - current_) / static_cast<float>(frames)};
        current_ = next;
        return ramp;
    }

    float current() const noexcept { return current_; }

private:
    float current_ = 0.0f;
    float framesPerTau_ = 480.0f;
    float coefficient_ = 0.0f;
    int cachedFrames_ = -1;
    bool primed_ = false;
};

}  // namespace kabel
