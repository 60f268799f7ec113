// MidiEvent: one MIDI message as a module sees it, at its frame inside the current block.
//
// Design note. Events are small PODs in one array per block, owned by the engine, sorted by frame
// (stable: events with equal frames keep their arrival order, ports in index order). A system
// exclusive message points into bytes the engine owns for the block (kMaxSysexBytesPerBlock in
// all; a sysex that does not fit is dropped and counted). Modules read the block's events through
// ProcessContext::midi(); a module that does not look pays nothing.
#pragma once

#include <cstdint>

namespace kabel {

/// Limits of one engine block (documented in docs/midi.md).
inline constexpr int kMaxMidiEventsPerBlock = 1024;
inline constexpr std::uint32_t kMaxSysexBytesPerBlock = 65536;

struct MidiEvent {
    std::uint32_t frame = 0;  // offset inside the block, 0..frames-1
    std::uint8_t port = 0;    // source input port (Engine MIDI input index)
    std::uint8_t status = 0;  // 0x80..0xFF; 0xF0 for a system exclusive message
    std::uint8_t data1 = 0;   // 0..127 (0 when the message has no such byte)
    std::uint8_t data2 = 0;
    std::uint32_t sysexLength = 0;        // sysex only: bytes at `sysex`, from F0 to F7 inclusive
    const std::uint8_t* sysex = nullptr;  // sysex only: valid during this block

    /// The message type nibble for channel messages (0x80 note-off ... 0xE0 pitch bend), else
    /// the status itself (0xF0..0xFF).
    constexpr std::uint8_t type() const noexcept { return status < 0xF0 ? static_cast<std::uint8_t>(status & 0xF0) : status; }
    /// Channel 0..15 for channel messages.
    constexpr int channel() const noexcept { return status & 0x0F; }
    constexpr bool isChannelMessage() const noexcept { return status >= 0x80 && status < 0xF0; }
    constexpr bool isNoteOn() const noexcept { return type() == 0x90 && data2 > 0; }
    /// Note-off, or note-on with velocity 0.
    constexpr bool isNoteOff() const noexcept { return type() == 0x80 || (type() == 0x90 && data2 == 0); }
    /// Pitch bend as -8192..8191.
    constexpr int bend() const noexcept { return (data1 | (data2 << 7)) - 8192; }
};

/// Data bytes that follow a status byte: channel messages and system common; -1 for sysex
/// (variable), 0 for real-time and undefined.
constexpr int midiDataBytes(std::uint8_t status) noexcept {
    if (status < 0x80) return 0;
    if (status < 0xF0) {
        const int type = status & 0xF0;
        return type == 0xC0 || type == 0xD0 ? 1 : 2;
    }
    switch (status) {
        case 0xF0:
            return -1;
        case 0xF1:
        case 0xF3:
            return 1;
        case 0xF2:
            return 2;
        default:
            return 0;
    }
}

}  // namespace kabel
