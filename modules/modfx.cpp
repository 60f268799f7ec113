// Modulation effects: a multi-voice stereo chorus, a flanger (with a through-zero mode) and a
// stereo phaser.
//
// Design note (chorus, flanger). Each channel owns a delay line of a power-of-two size, read at
// fractional positions by 4-point Hermite interpolation. One sine LFO (a 32-bit phase: exact rate,
// no drift) serves every channel, so the delay of each voice at each frame is computed once per
// block for all channels. The chorus has no feedback, so a block is written into the line first and
// then read by every voice in a vectorised pass. The flanger feeds its echo back, so it runs in
// sub-chunks no longer than the shortest delay in them: each sub-chunk's reads then only see
// samples written before it (a read pass, a serial pass, a write pass), as in the comb filter.
// Lines are allocated on the UI thread (prepareChannels: grow-only) and never freed or moved while
// the module lives.
//
// Design note (phaser). A chain of N first-order trapezoidal (TPT) allpasses, all at one break
// frequency fc that an LFO sweeps exponentially around Center. Each stage is y = a x + (1 - a) s with
// a = 2G - 1, G = g / (1 + g), g = tan(pi fc / fs) (then s' = y + x - s): the bilinear transform of
// (1 - s/wc) / (1 + s/wc), phase -2 atan(tan(pi f / fs) / g). So the chain is y_N = a^N u + S_N with
// S_N from the states alone, and the feedback u = x + fb y_N solves with no unit delay to
// u = (x + fb S_N) / (1 - fb a^N) (|a| < 1: always defined). With Mix 0.5 and no feedback the
// output (x + y_N) / 2 has notches where the chain turns the phase by an odd multiple of pi:
// tan(pi f / fs) = g tan((2m + 1) pi / (2N)), m = 0, 1, ... while 2m + 1 < N. Left and right
// run the same chain with the LFO phase offset by Spread. The (channel, side) pairs run side by
// side in the lanes of one loop (W = 2, 4 or 8 at a time), as channels do in the ladder filter, so
// even a mono input fills two lanes.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <span>

#include "core/dsp/fast_math.hpp"
#include "core/dsp/interpolation.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/denormals.hpp"

namespace kabel {
namespace {

using dsp::mulAdd;

constexpr int kChunk = 64;  // frames per pass; longer blocks are split

/// The line read `delay` samples before position j (delay >= 2: the taps are older than j).
inline float readLine(const float* line, std::size_t mask, std::size_t j, float delay) noexcept {
    const auto whole = static_cast<std::size_t>(delay);
    const float t = delay - static_cast<float>(whole);
    return dsp::hermite(line[(j - whole + 1) & mask], line[(j - whole) & mask], line[(j - whole - 1) & mask], line[(j - whole - 2) & mask],
                        t);
}

/// Per-channel delay lines of one power-of-two size. Allocated on the UI thread (prepare(),
/// prepareChannels(): grow-only) and published to the audio thread through atomics; never freed
/// or moved while a plan may run the module.
class ChannelLines {
public:
    /// UI thread, in prepare() (no plan runs the module): lines of at least `minSize` samples.
    void setMinSize(std::size_t minSize) {
        std::size_t size = 1;
        while (size < minSize) size *= 2;
        if (size == size_) return;
        size_ = size;
        for (int c = 0; c < kMaxChannels; ++c)
            if (storage_[c].data()) allocate(c);
    }
    /// UI thread: lines for channels [0, channels) (after setMinSize).
    void ensure(int channels) {
        for (int c = 0; c < channels && c < kMaxChannels; ++c)
            if (!storage_[c].data() && size_ > 0) allocate(c);
    }
    /// Audio thread: channel c's line, or nullptr before ensure() reached it.
    float* line(int c) const noexcept { return lines_[c].load(std::memory_order_acquire); }
    std::size_t size() const noexcept { return size_; }
    std::size_t mask() const noexcept { return size_ - 1; }
    /// Audio thread: silences channel c's line (if it has one).
    void clear(int c) noexcept {
        if (float* l = line(c)) std::fill_n(l, size_, 0.0f);
    }

private:
    void allocate(int c) {
        storage_[c] = AlignedFloats(size_);
        lines_[c].store(storage_[c].data(), std::memory_order_release);
    }

    std::size_t size_ = 0;
    std::array<AlignedFloats, kMaxChannels> storage_;
    std::array<std::atomic<float*>, kMaxChannels> lines_{};
};

/// A sine LFO's phase (2^32 per cycle): the rate is exact and the phase never drifts.
struct LfoPhase {
    std::uint32_t phase = 0;

    /// sin(2 pi (phase + offset)) for each of `frames` frames at `increment` per frame; advances.
    void render(float* out, int frames, std::uint32_t increment, std::uint32_t offset) const noexcept {
        for (int n = 0; n < frames; ++n) {
            const std::uint32_t p = phase + offset + static_cast<std::uint32_t>(n) * increment;
            out[n] = dsp::fastSin2pi(dsp::phaseToSigned(p));
        }
    }
    void advance(int frames, std::uint32_t increment) noexcept { phase += static_cast<std::uint32_t>(frames) * increment; }
};

/// A fraction of a cycle (any real) as a phase offset.
inline std::uint32_t cycleOffset(float cycles) noexcept {
    const double wrapped = cycles - std::floor(static_cast<double>(cycles));
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(wrapped * dsp::kPhaseCycle));
}

// ---------------------------------------------------------------------------------------------
// chorus

enum ChorusInputs { kChorusIn };
enum ChorusOutputs { kChorusLeft, kChorusRight };
enum ChorusParams { kChorusVoices, kChorusRate, kChorusDepth, kChorusDelay, kChorusSpread, kChorusMix };

constexpr int kChorusMaxVoices = 4;
constexpr float kChorusMaxDelayMs = 40.0f;
constexpr float kChorusMaxDepthMs = 10.0f;
constexpr float kChorusMinDelayMs = 0.5f;  // the sweep is clamped here when Depth exceeds Delay

class Chorus final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        rate_.prepare(sampleRate);
        depth_.prepare(sampleRate);
        delay_.prepare(sampleRate, 50.0f);  // a tape-like glide: the delay moves the pitch
        mix_.prepare(sampleRate);
        for (int v = 0; v < kChorusMaxVoices; ++v) {
            voiceGain_[v].prepare(sampleRate, 20.0f);
            voicePan_[v].prepare(sampleRate, 20.0f);
            voiceOffset_[v].prepare(sampleRate, 50.0f);
        }
        fs_ = sampleRate;
        samplesPerMs_ = static_cast<float>(sampleRate / 1000.0);
        lines_.setMinSize(static_cast<std::size_t>(std::ceil((kChorusMaxDelayMs + kChorusMaxDepthMs) * samplesPerMs_)) + kChunk + 8);
        reset();
    }

    void prepareChannels(std::span<const int>, std::span<const int> outputChannels) override {
        lines_.ensure(outputChannels.empty() ? 1 : outputChannels[0]);
    }

    void reset() noexcept override {
        for (int c = 0; c < kMaxChannels; ++c) lines_.clear(c);
        lfo_.phase = 0;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const int voices = std::clamp(static_cast<int>(param(kChorusVoices)), 1, kChorusMaxVoices);
        const Ramp rate = rate_.next(param(kChorusRate), frames);
        const Ramp depth = depth_.next(param(kChorusDepth), frames);
        const Ramp delay = delay_.next(param(kChorusDelay), frames);
        const Ramp mix = mix_.next(param(kChorusMix), frames);
        // Each voice's level, pan and LFO phase offset glide, so changing Voices or Spread never
        // clicks: a voice plays at 1 / voices while on; voice v's LFO runs spread x v / voices of
        // a cycle behind voice 0's, and the voices are panned evenly over +-spread (balance law:
        // the far side fades, the near one stays at 1).
        const float spread = param(kChorusSpread);
        std::array<Ramp, kChorusMaxVoices> gain, pan, offset;
        for (int v = 0; v < kChorusMaxVoices; ++v) {
            const float on = v < voices ? 1.0f / static_cast<float>(voices) : 0.0f;
            const int place = std::min(v, voices - 1);
            const float panTarget = voices > 1 ? spread * (2.0f * static_cast<float>(place) / static_cast<float>(voices - 1) - 1.0f) : 0.0f;
            gain[v] = voiceGain_[v].next(on, frames);
            pan[v] = voicePan_[v].next(panTarget, frames);
            offset[v] = voiceOffset_[v].next(spread * static_cast<float>(place) / static_cast<float>(voices), frames);
        }
        const InputPort& in = ctx.in[kChorusIn];
        const OutputPort& left = ctx.out[kChorusLeft];
        const OutputPort& right = ctx.out[kChorusRight];
        const int channels = left.channels;
        for (int c = activeChannels_; c < channels; ++c) lines_.clear(c);  // holds old audio
        activeChannels_ = channels;

        const std::uint32_t increment = dsp::phaseIncrement(rate.start / fs_);
        const std::size_t mask = lines_.mask();
        const float minDelay = kChorusMinDelayMs * samplesPerMs_;
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            // Every voice's delay (samples) at every frame, shared by the channels.
            alignas(64) float d[kChorusMaxVoices][kChunk];
            Ramp panLeft[kChorusMaxVoices], panRight[kChorusMaxVoices];
            int active = 0;
            for (int v = 0; v < kChorusMaxVoices; ++v) {
                if (gain[v].start == 0.0f && gain[v].step == 0.0f) continue;
                const float p0 = pan[v].at(start), p1 = pan[v].at(start + n);
                const float inv = 1.0f / static_cast<float>(n);
                panLeft[v] = {std::min(1.0f, 1.0f - p0), (std::min(1.0f, 1.0f - p1) - std::min(1.0f, 1.0f - p0)) * inv};
                panRight[v] = {std::min(1.0f, 1.0f + p0), (std::min(1.0f, 1.0f + p1) - std::min(1.0f, 1.0f + p0)) * inv};
                const std::uint32_t o0 = cycleOffset(offset[v].at(start)), o1 = cycleOffset(offset[v].at(start + n));
                const auto drift = static_cast<std::uint32_t>(static_cast<std::int32_t>(o1 - o0) / n);
                lfo_.render(d[v], n, increment + drift, o0);
                for (int i = 0; i < n; ++i) {
                    const float ms = mulAdd(depth.at(start + i), d[v][i], delay.at(start + i));
                    const float samples = ms * samplesPerMs_;
                    d[v][i] = samples > minDelay ? samples : minDelay;
                }
                active |= 1 << v;
            }
            lfo_.advance(n, increment);

            for (int c = 0; c < channels; ++c) {
                float* yl = left.channel(c) + start;
                float* yr = right.channel(c) + start;
                float* line = lines_.line(c);
                const float* x = in.channel(c) + start;
                if (!line) {
                    std::fill_n(yl, n, 0.0f);
                    std::fill_n(yr, n, 0.0f);
                    continue;
                }
                const std::size_t base = write_ + static_cast<std::size_t>(start);
                for (int i = 0; i < n; ++i) line[(base + static_cast<std::size_t>(i)) & mask] = x[i];
                alignas(64) float wetLeft[kChunk] = {}, wetRight[kChunk] = {};
                for (int v = 0; v < kChorusMaxVoices; ++v) {
                    if (!(active & (1 << v))) continue;
                    const Ramp g{gain[v].at(start), gain[v].step};
                    const Ramp gl = panLeft[v], gr = panRight[v];
                    for (int i = 0; i < n; ++i) {
                        const float tap = readLine(line, mask, base + static_cast<std::size_t>(i), d[v][i]) * g.at(i);
                        wetLeft[i] = mulAdd(gl.at(i), tap, wetLeft[i]);
                        wetRight[i] = mulAdd(gr.at(i), tap, wetRight[i]);
                    }
                }
                for (int i = 0; i < n; ++i) {
                    const float m = mix.at(start + i);
                    yl[i] = mulAdd(m, wetLeft[i] - x[i], x[i]);
                    yr[i] = mulAdd(m, wetRight[i] - x[i], x[i]);
                }
            }
        }
        write_ = (write_ + static_cast<std::size_t>(frames)) & mask;
    }

private:
    ParamSmoother rate_, depth_, delay_, mix_;
    std::array<ParamSmoother, kChorusMaxVoices> voiceGain_, voicePan_, voiceOffset_;
    double fs_ = 48000.0;
    float samplesPerMs_ = 48.0f;
    LfoPhase lfo_;
    std::size_t write_ = 0;  // shared by all channels
    int activeChannels_ = 0;
    ChannelLines lines_;
};

const ModuleDescriptor kChorus{
    .id = "chorus",
    .name = "Chorus",
    .category = "Effects",
    .help =
        "A stereo chorus: 1 to 4 copies of the input, each delayed by Delay +- Depth milliseconds "
        "as a sine LFO at Rate sweeps it, so each copy is slightly detuned (peak pitch deviation "
        "2 pi x rate x depth, e.g. 2 ms at 0.5 Hz is 0.6 %) and the sum shimmers. Spread spaces the "
        "voices' LFO phases over the cycle (voice v starts v / voices x spread of a cycle later) and "
        "pans them from left to right; 0 puts every voice in the middle, in step. Mix 0 passes the "
        "dry input, 1 the voices only. Changing Voices fades voices in and out. For flanging, use "
        "Flanger. Polyphonic: one line per channel, both outputs carry every channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to chorus"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left mix"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right mix"}},
    .params = {{.id = "voices",
                .name = "Voices",
                .min = 1.0f,
                .max = 4.0f,
                .defaultValue = 3.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "number of delayed copies"},
               {.id = "rate",
                .name = "Rate",
                .min = 0.01f,
                .max = 10.0f,
                .defaultValue = 0.4f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "LFO rate"},
               {.id = "depth",
                .name = "Depth",
                .min = 0.0f,
                .max = kChorusMaxDepthMs,
                .defaultValue = 2.0f,
                .unit = "ms",
                .curve = ParamCurve::Linear,
                .help = "peak delay deviation"},
               {.id = "delay",
                .name = "Delay",
                .min = 1.0f,
                .max = kChorusMaxDelayMs,
                .defaultValue = 12.0f,
                .unit = "ms",
                .curve = ParamCurve::Exponential,
                .help = "centre delay of the voices (the sweep never goes below 0.5 ms)"},
               {.id = "spread",
                .name = "Spread",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "LFO phase spacing and stereo spread of the voices"},
               {.id = "mix",
                .name = "Mix",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "0 dry, 1 wet"}},
    .create = [] { return std::unique_ptr<Module>(new Chorus(kChorus)); },
};
const RegisterModule registerChorus{kChorus};

// ---------------------------------------------------------------------------------------------
// flanger

enum FlangerInputs { kFlangerIn };
enum FlangerOutputs { kFlangerOut };
enum FlangerParams { kFlangerDelay, kFlangerDepth, kFlangerRate, kFlangerFeedback, kFlangerMix, kFlangerThroughZero };

constexpr float kFlangerMaxDelayMs = 10.0f;
constexpr float kFlangerMaxDepthMs = 10.0f;
constexpr float kFlangerMinDelaySamples = 3.0f;

class Flanger final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        delay_.prepare(sampleRate, 50.0f);
        depth_.prepare(sampleRate);
        rate_.prepare(sampleRate);
        feedback_.prepare(sampleRate);
        mix_.prepare(sampleRate);
        throughZero_.prepare(sampleRate);
        fs_ = sampleRate;
        samplesPerMs_ = static_cast<float>(sampleRate / 1000.0);
        lines_.setMinSize(static_cast<std::size_t>(std::ceil((kFlangerMaxDelayMs + kFlangerMaxDepthMs) * samplesPerMs_)) + kChunk + 8);
        reset();
    }

    void prepareChannels(std::span<const int>, std::span<const int> outputChannels) override {
        lines_.ensure(outputChannels.empty() ? 1 : outputChannels[0]);
    }

    void reset() noexcept override {
        for (int c = 0; c < kMaxChannels; ++c) lines_.clear(c);
        lfo_.phase = 0;
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;  // feedback tails decay into subnormals
        const int frames = ctx.frames;
        const Ramp delay = delay_.next(param(kFlangerDelay), frames);
        const Ramp depth = depth_.next(param(kFlangerDepth), frames);
        const Ramp rate = rate_.next(param(kFlangerRate), frames);
        const Ramp feedback = feedback_.next(param(kFlangerFeedback), frames);
        const Ramp mix = mix_.next(param(kFlangerMix), frames);
        // Through zero fades the dry path between the input and the delayed tap (no click).
        const Ramp throughZero = throughZero_.next(param(kFlangerThroughZero) >= 0.5f ? 1.0f : 0.0f, frames);
        const bool dryTap = throughZero.start > 0.0f || throughZero.step != 0.0f;
        const InputPort& in = ctx.in[kFlangerIn];
        const OutputPort& out = ctx.out[kFlangerOut];
        const int channels = out.channels;
        for (int c = activeChannels_; c < channels; ++c) lines_.clear(c);
        activeChannels_ = channels;

        const std::uint32_t increment = dsp::phaseIncrement(rate.start / fs_);
        const std::size_t mask = lines_.mask();
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            // The swept delay sweeps Delay .. Delay + Depth; through zero, the dry path is delayed
            // by the sweep's centre, so the wet one passes it twice per LFO cycle.
            alignas(64) float wetDelay[kChunk], dryDelay[kChunk];
            lfo_.render(wetDelay, n, increment, 0);
            lfo_.advance(n, increment);
            float shortest = 1e30f;
            for (int i = 0; i < n; ++i) {
                const float lo = delay.at(start + i) * samplesPerMs_, span = depth.at(start + i) * samplesPerMs_;
                float d = mulAdd(0.5f * span, wetDelay[i], lo + 0.5f * span);
                d = d > kFlangerMinDelaySamples ? d : kFlangerMinDelaySamples;
                wetDelay[i] = d;
                dryDelay[i] = std::max(kFlangerMinDelaySamples, lo + 0.5f * span);
                shortest = std::min(shortest, dryTap ? std::min(d, dryDelay[i]) : d);
            }
            // Sub-chunks in which every tap read was written before the sub-chunk starts (the
            // newest tap of delay D is floor(D) - 1 samples old).
            const int span = std::max(1, static_cast<int>(shortest) - 1);

            for (int c = 0; c < channels; ++c) {
                float* y = out.channel(c) + start;
                float* line = lines_.line(c);
                const float* x = in.channel(c) + start;
                if (!line) {
                    std::fill_n(y, n, 0.0f);
                    continue;
                }
                float written = 0.0f;
                for (int s0 = 0; s0 < n; s0 += span) {
                    const int s1 = std::min(n, s0 + span);
                    const std::size_t base = write_ + static_cast<std::size_t>(start);
                    alignas(64) float wet[kChunk], dry[kChunk], next[kChunk];
                    for (int i = s0; i < s1; ++i) wet[i] = readLine(line, mask, base + static_cast<std::size_t>(i), wetDelay[i]);
                    if (!dryTap) {
                        for (int i = s0; i < s1; ++i) dry[i] = x[i];
                    } else if (throughZero.constant()) {
                        for (int i = s0; i < s1; ++i) dry[i] = readLine(line, mask, base + static_cast<std::size_t>(i), dryDelay[i]);
                    } else {
                        for (int i = s0; i < s1; ++i) {
                            const float tap = readLine(line, mask, base + static_cast<std::size_t>(i), dryDelay[i]);
                            dry[i] = mulAdd(throughZero.at(start + i), tap - x[i], x[i]);
                        }
                    }
                    for (int i = s0; i < s1; ++i) {
                        const int k = start + i;
                        next[i] = mulAdd(feedback.at(k), wet[i], x[i]);
                        y[i] = mulAdd(mix.at(k), wet[i] - dry[i], dry[i]);
                    }
                    for (int i = s0; i < s1; ++i) {
                        line[(base + static_cast<std::size_t>(i)) & mask] = next[i];
                        written += next[i];
                    }
                }
                if (!std::isfinite(written)) lines_.clear(c);  // a NaN would echo forever
            }
        }
        write_ = (write_ + static_cast<std::size_t>(frames)) & mask;
    }

private:
    ParamSmoother delay_, depth_, rate_, feedback_, mix_, throughZero_;
    double fs_ = 48000.0;
    float samplesPerMs_ = 48.0f;
    LfoPhase lfo_;
    std::size_t write_ = 0;
    int activeChannels_ = 0;
    ChannelLines lines_;
};

const ModuleDescriptor kFlanger{
    .id = "flanger",
    .name = "Flanger",
    .category = "Effects",
    .help =
        "A flanger: the input mixed with a copy of itself whose delay a sine LFO at Rate sweeps from "
        "Delay to Delay + Depth milliseconds, so a comb of notches (at odd multiples of 1 / (2 x "
        "delay)) sweeps up and down. Feedback (+-0.95) sends the delayed copy back into the line: "
        "positive sharpens the peaks at multiples of 1 / delay, negative those in between. Mix 0.5 "
        "gives the deepest notches. Through zero delays the dry signal too, by the sweep's centre "
        "(Delay + Depth / 2), so the sweeping copy passes it (the classic tape flange where the "
        "notches run off to infinity and back); the output is then that much late, and both paths "
        "are read from the one line, so Feedback colours both. Switching it fades over ~10 ms. "
        "Polyphonic: one line per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to flange"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "dry + swept copy"}},
    .params = {{.id = "delay",
                .name = "Delay",
                .min = 0.1f,
                .max = kFlangerMaxDelayMs,
                .defaultValue = 1.0f,
                .unit = "ms",
                .curve = ParamCurve::Exponential,
                .help = "shortest delay of the sweep"},
               {.id = "depth",
                .name = "Depth",
                .min = 0.0f,
                .max = kFlangerMaxDepthMs,
                .defaultValue = 3.0f,
                .unit = "ms",
                .curve = ParamCurve::Linear,
                .help = "width of the sweep"},
               {.id = "rate",
                .name = "Rate",
                .min = 0.01f,
                .max = 10.0f,
                .defaultValue = 0.2f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "LFO rate"},
               {.id = "feedback",
                .name = "Feedback",
                .min = -0.95f,
                .max = 0.95f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "share of the delayed copy fed back into the line"},
               {.id = "mix",
                .name = "Mix",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "0 dry, 0.5 deepest notches, 1 wet"},
               {.id = "through_zero",
                .name = "Through zero",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "delay the dry path by the sweep's centre so the sweep crosses it"}},
    .create = [] { return std::unique_ptr<Module>(new Flanger(kFlanger)); },
};
const RegisterModule registerFlanger{kFlanger};

// ---------------------------------------------------------------------------------------------
// phaser

enum PhaserInputs { kPhaserIn, kPhaserSweepIn };
enum PhaserOutputs { kPhaserLeft, kPhaserRight };
enum PhaserParams { kPhaserStages, kPhaserRate, kPhaserDepth, kPhaserCenter, kPhaserFeedback, kPhaserMix, kPhaserSpread };

constexpr int kPhaserMaxStages = 12;
constexpr float kPhaserMinHz = 10.0f;
constexpr float kPhaserMaxRatio = 0.45f;

/// One chunk of a group of W channels, transposed to [frame][lane].
template <int W>
struct PhaserChunk {
    alignas(64) float x[kChunk][W];
    alignas(64) float a[kChunk][W];  // per-lane a = 2G - 1 (when the lanes' sweeps differ)
    alignas(64) float h[kChunk][W];  // per-lane 1 / (1 - fb a^N)
    alignas(64) float y[kChunk][W];  // the chain's output
};

/// W floats as one SIMD value (GCC vector extension): the phaser's loop runs over stages inside
/// each sample, which the auto-vectoriser does not turn into lane-wide operations by itself.
template <int W>
struct LaneVector;
template <>
struct LaneVector<2> {
    typedef float type __attribute__((vector_size(8)));
};
template <>
struct LaneVector<4> {
    typedef float type __attribute__((vector_size(16)));
};
template <>
struct LaneVector<8> {
    typedef float type __attribute__((vector_size(32)));
};

/// The chain over one chunk for W lanes (see the design note), coefficients per frame and lane.
/// The only serial path per sample is the N-step sum S_N -> u -> s'.
template <int W>
void runPhaser(PhaserChunk<W>& b, const float* fb, int frames, int stages, float (&state)[kPhaserMaxStages][W]) noexcept {
    using V = typename LaneVector<W>::type;
    auto load = [](const float* p) {
        V v;
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    V s[kPhaserMaxStages];
    for (int i = 0; i < stages; ++i) s[i] = load(state[i]);
    for (int n = 0; n < frames; ++n) {
        const V a = load(b.a[n]);
        const V rest = 1.0f - a;
        V sum = a - a;  // 0
        V partial[kPhaserMaxStages];
        for (int i = 0; i < stages; ++i) {
            sum = a * sum + rest * s[i];
            partial[i] = sum;
        }
        const V u = (load(b.x[n]) + fb[n] * sum) * load(b.h[n]);
        V prev = u, power = (a - a) + 1.0f;  // 1 exactly (a is finite)
        for (int i = 0; i < stages; ++i) {
            power *= a;
            const V y = power * u + partial[i];
            s[i] = y + prev - s[i];
            prev = y;
        }
        std::memcpy(b.y[n], &prev, sizeof prev);
    }
    for (int i = 0; i < stages; ++i) std::memcpy(state[i], &s[i], sizeof s[i]);
}

class Phaser final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        rate_.prepare(sampleRate);
        depth_.prepare(sampleRate);
        center_.prepare(sampleRate);
        feedback_.prepare(sampleRate);
        mix_.prepare(sampleRate);
        spread_.prepare(sampleRate);
        fs_ = sampleRate;
        piOverFs_ = static_cast<float>(std::numbers::pi / sampleRate);
        minOctaves_ = std::log2(kPhaserMinHz);
        maxOctaves_ = std::log2(kPhaserMaxRatio * static_cast<float>(sampleRate));
    }

    void reset() noexcept override {
        for (auto& side : state_)
            for (auto& stage : side) stage.fill(0.0f);
        lfo_.phase = 0;
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;
        const int frames = ctx.frames;
        const int stages = std::clamp(static_cast<int>(param(kPhaserStages)), 4, kPhaserMaxStages);
        if (stages != stages_) {
            // Stages that come back into use hold old states: clear them.
            for (auto& side : state_)
                for (int i = stages_; i < stages; ++i) side[i].fill(0.0f);
            stages_ = stages;
        }
        const float center = param(kPhaserCenter);
        if (center != cachedCenter_) {
            cachedCenter_ = center;
            cachedOctaves_ = std::log2(center);
        }
        Block b;
        b.stages = stages;
        const Ramp rate = rate_.next(param(kPhaserRate), frames);
        b.depth = depth_.next(0.5f * param(kPhaserDepth), frames);  // +- half the sweep
        b.octaves = center_.next(cachedOctaves_, frames);
        b.feedback = feedback_.next(param(kPhaserFeedback), frames);
        b.mix = mix_.next(param(kPhaserMix), frames);
        const Ramp spread = spread_.next(param(kPhaserSpread), frames);
        b.increment = dsp::phaseIncrement(rate.start / fs_);
        b.offsets[1] = cycleOffset(spread.end(frames) / 360.0f);
        // Lanes are (channel, side) pairs, 2 c + side: even a mono phaser fills two lanes.
        const int lanes = 2 * ctx.out[kPhaserLeft].channels;
        if (lanes == 2)
            run<2>(ctx, b, lanes);
        else if (lanes <= 4)
            run<4>(ctx, b, lanes);
        else
            run<8>(ctx, b, lanes);
        lfo_.advance(frames, b.increment);
    }

private:
    struct Block {
        int stages = 4;
        Ramp depth, octaves, feedback, mix;
        std::uint32_t increment = 0;
        std::uint32_t offsets[2] = {0, 0};  // LFO phase of each side
    };

    float clampOctaves(float o) const noexcept {
        o = o > minOctaves_ ? o : minOctaves_;  // NaN -> the lowest
        return o < maxOctaves_ ? o : maxOctaves_;
    }

    /// a = 2G - 1 and h = 1 / (1 - fb a^N) for each frame, from the break frequency in octaves;
    /// written `stride` floats apart.
    void coefficients(const float* __restrict octaves, const float* __restrict fb, int frames, int stages, float* a, float* h,
                      int stride) const noexcept {
        alignas(64) float coefficient[kChunk], power[kChunk];
        for (int i = 0; i < frames; ++i) {
            const float hz = dsp::fastPow2(clampOctaves(octaves[i]));
            const dsp::TanRatio t = dsp::tanRatio(hz * piOverFs_);
            coefficient[i] = (t.num - t.den) / (t.num + t.den);  // 2G - 1 with G = num / (num + den)
            power[i] = coefficient[i];
        }
        for (int k = 1; k < stages; ++k)
            for (int i = 0; i < frames; ++i) power[i] *= coefficient[i];
        for (int i = 0; i < frames; ++i) {
            a[i * stride] = coefficient[i];
            h[i * stride] = 1.0f / (1.0f - fb[i] * power[i]);
        }
    }

    template <int W>
    void run(const ProcessContext& ctx, const Block& blk, int lanes) noexcept {
        const int frames = ctx.frames;
        const InputPort& in = ctx.in[kPhaserIn];
        const InputPort& sweep = ctx.in[kPhaserSweepIn];
        const bool perChannel = sweep.connected && sweep.channels > 1;
        const float sweepOffset = sweep.connected ? 0.0f : sweep.constant;
        PhaserChunk<W> b;
        alignas(64) float lfo[2][kChunk], octaves[kChunk], fb[kChunk], aSide[2][kChunk], hSide[2][kChunk];
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            for (int i = 0; i < n; ++i) fb[i] = blk.feedback.at(start + i);
            const LfoPhase at{lfo_.phase + static_cast<std::uint32_t>(start) * blk.increment};
            for (int side = 0; side < 2; ++side) {
                at.render(lfo[side], n, blk.increment, blk.offsets[side]);
                for (int i = 0; i < n; ++i)
                    lfo[side][i] = mulAdd(blk.depth.at(start + i), lfo[side][i], blk.octaves.at(start + i) + sweepOffset);
                if (!perChannel) {
                    if (sweep.connected) {
                        const float* cv = sweep.channel(0) + start;
                        for (int i = 0; i < n; ++i) octaves[i] = lfo[side][i] + cv[i];
                        coefficients(octaves, fb, n, blk.stages, aSide[side], hSide[side], 1);
                    } else {
                        coefficients(lfo[side], fb, n, blk.stages, aSide[side], hSide[side], 1);
                    }
                }
            }
            for (int l0 = 0; l0 < lanes; l0 += W) {
                float s[kPhaserMaxStages][W];
                for (int l = 0; l < W; ++l) {
                    const int c = (l0 + l) / 2, side = (l0 + l) % 2;
                    if (l0 + l >= lanes) {
                        for (int i = 0; i < n; ++i) {
                            b.x[i][l] = 0.0f;
                            b.a[i][l] = 0.0f;
                            b.h[i][l] = 1.0f;
                        }
                        for (int i = 0; i < kPhaserMaxStages; ++i) s[i][l] = 0.0f;
                        continue;
                    }
                    const float* x = in.channel(c) + start;
                    for (int i = 0; i < n; ++i) b.x[i][l] = x[i];
                    if (perChannel) {
                        const float* cv = sweep.channel(c) + start;
                        for (int i = 0; i < n; ++i) octaves[i] = lfo[side][i] + cv[i];
                        coefficients(octaves, fb, n, blk.stages, &b.a[0][l], &b.h[0][l], W);
                    } else {
                        for (int i = 0; i < n; ++i) {
                            b.a[i][l] = aSide[side][i];
                            b.h[i][l] = hSide[side][i];
                        }
                    }
                    for (int i = 0; i < kPhaserMaxStages; ++i) s[i][l] = state_[side][i][c];
                }
                runPhaser<W>(b, fb, n, blk.stages, s);
                for (int l = 0; l < W && l0 + l < lanes; ++l) {
                    const int c = (l0 + l) / 2, side = (l0 + l) % 2;
                    bool finite = true;
                    for (int i = 0; i < blk.stages; ++i) finite = finite && std::isfinite(s[i][l]);
                    for (int i = 0; i < blk.stages; ++i) state_[side][i][c] = finite ? s[i][l] : 0.0f;
                    const OutputPort& out = ctx.out[side == 0 ? kPhaserLeft : kPhaserRight];
                    if (!out.connected) continue;
                    const float* x = in.channel(c) + start;
                    float* y = out.channel(c) + start;
                    for (int i = 0; i < n; ++i) y[i] = mulAdd(blk.mix.at(start + i), b.y[i][l] - x[i], x[i]);
                }
            }
        }
    }

    ParamSmoother rate_, depth_, center_, feedback_, mix_, spread_;
    double fs_ = 48000.0;
    float piOverFs_ = 0.0f;
    float minOctaves_ = 3.3f, maxOctaves_ = 14.0f;
    float cachedCenter_ = -1.0f;
    float cachedOctaves_ = 0.0f;
    int stages_ = kPhaserMaxStages;
    LfoPhase lfo_;
    std::array<std::array<std::array<float, kMaxChannels>, kPhaserMaxStages>, 2> state_{};  // [side][stage][channel]
};

const ModuleDescriptor kPhaser{
    .id = "phaser",
    .name = "Phaser",
    .category = "Effects",
    .help =
        "A stereo phaser: the input mixed with itself through a chain of 4 to 12 allpass stages whose "
        "common break frequency a sine LFO at Rate sweeps over Depth octaves (peak to peak) around "
        "Center. With Mix 0.5 the mix has a notch wherever the chain turns the phase by an odd "
        "multiple of 180 degrees: Stages / 2 notches (N stages at break frequency fb: where "
        "tan(pi f / fs) = tan(pi fb / fs) tan((2m + 1) x 90 / N degrees)). Feedback (+-0.95) "
        "sharpens them (positive) or the peaks in between (negative). The right output runs the same "
        "chain with its LFO Spread degrees ahead; 0 makes them identical. Patch the Sweep input "
        "(octaves, added to the LFO) for envelope-driven sweeps; Depth 0 freezes the LFO. Changing "
        "Stages is immediate (it may click). Polyphonic: one chain per channel and side.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to phase"},
               {.id = "sweep", .name = "Sweep", .kind = SignalKind::Pitch, .help = "octaves added to the break frequency"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left mix"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right mix (LFO Spread degrees ahead)"}},
    .params = {{.id = "stages",
                .name = "Stages",
                .min = 4.0f,
                .max = float(kPhaserMaxStages),
                .defaultValue = 6.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "allpass stages (notches = stages / 2)"},
               {.id = "rate",
                .name = "Rate",
                .min = 0.01f,
                .max = 10.0f,
                .defaultValue = 0.3f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "LFO rate"},
               {.id = "depth",
                .name = "Depth",
                .min = 0.0f,
                .max = 6.0f,
                .defaultValue = 2.0f,
                .unit = "oct",
                .curve = ParamCurve::Linear,
                .help = "sweep width, peak to peak"},
               {.id = "center",
                .name = "Center",
                .min = 50.0f,
                .max = 5000.0f,
                .defaultValue = 700.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "break frequency at the middle of the sweep"},
               {.id = "feedback",
                .name = "Feedback",
                .min = -0.95f,
                .max = 0.95f,
                .defaultValue = 0.3f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "chain output fed back to its input"},
               {.id = "mix",
                .name = "Mix",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "0 dry, 0.5 deepest notches, 1 the allpass chain alone"},
               {.id = "spread",
                .name = "Spread",
                .min = 0.0f,
                .max = 180.0f,
                .defaultValue = 90.0f,
                .unit = "deg",
                .curve = ParamCurve::Linear,
                .help = "LFO phase of the right side ahead of the left"}},
    .create = [] { return std::unique_ptr<Module>(new Phaser(kPhaser)); },
};
const RegisterModule registerPhaser{kPhaser};

}  // namespace
}  // namespace kabel
