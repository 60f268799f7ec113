// Distortion: a tape-style saturator with oversampling, and a bitcrusher.
//
// Design note (saturator). The curve runs at 2, 4 or 8 times the sample rate, so the harmonics it
// makes above the original Nyquist are filtered out instead of folding back into the audio band.
// Each doubling is a linear-phase half-band FIR of our own (Kaiser-windowed sinc, cut-off at a
// quarter of the higher rate), run in polyphase form: up, one output per input is the input itself
// (the centre tap, delayed) and the other the odd taps' sum; down, only every second output is
// formed. Half-band filters are symmetric about a quarter of the higher rate, so their transition
// band is centred on the original Nyquist: each stage passes 0..20 kHz (at 48 kHz; 0.4167 x the
// base rate) within +-0.003 dB and stops everything that would fold into it:
//   stage 1 (x2):  31 taps each side of the centre (16 non-zero), stop band from 28 kHz, >= 78 dB
//   stage 2 (x4):   9 (5 non-zero), stop band from 76 kHz (what would fold below 20 kHz), >= 75 dB
//   stage 3 (x8):   7 (4 non-zero), stop band from 172 kHz, >= 70 dB
// (frequencies at a 48 kHz base rate; they scale with it). Up and down, a stage of M taps delays
// by M samples of its higher rate each way, so the latency is 31 samples at 2x, 31 + 9/2 = 35.5
// at 4x and 35.5 + 7/4 = 37.25 at 8x (base-rate samples, at any rate). Why our own filters
// rather than libsamplerate: its converters are real-time safe once built, but they are general
// arbitrary-ratio sinc converters with a callback/state API per channel, far costlier than three
// fixed half-band stages for an exact 2^k ratio, and their latency is not specified this exactly.
//
// Drive (gain) and bias are applied before upsampling (they are band-limited), the curve at the top
// rate, and after downsampling f(bias) is subtracted (silence stays silent), a 5 Hz DC blocker
// removes the offset that bias and the asymmetric curve leave on a signal, and Level sets the
// output gain.
//
// Design note (bitcrusher). Quantisation to a step q = 2^(1 - bits) (mid-tread: levels k q, so
// silence stays silent; bits may be fractional), optionally with TPDF dither of +-q (the sum of two
// uniform variates), then a sample-and-hold at Rate: a 64-bit phase accumulator whose increment
// is rounded up from rate / fs, so a rate of fs / P holds exactly P samples, every time.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "core/dsp/db_gain.hpp"
#include "core/dsp/fast_math.hpp"
#include "core/dsp/hash_random.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

using dsp::mulAdd;

constexpr int kChunk = 64;  // base-rate frames per pass; longer blocks are split

/// tanh(x) as its [7/6] Pade approximant, clamped where that reaches 1 (|x| = 4.97): odd,
/// monotonic, |error| < 1e-4; a NaN becomes -1. Branch-free, so loops over it vectorise.
inline float fastTanh(float x) noexcept {
    constexpr float kLimit = 4.97f;
    x = x > -kLimit ? x : -kLimit;
    x = x < kLimit ? x : kLimit;
    const float y = x * x;
    const float num = x * mulAdd(mulAdd(mulAdd(1.0f / 135135.0f, y, 378.0f / 135135.0f), y, 17325.0f / 135135.0f), y, 1.0f);
    const float den = mulAdd(mulAdd(mulAdd(28.0f / 135135.0f, y, 3150.0f / 135135.0f), y, 62370.0f / 135135.0f), y, 1.0f);
    return num / den;
}

// ---------------------------------------------------------------------------------------------
// saturator

enum SaturatorInputs { kSaturatorIn };
enum SaturatorOutputs { kSaturatorOut };
enum SaturatorParams { kSaturatorDrive, kSaturatorBias, kSaturatorLevel, kSaturatorCurve, kSaturatorOversampling };
enum class Curve { Tanh, SoftClip, Asymmetric };

constexpr int kStages = 3;       // up to 8x
constexpr int kMaxOddTaps = 16;  // per side, in the longest stage
constexpr int kMaxSpan = 31;     // M = 2p + 1 of the longest stage
constexpr float kDcBlockHz = 5.0f;

/// A half-band low-pass: h(0) = 1/2, h(k) = 0 at even k != 0, and h(+-(2q + 1)) = w[q] / 2 for
/// q = 0..p, Kaiser-windowed sinc scaled so that sum(w) = 1/2 (a DC gain of exactly 1).
struct HalfBand {
    int p = 0;  // odd taps 1, 3, .., 2p + 1 = M on each side
    std::array<float, kMaxOddTaps> w{};

    int span() const noexcept { return 2 * p + 1; }
};

double besselI0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 200 && term > 1e-17 * sum; ++k) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
    }
    return sum;
}

/// UI thread: the half-band with odd taps up to 2p + 1 and Kaiser parameter beta.
HalfBand designHalfBand(int p, double beta) {
    HalfBand f;
    f.p = p;
    const double m = 2.0 * p + 1.0;
    double sum = 0.0;
    std::array<double, kMaxOddTaps> h{};
    for (int q = 0; q <= p; ++q) {
        const double k = 2.0 * q + 1.0;
        const double sinc = std::sin(std::numbers::pi * k / 2.0) / (std::numbers::pi * k);
        const double r = k / (m + 1.0);
        h[static_cast<std::size_t>(q)] = sinc * besselI0(beta * std::sqrt(1.0 - r * r)) / besselI0(beta);
        sum += h[static_cast<std::size_t>(q)];
    }
    for (int q = 0; q <= p; ++q) f.w[static_cast<std::size_t>(q)] = static_cast<float>(h[static_cast<std::size_t>(q)] * 0.5 / sum);
    return f;
}

/// 2x interpolation of in[0..n) into out[0..2n) (n <= kChunk x 4). `history` holds the last M
/// inputs. out[2m] is the half-way value between x[m - p - 1] and x[m - p], out[2m + 1] is
/// x[m - p]: the original samples land on the odd outputs, M outputs late.
void upsample(const HalfBand& f, float* history, const float* in, int n, float* out) noexcept {
    const int p = f.p, m = f.span();
    alignas(64) float buffer[kMaxSpan + 4 * kChunk];
    std::copy_n(history, m, buffer);
    std::copy_n(in, n, buffer + m);
    alignas(64) float mid[4 * kChunk];
    const float* __restrict c = buffer + m;  // c[i] = x[i], c[-k] from the history
    std::fill_n(mid, n, 0.0f);
    for (int q = 0; q <= p; ++q) {
        const float w = f.w[static_cast<std::size_t>(q)];
        const float* __restrict a = c - p - 1 - q;
        const float* __restrict b = c - p + q;
        for (int i = 0; i < n; ++i) mid[i] = mulAdd(w, a[i] + b[i], mid[i]);
    }
    for (int i = 0; i < n; ++i) {
        out[2 * i] = mid[i];
        out[2 * i + 1] = c[i - p];
    }
    std::copy_n(buffer + n, m, history);
}

/// 2x decimation of in[0..2n) into out[0..n). `history` holds the last 2M inputs. Output i is
/// centred on input 2i - M, an odd input (M is odd) when counted from the upsampler's first
/// output: the upsampler's original samples come back, and a round trip up and down is a delay of
/// exactly M input samples.
void downsample(const HalfBand& f, float* history, const float* in, int n, float* out) noexcept {
    const int p = f.p, m = f.span();
    alignas(64) float buffer[2 * kMaxSpan + 8 * kChunk];
    std::copy_n(history, 2 * m, buffer);
    std::copy_n(in, 2 * n, buffer + 2 * m);
    alignas(64) float even[4 * kChunk + kMaxSpan + 1], odd[4 * kChunk + kMaxSpan + 1];
    // De-interleave once, so every tap below is a contiguous read.
    const int pairs = n + m;
    for (int i = 0; i < pairs; ++i) {
        even[i] = buffer[2 * i];
        odd[i] = buffer[2 * i + 1];
    }
    // Centre of output i: buffer[m + 2i] = odd[(m - 1) / 2 + i]; its odd taps at +-(2q + 1) are
    // even[(m - 1) / 2 + i - q] and even[(m + 1) / 2 + i + q].
    const int centre = (m - 1) / 2;
    for (int i = 0; i < n; ++i) out[i] = 0.5f * odd[centre + i];
    for (int q = 0; q <= p; ++q) {
        const float w = 0.5f * f.w[static_cast<std::size_t>(q)];
        const float* __restrict a = even + (m - 1) / 2 - q;
        const float* __restrict b = even + (m + 1) / 2 + q;
        for (int i = 0; i < n; ++i) out[i] = mulAdd(w, a[i] + b[i], out[i]);
    }
    std::copy_n(buffer + 2 * n, 2 * m, history);
}

template <Curve kCurve>
inline float shape(float u) noexcept {
    if constexpr (kCurve == Curve::Tanh) {
        return fastTanh(u);
    } else if constexpr (kCurve == Curve::SoftClip) {
        // The cubic 1.5 u - 0.5 u^3 on [-1, 1], flat beyond: unity slope at 0, zero slope at +-1.
        u = u > -1.0f ? u : -1.0f;  // NaN -> -1
        u = u < 1.0f ? u : 1.0f;
        return u * mulAdd(-0.5f, u * u, 1.5f);
    } else {
        // tanh above zero, 0.5 tanh(2u) below: the same slope (1) and curvature (0) at zero, but
        // the negative half clips at -1/2, which makes even harmonics.
        const float positive = fastTanh(u);
        const float negative = 0.5f * fastTanh(2.0f * u);
        return u >= 0.0f ? positive : negative;
    }
}

template <Curve kCurve>
void shapeAll(float* x, int n) noexcept {
    for (int i = 0; i < n; ++i) x[i] = shape<kCurve>(x[i]);
}

inline float shapeOne(Curve curve, float u) noexcept {
    switch (curve) {
        case Curve::Tanh:
            return shape<Curve::Tanh>(u);
        case Curve::SoftClip:
            return shape<Curve::SoftClip>(u);
        case Curve::Asymmetric:
            return shape<Curve::Asymmetric>(u);
    }
    return u;
}

/// Per-channel memory of the resampling stages and the DC blocker.
struct SaturatorChannel {
    std::array<std::array<float, kMaxSpan>, kStages> up{};
    std::array<std::array<float, 2 * kMaxSpan>, kStages> down{};
    float dcIn = 0.0f, dcOut = 0.0f;

    void clear() noexcept { *this = SaturatorChannel{}; }
};

class Saturator final : public Module {
public:
    explicit Saturator(const ModuleDescriptor& descriptor) : Module(descriptor) {
        // Kaiser beta 7.86 for all three (about 78 dB for the longest); the shorter stages need
        // fewer taps because their transition bands are wider.
        stages_[0] = designHalfBand(15, 7.86);
        stages_[1] = designHalfBand(4, 7.86);
        stages_[2] = designHalfBand(3, 7.86);
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        drive_.prepare(sampleRate);
        bias_.prepare(sampleRate);
        level_.prepare(sampleRate);
        dcCoefficient_ = static_cast<float>(std::exp(-2.0 * std::numbers::pi * kDcBlockHz / sampleRate));
        reset();
    }

    void reset() noexcept override {
        for (auto& c : channels_) c.clear();
        primed_ = 0;
    }

    /// Latency in base-rate samples of `stages` doublings (0: none).
    double latency(int stages) const noexcept {
        double samples = 0.0;
        for (int s = 0; s < stages; ++s) samples += 2.0 * stages_[static_cast<std::size_t>(s)].span() / double(2 << s);
        return samples;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp drive = drive_.next(driveGain_(param(kSaturatorDrive)), frames);
        const Ramp bias = bias_.next(param(kSaturatorBias), frames);
        const Ramp level = level_.next(levelGain_(param(kSaturatorLevel)), frames);
        const auto curve = static_cast<Curve>(std::clamp(static_cast<int>(param(kSaturatorCurve)), 0, 2));
        const int stages = std::clamp(static_cast<int>(param(kSaturatorOversampling)), 0, kStages);
        if (stages != activeStages_) {
            reset();  // the stages' histories belong to the old factor
            activeStages_ = stages;
        }
        const InputPort& in = ctx.in[kSaturatorIn];
        const OutputPort& out = ctx.out[kSaturatorOut];
        for (int c = primed_; c < out.channels; ++c) prime(channels_[static_cast<std::size_t>(c)], curve, stages, bias.start);
        primed_ = std::max(primed_, out.channels);
        for (int c = 0; c < out.channels; ++c) {
            SaturatorChannel& state = channels_[static_cast<std::size_t>(c)];
            const float* x = in.channel(c);
            float* y = out.channel(c);
            for (int start = 0; start < frames; start += kChunk) {
                const int n = std::min(kChunk, frames - start);
                alignas(64) float buffers[2][8 * kChunk];
                float* u = buffers[0];
                for (int i = 0; i < n; ++i) u[i] = mulAdd(drive.at(start + i), x[start + i], bias.at(start + i));
                int length = n;
                for (int s = 0; s < stages; ++s) {
                    float* next = buffers[(s + 1) % 2];
                    upsample(stages_[static_cast<std::size_t>(s)], state.up[static_cast<std::size_t>(s)].data(), u, length, next);
                    u = next;
                    length *= 2;
                }
                switch (curve) {
                    case Curve::Tanh:
                        shapeAll<Curve::Tanh>(u, length);
                        break;
                    case Curve::SoftClip:
                        shapeAll<Curve::SoftClip>(u, length);
                        break;
                    case Curve::Asymmetric:
                        shapeAll<Curve::Asymmetric>(u, length);
                        break;
                }
                for (int s = stages - 1; s >= 0; --s) {
                    float* next = u == buffers[0] ? buffers[1] : buffers[0];
                    length /= 2;
                    downsample(stages_[static_cast<std::size_t>(s)], state.down[static_cast<std::size_t>(s)].data(), u, length, next);
                    u = next;
                }
                // Remove the curve's value at the bias (silence stays silent), then the DC the
                // signal leaves (one-pole high-pass), then the output level.
                float dcIn = state.dcIn, dcOut = state.dcOut;
                const float r = dcCoefficient_;
                alignas(64) float rest[kChunk];
                if (bias.constant()) {
                    std::fill_n(rest, n, shapeOne(curve, bias.start));
                } else {
                    for (int i = 0; i < n; ++i) rest[i] = shapeOne(curve, bias.at(start + i));
                }
                // (The serial loop writes to the stack, not to y: a store to y that happened to
                // share its low 12 address bits with the next load of u would stall the chain.)
                for (int i = 0; i < n; ++i) {
                    const float v = u[i] - rest[i];
                    dcOut = mulAdd(r, dcOut, v - dcIn);
                    dcIn = v;
                    rest[i] = dcOut;
                }
                for (int i = 0; i < n; ++i) y[start + i] = rest[i] * level.at(start + i);
                state.dcIn = dcIn;
                state.dcOut = std::isfinite(dcOut) ? dcOut : 0.0f;
                if (!std::isfinite(dcIn)) state.clear();
            }
        }
    }

private:
    /// Fills a channel's filter histories with the steady state of a silent input at this bias
    /// (bias before the curve, f(bias) after it), so starting does not step from 0 to the bias.
    void prime(SaturatorChannel& state, Curve curve, int stages, float bias) const noexcept {
        const float shaped = shapeOne(curve, bias);
        for (int s = 0; s < stages; ++s) {
            state.up[static_cast<std::size_t>(s)].fill(bias);
            state.down[static_cast<std::size_t>(s)].fill(shaped);
        }
        state.dcIn = state.dcOut = 0.0f;
    }

    std::array<HalfBand, kStages> stages_;
    ParamSmoother drive_, bias_, level_;
    dsp::DbGain driveGain_, levelGain_;
    float dcCoefficient_ = 0.999f;
    int activeStages_ = -1;
    int primed_ = 0;  // channels whose histories hold a steady state
    std::array<SaturatorChannel, kMaxChannels> channels_{};
};

const ModuleDescriptor kSaturator{
    .id = "saturator",
    .name = "Saturator",
    .category = "Effects",
    .help =
        "Tape-style warmth and saturation: the input times Drive, plus Bias, through a soft curve, then "
        "Level. tanh is smooth and symmetric (odd harmonics); soft clip is the cubic 1.5 u - 0.5 u^3, "
        "flat beyond +-1; asymmetric clips the negative half at -1/2 (odd and even harmonics). Bias "
        "shifts the operating point for even harmonics (the offset it leaves is removed: silence "
        "stays silent, and a 5 Hz high-pass takes out the DC a signal leaves). The curve runs "
        "oversampled (2x, 4x or 8x; our own half-band filters) so its harmonics above the audio band "
        "do not fold back as aliases; 8x keeps them more than 75 dB below the fundamental for a sine "
        "at +24 dB of drive. Oversampling delays the output by 31 (2x), 35.5 (4x) or 37.25 (8x) "
        "samples; 1x (off) has none. Changing the factor restarts the filters (a short click). "
        "Polyphonic: one saturator per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to saturate"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "saturated signal"}},
    .params = {{.id = "drive",
                .name = "Drive",
                .min = -12.0f,
                .max = 36.0f,
                .defaultValue = 12.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "gain into the curve"},
               {.id = "bias",
                .name = "Bias",
                .min = -1.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "offset added before the curve: even harmonics"},
               {.id = "level",
                .name = "Level",
                .min = -36.0f,
                .max = 12.0f,
                .defaultValue = -6.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "output gain"},
               {.id = "curve",
                .name = "Curve",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"tanh", "soft clip", "asymmetric"},
                .help = "shape of the saturation"},
               {.id = "oversampling",
                .name = "Oversampling",
                .min = 0.0f,
                .max = 3.0f,
                .defaultValue = 3.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"1x (off)", "2x", "4x", "8x"},
                .help = "rate the curve runs at: more is cleaner and costlier"}},
    .create = [] { return std::unique_ptr<Module>(new Saturator(kSaturator)); },
};
const RegisterModule registerSaturator{kSaturator};

// ---------------------------------------------------------------------------------------------
// bitcrusher

enum BitcrusherInputs { kBitcrusherIn, kBitcrusherBitsIn, kBitcrusherRateIn };
enum BitcrusherOutputs { kBitcrusherOut };
enum BitcrusherParams { kBitcrusherBits, kBitcrusherRate, kBitcrusherDither };

constexpr float kMinBits = 1.0f, kMaxBits = 24.0f;
constexpr double kCycle64 = 18446744073709551616.0;  // 2^64

/// The hold's phase increment for `cyclesPerSample` (rate / fs), rounded up so a period of P
/// samples wraps on exactly every P-th sample; at most one capture per sample.
inline std::uint64_t holdIncrement(double cyclesPerSample) noexcept {
    if (!(cyclesPerSample > 0.0)) return 0;
    if (cyclesPerSample >= 1.0) return ~0ull;  // every sample
    return static_cast<std::uint64_t>(std::ceil(cyclesPerSample * kCycle64));
}

class Bitcrusher final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        bits_.prepare(sampleRate);
        octaves_.prepare(sampleRate);
        fs_ = sampleRate;
        for (int c = 0; c < kMaxChannels; ++c) stream_[c] = dsp::streamOf(instanceSeed(), 0xb17c5u, c);
        reset();
    }

    void reset() noexcept override {
        // The first sample is captured at once.
        phase_.fill(~0ull);
        held_.fill(0.0f);
        count_.fill(0);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp bits = bits_.next(param(kBitcrusherBits), frames);
        const float rate = param(kBitcrusherRate);
        if (rate != cachedRate_) {
            cachedRate_ = rate;
            cachedOctaves_ = std::log2(rate);
        }
        const Ramp octaves = octaves_.next(cachedOctaves_, frames);
        const bool dither = param(kBitcrusherDither) >= 0.5f;
        const InputPort& in = ctx.in[kBitcrusherIn];
        const InputPort& bitsIn = ctx.in[kBitcrusherBitsIn];
        const InputPort& rateIn = ctx.in[kBitcrusherRateIn];
        const OutputPort& out = ctx.out[kBitcrusherOut];
        const float bitsOffset = bitsIn.connected ? 0.0f : bitsIn.constant;
        const float rateOffset = rateIn.connected ? 0.0f : rateIn.constant;
        // A settled rate: one increment for the block (exact for rates fs / P).
        const bool settledRate = !rateIn.connected && octaves.constant();
        if (settledRate && octaves.start + rateOffset != settledOctaves_) {
            settledOctaves_ = octaves.start + rateOffset;
            settledIncrement_ = holdIncrement(std::exp2(static_cast<double>(settledOctaves_)) / fs_);
        }
        for (int c = 0; c < out.channels; ++c) {
            const float* x = in.channel(c);
            const float* bitsCv = bitsIn.connected ? bitsIn.channel(c) : nullptr;
            const float* rateCv = rateIn.connected ? rateIn.channel(c) : nullptr;
            float* y = out.channel(c);
            for (int start = 0; start < frames; start += kChunk) {
                const int n = std::min(kChunk, frames - start);
                alignas(64) float quantised[kChunk], step[kChunk];
                // The step q = 2^(1 - bits) of every frame.
                if (bitsCv) {
                    for (int i = 0; i < n; ++i) step[i] = dsp::fastPow2(1.0f - clampBits(bits.at(start + i) + bitsCv[start + i]));
                } else {
                    for (int i = 0; i < n; ++i) step[i] = dsp::fastPow2(1.0f - clampBits(bits.at(start + i) + bitsOffset));
                }
                if (dither) {
                    // TPDF dither: the sum of two uniform variates in [-q/2, q/2).
                    const std::uint64_t first = count_[c] + static_cast<std::uint64_t>(start);
                    for (int i = 0; i < n; ++i) {
                        const std::uint64_t h = dsp::hashAt(stream_[c], first + static_cast<std::uint64_t>(i));
                        const float u1 = static_cast<float>(static_cast<std::int32_t>(h >> 32)) * 0x1p-32f;
                        const float u2 = static_cast<float>(static_cast<std::int32_t>(h & 0xffffffffu)) * 0x1p-32f;
                        quantised[i] = step[i] * std::rint(x[start + i] / step[i] + (u1 + u2));
                    }
                } else {
                    for (int i = 0; i < n; ++i) quantised[i] = step[i] * std::rint(x[start + i] / step[i]);
                }
                // The hold: a capture whenever the phase wraps.
                std::uint64_t phase = phase_[c];
                float held = held_[c];
                if (rateCv || !settledRate) {
                    for (int i = 0; i < n; ++i) {
                        const float o = octaves.at(start + i) + (rateCv ? rateCv[start + i] : rateOffset);
                        const std::uint64_t increment = holdIncrement(static_cast<double>(dsp::fastPow2(clampOctaves(o))) / fs_);
                        const std::uint64_t next = phase + increment;
                        held = next < phase || increment == ~0ull ? quantised[i] : held;
                        phase = next;
                        y[start + i] = held;
                    }
                } else {
                    const std::uint64_t increment = settledIncrement_;
                    for (int i = 0; i < n; ++i) {
                        const std::uint64_t next = phase + increment;
                        held = next < phase || increment == ~0ull ? quantised[i] : held;
                        phase = next;
                        y[start + i] = held;
                    }
                }
                phase_[c] = phase;
                held_[c] = std::isfinite(held) ? held : 0.0f;
            }
            count_[c] += static_cast<std::uint64_t>(frames);
        }
    }

private:
    static float clampBits(float b) noexcept {
        b = b > kMinBits ? b : kMinBits;  // NaN -> 1 bit
        return b < kMaxBits ? b : kMaxBits;
    }
    static float clampOctaves(float o) noexcept {
        o = o > 0.0f ? o : 0.0f;  // 1 Hz .. 2^20 Hz
        return o < 20.0f ? o : 20.0f;
    }

    ParamSmoother bits_, octaves_;
    double fs_ = 48000.0;
    float cachedRate_ = -1.0f, cachedOctaves_ = 0.0f;
    float settledOctaves_ = -1000.0f;
    std::uint64_t settledIncrement_ = 0;
    std::array<std::uint64_t, kMaxChannels> stream_{}, phase_{}, count_{};
    std::array<float, kMaxChannels> held_{};
};

const ModuleDescriptor kBitcrusher{
    .id = "bitcrusher",
    .name = "Bitcrusher",
    .category = "Effects",
    .help =
        "Lo-fi digital grit: fewer bits and a lower sample rate. Bits sets the quantisation step "
        "q = 2^(1 - bits) of the full scale +-1 (1 bit: levels -1, 0, 1; 8 bits: 1/128; fractional "
        "values move smoothly between), mid-tread, so silence stays silent. Rate holds one sample "
        "every fs / rate samples (a rate that divides the sample rate holds exactly that many, every "
        "time; at or above the sample rate nothing is held). Dither adds triangular noise of +-q "
        "before quantising, which trades the distortion for a steady hiss and keeps quiet details "
        "audible. The Bits input adds to the knob, the Rate input is in octaves (rate x 2^cv). "
        "Polyphonic: one crusher per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to crush"},
               {.id = "bits", .name = "Bits", .kind = SignalKind::Control, .help = "added to the Bits knob"},
               {.id = "rate", .name = "Rate", .kind = SignalKind::Pitch, .help = "octaves added to the Rate knob"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "crushed signal"}},
    .params = {{.id = "bits",
                .name = "Bits",
                .min = kMinBits,
                .max = kMaxBits,
                .defaultValue = 8.0f,
                .unit = "bits",
                .curve = ParamCurve::Linear,
                .help = "resolution: step 2^(1 - bits)"},
               {.id = "rate",
                .name = "Rate",
                .min = 50.0f,
                .max = 192000.0f,
                .defaultValue = 12000.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "sample-and-hold rate"},
               {.id = "dither",
                .name = "Dither",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "triangular dither of +-1 step before quantising"}},
    .create = [] { return std::unique_ptr<Module>(new Bitcrusher(kBitcrusher)); },
};
const RegisterModule registerBitcrusher{kBitcrusher};

}  // namespace
}  // namespace kabel
