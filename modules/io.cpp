// Audio I/O modules: where a patch meets the device (or the offline renderer).
#include <algorithm>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

// ---------------------------------------------------------------------------------------------
// out: adds its inputs to the device outputs. Several `out` modules sum.

enum OutInputs { kOutLeft, kOutRight };
enum OutParams { kOutLevel, kOutFirst };

// Device channel (0-based) of a 1-based channel param.
inline int deviceChannel(float param) noexcept {
    return static_cast<int>(param + 0.5f) - 1;
}

// Both device modules' First Channel: the 1-based device channel of Left.
ParamDescriptor firstChannelParam(const char* help) {
    return {.id = "first",
            .name = "First Channel",
            .min = 1.0f,
            .max = 64.0f,
            .defaultValue = 1.0f,
            .unit = "",
            .curve = ParamCurve::Integer,
            .help = help};
}

// Both device modules: a smoothed linear Level as param 0 (kOutLevel, kInLevel).
class DeviceModule : public Module {
public:
    using Module::Module;

    bool sharesState() const noexcept override { return true; }  // the device's buffers

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        level_.prepare(sampleRate, 20.0f);
    }

    void reset() noexcept override { level_.reset(param(0)); }

protected:
    Ramp nextLevel(int frames) noexcept { return level_.next(param(0), frames); }

private:
    ParamSmoother level_;
};

class AudioOut final : public DeviceModule {
public:
    using DeviceModule::DeviceModule;

    bool guardedSink() const noexcept override { return true; }  // its level smoother holds no signal

    void process(const ProcessContext& ctx) noexcept override {
        const Ramp level = nextLevel(ctx.frames);
        const HostBuffers& host = *ctx.host;
        const int first = deviceChannel(param(kOutFirst));
        if (first >= host.outChannels) return;  // the device has no such channel
        const InputPort& left = ctx.in[kOutLeft];
        const InputPort& right = ctx.in[kOutRight];
        if (first > 0) {  // a channel pair further up a multi-channel device (a lone last channel takes Left)
            addPort(host.out[first], left, level, 1.0f, ctx.frames);
            if (first + 1 < host.outChannels) addPort(host.out[first + 1], right.connected ? right : left, level, 1.0f, ctx.frames);
            return;
        }
        if (host.outChannels == 1) {
            // Mono device: the left input, or the average of both when both are patched.
            const float scale = right.connected ? 0.5f : 1.0f;
            addPort(host.out[0], left, level, scale, ctx.frames);
            if (right.connected) addPort(host.out[0], right, level, scale, ctx.frames);
            return;
        }
        addPort(host.out[0], left, level, 1.0f, ctx.frames);
        addPort(host.out[1], right.connected ? right : left, level, 1.0f, ctx.frames);
    }

private:
    // Sums every channel of a (possibly polyphonic) input into one device channel.
    static void addPort(float* dst, const InputPort& port, Ramp level, float scale, int frames) noexcept {
        if (!port.connected) return;
        for (int c = 0; c < port.channels; ++c) {
            const float* src = port.channel(c);
            if (level.constant()) {
                const float g = level.start * scale;
                for (int n = 0; n < frames; ++n) dst[n] += g * src[n];
            } else {
                for (int n = 0; n < frames; ++n) dst[n] += level.at(n) * scale * src[n];
            }
        }
    }
};

const ModuleDescriptor kAudioOut{
    .id = "out",
    .name = "Audio Out",
    .category = "I/O",
    .help =
        "Sends a patch to the speakers (or to the file when rendering offline). Patch only "
        "Left for mono: it feeds both channels. Polyphonic inputs are summed to one channel. "
        "Several Audio Out modules add up. On a multi-channel device (kabel play --channels N) "
        "First Channel picks the pair: 3 sends Left to device output 3 and Right to 4; a channel "
        "the device does not have is silent.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left channel (both, when Right is unpatched)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right channel"}},
    .outputs = {},
    .params = {{.id = "level",
                .name = "Level",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .help = "linear gain applied to both channels"},
               firstChannelParam("device output of Left (Right goes to the next one)")},
    .create = [] { return std::unique_ptr<Module>(new AudioOut(kAudioOut)); },
};
const RegisterModule registerAudioOut{kAudioOut};

// ---------------------------------------------------------------------------------------------
// in: the device's audio input (live instruments, microphones, other JACK clients).

enum InOutputs { kInLeft, kInRight };
enum InParams { kInLevel, kInFirst };
static_assert(kOutLevel == 0 && kInLevel == 0, "DeviceModule smooths param 0");

class AudioIn final : public DeviceModule {
public:
    using DeviceModule::DeviceModule;

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void process(const ProcessContext& ctx) noexcept override {
        const Ramp level = nextLevel(ctx.frames);
        const HostBuffers& host = *ctx.host;
        const int first = deviceChannel(param(kInFirst));
        for (int side = 0; side < 2; ++side) {
            const OutputPort& out = ctx.out[side == 0 ? kInLeft : kInRight];
            if (!out.connected) continue;
            float* dst = out.channel(0);
            // Right reads the next channel; on a mono input (or the last channel) both read it.
            const int channel = side == 1 && first + 1 < host.inChannels ? first + 1 : first;
            if (channel < 0 || channel >= host.inChannels || host.in == nullptr) {
                std::fill(dst, dst + ctx.frames, 0.0f);
                continue;
            }
            const float* src = host.in[channel];
            for (int n = 0; n < ctx.frames; ++n) dst[n] = level.at(n) * src[n];
        }
    }
};

const ModuleDescriptor kAudioIn{
    .id = "in",
    .name = "Audio In",
    .category = "I/O",
    .help =
        "The audio device's input: a microphone, an instrument, or (on JACK) any other program "
        "connected to kabel:in_N. Left is device input First Channel, Right the next one (on a "
        "mono input both carry it). Kabel opens inputs when a patch has this module (kabel play "
        "--inputs N to choose how many). The input reaches the patch one engine block (64 "
        "frames) after the device delivered it; offline renders read silence.",
    .inputs = {},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "device input First Channel"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "the next device input"}},
    .params = {{.id = "level", .name = "Level", .min = 0.0f, .max = 4.0f, .defaultValue = 1.0f, .unit = "", .help = "linear gain"},
               firstChannelParam("device input read by Left (Right reads the next one)")},
    .create = [] { return std::unique_ptr<Module>(new AudioIn(kAudioIn)); },
};
const RegisterModule registerAudioIn{kAudioIn};

}  // namespace
}  // namespace kabel
