// Scopes: modules that let the editor see signals. They pass nothing on; they write their inputs
// into SignalTaps (lock-free rings, core/module/signal_tap.hpp) that the editor reads when it
// draws, and their params tell the editor how to draw (time window, trigger, FFT size).
#include <algorithm>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/signal_tap.hpp"

namespace kabel {
namespace {

// ---------------------------------------------------------------------------------------------
// scope: two traces and a trigger signal.

enum ScopeInputs { kScopeIn1, kScopeIn2, kScopeTrigger };
enum ScopeParams { kScopeTime, kScopeLevel, kScopeSource, kScopeChannel };
constexpr double kScopeMaxSeconds = 2.0;

// Taps channel `channel` (1-based, clamped to what the input carries) of each input.
void tapInputs(SignalTap& tap, const ProcessContext& ctx, int channel) noexcept {
    for (int i = 0; i < tap.channels(); ++i) {
        const InputPort& in = ctx.in[i];
        tap.write(i, in.channel(std::min(channel, in.channels) - 1), ctx.frames);
    }
    tap.commit(ctx.frames);
}

class Scope final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        // A reader copies at most half the ring (the rest is slack against the writer).
        tap_ = std::make_unique<SignalTap>(3, static_cast<int>(2.0 * kScopeMaxSeconds * sampleRate) + 2 * maxFrames);
    }

    void process(const ProcessContext& ctx) noexcept override { tapInputs(*tap_, ctx, static_cast<int>(param(kScopeChannel))); }

    const SignalTap* tap(int index) const override { return index == 0 ? tap_.get() : nullptr; }

private:
    std::unique_ptr<SignalTap> tap_;
};

const ModuleDescriptor kScope{
    .id = "scope",
    .name = "Scope",
    .category = "Utilities",
    .help =
        "Shows two signals over time, like an oscilloscope, in the editor. Time is the width of "
        "the window (up to 2 s); the picture starts where the trigger source rises through the "
        "trigger level, so periodic signals stand still (free run: no trigger). For a "
        "polyphonic cable, Channel picks which channel is shown. It changes nothing in the "
        "sound: patch it anywhere.",
    .inputs = {{.id = "in1", .name = "In 1", .kind = SignalKind::Audio, .help = "first trace"},
               {.id = "in2", .name = "In 2", .kind = SignalKind::Audio, .help = "second trace"},
               {.id = "trig", .name = "Trigger", .kind = SignalKind::Gate, .help = "external trigger (trigger source: external)"}},
    .outputs = {},
    .params = {{.id = "time",
                .name = "Time",
                .min = 0.0005f,
                .max = 2.0f,
                .defaultValue = 0.02f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "width of the window"},
               {.id = "level",
                .name = "Trigger level",
                .min = -10.0f,
                .max = 10.0f,
                .defaultValue = 0.0f,
                .help = "rising through this level starts a sweep"},
               {.id = "source",
                .name = "Trigger source",
                .min = 0.0f,
                .max = 3.0f,
                .defaultValue = 0.0f,
                .curve = ParamCurve::Choice,
                .choices = {"in 1", "in 2", "external", "free run"},
                .help = "which signal starts a sweep"},
               {.id = "channel",
                .name = "Channel",
                .min = 1.0f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .curve = ParamCurve::Integer,
                .help = "channel of a polyphonic input to show"}},
    .create = [] { return std::unique_ptr<Module>(new Scope(kScope)); },
};
const RegisterModule registerScope{kScope};

// ---------------------------------------------------------------------------------------------
// spectrum: one signal's spectrum (the editor runs the FFT: core/dsp/spectrum_analyzer.hpp).

enum SpectrumParams { kSpectrumSize, kSpectrumChannel };
constexpr int kSpectrumSizes[] = {1024, 2048, 4096, 8192, 16384};

class Spectrum final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        tap_ = std::make_unique<SignalTap>(1, 2 * kSpectrumSizes[std::size(kSpectrumSizes) - 1] + 2 * maxFrames);
    }

    void process(const ProcessContext& ctx) noexcept override { tapInputs(*tap_, ctx, static_cast<int>(param(kSpectrumChannel))); }

    const SignalTap* tap(int index) const override { return index == 0 ? tap_.get() : nullptr; }

private:
    std::unique_ptr<SignalTap> tap_;
};

const ModuleDescriptor kSpectrum{
    .id = "spectrum",
    .name = "Spectrum",
    .category = "Utilities",
    .help =
        "Shows a signal's spectrum in the editor: level in dB against frequency, from an FFT of "
        "the newest Size samples (Blackman-Harris window: side lobes below -92 dB, so quiet "
        "partials next to loud ones stay visible). Larger sizes resolve finer (48000 / size Hz "
        "per bin) but react more slowly. It changes nothing in the sound.",
    .inputs = {{.id = "in", .name = "In", .kind = SignalKind::Audio, .help = "the signal to analyse"}},
    .outputs = {},
    .params = {{.id = "size",
                .name = "Size",
                .min = 0.0f,
                .max = 4.0f,
                .defaultValue = 2.0f,
                .curve = ParamCurve::Choice,
                .choices = {"1024", "2048", "4096", "8192", "16384"},
                .help = "FFT size in samples"},
               {.id = "channel",
                .name = "Channel",
                .min = 1.0f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .curve = ParamCurve::Integer,
                .help = "channel of a polyphonic input to analyse"}},
    .create = [] { return std::unique_ptr<Module>(new Spectrum(kSpectrum)); },
};
const RegisterModule registerSpectrum{kSpectrum};

}  // namespace
}  // namespace kabel
