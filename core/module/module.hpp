// The module API: what every DSP unit implements, and the views of its signals that the engine
// hands it for each block.
//
// Lifecycle (STYLE.md §4): construct (UI thread, may allocate) → prepare(sampleRate, maxFrames)
// (UI thread, allocates the rest) → process(ctx) for each block (audio thread: never allocates,
// locks, blocks, logs or throws) → reset() (clears state, keeps params). A module instance outlives
// the plans that run it: its state (phase, delay lines, envelopes) survives every edit of the patch.
//
// Signals: every port carries 1..kMaxChannels channels (polyphony), each a block of `frames`
// floats; channel c of a port starts at data + c * stride. Channel counts are fixed per plan: the
// compiler asks each module, via outputChannels(), how many channels each output carries given the
// channel counts of its inputs.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/midi/midi_event.hpp"
#include "core/module/descriptor.hpp"

namespace kabel {

class Worker;
class SharedBuffers;
class SignalTap;
class MidiOutputBlock;
class MidiClock;
class LinkBlock;

/// One input port for one block. Audio thread, read-only.
struct InputPort {
    const float* data = nullptr;   // channel c at data + c * stride, `frames` floats each
    const float* zeros = nullptr;  // a block of silence (for channels this input does not carry)
    int channels = 1;              // 1..kMaxChannels
    int stride = 0;
    bool connected = false;  // false: every frame holds the port's default value
    float constant = 0.0f;   // the default value (meaningful when !connected)

    /// Polyphonic read with VCV-style broadcast: a mono input feeds every channel; channels beyond
    /// a poly input's count read silence.
    const float* channel(int c) const noexcept {
        if (channels == 1) return data;
        return c < channels ? data + static_cast<std::ptrdiff_t>(c) * stride : zeros;
    }
};

/// One output port for one block. Audio thread; the module must write every frame of every
/// channel of a connected output (the buffer holds another signal's leftovers otherwise). An
/// output nothing reads (`connected` false) may be left unwritten, to save the work.
struct OutputPort {
    float* data = nullptr;
    int channels = 1;
    int stride = 0;
    bool connected = true;  // false: no cable reads this output in the current plan

    float* channel(int c) const noexcept { return data + static_cast<std::ptrdiff_t>(c) * stride; }
};

/// The audio device's buffers for the current block, for the audio I/O modules. Output channels
/// are cleared by the engine before each block; output modules add into them.
struct HostBuffers {
    float* const* out = nullptr;
    int outChannels = 0;
    const float* const* in = nullptr;
    int inChannels = 0;
    /// The block's MIDI events, sorted by frame (see core/midi/midi_event.hpp). Set by the engine.
    std::span<const MidiEvent> midi;
    /// Where modules send MIDI this block (core/midi/midi_output.hpp); nullptr: no MIDI output.
    MidiOutputBlock* midiOut = nullptr;
    /// The engine's steady-clock <-> frame map (clock->timeAt(blockStart): the host time of a
    /// block's first frame); nullptr outside an engine (harnesses). Set by the engine.
    const MidiClock* clock = nullptr;
    /// The Ableton Link session's state captured for this block (core/sync/link_session.hpp);
    /// nullptr when Link is off. Set by the engine.
    const LinkBlock* link = nullptr;
};

/// Everything a module needs for one block. Built by the compiler; valid only during process().
struct ProcessContext {
    int frames = 0;                     // frames in this block, 1..maxFrames passed to prepare()
    std::uint64_t blockStart = 0;       // engine frame count at this block's first frame
    std::span<const InputPort> in;      // one per descriptor input, in descriptor order
    std::span<const OutputPort> out;    // one per descriptor output
    const HostBuffers* host = nullptr;  // device buffers; never null

    /// Every MIDI event of this block, from every input port, sorted by frame (stable for equal
    /// frames); frame offsets are inside this block. Empty when no MIDI arrived.
    std::span<const MidiEvent> midi() const noexcept { return host ? host->midi : std::span<const MidiEvent>{}; }
    /// Where to send MIDI messages (frame offsets inside this block); nullptr when the engine has
    /// no MIDI output (tests, harnesses).
    MidiOutputBlock* midiOut() const noexcept { return host ? host->midiOut : nullptr; }
};

/// Where a module's state is loaded from and where its slow work runs (UI thread).
struct LoadContext {
    std::filesystem::path baseDirectory;  // relative paths in state are relative to this (the patch's folder)
    Worker* worker = nullptr;             // background work; nullptr: do it at once (tests)
    SharedBuffers* buffers = nullptr;     // the session's named live buffers; nullptr: none (tests)

    /// `path` as given when absolute, else relative to baseDirectory.
    std::filesystem::path resolve(const std::filesystem::path& path) const {
        return path.is_absolute() || baseDirectory.empty() ? path : baseDirectory / path;
    }
};

class Module {
public:
    /// UI thread. Allocates one atomic per parameter, each at its default value.
    explicit Module(const ModuleDescriptor& descriptor);
    virtual ~Module();
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    const ModuleDescriptor& descriptor() const noexcept { return *descriptor_; }

    /// UI thread, before the module enters any plan (and again if the sample rate or the maximum
    /// block size change while it is in none). Allocate buffers here. Overrides must call this base.
    virtual void prepare(double sampleRate, int maxFrames);

    /// Audio thread. Processes ctx.frames frames. Never allocates, locks, blocks, logs or throws.
    virtual void process(const ProcessContext& ctx) noexcept = 0;

    /// Clears the signal state (phases, delay lines, envelopes) and keeps the params. Called on
    /// the audio thread before process() after requestReset(), or on the UI thread while the
    /// module is in no plan.
    virtual void reset() noexcept {}

    /// UI thread, at compile time: channels carried by output `output`, given the channel count of
    /// every input (0 for an unconnected input, so a module can tell). Default: the largest input
    /// count, at least 1.
    virtual int outputChannels(int output, std::span<const int> inputChannels) const;

    /// UI thread, at compile time, before a plan is submitted in which this module's ports carry
    /// these channel counts. Per-channel memory (delay lines, voices) may be allocated here, but
    /// only *added*: the previous plan may still be running this module on the audio thread with
    /// its old channel counts, so nothing it uses may move or be freed. Default: nothing.
    virtual void prepareChannels(std::span<const int> inputChannels, std::span<const int> outputChannels);

    /// UI thread: per-instance state kept in the patch as JSON (a sequencer's steps, the file a
    /// sampler plays). The document is the source of truth: the session calls loadState() when
    /// the module is created and whenever its state in the document changes; a null `state`
    /// means "the default". Slow work (decoding files) goes to context.worker (see AsyncLoad in
    /// rt_value.hpp); data reaches the audio thread as immutable values (RtValue). Throws
    /// std::exception with a clear message for state it cannot use (the module keeps its state).
    virtual void loadState(const nlohmann::json& state, const LoadContext& context);
    /// UI thread: the state to save, if the module changed it itself (default: none).
    virtual void saveState(nlohmann::json& state) const;

    /// UI thread, regularly (Session::poll): free what the audio thread handed back, publish
    /// background results.
    virtual void idle() {}

    /// UI thread: a problem the user should see ("kick.wav: not a sound file"), "" if none.
    virtual std::string status() const { return {}; }

    /// UI thread, at compile time: true if process() touches state that other modules or the
    /// host share (it adds into the device outputs, sends MIDI, writes or reads a live buffer).
    /// In a parallel plan such modules run on the audio thread, in plan order (plan.hpp).
    virtual bool sharesState() const noexcept { return false; }

    /// UI thread, at compile time: true if process() only passes its inputs on to the device
    /// outputs and keeps no state a sample could poison (the Audio Out module). The engine's output
    /// stage screens what reaches the device, so what such a module reads is screened for NaN/Inf
    /// only while the engine hunts for its source (plan.hpp, "Containment").
    virtual bool guardedSink() const noexcept { return false; }

    /// UI thread: the module's signal taps for the editor (a scope's traces), index 0, 1, ...;
    /// nullptr past the last. See signal_tap.hpp.
    virtual const SignalTap* tap(int index) const;

    /// Any thread. Parameter values are in the param's own unit (Hz, s, ...), clamped to its range.
    float param(int index) const noexcept { return params_[index].load(std::memory_order_relaxed); }
    void setParam(int index, float value) noexcept;
    int paramCount() const noexcept { return static_cast<int>(descriptor_->params.size()); }

    /// Any thread: asks the engine to call reset() on the audio thread before the next process().
    /// A muted module (below) is unmuted by it.
    void requestReset() noexcept { resetRequested_.store(true, std::memory_order_release); }

    /// Containment (plan.hpp): when an output of this module holds NaN or Inf, the engine silences
    /// it and mutes the module: it is not processed and its outputs stay silent until
    /// requestReset() (the editor's Reset on the module's flag). Any thread.
    bool muted() const noexcept { return muted_.load(std::memory_order_acquire); }
    /// Any thread: the engine frame at which it was last muted (meaningful once muteCount() > 0).
    std::uint64_t mutedAt() const noexcept { return mutedAt_.load(std::memory_order_relaxed); }
    /// Any thread: how many times it has been muted.
    std::uint32_t muteCount() const noexcept { return mutes_.load(std::memory_order_acquire); }
    /// Audio thread (engine only): mutes it from the block that starts at `blockStart`.
    void mute(std::uint64_t blockStart) noexcept {
        mutedAt_.store(blockStart, std::memory_order_relaxed);
        muted_.store(true, std::memory_order_relaxed);
        mutes_.store(mutes_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }

    /// Any thread: nanoseconds this module has spent processing while the engine's profiling was
    /// on (Engine::setProfiling), for the editor's per-module CPU meter.
    std::uint64_t cpuNanos() const noexcept { return cpuNanos_.load(std::memory_order_relaxed); }
    /// Audio thread (engine only): adds one block's processing time.
    void addCpuNanos(std::uint64_t nanos) noexcept {
        cpuNanos_.store(cpuNanos_.load(std::memory_order_relaxed) + nanos, std::memory_order_relaxed);
    }

    /// Audio thread (engine only): reset() (and unmute) if requested, then process() unless
    /// muted. False when muted: the caller silences the outputs.
    bool run(const ProcessContext& ctx) noexcept {
        if (resetRequested_.load(std::memory_order_relaxed) && resetRequested_.exchange(false, std::memory_order_acquire)) {
            reset();
            muted_.store(false, std::memory_order_release);
        }
        if (muted_.load(std::memory_order_relaxed)) return false;
        process(ctx);
        return true;
    }

    double sampleRate() const noexcept { return sampleRate_; }
    int maxFrames() const noexcept { return maxFrames_; }

    /// UI thread, before prepare(): a number that identifies this instance within its patch (the
    /// session hashes the module id), so modules with randomness (noise, random sources) are
    /// reproducible — a patch renders the same every time — yet differ between instances.
    void setInstanceSeed(std::uint64_t seed) noexcept { seed_ = seed; }
    std::uint64_t instanceSeed() const noexcept { return seed_; }

private:
    // Up to kInlineParams params live inside the object, on the cache lines process() touches
    // anyway: in a 1,000-module patch a separate allocation per module is one more scattered
    // memory access per module per block. More params go to the heap.
    static constexpr std::size_t kInlineParams = 6;
    const ModuleDescriptor* descriptor_;
    std::atomic<float>* params_;  // inlineParams_ or heapParams_
    std::atomic<bool> resetRequested_{false};
    std::atomic<bool> muted_{false};  // written by the audio thread (set) and in run() (cleared)
    std::atomic<float> inlineParams_[kInlineParams];
    std::unique_ptr<std::atomic<float>[]> heapParams_;
    std::atomic<std::uint64_t> cpuNanos_{0};  // single writer: the audio thread
    std::atomic<std::uint64_t> mutedAt_{0};   // single writer: the audio thread
    std::atomic<std::uint32_t> mutes_{0};     // single writer: the audio thread
    double sampleRate_ = 48000.0;
    int maxFrames_ = 64;
    std::uint64_t seed_ = 0;
};

}  // namespace kabel
