// Utilities: gain and mixing.
//
// Design note. These run hundreds of times per block in big patches (benchmark W4: 500 VCAs
// after 500 sines, 64-frame blocks), so process() is a handful of branch decisions per block and
// then one straight, vectorisable loop per channel: the settled case (params not gliding) is a
// multiply by a constant, a gliding param is a linear ramp, never a per-sample branch.
#include <algorithm>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

// ---------------------------------------------------------------------------------------------
// vca: out = in x cv x gain.

enum VcaInputs { kVcaIn, kVcaCv };
enum VcaOutputs { kVcaOut };
enum VcaParams { kVcaGain };

class Vca final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        gain_.prepare(sampleRate);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp gain = gain_.next(param(kVcaGain), frames);
        const InputPort& in = ctx.in[kVcaIn];
        const InputPort& cv = ctx.in[kVcaCv];
        const OutputPort& out = ctx.out[kVcaOut];

        if (!in.connected && in.constant == 0.0f) {
            for (int c = 0; c < out.channels; ++c) std::fill_n(out.channel(c), frames, 0.0f);
            return;
        }
        for (int c = 0; c < out.channels; ++c) {
            const float* __restrict x = in.channel(c);
            float* __restrict y = out.channel(c);
            if (!cv.connected) {
                // Unpatched cv is its default (1: full gain): fold it into the gain.
                const float start = gain.start * cv.constant;
                if (gain.constant()) {
                    for (int n = 0; n < frames; ++n) y[n] = x[n] * start;
                } else {
                    const float step = gain.step * cv.constant;
                    for (int n = 0; n < frames; ++n) y[n] = x[n] * (start + static_cast<float>(n) * step);
                }
            } else {
                const float* __restrict v = cv.channel(c);
                if (gain.constant()) {
                    const float g = gain.start;
                    for (int n = 0; n < frames; ++n) y[n] = x[n] * v[n] * g;
                } else {
                    for (int n = 0; n < frames; ++n) y[n] = x[n] * v[n] * gain.at(n);
                }
            }
        }
    }

private:
    ParamSmoother gain_;
};

const ModuleDescriptor kVca{
    .id = "vca",
    .name = "VCA / Gain",
    .category = "Utilities",
    .help =
        "Multiplies a signal by a control voltage and a gain: out = in x cv x gain. Patch an "
        "envelope into CV to shape a note's loudness; leave CV unpatched for a plain gain stage. "
        "Four-quadrant: a negative CV inverts the signal, so it doubles as a ring modulator with an "
        "audio-rate CV. Gain changes glide over ~10 ms so a knob jump never clicks. Polyphonic: "
        "one VCA per channel; a mono CV drives every channel.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "signal to scale"},
               {.id = "cv",
                .name = "CV",
                .kind = SignalKind::Control,
                .defaultValue = 1.0f,
                .help = "gain control, multiplied in (1 when unpatched; negative inverts)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "in x cv x gain"}},
    .params = {{.id = "gain",
                .name = "Gain",
                .min = 0.0f,
                .max = 4.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "linear gain (1 = unity, 4 = +12 dB)"}},
    .create = [] { return std::unique_ptr<Module>(new Vca(kVca)); },
};
const RegisterModule registerVca{kVca};

// ---------------------------------------------------------------------------------------------
// mixer: four inputs with levels, and a master level.

constexpr int kMixerInputs = 4;
enum MixerParams { kMixerLevel1, kMixerLevel2, kMixerLevel3, kMixerLevel4, kMixerMaster };
enum MixerOutputs { kMixerOut };

class Mixer final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        for (auto& s : level_) s.prepare(sampleRate);
        master_.prepare(sampleRate);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp master = master_.next(param(kMixerMaster), frames);
        // Every input's gain is level x master: a product of two ramps, which is constant when
        // both are and a quadratic in n otherwise.
        Ramp level[kMixerInputs];
        for (int i = 0; i < kMixerInputs; ++i) level[i] = level_[i].next(param(kMixerLevel1 + i), frames);

        const OutputPort& out = ctx.out[kMixerOut];
        for (int c = 0; c < out.channels; ++c) {
            float* __restrict y = out.channel(c);
            bool written = false;
            for (int i = 0; i < kMixerInputs; ++i) {
                const InputPort& in = ctx.in[i];
                if (!in.connected) continue;
                if (in.channels > 1 && c >= in.channels) continue;  // this input has no channel c
                const float* __restrict x = in.channel(c);
                const Ramp l = level[i];
                if (l.constant() && master.constant()) {
                    const float g = l.start * master.start;
                    if (written)
                        for (int n = 0; n < frames; ++n) y[n] += x[n] * g;
                    else
                        for (int n = 0; n < frames; ++n) y[n] = x[n] * g;
                } else {
                    if (written)
                        for (int n = 0; n < frames; ++n) y[n] += x[n] * (l.at(n) * master.at(n));
                    else
                        for (int n = 0; n < frames; ++n) y[n] = x[n] * (l.at(n) * master.at(n));
                }
                written = true;
            }
            if (!written) std::fill_n(y, frames, 0.0f);
        }
    }

private:
    ParamSmoother level_[kMixerInputs];
    ParamSmoother master_;
};

ParamDescriptor levelParam(const char* id, const char* name, const char* help) {
    return {.id = id, .name = name, .min = 0.0f, .max = 2.0f, .defaultValue = 1.0f, .unit = "", .curve = ParamCurve::Linear, .help = help};
}

const ModuleDescriptor kMixer{
    .id = "mixer",
    .name = "Mixer",
    .category = "Utilities",
    .help =
        "Adds up to four signals, each with its own level, then applies a master level: "
        "out = master x (level1 x in1 + ... + level4 x in4). Levels are linear gains (1 = unity, "
        "2 = +6 dB) and glide over ~10 ms, so moves never click; unpatched inputs cost nothing. "
        "Polyphonic channel by channel: the output has as many channels as the widest input, a mono "
        "input feeds every channel.",
    .inputs = {{.id = "in1", .name = "In 1", .kind = SignalKind::Audio, .help = "first signal"},
               {.id = "in2", .name = "In 2", .kind = SignalKind::Audio, .help = "second signal"},
               {.id = "in3", .name = "In 3", .kind = SignalKind::Audio, .help = "third signal"},
               {.id = "in4", .name = "In 4", .kind = SignalKind::Audio, .help = "fourth signal"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "the mix"}},
    .params = {levelParam("level1", "Level 1", "gain of In 1"), levelParam("level2", "Level 2", "gain of In 2"),
               levelParam("level3", "Level 3", "gain of In 3"), levelParam("level4", "Level 4", "gain of In 4"),
               levelParam("master", "Master", "gain of the sum")},
    .create = [] { return std::unique_ptr<Module>(new Mixer(kMixer)); },
};
const RegisterModule registerMixer{kMixer};

}  // namespace
}  // namespace kabel
