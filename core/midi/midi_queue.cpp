#include "core/midi/midi_queue.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace kabel {
namespace {

std::size_t powerOfTwo(std::size_t n) {
    return std::bit_ceil(std::max<std::size_t>(n, 2));
}

}  // namespace

MidiInputQueue::MidiInputQueue(std::size_t events, std::size_t sysexBytes)
    : events_(new StampedMidi[powerOfTwo(events)]),
      bytes_(new std::uint8_t[powerOfTwo(sysexBytes)]),
      eventMask_(powerOfTwo(events) - 1),
      byteMask_(powerOfTwo(sysexBytes) - 1) {}

bool MidiInputQueue::push(std::uint64_t frame, const MidiMessage& message) noexcept {
    const std::uint64_t tail = eventTail_.load(std::memory_order_relaxed);
    if (tail - eventHead_.load(std::memory_order_acquire) > eventMask_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    const bool sysex = message.status == 0xF0 && message.sysex != nullptr;
    const std::uint32_t length = sysex ? message.sysexLength : 0;
    if (length > 0) {
        const std::uint64_t used = byteTail_ - byteHeadShared_.load(std::memory_order_acquire);
        if (used + length > byteMask_ + 1) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        // Two copies at most: up to the end of the ring, then from its start.
        const std::size_t at = static_cast<std::size_t>(byteTail_ & byteMask_);
        const std::size_t first = std::min<std::size_t>(length, byteMask_ + 1 - at);
        std::memcpy(bytes_.get() + at, message.sysex, first);
        std::memcpy(bytes_.get(), message.sysex + first, length - first);
        byteTail_ += length;
    }
    StampedMidi& slot = events_[static_cast<std::size_t>(tail & eventMask_)];
    slot.frame = frame;
    slot.status = message.status;
    slot.data1 = message.data1;
    slot.data2 = message.data2;
    slot.sysexLength = length;
    eventTail_.store(tail + 1, std::memory_order_release);
    return true;
}

const StampedMidi* MidiInputQueue::front() const noexcept {
    const std::uint64_t head = eventHead_.load(std::memory_order_relaxed);
    if (head == eventTail_.load(std::memory_order_acquire)) return nullptr;
    return &events_[static_cast<std::size_t>(head & eventMask_)];
}

void MidiInputQueue::pop(std::uint8_t* sysexOut) noexcept {
    const std::uint64_t head = eventHead_.load(std::memory_order_relaxed);
    const std::uint32_t length = events_[static_cast<std::size_t>(head & eventMask_)].sysexLength;
    if (length > 0) {
        if (sysexOut) {
            const std::size_t at = static_cast<std::size_t>(byteHead_ & byteMask_);
            const std::size_t first = std::min<std::size_t>(length, byteMask_ + 1 - at);
            std::memcpy(sysexOut, bytes_.get() + at, first);
            std::memcpy(sysexOut + first, bytes_.get(), length - first);
        }
        byteHead_ += length;
        byteHeadShared_.store(byteHead_, std::memory_order_release);
    }
    eventHead_.store(head + 1, std::memory_order_release);
}

}  // namespace kabel
