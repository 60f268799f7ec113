// Oscillators: sine, band-limited saw, white and pink noise.
//
// Design note. Sine and saw keep their phase as a uint32 (2^32 per cycle, core/dsp/fast_math.hpp),
// so they are exact in frequency (1.1e-5 Hz steps at 48 kHz) and never drift. Each block takes
// one of two kernels, chosen per block and never per sample (STYLE.md §5):
//   - constant: pitch unpatched and the frequency knob at rest. The phase of frame n is
//     phase + n * increment, computed independently per frame, so the loop has no carried
//     dependency and auto-vectorises (the sine runs at a fraction of a nanosecond per sample).
//   - modulated: per-frame increments from freq * 2^pitch (fast pow2, vectorised), a scalar
//     running sum for the phases (one add per frame), then the vectorised waveform.
// The saw is a naive ramp plus a band-limited step residual (BLEP) at each wrap: a 24-tap
// Kaiser-windowed sinc step (cut-off 0.42 fs), tabulated at 64 sub-sample offsets with linear
// interpolation. The kernel is linear-phase, so the saw's output is delayed by 12 samples
// (0.25 ms at 48 kHz). Alias products measure below -80 dB re the fundamental for 1-5 kHz at
// 48 kHz (tests/unit/test_oscillators.cpp); the top octave rolls off (-0.9 dB at 18 kHz).
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

// Modulated kernels work on chunks of at most this many frames (stack arrays, no allocation).
constexpr int kChunk = 64;

enum OscInputs { kOscPitch };
enum OscOutputs { kOscOut };
enum OscParams { kOscFreq };

std::vector<PortDescriptor> oscInputs() {
    return {{.id = "pitch",
             .name = "Pitch",
             .kind = SignalKind::Pitch,
             .defaultValue = 0.0f,
             .help = "octaves added to the frequency: +1 doubles it (1 V/oct). A polyphonic pitch "
                     "gives one voice per channel"}};
}

ParamDescriptor freqParam() {
    return {.id = "freq",
            .name = "Frequency",
            .min = 0.1f,
            .max = 20000.0f,
            .defaultValue = 261.6256f,
            .unit = "Hz",
            .curve = ParamCurve::Exponential,
            .help = "frequency at pitch 0; the default is C4, so pitch reads as octaves re C4"};
}

// Caches the increment of the constant kernel: recomputed (in double) only when the knob or the
// unpatched pitch value changes, so a bank of idle oscillators pays one compare per block.
class ConstantIncrement {
public:
    void prepare(double sampleRate) noexcept {
        sampleRate_ = sampleRate;
        freq_ = -1.0f;
    }
    std::uint32_t get(float freq, float pitch) noexcept {
        if (freq != freq_ || pitch != pitch_) {
            freq_ = freq;
            pitch_ = pitch;
            increment_ = dsp::phaseIncrement(double(freq) * std::exp2(double(pitch)) / sampleRate_);
        }
        return increment_;
    }

private:
    double sampleRate_ = 48000.0;
    float freq_ = -1.0f, pitch_ = 0.0f;
    std::uint32_t increment_ = 0;
};

// Per-frame increments for frames [offset, offset + n) of the block: (freq ramp) * 2^pitch.
void modulatedIncrements(std::uint32_t* inc, const float* pitch, Ramp freq, float invSampleRate, int offset, int n) noexcept {
    const float f0 = freq.at(offset) * invSampleRate;
    const float df = freq.step * invSampleRate;
    for (int i = 0; i < n; ++i) inc[i] = dsp::phaseIncrementFast((f0 + float(i) * df) * dsp::fastPow2(pitch[i]));
}

// ---------------------------------------------------------------------------------------------
// sine

class Sine final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        freq_.prepare(sampleRate);
        constant_.prepare(sampleRate);
    }

    void reset() noexcept override {
        phase_.fill(0);
        freq_.reset(param(kOscFreq));
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp freq = freq_.next(param(kOscFreq), frames);
        const InputPort& pitch = ctx.in[kOscPitch];
        const OutputPort& out = ctx.out[kOscOut];
        if (!pitch.connected && freq.constant()) {
            const std::uint32_t inc = constant_.get(freq.start, pitch.constant);
            for (int c = 0; c < out.channels; ++c) {
                renderConstant(out.channel(c), phase_[c], inc, frames);
                phase_[c] += static_cast<std::uint32_t>(frames) * inc;
            }
            return;
        }
        const float invSampleRate = static_cast<float>(1.0 / sampleRate());
        for (int c = 0; c < out.channels; ++c) {
            const float* p = pitch.channel(c);
            float* o = out.channel(c);
            std::uint32_t phase = phase_[c];
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                std::array<std::uint32_t, kChunk> ph;
                modulatedIncrements(ph.data(), p + offset, freq, invSampleRate, offset, n);
                for (int i = 0; i < n; ++i) {  // running sum: increments become phases
                    const std::uint32_t inc = ph[static_cast<std::size_t>(i)];
                    ph[static_cast<std::size_t>(i)] = phase;
                    phase += inc;
                }
                for (int i = 0; i < n; ++i) o[offset + i] = dsp::fastSin2pi(dsp::phaseToSigned(ph[static_cast<std::size_t>(i)]));
            }
            phase_[c] = phase;
        }
    }

private:
    static void renderConstant(float* __restrict out, std::uint32_t phase, std::uint32_t inc, int frames) noexcept {
        for (int n = 0; n < frames; ++n) out[n] = dsp::fastSin2pi(dsp::phaseToSigned(phase + static_cast<std::uint32_t>(n) * inc));
    }

    ParamSmoother freq_;
    ConstantIncrement constant_;
    std::array<std::uint32_t, kMaxChannels> phase_{};
};

const ModuleDescriptor kSine{
    .id = "sine",
    .name = "Sine Oscillator",
    .category = "Oscillators",
    .help =
        "A pure sine wave, exact in frequency (it never drifts, even over hours) and clean "
        "(harmonics and noise below -120 dB). Frequency = Frequency knob x 2^Pitch, so with "
        "the knob at its default (C4) the Pitch input reads octaves re C4. A polyphonic Pitch "
        "makes one sine per channel. Starts at phase 0 (0, rising) and after a reset.",
    .inputs = oscInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "sine wave, +-1"}},
    .params = {freqParam()},
    .create = [] { return std::unique_ptr<Module>(new Sine(kSine)); },
};
const RegisterModule registerSine{kSine};

// ---------------------------------------------------------------------------------------------
// saw

// The band-limited step residual: for a unit step at time t0, the windowed-sinc step minus the
// ideal step, at the kTaps frames around t0. Row p holds offsets frac = p / kOversample (frac:
// how long before the first frame after the step the step happened, in frames); tap i is frame
// (first frame after the step) - kTaps/2 + i. `delta` is the next row minus this one, for linear
// interpolation with one multiply-add. Pre-scaled by the saw's step (-2).
struct BlepTable {
    static constexpr int kTaps = 24;
    static constexpr int kOversample = 64;
    static constexpr int kDelay = kTaps / 2;
    struct Row {
        alignas(32) std::array<float, kTaps> value;
        alignas(32) std::array<float, kTaps> delta;
    };
    std::array<Row, kOversample> rows;
};

double besselI0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 60; ++k) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if (term < 1e-17 * sum) break;
    }
    return sum;
}

// Built once, at the first saw's construction (UI thread), by integrating the kernel numerically.
BlepTable buildBlepTable() {
    constexpr int N = BlepTable::kTaps;
    constexpr int M = BlepTable::kOversample;
    constexpr double kCutoff = 0.42;  // cycles per sample: -0.9 dB at 18 kHz, stop band from 24 kHz
    constexpr double kBeta = 7.0;     // Kaiser window
    constexpr int kSteps = 16 * M;    // integration steps per frame (Simpson)
    const double half = N / 2.0;
    const double i0Beta = besselI0(kBeta);
    auto kernel = [&](double t) {
        const double x = t / half;
        const double window = besselI0(kBeta * std::sqrt(std::max(0.0, 1.0 - x * x))) / i0Beta;
        const double sinc = t == 0.0 ? 2.0 * kCutoff : std::sin(2.0 * std::numbers::pi * kCutoff * t) / (std::numbers::pi * t);
        return sinc * window;
    };
    std::vector<double> cumulative(static_cast<std::size_t>(N * kSteps + 1), 0.0);
    double sum = 0.0;
    for (int j = 0; j < N * kSteps; ++j) {
        const double t0 = -half + double(j) / kSteps, t1 = t0 + 1.0 / kSteps;
        sum += (kernel(t0) + 4.0 * kernel(0.5 * (t0 + t1)) + kernel(t1)) / (6.0 * kSteps);
        cumulative[static_cast<std::size_t>(j + 1)] = sum;
    }
    auto residual = [&](int p, int i) {  // at tau = i - N/2 + p/M frames after the step
        const int j = i * kSteps + p * (kSteps / M);
        const double step = i >= N / 2 ? 1.0 : 0.0;  // which side of the step frame i is on
        return cumulative[static_cast<std::size_t>(j)] / sum - step;
    };
    BlepTable table{};
    constexpr double kStepHeight = -2.0;  // the saw falls from +1 to -1
    for (int p = 0; p < M; ++p)
        for (int i = 0; i < N; ++i) {
            const double a = residual(p, i), b = residual(p + 1, i);
            table.rows[static_cast<std::size_t>(p)].value[static_cast<std::size_t>(i)] = static_cast<float>(kStepHeight * a);
            table.rows[static_cast<std::size_t>(p)].delta[static_cast<std::size_t>(i)] = static_cast<float>(kStepHeight * (b - a));
        }
    return table;
}

const BlepTable& blepTable() {
    static const BlepTable table = buildBlepTable();
    return table;
}

class Saw final : public Module {
public:
    // Not reset(): that would prime the frequency glide with the default before the patch's
    // value is set.
    explicit Saw(const ModuleDescriptor& d) : Module(d), blep_(&blepTable()) { ramp_.fill(0x80000000u); }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        freq_.prepare(sampleRate);
        constant_.prepare(sampleRate);
    }

    void reset() noexcept override {
        ramp_.fill(0x80000000u);  // phase 0: the ramp at 0, rising (as the sine)
        for (auto& a : acc_) a.fill(0.0f);
        freq_.reset(param(kOscFreq));
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp freq = freq_.next(param(kOscFreq), frames);
        const InputPort& pitch = ctx.in[kOscPitch];
        const OutputPort& out = ctx.out[kOscOut];
        const bool constant = !pitch.connected && freq.constant();
        const std::uint32_t constantInc = constant ? std::max<std::uint32_t>(1, constant_.get(freq.start, pitch.constant)) : 0;
        const float invSampleRate = static_cast<float>(1.0 / sampleRate());
        for (int c = 0; c < out.channels; ++c) {
            const float* p = pitch.channel(c);
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                if (constant)
                    renderConstant(c, constantInc, n);
                else
                    renderModulated(c, p + offset, freq, invSampleRate, offset, n);
                // Output the chunk, keep the residual tail that reaches into the next one.
                float* a = acc_[static_cast<std::size_t>(c)].data();
                std::copy_n(a, n, o + offset);
                std::copy_n(a + n, kTaps, a);
            }
        }
    }

private:
    static constexpr int kTaps = BlepTable::kTaps;
    static constexpr int kDelay = BlepTable::kDelay;

    // acc[0..kTaps) holds what earlier chunks left for these frames; frame n of the naive ramp
    // lands at acc[n + kDelay] and a step before frame m adds its residual at acc[m..m+kTaps).
    float* beginChunk(int c, int n) noexcept {
        float* a = acc_[static_cast<std::size_t>(c)].data();
        std::fill_n(a + kTaps, n, 0.0f);
        return a;
    }

    void renderConstant(int c, std::uint32_t inc, int n) noexcept {
        float* __restrict a = beginChunk(c, n);
        const std::uint32_t q = ramp_[static_cast<std::size_t>(c)];
        float* __restrict naive = a + kDelay;
        for (int i = 0; i < n; ++i) naive[i] += rampValue(q + static_cast<std::uint32_t>(i) * inc);
        // Steps: the ramp wraps before frame m when q + m * inc passes 2^32 (m = 1..n: the step
        // into the next chunk's first frame is handled here, where its residual starts).
        const float invInc = 1.0f / static_cast<float>(inc);
        std::uint64_t m = (0x100000000ull - q + inc - 1) / inc;
        while (m <= static_cast<std::uint64_t>(n)) {
            const std::uint32_t after = q + static_cast<std::uint32_t>(m) * inc;  // small: just past the wrap
            addStep(a + m, static_cast<float>(after) * invInc);
            m += (0x100000000ull - after + inc - 1) / inc;
        }
        ramp_[static_cast<std::size_t>(c)] = q + static_cast<std::uint32_t>(n) * inc;
    }

    void renderModulated(int c, const float* pitch, Ramp freq, float invSampleRate, int offset, int n) noexcept {
        float* __restrict a = beginChunk(c, n);
        std::array<std::uint32_t, kChunk> inc;
        std::array<std::uint32_t, kChunk + 1> phase;  // phase[n]: the next chunk's first
        modulatedIncrements(inc.data(), pitch, freq, invSampleRate, offset, n);
        std::uint32_t q = ramp_[static_cast<std::size_t>(c)];
        for (int i = 0; i < n; ++i) {  // running sum (at least 1 per frame, so a wrap is visible)
            phase[static_cast<std::size_t>(i)] = q;
            q += std::max<std::uint32_t>(1, inc[static_cast<std::size_t>(i)]);
        }
        phase[static_cast<std::size_t>(n)] = q;
        ramp_[static_cast<std::size_t>(c)] = q;
        float* __restrict naive = a + kDelay;
        for (int i = 0; i < n; ++i) naive[i] += rampValue(phase[static_cast<std::size_t>(i)]);
        // Steps: where the phase went down. A vectorised count first; most chunks have none.
        int wraps = 0;
        for (int i = 0; i < n; ++i) wraps += phase[static_cast<std::size_t>(i + 1)] < phase[static_cast<std::size_t>(i)] ? 1 : 0;
        for (int i = 0; wraps > 0 && i < n; ++i) {
            const std::uint32_t after = phase[static_cast<std::size_t>(i + 1)];
            if (after < phase[static_cast<std::size_t>(i)]) {
                const std::uint32_t d = std::max<std::uint32_t>(1, inc[static_cast<std::size_t>(i)]);
                addStep(a + i + 1, static_cast<float>(after) / static_cast<float>(d));
                --wraps;
            }
        }
    }

    // -1 at the wrap, rising to +1 (exactly: 24 bits).
    static float rampValue(std::uint32_t q) noexcept { return static_cast<float>(q >> 8) * 0x1p-23f - 1.0f; }

    // Adds the residual of a step that happened `frac` frames (0..1) before frame dst[kDelay].
    void addStep(float* __restrict dst, float frac) const noexcept {
        const float pos = frac * float(BlepTable::kOversample);
        const int row = std::min(static_cast<int>(pos), BlepTable::kOversample - 1);
        const float w = pos - float(row);
        const BlepTable::Row& r = blep_->rows[static_cast<std::size_t>(row)];
        for (int i = 0; i < kTaps; ++i) dst[i] += r.value[static_cast<std::size_t>(i)] + w * r.delta[static_cast<std::size_t>(i)];
    }

    const BlepTable* blep_;
    ParamSmoother freq_;
    ConstantIncrement constant_;
    std::array<std::uint32_t, kMaxChannels> ramp_{};
    std::array<std::array<float, kChunk + kTaps>, kMaxChannels> acc_{};
};

const ModuleDescriptor kSaw{
    .id = "saw",
    .name = "Saw Oscillator",
    .category = "Oscillators",
    .help =
        "A rising sawtooth (+-1), band-limited: each wrap is smoothed by a tabulated "
        "band-limited step, so alias products stay more than 80 dB below the fundamental up "
        "to 5 kHz at 48 kHz, and the harmonics roll off gently above 15 kHz. Frequency = "
        "Frequency knob x 2^Pitch (octaves re C4 at the default). The output is delayed by "
        "12 samples (0.25 ms), the price of a linear-phase step. Starts at 0, rising.",
    .inputs = oscInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "rising sawtooth, +-1"}},
    .params = {freqParam()},
    .create = [] { return std::unique_ptr<Module>(new Saw(kSaw)); },
};
const RegisterModule registerSaw{kSaw};

// ---------------------------------------------------------------------------------------------
// noise

enum NoiseOutputs { kNoiseOut };
enum NoiseParams { kNoiseColor, kNoiseChannels };

// murmur3's 32-bit finaliser: a bijection that mixes every input bit into every output bit.
inline std::uint32_t mix32(std::uint32_t h) noexcept {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

// Pink filter. Designed as a cascade of first-order pole-zero pairs: poles every 2 octaves from
// 5 Hz, each zero an octave above its pole, so each pair falls 6 dB per 2 octaves: -3 dB/octave
// on average (within 0.3 dB over 100 Hz-10 kHz at 48 kHz; flat below 5 Hz, so no DC wander);
// matched-z mapping; pairs whose pole would lie above Nyquist are left out. Run in parallel form
// (partial fractions, computed in double at prepare): y = d x + sum_k r_k s_k with
// s_k <- p_k s_k + x, so the per-sample recursions are independent one-poles that run side by
// side (and vectorise across k) instead of a chain of kPinkPoles dependent sections.
constexpr int kPinkPoles = 8;

class Noise final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override {
        return std::clamp(static_cast<int>(param(kNoiseChannels)), 1, kMaxChannels);
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        // A distinct stream per instance (from its seed: the patch's module id) and per channel,
        // the same on every render of the patch.
        const std::uint64_t seed = instanceSeed();
        const std::uint32_t instance = mix32(static_cast<std::uint32_t>(seed) ^ mix32(static_cast<std::uint32_t>(seed >> 32)));
        for (int c = 0; c < kMaxChannels; ++c) {
            const std::uint32_t id = instance + static_cast<std::uint32_t>(c) * 0x9e3779b9u;
            offset_[static_cast<std::size_t>(c)] = mix32(id * 2u + 1u);
            multiplier_[static_cast<std::size_t>(c)] = mix32(id ^ 0x5bd1e995u) | 1u;  // odd: a full-period Weyl sequence
        }
        std::array<double, kPinkPoles> poles{}, zeros{};
        int count = 0;
        for (double f = 5.0; f < 0.5 * sampleRate && count < kPinkPoles; f *= 4.0, ++count) {
            poles[static_cast<std::size_t>(count)] = std::exp(-2.0 * std::numbers::pi * f / sampleRate);
            zeros[static_cast<std::size_t>(count)] = std::exp(-2.0 * std::numbers::pi * 2.0 * f / sampleRate);
        }
        // Normalise the output power to white's: mean |H|^2 over the band.
        constexpr int kPoints = 8192;
        double power = 0.0;
        for (int k = 0; k < kPoints; ++k) {
            const std::complex<double> zInv = std::polar(1.0, -std::numbers::pi * (k + 0.5) / kPoints);
            std::complex<double> h = 1.0;
            for (int j = 0; j < count; ++j)
                h *= (1.0 - zeros[static_cast<std::size_t>(j)] * zInv) / (1.0 - poles[static_cast<std::size_t>(j)] * zInv);
            power += std::norm(h);
        }
        const double gain = 1.0 / std::sqrt(power / kPoints);
        // H(z) = d + sum_k r_k / (1 - p_k z^-1): d is H at z^-1 -> infinity, r_k the residues.
        double direct = gain;
        for (int j = 0; j < count; ++j) direct *= zeros[static_cast<std::size_t>(j)] / poles[static_cast<std::size_t>(j)];
        direct_ = static_cast<float>(direct);
        pole_.fill(0.0f);
        residue_.fill(0.0f);  // unused slots: a pole at 0 with no weight
        for (int k = 0; k < count; ++k) {
            const double pk = poles[static_cast<std::size_t>(k)];
            double r = gain;
            for (int j = 0; j < count; ++j) {
                r *= 1.0 - zeros[static_cast<std::size_t>(j)] / pk;
                if (j != k) r /= 1.0 - poles[static_cast<std::size_t>(j)] / pk;
            }
            pole_[static_cast<std::size_t>(k)] = static_cast<float>(pk);
            residue_[static_cast<std::size_t>(k)] = static_cast<float>(r);
        }
        reset();
    }

    void reset() noexcept override {
        counter_.fill(0);
        for (auto& s : state_) s = {};
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const OutputPort& out = ctx.out[kNoiseOut];
        const bool pink = param(kNoiseColor) >= 0.5f;
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            float* __restrict o = out.channel(c);
            const std::uint32_t base = counter_[cc] + offset_[cc], mul = multiplier_[cc];
            for (int n = 0; n < frames; ++n) {
                const std::uint32_t h = mix32((base + static_cast<std::uint32_t>(n)) * mul);
                o[n] = static_cast<float>(static_cast<std::int32_t>(h) >> 8) * 0x1p-23f;  // [-1, 1)
            }
            counter_[cc] += static_cast<std::uint32_t>(frames);
            if (pink) filterPink(state_[cc], o, frames);
        }
    }

private:
    struct PinkState {
        std::array<float, kPinkPoles> s{};
    };

    void filterPink(PinkState& st, float* io, int frames) const noexcept {
        std::array<float, kPinkPoles> state = st.s;
        const std::array<float, kPinkPoles> p = pole_, r = residue_;
        const float d = direct_;
        for (int n = 0; n < frames; ++n) {
            const float x = io[n];
            std::array<float, kPinkPoles> t;
            for (std::size_t k = 0; k < kPinkPoles; ++k) {
                state[k] = p[k] * state[k] + x;
                t[k] = r[k] * state[k];
            }
            // a pairwise sum: 3 dependent adds per sample instead of 8
            static_assert(kPinkPoles == 8);
            io[n] = d * x + (((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7])));
        }
        st.s = state;
    }

    std::array<std::uint32_t, kMaxChannels> counter_{}, offset_{}, multiplier_{};
    std::array<PinkState, kMaxChannels> state_{};
    std::array<float, kPinkPoles> pole_{}, residue_{};
    float direct_ = 0.0f;
};

const ModuleDescriptor kNoise{
    .id = "noise",
    .name = "Noise",
    .category = "Oscillators",
    .help =
        "White or pink noise. White is uniform in [-1, 1) (RMS 0.577) with a flat spectrum; "
        "pink falls 3 dB per octave (equal energy per octave, the sound of rain or a "
        "waterfall), scaled to the same RMS as white, so its peaks reach past +-1. Channels "
        "sets how many independent noise channels the output carries (for polyphonic "
        "patches); every channel and every Noise module has its own stream.",
    .inputs = {},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "noise, RMS 0.577"}},
    .params = {{.id = "color",
                .name = "Color",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"white", "pink"},
                .help = "white (flat) or pink (-3 dB/octave)"},
               {.id = "channels",
                .name = "Channels",
                .min = 1.0f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "independent channels on the output",
                .structural = true}},
    .create = [] { return std::unique_ptr<Module>(new Noise(kNoise)); },
};
const RegisterModule registerNoise{kNoise};

}  // namespace
}  // namespace kabel
