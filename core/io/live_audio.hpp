// LiveAudio: the audio device of a live session, kept connected. Owns PortAudio (AudioSystem)
// and the stream (AudioOutput) playing one Engine; when the device goes away it says so, keeps
// the engine (and so every module's state) untouched, and reconnects when the device returns.
//
// Design note. Loss is seen two ways: the JACK server quit (the shutdown handler PortAudio
// registered fired: jack_server_loss.hpp), or no callback arrived for `stallSeconds` (any
// device). Then the dead stream is closed and PortAudio terminated (JACK), or the stream is
// abandoned (other host APIs: PortAudio cannot be terminated after that, so reconnection
// reuses the same PortAudio instance and its device list). Every `retrySeconds` poll() builds
// PortAudio again, looks for the same device (the same --device text) and reopens it at the
// engine's sample rate; a device that comes back at another rate is reported and waited for.
// The engine frame count simply continues: the engine is frozen while no device calls it.
//
// Threads: everything here is UI thread. poll() never blocks for long: closing a dead JACK
// stream takes milliseconds, a reconnect attempt one PortAudio initialisation (~10-60 ms).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/io/audio_device.hpp"

namespace kabel {

class Engine;
struct Patch;

/// Device inputs the patch's `in` modules read: 0 without one, else up to the highest First
/// Channel + 1 (each reads a pair). What `kabel play` and the editor ask the device for.
int audioInputsUsedBy(const Patch& patch);

struct LiveAudioOptions {
    AudioRequest request;       // device, host API, rate, channels, inputs
    AudioOutputOptions stream;  // buffer size, render hook (inputChannels is set from the request)
    const char* jackClientName = "kabel";
    double stallSeconds = 2.0;  // no callback for this long while running: the device is lost
    double retrySeconds = 0.5;  // between reconnection attempts
};

/// What poll() saw happen since the previous call.
enum class LiveAudioEvent {
    None,
    Lost,      // the device went away (message() says how); the engine is frozen
    Restored,  // the device is back and calling: streams that depend on it (MIDI) may reopen
};

class LiveAudio {
public:
    /// UI thread: brings PortAudio up and picks the device. Throws AudioDeviceError (NoDevice,
    /// NoMatch, Backend) when there is nothing to play on: fail fast, before building an engine.
    explicit LiveAudio(LiveAudioOptions options);
    /// UI thread: stop().
    ~LiveAudio();
    LiveAudio(const LiveAudio&) = delete;
    LiveAudio& operator=(const LiveAudio&) = delete;

    /// The device chosen at construction: build the Engine at its rate and channel count.
    const AudioDeviceChoice& device() const noexcept { return device_; }
    /// Device inputs the stream opens (the request clamped to the device): the Engine's inputs.
    int inputChannels() const noexcept { return options_.stream.inputChannels; }

    /// UI thread: opens and starts the stream on `engine` (which must outlive this object or
    /// outlive the call to stop()). Throws AudioDeviceError(Backend).
    void start(Engine& engine);
    /// UI thread: stops the stream (the engine is no longer called when it returns). Idempotent.
    void stop();

    /// UI thread, every few tens of milliseconds: watches the stream and reconnects.
    LiveAudioEvent poll();

    /// True while a stream is open and running (false after a loss until it is restored).
    bool connected() const noexcept { return output_ != nullptr; }
    /// Times the device was lost, and restored.
    int losses() const noexcept { return losses_; }
    int restores() const noexcept { return restores_; }
    /// The latest Lost/Restored description ("the JACK server quit", "back on system (JACK)").
    const std::string& message() const noexcept { return message_; }
    /// While disconnected: why the latest reconnection attempt failed ("" before the first).
    const std::string& waitingFor() const noexcept { return waitingNote_; }

    /// Counters summed over every connection; bufferFrames and cpuLoad are the current stream's.
    AudioOutputStats stats() const noexcept;
    /// The current stream, or nullptr while disconnected.
    AudioOutput* output() noexcept { return output_.get(); }
    /// True when a stream had to be abandoned (PortAudio stays up until the process exits).
    bool abandoned() const noexcept { return abandonedStream_; }

private:
    using Clock = std::chrono::steady_clock;

    void openStream();
    void lose(const std::string& why);
    bool tryReconnect();

    LiveAudioOptions options_;
    std::unique_ptr<AudioSystem> system_;
    AudioDeviceChoice device_;
    Engine* engine_ = nullptr;
    std::unique_ptr<AudioOutput> output_;
    AudioOutputStats past_;  // counters of closed connections
    std::uint64_t lastCallbacks_ = 0;
    Clock::time_point lastProgress_{};
    Clock::time_point nextRetry_{};
    bool waitingForFirstCallback_ = false;
    bool abandonedStream_ = false;
    int losses_ = 0;
    int restores_ = 0;
    std::string message_;
    std::string waitingNote_;  // why the last reconnection attempt failed (printed once per change)
};

}  // namespace kabel
