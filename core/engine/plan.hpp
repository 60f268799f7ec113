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
//
// Parallel plans (docs/ARCHITECTURE.md, "Multi-core"). The compiler may split a big plan into
// waves: the steps of a wave depend only on earlier waves, so they can run at once on several
// threads. A wave is a list of chunks (contiguous step ranges). A pinned chunk runs on the audio
// thread (thread 0): the modules that share state (device outputs, MIDI out, live buffers) and
// runs of narrow waves that are not worth splitting. Each block, every thread walks the waves:
// it claims the wave's chunks it can (one atomic exchange each, starting from its own share so
// that a thread tends to read what it wrote) and runs them, then waits until the wave's chunks
// are all done. The steps are stored wave by wave, a valid serial order, so a parallel plan also
// runs correctly on the audio thread alone, and gives the same bits.
//
// Containment. After a module runs, the outputs its cables read are screened for NaN and Inf
// (dsp::allFinite: a few vector ops per 64 samples, on data still in L1; the plan keeps the
// step's screened outputs in one array, screens_). A module that produced one is muted
// (Module::muted): its outputs are silenced at once, before any reader sees them, and from then on
// it is not run and its outputs stay silent, until the user resets it (Module::requestReset). So a
// blown-up filter or a runaway feedback loop costs one module, not the patch, and the modules
// downstream never take NaN into their state. Outputs that only guarded sinks read (the device
// output, Module::guardedSink: it keeps no signal state) are not screened every block: the
// engine's output stage silences what reaches the device, and when it finds NaN or Inf there it
// hunts (Plan::hunt): the next blocks screen those outputs too, which mutes the module.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/engine/workers.hpp"
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

/// Contiguous steps that one thread runs in order, then the chunk's partial sums of wide fan-ins
/// (the sources it made, summed where they are in cache; the consumer adds the sums).
struct Chunk {
    std::uint32_t firstStep, stepCount;
    bool pinned;  // only the audio thread (thread 0) may run it
    std::uint32_t firstPartial = 0, partialCount = 0;
};

/// Steps that may run at once: chunks [firstChunk, firstChunk + chunkCount).
struct Wave {
    std::uint32_t firstChunk, chunkCount;
};

/// An output that a cable or probe reads, screened for NaN and Inf after its module ran.
struct Screen {
    const float* data;
    std::uint32_t channels;
};

struct Step {
    Module* module;
    ProcessContext ctx;
    std::uint32_t firstMix, mixCount;
    std::uint32_t firstCopy, copyCount;
    std::uint32_t firstProbe, probeCount;
    std::uint32_t firstScreen, screenCount;  // screened every block
    std::uint32_t huntCount;                 // screenCount plus those only guarded sinks read (while hunting)
};

}  // namespace plan

class Plan final : public ParallelJob {
public:
    /// Audio thread: runs every step for one block. `frames` <= maxFrames(). Never allocates,
    /// locks or throws. With `profile`, each module's time (its inputs' mixing included) is added
    /// to Module::cpuNanos (steady_clock, a vDSO read: no system call). A parallel plan shares the
    /// block with `workers` (none: the audio thread runs it alone).
    void run(int frames, std::uint64_t blockStart, const HostBuffers& host, bool profile = false, Workers* workers = nullptr) noexcept;

    /// ParallelJob: thread `thread` takes part in the open block (see the design note).
    std::int64_t work(int thread, const BlockTicket& ticket) noexcept override;

    /// Engine: the Workers epoch at which the audio thread stopped running this plan.
    void setRetiredEpoch(std::uint64_t epoch) noexcept { retiredEpoch_ = epoch; }
    std::uint64_t retiredEpoch() const noexcept { return retiredEpoch_; }

    /// The threads this plan was split for (1: a serial plan).
    int threads() const noexcept { return threads_; }
    std::size_t waveCount() const noexcept { return waves_.size(); }

    /// Audio thread, between blocks: while true, outputs that only guarded sinks read are
    /// screened too (the engine hunts after its output stage found NaN or Inf).
    void hunt(bool on) noexcept { hunting_ = on; }

    std::uint64_t generation() const noexcept { return generation_; }
    int maxFrames() const noexcept { return maxFrames_; }
    std::size_t stepCount() const noexcept { return steps_.size(); }
    /// Probed outputs this plan writes.
    std::size_t probeCount() const noexcept { return probes_.size(); }

private:
    friend class Compiler;

    void runMix(const plan::MixOp& mix, int frames, float* scratch) noexcept;
    void runAfter(const plan::Step& step, int frames) noexcept;                   // the step's copies and probes
    bool screensFinite(const plan::Step& step, int frames) const noexcept;        // the step's screens hold no NaN/Inf
    void contain(const plan::Step& step) noexcept;                                // mutes the module, silences its outputs
    void runSteps(plan::Step* first, plan::Step* last, float* scratch) noexcept;  // profile_ picks the loop
    template <bool Profile>
    void runSteps(plan::Step* first, plan::Step* last, float* scratch) noexcept;
    void runChunk(const plan::Chunk& chunk, int thread) noexcept;

    std::uint64_t generation_ = 0;
    // The block being run (written by the audio thread before the workers may read them).
    int frames_ = 0;
    std::uint64_t blockStart_ = 0;
    bool profile_ = false;
    bool hunting_ = false;
    int maxFrames_ = 0;
    int stride_ = 0;
    float fadeStepPerFrame_ = 1.0f;
    HostBuffers host_;  // copied from the engine each block; every step's ctx.host points here

    std::vector<plan::Step> steps_;
    std::vector<plan::MixOp> mixes_;
    std::vector<plan::MixSource> mixSources_;
    std::vector<plan::CopyOp> copies_;
    std::vector<plan::ProbeOp> probes_;
    std::vector<plan::Screen> screens_;
    std::vector<InputPort> inputs_;
    std::vector<OutputPort> outputs_;
    AlignedFloats pool_;         // every signal buffer, constant and the block of zeros
    AlignedFloats gainScratch_;  // stride floats per thread for MixOp

    // Parallel plans only (waves_ empty: serial).
    int threads_ = 1;
    std::vector<plan::Chunk> chunks_;
    std::vector<plan::Wave> waves_;
    std::vector<plan::MixOp> partials_;                      // sources in mixSources_
    std::unique_ptr<std::atomic<std::uint64_t>[]> claimed_;  // per chunk: the epoch it was last taken in
    alignas(64) std::atomic<std::uint64_t> done_{0};         // chunks finished, ever
    std::atomic<std::uint64_t> blockBase_{0};                // done_ when the current block began
    std::uint64_t soloEpoch_ = 0;                            // epochs when run without Workers
    std::uint64_t retiredEpoch_ = 0;

    // Ownership only: keeps what the raw pointers above point to alive as long as this plan.
    std::vector<std::shared_ptr<Module>> modules_;
    std::vector<std::shared_ptr<CableState>> cableStates_;
    std::vector<std::shared_ptr<FeedbackLine>> feedbackLines_;
    std::vector<std::shared_ptr<SignalTap>> taps_;
};

}  // namespace kabel
