// MidiClock: maps a time on the steady clock to an engine frame, for stamping live MIDI.
//
// Design note. The audio thread publishes, at each device callback, the engine frame that the
// device is about to play and the steady_clock time at which the callback started (a seqlock:
// the writer never waits; a reader retries in the rare case it overlaps a write). A MIDI thread
// estimates "now" as that frame plus the time elapsed since, in frames, and stamps an event
// with estimate + a constant latency (docs/midi.md: at least one device buffer plus one engine
// block, so the stamped frame has not been rendered yet). The estimate's error is the jitter of
// the callback's wake-up time; a producer that knows exact event times (JACK: the cycle's frame
// time + the event's offset) should map those instead and gets zero jitter.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace kabel {

class MidiClock {
public:
    explicit MidiClock(double sampleRate = 48000.0) : sampleRate_(sampleRate) {}

    /// Nanoseconds on std::chrono::steady_clock.
    static std::int64_t nowNanos() noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }

    /// Audio thread: engine frame `frame` is played at steady time `nanos`.
    void publish(std::uint64_t frame, std::int64_t nanos) noexcept {
        const std::uint32_t s = sequence_.load(std::memory_order_relaxed);
        sequence_.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        frame_.store(frame, std::memory_order_relaxed);
        nanos_.store(nanos, std::memory_order_relaxed);
        sequence_.store(s + 2, std::memory_order_release);
    }

    /// Any thread: the engine frame at steady time `nanos` (never below 0); false before the
    /// first publish().
    bool frameAt(std::int64_t nanos, std::uint64_t& frame) const noexcept {
        std::uint64_t f = 0;
        std::int64_t t = 0;
        if (!load(f, t)) return false;
        const double delta = static_cast<double>(nanos - t) * 1e-9 * sampleRate_;
        const double estimate = static_cast<double>(f) + delta;
        frame = estimate <= 0.0 ? 0 : static_cast<std::uint64_t>(estimate);
        return true;
    }

    /// Any thread: the steady time (nanoseconds) at which engine frame `frame` plays, the inverse
    /// of frameAt() (exact to the nanosecond, no rounding to frames); false before the first
    /// publish(). Used to place a block on a host timeline (Ableton Link, core/sync).
    bool timeAt(std::uint64_t frame, std::int64_t& nanos) const noexcept {
        std::uint64_t f = 0;
        std::int64_t t = 0;
        if (!load(f, t)) return false;
        const double delta = (static_cast<double>(frame) - static_cast<double>(f)) * 1e9 / sampleRate_;
        nanos = t + static_cast<std::int64_t>(std::llround(delta));
        return true;
    }

    double sampleRate() const noexcept { return sampleRate_; }

private:
    // The last published pair (seqlock read); false before the first publish().
    bool load(std::uint64_t& f, std::int64_t& t) const noexcept {
        for (;;) {
            const std::uint32_t s1 = sequence_.load(std::memory_order_acquire);
            if (s1 & 1u) continue;
            f = frame_.load(std::memory_order_relaxed);
            t = nanos_.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (sequence_.load(std::memory_order_relaxed) == s1) return s1 != 0;
        }
    }

    double sampleRate_;
    std::atomic<std::uint32_t> sequence_{0};
    std::atomic<std::uint64_t> frame_{0};
    std::atomic<std::int64_t> nanos_{0};
};

}  // namespace kabel
