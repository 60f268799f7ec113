// Live MIDI input for `kabel play`: a JACK MIDI client (sample-accurate) when the audio runs on
// JACK, RtMidi (ALSA sequencer) otherwise. The only place in Kabel that includes RtMidi headers.
//
// Design note. Engine MIDI port 0 is the virtual input every client can connect to; ports 1..n
// are the `--midi` ports, in order (EngineConfig::midiInputs = n + 1). Each engine port's queue
// has exactly one producer thread: the JACK process callback of our MIDI client (all ports), or
// the RtMidi callback of that port. Producers only push into the lock-free queues and bump
// relaxed atomic counters: no allocation (beyond what RtMidi does itself), lock, log or syscall.
//
// Stamping with JACK (zero jitter). JackClockBridge is installed as the PortAudio stream's
// render hook: before each engine.process() it publishes the pair (JACK frame time of the
// current cycle, engine.deviceFrame()). PortAudio's JACK host calls back once per JACK cycle with
// the whole period, so the engine frame of JACK frame J is `engineFrame + (J - jackFrame)`,
// exact and constant while the stream runs (re-published every cycle, so an xrun that skips
// cycles is followed within one cycle). Our MIDI client's process callback reads each event's
// JACK frame (jack_last_frame_time() + event.time), maps it and adds a constant latency of one
// JACK period (+ one engine block when the period is not a multiple of the block): the event
// then lands in a buffer the engine renders in a LATER cycle, whatever the order in which JACK
// runs our two clients within a cycle. Jitter: 0 frames.
//
// Stamping with RtMidi: engine.stampNow(device buffer + engine block): constant latency, jitter
// = the audio callback's wake-up jitter plus the MIDI driver's delivery jitter (docs/midi.md).
//
// MIDI output (JACK only): the port midi_out (alias kabel:midi_out) of the same client. Its
// process callback takes the engine's MIDI output queue (messages stamped with engine frames),
// maps each frame back to a JACK frame through the same pair and writes it at that frame, one
// JACK period later than the audio of that frame (constant latency: JACK may run PortAudio's
// client after ours within a cycle, so a message rendered in cycle T goes out in cycle T + 1).
// Jitter: 0 frames.
//
// Order (../shared/recipes, trap 1): construct MidiInput only AFTER the PortAudio stream has
// started and called back once. Stop the stream before destroying MidiInput or the bridge.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/io/audio_device.hpp"

namespace kabel {

class Engine;

/// A MIDI problem a user can act on (a port that does not exist, no MIDI system).
class MidiDeviceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Audio thread -> JACK MIDI thread: the JACK frame <-> engine frame pair (a seqlock).
class JackClockBridge {
public:
    /// The RenderHook for AudioOutputOptions (user = this bridge): publishes the pair when a
    /// JACK client is attached, then engine.process(). Audio thread.
    static void renderHook(void* user, Engine& engine, const DeviceBlock& block) noexcept;

    /// UI thread: start publishing (`jackClient` is a jack_client_t* of the same server).
    /// attach(nullptr) stops; stop the stream before the client closes.
    void attach(void* jackClient) noexcept { client_.store(jackClient, std::memory_order_release); }

    /// Any thread: the latest pair; false before the first publish.
    bool read(std::uint32_t& jackFrame, std::uint64_t& engineFrame) const noexcept;
    /// Any thread: frames of the latest callback (0 before the first one).
    int callbackFrames() const noexcept { return frames_.load(std::memory_order_relaxed); }

private:
    void publish(std::uint32_t jackFrame, std::uint64_t engineFrame) noexcept;

    std::atomic<void*> client_{nullptr};
    std::atomic<std::uint32_t> sequence_{0};
    std::atomic<std::uint32_t> jackFrame_{0};
    std::atomic<std::uint64_t> engineFrame_{0};
    std::atomic<int> frames_{0};
};

struct MidiInputStats {
    std::uint64_t received = 0;  // events pushed (or refused by a full queue) by our producers
    std::uint64_t unmapped = 0;  // JACK: events before the clock pair existed (stamped by stampNow)
    // JACK: the first event seen (diagnostics and the end-to-end latency measurement).
    bool haveFirst = false;
    std::uint32_t firstJackFrame = 0;  // jack_last_frame_time() + event.time
    std::uint64_t firstStamp = 0;      // the engine frame it was stamped with
    // Output (JACK).
    std::uint64_t sent = 0;      // messages written to midi_out
    std::uint64_t sentLate = 0;  // written at the start of a later cycle than their frame
    std::uint64_t sendLost = 0;  // not written: before the clock pair existed, or the port buffer was full
};

/// What MidiInput opened: one line each, for the user.
struct MidiPortDescription {
    int enginePort = 0;
    std::string name;  // "kabel-midi:midi_in (alias kabel:midi_in)", "Seq:out -> kabel-midi:in_1"
};

class MidiInput {
public:
    enum class Backend { Jack, RtMidiAlsa };

    /// UI thread, after the stream started. Opens the virtual port (engine port 0) and one input
    /// per entry of `ports` (engine ports 1..n; engine.midiInputCount() must be n + 1), connected
    /// to that source: a JACK port name, a number from listMidiSources(), or a part of a name.
    /// Jack: `bridge` must be the stream's render hook user. `deviceBufferFrames`: RtMidi's
    /// latency (device buffer + engine block). Throws MidiDeviceError.
    MidiInput(Engine& engine, Backend backend, const std::vector<std::string>& ports, JackClockBridge* bridge, int deviceBufferFrames);
    /// UI thread: closes the client/ports (stop the audio stream first).
    ~MidiInput();
    MidiInput(const MidiInput&) = delete;
    MidiInput& operator=(const MidiInput&) = delete;

    Backend backend() const noexcept { return backend_; }
    const std::vector<MidiPortDescription>& ports() const noexcept { return described_; }
    /// The MIDI output port ("kabel-midi:midi_out (alias kabel:midi_out)"); "" without one (RtMidi).
    const std::string& outputPort() const noexcept { return outputPort_; }
    /// Frames from a message's engine frame (as the audio plays it) to its JACK output frame.
    int outputLatencyFrames() const noexcept;
    /// The constant stamping latency in frames (MIDI frame -> engine frame).
    int latencyFrames() const noexcept;
    /// Any thread.
    MidiInputStats stats() const noexcept;

    struct Impl;

private:
    Backend backend_;
    std::string outputPort_;
    std::vector<MidiPortDescription> described_;
    std::unique_ptr<Impl> impl_;
};

/// UI thread: the MIDI sources `--midi` can name. Jack: the JACK MIDI output ports of the running
/// server; RtMidiAlsa: RtMidi's ALSA sequencer input ports. Throws MidiDeviceError when that MIDI
/// system is unavailable. Never call it while a PortAudio JACK stream is being opened.
std::vector<std::string> listMidiSources(MidiInput::Backend backend);

}  // namespace kabel
