#include "core/engine/plan.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <sched.h>

#include "core/dsp/peak.hpp"

namespace kabel {
namespace {

// About 20 microseconds of pause instructions before a waiting thread that may yield does so.
constexpr int kSpinsBeforeYield = 500;

}  // namespace

void Plan::run(int frames, std::uint64_t blockStart, const HostBuffers& host, bool profile, Workers* workers) noexcept {
    host_ = host;
    frames_ = frames;
    blockStart_ = blockStart;
    profile_ = profile;
    if (waves_.empty()) {
        runSteps(steps_.data(), steps_.data() + steps_.size(), gainScratch_.data());
        return;
    }
    blockBase_.store(done_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (workers) {
        workers->run(*this);  // publishes the stores above (release) before any worker reads them
    } else {
        soloEpoch_ += 2;
        work(0, BlockTicket{soloEpoch_ - 1, nullptr, false});
    }
}

std::int64_t Plan::work(int thread, const BlockTicket& ticket) noexcept {
    if (thread >= threads_) return 0;  // the engine has more workers than this plan was split for
    std::int64_t waited = 0;
    const std::uint64_t base = blockBase_.load(std::memory_order_relaxed);
    std::uint64_t doneTarget = base;
    for (const plan::Wave& wave : waves_) {
        doneTarget += wave.chunkCount;
        const std::uint32_t count = wave.chunkCount;
        // This thread's share first, in order; then the others' from their far ends backwards,
        // so that a thread that steals takes what its owner would have reached last.
        const auto t = static_cast<std::uint32_t>(thread), threads = static_cast<std::uint32_t>(threads_);
        const std::uint32_t share = t * count / threads, own = (t + 1) * count / threads - share;
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::uint32_t c = wave.firstChunk + (i < own ? share + i : (share + 2 * count - 1 - (i - own)) % count);
            const plan::Chunk& chunk = chunks_[c];
            if (chunk.pinned && thread != 0) continue;
            // Taken if its tag is this block's epoch (or newer: this thread's block is over).
            std::uint64_t tag = claimed_[c].load(std::memory_order_relaxed);
            if (tag >= ticket.epoch || !claimed_[c].compare_exchange_strong(tag, ticket.epoch, std::memory_order_acquire)) continue;
            runChunk(chunk, thread);
            done_.fetch_add(1, std::memory_order_release);
        }
        if (done_.load(std::memory_order_acquire) >= doneTarget) continue;
        // Another thread is still running a chunk of this wave.
        const std::int64_t since = steadyNanos();
        for (int spins = 0; done_.load(std::memory_order_acquire) < doneTarget; ++spins) {
            if (ticket.stale()) return waited;  // a worker whose block is over (done_ moved on)
            cpuRelax();
            if (ticket.mayYield && spins >= kSpinsBeforeYield) sched_yield();
        }
        waited += steadyNanos() - since;
    }
    return waited;
}

void Plan::runChunk(const plan::Chunk& chunk, int thread) noexcept {
    float* scratch = gainScratch_.data() + static_cast<std::size_t>(thread) * static_cast<std::size_t>(stride_);
    plan::Step* first = steps_.data() + chunk.firstStep;
    runSteps(first, first + chunk.stepCount, scratch);
    for (std::uint32_t p = 0; p < chunk.partialCount; ++p) runMix(partials_[chunk.firstPartial + p], frames_, scratch);
}

void Plan::runSteps(plan::Step* first, plan::Step* last, float* scratch) noexcept {
    if (profile_)
        runSteps<true>(first, last, scratch);
    else
        runSteps<false>(first, last, scratch);
}

// One loop for both: with Profile, each step's time (its mixing and copies included) goes to its
// module's CPU meter; without, the clock is never read.
template <bool Profile>
void Plan::runSteps(plan::Step* first, plan::Step* last, float* scratch) noexcept {
    using Clock = std::chrono::steady_clock;
    Clock::time_point start;
    if constexpr (Profile) start = Clock::now();
    const int frames = frames_;
    const std::uint64_t blockStart = blockStart_;
    for (plan::Step* step = first; step != last; ++step) {
        for (std::uint32_t m = 0; m < step->mixCount; ++m) runMix(mixes_[step->firstMix + m], frames, scratch);
        step->ctx.frames = frames;
        step->ctx.blockStart = blockStart;
        if (!step->module->run(step->ctx) || !screensFinite(*step, frames)) contain(*step);
        if ((step->copyCount | step->probeCount) != 0) runAfter(*step, frames);  // most steps have neither
        if constexpr (Profile) {
            const Clock::time_point end = Clock::now();
            step->module->addCpuNanos(
                static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count()));
            start = end;
        }
    }
}

// Inline in the step loop: most steps screen one output of one channel, and a call per step
// would cost as much as the screening itself.
inline bool Plan::screensFinite(const plan::Step& step, int frames) const noexcept {
    const plan::Screen* screen = screens_.data() + step.firstScreen;
    const plan::Screen* const end = screen + (hunting_ ? step.huntCount : step.screenCount);
    const auto stride = static_cast<std::size_t>(stride_);
    if (frames == stride_) {  // every block but a shorter one: the channels are contiguous
        for (; screen != end; ++screen)
            if (!dsp::allFinite(screen->data, screen->channels * stride)) return false;
        return true;
    }
    for (; screen != end; ++screen)
        for (std::uint32_t c = 0; c < screen->channels; ++c)
            if (!dsp::allFinite(screen->data + c * stride, static_cast<std::size_t>(frames))) return false;
    return true;
}

void Plan::contain(const plan::Step& step) noexcept {
    if (!step.module->muted()) step.module->mute(blockStart_);
    for (const OutputPort& out : step.ctx.out)
        if (out.data)
            for (int c = 0; c < out.channels; ++c) std::memset(out.channel(c), 0, static_cast<std::size_t>(frames_) * sizeof(float));
}

// Right after the module ran: its outputs are valid until a later step reuses their buffers.
void Plan::runAfter(const plan::Step& step, int frames) noexcept {
    for (std::uint32_t c = 0; c < step.copyCount; ++c) {
        const plan::CopyOp& copy = copies_[step.firstCopy + c];
        std::memcpy(copy.dst, copy.src, copy.floats * sizeof(float));
    }
    for (std::uint32_t p = 0; p < step.probeCount; ++p) {
        const plan::ProbeOp& probe = probes_[step.firstProbe + p];
        for (int c = 0; c < probe.channels; ++c) probe.tap->write(c, probe.src + c * stride_, frames);
        probe.tap->commit(frames);
    }
}

void Plan::runMix(const plan::MixOp& mix, int frames, float* scratch) noexcept {
    float* __restrict dst = mix.dst;
    const int stride = stride_;
    for (int c = 0; c < mix.channels; ++c) std::memset(dst + c * stride, 0, static_cast<std::size_t>(frames) * sizeof(float));

    // With an unpatched value to blend in, the cables' total gain is tracked per frame.
    const bool blendDefault = mix.defaultValue != 0.0f;
    float* __restrict total = scratch;
    if (blendDefault) std::memset(total, 0, static_cast<std::size_t>(frames) * sizeof(float));

    const float rate = fadeStepPerFrame_;
    for (std::uint32_t s = 0; s < mix.sourceCount; ++s) {
        const plan::MixSource& src = mixSources_[mix.firstSource + s];
        const float target = src.target;
        // A settled cable's state lives elsewhere in memory; not reading it saves a scattered
        // access per source per block.
        const float g0 = src.settled ? target : src.state->gain.load(std::memory_order_relaxed);
        if (g0 == target) {
            if (g0 == 0.0f) continue;
            for (int c = 0; c < src.channels; ++c) {
                const float* __restrict in = src.data + c * stride;
                float* __restrict out = dst + c * stride;
                if (g0 == 1.0f) {
                    for (int n = 0; n < frames; ++n) out[n] += in[n];
                } else {
                    for (int n = 0; n < frames; ++n) out[n] += g0 * in[n];
                }
            }
            if (blendDefault)
                for (int n = 0; n < frames; ++n) total[n] += g0;
            continue;
        }
        // A linear fade toward the target at `rate` per frame, holding once it arrives.
        // Frame n has gain g0 + step (n + 1) until it arrives, then exactly the target.
        const float step = target > g0 ? rate : -rate;
        const float arrival = (target - g0) / step - 1e-3f;  // frames until the target, minus rounding
        auto gainAt = [&](int n) {
            const float k = static_cast<float>(n + 1);
            return k >= arrival ? target : g0 + step * k;
        };
        for (int c = 0; c < src.channels; ++c) {
            const float* __restrict in = src.data + c * stride;
            float* __restrict out = dst + c * stride;
            for (int n = 0; n < frames; ++n) out[n] += gainAt(n) * in[n];
        }
        if (blendDefault)
            for (int n = 0; n < frames; ++n) total[n] += gainAt(n);
        src.state->gain.store(gainAt(frames - 1), std::memory_order_relaxed);
    }
    if (!blendDefault) return;
    // The unpatched value fills in for whatever gain the cables leave.
    for (int c = 0; c < mix.channels; ++c) {
        float* __restrict out = dst + c * stride;
        for (int n = 0; n < frames; ++n) out[n] += mix.defaultValue * (1.0f - std::min(1.0f, total[n]));
    }
}

}  // namespace kabel
