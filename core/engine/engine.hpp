// Engine: runs the current Plan on the audio thread, block by block.
//
// Design note. The UI thread submits a new plan with one atomic exchange into a "pending" slot;
// at the start of a block the audio thread takes it with another exchange, and pushes the plan it
// replaces into a lock-free queue that the UI thread drains (collectGarbage) to free it — so
// nothing is ever freed, allocated or locked on the audio thread, and a plan (with the modules it
// owns) dies only after the audio thread has stopped using it. The engine block (64 frames by
// default) is independent of the device buffer: process() adapts any host buffer size.
// After each block the output stage replaces NaN/Inf with silence (counting them) and a soft
// clipper above 0.9 guards the speakers (transparent below it).
//
// MIDI (docs/midi.md). Each MIDI input port has its own lock-free queue (MidiInputQueue: one
// producer thread per port, e.g. one RtMidi callback each, and the audio thread). Producers push
// messages stamped with an absolute engine frame. At the start of each block the engine moves
// every queued event with frame < blockStart + frames into the block's event array (an event
// stamped before the block is late: it goes to frame 0 and is counted; an event stamped for a
// later block stays queued, and so does everything behind it in its port's queue), sorts the
// array by frame (stable: port order, then arrival order) and hands it to every module as
// ProcessContext::midi(). Fixed capacities: kMaxMidiEventsPerBlock events and
// kMaxSysexBytesPerBlock sysex bytes per block (more is dropped and counted). midiClock() maps
// steady-clock time to engine frames for stamping live input.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/engine/plan.hpp"
#include "core/engine/workers.hpp"
#include "core/midi/midi_clock.hpp"
#include "core/midi/midi_map.hpp"
#include "core/midi/midi_output.hpp"
#include "core/midi/midi_queue.hpp"
#include "core/sync/link_session.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/spsc_queue.hpp"

namespace kabel {

/// EngineConfig::workerPriority for live audio: SCHED_FIFO 10, JACK's default real-time priority.
inline constexpr int kLiveWorkerPriority = 10;

struct EngineConfig {
    double sampleRate = 48000.0;
    int blockFrames = 64;
    int outputChannels = 2;
    bool outputGuard = true;                   // soft-clip peaks above 0.9 (never affects quieter signals)
    int midiInputs = 1;                        // MIDI input ports (queues), 0..255
    std::size_t midiQueueEvents = 4096;        // events each port's queue holds
    std::size_t midiQueueSysexBytes = 65536;   // sysex bytes each port's queue holds
    std::size_t midiOutputQueueEvents = 4096;  // messages the MIDI output queue holds
    int inputChannels = 0;                     // device inputs the `in` module reads, 0..64 (one block of latency)
    /// Threads for big plans (docs/ARCHITECTURE.md, "Multi-core"): the audio thread plus
    /// threads - 1 workers. 0: one per core the machine has; 1: the audio thread alone.
    int threads = 0;
    int workerPriority = 0;                    // > 0: workers ask for SCHED_FIFO (live audio)
    WorkerObserver* workerObserver = nullptr;  // tests
};

/// MIDI counters, readable from any thread.
struct MidiStats {
    std::uint64_t delivered = 0;    // events handed to modules
    std::uint64_t late = 0;         // stamped before the block that took them (delivered at frame 0)
    std::uint64_t dropped = 0;      // refused by a full queue (producer side)
    std::uint64_t overflowed = 0;   // did not fit a block's event array or sysex bytes (lost)
    std::uint64_t sent = 0;         // output: messages modules sent into the output queue
    std::uint64_t sendDropped = 0;  // output: lost (block full, or queue full: the device fell behind)
};

struct EngineStats {
    std::uint64_t blocks = 0;
    std::uint64_t planSwaps = 0;
    std::uint64_t nonFiniteSamples = 0;  // NaN/Inf replaced by silence at the output
    std::uint64_t guardedSamples = 0;    // samples the output guard softened
    std::uint64_t activeGeneration = 0;  // generation of the plan the audio thread runs
};

class Engine {
public:
    /// UI thread.
    explicit Engine(EngineConfig config);
    /// UI thread, with the audio thread stopped: frees every plan.
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const EngineConfig& config() const noexcept { return config_; }
    /// The threads plans may be split for: config().threads resolved (1 + workers).
    int threads() const noexcept { return threads_; }
    /// How many times a worker joined a block (see Workers::joins).
    std::uint64_t workerJoins() const noexcept {
        const Workers* w = live_.load(std::memory_order_acquire);
        return w ? w->joins() : 0;
    }
    /// Blocks of parallel plans the audio thread ran alone, backing off (see Workers::soloBlocks).
    std::uint64_t soloBlocks() const noexcept {
        const Workers* w = live_.load(std::memory_order_acquire);
        return w ? w->soloBlocks() : 0;
    }

    /// UI thread: the audio thread takes `plan` at its next block boundary. A plan submitted
    /// earlier and not taken yet is freed here, unused. Lock-free for the audio thread.
    void submit(std::unique_ptr<Plan> plan);

    /// UI thread: frees plans the audio thread has retired. Returns how many (MIDI map tables
    /// retired are freed too, not counted).
    int collectGarbage();

    /// UI thread: the MIDI map table (built by the Session) the audio thread applies from its next
    /// block on, before the modules run; taken and retired like plans. An empty table maps nothing.
    void submitMidiMap(std::unique_ptr<MidiMapTable> table);
    /// MIDI learn (arm, cancel, take the learned control): see MidiMapper. Any thread.
    MidiMapper& midiMapper() noexcept { return mapper_; }

    /// Any thread.
    EngineStats stats() const noexcept;
    std::uint64_t activeGeneration() const noexcept { return activeGeneration_.load(std::memory_order_acquire); }

    /// MIDI input port `port` (0..config().midiInputs-1): its one producer thread pushes events
    /// stamped with engine frames. See MidiInputQueue.
    MidiInputQueue& midiInput(int port) noexcept { return *midiInputs_[static_cast<std::size_t>(port)]; }
    int midiInputCount() const noexcept { return static_cast<int>(midiInputs_.size()); }
    /// Any thread.
    MidiStats midiStats() const noexcept;
    /// MIDI output (docs/midi.md, "Clock in and out"): what modules sent, stamped with absolute
    /// engine frames in order. Its one consumer is the device's MIDI thread, which calls
    /// setMidiOutputAttached(true) (UI thread) before it starts reading; until then the engine
    /// discards what modules send.
    MidiOutputQueue& midiOutput() noexcept { return *midiOutput_; }
    void setMidiOutputAttached(bool attached) noexcept { midiOutputAttached_.store(attached, std::memory_order_release); }
    /// Any thread: steady-clock time -> engine frame, published by process()/processInterleaved()
    /// at each device callback (or by the device side through publishClock()).
    const MidiClock& midiClock() const noexcept { return clock_; }
    /// Any thread: the engine frame for an event arriving now, `latencyFrames` ahead of the
    /// estimated current frame; 0 before the first device callback. See docs/midi.md.
    std::uint64_t stampNow(std::uint64_t latencyFrames) const noexcept {
        std::uint64_t frame = 0;
        clock_.frameAt(MidiClock::nowNanos(), frame);
        return frame + latencyFrames;
    }
    /// Audio thread: the engine frame the device plays next (frames handed to the device so far).
    std::uint64_t deviceFrame() const noexcept { return frameCount_ - static_cast<std::uint64_t>(config_.blockFrames - blockPosition_); }
    /// Audio thread: publish that the device plays deviceFrame() at steady time `nanos` (for a
    /// device side with a better time than the callback's start; process() does it otherwise).
    void publishClock(std::int64_t nanos) noexcept { clock_.publish(deviceFrame(), nanos); }
    /// Audio thread: process()/processInterleaved() publish the clock at each call (default on).
    void setAutoPublishClock(bool on) noexcept { autoPublishClock_ = on; }

    /// Any thread: measure each module's processing time from the next block on (Module::cpuNanos;
    /// the editor's CPU meters). Off by default: it costs two clock reads per module per block.
    void setProfiling(bool on) noexcept { profiling_.store(on, std::memory_order_relaxed); }
    bool profiling() const noexcept { return profiling_.load(std::memory_order_relaxed); }

    /// UI thread: the Ableton Link session modules follow from the next block on (the engine
    /// captures its state once per block into HostBuffers::link); nullptr detaches it. The
    /// session must outlive its use: detach it with the audio stream stopped, or keep it alive
    /// longer than the engine's audio processing.
    void setLink(LinkSession* session) noexcept { link_.store(session, std::memory_order_release); }

    /// Audio thread: runs one engine block into the block output.
    void processBlock() noexcept;
    /// Audio thread: the last block's output, channel `c` (blockFrames floats).
    const float* blockOutput(int c) const noexcept { return outPointers_[static_cast<std::size_t>(c)]; }

    /// Audio thread: fills `frames` frames of `channels` non-interleaved device buffers, running
    /// as many engine blocks as needed (any host buffer size). Extra device channels get silence.
    void process(float* const* out, int channels, int frames) noexcept;
    /// Audio thread: the same with device input: `inChannels` non-interleaved input channels
    /// of `frames` frames (missing channels read as silence). Modules see the input one engine
    /// block later (HostBuffers::in): the block being played while it arrived is already made.
    void process(const float* const* in, int inChannels, float* const* out, int channels, int frames) noexcept;
    /// Audio thread: the same for one interleaved buffer.
    void processInterleaved(float* out, int channels, int frames) noexcept;

private:
    void takePendingPlan() noexcept;
    // Runs engine blocks as needed to hand `frames` frames to the device through
    // copy(deviceOffset, blockOffset, count).
    template <typename Copy>
    void deliver(int frames, Copy&& copy) noexcept;
    bool guardOutput() noexcept;  // true when it silenced NaN/Inf
    void gatherMidi(int frames) noexcept;
    void takePendingMidiMap() noexcept;
    void sendMidi() noexcept;

    EngineConfig config_;
    std::atomic<Plan*> pending_{nullptr};
    Plan* current_ = nullptr;  // audio thread only
    SpscQueue<Plan*> retired_;
    std::vector<Plan*> unfreed_;  // UI thread: retired, waiting for workers to leave

    AlignedFloats outBlock_;
    std::vector<float*> outPointers_;
    AlignedFloats inBlocks_;      // two blocks of inputChannels: one modules read, one filling
    std::vector<float*> inRead_;  // HostBuffers::in: the block filled during the previous one
    std::vector<float*> inFill_;  // the block the device input is copied into now
    HostBuffers host_;
    int blockPosition_;  // frames of the current block already handed to the device
    std::uint64_t frameCount_ = 0;

    std::atomic<std::uint64_t> blocks_{0};
    std::atomic<std::uint64_t> planSwaps_{0};
    std::atomic<std::uint64_t> nonFinite_{0};
    // Blocks left in which plans screen the outputs only guarded sinks read (audio thread).
    static constexpr int kHuntBlocks = 8;
    int huntBlocks_ = 0;
    std::atomic<std::uint64_t> guarded_{0};
    std::atomic<std::uint64_t> activeGeneration_{0};

    std::vector<std::unique_ptr<MidiInputQueue>> midiInputs_;
    std::vector<MidiEvent> midiBlock_;      // kMaxMidiEventsPerBlock
    std::vector<std::uint8_t> sysexBlock_;  // kMaxSysexBytesPerBlock
    MidiClock clock_;
    bool autoPublishClock_ = true;
    std::atomic<LinkSession*> link_{nullptr};
    std::atomic<bool> profiling_{false};
    std::atomic<std::uint64_t> midiDelivered_{0};
    std::atomic<std::uint64_t> midiLate_{0};
    std::atomic<std::uint64_t> midiOverflowed_{0};
    std::unique_ptr<MidiOutputQueue> midiOutput_;
    MidiOutputBlock midiOutBlock_;
    std::atomic<bool> midiOutputAttached_{false};
    std::atomic<std::uint64_t> midiSent_{0};
    std::atomic<std::uint64_t> midiSendDropped_{0};

    // MIDI-mapped params: the table slot works like the plan slot.
    int threads_ = 1;                      // config().threads resolved
    std::unique_ptr<Workers> workers_;     // UI thread: started by the first parallel plan, never before
    std::atomic<Workers*> live_{nullptr};  // workers_, for the audio thread and readers

    std::atomic<MidiMapTable*> pendingMap_{nullptr};
    MidiMapTable* currentMap_ = nullptr;  // audio thread only
    SpscQueue<MidiMapTable*> retiredMaps_;
    MidiMapper mapper_;
};

}  // namespace kabel
