// SignalTap: the newest stretch of a signal, for the editor's scopes, spectra and cable probes.
//
// Design note. The audio thread writes every block into a ring (one per channel) and never
// waits; the UI thread copies the newest frames when it draws. The samples are relaxed atomics,
// so a reader racing the writer sees each sample whole (no undefined behaviour, clean under
// ThreadSanitizer); the write position is published with release/acquire, and a reader that
// the writer lapped while copying notices it (the position moved by more than the ring's slack)
// and copies again. Only the frames a display needs cross (STYLE.md §6: data is thinned before
// it crosses): the reader asks for exactly as many frames as it will draw.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

namespace kabel {

class SignalTap {
public:
    /// UI thread: a ring of at least `capacity` frames (rounded up to a power of two) for each of
    /// `channels` channels.
    SignalTap(int channels, int capacity)
        : channels_(channels),
          capacity_(static_cast<int>(std::bit_ceil(static_cast<unsigned>(std::max(capacity, 2))))),
          mask_(static_cast<std::uint64_t>(capacity_ - 1)),
          data_(new std::atomic<float>[static_cast<std::size_t>(channels) * static_cast<std::size_t>(capacity_)]) {
        for (std::size_t i = 0; i < static_cast<std::size_t>(channels) * static_cast<std::size_t>(capacity_); ++i)
            data_[i].store(0.0f, std::memory_order_relaxed);
    }

    int channels() const noexcept { return channels_; }
    int capacity() const noexcept { return capacity_; }

    /// Audio thread: appends `frames` frames of channel `c`. Call for every channel of a block,
    /// then commit(frames) once.
    void write(int c, const float* samples, int frames) noexcept {
        const std::uint64_t start = written_.load(std::memory_order_relaxed);
        std::atomic<float>* ring = data_.get() + static_cast<std::ptrdiff_t>(c) * capacity_;
        for (int n = 0; n < frames; ++n) ring[(start + static_cast<std::uint64_t>(n)) & mask_].store(samples[n], std::memory_order_relaxed);
    }
    /// Audio thread: publishes the frames written since the last commit.
    void commit(int frames) noexcept { written_.fetch_add(static_cast<std::uint64_t>(frames), std::memory_order_release); }

    /// Any thread: frames written since the tap was made.
    std::uint64_t written() const noexcept { return written_.load(std::memory_order_acquire); }

    /// UI thread: copies the newest `frames` frames of channel `c` into `out` (oldest first) and
    /// returns how many were available (fewer at the start; at most capacity - 1 block's slack).
    int read(int c, float* out, int frames) const {
        frames = std::min(frames, capacity_ / 2);
        for (int attempt = 0; attempt < 8; ++attempt) {
            const std::uint64_t end = written_.load(std::memory_order_acquire);
            const int n = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(frames), end));
            const std::atomic<float>* ring = data_.get() + static_cast<std::ptrdiff_t>(c) * capacity_;
            for (int i = 0; i < n; ++i)
                out[i] =
                    ring[(end - static_cast<std::uint64_t>(n) + static_cast<std::uint64_t>(i)) & mask_].load(std::memory_order_relaxed);
            // The writer may have overwritten what we read if it advanced by more than the slack.
            const std::uint64_t after = written_.load(std::memory_order_acquire);
            if (after - end <= static_cast<std::uint64_t>(capacity_ - n)) return n;
        }
        return 0;
    }

private:
    int channels_;
    int capacity_;
    std::uint64_t mask_;
    std::unique_ptr<std::atomic<float>[]> data_;
    std::atomic<std::uint64_t> written_{0};
};

}  // namespace kabel
