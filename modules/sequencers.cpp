// Sequencers: a master clock, a clock divider/multiplier, a step sequencer, a Euclidean and
// cultural rhythm-cycle generator, and an arpeggiator.
//
// Design note. Timing is exact to the sample and never drifts. The clock counts time in integers:
// one sample is round(bpm x 2^23) x 24 units and one 24-ppqn tick is sampleRate x 60 x 2^23 units
// (every float tempo >= 1 BPM is a whole number of 2^-23 BPM), so tick k begins on sample
// ceil(k x tick period) exactly, for ever, at any tempo, and every division (16ths, beats, bars)
// is a whole number of ticks. Modules driven by a clock react on the very sample of its rising
// edge (through 0.5): they scan their clock and reset inputs for the next change of state, write
// the run of frames before it in one go and handle the event; a reset edge makes the next clock
// edge (or one on the same sample) play the first step. Their gates follow the clock's pulse:
// high while the clock is high on a step that plays (a tie holds it into the next step).
//
// Randomness (step probability, the random arpeggio) is a counter-based hash of (instance seed,
// channel, count): a patch plays the same on every render, whatever the block size.
//
// Patterns (stepseq state) are parsed strictly on the UI thread and reach the audio thread as an
// immutable value (RtValue) swapped in whole; the audio thread never allocates.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/dsp/hash_random.hpp"
#include "core/midi/midi_clock.hpp"
#include "core/module/gates.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
#include "core/sync/link_session.hpp"

namespace kabel {
namespace {

// ---------------------------------------------------------------------------------------------
// Shared helpers.

// Value `index` of a stream, uniform in [0, 1) in steps of 2^-24.
inline float unitAt(std::uint64_t stream, std::uint64_t index) noexcept {
    return static_cast<float>(dsp::hashAt(stream, index) >> 40) * 0x1p-24f;
}

// Edge state of a clock and a reset input, for the clocked modules.
struct ClockState {
    bool clockHigh = false, resetHigh = false;
    bool resetPending = false;  // a reset edge was seen: the next clock edge plays the first step
};

// Runs a clocked channel through one block: render(i0, i1) writes frames [i0, i1) from the
// current state, onClock(i) handles a rising clock edge at frame i (after any reset edge there).
template <typename Render, typename OnClock>
void runClocked(ClockState& st, const InputPort& clock, const float* ck, const InputPort& reset, const float* rs, int frames,
                Render&& render, OnClock&& onClock) noexcept {
    int i = 0;
    while (i < frames) {
        const int a = gateChangeAt(clock, ck, i, frames, st.clockHigh);
        const int b = gateChangeAt(reset, rs, i, frames, st.resetHigh);
        const int j = std::min(a, b);
        render(i, j);
        i = j;
        if (i == frames) break;
        if (b == i) {
            st.resetHigh = !st.resetHigh;
            if (st.resetHigh) st.resetPending = true;
        }
        if (a == i) {
            st.clockHigh = !st.clockHigh;
            if (st.clockHigh) onClock(i);
        }
    }
}

PortDescriptor clockIn() {
    return {.id = "clock",
            .name = "Clock",
            .kind = SignalKind::Gate,
            .defaultValue = 0.0f,
            .help = "a rising edge through 0.5 advances one step"};
}

PortDescriptor resetIn() {
    return {.id = "reset",
            .name = "Reset",
            .kind = SignalKind::Gate,
            .defaultValue = 0.0f,
            .help = "a rising edge makes the next clock (or one on the same sample) play the first step"};
}

PortDescriptor gateOut(std::string id, std::string name, std::string help) {
    return {.id = std::move(id), .name = std::move(name), .kind = SignalKind::Gate, .defaultValue = 0.0f, .help = std::move(help)};
}

// ---------------------------------------------------------------------------------------------
// clock

enum ClockInputs { kClockRun, kClockReset };
enum ClockOutputs { kClockPpqn, kClockSixteenth, kClockEighth, kClockTriplet, kClockBeat, kClockBar, kClockRunOut, kClockBpmOut };
enum ClockParams { kClockBpm, kClockWidth, kClockBeats, kClockRunParam, kClockSource };
constexpr int kClockOutputs = 6;  // the gate outputs; run and bpm follow them
constexpr int kPpqn = 24;
constexpr double kTempoScale = 8388608.0;  // 2^23: float tempos >= 1 BPM are whole multiples of 2^-23
// MIDI clock: the tempo is the least-squares slope of the last kTempoWindow tick frames (one 4/4
// bar), restarted when an interval leaves [1/2, 2] x the estimate (a tempo jump, a pause).
constexpr int kTempoWindow = 96;
// The source param's values; a Link source without a Link session runs as internal.
enum ClockSource { kSourceInternal, kSourceMidi, kSourceLink };

// Which source a `source` param value selects.
int clockSource(float value) noexcept {
    return value >= 1.5f ? kSourceLink : value >= 0.5f ? kSourceMidi : kSourceInternal;
}

class Clock final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        den_ = static_cast<std::int64_t>(std::llround(sampleRate)) * 60 * static_cast<std::int64_t>(kTempoScale);
        cachedWidth_ = -1.0f;
        reset();
    }

    void reset() noexcept override {
        tick_ = 0;
        elapsed_ = 0;
        resetHigh_ = false;
        started_ = false;
        wasRunning_ = false;
        suppressed_.fill(false);
        base_.fill(-1);
        midiRunning_ = false;
        tickPlayed_ = false;
        nextTick_ = 0;
        tickHead_ = 0;
        ticksSeen_ = 0;
        period_ = 0.0;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int source = clockSource(param(kClockSource));
        const bool link = source == kSourceLink && ctx.host && ctx.host->link && ctx.host->clock;
        const int mode = link ? kSourceLink : source == kSourceMidi ? kSourceMidi : kSourceInternal;
        if (mode != mode_) {
            reset();  // a change of source starts from the top
            mode_ = mode;
        }
        linkState_.store(link ? 1 : 0, std::memory_order_relaxed);
        const bool midi = mode == kSourceMidi;
        const int frames = ctx.frames;
        const float bpm = param(kClockBpm);
        // Tempo changes take effect at once: a clock has nothing to click, and a glide would
        // smear the beat. The position within the tick is kept, so the beat never jumps.
        const std::int64_t num = static_cast<std::int64_t>(std::llround(double(bpm) * kTempoScale)) * kPpqn;
        fallbackNum_ = num;
        const int beats = std::clamp(static_cast<int>(param(kClockBeats)), 1, 16);
        const std::int64_t cycle = static_cast<std::int64_t>(kPpqn) * beats;  // ticks per bar: every division divides it
        if (tick_ >= cycle) tick_ %= cycle;
        const float width = param(kClockWidth);
        const std::array<std::int64_t, kClockOutputs> division{1, 6, 12, 8, kPpqn, cycle};
        if (width != cachedWidth_ || beats != cachedBeats_) {
            cachedWidth_ = width;
            cachedBeats_ = beats;
            for (int k = 0; k < kClockOutputs; ++k)
                threshold_[static_cast<std::size_t>(k)] =
                    static_cast<std::int64_t>(std::ceil(double(width) * double(division[static_cast<std::size_t>(k)]) * double(den_)));
            base_.fill(-1);  // recompute the tick bases
        }
        std::array<float*, kClockOutputs> out{};
        for (int k = 0; k < kClockOutputs; ++k)
            out[static_cast<std::size_t>(k)] =
                ctx.out[static_cast<std::size_t>(k)].connected ? ctx.out[static_cast<std::size_t>(k)].data : nullptr;
        runOut_ = ctx.out.size() > kClockRunOut && ctx.out[kClockRunOut].connected ? ctx.out[kClockRunOut].data : nullptr;
        float* bpmOut = ctx.out.size() > kClockBpmOut && ctx.out[kClockBpmOut].connected ? ctx.out[kClockBpmOut].data : nullptr;
        if (midi) {
            processMidi(ctx, out, division, cycle, bpm);
            measuredBpm_.store(period_ > 0.0 ? static_cast<float>(60.0 * sampleRate() / (kPpqn * period_)) : 0.0f,
                               std::memory_order_relaxed);
            return;
        }
        if (link) {
            processLink(ctx, out, division, width, beats);
            return;
        }
        if (bpmOut) std::fill(bpmOut, bpmOut + frames, bpm);

        const bool runKnob = param(kClockRunParam) >= 0.5f;
        const InputPort& run = ctx.in[kClockRun];
        const InputPort& reset = ctx.in[kClockReset];
        const float* rn = run.channel(0);
        const float* rs = reset.channel(0);

        // Runs of frames: the inputs are examined for changes (a vectorised scan), and within a
        // tick every output is a run of 1s then a run of 0s whose lengths follow from the
        // integer position, so nothing is decided per frame.
        int n = 0;
        while (n < frames) {
            if (reset.connected) {
                const bool high = rs[n] >= 0.5f;
                if (high && !resetHigh_) {
                    tick_ = 0;
                    elapsed_ = 0;
                    started_ = false;
                }
                resetHigh_ = high;
            }
            const bool runHigh = run.connected ? rn[n] >= 0.5f : run.constant >= 0.5f;
            int end = frames;  // the inputs hold their states on [n, end)
            if (run.connected) end = std::min(end, gateChangeAt(run, rn, n + 1, frames, runHigh));
            if (reset.connected) end = std::min(end, gateChangeAt(reset, rs, n + 1, frames, resetHigh_));
            if (runOut_) std::fill(runOut_ + n, runOut_ + end, runKnob && runHigh ? 1.0f : 0.0f);
            if (!(runKnob && runHigh)) {
                for (float* o : out)
                    if (o) std::fill(o + n, o + end, 0.0f);
                wasRunning_ = false;
                n = end;
                continue;
            }
            while (n < end) {
                bool newTick = false;
                if (!started_) {
                    started_ = newTick = true;  // tick 0 begins on this frame
                    suppressed_.fill(false);
                } else if (elapsed_ >= den_) {
                    elapsed_ -= den_;
                    if (++tick_ >= cycle) tick_ = 0;
                    newTick = true;
                }
                if (newTick || base_[0] < 0) {
                    for (int k = 0; k < kClockOutputs; ++k) {
                        const auto kk = static_cast<std::size_t>(k);
                        base_[kk] = (tick_ % division[kk]) * den_;
                        if (newTick && base_[kk] == 0) suppressed_[kk] = false;  // a period of this output begins
                    }
                }
                if (!wasRunning_) {
                    // Resuming: an output caught inside its pulse stays low until its next
                    // period, so a stop/start never adds a beat.
                    for (int k = 0; k < kClockOutputs; ++k) {
                        const auto kk = static_cast<std::size_t>(k);
                        suppressed_[kk] = suppressed_[kk] || !(newTick && base_[kk] == 0);
                    }
                    wasRunning_ = true;
                }
                // Frames n .. n + len - 1 lie in this tick: the next begins after ceil((den -
                // elapsed) / num) frames. Output k is high on frame n + i while base + elapsed
                // + i num < threshold.
                const std::int64_t toNext = (den_ - elapsed_ + num - 1) / num;
                const int len = static_cast<int>(std::min<std::int64_t>(toNext, end - n));
                for (int k = 0; k < kClockOutputs; ++k) {
                    const auto kk = static_cast<std::size_t>(k);
                    float* o = out[kk];
                    if (!o) continue;
                    const std::int64_t room = threshold_[kk] - base_[kk] - elapsed_;
                    const int high =
                        suppressed_[kk] || room <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(len, (room + num - 1) / num));
                    std::fill(o + n, o + n + high, 1.0f);
                    std::fill(o + n + high, o + n + len, 0.0f);
                }
                elapsed_ += static_cast<std::int64_t>(len) * num;
                n += len;
            }
        }
    }

    std::string status() const override {
        const int source = clockSource(param(kClockSource));
        if (source == kSourceLink) {
            const int state = linkState_.load(std::memory_order_relaxed);
            if (state < 0) return {};  // not run yet: whether a session is attached is unknown
            if (state == 0) return "Link is off: running on the Tempo knob (kabel play --link)";
            char text[64];
            std::snprintf(text, sizeof text, "Link: %.2f BPM", static_cast<double>(linkTempo_.load(std::memory_order_relaxed)));
            return text;
        }
        if (source != kSourceMidi) return {};
        const float bpm = measuredBpm_.load(std::memory_order_relaxed);
        if (bpm <= 0.0f) return "MIDI clock: waiting for clock (0xF8) messages";
        char text[64];
        std::snprintf(text, sizeof text, "MIDI clock: %.2f BPM", static_cast<double>(bpm));
        return text;
    }

private:
    // Link source. The engine captured the session for this block; the beat at the block's first
    // and last-plus-one frames (their host times through the engine's MidiClock) gives the beat
    // of every frame in between (the tempo is constant within a capture). A block starts where
    // the previous one ended unless Link's beat differs by half a tick or more (a timeline jump):
    // the callback's wake-up jitter is absorbed by the slope instead of doubling or dropping an
    // edge. Output k of period P beats is high on a frame while the beat's phase in P is below
    // Width; bars are Link's quantum (= Beats per Bar).
    void processLink(const ProcessContext& ctx, const std::array<float*, kClockOutputs>& out,
                     const std::array<std::int64_t, kClockOutputs>& division, float width, int beats) noexcept {
        const int frames = ctx.frames;
        const LinkBlock& link = *ctx.host->link;
        const double tempo = link.tempo();
        linkTempo_.store(static_cast<float>(tempo), std::memory_order_relaxed);
        if (ctx.out.size() > kClockBpmOut && ctx.out[kClockBpmOut].connected)
            std::fill(ctx.out[kClockBpmOut].data, ctx.out[kClockBpmOut].data + frames, static_cast<float>(tempo));
        const bool runKnob = param(kClockRunParam) >= 0.5f;
        const InputPort& run = ctx.in[kClockRun];
        const float* rn = run.channel(0);
        std::int64_t t0 = 0, t1 = 0;
        const bool timed =
            ctx.host->clock->timeAt(ctx.blockStart, t0) && ctx.host->clock->timeAt(ctx.blockStart + static_cast<std::uint64_t>(frames), t1);
        if (runOut_) {
            for (int n = 0; n < frames; ++n) runOut_[n] = runKnob && (run.connected ? rn[n] >= 0.5f : run.constant >= 0.5f) ? 1.0f : 0.0f;
        }
        if (!timed || !runKnob || (!run.connected && run.constant < 0.5f)) {
            for (float* o : out)
                if (o) std::fill(o, o + frames, 0.0f);
            linkContinues_ = false;
            return;
        }
        const double quantum = beats;
        double b0 = link.beatAt(t0, quantum);
        const double b1 = link.beatAt(t1, quantum);
        if (linkContinues_ && std::fabs(b0 - linkBeat_) < 0.5 / kPpqn) b0 = linkBeat_;
        const double step = std::max(0.0, (b1 - b0) / frames);
        linkBeat_ = b0 + step * frames;
        linkContinues_ = true;
        const double w = width;
        for (int k = 0; k < kClockOutputs; ++k) {
            float* o = out[static_cast<std::size_t>(k)];
            if (!o) continue;
            const double perBeat = double(kPpqn) / double(division[static_cast<std::size_t>(k)]);  // periods per beat
            const double u0 = b0 * perBeat, du = step * perBeat;
            for (int n = 0; n < frames; ++n) {
                const double u = u0 + du * n;
                o[n] = u - std::floor(u) < w ? 1.0f : 0.0f;
            }
        }
        if (run.connected)
            for (int n = 0; n < frames; ++n)
                if (rn[n] < 0.5f)
                    for (float* o : out)
                        if (o) o[n] = 0.0f;
    }

    // MIDI source. Each 0xF8 begins the next tick on its own frame (phase-locked: the incoming
    // ticks are the position, so nothing drifts); within a tick the outputs' pulse widths follow
    // the measured tick period. Segments between events and reset edges are rendered in runs.
    void processMidi(const ProcessContext& ctx, const std::array<float*, kClockOutputs>& out,
                     const std::array<std::int64_t, kClockOutputs>& division, std::int64_t cycle, float bpm) noexcept {
        const int frames = ctx.frames;
        const InputPort& reset = ctx.in[kClockReset];
        const float* rs = reset.channel(0);
        float* bpmOut = ctx.out.size() > kClockBpmOut && ctx.out[kClockBpmOut].connected ? ctx.out[kClockBpmOut].data : nullptr;
        const std::span<const MidiEvent> events = ctx.midi();
        std::size_t e = 0;
        int n = 0;
        while (n < frames) {
            for (; e < events.size() && static_cast<int>(events[e].frame) <= n; ++e)
                onMidi(events[e], ctx.blockStart + events[e].frame, division, cycle);
            if (reset.connected) {
                const bool high = rs[n] >= 0.5f;
                if (high && !resetHigh_) nextTick_ = 0;  // the next tick plays the bar's first
                resetHigh_ = high;
            }
            int end = frames;
            if (e < events.size()) end = std::min(end, static_cast<int>(events[e].frame));
            if (reset.connected) end = std::min(end, gateChangeAt(reset, rs, n + 1, frames, resetHigh_));
            if (bpmOut) {
                const float measured = period_ > 0.0 ? static_cast<float>(60.0 * sampleRate() / (kPpqn * period_)) : bpm;
                std::fill(bpmOut + n, bpmOut + end, measured);
            }
            renderMidi(out, n, end);
            n = end;
        }
    }

    void onMidi(const MidiEvent& ev, std::uint64_t frame, const std::array<std::int64_t, kClockOutputs>& division,
                std::int64_t cycle) noexcept {
        switch (ev.status) {
            case 0xF8:
                measureTick(frame);
                if (!midiRunning_) break;
                tick_ = nextTick_ % cycle;
                ++nextTick_;
                elapsed_ = 0;
                for (int k = 0; k < kClockOutputs; ++k) {
                    const auto kk = static_cast<std::size_t>(k);
                    base_[kk] = (tick_ % division[kk]) * den_;
                    if (base_[kk] == 0) suppressed_[kk] = false;  // a period of this output begins
                }
                tickPlayed_ = true;
                break;
            case 0xFA:  // start: the next clock is the song's first tick
                midiRunning_ = true;
                nextTick_ = 0;
                tickPlayed_ = false;
                suppressed_.fill(false);
                break;
            case 0xFB:  // continue: the next clock plays the tick after the last one played
                if (midiRunning_) break;
                midiRunning_ = true;
                tickPlayed_ = false;
                suppressed_.fill(true);  // outputs wait for their next period, as after a Run pause
                break;
            case 0xFC:  // stop: outputs low, position kept
                midiRunning_ = false;
                break;
            case 0xF2:  // song position pointer, in 16ths (6 ticks each)
                nextTick_ = static_cast<std::int64_t>(ev.data1 | (ev.data2 << 7)) * 6;
                break;
            default:
                break;
        }
    }

    // The tick period: least-squares slope of the window's tick frames against their index.
    void measureTick(std::uint64_t frame) noexcept {
        if (ticksSeen_ > 0) {
            const double interval =
                static_cast<double>(frame - tickFrames_[static_cast<std::size_t>((tickHead_ + kTempoWindow - 1) % kTempoWindow)]);
            if (period_ > 0.0 && (interval > 2.0 * period_ || interval < 0.5 * period_)) {
                tickFrames_[0] = tickFrames_[static_cast<std::size_t>((tickHead_ + kTempoWindow - 1) % kTempoWindow)];
                tickHead_ = 1;
                ticksSeen_ = 1;
                period_ = 0.0;
            }
        }
        tickFrames_[static_cast<std::size_t>(tickHead_)] = frame;
        tickHead_ = (tickHead_ + 1) % kTempoWindow;
        ticksSeen_ = std::min(ticksSeen_ + 1, kTempoWindow);
        if (ticksSeen_ < 2) return;
        const int count = ticksSeen_;
        const int first = (tickHead_ + kTempoWindow - count) % kTempoWindow;
        const std::uint64_t origin = tickFrames_[static_cast<std::size_t>(first)];
        const double meanX = 0.5 * (count - 1);
        double meanY = 0.0;
        for (int i = 0; i < count; ++i)
            meanY += static_cast<double>(tickFrames_[static_cast<std::size_t>((first + i) % kTempoWindow)] - origin);
        meanY /= count;
        double sxy = 0.0, sxx = 0.0;
        for (int i = 0; i < count; ++i) {
            const double dx = i - meanX;
            sxy += dx * (static_cast<double>(tickFrames_[static_cast<std::size_t>((first + i) % kTempoWindow)] - origin) - meanY);
            sxx += dx * dx;
        }
        period_ = std::max(1.0, sxy / sxx);
        num_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(static_cast<double>(den_) / period_)));
    }

    // Frames [n0, n1) inside the current tick (or stopped).
    void renderMidi(const std::array<float*, kClockOutputs>& out, int n0, int n1) noexcept {
        const int len = n1 - n0;
        if (runOut_) std::fill(runOut_ + n0, runOut_ + n1, midiRunning_ ? 1.0f : 0.0f);
        if (!midiRunning_ || !tickPlayed_) {
            for (float* o : out)
                if (o) std::fill(o + n0, o + n1, 0.0f);
            return;
        }
        // Until a tempo is measured, a tick is assumed to last as the Tempo knob says.
        const std::int64_t num = period_ > 0.0 ? num_ : std::max<std::int64_t>(1, fallbackNum_);
        for (int k = 0; k < kClockOutputs; ++k) {
            const auto kk = static_cast<std::size_t>(k);
            float* o = out[kk];
            if (!o) continue;
            int high = 0;
            if (suppressed_[kk]) {
                high = 0;
            } else if (threshold_[kk] - base_[kk] >= den_) {
                high = len;  // high through the whole tick, however long the next clock takes
            } else {
                const std::int64_t room = threshold_[kk] - base_[kk] - elapsed_;
                high = room <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(len, (room + num - 1) / num));
            }
            std::fill(o + n0, o + n0 + high, 1.0f);
            std::fill(o + n0 + high, o + n1, 0.0f);
        }
        // A late clock holds the position at the tick's end: the next tick starts only on a clock.
        elapsed_ = std::min(elapsed_ + static_cast<std::int64_t>(len) * num, den_ - 1);
    }

    std::int64_t den_ = 0;                                          // units per tick
    std::int64_t tick_ = 0;                                         // ticks into the bar
    std::int64_t elapsed_ = 0;                                      // units into the current tick (when started)
    std::array<std::int64_t, kClockOutputs> base_{}, threshold_{};  // units into each output's period at tick start; its high time
    std::array<bool, kClockOutputs> suppressed_{};                  // held low until its next period (after a resume)
    float cachedWidth_ = -1.0f;
    int cachedBeats_ = 0;
    bool resetHigh_ = false, started_ = false, wasRunning_ = false;
    float* runOut_ = nullptr;  // this block's run output (nullptr: unconnected)

    int mode_ = kSourceInternal;  // the source running (audio thread)
    // Link source (audio thread).
    double linkBeat_ = 0.0;           // the beat the next block starts on
    bool linkContinues_ = false;      // linkBeat_ is valid
    std::atomic<int> linkState_{-1};  // for status(): -1 not run yet, 0 no Link session, 1 following Link
    std::atomic<float> linkTempo_{0.0f};

    // MIDI source (audio thread).
    bool midiRunning_ = false;                              // between start/continue and stop
    bool tickPlayed_ = false;                               // a clock arrived since start/continue: outputs follow the tick
    std::int64_t nextTick_ = 0;                             // song position (ticks) the next clock plays
    std::int64_t num_ = 1;                                  // units per sample at the measured tempo
    std::int64_t fallbackNum_ = 1;                          // units per sample at the Tempo knob
    std::array<std::uint64_t, kTempoWindow> tickFrames_{};  // engine frames of the latest clocks (a ring)
    int tickHead_ = 0, ticksSeen_ = 0;
    double period_ = 0.0;                   // measured frames per tick; 0: not yet
    std::atomic<float> measuredBpm_{0.0f};  // for status()
};

const ModuleDescriptor kClock{
    .id = "clock",
    .name = "Clock",
    .category = "Sequencers",
    .help =
        "A master clock, exact to the sample: at BPM beats per minute, beat k begins on sample "
        "ceil(k x 60 x sampleRate / BPM) for ever (120 BPM at 48 kHz: every 24000 samples; "
        "133 BPM: 21654 or 21655 samples apart, never drifting), and every output is a whole "
        "number of 24-ppqn ticks: PPQN (24 per beat, the MIDI clock rate), 16ths (6 ticks), "
        "8ths (12), 8th-note triplets (3 per beat, 8 ticks), beats (24) and bars (Beats per bar "
        "x 24). Each output is a gate, high for the first Width of its own period. It runs "
        "while the Run knob is on and the Run input is high (unpatched: high); stopped, all "
        "outputs are low and the position is kept, so it continues where it stopped. A rising "
        "edge on Reset restarts the bar on that very sample (every output rises). Tempo "
        "changes take effect at once, keeping the position within the tick. Source MIDI "
        "follows MIDI clock from any MIDI input instead (docs/midi.md): every clock message "
        "(0xF8) begins the next tick on its own sample, Start (0xFA) rewinds so that the next "
        "clock is beat 1 of bar 1, Continue (0xFB) goes on from the next tick, Stop (0xFC) sends "
        "every output low and keeps the position, Song Position (0xF2) moves to that 16th; the "
        "pulse widths follow the tempo measured from the clocks (least squares over the last 96 "
        "ticks), shown on the BPM output; Run is ignored and Reset makes the next clock play "
        "the bar's first tick. Source Link follows the Ableton Link session (kabel play --link, "
        "docs/midi.md): 24 ticks per Link beat, bars of Beats per bar in phase with every peer "
        "using that quantum, each frame's beat computed from the host time of its block, the "
        "BPM output showing the session tempo; Run still gates the outputs, Reset is ignored (the "
        "timeline is the session's). Without Link it runs on the Tempo knob and says so.",
    .inputs = {{.id = "run",
                .name = "Run",
                .kind = SignalKind::Gate,
                .defaultValue = 1.0f,
                .help = "high (>= 0.5) runs the clock (unpatched: running)"},
               {.id = "reset",
                .name = "Reset",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge restarts the bar on that sample"}},
    .outputs = {gateOut("ppqn", "24 PPQN", "24 pulses per beat"),
                gateOut("sixteenth", "16ths", "4 pulses per beat"),
                gateOut("eighth", "8ths", "2 pulses per beat"),
                gateOut("triplet", "8th Triplets", "3 pulses per beat"),
                gateOut("beat", "Beat", "1 pulse per beat"),
                gateOut("bar", "Bar", "1 pulse per bar"),
                gateOut("run", "Running", "high while the clock runs (MIDI source: from start/continue to stop)"),
                {.id = "bpm",
                 .name = "BPM",
                 .kind = SignalKind::Control,
                 .defaultValue = 0.0f,
                 .help = "the tempo in BPM: the Tempo knob, or with source MIDI the measured tempo (the knob's "
                         "until two clocks have arrived)"}},
    .params = {{.id = "bpm",
                .name = "Tempo",
                .min = 10.0f,
                .max = 999.0f,
                .defaultValue = 120.0f,
                .unit = "BPM",
                .curve = ParamCurve::Exponential,
                .help = "beats (quarter notes) per minute"},
               {.id = "width",
                .name = "Width",
                .min = 0.01f,
                .max = 0.99f,
                .defaultValue = 0.5f,
                .unit = "",
                .help = "fraction of each output's period its gate is high"},
               {.id = "beats",
                .name = "Beats per Bar",
                .min = 1.0f,
                .max = 16.0f,
                .defaultValue = 4.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "the bar output's length in beats"},
               {.id = "run",
                .name = "Run",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "start/stop (and the Run input)"},
               {.id = "source",
                .name = "Source",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"internal", "MIDI", "Link"},
                .help = "internal: the Tempo knob; MIDI: follow MIDI clock, start, stop, continue and song position; Link: "
                        "follow the Ableton Link session's beat and tempo (kabel play --link; internal while Link is off)"}},
    .create = [] { return std::unique_ptr<Module>(new Clock(kClock)); },
};
const RegisterModule registerClock{kClock};

// ---------------------------------------------------------------------------------------------
// divider: divides or multiplies a clock by a ratio.

enum DividerInputs { kDividerClock, kDividerReset };
enum DividerOutputs { kDividerOut };
enum DividerParams { kDividerDivide, kDividerMultiply };

// ceil(2^64 * cycles / frames), exactly; at most half a cycle per frame.
std::uint64_t exactIncrement(std::uint64_t cycles, std::uint64_t frames) noexcept {
    if (frames == 0 || cycles == 0) return 0;
    if (2 * cycles >= frames) return 0x8000000000000000ull;
    __extension__ typedef unsigned __int128 Uint128;  // GCC/Clang: exact 2^64 x cycles
    const Uint128 num = (static_cast<Uint128>(cycles) << 64) - 1;
    return static_cast<std::uint64_t>(num / frames) + 1;
}

class Divider final : public Module {
public:
    using Module::Module;

    void reset() noexcept override { ch_.fill(Channel{}); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const int divide = std::clamp(static_cast<int>(param(kDividerDivide)), 1, 64);
        const int multiply = std::clamp(static_cast<int>(param(kDividerMultiply)), 1, 64);
        const InputPort& clock = ctx.in[kDividerClock];
        const InputPort& reset = ctx.in[kDividerReset];
        const OutputPort& out = ctx.out[kDividerOut];
        for (int c = 0; c < out.channels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            const float* ck = clock.channel(c);
            const float* rs = reset.channel(c);
            float* __restrict o = out.channel(c);
            if (divide != st.divide || multiply != st.multiply) {
                st.divide = divide;
                st.multiply = multiply;
                st.inc = st.period > 0 ? exactIncrement(std::uint64_t(multiply), std::uint64_t(divide) * std::uint64_t(st.period)) : 0;
            }
            // Runs of frames between input changes (found by a vectorised scan); within a run the
            // output is a few runs of 1s and 0s whose lengths follow from the phase arithmetic.
            int n = 0;
            while (n < frames) {
                if (reset.connected) {
                    const bool high = rs[n] >= 0.5f;
                    if (high && !st.resetHigh) st.resetPending = true;
                    st.resetHigh = high;
                }
                const bool high = clock.connected ? ck[n] >= 0.5f : clock.constant >= 0.5f;
                if (high && !st.clockHigh) onEdge(st, divide, multiply);
                st.clockHigh = high;
                int end = frames;  // the inputs hold their states on [n, end)
                if (clock.connected) end = std::min(end, gateChangeAt(clock, ck, n + 1, frames, high));
                if (reset.connected) end = std::min(end, gateChangeAt(reset, rs, n + 1, frames, st.resetHigh));
                if (st.sinceEdge >= 0) st.sinceEdge += end - n;
                if (st.inc == 0) {
                    // No period measured yet: pass the group's first clock pulse through.
                    std::fill(o + n, o + end, st.active && st.edgeCount == 0 && high ? 1.0f : 0.0f);
                    n = end;
                    continue;
                }
                while (n < end) {
                    if (!st.active) {  // the group's pulses are done: wait for the next group
                        std::fill(o + n, o + end, 0.0f);
                        n = end;
                        break;
                    }
                    // High while the phase is in the first half of a cycle; the count of frames
                    // to the half or to the wrap is ceil(distance / inc).
                    constexpr std::uint64_t kHalf = 0x8000000000000000ull;
                    const bool first = st.phase < kHalf;
                    const std::uint64_t distance = first ? kHalf - st.phase : std::uint64_t{0} - st.phase;
                    const std::uint64_t count = (distance - 1) / st.inc + 1;
                    const int len = static_cast<int>(std::min<std::uint64_t>(count, std::uint64_t(end - n)));
                    std::fill(o + n, o + n + len, first && !st.suppressed ? 1.0f : 0.0f);
                    st.phase += static_cast<std::uint64_t>(len) * st.inc;
                    if (!first && std::uint64_t(len) == count) {  // wrapped: the next pulse
                        st.suppressed = false;
                        if (++st.cycles >= multiply) st.active = false;
                    }
                    n += len;
                }
            }
        }
    }

private:
    struct Channel {
        bool clockHigh = false, resetHigh = false, resetPending = false, active = false;
        bool suppressed = false;  // the current pulse is not sent (the period was learned during it)
        std::int64_t sinceEdge = -1, period = 0;
        int edgeCount = 0, cycles = 0, divide = 0, multiply = 0;
        std::uint64_t phase = 0, inc = 0;
    };

    // A rising clock edge: measure the period, start a group every `divide` edges.
    static void onEdge(Channel& st, int divide, int multiply) noexcept {
        const bool learned = st.inc == 0 && st.sinceEdge > 0;
        if (st.sinceEdge > 0) {
            st.period = st.sinceEdge;
            st.inc = exactIncrement(std::uint64_t(multiply), std::uint64_t(divide) * std::uint64_t(st.period));
        }
        if (st.sinceEdge < 0 || st.resetPending || ++st.edgeCount >= divide) {
            st.edgeCount = 0;
            st.resetPending = false;
            st.phase = 0;
            st.cycles = 0;
            st.active = true;
            st.suppressed = false;
        } else if (learned && st.active) {
            // The first period is known mid-group: continue where the group would be, but a
            // pulse already under way stays low (it was not sent).
            __extension__ typedef unsigned __int128 Uint128;
            const Uint128 total = static_cast<Uint128>(st.inc) * static_cast<Uint128>(st.edgeCount) * std::uint64_t(st.period);
            st.cycles = static_cast<int>(std::min<Uint128>(total >> 64, Uint128(multiply)));
            st.phase = static_cast<std::uint64_t>(total);
            st.active = st.cycles < multiply;
            st.suppressed = true;
        }
        st.sinceEdge = 0;
    }

    std::array<Channel, kMaxChannels> ch_{};
};

const ModuleDescriptor kDivider{
    .id = "divider",
    .name = "Clock Divider",
    .category = "Sequencers",
    .help =
        "Divides and multiplies a clock: the output runs at the input's rate x Multiply / "
        "Divide. Every Divide input pulses start a group on that very sample, in which the "
        "output sends Multiply evenly spaced pulses, each a gate high for half its own period; "
        "the spacing is Divide x the last measured input period (in whole samples) / Multiply, "
        "so pulse k of a group starts on sample ceil(k x Divide x period / Multiply) after it "
        "and a steady clock's output never drifts (Divide 2: high for one input period, low "
        "for the next; Multiply 3: three pulses per input pulse). If the input slows down, the "
        "output waits for the next group after its Multiply pulses; if it speeds up, the next "
        "group starts early (merging with a pulse still high at that moment). Until a period "
        "is measured (the first pulse), the group's first input pulse passes through. A rising "
        "edge on Reset makes the next input pulse start a group. Polyphonic: one divider per "
        "clock channel.",
    .inputs = {{.id = "clock", .name = "Clock", .kind = SignalKind::Gate, .defaultValue = 0.0f, .help = "the clock to divide or multiply"},
               {.id = "reset",
                .name = "Reset",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge makes the next clock pulse start a group"}},
    .outputs = {gateOut("out", "Out", "the divided/multiplied clock")},
    .params = {{.id = "divide",
                .name = "Divide",
                .min = 1.0f,
                .max = 64.0f,
                .defaultValue = 2.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "input pulses per group"},
               {.id = "multiply",
                .name = "Multiply",
                .min = 1.0f,
                .max = 64.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "output pulses per group"}},
    .create = [] { return std::unique_ptr<Module>(new Divider(kDivider)); },
};
const RegisterModule registerDivider{kDivider};

// ---------------------------------------------------------------------------------------------
// stepseq

enum StepseqInputs { kStepseqClock, kStepseqReset };
enum StepseqOutputs { kStepseqPitch, kStepseqGate, kStepseqStep, kStepseqVelocity };

constexpr int kMaxSteps = 64;

struct Step {
    float pitch = 0.0f;     // octaves re C4
    float prob = 1.0f;      // chance the step plays, 0..1
    float velocity = 1.0f;  // 0..1
    bool gate = true;       // false: a rest
    bool tie = false;       // the gate stays high into the next step
};

struct Pattern {
    int length = 16;
    std::array<Step, kMaxSteps> steps{};
};

// Parses {"length": n, "steps": [{"pitch": p, "gate": g, "prob": q, "tie": t, "velocity": v}, ...]}
// strictly: unknown keys, wrong types and values out of range are errors; missing fields take
// their defaults. UI thread.
std::unique_ptr<Pattern> parsePattern(const nlohmann::json& state) {
    auto pattern = std::make_unique<Pattern>();
    if (state.is_null()) return pattern;
    auto fail = [](const std::string& what) { throw std::invalid_argument("stepseq state: " + what); };
    if (!state.is_object()) fail("expected an object {\"length\": ..., \"steps\": [...]}");
    for (const auto& [key, value] : state.items())
        if (key != "length" && key != "steps") fail("unknown key \"" + key + "\" (expected \"length\" and \"steps\")");
    int count = 16;
    if (state.contains("steps")) {
        const nlohmann::json& steps = state["steps"];
        if (!steps.is_array()) fail("\"steps\" must be an array");
        if (steps.empty() || steps.size() > kMaxSteps)
            fail("\"steps\" must hold 1 to " + std::to_string(kMaxSteps) + " steps (it holds " + std::to_string(steps.size()) + ")");
        count = static_cast<int>(steps.size());
        for (int i = 0; i < count; ++i) {
            const nlohmann::json& s = steps[static_cast<std::size_t>(i)];
            const std::string where = "steps[" + std::to_string(i) + "]";
            if (!s.is_object()) fail(where + " must be an object");
            Step& step = pattern->steps[static_cast<std::size_t>(i)];
            for (const auto& item : s.items()) {
                const std::string& key = item.key();  // (not a structured binding: clang 14 cannot capture one)
                const nlohmann::json& value = item.value();
                auto number = [&](float lo, float hi) {
                    if (!value.is_number()) fail(where + "." + key + " must be a number");
                    const double v = value.get<double>();
                    if (!(v >= lo && v <= hi))
                        fail(where + "." + key + " is " + value.dump() + ", outside " + nlohmann::json(lo).dump() + ".." +
                             nlohmann::json(hi).dump());
                    return static_cast<float>(v);
                };
                auto boolean = [&] {
                    if (!value.is_boolean()) fail(where + "." + key + " must be true or false");
                    return value.get<bool>();
                };
                if (key == "pitch")
                    step.pitch = number(-10.0f, 10.0f);
                else if (key == "prob")
                    step.prob = number(0.0f, 1.0f);
                else if (key == "velocity")
                    step.velocity = number(0.0f, 1.0f);
                else if (key == "gate")
                    step.gate = boolean();
                else if (key == "tie")
                    step.tie = boolean();
                else
                    fail(where + ": unknown key \"" + key + "\" (expected pitch, gate, prob, tie, velocity)");
            }
        }
    }
    pattern->length = count;
    if (state.contains("length")) {
        const nlohmann::json& length = state["length"];
        if (!length.is_number_integer()) fail("\"length\" must be a whole number");
        const auto n = length.get<std::int64_t>();
        if (n < 1 || n > count)
            fail("\"length\" is " + std::to_string(n) + ", outside 1.." + std::to_string(count) +
                 (state.contains("steps") ? " (the number of steps given)" : ""));
        pattern->length = static_cast<int>(n);
    }
    return pattern;
}

class StepSequencer final : public Module {
public:
    explicit StepSequencer(const ModuleDescriptor& d) : Module(d) {
        std::unique_ptr<const Pattern> initial = std::make_unique<const Pattern>();
        pattern_.publish(initial);
    }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        for (int c = 0; c < kMaxChannels; ++c) stream_[static_cast<std::size_t>(c)] = dsp::streamOf(instanceSeed(), 0x736571, c);
    }

    void reset() noexcept override { ch_.fill(Channel{}); }

    void loadState(const nlohmann::json& state, const LoadContext&) override {
        std::unique_ptr<const Pattern> pattern = parsePattern(state);
        pattern_.collect();
        if (pattern_.publish(pattern))
            waiting_.reset();
        else
            waiting_ = std::move(pattern);  // too many in flight: idle() publishes it
    }

    void idle() override {
        pattern_.collect();
        if (waiting_ && pattern_.publish(waiting_)) waiting_.reset();
    }

    void process(const ProcessContext& ctx) noexcept override {
        const Pattern* pattern = pattern_.get();
        const InputPort& clock = ctx.in[kStepseqClock];
        const InputPort& reset = ctx.in[kStepseqReset];
        const OutputPort& pitchOut = ctx.out[kStepseqPitch];
        const OutputPort& gateOut = ctx.out[kStepseqGate];
        const OutputPort& stepOut = ctx.out[kStepseqStep];
        const OutputPort& velocityOut = ctx.out[kStepseqVelocity];
        for (int c = 0; c < pitchOut.channels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            const std::uint64_t stream = stream_[static_cast<std::size_t>(c)];
            float* p = pitchOut.channel(c);
            float* g = gateOut.connected ? gateOut.channel(c) : nullptr;
            float* s = stepOut.connected ? stepOut.channel(c) : nullptr;
            float* v = velocityOut.connected ? velocityOut.channel(c) : nullptr;
            auto render = [&](int i0, int i1) {
                std::fill(p + i0, p + i1, st.pitch);
                if (g) std::fill(g + i0, g + i1, st.playing && (st.clock.clockHigh || st.tie) ? 1.0f : 0.0f);
                if (s) std::fill(s + i0, s + i1, static_cast<float>(std::max(st.position, 0)));
                if (v) std::fill(v + i0, v + i1, st.velocity);
            };
            auto onClock = [&](int) {
                const int length = pattern->length;
                st.position = st.clock.resetPending || st.position < 0 ? 0 : (st.position + 1) % length;
                st.clock.resetPending = false;
                const Step& step = pattern->steps[static_cast<std::size_t>(st.position)];
                // One draw per step, used or not, so the n-th step's chance is the same whatever
                // the pattern did before.
                const float u = unitAt(stream, st.counter++);
                st.playing = step.gate && u < step.prob;
                st.tie = st.playing && step.tie;
                if (st.playing) {
                    st.pitch = step.pitch;
                    st.velocity = step.velocity;
                }
            };
            runClocked(st.clock, clock, clock.channel(c), reset, reset.channel(c), ctx.frames, render, onClock);
        }
    }

private:
    struct Channel {
        ClockState clock;
        int position = -1;  // the current step; -1 before the first clock
        bool playing = false, tie = false;
        float pitch = 0.0f, velocity = 0.0f;
        std::uint64_t counter = 0;
    };
    RtValue<Pattern> pattern_;
    std::unique_ptr<const Pattern> waiting_;
    std::array<Channel, kMaxChannels> ch_{};
    std::array<std::uint64_t, kMaxChannels> stream_{};
};

const ModuleDescriptor kStepseq{
    .id = "stepseq",
    .name = "Step Sequencer",
    .category = "Sequencers",
    .help =
        "A step sequencer of up to 64 steps, kept in the patch as state: {\"length\": 16, "
        "\"steps\": [{\"pitch\": 0.25, \"gate\": true, \"prob\": 1.0, \"tie\": false, "
        "\"velocity\": 1.0}, ...]} (pitch in octaves re C4, -10..10; gate false is a rest; prob "
        "0..1 the chance the step plays; tie holds the gate into the next step for legato; "
        "velocity 0..1; missing fields take these defaults; length 1..the number of steps, "
        "default all of them; no state: 16 steps at pitch 0). Each rising edge on Clock "
        "advances one step, wrapping after Length; the first clock plays step 1. A step that "
        "plays sets Pitch and Velocity (held until the next step that plays, so a release "
        "tail keeps its pitch) and opens Gate while the clock is high (a tie keeps it high "
        "until the next step begins). Probability draws one random number per step from a "
        "stream of the instance's own, the same on every render of the patch. Step outputs "
        "the current step index, 0..Length-1. A rising edge on Reset makes the next clock "
        "play step 1. Polyphonic: each clock channel runs its own cursor through the pattern.",
    .inputs = {clockIn(), resetIn()},
    .outputs = {{.id = "pitch", .name = "Pitch", .kind = SignalKind::Pitch, .help = "the last played step's pitch, octaves"},
                gateOut("gate", "Gate", "high while the clock is high on a step that plays"),
                {.id = "step", .name = "Step", .kind = SignalKind::Control, .help = "the current step, 0..Length-1"},
                {.id = "velocity", .name = "Velocity", .kind = SignalKind::Control, .help = "the last played step's velocity, 0..1"}},
    .params = {},
    .create = [] { return std::unique_ptr<Module>(new StepSequencer(kStepseq)); },
};
const RegisterModule registerStepseq{kStepseq};

// ---------------------------------------------------------------------------------------------
// rhythm: Euclidean rhythms and named rhythm cycles (docs/rhythms.md gives each with its source).

enum RhythmInputs { kRhythmClock, kRhythmReset };
enum RhythmOutputs { kRhythmGate, kRhythmAccent, kRhythmStep, kRhythmStart };
enum RhythmParams { kRhythmMode, kRhythmHits, kRhythmSteps, kRhythmRotate };

// Accent levels (documented in the help and docs/rhythms.md).
constexpr float kAccentSam = 1.0f;    // tala: sam, the first beat; other cycles: an onset on the first step
constexpr float kAccentTali = 0.7f;   // tala: a clapped vibhag's first beat
constexpr float kAccentKhali = 0.3f;  // tala: the waved ("empty") vibhag's first beat
constexpr float kAccentOnset = 0.5f;  // any other onset

// A named cycle: its onsets ('x' an onset, '.' a rest) and, for talas, its vibhag marks ('X' sam,
// a digit a tali, '0' khali, '.' inside a vibhag), one character per step.
struct NamedCycle {
    std::string_view onsets;
    std::string_view marks;  // empty: not a tala
};

// In the order of the mode choices after "euclidean" (append-only).
constexpr std::array<NamedCycle, 16> kNamedCycles{{
    {"xxxxxxxxxxxxxxxx", "X...2...0...3..."},  // tintal: 16 = 4+4+4+4
    {"xxxxxxx", "0..1.2."},                    // rupak: 7 = 3+2+2, sam on khali
    {"xxxxxxxxxx", "X.2..0.3.."},              // jhaptal: 10 = 2+3+2+3
    {"xxxxxxxxxxxx", "X.0.2.0.3.4."},          // ektal: 12 = 2+2+2+2+2+2
    {"xxxxxx", "X..0.."},                      // dadra: 6 = 3+3
    {"xxxxxxxx", "X...0..."},                  // keherwa: 8 = 4+4
    {"x..x..x...x.x...", ""},                  // son clave 3-2
    {"..x.x...x..x..x.", ""},                  // son clave 2-3
    {"x..x...x..x.x...", ""},                  // rumba clave 3-2
    {"..x.x...x..x...x", ""},                  // rumba clave 2-3
    {"x..x..x.", ""},                          // tresillo
    {"x.xx.xx.", ""},                          // cinquillo
    {"x...x.x...x.x...", ""},                  // shiko
    {"x..x..x...xx....", ""},                  // soukous
    {"x..x..x...x..x..", ""},                  // bossa-nova
    {"x..x..x...x...x.", ""},                  // gahu
}};
constexpr int kRhythmModes = 1 + static_cast<int>(kNamedCycles.size());

struct Cycle {
    int length = 1;
    std::array<float, kMaxSteps> accent{};  // 0: a rest; > 0: an onset with this accent
};

// Bjorklund's algorithm, as Toussaint (2005) describes it: start with k groups "1" and n - k
// groups "0"; repeatedly append one remainder group to each leading group (as many as there are
// of the fewer kind), the unpaired groups becoming the new remainder, until at most one
// remainder group is left; then read the leading groups, then the remainder. At every stage all
// leading groups are equal and all remainder groups are equal, so two bit strings suffice.
void bjorklund(int k, int n, std::array<bool, kMaxSteps>& out) noexcept {
    out.fill(false);
    if (n < 1) return;
    k = std::clamp(k, 0, n);
    if (k == 0) return;
    struct Group {
        std::uint64_t bits = 0;  // bit i is the group's i-th step
        int length = 0;
    };
    auto concat = [](Group a, Group b) { return Group{a.bits | (b.bits << a.length), a.length + b.length}; };
    Group lead{1, 1}, rest{0, 1};
    int leadCount = k, restCount = n - k;
    while (restCount > 1) {
        const int paired = std::min(leadCount, restCount);
        const Group joined = concat(lead, rest);
        if (leadCount > paired) {
            rest = lead;
            restCount = leadCount - paired;
        } else {
            restCount -= paired;
        }
        lead = joined;
        leadCount = paired;
    }
    int pos = 0;
    for (int g = 0; g < leadCount; ++g)
        for (int b = 0; b < lead.length; ++b) out[static_cast<std::size_t>(pos++)] = (lead.bits >> b) & 1u;
    for (int g = 0; g < restCount; ++g)
        for (int b = 0; b < rest.length; ++b) out[static_cast<std::size_t>(pos++)] = (rest.bits >> b) & 1u;
}

// The cycle for a mode, rotated left by `rotate` steps (step i plays step i + rotate).
void buildCycle(int mode, int hits, int steps, int rotate, Cycle& cycle) noexcept {
    std::array<float, kMaxSteps> base{};
    int length = 1;
    if (mode == 0) {
        length = std::clamp(steps, 1, kMaxSteps);
        std::array<bool, kMaxSteps> on{};
        bjorklund(hits, length, on);
        for (int i = 0; i < length; ++i) base[static_cast<std::size_t>(i)] = on[static_cast<std::size_t>(i)] ? kAccentOnset : 0.0f;
    } else {
        const NamedCycle& named = kNamedCycles[static_cast<std::size_t>(mode - 1)];
        length = static_cast<int>(named.onsets.size());
        for (int i = 0; i < length; ++i) {
            float a = named.onsets[static_cast<std::size_t>(i)] == 'x' ? kAccentOnset : 0.0f;
            if (!named.marks.empty() && a > 0.0f) {
                const char m = named.marks[static_cast<std::size_t>(i)];
                if (m == 'X')
                    a = kAccentSam;
                else if (m == '0')
                    a = kAccentKhali;
                else if (m >= '1' && m <= '9')
                    a = kAccentTali;
            }
            base[static_cast<std::size_t>(i)] = a;
        }
    }
    cycle.length = length;
    const int r = ((rotate % length) + length) % length;
    for (int i = 0; i < length; ++i) cycle.accent[static_cast<std::size_t>(i)] = base[static_cast<std::size_t>((i + r) % length)];
    // Not a tala: an onset on the cycle's first step is the downbeat.
    if ((mode == 0 || kNamedCycles[static_cast<std::size_t>(mode - 1)].marks.empty()) && cycle.accent[0] > 0.0f)
        cycle.accent[0] = kAccentSam;
}

class Rhythm final : public Module {
public:
    using Module::Module;

    void reset() noexcept override { ch_.fill(Channel{}); }

    void process(const ProcessContext& ctx) noexcept override {
        const int mode = std::clamp(static_cast<int>(param(kRhythmMode)), 0, kRhythmModes - 1);
        const int hits = static_cast<int>(param(kRhythmHits));
        const int steps = static_cast<int>(param(kRhythmSteps));
        const int rotate = static_cast<int>(param(kRhythmRotate));
        if (mode != mode_ || hits != hits_ || steps != steps_ || rotate != rotate_) {
            mode_ = mode;
            hits_ = hits;
            steps_ = steps;
            rotate_ = rotate;
            buildCycle(mode, hits, steps, rotate, cycle_);
        }
        const InputPort& clock = ctx.in[kRhythmClock];
        const InputPort& reset = ctx.in[kRhythmReset];
        const OutputPort& gateOut = ctx.out[kRhythmGate];
        const OutputPort& accentOut = ctx.out[kRhythmAccent];
        const OutputPort& stepOut = ctx.out[kRhythmStep];
        const OutputPort& startOut = ctx.out[kRhythmStart];
        for (int c = 0; c < gateOut.channels; ++c) {
            Channel& st = ch_[static_cast<std::size_t>(c)];
            float* g = gateOut.channel(c);
            float* a = accentOut.connected ? accentOut.channel(c) : nullptr;
            float* s = stepOut.connected ? stepOut.channel(c) : nullptr;
            float* b = startOut.connected ? startOut.channel(c) : nullptr;
            auto render = [&](int i0, int i1) {
                const bool high = st.clock.clockHigh;
                std::fill(g + i0, g + i1, high && st.accent > 0.0f ? 1.0f : 0.0f);
                if (a) std::fill(a + i0, a + i1, st.accent);
                if (s) std::fill(s + i0, s + i1, static_cast<float>(std::max(st.position, 0)));
                if (b) std::fill(b + i0, b + i1, high && st.position == 0 ? 1.0f : 0.0f);
            };
            auto onClock = [&](int) {
                st.position = st.clock.resetPending || st.position < 0 ? 0 : (st.position + 1) % cycle_.length;
                st.clock.resetPending = false;
                st.accent = cycle_.accent[static_cast<std::size_t>(st.position)];
            };
            runClocked(st.clock, clock, clock.channel(c), reset, reset.channel(c), ctx.frames, render, onClock);
        }
    }

private:
    struct Channel {
        ClockState clock;
        int position = -1;
        float accent = 0.0f;
    };
    int mode_ = -1, hits_ = -1, steps_ = -1, rotate_ = -1;
    Cycle cycle_;
    std::array<Channel, kMaxChannels> ch_{};
};

const ModuleDescriptor kRhythm{
    .id = "rhythm",
    .name = "Rhythm Cycles",
    .category = "Sequencers",
    .help =
        "Rhythm cycles, one step per rising Clock edge: Euclidean rhythms E(Hits, Steps) by "
        "Bjorklund's algorithm as Toussaint describes it (\"The Euclidean algorithm generates "
        "traditional musical rhythms\", 2005): E(3,8) = x..x..x. (tresillo), E(5,8) = x.xx.xx. "
        "(cinquillo), E(7,16) = x..x.x.x..x.x.x.; Hindustani talas with their vibhag "
        "structure (Clayton, \"Time in Indian Music\", 2000): tintal 16 = 4+4+4+4 (sam 1, tali 5 "
        "and 13, khali 9), rupak 7 = 3+2+2 (begins on khali; tali 4 and 6), jhaptal 10 = "
        "2+3+2+3 (sam 1, tali 3 and 8, khali 6), ektal 12 = 2+2+2+2+2+2 (sam 1, khali 3 and 7, "
        "tali 5, 9, 11), dadra 6 = 3+3 (sam 1, khali 4), keherwa 8 = 4+4 (sam 1, khali 5), an "
        "onset on every matra; and the timelines of Toussaint's \"The Geometry of Musical "
        "Rhythm\" (2013) in 16 pulses: son clave 3-2 x..x..x...x.x... and 2-3, rumba clave 3-2 "
        "x..x...x..x.x... and 2-3, shiko, soukous, bossa-nova, gahu, and in 8 pulses tresillo "
        "and cinquillo (docs/rhythms.md lists every pattern with its source). Rotate starts the "
        "cycle that many steps later (son 3-2 rotated by 8 is son 2-3); Hits and Steps apply "
        "to the Euclidean mode only. Gate is high while the clock is high on an onset. Accent "
        "holds each step's weight: talas sam 1.0, tali 0.7, khali 0.3, other matras 0.5; other "
        "cycles 1.0 for an onset on the first step, 0.5 for other onsets; 0 on rests. Step "
        "outputs the step index (0..length-1); Start is high while the clock is high on the "
        "first step. A rising edge on Reset makes the next clock play the first step. "
        "Polyphonic: each clock channel runs its own cursor.",
    .inputs = {clockIn(), resetIn()},
    .outputs =
        {gateOut("gate", "Gate", "high while the clock is high on an onset"),
         {.id = "accent", .name = "Accent", .kind = SignalKind::Control, .help = "the step's accent: 1, 0.7, 0.5, 0.3, or 0 on a rest"},
         {.id = "step", .name = "Step", .kind = SignalKind::Control, .help = "the current step, 0..length-1"},
         gateOut("start", "Cycle Start", "high while the clock is high on the first step")},
    .params = {{.id = "mode",
                .name = "Rhythm",
                .min = 0.0f,
                .max = float(kRhythmModes - 1),
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"euclidean", "tintal", "rupak", "jhaptal", "ektal", "dadra", "keherwa", "son 3-2", "son 2-3", "rumba 3-2",
                            "rumba 2-3", "tresillo", "cinquillo", "shiko", "soukous", "bossa-nova", "gahu"},
                .help = "the cycle played"},
               {.id = "hits",
                .name = "Hits",
                .min = 0.0f,
                .max = 64.0f,
                .defaultValue = 3.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "Euclidean: onsets per cycle (at most Steps)"},
               {.id = "steps",
                .name = "Steps",
                .min = 1.0f,
                .max = 64.0f,
                .defaultValue = 8.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "Euclidean: steps per cycle"},
               {.id = "rotate",
                .name = "Rotate",
                .min = 0.0f,
                .max = 63.0f,
                .defaultValue = 0.0f,
                .unit = "steps",
                .curve = ParamCurve::Integer,
                .help = "the cycle starts this many steps later"}},
    .create = [] { return std::unique_ptr<Module>(new Rhythm(kRhythm)); },
};
const RegisterModule registerRhythm{kRhythm};

// ---------------------------------------------------------------------------------------------
// arp: an arpeggiator over the held chord.

enum ArpInputs { kArpPitch, kArpGate, kArpClock, kArpReset };
enum ArpOutputs { kArpPitchOut, kArpGateOut };
enum ArpParams { kArpMode, kArpOctaves };
enum ArpMode { kArpUp, kArpDown, kArpUpDown, kArpRandom, kArpAsPlayed };
constexpr int kArpModes = 5;

class Arp final : public Module {
public:
    using Module::Module;

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        stream_ = dsp::streamOf(instanceSeed(), 0x617270, 0);
    }

    void reset() noexcept override {
        clock_ = ClockState{};
        pressed_.fill(0);
        gateHigh_.fill(false);
        index_ = 0;
        counter_ = 0;
        playing_ = false;
        pitch_ = 0.0f;
        frame_ = 0;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const int mode = std::clamp(static_cast<int>(param(kArpMode)), 0, kArpModes - 1);
        const int octaves = std::clamp(static_cast<int>(param(kArpOctaves)), 1, 4);
        const InputPort& pitch = ctx.in[kArpPitch];
        const InputPort& gate = ctx.in[kArpGate];
        const InputPort& clock = ctx.in[kArpClock];
        const InputPort& reset = ctx.in[kArpReset];
        const int voices = gate.channels;

        // Note-on times (for as-played order): the engine frame of each gate's last rising edge.
        for (int c = 0; c < voices; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            const float* g = gate.channel(c);
            int i = 0;
            while (i < frames) {
                const int j = gateChangeAt(gate, g, i, frames, gateHigh_[cc]);
                if (j == frames) break;
                gateHigh_[cc] = !gateHigh_[cc];
                if (gateHigh_[cc]) pressed_[cc] = frame_ + static_cast<std::uint64_t>(j) + 1;
                i = j;
            }
        }

        float* po = ctx.out[kArpPitchOut].data;
        float* go = ctx.out[kArpGateOut].connected ? ctx.out[kArpGateOut].data : nullptr;
        auto render = [&](int i0, int i1) {
            std::fill(po + i0, po + i1, pitch_);
            if (go) std::fill(go + i0, go + i1, playing_ && clock_.clockHigh ? 1.0f : 0.0f);
        };
        auto onClock = [&](int i) {
            // The chord held on this very frame, in the mode's order.
            std::array<Note, kMaxChannels> notes;
            int count = 0;
            for (int c = 0; c < voices; ++c) {
                const float* g = gate.channel(c);
                if (!(g[i] >= 0.5f)) continue;
                const std::uint64_t on = pressed_[static_cast<std::size_t>(c)];
                // A gate that rose after this frame within the block is not held yet; one held
                // since before any edge we saw counts as the oldest.
                if (on > frame_ + static_cast<std::uint64_t>(i) + 1) continue;
                notes[static_cast<std::size_t>(count++)] = Note{pitch.channel(c)[i], on, c};
            }
            if (clock_.resetPending || count == 0) index_ = 0;  // a new chord starts from its first note
            clock_.resetPending = false;
            playing_ = count > 0;
            if (!playing_) return;
            const bool byTime = mode == kArpAsPlayed;
            std::sort(notes.begin(), notes.begin() + count, [byTime](const Note& a, const Note& b) {
                if (byTime && a.on != b.on) return a.on < b.on;
                if (!byTime && a.pitch != b.pitch) return a.pitch < b.pitch;
                return a.channel < b.channel;
            });
            const int length = count * octaves;  // the sequence: the notes, then an octave up, ...
            auto at = [&](int k) { return notes[static_cast<std::size_t>(k % count)].pitch + static_cast<float>(k / count); };
            int k = 0;
            switch (mode) {
                case kArpDown:
                    k = length - 1 - static_cast<int>(index_ % std::uint64_t(length));
                    break;
                case kArpUpDown: {
                    const int period = std::max(1, 2 * length - 2);
                    const int p = static_cast<int>(index_ % std::uint64_t(period));
                    k = p < length ? p : period - p;
                    break;
                }
                case kArpRandom:
                    k = std::min(length - 1, static_cast<int>(unitAt(stream_, counter_++) * static_cast<float>(length)));
                    break;
                default:  // up, as played
                    k = static_cast<int>(index_ % std::uint64_t(length));
                    break;
            }
            pitch_ = at(k);
            ++index_;
        };
        runClocked(clock_, clock, clock.channel(0), reset, reset.channel(0), frames, render, onClock);
        frame_ += static_cast<std::uint64_t>(frames);
    }

private:
    struct Note {
        float pitch = 0.0f;
        std::uint64_t on = 0;
        int channel = 0;
    };

    ClockState clock_;
    std::array<std::uint64_t, kMaxChannels> pressed_{};  // 1 + frame of the last note-on; 0: before any
    std::array<bool, kMaxChannels> gateHigh_{};
    std::uint64_t frame_ = 0, stream_ = 0, counter_ = 0;
    std::uint64_t index_ = 0;  // steps since the chord started
    bool playing_ = false;
    float pitch_ = 0.0f;
};

const ModuleDescriptor kArp{
    .id = "arp",
    .name = "Arpeggiator",
    .category = "Sequencers",
    .help =
        "Plays the held chord one note per rising Clock edge. Patch a polyphonic pitch and gate "
        "(e.g. from a MIDI input): the notes whose gate is high at the clock edge are the "
        "chord. The sequence is the chord's notes, then the same an octave up, for Octaves "
        "octaves (1-4). Modes: up (lowest first), down (highest first), up-down (up then down, "
        "not repeating the top and bottom notes), random (a note of the sequence at random, from "
        "the instance's own reproducible stream), as played (in the order the keys went down). "
        "Changing the chord keeps the position; releasing every key starts the next chord from "
        "its first note, as does a rising edge on Reset. Pitch holds the note played (octaves); "
        "Gate is high while the clock is high on a step with a note.",
    .inputs = {{.id = "pitch", .name = "Pitch", .kind = SignalKind::Pitch, .help = "the chord's pitches, one note per channel"},
               {.id = "gate", .name = "Gate", .kind = SignalKind::Gate, .help = "high on the channels whose note is held"},
               clockIn(),
               resetIn()},
    .outputs = {{.id = "pitch", .name = "Pitch", .kind = SignalKind::Pitch, .help = "the note played, octaves"},
                gateOut("gate", "Gate", "high while the clock is high on a step with a note")},
    .params = {{.id = "mode",
                .name = "Mode",
                .min = 0.0f,
                .max = float(kArpModes - 1),
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"up", "down", "up-down", "random", "as played"},
                .help = "the order of the notes"},
               {.id = "octaves",
                .name = "Octaves",
                .min = 1.0f,
                .max = 4.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Integer,
                .help = "octave range of the sequence"}},
    .create = [] { return std::unique_ptr<Module>(new Arp(kArp)); },
};
const RegisterModule registerArp{kArp};

}  // namespace
}  // namespace kabel
