// Oscillators: sine, band-limited saw, pulse and triangle, a two-operator FM voice, white and
// pink noise. The wavetable oscillator is in wavetable.cpp; the machinery they share (ports,
// the phase kernel with through-zero FM, phase modulation and hard sync, the BLEP and BLAMP
// residuals) is declared in oscillator_core.hpp and defined here.
//
// Design note. Sine and saw keep their phase as a uint32 (2^32 per cycle, core/dsp/fast_math.hpp),
// so they are exact in frequency (1.1e-5 Hz steps at 48 kHz) and never drift. With fm, pm and
// sync unpatched each block takes one of two fast kernels, chosen per block and never per
// sample (STYLE.md §5):
//   - constant: pitch unpatched and the frequency knob at rest. The phase of frame n is
//     phase + n * increment, computed independently per frame, so the loop has no carried
//     dependency and auto-vectorises (the sine runs at a fraction of a nanosecond per sample).
//   - modulated: per-frame increments from freq * 2^pitch (fast pow2, vectorised), a scalar
//     running sum for the phases (one add per frame), then the vectorised waveform.
// With fm, pm or sync patched (and always for the pulse and triangle) the general kernel of
// oscillator_core.hpp runs: signed increments (through-zero FM), sync resets at their
// sub-sample position, phase modulation, then the naive waveform and its corrections.
// The saw, pulse and triangle are a naive waveform plus band-limited residuals at each
// discontinuity: a step residual (BLEP) at the saw's wrap and the pulse's edges, a ramp residual
// (BLAMP) at the triangle's corners, both at a sync reset. The residuals come from a 24-tap
// Kaiser-windowed sinc (cut-off 0.42 fs) tabulated at 64 sub-sample offsets with linear
// interpolation. The kernel is linear-phase, so these outputs are delayed by 12 samples (0.25 ms
// at 48 kHz); the sine is delayed the same way only while its sync input is patched (its phase
// skips 12 frames on patching and unpatching so the output stays continuous). Alias products
// measure below -80 dB re the fundamental for 1-5 kHz at 48 kHz
// (tests/unit/test_oscillators.cpp); the top octave rolls off (-0.9 dB at 18 kHz).
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"
#include "modules/oscillator_core.hpp"

namespace kabel {
namespace osc {

// ---------------------------------------------------------------------------------------------
// Shared ports and params

std::vector<PortDescriptor> pitchFmPmSyncInputs() {
    return {{.id = "pitch",
             .name = "Pitch",
             .kind = SignalKind::Pitch,
             .defaultValue = 0.0f,
             .help = "octaves added to the frequency: +1 doubles it (1 V/oct). A polyphonic pitch "
                     "gives one voice per channel"},
            {.id = "fm",
             .name = "FM",
             .kind = SignalKind::Audio,
             .defaultValue = 0.0f,
             .help = "through-zero linear FM: frequency = f0 x (1 + FM amount x fm), f0 = Frequency x "
                     "2^pitch; where that is negative the phase runs backwards"},
            {.id = "pm",
             .name = "PM",
             .kind = SignalKind::Audio,
             .defaultValue = 0.0f,
             .help = "phase modulation in cycles, added to the phase (1 = a whole cycle; a sine into PM "
                     "with amplitude I / 2 pi is FM of index I radians)"},
            {.id = "sync",
             .name = "Sync",
             .kind = SignalKind::Audio,
             .defaultValue = 0.0f,
             .help = "hard sync: each rising crossing of 0.5 restarts the cycle at phase 0, at its "
                     "exact sub-sample time (patch the master oscillator's output here)"}};
}

PortDescriptor positionInput() {
    return {.id = "position",
            .name = "Position",
            .kind = SignalKind::Control,
            .defaultValue = 0.0f,
            .help = "added to the Position knob (0..1 across the table's frames; the sum is clamped)"};
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

ParamDescriptor fmAmountParam() {
    return {.id = "fm_amount",
            .name = "FM amount",
            .min = 0.0f,
            .max = 10.0f,
            .defaultValue = 1.0f,
            .unit = "",
            .curve = ParamCurve::Linear,
            .help = "depth of the FM input: frequency = f0 x (1 + amount x fm)"};
}

// ---------------------------------------------------------------------------------------------
// The band-limited residuals

namespace {

double besselI0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 60; ++k) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if (term < 1e-17 * sum) break;
    }
    return sum;
}

/// besselI0 of eight arguments at once, each lane the same operations in the same order as the
/// scalar loop (a lane stops adding once its own series has converged), so the same bits.
void besselI0x8(const double* x, double* out) noexcept {
    typedef double Doubles8 __attribute__((vector_size(64)));
    typedef long long Mask8 __attribute__((vector_size(64)));
    Doubles8 v;
    std::memcpy(&v, x, sizeof v);
    const Doubles8 zero{};
    Doubles8 sum = zero + 1.0, term = zero + 1.0;
    Mask8 active = (zero == zero);  // all lanes
    for (int k = 1; k < 60; ++k) {
        const Doubles8 q = v / (2.0 * k);
        term *= q * q;
        sum = active ? sum + term : sum;
        active &= ~(term < 1e-17 * sum);
        bool any = false;
        for (int i = 0; i < 8; ++i) any |= active[i] != 0;
        if (!any) break;
    }
    std::memcpy(out, &sum, sizeof sum);
}

// Integrates the kernel numerically (Simpson) into the band-limited step S, and S once more
// (trapezoid, on a grid 1024 times finer than a frame) into the band-limited ramp R; the
// residuals are S - (t >= 0) and R - max(t, 0).
//
// Every process that makes a sine or saw pays for this at start-up, so the kernel is evaluated
// once per point of the half-step grid (t = -N/2 + m / (2 kSteps), all exact in double): a
// Simpson step's end point is the next step's start point, and the kernel is even (x * x, and
// sin is odd in glibc, so kernel(-t) and kernel(t) are the same double), so only the points
// with t <= 0 are computed, a third of the three evaluations per step of the plain loop.
// Same doubles in the same order as the plain loop: tests/unit/test_oscillators.cpp keeps it
// and compares the tables bit for bit.
BlepTables buildBlepTables() {
    constexpr int N = kBlepTaps;
    constexpr int M = kBlepOversample;
    constexpr double kCutoff = 0.42;  // cycles per sample: -0.9 dB at 18 kHz, stop band from 24 kHz
    constexpr double kBeta = 7.0;     // Kaiser window
    constexpr int kSteps = 16 * M;    // integration steps per frame
    const double half = N / 2.0;
    const double i0Beta = besselI0(kBeta);
    // The kernel sinc(t) x window(t), the window's besselI0 eight points at a time.
    constexpr int kHalfSteps = N * kSteps;  // half-step grid points from -N/2 to 0
    std::vector<double> k(static_cast<std::size_t>(kHalfSteps + 1));
    for (int m0 = 0; m0 <= kHalfSteps; m0 += 8) {
        double arg[8] = {}, window[8];
        const int count = std::min(8, kHalfSteps + 1 - m0);
        for (int i = 0; i < count; ++i) {
            const double t = -half + double(m0 + i) / (2 * kSteps);
            const double x = t / half;
            arg[i] = kBeta * std::sqrt(std::max(0.0, 1.0 - x * x));
        }
        besselI0x8(arg, window);
        for (int i = 0; i < count; ++i) {
            const double t = -half + double(m0 + i) / (2 * kSteps);
            const double sinc = t == 0.0 ? 2.0 * kCutoff : std::sin(2.0 * std::numbers::pi * kCutoff * t) / (std::numbers::pi * t);
            k[static_cast<std::size_t>(m0 + i)] = sinc * (window[i] / i0Beta);
        }
    }
    auto at = [&](int m) {  // the kernel at grid point m of 0 .. 2 kHalfSteps
        return k[static_cast<std::size_t>(m <= kHalfSteps ? m : 2 * kHalfSteps - m)];
    };
    const std::size_t points = static_cast<std::size_t>(N * kSteps + 1);
    std::vector<double> step(points, 0.0), ramp(points, 0.0);
    double sum = 0.0;
    for (int j = 0; j < N * kSteps; ++j) {
        sum += (at(2 * j) + 4.0 * at(2 * j + 1) + at(2 * j + 2)) / (6.0 * kSteps);
        step[static_cast<std::size_t>(j + 1)] = sum;
    }
    for (auto& s : step) s /= sum;
    for (std::size_t j = 1; j < points; ++j) ramp[j] = ramp[j - 1] + 0.5 * (step[j - 1] + step[j]) / kSteps;
    auto stepResidual = [&](int p, int i) {  // at tau = i - N/2 + p/M frames after the step
        const int j = i * kSteps + p * (kSteps / M);
        return step[static_cast<std::size_t>(j)] - (i >= N / 2 ? 1.0 : 0.0);
    };
    auto rampResidual = [&](int p, int i) {
        const int j = i * kSteps + p * (kSteps / M);
        const double tau = double(j) / kSteps - half;
        return ramp[static_cast<std::size_t>(j)] - std::max(tau, 0.0);
    };
    BlepTables tables{};
    for (int p = 0; p < M; ++p)
        for (int i = 0; i < N; ++i) {
            const auto pp = static_cast<std::size_t>(p), ii = static_cast<std::size_t>(i);
            const double s = stepResidual(p, i), s1 = stepResidual(p + 1, i);
            tables.step[pp].value[ii] = static_cast<float>(s);
            tables.step[pp].delta[ii] = static_cast<float>(s1 - s);
            const double r = rampResidual(p, i), r1 = rampResidual(p + 1, i);
            tables.ramp[pp].value[ii] = static_cast<float>(r);
            tables.ramp[pp].delta[ii] = static_cast<float>(r1 - r);
        }
    return tables;
}

// 1 where the phase a -> b (moving by the signed difference) crossed the wrap at 0.
inline std::uint32_t crossedWrap(std::uint32_t a, std::uint32_t b) noexcept {
    const auto d = static_cast<std::int32_t>(b - a);
    return (b < a) != (d < 0) ? 1u : 0u;
}

// One straight piece of phase: from a (relative to the edge) by d, lasting `duration` frames and
// ending `end` frames before the frame the residual is aligned to.
inline void crossSegment(std::uint32_t a, std::int32_t d, float duration, float end, const Edge& e, float speed, const BlepTables& t,
                         float* dst) noexcept {
    const std::uint32_t b = a + static_cast<std::uint32_t>(d);
    if (!crossedWrap(a, b)) return;
    const std::uint32_t past = d > 0 ? b : 0u - b;  // how far beyond the edge the phase went
    const float frac = static_cast<float>(past) / static_cast<float>(std::abs(static_cast<std::int64_t>(d))) * duration + end;
    if (e.corner)
        addRamp(dst, t, frac, e.amount * speed);
    else
        addStep(dst, t, frac, d > 0 ? e.amount : -e.amount);
}

}  // namespace

const BlepTables& blepTables() {
    static const BlepTables tables = buildBlepTables();
    return tables;
}

// ---------------------------------------------------------------------------------------------
// The general phase kernel

void advance(PhaseState& st, const Drive& d, int offset, int n, std::uint32_t resetPhase, Chunk& ch) noexcept {
    ch.n = n;
    ch.resets = 0;
    ch.prevInc = st.inc;
    ch.searchFirst = st.pending;
    std::int32_t* __restrict inc = ch.inc.data();
    if (d.constant) {
        std::fill_n(inc, n, d.constantInc);
    } else {
        const float f0 = d.freq.at(offset) * d.invSampleRate;
        const float df = d.freq.step * d.invSampleRate;
        const float* __restrict pitch = d.pitch + offset;
        if (d.fm) {
            const float a0 = d.fmAmount.at(offset), da = d.fmAmount.step;
            const float* __restrict fm = d.fm + offset;
            for (int i = 0; i < n; ++i)
                inc[i] = signedIncrement((f0 + float(i) * df) * dsp::fastPow2(pitch[i]) * dsp::mulAdd(a0 + float(i) * da, fm[i], 1.0f));
        } else {
            for (int i = 0; i < n; ++i) inc[i] = signedIncrement((f0 + float(i) * df) * dsp::fastPow2(pitch[i]));
        }
    }
    std::uint32_t* __restrict pm = ch.pm.data();
    std::uint32_t* __restrict theta = ch.theta.data();
    pm[0] = st.pm;
    theta[0] = st.theta;
    if (d.pm) {
        const float* __restrict in = d.pm + offset;
        for (int i = 0; i < n; ++i) pm[i + 1] = cyclesToPhase(in[i]);
    } else {
        std::fill_n(pm + 1, n, 0u);
    }
    std::uint32_t q = st.phase;
    if (!d.sync) {
        std::fill_n(ch.resetAt.data(), n, -1.0f);
        for (int i = 0; i < n; ++i) {  // running sum: increments become phases
            theta[i + 1] = q;
            q += static_cast<std::uint32_t>(inc[i]);
        }
        st.sync = 1.0f;  // a sync patched later starts without an edge
    } else {
        const float* __restrict sync = d.sync + offset;
        std::int32_t prev = st.inc;
        float before = st.sync;
        for (int i = 0; i < n; ++i) {
            const float s = sync[i];
            float at = -1.0f;
            if (before < 0.5f && s >= 0.5f) {
                // The rising crossing of 0.5, by linear interpolation: `at` frames before frame i.
                at = std::min((s - 0.5f) / (s - before), 1.0f);
                q = resetPhase + static_cast<std::uint32_t>(static_cast<std::int32_t>(at * static_cast<float>(prev)));
                ++ch.resets;
            }
            ch.resetAt[static_cast<std::size_t>(i)] = at;
            theta[i + 1] = q;
            q += static_cast<std::uint32_t>(inc[i]);
            prev = inc[i];
            before = s;
        }
        st.sync = std::isfinite(before) ? before : 1.0f;
    }
    for (int i = 1; i <= n; ++i) theta[i] += pm[i];
    st.phase = q;
    st.inc = inc[n - 1];
    st.theta = theta[n];
    st.pm = pm[n];
    st.pending = true;
}

void correct(const Chunk& ch, const Edge* edges, int edgeCount, std::uint32_t resetPhase, const Shape& shape, const BlepTables& t,
             float* acc) noexcept {
    const int n = ch.n;
    const std::uint32_t* __restrict theta = ch.theta.data();
    alignas(32) std::array<std::uint32_t, kChunk> hit;
    for (int i = 0; i < n; ++i) hit[static_cast<std::size_t>(i)] = ch.resetAt[static_cast<std::size_t>(i)] >= 0.0f ? 1u : 0u;
    for (int e = 0; e < edgeCount; ++e) {  // a vectorised search: most chunks cross nothing
        const Edge& edge = edges[e];
        if (edge.positions) {
            const std::uint32_t* __restrict p = edge.positions;
            for (int i = 0; i < n; ++i) hit[static_cast<std::size_t>(i)] |= crossedWrap(theta[i] - p[i], theta[i + 1] - p[i + 1]);
        } else {
            const std::uint32_t at = edge.at;
            for (int i = 0; i < n; ++i) hit[static_cast<std::size_t>(i)] |= crossedWrap(theta[i] - at, theta[i + 1] - at);
        }
    }
    if (!ch.searchFirst) hit[0] = 0;
    std::uint32_t any = 0;
    for (int i = 0; i < n; ++i) any |= hit[static_cast<std::size_t>(i)];
    if (!any) return;
    for (int i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        if (!hit[k]) continue;
        float* dst = acc + i;
        const std::uint32_t ta = theta[i], tb = theta[i + 1];
        const float f = ch.resetAt[k];
        if (f < 0.0f) {
            const auto d = static_cast<std::int32_t>(tb - ta);
            const float speed = std::fabs(phaseToCycles(d));
            for (int e = 0; e < edgeCount; ++e) {
                const Edge& edge = edges[e];
                const std::uint32_t pa = edge.positions ? edge.positions[i] : edge.at;
                const std::uint32_t pb = edge.positions ? edge.positions[i + 1] : edge.at;
                crossSegment(ta - pa, static_cast<std::int32_t>((tb - pb) - (ta - pa)), 1.0f, 0.0f, edge, speed, t, dst);
            }
            continue;
        }
        // A sync reset `f` frames before frame i: the phase ran from ta for 1 - f frames, jumped
        // to the reset phase (plus pm), and ran on for f frames to tb.
        const std::int32_t inc0 = i == 0 ? ch.prevInc : ch.inc[k - 1];
        const auto dpm = static_cast<std::int32_t>(ch.pm[k + 1] - ch.pm[k]);
        const auto d = static_cast<std::int32_t>(static_cast<std::uint32_t>(inc0) + static_cast<std::uint32_t>(dpm));
        const float speed = std::fabs(phaseToCycles(d));
        const auto preD = static_cast<std::int32_t>(static_cast<float>(d) * (1.0f - f));
        const std::uint32_t pre = ta + static_cast<std::uint32_t>(preD);
        const std::uint32_t post =
            resetPhase + ch.pm[k] + static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<float>(dpm) * (1.0f - f)));
        const auto postD = static_cast<std::int32_t>(tb - post);
        for (int e = 0; e < edgeCount; ++e) {
            const Edge& edge = edges[e];
            const std::uint32_t p = edge.positions ? edge.positions[i + 1] : edge.at;
            crossSegment(ta - p, preD, 1.0f - f, f, edge, speed, t, dst);
            crossSegment(post - p, postD, f, 0.0f, edge, speed, t, dst);
        }
        const float jump = shape.value(post, i) - shape.value(pre, i);
        const float bend = (shape.slope(post, i) - shape.slope(pre, i)) * phaseToCycles(d);
        addStep(dst, t, f, jump);
        addRamp(dst, t, f, bend);
    }
}

}  // namespace osc

namespace {

using namespace osc;

// The pulse's extra input and param, after the family's common ones.
constexpr int kInPw = kInSync + 1;
constexpr int kParamPw = kParamFmAmount + 1;
enum OscOutputs { kOscOut };

// ---------------------------------------------------------------------------------------------
// sine

struct SineShape final : Shape {
    static float at(std::uint32_t theta) noexcept { return dsp::fastSin2pi(dsp::phaseToSigned(theta)); }
    float value(std::uint32_t theta, int) const noexcept override { return at(theta); }
    float slope(std::uint32_t theta, int) const noexcept override {
        return 2.0f * std::numbers::pi_v<float> * at(theta + 0x40000000u);  // 2 pi cos
    }
};

class Sine final : public PhaseOscillator {
public:
    explicit Sine(const ModuleDescriptor& d) : PhaseOscillator(d, 0) {}

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp freq = freq_.next(param(kParamFreq), frames);
        const OutputPort& out = ctx.out[kOscOut];
        if (!delayed_ && plain(ctx)) {  // first, and nothing else: a bank of sines pays per block
            processFast(ctx, freq, out);
            return;
        }
        const Block b = begin(ctx, freq);
        if (b.sync != delayed_) switchDelay(b, out.channels, [](std::uint32_t theta, int) { return SineShape::at(theta); });
        if (!b.general) {
            processFast(ctx, freq, out);
            return;
        }
        for (int c = 0; c < out.channels; ++c) {
            const Drive d = drive(b, c);
            PhaseState& st = st_[static_cast<std::size_t>(c)];
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                Chunk ch;
                advance(st, d, offset, n, 0, ch);
                if (!b.sync) {
                    for (int i = 0; i < n; ++i) o[offset + i] = SineShape::at(ch.theta[static_cast<std::size_t>(i + 1)]);
                    continue;
                }
                Accumulator& acc = acc_[static_cast<std::size_t>(c)];
                float* a = acc.begin(n);
                float* __restrict naive = a + kBlepDelay;
                for (int i = 0; i < n; ++i) naive[i] += SineShape::at(ch.theta[static_cast<std::size_t>(i + 1)]);
                if (ch.resets > 0) correct(ch, nullptr, 0, 0, SineShape{}, *blep_, a);
                acc.finish(o + offset, n);
            }
        }
    }

private:
    void processFast(const ProcessContext& ctx, Ramp freq, const OutputPort& out) noexcept {
        const int frames = ctx.frames;
        const InputPort& pitch = ctx.in[kInPitch];
        if (!pitch.connected && freq.constant()) {
            const std::uint32_t inc = constant_.get(freq.start, pitch.constant);
            for (int c = 0; c < out.channels; ++c) {
                std::uint32_t& phase = st_[static_cast<std::size_t>(c)].phase;
                renderConstant(out.channel(c), phase, inc, frames);
                phase += static_cast<std::uint32_t>(frames) * inc;
            }
            return;
        }
        const float invSampleRate = invSampleRate_;
        for (int c = 0; c < out.channels; ++c) {
            const float* p = pitch.channel(c);
            float* o = out.channel(c);
            std::uint32_t phase = st_[static_cast<std::size_t>(c)].phase;
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
            st_[static_cast<std::size_t>(c)].phase = phase;
        }
    }

    static void renderConstant(float* __restrict out, std::uint32_t phase, std::uint32_t inc, int frames) noexcept {
        for (int n = 0; n < frames; ++n) out[n] = dsp::fastSin2pi(dsp::phaseToSigned(phase + static_cast<std::uint32_t>(n) * inc));
    }
};

const ModuleDescriptor kSine{
    .id = "sine",
    .name = "Sine Oscillator",
    .category = "Oscillators",
    .help =
        "A pure sine wave, exact in frequency (it never drifts, even over hours) and clean "
        "(harmonics and noise below -120 dB). Frequency = Frequency knob x 2^Pitch, so with "
        "the knob at its default (C4) the Pitch input reads octaves re C4. FM is through-zero "
        "linear FM (frequency x (1 + FM amount x fm); negative runs the phase backwards), PM "
        "adds cycles to the phase, and Sync restarts the cycle at each rising crossing of 0.5, "
        "band-limited: while Sync is patched the output is delayed by 12 samples (0.25 ms at "
        "48 kHz), like the saw's. A polyphonic Pitch makes one sine per channel. Starts at phase "
        "0 (0, rising) and after a reset.",
    .inputs = pitchFmPmSyncInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "sine wave, +-1"}},
    .params = {freqParam(), fmAmountParam()},
    .create = [] { return std::unique_ptr<Module>(new Sine(kSine)); },
};
const RegisterModule registerSine{kSine};

// ---------------------------------------------------------------------------------------------
// saw

// The saw's phase is the ramp itself: -1 at the wrap (phase 0 here), rising to +1; the module's
// "phase 0" (0, rising, as the sine) is the ramp's mid-point.
constexpr std::uint32_t kSawStart = 0x80000000u;

struct SawShape final : Shape {
    static float at(std::uint32_t q) noexcept { return static_cast<float>(q >> 8) * 0x1p-23f - 1.0f; }  // exact: 24 bits
    float value(std::uint32_t q, int) const noexcept override { return at(q); }
    float slope(std::uint32_t, int) const noexcept override { return 2.0f; }
};

constexpr float kSawStep = -2.0f;  // the jump at the wrap, going forward

class Saw final : public PhaseOscillator {
public:
    explicit Saw(const ModuleDescriptor& d) : PhaseOscillator(d, kSawStart) {}

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp freq = freq_.next(param(kParamFreq), frames);
        const OutputPort& out = ctx.out[kOscOut];
        if (plain(ctx)) {
            processFast(ctx, freq, out);
            return;
        }
        const Block b = begin(ctx, freq);
        const Edge wrap{.at = 0, .corner = false, .amount = kSawStep};
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const Drive d = drive(b, c);
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                float* a = acc_[cc].begin(n);
                Chunk ch;
                advance(st_[cc], d, offset, n, kSawStart, ch);
                float* __restrict naive = a + kBlepDelay;
                for (int i = 0; i < n; ++i) naive[i] += SawShape::at(ch.theta[static_cast<std::size_t>(i + 1)]);
                correct(ch, &wrap, 1, kSawStart, SawShape{}, *blep_, a);
                acc_[cc].finish(o + offset, n);
            }
        }
    }

private:
    // fm, pm and sync unpatched: the constant and modulated kernels.
    void processFast(const ProcessContext& ctx, Ramp freq, const OutputPort& out) noexcept {
        const int frames = ctx.frames;
        const InputPort& pitch = ctx.in[kInPitch];
        const bool constant = !pitch.connected && freq.constant();
        const std::uint32_t constantInc = constant ? std::max<std::uint32_t>(1, constant_.get(freq.start, pitch.constant)) : 0;
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const float* p = pitch.channel(c);
            float* o = out.channel(c);
            catchUp(st_[cc], acc_[cc].a.data());
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                float* a = acc_[cc].beginStore(n);
                if (constant)
                    renderConstant(c, a, constantInc, n);
                else
                    renderModulated(c, a, p + offset, freq, invSampleRate_, offset, n);
                acc_[cc].finish(o + offset, n);
            }
        }
    }

    // The general kernel ran last: the wrap between its last frame and the next has not been
    // looked for yet (the accumulator's residual slots for it are still ahead of the output).
    void catchUp(PhaseState& st, float* a) const noexcept {
        st.sync = 1.0f;
        if (!st.pending) return;
        st.pending = false;
        const auto d = static_cast<std::int32_t>(st.phase - st.theta);
        if (d == 0 || (st.phase < st.theta) == (d < 0)) return;
        const std::uint32_t past = d > 0 ? st.phase : 0u - st.phase;
        addStep(a, *blep_, static_cast<float>(past) / static_cast<float>(std::abs(static_cast<std::int64_t>(d))),
                d > 0 ? kSawStep : -kSawStep);
    }

    // acc[0..kBlepTaps) holds what earlier chunks left for these frames; frame n of the naive
    // ramp lands at acc[n + kBlepDelay] and a step before frame m adds its residual at
    // acc[m..m+kBlepTaps).
    void renderConstant(int c, float* __restrict a, std::uint32_t inc, int n) noexcept {
        PhaseState& st = st_[static_cast<std::size_t>(c)];
        const std::uint32_t q = st.phase;
        // Frames below kBlepTaps - kBlepDelay add to the residual tails the last chunk left;
        // the rest store into slots beginStore() left uncleared.
        float* __restrict naive = a + kBlepDelay;
        const int carried = std::min(n, kBlepTaps - kBlepDelay);
        for (int i = 0; i < carried; ++i) naive[i] += SawShape::at(q + static_cast<std::uint32_t>(i) * inc);
        for (int i = carried; i < n; ++i) naive[i] = SawShape::at(q + static_cast<std::uint32_t>(i) * inc);
        // Steps: the ramp wraps before frame m when q + m * inc passes 2^32 (m = 1..n: the step
        // into the next chunk's first frame is handled here, where its residual starts).
        const float invInc = 1.0f / static_cast<float>(inc);
        std::uint64_t m = (0x100000000ull - q + inc - 1) / inc;
        while (m <= static_cast<std::uint64_t>(n)) {
            const std::uint32_t after = q + static_cast<std::uint32_t>(m) * inc;  // small: just past the wrap
            addStep(a + m, *blep_, static_cast<float>(after) * invInc, kSawStep);
            m += (0x100000000ull - after + inc - 1) / inc;
        }
        st.phase = q + static_cast<std::uint32_t>(n) * inc;
        st.inc = static_cast<std::int32_t>(std::min(inc, kIncrementMax));
    }

    void renderModulated(int c, float* __restrict a, const float* pitch, Ramp freq, float invSampleRate, int offset, int n) noexcept {
        PhaseState& st = st_[static_cast<std::size_t>(c)];
        std::array<std::uint32_t, kChunk> inc;
        std::array<std::uint32_t, kChunk + 1> phase;  // phase[n]: the next chunk's first
        modulatedIncrements(inc.data(), pitch, freq, invSampleRate, offset, n);
        std::uint32_t q = st.phase;
        for (int i = 0; i < n; ++i) {  // running sum (at least 1 per frame, so a wrap is visible)
            phase[static_cast<std::size_t>(i)] = q;
            q += std::max<std::uint32_t>(1, inc[static_cast<std::size_t>(i)]);
        }
        phase[static_cast<std::size_t>(n)] = q;
        st.phase = q;
        st.inc = static_cast<std::int32_t>(std::min(inc[static_cast<std::size_t>(n - 1)], kIncrementMax));
        float* __restrict naive = a + kBlepDelay;  // as in renderConstant
        const int carried = std::min(n, kBlepTaps - kBlepDelay);
        for (int i = 0; i < carried; ++i) naive[i] += SawShape::at(phase[static_cast<std::size_t>(i)]);
        for (int i = carried; i < n; ++i) naive[i] = SawShape::at(phase[static_cast<std::size_t>(i)]);
        // Steps: where the phase went down. A vectorised count first; most chunks have none.
        int wraps = 0;
        for (int i = 0; i < n; ++i) wraps += phase[static_cast<std::size_t>(i + 1)] < phase[static_cast<std::size_t>(i)] ? 1 : 0;
        for (int i = 0; wraps > 0 && i < n; ++i) {
            const std::uint32_t after = phase[static_cast<std::size_t>(i + 1)];
            if (after < phase[static_cast<std::size_t>(i)]) {
                const std::uint32_t d = std::max<std::uint32_t>(1, inc[static_cast<std::size_t>(i)]);
                addStep(a + i + 1, *blep_, static_cast<float>(after) / static_cast<float>(d), kSawStep);
                --wraps;
            }
        }
    }
};

const ModuleDescriptor kSaw{
    .id = "saw",
    .name = "Saw Oscillator",
    .category = "Oscillators",
    .help =
        "A rising sawtooth (+-1), band-limited: each wrap is smoothed by a tabulated "
        "band-limited step, so alias products stay more than 80 dB below the fundamental up "
        "to 5 kHz at 48 kHz, and the harmonics roll off gently above 15 kHz. Frequency = "
        "Frequency knob x 2^Pitch (octaves re C4 at the default). FM is through-zero linear FM "
        "(frequency x (1 + FM amount x fm); where that is negative the saw runs backwards and "
        "falls), PM adds cycles to the phase, and Sync restarts the cycle at phase 0 (the ramp's "
        "mid-point) at each rising crossing of 0.5, band-limited at the exact sub-sample time. "
        "The output is delayed by 12 samples (0.25 ms), the price of a linear-phase step. Starts "
        "at 0, rising.",
    .inputs = pitchFmPmSyncInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "rising sawtooth, +-1"}},
    .params = {freqParam(), fmAmountParam()},
    .create = [] { return std::unique_ptr<Module>(new Saw(kSaw)); },
};
const RegisterModule registerSaw{kSaw};

// ---------------------------------------------------------------------------------------------
// square (pulse)

constexpr float kPwMin = 0.01f, kPwMax = 0.99f;

// A pulse width as a phase: +1 for theta in [0, pw), -1 after.
inline std::uint32_t widthToPhase(float pw) noexcept {
    const float w = std::min(std::max(kPwMin, pw), kPwMax);  // in this order NaN gives kPwMin
    return static_cast<std::uint32_t>(static_cast<std::int32_t>((w - 0.5f) * 4294967296.0f)) + 0x80000000u;
}

struct SquareShape final : Shape {
    const std::uint32_t* width;  // per frame, index i + 1 for frame i (Chunk indexing)
    float value(std::uint32_t theta, int i) const noexcept override { return theta < width[i + 1] ? 1.0f : -1.0f; }
    float slope(std::uint32_t, int) const noexcept override { return 0.0f; }
};

class Square final : public PhaseOscillator {
public:
    explicit Square(const ModuleDescriptor& d) : PhaseOscillator(d, 0) {}

    void prepare(double sampleRate, int maxFrames) override {
        PhaseOscillator::prepare(sampleRate, maxFrames);
        pw_.prepare(sampleRate);
    }

    void reset() noexcept override {
        PhaseOscillator::reset();
        pw_.reset(param(kParamPw));
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Block b = begin(ctx, freq_.next(param(kParamFreq), frames));
        const Ramp pw = pw_.next(param(kParamPw), frames);
        const InputPort& pwIn = ctx.in[kInPw];
        const OutputPort& out = ctx.out[kOscOut];
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const Drive d = drive(b, c);
            const float* pwc = pwIn.channel(c);
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                Chunk ch;
                alignas(32) std::array<std::uint32_t, kChunk + 1> width;
                width[0] = st_[cc].edge;
                for (int i = 0; i < n; ++i) width[static_cast<std::size_t>(i + 1)] = widthToPhase(pw.at(offset + i) + pwc[offset + i]);
                st_[cc].edge = width[static_cast<std::size_t>(n)];
                advance(st_[cc], d, offset, n, 0, ch);
                float* a = acc_[cc].begin(n);
                float* __restrict naive = a + kBlepDelay;
                for (int i = 0; i < n; ++i) {
                    const auto k = static_cast<std::size_t>(i + 1);
                    naive[i] += ch.theta[k] < width[k] ? 1.0f : -1.0f;
                }
                const Edge edges[2] = {{.at = 0, .corner = false, .amount = 2.0f},
                                       {.positions = width.data(), .corner = false, .amount = -2.0f}};
                SquareShape shape;
                shape.width = width.data();
                correct(ch, edges, 2, 0, shape, *blep_, a);
                acc_[cc].finish(o + offset, n);
            }
        }
    }

private:
    ParamSmoother pw_;
};

std::vector<PortDescriptor> squareInputs() {
    auto in = pitchFmPmSyncInputs();
    in.push_back({.id = "pw",
                  .name = "PW",
                  .kind = SignalKind::Control,
                  .defaultValue = 0.0f,
                  .help = "added to the Pulse width knob (the sum is clamped to 0.01..0.99)"});
    return in;
}

const ModuleDescriptor kSquare{
    .id = "square",
    .name = "Pulse Oscillator",
    .category = "Oscillators",
    .help =
        "A pulse wave (+1 for the first Pulse width of each cycle, -1 for the rest; a square at "
        "0.5), band-limited at both edges at their exact sub-sample times, so alias products "
        "stay more than 80 dB below the fundamental up to 5 kHz at 48 kHz and pulse-width "
        "modulation, even at audio rate, stays clean. The mean is 2 x width - 1 (0 for the square). "
        "Frequency = Frequency knob x 2^Pitch; FM is through-zero linear FM, PM adds cycles to the "
        "phase, Sync restarts the cycle (at the rising edge) at each rising crossing of 0.5. The "
        "output is delayed by 12 samples (0.25 ms at 48 kHz), like the saw's. Starts with the "
        "rising edge.",
    .inputs = squareInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "pulse wave, +-1"}},
    .params = {freqParam(),
               fmAmountParam(),
               {.id = "pw",
                .name = "Pulse width",
                .min = kPwMin,
                .max = kPwMax,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "fraction of the cycle at +1 (0.5: a square wave)"}},
    .create = [] { return std::unique_ptr<Module>(new Square(kSquare)); },
};
const RegisterModule registerSquare{kSquare};

// ---------------------------------------------------------------------------------------------
// triangle

// 0 at phase 0, rising to +1 at 1/4, down to -1 at 3/4: 1 - 4 |w| with w the phase shifted by
// 3/4 and read as [-0.5, 0.5).
struct TriangleShape final : Shape {
    static float at(std::uint32_t theta) noexcept { return 1.0f - 4.0f * std::fabs(dsp::phaseToSigned(theta + 0xC0000000u)); }
    float value(std::uint32_t theta, int) const noexcept override { return at(theta); }
    float slope(std::uint32_t theta, int) const noexcept override { return dsp::phaseToSigned(theta + 0xC0000000u) < 0.0f ? 4.0f : -4.0f; }
};

class Triangle final : public PhaseOscillator {
public:
    explicit Triangle(const ModuleDescriptor& d) : PhaseOscillator(d, 0) {}

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Block b = begin(ctx, freq_.next(param(kParamFreq), frames));
        const OutputPort& out = ctx.out[kOscOut];
        // The corners: the slope turns from +4 to -4 per cycle at the peak, back at the trough.
        const Edge corners[2] = {{.at = 0x40000000u, .corner = true, .amount = -8.0f}, {.at = 0xC0000000u, .corner = true, .amount = 8.0f}};
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const Drive d = drive(b, c);
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                Chunk ch;
                advance(st_[cc], d, offset, n, 0, ch);
                float* a = acc_[cc].begin(n);
                float* __restrict naive = a + kBlepDelay;
                for (int i = 0; i < n; ++i) naive[i] += TriangleShape::at(ch.theta[static_cast<std::size_t>(i + 1)]);
                correct(ch, corners, 2, 0, TriangleShape{}, *blep_, a);
                acc_[cc].finish(o + offset, n);
            }
        }
    }
};

const ModuleDescriptor kTriangle{
    .id = "triangle",
    .name = "Triangle Oscillator",
    .category = "Oscillators",
    .help =
        "A triangle wave (+-1), band-limited at its corners with tabulated band-limited ramps, so "
        "alias products stay more than 80 dB below the fundamental up to 5 kHz at 48 kHz; "
        "odd harmonics only, falling 12 dB per octave: a soft, flute-like tone. Frequency = "
        "Frequency knob x 2^Pitch; FM is through-zero linear FM, PM adds cycles to the phase, Sync "
        "restarts the cycle at phase 0 at each rising crossing of 0.5 (band-limited in both "
        "value and slope). The output is delayed by 12 samples (0.25 ms at 48 kHz), like the "
        "saw's. Starts at 0, rising, in phase with the sine.",
    .inputs = pitchFmPmSyncInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "triangle wave, +-1"}},
    .params = {freqParam(), fmAmountParam()},
    .create = [] { return std::unique_ptr<Module>(new Triangle(kTriangle)); },
};
const RegisterModule registerTriangle{kTriangle};

// ---------------------------------------------------------------------------------------------
// fmpair: modulator -> carrier

enum FmInputs { kFmInPitch, kFmInIndex };
enum FmParams { kFmFreq, kFmRatio, kFmIndex, kFmFeedback };

constexpr float kIndexMax = 20.0f;
constexpr float kInvTwoPi = 0.5f / std::numbers::pi_v<float>;

class FmPair final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        freq_.prepare(sampleRate);
        ratio_.prepare(sampleRate);
        index_.prepare(sampleRate);
        feedback_.prepare(sampleRate);
        carrierInc_.prepare(sampleRate);
        modulatorInc_.prepare(sampleRate);
    }

    void reset() noexcept override {
        for (auto& v : voices_) v = {};
        freq_.reset(param(kFmFreq));
        ratio_.reset(param(kFmRatio));
        index_.reset(param(kFmIndex));
        feedback_.reset(param(kFmFeedback));
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp freq = freq_.next(param(kFmFreq), frames);
        const Ramp ratio = ratio_.next(param(kFmRatio), frames);
        const Ramp index = index_.next(param(kFmIndex), frames);
        const Ramp feedback = feedback_.next(param(kFmFeedback), frames);
        const InputPort& pitch = ctx.in[kFmInPitch];
        const InputPort& indexIn = ctx.in[kFmInIndex];
        const OutputPort& out = ctx.out[kOscOut];
        const bool constant = !pitch.connected && freq.constant() && ratio.constant();
        const std::uint32_t cInc = constant ? carrierInc_.get(freq.start, pitch.constant) : 0;
        const std::uint32_t mInc = constant ? modulatorInc_.get(freq.start * ratio.start, pitch.constant) : 0;
        const bool noFeedback = feedback.constant() && feedback.start == 0.0f;
        const float invSampleRate = static_cast<float>(1.0 / sampleRate());
        const int channels = out.channels;
        for (int offset = 0; offset < frames; offset += kChunk) {
            const int n = std::min(kChunk, frames - offset);
            // Per voice: the carrier's phases, the modulator's (as signed cycles, then its output).
            alignas(64) std::array<std::array<std::uint32_t, kChunk>, kMaxChannels> carrier;
            alignas(64) std::array<std::array<float, kChunk>, kMaxChannels> mod;
            for (int c = 0; c < channels; ++c) {
                const auto cc = static_cast<std::size_t>(c);
                Voice& v = voices_[cc];
                std::uint32_t* __restrict pc = carrier[cc].data();
                float* __restrict pm = mod[cc].data();
                if (constant) {
                    for (int i = 0; i < n; ++i) {
                        pc[i] = v.carrier + static_cast<std::uint32_t>(i) * cInc;
                        pm[i] = dsp::phaseToSigned(v.modulator + static_cast<std::uint32_t>(i) * mInc);
                    }
                    v.carrier += static_cast<std::uint32_t>(n) * cInc;
                    v.modulator += static_cast<std::uint32_t>(n) * mInc;
                    continue;
                }
                const float* p = pitch.channel(c) + offset;
                const float f0 = freq.at(offset) * invSampleRate, df = freq.step * invSampleRate;
                const float r0 = ratio.at(offset), dr = ratio.step;
                alignas(64) std::array<std::uint32_t, kChunk> mi;
                for (int i = 0; i < n; ++i) {  // increments first (vectorised)
                    const float f = (f0 + float(i) * df) * dsp::fastPow2(p[i]);
                    pc[i] = dsp::phaseIncrementFast(f);
                    mi[static_cast<std::size_t>(i)] = dsp::phaseIncrementFast(f * (r0 + float(i) * dr));
                }
                for (int i = 0; i < n; ++i) {  // running sums
                    const std::uint32_t ci = pc[i];
                    pc[i] = v.carrier;
                    pm[i] = dsp::phaseToSigned(v.modulator);
                    v.carrier += ci;
                    v.modulator += mi[static_cast<std::size_t>(i)];
                }
            }
            if (noFeedback) {
                for (int c = 0; c < channels; ++c) {
                    const auto cc = static_cast<std::size_t>(c);
                    float* __restrict m = mod[cc].data();
                    for (int i = 0; i < n; ++i) m[i] = dsp::fastSin2pi(m[i]);
                    voices_[cc].m1 = m[n - 1];
                    voices_[cc].m2 = n > 1 ? m[n - 2] : voices_[cc].m1;
                }
            } else {
                modulateWithFeedback(mod, channels, n, feedback.at(offset) * kInvTwoPi, feedback.step * kInvTwoPi);
            }
            const float i0 = index.at(offset), di = index.step;
            for (int c = 0; c < channels; ++c) {
                const auto cc = static_cast<std::size_t>(c);
                const float* ix = indexIn.channel(c) + offset;
                const std::uint32_t* __restrict pc = carrier[cc].data();
                const float* __restrict m = mod[cc].data();
                float* __restrict o = out.channel(c) + offset;
                for (int i = 0; i < n; ++i) {
                    const float depth = std::clamp(i0 + float(i) * di + ix[i], 0.0f, kIndexMax) * kInvTwoPi;
                    o[i] = dsp::fastSin2pi(dsp::phaseToSigned(pc[i] + cyclesToPhase(depth * m[i])));
                }
            }
        }
    }

private:
    struct Voice {
        std::uint32_t carrier = 0, modulator = 0;
        float m1 = 0.0f, m2 = 0.0f;  // the modulator's last two outputs
    };

    // The modulator hears its own last two outputs, averaged (a one-zero low-pass that keeps the
    // loop from ringing at Nyquist), feedback x 1 radian of them. Each frame depends on the one
    // before, so the voices run side by side: a frame of all 16 is one short chain of vector
    // operations instead of 16 chains of scalar ones. `mod` holds the modulators' phases (signed
    // cycles) and receives their outputs; b0 + i db is the feedback in cycles per unit output.
    void modulateWithFeedback(std::array<std::array<float, kChunk>, kMaxChannels>& mod, int channels, int n, float b0, float db) noexcept {
        alignas(64) std::array<std::array<float, kMaxChannels>, kChunk> t{};  // [frame][voice]
        alignas(64) std::array<float, kMaxChannels> m1{}, m2{};
        for (int c = 0; c < channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)][cc] = mod[cc][static_cast<std::size_t>(i)];
            m1[cc] = voices_[cc].m1;
            m2[cc] = voices_[cc].m2;
        }
        for (int i = 0; i < n; ++i) {
            const float b = 0.5f * (b0 + float(i) * db);
            float* __restrict frame = t[static_cast<std::size_t>(i)].data();
            for (std::size_t c = 0; c < kMaxChannels; ++c) {
                float x = dsp::mulAdd(b, m1[c] + m2[c], frame[c]);
                x -= std::nearbyint(x);  // back into [-0.5, 0.5]
                const float m = dsp::fastSin2pi(x);
                m2[c] = m1[c];
                m1[c] = m;
                frame[c] = m;
            }
        }
        for (int c = 0; c < channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            for (int i = 0; i < n; ++i) mod[cc][static_cast<std::size_t>(i)] = t[static_cast<std::size_t>(i)][cc];
            voices_[cc].m1 = m1[cc];
            voices_[cc].m2 = m2[cc];
        }
    }

    ParamSmoother freq_, ratio_, index_, feedback_;
    ConstantIncrement carrierInc_, modulatorInc_;
    std::array<Voice, kMaxChannels> voices_{};
};

const ModuleDescriptor kFmPair{
    .id = "fmpair",
    .name = "FM Pair",
    .category = "Oscillators",
    .help =
        "A two-operator FM voice: a sine modulator at Ratio x the carrier's frequency modulates "
        "the phase of a sine carrier: out = sin(2 pi fc t + I sin(2 pi fm t)), with fc = Frequency "
        "x 2^Pitch, fm = Ratio x fc and I = Index (radians of peak phase deviation; Index knob + "
        "Index input, clamped to 0..20). The spectrum has lines at fc +- k fm of amplitude |J_k(I)| "
        "(Bessel functions): integer ratios give harmonic tones (1: brass and strings, 2: clarinet-"
        "like odd harmonics), others bells and metal. Sweep the index with an envelope for the "
        "classic brightness contour. Feedback sends the modulator's own output back into its phase "
        "(up to 1 radian), turning it from a sine toward a sawtooth. Wide indices at high "
        "frequencies reach past Nyquist and fold back, as in any digital FM. Polyphonic by Pitch.",
    .inputs = {{.id = "pitch",
                .name = "Pitch",
                .kind = SignalKind::Pitch,
                .defaultValue = 0.0f,
                .help = "octaves added to the frequency of both operators (1 V/oct); polyphonic"},
               {.id = "index",
                .name = "Index",
                .kind = SignalKind::Control,
                .defaultValue = 0.0f,
                .help = "added to the Index knob, in radians (the sum is clamped to 0..20)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "the carrier, +-1"}},
    .params = {{.id = "freq",
                .name = "Frequency",
                .min = 0.1f,
                .max = 20000.0f,
                .defaultValue = 261.6256f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "the carrier's frequency at pitch 0 (default C4)"},
               {.id = "ratio",
                .name = "Ratio",
                .min = 0.0625f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Exponential,
                .help = "modulator frequency / carrier frequency"},
               {.id = "index",
                .name = "Index",
                .min = 0.0f,
                .max = kIndexMax,
                .defaultValue = 2.0f,
                .unit = "rad",
                .curve = ParamCurve::Linear,
                .help = "modulation index: the peak phase deviation of the carrier, in radians"},
               {.id = "feedback",
                .name = "Feedback",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "modulator self-feedback: 1 feeds back 1 radian of its output (saw-like)"}},
    .create = [] { return std::unique_ptr<Module>(new FmPair(kFmPair)); },
};
const RegisterModule registerFmPair{kFmPair};

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
