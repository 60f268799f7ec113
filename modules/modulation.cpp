// Modulation sources and processors: the LFO, sample & hold, slew limiter, random voltages,
// envelope follower, math, logic and a Schmitt-trigger comparator.
//
// Design note. The LFO is a control signal, so it is not band-limited, but it is exact in time:
// its phase is a uint64 (2^64 per cycle) whose increment is rounded *up* from a long-double
// rate / sampleRate. A cycle of P samples (P an integer, e.g. 2 Hz at 48 kHz -> 24000) then wraps
// exactly on sample P, 2P, ... for longer than any performance (the excess is < P units of 2^-64
// per cycle), and the square's falling edge, compared against pw in 64 bits less a margin of
// 2^-25 cycle (half a float ulp of pw), lands exactly on sample round-up(pw * P): 14400 for
// pw 0.6 at 2 Hz, although 0.6f is 0.60000002. Clock sync measures the clock's period in whole
// samples between rising edges and derives the increment in exact integer arithmetic (128-bit),
// so a synced cycle also wraps on the very sample of the clock edge that starts the next one.
//
// Randomness (the LFO's random shapes, sample & hold's internal noise, the random source) is a
// counter-based hash of (instance seed, channel, count): the n-th value of a channel is the same
// on every render of the patch, whatever the block size, and differs between instances.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/dsp/fast_math.hpp"
#include "core/dsp/hash_random.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

constexpr int kChunk = 64;
constexpr long double kCycle64 = 18446744073709551616.0L;  // 2^64

// ---------------------------------------------------------------------------------------------
// Shared helpers.

// Value `index` of a stream, uniform in [-1, 1) in steps of 2^-23.
inline float uniformAt(std::uint64_t stream, std::uint64_t index) noexcept {
    const std::uint64_t h = dsp::hashAt(stream, index);
    return static_cast<float>(static_cast<std::int32_t>(h >> 32) >> 8) * 0x1p-23f;
}

// First frame in [from, to) where (x >= threshold) differs from `high`, else `to`. A vectorised
// count first: an input that holds its state for the whole range costs one branch-free pass.
inline int changeAt(const float* x, int from, int to, bool high, float threshold = 0.5f) noexcept {
    int count = 0;
    for (int n = from; n < to; ++n) count += x[n] >= threshold ? 1 : 0;
    if (count == (high ? to - from : 0)) return to;
    for (int n = from; n < to; ++n)
        if ((x[n] >= threshold) != high) return n;
    return to;
}

// The same for a port, whose unconnected value is a constant.
inline int changeAt(const InputPort& port, const float* x, int from, int to, bool high) noexcept {
    if (!port.connected) return (port.constant >= 0.5f) != high ? from : to;
    return changeAt(x, from, to, high);
}

// Phase increment for `cyclesPerSample`, rounded up (see the design note); at most half a cycle.
std::uint64_t increment64(double cyclesPerSample) noexcept {
    if (!(cyclesPerSample > 0.0)) return 0;
    if (cyclesPerSample >= 0.5) return 0x8000000000000000ull;
    return static_cast<std::uint64_t>(std::ceil(static_cast<long double>(cyclesPerSample) * kCycle64));
}

// ceil(2^64 * cycles / frames), exactly; at most half a cycle per frame.
std::uint64_t exactIncrement(std::uint64_t cycles, std::uint64_t frames) noexcept {
    if (frames == 0 || cycles == 0) return 0;
    if (2 * cycles >= frames) return 0x8000000000000000ull;
    __extension__ typedef unsigned __int128 Uint128;  // GCC/Clang: exact 2^64 x cycles
    const Uint128 num = (static_cast<Uint128>(cycles) << 64) - 1;
    return static_cast<std::uint64_t>(num / frames) + 1;
}

// A fraction of a cycle in [0, 1] as a phase (1 wraps to 0).
std::uint64_t phase64(float cycles) noexcept {
    const long double x = std::clamp(static_cast<long double>(cycles), 0.0L, 1.0L) * kCycle64;
    return x >= kCycle64 ? 0 : static_cast<std::uint64_t>(x);
}

// Smoothstep: 0 at 0, 1 at 1, flat at both ends.
inline float smoothstep(float u) noexcept {
    return u * u * (3.0f - 2.0f * u);
}

// log2 for positive normal floats, vectorisable: exponent bits plus an odd series in
// t = (m - 1)/(m + 1) for the mantissa m folded into [sqrt(1/2), sqrt(2)) (|t| <= 0.172, series
// cut after t^9: error < 2e-8 before float rounding).
inline float log2Positive(float x) noexcept {
    const std::int32_t bits = std::bit_cast<std::int32_t>(x);
    // Fold: mantissas >= sqrt(2) (0x3504F3 in the mantissa bits) count as half the next power.
    const std::int32_t shifted = bits - 0x3f3504f3;
    const std::int32_t e = shifted >> 23;
    const float m = std::bit_cast<float>(bits - (e << 23));
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float p = 2.0f / 9.0f;
    p = dsp::mulAdd(p, t2, 2.0f / 7.0f);
    p = dsp::mulAdd(p, t2, 2.0f / 5.0f);
    p = dsp::mulAdd(p, t2, 2.0f / 3.0f);
    p = dsp::mulAdd(p, t2, 2.0f);
    return static_cast<float>(e) + p * t * 1.44269504088896f;
}

// ---------------------------------------------------------------------------------------------
// lfo

enum LfoInputs { kLfoRateIn, kLfoResetIn, kLfoSyncIn };
enum LfoOutputs { kLfoOut };
enum LfoParams { kLfoRate, kLfoShape, kLfoPw, kLfoPhase, kLfoUnipolar, kLfoDivision };
enum LfoShape { kShapeSine, kShapeTriangle, kShapeSaw, kShapeSquare, kShapeRampDown, kShapeStepped, kShapeSmoothRandom };
constexpr int kLfoShapes = 7;

// Sync divisions: the LFO's period is the clock's period x clocks / cycles.
struct SyncDivision {
    std::uint32_t clocks, cycles;
};
constexpr std::array<SyncDivision, 12> kSyncDivisions{
    {{1, 16}, {1, 8}, {1, 4}, {1, 3}, {1, 2}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {6, 1}, {8, 1}, {16, 1}}};

inline bool randomShape(int shape) noexcept {
    return shape == kShapeStepped || shape == kShapeSmoothRandom;
}

class Lfo final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        rate_.prepare(sampleRate);
        cachedRate_ = -1.0f;
        for (int c = 0; c < kMaxChannels; ++c) stream_[static_cast<std::size_t>(c)] = dsp::streamOf(instanceSeed(), 0x6c666f, c);
    }

    void reset() noexcept override { started_ = false; }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp rate = rate_.next(param(kLfoRate), frames);
        const int shape = std::clamp(static_cast<int>(param(kLfoShape)), 0, kLfoShapes - 1);
        const bool unipolar = param(kLfoUnipolar) >= 0.5f;
        const SyncDivision division =
            kSyncDivisions[static_cast<std::size_t>(std::clamp(static_cast<int>(param(kLfoDivision)), 0, int(kSyncDivisions.size()) - 1))];
        // pw is not smoothed: a jump only moves the square's next edge (a step of the size the
        // square makes anyway), and smoothing would move the edges off exact samples.
        const std::uint64_t threshold = pw_.get(param(kLfoPw)) - (std::uint64_t{1} << 39);
        const std::uint64_t start = startPhase_.get(param(kLfoPhase));
        if (!started_) {
            for (int c = 0; c < kMaxChannels; ++c) {
                Channel& st = ch_[static_cast<std::size_t>(c)];
                st = Channel{};
                st.phase = st.last = start;
                st.prev = uniformAt(stream_[static_cast<std::size_t>(c)], 0);
                st.cur = uniformAt(stream_[static_cast<std::size_t>(c)], 1);
                st.counter = 1;
            }
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
        const bool random = randomShape(shape) || (fade && randomShape(oldShape));

        const InputPort& rateIn = ctx.in[kLfoRateIn];
        const InputPort& resetIn = ctx.in[kLfoResetIn];
        const InputPort& syncIn = ctx.in[kLfoSyncIn];
        const OutputPort& out = ctx.out[kLfoOut];
        const bool anyInput = rateIn.connected || resetIn.connected || syncIn.connected;
        const float blockRate = rate.constant() ? rate.start : rate.at(frames / 2);
        const std::uint64_t constantInc = rateIn.connected ? 0 : constantIncrement(blockRate, rateIn.constant);
        const float invSampleRate = static_cast<float>(1.0 / sampleRate());

        if (!anyInput && !random && !fade) {
            // The common case, kept small (the general path's stack arrays and constants stay
            // out of this function). Sine, triangle, saw and ramp need only the top 32 bits of
            // the phase: a uint32 phase stepping by the truncated increment (off by < 64 units
            // of 2^-32 at the end of a chunk) while the exact 64-bit phase advances for the next
            // chunk. The square compares the exact 64-bit phase with pw.
            const float high = 1.0f, low = unipolar ? 0.0f : -1.0f;
            for (int c = 0; c < out.channels; ++c) {
                Channel& st = ch_[static_cast<std::size_t>(c)];
                float* __restrict o = out.channel(c);
                for (int offset = 0; offset < frames; offset += kChunk) {
                    const int n = std::min(kChunk, frames - offset);
                    if (shape == kShapeSquare) {
                        renderSquare(st.phase, constantInc, threshold, high, low, o + offset, n);
                    } else {
                        renderSmooth(shape, unipolar, static_cast<std::uint32_t>(st.phase >> 32),
                                     static_cast<std::uint32_t>(constantInc >> 32), o + offset, n);
                    }
                    st.last = st.phase + static_cast<std::uint64_t>(n - 1) * constantInc;
                    st.phase += static_cast<std::uint64_t>(n) * constantInc;
                }
            }
            return;
        }
        const Block block{.frames = frames,
                          .shape = shape,
                          .oldShape = oldShape,
                          .unipolar = unipolar,
                          .oldUnipolar = oldUnipolar,
                          .fade = fade,
                          .random = random,
                          .threshold = threshold,
                          .start = start,
                          .division = division,
                          .constantInc = constantInc,
                          .blockRate = blockRate,
                          .invSampleRate = invSampleRate};
        renderGeneral(block, rateIn, resetIn, syncIn, out);
    }

private:
    // What process() decided for this block, for the general path.
    struct Block {
        int frames, shape, oldShape;
        bool unipolar, oldUnipolar, fade, random;
        std::uint64_t threshold, start;
        SyncDivision division;
        std::uint64_t constantInc;
        float blockRate, invSampleRate;
    };

    // Any input patched, a square, a random shape or a crossfade: per-frame 64-bit phases.
    [[gnu::noinline]] void renderGeneral(const Block& b, const InputPort& rateIn, const InputPort& resetIn, const InputPort& syncIn,
                                         const OutputPort& out) noexcept {
        const int frames = b.frames, shape = b.shape, oldShape = b.oldShape;
        const bool unipolar = b.unipolar, oldUnipolar = b.oldUnipolar, fade = b.fade, random = b.random;
        const std::uint64_t threshold = b.threshold, start = b.start, constantInc = b.constantInc;
        const SyncDivision division = b.division;
        const float blockRate = b.blockRate, invSampleRate = b.invSampleRate;
        const bool anyInput = rateIn.connected || resetIn.connected || syncIn.connected;
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            Channel& st = ch_[cc];
            const float* cv = rateIn.channel(c);
            const float* rs = resetIn.channel(c);
            const float* sy = syncIn.channel(c);
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                std::array<std::uint64_t, kChunk> ph;
                std::array<bool, kChunk> wrap;
                if (!anyInput) {
                    for (int i = 0; i < n; ++i) ph[static_cast<std::size_t>(i)] = st.phase + static_cast<std::uint64_t>(i) * constantInc;
                    if (random) {
                        std::uint64_t last = st.last;
                        for (int i = 0; i < n; ++i) {
                            wrap[static_cast<std::size_t>(i)] = ph[static_cast<std::size_t>(i)] < last;
                            last = ph[static_cast<std::size_t>(i)];
                        }
                    }
                    st.last = ph[static_cast<std::size_t>(n - 1)];
                    st.phase += static_cast<std::uint64_t>(n) * constantInc;
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
                    // The per-frame phase loop, compiled for each combination of what is
                    // patched, so a plain rate input pays for no reset, sync or wrap logic.
                    const int kind = (syncIn.connected ? 4 : 0) | (resetIn.connected ? 2 : 0) | (random ? 1 : 0);
                    const Inputs io{inc.data(), sy + offset, rs + offset, ph.data(), wrap.data(), start, division};
                    switch (kind) {
                        case 0:
                            advance<false, false, false>(st, io, n);
                            break;
                        case 1:
                            advance<false, false, true>(st, io, n);
                            break;
                        case 2:
                            advance<false, true, false>(st, io, n);
                            break;
                        case 3:
                            advance<false, true, true>(st, io, n);
                            break;
                        case 4:
                            advance<true, false, false>(st, io, n);
                            break;
                        case 5:
                            advance<true, false, true>(st, io, n);
                            break;
                        case 6:
                            advance<true, true, false>(st, io, n);
                            break;
                        default:
                            advance<true, true, true>(st, io, n);
                            break;
                    }
                }
                std::array<float, kChunk> cur, prev;
                if (random) {
                    const std::uint64_t stream = stream_[cc];
                    for (int i = 0; i < n; ++i) {
                        const auto ii = static_cast<std::size_t>(i);
                        if (wrap[ii]) {
                            st.prev = st.cur;
                            st.cur = uniformAt(stream, ++st.counter);
                        }
                        cur[ii] = st.cur;
                        prev[ii] = st.prev;
                    }
                }
                render(shape, unipolar, threshold, ph.data(), cur.data(), prev.data(), o + offset, n);
                if (fade) {
                    std::array<float, kChunk> old;
                    render(oldShape, oldUnipolar, threshold, ph.data(), cur.data(), prev.data(), old.data(), n);
                    const float step = 1.0f / static_cast<float>(frames);
                    for (int i = 0; i < n; ++i) {
                        const float w = static_cast<float>(offset + i + 1) * step;
                        o[offset + i] = old[static_cast<std::size_t>(i)] + w * (o[offset + i] - old[static_cast<std::size_t>(i)]);
                    }
                }
            }
        }
    }

    struct Channel {
        std::uint64_t phase = 0, last = 0;  // this frame's phase; the previous frame's
        bool resetHigh = false, syncHigh = false;
        std::int64_t sinceEdge = -1;  // frames since the last sync edge; -1 before the first
        std::uint64_t syncInc = 0;    // the increment measured from the sync clock; 0: none yet
        int edgeCount = 0;            // sync edges since the cycle group started
        std::uint64_t counter = 0;    // random shapes: values drawn
        float cur = 0.0f, prev = 0.0f;
    };

    // Jumps `phase` to `start` (a reset or a sync group start). True when that starts a new cycle
    // for the random shapes: a forward jump across phase 0, or any jump of more than 1/16 cycle.
    // A small step back (a clock a sample late after the cycle had already wrapped) keeps the value.
    static bool restart(std::uint64_t& phase, std::uint64_t start) noexcept {
        const std::uint64_t from = phase;
        phase = start;
        constexpr std::uint64_t kNear = std::uint64_t{1} << 60;
        if (start - from < kNear) return start < from;  // forward: new if it crossed 0
        if (from - start < kNear) return false;         // a small step back
        return true;
    }

    struct Inputs {
        const std::uint64_t* inc;  // per-frame increments (rate knob and input)
        const float* sync;
        const float* reset;
        std::uint64_t* ph;  // out: each frame's phase
        bool* wrap;         // out (kWrap): a new cycle begins on this frame
        std::uint64_t start;
        SyncDivision division;
    };

    // Advances one channel's phase over n frames, handling sync and reset edges on their frames.
    template <bool kSync, bool kReset, bool kWrap>
    static void advance(Channel& st, const Inputs& io, int n) noexcept {
        std::uint64_t phase = st.phase, last = st.last;
        for (int i = 0; i < n; ++i) {
            bool newCycle = false;
            if constexpr (kWrap) newCycle = phase < last;  // wrapped on the way to this frame
            if constexpr (kSync) {
                const bool high = io.sync[i] >= 0.5f;
                if (high && !st.syncHigh) {
                    if (st.sinceEdge > 0)
                        st.syncInc = exactIncrement(io.division.cycles,
                                                    std::uint64_t{io.division.clocks} * static_cast<std::uint64_t>(st.sinceEdge));
                    if (st.sinceEdge < 0 || ++st.edgeCount >= static_cast<int>(io.division.clocks)) {
                        st.edgeCount = 0;
                        newCycle |= restart(phase, io.start);
                    }
                    st.sinceEdge = 0;
                }
                st.syncHigh = high;
            }
            if constexpr (kReset) {
                const bool high = io.reset[i] >= 0.5f;
                if (high && !st.resetHigh) {  // rising edge: restart on this frame
                    newCycle |= restart(phase, io.start);
                    st.edgeCount = 0;
                }
                st.resetHigh = high;
            }
            if constexpr (kWrap) io.wrap[i] = newCycle;
            io.ph[i] = phase;
            last = phase;
            if constexpr (kSync) {
                phase += st.syncInc != 0 ? st.syncInc : io.inc[i];
                if (st.sinceEdge >= 0) ++st.sinceEdge;
            } else {
                phase += io.inc[i];
            }
        }
        st.phase = phase;
        st.last = last;
    }

    std::uint64_t constantIncrement(float rate, float octaves) noexcept {
        if (rate != cachedRate_ || octaves != cachedOctaves_) {
            cachedRate_ = rate;
            cachedOctaves_ = octaves;
            cachedInc_ = increment64(double(rate) * std::exp2(double(octaves)) / sampleRate());
        }
        return cachedInc_;
    }

    // The square from a 64-bit phase p + i * inc: out[i] = (p + i * inc, wrapping) < threshold ? high : low,
    // as runs between the frames where the comparison can change. A high run ends on the first
    // frame at or past the threshold, a low run on the first frame past the wrap; each run's
    // length is one division, so a chunk costs a fill and a few divisions (not a 64-bit multiply
    // per frame).
    static void renderSquare(std::uint64_t p, std::uint64_t inc, std::uint64_t threshold, float high, float low, float* __restrict out,
                             int n) noexcept {
        if (inc == 0) {
            std::fill_n(out, n, p < threshold ? high : low);
            return;
        }
        int i = 0;
        while (i < n) {
            const std::uint64_t q = p + static_cast<std::uint64_t>(i) * inc;
            const bool isHigh = q < threshold;
            // Frames before the comparison may change: ceil((threshold - q) / inc) while high
            // (q + m inc stays below the threshold, no wrap, for m below that), and
            // ceil((2^64 - q) / inc) = (2^64 - 1 - q) / inc + 1 while low (no wrap yet, so at or
            // above q and the threshold).
            const std::uint64_t frames = isHigh ? (threshold - q - 1) / inc + 1 : ~q / inc + 1;
            const int run = static_cast<int>(std::min<std::uint64_t>(frames, static_cast<std::uint64_t>(n - i)));
            std::fill_n(out + i, run, isHigh ? high : low);
            i += run;
        }
    }

    // Sine, triangle, saw or ramp down from a uint32 phase q + i * d: the oscillators' vectorised kernel.
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
            case kShapeRampDown:
                for (int i = 0; i < n; ++i)
                    out[i] = scale * (1.0f - 2.0f * dsp::phaseToUnit(q + static_cast<std::uint32_t>(i) * d)) + offset;
                break;
            default:
                for (int i = 0; i < n; ++i)
                    out[i] = scale * (2.0f * dsp::phaseToUnit(q + static_cast<std::uint32_t>(i) * d) - 1.0f) + offset;
                break;
        }
    }

    static void render(int shape, bool unipolar, std::uint64_t threshold, const std::uint64_t* __restrict ph, const float* __restrict cur,
                       const float* __restrict prev, float* __restrict out, int n) noexcept {
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
            case kShapeRampDown:  // +1 at phase 0, falling to -1
                for (int i = 0; i < n; ++i) out[i] = 1.0f - 2.0f * dsp::phaseToUnit(static_cast<std::uint32_t>(ph[i] >> 32));
                break;
            case kShapeStepped:  // a new random value at each cycle
                for (int i = 0; i < n; ++i) out[i] = cur[i];
                break;
            case kShapeSmoothRandom:  // from the last value to the new one across each cycle
                for (int i = 0; i < n; ++i)
                    out[i] = prev[i] + (cur[i] - prev[i]) * smoothstep(dsp::phaseToUnit(static_cast<std::uint32_t>(ph[i] >> 32)));
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
    std::array<Channel, kMaxChannels> ch_{};
    std::array<std::uint64_t, kMaxChannels> stream_{};
};

const ModuleDescriptor kLfo{
    .id = "lfo",
    .name = "LFO",
    .category = "Modulation",
    .help =
        "A low-frequency oscillator for modulation: sine, triangle, saw, square, ramp down, "
        "stepped random or smooth random, exact in time (a 2 Hz square at 48 kHz switches on "
        "every 24000th sample, for ever). At phase 0 the sine and triangle start at 0 rising, "
        "the saw at its bottom rising, the ramp down at its top falling, and the square high; "
        "the square stays high for the first PW of each cycle. Stepped random holds a new "
        "uniform random value for each cycle; smooth random glides (smoothstep) from the last "
        "value to the new one across each cycle; both repeat exactly on every render of the "
        "patch. Unipolar maps the +-1 output to 0..1, so a unipolar square is a gate clock. A "
        "rising edge on Reset restarts the cycle at Phase on that very sample. The Rate input "
        "adds octaves to the rate (+1 doubles it). Sync locks the LFO to a clock: the period "
        "between its rising edges is measured in samples, the LFO's period becomes that "
        "period x Division (1/4: four cycles per clock, 4: one cycle per four clocks), and "
        "the cycle restarts at Phase on the clock edge that begins each group, so it never "
        "drifts; Rate and the rate input are ignored once a period is measured. Changing the "
        "shape or polarity crossfades over one block.",
    .inputs = {{.id = "rate",
                .name = "Rate",
                .kind = SignalKind::Control,
                .defaultValue = 0.0f,
                .help = "octaves added to the rate: rate x 2^input"},
               {.id = "reset",
                .name = "Reset",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge through 0.5 restarts the cycle at Phase"},
               {.id = "sync",
                .name = "Sync",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a clock: the LFO period becomes the clock period x Division, in phase with it"}},
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
                .max = float(kLfoShapes - 1),
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"sine", "triangle", "saw", "square", "ramp down", "stepped random", "smooth random"},
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
                .help = "where the cycle starts, at start-up, on each reset and on each sync group"},
               {.id = "unipolar",
                .name = "Unipolar",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "off: +-1; on: 0..1"},
               {.id = "division",
                .name = "Sync Division",
                .min = 0.0f,
                .max = float(kSyncDivisions.size() - 1),
                .defaultValue = 5.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"1/16", "1/8", "1/4", "1/3", "1/2", "1", "2", "3", "4", "6", "8", "16"},
                .help = "with Sync patched: the LFO period in clock periods"}},
    .create = [] { return std::unique_ptr<Module>(new Lfo(kLfo)); },
};
const RegisterModule registerLfo{kLfo};

// ---------------------------------------------------------------------------------------------
// snh: sample & hold (or track & hold) of an input, or of internal noise.

enum SnhInputs { kSnhIn, kSnhTrig };
enum SnhOutputs { kSnhOut };
enum SnhParams { kSnhMode };

class SampleHold final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        for (int c = 0; c < kMaxChannels; ++c) stream_[static_cast<std::size_t>(c)] = dsp::streamOf(instanceSeed(), 0x736e68, c);
    }

    void reset() noexcept override { ch_.fill(Channel{}); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const InputPort& in = ctx.in[kSnhIn];
        const InputPort& trig = ctx.in[kSnhTrig];
        const OutputPort& out = ctx.out[kSnhOut];
        const bool track = param(kSnhMode) >= 0.5f;
        for (int c = 0; c < out.channels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            const std::uint64_t stream = stream_[static_cast<std::size_t>(c)];
            const float* x = in.channel(c);
            const float* t = trig.channel(c);
            float* __restrict y = out.channel(c);
            int i = 0;
            while (i < frames) {
                const int j = changeAt(trig, t, i, frames, st.high);
                if (track && st.high) {
                    // Track: follow the input (or fresh noise) while the trigger is high.
                    if (in.connected) {
                        std::copy(x + i, x + j, y + i);
                    } else {
                        for (int k = i; k < j; ++k) y[k] = uniformAt(stream, st.counter++);
                    }
                    if (j > i) st.held = y[j - 1];
                } else {
                    std::fill(y + i, y + j, st.held);
                }
                i = j;
                if (i == frames) break;
                st.high = !st.high;
                if (st.high && !track) {
                    st.held = in.connected ? x[i] : uniformAt(stream, st.counter++);
                }
            }
        }
    }

private:
    struct Channel {
        bool high = false;
        float held = 0.0f;
        std::uint64_t counter = 0;
    };
    std::array<Channel, kMaxChannels> ch_{};
    std::array<std::uint64_t, kMaxChannels> stream_{};
};

const ModuleDescriptor kSnh{
    .id = "snh",
    .name = "Sample & Hold",
    .category = "Modulation",
    .help =
        "Sample & hold: on each rising edge of Trig (through 0.5) the output takes the value of "
        "In on that very sample and holds it until the next edge. With In unpatched it samples "
        "internal white noise instead (uniform in [-1, 1), a stream of its own per channel and "
        "per instance, the same on every render of the patch): patch a clock into Trig for the "
        "classic random steps. Track & hold mode follows In while Trig is high and holds the "
        "last value while it is low. Polyphonic: one hold per channel; a mono trigger samples "
        "every channel of a polyphonic input at once. Starts at 0 before the first trigger.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Control, .help = "the signal to sample; unpatched: internal noise"},
               {.id = "trig", .name = "Trig", .kind = SignalKind::Gate, .help = "a rising edge through 0.5 samples"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Control, .help = "the held value"}},
    .params = {{.id = "mode",
                .name = "Mode",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"sample & hold", "track & hold"},
                .help = "sample on the rising edge, or follow while high"}},
    .create = [] { return std::unique_ptr<Module>(new SampleHold(kSnh)); },
};
const RegisterModule registerSnh{kSnh};

// ---------------------------------------------------------------------------------------------
// slew: a slew limiter (linear, a maximum rate) or a lag (exponential, a one-pole glide).

enum SlewInputs { kSlewIn };
enum SlewOutputs { kSlewOut };
enum SlewParams { kSlewRise, kSlewFall, kSlewShape };

constexpr double kLn1000 = 6.907755278982137;  // the exponential glide covers 60 dB of a jump in its time
constexpr double kSettled = 1e-7;              // a glide this close to its target snaps onto it

class Slew final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        cachedRise_ = cachedFall_ = -1.0f;
    }

    void reset() noexcept override { y_.fill(0.0f); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const InputPort& in = ctx.in[kSlewIn];
        const OutputPort& out = ctx.out[kSlewOut];
        const bool exponential = param(kSlewShape) >= 0.5f;
        updateCoefficients(param(kSlewRise), param(kSlewFall));
        const int channels = out.channels;
        if (!in.connected) {
            bool settled = true;
            for (int c = 0; c < channels; ++c) settled = settled && y_[static_cast<std::size_t>(c)] == double(in.constant);
            if (settled) {
                for (int c = 0; c < channels; ++c) std::fill_n(out.channel(c), frames, in.constant);
                return;
            }
        }
        // Each channel is a serial recursion; four channels side by side give the CPU four
        // independent chains to overlap.
        int c = 0;
        for (; c + 4 <= channels; c += 4) run<4>(in, out, c, frames, exponential);
        for (; c < channels; ++c) run<1>(in, out, c, frames, exponential);
    }

private:
    // The state is a double: a float lag stalls where the step d x coef falls below half an ulp
    // (1% short of the target for a 30 s glide), and a float ramp drifts by a rounding per step.
    template <int L>
    void run(const InputPort& in, const OutputPort& out, int c0, int frames, bool exponential) noexcept {
        std::array<const float*, L> x;
        std::array<float*, L> o;
        std::array<double, L> y;
        for (int l = 0; l < L; ++l) {
            x[static_cast<std::size_t>(l)] = in.channel(c0 + l);
            o[static_cast<std::size_t>(l)] = out.channel(c0 + l);
            y[static_cast<std::size_t>(l)] = y_[static_cast<std::size_t>(c0 + l)];
        }
        if (exponential) {
            const double up = riseCoef_, down = fallCoef_;
            for (int n = 0; n < frames; ++n)
                for (std::size_t l = 0; l < L; ++l) {
                    const double target = x[l][n], d = target - y[l];
                    y[l] += d * (d > 0.0 ? up : down);
                    if (std::fabs(target - y[l]) < kSettled) y[l] = target;
                    o[l][n] = static_cast<float>(y[l]);
                }
        } else {
            const double up = riseStep_, down = -fallStep_;
            for (int n = 0; n < frames; ++n)
                for (std::size_t l = 0; l < L; ++l) {
                    y[l] += std::clamp(double(x[l][n]) - y[l], down, up);
                    o[l][n] = static_cast<float>(y[l]);
                }
        }
        for (int l = 0; l < L; ++l) y_[static_cast<std::size_t>(c0 + l)] = y[static_cast<std::size_t>(l)];
    }

    void updateCoefficients(float rise, float fall) noexcept {
        if (rise == cachedRise_ && fall == cachedFall_) return;
        cachedRise_ = rise;
        cachedFall_ = fall;
        const double fs = sampleRate();
        riseStep_ = 1.0 / (double(rise) * fs);
        fallStep_ = 1.0 / (double(fall) * fs);
        riseCoef_ = -std::expm1(-kLn1000 / (double(rise) * fs));
        fallCoef_ = -std::expm1(-kLn1000 / (double(fall) * fs));
    }

    float cachedRise_ = -1.0f, cachedFall_ = -1.0f;
    double riseStep_ = 0.0, fallStep_ = 0.0, riseCoef_ = 0.0, fallCoef_ = 0.0;
    std::array<double, kMaxChannels> y_{};
};

const ModuleDescriptor kSlew{
    .id = "slew",
    .name = "Slew",
    .category = "Modulation",
    .help =
        "Slows a signal's changes: portamento for pitch, smoothing for stepped CV, a lag for "
        "gates. Linear shape: a slew limiter, the output moves toward the input at most 1/Rise "
        "units per second going up and 1/Fall going down (a jump of 1, an octave of pitch, takes "
        "exactly Rise seconds; a jump of 2 twice as long). Exponential shape: a one-pole lag "
        "with separate rise and fall times, covering 99.9% (60 dB) of any jump in Rise or Fall "
        "seconds whatever its size (time constant = time / 6.91). Starts at 0. Polyphonic.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Control, .help = "the signal to slow down"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Control, .help = "the slewed signal"}},
    .params = {{.id = "rise",
                .name = "Rise",
                .min = 0.0001f,
                .max = 30.0f,
                .defaultValue = 0.1f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "linear: seconds per unit upward; exponential: time to cover 99.9% of a rise"},
               {.id = "fall",
                .name = "Fall",
                .min = 0.0001f,
                .max = 30.0f,
                .defaultValue = 0.1f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "linear: seconds per unit downward; exponential: time to cover 99.9% of a fall"},
               {.id = "shape",
                .name = "Shape",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"linear", "exponential"},
                .help = "constant rate, or a one-pole glide"}},
    .create = [] { return std::unique_ptr<Module>(new Slew(kSlew)); },
};
const RegisterModule registerSlew{kSlew};

// ---------------------------------------------------------------------------------------------
// random: stepped and smooth random voltages at a rate.

enum RandomInputs { kRandomRateIn };
enum RandomOutputs { kRandomStepped, kRandomSmooth };
enum RandomParams { kRandomRate, kRandomChannels, kRandomUnipolar };

class Random final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int> inputChannels) const override {
        return std::max(std::clamp(static_cast<int>(param(kRandomChannels)), 1, kMaxChannels), inputChannels[kRandomRateIn]);
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        rate_.prepare(sampleRate);
        cachedRate_ = -1.0f;
        for (int c = 0; c < kMaxChannels; ++c) stream_[static_cast<std::size_t>(c)] = dsp::streamOf(instanceSeed(), 0x726e64, c);
        reset();
    }

    void reset() noexcept override {
        for (int c = 0; c < kMaxChannels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            st = Channel{};
            st.prev = uniformAt(stream_[static_cast<std::size_t>(c)], 0);
            st.cur = uniformAt(stream_[static_cast<std::size_t>(c)], 1);
            st.counter = 1;
        }
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp rate = rate_.next(param(kRandomRate), frames);
        const bool unipolar = param(kRandomUnipolar) >= 0.5f;
        const float scale = unipolar ? 0.5f : 1.0f, bias = unipolar ? 0.5f : 0.0f;
        const InputPort& rateIn = ctx.in[kRandomRateIn];
        const OutputPort& stepped = ctx.out[kRandomStepped];
        const OutputPort& smooth = ctx.out[kRandomSmooth];
        const float blockRate = rate.constant() ? rate.start : rate.at(frames / 2);
        if (!rateIn.connected && (blockRate != cachedRate_ || rateIn.constant != cachedOctaves_)) {
            cachedRate_ = blockRate;
            cachedOctaves_ = rateIn.constant;
            cachedInc_ = increment64(double(blockRate) * std::exp2(double(rateIn.constant)) / sampleRate());
        }
        const float invSampleRate = static_cast<float>(1.0 / sampleRate());
        for (int c = 0; c < stepped.channels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            const std::uint64_t stream = stream_[static_cast<std::size_t>(c)];
            const float* cv = rateIn.channel(c);
            float* s = stepped.connected ? stepped.channel(c) : nullptr;
            float* m = smooth.connected ? smooth.channel(c) : nullptr;
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                std::array<std::uint64_t, kChunk> inc;
                if (rateIn.connected) {
                    for (int i = 0; i < n; ++i)
                        inc[static_cast<std::size_t>(i)] =
                            std::uint64_t{dsp::phaseIncrementFast(blockRate * invSampleRate * dsp::fastPow2(cv[offset + i]))} << 32;
                } else {
                    inc.fill(cachedInc_);
                }
                std::array<float, kChunk> cur, prev, unit;
                for (int i = 0; i < n; ++i) {
                    const auto ii = static_cast<std::size_t>(i);
                    unit[ii] = dsp::phaseToUnit(static_cast<std::uint32_t>(st.phase >> 32));
                    cur[ii] = st.cur;
                    prev[ii] = st.prev;
                    const std::uint64_t next = st.phase + inc[ii];
                    if (next < st.phase) {  // a new value from the next frame on
                        st.prev = st.cur;
                        st.cur = uniformAt(stream, ++st.counter);
                    }
                    st.phase = next;
                }
                if (s)
                    for (int i = 0; i < n; ++i) s[offset + i] = scale * cur[static_cast<std::size_t>(i)] + bias;
                if (m)
                    for (int i = 0; i < n; ++i) {
                        const auto ii = static_cast<std::size_t>(i);
                        m[offset + i] = scale * (prev[ii] + (cur[ii] - prev[ii]) * smoothstep(unit[ii])) + bias;
                    }
            }
        }
    }

private:
    struct Channel {
        std::uint64_t phase = 0, counter = 0;
        float cur = 0.0f, prev = 0.0f;
    };
    ParamSmoother rate_;
    float cachedRate_ = -1.0f, cachedOctaves_ = 0.0f;
    std::uint64_t cachedInc_ = 0;
    std::array<Channel, kMaxChannels> ch_{};
    std::array<std::uint64_t, kMaxChannels> stream_{};
};

const ModuleDescriptor kRandom{
    .id = "random",
    .name = "Random",
    .category = "Modulation",
    .help =
        "Random voltages at a rate: Stepped jumps to a new uniform random value Rate times per "
        "second (exact in time, like the LFO) and holds it; Smooth glides (smoothstep, no "
        "overshoot) from the previous value to the current one across each step, so it "
        "arrives at each stepped value just as the next step begins. +-1, or 0..1 when "
        "Unipolar. Every channel and every instance has its own sequence, the same on every "
        "render of the patch (a reset starts it again). Channels sets how many independent "
        "channels the outputs carry; a polyphonic Rate input adds its own. The Rate input adds "
        "octaves to the rate (+1 doubles it).",
    .inputs = {{.id = "rate", .name = "Rate", .kind = SignalKind::Control, .help = "octaves added to the rate: rate x 2^input"}},
    .outputs = {{.id = "stepped", .name = "Stepped", .kind = SignalKind::Control, .help = "a new random value each step"},
                {.id = "smooth", .name = "Smooth", .kind = SignalKind::Control, .help = "glides between the stepped values"}},
    .params = {{.id = "rate",
                .name = "Rate",
                .min = 0.01f,
                .max = 1000.0f,
                .defaultValue = 2.0f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "new values per second"},
               {.id = "channels",
                .name = "Channels",
                .min = 1.0f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "independent random channels",
                .structural = true},
               {.id = "unipolar",
                .name = "Unipolar",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "off: +-1; on: 0..1"}},
    .create = [] { return std::unique_ptr<Module>(new Random(kRandom)); },
};
const RegisterModule registerRandom{kRandom};

// ---------------------------------------------------------------------------------------------
// follower: envelope follower.

enum FollowerInputs { kFollowerIn };
enum FollowerOutputs { kFollowerOut };
enum FollowerParams { kFollowerAttack, kFollowerRelease, kFollowerDetector, kFollowerScale };

constexpr float kFollowerFloorDb = -120.0f;

class Follower final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        cachedAttack_ = cachedRelease_ = -1.0f;
    }

    void reset() noexcept override { env_.fill(0.0f); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const InputPort& in = ctx.in[kFollowerIn];
        const OutputPort& out = ctx.out[kFollowerOut];
        const bool rms = param(kFollowerDetector) >= 0.5f;
        const bool db = param(kFollowerScale) >= 0.5f;
        const float attack = param(kFollowerAttack), release = param(kFollowerRelease);
        if (attack != cachedAttack_ || release != cachedRelease_) {
            cachedAttack_ = attack;
            cachedRelease_ = release;
            attackCoef_ = -std::expm1(-1.0 / (double(attack) * sampleRate()));
            releaseCoef_ = -std::expm1(-1.0 / (double(release) * sampleRate()));
        }
        // Each channel's detector is a serial recursion; four channels side by side give the CPU
        // four independent chains to overlap.
        const int channels = out.channels;
        int c = 0;
        if (!rms) {
            for (; c + 4 <= channels; c += 4) detect<4, Detector::Peak>(in, out, c, frames);
            for (; c < channels; ++c) detect<1, Detector::Peak>(in, out, c, frames);
        } else {
            for (; c + 4 <= channels; c += 4) detect<4, Detector::MeanSquare>(in, out, c, frames);
            for (; c < channels; ++c) detect<1, Detector::MeanSquare>(in, out, c, frames);
            if (!db) {
                // The root, vectorised (std::sqrt's errno check keeps GCC from vectorising it):
                // 2^(log2(ms) / 2), then one Newton step, which leaves float's own rounding.
                // Mean squares below 1e-30 (and silence) give exactly 0.
                constexpr std::int32_t kTinyBits = 0x0da24260;  // 1e-30f
                for (c = 0; c < channels; ++c) {
                    float* __restrict o = out.channel(c);
                    for (int n = 0; n < frames; ++n) {
                        const std::int32_t bits = std::bit_cast<std::int32_t>(o[n]);
                        const float x = std::bit_cast<float>(bits > kTinyBits ? bits : kTinyBits);
                        float r = dsp::fastPow2(0.5f * log2Positive(x));
                        r = 0.5f * (r + x / r);
                        const std::int32_t root = std::bit_cast<std::int32_t>(r);
                        o[n] = std::bit_cast<float>(bits > kTinyBits ? root : 0);
                    }
                }
            }
        }
        if (!db) return;
        // dB re 1.0, floored at -120 dB (and at silence): 20 log10(level) = 6.0206 log2(level)
        // for a level, 10 log10(ms) = 3.0103 log2(ms) for a mean square. The floor is applied
        // to the bit pattern (positive floats order like their bits): an integer max, which
        // vectorises where a float select with a constant arm would not.
        const float scale = rms ? 3.01029996f : 6.02059991f;
        const std::int32_t floorBits = std::bit_cast<std::int32_t>(rms ? 1e-12f : 1e-6f);
        for (c = 0; c < channels; ++c) {
            float* __restrict o = out.channel(c);
            for (int n = 0; n < frames; ++n) {
                const std::int32_t bits = std::bit_cast<std::int32_t>(o[n]);
                o[n] = scale * log2Positive(std::bit_cast<float>(bits > floorBits ? bits : floorBits));
            }
        }
    }

private:
    enum class Detector { Peak, MeanSquare };

    // |x| or x^2 through an attack/release one-pole (the state is the mean square for RMS, so the
    // times are its time constants), into the output: the level or the mean square.
    // A double state: a float one stalls short of its target once a step is below half an ulp
    // (1.5% short with a 10 s release).
    template <int L, Detector kDetector>
    void detect(const InputPort& in, const OutputPort& out, int c0, int frames) noexcept {
        constexpr bool kSquare = kDetector != Detector::Peak;
        const double up = attackCoef_, down = releaseCoef_;
        std::array<const float*, L> x;
        std::array<float*, L> o;
        std::array<double, L> e;
        for (int l = 0; l < L; ++l) {
            x[static_cast<std::size_t>(l)] = in.channel(c0 + l);
            o[static_cast<std::size_t>(l)] = out.channel(c0 + l);
            e[static_cast<std::size_t>(l)] = env_[static_cast<std::size_t>(c0 + l)];
        }
        for (int n = 0; n < frames; ++n)
            for (std::size_t l = 0; l < L; ++l) {
                const double v = kSquare ? double(x[l][n]) * double(x[l][n]) : std::fabs(double(x[l][n]));
                e[l] += (v - e[l]) * (v > e[l] ? up : down);
                o[l][n] = static_cast<float>(e[l]);
            }
        for (int l = 0; l < L; ++l) {
            const double v = e[static_cast<std::size_t>(l)];
            env_[static_cast<std::size_t>(c0 + l)] = v < 1e-30 ? 0.0 : v;  // no denormals on silence
        }
    }

    float cachedAttack_ = -1.0f, cachedRelease_ = -1.0f;
    double attackCoef_ = 0.0, releaseCoef_ = 0.0;
    std::array<double, kMaxChannels> env_{};
};

const ModuleDescriptor kFollower{
    .id = "follower",
    .name = "Envelope Follower",
    .category = "Modulation",
    .help =
        "Turns a signal's loudness into a control voltage. Peak detector: |in| through a "
        "one-pole that rises with the Attack time constant and falls with the Release one (a "
        "step from 0 to 1 reads 0.632 after Attack seconds; a fall reads 36.8% of the way "
        "after Release seconds); a steady sine of amplitude A reads about A. RMS detector: the "
        "same smoothing of in^2, then the square root, so a steady sine of amplitude A reads "
        "A/sqrt(2) (-3.01 dB re its peak) and the times are the mean square's time constants. "
        "Linear output, or dB (20 log10, 0 dB = 1.0, floored at -120 dB). Polyphonic.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "the signal to follow"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Control, .help = "level: linear (1 = full scale) or dB"}},
    .params = {{.id = "attack",
                .name = "Attack",
                .min = 0.0001f,
                .max = 10.0f,
                .defaultValue = 0.01f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time constant while the level rises"},
               {.id = "release",
                .name = "Release",
                .min = 0.0001f,
                .max = 10.0f,
                .defaultValue = 0.1f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time constant while the level falls"},
               {.id = "detector",
                .name = "Detector",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"peak", "rms"},
                .help = "what is followed: |in| or the mean square"},
               {.id = "scale",
                .name = "Scale",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"linear", "dB"},
                .help = "output as a level or in dB"}},
    .create = [] { return std::unique_ptr<Module>(new Follower(kFollower)); },
};
const RegisterModule registerFollower{kFollower};

// ---------------------------------------------------------------------------------------------
// math: out = op(a, b, c).

enum MathInputs { kMathA, kMathB, kMathC };
enum MathOutputs { kMathOut };
enum MathParams { kMathOp, kMathBParam, kMathCParam };
enum MathOp { kAdd, kSubtract, kMultiply, kDivide, kMin, kMax, kClamp, kQuantize, kScaleOffset, kCrossfade, kAbs };
constexpr int kMathOps = 11;

class Math final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        b_.prepare(sampleRate);
        c_.prepare(sampleRate);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const int op = std::clamp(static_cast<int>(param(kMathOp)), 0, kMathOps - 1);
        const Ramp bKnob = b_.next(param(kMathBParam), frames);
        const Ramp cKnob = c_.next(param(kMathCParam), frames);
        const InputPort& a = ctx.in[kMathA];
        const InputPort& b = ctx.in[kMathB];
        const InputPort& c = ctx.in[kMathC];
        const OutputPort& out = ctx.out[kMathOut];
        for (int ch = 0; ch < out.channels; ++ch) {
            const float* pa = a.channel(ch);
            const float* pb = b.channel(ch);
            const float* pc = c.channel(ch);
            float* o = out.channel(ch);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                std::array<float, kChunk> bb, cc;
                // b = knob + input, c = knob + input (the knob alone when unpatched).
                for (int i = 0; i < n; ++i) bb[static_cast<std::size_t>(i)] = bKnob.at(offset + i) + pb[offset + i];
                for (int i = 0; i < n; ++i) cc[static_cast<std::size_t>(i)] = cKnob.at(offset + i) + pc[offset + i];
                apply(op, pa + offset, bb.data(), cc.data(), o + offset, n);
            }
        }
    }

private:
    static void apply(int op, const float* __restrict a, const float* __restrict b, const float* __restrict c, float* __restrict y,
                      int n) noexcept {
        switch (op) {
            case kAdd:
                for (int i = 0; i < n; ++i) y[i] = a[i] + b[i];
                break;
            case kSubtract:
                for (int i = 0; i < n; ++i) y[i] = a[i] - b[i];
                break;
            case kMultiply:
                for (int i = 0; i < n; ++i) y[i] = a[i] * b[i];
                break;
            case kDivide:
                for (int i = 0; i < n; ++i) {
                    const bool zero = b[i] == 0.0f;
                    const float q = a[i] / (zero ? 1.0f : b[i]);
                    y[i] = zero ? 0.0f : q;
                }
                break;
            case kMin:
                for (int i = 0; i < n; ++i) y[i] = b[i] < a[i] ? b[i] : a[i];
                break;
            case kMax:
                for (int i = 0; i < n; ++i) y[i] = b[i] > a[i] ? b[i] : a[i];
                break;
            case kClamp:
                for (int i = 0; i < n; ++i) {
                    const float lo = b[i] < c[i] ? b[i] : c[i], hi = b[i] < c[i] ? c[i] : b[i];
                    const float t = a[i] < lo ? lo : a[i];
                    y[i] = t > hi ? hi : t;
                }
                break;
            case kQuantize:
                for (int i = 0; i < n; ++i) {
                    const bool off = !(b[i] > 0.0f);
                    const float step = off ? 1.0f : b[i];
                    const float q = std::floor(a[i] / step + 0.5f) * step;
                    y[i] = off ? a[i] : q;
                }
                break;
            case kScaleOffset:
                for (int i = 0; i < n; ++i) y[i] = a[i] * b[i] + c[i];
                break;
            case kCrossfade:
                for (int i = 0; i < n; ++i) y[i] = a[i] + (b[i] - a[i]) * c[i];
                break;
            default:  // abs
                for (int i = 0; i < n; ++i) y[i] = std::fabs(a[i]);
                break;
        }
    }

    ParamSmoother b_, c_;
};

const ModuleDescriptor kMath{
    .id = "math",
    .name = "Math",
    .category = "Modulation",
    .help =
        "Arithmetic on signals, sample by sample: out = op(a, b, c), where b = the B knob + the B "
        "input and c = the C knob + the C input (just the knobs when unpatched). Ops: add a + b; "
        "subtract a - b; multiply a x b; divide a / b (0 where b is 0); min and max of a and b; "
        "clamp a into [b, c] (either order); quantize a to the nearest multiple of b (round half "
        "up; b <= 0 passes a: b = 1/12 snaps pitch to semitones); scale & offset a x b + c; "
        "crossfade a + (b - a) x c (c 0: a, c 1: b); abs |a|. The defaults (B 1, C 0) make "
        "multiply, divide, scale & offset and crossfade pass a unchanged and quantize snap to "
        "octaves. Knob moves glide over ~10 ms. Polyphonic: one result per channel.",
    .inputs = {{.id = "a", .name = "A", .kind = SignalKind::Control, .help = "first operand"},
               {.id = "b", .name = "B", .kind = SignalKind::Control, .help = "second operand, added to the B knob"},
               {.id = "c",
                .name = "C",
                .kind = SignalKind::Control,
                .help = "third operand (clamp, scale & offset, crossfade), added to the C knob"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Control, .help = "op(a, b, c)"}},
    .params = {{.id = "op",
                .name = "Operation",
                .min = 0.0f,
                .max = float(kMathOps - 1),
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"add", "subtract", "multiply", "divide", "min", "max", "clamp", "quantize", "scale & offset", "crossfade",
                            "abs"},
                .help = "what out computes"},
               {.id = "b",
                .name = "B",
                .min = -16.0f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .help = "b when the B input is unpatched; added to it otherwise"},
               {.id = "c",
                .name = "C",
                .min = -16.0f,
                .max = 16.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .help = "c when the C input is unpatched; added to it otherwise"}},
    .create = [] { return std::unique_ptr<Module>(new Math(kMath)); },
};
const RegisterModule registerMath{kMath};

// ---------------------------------------------------------------------------------------------
// logic: and, or, xor, not on two gate inputs.

enum LogicInputs { kLogicA, kLogicB };
enum LogicOutputs { kLogicAnd, kLogicOr, kLogicXor, kLogicNot, kLogicNand, kLogicNor };
enum LogicParams { kLogicThreshold };

class Logic final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        threshold_.prepare(sampleRate);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp threshold = threshold_.next(param(kLogicThreshold), frames);
        const InputPort& a = ctx.in[kLogicA];
        const InputPort& b = ctx.in[kLogicB];
        for (int c = 0; c < ctx.out[kLogicAnd].channels; ++c) {
            const float* __restrict pa = a.channel(c);
            const float* __restrict pb = b.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                std::array<float, kChunk> x, y;
                for (int i = 0; i < n; ++i) {
                    const float t = threshold.at(offset + i);
                    x[static_cast<std::size_t>(i)] = pa[offset + i] >= t ? 1.0f : 0.0f;
                    y[static_cast<std::size_t>(i)] = pb[offset + i] >= t ? 1.0f : 0.0f;
                }
                for (int k = kLogicAnd; k <= kLogicNor; ++k) {
                    const OutputPort& port = ctx.out[static_cast<std::size_t>(k)];
                    if (!port.connected) continue;
                    float* __restrict o = port.channel(c) + offset;
                    switch (k) {
                        case kLogicAnd:
                            for (int i = 0; i < n; ++i) o[i] = x[static_cast<std::size_t>(i)] * y[static_cast<std::size_t>(i)];
                            break;
                        case kLogicOr:
                            for (int i = 0; i < n; ++i) o[i] = std::max(x[static_cast<std::size_t>(i)], y[static_cast<std::size_t>(i)]);
                            break;
                        case kLogicXor:
                            for (int i = 0; i < n; ++i) o[i] = std::fabs(x[static_cast<std::size_t>(i)] - y[static_cast<std::size_t>(i)]);
                            break;
                        case kLogicNot:
                            for (int i = 0; i < n; ++i) o[i] = 1.0f - x[static_cast<std::size_t>(i)];
                            break;
                        case kLogicNand:
                            for (int i = 0; i < n; ++i) o[i] = 1.0f - x[static_cast<std::size_t>(i)] * y[static_cast<std::size_t>(i)];
                            break;
                        default:
                            for (int i = 0; i < n; ++i)
                                o[i] = 1.0f - std::max(x[static_cast<std::size_t>(i)], y[static_cast<std::size_t>(i)]);
                            break;
                    }
                }
            }
        }
    }

private:
    ParamSmoother threshold_;
};

PortDescriptor gateOut(std::string id, std::string name, std::string help) {
    return {.id = std::move(id), .name = std::move(name), .kind = SignalKind::Gate, .defaultValue = 0.0f, .help = std::move(help)};
}

const ModuleDescriptor kLogic{
    .id = "logic",
    .name = "Logic",
    .category = "Modulation",
    .help =
        "Boolean logic on gates. Each input counts as true when it is >= Threshold (default "
        "0.5, so 0/1 gates work as they are; set it to 0 to treat any non-negative signal as "
        "true, or to a CV level to turn an LFO into a gate). Outputs are 0 or 1, sample by "
        "sample: A and B, A or B, A xor B (exactly one), not A, nand, nor. An unpatched B is "
        "false. Polyphonic: channel by channel; a mono input meets every channel of the other.",
    .inputs = {{.id = "a", .name = "A", .kind = SignalKind::Gate, .help = "true when >= Threshold"},
               {.id = "b", .name = "B", .kind = SignalKind::Gate, .help = "true when >= Threshold (false unpatched)"}},
    .outputs = {gateOut("and", "And", "1 when A and B"), gateOut("or", "Or", "1 when A or B (or both)"),
                gateOut("xor", "Xor", "1 when exactly one of A and B"), gateOut("not", "Not A", "1 when A is false"),
                gateOut("nand", "Nand", "0 only when A and B"), gateOut("nor", "Nor", "1 only when neither")},
    .params = {{.id = "threshold",
                .name = "Threshold",
                .min = -10.0f,
                .max = 10.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .help = "inputs at or above it are true"}},
    .create = [] { return std::unique_ptr<Module>(new Logic(kLogic)); },
};
const RegisterModule registerLogic{kLogic};

// ---------------------------------------------------------------------------------------------
// compare: a comparator with hysteresis (Schmitt trigger).

enum CompareInputs { kCompareIn, kCompareRef };
enum CompareOutputs { kCompareGt, kCompareLt, kCompareTrig };
enum CompareParams { kCompareThreshold, kCompareHysteresis };

constexpr double kCompareTrigSeconds = 0.001;

class Compare final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        threshold_.prepare(sampleRate);
        hysteresis_.prepare(sampleRate);
        trigFrames_ = std::max(1, static_cast<int>(std::lround(kCompareTrigSeconds * sampleRate)));
    }

    void reset() noexcept override { ch_.fill(Channel{}); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp threshold = threshold_.next(param(kCompareThreshold), frames);
        const Ramp hysteresis = hysteresis_.next(param(kCompareHysteresis), frames);
        const InputPort& in = ctx.in[kCompareIn];
        const InputPort& ref = ctx.in[kCompareRef];
        const OutputPort& gt = ctx.out[kCompareGt];
        const OutputPort& lt = ctx.out[kCompareLt];
        const OutputPort& trig = ctx.out[kCompareTrig];
        for (int c = 0; c < gt.channels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            const float* __restrict x = in.channel(c);
            const float* __restrict r = ref.channel(c);
            float* __restrict g = gt.channel(c);
            float high = st.high ? 1.0f : 0.0f;
            int trigLeft = st.trigLeft;
            float* __restrict t = trig.connected ? trig.channel(c) : nullptr;
            for (int n = 0; n < frames; ++n) {
                const float centre = threshold.at(n) + r[n], half = 0.5f * hysteresis.at(n);
                const float was = high;
                high = x[n] > centre + half ? 1.0f : (x[n] <= centre - half ? 0.0f : high);
                if (high > was) trigLeft = trigFrames_;
                if (t) t[n] = trigLeft > 0 ? 1.0f : 0.0f;
                trigLeft -= trigLeft > 0 ? 1 : 0;
                g[n] = high;
            }
            st.high = high > 0.5f;
            st.trigLeft = trigLeft;
            if (lt.connected) {
                float* __restrict l = lt.channel(c);
                for (int n = 0; n < frames; ++n) l[n] = 1.0f - g[n];
            }
        }
    }

private:
    struct Channel {
        bool high = false;
        int trigLeft = 0;
    };
    ParamSmoother threshold_, hysteresis_;
    int trigFrames_ = 48;
    std::array<Channel, kMaxChannels> ch_{};
};

const ModuleDescriptor kCompare{
    .id = "compare",
    .name = "Compare",
    .category = "Modulation",
    .help =
        "A comparator with hysteresis (a Schmitt trigger): the reference is Threshold + the Ref "
        "input; Above goes high when In rises above reference + Hysteresis/2 and low only when "
        "it falls to or below reference - Hysteresis/2, so a noisy or slow signal switches once per "
        "crossing instead of chattering (with Hysteresis 0: high exactly while In > reference). Below "
        "is its inverse. Trig sends a 1 ms trigger each time Above goes high: an LFO or an "
        "envelope follower into In becomes a clock or an onset detector. Starts low. "
        "Polyphonic.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Control, .help = "the signal compared"},
               {.id = "ref", .name = "Ref", .kind = SignalKind::Control, .help = "added to Threshold"}},
    .outputs = {gateOut("gt", "Above", "1 while In is above the reference (with hysteresis)"), gateOut("lt", "Below", "1 while Above is 0"),
                gateOut("trig", "Trig", "a 1 ms trigger when Above goes high")},
    .params = {{.id = "threshold",
                .name = "Threshold",
                .min = -10.0f,
                .max = 10.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .help = "the reference level (plus the Ref input)"},
               {.id = "hysteresis",
                .name = "Hysteresis",
                .min = 0.0f,
                .max = 10.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .help = "width of the band between switching up and down"}},
    .create = [] { return std::unique_ptr<Module>(new Compare(kCompare)); },
};
const RegisterModule registerCompare{kCompare};

}  // namespace
}  // namespace kabel
