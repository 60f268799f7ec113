// Delays: a feedback delay.
//
// Design note (delay). Each channel owns a line of a power-of-two size (>= 10 s + a margin)
// followed by a mirror of its first kGuard samples, so the four taps of a Hermite read are always
// contiguous and a whole chunk reads without a mask. Per channel and block:
//   * settled (the time neither glides nor is modulated, D >= the chunk): a vectorised pass reads
//     the chunk at a constant offset (one tap for integer D, so integer delays are sample-exact)
//     and writes x + feedback * d back;
//   * otherwise a per-sample pass moves the delay toward its target with a 2 ms one-pole (the
//     time param has already glided over ~50 ms), so time changes sound like tape: the pitch bends,
//     nothing steps. D may be shorter than a block there.
// Lines are allocated on the UI thread in prepareChannels() and never freed or moved while the
// module lives (a running plan may still use them). Instead of clearing a line on the audio thread
// (megabytes), reset() and a channel that comes back into use set the channel's count of samples
// written since to 0, and reads older than that count read silence.
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
// delay

enum DelayInputs { kDelayIn, kDelayTimeIn };
enum DelayOutputs { kDelayOut };
enum DelayParams { kDelayTime, kDelayFeedback, kDelayDry, kDelayWet };

constexpr float kMinDelayTime = 0.001f;
constexpr float kMaxDelayTime = 10.0f;
constexpr int kGuard = kChunk + 8;        // mirrored samples after a line's end
constexpr double kMinDelaySamples = 2.0;  // the newest Hermite tap is one sample newer than D

/// 4-point, 3rd-order Hermite (Catmull-Rom) between y0 (t = 0) and y1 (t = 1); ym1 and y2 are
/// the outer neighbours. t = 0 returns y0 exactly.
inline float hermite(float ym1, float y0, float y1, float y2, float t) noexcept {
    const float c1 = 0.5f * (y1 - ym1);
    const float c2 = ym1 - 2.5f * y0 + 2.0f * y1 - 0.5f * y2;
    const float c3 = 0.5f * (y2 - ym1) + 1.5f * (y0 - y1);
    return ((c3 * t + c2) * t + c1) * t + y0;
}

class Delay final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        time_.prepare(sampleRate, 50.0f);  // tape-like glide of the time knob
        feedback_.prepare(sampleRate);
        dry_.prepare(sampleRate);
        wet_.prepare(sampleRate);
        glide_ = 1.0 - std::exp(-1.0 / (0.002 * sampleRate));
        fs_ = sampleRate;
        const double needed = std::ceil(kMaxDelayTime * sampleRate) + 2 * kChunk + 8;
        std::size_t size = 1;
        while (static_cast<double>(size) < needed) size *= 2;
        if (size != size_) {
            // Not in any plan now (prepare's contract), so existing lines may be replaced.
            size_ = size;
            mask_ = size - 1;
            for (int c = 0; c < kMaxChannels; ++c)
                if (storage_[c].data()) allocateLine(c);
        }
        reset();
    }

    void prepareChannels(std::span<const int>, std::span<const int> outputChannels) override {
        const int channels = outputChannels.empty() ? 1 : outputChannels[0];
        for (int c = 0; c < channels && c < kMaxChannels; ++c)
            if (!storage_[c].data()) allocateLine(c);
    }

    void reset() noexcept override {
        for (int c = 0; c < kMaxChannels; ++c) {
            fresh_[c] = 0;
            delay_[c] = -1.0;  // jump to the target
        }
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;  // feedback tails decay into subnormals
        const int frames = ctx.frames;
        const Ramp time = time_.next(param(kDelayTime), frames);
        const Ramp feedback = feedback_.next(param(kDelayFeedback), frames);
        const Ramp dry = dry_.next(param(kDelayDry), frames);
        const Ramp wet = wet_.next(param(kDelayWet), frames);
        const InputPort& in = ctx.in[kDelayIn];
        const InputPort& timeIn = ctx.in[kDelayTimeIn];
        const OutputPort& out = ctx.out[kDelayOut];
        const int channels = out.channels;

        // A channel that was not running holds old audio: forget it (reads before `fresh_` are 0).
        for (int c = activeChannels_; c < channels; ++c) {
            fresh_[c] = 0;
            delay_[c] = -1.0;
        }
        activeChannels_ = channels;

        const Params p{time, feedback, dry, wet, timeIn.connected ? 0.0f : timeIn.constant};
        for (int c = 0; c < channels; ++c) {
            float* y = out.channel(c);
            float* line = lines_[c].load(std::memory_order_acquire);
            if (!line) {  // no line yet (prepareChannels has not run for it): silence
                std::fill_n(y, frames, 0.0f);
                continue;
            }
            const float* x = in.channel(c);
            const float* cv = timeIn.connected ? timeIn.channel(c) : nullptr;
            runChannel(c, line, x, cv, y, frames, p);
        }
        write_ = (write_ + static_cast<std::size_t>(frames)) & mask_;
    }

private:
    struct Params {
        Ramp time, feedback, dry, wet;
        float cvConstant;
    };

    void allocateLine(int c) {
        storage_[c] = AlignedFloats(size_ + kGuard);
        lines_[c].store(storage_[c].data(), std::memory_order_release);
    }

    double targetSamples(float seconds) const noexcept {
        seconds = seconds > kMinDelayTime ? seconds : kMinDelayTime;  // NaN -> minimum
        seconds = seconds < kMaxDelayTime ? seconds : kMaxDelayTime;
        const double d = std::max(kMinDelaySamples, static_cast<double>(seconds) * fs_);
        // A time in float seconds is off by up to ~1e-7 relative: 0.01f s is 479.99999 samples.
        // Within that of a whole number of samples, the delay is that number, exactly.
        const auto whole = static_cast<double>(static_cast<std::int64_t>(d + 0.5));
        return std::fabs(d - whole) <= d * 2.5e-7 ? whole : d;
    }

    void store(float* line, std::size_t j, float v) const noexcept {
        line[j] = v;
        if (j < static_cast<std::size_t>(kGuard)) line[size_ + j] = v;
    }

    void runChannel(int c, float* line, const float* x, const float* cv, float* y, int frames, const Params& p) noexcept {
        double d = delay_[c];
        const double settledTarget = targetSamples(p.time.start + p.cvConstant);
        if (d < 0.0) d = cv ? targetSamples(p.time.start + cv[0]) : settledTarget;
        const auto whole = static_cast<std::uint64_t>(d);
        const bool settled =
            !cv && p.time.constant() && d == settledTarget && whole >= static_cast<std::uint64_t>(kChunk) + 1 && fresh_[c] >= whole + 3;
        if (settled)
            runSettled(line, x, y, frames, d, p);
        else
            d = runGliding(c, line, x, cv, y, frames, d, p);
        delay_[c] = d;
        fresh_[c] = std::min<std::uint64_t>(fresh_[c] + static_cast<std::uint64_t>(frames), size_);
        // A NaN/Inf that reached the line would echo forever: forget the line instead.
        if (!std::isfinite(line[(write_ + static_cast<std::size_t>(frames) - 1) & mask_])) fresh_[c] = 0;
    }

    /// Constant delay d >= kChunk + 1 samples, all taps written since the last reset.
    void runSettled(float* line, const float* x, float* y, int frames, double d, const Params& p) const noexcept {
        const auto whole = static_cast<std::size_t>(d);
        const float t = static_cast<float>(d - static_cast<double>(whole));
        // Hermite weights for the constant fraction (taps oldest .. newest).
        const float w2 = t * t * (0.5f * t - 0.5f);
        const float w1 = t * (0.5f + t * (2.0f - 1.5f * t));
        const float w0 = 1.0f + t * t * (1.5f * t - 2.5f);
        const float wm1 = t * (-0.5f + t * (1.0f - 0.5f * t));
        alignas(64) float next[kChunk];
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            const std::size_t w = (write_ + static_cast<std::size_t>(start)) & mask_;
            const float* __restrict taps = line + ((w - whole - 2) & mask_);  // taps[k+2] is d samples old
            const float* __restrict xs = x + start;
            float* __restrict ys = y + start;
            const Ramp fb{p.feedback.at(start), p.feedback.step};
            const Ramp dr{p.dry.at(start), p.dry.step};
            const Ramp wt{p.wet.at(start), p.wet.step};
            if (t == 0.0f) {
                for (int k = 0; k < n; ++k) {
                    const float e = taps[k + 2];
                    ys[k] = dr.at(k) * xs[k] + wt.at(k) * e;
                    next[k] = xs[k] + fb.at(k) * e;
                }
            } else {
                for (int k = 0; k < n; ++k) {
                    const float e = w2 * taps[k] + w1 * taps[k + 1] + w0 * taps[k + 2] + wm1 * taps[k + 3];
                    ys[k] = dr.at(k) * xs[k] + wt.at(k) * e;
                    next[k] = xs[k] + fb.at(k) * e;
                }
            }
            const int first = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n), size_ - w));
            std::copy_n(next, first, line + w);
            std::copy_n(next + first, n - first, line);
            // Keep the mirror of the line's start.
            if (w < static_cast<std::size_t>(kGuard)) {
                const int m = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n), kGuard - w));
                std::copy_n(next, m, line + size_ + w);
            }
            if (first < n) std::copy_n(next + first, std::min(n - first, kGuard), line + size_);
        }
    }

    /// Per-sample delay (gliding, modulated, shorter than a chunk, or reading near the start of
    /// the line's history). Returns the delay reached. Two passes per chunk: the delay of every
    /// sample (the only serial part is the glide's one-pole, run on its distance to the target so
    /// that a landed glide stays exactly on it), then the reads and writes.
    double runGliding(int c, float* line, const float* x, const float* cv, float* y, int frames, double d, const Params& p) const noexcept {
        const double keep = 1.0 - glide_;
        alignas(64) double target[kChunk];
        alignas(64) double delay[kChunk];
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            if (cv) {
                for (int i = 0; i < n; ++i) target[i] = targetSamples(p.time.at(start + i) + cv[start + i]);
            } else {
                for (int i = 0; i < n; ++i) target[i] = targetSamples(p.time.at(start + i) + p.cvConstant);
            }
            // d[i] = d[i-1] + (target[i] - d[i-1]) g, as e[i] = d[i] - target[i]:
            // e[i] = (e[i-1] + target[i-1] - target[i]) (1 - g).
            alignas(64) double step[kChunk];  // (target[i-1] - target[i]) (1 - g), off the serial path
            for (int i = 1; i < n; ++i) step[i] = (target[i - 1] - target[i]) * keep;
            double e = (d - target[0]) * keep;
            delay[0] = target[0] + e;
            for (int i = 1; i < n; ++i) {
                e = e * keep + step[i];  // one FMA per sample on the serial path
                delay[i] = target[i] + e;
            }
            if (std::fabs(e) < 1e-4) delay[n - 1] = target[n - 1];  // landed: exact from here on
            d = delay[n - 1];

            const std::uint64_t written0 = fresh_[c] + static_cast<std::uint64_t>(start);
            const std::size_t w = (write_ + static_cast<std::size_t>(start)) & mask_;
            for (int i = 0; i < n; ++i) {
                const auto whole = static_cast<std::uint64_t>(static_cast<std::int64_t>(delay[i]));
                const float t = static_cast<float>(delay[i] - static_cast<double>(whole));
                const std::size_t j = (w + static_cast<std::size_t>(i)) & mask_;
                const float* taps = line + ((j - whole - 2) & mask_);
                float t2 = taps[0], t1 = taps[1], t0 = taps[2], tm1 = taps[3];  // ages whole+2 .. whole-1
                const std::uint64_t written = written0 + static_cast<std::uint64_t>(i);
                if (whole + 2 > written) {  // some taps predate the last reset: they read silence
                    t2 = whole + 2 <= written ? t2 : 0.0f;
                    t1 = whole + 1 <= written ? t1 : 0.0f;
                    t0 = whole <= written ? t0 : 0.0f;
                    tm1 = whole - 1 <= written ? tm1 : 0.0f;
                }
                const float echo = hermite(tm1, t0, t1, t2, t);
                const int k = start + i;
                y[k] = p.dry.at(k) * x[k] + p.wet.at(k) * echo;
                store(line, j, x[k] + p.feedback.at(k) * echo);
            }
        }
        return d;
    }

    ParamSmoother time_, feedback_, dry_, wet_;
    double fs_ = 48000.0;
    double glide_ = 0.0;
    std::size_t size_ = 0, mask_ = 0;
    std::size_t write_ = 0;  // shared by all channels
    int activeChannels_ = 0;
    std::array<double, kMaxChannels> delay_{};               // current delay in samples, < 0: jump
    std::array<std::uint64_t, kMaxChannels> fresh_{};        // samples written since the line was forgotten
    std::array<AlignedFloats, kMaxChannels> storage_;        // UI thread: owns the lines
    std::array<std::atomic<float*>, kMaxChannels> lines_{};  // audio thread reads these
};

const ModuleDescriptor kDelay{
    .id = "delay",
    .name = "Delay",
    .category = "Effects",
    .help =
        "A feedback delay (echo) of up to 10 seconds. Each echo is the input from Time seconds ago "
        "plus the previous echo times Feedback; the output is Dry x input + Wet x echoes. Whole-sample "
        "times are exact, fractional ones interpolated. Turning Time glides like tape (the echoes bend "
        "in pitch, never click); patch the Time input to modulate it (seconds added to the knob) for "
        "chorus, flanging or vibrato. Feedback 1 repeats forever. Polyphonic: one delay line per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to delay"},
               {.id = "time",
                .name = "Time",
                .kind = SignalKind::Control,
                .help = "seconds added to the Time knob (the sum is kept within 1 ms..10 s)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "dry + wet mix"}},
    .params = {{.id = "time",
                .name = "Time",
                .min = kMinDelayTime,
                .max = kMaxDelayTime,
                .defaultValue = 0.375f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "delay time"},
               {.id = "feedback",
                .name = "Feedback",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "share of each echo fed back into the line"},
               {.id = "dry",
                .name = "Dry",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "level of the input in the output"},
               {.id = "wet",
                .name = "Wet",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "level of the echoes in the output"}},
    .create = [] { return std::unique_ptr<Module>(new Delay(kDelay)); },
};
const RegisterModule registerDelay{kDelay};

}  // namespace
}  // namespace kabel
