// AlignedFloats: an owning, zero-initialised float array aligned for SIMD loads (64 bytes).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace kabel {

class AlignedFloats {
public:
    static constexpr std::size_t kAlignment = 64;

    AlignedFloats() = default;
    /// Allocates `count` floats, all 0. Not for the audio thread.
    explicit AlignedFloats(std::size_t count) : size_(count) {
        if (count == 0) return;
        const std::size_t bytes = (count * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
        data_.reset(static_cast<float*>(std::aligned_alloc(kAlignment, bytes)));
        if (!data_) throw std::bad_alloc();
        std::memset(data_.get(), 0, bytes);
    }

    float* data() noexcept { return data_.get(); }
    const float* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    float& operator[](std::size_t i) noexcept { return data_[i]; }
    float operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    struct Free {
        void operator()(float* p) const noexcept { std::free(p); }
    };
    std::unique_ptr<float[], Free> data_;
    std::size_t size_ = 0;
};

/// Rounds a per-channel frame count up so every channel of a buffer starts 64-byte aligned.
constexpr int alignedStride(int frames) noexcept {
    return (frames + 15) / 16 * 16;
}

}  // namespace kabel
