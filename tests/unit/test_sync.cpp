// Sync: the clock following MIDI clock (ticks on their frames, the measured tempo, start, stop,
// continue, song position) and the MIDI clock output module.
//
// Expected behaviour comes from the MIDI 1.0 specification (System Real Time messages: 24 clocks
// per quarter note; after Start the receiver plays on the next clock; Continue resumes at the
// next clock; Song Position Pointer counts MIDI beats = 6 clocks), not from the implementation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/midi/midi_output.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "tests/support/measure.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Ev {
    std::uint64_t frame;
    std::uint8_t status, data1 = 0, data2 = 0;
};

enum { kPpqn, kSixteenth, kEighth, kTriplet, kBeat, kBar, kRun, kBpm };

// Runs one module block by block with MIDI `events` (absolute frames, sorted) and unconnected
// inputs; returns out[port][frame] (channel 0).
class MidiModuleRig {
public:
    MidiModuleRig(const char* type, std::map<std::string, float> params, int block = 64) : block_(block) {
        const ModuleDescriptor* d = Registry::global().find(type);
        REQUIRE(d != nullptr);
        module_ = d->create();
        for (const auto& [id, value] : params) {
            REQUIRE(d->paramIndex(id) >= 0);
            module_->setParam(d->paramIndex(id), value);
        }
        module_->prepare(48000.0, block);
        zeros_.assign(static_cast<std::size_t>(block), 0.0f);
        for (const PortDescriptor& p : d->inputs)
            inputs_.push_back(InputPort{zeros_.data(), zeros_.data(), 1, block, false, p.defaultValue});
        buffers_.assign(d->outputs.size(), std::vector<float>(static_cast<std::size_t>(block)));
        for (auto& b : buffers_) outputs_.push_back(OutputPort{b.data(), 1, block, true});
    }

    Module& module() { return *module_; }

    /// Connects input `id` to a whole signal (before run()).
    void connect(const char* id, std::vector<float> signal) {
        const int index = module_->descriptor().inputIndex(id);
        REQUIRE(index >= 0);
        signals_.resize(inputs_.size());
        signals_[static_cast<std::size_t>(index)] = std::move(signal);
        inputs_[static_cast<std::size_t>(index)].connected = true;
    }

    /// Messages the module sent (absolute frames), over every run().
    std::vector<Ev> sent;
    double processNs = 0.0;  // time spent in process()

    std::vector<std::vector<float>> run(const std::vector<Ev>& events, long frames) {
        std::vector<std::vector<float>> out(buffers_.size());
        std::size_t next = 0;
        while (next < events.size() && events[next].frame < position_) ++next;
        for (long done = 0; done < frames;) {
            const int n = static_cast<int>(std::min<long>(block_, frames - done));
            std::vector<MidiEvent> block;
            for (; next < events.size() && events[next].frame < position_ + static_cast<std::uint64_t>(n); ++next) {
                MidiEvent e;
                e.frame = static_cast<std::uint32_t>(events[next].frame - position_);
                e.status = events[next].status;
                e.data1 = events[next].data1;
                e.data2 = events[next].data2;
                block.push_back(e);
            }
            std::vector<std::vector<float>> blockIn(signals_.size());
            for (std::size_t i = 0; i < signals_.size(); ++i) {
                if (signals_[i].empty()) continue;
                blockIn[i].assign(signals_[i].begin() + static_cast<long>(position_),
                                  signals_[i].begin() + static_cast<long>(position_) + n);
                inputs_[i].data = blockIn[i].data();
            }
            MidiOutputBlock midiOut;
            HostBuffers host;
            host.midi = block;
            host.midiOut = &midiOut;
            ProcessContext ctx;
            ctx.frames = n;
            ctx.blockStart = position_;
            ctx.in = inputs_;
            ctx.out = outputs_;
            ctx.host = &host;
            const auto t0 = std::chrono::steady_clock::now();
            module_->run(ctx);
            processNs += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
            for (const MidiOutEvent& e : midiOut.sorted()) sent.push_back({position_ + e.frame, e.status, e.data1, e.data2});
            for (std::size_t p = 0; p < buffers_.size(); ++p) out[p].insert(out[p].end(), buffers_[p].begin(), buffers_[p].begin() + n);
            done += n;
            position_ += static_cast<std::uint64_t>(n);
        }
        return out;
    }

private:
    int block_;
    std::unique_ptr<Module> module_;
    std::vector<float> zeros_;
    std::vector<InputPort> inputs_;
    std::vector<std::vector<float>> signals_;
    std::vector<std::vector<float>> buffers_;
    std::vector<OutputPort> outputs_;
    std::uint64_t position_ = 0;
};

// Clock frames: tick k at first + k * period + jitter(k), jitter uniform in [-j, j] from a fixed
// linear congruential sequence (reproducible).
std::vector<std::uint64_t> tickFrames(std::uint64_t first, double period, int count, int jitter) {
    std::vector<std::uint64_t> t;
    std::uint32_t state = 12345u;
    for (int k = 0; k < count; ++k) {
        state = state * 1664525u + 1013904223u;
        const int j = jitter ? static_cast<int>(state >> 8) % (2 * jitter + 1) - jitter : 0;
        t.push_back(static_cast<std::uint64_t>(std::llround(static_cast<double>(first) + k * period)) + static_cast<std::uint64_t>(j));
    }
    return t;
}

void addTicks(std::vector<Ev>& events, const std::vector<std::uint64_t>& ticks) {
    for (std::uint64_t f : ticks) events.push_back({f, 0xF8});
}

void sortEvents(std::vector<Ev>& events) {
    std::stable_sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) { return a.frame < b.frame; });
}

std::vector<long> every(const std::vector<std::uint64_t>& ticks, std::size_t from, std::size_t step) {
    std::vector<long> v;
    for (std::size_t k = from; k < ticks.size(); k += step) v.push_back(static_cast<long>(ticks[k]));
    return v;
}

}  // namespace

TEST_CASE("clock source MIDI: every output rises on the frame of its clock message, through 1 ms of jitter", "[sync]") {
    const auto ticks = tickFrames(1000, 1000.0, 24 * 4 * 10, 48);  // 120 BPM at 48 kHz, 10 bars, +-1 ms
    std::vector<Ev> events{{500, 0xFA}};
    addTicks(events, ticks);
    MidiModuleRig rig("clock", {{"source", 1.0f}});
    const long frames = static_cast<long>(ticks.back()) + 600;
    const auto out = rig.run(events, frames);
    CHECK(edgesOf(out[kPpqn]).rising == every(ticks, 0, 1));
    CHECK(edgesOf(out[kSixteenth]).rising == every(ticks, 0, 6));
    CHECK(edgesOf(out[kEighth]).rising == every(ticks, 0, 12));
    CHECK(edgesOf(out[kTriplet]).rising == every(ticks, 0, 8));
    CHECK(edgesOf(out[kBeat]).rising == every(ticks, 0, 24));
    CHECK(edgesOf(out[kBar]).rising == every(ticks, 0, 96));
    // Nothing before the first clock after Start; running from Start on.
    for (long n = 0; n < static_cast<long>(ticks[0]); ++n) REQUIRE(out[kBeat][static_cast<std::size_t>(n)] == 0.0f);
    CHECK(edgesOf(out[kRun]).rising == std::vector<long>{500});
    // Widths follow the measured tempo: 24 ppqn high for half a tick (500 frames) once measured.
    const Edges p = edgesOf(out[kPpqn]);
    REQUIRE(p.falling.size() >= p.rising.size() - 1);
    long widthError = 0;
    for (std::size_t k = 96; k + 1 < p.rising.size(); ++k) widthError = std::max(widthError, std::abs(p.falling[k] - p.rising[k] - 500));
    INFO("ppqn width error " << widthError << " frames");
    CHECK(widthError <= 1);
}

TEST_CASE("clock source MIDI measures the tempo within 0.1 percent and follows a tempo change", "[sync]") {
    // 120 BPM for 8 bars, then 140 BPM (857.14 frames per tick), each with +-1 ms of jitter.
    auto ticks = tickFrames(1000, 1000.0, 24 * 4 * 8, 48);
    const double period140 = 48000.0 * 60.0 / (140.0 * 24.0);
    const auto faster = tickFrames(ticks.back() + 857, period140, 24 * 4 * 8, 48);
    ticks.insert(ticks.end(), faster.begin(), faster.end());
    std::vector<Ev> events{{0, 0xFA}};
    addTicks(events, ticks);
    MidiModuleRig rig("clock", {{"source", 1.0f}, {"bpm", 60.0f}});
    const auto out = rig.run(events, static_cast<long>(ticks.back()) + 100);
    const auto& bpm = out[kBpm];
    CHECK(bpm[500] == 60.0f);  // the knob until two clocks arrived
    auto worst = [&](std::uint64_t from, std::uint64_t to, double expected) {
        double e = 0.0;
        for (std::uint64_t n = from; n < to; ++n) e = std::max(e, std::abs(bpm[n] - expected) / expected);
        return e;
    };
    // After a full window (96 clocks) of each tempo.
    const double error120 = worst(ticks[96], ticks[24 * 4 * 8 - 1], 120.0);
    const double error140 = worst(faster[96], faster.back(), 140.0);
    INFO("BPM error: " << error120 * 100.0 << " % at 120, " << error140 * 100.0 << " % at 140");
    CHECK(error120 < 0.001);
    CHECK(error140 < 0.001);
    // Without jitter the estimate is exact to float precision.
    const auto clean = tickFrames(1000, 1000.0, 200, 0);
    std::vector<Ev> cleanEvents{{0, 0xFA}};
    addTicks(cleanEvents, clean);
    MidiModuleRig exact("clock", {{"source", 1.0f}});
    const auto outExact = exact.run(cleanEvents, 200000);
    CHECK(outExact[kBpm][199999] == Approx(120.0f).epsilon(1e-6));
    CHECK(exact.module().status() == "MIDI clock: 120.00 BPM");
}

TEST_CASE("clock source MIDI: stop sends the outputs low and keeps the position; continue resumes from the next clock", "[sync]") {
    // The master keeps sending clocks while stopped (as most do); they do not move the position.
    const auto ticks = tickFrames(1000, 1000.0, 200, 20);
    std::vector<Ev> events{{0, 0xFA}};
    addTicks(events, ticks);
    const std::uint64_t stopAt = ticks[29] + 700, continueAt = ticks[59] + 300;  // 30 ticks played, 30 sent while stopped
    events.push_back({stopAt, 0xFC});
    events.push_back({continueAt, 0xFB});
    sortEvents(events);
    MidiModuleRig rig("clock", {{"source", 1.0f}});
    const auto out = rig.run(events, static_cast<long>(ticks.back()) + 500);
    for (int port : {kPpqn, kSixteenth, kBeat, kBar, kRun})
        for (std::uint64_t n = stopAt; n < continueAt; ++n) REQUIRE(out[static_cast<std::size_t>(port)][n] == 0.0f);
    // Ticks 0..29 before the stop; clock 60 (the first after continue) plays song tick 30.
    std::vector<long> ppqn = every(std::vector<std::uint64_t>(ticks.begin(), ticks.begin() + 30), 0, 1);
    const auto after = every(std::vector<std::uint64_t>(ticks.begin() + 60, ticks.end()), 0, 1);
    ppqn.insert(ppqn.end(), after.begin(), after.end());
    CHECK(edgesOf(out[kPpqn]).rising == ppqn);
    // 16ths: song ticks 0, 6, .., 24 before; 30 (clock 60), 36 (clock 66), .. after.
    const Edges sixteenth = edgesOf(out[kSixteenth]);
    REQUIRE(sixteenth.rising.size() >= 7);
    CHECK(sixteenth.rising[4] == long(ticks[24]));
    CHECK(sixteenth.rising[5] == long(ticks[60]));
    CHECK(sixteenth.rising[6] == long(ticks[66]));
    // Beats: song ticks 0, 24, then 48 = clock 78, 72 = clock 102; the bar waits for song tick 96.
    const Edges beat = edgesOf(out[kBeat]);
    REQUIRE(beat.rising.size() >= 4);
    CHECK(beat.rising[0] == long(ticks[0]));
    CHECK(beat.rising[1] == long(ticks[24]));
    CHECK(beat.rising[2] == long(ticks[78]));
    CHECK(beat.rising[3] == long(ticks[102]));
    CHECK(edgesOf(out[kBar]).rising == std::vector<long>{long(ticks[0]), long(ticks[126])});
    CHECK(edgesOf(out[kRun]).rising == std::vector<long>{0, long(continueAt)});
    CHECK(edgesOf(out[kRun]).falling == std::vector<long>{long(stopAt)});
}

TEST_CASE("clock source MIDI: song position pointer moves to a 16th; start plays bar 1 on the next clock", "[sync]") {
    const auto ticks = tickFrames(2000, 1000.0, 300, 0);
    std::vector<Ev> events;
    addTicks(events, ticks);
    // Stopped from the outset: song position 8 (16ths) = tick 48 = beat 3 of bar 1, then continue.
    events.push_back({ticks[9] + 10, 0xF2, 8, 0});
    events.push_back({ticks[9] + 20, 0xFB});
    // Later, a Start mid-bar: the next clock is bar 1 again.
    events.push_back({ticks[150] + 400, 0xFA});
    sortEvents(events);
    MidiModuleRig rig("clock", {{"source", 1.0f}});
    const auto out = rig.run(events, static_cast<long>(ticks.back()) + 500);
    // Clock 10 plays tick 48: a beat, not a bar; the bar rises at tick 96 = clock 58, 144 = clock 106.
    const Edges beat = edgesOf(out[kBeat]), bar = edgesOf(out[kBar]);
    REQUIRE(!beat.rising.empty());
    CHECK(beat.rising[0] == long(ticks[10]));
    CHECK(beat.rising[1] == long(ticks[34]));
    REQUIRE(bar.rising.size() >= 3);
    CHECK(bar.rising[0] == long(ticks[58]));
    // The Start after clock 150 (song tick 188) makes clock 151 bar 1, and 247 bar 2.
    CHECK(bar.rising[1] == long(ticks[151]));
    CHECK(bar.rising[2] == long(ticks[247]));
    CHECK(std::count(beat.rising.begin(), beat.rising.end(), long(ticks[151])) == 1);
    // Nothing before the continue.
    for (std::uint64_t n = 0; n < ticks[10]; ++n) REQUIRE(out[kPpqn][n] == 0.0f);
}

TEST_CASE("clock source internal: the run and BPM outputs show the knob and the run input", "[sync]") {
    MidiModuleRig rig("clock", {{"bpm", 133.0f}, {"run", 0.0f}});
    auto out = rig.run({}, 1000);
    CHECK(out[kBpm][999] == 133.0f);
    CHECK(out[kRun][999] == 0.0f);
    rig.module().setParam(rig.module().descriptor().paramIndex("run"), 1.0f);
    out = rig.run({}, 1000);
    CHECK(out[kRun][0] == 1.0f);
    CHECK(out[kBeat][0] == 1.0f);
    CHECK(rig.module().status().empty());
}

// ---------------------------------------------------------------------------------------------
// midiclockout

namespace {

std::vector<float> gate(long frames, std::initializer_list<std::pair<long, long>> high) {
    std::vector<float> x(static_cast<std::size_t>(frames), 0.0f);
    for (const auto& [a, b] : high)
        for (long n = a; n < b; ++n) x[static_cast<std::size_t>(n)] = 1.0f;
    return x;
}

std::vector<std::pair<long, int>> framesAndStatus(const std::vector<Ev>& sent) {
    std::vector<std::pair<long, int>> v;
    for (const Ev& e : sent) v.emplace_back(static_cast<long>(e.frame), e.status);
    return v;
}

}  // namespace

TEST_CASE("midiclockout sends a clock per rising edge, start, stop, continue and a restart on reset", "[sync]") {
    const long frames = 20000;
    std::vector<float> clock(static_cast<std::size_t>(frames), 0.0f);
    for (long t = 1000; t < frames; t += 1000)
        for (long n = t; n < t + 500; ++n) clock[static_cast<std::size_t>(n)] = 1.0f;
    MidiModuleRig rig("midiclockout", {});
    rig.connect("clock", clock);
    // Running on [1000, 4500) and [7000, 20000); reset edges at 6000 (stopped) and 12000 (running).
    rig.connect("run", gate(frames, {{1000, 4500}, {7000, frames}}));
    rig.connect("reset", gate(frames, {{6000, 6010}, {12000, 12010}}));
    rig.run({}, frames);
    // 1000: start + clock; 2000..4000 clocks; 4500 stop; clocks while stopped are not sent; 7000:
    // start again (the reset at 6000 rewound) and 7000's clock; 12000: a restart then the clock.
    std::vector<std::pair<long, int>> expected{{1000, 0xFA}, {1000, 0xF8}, {2000, 0xF8}, {3000, 0xF8},
                                               {4000, 0xF8}, {4500, 0xFC}, {7000, 0xFA}, {7000, 0xF8}};
    for (long t = 8000; t < frames; t += 1000) {
        if (t == 12000) expected.emplace_back(t, 0xFA);
        expected.emplace_back(t, 0xF8);
    }
    CHECK(framesAndStatus(rig.sent) == expected);
}

TEST_CASE("midiclockout continues after a stop without a reset", "[sync]") {
    const long frames = 6000;
    MidiModuleRig rig("midiclockout", {});
    rig.connect("clock", gate(frames, {{0, 100}, {1000, 1100}, {3000, 3100}, {4000, 4100}}));
    rig.connect("run", gate(frames, {{0, 2000}, {2500, frames}}));
    rig.run({}, frames);
    const std::vector<std::pair<long, int>> expected{{0, 0xFA},    {0, 0xF8},    {1000, 0xF8}, {2000, 0xFC},
                                                     {2500, 0xFB}, {3000, 0xF8}, {4000, 0xF8}};
    CHECK(framesAndStatus(rig.sent) == expected);
}

TEST_CASE("clock sent by midiclockout and followed by a MIDI clock lands on the master's beats", "[sync]") {
    // Master: clock at 133 BPM -> midiclockout; the messages drive a second clock (source MIDI).
    MidiModuleRig master("clock", {{"bpm", 133.0f}});
    const long frames = 48000 * 4;
    const auto beats = master.run({}, frames);
    MidiModuleRig tx("midiclockout", {});
    tx.connect("clock", beats[kPpqn]);
    tx.run({}, frames);
    MidiModuleRig follower("clock", {{"source", 1.0f}});
    const auto out = follower.run(tx.sent, frames);
    CHECK(edgesOf(out[kBeat]).rising == edgesOf(beats[kBeat]).rising);
    CHECK(edgesOf(out[kBar]).rising == edgesOf(beats[kBar]).rising);
    CHECK(out[kBpm].back() == Approx(133.0f).epsilon(1e-4));
}

TEST_CASE("sync micro-benchmarks", "[.bench]") {
    // Both modules are mono by design (one clock); ns per sample with every output read.
    const long frames = 48000L * 60;
    const auto ticks = tickFrames(0, 1000.0, static_cast<int>(frames / 1000), 20);
    std::vector<Ev> events{{0, 0xFA}};
    addTicks(events, ticks);
    double best = 1e30;
    for (int pass = 0; pass < 3; ++pass) {
        MidiModuleRig rig("clock", {{"source", 1.0f}});
        rig.run(events, frames);
        best = std::min(best, rig.processNs / static_cast<double>(frames));
    }
    std::printf("%-48s %7.2f ns/sample\n", "clock, source MIDI (48 clocks/s), all outputs", best);
    std::vector<float> clock(static_cast<std::size_t>(frames), 0.0f);
    for (long n = 0; n < frames; ++n) clock[static_cast<std::size_t>(n)] = n % 1000 < 500 ? 1.0f : 0.0f;
    best = 1e30;
    for (int pass = 0; pass < 3; ++pass) {
        MidiModuleRig rig("midiclockout", {});
        rig.connect("clock", clock);
        rig.run({}, frames);
        best = std::min(best, rig.processNs / static_cast<double>(frames));
    }
    std::printf("%-48s %7.2f ns/sample\n", "midiclockout, 24 ppqn at 120 BPM", best);
}
