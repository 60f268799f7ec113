#include "core/midi/midi_map.hpp"

#include <algorithm>
#include <cmath>

#include "core/module/module.hpp"

namespace kabel {
namespace {

constexpr std::uint32_t kReported = 0x80000000u;

std::uint32_t packControl(MidiSource source, int channel, int number) noexcept {
    return kReported | (static_cast<std::uint32_t>(source) << 24) | (static_cast<std::uint32_t>(channel) << 16) |
           static_cast<std::uint32_t>(number);
}

MidiControl unpackControl(std::uint32_t v) noexcept {
    MidiControl c;
    c.source = static_cast<MidiSource>((v >> 24) & 0x7F);
    c.channel = static_cast<int>((v >> 16) & 0xFF);
    c.number = static_cast<int>(v & 0xFFFF);
    return c;
}

bool continuous(MidiSource s) noexcept {
    return s != MidiSource::Note;
}

// Learn's evidence word about a reported plain CC: bits 0..3 the values seen (saturating at 15),
// 4..10 the last value, 11 a value arrived twice in a row, 12 every value was a small two's
// complement step (1..15 or 113..127), 13 every value was a small binary-offset step (49..79, not 64).
constexpr std::uint32_t kRepeat = 1u << 11, kAllTwoC = 1u << 12, kAllBin = 1u << 13;

bool smallTwoC(int v) noexcept {
    return (v >= 1 && v <= 15) || (v >= 113 && v <= 127);
}
bool smallBin(int v) noexcept {
    return v >= 49 && v <= 79 && v != 64;
}

std::uint32_t firstEvidence(int value) noexcept {
    return 1u | (static_cast<std::uint32_t>(value) << 4) | (smallTwoC(value) ? kAllTwoC : 0u) | (smallBin(value) ? kAllBin : 0u);
}

std::uint32_t nextEvidence(std::uint32_t e, int value) noexcept {
    const std::uint32_t count = std::min<std::uint32_t>((e & 15u) + 1u, 15u);
    const auto last = static_cast<int>((e >> 4) & 127u);
    std::uint32_t flags = e & (kRepeat | kAllTwoC | kAllBin);
    if (value == last) flags |= kRepeat;
    if (!smallTwoC(value)) flags &= ~kAllTwoC;
    if (!smallBin(value)) flags &= ~kAllBin;
    return count | (static_cast<std::uint32_t>(value) << 4) | flags;
}

// Endless encoders repeat small steps (1, 1, 1 or 127, 127 or 65, 65); knobs and faders move
// through values and send each once. Sign-magnitude is never guessed: 1..63 reads as two's
// complement up, 65..79 as binary offset up (docs/midi.md, "Learn").
void describeEvidence(std::uint32_t e, MidiControl& c) noexcept {
    c.messages = static_cast<int>(e & 15u);
    c.mode = MidiMode::Absolute;
    if (c.messages >= 2 && (e & kRepeat)) {
        if (e & kAllTwoC)
            c.mode = MidiMode::Relative2c;
        else if (e & kAllBin)
            c.mode = MidiMode::RelativeBin;
    }
}

}  // namespace

std::optional<MidiSource> parseMidiSource(std::string_view name) noexcept {
    if (name == "cc") return MidiSource::Cc;
    if (name == "cc14") return MidiSource::Cc14;
    if (name == "nrpn") return MidiSource::Nrpn;
    if (name == "note") return MidiSource::Note;
    if (name == "pitchbend") return MidiSource::PitchBend;
    if (name == "pressure") return MidiSource::Pressure;
    if (name == "polypressure") return MidiSource::PolyPressure;
    return std::nullopt;
}

std::string_view midiSourceName(MidiSource source) noexcept {
    switch (source) {
        case MidiSource::Cc:
            return "cc";
        case MidiSource::Cc14:
            return "cc14";
        case MidiSource::Nrpn:
            return "nrpn";
        case MidiSource::Note:
            return "note";
        case MidiSource::PitchBend:
            return "pitchbend";
        case MidiSource::Pressure:
            return "pressure";
        case MidiSource::PolyPressure:
            return "polypressure";
    }
    return "cc";
}

std::optional<MidiCurve> parseMidiCurve(std::string_view name) noexcept {
    if (name == "linear") return MidiCurve::Linear;
    if (name == "exponential") return MidiCurve::Exponential;
    if (name == "toggle") return MidiCurve::Toggle;
    return std::nullopt;
}

std::optional<MidiMode> parseMidiMode(std::string_view name) noexcept {
    if (name == "absolute") return MidiMode::Absolute;
    if (name == "relative2c") return MidiMode::Relative2c;
    if (name == "relativeBin") return MidiMode::RelativeBin;
    if (name == "relativeSign") return MidiMode::RelativeSign;
    return std::nullopt;
}

std::string_view midiModeName(MidiMode mode) noexcept {
    switch (mode) {
        case MidiMode::Absolute:
            return "absolute";
        case MidiMode::Relative2c:
            return "relative2c";
        case MidiMode::RelativeBin:
            return "relativeBin";
        case MidiMode::RelativeSign:
            return "relativeSign";
    }
    return "absolute";
}

int relativeSteps(MidiMode mode, int value) noexcept {
    switch (mode) {
        case MidiMode::Absolute:
            return 0;
        case MidiMode::Relative2c:  // 7-bit two's complement: 64 is -64
            return value < 64 ? value : value - 128;
        case MidiMode::RelativeBin:
            return value - 64;
        case MidiMode::RelativeSign:  // bit 6 is the sign: 64 is "minus zero"
            return value < 64 ? value : 64 - value;
    }
    return 0;
}

std::uint32_t MidiMapTable::key(MidiSource source, int number) noexcept {
    return (static_cast<std::uint32_t>(source) << 16) | static_cast<std::uint32_t>(number);
}

void MidiMapTable::add(std::shared_ptr<Module> owner, const MidiMapEntry& entry) {
    MidiMapEntry e = entry;
    // Geometric steps need a range that does not touch or cross zero.
    const bool geometric = (e.min > 0.0f && e.max > 0.0f) || (e.min < 0.0f && e.max < 0.0f);
    if (e.curve == MidiCurve::Exponential && !geometric) e.curve = MidiCurve::Linear;
    // Relative steps need a source with a 7-bit value and a continuous curve.
    if (e.source != MidiSource::Cc || e.curve == MidiCurve::Toggle) e.mode = MidiMode::Absolute;
    if (!(e.step > 0.0f && e.step <= 1.0f)) e.step = 0.0f;
    e.module = owner.get();
    // Sorted by (source, number), document order within a key: the audio thread binary-searches.
    const std::uint32_t k = key(e.source, e.number);
    const auto at = static_cast<std::size_t>(std::upper_bound(keys_.begin(), keys_.end(), k) - keys_.begin());
    const auto offset = static_cast<std::ptrdiff_t>(at);
    keys_.insert(keys_.begin() + offset, k);
    entries_.insert(entries_.begin() + offset, e);
    state_.insert(state_.begin() + offset, State{});
    logRatio_.insert(logRatio_.begin() + offset,
                     e.curve == MidiCurve::Exponential ? static_cast<float>(std::log(static_cast<double>(e.max) / e.min)) : 0.0f);
    owners_.insert(owners_.begin() + offset, std::move(owner));
}

MidiMapper::MidiMapper() noexcept = default;

void MidiMapper::adopt(MidiMapTable& next, const MidiMapTable* previous) noexcept {
    if (!previous || next.resetPickup) return;
    for (std::size_t i = 0; i < next.entries_.size(); ++i) {
        const MidiMapEntry& n = next.entries_[i];
        for (std::size_t j = 0; j < previous->entries_.size(); ++j) {
            const MidiMapEntry& p = previous->entries_[j];
            if (p.module == n.module && p.param == n.param && p.source == n.source && p.channel == n.channel && p.number == n.number &&
                p.port == n.port && p.mode == n.mode) {
                next.state_[i] = previous->state_[j];
                break;
            }
        }
    }
}

bool MidiMapper::peekLearned(MidiControl& control) const noexcept {
    const std::uint32_t v = learn_.load(std::memory_order_acquire);
    if (!(v & kReported)) return false;
    control = unpackControl(v);
    if (control.source == MidiSource::Cc) describeEvidence(evidence_.load(std::memory_order_acquire), control);
    return true;
}

bool MidiMapper::takeLearned(MidiControl& control) noexcept {
    std::uint32_t v = learn_.load(std::memory_order_acquire);
    while (v & kReported) {
        if (learn_.compare_exchange_weak(v, 0, std::memory_order_acq_rel)) {
            control = unpackControl(v);
            if (control.source == MidiSource::Cc) describeEvidence(evidence_.load(std::memory_order_acquire), control);
            return true;
        }
    }
    return false;
}

void MidiMapper::learn(const Update& u) noexcept {
    std::uint32_t v = learn_.load(std::memory_order_relaxed);
    if (v == 0) return;
    if (v == kArmed) {
        if (!u.learnable) return;
        // Poly pressure is learned for every note: a key's pressure is rarely meant alone.
        const int number = u.source == MidiSource::PolyPressure ? kMidiAnyNote : u.number;
        if (u.source == MidiSource::Cc) evidence_.store(firstEvidence(u.raw), std::memory_order_relaxed);
        learn_.compare_exchange_strong(v, packControl(u.source, u.channel, number), std::memory_order_acq_rel);
        return;
    }
    // A reported MSB (cc 0..31) whose LSB follows before the UI took it: a 14-bit pair.
    if (u.upgrade && v == packControl(MidiSource::Cc, u.channel, u.number)) {
        learn_.compare_exchange_strong(v, packControl(MidiSource::Cc14, u.channel, u.number), std::memory_order_acq_rel);
        return;
    }
    // More values of a reported plain CC: evidence for an endless encoder (or against it).
    if (u.source == MidiSource::Cc && v == packControl(MidiSource::Cc, u.channel, u.number))
        evidence_.store(nextEvidence(evidence_.load(std::memory_order_relaxed), u.raw), std::memory_order_release);
}

namespace {

// The control position 0..1 of a param value under an entry's range and curve.
float positionOf(const MidiMapEntry& e, float logRatio, float value) noexcept {
    float x = 0.0f;
    if (e.curve == MidiCurve::Exponential) {
        const float ratio = value / e.min;
        x = ratio > 0.0f ? std::log(ratio) / logRatio : 0.0f;
    } else if (e.max != e.min) {
        x = (value - e.min) / (e.max - e.min);
    }
    return std::clamp(x, 0.0f, 1.0f);
}

float valueAt(const MidiMapEntry& e, float logRatio, float x) noexcept {
    return e.curve == MidiCurve::Exponential ? e.min * std::exp(x * logRatio) : e.min + (e.max - e.min) * x;
}

}  // namespace

void MidiMapper::dispatch(const Update& u, MidiMapTable* table) noexcept {
    if (learn_.load(std::memory_order_relaxed) != 0) learn(u);
    if (!table) return;
    const std::uint32_t k = MidiMapTable::key(u.source, u.number);
    const auto& keys = table->keys_;
    const std::size_t n = keys.size();
    for (auto i = static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), k) - keys.begin()); i < n && keys[i] == k; ++i) {
        const MidiMapEntry& e = table->entries_[i];
        if (e.channel != 0 && e.channel != u.channel) continue;
        if (e.port >= 0 && e.port != u.port) continue;
        MidiMapTable::State& s = table->state_[i];
        Module& m = *e.module;
        const float current = m.param(e.param);
        if (e.curve == MidiCurve::Toggle) {
            if (u.delta != 0) continue;  // NRPN increments do not press
            // A press flips to whichever end the param is farther from.
            if (u.press && !s.pressed) m.setParam(e.param, std::fabs(current - e.max) < std::fabs(current - e.min) ? e.min : e.max);
            s.pressed = u.press;
            s.engaged = false;
            continue;
        }
        const float logRatio = table->logRatio_[i];
        const int steps = e.mode != MidiMode::Absolute ? relativeSteps(e.mode, u.raw) : u.delta;
        if (steps != 0 || e.mode != MidiMode::Absolute) {
            if (steps == 0) continue;  // an encoder's "no motion" value
            // Relative: step from where the param is. While it still holds what this entry wrote,
            // from the exact position written (a stepped param rounds, a float would drift).
            const float step = e.step > 0.0f ? e.step : (u.delta != 0 ? u.unit : 1.0f / 127.0f);
            const float from = s.engaged && current == s.lastWritten ? s.lastX : positionOf(e, logRatio, current);
            const float x = std::clamp(from + static_cast<float>(steps) * step, 0.0f, 1.0f);
            m.setParam(e.param, valueAt(e, logRatio, x));
            s.lastWritten = m.param(e.param);
            s.lastX = x;
            s.engaged = true;
            s.haveTarget = false;
            continue;
        }
        const float target = valueAt(e, logRatio, u.x);
        if (e.pickup && continuous(u.source) && !(s.engaged && current == s.lastWritten)) {
            // Not holding the param (a load, or another source moved it): take over only when the
            // control comes within 1/64 of the range of the value or crosses it.
            const float near = std::fabs(e.max - e.min) * (1.0f / 64.0f);
            const bool crossed =
                std::fabs(target - current) <= near || (s.haveTarget && (s.lastTarget - current) * (target - current) <= 0.0f);
            s.lastTarget = target;
            s.haveTarget = true;
            if (!crossed) {
                s.engaged = false;
                continue;
            }
        }
        m.setParam(e.param, target);
        s.lastWritten = m.param(e.param);
        s.lastTarget = target;
        s.lastX = u.x;
        s.haveTarget = true;
        s.engaged = true;
    }
}

// Divisions, not reciprocals: the top value then maps to exactly 1.
constexpr float k7 = 127.0f;
constexpr float k14 = 16383.0f;

void MidiMapper::controlChange(int port, int ch, int n, int v, MidiMapTable* table) noexcept {
    ChannelState& c = channels_[std::min(port, kTrackedPorts - 1)][ch];
    const int chan = ch + 1;
    // Data entry and increment/decrement for a selected (N)RPN belong to it, never to the controller.
    const bool data = (n == 6 || n == 38 || n == 96 || n == 97) && c.selected != 0;
    bool plainLearnable = !data;
    if (n < 32) {
        c.msb[n] = static_cast<std::uint8_t>(v);
        c.msbSeen |= 1u << n;
        dispatch(Update{MidiSource::Cc14, port, chan, n, (v << 7) / k14, v >= 64, false, false}, table);
    } else if (n < 64 && (c.msbSeen >> (n - 32) & 1u)) {
        const int full = (c.msb[n - 32] << 7) | v;
        dispatch(Update{MidiSource::Cc14, port, chan, n - 32, full / k14, full >= 8192, !data, !data}, table);
        plainLearnable = false;
    }
    if (n == 99 || n == 98) {
        (n == 99 ? c.nrpnMsb : c.nrpnLsb) = static_cast<std::uint8_t>(v);
        c.selected = c.nrpnMsb == 127 && c.nrpnLsb == 127 ? 0 : 1;  // 127/127: null, like the RPN's
        c.dataMsb = 0;
        plainLearnable = false;
    } else if (n == 101 || n == 100) {
        (n == 101 ? c.rpnMsb : c.rpnLsb) = static_cast<std::uint8_t>(v);
        c.selected = c.rpnMsb == 127 && c.rpnLsb == 127 ? 0 : 2;  // 127/127: RPN null deselects
        plainLearnable = false;
    } else if (data && c.selected == 1) {
        const int number = (c.nrpnMsb << 7) | c.nrpnLsb;
        // 14-bit data once this NRPN's LSB (CC 38) has been seen; until then CC 6 is the whole
        // 7-bit value, so a device that sends CC 6 only reaches the top of the range.
        const bool fine = c.fineNumber == number;
        Update u{MidiSource::Nrpn, port, chan, number, 0.0f, false, true, false};
        if (n == 6) {
            c.dataMsb = static_cast<std::uint8_t>(v);
            u.x = fine ? (v << 7) / k14 : v / k7;
            u.press = v >= 64;
        } else if (n == 38) {
            c.fineNumber = number;
            const int full = (c.dataMsb << 7) | v;
            u.x = full / k14;
            u.press = full >= 8192;
        } else {
            u.delta = n == 96 ? 1 : -1;  // the value byte is "don't care" (RP-018)
            u.unit = fine ? 1.0f / k14 : 1.0f / k7;
        }
        dispatch(u, table);
    }
    Update plain{MidiSource::Cc, port, chan, n, v / k7, v >= 64, plainLearnable, false};
    plain.raw = v;
    dispatch(plain, table);
}

void MidiMapper::apply(std::span<const MidiEvent> events, MidiMapTable* table) noexcept {
    for (const MidiEvent& e : events) {
        if (!e.isChannelMessage()) continue;
        const int ch = e.channel();
        const int chan = ch + 1;
        const int port = e.port;
        switch (e.type()) {
            case 0x80:
            case 0x90: {
                const bool on = e.isNoteOn();
                dispatch(Update{MidiSource::Note, port, chan, e.data1, on ? e.data2 / k7 : 0.0f, on, on, false}, table);
                break;
            }
            case 0xA0: {
                // Each key's pressure reaches the mappings of its note, then those of every note.
                const float x = e.data2 / k7;
                dispatch(Update{MidiSource::PolyPressure, port, chan, e.data1, x, e.data2 >= 64, true, false}, table);
                dispatch(Update{MidiSource::PolyPressure, port, chan, kMidiAnyNote, x, e.data2 >= 64, false, false}, table);
                break;
            }
            case 0xD0:
                dispatch(Update{MidiSource::Pressure, port, chan, 0, e.data1 / k7, e.data1 >= 64, true, false}, table);
                break;
            case 0xE0: {
                // Centre (8192) is exactly the middle of the range: each half scales on its own.
                const int v = e.data1 | (e.data2 << 7);
                const float x = v <= 8192 ? v * (0.5f / 8192.0f) : 0.5f + (v - 8192) * 0.5f / 8191.0f;
                dispatch(Update{MidiSource::PitchBend, port, chan, 0, x, v >= 8192, true, false}, table);
                break;
            }
            case 0xB0:
                controlChange(port, ch, e.data1, e.data2, table);
                break;
            default:
                break;
        }
    }
}

}  // namespace kabel
