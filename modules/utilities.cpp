// Utilities: gain, mixing, crossfading, panning, and splitting/merging polyphony.
//
// Design note. These run hundreds of times per block in big patches (benchmark W4: 500 VCAs
// after 500 sines, 64-frame blocks), so process() is a handful of branch decisions per block and
// then one straight, vectorisable loop per channel: the settled case (params not gliding) is a
// multiply by a constant, a gliding param is a linear ramp, never a per-sample branch.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/dsp/fast_math.hpp"
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

// ---------------------------------------------------------------------------------------------
// Shared by the modules below.

// y (=|+=) x * gain over the block: a constant or a linear ramp, one vectorisable loop either way.
void scaleInto(float* __restrict y, const float* __restrict x, Ramp gain, int frames, bool add) noexcept {
    if (gain.constant()) {
        const float g = gain.start;
        if (add)
            for (int n = 0; n < frames; ++n) y[n] += x[n] * g;
        else
            for (int n = 0; n < frames; ++n) y[n] = x[n] * g;
    } else {
        if (add)
            for (int n = 0; n < frames; ++n) y[n] += x[n] * gain.at(n);
        else
            for (int n = 0; n < frames; ++n) y[n] = x[n] * gain.at(n);
    }
}

// Constant-power pan law: position -1 (left) .. 1 (right); the centre is -3 dB on each side.
struct PanGains {
    float left, right;
};
PanGains constantPower(float position) noexcept {
    const float x = 0.125f * (std::clamp(position, -1.0f, 1.0f) + 1.0f);  // angle / 2 pi, 0 .. 1/4
    return {dsp::fastSin2pi(x + 0.25f), dsp::fastSin2pi(x)};              // cos, sin
}

std::vector<PortDescriptor> numberedInputs(int count, SignalKind kind, const char* help) {
    std::vector<PortDescriptor> ports;
    for (int i = 1; i <= count; ++i)
        ports.push_back({.id = "in" + std::to_string(i), .name = "In " + std::to_string(i), .kind = kind, .help = help});
    return ports;
}

// ---------------------------------------------------------------------------------------------
// stereomixer: eight channels with level, pan, mute and solo, into a stereo bus.

constexpr int kStereoInputs = 8;
enum StereoMixerOutputs { kStereoLeft, kStereoRight };
// Params: level1..8, pan1..8, mute1..8, solo1..8, master.
constexpr int kLevelParam = 0, kPanParam = kStereoInputs, kMuteParam = 2 * kStereoInputs, kSoloParam = 3 * kStereoInputs,
              kMasterParam = 4 * kStereoInputs;

class StereoMixer final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        for (auto& side : gain_)
            for (auto& g : side) g.prepare(sampleRate);
        mono_.assign(static_cast<std::size_t>(maxFrames), 0.0f);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        bool anySolo = false;
        for (int i = 0; i < kStereoInputs; ++i) anySolo |= param(kSoloParam + i) >= 0.5f;
        const float master = param(kMasterParam);
        float* __restrict left = ctx.out[kStereoLeft].data;
        float* __restrict right = ctx.out[kStereoRight].data;
        bool written = false;
        for (int i = 0; i < kStereoInputs; ++i) {
            // A strip sounds unless muted, or unless another strip is soloed; every change glides.
            const bool sounding = param(kMuteParam + i) < 0.5f && (!anySolo || param(kSoloParam + i) >= 0.5f);
            const PanGains pan = constantPower(param(kPanParam + i));
            const float level = sounding ? param(kLevelParam + i) * master : 0.0f;
            const Ramp gl = gain_[0][static_cast<std::size_t>(i)].next(level * pan.left, frames);
            const Ramp gr = gain_[1][static_cast<std::size_t>(i)].next(level * pan.right, frames);
            const InputPort& in = ctx.in[i];
            if (!in.connected || (gl.constant() && gr.constant() && gl.start == 0.0f && gr.start == 0.0f)) continue;
            const float* x = in.data;
            if (in.channels > 1) {  // a polyphonic input is summed to one strip
                float* __restrict m = mono_.data();
                std::copy_n(in.data, frames, m);
                for (int c = 1; c < in.channels; ++c) {
                    const float* __restrict xc = in.channel(c);
                    for (int n = 0; n < frames; ++n) m[n] += xc[n];
                }
                x = m;
            }
            scaleInto(left, x, gl, frames, written);
            scaleInto(right, x, gr, frames, written);
            written = true;
        }
        if (!written) {
            std::fill_n(left, frames, 0.0f);
            std::fill_n(right, frames, 0.0f);
        }
    }

private:
    std::array<std::array<ParamSmoother, kStereoInputs>, 2> gain_;
    std::vector<float> mono_;  // one block (prepare)
};

std::vector<ParamDescriptor> stereoMixerParams() {
    std::vector<ParamDescriptor> params;
    auto strip = [&](const char* id, const char* name, float min, float max, float def, ParamCurve curve, const char* help) {
        for (int i = 1; i <= kStereoInputs; ++i)
            params.push_back({.id = id + std::to_string(i),
                              .name = std::string(name) + " " + std::to_string(i),
                              .min = min,
                              .max = max,
                              .defaultValue = def,
                              .curve = curve,
                              .help = help});
    };
    strip("level", "Level", 0.0f, 2.0f, 1.0f, ParamCurve::Linear, "linear gain of the strip (1 = unity)");
    strip("pan", "Pan", -1.0f, 1.0f, 0.0f, ParamCurve::Linear, "-1 left .. 1 right (constant power: -3 dB each side at the centre)");
    strip("mute", "Mute", 0.0f, 1.0f, 0.0f, ParamCurve::Toggle, "silences the strip");
    strip("solo", "Solo", 0.0f, 1.0f, 0.0f, ParamCurve::Toggle, "while any strip is soloed, only soloed strips sound");
    params.push_back(levelParam("master", "Master", "gain of the stereo bus"));
    return params;
}

const ModuleDescriptor kStereoMixer{
    .id = "stereomixer",
    .name = "Stereo Mixer",
    .category = "Utilities",
    .help =
        "Eight channel strips into a stereo bus, like a small desk: each strip has a level, a "
        "constant-power pan (-3 dB per side at the centre), mute and solo (while any strip is "
        "soloed, only soloed strips sound; a muted strip stays silent even when soloed). Every "
        "change, including mute and solo, glides over ~10 ms, so it never clicks. A polyphonic "
        "input is summed into its strip. Out = master x sum of the strips.",
    .inputs = numberedInputs(kStereoInputs, SignalKind::Audio, "a strip's signal (polyphonic inputs are summed)"),
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left of the stereo bus"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right of the stereo bus"}},
    .params = stereoMixerParams(),
    .create = [] { return std::unique_ptr<Module>(new StereoMixer(kStereoMixer)); },
};
const RegisterModule registerStereoMixer{kStereoMixer};

// ---------------------------------------------------------------------------------------------
// crossfade: from A to B.

enum CrossfadeInputs { kFadeA, kFadeB, kFadeCv };
enum CrossfadeParams { kFadePosition, kFadeCurve };

class Crossfade final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        position_.prepare(sampleRate);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const bool equalPower = param(kFadeCurve) >= 0.5f;
        const Ramp knob = position_.next(param(kFadePosition), frames);
        const InputPort& cv = ctx.in[kFadeCv];
        const OutputPort& out = ctx.out[0];
        for (int c = 0; c < out.channels; ++c) {
            const float* __restrict a = ctx.in[kFadeA].channel(c);
            const float* __restrict b = ctx.in[kFadeB].channel(c);
            const float* __restrict v = cv.channel(c);
            float* __restrict y = out.channel(c);
            for (int n = 0; n < frames; ++n) {
                const float x = std::clamp(knob.at(n) + (cv.connected ? v[n] : 0.0f), 0.0f, 1.0f);
                const float ga = equalPower ? dsp::fastSin2pi(0.25f * x + 0.25f) : 1.0f - x;  // cos(x pi/2)
                const float gb = equalPower ? dsp::fastSin2pi(0.25f * x) : x;                 // sin(x pi/2)
                y[n] = a[n] * ga + b[n] * gb;
            }
        }
    }

private:
    ParamSmoother position_;
};

const ModuleDescriptor kCrossfade{
    .id = "crossfade",
    .name = "Crossfader",
    .category = "Utilities",
    .help =
        "Fades from A (position 0) to B (position 1). Linear keeps the sum of the gains at 1 "
        "(right for related signals, e.g. two takes of the same sound); equal power keeps the "
        "sum of the powers at 1 (right for unrelated signals: no dip in the middle). The Fade "
        "input is added to the knob. Polyphonic channel by channel.",
    .inputs = {{.id = "a", .name = "A", .kind = SignalKind::Audio, .help = "heard at position 0"},
               {.id = "b", .name = "B", .kind = SignalKind::Audio, .help = "heard at position 1"},
               {.id = "fade", .name = "Fade", .kind = SignalKind::Control, .help = "added to the position (the sum is kept in 0..1)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "the blend"}},
    .params = {{.id = "position", .name = "Position", .min = 0.0f, .max = 1.0f, .defaultValue = 0.5f, .help = "0 = A, 1 = B"},
               {.id = "curve",
                .name = "Curve",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .curve = ParamCurve::Choice,
                .choices = {"linear", "equal power"},
                .help = "how the gains change across the fade"}},
    .create = [] { return std::unique_ptr<Module>(new Crossfade(kCrossfade)); },
};
const RegisterModule registerCrossfade{kCrossfade};

// ---------------------------------------------------------------------------------------------
// pan: place a mono signal in the stereo field, or balance and widen a stereo one.

enum PanInputs { kPanLeftIn, kPanRightIn, kPanCv };
enum PanOutputs { kPanLeftOut, kPanRightOut };
enum PanParams { kPanPosition, kPanWidth };

class Pan final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        position_.prepare(sampleRate);
        width_.prepare(sampleRate);
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const Ramp knob = position_.next(param(kPanPosition), frames);
        const Ramp width = width_.next(param(kPanWidth), frames);
        const InputPort& inL = ctx.in[kPanLeftIn];
        const InputPort& inR = ctx.in[kPanRightIn];
        const InputPort& cv = ctx.in[kPanCv];
        const OutputPort& outL = ctx.out[kPanLeftOut];
        const OutputPort& outR = ctx.out[kPanRightOut];
        const bool stereo = inR.connected;
        for (int c = 0; c < outL.channels; ++c) {
            const float* __restrict l = inL.channel(c);
            const float* __restrict r = inR.channel(c);
            const float* __restrict v = cv.channel(c);
            float* __restrict yl = outL.channel(c);
            float* __restrict yr = outR.channel(c);
            for (int n = 0; n < frames; ++n) {
                const float p = std::clamp(knob.at(n) + (cv.connected ? v[n] : 0.0f), -1.0f, 1.0f);
                if (stereo) {
                    // Width on mid/side (0 = mono, 1 = as is, 2 = twice the side), then balance:
                    // turning toward one side lowers the other linearly, the centre is unity.
                    const float mid = 0.5f * (l[n] + r[n]);
                    const float side = 0.5f * (l[n] - r[n]) * width.at(n);
                    yl[n] = (mid + side) * std::min(1.0f, 1.0f - p);
                    yr[n] = (mid - side) * std::min(1.0f, 1.0f + p);
                } else {
                    const PanGains g = constantPower(p);
                    yl[n] = l[n] * g.left;
                    yr[n] = l[n] * g.right;
                }
            }
        }
    }

private:
    ParamSmoother position_, width_;
};

const ModuleDescriptor kPan{
    .id = "pan",
    .name = "Pan / Width",
    .category = "Utilities",
    .help =
        "With only Left patched: places the mono signal between the speakers with a "
        "constant-power law (-3 dB per side at the centre, so it sounds equally loud anywhere). "
        "With both inputs patched: a stereo balance (the centre passes both sides at unity; "
        "turning right lowers the left linearly) after a mid/side width control (0 = mono, "
        "1 = unchanged, 2 = twice as wide). The Pan input is added to the knob. Polyphonic "
        "channel by channel.",
    .inputs = {{.id = "left", .name = "Left / Mono", .kind = SignalKind::Audio, .help = "the mono signal, or the left of a stereo one"},
               {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "the right of a stereo signal"},
               {.id = "pan", .name = "Pan", .kind = SignalKind::Control, .help = "added to the position (-1..1)"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right"}},
    .params = {{.id = "position", .name = "Position", .min = -1.0f, .max = 1.0f, .defaultValue = 0.0f, .help = "-1 left .. 1 right"},
               {.id = "width", .name = "Width", .min = 0.0f, .max = 2.0f, .defaultValue = 1.0f, .help = "stereo width of a stereo input"}},
    .create = [] { return std::unique_ptr<Module>(new Pan(kPan)); },
};
const RegisterModule registerPan{kPan};

// ---------------------------------------------------------------------------------------------
// split / merge: polyphonic cable <-> mono cables.

constexpr int kPolyPorts = kMaxChannels;

class Split final : public Module {
public:
    using Module::Module;
    int outputChannels(int, std::span<const int>) const override { return 1; }
    void process(const ProcessContext& ctx) noexcept override {
        const InputPort& in = ctx.in[0];
        for (int k = 0; k < kPolyPorts; ++k) {
            const OutputPort& out = ctx.out[k];
            if (!out.connected) continue;
            if (k < in.channels)
                std::copy_n(in.data + static_cast<std::ptrdiff_t>(k) * in.stride, ctx.frames, out.data);
            else
                std::fill_n(out.data, ctx.frames, 0.0f);
        }
    }
};

std::vector<PortDescriptor> numberedOutputs(int count, const char* help) {
    std::vector<PortDescriptor> ports;
    for (int i = 1; i <= count; ++i)
        ports.push_back({.id = "out" + std::to_string(i), .name = "Out " + std::to_string(i), .kind = SignalKind::Audio, .help = help});
    return ports;
}

const ModuleDescriptor kSplit{
    .id = "split",
    .name = "Poly Split",
    .category = "Utilities",
    .help =
        "Takes a polyphonic cable apart: Out k carries channel k of the input (silence when the "
        "input has fewer channels). A mono input appears on Out 1 only.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "a polyphonic signal"}},
    .outputs = numberedOutputs(kPolyPorts, "one channel of the input"),
    .params = {},
    .create = [] { return std::unique_ptr<Module>(new Split(kSplit)); },
};
const RegisterModule registerSplit{kSplit};

class Merge final : public Module {
public:
    using Module::Module;
    // As many channels as the `channels` param, or (at 0, "auto") up to the last patched input.
    int outputChannels(int, std::span<const int> inputChannels) const override {
        const int set = static_cast<int>(param(0));
        if (set > 0) return set;
        int last = 0;
        for (int i = 0; i < static_cast<int>(inputChannels.size()); ++i)
            if (inputChannels[static_cast<std::size_t>(i)] > 0) last = i + 1;
        return std::max(last, 1);
    }
    void process(const ProcessContext& ctx) noexcept override {
        const OutputPort& out = ctx.out[0];
        for (int c = 0; c < out.channels; ++c) {
            const InputPort& in = ctx.in[c];
            if (in.connected)
                std::copy_n(in.data, ctx.frames, out.channel(c));
            else
                std::fill_n(out.channel(c), ctx.frames, 0.0f);
        }
    }
};

const ModuleDescriptor kMerge{
    .id = "merge",
    .name = "Poly Merge",
    .category = "Utilities",
    .help =
        "Builds a polyphonic cable from mono ones: channel k of the output is In k (its first "
        "channel). Channels 0 means automatic: as many as the last patched input; set 1-16 to "
        "fix the count (unpatched inputs give silent channels).",
    .inputs = numberedInputs(kPolyPorts, SignalKind::Audio, "becomes one channel of the output"),
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Audio, .help = "the polyphonic cable"}},
    .params = {{.id = "channels",
                .name = "Channels",
                .min = 0.0f,
                .max = static_cast<float>(kMaxChannels),
                .defaultValue = 0.0f,
                .curve = ParamCurve::Integer,
                .help = "0 = automatic (up to the last patched input), else the channel count",
                .structural = true}},
    .create = [] { return std::unique_ptr<Module>(new Merge(kMerge)); },
};
const RegisterModule registerMerge{kMerge};

}  // namespace
}  // namespace kabel
