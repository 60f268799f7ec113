// Live audio output through PortAudio (JACK, ALSA, OSS). The only place in Kabel that includes
// PortAudio, JACK or ALSA headers (they stay inside audio_device.cpp).
//
// Design note. Two types, so that the order in which things must die is the order C++ destroys
// them in:
//
//     AudioSystem audio;                                   // PortAudio up, devices enumerated
//     AudioDeviceChoice device = audio.chooseOutput("");   // the device and ITS sample rate
//     Engine engine({device.sampleRate, 64, device.channels});
//     Session session(engine);  session.load(patch);
//     AudioOutput output(audio, engine, device);           // the stream, bound to the engine
//     output.start();  ...  output.stop();
//     // scope end: output (stream closed) -> session -> engine -> audio (PortAudio down)
//
// The stream callback runs on the device's real-time thread and does exactly one thing: hands
// the device buffer to Engine::process() (which adapts any buffer size to the engine block), or
// to a render hook a test installs. Besides that it only updates a few lock-free atomics
// (callbacks, frames, xruns): no allocation, lock, log or system call.
//
// Quiet by default: without a sound card ALSA prints ~60 "cannot find card" lines and libjack
// "Cannot connect to server socket" when no JACK server runs. AudioSystem installs silent
// handlers for both before PortAudio starts; set KABEL_AUDIO_DEBUG=1 to see those messages.
//
// A JACK server that quits under a running stream would make PortAudio hang in Pa_StopStream
// and abort the process in Pa_CloseStream (assertions in pa_jack.c). jack_server_loss.hpp
// defuses that, so AudioOutput::stop() closes such a stream at once (serverLost()). Any other
// stream that stopped calling back (a device unplugged) is detached from the engine and
// abandoned: leaked until the process exits, and PortAudio is never terminated.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kabel {

class Engine;

/// The message of AudioDeviceError::Kind::NoDevice.
inline constexpr const char* kNoAudioOutputMessage = "no audio output device (no sound card, and no JACK server running)";

/// A device problem a user can act on. what() names the problem (and the device).
class AudioDeviceError : public std::runtime_error {
public:
    enum class Kind {
        NoDevice,  // nothing to play on at all
        NoMatch,   // --device matched no output device
        Backend,   // PortAudio refused: initialise, open or start failed
    };
    AudioDeviceError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    Kind kind() const noexcept { return kind_; }

private:
    Kind kind_;
};

struct AudioDeviceInfo {
    int index = -1;  // PortAudio device index (valid while the AudioSystem that listed it lives)
    std::string name;
    std::string hostApi;  // "JACK Audio Connection Kit", "ALSA", "OSS"
    int maxInputChannels = 0;
    int maxOutputChannels = 0;
    double defaultSampleRate = 0.0;
    bool defaultOutput = false;  // the device `kabel play` uses when no --device is given
};

/// The output device to open, and what the engine must be built for.
struct AudioDeviceChoice {
    int index = -1;
    std::string name;
    std::string hostApi;
    double sampleRate = 0.0;    // the device's rate (for JACK: the server's); build the Engine at it
    int channels = 0;           // output channels to open: 2 (1 on a mono device) unless set
    int maxOutputChannels = 0;  // what the device offers
    int maxInputChannels = 0;
    double defaultLatency = 0.0;  // seconds (the device's low output latency)

    /// On a JACK server (PortAudio's JACK host API).
    bool isJack() const noexcept { return hostApi.starts_with("JACK"); }
    /// "system (JACK)", "default (ALSA)"
    std::string label() const { return name + " (" + (isJack() ? std::string("JACK") : hostApi) + ")"; }
};

/// What the user asked for (kabel play --audio/--host/--rate/--channels/--inputs). Empty/0: the default.
struct AudioRequest {
    std::string device;       // a part of the device name, or its index (`kabel devices`)
    std::string hostApi;      // a part of the host API's name: "jack", "alsa", "oss"
    double sampleRate = 0.0;  // 0: the device's own (JACK: the server's)
    int outputChannels = 0;   // 0: 2 (1 on a mono device); more for multi-channel devices
    int inputChannels = 0;    // device inputs wanted (clamped to what the device has)
};

/// Once per process: routes libasound's and libjack's own console messages ("Cannot connect to
/// server socket", unknown PCM cards) to nowhere, unless KABEL_AUDIO_DEBUG is set (not "0").
void silenceBackendMessages();

/// Brings PortAudio up for its lifetime (reference-counted by PortAudio: several may coexist).
/// UI thread only, like everything PortAudio does outside the stream callback.
class AudioSystem {
public:
    /// Installs the quiet ALSA/JACK message handlers (once per process), names the JACK client
    /// `jackClientName` (so ports read "kabel:out_0") and initialises PortAudio, which connects
    /// to a running JACK server now — start the server first. `jackClientName` must outlive
    /// every AudioSystem (PortAudio keeps the pointer): pass a string literal.
    /// Throws AudioDeviceError(Backend) if PortAudio cannot start. Never creates an RtMidi client.
    explicit AudioSystem(const char* jackClientName = "kabel");
    /// Terminates PortAudio, unless a stream had to be abandoned (see AudioOutput::stop).
    ~AudioSystem();
    AudioSystem(const AudioSystem&) = delete;
    AudioSystem& operator=(const AudioSystem&) = delete;

    /// Every device PortAudio sees, in PortAudio's order.
    std::vector<AudioDeviceInfo> devices() const;

    /// The output device to play on. `device` empty: the JACK host API's default output when a
    /// JACK server runs, else PortAudio's default output. `device` all digits: that device index.
    /// Otherwise the first output device whose name contains `device` (case-insensitive), JACK
    /// devices first. Throws AudioDeviceError: NoDevice (message kNoAudioOutputMessage) when
    /// there is no output device at all, NoMatch naming the devices there are.
    AudioDeviceChoice chooseOutput(std::string_view device = {}) const { return chooseOutput(AudioRequest{std::string(device)}); }
    /// The same, among the devices of host APIs whose name contains request.hostApi, at
    /// request.sampleRate when given (NoMatch when the device cannot run at it), with
    /// min(request.outputChannels, what the device has) output channels when given.
    AudioDeviceChoice chooseOutput(const AudioRequest& request) const;

private:
    friend class AudioOutput;
    bool streamAbandoned_ = false;
};

/// UI thread, with the system's default handlers: the devices PortAudio sees right now
/// (initialises PortAudio for the call). Quiet: no ALSA/JACK noise on stderr.
std::vector<AudioDeviceInfo> listAudioDevices();

/// One device callback's buffers (non-interleaved float channels).
struct DeviceBlock {
    const float* const* in = nullptr;  // nullptr when the stream has no inputs
    int inChannels = 0;
    float* const* out = nullptr;
    int outChannels = 0;
    int frames = 0;
};

/// Audio thread: the engine renders one device callback (what the stream does without a hook).
void renderDeviceBlock(Engine& engine, const DeviceBlock& block) noexcept;

/// Audio thread: called by the stream callback instead of renderDeviceBlock(engine, block), e.g.
/// by a test that counts allocations around it. Must fill all outChannels x frames.
/// A plain function pointer (no std::function: nothing to allocate or copy on the audio thread).
using RenderHook = void (*)(void* user, Engine& engine, const DeviceBlock& block) noexcept;

struct AudioOutputOptions {
    int bufferFrames = 0;             // frames per callback; 0: the device's own (for JACK: the server period)
    int inputChannels = 0;            // device inputs to open with the outputs (duplex), 0: output only
    RenderHook renderHook = nullptr;  // nullptr: engine.process()
    void* renderUser = nullptr;
};

struct AudioOutputStats {
    std::uint64_t callbacks = 0;
    std::uint64_t frames = 0;
    std::uint64_t xruns = 0;     // callbacks flagged with output underflow (JACK reports every xrun)
    int bufferFrames = 0;        // frames in the latest callback (0 before the first one)
    double cpuLoad = 0.0;        // PortAudio's estimate: the callback's share of real time, 0..1
    double maxRenderMs = 0.0;    // the longest time one callback spent rendering
    std::uint64_t overruns = 0;  // callbacks whose rendering took longer than their buffer lasts (xruns Kabel caused)
};

/// One open output stream playing an Engine. Construct it after the Engine it plays (and after
/// the Session feeding that engine), so it is destroyed — stopped and closed — before them.
class AudioOutput {
public:
    /// UI thread: opens (does not start) the stream on `device` (from system.chooseOutput) at
    /// device.sampleRate with device.channels non-interleaved float channels. The engine must
    /// have been built at that rate; its output channels map to device channels 1:1 (missing
    /// ones get silence). Throws AudioDeviceError(Backend) naming the device and PortAudio's
    /// reason. `system` and `engine` must outlive this object.
    AudioOutput(AudioSystem& system, Engine& engine, const AudioDeviceChoice& device, const AudioOutputOptions& options = {});
    /// UI thread: close().
    ~AudioOutput();
    AudioOutput(const AudioOutput&) = delete;
    AudioOutput& operator=(const AudioOutput&) = delete;

    /// UI thread: starts the callbacks. Throws AudioDeviceError(Backend).
    void start();
    /// UI thread: stops the callbacks; when it returns, the callback will not touch the engine
    /// again, so the engine may be destroyed. If callbacks had stopped arriving (the JACK server
    /// quit), the stream is abandoned instead of stopped (see the design note): abandoned()
    /// turns true. Idempotent.
    void stop();
    /// UI thread: stop(), then closes the stream (its JACK ports go away). Idempotent; start()
    /// after close() throws.
    void close();
    /// UI thread: true between start() and stop().
    bool running() const noexcept { return running_; }
    /// UI thread: true after stop() had to abandon a dead stream.
    bool abandoned() const noexcept { return abandoned_; }
    /// Any thread: the JACK server this stream played on has quit. stop() then closes the dead
    /// stream at once (jack_server_loss.hpp), and the AudioSystem can be terminated and built
    /// again to reconnect.
    bool serverLost() const noexcept;

    /// UI thread: the counters (atomics written by the callback) and PortAudio's CPU load.
    AudioOutputStats stats() const noexcept;

    const AudioDeviceChoice& device() const noexcept { return device_; }

    /// State shared with the stream callback (defined in audio_device.cpp).
    struct Shared;

private:
    bool waitForCallback(double seconds) const noexcept;
    void detach() noexcept;
    void abandon() noexcept;

    AudioSystem& system_;
    AudioDeviceChoice device_;
    std::unique_ptr<Shared> shared_;
    void* stream_ = nullptr;  // PaStream*
    bool running_ = false;
    bool abandoned_ = false;
};

}  // namespace kabel
