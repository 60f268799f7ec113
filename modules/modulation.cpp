// Modulation sources: the LFO.
//
// Design note. The LFO is a control signal, so it is not band-limited, but it is exact in time:
// its phase is a uint64 (2^64 per cycle) whose increment is rounded *up* from a long-double
// rate / sampleRate. A cycle of P samples (P an integer, e.g. 2 Hz at 48 kHz -> 24000) then wraps
// exactly on sample P, 2P, ... for longer than any performance (the excess is < P units of 2^-64
// per cycle), and the square's falling edge, compared against pw in 64 bits less a margin of
// 2^-25 cycle (half a float ulp of pw), lands exactly on sample round-up(pw * P): 14400 for
// pw 0.6 at 2 Hz, although 0.6f is 0.60000002.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

constexpr int kChunk = 64;

enum LfoInputs { kLfoRateIn, kLfoResetIn };
enum LfoOutputs { kLfoOut };
enum LfoParams { kLfoRate, kLfoShape, kLfoPw, kLfoPhase, kLfoUnipolar };
enum LfoShape { kShapeSine, kShapeTriangle, kShapeSaw, kShapeSquare };

constexpr long double kCycle64 = 18446744073709551616.0L;  // 2^64

// Phase increment for `cyclesPerSample`, rounded up (see the design note); at most half a cycle.
std::uint64_t increment64(double cyclesPerSample) noexcept {
    if (!(cyclesPerSample > 0.0)) return 0;
    if (cyclesPerSample >= 0.5) return 0x8000000000000000ull;
    return static_cast<std::uint64_t>(std::ceil(static_cast<long double>(cyclesPerSample) * kCycle64));
}

// A fraction of a cycle in [0, 1] as a phase (1 wraps to 0).
std::uint64_t phase64(float cycles) noexcept {
    const long double x = std::clamp(static_cast<long double>(cycles), 0.0L, 1.0L) * kCycle64;
    return x >= kCycle64 ? 0 : static_cast<std::uint64_t>(x);
}

class Lfo final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        rate_.prepare(sampleRate);
        cachedRate_ = -1.0f;
    }

    void reset() noexcept override {
        started_ = false;
        resetHigh_.fill(false);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp rate = rate_.next(param(kLfoRate), frames);
        const int shape = std::clamp(static_cast<int>(param(kLfoShape)), 0, 3);
        const bool unipolar = param(kLfoUnipolar) >= 0.5f;
        // pw is not smoothed: a jump only moves the square's next edge (a step of the size the
        // square makes anyway), and smoothing would move the edges off exact samples.
        const std::uint64_t threshold = pw_.get(param(kLfoPw)) - (std::uint64_t{1} << 39);
        const std::uint64_t start = startPhase_.get(param(kLfoPhase));
        if (!started_) {
            phase_.fill(start);
            shape_ = shape;
            unipolar_ = unipolar;
            started_ = true;
        }
        // A change of shape or polarity crossfades over this block instead of jumping.
        const bool fade = shape != shape_ || unipolar != unipolar_;
        const int oldShape = shape_;
        const bool oldUnipolar = unipolar_;
        shape_ = shape;
        unipolar_ = unipolar;

        const InputPort& rateIn = ctx.in[kLfoRateIn];
        const InputPort& resetIn = ctx.in[kLfoResetIn];
        const OutputPort& out = ctx.out[kLfoOut];
        const float blockRate = rate.constant() ? rate.start : rate.at(frames / 2);
        const std::uint64_t constantInc = rateIn.connected ? 0 : constantIncrement(blockRate, rateIn.constant);
        const float invSampleRate = static_cast<float>(1.0 / sampleRate());

        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const float* cv = rateIn.channel(c);
            const float* rs = resetIn.channel(c);
            float* o = out.channel(c);
            std::uint64_t phase = phase_[cc];
            bool resetHigh = resetHigh_[cc];
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                std::array<std::uint64_t, kChunk> ph;
                if (!rateIn.connected && !resetIn.connected && shape != kShapeSquare && !fade) {
                    // Waveform values need only the top 32 bits of the phase: a uint32 phase
                    // stepping by the truncated increment (off by < 64 units of 2^-32 at the end
                    // of a chunk) while the exact 64-bit phase advances for the next chunk.
                    renderSmooth(shape, unipolar, static_cast<std::uint32_t>(phase >> 32), static_cast<std::uint32_t>(constantInc >> 32),
                                 o + offset, n);
                    phase += static_cast<std::uint64_t>(n) * constantInc;
                    continue;
                }
                if (!rateIn.connected && !resetIn.connected) {
                    for (int i = 0; i < n; ++i) ph[static_cast<std::size_t>(i)] = phase + static_cast<std::uint64_t>(i) * constantInc;
                    phase += static_cast<std::uint64_t>(n) * constantInc;
                } else {
                    std::array<std::uint64_t, kChunk> inc;
                    if (rateIn.connected) {
                        std::array<std::uint32_t, kChunk> inc32;
                        for (int i = 0; i < n; ++i)
                            inc32[static_cast<std::size_t>(i)] =
                                dsp::phaseIncrementFast(blockRate * invSampleRate * dsp::fastPow2(cv[offset + i]));
                        for (int i = 0; i < n; ++i)
                            inc[static_cast<std::size_t>(i)] = std::uint64_t{inc32[static_cast<std::size_t>(i)]} << 32;
                    } else {
                        inc.fill(constantInc);
                    }
                    for (int i = 0; i < n; ++i) {
                        if (resetIn.connected) {
                            const bool high = rs[offset + i] >= 0.5f;
                            if (high && !resetHigh) phase = start;  // rising edge: restart on this frame
                            resetHigh = high;
                        }
                        ph[static_cast<std::size_t>(i)] = phase;
                        phase += inc[static_cast<std::size_t>(i)];
                    }
                }
                render(shape, unipolar, threshold, ph.data(), o + offset, n);
                if (fade) {
                    std::array<float, kChunk> old;
                    render(oldShape, oldUnipolar, threshold, ph.data(), old.data(), n);
                    const float step = 1.0f / static_cast<float>(frames);
                    for (int i = 0; i < n; ++i) {
                        const float w = static_cast<float>(offset + i + 1) * step;
                        o[offset + i] = old[static_cast<std::size_t>(i)] + w * (o[offset + i] - old[static_cast<std::size_t>(i)]);
                    }
                }
            }
            phase_[cc] = phase;
            resetHigh_[cc] = resetHigh;
        }
    }

private:
    std::uint64_t constantIncrement(float rate, float octaves) noexcept {
        if (rate != cachedRate_ || octaves != cachedOctaves_) {
            cachedRate_ = rate;
            cachedOctaves_ = octaves;
            cachedInc_ = increment64(double(rate) * std::exp2(double(octaves)) / sampleRate());
        }
        return cachedInc_;
    }

    // Sine, triangle or saw from a uint32 phase q + i * d: the oscillators' vectorised kernel.
    static void renderSmooth(int shape, bool unipolar, std::uint32_t q, std::uint32_t d, float* __restrict out, int n) noexcept {
        const float scale = unipolar ? 0.5f : 1.0f, offset = unipolar ? 0.5f : 0.0f;
        switch (shape) {
            case kShapeSine:
                for (int i = 0; i < n; ++i)
                    out[i] = scale * dsp::fastSin2pi(dsp::phaseToSigned(q + static_cast<std::uint32_t>(i) * d)) + offset;
                break;
            case kShapeTriangle:
                for (int i = 0; i < n; ++i) {
                    const std::uint32_t t = q + static_cast<std::uint32_t>(i) * d + 0x40000000u;
                    out[i] = scale * (4.0f * std::fabs(dsp::phaseToSigned(t)) - 1.0f) + offset;
                }
                break;
            default:
                for (int i = 0; i < n; ++i)
                    out[i] = scale * (2.0f * dsp::phaseToUnit(q + static_cast<std::uint32_t>(i) * d) - 1.0f) + offset;
                break;
        }
    }

    static void render(int shape, bool unipolar, std::uint64_t threshold, const std::uint64_t* __restrict ph, float* __restrict out,
                       int n) noexcept {
        switch (shape) {
            case kShapeSine:
                for (int i = 0; i < n; ++i) out[i] = dsp::fastSin2pi(dsp::phaseToSigned(static_cast<std::uint32_t>(ph[i] >> 32)));
                break;
            case kShapeTriangle:  // 0 rising at phase 0, +1 at 1/4, -1 at 3/4 (in step with the sine)
                for (int i = 0; i < n; ++i) {
                    const std::uint32_t t = static_cast<std::uint32_t>(ph[i] >> 32) + 0x40000000u;
                    out[i] = 4.0f * std::fabs(dsp::phaseToSigned(t)) - 1.0f;
                }
                break;
            case kShapeSaw:  // -1 at phase 0, rising to +1
                for (int i = 0; i < n; ++i) out[i] = 2.0f * dsp::phaseToUnit(static_cast<std::uint32_t>(ph[i] >> 32)) - 1.0f;
                break;
            default:  // square: high for phase < pw
                for (int i = 0; i < n; ++i) out[i] = ph[i] < threshold ? 1.0f : -1.0f;
                break;
        }
        if (unipolar)
            for (int i = 0; i < n; ++i) out[i] = 0.5f * out[i] + 0.5f;
    }

    // A param as a 64-bit phase, converted (in long double) only when the param changes.
    struct CachedPhase {
        float value = -1.0f;
        std::uint64_t phase = 0;
        std::uint64_t get(float v) noexcept {
            if (v != value) {
                value = v;
                phase = phase64(v);
            }
            return phase;
        }
    };

    ParamSmoother rate_;
    CachedPhase pw_, startPhase_;
    float cachedRate_ = -1.0f, cachedOctaves_ = 0.0f;
    std::uint64_t cachedInc_ = 0;
    bool started_ = false;
    int shape_ = 0;
    bool unipolar_ = false;
    std::array<std::uint64_t, kMaxChannels> phase_{};
    std::array<bool, kMaxChannels> resetHigh_{};
};

const ModuleDescriptor kLfo{
    .id = "lfo",
    .name = "LFO",
    .category = "Modulation",
    .help =
        "A low-frequency oscillator for modulation: sine, triangle, saw or square, exact in "
        "time (a 2 Hz square at 48 kHz switches on every 24000th sample, for ever). At phase "
        "0 the sine and triangle start at 0 rising, the saw at its bottom rising, and the "
        "square high; the square stays high for the first PW of each cycle. Unipolar maps "
        "the +-1 output to 0..1, so a unipolar square is a gate clock. A rising edge on Reset "
        "restarts the cycle at Phase on that very sample. The Rate input adds octaves to the "
        "rate (+1 doubles it). Changing the shape or polarity crossfades over one block.",
    .inputs = {{.id = "rate",
                .name = "Rate",
                .kind = SignalKind::Control,
                .defaultValue = 0.0f,
                .help = "octaves added to the rate: rate x 2^input"},
               {.id = "reset",
                .name = "Reset",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge through 0.5 restarts the cycle at Phase"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Control, .help = "+-1, or 0..1 when Unipolar"}},
    .params = {{.id = "rate",
                .name = "Rate",
                .min = 0.01f,
                .max = 1000.0f,
                .defaultValue = 1.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "cycles per second"},
               {.id = "shape",
                .name = "Shape",
                .min = 0.0f,
                .max = 3.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"sine", "triangle", "saw", "square"},
                .help = "waveform"},
               {.id = "pw",
                .name = "Pulse Width",
                .min = 0.01f,
                .max = 0.99f,
                .defaultValue = 0.5f,
                .unit = "",
                .help = "fraction of each cycle the square is high"},
               {.id = "phase",
                .name = "Phase",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "cycles",
                .help = "where the cycle starts, at start-up and on each reset"},
               {.id = "unipolar",
                .name = "Unipolar",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "off: +-1; on: 0..1"}},
    .create = [] { return std::unique_ptr<Module>(new Lfo(kLfo)); },
};
const RegisterModule registerLfo{kLfo};

}  // namespace
}  // namespace kabel
