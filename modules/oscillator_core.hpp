// The machinery the oscillator family shares (modules/oscillators.cpp, modules/wavetable.cpp):
// the common ports and params, the per-frame phase engine (pitch, through-zero FM, phase
// modulation, hard sync) and the band-limited step and ramp residuals (BLEP, BLAMP) that remove
// the aliasing of waveform discontinuities.
//
// Design note. Every oscillator keeps its phase as a uint32 (2^32 per cycle, fast_math.hpp): the
// wrap is free and exact, and a negative increment simply runs the phase backwards, which is
// what through-zero FM needs. A block is worked in chunks of at most kChunk frames. The general
// kernel (advance()) computes per-frame signed increments (vectorised), a running sum that
// applies sync resets at their sub-sample position (scalar, one add per frame), and the
// effective phase theta = phase + pm (vectorised). A waveform then renders its naive value at
// each theta (vectorised) and corrects each discontinuity it crosses between two frames:
//   - a jump in value (the saw's wrap, the pulse's edges, a sync reset) gets a band-limited step
//     residual (BLEP) scaled by the jump,
//   - a jump in slope (the triangle's corners, a sync reset) gets a band-limited ramp residual
//     (BLAMP) scaled by the change of slope per sample.
// The residuals come from one windowed-sinc kernel (24 taps, Kaiser beta 7, cut-off 0.42 fs),
// integrated once and tabulated at 64 sub-sample offsets with linear interpolation between rows.
// The kernel is linear-phase, so a corrected waveform is delayed by kBlepDelay = 12 frames: the
// naive value of frame n lands at acc[n + kBlepDelay] of a per-channel accumulator and a
// discontinuity just before frame m adds its residual at acc[m .. m + kBlepTaps).
//
// Everything here is for the audio thread unless it says otherwise, and never allocates.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "core/module/descriptor.hpp"
#include "core/module/module.hpp"
#include "core/module/smoothing.hpp"

namespace kabel::osc {

/// Kernels work on chunks of at most this many frames (stack arrays, no allocation).
inline constexpr int kChunk = 64;

// ---------------------------------------------------------------------------------------------
// Ports and params shared by the family (UI thread, at static initialisation). Ids are stable.

std::vector<PortDescriptor> pitchFmPmSyncInputs();  // pitch, fm, pm, sync (in that order)
PortDescriptor positionInput();                     // wavetable position
ParamDescriptor freqParam();
ParamDescriptor fmAmountParam();

// ---------------------------------------------------------------------------------------------
// Increments

/// Caches the exact (double) increment of an unmodulated oscillator: recomputed only when the
/// knob or the unpatched pitch value changes, so a bank of idle oscillators pays one compare.
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

/// Per-frame (unsigned) increments for frames [offset, offset + n) of the block: (freq ramp) x
/// 2^pitch. The sine and saw fast paths use it (positive frequencies only).
inline void modulatedIncrements(std::uint32_t* inc, const float* pitch, Ramp freq, float invSampleRate, int offset, int n) noexcept {
    const float f0 = freq.at(offset) * invSampleRate;
    const float df = freq.step * invSampleRate;
    for (int i = 0; i < n; ++i) inc[i] = dsp::phaseIncrementFast((f0 + float(i) * df) * dsp::fastPow2(pitch[i]));
}

/// A signed increment for `cyclesPerSample`, clamped to just inside +-0.5 (NaN gives the clamp).
/// Vectorisable (see fastPow2 for the compare-select style).
inline std::int32_t signedIncrement(float cyclesPerSample) noexcept {
    const float x = cyclesPerSample * 4294967296.0f;
    const float ax = std::fabs(x);
    return static_cast<std::int32_t>(std::copysign(ax < 2147483520.0f ? ax : 2147483520.0f, x));
}

/// A phase offset in cycles (any real number) as phase units: its fractional part times 2^32.
inline std::uint32_t cyclesToPhase(float cycles) noexcept {
    const float f = cycles - std::nearbyint(cycles);  // [-0.5, 0.5]
    const float x = f * 4294967296.0f;
    const float ax = std::fabs(x);
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(std::copysign(ax < 2147483520.0f ? ax : 2147483520.0f, x)));
}

inline float phaseToCycles(std::int32_t d) noexcept {
    return static_cast<float>(d) * 0x1p-32f;
}

// ---------------------------------------------------------------------------------------------
// Band-limited residuals

inline constexpr int kBlepTaps = 24;
inline constexpr int kBlepOversample = 64;
inline constexpr int kBlepDelay = kBlepTaps / 2;

/// Residuals of a unit step (value jumps by 1) and of a unit ramp (slope jumps by 1 per frame):
/// the band-limited signal minus the ideal one at the kBlepTaps frames around the
/// discontinuity. Row p is for a discontinuity p / kBlepOversample frames before the first frame
/// after it; tap i is that frame - kBlepDelay + i. `delta` is the next row minus this one.
struct BlepTables {
    struct Row {
        alignas(32) std::array<float, kBlepTaps> value;
        alignas(32) std::array<float, kBlepTaps> delta;
    };
    std::array<Row, kBlepOversample> step;
    std::array<Row, kBlepOversample> ramp;
};

/// Built at the first call (any thread; C++ makes the static's initialisation thread-safe). The
/// oscillators call it in their constructors, on the UI thread.
const BlepTables& blepTables();

/// Adds h x the step residual of a discontinuity `frac` frames (0..1) before frame dst[kBlepDelay].
inline void addStep(float* __restrict dst, const BlepTables& t, float frac, float h) noexcept {
    const float pos = std::clamp(frac, 0.0f, 1.0f) * float(kBlepOversample);
    const int row = std::min(static_cast<int>(pos), kBlepOversample - 1);
    const float w = h * (pos - float(row));
    const BlepTables::Row& r = t.step[static_cast<std::size_t>(row)];
    for (int i = 0; i < kBlepTaps; ++i)
        dst[i] += dsp::mulAdd(h, r.value[static_cast<std::size_t>(i)], w * r.delta[static_cast<std::size_t>(i)]);
}

/// Adds s x the ramp residual (a slope change of s per frame) `frac` frames before dst[kBlepDelay].
inline void addRamp(float* __restrict dst, const BlepTables& t, float frac, float s) noexcept {
    const float pos = std::clamp(frac, 0.0f, 1.0f) * float(kBlepOversample);
    const int row = std::min(static_cast<int>(pos), kBlepOversample - 1);
    const float w = s * (pos - float(row));
    const BlepTables::Row& r = t.ramp[static_cast<std::size_t>(row)];
    for (int i = 0; i < kBlepTaps; ++i)
        dst[i] += dsp::mulAdd(s, r.value[static_cast<std::size_t>(i)], w * r.delta[static_cast<std::size_t>(i)]);
}

/// A per-channel accumulator for a corrected waveform: frames leave kBlepDelay frames late.
struct Accumulator {
    alignas(32) std::array<float, kChunk + kBlepTaps> a{};

    /// Clears the slots the next n frames' residual tails reach into; returns the buffer.
    float* begin(int n) noexcept {
        std::fill_n(a.data() + kBlepTaps, n, 0.0f);
        return a.data();
    }
    /// begin() for a kernel that stores (not adds) its naive frames from kBlepTaps - kBlepDelay
    /// on (the saw's fast path): clears only the slots past them. The naive frames then never
    /// load the zeros just written here (a vector load over fresh, differently aligned stores
    /// waits for them to retire: a fifth of the saw's time in W2's profile). Same sums to the
    /// bit: 0 + v is v.
    float* beginStore(int n) noexcept {
        std::fill(a.data() + std::max(kBlepTaps, kBlepDelay + n), a.data() + kBlepTaps + n, 0.0f);
        return a.data();
    }
    /// Copies the chunk's n finished frames out and keeps the tail for the next chunk.
    void finish(float* out, int n) noexcept {
        if (n == kChunk) {  // the usual case, with constant sizes: inline vector copies, no memmove calls
            std::copy_n(a.data(), kChunk, out);
            std::copy_n(a.data() + kChunk, kBlepTaps, a.data());
            return;
        }
        std::copy_n(a.data(), n, out);
        std::copy_n(a.data() + n, kBlepTaps, a.data());
    }
    void clear() noexcept { a.fill(0.0f); }
};

// ---------------------------------------------------------------------------------------------
// The general phase kernel

/// What drives one channel's phase for one block.
struct Drive {
    const float* pitch = nullptr;  // octaves, every frame (an unpatched input holds its constant)
    const float* fm = nullptr;     // nullptr: unpatched
    const float* pm = nullptr;     // cycles; nullptr: unpatched
    const float* sync = nullptr;   // nullptr: unpatched
    Ramp freq;                     // Hz
    Ramp fmAmount;
    float invSampleRate = 1.0f / 48000.0f;
    bool constant = false;  // every increment is constantInc (no pitch, fm or freq movement)
    std::int32_t constantInc = 0;
};

/// One channel's phase between chunks.
struct PhaseState {
    std::uint32_t phase = 0;  // base phase at the next frame
    std::int32_t inc = 0;     // base increment of the interval before the next frame
    std::uint32_t theta = 0;  // effective phase (phase + pm) at the previous frame
    std::uint32_t pm = 0;     // pm at the previous frame (phase units)
    std::uint32_t edge = 0;   // a moving edge (the pulse width) at the previous frame
    float sync = 1.0f;        // the sync input at the previous frame (1: no edge can follow)
    /// The previous frame came from the general kernel, so the interval from it to the next
    /// frame has not been searched for discontinuities yet. A fast path handles that interval
    /// itself (and searches up to the frame after its chunk) and clears the flag.
    bool pending = false;

    void restart(std::uint32_t at) noexcept {
        phase = at;
        inc = 0;
        theta = at;
        pm = 0;
        sync = 1.0f;
        pending = false;
    }
};

/// The phases of one chunk. Index 0 of theta/pm is the frame before the chunk; index i + 1 is
/// frame i. inc[i] moves frame i to frame i + 1 (and prevInc the previous frame to frame 0).
struct Chunk {
    int n = 0;
    int resets = 0;
    std::int32_t prevInc = 0;
    bool searchFirst = false;  // search the interval before frame 0 (PhaseState::pending)
    alignas(32) std::array<std::int32_t, kChunk> inc;
    alignas(32) std::array<std::uint32_t, kChunk + 1> theta;
    alignas(32) std::array<std::uint32_t, kChunk + 1> pm;
    alignas(32) std::array<float, kChunk> resetAt;  // frame i: time from a sync reset to frame i (0..1), or -1
};

/// Runs the phase of one channel over frames [offset, offset + n) of the block (the Drive's
/// pointers are to the block's frame 0).
void advance(PhaseState& st, const Drive& d, int offset, int n, std::uint32_t resetPhase, Chunk& ch) noexcept;

/// |effective increment| before frame i, in cycles per frame (the sync reset's jump excluded).
inline float speedBefore(const Chunk& ch, int i) noexcept {
    const auto k = static_cast<std::size_t>(i);
    const std::int32_t d =
        ch.resetAt[k] < 0.0f ? static_cast<std::int32_t>(ch.theta[k + 1] - ch.theta[k]) : (i == 0 ? ch.prevInc : ch.inc[k - 1]);
    return std::fabs(phaseToCycles(d));
}

// ---------------------------------------------------------------------------------------------
// Discontinuities

/// A point of a waveform where the value (step) or the slope (corner) jumps. `position` is the
/// phase where it sits at frame i (per frame: positions[i + 1], index 0 the frame before, as
/// Chunk::theta), or the constant `at` when positions is nullptr. `amount` is the jump met going
/// forward: the value's for a step (backward: -amount), the slope's per cycle for a corner
/// (backward the same: a peak is a peak both ways), so a corner adds amount x |speed| per frame.
struct Edge {
    const std::uint32_t* positions = nullptr;
    std::uint32_t at = 0;
    bool corner = false;
    float amount = 0.0f;
};

/// The value and slope (per cycle) of a waveform at a phase, for a sync reset's jump.
struct Shape {
    virtual float value(std::uint32_t theta, int frame) const noexcept = 0;
    virtual float slope(std::uint32_t theta, int frame) const noexcept = 0;

protected:
    ~Shape() = default;
};

/// Adds the residual of every discontinuity the chunk's phases cross (edges, and sync resets
/// with their jumps in value and slope) into acc (the accumulator's buffer). Scalar work only
/// where something is crossed; a vectorised search finds those frames first. One virtual call
/// per sync reset, none per frame.
void correct(const Chunk& ch, const Edge* edges, int edgeCount, std::uint32_t resetPhase, const Shape& shape, const BlepTables& t,
             float* acc) noexcept;

/// Moves a phase by `frames` frames of increment `inc` (for entering or leaving the delayed,
/// corrected output: the phase jumps so the output stays continuous).
inline std::uint32_t skipFrames(std::uint32_t phase, std::int32_t inc, int frames) noexcept {
    return phase + static_cast<std::uint32_t>(static_cast<std::int64_t>(inc) * frames);
}

// ---------------------------------------------------------------------------------------------
// The common base

/// Inputs and params every phase oscillator of the family starts with, in this order.
enum PhaseInputs { kInPitch, kInFm, kInPm, kInSync };
enum PhaseParams { kParamFreq, kParamFmAmount };

/// The largest increment the kernels pass on (just under half a cycle per frame).
inline constexpr std::uint32_t kIncrementMax = 0x7FFFFF80u;

/// The phase machinery of sine, saw, pulse, triangle and wavetable: smoothed frequency and FM
/// amount, the exact constant increment, per-channel phase state and accumulators.
class PhaseOscillator : public Module {
public:
    /// UI thread. `resetPhase`: the phase a reset and a sync restart at.
    PhaseOscillator(const ModuleDescriptor& d, std::uint32_t resetPhase) : Module(d), blep_(&blepTables()), resetPhase_(resetPhase) {
        // Not reset(): that would prime the glides with the defaults before the patch's values
        // are set.
        for (auto& s : st_) s.restart(resetPhase_);
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        freq_.prepare(sampleRate);
        fmAmount_.prepare(sampleRate);
        constant_.prepare(sampleRate);
        invSampleRate_ = static_cast<float>(1.0 / sampleRate);
    }

    void reset() noexcept override {
        for (auto& s : st_) s.restart(resetPhase_);
        for (auto& a : acc_) a.clear();
        freq_.reset(param(kParamFreq));
        fmAmount_.reset(param(kParamFmAmount));
        delayed_ = false;
    }

protected:
    /// One block's view of the phase inputs. Audio thread.
    struct Block {
        const ProcessContext* ctx;
        Ramp freq, fmAmount;
        bool fm, pm, sync;
        bool general;   // fm, pm or sync patched
        bool constant;  // one exact increment for every frame
        std::int32_t constantInc;
        float invSampleRate;
    };

    /// True when fm, pm and sync are all unpatched (the fast paths may run).
    static bool plain(const ProcessContext& ctx) noexcept {
        return !ctx.in[kInFm].connected && !ctx.in[kInPm].connected && !ctx.in[kInSync].connected;
    }

    /// `freq`: this block's glide of the Frequency knob (freq_.next(), taken once per block).
    Block begin(const ProcessContext& ctx, Ramp freq) noexcept {
        Block b{};
        b.ctx = &ctx;
        b.freq = freq;
        b.fmAmount = fmAmount_.next(param(kParamFmAmount), ctx.frames);
        b.fm = ctx.in[kInFm].connected;
        b.pm = ctx.in[kInPm].connected;
        b.sync = ctx.in[kInSync].connected;
        b.general = b.fm || b.pm || b.sync;
        const InputPort& pitch = ctx.in[kInPitch];
        b.constant = !pitch.connected && b.freq.constant() && !b.fm;
        b.constantInc = b.constant ? static_cast<std::int32_t>(std::min(constant_.get(b.freq.start, pitch.constant), kIncrementMax)) : 0;
        b.invSampleRate = invSampleRate_;
        return b;
    }

    static Drive drive(const Block& b, int c) noexcept {
        const ProcessContext& ctx = *b.ctx;
        Drive d;
        d.pitch = ctx.in[kInPitch].channel(c);
        d.fm = b.fm ? ctx.in[kInFm].channel(c) : nullptr;
        d.pm = b.pm ? ctx.in[kInPm].channel(c) : nullptr;
        d.sync = b.sync ? ctx.in[kInSync].channel(c) : nullptr;
        d.freq = b.freq;
        d.fmAmount = b.fmAmount;
        d.invSampleRate = b.invSampleRate;
        d.constant = b.constant;
        d.constantInc = b.constantInc;
        return d;
    }

    /// The increment channel c runs at now, from the knob and pitch (FM ignored).
    static std::int32_t currentIncrement(const Block& b, int c) noexcept {
        if (b.constant) return b.constantInc;
        return signedIncrement(b.freq.start * b.invSampleRate * dsp::fastPow2(b.ctx->in[kInPitch].channel(c)[0]));
    }

    /// For oscillators whose output is direct until sync is patched (sine, wavetable): sync
    /// patched, the output becomes the delayed, corrected one. The phase skips ahead by the delay
    /// and the accumulator is primed with the frames already due (naive(theta, channel) gives
    /// them), so the output runs on without a jump; unpatched, the phase steps back instead.
    template <class Naive>
    void switchDelay(const Block& b, int channels, Naive naive) noexcept {
        delayed_ = b.sync;
        for (int c = 0; c < channels; ++c) {
            PhaseState& st = st_[static_cast<std::size_t>(c)];
            const std::int32_t inc = currentIncrement(b, c);
            st.pending = false;
            st.sync = 1.0f;
            if (delayed_) {
                Accumulator& acc = acc_[static_cast<std::size_t>(c)];
                acc.clear();
                for (int j = 0; j < kBlepDelay; ++j) acc.a[static_cast<std::size_t>(j)] = naive(skipFrames(st.phase, inc, j), c);
                st.phase = skipFrames(st.phase, inc, kBlepDelay);
            } else {
                st.phase = skipFrames(st.phase, inc, -kBlepDelay);
            }
        }
    }

    // What every block reads, together and small: a bank of 500 sines touches a few cache lines
    // of each, and their objects share a few pages. The BLEP accumulators (6 KB, read only for
    // band-limited edges and sync) live in an allocation of their own.
    const BlepTables* blep_;
    std::uint32_t resetPhase_;
    float invSampleRate_ = 1.0f / 48000.0f;
    bool delayed_ = false;  // the output is the delayed, corrected one (sine, wavetable: sync patched)
    ParamSmoother freq_, fmAmount_;
    ConstantIncrement constant_;
    std::array<PhaseState, kMaxChannels> st_{};
    std::unique_ptr<std::array<Accumulator, kMaxChannels>> accumulators_ = std::make_unique<std::array<Accumulator, kMaxChannels>>();
    std::array<Accumulator, kMaxChannels>& acc_ = *accumulators_;
};

}  // namespace kabel::osc
