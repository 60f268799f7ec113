// MIDI modules: `midi`, MIDI to pitch, gate, velocity and controllers, polyphonic, MPE.
//
// Design note. The module reads the block's events (ProcessContext::midi(), sorted by frame) and
// renders its outputs in segments: outputs are constant between events and change exactly at an
// event's frame. State is per voice (fixed arrays of kMaxChannels) and per MIDI channel (bend,
// pressure, slide for MPE; index 16 holds the one shared state outside MPE). Nothing here
// allocates; an output nothing reads is not written.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"

namespace kabel {
namespace {

enum MidiOutputs { kPitchOut, kGateOut, kVelocityOut, kAftertouchOut, kBendOut, kModOut, kRetrigOut, kSlideOut, kMidiOutputCount };
enum MidiParams { kVoices, kChannel, kMode, kBendRange, kMpe };
enum AllocMode { kRotate, kReuse, kLowest };
constexpr int kShared = 16;  // channel-state slot used outside MPE

class MidiToPitch final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override { return std::clamp(static_cast<int>(param(kVoices)), 1, kMaxChannels); }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        retrigFrames_ = std::max(1, static_cast<int>(std::lround(0.001 * sampleRate)));
        reset();
    }

    void reset() noexcept override {
        voices_ = {};
        channels_ = {};
        masterBend_ = 0.0f;
        mod_ = 0.0f;
        sustain_ = false;
        age_ = 0;
        lastVoice_ = -1;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        count_ = std::clamp(ctx.out[kPitchOut].channels, 1, kMaxChannels);
        // Voices beyond the plan's count (the voices param went down) are released.
        for (int v = count_; v < kMaxChannels; ++v) voices_[static_cast<std::size_t>(v)].active = false;
        mode_ = std::clamp(static_cast<int>(param(kMode)), 0, 2);
        mpe_ = param(kMpe) >= 0.5f;
        channelFilter_ = std::clamp(static_cast<int>(param(kChannel)), 0, 16);
        bendSemis_ = param(kBendRange);
        for (int v = 0; v < count_; ++v) voices_[static_cast<std::size_t>(v)].dip = -1;

        int pos = 0;
        for (const MidiEvent& e : ctx.midi()) {
            const int f = std::min(static_cast<int>(e.frame), frames - 1);
            if (f > pos) {
                fill(ctx, pos, f);
                pos = f;
            }
            apply(e, ctx.blockStart + static_cast<std::uint64_t>(f), f);
        }
        fill(ctx, pos, frames);
    }

private:
    struct Voice {
        bool active = false;                      // the gate is high: key down, or released while the pedal holds it
        bool keyDown = false;                     // the key is held
        int note = 60;                            // the note it plays (kept after release: pitch holds)
        int channel = 0;                          // MIDI channel of the note, 0..15
        float velocity = 0.0f;                    // 0..1
        float pressure = 0.0f;                    // 0..1
        std::uint64_t age = 0;                    // note-on counter at its start
        std::uint64_t lowAt = ~std::uint64_t{0};  // engine frame at which the gate last went low
        int dip = -1;                             // frame in this block forced low (a retriggered gate)
        int retrig = 0;                           // retrig pulse frames still to write
        int lastNote = -1;                        // for "reuse"
    };
    struct ChannelState {
        float bend = 0.0f;  // -1..1
        float pressure = 0.0f;
        float slide = 0.0f;
    };

    int stateOf(int channel) const noexcept { return mpe_ ? channel : kShared; }

    bool accepts(int channel) const noexcept { return mpe_ || channelFilter_ == 0 || channel == channelFilter_ - 1; }

    void apply(const MidiEvent& e, std::uint64_t absFrame, int f) noexcept {
        if (!e.isChannelMessage()) return;
        const int ch = e.channel();
        if (!accepts(ch)) return;
        const bool master = mpe_ && ch == 0;
        switch (e.type()) {
            case 0x90:
                if (e.data2 > 0) {
                    noteOn(ch, e.data1, e.data2, absFrame, f);
                    break;
                }
                [[fallthrough]];
            case 0x80:
                noteOff(ch, e.data1, absFrame);
                break;
            case 0xA0:  // poly pressure: the voice playing that note
                for (int v = 0; v < count_; ++v) {
                    Voice& voice = voices_[static_cast<std::size_t>(v)];
                    if (voice.active && voice.note == e.data1 && voice.channel == ch) voice.pressure = e.data2 / 127.0f;
                }
                break;
            case 0xD0: {  // channel pressure
                const float p = e.data1 / 127.0f;
                if (master) break;
                channels_[static_cast<std::size_t>(stateOf(ch))].pressure = p;
                for (int v = 0; v < count_; ++v) {
                    Voice& voice = voices_[static_cast<std::size_t>(v)];
                    if (!mpe_ || voice.channel == ch) voice.pressure = p;
                }
                break;
            }
            case 0xE0: {
                const float b = std::max(-1.0f, e.bend() / 8192.0f);
                if (master)
                    masterBend_ = b;
                else
                    channels_[static_cast<std::size_t>(stateOf(ch))].bend = b;
                break;
            }
            case 0xB0:
                control(ch, e.data1, e.data2, absFrame);
                break;
            default:
                break;
        }
    }

    void control(int ch, int cc, int value, std::uint64_t absFrame) noexcept {
        switch (cc) {
            case 1:
                mod_ = value / 127.0f;
                break;
            case 74:
                if (!(mpe_ && ch == 0)) channels_[static_cast<std::size_t>(stateOf(ch))].slide = value / 127.0f;
                break;
            case 64: {
                const bool down = value >= 64;
                if (sustain_ && !down)
                    for (int v = 0; v < count_; ++v) {
                        Voice& voice = voices_[static_cast<std::size_t>(v)];
                        if (voice.active && !voice.keyDown) release(voice, absFrame);
                    }
                sustain_ = down;
                break;
            }
            case 120:  // all sound off
            case 123:  // all notes off
                for (int v = 0; v < count_; ++v) {
                    Voice& voice = voices_[static_cast<std::size_t>(v)];
                    voice.keyDown = false;
                    if (voice.active) release(voice, absFrame);
                }
                break;
            case 121:  // reset all controllers
                channels_ = {};
                masterBend_ = 0.0f;
                mod_ = 0.0f;
                sustain_ = false;
                for (int v = 0; v < count_; ++v) {
                    Voice& voice = voices_[static_cast<std::size_t>(v)];
                    voice.pressure = 0.0f;
                    if (voice.active && !voice.keyDown) release(voice, absFrame);
                }
                break;
            default:
                break;
        }
    }

    static void release(Voice& voice, std::uint64_t absFrame) noexcept {
        voice.active = false;
        voice.lowAt = absFrame;
    }

    int allocate(int ch, int note) noexcept {
        // A note already sounding on this channel retriggers its own voice.
        for (int v = 0; v < count_; ++v) {
            const Voice& voice = voices_[static_cast<std::size_t>(v)];
            if (voice.active && voice.note == note && voice.channel == ch) return v;
        }
        if (mode_ == kRotate) {
            for (int k = 1; k <= count_; ++k) {
                const int v = (lastVoice_ + k) % count_;
                if (!voices_[static_cast<std::size_t>(v)].active) return v;
            }
            return (lastVoice_ + 1) % count_;
        }
        if (mode_ == kReuse)
            for (int v = 0; v < count_; ++v) {
                const Voice& voice = voices_[static_cast<std::size_t>(v)];
                if (!voice.active && voice.lastNote == note) return v;
            }
        for (int v = 0; v < count_; ++v)
            if (!voices_[static_cast<std::size_t>(v)].active) return v;
        // Every voice busy: the oldest note whose key is up (held by the pedal), else the oldest.
        int best = -1;
        for (int pass = 0; pass < 2 && best < 0; ++pass)
            for (int v = 0; v < count_; ++v) {
                const Voice& voice = voices_[static_cast<std::size_t>(v)];
                if (pass == 0 && voice.keyDown) continue;
                if (best < 0 || voice.age < voices_[static_cast<std::size_t>(best)].age) best = v;
            }
        return best;
    }

    void noteOn(int ch, int note, int velocity, std::uint64_t absFrame, int f) noexcept {
        const int v = allocate(ch, note);
        Voice& voice = voices_[static_cast<std::size_t>(v)];
        // The gate goes low for one sample (this one) if it was high or went low at this frame.
        if (voice.active || voice.lowAt == absFrame) voice.dip = f;
        voice.active = true;
        voice.keyDown = true;
        voice.note = note;
        voice.lastNote = note;
        voice.channel = ch;
        voice.velocity = velocity / 127.0f;
        voice.pressure = channels_[static_cast<std::size_t>(stateOf(ch))].pressure;
        voice.age = ++age_;
        voice.retrig = retrigFrames_;
        lastVoice_ = v;
    }

    void noteOff(int ch, int note, std::uint64_t absFrame) noexcept {
        for (int v = 0; v < count_; ++v) {
            Voice& voice = voices_[static_cast<std::size_t>(v)];
            if (!voice.keyDown || voice.note != note || voice.channel != ch) continue;
            voice.keyDown = false;
            if (!sustain_) release(voice, absFrame);
        }
    }

    static void fillConstant(const OutputPort& port, int c, int from, int to, float value) noexcept {
        if (!port.connected) return;
        float* x = port.channel(c);
        for (int n = from; n < to; ++n) x[n] = value;
    }

    // Writes frames [from, to) of every output from the current state.
    void fill(const ProcessContext& ctx, int from, int to) noexcept {
        if (to <= from) return;
        const float semitone = 1.0f / 12.0f;
        for (int v = 0; v < count_; ++v) {
            Voice& voice = voices_[static_cast<std::size_t>(v)];
            const ChannelState& st = channels_[static_cast<std::size_t>(stateOf(voice.channel))];
            const float bend = st.bend + (mpe_ ? masterBend_ : 0.0f);
            fillConstant(ctx.out[kPitchOut], v, from, to, static_cast<float>(voice.note - 60) * semitone + bend * bendSemis_ * semitone);
            const OutputPort& gate = ctx.out[kGateOut];
            fillConstant(gate, v, from, to, voice.active ? 1.0f : 0.0f);
            if (voice.dip >= from && voice.dip < to) {
                if (gate.connected) gate.channel(v)[voice.dip] = 0.0f;
                voice.dip = -1;
            }
            fillConstant(ctx.out[kVelocityOut], v, from, to, voice.velocity);
            fillConstant(ctx.out[kAftertouchOut], v, from, to, voice.pressure);
            fillConstant(ctx.out[kBendOut], v, from, to, st.bend);
            fillConstant(ctx.out[kModOut], v, from, to, mod_);
            fillConstant(ctx.out[kSlideOut], v, from, to, st.slide);
            const int pulse = std::min(voice.retrig, to - from);
            fillConstant(ctx.out[kRetrigOut], v, from, from + pulse, 1.0f);
            fillConstant(ctx.out[kRetrigOut], v, from + pulse, to, 0.0f);
            voice.retrig -= pulse;
        }
    }

    std::array<Voice, kMaxChannels> voices_{};
    std::array<ChannelState, 17> channels_{};
    float masterBend_ = 0.0f;
    float mod_ = 0.0f;
    bool sustain_ = false;
    std::uint64_t age_ = 0;
    int lastVoice_ = -1;
    int retrigFrames_ = 48;
    // Per block.
    int count_ = 1;
    int mode_ = kRotate;
    bool mpe_ = false;
    int channelFilter_ = 0;
    float bendSemis_ = 2.0f;
};

const ModuleDescriptor kMidi{
    .id = "midi",
    .name = "MIDI to Pitch",
    .category = "MIDI",
    .help =
        "Turns the MIDI notes and controllers of every MIDI input into voices: one output channel "
        "per voice (Voices, 1-16). Pitch is in octaves re C4 (note 60 = 0, 12-TET: note n gives "
        "(n - 60)/12, plus pitch bend x Bend range / 12; patch a tuner between this and an "
        "oscillator for other tunings); it holds its value after the note ends, so release tails "
        "keep their pitch. Outputs change exactly at each event's frame. Note-on with velocity 0 "
        "is a note-off. A new note on a voice whose gate is high (stolen, or the same note struck "
        "again) sends the gate low for one sample, so envelopes retrigger; Retrig also gives a "
        "1 ms pulse at every note-on. Voice allocation (Mode): rotate takes the next free voice "
        "after the last one used, cyclically, and when all are busy steals the voice after the "
        "last one used; reuse gives a note the free voice that last played the same note, else "
        "the lowest free voice; lowest always takes the lowest free voice. With reuse and lowest, "
        "when all are busy the oldest note whose key is up (held by the sustain pedal) is stolen, "
        "else the oldest note. A stolen note is forgotten (its note-off does nothing). Sustain "
        "pedal (CC64 >= 64) holds released notes; CC123 (all notes off) and CC120 (all sound off) "
        "release every voice; CC121 resets bend, pressure, mod wheel, slide and the pedal. "
        "Channel picks one MIDI channel (0 = all). MPE (lower zone): channel 1 is the master "
        "channel (its bend is added to every voice's pitch; its mod wheel, pedal and CC120/123 "
        "apply to all), channels 2-16 carry one note each, and each voice's bend, pressure and "
        "slide (CC74) follow its own channel; Channel is ignored.",
    .inputs = {},
    .outputs =
        {{.id = "pitch", .name = "Pitch", .kind = SignalKind::Pitch, .help = "octaves re C4: (note - 60)/12 + bend x range/12"},
         {.id = "gate", .name = "Gate", .kind = SignalKind::Gate, .help = "1 while the key (or the sustain pedal) holds the note"},
         {.id = "velocity", .name = "Velocity", .kind = SignalKind::Control, .help = "note-on velocity / 127, held until the next note"},
         {.id = "aftertouch",
          .name = "Aftertouch",
          .kind = SignalKind::Control,
          .help = "0..1: channel pressure (MPE: the voice's channel) or poly pressure on the voice's note"},
         {.id = "bend",
          .name = "Bend",
          .kind = SignalKind::Control,
          .help = "pitch bend -1..1 (MPE: the voice's channel; the master channel's bend goes to Pitch only)"},
         {.id = "modwheel", .name = "Mod wheel", .kind = SignalKind::Control, .help = "CC1 / 127, the same on every voice"},
         {.id = "retrig", .name = "Retrig", .kind = SignalKind::Gate, .help = "a 1 ms pulse (at least 1 sample) at each note-on"},
         {.id = "slide", .name = "Slide", .kind = SignalKind::Control, .help = "CC74 / 127 (MPE: the voice's channel)"}},
    .params = {{.id = "voices",
                .name = "Voices",
                .min = 1.0f,
                .max = 16.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "voices: the channel count of every output",
                .structural = true},
               {.id = "channel",
                .name = "Channel",
                .min = 0.0f,
                .max = 16.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "MIDI channel 1-16 to follow, 0 for all (ignored with MPE)"},
               {.id = "mode",
                .name = "Mode",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"rotate", "reuse", "lowest"},
                .help = "voice allocation (see the help above)"},
               {.id = "bend_range",
                .name = "Bend range",
                .min = 0.0f,
                .max = 48.0f,
                .defaultValue = 2.0f,
                .unit = "semitones",
                .help = "pitch change at full bend (MPE controllers often use 48)"},
               {.id = "mpe",
                .name = "MPE",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "MPE lower zone: per-channel bend, pressure and slide per voice, master channel 1"}},
    .create = [] { return std::unique_ptr<Module>(new MidiToPitch(kMidi)); },
};
const RegisterModule registerMidi{kMidi};

}  // namespace
}  // namespace kabel
