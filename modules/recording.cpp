// Recording: the Live Sampler (records into a named live buffer a Sampler plays) and the
// Recorder (writes takes to WAV files).
//
// Design note (livesampler). The buffer comes from the session's SharedBuffers (state
// {"buffer": "loop1", "seconds": 30}), allocated on the UI thread at its full capacity and handed
// to the audio thread through an RtValue; the audio thread writes samples and the buffer's
// length, nothing else. The record gate is examined on every frame, so a take starts and stops on
// the exact frame; recording is sample-exact (no fades: a Sampler reading the buffer at pitch 0
// returns exactly what came in).
//
// Design note (recorder). The audio thread only copies frames (poly channels summed, stereo
// interleaved) into a large lock-free single-producer/single-consumer float ring and pushes "take
// starts/ends at ring position P" markers into a small SpscQueue. A writer thread owned by the
// module (started on the UI thread when the state first names a file, joined in the destructor)
// polls both every 2 ms: it writes the frames of a take to a hidden temporary file beside the
// target through libsndfile (32-bit float WAV) and, when the take ends, closes, fsyncs and
// renames it over the target, so the user's file name only ever holds a complete take. The ring
// holds 40 s of stereo by default (state "ring_seconds"): an offline render at 100x real time
// leaves the writer 0.4 s to catch up. When the ring is full the block's frames are dropped and
// counted (status()); the audio thread never waits.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/io/sound_file.hpp"
#include "core/module/gates.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
#include "core/module/shared_buffers.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/spsc_queue.hpp"

namespace kabel {
namespace {

constexpr int kChunk = 64;  // frames summed per pass (stack arrays)

/// y[0..n) = the sum of every channel of `port` over frames [from, from + n).
void sumChannels(const InputPort& port, int from, int n, float* y) noexcept {
    if (!port.connected) {
        std::fill_n(y, n, port.constant);
        return;
    }
    const float* x0 = port.channel(0) + from;
    std::copy_n(x0, n, y);
    for (int c = 1; c < port.channels; ++c) {
        const float* x = port.channel(c) + from;
        for (int k = 0; k < n; ++k) y[k] += x[k];
    }
}

std::string keyList(const nlohmann::json& state, std::initializer_list<const char*> allowed) {
    for (const auto& [key, value] : state.items()) {
        bool known = false;
        for (const char* a : allowed) known |= key == a;
        if (!known) return key;
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// livesampler

enum LiveInputs { kLiveLeft, kLiveRight, kLiveRecord };
enum LiveOutputs { kLivePosition };
enum LiveParams { kLiveMode };
enum class TakeMode { Replace, Overdub, Append };

constexpr double kDefaultLiveSeconds = 30.0;
constexpr double kMaxLiveSeconds = 600.0;

struct BufferHandle {
    std::shared_ptr<LiveBuffer> buffer;
};

class LiveSampler final : public Module {
public:
    using Module::Module;

    bool sharesState() const noexcept override { return true; }  // writes a live buffer samplers play

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        if (!name_.empty() && publishedRate_ != sampleRate) publishBuffer();  // a buffer at the new rate
        reset();
    }

    void reset() noexcept override {
        recording_ = false;
        gate_ = false;
        position_ = 0;
    }

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        if (state.is_null()) {
            name_.clear();
            value_.clear();
            return;
        }
        if (!state.is_object()) throw std::invalid_argument("state must be an object such as {\"buffer\": \"loop1\", \"seconds\": 30}");
        if (const std::string bad = keyList(state, {"buffer", "seconds"}); !bad.empty())
            throw std::invalid_argument("unknown key \"" + bad + "\" (use \"buffer\" and \"seconds\")");
        if (!state.contains("buffer"))
            throw std::invalid_argument("\"buffer\" is missing: name the live buffer, e.g. {\"buffer\": \"loop1\"}");
        if (!state["buffer"].is_string()) throw std::invalid_argument("\"buffer\" must be a string");
        std::string name = state["buffer"].get<std::string>();
        if (name.empty()) throw std::invalid_argument("\"buffer\" must not be empty");
        double seconds = kDefaultLiveSeconds;
        if (state.contains("seconds")) {
            if (!state["seconds"].is_number()) throw std::invalid_argument("\"seconds\" must be a number");
            seconds = state["seconds"].get<double>();
            if (!(seconds > 0.0 && seconds <= kMaxLiveSeconds))
                throw std::invalid_argument("\"seconds\" must be more than 0 and at most 600");
        }
        name_ = std::move(name);
        seconds_ = seconds;
        buffers_ = context.buffers;
        publishBuffer();
    }

    void idle() override { value_.collect(); }

    std::string status() const override {
        if (name_.empty()) return "no buffer: give it a state such as {\"buffer\": \"loop1\", \"seconds\": 30}";
        return value_.error();
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const BufferHandle* handle = value_.get();
        LiveBuffer* buffer = handle ? handle->buffer.get() : nullptr;
        // A new buffer: start from its beginning. (Comparing addresses is safe: the handle taken
        // last keeps its buffer alive until this get(), so a newer buffer never reuses its address.)
        if (buffer != buffer_) {
            buffer_ = buffer;
            recording_ = false;
            position_ = 0;
        }
        const OutputPort& out = ctx.out[kLivePosition];
        float* y = out.channel(0);
        const InputPort& record = ctx.in[kLiveRecord];
        const float* gate = record.channel(0);
        const std::size_t capacity = buffer ? buffer->capacity() : 0;
        if (capacity == 0) {
            gate_ = record.connected ? gate[frames - 1] >= 0.5f : record.constant >= 0.5f;
            if (out.connected) std::fill_n(y, frames, 0.0f);
            return;
        }
        position_ = std::min(position_, capacity);
        const auto size = static_cast<float>(capacity);
        int n = 0;
        while (n < frames) {
            const int m = gateChangeAt(record, gate, n, frames, gate_);
            if (recording_) {
                const auto room = static_cast<int>(std::min<std::size_t>(capacity - position_, static_cast<std::size_t>(m - n)));
                if (out.connected)
                    for (int k = 0; k < room; ++k) y[n + k] = static_cast<float>(position_ + static_cast<std::size_t>(k)) / size;
                write(ctx, *buffer, n, room);
                if (out.connected) std::fill(y + n + room, y + m, static_cast<float>(position_) / size);
                if (position_ == capacity) recording_ = false;  // full: the next rising edge starts again
            } else if (out.connected) {
                std::fill(y + n, y + m, static_cast<float>(position_) / size);
            }
            if (m == frames) break;
            gate_ = !gate_;
            if (gate_) {
                takeMode_ = static_cast<TakeMode>(std::clamp(static_cast<int>(param(kLiveMode)), 0, 2));
                position_ = takeMode_ == TakeMode::Append ? std::min(buffer->length(), capacity) : 0;
                if (takeMode_ == TakeMode::Replace) buffer->setLength(0);
                recording_ = position_ < capacity;
            } else {
                recording_ = false;
            }
            n = m;
        }
    }

private:
    // UI thread.
    void publishBuffer() {
        const double rate = sampleRate();
        const auto frames = static_cast<std::size_t>(std::ceil(seconds_ * rate));
        // At once, on this thread: SharedBuffers belongs to the UI thread.
        value_.request(nullptr, [&] {
            auto handle = std::make_unique<BufferHandle>();
            handle->buffer = buffers_ ? buffers_->require(name_, 2, frames, rate) : std::make_shared<LiveBuffer>(2, frames, rate);
            return handle;
        });
        publishedRate_ = rate;
    }

    // Audio thread: records frames [from, from + n) of the inputs at position_.
    void write(const ProcessContext& ctx, LiveBuffer& buffer, int from, int n) noexcept {
        const InputPort& left = ctx.in[kLiveLeft];
        const InputPort& right = ctx.in[kLiveRight];
        float* l = buffer.channel(0) + position_;
        float* r = buffer.channel(1) + position_;
        for (int start = 0; start < n; start += kChunk) {
            const int m = std::min(kChunk, n - start);
            float a[kChunk], b[kChunk];
            sumChannels(left, from + start, m, a);
            if (right.connected)
                sumChannels(right, from + start, m, b);
            else
                std::copy_n(a, m, b);
            if (takeMode_ == TakeMode::Overdub) {
                for (int k = 0; k < m; ++k) l[start + k] += a[k];
                for (int k = 0; k < m; ++k) r[start + k] += b[k];
            } else {
                std::copy_n(a, m, l + start);
                std::copy_n(b, m, r + start);
            }
        }
        position_ += static_cast<std::size_t>(n);
        if (takeMode_ == TakeMode::Overdub)
            buffer.setLength(std::max(buffer.length(), position_));
        else
            buffer.setLength(position_);
    }

    AsyncLoad<BufferHandle> value_;  // loaded at once (no worker): AsyncLoad for its hand-over and errors
    // UI thread.
    std::string name_;
    double seconds_ = kDefaultLiveSeconds;
    double publishedRate_ = 0.0;
    SharedBuffers* buffers_ = nullptr;
    // Audio thread.
    LiveBuffer* buffer_ = nullptr;
    bool recording_ = false;
    bool gate_ = false;
    TakeMode takeMode_ = TakeMode::Replace;
    std::size_t position_ = 0;
};

const ModuleDescriptor kLiveSampler{
    .id = "livesampler",
    .name = "Live Sampler",
    .category = "Sampling",
    .help =
        "Records its inputs into a named live buffer that a Sampler plays by the same name (state "
        "{\"buffer\": \"loop1\", \"seconds\": 30}: the buffer holds that many seconds of stereo). Recording runs "
        "while Record is high, exactly from the frame it rises to the frame it falls: replace starts each take "
        "at the beginning (the buffer then holds just that take), overdub adds the input onto what is there "
        "from the beginning (extending it past its old end), append continues after the old end. Recording "
        "stops when the buffer is full. Polyphonic inputs are summed; with Right unpatched, Left feeds both "
        "channels. Position shows where the recording head is (0..1 of the buffer).",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left channel to record (channels summed)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right channel (Left when unpatched)"},
               {.id = "record",
                .name = "Record",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "records while high (>= 0.5); each rising edge starts a take"}},
    .outputs = {{.id = "position",
                 .name = "Position",
                 .kind = SignalKind::Control,
                 .help = "the recording head as a fraction of the buffer (0..1): frames recorded / capacity"}},
    .params = {{.id = "mode",
                .name = "Mode",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .curve = ParamCurve::Choice,
                .choices = {"replace", "overdub", "append"},
                .help = "what a take does to the recording there: replace it from the start, add to it from the "
                        "start, or continue after its end (read at each rising edge)"}},
    .create = [] { return std::unique_ptr<Module>(new LiveSampler(kLiveSampler)); },
};
const RegisterModule registerLiveSampler{kLiveSampler};

// ---------------------------------------------------------------------------------------------
// recorder

enum RecorderInputs { kRecLeft, kRecRight, kRecRecord };
enum RecorderParams { kRecArmed };

constexpr double kDefaultRingSeconds = 40.0;
constexpr auto kWriterPoll = std::chrono::milliseconds(2);

/// A lock-free ring of floats for one producer thread and one consumer thread, moved in bulk.
/// Positions count floats since the start and never wrap (64 bits); the slot is position mod
/// capacity.
class FloatRing {
public:
    /// UI thread. Allocates and touches every page (so the audio thread never page-faults).
    explicit FloatRing(std::size_t capacity) : data_(capacity), capacity_(capacity) {}

    std::size_t capacity() const noexcept { return capacity_; }

    // Producer.
    std::uint64_t writePosition() const noexcept { return write_.load(std::memory_order_relaxed); }
    std::size_t writable() const noexcept {
        return capacity_ - static_cast<std::size_t>(write_.load(std::memory_order_relaxed) - read_.load(std::memory_order_acquire));
    }
    float* data() noexcept { return data_.data(); }
    void commit(std::size_t n) noexcept { write_.store(write_.load(std::memory_order_relaxed) + n, std::memory_order_release); }

    // Consumer.
    std::uint64_t readPosition() const noexcept { return read_.load(std::memory_order_relaxed); }
    std::size_t readable() const noexcept {
        return static_cast<std::size_t>(write_.load(std::memory_order_acquire) - read_.load(std::memory_order_relaxed));
    }
    const float* data() const noexcept { return data_.data(); }
    void consume(std::size_t n) noexcept { read_.store(read_.load(std::memory_order_relaxed) + n, std::memory_order_release); }

private:
    AlignedFloats data_;
    std::size_t capacity_;
    alignas(64) std::atomic<std::uint64_t> write_{0};
    alignas(64) std::atomic<std::uint64_t> read_{0};
};

/// Audio thread -> writer thread: a take starts or ends at a ring position.
struct Marker {
    enum Kind : std::uint8_t { Start, Stop } kind = Start;
    std::uint64_t at = 0;     // ring position (floats) where the take starts or ends
    double sampleRate = 0.0;  // of the take
};

class Recorder final : public Module {
public:
    using Module::Module;

    /// UI thread, when no plan runs the module: the writer finishes the take (the file appears)
    /// and stops.
    ~Recorder() override {
        stop_.store(true, std::memory_order_release);
        if (writer_.joinable()) writer_.join();
    }

    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        if (state.is_null()) {
            hasTarget_.store(false, std::memory_order_release);
            const std::lock_guard lock(mutex_);
            name_.clear();
            return;
        }
        if (!state.is_object()) throw std::invalid_argument("state must be an object such as {\"file\": \"take.wav\"}");
        if (const std::string bad = keyList(state, {"file", "ring_seconds"}); !bad.empty())
            throw std::invalid_argument("unknown key \"" + bad + "\" (use \"file\" and \"ring_seconds\")");
        if (!state.contains("file"))
            throw std::invalid_argument("\"file\" is missing: name the WAV file to write, e.g. {\"file\": \"take.wav\"}");
        if (!state["file"].is_string()) throw std::invalid_argument("\"file\" must be a string");
        const std::string file = state["file"].get<std::string>();
        if (file.empty()) throw std::invalid_argument("\"file\" must not be empty");
        // A patch is untrusted data: its recorder may only ever write WAV files (and never
        // replaces a file it did not write itself: see claimTarget).
        std::string extension = std::filesystem::path(file).extension().string();
        std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
        if (extension != ".wav") throw std::invalid_argument("\"file\" must name a .wav file, not \"" + file + "\"");
        double ringSeconds = kDefaultRingSeconds;
        if (state.contains("ring_seconds")) {
            if (!state["ring_seconds"].is_number()) throw std::invalid_argument("\"ring_seconds\" must be a number");
            ringSeconds = state["ring_seconds"].get<double>();
            if (!(ringSeconds >= 0.01 && ringSeconds <= 600.0)) throw std::invalid_argument("\"ring_seconds\" must be within 0.01..600");
        }
        {
            const std::lock_guard lock(mutex_);
            name_ = file;
            target_ = context.resolve(file);
        }
        if (!ring_) {
            // The ring's size is fixed from here on (the audio thread may use it at any moment).
            const auto frames = static_cast<std::size_t>(std::ceil(ringSeconds * sampleRate()));
            ring_ = std::make_unique<FloatRing>(2 * std::max<std::size_t>(frames, static_cast<std::size_t>(maxFrames())));
            ringPointer_.store(ring_.get(), std::memory_order_release);
            writer_ = std::thread([this] { runWriter(); });
        }
        hasTarget_.store(true, std::memory_order_release);
    }

    std::string status() const override {
        const std::lock_guard lock(mutex_);
        std::string s = error_;
        if (!notice_.empty()) s += (s.empty() ? "" : "; ") + notice_;
        const std::uint64_t dropped = dropped_.load(std::memory_order_relaxed);
        if (dropped > 0) {
            if (!s.empty()) s += "; ";
            s += (name_.empty() ? std::string("recorder") : name_) + ": " + std::to_string(dropped) +
                 " frames dropped because the disk writer fell behind (a larger \"ring_seconds\" in the state helps)";
        }
        if (s.empty() && name_.empty() && param(kRecArmed) >= 0.5f)
            s = "armed but no file: give it a state such as {\"file\": \"take.wav\"}";
        return s;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        FloatRing* ring = ringPointer_.load(std::memory_order_acquire);
        const bool armed = param(kRecArmed) >= 0.5f && hasTarget_.load(std::memory_order_acquire);
        const InputPort& record = ctx.in[kRecRecord];
        const float* gate = record.channel(0);
        const bool usable = ring && hasTarget_.load(std::memory_order_relaxed);
        int n = 0;
        while (n < frames) {
            // Recording wanted over [n, m): armed, or the gate high (and a file to write to).
            const bool gateHigh = record.connected ? gate[n] >= 0.5f : record.constant >= 0.5f;
            const int m = armed ? frames : gateChangeAt(record, gate, n, frames, gateHigh);
            const bool want = usable && (armed || gateHigh);
            if (want != recording_) {
                Marker marker{want ? Marker::Start : Marker::Stop, ring ? ring->writePosition() : 0, sampleRate()};
                if (ring && markers_.push(std::move(marker))) recording_ = want;  // else: try again at the next change
            }
            if (recording_ && ring) writeFrames(*ring, ctx, n, m);
            n = m;
        }
    }

private:
    // Audio thread: interleaves frames [from, to) of the summed inputs into the ring.
    void writeFrames(FloatRing& ring, const ProcessContext& ctx, int from, int to) noexcept {
        const auto floats = static_cast<std::size_t>(to - from) * 2;
        if (ring.writable() < floats) {
            dropped_.fetch_add(static_cast<std::uint64_t>(to - from), std::memory_order_relaxed);
            return;
        }
        const InputPort& left = ctx.in[kRecLeft];
        const InputPort& right = ctx.in[kRecRight];
        const std::size_t capacity = ring.capacity();
        std::size_t slot = static_cast<std::size_t>(ring.writePosition() % capacity);
        float* data = ring.data();
        for (int start = from; start < to; start += kChunk) {
            const int m = std::min(kChunk, to - start);
            float l[kChunk], r[kChunk];
            sumChannels(left, start, m, l);
            if (right.connected)
                sumChannels(right, start, m, r);
            else
                std::copy_n(l, m, r);
            for (int k = 0; k < m; ++k) {
                if (slot == capacity) slot = 0;  // capacity is even: a frame never straddles the end
                data[slot] = l[k];
                data[slot + 1] = r[k];
                slot += 2;
            }
        }
        ring.commit(floats);
    }

    // Writer thread.
    void runWriter() {
        FloatRing& ring = *ring_;
        Take take;
        Marker marker;
        bool haveMarker = false;
        for (;;) {
            const bool stopping = stop_.load(std::memory_order_acquire);
            bool progressed = false;
            if (!haveMarker) haveMarker = markers_.pop(marker);
            std::size_t n = ring.readable();
            if (haveMarker) n = std::min<std::size_t>(n, static_cast<std::size_t>(marker.at - ring.readPosition()));
            if (n > 0) {
                writeToTake(take, ring, n);
                ring.consume(n);
                progressed = true;
            }
            if (haveMarker && ring.readPosition() == marker.at) {
                if (marker.kind == Marker::Start)
                    startTake(take, marker.sampleRate);
                else
                    finishTake(take);
                haveMarker = false;
                progressed = true;
            }
            if (!progressed) {
                if (stopping) break;
                std::this_thread::sleep_for(kWriterPoll);
            }
        }
        finishTake(take);  // a take still running when the module goes: it ends here
    }

    struct Take {
        std::unique_ptr<SoundFileWriter> file;
        std::filesystem::path temp, target;
        std::string name;
    };

    void startTake(Take& take, double rate) {
        finishTake(take);
        {
            const std::lock_guard lock(mutex_);
            take.target = claimTarget(target_);
            take.name = take.target == target_ ? name_ : take.target.filename().string();
        }
        take.temp = detail::makeTempPathBeside(take.target);
        try {
            take.file = std::make_unique<SoundFileWriter>(take.temp, 2, rate, SampleFormat::Float32);
        } catch (const std::exception& e) {
            take.file.reset();
            detail::discardTempFile(take.temp);
            fail(take.name + ": cannot record: " + e.what());
        }
    }

    void writeToTake(Take& take, const FloatRing& ring, std::size_t floats) {
        if (!take.file) return;  // no take (or it failed): the frames are dropped
        const std::size_t capacity = ring.capacity();
        std::size_t slot = static_cast<std::size_t>(ring.readPosition() % capacity);
        try {
            while (floats > 0) {
                const std::size_t n = std::min(floats, capacity - slot);
                take.file->write(ring.data() + slot, static_cast<std::int64_t>(n / 2));
                floats -= n;
                slot = 0;
            }
        } catch (const std::exception& e) {
            take.file.reset();
            detail::discardTempFile(take.temp);
            fail(take.name + ": " + e.what());
        }
    }

    void finishTake(Take& take) {
        if (!take.file) return;
        try {
            take.file->close();
            take.file.reset();
            detail::commitTempFile(take.temp, take.target, Durability::Synced);  // a performance cannot be played again
        } catch (const std::exception& e) {
            take.file.reset();
            detail::discardTempFile(take.temp);
            fail(take.name + ": " + e.what());
        }
    }

    // Writer thread, mutex held: where a take for `target` goes. A new take replaces a file this
    // recorder wrote (recording again redoes the take), but never one it did not: then the take
    // goes to the first free "name-2.wav", "name-3.wav", ... beside it, and status() says so.
    std::filesystem::path claimTarget(const std::filesystem::path& target) {
        std::error_code ec;
        std::filesystem::path path = target;
        for (int n = 2; !written_.count(path) && std::filesystem::exists(path, ec) && n < 10000; ++n)
            path = target.parent_path() / (target.stem().string() + "-" + std::to_string(n) + target.extension().string());
        if (path != target && !written_.count(path))
            notice_ =
                target.filename().string() + " was there already (not recorded by this module): recording to " + path.filename().string();
        written_.insert(path);
        return path;
    }

    void fail(std::string message) {
        const std::lock_guard lock(mutex_);
        error_ = std::move(message);
    }

    // Audio thread.
    bool recording_ = false;
    // Shared.
    std::atomic<FloatRing*> ringPointer_{nullptr};
    std::atomic<bool> hasTarget_{false};
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> dropped_{0};
    SpscQueue<Marker> markers_{256};
    // UI thread (ring_, writer_); the mutex guards the rest between the UI and writer threads.
    std::unique_ptr<FloatRing> ring_;
    std::thread writer_;
    mutable std::mutex mutex_;
    std::string name_;
    std::filesystem::path target_;
    std::set<std::filesystem::path> written_;  // takes this recorder wrote (it may replace those)
    std::string error_, notice_;
};

const ModuleDescriptor kRecorder{
    .id = "recorder",
    .name = "Recorder",
    .category = "I/O",
    .help =
        "Records its inputs to a 32-bit float stereo WAV file (state {\"file\": \"take.wav\"}, relative to the "
        "patch) while Record is high or Armed is on, from the exact frame recording starts. The file appears "
        "when the take ends (written beside it under a hidden name, then renamed over it: the name never holds "
        "half a take); a new take replaces it. It never replaces a file it did not record itself: if the file "
        "is there already, takes go to take-2.wav (then -3, ...) and the status says so. Polyphonic inputs are summed; with Right "
        "unpatched, Left feeds "
        "both channels. The disk is written by a background thread; if it falls behind, frames are dropped "
        "and counted in the module's status, never waited for.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left channel (channels summed)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right channel (Left when unpatched)"},
               {.id = "record",
                .name = "Record",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "records while high (>= 0.5); each high stretch is one take"}},
    .outputs = {},
    .params = {{.id = "armed",
                .name = "Armed",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .curve = ParamCurve::Toggle,
                .help = "on: records regardless of the Record input (turning it off ends the take)"}},
    .create = [] { return std::unique_ptr<Module>(new Recorder(kRecorder)); },
};
const RegisterModule registerRecorder{kRecorder};

}  // namespace
}  // namespace kabel
