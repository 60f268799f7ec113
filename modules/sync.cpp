// Sync: Kabel as a tempo master for other gear and programs.
//
// Design note. `midiclockout` turns gates into MIDI clock messages on the engine's MIDI output
// (core/midi/midi_output.hpp): each message goes out at the exact frame of the edge that caused
// it, and the device side (kabel play on JACK) writes it at that frame of its cycle, so the
// messages are as exact as the clock that drives them: patched from `clock`, 0xF8 follows the
// 24-ppqn ticks sample for sample. Following MIDI clock is the clock module's job (its source
// param, modules/sequencers.cpp), not a separate module: one clock, two sources.
#include <algorithm>

#include "core/midi/midi_output.hpp"
#include "core/module/gates.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"

namespace kabel {
namespace {

// ---------------------------------------------------------------------------------------------
// midiclockout

enum ClockOutInputs { kClockOutClock, kClockOutRun, kClockOutReset };

constexpr std::uint8_t kMidiClock = 0xF8, kMidiStart = 0xFA, kMidiContinue = 0xFB, kMidiStop = 0xFC;

class MidiClockOut final : public Module {
public:
    using Module::Module;

    bool sharesState() const noexcept override { return true; }  // the engine's MIDI output

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void reset() noexcept override {
        clockHigh_ = runHigh_ = resetHigh_ = running_ = false;
        atStart_ = true;
    }

    void process(const ProcessContext& ctx) noexcept override {
        MidiOutputBlock* midi = ctx.midiOut();
        const InputPort& clock = ctx.in[kClockOutClock];
        const InputPort& run = ctx.in[kClockOutRun];
        const InputPort& reset = ctx.in[kClockOutReset];
        const float* ck = clock.channel(0);
        const float* rn = run.channel(0);
        const float* rs = reset.channel(0);
        auto send = [&](int frame, std::uint8_t status) {
            if (midi) midi->add(static_cast<std::uint32_t>(frame), status);
        };
        // Jump from change to change of the three gates; at one frame: reset, run, then clock,
        // so a start and the first tick on the same frame go out as 0xFA then 0xF8.
        int i = 0;
        while (i < ctx.frames) {
            const int a = gateChangeAt(reset, rs, i, ctx.frames, resetHigh_);
            const int b = gateChangeAt(run, rn, i, ctx.frames, runHigh_);
            const int c = gateChangeAt(clock, ck, i, ctx.frames, clockHigh_);
            i = std::min({a, b, c});
            if (i == ctx.frames) break;
            if (a == i) {
                resetHigh_ = !resetHigh_;
                if (resetHigh_) {
                    atStart_ = true;
                    if (running_) send(i, kMidiStart);  // receivers start over on the next clock
                }
            }
            if (b == i) {
                runHigh_ = !runHigh_;
                running_ = runHigh_;
                send(i, runHigh_ ? (atStart_ ? kMidiStart : kMidiContinue) : kMidiStop);
            }
            if (c == i) {
                clockHigh_ = !clockHigh_;
                if (clockHigh_ && running_) {
                    send(i, kMidiClock);
                    atStart_ = false;
                }
            }
        }
    }

private:
    bool clockHigh_ = false, runHigh_ = false, resetHigh_ = false;
    bool running_ = false;
    bool atStart_ = true;  // no clock sent since the last reset: the next run edge sends Start
};

const ModuleDescriptor kMidiClockOut{
    .id = "midiclockout",
    .name = "MIDI Clock Out",
    .category = "MIDI",
    .help =
        "Sends MIDI clock to other gear from Kabel's MIDI output (kabel play on JACK: the port "
        "kabel-midi:midi_out, alias kabel:midi_out), each message at the exact sample of the edge "
        "that caused it: every rising edge on Clock sends a timing clock (0xF8) while running, so "
        "patch the clock module's 24 PPQN output here (MIDI clock is 24 per quarter note). A rising "
        "edge on Run sends Start (0xFA) when nothing was sent since the last reset (the first "
        "time, or after a Reset edge), else Continue (0xFB); a falling edge sends Stop (0xFC). A "
        "Reset edge while running sends Start, so receivers play their bar 1 on the next clock. "
        "At one sample the order is Reset, Run, Clock: a clock started on a tick sends 0xFA then "
        "0xF8, which receivers play as the first beat. Run unpatched is high: the module starts "
        "on the first block. Reads the first channel of each input.",
    .inputs = {{.id = "clock",
                .name = "Clock",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "24 pulses per quarter note: each rising edge through 0.5 sends 0xF8 while running"},
               {.id = "run",
                .name = "Run",
                .kind = SignalKind::Gate,
                .defaultValue = 1.0f,
                .help = "rising: Start (or Continue after a stop); falling: Stop (unpatched: running)"},
               {.id = "reset",
                .name = "Reset",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge rewinds: Start now if running, else at the next Run edge"}},
    .outputs = {},
    .params = {},
    .create = [] { return std::unique_ptr<Module>(new MidiClockOut(kMidiClockOut)); },
};
const RegisterModule registerMidiClockOut{kMidiClockOut};

}  // namespace
}  // namespace kabel
