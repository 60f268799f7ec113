// Plan: the immutable, compiled form of a patch that the audio thread runs, one block at a time.
//
// Design note. A plan is a flat array of steps in topological order. Each step first prepares the
// inputs that need work (a MixOp sums fan-in and crossfades cables that are being added or
// removed), then calls its module's process() once, then copies outputs that feed back edges into
// their FeedbackLines and appends probed outputs to their SignalTaps (the editor's cable probes; a
// step without probes pays one empty loop, as for copies). Every pointer a step uses (module, port
// buffers, taps) is fixed when the plan is built: running it reads no maps, allocates nothing and
// takes no locks. The only state a plan writes is shared with its successors on purpose: cable
// gains (CableState), the previous block of feedback outputs (FeedbackLine) and probe taps, so
// that a new plan continues exactly where the old one stopped — edits never click, never lose a
// feedback loop's contents and never restart a probe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/module/module.hpp"
#include "core/module/signal_tap.hpp"
#include "core/util/aligned_buffer.hpp"

namespace kabel {

/// Gain of one cable, shared by every plan that contains the cable. The audio thread moves it
/// toward the running plan's target (1 = in the patch, 0 = being removed) at the fade rate; the UI
/// thread reads it to learn when a fade has finished.
struct CableState {
    std::atomic<float> gain{0.0f};
};

/// The previous block of one module output that feeds cables read one block late (to break a
/// cycle). Shared by every plan that contains those cables. Audio thread writes and reads it.
struct FeedbackLine {
    FeedbackLine(int channels, int stride)
        : data(static_cast<std::size_t>(channels) * static_cast<std::size_t>(stride)), channels(channels) {}
    AlignedFloats data;
    int channels;
};

namespace plan {

struct MixSource {
    const float* data;  // the source signal (a module output or a FeedbackLine)
    int channels;
    CableState* state;
    float target;  // the gain this cable moves toward in this plan
    bool settled;  // the gain is the target for this plan's whole life: `state` need not be read
};

/// Builds one input from several cables and/or a fading cable: dst = Σ gain_i · src_i plus the
/// port's default value weighted by whatever gain the cables leave (1 - min(1, Σ gain_i)), so
/// that connecting a cable glides from the unpatched value to the signal.
struct MixOp {
    float* dst;
    int channels;
    float defaultValue;
    std::uint32_t firstSource;
    std::uint32_t sourceCount;
};

struct CopyOp {
    const float* src;
    float* dst;
    std::uint32_t floats;  // channels * stride
};

/// Appends one module output (every channel it carries this plan) to a cable probe's tap.
struct ProbeOp {
    const float* src;
    int channels;  // min(the output's channels, the tap's)
    SignalTap* tap;
};

struct Step {
    Module* module;
    ProcessContext ctx;
    std::uint32_t firstMix, mixCount;
    std::uint32_t firstCopy, copyCount;
    std::uint32_t firstProbe, probeCount;
};

}  // namespace plan

class Plan {
public:
    /// Audio thread: runs every step for one block. `frames` <= maxFrames(). Never allocates,
    /// locks or throws. With `profile`, each module's time (its inputs' mixing included) is added
    /// to Module::cpuNanos (steady_clock, a vDSO read: no system call).
    void run(int frames, std::uint64_t blockStart, const HostBuffers& host, bool profile = false) noexcept;

    std::uint64_t generation() const noexcept { return generation_; }
    int maxFrames() const noexcept { return maxFrames_; }
    std::size_t stepCount() const noexcept { return steps_.size(); }
    /// Probed outputs this plan writes.
    std::size_t probeCount() const noexcept { return probes_.size(); }

private:
    friend class Compiler;

    void runMix(const plan::MixOp& mix, int frames) noexcept;
    void runAfter(const plan::Step& step, int frames) noexcept;  // the step's copies and probes
    template <bool Profile>
    void runSteps(int frames, std::uint64_t blockStart) noexcept;

    std::uint64_t generation_ = 0;
    int maxFrames_ = 0;
    int stride_ = 0;
    float fadeStepPerFrame_ = 1.0f;
    HostBuffers host_;  // copied from the engine each block; every step's ctx.host points here

    std::vector<plan::Step> steps_;
    std::vector<plan::MixOp> mixes_;
    std::vector<plan::MixSource> mixSources_;
    std::vector<plan::CopyOp> copies_;
    std::vector<plan::ProbeOp> probes_;
    std::vector<InputPort> inputs_;
    std::vector<OutputPort> outputs_;
    AlignedFloats pool_;         // every signal buffer, constant and the block of zeros
    AlignedFloats gainScratch_;  // maxFrames floats for MixOp

    // Ownership only: keeps what the raw pointers above point to alive as long as this plan.
    std::vector<std::shared_ptr<Module>> modules_;
    std::vector<std::shared_ptr<CableState>> cableStates_;
    std::vector<std::shared_ptr<FeedbackLine>> feedbackLines_;
    std::vector<std::shared_ptr<SignalTap>> taps_;
};

}  // namespace kabel
