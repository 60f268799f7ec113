// AudioHost: the editor's running patch — engine, session, audio device and MIDI input.
//
// Design note. The editor never needs a sound card to be useful: with no device (or while the
// device is lost) a "silent clock" thread runs the engine at real-time pace into a scratch
// buffer, so scopes, meters and MIDI learn keep working and edits behave exactly as they do on
// stage. With a device, LiveAudio plays it and reconnects after a loss (core/io/live_audio.hpp);
// JACK MIDI opens only after the stream has called back (recipes, trap 1). Everything here is
// UI-thread API; the audio side is Engine::process on whichever thread drives it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/io/live_audio.hpp"
#include "core/io/midi_input.hpp"

namespace kabel::editor {

struct AudioHostOptions {
    bool useDevice = true;        // false: the silent clock only
    std::string device;           // "" = default (JACK when a server runs)
    std::string hostApi;          // "", "jack", "alsa"
    int bufferFrames = 0;         // 0 = the device's
    int blockFrames = 64;         // engine block
    double silentRate = 48000.0;  // the silent clock's sample rate
    std::vector<std::string> midiInputs;
};

struct AudioHostStatus {
    bool device = false;  // a device is playing (else the silent clock runs)
    std::string label;    // "system (JACK) 48000 Hz, buffer 256" or "no audio device: silent"
    double cpuLoad = 0.0;
    std::uint64_t xruns = 0;
    std::uint64_t overruns = 0;  // callbacks Kabel rendered too slowly (see AudioOutputStats)
    double maxRenderMs = 0.0;
    int bufferFrames = 0;
    std::string midi;  // "midi: kabel:midi_in + 1 source" or why there is none
};

class AudioHost {
public:
    /// Opens the device (falling back to the silent clock, with the reason in status().label)
    /// and loads `patch` (relative paths resolve in `directory`).
    AudioHost(const AudioHostOptions& options, Patch patch, const std::filesystem::path& directory);
    /// Stops the stream or the silent clock before anything it uses goes.
    ~AudioHost();
    AudioHost(const AudioHost&) = delete;
    AudioHost& operator=(const AudioHost&) = delete;

    Engine& engine() noexcept { return *engine_; }
    Session& session() noexcept { return *session_; }
    const AudioHostOptions& options() const noexcept { return options_; }
    double sampleRate() const noexcept { return engine_->config().sampleRate; }

    /// UI thread, every frame: the session's poll (frees plans, finishes fades) and the device's
    /// (loss, recovery: MIDI reopens when the device is back).
    void poll();
    AudioHostStatus status() const;
    /// Messages for the log window since the last call ("audio lost: ...", "MIDI input: ...").
    std::vector<std::string> takeMessages();

private:
    void startSilentClock();
    void stopSilentClock();
    void openMidi();

    AudioHostOptions options_;
    JackClockBridge bridge_;
    std::unique_ptr<LiveAudio> live_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Session> session_;
    std::unique_ptr<MidiInput> midi_;
    std::thread silent_;
    std::atomic<bool> silentRunning_{false};
    std::string fallbackReason_;
    std::string midiNote_;
    std::vector<std::string> messages_;
};

}  // namespace kabel::editor
