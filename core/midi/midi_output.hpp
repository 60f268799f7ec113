// MIDI output: messages modules send, stamped with the engine frame they belong to, on their way
// to a device (docs/midi.md, "Clock in and out").
//
// Design note. The path is the input path reversed. During a block, modules append short
// messages (frame offset + up to 3 bytes; no sysex) to the engine's MidiOutputBlock, a fixed
// array reached through ProcessContext::midiOut(); what does not fit is dropped and counted.
// After the block the engine sorts them by frame (stable: equal frames keep the order modules
// ran in, then the order each sent them) and pushes each, stamped with its absolute engine
// frame, into one lock-free single-producer/single-consumer queue (the audio thread produces, a
// device's MIDI thread consumes: the same ring as a MIDI input, MidiInputQueue). The device side
// turns engine frames back into its own clock (JACK: the inverse of the input mapping through
// JackClockBridge) and writes each message at its frame, with a constant latency.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/midi/midi_queue.hpp"

namespace kabel {

/// Messages one engine block can send (more are dropped and counted).
inline constexpr int kMaxMidiOutEventsPerBlock = 256;

/// One message a module sends: its offset inside the block and its bytes (data bytes 0 when the
/// message has none; no sysex).
struct MidiOutEvent {
    std::uint32_t frame = 0;
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;
};

/// The block's outgoing messages. Audio thread only; owned by the engine, cleared each block.
class MidiOutputBlock {
public:
    /// Audio thread: sends `status data1 data2` at `frame` (offset inside the current block).
    /// False (counted) when the block already holds kMaxMidiOutEventsPerBlock messages.
    bool add(std::uint32_t frame, std::uint8_t status, std::uint8_t data1 = 0, std::uint8_t data2 = 0) noexcept {
        if (count_ == kMaxMidiOutEventsPerBlock) {
            ++overflowed_;
            return false;
        }
        events_[static_cast<std::size_t>(count_++)] = MidiOutEvent{frame, status, data1, data2};
        return true;
    }

    /// Audio thread (engine): the block's messages, sorted by frame (stable).
    std::span<const MidiOutEvent> sorted() noexcept {
        for (int i = 1; i < count_; ++i) {  // insertion sort: stable, no memory, linear when sorted
            const MidiOutEvent e = events_[static_cast<std::size_t>(i)];
            int j = i;
            for (; j > 0 && events_[static_cast<std::size_t>(j - 1)].frame > e.frame; --j)
                events_[static_cast<std::size_t>(j)] = events_[static_cast<std::size_t>(j - 1)];
            events_[static_cast<std::size_t>(j)] = e;
        }
        return {events_.data(), static_cast<std::size_t>(count_)};
    }
    int size() const noexcept { return count_; }
    /// Audio thread (engine): empties the block, returning how many messages overflowed it.
    std::uint64_t clear() noexcept {
        const std::uint64_t lost = overflowed_;
        count_ = 0;
        overflowed_ = 0;
        return lost;
    }

private:
    std::array<MidiOutEvent, kMaxMidiOutEventsPerBlock> events_{};
    int count_ = 0;
    std::uint64_t overflowed_ = 0;
};

/// Engine -> device: one producer (the audio thread), one consumer (the device's MIDI thread).
/// Stamps are absolute engine frames, non-decreasing.
using MidiOutputQueue = MidiInputQueue;

}  // namespace kabel
