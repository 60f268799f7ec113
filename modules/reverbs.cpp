// Reverbs: a Freeverb-family stereo reverb (reverb) and a feedback-delay-network reverb (fdn).
//
// Design note (reverb). Freeverb's structure and published tuning (Jezar at Dreampoint, 2000, as
// described in J. O. Smith's "Physical Audio Signal Processing"): per side 8 parallel
// lowpass-feedback combs (1116..1617 samples at 44.1 kHz) into 4 series allpasses (556, 441, 341,
// 225; feedback 0.5); the right side's delays are 23 samples longer; input gain 0.015; comb
// feedback 0.7 + 0.28 room; damping 0.4 damp. Every delay is longer than a chunk, so each comb and
// allpass runs a whole chunk at a time on contiguous memory: the allpasses vectorise over time,
// the combs of a side run interleaved (8 independent recursions per sample, which hides the
// latency of each one's lowpass).
//
// Design note (fdn). Jot's feedback delay network (J.-M. Jot and A. Chaigne, "Digital delay
// networks for designing artificial reverberators", AES 1991): 16 delay lines whose outputs are
// mixed by an orthogonal matrix (the 16-point Walsh-Hadamard transform / 4) and fed back; each line
// i of m_i frames ends in an absorption filter of gain 10^(-3 m_i / (fs T60)), so every path
// through the network decays 60 dB in T60 whatever lines it takes. The absorption is a
// first-order shelf, exact at DC (T60 = decay) and Nyquist (decay x damping), its transition
// centred on the crossover. Every line is longer than a chunk (64 frames), so a chunk of every
// line's output is known before any of it is written back: the network runs a chunk at a time,
// the matrix vectorised over time and the 16 filters' recursions interleaved. Lengths are whole
// frames when settled (one contiguous copy per line); a new size and the modulation of four lines
// move the read positions linearly within a chunk, read with Hermite interpolation.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fftw3.h>
#include <samplerate.h>
#include <nlohmann/json.hpp>

#include "core/dsp/fast_math.hpp"
#include "core/dsp/interpolation.hpp"
#include "core/dsp/simd8.hpp"
#include "core/io/sound_file.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
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
            int i = 0;
#if defined(__AVX__)
            // Eight samples at a time: each comb's eight old samples are a row; the comb sum is
            // a sum of rows (the scalar loop's order); transposed, each column holds one sample
            // of all eight combs, so the eight damping filters run as one vector recurrence;
            // transposed back, each comb's eight new samples store as a row. Same bits as the
            // scalar loop below.
            {
                const dsp::Float8 d1 = dsp::splat8(damp1), d2 = dsp::splat8(damp2), fb = dsp::splat8(feedback);
                dsp::Float8 state = dsp::load8(s);
                for (; i + 8 <= n; i += 8) {
                    dsp::Float8 r[kCombs];
#pragma GCC unroll 8
                    for (int k = 0; k < kCombs; ++k) r[k] = dsp::load8(p[k] + i);
                    dsp::store8(a + i, dsp::add8(dsp::add8(dsp::add8(r[0], r[1]), dsp::add8(r[2], r[3])),
                                                 dsp::add8(dsp::add8(r[4], r[5]), dsp::add8(r[6], r[7]))));
                    dsp::transpose8(r);
#pragma GCC unroll 8
                    for (int j = 0; j < 8; ++j) {
                        state = dsp::mulAdd8(state, d1, dsp::mul8(r[j], d2));
                        r[j] = dsp::mulAdd8(state, fb, dsp::splat8(x[i + j]));
                    }
                    dsp::transpose8(r);
#pragma GCC unroll 8
                    for (int k = 0; k < kCombs; ++k) dsp::store8(p[k] + i, r[k]);
                }
                dsp::store8(s, state);
            }
#endif
            for (; i < n; ++i) {
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

// ---------------------------------------------------------------------------------------------
// fdn

enum FdnInputs { kFdnInLeft, kFdnInRight };
enum FdnOutputs { kFdnOutLeft, kFdnOutRight };
enum FdnParams { kFdnDecay, kFdnDamping, kFdnCrossover, kFdnSize, kFdnPredelay, kFdnModulation, kFdnMix };

constexpr int kFdnLines = 16;
// Line lengths at size 1, in ms: roughly geometric from 23 to 73 ms, none a simple ratio of another.
constexpr std::array<double, kFdnLines> kFdnLengthsMs{23.3, 25.9, 28.1, 30.7, 33.4, 35.9, 38.8, 41.9,
                                                      45.1, 48.3, 51.8, 55.7, 59.6, 63.9, 68.5, 73.4};
// The lines whose length is modulated (slow sines, distinct rates), and their rates in Hz.
constexpr std::array<int, 4> kFdnModulated{2, 7, 11, 14};
constexpr std::array<double, 4> kFdnModRates{0.31, 0.43, 0.57, 0.71};
constexpr float kFdnMinSize = 0.25f, kFdnMaxSize = 2.5f;
constexpr float kFdnMaxPredelay = 0.5f;
constexpr double kFdnMaxModMs = 1.0;  // modulation depth at Modulation 1: +-1 ms
constexpr int kFdnMaxMove = 128;      // a line's length moves at most this much per chunk
constexpr int kFdnGuard = kChunk + kFdnMaxMove + 8;
constexpr float kFdnInputGain = 0.35f;

/// Writes src[0..n) into a power-of-two line at w, keeping the mirror of its first `guard` frames
/// after its end (so reads of up to `guard` frames never wrap).
inline void storeMirrored(float* line, std::size_t size, std::size_t w, const float* src, int n, int guard) noexcept {
    const int first = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n), size - w));
    std::copy_n(src, first, line + w);
    std::copy_n(src + first, n - first, line);
    if (w < static_cast<std::size_t>(guard)) {
        const int m = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n), static_cast<std::size_t>(guard) - w));
        std::copy_n(src, m, line + size + w);
    }
    if (first < n) std::copy_n(src + first, std::min(n - first, guard), line + size);
}

class Fdn final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        decay_.prepare(sampleRate, 50.0f);
        damping_.prepare(sampleRate, 50.0f);
        crossover_.prepare(sampleRate, 50.0f);
        size_.prepare(sampleRate, 100.0f);
        modulation_.prepare(sampleRate, 50.0f);
        mix_.prepare(sampleRate);
        fs_ = sampleRate;
        keep_ = std::exp(-1.0 / (0.002 * sampleRate));  // the lengths' own 2 ms glide
        const double longest = kFdnLengthsMs.back() * 1e-3 * sampleRate * kFdnMaxSize + kFdnMaxModMs * 1e-3 * sampleRate + kChunk + 8;
        lineSize_ = 1;
        while (static_cast<double>(lineSize_) < longest) lineSize_ *= 2;
        lineMask_ = lineSize_ - 1;
        lines_ = AlignedFloats(kFdnLines * (lineSize_ + kFdnGuard));
        preSize_ = 1;
        while (static_cast<double>(preSize_) < kFdnMaxPredelay * sampleRate + 2 * kChunk) preSize_ *= 2;
        preMask_ = preSize_ - 1;
        pre_ = AlignedFloats(2 * (preSize_ + kChunk));
        for (int k = 0; k < 4; ++k) modIncrement_[k] = dsp::phaseIncrement(kFdnModRates[k] / sampleRate);
        reset();
    }

    void reset() noexcept override {
        std::fill_n(lines_.data(), lines_.size(), 0.0f);
        std::fill_n(pre_.data(), pre_.size(), 0.0f);
        shelfState_.fill(0.0f);
        length_.fill(-1.0);  // jump to the targets
        predelay_ = -1;
        write_ = 0;
        preWrite_ = 0;
        for (int k = 0; k < 4; ++k) modPhase_[k] = static_cast<std::uint32_t>(k) * 0x40000000u;  // quarter cycles apart
        cached_ = {-1.0f, -1.0f, -1.0f, -1.0f};
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;
        const int frames = ctx.frames;
        const float decay = decay_.next(param(kFdnDecay), frames).end(frames);
        const float damping = damping_.next(param(kFdnDamping), frames).end(frames);
        const float crossover = crossover_.next(param(kFdnCrossover), frames).end(frames);
        const float size = size_.next(param(kFdnSize), frames).end(frames);
        const float depth = modulation_.next(param(kFdnModulation), frames).end(frames) * static_cast<float>(kFdnMaxModMs * 1e-3 * fs_);
        const Ramp mix = mix_.next(param(kFdnMix), frames);

        // Targets: whole-frame line lengths for this size; the filters follow the lengths.
        for (int i = 0; i < kFdnLines; ++i)
            target_[i] = std::max(static_cast<double>(kChunk + 4),
                                  std::round(kFdnLengthsMs[static_cast<std::size_t>(i)] * 1e-3 * fs_ * static_cast<double>(size)));
        if (decay != cached_[0] || damping != cached_[1] || crossover != cached_[2] || size != cached_[3]) {
            cached_ = {decay, damping, crossover, size};
            design(decay, damping, crossover);
        }
        // A new predelay crossfades from the old tap over this block.
        const int predelay =
            static_cast<int>(std::lround(std::clamp(param(kFdnPredelay), 0.0f, kFdnMaxPredelay) * static_cast<float>(fs_)));
        const int oldPredelay = predelay_ < 0 ? predelay : predelay_;
        predelay_ = predelay;

        const InputPort& left = ctx.in[kFdnInLeft];
        const InputPort& right = ctx.in[kFdnInRight];
        float* outLeft = ctx.out[kFdnOutLeft].channel(0);
        float* outRight = ctx.out[kFdnOutRight].channel(0);
        for (int start = 0; start < frames;) {
            // A chunk no line's output inside it depends on: shorter than every line.
            int n = std::min(kChunk, frames - start);
            for (int i = 0; i < kFdnLines; ++i)
                n = std::min(n, static_cast<int>(std::min(length_[i] < 0.0 ? target_[i] : length_[i], target_[i]) - depth) - 4);
            n = std::max(n, 1);
            alignas(64) float inL[kChunk], inR[kChunk], preL[kChunk], preR[kChunk], yl[kChunk], yr[kChunk];
            sumChannels(left, start, n, inL);
            if (right.connected)
                sumChannels(right, start, n, inR);
            else
                std::copy_n(inL, n, inR);
            runPredelay(inL, inR, preL, preR, n, oldPredelay, predelay, start, frames);
            runNetwork(preL, preR, yl, yr, n, depth);
            float* ol = outLeft + start;
            float* orr = outRight + start;
            for (int k = 0; k < n; ++k) {
                const float m = mix.at(start + k);
                ol[k] = (1.0f - m) * inL[k] + m * yl[k];
                orr[k] = (1.0f - m) * inR[k] + m * yr[k];
            }
            start += n;
        }
    }

private:
    float* line(int i) noexcept { return lines_.data() + static_cast<std::size_t>(i) * (lineSize_ + kFdnGuard); }

    /// Per line i of length m_i frames: a first-order shelf with gain g_lo below the crossover and
    /// g_hi above, g = 10^(-3 m_i / (fs T60)) for T60 = decay (low) and decay x damping (high),
    /// so every path through the (lossless) network loses 60 dB in T60 seconds. The shelf is the
    /// bilinear transform of H(s) = (g_hi s + g_lo w_p) / (s + w_p), w_p = w_c sqrt(g_hi / g_lo)
    /// (pole and zero centred on the crossover), prewarped: exact at DC and at Nyquist.
    void design(float decay, float damping, float crossover) noexcept {
        const double low = std::max(0.01, static_cast<double>(decay));
        const double high = low * std::clamp(static_cast<double>(damping), 0.01, 1.0);
        const double wc = std::tan(std::numbers::pi * std::min(static_cast<double>(crossover), 0.45 * fs_) / fs_);
        for (int i = 0; i < kFdnLines; ++i) {
            const double m = target_[i];
            const double gLow = std::pow(10.0, -3.0 * m / (fs_ * low));
            const double gHigh = std::pow(10.0, -3.0 * m / (fs_ * high));
            const double wp = wc * std::sqrt(gHigh / gLow);
            const double norm = 1.0 / (1.0 + wp);
            b0_[i] = static_cast<float>((gHigh + gLow * wp) * norm);
            b1_[i] = static_cast<float>((gLow * wp - gHigh) * norm);
            a1_[i] = static_cast<float>((wp - 1.0) * norm);
        }
    }

    void runPredelay(const float* inL, const float* inR, float* preL, float* preR, int n, int from, int to, int start,
                     int frames) noexcept {
        float* lineL = pre_.data();
        float* lineR = pre_.data() + preSize_ + kChunk;
        storeMirrored(lineL, preSize_, preWrite_, inL, n, kChunk);
        storeMirrored(lineR, preSize_, preWrite_, inR, n, kChunk);
        const float* a[2] = {lineL + ((preWrite_ - static_cast<std::size_t>(to)) & preMask_),
                             lineR + ((preWrite_ - static_cast<std::size_t>(to)) & preMask_)};
        if (from == to) {
            std::copy_n(a[0], n, preL);
            std::copy_n(a[1], n, preR);
        } else {
            const float* b[2] = {lineL + ((preWrite_ - static_cast<std::size_t>(from)) & preMask_),
                                 lineR + ((preWrite_ - static_cast<std::size_t>(from)) & preMask_)};
            const float step = 1.0f / static_cast<float>(frames);
            for (int k = 0; k < n; ++k) {
                const float f = static_cast<float>(start + k + 1) * step;  // 0 -> 1 over the block
                preL[k] = b[0][k] + f * (a[0][k] - b[0][k]);
                preR[k] = b[1][k] + f * (a[1][k] - b[1][k]);
            }
        }
        preWrite_ = (preWrite_ + static_cast<std::size_t>(n)) & preMask_;
    }

    /// Reads line i over the chunk, its length moving linearly from dA to dB frames.
    void readLine(int i, float* o, int n, double dA, double dB) noexcept {
        const float* src = line(i);
        if (dA == dB && dA == std::floor(dA)) {
            std::copy_n(src + ((write_ - static_cast<std::size_t>(dA)) & lineMask_), n, o);
            return;
        }
        // Positions relative to an origin `span` frames before the chunk: frame k is at
        // p = span + k - d(k) >= 1, so its four Hermite taps lie in origin[p - 1 .. p + 2].
        const auto span = static_cast<std::size_t>(std::max(dA, dB)) + 2;
        const float* origin = src + ((write_ - span) & lineMask_);
        const float p0 = static_cast<float>(static_cast<double>(span) - dA);
        const float speed = 1.0f - static_cast<float>((dB - dA) / n);
        for (int k = 0; k < n; ++k) {
            const float p = p0 + speed * static_cast<float>(k);
            const int j = static_cast<int>(p);
            const float t = p - static_cast<float>(j);
            o[k] = dsp::hermite(origin[j - 1], origin[j], origin[j + 1], origin[j + 2], t);
        }
    }

    void runNetwork(const float* preL, const float* preR, float* yl, float* yr, int n, float depth) noexcept {
        alignas(64) float o[kFdnLines][kChunk];
        // Each line's length at the chunk's end: a 2 ms glide to its target (a whole number of
        // frames, reached exactly), plus the modulation of the modulated lines.
        const double glide = std::pow(keep_, n);
        std::array<double, kFdnLines> endLength;
        for (int i = 0; i < kFdnLines; ++i) {
            double& m = length_[i];
            if (m < 0.0) m = target_[i];
            double e = (m - target_[i]) * glide;
            e = std::clamp(e, m - target_[i] - kFdnMaxMove, m - target_[i] + kFdnMaxMove);
            endLength[i] = std::fabs(e) < 1e-4 ? target_[i] : target_[i] + e;
        }
        std::array<double, kFdnLines> startRead = length_, endRead = endLength;
        for (int k = 0; k < 4; ++k) {
            const int i = kFdnModulated[static_cast<std::size_t>(k)];
            const std::uint32_t next = modPhase_[k] + modIncrement_[k] * static_cast<std::uint32_t>(n);
            startRead[i] += depth * dsp::fastSin2pi(dsp::phaseToSigned(modPhase_[k]));
            endRead[i] += depth * dsp::fastSin2pi(dsp::phaseToSigned(next));
            modPhase_[k] = next;
        }
        for (int i = 0; i < kFdnLines; ++i) readLine(i, o[i], n, startRead[i], endRead[i]);
        length_ = endLength;

        // Absorption: each line's shelf (transposed direct form II), the 16 recursions interleaved.
        for (int k = 0; k < n; ++k) {
#pragma GCC unroll 16
            for (int i = 0; i < kFdnLines; ++i) {
                const float x = o[i][k];
                const float y = dsp::mulAdd(b0_[i], x, shelfState_[i]);
                shelfState_[i] = b1_[i] * x - a1_[i] * y;
                o[i][k] = y;
            }
        }
        // Outputs: two orthogonal sign patterns (rows of a Hadamard matrix), so the sides are
        // decorrelated.
        for (int k = 0; k < n; ++k) {
            float l = 0.0f, r = 0.0f;
#pragma GCC unroll 16
            for (int i = 0; i < kFdnLines; ++i) {
                l += (i & 1 ? -0.25f : 0.25f) * o[i][k];
                r += (i & 2 ? -0.25f : 0.25f) * o[i][k];
            }
            yl[k] = l;
            yr[k] = r;
        }
        // Feedback: the 16-point Walsh-Hadamard transform / 4 (orthogonal), vectorised over time.
        for (int h = 1; h < kFdnLines; h *= 2)
            for (int i = 0; i < kFdnLines; i += 2 * h)
                for (int j = i; j < i + h; ++j) {
                    float* __restrict a = o[j];
                    float* __restrict b = o[j + h];
                    for (int k = 0; k < n; ++k) {
                        const float u = a[k], v = b[k];
                        a[k] = u + v;
                        b[k] = u - v;
                    }
                }
        // Inputs: the left side into the even lines, the right into the odd, with alternating signs.
        for (int i = 0; i < kFdnLines; ++i) {
            const float* x = i & 1 ? preR : preL;
            const float g = (i & 2 ? -kFdnInputGain : kFdnInputGain);
            float* v = o[i];
            for (int k = 0; k < n; ++k) v[k] = dsp::mulAdd(v[k], 0.25f, g * x[k]);
            storeMirrored(line(i), lineSize_, write_, v, n, kFdnGuard);
        }
        write_ = (write_ + static_cast<std::size_t>(n)) & lineMask_;
    }

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

    ParamSmoother decay_, damping_, crossover_, size_, modulation_, mix_;
    double fs_ = 48000.0, keep_ = 0.0;
    AlignedFloats lines_, pre_;
    std::size_t lineSize_ = 0, lineMask_ = 0, write_ = 0;
    std::size_t preSize_ = 0, preMask_ = 0, preWrite_ = 0;
    int predelay_ = -1;
    std::array<double, kFdnLines> length_{}, target_{};
    std::array<float, kFdnLines> b0_{}, b1_{}, a1_{}, shelfState_{};
    std::array<std::uint32_t, 4> modPhase_{}, modIncrement_{};
    std::array<float, 4> cached_{};  // decay, damping, crossover, size the filters were designed for
};

const ModuleDescriptor kFdn{
    .id = "fdn",
    .name = "FDN Reverb",
    .category = "Effects",
    .help =
        "An algorithmic hall/room reverb: 16 delay lines (23..73 ms x Size) fed back through an orthogonal "
        "(Hadamard) mixing matrix, each line with an absorption filter designed so the tail falls 60 dB in "
        "Decay seconds below the Crossover frequency and in Decay x Damping seconds above it (exact for "
        "every path through the network; measured by Schroeder integration within a few percent). Size "
        "scales every line (changes glide, bending the tail's pitch like tape); Predelay delays the input "
        "to the network; Modulation slowly varies four lines' lengths (up to +-1 ms) against metallic "
        "ringing. Mix: wet = mix, dry = 1 - mix (0 passes the input unchanged). Patch only Left for a mono "
        "source: it feeds both sides. Polyphonic inputs are summed; the outputs are one channel each.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left input (both, when Right is unpatched)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right input"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left output"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right output"}},
    .params = {{.id = "decay",
                .name = "Decay",
                .min = 0.1f,
                .max = 30.0f,
                .defaultValue = 2.0f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "RT60 below the crossover: the time the tail takes to fall 60 dB"},
               {.id = "damping",
                .name = "Damping",
                .min = 0.05f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "RT60 above the crossover / RT60 below it (1: the same)"},
               {.id = "crossover",
                .name = "Crossover",
                .min = 200.0f,
                .max = 12000.0f,
                .defaultValue = 3000.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "where the decay changes from Decay to Decay x Damping (a first-order shelf)"},
               {.id = "size",
                .name = "Size",
                .min = kFdnMinSize,
                .max = kFdnMaxSize,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Exponential,
                .help = "scales the line lengths (the echo density and the room's apparent size)"},
               {.id = "predelay",
                .name = "Predelay",
                .min = 0.0f,
                .max = kFdnMaxPredelay,
                .defaultValue = 0.01f,
                .unit = "s",
                .curve = ParamCurve::Linear,
                .help = "delay before the reverb starts"},
               {.id = "modulation",
                .name = "Modulation",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.25f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "depth of the slow line-length modulation (1: +-1 ms)"},
               {.id = "mix",
                .name = "Mix",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.33f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "wet level (the dry level is 1 - mix)"}},
    .create = [] { return std::unique_ptr<Module>(new Fdn(kFdn)); },
};
const RegisterModule registerFdn{kFdn};

// ---------------------------------------------------------------------------------------------
// convolver

enum ConvolverInputs { kConvInLeft, kConvInRight };
enum ConvolverOutputs { kConvOutLeft, kConvOutRight };
enum ConvolverParams { kConvMix, kConvPredelay, kConvGain };

constexpr int kGranule = 64;           // the head's length, the smallest partition, the work period
constexpr int kLeaf = 2048;            // the largest FFT run in one piece; larger ones are split
constexpr int kMinFft = 2 * kGranule;  // 128
constexpr int kMaxPartition = 16384;   // FFT 32768
constexpr double kMaxIrSeconds = 30.0;
constexpr float kConvMaxPredelay = 0.5f;
constexpr int kLanes = 2;                             // left and right
constexpr std::size_t kRingSize = 4 * kMaxPartition;  // input history: a frame of the largest level + its slack
constexpr std::size_t kRingGuard = 2 * kGranule;      // mirrored after the ring's end for the head's reads

/// FFTW plans (out of place, r2c and c2r) for the sizes 128 .. kLeaf. Made once, on the thread of
/// the first convolver's constructor (the UI thread, where every other FFTW plan is made), and
/// never changed after: running a plan on new arrays (fftwf_execute_dft_r2c/c2r) is thread-safe,
/// so the worker (loading) and the audio thread share them. Arrays must be 64-byte aligned.
class FftPlans {
public:
    static const FftPlans& get() {
        static const FftPlans plans;
        return plans;
    }
    fftwf_plan forward(int size) const noexcept { return r2c_[index(size)]; }
    fftwf_plan inverse(int size) const noexcept { return c2r_[index(size)]; }

    FftPlans(const FftPlans&) = delete;
    FftPlans& operator=(const FftPlans&) = delete;

private:
    static constexpr int kSizes = 5;  // 128, 256, 512, 1024, 2048
    static int index(int size) noexcept { return std::countr_zero(static_cast<unsigned>(size)) - 7; }

    FftPlans() {
        AlignedFloats time(kLeaf), spectrum(kLeaf + 2);
        auto* complex = reinterpret_cast<fftwf_complex*>(spectrum.data());
        for (int i = 0; i < kSizes; ++i) {
            const int n = kMinFft << i;
            r2c_[i] = fftwf_plan_dft_r2c_1d(n, time.data(), complex, FFTW_ESTIMATE);
            c2r_[i] = fftwf_plan_dft_c2r_1d(n, complex, time.data(), FFTW_ESTIMATE);
        }
    }
    ~FftPlans() {
        for (int i = 0; i < kSizes; ++i) {
            fftwf_destroy_plan(r2c_[i]);
            fftwf_destroy_plan(c2r_[i]);
        }
    }

    std::array<fftwf_plan, kSizes> r2c_{}, c2r_{};
};

constexpr int padded(int floats) noexcept {
    return (floats + 15) / 16 * 16;
}

/// One uniform partitioning: `partitions` blocks of `size` taps from tap `offset`, convolved by
/// overlap-save with FFTs of 2 x size. Sizes above kLeaf / 2 run their FFTs split into 2^q
/// transforms of kLeaf and q radix-2 passes, so that the work can be spread over many blocks.
struct Level {
    /// One step of a level's work for one block, in the order they must run.
    enum class Op : std::uint8_t { Forward, Combine, Multiply, Split, Inverse };
    struct Step {
        Op op;
        std::uint8_t lane;
        std::int16_t depth;  // Combine/Split: the depth of the node made/split
        int node;            // Forward/Inverse: the leaf; Combine/Split: the node; Multiply: first partition
        int end;             // Multiply: end partition
        int k0, k1;          // bins
    };

    int size = 0;        // N
    int fft = 0;         // m = 2 N
    int offset = 0;      // first tap
    int partitions = 0;  // c
    int splits = 0;      // q: the FFT runs as 2^q leaves of fft >> q
    int leaf = 0;        // fft >> splits
    int binStride = 0;   // floats per re or im array of a spectrum (N + 1, padded)
    int slots = 0;       // blocks of kGranule over which the work is spread (N / kGranule)
    std::vector<Step> steps;
    std::vector<double> done;              // done[i]: the cost of steps[0..i)
    std::vector<float> twiddle;            // W_fft^j = exp(-2 pi i j / fft), j = 0 .. fft/4, interleaved
    std::array<AlignedFloats, 2> spectra;  // per IR channel: [partition][re, im][binStride]

    /// Stride of one node's half spectrum (interleaved complex) at `depth`.
    int nodeStride(int depth) const noexcept { return padded(((fft >> depth) / 2 + 1) * 2); }
};

/// The impulse response, partitioned and transformed, at one sample rate. Immutable.
struct Kernel {
    double sampleRate = 0.0;
    int channels = 0;  // 0: no impulse response (silence)
    int length = 0;    // taps
    std::string name;
    std::array<std::array<float, kGranule>, 2> head{};  // taps 0..63, convolved directly
    std::vector<Level> levels;
    int largestFft = 0;
};

/// Per lane and level: the frequency-domain delay line of input spectra, the accumulated output
/// spectrum, and the split FFTs' intermediate spectra.
struct LevelState {
    AlignedFloats fdl;     // [partition][re, im][binStride]
    AlignedFloats y;       // [re, im][binStride]
    AlignedFloats stageA;  // interleaved half spectra of the nodes at even depths
    AlignedFloats stageB;  // ... and at odd depths
};

/// What the audio thread works on, built with the kernel so that its size matches (it holds no
/// data the UI thread reads). Owned by the audio thread while its Convolution is current.
struct ConvolverState {
    std::array<std::vector<LevelState>, kLanes> levels;
    std::array<AlignedFloats, kLanes> acc;  // future output of the FFT levels, by time
    std::size_t accMask = 0;
    AlignedFloats scratch;      // a leaf's time signal, a direct level's spectrum
    AlignedFloats scratch2;     // a direct level's time signal
    std::vector<int> progress;  // per level: steps done for its current block
    std::uint64_t clock = 0;    // frames run since this kernel started
};

struct Convolution {
    Kernel kernel;
    mutable ConvolverState state;  // audio thread only (see ConvolverState)
};

// --- the radix-2 passes of a split real FFT ---------------------------------------------------
//
// Decimation in time for a real sequence x of length S: e = x[2n], o = x[2n + 1], E and O their
// half spectra (S/4 + 1 bins). For k = 0 .. S/4, with t = W_S^k O[k]:
//     X[k] = E[k] + t,   X[S/2 - k] = conj(E[k] - t).
// Inverse (FFTW's unnormalised c2r convention, so the leaves' c2r gives S x):
//     E'[k] = X[k] + conj(X[S/2 - k]),   O'[k] = (X[k] - conj(X[S/2 - k])) conj(W_S^k).
// The node p at depth s holds x[rho(p) + 2^s n]; its children are 2p (even) and 2p + 1 (odd).

/// rho of a leaf: the bit reversal of its index over `bits` bits.
inline int leafResidue(int leaf, int bits) noexcept {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((leaf >> b) & 1) << (bits - 1 - b);
    return r;
}

/// Combines bins [k0, k1) of node p at `depth` (size S) from its children in `from`. `re`/`im`:
/// split output (depth 0), else interleaved into `to`.
inline void combineBins(const Level& level, const float* from, float* to, float* re, float* im, int depth, int p, int k0, int k1) noexcept {
    const int half = (level.fft >> depth) / 2;
    const float* twiddle = level.twiddle.data();
    const float* e = from + static_cast<std::ptrdiff_t>(2 * p) * level.nodeStride(depth + 1);
    const float* o = e + level.nodeStride(depth + 1);
    float* x = to ? to + static_cast<std::ptrdiff_t>(p) * level.nodeStride(depth) : nullptr;
    for (int k = k0; k < k1; ++k) {
        const float wr = twiddle[2 * (k << depth)], wi = twiddle[2 * (k << depth) + 1];
        const float er = e[2 * k], ei = e[2 * k + 1], orr = o[2 * k], oi = o[2 * k + 1];
        const float tr = wr * orr - wi * oi, ti = wr * oi + wi * orr;
        if (x) {
            x[2 * k] = er + tr;
            x[2 * k + 1] = ei + ti;
            x[2 * (half - k)] = er - tr;
            x[2 * (half - k) + 1] = ti - ei;
        } else {
            re[k] = er + tr;
            im[k] = ei + ti;
            re[half - k] = er - tr;
            im[half - k] = ti - ei;
        }
    }
}

/// Splits bins [k0, k1) of node p at `depth` into its children in `to`; the node is read from
/// `from` (interleaved) or from `re`/`im` (split, depth 0).
inline void splitBins(const Level& level, const float* from, const float* re, const float* im, float* to, int depth, int p, int k0,
                      int k1) noexcept {
    const int half = (level.fft >> depth) / 2;
    const float* twiddle = level.twiddle.data();
    const float* x = from ? from + static_cast<std::ptrdiff_t>(p) * level.nodeStride(depth) : nullptr;
    float* e = to + static_cast<std::ptrdiff_t>(2 * p) * level.nodeStride(depth + 1);
    float* o = e + level.nodeStride(depth + 1);
    for (int k = k0; k < k1; ++k) {
        float ar, ai, br, bi;  // a = X[k], b = conj(X[half - k])
        if (x) {
            ar = x[2 * k], ai = x[2 * k + 1], br = x[2 * (half - k)], bi = -x[2 * (half - k) + 1];
        } else {
            ar = re[k], ai = im[k], br = re[half - k], bi = -im[half - k];
        }
        const float wr = twiddle[2 * (k << depth)], wi = -twiddle[2 * (k << depth) + 1];  // conj(W)
        const float dr = ar - br, di = ai - bi;
        e[2 * k] = ar + br;
        e[2 * k + 1] = ai + bi;
        o[2 * k] = dr * wr - di * wi;
        o[2 * k + 1] = dr * wi + di * wr;
    }
}

/// The whole forward transform of `time` (level.fft floats) into split re/im, at once (loading).
void forwardNow(const Level& level, const float* time, float* re, float* im, AlignedFloats& stageA, AlignedFloats& stageB,
                AlignedFloats& scratch) {
    const FftPlans& plans = FftPlans::get();
    const int q = level.splits;
    if (q == 0) {
        fftwf_execute_dft_r2c(plans.forward(level.fft), const_cast<float*>(time), reinterpret_cast<fftwf_complex*>(scratch.data()));
        for (int k = 0; k <= level.size; ++k) {
            re[k] = scratch[static_cast<std::size_t>(2 * k)];
            im[k] = scratch[static_cast<std::size_t>(2 * k + 1)];
        }
        return;
    }
    float* stages[2] = {stageA.data(), stageB.data()};
    for (int r = 0; r < (1 << q); ++r) {
        const int rho = leafResidue(r, q);
        for (int n = 0; n < level.leaf; ++n) scratch[static_cast<std::size_t>(n)] = time[rho + (n << q)];
        fftwf_execute_dft_r2c(plans.forward(level.leaf), scratch.data(),
                              reinterpret_cast<fftwf_complex*>(stages[q & 1] + static_cast<std::ptrdiff_t>(r) * level.nodeStride(q)));
    }
    for (int depth = q - 1; depth >= 0; --depth)
        for (int p = 0; p < (1 << depth); ++p)
            combineBins(level, stages[(depth + 1) & 1], depth ? stages[depth & 1] : nullptr, re, im, depth, p, 0,
                        (level.fft >> depth) / 4 + 1);
}

// --- building a kernel (worker thread) ---------------------------------------------------------

/// The levels for `length` taps: the head (taps 0..63) is direct; then 3 partitions of 64, and from
/// there each size doubles, twice each (a partition of N starts at tap >= 2N, so its work can be
/// spread over the N frames after its input is complete), up to the largest size, whose partitions
/// cover the rest. The largest size grows with the response (at least 6 of its partitions) up to
/// 16384.
std::vector<Level> layout(int length) {
    std::vector<Level> levels;
    if (length <= kGranule) return levels;
    int largest = kGranule;
    while (largest < kMaxPartition && 8 * (2 * largest) <= length) largest *= 2;
    int start = kGranule;
    for (int n = kGranule; start < length; n *= 2) {
        const int end = n == largest ? length : std::min(length, 4 * n);
        Level l;
        l.size = n;
        l.fft = 2 * n;
        l.offset = start;
        l.partitions = (end - start + n - 1) / n;
        l.splits = 0;
        while ((l.fft >> l.splits) > kLeaf) ++l.splits;
        l.leaf = l.fft >> l.splits;
        l.binStride = padded(n + 1);
        l.slots = n / kGranule;
        levels.push_back(std::move(l));
        start = 4 * n;
        if (n == largest) break;
    }
    return levels;
}

/// The steps of one block of a level, for both lanes, with their estimated costs (in ns on the
/// machine this was tuned on; only their proportions matter): spread evenly over the level's slots.
void planSteps(Level& l) {
    using Op = Level::Op;
    auto fftCost = [](int n) { return 0.06 * n * std::log2(static_cast<double>(n)) + 0.5 * n; };
    std::vector<std::pair<Level::Step, double>> s;
    const int q = l.splits;
    const int piece = 512;  // bins per combine/split step
    for (int lane = 0; lane < kLanes; ++lane) {
        const auto ln = static_cast<std::uint8_t>(lane);
        for (int r = 0; r < (1 << q); ++r) s.push_back({{Op::Forward, ln, 0, r, 0, 0, 0}, fftCost(l.leaf)});
        for (int depth = q - 1; depth >= 0; --depth) {
            const int bins = (l.fft >> depth) / 4 + 1;
            for (int p = 0; p < (1 << depth); ++p)
                for (int k = 0; k < bins; k += piece)
                    s.push_back({{Op::Combine, ln, static_cast<std::int16_t>(depth), p, 0, k, std::min(bins, k + piece)},
                                 3.0 * std::min(piece, bins - k)});
        }
        // Multiply-accumulate: pieces of about 8192 complex products.
        const int bins = l.size + 1;
        const int binPiece = std::min(bins, 2048);
        const int partPiece = std::max(1, 8192 / binPiece);
        for (int k = 0; k < bins; k += binPiece)
            for (int j = 0; j < l.partitions; j += partPiece) {
                const int jEnd = std::min(l.partitions, j + partPiece);
                const int kEnd = std::min(bins, k + binPiece);
                s.push_back({{Op::Multiply, ln, 0, j, jEnd, k, kEnd}, 0.6 * (jEnd - j) * (kEnd - k)});
            }
        for (int depth = 0; depth < q; ++depth) {
            const int nodeBins = (l.fft >> depth) / 4 + 1;
            for (int p = 0; p < (1 << depth); ++p)
                for (int k = 0; k < nodeBins; k += piece)
                    s.push_back({{Op::Split, ln, static_cast<std::int16_t>(depth), p, 0, k, std::min(nodeBins, k + piece)},
                                 3.0 * std::min(piece, nodeBins - k)});
        }
        for (int r = 0; r < (1 << q); ++r) s.push_back({{Op::Inverse, ln, 0, r, 0, 0, 0}, fftCost(l.leaf)});
    }
    l.steps.clear();
    l.done.assign(1, 0.0);
    for (const auto& [step, cost] : s) {
        l.steps.push_back(step);
        l.done.push_back(l.done.back() + cost);
    }
}

/// Reads, converts and partitions an impulse response file (worker thread). Throws
/// std::runtime_error with the message the user sees.
std::unique_ptr<Convolution> loadConvolution(const std::filesystem::path& path, bool normalize, double sampleRate) {
    const std::string name = path.filename().string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw std::runtime_error(name + ": no such file");
    // core/io/sound_file.hpp checks the file (rate, length, truncation, NaN/Inf samples).
    SoundReadLimits limits;
    limits.maxChannels = 2;
    limits.keepChannels = 2;
    limits.maxSeconds = kMaxIrSeconds;
    limits.tooLong = "longer than " + std::to_string(static_cast<int>(kMaxIrSeconds)) + " s";
    limits.nonFinite = NonFiniteSamples::Reject;
    const DecodedSound sound = readSound(path, name, limits);
    const int channels = static_cast<int>(sound.channels.size());
    const std::int64_t got = sound.frames();
    std::vector<float> interleaved(static_cast<std::size_t>(got) * static_cast<std::size_t>(channels));
    for (int c = 0; c < channels; ++c)
        for (std::int64_t i = 0; i < got; ++i)
            interleaved[static_cast<std::size_t>(i * channels + c)] =
                sound.channels[static_cast<std::size_t>(c)][static_cast<std::size_t>(i)];

    // To the engine's rate.
    if (sound.sampleRate != static_cast<int>(std::lround(sampleRate))) {
        const double ratio = sampleRate / sound.sampleRate;
        std::vector<float> converted(static_cast<std::size_t>(std::ceil(static_cast<double>(got) * ratio) + 64) *
                                     static_cast<std::size_t>(channels));
        SRC_DATA data{};
        data.data_in = interleaved.data();
        data.input_frames = static_cast<long>(got);
        data.data_out = converted.data();
        data.output_frames = static_cast<long>(converted.size() / static_cast<std::size_t>(channels));
        data.src_ratio = ratio;
        data.end_of_input = 1;
        const int error = src_simple(&data, SRC_SINC_BEST_QUALITY, channels);
        if (error) throw std::runtime_error(name + ": sample-rate conversion failed (libsamplerate: " + src_strerror(error) + ")");
        converted.resize(static_cast<std::size_t>(data.output_frames_gen) * static_cast<std::size_t>(channels));
        interleaved = std::move(converted);
    }
    const int frames = static_cast<int>(interleaved.size() / static_cast<std::size_t>(channels));

    // Trailing silence costs time and adds nothing: cut below -140 dB of the peak.
    float peak = 0.0f;
    for (float v : interleaved) peak = std::max(peak, std::fabs(v));
    if (peak == 0.0f) throw std::runtime_error(name + ": the impulse response is silent");
    int length = frames;
    while (length > 1) {
        bool quiet = true;
        for (int c = 0; c < channels; ++c)
            quiet = quiet && std::fabs(interleaved[static_cast<std::size_t>((length - 1) * channels + c)]) < peak * 1e-7f;
        if (!quiet) break;
        --length;
    }
    std::array<std::vector<float>, 2> h;
    double energy = 0.0;
    for (int c = 0; c < channels; ++c) {
        h[c].assign(static_cast<std::size_t>(length), 0.0f);
        double e = 0.0;
        for (int n = 0; n < length; ++n) {
            const float v = interleaved[static_cast<std::size_t>(n * channels + c)];
            h[c][static_cast<std::size_t>(n)] = v;
            e += static_cast<double>(v) * v;
        }
        energy = std::max(energy, e);
    }
    // Normalised: the louder channel has unit energy (white noise in gives its own level out).
    if (normalize) {
        const auto scale = static_cast<float>(1.0 / std::sqrt(energy));
        for (int c = 0; c < channels; ++c)
            for (float& v : h[c]) v *= scale;
    }

    auto conv = std::make_unique<Convolution>();
    Kernel& k = conv->kernel;
    k.sampleRate = sampleRate;
    k.channels = channels;
    k.length = length;
    k.name = name;
    for (int c = 0; c < 2; ++c)
        for (int n = 0; n < kGranule && n < length; ++n) k.head[c][n] = h[std::min(c, channels - 1)][static_cast<std::size_t>(n)];
    k.levels = layout(length);
    k.largestFft = k.levels.empty() ? kMinFft : k.levels.back().fft;

    // Partition spectra, and the audio thread's state sized to match.
    ConvolverState& st = conv->state;
    st.scratch = AlignedFloats(static_cast<std::size_t>(k.largestFft + 64));
    st.scratch2 = AlignedFloats(static_cast<std::size_t>(k.largestFft + 64));
    std::size_t accSize = 1;
    while (accSize < static_cast<std::size_t>(4 * k.largestFft)) accSize *= 2;
    st.accMask = accSize - 1;
    for (int lane = 0; lane < kLanes; ++lane) st.acc[lane] = AlignedFloats(accSize);
    st.progress.assign(k.levels.size(), 0);
    AlignedFloats frame(static_cast<std::size_t>(k.largestFft));
    for (std::size_t li = 0; li < k.levels.size(); ++li) {
        Level& l = k.levels[li];
        l.twiddle.resize(static_cast<std::size_t>(2 * (l.fft / 4 + 1)));
        for (int j = 0; j <= l.fft / 4; ++j) {
            const double a = -2.0 * std::numbers::pi * j / l.fft;
            l.twiddle[static_cast<std::size_t>(2 * j)] = static_cast<float>(std::cos(a));
            l.twiddle[static_cast<std::size_t>(2 * j + 1)] = static_cast<float>(std::sin(a));
        }
        const std::size_t stage = static_cast<std::size_t>(l.fft + 32 * (1 << l.splits) + 64);
        for (int lane = 0; lane < kLanes; ++lane) {
            LevelState s;
            s.fdl = AlignedFloats(static_cast<std::size_t>(l.partitions) * 2 * static_cast<std::size_t>(l.binStride));
            s.y = AlignedFloats(2 * static_cast<std::size_t>(l.binStride));
            s.stageA = AlignedFloats(stage);
            s.stageB = AlignedFloats(stage);
            st.levels[lane].push_back(std::move(s));
        }
        for (int c = 0; c < channels; ++c) {
            l.spectra[c] = AlignedFloats(static_cast<std::size_t>(l.partitions) * 2 * static_cast<std::size_t>(l.binStride));
            for (int j = 0; j < l.partitions; ++j) {
                std::fill_n(frame.data(), l.fft, 0.0f);
                const int from = l.offset + j * l.size;
                for (int n = 0; n < l.size && from + n < length; ++n)
                    frame[static_cast<std::size_t>(n)] = h[c][static_cast<std::size_t>(from + n)];
                float* re = l.spectra[c].data() + static_cast<std::ptrdiff_t>(2 * j) * l.binStride;
                forwardNow(l, frame.data(), re, re + l.binStride, st.levels[0][li].stageA, st.levels[0][li].stageB, st.scratch);
            }
        }
        planSteps(l);
    }
    return conv;
}

// --- the module ---------------------------------------------------------------------------------

class Convolver final : public Module {
public:
    explicit Convolver(const ModuleDescriptor& descriptor) : Module(descriptor) {
        FftPlans::get();  // plans are made here, on the UI thread, before any load needs them
    }

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        mix_.prepare(sampleRate);
        gain_.prepare(sampleRate);
        fadeStep_ = static_cast<float>(1.0 / (0.02 * sampleRate));  // 20 ms
        for (auto& r : ring_) r = AlignedFloats(kRingSize + kRingGuard);
        preSize_ = 1;
        while (static_cast<double>(preSize_) < kConvMaxPredelay * sampleRate + 2 * kGranule) preSize_ *= 2;
        for (auto& p : pre_) p = AlignedFloats(preSize_ + kGranule);
        for (auto& b : in_) b = AlignedFloats(static_cast<std::size_t>(maxFrames));
        for (auto& b : x_) b = AlignedFloats(static_cast<std::size_t>(maxFrames));
        for (auto& b : wet_) b = AlignedFloats(static_cast<std::size_t>(maxFrames));
        reset();
        // An impulse response converted for another rate is converted again.
        const Convolution* latest = load_.latest();
        if (!path_.empty() && latest && latest->kernel.channels > 0 && latest->kernel.sampleRate != sampleRate) request();
    }

    void reset() noexcept override {
        for (auto& r : ring_) std::fill_n(r.data(), r.size(), 0.0f);
        for (auto& p : pre_) std::fill_n(p.data(), p.size(), 0.0f);
        now_ = 0;
        phase_ = 0;
        preWrite_ = 0;
        predelay_ = -1;
        kernelStart_ = 0;
        fade_ = 1.0f;
        fadeTarget_ = 1.0f;
        if (current_) clearState(current_->state);
    }

    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        if (state.is_null()) {
            path_.clear();
            load_.clear();
            expecting_ = true;
            noticeValues();
            return;
        }
        if (!state.is_object()) throw std::invalid_argument("convolver state must be an object like {\"file\": \"hall.wav\"}");
        std::filesystem::path path;
        bool normalize = true;
        for (const auto& [key, value] : state.items()) {
            if (key == "file") {
                if (!value.is_string() || value.get<std::string>().empty())
                    throw std::invalid_argument("convolver state: \"file\" must be a file name (a non-empty string)");
                path = value.get<std::string>();
            } else if (key == "normalize") {
                if (!value.is_boolean()) throw std::invalid_argument("convolver state: \"normalize\" must be true or false");
                normalize = value.get<bool>();
            } else {
                throw std::invalid_argument("convolver state: unknown key \"" + key + "\" (expected \"file\" and \"normalize\")");
            }
        }
        if (path.empty()) throw std::invalid_argument("convolver state: \"file\" is missing");
        path_ = context.resolve(path);
        normalize_ = normalize;
        worker_ = context.worker;
        request();
    }

    void idle() override {
        load_.collect();
        noticeValues();
    }

    std::string status() const override { return load_.error(); }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;
        const int frames = ctx.frames;
        const Ramp mix = mix_.next(param(kConvMix), frames);
        const Ramp gainDb = gain_.next(param(kConvGain), frames);
        const float g0 = std::pow(10.0f, gainDb.start * 0.05f), g1 = std::pow(10.0f, gainDb.end(frames) * 0.05f);
        const Ramp gain{g0, (g1 - g0) / static_cast<float>(frames)};

        // Lanes: the summed channels of each input (Right unpatched: Left).
        sumChannels(ctx.in[kConvInLeft], frames, in_[0].data());
        if (ctx.in[kConvInRight].connected)
            sumChannels(ctx.in[kConvInRight], frames, in_[1].data());
        else
            std::copy_n(in_[0].data(), frames, in_[1].data());
        runPredelay(frames);

        for (int pos = 0; pos < frames;) {
            if (phase_ == 0) maybeSwitch();
            const int n = std::min(frames - pos, kGranule - phase_);
            const auto at = static_cast<std::size_t>(now_ & (kRingSize - 1));
            for (int lane = 0; lane < kLanes; ++lane)
                storeMirrored(ring_[lane].data(), kRingSize, at, x_[lane].data() + pos, n, kRingGuard);
            const Convolution* conv = active();
            if (conv) {
                for (int lane = 0; lane < kLanes; ++lane) convolveHead(*conv, lane, pos, n);
                applyFade(pos, n);
            } else {
                for (int lane = 0; lane < kLanes; ++lane) std::fill_n(wet_[lane].data() + pos, n, 0.0f);
            }
            now_ += static_cast<std::uint64_t>(n);
            phase_ += n;
            pos += n;
            if (phase_ == kGranule) {
                phase_ = 0;
                if (conv) runLevels(*conv);
            }
        }

        float* outs[2] = {ctx.out[kConvOutLeft].channel(0), ctx.out[kConvOutRight].channel(0)};
        for (int lane = 0; lane < kLanes; ++lane) {
            const float* __restrict x = in_[lane].data();
            const float* __restrict w = wet_[lane].data();
            float* __restrict y = outs[lane];
            for (int k = 0; k < frames; ++k) {
                const float m = mix.at(k);
                y[k] = (1.0f - m) * x[k] + m * gain.at(k) * w[k];
            }
        }
    }

private:
    void request() {
        const std::filesystem::path path = path_;
        const bool normalize = normalize_;
        const double rate = sampleRate();
        load_.request(worker_, [path, normalize, rate] { return loadConvolution(path, normalize, rate); });
        expecting_ = true;
        noticeValues();
    }

    /// UI thread: tells the audio thread when a new value has been published.
    void noticeValues() {
        bool fresh = false;
        if (expecting_ && !load_.pending()) {
            expecting_ = false;
            fresh = load_.error().empty();
        }
        if (load_.latest() != seen_) {
            seen_ = load_.latest();
            fresh = true;
        }
        if (fresh) generation_.fetch_add(1, std::memory_order_release);
    }

    /// Audio thread: the convolution to run, or nullptr (none, or made for another rate).
    const Convolution* active() const noexcept {
        if (!current_ || current_->kernel.channels == 0 || current_->kernel.sampleRate != sampleRate()) return nullptr;
        return current_;
    }

    /// Audio thread, at a granule boundary: takes a new value once the old one has faded out
    /// (the old one stays valid until get() hands it back).
    void maybeSwitch() noexcept {
        const std::uint32_t generation = generation_.load(std::memory_order_acquire);
        if (generation == taken_) return;
        const bool wasPlaying = active() != nullptr;
        if (wasPlaying && fade_ > 0.0f) {
            fadeTarget_ = 0.0f;
            return;
        }
        taken_ = generation;
        current_ = load_.get();
        kernelStart_ = now_;
        if (current_) clearState(current_->state);
        fadeTarget_ = 1.0f;
        fade_ = (wasPlaying || now_ != 0) ? 0.0f : 1.0f;  // fade in, except on a fresh start
    }

    void applyFade(int pos, int n) noexcept {
        if (fade_ == fadeTarget_ && fade_ == 1.0f) return;
        for (int lane = 0; lane < kLanes; ++lane) {
            float f = fade_;
            float* w = wet_[lane].data() + pos;
            for (int k = 0; k < n; ++k) {
                f = fadeTarget_ > f ? std::min(fadeTarget_, f + fadeStep_) : std::max(fadeTarget_, f - fadeStep_);
                w[k] *= f;
            }
            if (lane == kLanes - 1) fade_ = f;
        }
    }

    static void clearState(ConvolverState& st) noexcept {
        for (auto& lane : st.levels)
            for (LevelState& l : lane) {
                std::fill_n(l.fdl.data(), l.fdl.size(), 0.0f);
                std::fill_n(l.y.data(), l.y.size(), 0.0f);
            }
        for (auto& a : st.acc) std::fill_n(a.data(), a.size(), 0.0f);
        std::fill(st.progress.begin(), st.progress.end(), 0);
        st.clock = 0;
    }

    /// The predelay (whole frames; a change crossfades over the block) from in_ into x_.
    void runPredelay(int frames) noexcept {
        const int target =
            static_cast<int>(std::lround(std::clamp(param(kConvPredelay), 0.0f, kConvMaxPredelay) * static_cast<float>(sampleRate())));
        const int from = predelay_ < 0 ? target : predelay_;
        predelay_ = target;
        const std::size_t mask = preSize_ - 1;
        for (int start = 0; start < frames; start += kGranule) {
            const int n = std::min(kGranule, frames - start);
            for (int lane = 0; lane < kLanes; ++lane) {
                float* line = pre_[lane].data();
                storeMirrored(line, preSize_, preWrite_, in_[lane].data() + start, n, kGranule);
                const float* a = line + ((preWrite_ - static_cast<std::size_t>(target)) & mask);
                float* x = x_[lane].data() + start;
                if (from == target) {
                    std::copy_n(a, n, x);
                } else {
                    const float* b = line + ((preWrite_ - static_cast<std::size_t>(from)) & mask);
                    const float step = 1.0f / static_cast<float>(frames);
                    for (int k = 0; k < n; ++k) {
                        const float f = static_cast<float>(start + k + 1) * step;
                        x[k] = b[k] + f * (a[k] - b[k]);
                    }
                }
            }
            preWrite_ = (preWrite_ + static_cast<std::size_t>(n)) & mask;
        }
    }

    /// wet = the head (taps 0..63, direct, so no latency) + what the FFT levels have added for
    /// these frames (then cleared for reuse).
    void convolveHead(const Convolution& conv, int lane, int pos, int n) noexcept {
        const Kernel& k = conv.kernel;
        const float* h = k.head[static_cast<std::size_t>(std::min(lane, k.channels - 1))].data();
        const float* x = ring_[lane].data() + ((now_ - (kGranule - 1)) & (kRingSize - 1));  // x[kGranule - 1 + i] is frame i
        float* __restrict w = wet_[lane].data() + pos;
        ConvolverState& st = conv.state;
        float* acc = st.acc[lane].data();
        const std::uint64_t t0 = st.clock + static_cast<std::uint64_t>(phase_);
        for (int i = 0; i < n; ++i) {
            const std::size_t j = (t0 + static_cast<std::uint64_t>(i)) & st.accMask;
            w[i] = acc[j];
            acc[j] = 0.0f;
        }
        // 16 outputs at a time with their sums in registers through all 64 taps, as four chains
        // (one chain waits on each fused multiply-add; a loop that stored w after every tap ran 4x
        // slower still: its stores alias the ring's loads modulo 4 KB).
        using Float16 = float __attribute__((vector_size(64)));
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            Float16 a[4] = {};
            std::memcpy(&a[0], w + i, sizeof a[0]);
            for (int m = 0; m < kGranule; m += 4) {
#pragma GCC unroll 4
                for (int r = 0; r < 4; ++r) {
                    Float16 xs;
                    std::memcpy(&xs, x + (kGranule - 1 - m - r) + i, sizeof xs);
                    a[r] += h[m + r] * xs;
                }
            }
            const Float16 sum = (a[0] + a[1]) + (a[2] + a[3]);
            std::memcpy(w + i, &sum, sizeof sum);
        }
        for (; i < n; ++i) {
            float a = w[i];
            for (int m = 0; m < kGranule; ++m) a = dsp::mulAdd(h[m], x[kGranule - 1 - m + i], a);
            w[i] = a;
        }
    }

    /// At the end of each granule: the share of every level's work that is due.
    void runLevels(const Convolution& conv) noexcept {
        ConvolverState& st = conv.state;
        st.clock += kGranule;
        const Kernel& k = conv.kernel;
        for (std::size_t li = 0; li < k.levels.size(); ++li) {
            const Level& l = k.levels[li];
            const auto size = static_cast<std::uint64_t>(l.size);
            if (st.clock < size) continue;
            const auto inBlock = static_cast<int>(st.clock % size);
            const int slot = inBlock / kGranule;
            const std::int64_t block = static_cast<std::int64_t>(st.clock / size) - 1;  // the block whose input is complete
            int& next = st.progress[li];
            if (slot == 0) next = 0;
            const double goal = slot + 1 == l.slots ? l.done.back() : l.done.back() * (slot + 1) / l.slots;
            const int count = static_cast<int>(l.steps.size());
            while (next < count && (slot + 1 == l.slots || 0.5 * (l.done[next] + l.done[next + 1]) <= goal)) {
                runStep(conv, li, l.steps[static_cast<std::size_t>(next)], block);
                ++next;
            }
        }
    }

    void runStep(const Convolution& conv, std::size_t li, const Level::Step& step, std::int64_t block) noexcept {
        const Kernel& k = conv.kernel;
        const Level& l = k.levels[li];
        ConvolverState& st = conv.state;
        LevelState& ls = st.levels[step.lane][li];
        const FftPlans& plans = FftPlans::get();
        const int q = l.splits;
        const std::ptrdiff_t bs = l.binStride;
        float* stages[2] = {ls.stageA.data(), ls.stageB.data()};
        float* slot = ls.fdl.data() + 2 * bs * static_cast<std::ptrdiff_t>(block % l.partitions);
        // The frame: kernel times [(block - 1) N, (block + 1) N) in the input ring.
        const std::uint64_t frameStart = kernelStart_ + static_cast<std::uint64_t>((block - 1) * l.size);
        const float* ring = ring_[step.lane].data();
        constexpr std::size_t ringMask = kRingSize - 1;
        // Output: frame position p >= N is kernel time (block - 1) N + offset + p.
        const std::uint64_t outStart = static_cast<std::uint64_t>((block - 1) * l.size + l.offset);
        float* acc = st.acc[step.lane].data();
        const float scale = 1.0f / static_cast<float>(l.fft);
        float* time = st.scratch2.data();
        switch (step.op) {
            case Level::Op::Forward: {
                if (q == 0) {
                    const std::size_t s = frameStart & ringMask;
                    const int first = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(l.fft), kRingSize - s));
                    std::copy_n(ring + s, first, time);
                    std::copy_n(ring, l.fft - first, time + first);
                    float* spectrum = st.scratch.data();
                    fftwf_execute_dft_r2c(plans.forward(l.fft), time, reinterpret_cast<fftwf_complex*>(spectrum));
                    for (int b = 0; b <= l.size; ++b) {
                        slot[b] = spectrum[2 * b];
                        slot[bs + b] = spectrum[2 * b + 1];
                    }
                } else {
                    const std::uint64_t base = frameStart + static_cast<std::uint64_t>(leafResidue(step.node, q));
                    for (int n = 0; n < l.leaf; ++n) time[n] = ring[(base + (static_cast<std::uint64_t>(n) << q)) & ringMask];
                    fftwf_execute_dft_r2c(plans.forward(l.leaf), time,
                                          reinterpret_cast<fftwf_complex*>(stages[q & 1] + step.node * l.nodeStride(q)));
                }
                break;
            }
            case Level::Op::Combine:
                combineBins(l, stages[(step.depth + 1) & 1], step.depth ? stages[step.depth & 1] : nullptr, slot, slot + bs, step.depth,
                            step.node, step.k0, step.k1);
                break;
            case Level::Op::Multiply: {
                // Y += X_(block - j) H_j over the step's partitions, 16 bins at a time with the
                // sums in registers (the loads of X and H are the whole cost: memory-bound).
                const AlignedFloats& spectra = l.spectra[static_cast<std::size_t>(std::min<int>(step.lane, k.channels - 1))];
                constexpr int kMaxParts = 128;
                const float* xs[kMaxParts];
                const float* hs[kMaxParts];
                const int parts = std::min(step.end - step.node, kMaxParts);
                for (int j = 0; j < parts; ++j) {
                    const std::int64_t b = ((block - (step.node + j)) % l.partitions + l.partitions) % l.partitions;
                    xs[j] = ls.fdl.data() + 2 * bs * b;
                    hs[j] = spectra.data() + 2 * bs * (step.node + j);
                }
                float* yr = ls.y.data();
                float* yi = yr + bs;
                const int end = std::min(l.binStride, (step.k1 + 15) / 16 * 16);  // the padding bins are zeros
                for (int i = step.k0; i < end; i += 16) {
                    float ar[16], ai[16];
                    for (int t = 0; t < 16; ++t) ar[t] = yr[i + t], ai[t] = yi[i + t];
                    for (int j = 0; j < parts; ++j) {
                        const float* __restrict xr = xs[j] + i;
                        const float* __restrict xi = xr + bs;
                        const float* __restrict hr = hs[j] + i;
                        const float* __restrict hi = hr + bs;
                        for (int t = 0; t < 16; ++t) {
                            ar[t] += xr[t] * hr[t] - xi[t] * hi[t];
                            ai[t] += xr[t] * hi[t] + xi[t] * hr[t];
                        }
                    }
                    for (int t = 0; t < 16; ++t) yr[i + t] = ar[t], yi[i + t] = ai[t];
                }
                break;
            }
            case Level::Op::Split: {
                float* yr = ls.y.data();
                float* yi = yr + bs;
                splitBins(l, step.depth ? stages[step.depth & 1] : nullptr, yr, yi, stages[(step.depth + 1) & 1], step.depth, step.node,
                          step.k0, step.k1);
                if (step.depth == 0) {  // consumed: clear for the next block
                    const int half = l.fft / 2;
                    for (int i = step.k0; i < step.k1; ++i) yr[i] = yi[i] = yr[half - i] = yi[half - i] = 0.0f;
                }
                break;
            }
            case Level::Op::Inverse: {
                if (q == 0) {
                    float* spectrum = st.scratch.data();
                    float* yr = ls.y.data();
                    float* yi = yr + bs;
                    for (int b = 0; b <= l.size; ++b) {
                        spectrum[2 * b] = yr[b];
                        spectrum[2 * b + 1] = yi[b];
                        yr[b] = yi[b] = 0.0f;
                    }
                    fftwf_execute_dft_c2r(plans.inverse(l.fft), reinterpret_cast<fftwf_complex*>(spectrum), time);
                    const std::uint64_t t = outStart + static_cast<std::uint64_t>(l.size);
                    for (int p = 0; p < l.size; ++p) acc[(t + static_cast<std::uint64_t>(p)) & st.accMask] += time[l.size + p] * scale;
                } else {
                    fftwf_execute_dft_c2r(plans.inverse(l.leaf),
                                          reinterpret_cast<fftwf_complex*>(stages[q & 1] + step.node * l.nodeStride(q)), time);
                    const std::uint64_t t = outStart + static_cast<std::uint64_t>(leafResidue(step.node, q));
                    for (int n = l.leaf / 2; n < l.leaf; ++n)
                        acc[(t + (static_cast<std::uint64_t>(n) << q)) & st.accMask] += time[n] * scale;
                }
                break;
            }
        }
    }

    /// dst = the sum of every channel of `port`.
    static void sumChannels(const InputPort& port, int frames, float* dst) noexcept {
        if (!port.connected) {
            std::fill_n(dst, frames, port.constant);
            return;
        }
        std::copy_n(port.channel(0), frames, dst);
        for (int c = 1; c < port.channels; ++c) {
            const float* src = port.channel(c);
            for (int i = 0; i < frames; ++i) dst[i] += src[i];
        }
    }

    ParamSmoother mix_, gain_;
    AsyncLoad<Convolution> load_;
    // UI thread
    std::filesystem::path path_;
    bool normalize_ = true;
    Worker* worker_ = nullptr;
    bool expecting_ = false;
    const Convolution* seen_ = nullptr;
    std::atomic<std::uint32_t> generation_{0};
    // Audio thread
    std::uint32_t taken_ = 0;
    const Convolution* current_ = nullptr;
    std::array<AlignedFloats, kLanes> ring_, pre_, in_, x_, wet_;
    std::size_t preSize_ = 0, preWrite_ = 0;
    int predelay_ = -1;
    std::uint64_t now_ = 0;          // frames since the last reset
    std::uint64_t kernelStart_ = 0;  // now_ when the current kernel started
    int phase_ = 0;                  // frames into the current granule
    float fade_ = 1.0f, fadeTarget_ = 1.0f, fadeStep_ = 0.0f;
};

const ModuleDescriptor kConvolver{
    .id = "convolver",
    .name = "Convolution Reverb",
    .category = "Effects",
    .help =
        "Convolves the input with an impulse response recorded in a real space (or any sound): set the "
        "file in the module's state, {\"file\": \"stairwell.wav\", \"normalize\": true} (WAV, FLAC, AIFF, OGG; "
        "up to 30 s; converted to the engine's rate). A mono response is used on both sides; a stereo one "
        "convolves Left with its left channel and Right with its right. Normalize scales the louder channel "
        "to unit energy, so noise comes out at its own level. No latency: the first 64 taps are convolved "
        "directly, the rest by FFT in partitions that double in size (64 .. 16384), each one's work spread "
        "evenly over the blocks. Mix: wet = mix, dry = 1 - mix; Gain scales the wet; Predelay delays it. "
        "A file that cannot be used is reported and the previous response keeps playing; a new one fades "
        "in over 20 ms. Patch only Left for a mono source; polyphonic inputs are summed.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left input (both, when Right is unpatched)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right input"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left output"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right output"}},
    .params = {{.id = "mix",
                .name = "Mix",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.33f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "wet level (the dry level is 1 - mix)"},
               {.id = "predelay",
                .name = "Predelay",
                .min = 0.0f,
                .max = kConvMaxPredelay,
                .defaultValue = 0.0f,
                .unit = "s",
                .curve = ParamCurve::Linear,
                .help = "delay before the response starts"},
               {.id = "gain",
                .name = "Gain",
                .min = -24.0f,
                .max = 24.0f,
                .defaultValue = 0.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "level of the wet signal"}},
    .create = [] { return std::unique_ptr<Module>(new Convolver(kConvolver)); },
};
const RegisterModule registerConvolver{kConvolver};

}  // namespace
}  // namespace kabel
