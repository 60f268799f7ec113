#include "core/engine/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/dsp/peak.hpp"
#include "core/util/denormals.hpp"

namespace kabel {
namespace {

constexpr float kGuardThreshold = 0.9f;
constexpr std::size_t kRetiredCapacity = 64;

// Identity up to the threshold, then a tanh knee approaching ±1 (continuous slope at the knee).
inline float softClip(float x) noexcept {
    const float a = std::fabs(x);
    if (a <= kGuardThreshold) return x;
    const float room = 1.0f - kGuardThreshold;
    return std::copysign(kGuardThreshold + room * std::tanh((a - kGuardThreshold) / room), x);
}

}  // namespace

Engine::Engine(EngineConfig config)
    : config_(config),
      retired_(kRetiredCapacity),
      blockPosition_(config.blockFrames),
      clock_(config.sampleRate),
      retiredMaps_(kRetiredCapacity) {
    if (config_.blockFrames < 1 || config_.blockFrames > 8192) throw std::invalid_argument("engine block must be 1..8192 frames");
    if (config_.outputChannels < 0 || config_.outputChannels > 64) throw std::invalid_argument("engine outputs must be 0..64");
    if (!(config_.sampleRate >= 1000.0 && config_.sampleRate <= 768000.0))
        throw std::invalid_argument("sample rate must be 1 kHz..768 kHz");
    const int stride = alignedStride(config_.blockFrames);
    outBlock_ = AlignedFloats(static_cast<std::size_t>(std::max(1, config_.outputChannels) * stride));
    for (int c = 0; c < config_.outputChannels; ++c) outPointers_.push_back(outBlock_.data() + c * stride);
    host_.out = outPointers_.data();
    host_.outChannels = config_.outputChannels;
    if (config_.inputChannels < 0 || config_.inputChannels > 64) throw std::invalid_argument("engine inputs must be 0..64");
    inBlocks_ = AlignedFloats(static_cast<std::size_t>(std::max(1, 2 * config_.inputChannels) * stride));
    for (int c = 0; c < config_.inputChannels; ++c) {
        inRead_.push_back(inBlocks_.data() + c * stride);
        inFill_.push_back(inBlocks_.data() + (config_.inputChannels + c) * stride);
    }
    host_.in = inRead_.data();
    host_.inChannels = config_.inputChannels;
    if (config_.midiInputs < 0 || config_.midiInputs > 255) throw std::invalid_argument("engine MIDI inputs must be 0..255");
    for (int p = 0; p < config_.midiInputs; ++p)
        midiInputs_.push_back(std::make_unique<MidiInputQueue>(config_.midiQueueEvents, config_.midiQueueSysexBytes));
    midiBlock_.resize(kMaxMidiEventsPerBlock);
    sysexBlock_.resize(kMaxSysexBytesPerBlock);
    midiOutput_ = std::make_unique<MidiOutputQueue>(std::max<std::size_t>(config_.midiOutputQueueEvents, 1), 1);
    host_.midiOut = &midiOutBlock_;
    host_.clock = &clock_;
    if (config_.threads < 0 || config_.threads > 64) throw std::invalid_argument("engine threads must be 0..64");
    // The workers start with the first plan split for them (submit).
    threads_ = config_.threads == 0 ? Workers::hardwareThreads() : std::min(config_.threads, Workers::hardwareThreads());
}

Engine::~Engine() {
    workers_.reset();  // first: then no thread reads a plan
    delete pending_.exchange(nullptr);
    delete current_;
    delete pendingMap_.exchange(nullptr);
    delete currentMap_;
    collectGarbage();
}

void Engine::submit(std::unique_ptr<Plan> plan) {
    if (plan && plan->maxFrames() < config_.blockFrames)
        throw std::invalid_argument("Engine::submit: plan compiled for a smaller block than the engine's");
    // Workers start with the first plan split for them: a patch that never needs them (and a
    // render with a writer thread) has no idle threads waking up beside it.
    if (plan && plan->threads() > 1 && !workers_) {
        workers_ = std::make_unique<Workers>(threads_ - 1, config_.workerPriority, config_.workerObserver);
        live_.store(workers_.get(), std::memory_order_release);
    }
    delete pending_.exchange(plan.release(), std::memory_order_acq_rel);
}

int Engine::collectGarbage() {
    int freed = 0;
    Plan* plan = nullptr;
    while (retired_.pop(plan)) unfreed_.push_back(plan);
    // A worker may still be leaving a block of a retired plan (workers.hpp): free it after.
    std::erase_if(unfreed_, [&](Plan* p) {
        if (workers_ && !workers_->quietSince(p->retiredEpoch())) return false;  // the UI thread made workers_
        delete p;
        ++freed;
        return true;
    });
    MidiMapTable* table = nullptr;
    while (retiredMaps_.pop(table)) delete table;
    return freed;
}

void Engine::submitMidiMap(std::unique_ptr<MidiMapTable> table) {
    delete pendingMap_.exchange(table.release(), std::memory_order_acq_rel);
}

void Engine::takePendingMidiMap() noexcept {
    if (pendingMap_.load(std::memory_order_relaxed) == nullptr || retiredMaps_.full()) return;
    MidiMapTable* next = pendingMap_.exchange(nullptr, std::memory_order_acq_rel);
    if (!next) return;
    MidiMapper::adopt(*next, currentMap_);
    if (currentMap_) retiredMaps_.push(std::move(currentMap_));
    currentMap_ = next;
}

EngineStats Engine::stats() const noexcept {
    EngineStats s;
    s.blocks = blocks_.load(std::memory_order_relaxed);
    s.planSwaps = planSwaps_.load(std::memory_order_relaxed);
    s.nonFiniteSamples = nonFinite_.load(std::memory_order_relaxed);
    s.guardedSamples = guarded_.load(std::memory_order_relaxed);
    s.activeGeneration = activeGeneration_.load(std::memory_order_relaxed);
    return s;
}

MidiStats Engine::midiStats() const noexcept {
    MidiStats s;
    s.delivered = midiDelivered_.load(std::memory_order_relaxed);
    s.late = midiLate_.load(std::memory_order_relaxed);
    s.overflowed = midiOverflowed_.load(std::memory_order_relaxed);
    for (const auto& q : midiInputs_) s.dropped += q->dropped();
    s.sent = midiSent_.load(std::memory_order_relaxed);
    s.sendDropped = midiSendDropped_.load(std::memory_order_relaxed) + midiOutput_->dropped();
    return s;
}

void Engine::sendMidi() noexcept {
    std::uint64_t sent = 0;
    if (midiOutBlock_.size() > 0 && midiOutputAttached_.load(std::memory_order_acquire)) {
        for (const MidiOutEvent& e : midiOutBlock_.sorted())
            if (midiOutput_->push(frameCount_ + e.frame, e.status, e.data1, e.data2)) ++sent;  // a full queue counts itself
    }
    const std::uint64_t lost = midiOutBlock_.clear();
    if (sent) midiSent_.fetch_add(sent, std::memory_order_relaxed);
    if (lost) midiSendDropped_.fetch_add(lost, std::memory_order_relaxed);
}

void Engine::gatherMidi(int frames) noexcept {
    const std::uint64_t start = frameCount_, end = frameCount_ + static_cast<std::uint64_t>(frames);
    std::size_t count = 0;
    std::uint32_t sysexUsed = 0;
    std::uint64_t late = 0, overflowed = 0;
    bool sorted = true;
    for (std::size_t p = 0; p < midiInputs_.size(); ++p) {
        MidiInputQueue& q = *midiInputs_[p];
        while (const StampedMidi* e = q.front()) {
            if (e->frame >= end) break;  // for a later block; so is everything behind it
            const bool fits = count < midiBlock_.size() && e->sysexLength <= kMaxSysexBytesPerBlock - sysexUsed;
            if (!fits) {
                ++overflowed;
                q.pop(nullptr);
                continue;
            }
            MidiEvent& out = midiBlock_[count];
            if (e->frame < start) ++late;
            out.frame = e->frame < start ? 0u : static_cast<std::uint32_t>(e->frame - start);
            out.port = static_cast<std::uint8_t>(p);
            out.status = e->status;
            out.data1 = e->data1;
            out.data2 = e->data2;
            out.sysexLength = e->sysexLength;
            out.sysex = e->sysexLength ? sysexBlock_.data() + sysexUsed : nullptr;
            if (count > 0 && out.frame < midiBlock_[count - 1].frame) sorted = false;
            q.pop(e->sysexLength ? sysexBlock_.data() + sysexUsed : nullptr);
            sysexUsed += out.sysexLength;
            ++count;
        }
    }
    if (!sorted) {
        // Insertion sort: stable, no memory, linear for the usual nearly sorted input.
        for (std::size_t i = 1; i < count; ++i) {
            const MidiEvent e = midiBlock_[i];
            std::size_t j = i;
            for (; j > 0 && midiBlock_[j - 1].frame > e.frame; --j) midiBlock_[j] = midiBlock_[j - 1];
            midiBlock_[j] = e;
        }
    }
    host_.midi = std::span<const MidiEvent>(midiBlock_.data(), count);
    if (count) midiDelivered_.fetch_add(count, std::memory_order_relaxed);
    if (late) midiLate_.fetch_add(late, std::memory_order_relaxed);
    if (overflowed) midiOverflowed_.fetch_add(overflowed, std::memory_order_relaxed);
}

void Engine::takePendingPlan() noexcept {
    // Only take a plan when the old one can be handed back; otherwise try again next block.
    if (pending_.load(std::memory_order_relaxed) == nullptr || retired_.full()) return;
    Plan* next = pending_.exchange(nullptr, std::memory_order_acq_rel);
    if (!next) return;
    if (current_) {
        const Workers* workers = live_.load(std::memory_order_acquire);
        current_->setRetiredEpoch(workers ? workers->epoch() : 0);
        retired_.push(std::move(current_));
    }
    current_ = next;
    activeGeneration_.store(next->generation(), std::memory_order_release);
    planSwaps_.fetch_add(1, std::memory_order_relaxed);
}

void Engine::processBlock() noexcept {
    ScopedFlushDenormals noDenormals;
    takePendingPlan();
    const int frames = config_.blockFrames;
    // The input that arrived while the previous block played becomes this block's input.
    std::swap(inRead_, inFill_);
    host_.in = inRead_.data();
    for (float* channel : outPointers_) std::memset(channel, 0, static_cast<std::size_t>(frames) * sizeof(float));
    gatherMidi(frames);
    takePendingMidiMap();
    mapper_.apply(host_.midi, currentMap_);  // mapped params change before the modules read them
    LinkSession* link = link_.load(std::memory_order_acquire);
    host_.link = link ? link->captureBlock() : nullptr;
    if (current_) {
        current_->hunt(huntBlocks_ > 0);
        current_->run(frames, frameCount_, host_, profiling_.load(std::memory_order_relaxed), live_.load(std::memory_order_acquire));
    }
    sendMidi();
    if (huntBlocks_ > 0) --huntBlocks_;
    if (guardOutput()) huntBlocks_ = kHuntBlocks;  // find the module that sent it (plan.hpp, "Containment")
    frameCount_ += static_cast<std::uint64_t>(frames);
    blocks_.fetch_add(1, std::memory_order_relaxed);
}

bool Engine::guardOutput() noexcept {
    const int frames = config_.blockFrames;
    std::uint64_t nonFinite = 0, guarded = 0;
    for (float* x : outPointers_) {
        // Cheap screening: x*0 is NaN only for NaN/Inf; the peak decides whether to clip.
        float peak = dsp::peakAbs(x, static_cast<std::size_t>(frames));
        if (!dsp::allFinite(x, static_cast<std::size_t>(frames))) {
            for (int n = 0; n < frames; ++n)
                if (!std::isfinite(x[n])) {
                    x[n] = 0.0f;
                    ++nonFinite;
                }
            peak = 0.0f;
            for (int n = 0; n < frames; ++n) peak = std::max(peak, std::fabs(x[n]));
        }
        if (config_.outputGuard && peak > kGuardThreshold) {
            for (int n = 0; n < frames; ++n) {
                if (std::fabs(x[n]) > kGuardThreshold) ++guarded;
                x[n] = softClip(x[n]);
            }
        }
    }
    if (nonFinite) nonFinite_.fetch_add(nonFinite, std::memory_order_relaxed);
    if (guarded) guarded_.fetch_add(guarded, std::memory_order_relaxed);
    return nonFinite != 0;
}

template <typename Copy>
void Engine::deliver(int frames, Copy&& copy) noexcept {
    const int block = config_.blockFrames;
    for (int done = 0; done < frames;) {
        if (blockPosition_ == block) {
            processBlock();
            blockPosition_ = 0;
        }
        const int n = std::min(frames - done, block - blockPosition_);
        copy(done, blockPosition_, n);
        blockPosition_ += n;
        done += n;
    }
}

void Engine::process(float* const* out, int channels, int frames) noexcept {
    process(nullptr, 0, out, channels, frames);
}

void Engine::process(const float* const* in, int inChannels, float* const* out, int channels, int frames) noexcept {
    if (autoPublishClock_) publishClock(MidiClock::nowNanos());
    deliver(frames, [&](int at, int from, int n) {
        const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float);
        for (std::size_t c = 0; c < inFill_.size(); ++c) {
            if (static_cast<int>(c) < inChannels && in && in[c])
                std::memcpy(inFill_[c] + from, in[c] + at, bytes);
            else
                std::memset(inFill_[c] + from, 0, bytes);
        }
        for (int c = 0; c < channels; ++c) {
            if (c < config_.outputChannels)
                std::memcpy(out[c] + at, outPointers_[static_cast<std::size_t>(c)] + from, bytes);
            else
                std::memset(out[c] + at, 0, bytes);
        }
    });
}

void Engine::processInterleaved(float* out, int channels, int frames) noexcept {
    if (autoPublishClock_) publishClock(MidiClock::nowNanos());
    deliver(frames, [&](int at, int from, int n) {
        for (int i = 0; i < n; ++i)
            for (int c = 0; c < channels; ++c)
                out[(at + i) * channels + c] = c < config_.outputChannels ? outPointers_[static_cast<std::size_t>(c)][from + i] : 0.0f;
    });
}

}  // namespace kabel
