// Sequencers: the clock's periods exact to the sample (120 BPM and odd tempos, two sample rates),
// run/stop and reset; the divider/multiplier; the step sequencer (advance, wrap, rests, ties,
// probability statistics and reproducibility, strict state parsing); the rhythm generator against
// the published patterns (Toussaint's Euclidean rhythms and clave timelines, Clayton's talas with
// their sam/tali/khali accents); the arpeggiator's orders. Hidden [.bench] micro-benchmarks.
//
// Expected patterns are written here from the sources, not from the implementation:
//   G. T. Toussaint, "The Euclidean algorithm generates traditional musical rhythms", BRIDGES 2005.
//   G. T. Toussaint, "The Geometry of Musical Rhythm", CRC Press 2013 (ch. on the clave son and
//   the six distinguished 4/4 timelines: shiko, son, soukous, rumba, bossa-nova, gahu).
//   M. Clayton, "Time in Indian Music: Rhythm, Metre and Form in North Indian Rag Performance",
//   Oxford University Press 2000 (the tal structures: matras, vibhags, tali and khali).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/unit/module_bench.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

// A clock: high for `width` frames from `first` + k * period.
std::vector<float> pulses(long frames, long first, long period, long width) {
    std::vector<float> x(static_cast<std::size_t>(frames), 0.0f);
    for (long start = first; start < frames; start += period)
        for (long n = start; n < std::min(frames, start + width); ++n) x[static_cast<std::size_t>(n)] = 1.0f;
    return x;
}

// The first sample n >= k * 60 * sampleRate / (ticksPerBeat * bpm), for the float tempo exactly:
// bpm = m / 2^23 with m a whole number (true for every float >= 1), so this is integer arithmetic.
long tickSample(long k, double sampleRate, float bpm, long ticksPerBeat) {
    __extension__ typedef __int128 Int128;
    const auto m = static_cast<Int128>(std::llround(double(bpm) * 8388608.0));
    REQUIRE(double(m) == double(bpm) * 8388608.0);
    const Int128 num = static_cast<Int128>(k) * static_cast<Int128>(std::llround(sampleRate)) * 60 * 8388608;
    const Int128 den = m * ticksPerBeat;
    return static_cast<long>((num + den - 1) / den);
}

constexpr int kStep = 100;  // frames per step in the clocked tests: high for 50, low for 50

// Reads a pattern from a gate: 'x' where the gate is high in step s's first half.
std::string patternOf(const std::vector<float>& gate, int steps, int first = 0) {
    std::string s;
    for (int k = first; k < first + steps; ++k) s += gate[static_cast<std::size_t>(k * kStep + 10)] >= 0.5f ? 'x' : '.';
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// clock

TEST_CASE("clock at 120 BPM: every division exact to the sample for a minute", "[sequencers]") {
    ModuleHarness h("clock");
    const int frames = 60 * 48000;
    const auto out = h.run(frames);
    struct Division {
        int port;
        long period;
    };
    // 24 ppqn: 1000 frames; 16ths 6000; 8ths 12000; 8th triplets 8000; beats 24000; bars 96000.
    for (const Division& d :
         {Division{0, 1000}, Division{1, 6000}, Division{2, 12000}, Division{3, 8000}, Division{4, 24000}, Division{5, 96000}}) {
        const Edges e = edgesOf(out[static_cast<std::size_t>(d.port)][0]);
        INFO("output " << d.port << ", period " << d.period);
        REQUIRE(e.rising.size() == static_cast<std::size_t>((frames + d.period - 1) / d.period));
        REQUIRE(e.falling.size() == e.rising.size());
        long wrong = 0;
        for (std::size_t k = 0; k < e.rising.size(); ++k) {
            wrong += e.rising[k] != long(k) * d.period;
            wrong += e.falling[k] != long(k) * d.period + d.period / 2;  // width 0.5
        }
        CHECK(wrong == 0);
    }
}

TEST_CASE("clock at odd tempos: beats and ticks never drift", "[sequencers]") {
    for (double rate : {48000.0, 44100.0}) {
        for (float bpm : {133.0f, 97.3f, 171.17f, 59.99f}) {
            ModuleHarness h("clock", rate);
            h.setParam("bpm", bpm);
            const int frames = int(120 * rate);  // two minutes
            const auto out = h.run(frames);
            INFO(rate << " Hz, " << bpm << " BPM");
            for (const auto& [port, ticks] : std::vector<std::pair<int, long>>{{0, 1}, {1, 6}, {4, 24}, {5, 96}}) {
                const Edges e = edgesOf(out[static_cast<std::size_t>(port)][0]);
                REQUIRE(e.rising.size() > 10);
                long wrong = 0;
                for (std::size_t k = 0; k < e.rising.size(); ++k) wrong += e.rising[k] != tickSample(long(k) * ticks, rate, bpm, 24);
                // The expected count: every tick start inside the render.
                long expected = 0;
                while (tickSample(expected * ticks, rate, bpm, 24) < frames) ++expected;
                INFO("output " << port);
                CHECK(long(e.rising.size()) == expected);
                CHECK(wrong == 0);
            }
        }
    }
}

TEST_CASE("clock tempo changes keep the position within the tick", "[sequencers]") {
    ModuleHarness h("clock");
    auto first = h.run(30000);  // 120 BPM: tick 30 begins on frame 30000
    h.setParam("bpm", 60.0f);   // ticks of 2000 frames from here
    const auto second = h.run(100000);
    std::vector<float> beat = first[4][0], ppqn = first[0][0];
    beat.insert(beat.end(), second[4][0].begin(), second[4][0].end());
    ppqn.insert(ppqn.end(), second[0][0].begin(), second[0][0].end());
    // Beat 1 began at 24000, 6 ticks before the change; its other 18 ticks take 36000 frames.
    CHECK(edgesOf(beat).rising == std::vector<long>{0, 24000, 66000, 114000});
    const Edges p = edgesOf(ppqn);
    for (std::size_t k = 1; k < p.rising.size(); ++k) REQUIRE(p.rising[k] - p.rising[k - 1] == (p.rising[k] <= 30000 ? 1000 : 2000));
}

TEST_CASE("clock width sets each output's duty cycle", "[sequencers]") {
    ModuleHarness h("clock");
    h.setParam("width", 0.25f);
    const auto out = h.run(96000);
    const Edges beat = edgesOf(out[4][0]), ppqn = edgesOf(out[0][0]);
    REQUIRE(beat.falling.size() == 4);
    for (std::size_t k = 0; k < 4; ++k) CHECK(beat.falling[k] == long(k) * 24000 + 6000);
    for (std::size_t k = 0; k < ppqn.falling.size(); ++k) REQUIRE(ppqn.falling[k] == long(k) * 1000 + 250);
}

TEST_CASE("clock run stops and resumes where it was; reset restarts on its sample", "[sequencers]") {
    const int frames = 100000;
    std::vector<float> run(frames, 1.0f);
    for (int n = 30000; n < 40000; ++n) run[static_cast<std::size_t>(n)] = 0.0f;  // stopped for 10000 frames
    std::vector<float> reset(frames, 0.0f);
    for (int n = 77777; n < 77800; ++n) reset[static_cast<std::size_t>(n)] = 1.0f;
    ModuleHarness h("clock");
    h.connect("run", run);
    h.connect("reset", reset);
    const auto out = h.run(frames);
    const auto& beat = out[4][0];
    const Edges e = edgesOf(beat);
    // Beats at 0 and 24000; 48000 of running time falls at frame 58000 after the pause.
    REQUIRE(e.rising.size() >= 4);
    CHECK(e.rising[0] == 0);
    CHECK(e.rising[1] == 24000);
    CHECK(e.rising[2] == 58000);
    CHECK(e.rising[3] == 77777);  // the reset
    CHECK(e.rising.back() == 77777 + 0);
    for (int n = 30000; n < 40000; ++n) REQUIRE(beat[static_cast<std::size_t>(n)] == 0.0f);
    const Edges p = edgesOf(out[0][0]);
    CHECK(std::count(p.rising.begin(), p.rising.end(), 77777) == 1);
    CHECK(std::count(p.rising.begin(), p.rising.end(), 77777 + 1000) == 1);
    const Edges bar = edgesOf(out[5][0]);
    CHECK(bar.rising == std::vector<long>{0, 77777});
}

// ---------------------------------------------------------------------------------------------
// divider

TEST_CASE("divider divides a clock on its edges", "[sequencers]") {
    const long frames = 30 * 12000;
    const auto clock = pulses(frames, 500, 12000, 100);
    for (int divide : {2, 3, 4}) {
        ModuleHarness h("divider");
        h.setParam("divide", float(divide));
        h.connect("clock", clock);
        const Edges e = edgesOf(h.run(int(frames))[0][0]);
        INFO("divide " << divide);
        REQUIRE(e.rising.size() == static_cast<std::size_t>((29 / divide) + 1));
        for (std::size_t k = 0; k < e.rising.size(); ++k) REQUIRE(e.rising[k] == 500 + long(k) * divide * 12000);
        // From the second input pulse on the period is known: high for half the output period.
        for (std::size_t k = 1; k < e.falling.size(); ++k) REQUIRE(e.falling[k] == e.rising[k] + divide * 6000);
    }
}

TEST_CASE("divider multiplies a clock with exact spacing", "[sequencers]") {
    const long frames = 20 * 12000;
    const auto clock = pulses(frames, 500, 12000, 100);
    struct Case {
        int divide, multiply;
    };
    for (const Case& c : {Case{1, 3}, Case{1, 7}, Case{3, 2}, Case{2, 5}}) {
        ModuleHarness h("divider");
        h.setParam("divide", float(c.divide));
        h.setParam("multiply", float(c.multiply));
        h.connect("clock", clock);
        const Edges e = edgesOf(h.run(int(frames))[0][0]);
        INFO("divide " << c.divide << " multiply " << c.multiply);
        // Expected after the first group (whose period was not yet known): groups start on every
        // divide-th input edge; pulse k of a group at ceil(k * divide * 12000 / multiply).
        std::vector<long> expected;
        for (long group = 500 + c.divide * 12000L; group < frames; group += c.divide * 12000L)
            for (long k = 0; k < c.multiply; ++k) {
                const long at = group + (k * c.divide * 12000L + c.multiply - 1) / c.multiply;
                if (at < frames) expected.push_back(at);
            }
        std::vector<long> got;
        for (long r : e.rising)
            if (r >= 500 + c.divide * 12000L) got.push_back(r);
        CHECK(got == expected);
    }
}

TEST_CASE("divider waits for a slowing clock and restarts early for a faster one", "[sequencers]") {
    // Input edges: 0, 12000, 24000 (period 12000), then 48000 (24000), then 57000 (9000).
    const std::vector<long> edges{0, 12000, 24000, 48000, 57000};
    std::vector<float> clock(60000, 0.0f);
    for (long e : edges)
        for (long n = e; n < e + 100; ++n) clock[static_cast<std::size_t>(n)] = 1.0f;
    ModuleHarness h("divider");
    h.setParam("divide", 1.0f);
    h.setParam("multiply", 2.0f);
    h.connect("clock", clock);
    const Edges e = edgesOf(h.run(60000)[0][0]);
    // At 12000 the period is known: pulses every 6000. After 24000's two pulses the output
    // waits for 48000 (no third pulse at 36000); there the period becomes 24000 (pulses 12000
    // apart, high for 6000), and the early edge at 57000 starts the next group at once instead
    // of the pulse due at 60000.
    CHECK(e.rising == std::vector<long>{0, 12000, 18000, 24000, 30000, 48000, 57000});
    CHECK(e.falling.back() == 57000 + 2250);  // pulses 4500 apart, high for half
}

TEST_CASE("divider reset starts a group on the next clock", "[sequencers]") {
    const long frames = 10 * 12000;
    std::vector<float> reset(static_cast<std::size_t>(frames), 0.0f);
    for (long n = 40000; n < 40010; ++n) reset[static_cast<std::size_t>(n)] = 1.0f;  // before the edge at 48000
    ModuleHarness h("divider");
    h.setParam("divide", 4.0f);
    h.connect("clock", pulses(frames, 0, 12000, 100));
    h.connect("reset", reset);
    const Edges e = edgesOf(h.run(int(frames))[0][0]);
    // Groups at 0, then 48000 (the reset lands between edges 36000 and 48000; 48000 is also the
    // 4th edge), then 96000.
    CHECK(e.rising == std::vector<long>{0, 48000, 96000});
    ModuleHarness early("divider");
    early.setParam("divide", 4.0f);
    std::vector<float> reset2(static_cast<std::size_t>(frames), 0.0f);
    for (long n = 20000; n < 20010; ++n) reset2[static_cast<std::size_t>(n)] = 1.0f;
    early.connect("clock", pulses(frames, 0, 12000, 100));
    early.connect("reset", reset2);
    CHECK(edgesOf(early.run(int(frames))[0][0]).rising == std::vector<long>{0, 24000, 72000});
}

// ---------------------------------------------------------------------------------------------
// stepseq

TEST_CASE("stepseq advances one step per clock and wraps at its length", "[sequencers]") {
    ModuleHarness h("stepseq");
    h.loadState(R"({"length": 5, "steps": [{"pitch": 0.0}, {"pitch": 0.1}, {"pitch": 0.2}, {"pitch": 0.3},
                    {"pitch": 0.4}, {"pitch": 0.5}, {"pitch": 0.6}]})");
    const int steps = 23;
    h.connect("clock", pulses(steps * kStep, 0, kStep, 50));
    const auto out = h.run(steps * kStep);
    for (int k = 0; k < steps; ++k) {
        const auto at = static_cast<std::size_t>(k * kStep + 10);
        INFO("step " << k);
        CHECK(out[0][0][at] == Approx(0.1f * float(k % 5)).margin(1e-7));  // pitch
        CHECK(out[1][0][at] == 1.0f);                                      // gate
        CHECK(out[1][0][at + 50] == 0.0f);                                 // follows the clock
        CHECK(out[2][0][at] == float(k % 5));                              // step index
    }
    // The step changes on the clock's very sample.
    CHECK(out[2][0][kStep - 1] == 0.0f);
    CHECK(out[2][0][kStep] == 1.0f);
}

TEST_CASE("stepseq rests hold the pitch; ties hold the gate into the next step", "[sequencers]") {
    ModuleHarness h("stepseq");
    h.loadState(R"({"steps": [{"pitch": 1.0, "velocity": 0.5}, {"pitch": 2.0, "gate": false}, {"pitch": 0.5, "tie": true},
                    {"pitch": 0.75}]})");
    h.connect("clock", pulses(8 * kStep, 0, kStep, 50));
    const auto out = h.run(8 * kStep);
    const auto& pitch = out[0][0];
    const auto& gate = out[1][0];
    const auto& velocity = out[3][0];
    CHECK(pitch[10] == 1.0f);
    CHECK(velocity[10] == 0.5f);
    CHECK(gate[10] == 1.0f);
    CHECK(gate[kStep + 10] == 0.0f);   // the rest
    CHECK(pitch[kStep + 10] == 1.0f);  // keeps the last played pitch
    CHECK(velocity[kStep + 10] == 0.5f);
    CHECK(pitch[2 * kStep + 10] == 0.5f);
    CHECK(velocity[2 * kStep + 10] == 1.0f);
    // The tied step's gate stays high through its low clock half and into the next step.
    for (int n = 2 * kStep; n < 3 * kStep + 50; ++n) REQUIRE(gate[static_cast<std::size_t>(n)] == 1.0f);
    CHECK(gate[3 * kStep + 50] == 0.0f);
    CHECK(pitch[3 * kStep] == 0.75f);
}

TEST_CASE("stepseq probability 0.5 plays half the steps, reproducibly per instance seed", "[sequencers]") {
    std::string state = R"({"steps": [{"prob": 0.5}]})";
    auto count = [&](std::uint64_t seed) {
        ModuleHarness h("stepseq", 48000.0, 64, seed);
        h.loadState(state);
        const long steps = 10000, period = 8;
        h.connect("clock", pulses(steps * period, 0, period, 4));
        const auto gate = h.run(int(steps * period))[1][0];
        std::string played;
        for (long k = 0; k < steps; ++k) played += gate[static_cast<std::size_t>(k * period)] >= 0.5f ? '1' : '0';
        return played;
    };
    const std::string a = count(42);
    const long plays = std::count(a.begin(), a.end(), '1');
    INFO(plays << " of 10000 steps played");
    CHECK(plays >= 4800);  // 2 % of 10000 around 5000 (the sd is 50)
    CHECK(plays <= 5200);
    CHECK(a == count(42));
    CHECK(a != count(43));
    // Extremes: never and always.
    state = R"({"steps": [{"prob": 0.0}]})";
    const std::string never = count(42);
    CHECK(std::count(never.begin(), never.end(), '1') == 0);
    state = R"({"steps": [{"prob": 1.0}]})";
    const std::string always = count(42);
    CHECK(std::count(always.begin(), always.end(), '1') == 10000);
}

TEST_CASE("stepseq reset makes the next clock play the first step", "[sequencers]") {
    ModuleHarness h("stepseq");
    h.loadState(R"({"steps": [{"pitch": 0}, {"pitch": 1}, {"pitch": 2}, {"pitch": 3}]})");
    std::vector<float> reset(10 * kStep, 0.0f);
    for (int n = 5 * kStep + 60; n < 5 * kStep + 70; ++n) reset[static_cast<std::size_t>(n)] = 1.0f;  // after step 5's edge
    for (int n = 8 * kStep; n < 8 * kStep + 5; ++n) reset[static_cast<std::size_t>(n)] = 1.0f;        // with step 8's edge
    h.connect("clock", pulses(10 * kStep, 0, kStep, 50));
    h.connect("reset", reset);
    const auto step = h.run(10 * kStep)[2][0];
    std::vector<float> seen;
    for (int k = 0; k < 10; ++k) seen.push_back(step[static_cast<std::size_t>(k * kStep + 10)]);
    CHECK(seen == std::vector<float>{0, 1, 2, 3, 0, 1, 0, 1, 0, 1});
}

TEST_CASE("stepseq defaults to 16 steps, and a new pattern takes over at the next step", "[sequencers]") {
    ModuleHarness h("stepseq");
    h.loadState("");
    h.connect("clock", pulses(40 * kStep, 0, kStep, 50));
    const auto first = h.run(20 * kStep);
    CHECK(first[2][0][static_cast<std::size_t>(17 * kStep + 10)] == 1.0f);  // 17 mod 16
    CHECK(first[1][0][static_cast<std::size_t>(17 * kStep + 10)] == 1.0f);
    h.loadState(R"({"steps": [{"pitch": 0.5}, {"pitch": 0.25}]})");
    const auto second = h.run(20 * kStep);
    // Step 20 follows step 19 (index 3): (3 + 1) mod 2 = 0.
    CHECK(second[2][0][10] == 0.0f);
    CHECK(second[0][0][10] == 0.5f);
    CHECK(second[0][0][kStep + 10] == 0.25f);
}

TEST_CASE("stepseq state is parsed strictly", "[sequencers]") {
    struct Bad {
        const char* json;
        const char* message;
    };
    const std::vector<Bad> bad{
        {R"([1, 2])", "expected an object"},
        {R"({"lenght": 4})", "unknown key \"lenght\""},
        {R"({"steps": {}})", "\"steps\" must be an array"},
        {R"({"steps": []})", "1 to 64 steps"},
        {R"({"steps": [{"pitch": "C4"}]})", "steps[0].pitch must be a number"},
        {R"({"steps": [{}, {"prob": 1.5}]})", "steps[1].prob is 1.5, outside 0.0..1.0"},
        {R"({"steps": [{"velocity": -0.1}]})", "steps[0].velocity is -0.1"},
        {R"({"steps": [{"gate": 1}]})", "steps[0].gate must be true or false"},
        {R"({"steps": [{"probability": 0.5}]})", "steps[0]: unknown key \"probability\""},
        {R"({"steps": [{}, {}], "length": 3})", "\"length\" is 3, outside 1..2"},
        {R"({"length": 0})", "\"length\" is 0, outside 1..16"},
        {R"({"length": 2.5})", "\"length\" must be a whole number"},
        {R"({"steps": [1]})", "steps[0] must be an object"},
    };
    for (const Bad& b : bad) {
        ModuleHarness h("stepseq");
        INFO(b.json);
        try {
            h.loadState(b.json);
            FAIL("no exception");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Catch::Contains(b.message) && Catch::StartsWith("stepseq state: "));
        }
    }
    auto steps = [](int n) {
        std::string s = R"({"steps": [)";
        for (int i = 0; i < n; ++i) s += i ? ",{}" : "{}";
        return s + "]}";
    };
    ModuleHarness h("stepseq");
    CHECK_THROWS_WITH(h.loadState(steps(65)), Catch::Contains("1 to 64 steps (it holds 65)"));
    CHECK_NOTHROW(h.loadState(steps(64)));
}

TEST_CASE("a bad stepseq state keeps the pattern that was playing", "[sequencers]") {
    ModuleHarness h("stepseq");
    h.loadState(R"({"steps": [{"pitch": 0.3}]})");
    CHECK_THROWS_AS(h.loadState(R"({"steps": [{"pitch": 11}]})"), std::invalid_argument);
    h.connect("clock", pulses(kStep, 0, kStep, 50));
    CHECK(h.run(kStep)[0][0][10] == 0.3f);
}

TEST_CASE("stepseq is polyphonic: each clock channel has its own cursor", "[sequencers]") {
    ModuleHarness h("stepseq");
    h.loadState(R"({"steps": [{"pitch": 0}, {"pitch": 1}, {"pitch": 2}]})");
    Signal clocks{pulses(6 * kStep, 0, kStep, 50), pulses(6 * kStep, 0, 2 * kStep, 50)};
    h.connect("clock", clocks);
    const auto step = h.run(6 * kStep)[2];
    REQUIRE(step.size() == 2);
    CHECK(step[0][5 * kStep + 10] == 2.0f);  // 5 mod 3
    CHECK(step[1][5 * kStep + 10] == 2.0f);  // third clock at 400
    CHECK(step[1][3 * kStep + 10] == 1.0f);
}

// ---------------------------------------------------------------------------------------------
// rhythm

namespace {

// Runs the rhythm module for `cycles` cycles of `length` steps; returns gate, accent, step, start.
std::vector<Signal> runRhythm(int mode, int length, int cycles = 2, int hits = 0, int steps = 8, int rotate = 0) {
    ModuleHarness h("rhythm");
    h.setParam("mode", float(mode));
    h.setParam("hits", float(hits));
    h.setParam("steps", float(steps));
    h.setParam("rotate", float(rotate));
    const int frames = cycles * length * kStep;
    h.connect("clock", pulses(frames, 0, kStep, 50));
    return h.run(frames);
}

std::string euclid(int k, int n, int rotate = 0) {
    return patternOf(runRhythm(0, n, 1, k, n, rotate)[0][0], n);
}

}  // namespace

TEST_CASE("rhythm Euclidean patterns equal Toussaint's published ones", "[sequencers]") {
    // Toussaint 2005, the three the brief names and others from the paper's list.
    CHECK(euclid(3, 8) == "x..x..x.");
    CHECK(euclid(5, 8) == "x.xx.xx.");
    CHECK(euclid(7, 16) == "x..x.x.x..x.x.x.");
    CHECK(euclid(2, 5) == "x.x..");
    // Toussaint gives the cumbia E(3,4) as x.xx, the rotation by two steps of the algorithm's
    // xxx. (the paper lists some rhythms in the rotation in which they are usually played).
    CHECK(euclid(3, 4) == "xxx.");
    CHECK(euclid(3, 4, 2) == "x.xx");
    CHECK(euclid(3, 5) == "x.x.x");
    CHECK(euclid(3, 7) == "x.x.x..");
    CHECK(euclid(4, 9) == "x.x.x.x..");
    CHECK(euclid(4, 11) == "x..x..x..x.");
    CHECK(euclid(5, 9) == "x.x.x.x.x");
    CHECK(euclid(5, 11) == "x.x.x.x.x..");
    CHECK(euclid(5, 12) == "x..x.x..x.x.");
    CHECK(euclid(5, 16) == "x..x..x..x..x...");
    CHECK(euclid(7, 12) == "x.xx.x.xx.x.");
    CHECK(euclid(9, 16) == "x.xx.x.x.xx.x.x.");
    CHECK(euclid(13, 24) == "x.xx.x.x.x.x.xx.x.x.x.x.");
    // Degenerate cases.
    CHECK(euclid(0, 5) == ".....");
    CHECK(euclid(4, 4) == "xxxx");
    CHECK(euclid(9, 4) == "xxxx");
    CHECK(euclid(1, 64) == "x" + std::string(63, '.'));
}

TEST_CASE("rhythm Euclidean patterns: rotation and the properties of E(k, n)", "[sequencers]") {
    CHECK(euclid(3, 8, 1) == "..x..x.x");
    CHECK(euclid(3, 8, 3) == "x..x.x..");
    // For every k <= n <= 32: k onsets, and the gaps between successive onsets (cyclically)
    // take at most two values, differing by one: floor(n/k) and ceil(n/k).
    int cases = 0;
    for (int n = 1; n <= 32; ++n)
        for (int k = 1; k <= n; ++k) {
            const std::string p = euclid(k, n);
            REQUIRE(std::count(p.begin(), p.end(), 'x') == k);
            REQUIRE(p[0] == 'x');
            std::vector<int> on;
            for (int i = 0; i < n; ++i)
                if (p[static_cast<std::size_t>(i)] == 'x') on.push_back(i);
            std::set<int> gaps;
            for (std::size_t i = 0; i < on.size(); ++i) gaps.insert((on[(i + 1) % on.size()] - on[i] + n - 1) % n + 1);
            INFO("E(" << k << "," << n << ") = " << p);
            REQUIRE(*gaps.begin() == n / k);
            REQUIRE(*gaps.rbegin() == (n + k - 1) / k);
            ++cases;
        }
    CHECK(cases == 528);
}

TEST_CASE("rhythm clave timelines equal Toussaint's", "[sequencers]") {
    struct Named {
        int mode;
        const char* name;
        std::string pattern;
    };
    // The Geometry of Musical Rhythm (2013) / "A mathematical analysis of African, Brazilian and
    // Cuban clave rhythms" (2002): 16-pulse timelines; 2-3 is the 3-2 rhythm started at its
    // second half. Tresillo and cinquillo in 8 pulses.
    const std::vector<Named> named{
        {7, "son 3-2", "x..x..x...x.x..."},    {8, "son 2-3", "..x.x...x..x..x."},  {9, "rumba 3-2", "x..x...x..x.x..."},
        {10, "rumba 2-3", "..x.x...x..x...x"}, {11, "tresillo", "x..x..x."},        {12, "cinquillo", "x.xx.xx."},
        {13, "shiko", "x...x.x...x.x..."},     {14, "soukous", "x..x..x...xx...."}, {15, "bossa-nova", "x..x..x...x..x.."},
        {16, "gahu", "x..x..x...x...x."},
    };
    for (const Named& r : named) {
        const int length = int(r.pattern.size());
        const auto out = runRhythm(r.mode, length, 2);
        INFO(r.name);
        CHECK(patternOf(out[0][0], length) == r.pattern);
        CHECK(patternOf(out[0][0], length, length) == r.pattern);  // the second cycle too
        // Accents: 1.0 on an onset on the first step, 0.5 on other onsets, 0 on rests.
        for (int k = 0; k < length; ++k) {
            const float expected = r.pattern[static_cast<std::size_t>(k)] == 'x' ? (k == 0 ? 1.0f : 0.5f) : 0.0f;
            REQUIRE(out[1][0][static_cast<std::size_t>(k * kStep + 10)] == expected);
        }
    }
    // Son 3-2 rotated by half its cycle is son 2-3; rumba likewise.
    CHECK(patternOf(runRhythm(7, 16, 1, 0, 8, 8)[0][0], 16) == "..x.x...x..x..x.");
    CHECK(patternOf(runRhythm(9, 16, 1, 0, 8, 8)[0][0], 16) == "..x.x...x..x...x");
    // Tresillo and cinquillo are E(3,8) and E(5,8).
    CHECK(euclid(3, 8) == "x..x..x.");
    CHECK(euclid(5, 8) == "x.xx.xx.");
}

TEST_CASE("rhythm talas: every matra sounds, accents mark sam, tali and khali", "[sequencers]") {
    // Clayton (2000): vibhag lengths and the gesture that opens each vibhag (X sam, T tali, O khali).
    struct Tala {
        int mode;
        const char* name;
        std::vector<int> vibhags;
        std::string gestures;
    };
    const std::vector<Tala> talas{
        {1, "tintal", {4, 4, 4, 4}, "XTOT"},         // sam 1, tali 5, khali 9, tali 13
        {2, "rupak", {3, 2, 2}, "OTT"},              // begins on khali; tali 4 and 6
        {3, "jhaptal", {2, 3, 2, 3}, "XTOT"},        // sam 1, tali 3, khali 6, tali 8
        {4, "ektal", {2, 2, 2, 2, 2, 2}, "XOTOTT"},  // sam 1, khali 3 and 7, tali 5, 9, 11
        {5, "dadra", {3, 3}, "XO"},                  // sam 1, khali 4
        {6, "keherwa", {4, 4}, "XO"},                // sam 1, khali 5
    };
    for (const Tala& t : talas) {
        std::vector<float> accents;
        for (std::size_t v = 0; v < t.vibhags.size(); ++v)
            for (int m = 0; m < t.vibhags[v]; ++m) {
                const char g = t.gestures[v];
                accents.push_back(m > 0 ? 0.5f : g == 'X' ? 1.0f : g == 'T' ? 0.7f : 0.3f);
            }
        const int length = int(accents.size());
        const auto out = runRhythm(t.mode, length, 3);
        INFO(t.name);
        CHECK(patternOf(out[0][0], 3 * length) == std::string(std::size_t(3 * length), 'x'));
        for (int k = 0; k < 3 * length; ++k) {
            const auto at = static_cast<std::size_t>(k * kStep + 10);
            REQUIRE(out[1][0][at] == accents[static_cast<std::size_t>(k % length)]);
            REQUIRE(out[2][0][at] == float(k % length));                // step index
            REQUIRE(out[3][0][at] == (k % length == 0 ? 1.0f : 0.0f));  // cycle start
        }
    }
}

TEST_CASE("rhythm gate, start and step follow the clock on its very sample", "[sequencers]") {
    const auto out = runRhythm(11, 8, 2);  // tresillo
    const auto& gate = out[0][0];
    const auto& start = out[3][0];
    const Edges g = edgesOf(gate), s = edgesOf(start);
    CHECK(g.rising == std::vector<long>{0, 300, 600, 800, 1100, 1400});
    CHECK(g.falling == std::vector<long>{50, 350, 650, 850, 1150, 1450});
    CHECK(s.rising == std::vector<long>{0, 800});
    CHECK(s.falling == std::vector<long>{50, 850});
    CHECK(out[2][0][299] == 2.0f);
    CHECK(out[2][0][300] == 3.0f);
}

TEST_CASE("rhythm reset makes the next clock play the first step", "[sequencers]") {
    ModuleHarness h("rhythm");
    h.setParam("mode", 1.0f);  // tintal
    std::vector<float> reset(10 * kStep, 0.0f);
    for (int n = 6 * kStep + 60; n < 6 * kStep + 70; ++n) reset[static_cast<std::size_t>(n)] = 1.0f;
    h.connect("clock", pulses(10 * kStep, 0, kStep, 50));
    h.connect("reset", reset);
    const auto out = h.run(10 * kStep);
    CHECK(out[2][0][6 * kStep + 10] == 6.0f);
    CHECK(out[2][0][7 * kStep + 10] == 0.0f);
    CHECK(out[1][0][7 * kStep + 10] == 1.0f);  // sam
    CHECK(out[3][0][7 * kStep + 10] == 1.0f);
}

// ---------------------------------------------------------------------------------------------
// arp

namespace {

// A held chord: channel c holds pitch[c] from frame onset[c]; the clock steps every kStep frames
// from frame 1000.
std::vector<float> arpeggio(int mode, int octaves, int steps, std::uint64_t seed = 0) {
    const std::vector<float> pitch{0.5f, 0.0f, 0.25f};
    const std::vector<int> onset{300, 600, 100};  // pressed: 0.25, then 0.5, then 0.0
    const int frames = 1000 + steps * kStep;
    Signal p, g;
    for (std::size_t c = 0; c < pitch.size(); ++c) {
        p.push_back(std::vector<float>(static_cast<std::size_t>(frames), pitch[c]));
        std::vector<float> gate(static_cast<std::size_t>(frames), 0.0f);
        for (int n = onset[c]; n < frames; ++n) gate[static_cast<std::size_t>(n)] = 1.0f;
        g.push_back(gate);
    }
    ModuleHarness h("arp", 48000.0, 64, seed);
    h.setParam("mode", float(mode));
    h.setParam("octaves", float(octaves));
    h.connect("pitch", p);
    h.connect("gate", g);
    h.connect("clock", pulses(frames, 1000, kStep, 50));
    const auto out = h.run(frames);
    REQUIRE(out[0].size() == 1);
    std::vector<float> played;
    for (int k = 0; k < steps; ++k) {
        const auto at = static_cast<std::size_t>(1000 + k * kStep + 10);
        REQUIRE(out[1][0][at] == 1.0f);
        REQUIRE(out[1][0][at + 50] == 0.0f);
        played.push_back(out[0][0][at]);
    }
    return played;
}

}  // namespace

TEST_CASE("arp up, down and up-down orders over one and two octaves", "[sequencers]") {
    using V = std::vector<float>;
    CHECK(arpeggio(0, 1, 7) == V{0.0f, 0.25f, 0.5f, 0.0f, 0.25f, 0.5f, 0.0f});
    CHECK(arpeggio(0, 2, 7) == V{0.0f, 0.25f, 0.5f, 1.0f, 1.25f, 1.5f, 0.0f});
    CHECK(arpeggio(1, 1, 4) == V{0.5f, 0.25f, 0.0f, 0.5f});
    CHECK(arpeggio(1, 2, 7) == V{1.5f, 1.25f, 1.0f, 0.5f, 0.25f, 0.0f, 1.5f});
    CHECK(arpeggio(2, 1, 9) == V{0.0f, 0.25f, 0.5f, 0.25f, 0.0f, 0.25f, 0.5f, 0.25f, 0.0f});
    CHECK(arpeggio(2, 2, 11) == V{0.0f, 0.25f, 0.5f, 1.0f, 1.25f, 1.5f, 1.25f, 1.0f, 0.5f, 0.25f, 0.0f});
    CHECK(arpeggio(0, 4, 13).back() == 0.0f);
    CHECK(arpeggio(0, 4, 12).back() == 3.5f);
}

TEST_CASE("arp as played follows the order the keys went down", "[sequencers]") {
    using V = std::vector<float>;
    CHECK(arpeggio(4, 1, 6) == V{0.25f, 0.5f, 0.0f, 0.25f, 0.5f, 0.0f});
    CHECK(arpeggio(4, 2, 7) == V{0.25f, 0.5f, 0.0f, 1.25f, 1.5f, 1.0f, 0.25f});
}

TEST_CASE("arp random picks every note of the sequence evenly, reproducibly", "[sequencers]") {
    const auto a = arpeggio(3, 2, 6000, 21);
    std::vector<int> counts(6, 0);
    const std::vector<float> sequence{0.0f, 0.25f, 0.5f, 1.0f, 1.25f, 1.5f};
    for (float p : a) {
        const auto it = std::find(sequence.begin(), sequence.end(), p);
        REQUIRE(it != sequence.end());
        ++counts[static_cast<std::size_t>(it - sequence.begin())];
    }
    for (int c : counts) CHECK(std::abs(c - 1000) < 120);  // sd ~29
    CHECK(a == arpeggio(3, 2, 6000, 21));
    CHECK(a != arpeggio(3, 2, 6000, 22));
}

TEST_CASE("arp follows chord changes and goes quiet with no keys held", "[sequencers]") {
    const int frames = 2000;
    Signal p{std::vector<float>(frames, 0.0f), std::vector<float>(frames, 0.5f)};
    Signal g{std::vector<float>(frames, 0.0f), std::vector<float>(frames, 0.0f)};
    for (int n = 0; n < 1000; ++n) g[0][static_cast<std::size_t>(n)] = 1.0f;    // note 0 until 1000
    for (int n = 400; n < 1400; ++n) g[1][static_cast<std::size_t>(n)] = 1.0f;  // note 0.5 from 400 to 1400
    ModuleHarness h("arp");
    h.connect("pitch", p);
    h.connect("gate", g);
    h.connect("clock", pulses(frames, 0, kStep, 50));
    const auto out = h.run(frames);
    std::vector<float> played, gates;
    for (int k = 0; k < 20; ++k) {
        played.push_back(out[0][0][static_cast<std::size_t>(k * kStep + 10)]);
        gates.push_back(out[1][0][static_cast<std::size_t>(k * kStep + 10)]);
    }
    CHECK(std::vector<float>(played.begin(), played.begin() + 4) == std::vector<float>{0, 0, 0, 0});
    CHECK(std::vector<float>(played.begin() + 4, played.begin() + 10) == std::vector<float>{0, 0.5f, 0, 0.5f, 0, 0.5f});
    CHECK(std::vector<float>(played.begin() + 10, played.begin() + 14) == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
    for (int k = 0; k < 14; ++k) CHECK(gates[static_cast<std::size_t>(k)] == 1.0f);
    for (int k = 14; k < 20; ++k) CHECK(gates[static_cast<std::size_t>(k)] == 0.0f);
    CHECK(played.back() == 0.5f);  // the last note's pitch is held
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("sequencer micro-benchmarks", "[.bench]") {
    {
        ModuleBench b("clock");
        b.nsPerSample("clock, all outputs read");
    }
    for (int channels : {1, 16}) {
        const std::string ch = ", " + std::to_string(channels) + " ch";
        auto clock = [](int c, long n) { return (n + c * 7) % 6000 < 3000 ? 1.0f : 0.0f; };
        {
            ModuleBench b("divider");
            b.setParam("multiply", 3.0f);
            b.connect("clock", channels, clock);
            b.nsPerSample(("divider x3" + ch).c_str());
        }
        {
            ModuleBench b("stepseq");
            b.connect("clock", channels, clock);
            b.nsPerSample(("stepseq, 16th clock" + ch).c_str());
        }
        {
            ModuleBench b("rhythm");
            b.setParam("mode", 1.0f);
            b.connect("clock", channels, clock);
            b.nsPerSample(("rhythm tintal, 16th clock" + ch).c_str());
        }
    }
    {
        ModuleBench b("arp");
        b.connect("pitch", 4, [](int c, long) { return 0.25f * float(c); });
        b.connect("gate", 4, [](int, long) { return 1.0f; });
        b.connect("clock", 1, [](int, long n) { return n % 6000 < 3000 ? 1.0f : 0.0f; });
        b.nsPerSample("arp up, 4 notes held, 16th clock");
    }
}
