// Filters: the zero-delay-feedback state-variable filter.
//
// Design note. `svf` is the trapezoidal ("topology-preserving transform") state-variable filter
// in the form Andrew Simper published ("Linear Trapezoidal Integrated SVF", Cytomic 2013;
// Zavalishin's "The Art of VA Filter Design" derives the same structure). With the prewarped
// integrator gain g = tan(pi fc / fs) and damping k = 1/q, the two integrator states advance as
//
//     s1' = s1 + e1 s1 - e2 s2 + e2 x        e1 = -2 g (g + k) / d
//     s2' = s2 + e2 s1 - e3 s2 + e3 x        e2 =  2 g / d,  e3 = 2 g^2 / d,  d = 1 + g (g + k)
//
// and the outputs of the sample are bp = (s1 + s1')/2, lp = (s2 + s2')/2, hp = x - k bp - lp,
// notch = x - k bp: the bilinear transform of 1/(s^2 + k s + 1) (lp), s/(...) (bp), s^2/(...)
// (hp). The states are advanced by *increments* (s + e s ...) rather than by a 2x2 matrix whose
// diagonal is 1 - 2g^2/d, which float cannot hold precisely at low cutoffs.
//
// Why three passes per block: the recursion is the only serial part, and one step of it is a
// chain of two dependent FMA-adds (~7 cycles). So (1) coefficients for every sample are computed
// in a vectorised pass (g from a rational tan, one division per sample for all of e1, e2, e3);
// (2) the recursion advances four samples per loop-carried step, through the product of four
// steps' matrices (computed vectorised, one group of four samples per lane), which quarters the
// chain; (3) the states in between and the four outputs are formed in a vectorised pass.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

using dsp::mulAdd;

constexpr int kChunk = 64;  // frames per pass; blocks longer than this are split

enum SvfInputs { kSvfIn, kSvfCutoffIn, kSvfFmIn };
enum SvfOutputs { kSvfLp, kSvfBp, kSvfHp, kSvfNotch };
enum SvfParams { kSvfCutoff, kSvfQ, kSvfFmDepth };

constexpr float kMinCutoffHz = 5.0f;
constexpr float kMaxCutoffRatio = 0.45f;  // of the sample rate

/// Per-sample increments of one chunk (see the design note).
struct SvfCoefficients {
    alignas(64) float e1[kChunk];
    alignas(64) float e2[kChunk];
    alignas(64) float e3[kChunk];
};

/// e1, e2, e3 for cutoff `hz` (already clamped) and damping k; one division.
struct SvfStep {
    float e1, e2, e3;
};
inline SvfStep svfStep(float hz, float piOverFs, float k) noexcept {
    const dsp::TanRatio t = dsp::tanRatio(hz * piOverFs);
    const float pq = t.num * t.den;
    const float pp = t.num * t.num;
    const float inv = 1.0f / (t.den * t.den + k * pq + pp);
    const float e2 = 2.0f * pq * inv;
    const float e3 = 2.0f * pp * inv;
    return {-(e3 + k * e2), e2, e3};
}

/// NaN-safe clamp (a NaN cutoff becomes the minimum).
inline float clampCutoff(float hz, float maxHz) noexcept {
    hz = hz > kMinCutoffHz ? hz : kMinCutoffHz;
    return hz < maxHz ? hz : maxHz;
}

/// Channel c of a patched input from frame `start`; null for an unpatched one (never read).
inline const float* signal(const InputPort& port, int c, int start) noexcept {
    return port.connected ? port.channel(c) + start : nullptr;
}

/// What the per-sample cutoff is made of.
enum class CutoffSource { Constant, Glide, Cv };

/// Pass 1 for a modulated cutoff: fc[n] = 2^(octaves[n] + cv[n]) + fm[n] * depth[n].
template <CutoffSource kSource, bool kFm>
void modulatedCoefficients(SvfCoefficients& out, int frames, float constantHz, Ramp octaves, const float* cv, const float* fm, Ramp depth,
                           Ramp k, float piOverFs, float maxHz) noexcept {
    for (int n = 0; n < frames; ++n) {
        float hz;
        if constexpr (kSource == CutoffSource::Constant) {
            hz = constantHz;
        } else {
            float o = octaves.at(n);
            if constexpr (kSource == CutoffSource::Cv) o += cv[n];
            o = o > -30.0f ? o : -30.0f;  // 2^-30 Hz .. 2^30 Hz before the clamp; NaN -> low
            o = o < 30.0f ? o : 30.0f;
            hz = dsp::fastPow2(o);
        }
        if constexpr (kFm) hz += fm[n] * depth.at(n);
        const SvfStep s = svfStep(clampCutoff(hz, maxHz), piOverFs, k.at(n));
        out.e1[n] = s.e1;
        out.e2[n] = s.e2;
        out.e3[n] = s.e3;
    }
}

using CoefficientKernel = void (*)(SvfCoefficients&, int, float, Ramp, const float*, const float*, Ramp, Ramp, float, float) noexcept;

template <CutoffSource kSource>
CoefficientKernel pickKernel(bool fm) noexcept {
    return fm ? &modulatedCoefficients<kSource, true> : &modulatedCoefficients<kSource, false>;
}

/// Passes 2 and 3 for one channel and one chunk: advances (s1, s2) over x[0..frames) and writes
/// the four outputs.
///
/// The recursion steps a group of kStep samples at a time: with E_n = [[e1, -e2], [e2, -e3]] and
/// F_n = [e2, e3] (sample n's step is s' = s + E_n s + F_n x_n), j steps from the group's first
/// state s0 give s_j = s0 + G_j s0 + h_j, where G_1 = E_0, h_1 = F_0 x_0 and
/// G_{j+1} = G_j + E_j + E_j G_j, h_{j+1} = h_j + E_j h_j + F_j x_j. The G and h of every group
/// are computed in a vectorised pass (lanes = groups); the serial loop then only advances
/// s0 -> s_kStep (7 cycles per group instead of per sample); a last vectorised pass rebuilds the
/// states inside each group and forms the outputs.
void runSvf(const SvfCoefficients& c, const float* x, int frames, Ramp k, float& state1, float& state2, float* __restrict lp,
            float* __restrict bp, float* __restrict hp, float* __restrict notch) noexcept {
    constexpr int kStep = 4;
    constexpr int kGroups = kChunk / kStep;
    alignas(64) float g11[kStep][kGroups], g12[kStep][kGroups], g21[kStep][kGroups], g22[kStep][kGroups];
    alignas(64) float h1[kStep][kGroups], h2[kStep][kGroups];
    const int groups = frames / kStep;
    for (int g = 0; g < groups; ++g) {
        float a11 = 0.0f, a12 = 0.0f, a21 = 0.0f, a22 = 0.0f, u1 = 0.0f, u2 = 0.0f;
#pragma GCC unroll 4
        for (int j = 0; j < kStep; ++j) {
            const int n = kStep * g + j;
            const float e1 = c.e1[n], e2 = c.e2[n], e3 = c.e3[n];
            const float n11 = a11 + e1 + (e1 * a11 - e2 * a21);
            const float n12 = a12 - e2 + (e1 * a12 - e2 * a22);
            const float n21 = a21 + e2 + (e2 * a11 - e3 * a21);
            const float n22 = a22 - e3 + (e2 * a12 - e3 * a22);
            const float v1 = u1 + (e1 * u1 - e2 * u2) + e2 * x[n];
            const float v2 = u2 + (e2 * u1 - e3 * u2) + e3 * x[n];
            a11 = n11;
            a12 = n12;
            a21 = n21;
            a22 = n22;
            u1 = v1;
            u2 = v2;
            g11[j][g] = a11;
            g12[j][g] = a12;
            g21[j][g] = a21;
            g22[j][g] = a22;
            h1[j][g] = u1;
            h2[j][g] = u2;
        }
    }

    // The serial part: each group's first state.
    alignas(64) float first1[kGroups + 1], first2[kGroups + 1];
    float s1 = state1, s2 = state2;
    first1[0] = s1;
    first2[0] = s2;
    constexpr int kLast = kStep - 1;
    for (int g = 0; g < groups; ++g) {
        const float t1 = mulAdd(g12[kLast][g], s2, s1) + mulAdd(g11[kLast][g], s1, h1[kLast][g]);
        const float t2 = mulAdd(g21[kLast][g], s1, s2) + mulAdd(g22[kLast][g], s2, h2[kLast][g]);
        s1 = t1;
        s2 = t2;
        first1[g + 1] = s1;
        first2[g + 1] = s2;
    }

    // The states inside each group, and the outputs (bp, lp are the mean of consecutive states).
    const float k0 = k.start, dk = k.step;
    for (int g = 0; g < groups; ++g) {
        const float b1 = first1[g], b2 = first2[g];
        float p1[kStep + 1], p2[kStep + 1];
        p1[0] = b1;
        p2[0] = b2;
#pragma GCC unroll 4
        for (int j = 0; j < kStep - 1; ++j) {
            p1[j + 1] = mulAdd(g12[j][g], b2, b1) + mulAdd(g11[j][g], b1, h1[j][g]);
            p2[j + 1] = mulAdd(g21[j][g], b1, b2) + mulAdd(g22[j][g], b2, h2[j][g]);
        }
        p1[kStep] = first1[g + 1];
        p2[kStep] = first2[g + 1];
#pragma GCC unroll 4
        for (int j = 0; j < kStep; ++j) {
            const int n = kStep * g + j;
            const float b = 0.5f * (p1[j] + p1[j + 1]);
            const float l = 0.5f * (p2[j] + p2[j + 1]);
            const float nt = x[n] - (k0 + static_cast<float>(n) * dk) * b;
            bp[n] = b;
            lp[n] = l;
            notch[n] = nt;
            hp[n] = nt - l;
        }
    }

    // A block that is not a multiple of kStep: the last samples one step at a time.
    for (int n = groups * kStep; n < frames; ++n) {
        const float e1 = c.e1[n], e2 = c.e2[n], e3 = c.e3[n];
        const float t1 = mulAdd(-e2, s2, s1) + mulAdd(e1, s1, e2 * x[n]);
        const float t2 = mulAdd(e2, s1, s2) + mulAdd(-e3, s2, e3 * x[n]);
        const float b = 0.5f * (s1 + t1);
        const float l = 0.5f * (s2 + t2);
        const float nt = x[n] - k.at(n) * b;
        bp[n] = b;
        lp[n] = l;
        notch[n] = nt;
        hp[n] = nt - l;
        s1 = t1;
        s2 = t2;
    }
    state1 = s1;
    state2 = s2;
}

class Svf final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        octaves_.prepare(sampleRate);
        damping_.prepare(sampleRate);
        depth_.prepare(sampleRate);
        piOverFs_ = static_cast<float>(std::numbers::pi / sampleRate);
        maxHz_ = static_cast<float>(kMaxCutoffRatio * sampleRate);
    }

    void reset() noexcept override {
        s1_.fill(0.0f);
        s2_.fill(0.0f);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const float cutoff = param(kSvfCutoff);
        if (cutoff != cachedCutoff_) {
            cachedCutoff_ = cutoff;
            cachedOctaves_ = std::log2(cutoff);
        }
        // The cutoff glides in octaves, so a sweep sounds even across the range; q glides as the
        // damping k = 1/q, which the outputs use directly (hp = x - k bp - lp), so k changes
        // sample by sample and a q jump cannot step the high-pass or notch output.
        const Ramp octaves = octaves_.next(cachedOctaves_, frames);
        const Ramp k = damping_.next(1.0f / param(kSvfQ), frames);
        const Ramp depth = depth_.next(param(kSvfFmDepth), frames);

        const InputPort& in = ctx.in[kSvfIn];
        const InputPort& cv = ctx.in[kSvfCutoffIn];
        const InputPort& fm = ctx.in[kSvfFmIn];
        const int channels = ctx.out[kSvfLp].channels;

        // Choose the coefficient kernel once per block: per sample while modulated or while a
        // param glides, else once per block.
        const float cvOffset = cv.connected ? 0.0f : cv.constant;
        const bool perSample = cv.connected || fm.connected || !octaves.constant() || !k.constant() || (!depth.constant() && fm.connected);
        CoefficientKernel kernel = nullptr;
        float constantHz = 0.0f;
        if (cv.connected) {
            kernel = pickKernel<CutoffSource::Cv>(fm.connected);
        } else if (!octaves.constant()) {
            kernel = pickKernel<CutoffSource::Glide>(fm.connected);
        } else {
            kernel = pickKernel<CutoffSource::Constant>(fm.connected);
            const float o = octaves.start + cvOffset;
            if (o != cachedHzOctaves_) {  // settled: the same value block after block
                cachedHzOctaves_ = o;
                cachedHz_ = std::exp2(o);
            }
            constantHz = cachedHz_;
        }
        const Ramp shiftedOctaves{octaves.start + cvOffset, octaves.step};
        // Mono modulation feeding a poly filter: one set of coefficients serves every channel.
        const bool shared = (!cv.connected || cv.channels == 1) && (!fm.connected || fm.channels == 1);

        SvfCoefficients coefficients;
        if (!perSample) {
            const SvfStep s = svfStep(clampCutoff(constantHz, maxHz_), piOverFs_, k.start);
            const int n = std::min(frames, kChunk);
            std::fill_n(coefficients.e1, n, s.e1);
            std::fill_n(coefficients.e2, n, s.e2);
            std::fill_n(coefficients.e3, n, s.e3);
        }

        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            const Ramp chunkOctaves{shiftedOctaves.at(start), shiftedOctaves.step};
            const Ramp chunkDepth{depth.at(start), depth.step};
            const Ramp chunkK{k.at(start), k.step};
            if (perSample && shared)
                kernel(coefficients, n, constantHz, chunkOctaves, signal(cv, 0, start), signal(fm, 0, start), chunkDepth, chunkK, piOverFs_,
                       maxHz_);
            for (int c = 0; c < channels; ++c) {
                float* lp = ctx.out[kSvfLp].channel(c) + start;
                float* bp = ctx.out[kSvfBp].channel(c) + start;
                float* hp = ctx.out[kSvfHp].channel(c) + start;
                float* notch = ctx.out[kSvfNotch].channel(c) + start;
                if (!in.connected && in.constant == 0.0f && s1_[c] == 0.0f && s2_[c] == 0.0f) {
                    std::fill_n(lp, n, 0.0f);
                    std::fill_n(bp, n, 0.0f);
                    std::fill_n(hp, n, 0.0f);
                    std::fill_n(notch, n, 0.0f);
                    continue;
                }
                if (perSample && !shared)
                    kernel(coefficients, n, constantHz, chunkOctaves, signal(cv, c, start), signal(fm, c, start), chunkDepth, chunkK,
                           piOverFs_, maxHz_);
                runSvf(coefficients, in.channel(c) + start, n, chunkK, s1_[c], s2_[c], lp, bp, hp, notch);
            }
        }

        // Degrade instead of propagating: a NaN or Inf that got in (from a NaN input) is dropped.
        for (int c = 0; c < channels; ++c) {
            if (!std::isfinite(s1_[c]) || !std::isfinite(s2_[c])) {
                s1_[c] = 0.0f;
                s2_[c] = 0.0f;
            }
        }
    }

private:
    ParamSmoother octaves_, damping_, depth_;
    float cachedCutoff_ = -1.0f;
    float cachedOctaves_ = 0.0f;
    float cachedHzOctaves_ = -1000.0f;
    float cachedHz_ = 0.0f;
    float piOverFs_ = 0.0f;
    float maxHz_ = 0.0f;
    std::array<float, kMaxChannels> s1_{};
    std::array<float, kMaxChannels> s2_{};
};

const ModuleDescriptor kSvf{
    .id = "svf",
    .name = "State-Variable Filter",
    .category = "Filters",
    .help =
        "A resonant 12 dB/octave filter with four outputs at once: low-pass, band-pass, high-pass "
        "and notch. It is a zero-delay-feedback (trapezoidal) design, so the cutoff stays exact up to "
        "the top of the range and it stays stable while the cutoff is swept at audio rate. At the "
        "cutoff, low-pass and high-pass have a gain of Q (0.707 gives the flat Butterworth response, "
        "-3 dB at the cutoff) and band-pass peaks at Q; high Q rings but never self-oscillates. "
        "Patch a pitch into Cutoff for 1 V/oct tracking (the knob times 2^cv), or an audio-rate "
        "signal into FM for linear FM (FM depth Hz per unit). The cutoff is kept between 5 Hz and "
        "0.45 x the sample rate. Polyphonic: one filter per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to filter"},
               {.id = "cutoff",
                .name = "Cutoff",
                .kind = SignalKind::Pitch,
                .help = "octaves added to the Cutoff knob (1 V/oct): cutoff = knob x 2^cv"},
               {.id = "fm", .name = "FM", .kind = SignalKind::Audio, .help = "linear FM: adds fm x FM depth Hz to the cutoff"}},
    .outputs = {{.id = "lp", .name = "LP", .kind = SignalKind::Audio, .help = "low-pass"},
                {.id = "bp", .name = "BP", .kind = SignalKind::Audio, .help = "band-pass (peak gain Q at the cutoff)"},
                {.id = "hp", .name = "HP", .kind = SignalKind::Audio, .help = "high-pass"},
                {.id = "notch", .name = "Notch", .kind = SignalKind::Audio, .help = "band-reject (zero at the cutoff)"}},
    .params = {{.id = "cutoff",
                .name = "Cutoff",
                .min = 20.0f,
                .max = 20000.0f,
                .defaultValue = 1000.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "cutoff frequency with the Cutoff input at 0"},
               {.id = "q",
                .name = "Q",
                .min = 0.5f,
                .max = 40.0f,
                .defaultValue = 0.70710678f,
                .unit = "",
                .curve = ParamCurve::Exponential,
                .help = "resonance: gain at the cutoff (0.707 = Butterworth)"},
               {.id = "fm_depth",
                .name = "FM depth",
                .min = 0.0f,
                .max = 20000.0f,
                .defaultValue = 0.0f,
                .unit = "Hz",
                .curve = ParamCurve::Linear,
                .help = "cutoff change in Hz per unit of the FM input"}},
    .create = [] { return std::unique_ptr<Module>(new Svf(kSvf)); },
};
const RegisterModule registerSvf{kSvf};

}  // namespace
}  // namespace kabel
