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
enum OutParams { kOutLevel };

class AudioOut final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        level_.prepare(sampleRate, 20.0f);
    }

    void reset() noexcept override { level_.reset(param(kOutLevel)); }

    void process(const ProcessContext& ctx) noexcept override {
        const Ramp level = level_.next(param(kOutLevel), ctx.frames);
        const HostBuffers& host = *ctx.host;
        if (host.outChannels == 0) return;
        const InputPort& left = ctx.in[kOutLeft];
        const InputPort& right = ctx.in[kOutRight];
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

    ParamSmoother level_;
};

const ModuleDescriptor kAudioOut{
    .id = "out",
    .name = "Audio Out",
    .category = "I/O",
    .help =
        "Sends a patch to the speakers (or to the file when rendering offline). Patch only "
        "Left for mono: it feeds both channels. Polyphonic inputs are summed to one channel. "
        "Several Audio Out modules add up.",
    .inputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left channel (both, when Right is unpatched)"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right channel"}},
    .outputs = {},
    .params = {{.id = "level",
                .name = "Level",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .help = "linear gain applied to both channels"}},
    .create = [] { return std::unique_ptr<Module>(new AudioOut(kAudioOut)); },
};
const RegisterModule registerAudioOut{kAudioOut};

}  // namespace
}  // namespace kabel
