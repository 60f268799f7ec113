// Reverbs: a Freeverb-family stereo reverb.
//
// Design note (reverb). Freeverb's structure and published tuning (Jezar at Dreampoint, 2000, as
// described in J. O. Smith's "Physical Audio Signal Processing"): per side 8 parallel
// lowpass-feedback combs (1116..1617 samples at 44.1 kHz) into 4 series allpasses (556, 441, 341,
// 225; feedback 0.5); the right side's delays are 23 samples longer; input gain 0.015; comb
// feedback 0.7 + 0.28 room; damping 0.4 damp. Every delay is longer than a chunk, so each comb and
// allpass runs a whole chunk at a time on contiguous memory: the allpasses vectorise over time,
// the combs of a side run interleaved (8 independent recursions per sample, which hides the
// latency of each one's lowpass).
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>

#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/denormals.hpp"

namespace kabel {
namespace {

constexpr int kChunk = 64;  // frames per pass; longer blocks are split

// ---------------------------------------------------------------------------------------------
// reverb

enum ReverbInputs { kReverbInLeft, kReverbInRight };
enum ReverbOutputs { kReverbOutLeft, kReverbOutRight };
enum ReverbParams { kReverbRoom, kReverbDamp, kReverbMix, kReverbWidth };

// Freeverb's published tuning, in samples at 44.1 kHz.
constexpr int kCombs = 8;
constexpr int kAllpasses = 4;
constexpr std::array<int, kCombs> kCombTuning{1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617};
constexpr std::array<int, kAllpasses> kAllpassTuning{556, 441, 341, 225};
constexpr int kStereoSpread = 23;
constexpr float kFixedGain = 0.015f;
constexpr float kScaleRoom = 0.28f, kOffsetRoom = 0.7f;
constexpr float kScaleDamp = 0.4f;
constexpr float kAllpassFeedback = 0.5f;
constexpr double kTuningRate = 44100.0;

/// A delay line read and written at the same index (Freeverb's buffers): `length` samples.
struct Line {
    float* data = nullptr;
    int length = 0;
    int index = 0;
};

/// One side: 8 lowpass-feedback combs in parallel, then 4 allpasses in series.
struct ReverbSide {
    std::array<Line, kCombs> combs;
    std::array<float, kCombs> lowpass{};  // each comb's damping filter state
    std::array<Line, kAllpasses> allpasses;

    /// acc = sum of the combs' outputs for in[0..frames); frames <= every comb's length.
    void runCombs(const float* in, float* acc, int frames, float feedback, float damp1, float damp2) noexcept {
        for (int done = 0; done < frames;) {
            // The longest run in which no comb wraps.
            int n = frames - done;
            for (const Line& l : combs) n = std::min(n, l.length - l.index);
            float* p[kCombs];
            float s[kCombs];
#pragma GCC unroll 8
            for (int k = 0; k < kCombs; ++k) {
                p[k] = combs[k].data + combs[k].index;
                s[k] = lowpass[k];
            }
            const float* x = in + done;
            float* a = acc + done;
            for (int i = 0; i < n; ++i) {
                float o[kCombs];
#pragma GCC unroll 8
                for (int k = 0; k < kCombs; ++k) o[k] = p[k][i];
#pragma GCC unroll 8
                for (int k = 0; k < kCombs; ++k) {
                    s[k] = dsp::mulAdd(s[k], damp1, o[k] * damp2);
                    p[k][i] = dsp::mulAdd(s[k], feedback, x[i]);
                }
                a[i] = ((o[0] + o[1]) + (o[2] + o[3])) + ((o[4] + o[5]) + (o[6] + o[7]));
            }
#pragma GCC unroll 8
            for (int k = 0; k < kCombs; ++k) {
                lowpass[k] = s[k];
                combs[k].index += n;
                if (combs[k].index == combs[k].length) combs[k].index = 0;
            }
            done += n;
        }
    }

    /// The allpass chain, in place over x[0..frames); frames <= every allpass's length.
    void runAllpasses(float* x, int frames) noexcept {
        for (Line& l : allpasses) {
            for (int done = 0; done < frames;) {
                const int n = std::min(frames - done, l.length - l.index);
                float* __restrict buf = l.data + l.index;
                float* __restrict v = x + done;
                for (int i = 0; i < n; ++i) {
                    const float delayed = buf[i];
                    buf[i] = dsp::mulAdd(delayed, kAllpassFeedback, v[i]);
                    v[i] = delayed - v[i];
                }
                l.index += n;
                if (l.index == l.length) l.index = 0;
                done += n;
            }
        }
    }

    void clear() noexcept {
        lowpass.fill(0.0f);
        for (Line& l : combs) {
            std::fill_n(l.data, l.length, 0.0f);
            l.index = 0;
        }
        for (Line& l : allpasses) {
            std::fill_n(l.data, l.length, 0.0f);
            l.index = 0;
        }
    }
};

class Reverb final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        room_.prepare(sampleRate, 50.0f);
        damp_.prepare(sampleRate, 50.0f);
        mix_.prepare(sampleRate);
        width_.prepare(sampleRate);
        dampExponent_ = static_cast<float>(kTuningRate / sampleRate);
        cachedDamp_ = -1.0f;

        const double scale = sampleRate / kTuningRate;
        auto scaled = [&](int samples) { return std::max(1, static_cast<int>(std::lround(samples * scale))); };
        std::size_t total = 0;
        for (int side = 0; side < 2; ++side) {
            for (int k = 0; k < kCombs; ++k) total += static_cast<std::size_t>(scaled(kCombTuning[k] + side * kStereoSpread));
            for (int k = 0; k < kAllpasses; ++k) total += static_cast<std::size_t>(scaled(kAllpassTuning[k] + side * kStereoSpread));
        }
        memory_ = AlignedFloats(total);
        float* next = memory_.data();
        minLength_ = kChunk;
        for (int side = 0; side < 2; ++side) {
            for (int k = 0; k < kCombs; ++k) {
                Line& l = sides_[side].combs[k];
                l = {next, scaled(kCombTuning[k] + side * kStereoSpread), 0};
                next += l.length;
                minLength_ = std::min(minLength_, l.length);
            }
            for (int k = 0; k < kAllpasses; ++k) {
                Line& l = sides_[side].allpasses[k];
                l = {next, scaled(kAllpassTuning[k] + side * kStereoSpread), 0};
                next += l.length;
                minLength_ = std::min(minLength_, l.length);
            }
        }
        reset();
    }

    void reset() noexcept override {
        for (ReverbSide& s : sides_) s.clear();
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;  // the tail decays into subnormals
        const int frames = ctx.frames;
        const Ramp room = room_.next(param(kReverbRoom), frames);
        const Ramp damp = damp_.next(param(kReverbDamp), frames);
        const Ramp mix = mix_.next(param(kReverbMix), frames);
        const Ramp width = width_.next(param(kReverbWidth), frames);
        // The comb coefficients follow the smoothed params once per block (a per-block step of a
        // 50 ms glide is far below audibility); the output gains glide per sample.
        const float feedback = kOffsetRoom + kScaleRoom * room.end(frames);
        // Freeverb's damping is a one-pole coefficient at 44.1 kHz; d^(44100/fs) keeps its corner
        // frequency at other rates.
        const float dampValue = damp.end(frames);
        if (dampValue != cachedDamp_) {  // settled: the same value block after block
            cachedDamp_ = dampValue;
            damp1_ = std::pow(kScaleDamp * dampValue, dampExponent_);
        }
        const float damp1 = damp1_;
        const float damp2 = 1.0f - damp1;

        const InputPort& left = ctx.in[kReverbInLeft];
        const InputPort& right = ctx.in[kReverbInRight];
        float* outLeft = ctx.out[kReverbOutLeft].channel(0);
        float* outRight = ctx.out[kReverbOutRight].channel(0);

        const int chunk = std::min(kChunk, minLength_);
        for (int start = 0; start < frames; start += chunk) {
            const int n = std::min(chunk, frames - start);
            alignas(64) float inL[kChunk], inR[kChunk], mono[kChunk], accL[kChunk], accR[kChunk];
            sumChannels(left, start, n, inL);
            if (right.connected)
                sumChannels(right, start, n, inR);
            else
                std::copy_n(inL, n, inR);
            for (int i = 0; i < n; ++i) mono[i] = (inL[i] + inR[i]) * kFixedGain;

            sides_[0].runCombs(mono, accL, n, feedback, damp1, damp2);
            sides_[1].runCombs(mono, accR, n, feedback, damp1, damp2);
            sides_[0].runAllpasses(accL, n);
            sides_[1].runAllpasses(accR, n);

            // Freeverb's stereo mix: wet1 = wet (1 + width)/2, wet2 = wet (1 - width)/2; wet = mix,
            // dry = 1 - mix.
            float* yl = outLeft + start;
            float* yr = outRight + start;
            for (int i = 0; i < n; ++i) {
                const float m = mix.at(start + i);
                const float w = width.at(start + i);
                const float wet1 = m * (0.5f + 0.5f * w);
                const float wet2 = m * (0.5f - 0.5f * w);
                const float dry = 1.0f - m;
                yl[i] = wet1 * accL[i] + wet2 * accR[i] + dry * inL[i];
                yr[i] = wet1 * accR[i] + wet2 * accL[i] + dry * inR[i];
            }
        }
    }

private:
    /// dst = the sum of every channel of `port` over [start, start + frames).
    static void sumChannels(const InputPort& port, int start, int frames, float* dst) noexcept {
        if (!port.connected) {
            std::fill_n(dst, frames, port.constant);
            return;
        }
        std::copy_n(port.channel(0) + start, frames, dst);
        for (int c = 1; c < port.channels; ++c) {
            const float* src = port.channel(c) + start;
            for (int i = 0; i < frames; ++i) dst[i] += src[i];
        }
    }

    ParamSmoother room_, damp_, mix_, width_;
    float dampExponent_ = 1.0f;
    float cachedDamp_ = -1.0f;
    float damp1_ = 0.0f;
    int minLength_ = kChunk;
    AlignedFloats memory_;
    std::array<ReverbSide, 2> sides_;
};

const ModuleDescriptor kReverb{
    .id = "reverb",
    .name = "Reverb",
    .category = "Effects",
    .help =
        "A stereo room reverb of the Freeverb family (8 damped comb filters and 4 allpasses per "
        "side, with Freeverb's published tuning). Room sets the decay time (about 0.6 s to 10 s), "
        "Damp how much faster the highs die away, Mix the balance (wet = mix, dry = 1 - mix; 0 passes "
        "the input unchanged) and Width the stereo spread of the tail (0 = mono). Patch only Left for a "
        "mono source: it feeds both sides. Polyphonic inputs are summed first; the outputs are one "
        "channel each.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left input (both, when Right is unpatched)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right input"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left output"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right output"}},
    .params = {{.id = "room",
                .name = "Room",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "room size: the decay time"},
               {.id = "damp",
                .name = "Damp",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "high-frequency damping of the tail"},
               {.id = "mix",
                .name = "Mix",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.33f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "wet level (the dry level is 1 - mix)"},
               {.id = "width",
                .name = "Width",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "stereo width of the reverb (0 = mono)"}},
    .create = [] { return std::unique_ptr<Module>(new Reverb(kReverb)); },
};
const RegisterModule registerReverb{kReverb};

}  // namespace
}  // namespace kabel
