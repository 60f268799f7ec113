#include "core/io/live_audio.hpp"

#include <algorithm>
#include <cmath>

#include "core/engine/engine.hpp"
#include "core/patch/patch.hpp"

namespace kabel {

int audioInputsUsedBy(const Patch& patch) {
    int inputs = 0;
    for (const ModuleSpec& m : patch.modules) {
        if (m.type != "in") continue;
        const auto first = m.params.find("first");
        const int firstChannel = first == m.params.end() ? 1 : std::clamp(static_cast<int>(std::lround(first->second)), 1, 63);
        inputs = std::max(inputs, firstChannel + 1);
    }
    return inputs;
}
namespace {

double secondsBetween(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

std::string hertz(double rate) {
    return std::to_string(static_cast<long>(std::lround(rate))) + " Hz";
}

}  // namespace

LiveAudio::LiveAudio(LiveAudioOptions options)
    : options_(std::move(options)), system_(std::make_unique<AudioSystem>(options_.jackClientName)) {
    device_ = system_->chooseOutput(options_.request);
    options_.stream.inputChannels = std::min(options_.request.inputChannels, device_.maxInputChannels);
}

LiveAudio::~LiveAudio() {
    stop();
}

void LiveAudio::start(Engine& engine) {
    engine_ = &engine;
    openStream();
}

void LiveAudio::openStream() {
    output_ = std::make_unique<AudioOutput>(*system_, *engine_, device_, options_.stream);
    output_->start();
    lastCallbacks_ = 0;
    lastProgress_ = Clock::now();
}

void LiveAudio::stop() {
    if (!output_) return;
    output_->stop();
    if (output_->abandoned()) abandonedStream_ = true;
}

AudioOutputStats LiveAudio::stats() const noexcept {
    AudioOutputStats s = past_;
    if (output_) {
        const AudioOutputStats now = output_->stats();
        s.callbacks += now.callbacks;
        s.frames += now.frames;
        s.xruns += now.xruns;
        s.overruns += now.overruns;
        s.maxRenderMs = std::max(s.maxRenderMs, now.maxRenderMs);
        s.bufferFrames = now.bufferFrames;
        s.cpuLoad = now.cpuLoad;
    } else {
        s.bufferFrames = 0;
        s.cpuLoad = 0.0;
    }
    return s;
}

void LiveAudio::lose(const std::string& why) {
    const AudioOutputStats s = output_->stats();
    past_.callbacks += s.callbacks;
    past_.frames += s.frames;
    past_.xruns += s.xruns;
    past_.overruns += s.overruns;
    past_.maxRenderMs = std::max(past_.maxRenderMs, s.maxRenderMs);
    output_->stop();  // a dead JACK stream closes at once; any other stalled stream is abandoned
    if (output_->abandoned()) abandonedStream_ = true;
    output_.reset();
    // A fresh PortAudio sees the server (or device) when it returns; after an abandoned stream
    // PortAudio must stay up (terminating it would close that stream and abort).
    if (!abandonedStream_) system_.reset();
    message_ = why;
    waitingNote_.clear();
    nextRetry_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.retrySeconds));
}

bool LiveAudio::tryReconnect() {
    try {
        if (!system_) system_ = std::make_unique<AudioSystem>(options_.jackClientName);
        const AudioDeviceChoice choice = system_->chooseOutput(options_.request);
        const double rate = engine_->config().sampleRate;
        if (std::fabs(choice.sampleRate - rate) > 0.5) {
            waitingNote_ = choice.label() + " is back at " + hertz(choice.sampleRate) + ", but the patch runs at " + hertz(rate) +
                           ": waiting for " + hertz(rate);
            if (!abandonedStream_) system_.reset();
            return false;
        }
        device_ = choice;
        openStream();
        return true;
    } catch (const AudioDeviceError& e) {
        waitingNote_ = e.what();
        output_.reset();
        if (!abandonedStream_) system_.reset();
        return false;
    }
}

LiveAudioEvent LiveAudio::poll() {
    if (!engine_) return LiveAudioEvent::None;
    const Clock::time_point now = Clock::now();
    if (!output_) {
        if (now < nextRetry_) return LiveAudioEvent::None;
        nextRetry_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.retrySeconds));
        waitingForFirstCallback_ = tryReconnect();
        return LiveAudioEvent::None;
    }

    const std::uint64_t callbacks = output_->stats().callbacks;
    if (callbacks != lastCallbacks_) {
        lastCallbacks_ = callbacks;
        lastProgress_ = now;
        if (waitingForFirstCallback_) {
            waitingForFirstCallback_ = false;
            ++restores_;
            message_ = "audio is back on " + device_.label() + " (" + hertz(device_.sampleRate) + ")";
            return LiveAudioEvent::Restored;
        }
    }
    if (output_->serverLost()) {
        const bool wasRestoring = waitingForFirstCallback_;
        lose("the JACK server quit");
        if (wasRestoring) return LiveAudioEvent::None;  // it went away again before playing
        ++losses_;
        return LiveAudioEvent::Lost;
    }
    if (secondsBetween(lastProgress_, now) > options_.stallSeconds) {
        if (waitingForFirstCallback_) {  // a reconnection that never played: try again later
            lose(message_);
            return LiveAudioEvent::None;
        }
        lose("the audio device stopped calling back for " + std::to_string(static_cast<int>(options_.stallSeconds)) + " s");
        ++losses_;
        return LiveAudioEvent::Lost;
    }
    return LiveAudioEvent::None;
}

}  // namespace kabel
