// Engine: runs the current Plan on the audio thread, block by block.
//
// Design note. The UI thread submits a new plan with one atomic exchange into a "pending" slot;
// at the start of a block the audio thread takes it with another exchange, and pushes the plan it
// replaces into a lock-free queue that the UI thread drains (collectGarbage) to free it — so
// nothing is ever freed, allocated or locked on the audio thread, and a plan (with the modules it
// owns) dies only after the audio thread has stopped using it. The engine block (64 frames by
// default) is independent of the device buffer: process() adapts any host buffer size.
// After each block the output stage replaces NaN/Inf with silence (counting them) and a soft
// clipper above 0.9 guards the speakers (transparent below it).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/engine/plan.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/spsc_queue.hpp"

namespace kabel {

struct EngineConfig {
    double sampleRate = 48000.0;
    int blockFrames = 64;
    int outputChannels = 2;
    bool outputGuard = true;  // soft-clip peaks above 0.9 (never affects quieter signals)
};

struct EngineStats {
    std::uint64_t blocks = 0;
    std::uint64_t planSwaps = 0;
    std::uint64_t nonFiniteSamples = 0;  // NaN/Inf replaced by silence at the output
    std::uint64_t guardedSamples = 0;    // samples the output guard softened
    std::uint64_t activeGeneration = 0;  // generation of the plan the audio thread runs
};

class Engine {
public:
    /// UI thread.
    explicit Engine(EngineConfig config);
    /// UI thread, with the audio thread stopped: frees every plan.
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const EngineConfig& config() const noexcept { return config_; }

    /// UI thread: the audio thread takes `plan` at its next block boundary. A plan submitted
    /// earlier and not taken yet is freed here, unused. Lock-free for the audio thread.
    void submit(std::unique_ptr<Plan> plan);

    /// UI thread: frees plans the audio thread has retired. Returns how many.
    int collectGarbage();

    /// Any thread.
    EngineStats stats() const noexcept;
    std::uint64_t activeGeneration() const noexcept { return activeGeneration_.load(std::memory_order_acquire); }

    /// Audio thread: runs one engine block into the block output.
    void processBlock() noexcept;
    /// Audio thread: the last block's output, channel `c` (blockFrames floats).
    const float* blockOutput(int c) const noexcept { return outPointers_[static_cast<std::size_t>(c)]; }

    /// Audio thread: fills `frames` frames of `channels` non-interleaved device buffers, running
    /// as many engine blocks as needed (any host buffer size). Extra device channels get silence.
    void process(float* const* out, int channels, int frames) noexcept;
    /// Audio thread: the same for one interleaved buffer.
    void processInterleaved(float* out, int channels, int frames) noexcept;

private:
    void takePendingPlan() noexcept;
    // Runs engine blocks as needed to hand `frames` frames to the device through
    // copy(deviceOffset, blockOffset, count).
    template <typename Copy>
    void deliver(int frames, Copy&& copy) noexcept;
    void guardOutput() noexcept;

    EngineConfig config_;
    std::atomic<Plan*> pending_{nullptr};
    Plan* current_ = nullptr;  // audio thread only
    SpscQueue<Plan*> retired_;

    AlignedFloats outBlock_;
    std::vector<float*> outPointers_;
    HostBuffers host_;
    int blockPosition_;  // frames of the current block already handed to the device
    std::uint64_t frameCount_ = 0;

    std::atomic<std::uint64_t> blocks_{0};
    std::atomic<std::uint64_t> planSwaps_{0};
    std::atomic<std::uint64_t> nonFinite_{0};
    std::atomic<std::uint64_t> guarded_{0};
    std::atomic<std::uint64_t> activeGeneration_{0};
};

}  // namespace kabel
