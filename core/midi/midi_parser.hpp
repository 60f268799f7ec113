// MidiParser: raw MIDI bytes (a serial port, ALSA rawmidi, a file's event stream) into messages.
//
// Rules (docs/midi.md has them in full):
// - Channel messages may use running status; system common messages and sysex clear it.
// - Real-time bytes (F8 FA FB FC FE FF) are delivered at once, wherever they arrive, even inside
//   a sysex or between a status byte and its data; they do not disturb the message around them.
// - Undefined status bytes: F9 and FD (real-time) are ignored; F4 and F5 (system common) are
//   ignored and clear running status, so the data bytes after them count as stray.
// - A message cut short by a new status byte is dropped and counted (truncated); so is a sysex
//   ended by any status byte other than F7 (EOX). Data bytes with no status to belong to are
//   dropped and counted (stray), as is an F7 outside a sysex.
// - A sysex (F0 ... F7, both delivered) longer than the parser's capacity is dropped whole and
//   counted (sysexOverflows); nothing is split.
// No allocation after construction, no exceptions: usable on the audio or a MIDI thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/midi/midi_event.hpp"

namespace kabel {

struct MidiParserStats {
    std::uint64_t messages = 0;        // delivered (real-time and sysex included)
    std::uint64_t truncated = 0;       // messages or sysex cut short by a status byte
    std::uint64_t strayBytes = 0;      // data bytes with no status, F7 outside a sysex
    std::uint64_t undefined = 0;       // F4 F5 F9 FD
    std::uint64_t sysexOverflows = 0;  // sysex longer than the capacity, dropped
};

/// One parsed message. `sysex` (F0 ... F7) is valid only during the callback.
struct MidiMessage {
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;
    std::uint32_t sysexLength = 0;
    const std::uint8_t* sysex = nullptr;
};

class MidiParser {
public:
    /// Allocates the sysex buffer (maxSysex bytes, F0 and F7 included; at least 2).
    explicit MidiParser(std::size_t maxSysex = kMaxSysexBytesPerBlock);

    /// Feeds bytes; calls onMessage(const MidiMessage&) for each complete message, in order.
    template <typename F>
    void parse(const std::uint8_t* data, std::size_t size, F&& onMessage) noexcept {
        for (std::size_t i = 0; i < size; ++i) feed(data[i], onMessage);
    }

    template <typename F>
    void feed(std::uint8_t byte, F&& onMessage) noexcept {
        MidiMessage m;
        if (step(byte, m)) onMessage(static_cast<const MidiMessage&>(m));
    }

    /// Forgets any partial message and the running status (e.g. after a port reconnects).
    void reset() noexcept;

    const MidiParserStats& stats() const noexcept { return stats_; }
    std::size_t sysexCapacity() const noexcept { return capacity_; }

private:
    // One byte; true when `out` holds a complete message.
    bool step(std::uint8_t byte, MidiMessage& out) noexcept;

    std::unique_ptr<std::uint8_t[]> sysex_;
    std::size_t capacity_;
    std::size_t sysexLength_ = 0;
    bool inSysex_ = false;
    bool sysexOverflow_ = false;
    std::uint8_t status_ = 0;  // running status (or the system common status being assembled); 0: none
    std::uint8_t data_[2] = {0, 0};
    int have_ = 0;          // data bytes received for status_
    bool pending_ = false;  // a message is being assembled (a status or some data received)
    MidiParserStats stats_;
};

}  // namespace kabel
