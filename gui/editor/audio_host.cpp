#include "gui/editor/audio_host.hpp"

#include <chrono>
#include <cstdio>

#include "core/module/registry.hpp"

namespace kabel::editor {

AudioHost::AudioHost(const AudioHostOptions& options, Patch patch, const std::filesystem::path& directory) : options_(options) {
    EngineConfig config{.sampleRate = options.silentRate, .blockFrames = options.blockFrames, .outputChannels = 2};
    config.midiInputs = static_cast<int>(options.midiInputs.size()) + 1;
    config.workerPriority = kLiveWorkerPriority;
    if (options.useDevice) {
        try {
            LiveAudioOptions liveOptions;
            liveOptions.request = AudioRequest{options.device, options.hostApi, 0.0, 2, audioInputsUsedBy(patch)};
            liveOptions.stream.bufferFrames = options.bufferFrames;
            liveOptions.stream.renderHook = &JackClockBridge::renderHook;
            liveOptions.stream.renderUser = &bridge_;
            live_ = std::make_unique<LiveAudio>(liveOptions);
            config.sampleRate = live_->device().sampleRate;
            config.outputChannels = live_->device().channels;
            config.inputChannels = live_->inputChannels();
        } catch (const AudioDeviceError& e) {
            fallbackReason_ = e.what();
            live_.reset();
        }
    } else {
        fallbackReason_ = "audio off";
    }
    engine_ = std::make_unique<Engine>(config);
    session_ = std::make_unique<Session>(*engine_, Registry::global());
    session_->load(std::move(patch), directory);
    session_->finishLoading();
    if (live_) {
        try {
            live_->start(*engine_);
            for (int i = 0; i < 500 && live_->stats().callbacks == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
            openMidi();
        } catch (const AudioDeviceError& e) {
            fallbackReason_ = e.what();
            live_.reset();
        }
    }
    if (!live_) startSilentClock();
}

AudioHost::~AudioHost() {
    if (live_) live_->stop();
    stopSilentClock();
    midi_.reset();
}

void AudioHost::openMidi() {
    const bool jack = live_ && live_->device().isJack();
    if (!jack && options_.midiInputs.empty()) {
        midiNote_ = "MIDI: none (no JACK server; choose ALSA sources in Audio/MIDI settings)";
        return;
    }
    try {
        midi_ = std::make_unique<MidiInput>(*engine_, jack ? MidiInput::Backend::Jack : MidiInput::Backend::RtMidiAlsa, options_.midiInputs,
                                            jack ? &bridge_ : nullptr, live_ ? live_->stats().bufferFrames : 0);
        midiNote_ = "MIDI: " + std::to_string(midi_->ports().size()) + " input" + (midi_->ports().size() == 1 ? "" : "s");
    } catch (const MidiDeviceError& e) {
        midiNote_ = std::string("MIDI: ") + e.what();
        messages_.push_back(midiNote_);
    }
}

void AudioHost::startSilentClock() {
    silentRunning_.store(true);
    silent_ = std::thread([this] {
        const int frames = engine_->config().blockFrames;
        const int channels = engine_->config().outputChannels;
        std::vector<float> scratch(static_cast<std::size_t>(frames) * static_cast<std::size_t>(channels));
        std::vector<float*> out(static_cast<std::size_t>(channels));
        for (int c = 0; c < channels; ++c) out[static_cast<std::size_t>(c)] = scratch.data() + static_cast<std::ptrdiff_t>(c) * frames;
        const auto period = std::chrono::duration<double>(frames / engine_->config().sampleRate);
        auto next = std::chrono::steady_clock::now();
        while (silentRunning_.load(std::memory_order_relaxed)) {
            engine_->process(nullptr, 0, out.data(), channels, frames);
            next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
            const auto now = std::chrono::steady_clock::now();
            if (next < now - std::chrono::milliseconds(100)) next = now;  // fell far behind (suspended): do not race
            std::this_thread::sleep_until(next);
        }
    });
}

void AudioHost::stopSilentClock() {
    silentRunning_.store(false);
    if (silent_.joinable()) silent_.join();
}

void AudioHost::poll() {
    session_->poll();
    if (!live_) return;
    switch (live_->poll()) {
        case LiveAudioEvent::Lost:
            midi_.reset();
            messages_.push_back("audio lost: " + live_->message() + "; the patch keeps its state and resumes when the device returns");
            break;
        case LiveAudioEvent::Restored:
            messages_.push_back(live_->message());
            if (!midi_) openMidi();
            break;
        case LiveAudioEvent::None:
            break;
    }
}

AudioHostStatus AudioHost::status() const {
    AudioHostStatus s;
    s.midi = midiNote_;
    if (!live_) {
        s.label =
            "no audio device (" + fallbackReason_ + "): silent, " + std::to_string(static_cast<int>(engine_->config().sampleRate)) + " Hz";
        return s;
    }
    const AudioOutputStats stats = live_->stats();
    s.device = live_->connected();
    s.cpuLoad = stats.cpuLoad;
    s.xruns = stats.xruns;
    s.overruns = stats.overruns;
    s.maxRenderMs = stats.maxRenderMs;
    s.bufferFrames = stats.bufferFrames;
    char text[256];
    if (s.device)
        std::snprintf(text, sizeof text, "%s, %.0f Hz, buffer %d", live_->device().label().c_str(), live_->device().sampleRate,
                      stats.bufferFrames);
    else
        std::snprintf(text, sizeof text, "audio lost: %s (waiting for the device)", live_->message().c_str());
    s.label = text;
    return s;
}

std::vector<std::string> AudioHost::takeMessages() {
    std::vector<std::string> out;
    out.swap(messages_);
    return out;
}

}  // namespace kabel::editor
