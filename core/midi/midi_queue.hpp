// MidiInputQueue: the lock-free ring between one MIDI producer thread (a device callback, the
// offline renderer) and the audio thread, for one input port.
//
// Design note. Two single-producer/single-consumer rings: fixed-size events, each stamped with an
// absolute engine frame, and the bytes of their system exclusive messages. The producer writes a
// sysex's bytes first and publishes the event after them (release), so the consumer that sees
// the event (acquire) sees its bytes. Capacities are fixed at construction; a push that does not
// fit returns false and is counted. The consumer can look at the oldest event before taking it,
// which is how the engine leaves events stamped for a later block in the queue.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/midi/midi_parser.hpp"

namespace kabel {

/// An event waiting in a queue: its absolute engine frame and the message.
struct StampedMidi {
    std::uint64_t frame = 0;
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;
    std::uint32_t sysexLength = 0;  // bytes waiting in the queue's byte ring (status 0xF0 only)
};

class MidiInputQueue {
public:
    /// Any thread, before sharing: room for `events` events (rounded up to a power of two) and
    /// `sysexBytes` bytes of sysex (likewise).
    MidiInputQueue(std::size_t events, std::size_t sysexBytes);
    MidiInputQueue(const MidiInputQueue&) = delete;
    MidiInputQueue& operator=(const MidiInputQueue&) = delete;

    /// Producer thread. A message stamped with engine frame `frame`; false (counted in dropped())
    /// when the queue is full or the sysex does not fit.
    bool push(std::uint64_t frame, const MidiMessage& message) noexcept;
    bool push(std::uint64_t frame, std::uint8_t status, std::uint8_t data1 = 0, std::uint8_t data2 = 0) noexcept {
        MidiMessage m;
        m.status = status;
        m.data1 = data1;
        m.data2 = data2;
        return push(frame, m);
    }

    /// Consumer thread: the oldest event, or nullptr when empty. Valid until pop().
    const StampedMidi* front() const noexcept;
    /// Consumer thread: removes the oldest event, copying its sysex bytes to `sysexOut` (room for
    /// front()->sysexLength bytes) unless it is null.
    void pop(std::uint8_t* sysexOut) noexcept;

    /// Any thread: events (and sysex) refused because the queue was full.
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::size_t capacity() const noexcept { return eventMask_ + 1; }
    std::size_t sysexCapacity() const noexcept { return byteMask_ + 1; }

private:
    std::unique_ptr<StampedMidi[]> events_;
    std::unique_ptr<std::uint8_t[]> bytes_;
    std::size_t eventMask_, byteMask_;
    alignas(64) std::atomic<std::uint64_t> eventHead_{0};  // consumer
    std::uint64_t byteHead_ = 0;                           // consumer only (published with eventHead_)
    std::atomic<std::uint64_t> byteHeadShared_{0};         // consumer -> producer
    alignas(64) std::atomic<std::uint64_t> eventTail_{0};  // producer
    std::uint64_t byteTail_ = 0;                           // producer only
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace kabel
