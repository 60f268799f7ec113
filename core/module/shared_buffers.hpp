// Named audio buffers shared between the modules of one session: a live sampler records the room
// into "loop1", a sampler plays "loop1" (a performer samples on stage, like Pd's arrays or
// SuperCollider's buffers).
//
// Design note. A buffer is allocated on the UI thread at a fixed capacity and never resized or
// freed while a plan may use it (modules hold a shared_ptr; the session's registry keeps it too).
// The audio thread writes and reads its samples: every module runs on the audio thread in plan
// order, so one block's writes happen before (or after) its reads, never at the same time. The
// recorded length is an atomic so the UI thread can show it.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "core/util/aligned_buffer.hpp"

namespace kabel {

class LiveBuffer {
public:
    /// UI thread: `channels` x `capacityFrames` of silence at `sampleRate`.
    LiveBuffer(int channels, std::size_t capacityFrames, double sampleRate)
        : data_(static_cast<std::size_t>(channels) * capacityFrames),
          channels_(channels),
          capacity_(capacityFrames),
          sampleRate_(sampleRate) {}

    int channels() const noexcept { return channels_; }
    std::size_t capacity() const noexcept { return capacity_; }
    double sampleRate() const noexcept { return sampleRate_; }

    /// Audio thread: channel c's samples (capacity() of them).
    float* channel(int c) noexcept { return data_.data() + static_cast<std::size_t>(c) * capacity_; }
    const float* channel(int c) const noexcept { return data_.data() + static_cast<std::size_t>(c) * capacity_; }

    /// Frames recorded so far (0..capacity). Written by the recorder on the audio thread; any
    /// thread may read it.
    std::size_t length() const noexcept { return length_.load(std::memory_order_acquire); }
    void setLength(std::size_t frames) noexcept { length_.store(frames < capacity_ ? frames : capacity_, std::memory_order_release); }

private:
    AlignedFloats data_;
    int channels_;
    std::size_t capacity_;
    double sampleRate_;
    std::atomic<std::size_t> length_{0};
};

/// The buffers of one session, by name. UI thread only.
class SharedBuffers {
public:
    /// The buffer called `name`, or nullptr.
    std::shared_ptr<LiveBuffer> find(const std::string& name) const {
        const auto it = buffers_.find(name);
        return it == buffers_.end() ? nullptr : it->second;
    }

    /// The buffer called `name`, created (or replaced by a larger one) so that it holds at least
    /// `channels` x `capacityFrames`. Modules holding the old one keep it until they ask again.
    std::shared_ptr<LiveBuffer> require(const std::string& name, int channels, std::size_t capacityFrames, double sampleRate) {
        std::shared_ptr<LiveBuffer>& b = buffers_[name];
        if (!b || b->channels() < channels || b->capacity() < capacityFrames || b->sampleRate() != sampleRate)
            b = std::make_shared<LiveBuffer>(channels, capacityFrames, sampleRate);
        return b;
    }

private:
    std::map<std::string, std::shared_ptr<LiveBuffer>> buffers_;
};

}  // namespace kabel
