// Sampler: plays sound files ("found sounds") and the live buffers a Live Sampler records.
//
// Design note (data). A file is decoded on the background worker (AsyncLoad): libsndfile reads
// it in chunks (a header's frame count is never trusted for an allocation), the first two
// channels are kept, and a file at another rate is converted to the engine's rate with
// libsamplerate (SRC_SINC_BEST_QUALITY) there, so the audio thread always plays at the engine
// rate. Each channel is stored with kGuard zeros before and after it, so an interpolator's taps
// never leave the buffer. A live buffer (core/module/shared_buffers.hpp) is played in place; its
// recorded length is read once per block and taps outside it read silence.
//
// Design note (playback). A voice's position is 32.32 fixed point in frames; the increment is
// 2^(pitch + tune/12) in the same format, exact for whole octaves, so unity pitch steps by exactly
// one frame (the output is the file's samples, bit for bit: cubic Hermite and the sinc both give
// the sample itself at fraction 0, and a fast path copies it) and an octave up by exactly two.
// Interpolation is 4-point cubic Hermite (Catmull-Rom) or a 32-tap Kaiser-windowed sinc (beta 10,
// cut-off at the source's Nyquist, tabulated at 256 fractions with linear interpolation between
// rows; the row at fraction 0 is the exact unit impulse). Measured error following a tone between
// samples, re the tone (tests/unit/test_sampler.cpp): cubic -92 dB at 1 kHz, -48 dB at 5 kHz,
// -21 dB at 12 kHz; sinc -107 dB at 1 kHz, -95 dB at 12 kHz, -92 dB at 16 kHz (at 48 kHz).
// Pitching up beyond the material's headroom aliases as in classic samplers: the kernel is not
// widened.
//
// Click-free rules, each a short linear ramp:
//   * start: a voice starting at the file's first frame starts at full level (the file's own
//     attack, sample-exact); one starting at an offset (start > 0) fades in over 5 ms;
//   * retrigger: the sounding voice of that channel fades out over 5 ms while the new one starts
//     (four players per channel; a fifth overlapping start cuts the quietest);
//   * release (gate and loop modes): the voice fades out over 5 ms after the gate falls;
//   * end of the sample (one-shot, gate): no fade, so the file plays exactly as it is;
//   * loop wrap: the last X frames before the loop end are crossfaded (linear, constant
//     amplitude for correlated material) with the X frames before the loop start, so the wrap
//     continues smoothly into the loop start; X = min(10 ms, loop length / 2, frames before the
//     loop start). A loop that starts at frame 0 has nothing before it: then the first X frames
//     after each wrap are crossfaded with the frames after the loop end instead (X limited by
//     what follows the loop end); a loop over the whole file wraps with the file's own seam.
//     Loop points are latched per voice while it crossfades; a loop end moved behind a voice
//     makes it jump to the loop start with the 5 ms retrigger crossfade;
//   * a live buffer recorded again from its start (its length went down) under playing voices:
//     they fade out over 5 ms, reading the old take that is still there past the new length;
//   * a new file or buffer: sounding voices fade out over 5 ms, then the new sample is taken
//     (held voices in gate/loop mode restart on it with a 5 ms fade-in). Until a load succeeds
//     the old sample keeps playing; a failed load only reports why (status()).
#include <samplerate.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dsp/fast_math.hpp"
#include "core/io/sound_file.hpp"
#include "core/module/gates.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
#include "core/module/shared_buffers.hpp"
#include "core/module/smoothing.hpp"
#include "core/util/aligned_buffer.hpp"

namespace kabel {
namespace {

enum SamplerInputs { kSmpGate, kSmpPitch, kSmpVelocity };
enum SamplerOutputs { kSmpLeft, kSmpRight };
enum SamplerParams { kSmpMode, kSmpStart, kSmpLoopStart, kSmpLoopEnd, kSmpTune, kSmpInterpolation, kSmpLevel };

enum class Mode { OneShot, Gate, Loop };
enum class Interpolation { Hermite, Sinc };

constexpr int kGuard = 32;                   // zero frames stored before and after a file's audio
constexpr int kPlayers = 4;                  // per channel: the sounding voice and fading ones
constexpr double kMaxSeconds = 20.0 * 60.0;  // longest file accepted (at its own rate)
constexpr double kFadeSeconds = 0.005;       // start-at-offset, retrigger, release, swap
constexpr double kLoopFadeSeconds = 0.010;   // longest loop crossfade
constexpr std::int64_t kMinLoopFrames = 8;
constexpr float kMinOctaves = -10.0f, kMaxOctaves = 5.0f;
constexpr std::uint64_t kOne = std::uint64_t{1} << 32;  // one frame in 32.32 fixed point

// ---------------------------------------------------------------------------------------------
// Interpolation kernels

constexpr int kSincTaps = 32;
constexpr int kSincBefore = 15;  // taps idx-15 .. idx+16 around position idx + t
constexpr int kSincPhases = 256;
constexpr double kSincBeta = 10.0;

struct SincTable {
    // rows[p][k]: weight of tap k at fraction p / kSincPhases; rows 0..kSincPhases.
    alignas(64) float rows[kSincPhases + 1][kSincTaps];
};

double besselI0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 64; ++k) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if (term < 1e-17 * sum) break;
    }
    return sum;
}

SincTable makeSincTable() {
    SincTable table{};
    const double half = kSincTaps / 2.0;
    const double norm = besselI0(kSincBeta);
    for (int p = 0; p <= kSincPhases; ++p) {
        const double t = static_cast<double>(p) / kSincPhases;
        double w[kSincTaps];
        double sum = 0.0;
        for (int k = 0; k < kSincTaps; ++k) {
            const double x = static_cast<double>(k - kSincBefore) - t;  // tap distance from the position
            // sin(pi x) / (pi x), exactly 0 at the other integers and 1 at 0 (so fraction 0 is
            // the unit impulse and unity pitch is sample-exact).
            double s = 1.0;
            if (x != 0.0) s = x == std::round(x) ? 0.0 : std::sin(M_PI * x) / (M_PI * x);
            const double u = x / half;
            const double window = std::fabs(u) >= 1.0 ? 0.0 : besselI0(kSincBeta * std::sqrt(1.0 - u * u)) / norm;
            w[k] = s * window;
            sum += w[k];
        }
        for (int k = 0; k < kSincTaps; ++k) table.rows[p][k] = static_cast<float>(w[k] / sum);  // unity gain at DC
    }
    return table;
}

/// Built on first use (~0.2 ms), so commands that never make a sampler do not pay for it at
/// start-up. The Sampler's constructor touches it on the UI thread; the audio thread only reads
/// a table already built.
const SincTable& sincTable() {
    static const SincTable table = makeSincTable();
    return table;
}

/// Tap weights for fraction t in [0, 1). Hermite: taps idx-1 .. idx+2.
struct HermiteKernel {
    static constexpr int kTaps = 4;
    static constexpr int kBefore = 1;
    float w[kTaps];
    explicit HermiteKernel(float t) noexcept {
        w[0] = t * (-0.5f + t * (1.0f - 0.5f * t));
        w[1] = 1.0f + t * t * (1.5f * t - 2.5f);
        w[2] = t * (0.5f + t * (2.0f - 1.5f * t));
        w[3] = t * t * (0.5f * t - 0.5f);
    }
    float apply(const float* s) const noexcept { return w[1] * s[1] + (w[0] * s[0] + w[2] * s[2] + w[3] * s[3]); }
};

// Eight floats as one value (GCC/Clang vector extension): the sinc's 32 taps are four of these.
// Written out because GCC 12 does not vectorise the tap loops once they are inlined into the
// per-sample render loop (it unrolls them into scalar code).
using Vec8 = float __attribute__((vector_size(32)));

inline Vec8 load8(const float* p) noexcept {
    Vec8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

struct SincKernel {
    static constexpr int kTaps = kSincTaps;
    static constexpr int kBefore = kSincBefore;
    static constexpr int kVectors = kTaps / 8;
    Vec8 w[kVectors];
    explicit SincKernel(float t) noexcept {
        const float x = t * static_cast<float>(kSincPhases);
        const int p = static_cast<int>(x);
        const float f = x - static_cast<float>(p);
        const SincTable& table = sincTable();
        for (int j = 0; j < kVectors; ++j) {
            const Vec8 r0 = load8(table.rows[p] + 8 * j);
            const Vec8 r1 = load8(table.rows[p + 1] + 8 * j);
            w[j] = r0 + f * (r1 - r0);
        }
    }
    float apply(const float* s) const noexcept {
        Vec8 a = load8(s) * w[0];
        for (int j = 1; j < kVectors; ++j) a += load8(s + 8 * j) * w[j];
        return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    }
};

// ---------------------------------------------------------------------------------------------
// Sample data

/// A decoded file at the engine's rate: 1 or 2 channels, each with kGuard zeros on both sides.
struct SampleData {
    int channels = 0;
    std::int64_t frames = 0;
    double sampleRate = 0.0;
    std::array<AlignedFloats, 2> storage;
    const float* channel(int c) const noexcept { return storage[static_cast<std::size_t>(c)].data() + kGuard; }
};

/// What the sampler plays: a file, a live buffer, or nothing (the default value).
struct Source {
    std::unique_ptr<const SampleData> file;
    std::shared_ptr<LiveBuffer> live;
};

/// Worker thread: decodes `path` (shown as `name` in messages) into a SampleData at `engineRate`.
/// Throws std::runtime_error with the file's name and the reason (core/io/sound_file.hpp checks the
/// file: channels, rate, the 20-minute cap, truncation, NaN/Inf samples).
std::unique_ptr<Source> loadSoundFile(const std::filesystem::path& path, const std::string& name, double engineRate) {
    SoundReadLimits limits;
    limits.keepChannels = 2;
    limits.maxSeconds = kMaxSeconds;
    limits.tooLong = "longer than 20 minutes (the sampler's limit)";
    limits.nonFinite = NonFiniteSamples::Reject;
    DecodedSound decoded = readSound(path, name, limits);
    const int channels = static_cast<int>(decoded.channels.size());
    std::vector<std::vector<float>>& data = decoded.channels;
    std::int64_t total = decoded.frames();
    if (static_cast<double>(decoded.sampleRate) != engineRate) {
        const double ratio = engineRate / static_cast<double>(decoded.sampleRate);
        for (int c = 0; c < channels; ++c) {
            auto& in = data[static_cast<std::size_t>(c)];
            std::vector<float> out(static_cast<std::size_t>(std::ceil(static_cast<double>(total) * ratio)) + 16);
            SRC_DATA src{};
            src.data_in = in.data();
            src.input_frames = static_cast<long>(total);
            src.data_out = out.data();
            src.output_frames = static_cast<long>(out.size());
            src.src_ratio = ratio;
            if (const int err = src_simple(&src, SRC_SINC_BEST_QUALITY, 1); err != 0)
                throw std::runtime_error(name + ": cannot convert the sample rate (libsamplerate: " + src_strerror(err) + ")");
            out.resize(static_cast<std::size_t>(src.output_frames_gen));
            in = std::move(out);
        }
        total = static_cast<std::int64_t>(data[0].size());
        if (total == 0) throw std::runtime_error(name + ": too short to play at " + std::to_string(engineRate) + " Hz");
    }

    auto sample = std::make_unique<SampleData>();
    sample->channels = channels;
    sample->frames = total;
    sample->sampleRate = engineRate;
    for (int c = 0; c < channels; ++c) {
        auto& s = sample->storage[static_cast<std::size_t>(c)];
        s = AlignedFloats(static_cast<std::size_t>(total) + 2 * kGuard);
        std::copy(data[static_cast<std::size_t>(c)].begin(), data[static_cast<std::size_t>(c)].end(), s.data() + kGuard);
    }
    auto source = std::make_unique<Source>();
    source->file = std::move(sample);
    return source;
}

// ---------------------------------------------------------------------------------------------
// Playback

/// One block's view of what plays (audio thread).
struct View {
    const float* ch[2] = {nullptr, nullptr};
    int channels = 0;
    std::int64_t frames = 0;    // what plays
    std::int64_t capacity = 0;  // what may be read (a live buffer's older take lies past its length)
    bool padded = false;        // kGuard zeros on both sides (files); else taps outside read 0
    double rateRatio = 1.0;     // source rate / engine rate
};

/// Loop points in frames, with the crossfade chosen for them.
struct LoopPoints {
    std::int64_t start = 0, end = 0;
    std::int64_t pre = 0;   // crossfade the last `pre` frames before `end` with those before `start`
    std::int64_t post = 0;  // or: crossfade the first `post` frames after a wrap with those after `end`
    bool operator==(const LoopPoints&) const = default;
    std::int64_t length() const noexcept { return end - start; }
};

struct Player {
    std::uint64_t pos = 0;  // 32.32 fixed-point frames
    float gain = 0.0f, step = 0.0f, target = 0.0f;
    int rampLeft = 0;
    float velocity = 1.0f;
    bool active = false;
    bool held = false;     // the channel's current voice: a release or retrigger fades it
    bool wrapped = false;  // has wrapped around its loop
    bool orphan = false;   // a live buffer was re-recorded under it: fades out reading the old take
    bool hasLoop = false;
    LoopPoints loop;

    void fadeOut(int frames) noexcept {
        held = false;
        if (!active) return;
        if (gain <= 0.0f && rampLeft == 0) {
            active = false;
            return;
        }
        target = 0.0f;
        rampLeft = frames;
        step = -gain / static_cast<float>(frames);
    }
    void fadeIn(int frames) noexcept {
        gain = 0.0f;
        target = 1.0f;
        rampLeft = frames;
        step = 1.0f / static_cast<float>(frames);
    }
    bool inCrossfade() const noexcept {
        if (!hasLoop) return false;
        const std::int64_t idx = static_cast<std::int64_t>(pos >> 32);
        if (loop.pre > 0 && idx >= loop.end - loop.pre && idx < loop.end) return true;
        return loop.post > 0 && wrapped && idx >= loop.start && idx < loop.start + loop.post;
    }
};

struct ChannelState {
    std::array<Player, kPlayers> players;
    bool gate = false;
    bool pendingStart = false;  // start a voice as soon as the sample swap is done
};

struct Increments {
    const std::uint64_t* perFrame = nullptr;
    std::uint64_t constant = kOne;
    std::uint64_t at(int n) const noexcept { return perFrame ? perFrame[n] : constant; }
};

/// Reads channel(s) at `pos` with kernel K. Padded views never need bounds checks.
/// Unpadded views read silence outside [0, bound).
template <typename K, int Ch, bool Padded>
inline void readAt(const View& v, std::int64_t bound, std::uint64_t pos, float* y) noexcept {
    const auto idx = static_cast<std::int64_t>(pos >> 32);
    const K kernel(dsp::phaseToUnit(static_cast<std::uint32_t>(pos)));
    const std::int64_t first = idx - K::kBefore;
    if (Padded || (first >= 0 && first + K::kTaps <= bound)) {
        for (int c = 0; c < Ch; ++c) y[c] = kernel.apply(v.ch[c] + first);
        return;
    }
    float taps[K::kTaps];
    for (int c = 0; c < Ch; ++c) {
        for (int k = 0; k < K::kTaps; ++k) {
            const std::int64_t j = first + k;
            taps[k] = j >= 0 && j < bound ? v.ch[c][j] : 0.0f;
        }
        y[c] = kernel.apply(taps);
    }
}

/// Renders frames [n, stop) of player p while its position stays below `limit` (no event on the
/// way): the hot loop, one read and one add per channel and frame. Returns the frame it stopped at.
template <typename K, int Ch, bool Padded, bool PerFrame>
int steadyRun(Player& p, const View& v, std::int64_t bound, const Increments& inc, float* const* out, int n, int stop,
              std::uint64_t limit) noexcept {
    std::uint64_t pos = p.pos;
    float gain = p.gain;
    const float step = p.rampLeft > 0 ? p.step : 0.0f;
    const float velocity = p.velocity;
    const std::uint64_t constant = inc.constant;
    const std::uint64_t* perFrame = inc.perFrame;
    float* __restrict o0 = out[0];
    float* __restrict o1 = out[Ch - 1];
    int k = n;
    for (; k < stop && pos < limit; ++k) {
        float y[2];
        readAt<K, Ch, Padded>(v, bound, pos, y);
        const float g = gain * velocity;
        o0[k] += g * y[0];
        if (Ch == 2) o1[k] += g * y[1];
        gain += step;
        pos += PerFrame ? perFrame[k] : constant;
    }
    p.pos = pos;
    p.gain = gain;
    return k;
}

/// Renders player p into out[0..Ch) over frames [a, b) (adding).
template <typename K, int Ch, bool Padded>
void renderPlayer(Player& p, const View& v, bool looping, const Increments& inc, float* const* out, int a, int b) noexcept {
    const std::int64_t bound = p.orphan ? v.capacity : v.frames;
    const std::uint64_t end = static_cast<std::uint64_t>(bound) << 32;
    const LoopPoints& lp = p.loop;
    const bool loop = looping && p.hasLoop && lp.length() > 0 && !p.orphan;
    const std::uint64_t loopStart = static_cast<std::uint64_t>(lp.start) << 32;
    const std::uint64_t loopEnd = static_cast<std::uint64_t>(lp.end) << 32;
    const std::uint64_t loopLength = static_cast<std::uint64_t>(lp.length()) << 32;
    const std::uint64_t preFrom = static_cast<std::uint64_t>(lp.end - lp.pre) << 32;
    const std::uint64_t postTo = static_cast<std::uint64_t>(lp.start + lp.post) << 32;
    const float preScale = lp.pre > 0 ? 1.0f / static_cast<float>(lp.pre) : 0.0f;
    const float postScale = lp.post > 0 ? 1.0f / static_cast<float>(lp.post) : 0.0f;
    int n = a;
    while (n < b && p.active) {
        // Fast path: unity pitch on a whole frame, level settled, no crossfade or end ahead.
        if (p.rampLeft == 0 && !inc.perFrame && inc.constant == kOne && (p.pos & 0xFFFFFFFFu) == 0) {
            const auto idx = static_cast<std::int64_t>(p.pos >> 32);
            std::int64_t stop = bound;
            if (loop) {
                stop = p.pos < loopEnd ? lp.end - lp.pre : idx;  // at or past the end: wrap first
                if (lp.post > 0 && p.wrapped && idx >= lp.start && idx < lp.start + lp.post) stop = idx;
            }
            const std::int64_t m = std::min<std::int64_t>(b - n, stop - idx);
            if (m > 0) {
                const float g = p.gain * p.velocity;
                for (int c = 0; c < Ch; ++c) {
                    const float* __restrict s = v.ch[c] + idx;
                    float* __restrict y = out[c] + n;
                    for (std::int64_t k = 0; k < m; ++k) y[k] += g * s[k];
                }
                p.pos += static_cast<std::uint64_t>(m) << 32;
                n += static_cast<int>(m);
                continue;
            }
        }
        // Steady run: no wrap, crossfade or end before `limit`, no ramp ending before `stop`.
        std::uint64_t limit = end;
        bool steady = true;
        if (loop) {
            if (p.pos >= loopEnd) steady = false;  // wrap first
            limit = lp.pre > 0 ? preFrom : loopEnd;
            if (lp.post > 0 && p.wrapped && p.pos >= loopStart && p.pos < postTo) steady = false;
        }
        if (steady && p.pos < limit) {
            const int stop = p.rampLeft > 0 ? std::min(b, n + p.rampLeft) : b;
            const int k = inc.perFrame ? steadyRun<K, Ch, Padded, true>(p, v, bound, inc, out, n, stop, limit)
                                       : steadyRun<K, Ch, Padded, false>(p, v, bound, inc, out, n, stop, limit);
            if (p.rampLeft > 0) {
                p.rampLeft -= k - n;
                if (p.rampLeft == 0) {
                    p.gain = p.target;
                    if (p.target == 0.0f) p.active = false;
                }
            }
            n = k;
            continue;
        }
        // One frame with an event: a wrap, a crossfade, the end.
        std::uint64_t pos = p.pos;
        if (loop && pos >= loopEnd) {
            pos -= loopLength;
            if (pos >= loopEnd) pos = loopStart + (pos - loopStart) % loopLength;
            p.wrapped = true;
        }
        if (pos >= end) {
            p.active = false;
            break;
        }
        float y[2];
        readAt<K, Ch, Padded>(v, bound, pos, y);
        if (loop) {
            if (lp.pre > 0 && pos >= preFrom && pos < loopEnd) {
                const float w = static_cast<float>(static_cast<double>(pos - preFrom) * 0x1p-32) * preScale;
                float z[2];
                readAt<K, Ch, Padded>(v, bound, pos - loopLength, z);
                for (int c = 0; c < Ch; ++c) y[c] += w * (z[c] - y[c]);
            } else if (lp.post > 0 && p.wrapped && pos >= loopStart && pos < postTo) {
                const float w = 1.0f - static_cast<float>(static_cast<double>(pos - loopStart) * 0x1p-32) * postScale;
                float z[2];
                readAt<K, Ch, Padded>(v, bound, pos + loopLength, z);
                for (int c = 0; c < Ch; ++c) y[c] += w * (z[c] - y[c]);
            }
        }
        const float g = p.gain * p.velocity;
        for (int c = 0; c < Ch; ++c) out[c][n] += g * y[c];
        if (p.rampLeft > 0) {
            p.gain += p.step;
            if (--p.rampLeft == 0) {
                p.gain = p.target;
                if (p.target == 0.0f) p.active = false;
            }
        }
        p.pos = pos + inc.at(n);
        ++n;
    }
}

using RenderFn = void (*)(Player&, const View&, bool, const Increments&, float* const*, int, int) noexcept;

template <typename K>
RenderFn pickRenderer(int channels, bool padded) noexcept {
    if (channels == 2) return padded ? &renderPlayer<K, 2, true> : &renderPlayer<K, 2, false>;
    return padded ? &renderPlayer<K, 1, true> : &renderPlayer<K, 1, false>;
}

class Sampler final : public Module {
public:
    explicit Sampler(const ModuleDescriptor& d) : Module(d) {
        (void)sincTable();  // built here, on the UI thread, never first on the audio thread
    }

    bool sharesState() const noexcept override { return true; }  // may play a live buffer being recorded

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        start_.prepare(sampleRate);
        loopStart_.prepare(sampleRate);
        loopEnd_.prepare(sampleRate);
        tune_.prepare(sampleRate);
        level_.prepare(sampleRate);
        fadeFrames_ = std::max(1, static_cast<int>(std::lround(kFadeSeconds * sampleRate)));
        loopFadeFrames_ = std::max<std::int64_t>(1, std::llround(kLoopFadeSeconds * sampleRate));
        increments_.assign(static_cast<std::size_t>(maxFrames), kOne);
        constantOctaves_ = std::nanf("");
        reset();
        // A file decoded for another rate is decoded again for this one.
        if (request_.kind == Request::File && request_.rate != sampleRate) startLoad();
    }

    void reset() noexcept override {
        for (auto& ch : channels_) {
            for (auto& p : ch.players) p = Player{};
            ch.gate = false;
            ch.pendingStart = false;
        }
    }

    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        Request r;
        r.worker = context.worker;
        r.buffers = context.buffers;
        if (!state.is_null()) {
            if (!state.is_object())
                throw std::invalid_argument("state must be an object such as {\"file\": \"kick.wav\"} or {\"buffer\": \"loop1\"}");
            for (const auto& [key, value] : state.items())
                if (key != "file" && key != "buffer")
                    throw std::invalid_argument("unknown key \"" + key + "\" (use \"file\" or \"buffer\")");
            const bool hasFile = state.contains("file"), hasBuffer = state.contains("buffer");
            if (hasFile && hasBuffer) throw std::invalid_argument("give \"file\" or \"buffer\", not both");
            const char* key = hasFile ? "file" : "buffer";
            if (hasFile || hasBuffer) {
                if (!state[key].is_string()) throw std::invalid_argument(std::string("\"") + key + "\" must be a string");
                r.name = state[key].get<std::string>();
                if (r.name.empty()) throw std::invalid_argument(std::string("\"") + key + "\" must not be empty");
                r.kind = hasFile ? Request::File : Request::Buffer;
                if (hasFile) r.path = context.resolve(r.name);
            }
        }
        request_ = std::move(r);
        startLoad();
    }

    void idle() override {
        loader_.collect();
        // A live buffer that appears (or is replaced by a larger one) after our state was applied.
        if (request_.kind == Request::Buffer && request_.buffers && request_.buffers->find(request_.name) != shownBuffer_) startLoad();
        wanted_.store(loader_.latest(), std::memory_order_release);
    }

    std::string status() const override { return loader_.error(); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp level = level_.next(param(kSmpLevel), frames);
        const Ramp tune = tune_.next(param(kSmpTune), frames);
        const float start = start_.next(param(kSmpStart), frames).end(frames);
        const float loopStart = loopStart_.next(param(kSmpLoopStart), frames).end(frames);
        const float loopEnd = loopEnd_.next(param(kSmpLoopEnd), frames).end(frames);
        const auto mode = static_cast<Mode>(std::clamp(static_cast<int>(param(kSmpMode)), 0, 2));
        const bool sinc = param(kSmpInterpolation) >= 0.5f;

        const OutputPort& left = ctx.out[kSmpLeft];
        const OutputPort& right = ctx.out[kSmpRight];
        const int channels = left.channels;
        for (int c = activeChannels_; c < channels && c < kMaxChannels; ++c) channels_[static_cast<std::size_t>(c)] = ChannelState{};
        activeChannels_ = channels;

        maybeSwap(mode, channels);
        const View view = makeView();
        orphanOnRerecord(view, channels);
        Block block;
        block.view = &view;
        block.mode = mode;
        block.looping = mode == Mode::Loop;
        block.render =
            sinc ? pickRenderer<SincKernel>(view.channels, view.padded) : pickRenderer<HermiteKernel>(view.channels, view.padded);
        block.tune = tune;
        block.loop = loopPoints(view.frames, loopStart, loopEnd);
        block.startFrame =
            view.frames > 0 ? std::clamp<std::int64_t>(std::llround(double(start) * double(view.frames)), 0, view.frames) : 0;

        for (int c = 0; c < channels; ++c) {
            float* out[2] = {left.channel(c), right.channel(c)};
            runChannel(ctx, block, c, out, frames);
            // Level, then the right output of a mono source.
            if (level.constant()) {
                if (level.start != 1.0f)
                    for (int n = 0; n < frames; ++n) out[0][n] *= level.start;
            } else {
                for (int n = 0; n < frames; ++n) out[0][n] *= level.at(n);
            }
            if (view.channels == 2) {
                if (level.constant()) {
                    if (level.start != 1.0f)
                        for (int n = 0; n < frames; ++n) out[1][n] *= level.start;
                } else {
                    for (int n = 0; n < frames; ++n) out[1][n] *= level.at(n);
                }
            } else if (right.connected) {
                std::copy_n(out[0], frames, out[1]);
            }
        }
    }

private:
    struct Request {
        enum Kind { None, File, Buffer } kind = None;
        std::string name;  // as the state gives it (shown in messages)
        std::filesystem::path path;
        Worker* worker = nullptr;
        SharedBuffers* buffers = nullptr;
        double rate = 0.0;  // the engine rate the file was requested for
    };

    struct Block {
        const View* view = nullptr;
        Mode mode = Mode::OneShot;
        bool looping = false;
        RenderFn render = nullptr;
        Ramp tune;
        LoopPoints loop;
        std::int64_t startFrame = 0;
    };

    // UI thread.
    void startLoad() {
        Request& r = request_;
        shownBuffer_.reset();
        switch (r.kind) {
            case Request::None:
                loader_.clear();
                break;
            case Request::File: {
                r.rate = sampleRate();
                loader_.request(r.worker, [path = r.path, name = r.name, rate = r.rate] { return loadSoundFile(path, name, rate); });
                break;
            }
            case Request::Buffer: {
                std::shared_ptr<LiveBuffer> buffer = r.buffers ? r.buffers->find(r.name) : nullptr;
                if (!buffer) {
                    const std::string why =
                        r.buffers ? "live buffer '" + r.name + "' does not exist yet (a Live Sampler whose state names it creates it)"
                                  : "live buffer '" + r.name + "': no live buffers here";
                    loader_.request(nullptr, [why]() -> std::unique_ptr<Source> { throw std::runtime_error(why); });
                    break;
                }
                shownBuffer_ = buffer;
                loader_.request(nullptr, [buffer] {
                    auto s = std::make_unique<Source>();
                    s->live = buffer;
                    return s;
                });
                break;
            }
        }
        wanted_.store(loader_.latest(), std::memory_order_release);
    }

    // Audio thread: takes a newly published source once every voice has faded out.
    void maybeSwap(Mode mode, int channels) noexcept {
        const Source* want = wanted_.load(std::memory_order_acquire);
        if (want == current_) return;
        bool sounding = false;
        for (int c = 0; c < activeChannels_; ++c)
            for (const Player& p : channels_[static_cast<std::size_t>(c)].players) sounding |= p.active;
        if (sounding) {
            if (!swapping_) {
                swapping_ = true;
                for (int c = 0; c < channels; ++c) {
                    ChannelState& ch = channels_[static_cast<std::size_t>(c)];
                    if (ch.gate && mode != Mode::OneShot) ch.pendingStart = true;
                    for (Player& p : ch.players) p.fadeOut(fadeFrames_);
                }
            }
            return;
        }
        current_ = loader_.get();
        swapping_ = false;
    }

    View makeView() const noexcept {
        View v;
        if (!current_) return v;
        if (current_->file) {
            const SampleData& s = *current_->file;
            v.channels = s.channels;
            v.frames = v.capacity = s.frames;
            v.padded = true;
            for (int c = 0; c < s.channels; ++c) v.ch[c] = s.channel(c);
            v.rateRatio = s.sampleRate / sampleRate();
        } else if (current_->live) {
            const LiveBuffer& b = *current_->live;
            if (b.capacity() == 0 || b.channels() < 1) return v;
            v.channels = std::min(b.channels(), 2);
            v.frames = static_cast<std::int64_t>(b.length());
            v.capacity = static_cast<std::int64_t>(b.capacity());
            for (int c = 0; c < v.channels; ++c) v.ch[c] = b.channel(c);
            v.rateRatio = b.sampleRate() / sampleRate();
        }
        return v;
    }

    // A live buffer whose length went down is being recorded again from its start (a replace
    // take): every voice fades out over 5 ms, reading the old take where it was.
    void orphanOnRerecord(const View& view, int channels) noexcept {
        const LiveBuffer* live = current_ && current_->live ? current_->live.get() : nullptr;
        if (live && live == lastLive_ && view.frames < lastLiveLength_)
            for (int c = 0; c < channels; ++c)
                for (Player& p : channels_[static_cast<std::size_t>(c)].players)
                    if (p.active) {
                        p.orphan = true;
                        p.fadeOut(fadeFrames_);
                    }
        lastLive_ = live;
        lastLiveLength_ = view.frames;
    }

    LoopPoints loopPoints(std::int64_t frames, float loopStart, float loopEnd) const noexcept {
        LoopPoints lp;
        if (frames <= 0) return lp;
        std::int64_t s = std::clamp<std::int64_t>(std::llround(double(loopStart) * double(frames)), 0, frames);
        std::int64_t e = std::clamp<std::int64_t>(std::llround(double(loopEnd) * double(frames)), 0, frames);
        if (e < s) std::swap(s, e);
        if (e - s < kMinLoopFrames) {
            e = std::min(frames, s + kMinLoopFrames);
            s = std::max<std::int64_t>(0, e - kMinLoopFrames);
        }
        lp.start = s;
        lp.end = e;
        const std::int64_t half = lp.length() / 2;
        lp.pre = std::min({loopFadeFrames_, half, s});
        if (lp.pre == 0) lp.post = std::min({loopFadeFrames_, half, frames - e});
        return lp;
    }

    void computeIncrements(const ProcessContext& ctx, const Block& block, int c, Increments& inc) noexcept {
        const InputPort& pitch = ctx.in[kSmpPitch];
        const double ratio = block.view->rateRatio;
        if (!pitch.connected && block.tune.constant()) {
            const float octaves = pitch.constant + block.tune.start / 12.0f;
            if (octaves != constantOctaves_ || ratio != constantRatio_) {
                constantOctaves_ = octaves;
                constantRatio_ = ratio;
                const double o = std::clamp(static_cast<double>(pitch.constant) + static_cast<double>(block.tune.start) / 12.0,
                                            double(kMinOctaves), double(kMaxOctaves));
                constantIncrement_ = static_cast<std::uint64_t>(std::llround(std::exp2(o) * ratio * 4294967296.0));
            }
            inc.perFrame = nullptr;
            inc.constant = constantIncrement_;
            return;
        }
        const float* p = pitch.channel(c);
        const float scale = static_cast<float>(ratio * 4294967296.0);
        std::uint64_t* out = increments_.data();
        const Ramp tune = block.tune;
        for (int n = 0; n < ctx.frames; ++n) {
            float o = p[n] + tune.at(n) * (1.0f / 12.0f);
            o = o < kMaxOctaves ? o : kMaxOctaves;  // NaN -> the top
            o = o > kMinOctaves ? o : kMinOctaves;
            out[n] = static_cast<std::uint64_t>(static_cast<double>(dsp::fastPow2(o) * scale));
        }
        inc.perFrame = out;
    }

    void trigger(ChannelState& ch, const ProcessContext& ctx, const Block& block, int c, int frame, bool fadeIn) noexcept {
        if (swapping_) {
            ch.pendingStart = true;
            return;
        }
        const View& v = *block.view;
        for (Player& p : ch.players)
            if (p.held) p.fadeOut(fadeFrames_);
        if (v.frames == 0) return;
        Player* slot = nullptr;
        for (Player& p : ch.players)
            if (!p.active) {
                slot = &p;
                break;
            }
        if (!slot) {  // every player is still fading: cut the quietest
            slot = &ch.players[0];
            for (Player& p : ch.players)
                if (p.gain < slot->gain) slot = &p;
        }
        Player& p = *slot;
        p = Player{};
        p.active = true;
        p.held = true;
        std::int64_t startFrame = block.startFrame;
        if (block.looping) {
            p.loop = block.loop;
            p.hasLoop = true;
            if (startFrame >= p.loop.end) startFrame = p.loop.start;
        }
        p.pos = static_cast<std::uint64_t>(startFrame) << 32;
        const InputPort& velocity = ctx.in[kSmpVelocity];
        const float vel = velocity.connected ? velocity.channel(c)[frame] : velocity.constant;
        p.velocity = vel > 0.0f ? (vel < 1.0f ? vel : 1.0f) : 0.0f;  // NaN -> 0
        if (fadeIn || startFrame > 0)
            p.fadeIn(fadeFrames_);
        else
            p.gain = 1.0f;
    }

    // Brings a looping player's loop points up to date, or keeps them while it crossfades; a
    // player the new loop end has passed jumps to the loop start with a crossfade.
    void updateLoop(ChannelState& ch, Player& p, const LoopPoints& lp) noexcept {
        if (!p.hasLoop) {
            p.loop = lp;
            p.hasLoop = true;
            return;
        }
        // Kept while it crossfades, and by a voice that is fading out anyway.
        if (p.loop == lp || p.inCrossfade() || (p.rampLeft > 0 && p.target == 0.0f)) return;
        const std::int64_t idx = static_cast<std::int64_t>(p.pos >> 32);
        const bool inNewPost = lp.post > 0 && p.wrapped && idx >= lp.start && idx < lp.start + lp.post;
        if (idx < lp.end - lp.pre && !inNewPost) {
            p.loop = lp;
            return;
        }
        // Past the new loop end: a copy fades out where it is; this player restarts at the loop start.
        Player* slot = nullptr;
        for (Player& q : ch.players)
            if (!q.active) slot = &q;
        if (slot) {
            *slot = p;
            slot->fadeOut(fadeFrames_);
        }
        p.loop = lp;
        p.wrapped = true;
        p.pos = static_cast<std::uint64_t>(lp.start) << 32;
        p.fadeIn(fadeFrames_);
    }

    void runChannel(const ProcessContext& ctx, const Block& block, int c, float* const* out, int frames) noexcept {
        ChannelState& ch = channels_[static_cast<std::size_t>(c)];
        std::fill_n(out[0], frames, 0.0f);
        if (block.view->channels == 2) std::fill_n(out[1], frames, 0.0f);
        const View& v = *block.view;
        const InputPort& gate = ctx.in[kSmpGate];
        const float* g = gate.channel(c);

        if (ch.pendingStart && !swapping_) {
            ch.pendingStart = false;
            trigger(ch, ctx, block, c, 0, true);
        }
        bool anyActive = false;
        for (Player& p : ch.players) {
            if (!p.active) continue;
            anyActive = true;
            if (block.looping && v.frames > 0 && !p.orphan) updateLoop(ch, p, block.loop);
        }
        Increments inc;
        if (anyActive || gateChangeAt(gate, g, 0, frames, ch.gate) < frames) computeIncrements(ctx, block, c, inc);

        int n = 0;
        while (n < frames) {
            const int m = gateChangeAt(gate, g, n, frames, ch.gate);
            if (v.channels > 0)
                for (Player& p : ch.players)
                    if (p.active) block.render(p, v, block.looping, inc, out, n, m);
            if (m == frames) break;
            ch.gate = !ch.gate;
            if (ch.gate) {
                trigger(ch, ctx, block, c, m, false);
            } else if (swapping_) {
                if (block.mode != Mode::OneShot) ch.pendingStart = false;
            } else if (block.mode != Mode::OneShot) {
                for (Player& p : ch.players)
                    if (p.held) p.fadeOut(fadeFrames_);
            }
            n = m;
        }
    }

    AsyncLoad<Source> loader_;
    std::atomic<const Source*> wanted_{nullptr};  // UI -> audio: the source published last
    Request request_;                             // UI thread
    std::shared_ptr<LiveBuffer> shownBuffer_;     // UI thread: the live buffer published last

    // Audio thread.
    const Source* current_ = nullptr;
    const LiveBuffer* lastLive_ = nullptr;  // the live buffer played in the last block, and its length
    std::int64_t lastLiveLength_ = 0;
    bool swapping_ = false;
    int activeChannels_ = 0;
    std::array<ChannelState, kMaxChannels> channels_{};
    std::vector<std::uint64_t> increments_;
    float constantOctaves_ = 0.0f;
    double constantRatio_ = 1.0;
    std::uint64_t constantIncrement_ = kOne;
    int fadeFrames_ = 240;
    std::int64_t loopFadeFrames_ = 480;
    ParamSmoother start_, loopStart_, loopEnd_, tune_, level_;
};

const ModuleDescriptor kSampler{
    .id = "sampler",
    .name = "Sampler",
    .category = "Sampling",
    .help =
        "Plays a sound file (WAV, FLAC, AIFF, OGG: state {\"file\": \"kick.wav\"}, relative to the patch) or a "
        "live buffer recorded by a Live Sampler (state {\"buffer\": \"loop1\"}). Files load in the background, "
        "converted to the engine's rate; a file that cannot be used is reported and the previous sound keeps "
        "playing. A rising Gate starts a voice at Start: one-shot plays to the end, gate plays while the gate is "
        "high (5 ms release), loop repeats Loop Start..Loop End while the gate is high (10 ms crossfade at the "
        "seam). Pitch is in octaves (+1 = twice as fast) plus Tune in semitones; at pitch 0 the file plays "
        "sample for sample. Velocity (0..1, read at the rising edge) scales the voice. Polyphonic: one voice "
        "per channel of Gate/Pitch/Velocity. Mono files feed both outputs.",
    .inputs = {{.id = "gate",
                .name = "Gate",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "high (>= 0.5) plays; a rising edge starts the voice at Start (in one-shot mode a trigger)"},
               {.id = "pitch",
                .name = "Pitch",
                .kind = SignalKind::Pitch,
                .defaultValue = 0.0f,
                .help = "octaves: 0 plays at the recorded speed, +1 twice as fast, -1 half (kept within -10..+5)"},
               {.id = "velocity",
                .name = "Velocity",
                .kind = SignalKind::Control,
                .defaultValue = 1.0f,
                .help = "0..1, sampled at each rising gate edge, scales that voice (1 when unpatched)"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left channel (the only one of a mono file)"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right channel (a mono file's one channel)"}},
    .params = {{.id = "mode",
                .name = "Mode",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .curve = ParamCurve::Choice,
                .choices = {"one-shot", "gate", "loop"},
                .help = "one-shot: a trigger plays to the end; gate: plays while the gate is high; loop: repeats the "
                        "loop while the gate is high"},
               {.id = "start",
                .name = "Start",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .help = "where a voice starts, as a fraction of the sample (a start after 0 fades in over 5 ms)"},
               {.id = "loop_start",
                .name = "Loop Start",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .help = "loop mode: start of the loop, as a fraction of the sample (rounded to a frame)"},
               {.id = "loop_end",
                .name = "Loop End",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .help = "loop mode: end of the loop (exclusive), as a fraction of the sample; at least 8 frames after Loop Start"},
               {.id = "tune",
                .name = "Tune",
                .min = -24.0f,
                .max = 24.0f,
                .defaultValue = 0.0f,
                .unit = "st",
                .help = "semitones added to the pitch (12 = an octave up)"},
               {.id = "interpolation",
                .name = "Interpolation",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .curve = ParamCurve::Choice,
                .choices = {"cubic", "sinc"},
                .help = "between samples when the pitch is not 0: cubic Hermite (cheap) or a 32-tap windowed sinc "
                        "(cleaner highs); both are exact at pitch 0"},
               {.id = "level", .name = "Level", .min = 0.0f, .max = 2.0f, .defaultValue = 1.0f, .unit = "", .help = "linear output gain"}},
    .create = [] { return std::unique_ptr<Module>(new Sampler(kSampler)); },
};
const RegisterModule registerSampler{kSampler};

}  // namespace
}  // namespace kabel
