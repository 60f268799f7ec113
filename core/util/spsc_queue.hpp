// SpscQueue: a bounded, lock-free ring for exactly one producer thread and one consumer thread.
//
// Design note: the audio thread talks to the rest of the program only through queues like this one
// and through atomics (STYLE.md §6). Capacity is fixed when the queue is built, so push() and pop()
// never allocate, lock or wait; a full queue makes push() return false and the producer decides.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace kabel {

template <typename T>
class SpscQueue {
    static_assert(std::is_nothrow_move_assignable_v<T>, "SpscQueue elements must move without throwing");
    static_assert(std::is_default_constructible_v<T>, "SpscQueue elements must be default-constructible");

public:
    /// Any thread, before the queue is shared. Allocates capacity + 1 slots.
    explicit SpscQueue(std::size_t capacity) : slots_(new T[capacity + 1]), size_(capacity + 1) {}

    SpscQueue(const SpscQueue&) = delete;
    SpscQueue& operator=(const SpscQueue&) = delete;

    /// Producer thread. Returns false (and leaves `value` untouched) when the queue is full.
    bool push(T&& value) noexcept {
        const std::size_t tail = tail_.load(std::memory_order_relaxed);
        const std::size_t next = increment(tail);
        if (next == head_.load(std::memory_order_acquire)) return false;
        slots_[tail] = std::move(value);
        tail_.store(next, std::memory_order_release);
        return true;
    }
    bool push(const T& value) noexcept(std::is_nothrow_copy_assignable_v<T>) {
        T copy = value;
        return push(std::move(copy));
    }

    /// Consumer thread. Returns false when the queue is empty.
    bool pop(T& out) noexcept {
        const std::size_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) return false;
        out = std::move(slots_[head]);
        head_.store(increment(head), std::memory_order_release);
        return true;
    }

    /// Producer thread: true when push() would fail now. (The consumer can only make room.)
    bool full() const noexcept { return increment(tail_.load(std::memory_order_relaxed)) == head_.load(std::memory_order_acquire); }

    /// Consumer thread: true when pop() would fail now.
    bool empty() const noexcept { return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire); }

    std::size_t capacity() const noexcept { return size_ - 1; }

private:
    std::size_t increment(std::size_t i) const noexcept { return i + 1 == size_ ? 0 : i + 1; }

    std::unique_ptr<T[]> slots_;
    std::size_t size_;
    alignas(64) std::atomic<std::size_t> head_{0};  // next slot to read; written by the consumer
    alignas(64) std::atomic<std::size_t> tail_{0};  // next slot to write; written by the producer
};

}  // namespace kabel
