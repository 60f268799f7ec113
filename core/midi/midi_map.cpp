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
    return MidiControl{static_cast<MidiSource>((v >> 24) & 0x7F), static_cast<int>((v >> 16) & 0xFF), static_cast<int>(v & 0xFFFF)};
}

bool continuous(MidiSource s) noexcept {
    return s != MidiSource::Note;
}

}  // namespace

std::optional<MidiSource> parseMidiSource(std::string_view name) noexcept {
    if (name == "cc") return MidiSource::Cc;
    if (name == "cc14") return MidiSource::Cc14;
    if (name == "nrpn") return MidiSource::Nrpn;
    if (name == "note") return MidiSource::Note;
    if (name == "pitchbend") return MidiSource::PitchBend;
    if (name == "pressure") return MidiSource::Pressure;
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
    }
    return "cc";
}

std::optional<MidiCurve> parseMidiCurve(std::string_view name) noexcept {
    if (name == "linear") return MidiCurve::Linear;
    if (name == "exponential") return MidiCurve::Exponential;
    if (name == "toggle") return MidiCurve::Toggle;
    return std::nullopt;
}

std::uint32_t MidiMapTable::key(MidiSource source, int number) noexcept {
    return (static_cast<std::uint32_t>(source) << 16) | static_cast<std::uint32_t>(number);
}

void MidiMapTable::add(std::shared_ptr<Module> owner, const MidiMapEntry& entry) {
    MidiMapEntry e = entry;
    // Geometric steps need a range that does not touch or cross zero.
    const bool geometric = (e.min > 0.0f && e.max > 0.0f) || (e.min < 0.0f && e.max < 0.0f);
    if (e.curve == MidiCurve::Exponential && !geometric) e.curve = MidiCurve::Linear;
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
            if (p.module == n.module && p.param == n.param && p.source == n.source && p.channel == n.channel && p.number == n.number) {
                next.state_[i] = previous->state_[j];
                break;
            }
        }
    }
}

bool MidiMapper::takeLearned(MidiControl& control) noexcept {
    std::uint32_t v = learn_.load(std::memory_order_acquire);
    while (v & kReported) {
        if (learn_.compare_exchange_weak(v, 0, std::memory_order_acq_rel)) {
            control = unpackControl(v);
            return true;
        }
    }
    return false;
}

void MidiMapper::learn(const Update& u) noexcept {
    std::uint32_t v = learn_.load(std::memory_order_relaxed);
    if (v == 0) return;
    if (v == kArmed) {
        if (u.learnable) learn_.compare_exchange_strong(v, packControl(u.source, u.channel, u.number), std::memory_order_acq_rel);
        return;
    }
    // A reported MSB (cc 0..31) whose LSB follows before the UI took it: a 14-bit pair.
    if (u.upgrade && v == packControl(MidiSource::Cc, u.channel, u.number))
        learn_.compare_exchange_strong(v, packControl(MidiSource::Cc14, u.channel, u.number), std::memory_order_acq_rel);
}

void MidiMapper::dispatch(const Update& u, MidiMapTable* table) noexcept {
    if (learn_.load(std::memory_order_relaxed) != 0) learn(u);
    if (!table) return;
    const std::uint32_t k = MidiMapTable::key(u.source, u.number);
    const auto& keys = table->keys_;
    const std::size_t n = keys.size();
    for (auto i = static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), k) - keys.begin()); i < n && keys[i] == k; ++i) {
        const MidiMapEntry& e = table->entries_[i];
        if (e.channel != 0 && e.channel != u.channel) continue;
        MidiMapTable::State& s = table->state_[i];
        Module& m = *e.module;
        const float current = m.param(e.param);
        if (e.curve == MidiCurve::Toggle) {
            // A press flips to whichever end the param is farther from.
            if (u.press && !s.pressed) m.setParam(e.param, std::fabs(current - e.max) < std::fabs(current - e.min) ? e.min : e.max);
            s.pressed = u.press;
            s.engaged = false;
            continue;
        }
        const float target =
            e.curve == MidiCurve::Exponential ? e.min * std::exp(u.x * table->logRatio_[i]) : e.min + (e.max - e.min) * u.x;
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
        s.haveTarget = true;
        s.engaged = true;
    }
}

void MidiMapper::apply(std::span<const MidiEvent> events, MidiMapTable* table) noexcept {
    // Divisions, not reciprocals: the top value then maps to exactly 1.
    constexpr float k7 = 127.0f;
    constexpr float k14 = 16383.0f;
    for (const MidiEvent& e : events) {
        if (!e.isChannelMessage()) continue;
        const int ch = e.channel();
        const int chan = ch + 1;
        switch (e.type()) {
            case 0x80:
            case 0x90: {
                const bool on = e.isNoteOn();
                dispatch(Update{MidiSource::Note, chan, e.data1, on ? e.data2 / k7 : 0.0f, on, on, false}, table);
                break;
            }
            case 0xD0:
                dispatch(Update{MidiSource::Pressure, chan, 0, e.data1 / k7, e.data1 >= 64, true, false}, table);
                break;
            case 0xE0: {
                // Centre (8192) is exactly the middle of the range: each half scales on its own.
                const int v = e.data1 | (e.data2 << 7);
                const float x = v <= 8192 ? v * (0.5f / 8192.0f) : 0.5f + (v - 8192) * 0.5f / 8191.0f;
                dispatch(Update{MidiSource::PitchBend, chan, 0, x, v >= 8192, true, false}, table);
                break;
            }
            case 0xB0: {
                const int n = e.data1, v = e.data2;
                // Data entry for a selected (N)RPN is learned as the NRPN, never as a controller.
                const bool dataEntry = (n == 6 || n == 38) && selectMode_[ch] != 0;
                bool plainLearnable = !dataEntry;
                if (n < 32) {
                    msb_[ch][n] = static_cast<std::uint8_t>(v);
                    msbSeen_[ch] |= 1u << n;
                    dispatch(Update{MidiSource::Cc14, chan, n, (v << 7) / k14, v >= 64, false, false}, table);
                } else if (n < 64 && (msbSeen_[ch] >> (n - 32) & 1u)) {
                    const int full = (msb_[ch][n - 32] << 7) | v;
                    dispatch(Update{MidiSource::Cc14, chan, n - 32, full / k14, full >= 8192, !dataEntry, !dataEntry}, table);
                    plainLearnable = false;
                }
                if (n == 99 || n == 98) {
                    (n == 99 ? selectMsb_ : selectLsb_)[ch] = static_cast<std::uint8_t>(v);
                    selectMode_[ch] = 1;
                    plainLearnable = false;
                } else if (n == 101 || n == 100) {
                    (n == 101 ? selectMsb_ : selectLsb_)[ch] = static_cast<std::uint8_t>(v);
                    selectMode_[ch] = selectMsb_[ch] == 127 && selectLsb_[ch] == 127 ? 0 : 2;  // 127/127: RPN null
                    plainLearnable = false;
                } else if (dataEntry) {
                    if (n == 6) dataMsb_[ch] = static_cast<std::uint8_t>(v);
                    const int full = n == 6 ? v << 7 : (dataMsb_[ch] << 7) | v;
                    if (selectMode_[ch] == 1)
                        dispatch(
                            Update{MidiSource::Nrpn, chan, (selectMsb_[ch] << 7) | selectLsb_[ch], full / k14, full >= 8192, true, false},
                            table);
                }
                dispatch(Update{MidiSource::Cc, chan, n, v / k7, v >= 64, plainLearnable, false}, table);
                break;
            }
            default:
                break;
        }
    }
}

}  // namespace kabel
