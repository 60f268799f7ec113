// Dynamics: a feed-forward compressor and a look-ahead brick-wall limiter.
//
// Design note (compressor). The structure Giannoulis, Massberg and Reiss recommend ("Digital
// Dynamic Range Compressor Design - A Tutorial and Analysis", JAES 60(6), 2012): the detector
// level in dB (the sample's peak, or its RMS over a 10 ms one-pole window), the static gain
// computer with a quadratic soft knee of width W,
//     x - T < -W/2:        y = x
//     |x - T| <= W/2:      y = x + (1/R - 1) (x - T + W/2)^2 / (2 W)
//     x - T > W/2:         y = T + (x - T) / R,
// and the gain reduction y - x (<= 0 dB) smoothed in the log domain by a branching one-pole: it
// follows a falling gain with the attack time constant and a rising one with the release time
// constant, so each covers 1 - 1/e = 63 % of a step in exactly that time. Then makeup. Four
// passes per block: levels and the gain computer vectorise; only the smoothing (one FMA and a
// compare per sample) is serial. Linked (or with a mono side-chain), every channel gets the gain of
// the loudest: the stereo image does not move.
//
// Design note (limiter). The gain that keeps sample n at the ceiling c is g(n) = min(1, c/|x(n)|).
// The output is the input delayed by the look-ahead L samples, times a gain that at time n is
//   m(n) = min of g over the last L + 1 samples (a running minimum, monotonic deque),
//   r(n) = m(n) if that is lower than r(n-1), else r(n-1) + (m(n) - r(n-1)) (1 - e^(-1/(release fs)))
//          (instant attack, exponential release; r <= m always),
//   s(n) = the mean of r over the last L + 1 samples (a box filter: the attack is a linear ramp
//          over the look-ahead).
// The sample x(n - L) leaving at time n entered at n - L, so m(k) <= g(n - L) for every k in
// [n - L, n], hence r(k) <= g(n - L) there, hence their mean s(n) <= g(n - L): the gain reaches
// every peak's own requirement as the peak leaves, and |output| <= c. A last clamp to +-c only
// absorbs float rounding. Latency: exactly L samples. The box sum runs in double precision.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

#include "core/dsp/db_gain.hpp"
#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/denormals.hpp"

namespace kabel {
namespace {

using dsp::mulAdd;

constexpr int kChunk = 64;                            // frames per pass; longer blocks are split
constexpr float kDbPerOctave = 6.02059991f;           // 20 log10(2)
constexpr float kOctavesPerDb = 1.0f / kDbPerOctave;  // dB -> log2 of the gain
constexpr float kFloor = 1e-20f;                      // -400 dB: the level of silence
constexpr float kMaxFinite = std::numeric_limits<float>::max();

/// log2(x) for x >= kFloor (normal floats), vectorisable: the exponent's bits plus
/// log2(m) = 2 atanh(t) / ln 2 with t = (m - 1) / (m + 1), the mantissa m folded into
/// [sqrt(1/2), sqrt(2)) so |t| <= 0.1716; the series to t^9 leaves < 3e-8.
inline float log2Normal(float x) noexcept {
    const std::int32_t bits = std::bit_cast<std::int32_t>(x);
    const std::int32_t e = (bits - 0x3f3504f3) >> 23;  // 0x3f3504f3 = sqrt(1/2)'s bits
    const float m = std::bit_cast<float>(bits - (e << 23));
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float p = 1.0f / 9.0f;
    p = mulAdd(p, t2, 1.0f / 7.0f);
    p = mulAdd(p, t2, 1.0f / 5.0f);
    p = mulAdd(p, t2, 1.0f / 3.0f);
    p = mulAdd(p, t2, 1.0f);
    return static_cast<float>(e) + p * t * 2.88539008f;  // 2 / ln 2
}

/// A level in dB (20 log10 |x|); silence and NaN give -400 dB.
inline float levelDb(float x) noexcept {
    const float a = std::fabs(x);
    return kDbPerOctave * log2Normal(a > kFloor ? a : kFloor);
}

/// A one-pole's step 1 - e^(-1/(seconds fs)) (the share of the distance covered per sample), in
/// double precision (expm1: a float 1 - e^-x would lose three digits for long times), cached
/// while the time does not change.
class TimeConstant {
public:
    float operator()(float seconds, double sampleRate) noexcept {
        if (seconds != seconds_) {
            seconds_ = seconds;
            step_ = static_cast<float>(-std::expm1(-1.0 / (std::max(1e-6, static_cast<double>(seconds)) * sampleRate)));
        }
        return step_;
    }

private:
    float seconds_ = -1.0f;
    float step_ = 1.0f;
};

// ---------------------------------------------------------------------------------------------
// compressor

enum CompressorInputs { kCompressorIn, kCompressorSidechain };
enum CompressorOutputs { kCompressorOut, kCompressorGain };
enum CompressorParams {
    kCompressorThreshold,
    kCompressorRatio,
    kCompressorKnee,
    kCompressorAttack,
    kCompressorRelease,
    kCompressorMakeup,
    kCompressorDetector,
    kCompressorLink
};

constexpr float kRmsWindow = 0.010f;  // s: the RMS detector's time constant

/// The gain computer (dB of gain change, <= 0) at level x dB; slope = 1/R - 1.
inline float gainComputer(float x, float threshold, float slope, float knee) noexcept {
    const float d = x - threshold;
    const float k = knee > 1e-6f ? knee : 1e-6f;
    const float over = d + 0.5f * k;
    const float inKnee = slope * over * over / (2.0f * k);
    const float above = slope * d;
    const float below = 0.0f;
    const float g = 2.0f * d > k ? above : inKnee;
    return 2.0f * d < -k ? below : g;
}

class Compressor final : public Module {
public:
    using Module::Module;

    /// Every output carries the input's channels (the side-chain's count does not matter).
    int outputChannels(int, std::span<const int> inputChannels) const override {
        return inputChannels.empty() ? 1 : inputChannels[kCompressorIn];
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        threshold_.prepare(sampleRate);
        slope_.prepare(sampleRate);
        knee_.prepare(sampleRate);
        makeup_.prepare(sampleRate);
        fs_ = sampleRate;
        rmsCoefficient_ = 1.0f - static_cast<float>(std::exp(-1.0 / (kRmsWindow * sampleRate)));
        reset();
    }

    void reset() noexcept override {
        gainDb_.fill(0.0f);
        meanSquare_.fill(0.0f);
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;
        const int frames = ctx.frames;
        Block b;
        b.threshold = threshold_.next(param(kCompressorThreshold), frames);
        b.slope = slope_.next(1.0f / param(kCompressorRatio) - 1.0f, frames);
        b.knee = knee_.next(param(kCompressorKnee), frames);
        b.makeup = makeup_.next(param(kCompressorMakeup), frames);
        b.attack = attack_(param(kCompressorAttack), fs_);
        b.release = release_(param(kCompressorRelease), fs_);
        b.rms = param(kCompressorDetector) >= 0.5f;
        const InputPort& in = ctx.in[kCompressorIn];
        const InputPort& side = ctx.in[kCompressorSidechain];
        const OutputPort& out = ctx.out[kCompressorOut];
        const OutputPort& gainOut = ctx.out[kCompressorGain];
        const int channels = out.channels;
        const InputPort& detect = side.connected ? side : in;
        // One gain for all channels when linked, or when one detector signal feeds them all.
        const bool linked = param(kCompressorLink) >= 0.5f || (side.connected && side.channels == 1) || channels == 1;
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            if (linked) {
                alignas(64) float level[kChunk], gain[kChunk];
                for (int i = 0; i < n; ++i) level[i] = -1000.0f;
                const int sources = side.connected ? std::min(side.channels, channels) : channels;
                for (int c = 0; c < std::max(1, sources); ++c) {
                    alignas(64) float l[kChunk];
                    detectorLevel(detect.channel(c) + start, n, c, b.rms, l);
                    for (int i = 0; i < n; ++i) level[i] = std::max(level[i], l[i]);
                }
                smoothGain(level, n, start, b, 0, gain);
                for (int c = 1; c < channels; ++c) gainDb_[c] = gainDb_[0];
                for (int c = 0; c < channels; ++c)
                    apply(in.channel(c) + start, out.channel(c) + start, gainOut.channel(c) + start, gain, n, start, b, gainOut.connected);
            } else {
                for (int c = 0; c < channels; ++c) {
                    alignas(64) float level[kChunk], gain[kChunk];
                    detectorLevel(detect.channel(c) + start, n, c, b.rms, level);
                    smoothGain(level, n, start, b, c, gain);
                    apply(in.channel(c) + start, out.channel(c) + start, gainOut.channel(c) + start, gain, n, start, b, gainOut.connected);
                }
            }
        }
        for (int c = 0; c < kMaxChannels; ++c) {
            if (!std::isfinite(gainDb_[c])) gainDb_[c] = 0.0f;
            if (!std::isfinite(meanSquare_[c])) meanSquare_[c] = 0.0f;
        }
    }

private:
    struct Block {
        Ramp threshold, slope, knee, makeup;
        float attack = 1.0f, release = 1.0f;  // one-pole steps
        bool rms = false;
    };

    /// The detector's level (dB) of channel c for each frame.
    void detectorLevel(const float* __restrict x, int n, int c, bool rms, float* __restrict level) noexcept {
        if (!rms) {
            for (int i = 0; i < n; ++i) level[i] = levelDb(x[i]);
            return;
        }
        // Mean square over the window (serial: one FMA per sample), then 10 log10.
        alignas(64) float squares[kChunk];
        float ms = meanSquare_[c];
        const float k = rmsCoefficient_;
        for (int i = 0; i < n; ++i) {
            ms = mulAdd(k, x[i] * x[i] - ms, ms);
            squares[i] = ms;
        }
        meanSquare_[c] = ms;
        for (int i = 0; i < n; ++i) level[i] = 0.5f * levelDb(squares[i]);  // 10 log10(ms)
    }

    /// The smoothed gain change (dB) for each frame, from the detector levels; state in gainDb_[c].
    void smoothGain(const float* __restrict level, int n, int start, const Block& b, int c, float* __restrict gain) noexcept {
        alignas(64) float target[kChunk];
        for (int i = 0; i < n; ++i)
            target[i] = gainComputer(level[i], b.threshold.at(start + i), b.slope.at(start + i), b.knee.at(start + i));
        float g = gainDb_[c];
        const float attack = b.attack, release = b.release;
        for (int i = 0; i < n; ++i) {
            const float k = target[i] < g ? attack : release;
            g = mulAdd(k, target[i] - g, g);
            gain[i] = g;
        }
        gainDb_[c] = g;
    }

    static void apply(const float* __restrict x, float* __restrict y, float* __restrict gainOut, const float* __restrict gainDb, int n,
                      int start, const Block& b, bool writeGain) noexcept {
        for (int i = 0; i < n; ++i) y[i] = x[i] * dsp::fastPow2((gainDb[i] + b.makeup.at(start + i)) * kOctavesPerDb);
        if (writeGain)
            for (int i = 0; i < n; ++i) gainOut[i] = dsp::fastPow2(gainDb[i] * kOctavesPerDb);
    }

    ParamSmoother threshold_, slope_, knee_, makeup_;
    TimeConstant attack_, release_;
    double fs_ = 48000.0;
    float rmsCoefficient_ = 0.0f;
    std::array<float, kMaxChannels> gainDb_{};      // smoothed gain change per channel (dB)
    std::array<float, kMaxChannels> meanSquare_{};  // RMS detector state per channel
};

const ModuleDescriptor kCompressor{
    .id = "compressor",
    .name = "Compressor",
    .category = "Dynamics",
    .help =
        "A feed-forward compressor. Above Threshold the output level rises only 1 dB per Ratio dB of "
        "input (ratio 4: 1 dB per 4); Knee widens the bend into a smooth curve Knee dB wide around "
        "the threshold. The gain change follows a louder input within Attack and a quieter one within "
        "Release (each the time to 63 % of a step, in dB), and Makeup adds gain after. The detector "
        "reads the sample peak or the RMS over 10 ms; levels are dBFS (a full-scale sine is 0 dB peak, "
        "-3 dB RMS). Patch Sidechain to compress the input by another signal's level (ducking). Link "
        "gives every channel the gain of the loudest, so a stereo or poly image does not move; a mono "
        "side-chain always links. Gain outputs the gain change as a factor (without makeup), to "
        "drive a VCA elsewhere. Polyphonic.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to compress"},
               {.id = "sidechain", .name = "Sidechain", .kind = SignalKind::Audio, .help = "detector input instead of In (when patched)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "compressed signal"},
                {.id = "gain", .name = "Gain", .kind = SignalKind::Control, .help = "gain change as a factor (1 = none), without makeup"}},
    .params = {{.id = "threshold",
                .name = "Threshold",
                .min = -60.0f,
                .max = 0.0f,
                .defaultValue = -20.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "level above which the gain falls"},
               {.id = "ratio",
                .name = "Ratio",
                .min = 1.0f,
                .max = 20.0f,
                .defaultValue = 4.0f,
                .unit = ":1",
                .curve = ParamCurve::Exponential,
                .help = "input dB per output dB above the threshold"},
               {.id = "knee",
                .name = "Knee",
                .min = 0.0f,
                .max = 24.0f,
                .defaultValue = 6.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "width of the soft knee around the threshold"},
               {.id = "attack",
                .name = "Attack",
                .min = 0.0001f,
                .max = 0.5f,
                .defaultValue = 0.01f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time to 63 % of a gain reduction"},
               {.id = "release",
                .name = "Release",
                .min = 0.005f,
                .max = 5.0f,
                .defaultValue = 0.15f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time to 63 % of a recovery"},
               {.id = "makeup",
                .name = "Makeup",
                .min = 0.0f,
                .max = 36.0f,
                .defaultValue = 0.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "gain after compression"},
               {.id = "detector",
                .name = "Detector",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"peak", "rms"},
                .help = "sample peak, or RMS over 10 ms"},
               {.id = "link",
                .name = "Link",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "one gain for all channels (the loudest decides)"}},
    .create = [] { return std::unique_ptr<Module>(new Compressor(kCompressor)); },
};
const RegisterModule registerCompressor{kCompressor};

// ---------------------------------------------------------------------------------------------
// limiter

enum LimiterInputs { kLimiterIn };
enum LimiterOutputs { kLimiterOut, kLimiterGain };
enum LimiterParams { kLimiterCeiling, kLimiterRelease, kLimiterLookahead, kLimiterDrive, kLimiterLink };

constexpr float kMaxLookaheadMs = 20.0f;

/// The running state of one detector group (a channel, or all of them when linked).
struct LimiterGroup {
    std::uint64_t head = 0, tail = 0;  // the deque of (frame, gain) with rising gains: [head, tail)
    float release = 1.0f;              // r
    double sum = 0.0;                  // sum of r over the last L + 1 frames
};

/// One channel's memory: its delay line and its group's deque and box ring (power-of-two sizes).
struct LimiterMemory {
    AlignedFloats line, ring, dequeGain;
    std::unique_ptr<std::uint64_t[]> dequeFrame;
};

class Limiter final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        ceiling_.prepare(sampleRate);
        drive_.prepare(sampleRate);
        fs_ = sampleRate;
        const std::size_t needed = static_cast<std::size_t>(std::ceil(kMaxLookaheadMs * 0.001 * sampleRate)) + 2;
        std::size_t size = 1;
        while (size < needed) size *= 2;
        if (size != size_) {
            // In no plan now (prepare's contract): existing memory may be replaced.
            size_ = size;
            for (int c = 0; c < kMaxChannels; ++c)
                if (storage_[c]) allocate(c);
        }
        reset();
    }

    void prepareChannels(std::span<const int>, std::span<const int> outputChannels) override {
        const int channels = outputChannels.empty() ? 1 : outputChannels[0];
        for (int c = 0; c < channels && c < kMaxChannels; ++c)
            if (!storage_[c]) allocate(c);
    }

    void reset() noexcept override {
        for (int c = 0; c < kMaxChannels; ++c) clearChannel(c);
        lookahead_ = -1;  // set up again by the next block
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp ceiling = ceiling_.next(ceilingGain_(param(kLimiterCeiling)), frames);
        const Ramp drive = drive_.next(driveGain_(param(kLimiterDrive)), frames);
        const float releaseStep = release_(param(kLimiterRelease), fs_);
        const bool linked = param(kLimiterLink) >= 0.5f;
        const int lookahead =
            std::clamp(static_cast<int>(std::lround(param(kLimiterLookahead) * 0.001 * fs_)), 1, static_cast<int>(size_) - 2);
        const InputPort& in = ctx.in[kLimiterIn];
        const OutputPort& out = ctx.out[kLimiterOut];
        const OutputPort& gainOut = ctx.out[kLimiterGain];
        const int channels = out.channels;
        std::array<LimiterMemory*, kMaxChannels> memory{};
        for (int c = 0; c < channels; ++c) {
            memory[c] = memory_[c].load(std::memory_order_acquire);
            if (!memory[c]) {  // prepareChannels has not reached this channel yet: silence
                std::fill_n(out.channel(c), frames, 0.0f);
                if (gainOut.connected) std::fill_n(gainOut.channel(c), frames, 1.0f);
            }
        }
        // A new look-ahead, link mode or channel set restarts the detectors from the lines.
        if (lookahead != lookahead_ || linked != linked_ || channels != channels_) {
            for (int c = channels_; c < channels; ++c) clearChannel(c);  // holds old audio
            lookahead_ = lookahead;
            linked_ = linked;
            channels_ = channels;
            for (int g = 0; g < (linked ? 1 : channels); ++g) restart(g, memory, ceiling.start);
        }
        const std::size_t mask = size_ - 1;
        const int groups = linked ? 1 : channels;
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            alignas(64) float gain[kMaxChannels][kChunk];
            // Write the driven input into the lines (a NaN or Inf becomes silence).
            for (int c = 0; c < channels; ++c) {
                if (!memory[c]) continue;
                const float* x = in.channel(c) + start;
                float* line = memory[c]->line.data();
                for (int i = 0; i < n; ++i) {
                    const float v = x[i] * drive.at(start + i);
                    line[(frame_ + static_cast<std::uint64_t>(i)) & mask] = std::fabs(v) <= kMaxFinite ? v : 0.0f;
                }
            }
            for (int g = 0; g < groups; ++g) {
                if (!memory[g]) {
                    std::fill_n(gain[g], n, 1.0f);
                    continue;
                }
                // The gain each frame needs: min(1, c / peak), the peak over the group.
                alignas(64) float peak[kChunk], need[kChunk];
                std::fill_n(peak, n, 0.0f);
                for (int c = linked ? 0 : g; c < (linked ? channels : g + 1); ++c) {
                    if (!memory[c]) continue;
                    const float* line = memory[c]->line.data();
                    for (int i = 0; i < n; ++i)
                        peak[i] = std::max(peak[i], std::fabs(line[(frame_ + static_cast<std::uint64_t>(i)) & mask]));
                }
                for (int i = 0; i < n; ++i) {
                    const float c = ceiling.at(start + i);
                    need[i] = peak[i] > c ? c / peak[i] : 1.0f;
                }
                runGroup(*memory[g], groups_[g], need, gain[g], n, releaseStep);
            }
            for (int c = 0; c < channels; ++c) {
                if (!memory[c]) continue;
                const float* g = gain[linked ? 0 : c];
                const float* line = memory[c]->line.data();
                float* y = out.channel(c) + start;
                for (int i = 0; i < n; ++i) {
                    const float limit = ceiling.at(start + i);
                    const float v = line[(frame_ + static_cast<std::uint64_t>(i) - static_cast<std::uint64_t>(lookahead_)) & mask] * g[i];
                    y[i] = std::clamp(v, -limit, limit);  // rounding only: the gain already keeps v within the ceiling
                }
                if (gainOut.connected) std::copy_n(g, n, gainOut.channel(c) + start);
            }
            frame_ += static_cast<std::uint64_t>(n);
        }
    }

private:
    void allocate(int c) {
        auto m = std::make_unique<LimiterMemory>();
        m->line = AlignedFloats(size_);
        m->ring = AlignedFloats(size_);
        m->dequeGain = AlignedFloats(size_);
        m->dequeFrame = std::make_unique<std::uint64_t[]>(size_);
        memory_[c].store(m.get(), std::memory_order_release);
        storage_[c] = std::move(m);
    }

    void clearChannel(int c) noexcept {
        groups_[c] = LimiterGroup{};
        if (LimiterMemory* m = memory_[c].load(std::memory_order_acquire)) {
            std::fill_n(m->line.data(), size_, 0.0f);
            std::fill_n(m->ring.data(), size_, 1.0f);
        }
    }

    /// Rebuilds group g's detector from what its lines hold (after a change of look-ahead, link
    /// mode or channels): the deque from the last L samples, the box ring at the current r.
    void restart(int g, const std::array<LimiterMemory*, kMaxChannels>& memory, float ceiling) noexcept {
        LimiterMemory* m = memory[g];
        if (!m) return;
        LimiterGroup& group = groups_[g];
        const std::size_t mask = size_ - 1;
        const float r = std::min(group.release, 1.0f);
        group = LimiterGroup{};
        group.release = r;
        group.sum = static_cast<double>(r) * (lookahead_ + 1);
        std::fill_n(m->ring.data(), size_, r);
        for (std::uint64_t k = frame_ - static_cast<std::uint64_t>(lookahead_); k != frame_; ++k) {
            float peak = 0.0f;
            for (int c = linked_ ? 0 : g; c < (linked_ ? channels_ : g + 1); ++c)
                if (memory[c]) peak = std::max(peak, std::fabs(memory[c]->line[k & mask]));
            push(*m, group, k, peak > ceiling ? ceiling / peak : 1.0f);
        }
    }

    /// Appends (frame, gain) to the deque, dropping the entries it dominates.
    void push(LimiterMemory& m, LimiterGroup& group, std::uint64_t frame, float need) const noexcept {
        const std::size_t mask = size_ - 1;
        while (group.tail > group.head && m.dequeGain[(group.tail - 1) & mask] >= need) --group.tail;
        m.dequeGain[group.tail & mask] = need;
        m.dequeFrame[group.tail & mask] = frame;
        ++group.tail;
    }

    /// The serial part for one group and one chunk: running minimum, release, box filter.
    void runGroup(LimiterMemory& m, LimiterGroup& group, const float* need, float* gain, int n, float releaseStep) noexcept {
        const std::size_t mask = size_ - 1;
        const auto window = static_cast<std::uint64_t>(lookahead_);
        const double inverse = 1.0 / static_cast<double>(lookahead_ + 1);
        float r = group.release;
        double sum = group.sum;
        for (int i = 0; i < n; ++i) {
            const std::uint64_t frame = frame_ + static_cast<std::uint64_t>(i);
            push(m, group, frame, need[i]);
            while (m.dequeFrame[group.head & mask] + window < frame) ++group.head;  // older than L frames
            const float minimum = m.dequeGain[group.head & mask];
            r = minimum < r ? minimum : mulAdd(releaseStep, minimum - r, r);
            sum += static_cast<double>(r) - static_cast<double>(m.ring[(frame - window - 1) & mask]);
            m.ring[frame & mask] = r;
            gain[i] = static_cast<float>(sum * inverse);
        }
        group.release = r;
        group.sum = sum;
    }

    ParamSmoother ceiling_, drive_;
    dsp::DbGain ceilingGain_, driveGain_;
    TimeConstant release_;
    double fs_ = 48000.0;
    std::size_t size_ = 0;
    std::uint64_t frame_ = 1u << 20;  // frames processed (starts high so frame - L never wraps)
    int lookahead_ = -1;
    bool linked_ = true;
    int channels_ = 0;
    std::array<LimiterGroup, kMaxChannels> groups_{};
    std::array<std::unique_ptr<LimiterMemory>, kMaxChannels> storage_;  // UI thread: owns the memory
    std::array<std::atomic<LimiterMemory*>, kMaxChannels> memory_{};    // the audio thread reads these
};

const ModuleDescriptor kLimiter{
    .id = "limiter",
    .name = "Limiter",
    .category = "Dynamics",
    .help =
        "A look-ahead brick-wall limiter: the output never exceeds Ceiling (dBFS, sample peak; not "
        "inter-sample true peak). It delays the signal by Lookahead milliseconds (rounded to whole "
        "samples: that is its latency) and lowers the gain in a straight ramp over that time, so each "
        "peak is already contained when it leaves, without clipping; afterwards the gain recovers "
        "with the Release time constant (63 % in that time). Drive raises the input into it (loudness "
        "maximising). Link applies the gain of the loudest channel to all, so a stereo or poly image "
        "does not move. Gain outputs the gain applied (a factor, 1 = none). Changing Lookahead or "
        "Link restarts the detector (the ceiling still holds). Polyphonic.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to limit"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "limited signal, Lookahead late"},
                {.id = "gain", .name = "Gain", .kind = SignalKind::Control, .help = "gain applied to the output (1 = none)"}},
    .params = {{.id = "ceiling",
                .name = "Ceiling",
                .min = -24.0f,
                .max = 0.0f,
                .defaultValue = -1.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "highest output level (dBFS)"},
               {.id = "release",
                .name = "Release",
                .min = 0.005f,
                .max = 2.0f,
                .defaultValue = 0.1f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time to 63 % of a recovery"},
               {.id = "lookahead",
                .name = "Lookahead",
                .min = 0.1f,
                .max = kMaxLookaheadMs,
                .defaultValue = 5.0f,
                .unit = "ms",
                .curve = ParamCurve::Exponential,
                .help = "how far ahead the gain starts to fall: the latency"},
               {.id = "drive",
                .name = "Drive",
                .min = 0.0f,
                .max = 24.0f,
                .defaultValue = 0.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "gain before limiting"},
               {.id = "link",
                .name = "Link",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "one gain for all channels"}},
    .create = [] { return std::unique_ptr<Module>(new Limiter(kLimiter)); },
};
const RegisterModule registerLimiter{kLimiter};

}  // namespace
}  // namespace kabel
