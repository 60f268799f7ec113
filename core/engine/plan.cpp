#include "core/engine/plan.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace kabel {

void Plan::run(int frames, std::uint64_t blockStart, const HostBuffers& host, bool profile) noexcept {
    host_ = host;
    if (profile)
        runSteps<true>(frames, blockStart);
    else
        runSteps<false>(frames, blockStart);
}

// One loop for both: with Profile, each step's time (its mixing and copies included) goes to its
// module's CPU meter; without, the clock is never read.
template <bool Profile>
void Plan::runSteps(int frames, std::uint64_t blockStart) noexcept {
    using Clock = std::chrono::steady_clock;
    Clock::time_point start;
    if constexpr (Profile) start = Clock::now();
    for (plan::Step& step : steps_) {
        for (std::uint32_t m = 0; m < step.mixCount; ++m) runMix(mixes_[step.firstMix + m], frames);
        step.ctx.frames = frames;
        step.ctx.blockStart = blockStart;
        step.module->run(step.ctx);
        if ((step.copyCount | step.probeCount) != 0) runAfter(step, frames);  // most steps have neither
        if constexpr (Profile) {
            const Clock::time_point end = Clock::now();
            step.module->addCpuNanos(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count()));
            start = end;
        }
    }
}

// Right after the module ran: its outputs are valid until a later step reuses their buffers.
void Plan::runAfter(const plan::Step& step, int frames) noexcept {
    for (std::uint32_t c = 0; c < step.copyCount; ++c) {
        const plan::CopyOp& copy = copies_[step.firstCopy + c];
        std::memcpy(copy.dst, copy.src, copy.floats * sizeof(float));
    }
    for (std::uint32_t p = 0; p < step.probeCount; ++p) {
        const plan::ProbeOp& probe = probes_[step.firstProbe + p];
        for (int c = 0; c < probe.channels; ++c) probe.tap->write(c, probe.src + c * stride_, frames);
        probe.tap->commit(frames);
    }
}

void Plan::runMix(const plan::MixOp& mix, int frames) noexcept {
    float* __restrict dst = mix.dst;
    const int stride = stride_;
    for (int c = 0; c < mix.channels; ++c) std::memset(dst + c * stride, 0, static_cast<std::size_t>(frames) * sizeof(float));

    // With an unpatched value to blend in, the cables' total gain is tracked per frame.
    const bool blendDefault = mix.defaultValue != 0.0f;
    float* __restrict total = gainScratch_.data();
    if (blendDefault) std::memset(total, 0, static_cast<std::size_t>(frames) * sizeof(float));

    const float rate = fadeStepPerFrame_;
    for (std::uint32_t s = 0; s < mix.sourceCount; ++s) {
        const plan::MixSource& src = mixSources_[mix.firstSource + s];
        const float target = src.target;
        // A settled cable's state lives elsewhere in memory; not reading it saves a scattered
        // access per source per block.
        const float g0 = src.settled ? target : src.state->gain.load(std::memory_order_relaxed);
        if (g0 == target) {
            if (g0 == 0.0f) continue;
            for (int c = 0; c < src.channels; ++c) {
                const float* __restrict in = src.data + c * stride;
                float* __restrict out = dst + c * stride;
                if (g0 == 1.0f) {
                    for (int n = 0; n < frames; ++n) out[n] += in[n];
                } else {
                    for (int n = 0; n < frames; ++n) out[n] += g0 * in[n];
                }
            }
            if (blendDefault)
                for (int n = 0; n < frames; ++n) total[n] += g0;
            continue;
        }
        // A linear fade toward the target at `rate` per frame, holding once it arrives.
        // Frame n has gain g0 + step (n + 1) until it arrives, then exactly the target.
        const float step = target > g0 ? rate : -rate;
        const float arrival = (target - g0) / step - 1e-3f;  // frames until the target, minus rounding
        auto gainAt = [&](int n) {
            const float k = static_cast<float>(n + 1);
            return k >= arrival ? target : g0 + step * k;
        };
        for (int c = 0; c < src.channels; ++c) {
            const float* __restrict in = src.data + c * stride;
            float* __restrict out = dst + c * stride;
            for (int n = 0; n < frames; ++n) out[n] += gainAt(n) * in[n];
        }
        if (blendDefault)
            for (int n = 0; n < frames; ++n) total[n] += gainAt(n);
        src.state->gain.store(gainAt(frames - 1), std::memory_order_relaxed);
    }
    if (!blendDefault) return;
    // The unpatched value fills in for whatever gain the cables leave.
    for (int c = 0; c < mix.channels; ++c) {
        float* __restrict out = dst + c * stride;
        for (int n = 0; n < frames; ++n) out[n] += mix.defaultValue * (1.0f - std::min(1.0f, total[n]));
    }
}

}  // namespace kabel
