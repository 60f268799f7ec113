// MIDI-mapped parameters and MIDI learn (docs/midi.md, "MIDI learn").
//
// Design note. The Session resolves the document's `midi_map` into a MidiMapTable off the audio
// thread: each mapping becomes a MidiMapEntry (target Module* + param index, range, curve,
// pickup), and the table keeps the modules alive (shared_ptr) until it is freed on the UI thread.
// The Engine hands tables to the audio thread the way it hands plans (one atomic slot, retired
// tables come back through a queue). On the audio thread the MidiMapper walks each block's events
// before the modules run: it turns them into control updates (7-bit CC, 14-bit CC pairs, NRPN with
// per-port, per-channel selection state and data increment/decrement, notes, pitch bend, channel
// and poly pressure), scales each update through the matching entries' curves (or, for relative
// entries, steps from the param's current position) and writes the param atomics. The only mutable part of a table is
// each entry's pickup/toggle state, written by the audio thread alone; when a new table replaces
// an old one the state of unchanged mappings carries over (unless the table comes from a patch
// load). Learn is one atomic word: armed by the UI thread, filled by the audio thread with the next
// mappable control, taken back by the UI thread; a second word collects evidence about a reported
// plain CC (how many values, repeats) so that the UI can tell an endless encoder from a knob.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/midi/midi_event.hpp"

namespace kabel {

class Module;

enum class MidiSource : std::uint8_t { Cc, Cc14, Nrpn, Note, PitchBend, Pressure, PolyPressure };
enum class MidiCurve : std::uint8_t { Linear, Exponential, Toggle };
/// How a CC's value moves the param: absolute position, or signed steps of an endless encoder
/// (two's complement 1..63 up / 65..127 down; binary offset 64 +- n; sign-magnitude 1..63 up /
/// 65..127 down by value - 64).
enum class MidiMode : std::uint8_t { Absolute, Relative2c, RelativeBin, RelativeSign };

/// Poly pressure mapped to every note (the patch omits "number"): the table's number for it.
inline constexpr int kMidiAnyNote = 128;

/// "cc", "cc14", "nrpn", "note", "pitchbend", "pressure", "polypressure" (the patch format's names).
std::optional<MidiSource> parseMidiSource(std::string_view name) noexcept;
std::string_view midiSourceName(MidiSource source) noexcept;
/// "linear", "exponential", "toggle".
std::optional<MidiCurve> parseMidiCurve(std::string_view name) noexcept;
/// "absolute", "relative2c", "relativeBin", "relativeSign".
std::optional<MidiMode> parseMidiMode(std::string_view name) noexcept;
std::string_view midiModeName(MidiMode mode) noexcept;
/// Signed steps of one relative CC value (0 for Absolute and for the "no motion" values).
int relativeSteps(MidiMode mode, int value) noexcept;

/// A control as learn reports it: channel 1..16; number 0 for pitchbend and pressure,
/// kMidiAnyNote for poly pressure. `mode` is learn's guess for a plain CC (docs/midi.md, "Learn");
/// `messages` how many values of the control learn has seen (a plain CC: up to 15; others 1).
struct MidiControl {
    MidiSource source = MidiSource::Cc;
    int channel = 1;
    int number = 0;
    MidiMode mode = MidiMode::Absolute;
    int messages = 1;
    bool operator==(const MidiControl&) const = default;
};

/// One resolved mapping.
struct MidiMapEntry {
    Module* module = nullptr;
    int param = 0;
    MidiSource source = MidiSource::Cc;
    int channel = 0;  // 1..16, 0 = any
    int port = -1;    // engine MIDI input port 0..255, -1 = any
    int number = 0;   // controller, 14-bit controller (0..31), NRPN or note number (poly pressure:
                      // kMidiAnyNote for every note); 0 otherwise
    float min = 0.0f;
    float max = 1.0f;
    MidiCurve curve = MidiCurve::Linear;  // exponential falls back to linear unless min, max have one sign
    MidiMode mode = MidiMode::Absolute;   // relative modes: source Cc with a continuous curve only
    float step = 0.0f;                    // relative: control position (0..1) per step; 0 = default
                                          // (1/127; NRPN increment: the data resolution)
    bool pickup = true;                   // soft takeover (absolute continuous curves of continuous sources)
};

/// The audio thread's mapping table. Built on the UI thread (add()), then handed to the engine and
/// not changed again except for the per-entry state, which only the audio thread touches.
class MidiMapTable {
public:
    /// UI thread. `owner` keeps the target alive as long as the table.
    void add(std::shared_ptr<Module> owner, const MidiMapEntry& entry);
    /// UI thread, before submitting: true for a table from a patch load (every control starts
    /// "not picked up"); false carries the state of unchanged mappings over from the table it replaces.
    bool resetPickup = true;

    /// Sorted by source and number (document order among mappings of one control).
    std::span<const MidiMapEntry> entries() const noexcept { return entries_; }

private:
    friend class MidiMapper;
    struct State {
        float lastWritten = 0.0f;  // the param value this control last wrote
        float lastTarget = 0.0f;   // the control's previous target (crossing detection)
        bool engaged = false;      // lastWritten is valid: the control owns the param while it holds it
        bool haveTarget = false;   // lastTarget is valid
        bool pressed = false;      // toggle: the control is held down
        float lastX = 0.0f;        // relative: the control position last written (exact while engaged)
    };
    static std::uint32_t key(MidiSource source, int number) noexcept;
    std::vector<std::uint32_t> keys_;  // (source, number) of each entry, ascending
    std::vector<MidiMapEntry> entries_;
    std::vector<State> state_;
    std::vector<float> logRatio_;  // exponential: log(max / min)
    std::vector<std::shared_ptr<Module>> owners_;
};

/// Applies a table to each block's events and implements learn. One per engine.
class MidiMapper {
public:
    MidiMapper() noexcept;

    /// Audio thread: makes `next` current, carrying state over from `previous` (may be null)
    /// unless next->resetPickup. O(entries of next x entries of previous), once per new table.
    static void adopt(MidiMapTable& next, const MidiMapTable* previous) noexcept;
    /// Audio thread, before the modules run: applies the block's events (sorted by frame) to the
    /// params of `table` (may be null: then only channel state and learn are updated).
    void apply(std::span<const MidiEvent> events, MidiMapTable* table) noexcept;

    /// Any thread: the next mappable control will be reported (replaces an unread report).
    void armLearn() noexcept { learn_.store(kArmed, std::memory_order_release); }
    /// Any thread.
    void cancelLearn() noexcept { learn_.store(0, std::memory_order_release); }
    /// Any thread: armed and nothing reported yet.
    bool learnArmed() const noexcept { return learn_.load(std::memory_order_acquire) == kArmed; }
    /// UI thread: the reported control without taking it (false while nothing is reported).
    /// While a plain CC stays reported, further values of it refine `messages` and `mode`.
    bool peekLearned(MidiControl& control) const noexcept;
    /// UI thread: takes the reported control (the slot goes idle). A CC 0..31 reported is upgraded
    /// to a 14-bit pair if its LSB (number + 32, same channel) arrives before it is taken.
    bool takeLearned(MidiControl& control) noexcept;

    /// Ports 0..kTrackedPorts-2 keep their own 14-bit and (N)RPN state; higher ports share the last.
    static constexpr int kTrackedPorts = 16;

private:
    struct Update {
        MidiSource source;
        int port;     // engine MIDI input 0..255
        int channel;  // 1..16
        int number;
        float x;     // 0..1 (absolute)
        bool press;  // toggle: the control is "down"
        bool learnable;
        bool upgrade;       // a 14-bit LSB: may upgrade a learned MSB to a cc14 pair
        int raw = 0;        // Cc: the 7-bit value (relative entries decode it)
        int delta = 0;      // Nrpn: +1/-1 for data increment/decrement (0: x is absolute)
        float unit = 0.0f;  // Nrpn increment: the data resolution (1/127 or 1/16383)
    };
    // The (N)RPN and 14-bit state of one channel of one port.
    struct ChannelState {
        std::uint8_t msb[32]{};  // last MSB of controllers 0..31
        std::uint32_t msbSeen = 0;
        std::uint8_t nrpnMsb = 0, nrpnLsb = 0, rpnMsb = 127, rpnLsb = 127;
        std::uint8_t selected = 0;  // 0 none (or RPN/NRPN null), 1 NRPN, 2 RPN
        std::uint8_t dataMsb = 0;
        int fineNumber = -1;  // the NRPN whose data entry LSB (CC 38) was seen: 14-bit data
    };
    void dispatch(const Update& u, MidiMapTable* table) noexcept;
    void learn(const Update& u) noexcept;
    void controlChange(int port, int ch, int n, int v, MidiMapTable* table) noexcept;

    static constexpr std::uint32_t kArmed = 1;
    std::atomic<std::uint32_t> learn_{0};
    // Evidence about a reported plain CC: count (4 bits), last value (7), flags (see midi_map.cpp).
    std::atomic<std::uint32_t> evidence_{0};

    ChannelState channels_[kTrackedPorts][16]{};  // audio thread
};

}  // namespace kabel
