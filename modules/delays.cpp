// Delays: a feedback delay (delay) and a tempo-synced stereo delay with ping-pong (stereodelay).
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
                const float echo = dsp::hermite(tm1, t0, t1, t2, t);
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

// ---------------------------------------------------------------------------------------------
// stereodelay

enum StereoDelayInputs { kStereoInLeft, kStereoInRight, kStereoClock, kStereoTimeIn };
enum StereoDelayOutputs { kStereoOutLeft, kStereoOutRight };
enum StereoDelayParams {
    kStereoTime,
    kStereoDivision,
    kStereoOffset,
    kStereoFeedback,
    kStereoPingPong,
    kStereoTone,
    kStereoDry,
    kStereoWet
};

/// A note value as a number of beats (the clock's period): num / den, exact in double.
struct NoteValue {
    int num;
    int den;
};
// In the order of the descriptor's choices (shortest first; T = triplet, 2/3; D = dotted, 3/2).
constexpr std::array<NoteValue, 18> kNoteValues{{{1, 8},
                                                 {1, 6},
                                                 {3, 16},
                                                 {1, 4},
                                                 {1, 3},
                                                 {3, 8},
                                                 {1, 2},
                                                 {2, 3},
                                                 {3, 4},
                                                 {1, 1},
                                                 {4, 3},
                                                 {3, 2},
                                                 {2, 1},
                                                 {8, 3},
                                                 {3, 1},
                                                 {4, 1},
                                                 {6, 1},
                                                 {8, 1}}};
constexpr float kMaxTone = 20000.0f;

/// Measures a clock's period from its rising edges (a frame >= 0.5 after one below), to the
/// frame. Consecutive periods within one frame of their mean are averaged (up to 8), so a clock
/// whose period is not a whole number of frames (24000, 24001, 24000, ...) gives its true mean;
/// a period further off (a new tempo) starts a new average at once. Audio thread.
/// A block-rate one-pole glide in double precision for the stereo delay's times, which must land
/// exactly on whole-frame targets of up to 480000 (ParamSmoother's float steps stall short of such
/// targets when a block's step is below the value's resolution).
class Glide {
public:
    struct Ramp {
        double start = 0.0, step = 0.0;
        bool constant() const noexcept { return step == 0.0; }
        double at(int n) const noexcept { return start + n * step; }
    };

    void prepare(double sampleRate, double timeMs) noexcept {
        framesPerTau_ = sampleRate * timeMs * 0.001;
        primed_ = false;
    }

    /// Audio thread, once per block. The first call jumps to the target.
    Ramp next(double target, int frames) noexcept {
        if (!primed_) current_ = target, primed_ = true;
        const double next = current_ + (target - current_) * (1.0 - std::exp(-frames / framesPerTau_));
        if (std::fabs(target - next) <= 1e-7 * (1.0 + std::fabs(target)) || next == current_) {
            const Ramp r{current_, (target - current_) / frames};
            current_ = target;
            return r.step == 0.0 ? Ramp{target, 0.0} : r;
        }
        const Ramp r{current_, (next - current_) / frames};
        current_ = next;
        return r;
    }

private:
    double current_ = 0.0, framesPerTau_ = 2400.0;
    bool primed_ = false;
};

class ClockMeter {
public:
    void reset() noexcept {
        high_ = false;
        seen_ = false;
        since_ = 0;
        count_ = 0;
        sum_ = 0;
    }

    void scan(const float* x, int frames) noexcept {
        int highs = 0;  // fast path: no edge unless the block changes state
        for (int n = 0; n < frames; ++n) highs += x[n] >= 0.5f ? 1 : 0;
        if (highs == 0 || (highs == frames && high_)) {
            high_ = highs != 0;
            since_ += static_cast<std::uint64_t>(frames);
            return;
        }
        for (int n = 0; n < frames; ++n) {
            const bool high = x[n] >= 0.5f;
            if (high && !high_) edge();
            high_ = high;
            ++since_;
        }
    }

    /// The mean period in frames; 0 before the second edge.
    double period() const noexcept { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

private:
    void edge() noexcept {
        if (seen_) {
            const auto p = static_cast<std::int64_t>(since_);
            if (count_ && std::fabs(static_cast<double>(p) - period()) > 1.0) count_ = 0, sum_ = 0;
            if (count_ == kHistory)
                sum_ -= history_[static_cast<std::size_t>(next_)];
            else
                ++count_;
            history_[static_cast<std::size_t>(next_)] = p;
            sum_ += p;
            next_ = (next_ + 1) % kHistory;
        }
        seen_ = true;
        since_ = 0;
    }

    static constexpr int kHistory = 8;
    std::array<std::int64_t, kHistory> history_{};
    std::int64_t sum_ = 0;
    int count_ = 0, next_ = 0;
    std::uint64_t since_ = 0;
    bool high_ = false, seen_ = false;
};

class StereoDelay final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int> in) const override {
        return std::max({1, in[kStereoInLeft], in[kStereoInRight], in[kStereoTimeIn]});
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        base_.prepare(sampleRate, 50.0f);  // tape-like glide of every time change (knob or clock)
        offset_.prepare(sampleRate, 50.0f);
        feedback_.prepare(sampleRate);
        pingPong_.prepare(sampleRate, 20.0f);
        tone_.prepare(sampleRate, 20.0f);
        dry_.prepare(sampleRate);
        wet_.prepare(sampleRate);
        glide_ = 1.0 - std::exp(-1.0 / (0.002 * sampleRate));
        fs_ = sampleRate;
        const double needed = std::ceil(kMaxDelayTime * sampleRate) + 2 * kChunk + 8;
        std::size_t size = 1;
        while (static_cast<double>(size) < needed) size *= 2;
        if (size != size_) {
            size_ = size;  // in no plan now (prepare's contract): lines may be replaced
            mask_ = size - 1;
            for (int c = 0; c < kMaxChannels; ++c)
                if (storage_[c].data()) allocateLines(c);
        }
        reset();
    }

    void prepareChannels(std::span<const int>, std::span<const int> outputChannels) override {
        const int channels = outputChannels.empty() ? 1 : outputChannels[0];
        for (int c = 0; c < channels && c < kMaxChannels; ++c)
            if (!storage_[c].data()) allocateLines(c);
    }

    void reset() noexcept override {
        clock_.reset();
        for (int c = 0; c < kMaxChannels; ++c) forget(c);
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;
        const int frames = ctx.frames;
        const InputPort& left = ctx.in[kStereoInLeft];
        const InputPort& right = ctx.in[kStereoInRight];
        const InputPort& clock = ctx.in[kStereoClock];
        const InputPort& timeIn = ctx.in[kStereoTimeIn];

        // The time of the left side in frames: the clock's period x the note value once the clock
        // has been measured, else the knob.
        double base = targetFrames(param(kStereoTime));
        if (clock.connected) {
            clock_.scan(clock.channel(0), frames);
            const double period = clock_.period();
            if (period > 0.0) {
                const NoteValue v = kNoteValues[static_cast<std::size_t>(std::clamp(static_cast<int>(param(kStereoDivision)), 0, 17))];
                base = std::clamp(period * v.num / v.den, kMinDelayTime * fs_, kMaxDelayTime * fs_);
            }
        }
        Params p;
        p.base = base_.next(base, frames);
        p.offset = offset_.next(param(kStereoOffset), frames);
        p.feedback = feedback_.next(param(kStereoFeedback), frames);
        p.pingPong = pingPong_.next(param(kStereoPingPong) >= 0.5f ? 1.0f : 0.0f, frames);
        p.dry = dry_.next(param(kStereoDry), frames);
        p.wet = wet_.next(param(kStereoWet), frames);
        p.cvConstant = timeIn.connected ? 0.0f : timeIn.constant * static_cast<float>(fs_);
        p.gain = toneGain(tone_.next(param(kStereoTone), frames).end(frames));

        const int channels = ctx.out[kStereoOutLeft].channels;
        for (int c = activeChannels_; c < channels; ++c) forget(c);  // a channel back in use holds old audio
        activeChannels_ = channels;

        alignas(64) float rightIn[kChunk];
        for (int c = 0; c < channels; ++c) {
            float* yl = ctx.out[kStereoOutLeft].channel(c);
            float* yr = ctx.out[kStereoOutRight].channel(c);
            float* lineL = lines_[c][0].load(std::memory_order_acquire);
            float* lineR = lines_[c][1].load(std::memory_order_acquire);
            if (!lineL || !lineR) {
                std::fill_n(yl, frames, 0.0f);
                std::fill_n(yr, frames, 0.0f);
                continue;
            }
            const float* xl = left.channel(c);
            const float* xr = right.channel(c);
            const float* cv = timeIn.connected ? timeIn.channel(c) : nullptr;
            for (int start = 0; start < frames; start += kChunk) {
                const int n = std::min(kChunk, frames - start);
                Channel ch{c, lineL, lineR, xl + start, xr + start, cv ? cv + start : nullptr, yl + start, yr + start};
                // Unpatched Right: the left input feeds the right line too, except in ping-pong,
                // where the echoes are to start on the left and bounce (crossfaded with the toggle).
                if (!right.connected) {
                    for (int i = 0; i < n; ++i) rightIn[i] = (1.0f - p.pingPong.at(start + i)) * ch.xl[i];
                    ch.xr = rightIn;
                }
                runChunk(ch, start, n, p);
            }
            fresh_[c] = std::min<std::uint64_t>(fresh_[c] + static_cast<std::uint64_t>(frames), size_);
            const std::size_t last = (write_ + static_cast<std::size_t>(frames) - 1) & mask_;
            if (!std::isfinite(lineL[last]) || !std::isfinite(lineR[last]) || !std::isfinite(lowpass_[c][0]) ||
                !std::isfinite(lowpass_[c][1]))
                forget(c);  // a NaN/Inf in the loop would echo forever
        }
        write_ = (write_ + static_cast<std::size_t>(frames)) & mask_;
    }

private:
    struct Params {
        Glide::Ramp base, offset;
        Ramp feedback, pingPong, dry, wet;
        float cvConstant = 0.0f;  // frames added when the time input is unpatched
        float gain = 1.0f;        // the loop lowpass's G (1: no filter)
    };
    /// One channel's lines and one chunk's signals (pointers at the chunk's first frame).
    struct Channel {
        int c;
        float* lineL;
        float* lineR;
        const float* xl;
        const float* xr;
        const float* cv;  // seconds, or nullptr
        float* yl;
        float* yr;
    };

    void allocateLines(int c) {
        // Every line is read and written at the same positions, so lines that start at the same
        // offset within a page compete for the same cache sets (and 4K-aliased loads and stores
        // stall): with 16 channels x 2 lines that costs 10x. Each line starts at its own offset.
        const std::size_t left = 16 * static_cast<std::size_t>((c * 5) % 64);  // floats; 64-byte steps through 4 KB
        const std::size_t right = left + size_ + kGuard + 16 * 32;             // and 2 KB further on
        storage_[c] = AlignedFloats(right + size_ + kGuard);
        lines_[c][0].store(storage_[c].data() + left, std::memory_order_release);
        lines_[c][1].store(storage_[c].data() + right, std::memory_order_release);
    }

    void forget(int c) noexcept {
        fresh_[c] = 0;
        delay_[c] = {-1.0, -1.0};  // jump to the target
        lowpass_[c] = {0.0f, 0.0f};
    }

    /// Knob seconds -> frames, whole when within float precision of a whole number.
    double targetFrames(float seconds) const noexcept {
        seconds = seconds > kMinDelayTime ? seconds : kMinDelayTime;  // NaN -> minimum
        seconds = seconds < kMaxDelayTime ? seconds : kMaxDelayTime;
        const double d = static_cast<double>(seconds) * fs_;
        const auto whole = static_cast<double>(static_cast<std::int64_t>(d + 0.5));
        return std::fabs(d - whole) <= d * 2.5e-7 ? whole : d;
    }

    double clampFrames(double d) const noexcept {
        d = d > kMinDelaySamples ? d : kMinDelaySamples;  // NaN -> minimum
        const double top = kMaxDelayTime * fs_;
        return d < top ? d : top;
    }

    /// The loop lowpass's G = g / (1 + g) (topology-preserving one-pole, g = tan(pi fc / fs)), with
    /// g stretched by 1 / (1 - (fc / 20 kHz)^4): below 10 kHz the corner is within 7 % of fc, above
    /// it the filter fades out, and at 20 kHz G = 1 exactly (no filter).
    float toneGain(float hz) const noexcept {
        const double fc = std::clamp(static_cast<double>(hz), 1.0, static_cast<double>(kMaxTone));
        if (fc >= 0.999 * kMaxTone) return 1.0f;  // (also when the smoothed knob stops just short of the top)
        const double t = std::tan(std::min(std::numbers::pi * fc / fs_, 0.49 * std::numbers::pi));
        const double r = std::pow(fc / kMaxTone, 4.0);
        return static_cast<float>(t / (t + 1.0 - r));
    }

    void store(float* line, std::size_t j, float v) const noexcept {
        line[j] = v;
        if (j < static_cast<std::size_t>(kGuard)) line[size_ + j] = v;
    }

    /// Writes next[0..n) at line position w (with the mirror).
    void storeChunk(float* line, std::size_t w, const float* next, int n) const noexcept {
        const int first = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n), size_ - w));
        std::copy_n(next, first, line + w);
        std::copy_n(next + first, n - first, line);
        if (w < static_cast<std::size_t>(kGuard)) {
            const int m = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n), kGuard - w));
            std::copy_n(next, m, line + size_ + w);
        }
        if (first < n) std::copy_n(next + first, std::min(n - first, kGuard), line + size_);
    }

    /// One topology-preserving one-pole lowpass step: y from x, state s.
    static float lowpass(float x, float g, float& s) noexcept {
        const float v = (x - s) * g;
        const float y = v + s;
        s = y + v;
        return y;
    }

    void runChunk(const Channel& ch, int start, int n, const Params& p) noexcept {
        const int c = ch.c;
        // Targets at the chunk's start: the settled test.
        const float cv0 = ch.cv ? ch.cv[0] * static_cast<float>(fs_) : p.cvConstant;
        const double targetL = clampFrames(p.base.at(start) + cv0);
        const double targetR = clampFrames(p.base.at(start) * (1.0 + p.offset.at(start)) + cv0);
        auto& d = delay_[c];
        if (d[0] < 0.0) d = {targetL, targetR};
        const auto wholeL = static_cast<std::uint64_t>(d[0]), wholeR = static_cast<std::uint64_t>(d[1]);
        const std::uint64_t written = fresh_[c] + static_cast<std::uint64_t>(start);
        const bool settled = !ch.cv && p.base.constant() && p.offset.constant() && d[0] == targetL && d[1] == targetR &&
                             std::min(wholeL, wholeR) >= static_cast<std::uint64_t>(kChunk) + 1 && written >= std::max(wholeL, wholeR) + 3;
        if (settled)
            runSettled(ch, start, n, p);
        else
            runGliding(ch, start, n, p);
    }

    /// Both delays constant and >= kChunk + 1, every tap written since the last reset.
    void runSettled(const Channel& ch, int start, int n, const Params& p) noexcept {
        const int c = ch.c;
        const std::size_t w = (write_ + static_cast<std::size_t>(start)) & mask_;
        alignas(64) float echo[2][kChunk], src[2][kChunk], next[2][kChunk];
        const float* lines[2] = {ch.lineL, ch.lineR};
        for (int side = 0; side < 2; ++side) {
            const double d = delay_[c][side];
            const auto whole = static_cast<std::size_t>(d);
            const float t = static_cast<float>(d - static_cast<double>(whole));
            const float* __restrict taps = lines[side] + ((w - whole - 2) & mask_);  // taps[k+2] is d frames old
            float* __restrict e = echo[side];
            if (t == 0.0f) {
                for (int k = 0; k < n; ++k) e[k] = taps[k + 2];
            } else {
                const float w2 = t * t * (0.5f * t - 0.5f);
                const float w1 = t * (0.5f + t * (2.0f - 1.5f * t));
                const float w0 = 1.0f + t * t * (1.5f * t - 2.5f);
                const float wm1 = t * (-0.5f + t * (1.0f - 0.5f * t));
                for (int k = 0; k < n; ++k) e[k] = w2 * taps[k] + w1 * taps[k + 1] + w0 * taps[k + 2] + wm1 * taps[k + 3];
            }
        }
        const Ramp dr{p.dry.at(start), p.dry.step}, wt{p.wet.at(start), p.wet.step};
        const Ramp fb{p.feedback.at(start), p.feedback.step}, pp{p.pingPong.at(start), p.pingPong.step};
        const float* __restrict xl = ch.xl;
        const float* __restrict xr = ch.xr;
        float* __restrict yl = ch.yl;
        float* __restrict yr = ch.yr;
        for (int k = 0; k < n; ++k) {
            yl[k] = dr.at(k) * xl[k] + wt.at(k) * echo[0][k];
            yr[k] = dr.at(k) * xr[k] + wt.at(k) * echo[1][k];
            // Ping-pong: each line is fed the other's echo.
            const float cross = pp.at(k);
            src[0][k] = echo[0][k] + cross * (echo[1][k] - echo[0][k]);
            src[1][k] = echo[1][k] + cross * (echo[0][k] - echo[1][k]);
        }
        if (p.gain < 1.0f) {
            float s0 = lowpass_[c][0], s1 = lowpass_[c][1];
            for (int k = 0; k < n; ++k) {
                src[0][k] = lowpass(src[0][k], p.gain, s0);
                src[1][k] = lowpass(src[1][k], p.gain, s1);
            }
            lowpass_[c] = {s0, s1};
        } else {
            lowpass_[c] = {src[0][n - 1], src[1][n - 1]};  // the state the filter would hold
        }
        for (int k = 0; k < n; ++k) {
            next[0][k] = xl[k] + fb.at(k) * src[0][k];
            next[1][k] = xr[k] + fb.at(k) * src[1][k];
        }
        storeChunk(ch.lineL, w, next[0], n);
        storeChunk(ch.lineR, w, next[1], n);
    }

    /// Per frame: the delays glide toward their targets (a 2 ms one-pole on the distance, after
    /// the 50 ms glide of the target itself), reads may be younger than the chunk, and taps older
    /// than the last reset read silence.
    void runGliding(const Channel& ch, int start, int n, const Params& p) noexcept {
        const int c = ch.c;
        const double keep = 1.0 - glide_;
        alignas(64) double delay[2][kChunk];
        for (int side = 0; side < 2; ++side) {
            alignas(64) double target[kChunk];
            for (int i = 0; i < n; ++i) {
                const int k = start + i;
                const float cv = ch.cv ? ch.cv[i] * static_cast<float>(fs_) : p.cvConstant;
                const double b = p.base.at(k);  // the same arithmetic as runChunk's targets
                target[i] = clampFrames((side == 0 ? b : b * (1.0 + p.offset.at(k))) + cv);
            }
            // d[i] = d[i-1] + (target[i] - d[i-1]) g, run as the error e = d - target.
            double e = (delay_[c][side] - target[0]) * keep;
            delay[side][0] = target[0] + e;
            for (int i = 1; i < n; ++i) {
                e = e * keep + (target[i - 1] - target[i]) * keep;
                delay[side][i] = target[i] + e;
            }
            if (std::fabs(e) < 1e-4) delay[side][n - 1] = target[n - 1];  // landed: exact from here on
            delay_[c][side] = delay[side][n - 1];
        }
        const std::uint64_t written0 = fresh_[c] + static_cast<std::uint64_t>(start);
        const std::size_t w = (write_ + static_cast<std::size_t>(start)) & mask_;
        float s0 = lowpass_[c][0], s1 = lowpass_[c][1];
        const bool filter = p.gain < 1.0f;
        for (int i = 0; i < n; ++i) {
            const int k = start + i;
            const std::size_t j = (w + static_cast<std::size_t>(i)) & mask_;
            const std::uint64_t written = written0 + static_cast<std::uint64_t>(i);
            const float el = read(ch.lineL, j, delay[0][i], written);
            const float er = read(ch.lineR, j, delay[1][i], written);
            ch.yl[i] = p.dry.at(k) * ch.xl[i] + p.wet.at(k) * el;
            ch.yr[i] = p.dry.at(k) * ch.xr[i] + p.wet.at(k) * er;
            const float cross = p.pingPong.at(k);
            float a = el + cross * (er - el), b = er + cross * (el - er);
            if (filter) {
                a = lowpass(a, p.gain, s0);
                b = lowpass(b, p.gain, s1);
            } else {
                s0 = a;
                s1 = b;
            }
            store(ch.lineL, j, ch.xl[i] + p.feedback.at(k) * a);
            store(ch.lineR, j, ch.xr[i] + p.feedback.at(k) * b);
        }
        lowpass_[c] = {s0, s1};
    }

    /// Hermite read `d` frames before position j; taps older than `written` frames read 0.
    float read(const float* line, std::size_t j, double d, std::uint64_t written) const noexcept {
        const auto whole = static_cast<std::uint64_t>(static_cast<std::int64_t>(d));
        const float t = static_cast<float>(d - static_cast<double>(whole));
        const float* taps = line + ((j - whole - 2) & mask_);
        float t2 = taps[0], t1 = taps[1], t0 = taps[2], tm1 = taps[3];  // ages whole+2 .. whole-1
        if (whole + 2 > written) {
            t2 = whole + 2 <= written ? t2 : 0.0f;
            t1 = whole + 1 <= written ? t1 : 0.0f;
            t0 = whole <= written ? t0 : 0.0f;
            tm1 = whole - 1 <= written ? tm1 : 0.0f;
        }
        return dsp::hermite(tm1, t0, t1, t2, t);
    }

    Glide base_, offset_;
    ParamSmoother feedback_, pingPong_, tone_, dry_, wet_;
    ClockMeter clock_;
    double fs_ = 48000.0;
    double glide_ = 0.0;
    std::size_t size_ = 0, mask_ = 0;
    std::size_t write_ = 0;  // shared by all lines
    int activeChannels_ = 0;
    std::array<std::array<double, 2>, kMaxChannels> delay_{};   // current delays in frames, < 0: jump
    std::array<std::array<float, 2>, kMaxChannels> lowpass_{};  // loop filter states
    std::array<std::uint64_t, kMaxChannels> fresh_{};           // frames written since the lines were forgotten
    std::array<AlignedFloats, kMaxChannels> storage_;           // UI thread: owns both lines of a channel
    std::array<std::array<std::atomic<float*>, 2>, kMaxChannels> lines_{};
};

const ModuleDescriptor kStereoDelay{
    .id = "stereodelay",
    .name = "Stereo Delay",
    .category = "Effects",
    .help =
        "A stereo feedback delay (echo) of up to 10 s per side, with ping-pong, a tone filter in the loop "
        "and tempo sync. The left echo comes Time seconds after the input, the right one Time x (1 + "
        "Offset); each line is fed its input plus Feedback x its own echo, or with Ping-Pong on the other "
        "side's echo, so a mono source (Right unpatched) bounces left, right, left... at gains 1, "
        "Feedback, Feedback^2, ... Tone lowpasses the fed-back echoes, darker with every repeat (20 kHz: "
        "off). Patch a clock (a gate or square, rising edges at 0.5) to sync: the time becomes the "
        "clock's period (one beat) x Division, exact to the sample; until two edges have arrived the "
        "knob sets it. Every time change glides like tape, without clicks. Output = Dry x input + Wet x "
        "echo. Unpatched Right copies Left (without ping-pong). Polyphonic: a pair of lines per channel.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left input (both sides when Right is unpatched)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right input"},
               {.id = "clock",
                .name = "Clock",
                .kind = SignalKind::Gate,
                .help = "tempo: the period between rising edges is one beat (channel 0 only)"},
               {.id = "time",
                .name = "Time",
                .kind = SignalKind::Control,
                .help = "seconds added to both sides' times (the result is kept within 1 ms..10 s)"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left dry + wet"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right dry + wet"}},
    .params = {{.id = "time",
                .name = "Time",
                .min = kMinDelayTime,
                .max = kMaxDelayTime,
                .defaultValue = 0.375f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "the left delay time, without a clock"},
               {.id = "division",
                .name = "Division",
                .min = 0.0f,
                .max = 17.0f,
                .defaultValue = 9.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"1/32", "1/16T", "1/32D", "1/16", "1/8T", "1/16D", "1/8", "1/4T", "1/8D", "1/4", "1/2T", "1/4D", "1/2", "1/1T",
                            "1/2D", "1 bar", "1 bar D", "2 bars"},
                .help = "with a clock: the left time as a note value (the clock period is a quarter note; a bar is 4 beats)"},
               {.id = "offset",
                .name = "Offset",
                .min = -0.5f,
                .max = 0.5f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "the right time is the left time x (1 + offset)"},
               {.id = "feedback",
                .name = "Feedback",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "share of each echo fed back"},
               {.id = "pingpong",
                .name = "Ping-Pong",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "on: each side's echo feeds the other side (cross-feedback)"},
               {.id = "tone",
                .name = "Tone",
                .min = 200.0f,
                .max = kMaxTone,
                .defaultValue = kMaxTone,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "corner of the lowpass in the loop (20 kHz: no filter)"},
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
    .create = [] { return std::unique_ptr<Module>(new StereoDelay(kStereoDelay)); },
};
const RegisterModule registerStereoDelay{kStereoDelay};

}  // namespace
}  // namespace kabel
