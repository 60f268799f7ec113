#include "core/io/audio_device.hpp"

#include <alsa/asoundlib.h>
#include <jack/jack.h>
#include <pa_jack.h>
#include <portaudio.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/engine/engine.hpp"
#include "core/io/jack_server_loss.hpp"
#include "core/util/text.hpp"

namespace kabel {

struct AudioOutput::Shared {
    Engine* engine = nullptr;
    RenderHook renderHook = nullptr;
    void* renderUser = nullptr;
    int channels = 0;
    int inChannels = 0;
    double nanosPerFrame = 0.0;  // 1e9 / sample rate

    std::atomic<std::uint64_t> callbacks{0};
    std::atomic<std::uint64_t> maxRenderNanos{0};  // written by the callback only
    std::atomic<std::uint64_t> overruns{0};
    std::atomic<std::uint64_t> frames{0};
    std::atomic<std::uint64_t> xruns{0};
    std::atomic<int> bufferFrames{0};
    // Handshake for abandon(): the callback raises inCallback and then reads detached; abandon()
    // raises detached and then reads inCallback. Both sequentially consistent, so either the
    // callback sees `detached` or abandon() sees it inside and waits.
    std::atomic<bool> inCallback{false};
    std::atomic<bool> detached{false};
};

namespace {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free &&
                  std::atomic<bool>::is_always_lock_free,
              "the stream callback relies on lock-free atomics");

// The silent handlers. ALSA's handler type is a C variadic function (a lambda cannot be one).
void quietAlsa(const char*, int, const char*, int, const char*, ...) {}
void quietJack(const char*) {}

std::string paErrorText(PaError err) {
    std::string text = Pa_GetErrorText(err);
    if (err == paUnanticipatedHostError) {
        const PaHostErrorInfo* host = Pa_GetLastHostErrorInfo();
        if (host && host->errorText && *host->errorText) text += std::string(": ") + host->errorText;
    }
    return text;
}

PaDeviceIndex jackDefaultOutput() {
    const PaHostApiIndex jack = Pa_HostApiTypeIdToHostApiIndex(paJACK);
    if (jack < 0) return paNoDevice;
    const PaHostApiInfo* info = Pa_GetHostApiInfo(jack);
    return info ? info->defaultOutputDevice : paNoDevice;
}

PaDeviceIndex defaultOutput() {
    // A running JACK server owns the sound card, so its device comes first.
    PaDeviceIndex dev = jackDefaultOutput();
    if (dev == paNoDevice) dev = Pa_GetDefaultOutputDevice();
    return dev;
}

bool isJack(PaDeviceIndex dev) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(dev);
    const PaHostApiInfo* api = info ? Pa_GetHostApiInfo(info->hostApi) : nullptr;
    return api && api->type == paJACK;
}

// Every device with outputs: JACK devices first, then in PortAudio's order.
std::vector<PaDeviceIndex> outputDevices() {
    std::vector<PaDeviceIndex> outputs;
    const PaDeviceIndex count = Pa_GetDeviceCount();
    for (int pass = 0; pass < 2; ++pass)
        for (PaDeviceIndex i = 0; i < count; ++i) {
            const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
            if (info && info->maxOutputChannels > 0 && isJack(i) == (pass == 0)) outputs.push_back(i);
        }
    return outputs;
}

// The device `kabel play` uses without --device: the default output (JACK's first), else the
// first device with outputs; paNoDevice when there is none.
PaDeviceIndex playDefault(const std::vector<PaDeviceIndex>& outputs) {
    const PaDeviceIndex dev = defaultOutput();
    if (std::find(outputs.begin(), outputs.end(), dev) != outputs.end()) return dev;
    return outputs.empty() ? paNoDevice : outputs.front();
}

// True when `dev` can play `channels` float outputs at `rate`.
bool runsAt(PaDeviceIndex dev, int channels, double rate) {
    const PaStreamParameters out{dev, channels, paFloat32 | paNonInterleaved, Pa_GetDeviceInfo(dev)->defaultLowOutputLatency, nullptr};
    return Pa_IsFormatSupported(nullptr, &out, rate) == paFormatIsSupported;
}

// The device's default rate when it takes it, else the first common rate it does.
double supportedRate(PaDeviceIndex dev, int channels) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(dev);
    for (double rate : {info->defaultSampleRate, 48000.0, 44100.0, 96000.0, 88200.0})
        if (rate > 0.0 && runsAt(dev, channels, rate)) return rate;
    return info->defaultSampleRate;  // let Pa_OpenStream say why
}

// The stream callback (audio thread): render, count, nothing else.
int streamCallback(const void* input, void* output, unsigned long frameCount, const PaStreamCallbackTimeInfo* /*time*/,
                   PaStreamCallbackFlags flags, void* user) noexcept {
    auto& s = *static_cast<AudioOutput::Shared*>(user);
    float* const* out = static_cast<float* const*>(output);
    const int frames = static_cast<int>(frameCount);
    s.inCallback.store(true);
    if (s.detached.load()) {
        for (int c = 0; c < s.channels; ++c) std::memset(out[c], 0, static_cast<std::size_t>(frames) * sizeof(float));
        s.inCallback.store(false);
        return paContinue;
    }
    const DeviceBlock block{static_cast<const float* const*>(input), input ? s.inChannels : 0, out, s.channels, frames};
    const auto start = std::chrono::steady_clock::now();  // a vDSO read, no system call
    if (s.renderHook)
        s.renderHook(s.renderUser, *s.engine, block);
    else
        renderDeviceBlock(*s.engine, block);
    // How long rendering took, against how long the buffer lasts: an xrun Kabel itself caused
    // (rather than the system, or another client of the server) is a render longer than that.
    const auto nanos =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    if (nanos > s.maxRenderNanos.load(std::memory_order_relaxed)) s.maxRenderNanos.store(nanos, std::memory_order_relaxed);
    if (static_cast<double>(nanos) > s.nanosPerFrame * frames) s.overruns.fetch_add(1, std::memory_order_relaxed);
    if (flags & paOutputUnderflow) s.xruns.fetch_add(1, std::memory_order_relaxed);
    s.frames.fetch_add(static_cast<std::uint64_t>(frames), std::memory_order_relaxed);
    s.bufferFrames.store(frames, std::memory_order_relaxed);
    s.callbacks.fetch_add(1, std::memory_order_release);
    s.inCallback.store(false, std::memory_order_release);
    return paContinue;
}

}  // namespace

void renderDeviceBlock(Engine& engine, const DeviceBlock& block) noexcept {
    engine.process(block.in, block.inChannels, block.out, block.outChannels, block.frames);
}

void silenceBackendMessages() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char* debug = std::getenv("KABEL_AUDIO_DEBUG");
        if (debug && *debug && std::strcmp(debug, "0") != 0) return;
        snd_lib_error_set_handler(&quietAlsa);
        jack_set_error_function(&quietJack);
        jack_set_info_function(&quietJack);
    });
}

// ---------------------------------------------------------------------------------------------
// AudioSystem

AudioSystem::AudioSystem(const char* jackClientName) {
    silenceBackendMessages();
    PaJack_SetClientName(jackClientName);  // before Pa_Initialize: it opens the JACK client
    const PaError err = Pa_Initialize();
    if (err != paNoError) throw AudioDeviceError(AudioDeviceError::Kind::Backend, "cannot initialise PortAudio: " + paErrorText(err));
}

AudioSystem::~AudioSystem() {
    // Pa_Terminate would close an abandoned stream, and that aborts (see the header).
    if (!streamAbandoned_) Pa_Terminate();
}

std::vector<AudioDeviceInfo> AudioSystem::devices() const {
    std::vector<AudioDeviceInfo> list;
    const PaDeviceIndex count = Pa_GetDeviceCount();
    const PaDeviceIndex chosen = playDefault(outputDevices());
    for (PaDeviceIndex i = 0; i < count; ++i) {
        const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
        if (!info) continue;
        const PaHostApiInfo* api = Pa_GetHostApiInfo(info->hostApi);
        list.push_back(AudioDeviceInfo{i, info->name ? info->name : "?", api && api->name ? api->name : "?", info->maxInputChannels,
                                       info->maxOutputChannels, info->defaultSampleRate, i == chosen});
    }
    return list;
}

AudioDeviceChoice AudioSystem::chooseOutput(const AudioRequest& request) const {
    std::vector<PaDeviceIndex> outputs = outputDevices();
    if (outputs.empty()) throw AudioDeviceError(AudioDeviceError::Kind::NoDevice, kNoAudioOutputMessage);
    if (!request.hostApi.empty()) {
        const std::string wanted = asciiLower(request.hostApi);
        std::string apis;
        for (PaHostApiIndex a = 0; a < Pa_GetHostApiCount(); ++a)
            apis += std::string(apis.empty() ? "" : ", ") + Pa_GetHostApiInfo(a)->name;
        std::erase_if(outputs, [&](PaDeviceIndex i) {
            return asciiLower(Pa_GetHostApiInfo(Pa_GetDeviceInfo(i)->hostApi)->name).find(wanted) == std::string::npos;
        });
        if (outputs.empty())
            throw AudioDeviceError(AudioDeviceError::Kind::NoMatch,
                                   "no audio output device on a host API matching '" + request.hostApi + "' (host APIs: " + apis + ")");
    }
    const std::string_view device = request.device;

    PaDeviceIndex dev = paNoDevice;
    if (device.empty()) {
        dev = playDefault(outputs);
    } else if (allDigits(device)) {
        const long index = std::strtol(std::string(device).c_str(), nullptr, 10);
        if (std::find(outputs.begin(), outputs.end(), index) != outputs.end()) dev = static_cast<PaDeviceIndex>(index);
    } else {
        const std::string wanted = asciiLower(device);
        for (PaDeviceIndex i : outputs)
            if (asciiLower(Pa_GetDeviceInfo(i)->name).find(wanted) != std::string::npos) {
                dev = i;
                break;
            }
    }
    if (dev == paNoDevice) {
        std::string names;
        for (PaDeviceIndex i : outputs)
            names += std::string(names.empty() ? "" : ", ") + std::to_string(i) + " '" + Pa_GetDeviceInfo(i)->name + "'";
        throw AudioDeviceError(AudioDeviceError::Kind::NoMatch,
                               "no audio output device matches '" + std::string(device) + "' (output devices: " + names + ")");
    }

    const PaDeviceInfo* info = Pa_GetDeviceInfo(dev);
    AudioDeviceChoice choice;
    choice.index = dev;
    choice.name = info->name;
    choice.hostApi = Pa_GetHostApiInfo(info->hostApi)->name;
    choice.channels = std::min(request.outputChannels > 0 ? request.outputChannels : 2, info->maxOutputChannels);
    choice.maxOutputChannels = info->maxOutputChannels;
    choice.maxInputChannels = info->maxInputChannels;
    if (request.sampleRate > 0.0) {
        if (!runsAt(dev, choice.channels, request.sampleRate))
            throw AudioDeviceError(AudioDeviceError::Kind::NoMatch,
                                   choice.label() + " cannot run at " + std::to_string(static_cast<long>(request.sampleRate)) +
                                       " Hz (its default is " + std::to_string(static_cast<long>(info->defaultSampleRate)) + " Hz)");
        choice.sampleRate = request.sampleRate;
    } else {
        choice.sampleRate = supportedRate(dev, choice.channels);
    }
    choice.defaultLatency = info->defaultLowOutputLatency;
    return choice;
}

std::vector<AudioDeviceInfo> listAudioDevices() {
    AudioSystem system;
    return system.devices();
}

// ---------------------------------------------------------------------------------------------
// AudioOutput

AudioOutput::AudioOutput(AudioSystem& system, Engine& engine, const AudioDeviceChoice& device, const AudioOutputOptions& options)
    : system_(system), device_(device), shared_(std::make_unique<Shared>()) {
    shared_->engine = &engine;
    shared_->renderHook = options.renderHook;
    shared_->renderUser = options.renderUser;
    shared_->channels = device.channels;
    shared_->inChannels = std::min(std::max(options.inputChannels, 0), device.maxInputChannels);
    shared_->nanosPerFrame = 1e9 / device.sampleRate;

    const std::string where = device.label() + " at " + std::to_string(static_cast<long>(device.sampleRate)) + " Hz";
    if (device.index < 0 || device.index >= Pa_GetDeviceCount() || device.channels < 1)
        throw AudioDeviceError(AudioDeviceError::Kind::Backend, "cannot open " + where + ": not a device of this AudioSystem");
    if (options.bufferFrames < 0)
        throw AudioDeviceError(AudioDeviceError::Kind::Backend,
                               "cannot open " + where + ": buffer of " + std::to_string(options.bufferFrames) + " frames");
    const double latency = options.bufferFrames > 0 ? options.bufferFrames / device.sampleRate : device.defaultLatency;
    const PaStreamParameters out{device.index, device.channels, paFloat32 | paNonInterleaved, latency, nullptr};
    const PaStreamParameters in{device.index, shared_->inChannels, paFloat32 | paNonInterleaved, latency, nullptr};
    const unsigned long framesPerBuffer =
        options.bufferFrames > 0 ? static_cast<unsigned long>(options.bufferFrames) : paFramesPerBufferUnspecified;
    PaStream* stream = nullptr;
    const PaError err = Pa_OpenStream(&stream, shared_->inChannels > 0 ? &in : nullptr, &out, device.sampleRate, framesPerBuffer, paNoFlag,
                                      &streamCallback, shared_.get());
    if (err != paNoError) throw AudioDeviceError(AudioDeviceError::Kind::Backend, "cannot open " + where + ": " + paErrorText(err));
    stream_ = stream;
}

AudioOutput::~AudioOutput() {
    close();
}

void AudioOutput::close() {
    stop();
    if (stream_ && !abandoned_) Pa_CloseStream(static_cast<PaStream*>(stream_));
    stream_ = nullptr;
}

void AudioOutput::start() {
    if (running_ || abandoned_) return;
    if (!stream_) throw AudioDeviceError(AudioDeviceError::Kind::Backend, "cannot start " + device_.label() + ": the stream was closed");
    const PaError err = Pa_StartStream(static_cast<PaStream*>(stream_));
    if (err != paNoError)
        throw AudioDeviceError(AudioDeviceError::Kind::Backend, "cannot start " + device_.label() + ": " + paErrorText(err));
    running_ = true;
}

bool AudioOutput::waitForCallback(double seconds) const noexcept {
    const std::uint64_t before = shared_->callbacks.load(std::memory_order_acquire);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (shared_->callbacks.load(std::memory_order_acquire) == before) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

bool AudioOutput::serverLost() const noexcept {
    return device_.isJack() && jackClientLost();
}

void AudioOutput::stop() {
    if (!running_) return;
    running_ = false;
    if (serverLost()) {
        // The JACK server quit: the stream can only be closed (see jack_server_loss.hpp).
        detach();
        releaseDeadJackStream([this] { Pa_CloseStream(static_cast<PaStream*>(stream_)); });
        stream_ = nullptr;
        return;
    }
    // A live stream calls back within one buffer; give a loaded machine a second on top.
    const int buffer = std::max(shared_->bufferFrames.load(std::memory_order_relaxed), 1);
    const double patience = 1.0 + 4.0 * buffer / device_.sampleRate;
    if (!waitForCallback(patience)) {
        abandon();
        return;
    }
    if (Pa_StopStream(static_cast<PaStream*>(stream_)) != paNoError) abandon();
}

void AudioOutput::detach() noexcept {
    shared_->detached.store(true);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (shared_->inCallback.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void AudioOutput::abandon() noexcept {
    detach();
    abandoned_ = true;
    system_.streamAbandoned_ = true;
}

AudioOutputStats AudioOutput::stats() const noexcept {
    AudioOutputStats s;
    s.callbacks = shared_->callbacks.load(std::memory_order_acquire);
    s.frames = shared_->frames.load(std::memory_order_relaxed);
    s.xruns = shared_->xruns.load(std::memory_order_relaxed);
    s.bufferFrames = shared_->bufferFrames.load(std::memory_order_relaxed);
    s.maxRenderMs = static_cast<double>(shared_->maxRenderNanos.load(std::memory_order_relaxed)) * 1e-6;
    s.overruns = shared_->overruns.load(std::memory_order_relaxed);
    if (stream_ && running_) s.cpuLoad = Pa_GetStreamCpuLoad(static_cast<PaStream*>(stream_));
    return s;
}

}  // namespace kabel
