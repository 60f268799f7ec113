// Wavetable oscillator: single-cycle frames from a sound file (or a built-in set), swept by a
// position, band-limited by per-octave mip-maps, with the family's pitch, FM, PM and sync.
//
// Design note. A table set is an immutable value (WaveTables) built on the background worker and
// swapped in whole (AsyncLoad): the file is read with libsndfile (first channel), cut into frames
// of `frame` samples, and each frame's harmonics are measured by a DFT (our own radix-2 FFT, with
// Bluestein's chirp-z transform for other lengths; FFTW's planner is not thread-safe and the UI
// thread plans FFTs of its own). Each frame is then resynthesised once per octave: level k keeps
// the harmonics up to 1024 / 2^k, so it is alias-free while harmonic 1024 / 2^k stays below
// Nyquist. Table lengths are powers of two with at least 16 samples per cycle of the highest
// harmonic (32 for levels of 64 harmonics or fewer, the ones that sound above 375 Hz), read with
// 4-point cubic (Catmull-Rom) interpolation: interpolation images stay 60-80 dB below each
// harmonic. Per frame the player picks the brightest alias-free level for the current speed of
// the phase and crossfades toward the next darker level over the top third of each octave (while
// the level's highest harmonic climbs from 0.4 fs to Nyquist), so a pitch sweep never switches
// audibly: harmonics below 0.19 fs (9 kHz at 48 kHz) always play in full, those up to 0.4 fs
// most of the time. The position crossfades between neighbouring frames.
// Sync resets are corrected with the family's BLEP and BLAMP (the output is then delayed by 12
// samples, as the sine's).
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dsp/fast_math.hpp"
#include "core/io/sound_file.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
#include "core/module/smoothing.hpp"
#include "modules/oscillator_core.hpp"

namespace kabel {
namespace {

using namespace osc;

constexpr int kLevels = 11;          // harmonics up to 1024, 512, ..., 1
constexpr int kTopHarmonic = 1024;   // level 0's
constexpr int kMaxFrames = 256;      // frames in one table set
constexpr int kDefaultFrame = 2048;  // samples per frame
constexpr int kMinFrame = 4, kMaxFrame = 65536;
constexpr int kGuard = 3;  // one sample before each table, two after

enum WavetableInputs { kInPosition = kInSync + 1 };
enum WavetableOutputs { kWtOut };
enum WavetableParams { kParamPosition = kParamFmAmount + 1 };

// ---------------------------------------------------------------------------------------------
// Table sets (built on the worker or, for the built-in set, once on the UI thread)

using Complex = std::complex<double>;

// In-place radix-2 FFT; sign -1 forward, +1 inverse (unnormalised). size: a power of two.
void fft(std::vector<Complex>& x, int sign) {
    const std::size_t n = x.size();
    for (std::size_t i = 1, j = 0; i < n; ++i) {  // bit reversal
        std::size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j |= bit;
        if (i < j) std::swap(x[i], x[j]);
    }
    for (std::size_t len = 2; len <= n; len <<= 1) {
        const double angle = sign * 2.0 * std::numbers::pi / static_cast<double>(len);
        for (std::size_t k = 0; k < len / 2; ++k) {
            const Complex w = std::polar(1.0, angle * static_cast<double>(k));  // exact per k: no drift
            for (std::size_t i = k; i < n; i += len) {
                const Complex u = x[i], v = x[i + len / 2] * w;
                x[i] = u + v;
                x[i + len / 2] = u - v;
            }
        }
    }
}

// The DFT of x (any length), forward: X_k = sum x_n e^{-2 pi i k n / N}. Bluestein's chirp-z
// transform when N is not a power of two: with kn = (k^2 + n^2 - (k - n)^2) / 2 the DFT becomes
// a convolution, done by power-of-two FFTs.
std::vector<Complex> dft(const std::vector<double>& x) {
    const std::size_t n = x.size();
    if (std::has_single_bit(n)) {
        std::vector<Complex> X(x.begin(), x.end());
        fft(X, -1);
        return X;
    }
    const std::size_t m = std::bit_ceil(2 * n - 1);
    std::vector<Complex> chirp(n);  // e^{i pi k^2 / N}, with k^2 reduced mod 2N for precision
    for (std::size_t k = 0; k < n; ++k) {
        const auto k2 = static_cast<double>((static_cast<unsigned long long>(k) * k) % (2 * n));
        chirp[k] = std::polar(1.0, std::numbers::pi * k2 / static_cast<double>(n));
    }
    std::vector<Complex> a(m), b(m);
    for (std::size_t k = 0; k < n; ++k) a[k] = x[k] * std::conj(chirp[k]);
    b[0] = chirp[0];
    for (std::size_t k = 1; k < n; ++k) b[k] = b[m - k] = chirp[k];
    fft(a, -1);
    fft(b, -1);
    for (std::size_t k = 0; k < m; ++k) a[k] *= b[k];
    fft(a, +1);
    std::vector<Complex> X(n);
    for (std::size_t k = 0; k < n; ++k) X[k] = std::conj(chirp[k]) * a[k] / static_cast<double>(m);
    return X;
}

// Immutable: every frame at every level, each table with its guard samples.
struct WaveTables {
    int frames = 0;  // 0: empty (the built-in set plays)
    // Per level, and once more at index kLevels: a copy of the last level, so level + 1 is
    // always one to read.
    std::array<int, kLevels + 1> bits{};            // log2 of the table length
    std::array<std::size_t, kLevels + 1> offset{};  // frame 0's first sample
    std::array<std::size_t, kLevels + 1> stride{};  // from one frame to the next
    std::vector<float> data;

    const float* table(int level, int frame) const noexcept {
        const auto l = static_cast<std::size_t>(level);
        return data.data() + offset[l] + stride[l] * static_cast<std::size_t>(frame);
    }
};

// The harmonics of one frame: c[h - 1] for harmonic h, the frame being sum Re(c_h e^{2 pi i h t}).
using Harmonics = std::vector<Complex>;

int tableBits(int harmonics) {
    const int perCycle = harmonics <= 64 ? 32 : 16;
    return std::max(6, static_cast<int>(std::bit_width(static_cast<unsigned>(std::max(1, harmonics) * perCycle - 1))));
}

std::unique_ptr<WaveTables> buildTables(const std::vector<Harmonics>& frames) {
    auto t = std::make_unique<WaveTables>();
    t->frames = static_cast<int>(frames.size());
    std::size_t available = 0;
    for (const auto& f : frames) available = std::max(available, f.size());
    std::size_t total = 0;
    std::array<int, kLevels> harmonics{};
    for (int k = 0; k < kLevels; ++k) {
        const auto l = static_cast<std::size_t>(k);
        harmonics[l] = std::min(kTopHarmonic >> k, static_cast<int>(available));
        if (k > 0 && harmonics[l] == harmonics[l - 1]) {  // the source has no more: share the table
            t->bits[l] = t->bits[l - 1];
            t->offset[l] = t->offset[l - 1];
            t->stride[l] = t->stride[l - 1];
            continue;
        }
        t->bits[l] = tableBits(harmonics[l]);
        t->stride[l] = (std::size_t{1} << t->bits[l]) + kGuard;
        t->offset[l] = total + 1;
        total += t->stride[l] * frames.size();
    }
    t->bits[kLevels] = t->bits[kLevels - 1];
    t->offset[kLevels] = t->offset[kLevels - 1];
    t->stride[kLevels] = t->stride[kLevels - 1];
    t->data.assign(total, 0.0f);
    for (int k = 0; k < kLevels; ++k) {
        const auto l = static_cast<std::size_t>(k);
        if (k > 0 && t->offset[l] == t->offset[l - 1]) continue;
        const std::size_t size = std::size_t{1} << t->bits[l];
        std::vector<Complex> y(size);
        for (std::size_t f = 0; f < frames.size(); ++f) {
            std::fill(y.begin(), y.end(), Complex{});
            const std::size_t count = std::min(frames[f].size(), static_cast<std::size_t>(harmonics[l]));
            for (std::size_t h = 1; h <= count; ++h) {
                y[h] = 0.5 * frames[f][h - 1];
                y[size - h] = std::conj(y[h]);
            }
            fft(y, +1);
            float* table = t->data.data() + t->offset[l] + t->stride[l] * f;
            for (std::size_t i = 0; i < size; ++i) table[i] = static_cast<float>(y[i].real());
            table[-1] = table[size - 1];
            table[size] = table[0];
            table[size + 1] = table[1];
        }
    }
    return t;
}

// Sine -> triangle -> saw -> square, all starting at 0 and rising, their fundamentals in phase,
// so sweeping the position brightens the tone without a dip.
const WaveTables& builtinTables() {
    static const std::unique_ptr<WaveTables> tables = [] {
        std::vector<Harmonics> frames(4, Harmonics(kTopHarmonic));
        const Complex sine{0.0, -1.0};  // Re(-i e^{i x}) = sin x
        frames[0][0] = sine;
        for (int h = 1; h <= kTopHarmonic; ++h) {
            const auto k = static_cast<std::size_t>(h - 1);
            const double hd = h;
            if (h % 2 == 1) {
                const double sign = (h / 2) % 2 == 0 ? 1.0 : -1.0;
                frames[1][k] = sine * (8.0 / (std::numbers::pi * std::numbers::pi) * sign / (hd * hd));
                frames[3][k] = sine * (4.0 / (std::numbers::pi * hd));
            }
            frames[2][k] = sine * (2.0 / std::numbers::pi * (h % 2 == 1 ? 1.0 : -1.0) / hd);
        }
        return buildTables(frames);
    }();
    return *tables;
}

// Reads `path`, cuts it into frames of `frame` samples and builds the set. Worker thread; throws
// std::runtime_error with the message the user sees.
std::unique_ptr<WaveTables> loadTables(const std::filesystem::path& path, int frame) {
    const std::string name = path.filename().string();
    // A NaN or infinite sample becomes 0 (it would poison a whole frame's spectrum); the file's
    // other channels are ignored.
    SoundReadLimits limits;
    limits.keepChannels = 1;
    // Read a little past the limit, so the message can say how many frames the file holds.
    limits.maxFrames = std::int64_t{4} * kMaxFrames * frame;
    limits.maxSeconds = 1e9;  // frames, not seconds, limit a wavetable
    limits.tooLong = "more than " + std::to_string(4 * kMaxFrames) + " frames of " + std::to_string(frame) + " samples; at most " +
                     std::to_string(kMaxFrames) + " (set a longer \"frame\" or use a shorter file)";
    limits.nonFinite = NonFiniteSamples::Zero;
    const DecodedSound sound = readSound(path, name, limits);
    const std::int64_t length = sound.frames();
    if (length < frame)
        throw std::runtime_error(name + ": " + std::to_string(length) + " samples, shorter than one frame of " + std::to_string(frame));
    const std::int64_t count = length / frame;
    if (count > kMaxFrames)
        throw std::runtime_error(name + ": " + std::to_string(count) + " frames of " + std::to_string(frame) + " samples; at most " +
                                 std::to_string(kMaxFrames) + " (set a longer \"frame\" or use a shorter file)");
    const std::vector<float>& samples = sound.channels[0];
    std::vector<Harmonics> frames(static_cast<std::size_t>(count));
    std::vector<double> x(static_cast<std::size_t>(frame));
    const std::size_t top = std::min<std::size_t>(kTopHarmonic, static_cast<std::size_t>((frame - 1) / 2));  // below the frame's Nyquist
    for (std::size_t f = 0; f < frames.size(); ++f) {
        for (std::size_t i = 0; i < x.size(); ++i) {
            x[i] = samples[f * x.size() + i];
        }
        const std::vector<Complex> X = dft(x);
        frames[f].resize(top);
        for (std::size_t h = 1; h <= top; ++h) frames[f][h - 1] = X[h] * (2.0 / static_cast<double>(frame));
    }
    return buildTables(frames);
}

// ---------------------------------------------------------------------------------------------
// Playing a table set

// One level's table of one frame: where it starts, how long it is, how far the next frame is.
struct Lookup {
    const float* table;
    std::size_t stride;
    int bits;
};

inline Lookup lookup(const WaveTables& t, int level, int frame) noexcept {
    return {t.table(level, frame), t.stride[static_cast<std::size_t>(level)], t.bits[static_cast<std::size_t>(level)]};
}

// 4-point cubic (Catmull-Rom) at phase theta, blending the next frame in by `next` first (the
// same interpolation of the blended samples: one cubic instead of two).
inline float readLevel(const Lookup& l, float next, std::uint32_t theta) noexcept {
    const std::uint32_t index = theta >> (32 - l.bits);
    const float t = static_cast<float>((theta << l.bits) >> 8) * 0x1p-24f;
    const float* p = l.table + index;
    float xm = p[-1], x0 = p[0], x1 = p[1], x2 = p[2];
    if (next != 0.0f) {
        const float* q = p + l.stride;
        xm = dsp::mulAdd(next, q[-1] - xm, xm);
        x0 = dsp::mulAdd(next, q[0] - x0, x0);
        x1 = dsp::mulAdd(next, q[1] - x1, x1);
        x2 = dsp::mulAdd(next, q[2] - x2, x2);
    }
    const float c1 = 0.5f * (x1 - xm);
    const float c2 = xm - 2.5f * x0 + 2.0f * x1 - 0.5f * x2;
    const float c3 = 0.5f * (x2 - xm) + 1.5f * (x0 - x1);
    return dsp::mulAdd(dsp::mulAdd(dsp::mulAdd(c3, t, c2), t, c1), t, x0);
}

// Where to read: mip level (and the next darker one's weight), table frame (and the next
// one's weight). Branch-free, so a loop of them vectorises.

// `speed`: |phase increment| in cycles per frame. x = log2(speed x 2 x kTopHarmonic): level k is
// alias-free for x <= k. log2 from the float's bits, linear within each octave: exact at powers
// of two (the level boundaries) and monotonic. The darker level fades in over the top third of
// each octave; above the last level the duplicate at index kLevels is read.
inline void mipLevel(float speed, int& level, float& dark) noexcept {
    const auto bits = std::bit_cast<std::uint32_t>(speed * float(2 * kTopHarmonic));
    const float x = static_cast<float>(static_cast<int>(bits >> 23) - 127) + static_cast<float>(bits & 0x7FFFFFu) * 0x1p-23f;
    const float k = std::min(std::max(0.0f, std::ceil(x)), float(kLevels - 1));
    level = static_cast<int>(k);
    dark = std::min(std::max(0.0f, dsp::mulAdd(3.0f, x - k, 1.0f)), 1.0f);
}

// `position`: 0..1 (clamped; NaN gives 0).
inline void tableFrame(float position, int frames, int& frame, float& next) noexcept {
    const float p = std::min(std::max(0.0f, position), 1.0f) * float(frames - 1);
    frame = std::min(static_cast<int>(p), frames - 1);
    next = p - float(frame);  // 0 at the last frame
}

// One chunk's read positions, a field per array.
struct ReadPlan {
    alignas(64) std::array<int, kChunk> level;
    alignas(64) std::array<float, kChunk> dark;
    alignas(64) std::array<int, kChunk> frame;
    alignas(64) std::array<float, kChunk> next;
};

inline float read(const WaveTables& t, int level, float dark, int frame, float next, std::uint32_t theta) noexcept {
    const float a = readLevel(lookup(t, level, frame), next, theta);
    if (dark == 0.0f) return a;
    const float b = readLevel(lookup(t, level + 1, frame), next, theta);
    return dsp::mulAdd(dark, b - a, a);
}

inline float read(const WaveTables& t, const ReadPlan& r, int i, std::uint32_t theta) noexcept {
    const auto k = static_cast<std::size_t>(i);
    return read(t, r.level[k], r.dark[k], r.frame[k], r.next[k], theta);
}

// out[i] += weight x one level's value at theta[i].
template <bool kBlend>
void addLevel(const Lookup& l, float next, float weight, const std::uint32_t* __restrict theta, float* __restrict out, int n) noexcept {
    for (int i = 0; i < n; ++i) out[i] = dsp::mulAdd(weight, readLevel(l, kBlend ? next : 0.0f, theta[i]), out[i]);
}

// out[i] += the waveform at theta[i], read at one position for the whole chunk.
void addSteady(const WaveTables& t, int level, float dark, int frame, float next, const std::uint32_t* theta, float* out, int n) noexcept {
    const auto add = [&](int l, float weight) {
        if (next == 0.0f)
            addLevel<false>(lookup(t, l, frame), next, weight, theta, out, n);
        else
            addLevel<true>(lookup(t, l, frame), next, weight, theta, out, n);
    };
    add(level, 1.0f - dark);
    if (dark != 0.0f) add(level + 1, dark);
}

struct WavetableShape final : Shape {
    const WaveTables* tables;
    const ReadPlan* plan;
    float value(std::uint32_t theta, int i) const noexcept override { return read(*tables, *plan, i, theta); }
    float slope(std::uint32_t theta, int i) const noexcept override {
        // A central difference over one sample of the level's table.
        const int bits = tables->bits[static_cast<std::size_t>(plan->level[static_cast<std::size_t>(i)])];
        const std::uint32_t h = 1u << (32 - bits);
        return (read(*tables, *plan, i, theta + h) - read(*tables, *plan, i, theta - h)) * (0x1p32f / (2.0f * static_cast<float>(h)));
    }
};

class Wavetable final : public PhaseOscillator {
public:
    explicit Wavetable(const ModuleDescriptor& d) : PhaseOscillator(d, 0), builtin_(&builtinTables()) {}

    void prepare(double sampleRate, int maxFrames) override {
        PhaseOscillator::prepare(sampleRate, maxFrames);
        position_.prepare(sampleRate);
    }

    void reset() noexcept override {
        PhaseOscillator::reset();
        position_.reset(param(kParamPosition));
    }

    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        if (state.is_null()) {
            load_.clear();
            return;
        }
        const char* kShape = " (expected {\"file\": \"table.wav\", \"frame\": 2048})";
        if (!state.is_object()) throw std::invalid_argument(std::string("wavetable state must be an object") + kShape);
        for (const auto& [key, value] : state.items())
            if (key != "file" && key != "frame") throw std::invalid_argument("wavetable state: unknown key \"" + key + "\"" + kShape);
        int frame = kDefaultFrame;
        if (state.contains("frame")) {
            const auto& f = state["frame"];
            if (!f.is_number_integer() || f.get<long long>() < kMinFrame || f.get<long long>() > kMaxFrame)
                throw std::invalid_argument("wavetable state: \"frame\" must be a whole number of samples from " +
                                            std::to_string(kMinFrame) + " to " + std::to_string(kMaxFrame) + ", got " + f.dump());
            frame = f.get<int>();
        }
        if (!state.contains("file")) {
            load_.clear();
            return;
        }
        const auto& file = state["file"];
        if (!file.is_string() || file.get<std::string>().empty())
            throw std::invalid_argument("wavetable state: \"file\" must be a file name, got " + file.dump());
        const std::filesystem::path path = context.resolve(file.get<std::string>());
        load_.request(context.worker, [path, frame] { return loadTables(path, frame); });
    }

    void idle() override { load_.collect(); }
    std::string status() const override { return load_.error(); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Block b = begin(ctx, freq_.next(param(kParamFreq), frames));
        const Ramp position = position_.next(param(kParamPosition), frames);
        const InputPort& positionIn = ctx.in[kInPosition];
        const OutputPort& out = ctx.out[kWtOut];
        const WaveTables* loaded = load_.get();
        const WaveTables& t = loaded && loaded->frames > 0 ? *loaded : *builtin_;
        if (b.sync != delayed_) {
            switchDelay(b, out.channels, [&](std::uint32_t theta, int c) {
                int level = 0, frame = 0;
                float dark = 0.0f, next = 0.0f;
                mipLevel(std::fabs(phaseToCycles(currentIncrement(b, c))), level, dark);
                tableFrame(position.start + positionIn.channel(c)[0], t.frames, frame, next);
                return read(t, level, dark, frame, next, theta);
            });
        }
        // Pitch, FM, PM and position at rest: one read position serves every frame.
        const bool steady = b.constant && !b.pm && position.constant() && !positionIn.connected;
        for (int c = 0; c < out.channels; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const Drive d = drive(b, c);
            const float* pos = positionIn.channel(c);
            float* o = out.channel(c);
            for (int offset = 0; offset < frames; offset += kChunk) {
                const int n = std::min(kChunk, frames - offset);
                Chunk ch;
                advance(st_[cc], d, offset, n, 0, ch);
                float* dst = o + offset;
                float* a = nullptr;
                if (b.sync) {
                    a = acc_[cc].begin(n);
                    dst = a + kBlepDelay;
                } else {
                    std::fill_n(dst, n, 0.0f);
                }
                const std::uint32_t* theta = ch.theta.data() + 1;
                ReadPlan plan;
                if (steady && ch.resets == 0) {
                    int level = 0, frame = 0;
                    float dark = 0.0f, next = 0.0f;
                    mipLevel(std::fabs(phaseToCycles(b.constantInc)), level, dark);
                    tableFrame(position.start + pos[0], t.frames, frame, next);
                    addSteady(t, level, dark, frame, next, theta, dst, n);
                } else {
                    for (int i = 0; i < n; ++i) {
                        const auto k = static_cast<std::size_t>(i);
                        // An upper bound of the phase's speed (a sync reset's jump excluded).
                        const float speed = std::fabs(phaseToCycles(ch.inc[k])) +
                                            std::fabs(phaseToCycles(static_cast<std::int32_t>(ch.pm[k + 1] - ch.pm[k])));
                        mipLevel(speed, plan.level[k], plan.dark[k]);
                        tableFrame(position.at(offset + i) + pos[offset + i], t.frames, plan.frame[k], plan.next[k]);
                    }
                    for (int i = 0; i < n; ++i) dst[i] += read(t, plan, i, theta[i]);
                    if (ch.resets > 0) {
                        WavetableShape shape;
                        shape.tables = &t;
                        shape.plan = &plan;
                        correct(ch, nullptr, 0, 0, shape, *blep_, a);
                    }
                }
                if (b.sync) acc_[cc].finish(o + offset, n);
            }
        }
    }

private:
    const WaveTables* builtin_;
    ParamSmoother position_;
    AsyncLoad<WaveTables> load_;
};

std::vector<PortDescriptor> wavetableInputs() {
    auto in = pitchFmPmSyncInputs();
    in.push_back(positionInput());
    return in;
}

const ModuleDescriptor kWavetable{
    .id = "wavetable",
    .name = "Wavetable Oscillator",
    .category = "Oscillators",
    .help =
        "Plays single-cycle frames from a sound file and morphs between them. The state names "
        "the file and the frame length: {\"file\": \"table.wav\", \"frame\": 2048} (any WAV, FLAC, "
        "AIFF or OGG file; its first channel is cut into frames of `frame` samples, each one "
        "cycle, at most 256 of them; DC is removed). Position 0..1 (knob + input) sweeps from the "
        "first frame to the last, crossfading neighbours. Band-limited by per-octave mip-maps "
        "built in the background when the file loads, so alias products stay more than 60 dB "
        "below the fundamental; a bad file is reported here and the previous table keeps "
        "playing. Without a file it plays a built-in set: sine -> triangle -> saw -> square. "
        "Frequency = Frequency knob x 2^Pitch; FM is through-zero linear FM, PM adds cycles to "
        "the phase, Sync restarts the cycle at each rising crossing of 0.5, band-limited (while "
        "Sync is patched the output is delayed by 12 samples, 0.25 ms at 48 kHz).",
    .inputs = wavetableInputs(),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "the table's waveform at the file's level"}},
    .params = {freqParam(),
               fmAmountParam(),
               {.id = "position",
                .name = "Position",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "where in the table: 0 the first frame, 1 the last"}},
    .create = [] { return std::unique_ptr<Module>(new Wavetable(kWavetable)); },
};
const RegisterModule registerWavetable{kWavetable};

}  // namespace
}  // namespace kabel
