// Filters: the zero-delay-feedback state-variable filter, the transistor ladder, a tuned comb and
// a vowel (formant) filter.
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
// (2) each group of four samples gets the product of its four steps' maps (vectorised, lanes =
// groups), and the groups' first states come from an inclusive scan of those maps across the
// sixteen lanes of a vector (four levels, no scalar chain; without AVX-512, a serial loop over
// pairs of groups); (3) the states in between and the four outputs are formed in a vectorised pass.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <numbers>
#include <span>

#include "core/dsp/db_gain.hpp"
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

constexpr int kChunk = 64;  // frames per pass; blocks longer than this are split

enum SvfInputs { kSvfIn, kSvfCutoffIn, kSvfFmIn };
enum SvfOutputs { kSvfLp, kSvfBp, kSvfHp, kSvfNotch };
enum SvfParams { kSvfCutoff, kSvfQ, kSvfFmDepth };

constexpr float kMinCutoffHz = 5.0f;
constexpr float kMaxCutoffRatio = 0.45f;  // of the sample rate

/// The recursion's groups: kSvfStep consecutive samples each, kSvfGroups of them in a chunk.
constexpr int kSvfStep = 4;
constexpr int kSvfGroups = kChunk / kSvfStep;

/// Where sample n's coefficients sit in SvfCoefficients: by position in its group, then by group
/// (the kernel's first pass, lanes = groups, then loads them contiguously).
constexpr int svfSlot(int n) noexcept {
    return (n % kSvfStep) * kSvfGroups + n / kSvfStep;
}

/// Per-sample increments of one chunk (see the design note), sample n in slot svfSlot(n).
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
    // 2 / d rather than 2 * (1 / d): the same bits (scaling by 2 is exact), one multiply less
    // for each of e2 and e3.
    const float twoInv = 2.0f / (t.den * t.den + k * pq + pp);
    const float e2 = pq * twoInv;
    const float e3 = pp * twoInv;
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

/// Sample n's coefficients into slot `slot`.
template <CutoffSource kSource, bool kFm>
inline void coefficientAt(SvfCoefficients& out, int slot, int n, float constantHz, Ramp octaves, const float* cv, const float* fm,
                          Ramp depth, Ramp k, float piOverFs, float maxHz) noexcept {
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
    out.e1[slot] = s.e1;
    out.e2[slot] = s.e2;
    out.e3[slot] = s.e3;
}

/// Pass 1 for a modulated cutoff: fc[n] = 2^(octaves[n] + cv[n]) + fm[n] * depth[n].
template <CutoffSource kSource, bool kFm>
void modulatedCoefficients(SvfCoefficients& out, int frames, float constantHz, Ramp octaves, const float* cv, const float* fm, Ramp depth,
                           Ramp k, float piOverFs, float maxHz) noexcept {
    // Lanes = groups (as in runSvf's first pass), so every store is contiguous in svfSlot order.
    const int groups = frames / kSvfStep;
    for (int g = 0; g < groups; ++g) {
#pragma GCC unroll 4
        for (int j = 0; j < kSvfStep; ++j)
            coefficientAt<kSource, kFm>(out, j * kSvfGroups + g, kSvfStep * g + j, constantHz, octaves, cv, fm, depth, k, piOverFs, maxHz);
    }
    for (int n = groups * kSvfStep; n < frames; ++n)  // a block that is not a multiple of kSvfStep
        coefficientAt<kSource, kFm>(out, svfSlot(n), n, constantHz, octaves, cv, fm, depth, k, piOverFs, maxHz);
}

using CoefficientKernel = void (*)(SvfCoefficients&, int, float, Ramp, const float*, const float*, Ramp, Ramp, float, float) noexcept;

template <CutoffSource kSource>
CoefficientKernel pickKernel(bool fm) noexcept {
    return fm ? &modulatedCoefficients<kSource, true> : &modulatedCoefficients<kSource, false>;
}

#if defined(__AVX512F__)
// Sixteen floats as one vector (a GCC vector extension: one zmm register with AVX-512; used only
// there, as GCC's AVX2 lowering of the lane shuffles is slow). The helpers take and give vectors by
// reference: a vector passed by value would have a different ABI with and without AVX-512
// (-Wpsabi in builds for other -march values).
typedef float Lanes16 __attribute__((vector_size(64)));

inline void loadLanes(Lanes16& v, const float* p) noexcept {
    std::memcpy(&v, p, sizeof v);
}

inline void storeLanes(float* p, const Lanes16& v) noexcept {
    std::memcpy(p, &v, sizeof v);
}

/// Lane i of `out` gets lane i - d of v (the first d lanes get `fill`'s).
inline void shiftLanes(Lanes16& out, const Lanes16& v, const Lanes16& fill, int d) noexcept {
    // Indices 0..15 pick `fill`, 16..31 pick v (__builtin_shufflevector: GCC 12 and clang).
    switch (d) {
        case 1:
            out = __builtin_shufflevector(fill, v, 0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
            return;
        case 2:
            out = __builtin_shufflevector(fill, v, 0, 1, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29);
            return;
        case 4:
            out = __builtin_shufflevector(fill, v, 0, 1, 2, 3, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27);
            return;
        default:
            out = __builtin_shufflevector(fill, v, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
            return;
    }
}

/// The states at the starts and ends of sixteen consecutive groups of samples, from the state
/// (s1, s2) before the first and each group's map s -> s + A s + a (A = [[a11, a12], [a21, a22]],
/// a = [u1, u2]; sixteen lanes each, the identity (zeros) for groups past the block's end). An
/// inclusive scan: at each level a lane's map follows the one d lanes before it
/// (C = A + B + B A, c = a + b + B a, B the later map), in increment form as the recursion itself.
inline void groupStates(const float* a11p, const float* a12p, const float* a21p, const float* a22p, const float* u1p, const float* u2p,
                        float s1, float s2, float* start1, float* start2, float* end1, float* end2) noexcept {
    Lanes16 b11, b12, b21, b22, b1, b2;
    loadLanes(b11, a11p);
    loadLanes(b12, a12p);
    loadLanes(b21, a21p);
    loadLanes(b22, a22p);
    loadLanes(b1, u1p);
    loadLanes(b2, u2p);
    const Lanes16 zero{};
#pragma GCC unroll 4
    for (int d = 1; d < 16; d *= 2) {
        Lanes16 a11, a12, a21, a22, a1, a2;  // each lane's map d lanes before (the identity below lane d)
        shiftLanes(a11, b11, zero, d);
        shiftLanes(a12, b12, zero, d);
        shiftLanes(a21, b21, zero, d);
        shiftLanes(a22, b22, zero, d);
        shiftLanes(a1, b1, zero, d);
        shiftLanes(a2, b2, zero, d);
        const Lanes16 c11 = (a11 + b11) + (b11 * a11 + b12 * a21);
        const Lanes16 c12 = (a12 + b12) + (b11 * a12 + b12 * a22);
        const Lanes16 c21 = (a21 + b21) + (b21 * a11 + b22 * a21);
        const Lanes16 c22 = (a22 + b22) + (b21 * a12 + b22 * a22);
        const Lanes16 c1 = (a1 + b1) + (b11 * a1 + b12 * a2);
        const Lanes16 c2 = (a2 + b2) + (b21 * a1 + b22 * a2);
        b11 = c11;
        b12 = c12;
        b21 = c21;
        b22 = c22;
        b1 = c1;
        b2 = c2;
    }
    const Lanes16 e1 = (b12 * s2 + s1) + (b11 * s1 + b1);
    const Lanes16 e2 = (b21 * s1 + s2) + (b22 * s2 + b2);
    storeLanes(end1, e1);
    storeLanes(end2, e2);
    Lanes16 first1, first2;  // each group's start: the previous group's end, s before the first
    shiftLanes(first1, e1, zero + s1, 1);
    shiftLanes(first2, e2, zero + s2, 1);
    storeLanes(start1, first1);
    storeLanes(start2, first2);
}
#endif

/// Passes 2 and 3 for one channel and one chunk: advances (s1, s2) over x[0..frames) and writes
/// the four outputs (kAllTaps), or only the low-pass (the others are left unwritten: nothing reads
/// them). The low-pass alone needs only the second state inside each group, which saves a third of
/// the stores of pass 2 and half of pass 3.
///
/// The recursion steps a group of kStep samples at a time: with E_n = [[e1, -e2], [e2, -e3]] and
/// F_n = [e2, e3] (sample n's step is s' = s + E_n s + F_n x_n), j steps from the group's first
/// state s0 give s_j = s0 + G_j s0 + h_j, where G_1 = E_0, h_1 = F_0 x_0 and
/// G_{j+1} = G_j + E_j + E_j G_j, h_{j+1} = h_j + E_j h_j + F_j x_j. The G and h of every group
/// are computed in a vectorised pass (lanes = groups); a scan across the lanes (groupStates)
/// gives every group's first state; a last vectorised pass rebuilds the states inside each group
/// and forms the outputs.
template <bool kAllTaps>
void runSvf(const SvfCoefficients& c, const float* x, int frames, Ramp k, float& state1, float& state2, float* __restrict lp,
            float* __restrict bp, float* __restrict hp, float* __restrict notch) noexcept {
    constexpr int kStep = kSvfStep;
    constexpr int kGroups = kSvfGroups;
    alignas(64) float g11[kStep][kGroups], g12[kStep][kGroups], g21[kStep][kGroups], g22[kStep][kGroups];
    alignas(64) float h1[kStep][kGroups], h2[kStep][kGroups];
    const int groups = frames / kStep;
    for (int g = 0; g < groups; ++g) {
        float a11 = 0.0f, a12 = 0.0f, a21 = 0.0f, a22 = 0.0f, u1 = 0.0f, u2 = 0.0f;
#pragma GCC unroll 4
        for (int j = 0; j < kStep; ++j) {
            const int n = kStep * g + j, slot = kGroups * j + g;
            const float e1 = c.e1[slot], e2 = c.e2[slot], e3 = c.e3[slot];
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
            if (kAllTaps || j == kStep - 1) {
                g11[j][g] = a11;
                g12[j][g] = a12;
                h1[j][g] = u1;
            }
            g21[j][g] = a21;
            g22[j][g] = a22;
            h2[j][g] = u2;
        }
    }

#if defined(__AVX512F__)
    // The serial part: each group's first state, as an inclusive scan over the groups' maps in
    // vector lanes (lane g composes groups 0..g; four levels for sixteen groups, each composing a
    // lane with the one d = 1, 2, 4, 8 lanes before it). The maps are in increment form, so a
    // lane shifted in from before group 0 is the identity (all zero). No scalar chain and no
    // scalar stores that vector loads would have to wait for (a store-forwarding stall).
    static_assert(kGroups == 16, "the scan is written for sixteen lanes");
    constexpr int kLast = kStep - 1;
    if (groups < kGroups) {  // a short block: the unused lanes are the identity
        for (float* row : {g11[kLast], g12[kLast], g21[kLast], g22[kLast], h1[kLast], h2[kLast]})
            std::fill(row + groups, row + kGroups, 0.0f);
    }
    alignas(64) float start1[kGroups], start2[kGroups], end1[kGroups], end2[kGroups];
    groupStates(g11[kLast], g12[kLast], g21[kLast], g22[kLast], h1[kLast], h2[kLast], state1, state2, start1, start2, end1, end2);
    float s1 = groups > 0 ? end1[groups - 1] : state1;
    float s2 = groups > 0 ? end2[groups - 1] : state2;
#else
    // Without AVX-512 (GCC's lowering of the sixteen-lane scan to AVX2 is four times slower):
    // each group's first state by a serial loop. It steps over pairs of groups, through the
    // pair's combined step (s -> s + C s + c with C = A + B + B A, c = a + b + B a for the
    // groups' (A, a), (B, b); vectorised, lanes = pairs), which halves the loop-carried chain
    // again; the odd groups' first states are then one step from the even ones' (vectorised),
    // computed exactly as the serial loop would.
    alignas(64) float first1[kGroups + 1], first2[kGroups + 1];
    float s1 = state1, s2 = state2;
    first1[0] = s1;
    first2[0] = s2;
    constexpr int kLast = kStep - 1;
    constexpr int kPairs = kGroups / 2;
    const int pairs = groups / 2;
    alignas(64) float c11[kPairs], c12[kPairs], c21[kPairs], c22[kPairs], c1[kPairs], c2[kPairs];
    for (int q = 0; q < pairs; ++q) {
        const int a = 2 * q, b = 2 * q + 1;
        const float a11 = g11[kLast][a], a12 = g12[kLast][a], a21 = g21[kLast][a], a22 = g22[kLast][a];
        const float b11 = g11[kLast][b], b12 = g12[kLast][b], b21 = g21[kLast][b], b22 = g22[kLast][b];
        const float ha1 = h1[kLast][a], ha2 = h2[kLast][a];
        c11[q] = (a11 + b11) + mulAdd(b11, a11, b12 * a21);
        c12[q] = (a12 + b12) + mulAdd(b11, a12, b12 * a22);
        c21[q] = (a21 + b21) + mulAdd(b21, a11, b22 * a21);
        c22[q] = (a22 + b22) + mulAdd(b21, a12, b22 * a22);
        c1[q] = (ha1 + h1[kLast][b]) + mulAdd(b11, ha1, b12 * ha2);
        c2[q] = (ha2 + h2[kLast][b]) + mulAdd(b21, ha1, b22 * ha2);
    }
    for (int q = 0; q < pairs; ++q) {
        const float t1 = mulAdd(c12[q], s2, s1) + mulAdd(c11[q], s1, c1[q]);
        const float t2 = mulAdd(c21[q], s1, s2) + mulAdd(c22[q], s2, c2[q]);
        s1 = t1;
        s2 = t2;
        first1[2 * q + 2] = s1;
        first2[2 * q + 2] = s2;
    }
    for (int q = 0; q < pairs; ++q) {
        const int a = 2 * q;
        const float b1 = first1[a], b2 = first2[a];
        first1[a + 1] = mulAdd(g12[kLast][a], b2, b1) + mulAdd(g11[kLast][a], b1, h1[kLast][a]);
        first2[a + 1] = mulAdd(g21[kLast][a], b1, b2) + mulAdd(g22[kLast][a], b2, h2[kLast][a]);
    }
    for (int g = 2 * pairs; g < groups; ++g) {  // an odd group count (a short block)
        const float t1 = mulAdd(g12[kLast][g], s2, s1) + mulAdd(g11[kLast][g], s1, h1[kLast][g]);
        const float t2 = mulAdd(g21[kLast][g], s1, s2) + mulAdd(g22[kLast][g], s2, h2[kLast][g]);
        s1 = t1;
        s2 = t2;
        first1[g + 1] = s1;
        first2[g + 1] = s2;
    }
    const float* start1 = first1;  // group g starts at first[g] and ends at first[g + 1]
    const float* start2 = first2;
    const float* end1 = first1 + 1;
    const float* end2 = first2 + 1;
#endif

    // The states inside each group, and the outputs (bp, lp are the mean of consecutive states).
    const float k0 = k.start, dk = k.step;
    for (int g = 0; g < groups; ++g) {
        const float b1 = start1[g], b2 = start2[g];
        float p1[kStep + 1], p2[kStep + 1];
        p1[0] = b1;
        p2[0] = b2;
#pragma GCC unroll 4
        for (int j = 0; j < kStep - 1; ++j) {
            if constexpr (kAllTaps) p1[j + 1] = mulAdd(g12[j][g], b2, b1) + mulAdd(g11[j][g], b1, h1[j][g]);
            p2[j + 1] = mulAdd(g21[j][g], b1, b2) + mulAdd(g22[j][g], b2, h2[j][g]);
        }
        p1[kStep] = end1[g];
        p2[kStep] = end2[g];
#pragma GCC unroll 4
        for (int j = 0; j < kStep; ++j) {
            const int n = kStep * g + j;
            const float l = 0.5f * (p2[j] + p2[j + 1]);
            lp[n] = l;
            if constexpr (kAllTaps) {
                const float b = 0.5f * (p1[j] + p1[j + 1]);
                const float nt = x[n] - (k0 + static_cast<float>(n) * dk) * b;
                bp[n] = b;
                notch[n] = nt;
                hp[n] = nt - l;
            }
        }
    }

    // A block that is not a multiple of kStep: the last samples one step at a time.
    for (int n = groups * kStep; n < frames; ++n) {
        const float e1 = c.e1[svfSlot(n)], e2 = c.e2[svfSlot(n)], e3 = c.e3[svfSlot(n)];
        const float t1 = mulAdd(-e2, s2, s1) + mulAdd(e1, s1, e2 * x[n]);
        const float t2 = mulAdd(e2, s1, s2) + mulAdd(-e3, s2, e3 * x[n]);
        const float b = 0.5f * (s1 + t1);
        const float l = 0.5f * (s2 + t2);
        const float nt = x[n] - k.at(n) * b;
        lp[n] = l;
        if constexpr (kAllTaps) {
            bp[n] = b;
            notch[n] = nt;
            hp[n] = nt - l;
        }
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
        // Outputs no cable reads are left unwritten (benchmark W2 reads only the low-pass).
        const bool allTaps = ctx.out[kSvfBp].connected || ctx.out[kSvfHp].connected || ctx.out[kSvfNotch].connected;
        const bool lpConnected = ctx.out[kSvfLp].connected;

        SvfCoefficients coefficients;
        if (!perSample) {
            const SvfStep s = svfStep(clampCutoff(constantHz, maxHz_), piOverFs_, k.start);
            std::fill_n(coefficients.e1, kChunk, s.e1);  // every slot: a short block's samples are spread
            std::fill_n(coefficients.e2, kChunk, s.e2);
            std::fill_n(coefficients.e3, kChunk, s.e3);
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
                    if (lpConnected) std::fill_n(lp, n, 0.0f);
                    if (allTaps) {
                        std::fill_n(bp, n, 0.0f);
                        std::fill_n(hp, n, 0.0f);
                        std::fill_n(notch, n, 0.0f);
                    }
                    continue;
                }
                if (perSample && !shared)
                    kernel(coefficients, n, constantHz, chunkOctaves, signal(cv, c, start), signal(fm, c, start), chunkDepth, chunkK,
                           piOverFs_, maxHz_);
                if (allTaps)
                    runSvf<true>(coefficients, in.channel(c) + start, n, chunkK, s1_[c], s2_[c], lp, bp, hp, notch);
                else
                    runSvf<false>(coefficients, in.channel(c) + start, n, chunkK, s1_[c], s2_[c], lp, bp, hp, notch);
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

// ---------------------------------------------------------------------------------------------
// Shared by ladder, comb and formant.

/// tanh(x) as its [7/6] Pade approximant, clamped where that reaches 1 (|x| = 4.97): odd,
/// monotonic, |error| < 1e-4 (below 1e-9 for |x| < 0.1, so small signals pass linearly); a NaN
/// becomes -1. Branch-free, so loops over it vectorise.
inline float fastTanh(float x) noexcept {
    constexpr float kLimit = 4.97f;
    x = x > -kLimit ? x : -kLimit;
    x = x < kLimit ? x : kLimit;
    const float y = x * x;
    const float num = x * mulAdd(mulAdd(mulAdd(1.0f / 135135.0f, y, 378.0f / 135135.0f), y, 17325.0f / 135135.0f), y, 1.0f);
    const float den = mulAdd(mulAdd(mulAdd(28.0f / 135135.0f, y, 3150.0f / 135135.0f), y, 62370.0f / 135135.0f), y, 1.0f);
    return num / den;
}

/// Clamps octaves to [-30, 30] (NaN -> -30) before 2^x.
inline float clampOctaves(float o) noexcept {
    o = o > -30.0f ? o : -30.0f;
    return o < 30.0f ? o : 30.0f;
}

/// Cutoff in Hz for `frames` samples: 2^(octaves + cv) + fm x depth. cv and fm may be null
/// (unpatched); `settledHz` is used when neither the octaves glide nor cv is patched.
inline void cutoffHz(float* __restrict hz, int frames, Ramp octaves, float settledHz, const float* __restrict cv,
                     const float* __restrict fm, Ramp depth) noexcept {
    if (cv) {
        for (int n = 0; n < frames; ++n) hz[n] = dsp::fastPow2(clampOctaves(octaves.at(n) + cv[n]));
    } else if (!octaves.constant()) {
        for (int n = 0; n < frames; ++n) hz[n] = dsp::fastPow2(clampOctaves(octaves.at(n)));
    } else {
        std::fill_n(hz, frames, settledHz);
    }
    if (fm)
        for (int n = 0; n < frames; ++n) hz[n] = mulAdd(fm[n], depth.at(n), hz[n]);
}

// ---------------------------------------------------------------------------------------------
// ladder
//
// Design note. Four trapezoidal (TPT) one-pole low-passes in series, the last one's output y4 fed
// back with gain k to the input (the transistor ladder as Zavalishin models it, "The Art of VA
// Filter Design", ch. 5). With g = tan(pi fc / fs) and G = g / (1 + g), each stage is
// y = G u + (1 - G) s (then s' = 2 y - s), so the cascade gives y4 = G^4 u + S, where
// S = (1 - G) (s4 + G (s3 + G (s2 + G s1))) depends on the states only; the loop u = x - k y4 then
// solves exactly, with no unit delay, to u = (x - k S) / (1 + k G^4). The saturation is tanh of
// that solution, in the loop, before the cascade:
//   * for small signals the filter is exactly the bilinear transform (prewarped at fc) of the
//     analog ladder H(s) = 1 / ((1 + s)^4 + k), s in units of 2 pi fc: -12.04 dB at fc and
//     24 dB/octave above it without feedback, DC gain 1 / (1 + k), and at k = 4 poles on the unit
//     circle at exactly fc (each stage turns the phase by 45 degrees there, and |H1|^4 = 1/4);
//   * for large signals the loop gain drops (tanh's describing function is below 1 and real), so
//     at k > 4 the oscillation grows only until the effective k is 4: a steady sine at fc, which
//     the four poles keep clean (its third harmonic is > 40 dB down);
//   * the cascade's input is |tanh| <= 1, so every state stays bounded under any modulation, and a
//     NaN input is clamped to -1 before it can reach a state.
// Taps mix the stages as the Oberheim Xpander does: lp12 = y2, bp = 4 (y2 - 2 y3 + y4) (that is
// 4 H^2 (1 - H)^2: 0 dB at fc without feedback), hp = u - 4 y1 + 6 y2 - 4 y3 + y4 ((1 - H)^4).
//
// Polyphony: channels run side by side in the lanes of one loop (W = 1, 4 or 8 at a time, the
// block transposed to [frame][lane]), so 16 voices are two passes of 8-wide vectors; the
// recursion is serial per sample, which one voice alone cannot hide.

enum LadderInputs { kLadderIn, kLadderCutoffIn, kLadderFmIn };
enum LadderOutputs { kLadderLp, kLadderLp12, kLadderBp, kLadderHp };
enum LadderParams { kLadderCutoff, kLadderResonance, kLadderDrive, kLadderFmDepth };

constexpr float kLadderFeedbackPerResonance = 4.0f;  // k = 4 x resonance: 1 is the edge of self-oscillation
constexpr float kLadderKick = 1e-6f;                 // starts self-oscillation from silence (-120 dB)

/// One chunk of a group of W channels, transposed to [frame][lane].
template <int W>
struct LadderChunk {
    alignas(64) float x[kChunk][W];
    alignas(64) float g[kChunk][W];  // G per lane (when the lanes' cutoffs differ)
    alignas(64) float h[kChunk][W];  // k / (1 + k G^4) per lane
    alignas(64) float lp[kChunk][W];
    alignas(64) float lp12[kChunk][W];
    alignas(64) float bp[kChunk][W];
    alignas(64) float hp[kChunk][W];
};

/// G = g / (1 + g) for a cutoff in Hz (clamped), g = tan(pi hz / fs) from the rational tan.
inline float ladderG(float hz, float piOverFs, float maxHz) noexcept {
    const dsp::TanRatio t = dsp::tanRatio(clampCutoff(hz, maxHz) * piOverFs);
    return t.num / (t.num + t.den);
}

/// The recursion over one chunk for W lanes; coefficients per frame (kShared) or per frame and
/// lane. On entry b.x holds the input already scaled by h = 1 / (1 + k G^4), and kh = k h, so the
/// loop's solution is one FMA: u = tanh(x h - k h S4). The partial tails S1..S3 (y_i = G^i u + S_i)
/// are formed beside S4 and off the serial path, which is S4 -> u -> y4 -> s4'.
template <int W, bool kShared>
void runLadder(LadderChunk<W>& b, const float* gShared, const float* khShared, int frames, float (&s)[4][W]) noexcept {
    for (int n = 0; n < frames; ++n) {
#pragma GCC ivdep
        for (int l = 0; l < W; ++l) {
            float g, kh;
            if constexpr (kShared) {
                g = gShared[n];
                kh = khShared[n];
            } else {
                g = b.g[n][l];
                kh = b.h[n][l];
            }
            const float s1 = s[0][l], s2 = s[1][l], s3 = s[2][l], s4 = s[3][l];
            const float c4 = 1.0f - g, c3 = g * c4, c2 = g * c3, c1 = g * c2;  // G^(4-i) (1 - G)
            const float tail = mulAdd(c1, s1, c2 * s2) + mulAdd(c3, s3, c4 * s4);
            const float u = fastTanh(mulAdd(-kh, tail, b.x[n][l]));
            const float t1 = c4 * s1;
            const float t2 = mulAdd(g, t1, c4 * s2);
            const float t3 = mulAdd(g, t2, c4 * s3);
            const float g2 = g * g;
            const float y1 = mulAdd(g, u, t1);
            const float y2 = mulAdd(g2, u, t2);
            const float y3 = mulAdd(g2 * g, u, t3);
            const float y4 = mulAdd(g2 * g2, u, tail);
            s[0][l] = mulAdd(2.0f, y1, -s1);
            s[1][l] = mulAdd(2.0f, y2, -s2);
            s[2][l] = mulAdd(2.0f, y3, -s3);
            s[3][l] = mulAdd(2.0f, y4, -s4);
            b.lp[n][l] = y4;
            b.lp12[n][l] = y2;
            b.bp[n][l] = 4.0f * (y2 - 2.0f * y3 + y4);
            b.hp[n][l] = u - 4.0f * (y1 + y3) + 6.0f * y2 + y4;
        }
    }
}

class Ladder final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        octaves_.prepare(sampleRate);
        feedback_.prepare(sampleRate);
        drive_.prepare(sampleRate);
        depth_.prepare(sampleRate);
        piOverFs_ = static_cast<float>(std::numbers::pi / sampleRate);
        maxHz_ = static_cast<float>(kMaxCutoffRatio * sampleRate);
    }

    void reset() noexcept override {
        for (auto& s : state_) s.fill(0.0f);
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;  // a decaying resonance ends in subnormals
        const int frames = ctx.frames;
        const float cutoff = param(kLadderCutoff);
        if (cutoff != cachedCutoff_) {
            cachedCutoff_ = cutoff;
            cachedOctaves_ = std::log2(cutoff);
        }
        Block b;
        b.octaves = octaves_.next(cachedOctaves_, frames);
        b.k = feedback_.next(kLadderFeedbackPerResonance * param(kLadderResonance), frames);
        b.drive = drive_.next(driveGain_(param(kLadderDrive)), frames);
        b.depth = depth_.next(param(kLadderFmDepth), frames);
        const InputPort& cv = ctx.in[kLadderCutoffIn];
        b.cvOffset = cv.connected ? 0.0f : cv.constant;
        const float settledOctaves = b.octaves.start + b.cvOffset;
        if (settledOctaves != cachedHzOctaves_) {
            cachedHzOctaves_ = settledOctaves;
            cachedHz_ = std::exp2(clampOctaves(settledOctaves));
        }
        b.settledHz = cachedHz_;
        const int channels = ctx.out[kLadderLp].channels;
        if (channels == 1)
            runGroups<1>(ctx, b, channels);
        else if (channels <= 4)
            runGroups<4>(ctx, b, channels);
        else
            runGroups<8>(ctx, b, channels);
    }

private:
    struct Block {
        Ramp octaves, k, drive, depth;
        float cvOffset = 0.0f;
        float settledHz = 1000.0f;
    };

    template <int W>
    void runGroups(const ProcessContext& ctx, const Block& blk, int channels) noexcept {
        const int frames = ctx.frames;
        const InputPort& in = ctx.in[kLadderIn];
        const InputPort& cv = ctx.in[kLadderCutoffIn];
        const InputPort& fm = ctx.in[kLadderFmIn];
        const bool perLane = (cv.connected && cv.channels > 1) || (fm.connected && fm.channels > 1);
        const bool oscillating = blk.k.end(frames) > kLadderFeedbackPerResonance;
        LadderChunk<W> b;
        alignas(64) float gShared[kChunk], hShared[kChunk], khShared[kChunk], k[kChunk], hz[kChunk];

        for (int c0 = 0; c0 < channels; c0 += W) {
            const int lanes = std::min(W, channels - c0);
            float s[4][W];
            bool silent = true;
            for (int l = 0; l < W; ++l)
                for (int i = 0; i < 4; ++i) {
                    s[i][l] = l < lanes ? state_[i][c0 + l] : 0.0f;
                    silent = silent && s[i][l] == 0.0f;
                }
            if (silent && !in.connected && in.constant == 0.0f && !oscillating) {
                for (const OutputPort& out : ctx.out)
                    if (out.connected)
                        for (int l = 0; l < lanes; ++l) std::fill_n(out.channel(c0 + l), frames, 0.0f);
                continue;
            }
            // Self-oscillation needs something to grow from: a lane at rest gets a tiny kick.
            if (oscillating)
                for (int l = 0; l < lanes; ++l)
                    if (s[0][l] == 0.0f && s[1][l] == 0.0f && s[2][l] == 0.0f && s[3][l] == 0.0f) s[0][l] = kLadderKick;

            for (int start = 0; start < frames; start += kChunk) {
                const int n = std::min(kChunk, frames - start);
                const Ramp octaves{blk.octaves.at(start) + blk.cvOffset, blk.octaves.step};
                const Ramp depth{blk.depth.at(start), blk.depth.step};
                for (int i = 0; i < n; ++i) k[i] = blk.k.at(start + i);
                for (int l = 0; l < W; ++l) {
                    if (l < lanes) {
                        const float* x = in.channel(c0 + l) + start;
                        for (int i = 0; i < n; ++i) b.x[i][l] = x[i] * blk.drive.at(start + i);
                    } else {
                        for (int i = 0; i < n; ++i) b.x[i][l] = 0.0f;
                    }
                }
                if (!perLane) {
                    cutoffHz(hz, n, octaves, blk.settledHz, signal(cv, 0, start), signal(fm, 0, start), depth);
                    for (int i = 0; i < n; ++i) {
                        const float g = ladderG(hz[i], piOverFs_, maxHz_);
                        const float g2 = g * g;
                        const float h = 1.0f / mulAdd(k[i], g2 * g2, 1.0f);
                        gShared[i] = g;
                        hShared[i] = h;
                        khShared[i] = k[i] * h;
                    }
                    for (int i = 0; i < n; ++i)
                        for (int l = 0; l < W; ++l) b.x[i][l] *= hShared[i];
                    runLadder<W, true>(b, gShared, khShared, n, s);
                } else {
                    for (int l = 0; l < W; ++l) {
                        if (l < lanes) {
                            cutoffHz(hz, n, octaves, blk.settledHz, signal(cv, c0 + l, start), signal(fm, c0 + l, start), depth);
                            for (int i = 0; i < n; ++i) {
                                const float g = ladderG(hz[i], piOverFs_, maxHz_);
                                const float g2 = g * g;
                                const float h = 1.0f / mulAdd(k[i], g2 * g2, 1.0f);
                                b.g[i][l] = g;
                                b.h[i][l] = k[i] * h;
                                b.x[i][l] *= h;
                            }
                        } else {
                            for (int i = 0; i < n; ++i) {
                                b.g[i][l] = 0.5f;
                                b.h[i][l] = 1.0f;
                            }
                        }
                    }
                    runLadder<W, false>(b, gShared, khShared, n, s);
                }
                writeTap(ctx.out[kLadderLp], b.lp, c0, lanes, start, n);
                writeTap(ctx.out[kLadderLp12], b.lp12, c0, lanes, start, n);
                writeTap(ctx.out[kLadderBp], b.bp, c0, lanes, start, n);
                writeTap(ctx.out[kLadderHp], b.hp, c0, lanes, start, n);
            }
            for (int l = 0; l < lanes; ++l) {
                const bool finite = std::isfinite(s[0][l]) && std::isfinite(s[1][l]) && std::isfinite(s[2][l]) && std::isfinite(s[3][l]);
                for (int i = 0; i < 4; ++i) state_[i][c0 + l] = finite ? s[i][l] : 0.0f;
            }
        }
    }

    template <int W>
    static void writeTap(const OutputPort& out, const float (&tap)[kChunk][W], int c0, int lanes, int start, int frames) noexcept {
        if (!out.connected) return;
        for (int l = 0; l < lanes; ++l) {
            float* y = out.channel(c0 + l) + start;
            for (int i = 0; i < frames; ++i) y[i] = tap[i][l];
        }
    }

    ParamSmoother octaves_, feedback_, drive_, depth_;
    dsp::DbGain driveGain_;
    float cachedCutoff_ = -1.0f;
    float cachedOctaves_ = 0.0f;
    float cachedHzOctaves_ = -1000.0f;
    float cachedHz_ = 0.0f;
    float piOverFs_ = 0.0f;
    float maxHz_ = 0.0f;
    std::array<std::array<float, kMaxChannels>, 4> state_{};
};

const ModuleDescriptor kLadder{
    .id = "ladder",
    .name = "Ladder Filter",
    .category = "Filters",
    .help =
        "A 4-pole transistor-ladder low-pass (24 dB/octave) with saturation in its feedback loop: "
        "warm when driven, and self-oscillating above Resonance 1 as a clean sine at the cutoff (about "
        "0.15 peak, -17 dB, at resonance 1.1; within a cent of the cutoff). It "
        "is a zero-delay-feedback design, so the cutoff is exact across the range and it stays stable "
        "while the cutoff is modulated at audio rate. With Resonance 0 the low-pass is -12 dB at the "
        "cutoff (four equal poles) and the pass band has unity gain; raising Resonance boosts the "
        "cutoff region and, as on the analog original, thins the bass (DC gain 1 / (1 + 4 x "
        "resonance)). Drive raises the input into the saturation (the output rises with it until "
        "the loop saturates). LP12, BP and HP are mixes of the ladder's stages (2-pole low-pass, "
        "2+2-pole band-pass with 0 dB peak, 4-pole high-pass). Patch a pitch into Cutoff for 1 V/oct "
        "tracking (knob x 2^cv), or audio into FM for linear FM (FM depth Hz per unit). The cutoff is "
        "kept between 5 Hz and 0.45 x the sample rate. Polyphonic: one filter per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to filter"},
               {.id = "cutoff",
                .name = "Cutoff",
                .kind = SignalKind::Pitch,
                .help = "octaves added to the Cutoff knob (1 V/oct): cutoff = knob x 2^cv"},
               {.id = "fm", .name = "FM", .kind = SignalKind::Audio, .help = "linear FM: adds fm x FM depth Hz to the cutoff"}},
    .outputs = {{.id = "lp", .name = "LP", .kind = SignalKind::Audio, .help = "4-pole low-pass (24 dB/octave)"},
                {.id = "lp12", .name = "LP12", .kind = SignalKind::Audio, .help = "2-pole low-pass (the ladder's second stage)"},
                {.id = "bp", .name = "BP", .kind = SignalKind::Audio, .help = "band-pass, 12 dB/octave each side, 0 dB at the cutoff"},
                {.id = "hp", .name = "HP", .kind = SignalKind::Audio, .help = "4-pole high-pass"}},
    .params = {{.id = "cutoff",
                .name = "Cutoff",
                .min = 20.0f,
                .max = 20000.0f,
                .defaultValue = 1000.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "cutoff frequency with the Cutoff input at 0"},
               {.id = "resonance",
                .name = "Resonance",
                .min = 0.0f,
                .max = 1.2f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "feedback (4 x resonance); above 1 the filter sings a sine at the cutoff"},
               {.id = "drive",
                .name = "Drive",
                .min = -12.0f,
                .max = 24.0f,
                .defaultValue = 0.0f,
                .unit = "dB",
                .curve = ParamCurve::Linear,
                .help = "input gain into the saturating loop"},
               {.id = "fm_depth",
                .name = "FM depth",
                .min = 0.0f,
                .max = 20000.0f,
                .defaultValue = 0.0f,
                .unit = "Hz",
                .curve = ParamCurve::Linear,
                .help = "cutoff change in Hz per unit of the FM input"}},
    .create = [] { return std::unique_ptr<Module>(new Ladder(kLadder)); },
};
const RegisterModule registerLadder{kLadder};

// ---------------------------------------------------------------------------------------------
// comb
//
// Design note. One delay line per channel holds w = x + FB d, where d is the line read D samples
// back (4-point Hermite between samples) through a one-pole low-pass (the damping); the output is
// y = w + FF d. That is Dattorro's "universal comb" ("Effect Design, Part 2", JAES 45(9), 1997) with
// its blend gain at 1, FB = feedback x blend and FF = feedback x (1 - blend): blend 1 is the
// feedback comb 1 / (1 - g z^-D) (peaks 1 / (1 - g) high at k f for g > 0, at (k + 1/2) f for
// g < 0), blend 0 the feedforward comb 1 + g z^-D (notches at (k + 1/2) f, or k f for g < 0).
// D = fs / f less the damping filter's phase delay at f, so damping does not flatten the
// fundamental. The loop runs in sub-chunks no longer than the shortest delay in them (D may be
// shorter than a block: the comb tunes up to fs / 4), so the Hermite reads of a sub-chunk only see
// samples written before it: reads, the serial one-pole, and the writes are three passes.
//
// Lines are allocated on the UI thread (prepareChannels, grow-only) and never freed or moved while
// the module lives; a channel that comes into use, reset(), or a NaN that reached a line clears it
// (at most fs / 8 samples).

enum CombInputs { kCombIn, kCombPitchIn };
enum CombOutputs { kCombOut };
enum CombParams { kCombFreq, kCombFeedback, kCombBlend, kCombDamp };

constexpr float kCombMinHz = 8.0f;
constexpr float kCombMaxRatio = 0.25f;  // highest tuning, of the sample rate
constexpr float kCombDampMax = 0.95f;   // the damping one-pole's coefficient at Damp 1

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

private:
    void allocate(int c) {
        storage_[c] = AlignedFloats(size_);
        lines_[c].store(storage_[c].data(), std::memory_order_release);
    }

    std::size_t size_ = 0;
    std::array<AlignedFloats, kMaxChannels> storage_;
    std::array<std::atomic<float*>, kMaxChannels> lines_{};
};

class Comb final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        octaves_.prepare(sampleRate);
        feedback_.prepare(sampleRate);
        blend_.prepare(sampleRate);
        damp_.prepare(sampleRate);
        fs_ = static_cast<float>(sampleRate);
        minOctaves_ = std::log2(kCombMinHz);
        maxOctaves_ = std::log2(kCombMaxRatio * fs_);
        lines_.setMinSize(static_cast<std::size_t>(std::ceil(sampleRate / kCombMinHz)) + 8);
        reset();
    }

    void prepareChannels(std::span<const int>, std::span<const int> outputChannels) override {
        lines_.ensure(outputChannels.empty() ? 1 : outputChannels[0]);
    }

    void reset() noexcept override {
        for (int c = 0; c < kMaxChannels; ++c) clearChannel(c);
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;  // the tail decays into subnormals
        const int frames = ctx.frames;
        const float freq = param(kCombFreq);
        if (freq != cachedFreq_) {
            cachedFreq_ = freq;
            cachedOctaves_ = std::log2(freq);
        }
        const Ramp octaves = octaves_.next(cachedOctaves_, frames);
        const Ramp feedback = feedback_.next(param(kCombFeedback), frames);
        const Ramp blend = blend_.next(param(kCombBlend), frames);
        const Ramp damp = damp_.next(kCombDampMax * param(kCombDamp), frames);
        const InputPort& in = ctx.in[kCombIn];
        const InputPort& pitch = ctx.in[kCombPitchIn];
        const OutputPort& out = ctx.out[kCombOut];
        const int channels = out.channels;
        for (int c = activeChannels_; c < channels; ++c) clearChannel(c);  // holds old audio
        activeChannels_ = channels;

        const float pitchOffset = pitch.connected ? 0.0f : pitch.constant;
        const std::size_t mask = lines_.mask();
        for (int c = 0; c < channels; ++c) {
            float* y = out.channel(c);
            float* line = lines_.line(c);
            if (!line) {  // prepareChannels has not reached this channel yet
                std::fill_n(y, frames, 0.0f);
                continue;
            }
            const float* x = in.channel(c);
            const float* p = pitch.connected ? pitch.channel(c) : nullptr;
            const float tau = dampingDelay(octaves.start + (p ? p[0] : pitchOffset), damp.start);
            float lp = lp_[c];
            float written = 0.0f;  // the sum of what went into the line: NaN if a NaN did
            for (int start = 0; start < frames; start += kChunk) {
                const int n = std::min(kChunk, frames - start);
                alignas(64) float delay[kChunk], echo[kChunk], next[kChunk];
                if (p) {
                    for (int i = 0; i < n; ++i) delay[i] = fs_ / dsp::fastPow2(clampTuning(octaves.at(start + i) + p[start + i])) - tau;
                } else {
                    for (int i = 0; i < n; ++i) delay[i] = fs_ / dsp::fastPow2(clampTuning(octaves.at(start + i) + pitchOffset)) - tau;
                }
                float shortest = delay[0];
                for (int i = 1; i < n; ++i) shortest = std::min(shortest, delay[i]);
                // Sub-chunks short enough that every tap they read was written before they start
                // (the newest tap of a delay D is floor(D) - 1 samples old): the reads are then a
                // pass of their own, and only the damping one-pole is serial.
                const int span = std::max(1, static_cast<int>(shortest) - 1);  // >= 2: the tuning is clamped
                for (int s0 = 0; s0 < n; s0 += span) {
                    const int s1 = std::min(n, s0 + span);
                    const std::size_t base = write_ + static_cast<std::size_t>(start);
                    for (int i = s0; i < s1; ++i) {
                        const auto whole = static_cast<std::size_t>(delay[i]);
                        const float t = delay[i] - static_cast<float>(whole);
                        const std::size_t j = base + static_cast<std::size_t>(i);
                        echo[i] = dsp::hermite(line[(j - whole + 1) & mask], line[(j - whole) & mask], line[(j - whole - 1) & mask],
                                               line[(j - whole - 2) & mask], t);
                    }
                    for (int i = s0; i < s1; ++i) {
                        const int k = start + i;
                        lp = mulAdd(damp.at(k), lp - echo[i], echo[i]);
                        const float g = feedback.at(k);
                        const float fb = g * blend.at(k);
                        const float v = mulAdd(fb, lp, x[k]);
                        y[k] = mulAdd(g - fb, lp, v);
                        next[i] = v;
                    }
                    for (int i = s0; i < s1; ++i) {
                        line[(base + static_cast<std::size_t>(i)) & mask] = next[i];
                        written += next[i];
                    }
                }
            }
            lp_[c] = lp;
            // A NaN or Inf that reached the loop would ring forever: forget the line instead.
            if (!std::isfinite(written)) clearChannel(c);
        }
        write_ = (write_ + static_cast<std::size_t>(frames)) & mask;
    }

private:
    float clampTuning(float o) const noexcept {
        o = o > minOctaves_ ? o : minOctaves_;  // NaN -> the lowest tuning
        return o < maxOctaves_ ? o : maxOctaves_;
    }

    /// Phase delay (samples) of the damping one-pole y = (1 - a) x + a y[-1] at 2^octaves Hz:
    /// atan(a sin w / (1 - a cos w)) / w. Once per block and channel.
    float dampingDelay(float octaves, float a) const noexcept {
        if (!(a > 0.0f)) return 0.0f;
        const double w = 2.0 * std::numbers::pi * std::exp2(static_cast<double>(clampTuning(octaves))) / fs_;
        return static_cast<float>(std::atan2(a * std::sin(w), 1.0 - a * std::cos(w)) / w);
    }

    void clearChannel(int c) noexcept {
        lp_[c] = 0.0f;
        if (float* line = lines_.line(c)) std::fill_n(line, lines_.size(), 0.0f);
    }

    ParamSmoother octaves_, feedback_, blend_, damp_;
    float cachedFreq_ = -1.0f;
    float cachedOctaves_ = 0.0f;
    float fs_ = 48000.0f;
    float minOctaves_ = 3.0f, maxOctaves_ = 13.0f;
    std::size_t write_ = 0;  // shared by all channels
    int activeChannels_ = 0;
    std::array<float, kMaxChannels> lp_{};
    ChannelLines lines_;
};

const ModuleDescriptor kComb{
    .id = "comb",
    .name = "Comb Filter",
    .category = "Filters",
    .help =
        "A tuned comb filter: the input plus copies of itself delayed by 1 / Freq seconds (fractional "
        "delays interpolated), which rings at Freq and all its harmonics. FF / FB blends the two "
        "classic forms: 1 (feedback) gives resonant peaks at k x Freq, 1 / (1 - feedback) high (+20 dB "
        "at 0.9, +40 dB at 0.99: turn the input down, or excite it with short bursts for plucked "
        "strings); 0 (feedforward) gives notches at (k + 1/2) x Freq and never rings. Negative "
        "feedback moves the peaks to the odd multiples of Freq / 2 (a hollow, clarinet-like tone an "
        "octave lower). Damp low-passes the loop, so high harmonics die sooner; the fundamental stays "
        "in tune. Patch a pitch into Pitch for 1 V/oct tracking (freq = knob x 2^pitch); the tuning "
        "is kept between 8 Hz and a quarter of the sample rate. Polyphonic: one comb per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to filter (or to excite the comb)"},
               {.id = "pitch",
                .name = "Pitch",
                .kind = SignalKind::Pitch,
                .help = "octaves added to the Freq knob (1 V/oct): freq = knob x 2^pitch"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "filtered signal"}},
    .params = {{.id = "freq",
                .name = "Freq",
                .min = 20.0f,
                .max = 10000.0f,
                .defaultValue = 220.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "tuning: the delay is 1 / freq"},
               {.id = "feedback",
                .name = "Feedback",
                .min = -0.99f,
                .max = 0.99f,
                .defaultValue = 0.9f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "gain of the delayed copy; negative: odd harmonics of freq / 2"},
               {.id = "blend",
                .name = "FF / FB",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "0: feedforward (notches), 1: feedback (resonant peaks)"},
               {.id = "damp",
                .name = "Damp",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "low-pass in the loop: high harmonics decay faster"}},
    .create = [] { return std::unique_ptr<Module>(new Comb(kComb)); },
};
const RegisterModule registerComb{kComb};

// ---------------------------------------------------------------------------------------------
// formant
//
// Design note. Three band-passes in parallel, one per formant, each a trapezoidal SVF (Simper's
// form: v3 = x - ic2, v1 = a1 ic1 + a2 v3, v2 = ic2 + a2 ic1 + a3 v3, with a1 = 1 / (1 + g (g + k)),
// a2 = g a1, a3 = g a2) whose band-pass v1 is scaled by k = B / F to a peak gain of 1, then by the
// formant's level.
//   * Frequencies: Peterson & Barney (1952), "Control methods used in a study of the vowels",
//     JASA 24(2), 175-184, Table II, averages of 33 men, 28 women and 15 children, for the vowels
//     of hod, head, heed, hawed and who'd: our a, e, i, o, u.
//   * Bandwidths: B = 15 (500/F)^2 + 20 (F/500)^(1/2) + 5 (F/500)^2 Hz, the formula of Tappert,
//     Martony and Fant (1963) as given by Khodai-Joopari and Clermont (2002), "Comparison of
//     formulae for estimating formant bandwidths" (40 Hz at 500 Hz, 81 Hz at 1.5 kHz).
//   * Levels: those the cascade (all-pole) model of the vocal tract gives the same formants (Fant,
//     "Acoustic Theory of Speech Production", 1960): the product of the three DC-normalised
//     resonances at each formant, the strongest formant at 0 dB, so the parallel bank keeps the
//     cascade's spectral balance. Signs alternate (+, -, +), the usual practice in parallel formant
//     synthesis, so neighbouring skirts add between formants instead of cancelling.
// The vowel morphs continuously (log frequency, B / F and level interpolated between neighbouring
// vowels); Shift multiplies every formant by 2^shift and keeps its B / F. Coefficients follow the
// vowel and shift per sample while those move (the TPT SVF is stable under any such modulation).

enum FormantInputs { kFormantIn, kFormantVowelIn, kFormantShiftIn };
enum FormantOutputs { kFormantOut };
enum FormantParams { kFormantVowel, kFormantShift, kFormantVoice };

constexpr int kFormants = 3;
constexpr int kVowels = 5;
constexpr int kVoices = 3;

// Peterson & Barney (1952), Table II: average F1, F2, F3 in Hz.
constexpr float kPetersonBarney[kVoices][kVowels][kFormants] = {
    // a (hod)          e (head)           i (heed)           o (hawed)          u (who'd)
    {{730, 1090, 2440}, {530, 1840, 2480}, {270, 2290, 3010}, {570, 840, 2410}, {300, 870, 2240}},     // men
    {{850, 1220, 2810}, {610, 2330, 2990}, {310, 2790, 3310}, {590, 920, 2710}, {370, 950, 2670}},     // women
    {{1030, 1370, 3170}, {690, 2610, 3570}, {370, 3200, 3730}, {680, 1060, 3180}, {430, 1170, 3260}},  // children
};

/// Bandwidth (Hz) of a formant at `f` Hz: Tappert, Martony and Fant (1963).
double formantBandwidth(double f) {
    const double r = f / 500.0;
    return 15.0 / (r * r) + 20.0 * std::sqrt(r) + 5.0 * r * r;
}

/// Per voice and formant, for each vowel: log2 frequency, k = B / F, and the signed level.
struct FormantTable {
    // One extra vowel (a copy of u) so that the interpolation may always read vowel + 1.
    float octaves[kVoices][kFormants][kVowels + 1];
    float damping[kVoices][kFormants][kVowels + 1];
    float level[kVoices][kFormants][kVowels + 1];

    FormantTable() {
        for (int voice = 0; voice < kVoices; ++voice) {
            for (int v = 0; v <= kVowels; ++v) {
                const float(&f)[kFormants] = kPetersonBarney[voice][std::min(v, kVowels - 1)];
                double gain[kFormants];
                double strongest = 0.0;
                for (int i = 0; i < kFormants; ++i) {
                    // The cascade of DC-normalised resonances F^2 / (F^2 - f^2 + j B f), at formant i.
                    gain[i] = 1.0;
                    for (int j = 0; j < kFormants; ++j) {
                        const double fj = f[j], fi = f[i], bj = formantBandwidth(fj);
                        gain[i] *= fj * fj / std::hypot(fj * fj - fi * fi, bj * fi);
                    }
                    strongest = std::max(strongest, gain[i]);
                }
                for (int i = 0; i < kFormants; ++i) {
                    octaves[voice][i][v] = static_cast<float>(std::log2(double(f[i])));
                    damping[voice][i][v] = static_cast<float>(formantBandwidth(f[i]) / f[i]);
                    level[voice][i][v] = static_cast<float>((i % 2 ? -1.0 : 1.0) * gain[i] / strongest);
                }
            }
        }
    }
};

/// The three resonators' coefficients for each frame of a chunk.
struct FormantCoefficients {
    alignas(64) float a1[kFormants][kChunk];
    alignas(64) float a2[kFormants][kChunk];
    alignas(64) float a3[kFormants][kChunk];
    alignas(64) float gain[kFormants][kChunk];
};

class Formant final : public Module {
public:
    explicit Formant(const ModuleDescriptor& descriptor) : Module(descriptor) {}

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        vowel_.prepare(sampleRate);
        shift_.prepare(sampleRate);
        piOverFs_ = static_cast<float>(std::numbers::pi / sampleRate);
        maxHz_ = static_cast<float>(kMaxCutoffRatio * sampleRate);
    }

    void reset() noexcept override {
        for (auto& s : ic1_) s.fill(0.0f);
        for (auto& s : ic2_) s.fill(0.0f);
    }

    void process(const ProcessContext& ctx) noexcept override {
        ScopedFlushDenormals noDenormals;
        const int frames = ctx.frames;
        const Ramp vowel = vowel_.next(param(kFormantVowel), frames);
        const Ramp shift = shift_.next(param(kFormantShift), frames);
        const int voice = std::clamp(static_cast<int>(param(kFormantVoice)), 0, kVoices - 1);
        const InputPort& in = ctx.in[kFormantIn];
        const InputPort& vowelIn = ctx.in[kFormantVowelIn];
        const InputPort& shiftIn = ctx.in[kFormantShiftIn];
        const OutputPort& out = ctx.out[kFormantOut];
        const int channels = out.channels;

        const Ramp v0{vowel.start + (vowelIn.connected ? 0.0f : vowelIn.constant), vowel.step};
        const Ramp s0{shift.start + (shiftIn.connected ? 0.0f : shiftIn.constant), shift.step};
        const bool modulated = vowelIn.connected || shiftIn.connected;
        const bool perSample = modulated || !vowel.constant() || !shift.constant();
        const bool shared = (!vowelIn.connected || vowelIn.channels == 1) && (!shiftIn.connected || shiftIn.channels == 1);

        FormantCoefficients coefficients;
        if (!perSample) coefficientsSettled(coefficients, std::min(frames, kChunk), voice, v0.start, s0.start);
        for (int start = 0; start < frames; start += kChunk) {
            const int n = std::min(kChunk, frames - start);
            const Ramp v{v0.at(start), v0.step};
            const Ramp s{s0.at(start), s0.step};
            if (perSample && shared)
                coefficientsPerSample(coefficients, n, voice, v, s, signal(vowelIn, 0, start), signal(shiftIn, 0, start));
            for (int c = 0; c < channels; ++c) {
                float* y = out.channel(c) + start;
                if (!in.connected && in.constant == 0.0f && quiet(c)) {
                    std::fill_n(y, n, 0.0f);
                    continue;
                }
                if (perSample && !shared)
                    coefficientsPerSample(coefficients, n, voice, v, s, signal(vowelIn, c, start), signal(shiftIn, c, start));
                run(coefficients, in.channel(c) + start, y, n, c);
            }
        }
        for (int c = 0; c < channels; ++c) {
            bool finite = true;
            for (int i = 0; i < kFormants; ++i) finite = finite && std::isfinite(ic1_[i][c]) && std::isfinite(ic2_[i][c]);
            if (!finite)
                for (int i = 0; i < kFormants; ++i) ic1_[i][c] = ic2_[i][c] = 0.0f;
        }
    }

private:
    bool quiet(int c) const noexcept {
        for (int i = 0; i < kFormants; ++i)
            if (ic1_[i][c] != 0.0f || ic2_[i][c] != 0.0f) return false;
        return true;
    }

    /// Coefficients for `frames` frames at vowel positions vowel[n] (0..4, clamped) and shifts
    /// shift[n] (octaves). Three passes, so that the arithmetic vectorises: the vowel's place in
    /// the table, the table reads (gathers), and the coefficients.
    void coefficients(FormantCoefficients& out, int frames, int voice, const float* __restrict vowel,
                      const float* __restrict shift) const noexcept {
        alignas(64) int lo[kChunk];
        alignas(64) float t[kChunk], octaves[kChunk], damping[kChunk], level[kChunk];
        for (int n = 0; n < frames; ++n) {
            float v = vowel[n] > 0.0f ? vowel[n] : 0.0f;  // NaN -> a
            v = v < float(kVowels - 1) ? v : float(kVowels - 1);
            lo[n] = static_cast<int>(v);
            t[n] = v - static_cast<float>(lo[n]);
        }
        for (int i = 0; i < kFormants; ++i) {
            const float* __restrict o = table_.octaves[voice][i];
            const float* __restrict d = table_.damping[voice][i];
            const float* __restrict l = table_.level[voice][i];
            for (int n = 0; n < frames; ++n) {
                const int j = lo[n];
                octaves[n] = mulAdd(t[n], o[j + 1] - o[j], o[j]) + shift[n];
                damping[n] = mulAdd(t[n], d[j + 1] - d[j], d[j]);
                level[n] = mulAdd(t[n], l[j + 1] - l[j], l[j]);
            }
            float* __restrict a1 = out.a1[i];
            float* __restrict a2 = out.a2[i];
            float* __restrict a3 = out.a3[i];
            float* __restrict gain = out.gain[i];
            for (int n = 0; n < frames; ++n) {
                const float hz = clampCutoff(dsp::fastPow2(clampOctaves(octaves[n])), maxHz_);
                const float k = damping[n];
                // g = p / q; a1 = q^2 / d, a2 = p q / d, a3 = p^2 / d with d = q^2 + p^2 + k p q.
                const dsp::TanRatio r = dsp::tanRatio(hz * piOverFs_);
                const float pq = r.num * r.den;
                const float inv = 1.0f / (r.den * r.den + r.num * r.num + k * pq);
                a1[n] = r.den * r.den * inv;
                a2[n] = pq * inv;
                a3[n] = r.num * r.num * inv;
                gain[n] = k * level[n];
            }
        }
    }

    void coefficientsSettled(FormantCoefficients& out, int frames, int voice, float vowel, float shift) const noexcept {
        coefficients(out, 1, voice, &vowel, &shift);
        for (int i = 0; i < kFormants; ++i) {
            std::fill_n(out.a1[i] + 1, frames - 1, out.a1[i][0]);
            std::fill_n(out.a2[i] + 1, frames - 1, out.a2[i][0]);
            std::fill_n(out.a3[i] + 1, frames - 1, out.a3[i][0]);
            std::fill_n(out.gain[i] + 1, frames - 1, out.gain[i][0]);
        }
    }

    void coefficientsPerSample(FormantCoefficients& out, int frames, int voice, Ramp vowel, Ramp shift, const float* vowelCv,
                               const float* shiftCv) const noexcept {
        alignas(64) float v[kChunk], s[kChunk];
        for (int n = 0; n < frames; ++n) v[n] = vowel.at(n);
        for (int n = 0; n < frames; ++n) s[n] = shift.at(n);
        if (vowelCv)
            for (int n = 0; n < frames; ++n) v[n] += vowelCv[n];
        if (shiftCv)
            for (int n = 0; n < frames; ++n) s[n] += shiftCv[n];
        coefficients(out, frames, voice, v, s);
    }

    /// The three resonators over one chunk of channel c, interleaved (independent recursions).
    void run(const FormantCoefficients& k, const float* x, float* y, int frames, int c) noexcept {
        float ic1[kFormants], ic2[kFormants];
        for (int i = 0; i < kFormants; ++i) {
            ic1[i] = ic1_[i][c];
            ic2[i] = ic2_[i][c];
        }
        for (int n = 0; n < frames; ++n) {
            float sum = 0.0f;
#pragma GCC unroll 3
            for (int i = 0; i < kFormants; ++i) {
                const float v3 = x[n] - ic2[i];
                const float v1 = mulAdd(k.a1[i][n], ic1[i], k.a2[i][n] * v3);
                const float v2 = ic2[i] + mulAdd(k.a2[i][n], ic1[i], k.a3[i][n] * v3);
                ic1[i] = 2.0f * v1 - ic1[i];
                ic2[i] = 2.0f * v2 - ic2[i];
                sum = mulAdd(k.gain[i][n], v1, sum);
            }
            y[n] = sum;
        }
        for (int i = 0; i < kFormants; ++i) {
            ic1_[i][c] = ic1[i];
            ic2_[i][c] = ic2[i];
        }
    }

    FormantTable table_;
    ParamSmoother vowel_, shift_;
    float piOverFs_ = 0.0f;
    float maxHz_ = 0.0f;
    std::array<std::array<float, kMaxChannels>, kFormants> ic1_{};
    std::array<std::array<float, kMaxChannels>, kFormants> ic2_{};
};

const ModuleDescriptor kFormant{
    .id = "formant",
    .name = "Formant Filter",
    .category = "Filters",
    .help =
        "A vowel filter: three resonant band-passes in parallel at the first three formants of a "
        "spoken vowel, so a bright source (saw, pulse, noise) says a, e, i, o or u. Vowel morphs "
        "continuously from a (0) through e (1), i (2), o (3) to u (4); patch an LFO or envelope into "
        "Vowel (added to the knob) for talking sweeps. Shift moves every formant by octaves (+1 "
        "doubles them: a smaller throat) and keeps their widths in proportion. Voice picks the "
        "speakers' averages: man, woman or child. Sources: formant frequencies are the averages of "
        "Peterson & Barney (1952, JASA 24: 175-184, Table II; a as in hod, e head, i heed, o hawed, "
        "u who'd); bandwidths follow Tappert, Martony & Fant (1963), "
        "B = 15 (500/F)^2 + 20 (F/500)^0.5 + 5 (F/500)^2 Hz; relative levels are those of the "
        "cascade vocal-tract model with the same formants (Fant 1960), the strongest at 0 dB. The "
        "formants are kept below 0.45 x the sample rate. Polyphonic: one filter bank per channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to filter (a bright one)"},
               {.id = "vowel", .name = "Vowel", .kind = SignalKind::Control, .help = "added to the Vowel knob (1 per vowel)"},
               {.id = "shift", .name = "Shift", .kind = SignalKind::Pitch, .help = "octaves added to the Shift knob"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "the vowel-filtered signal"}},
    .params = {{.id = "vowel",
                .name = "Vowel",
                .min = 0.0f,
                .max = 4.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "0 a, 1 e, 2 i, 3 o, 4 u; in between morphs"},
               {.id = "shift",
                .name = "Shift",
                .min = -2.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .unit = "oct",
                .curve = ParamCurve::Linear,
                .help = "formant shift in octaves"},
               {.id = "voice",
                .name = "Voice",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"man", "woman", "child"},
                .help = "whose average formants (Peterson & Barney 1952)"}},
    .create = [] { return std::unique_ptr<Module>(new Formant(kFormant)); },
};
const RegisterModule registerFormant{kFormant};

}  // namespace
}  // namespace kabel
