// Compiler, engine and session behaviour, measured with the exactly predictable test modules.
#include <catch2/catch.hpp>

#include <cmath>
#include <thread>

#include "core/engine/compiler.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/smoothing.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Rig {
    explicit Rig(int block = 64, int channels = 1, float fadeMs = 10.0f)
        : engine(EngineConfig{48000.0, block, channels, false}), session(engine, testRegistry(), fadeMs) {}
    Engine engine;
    Session session;
};

}  // namespace

TEST_CASE("a chain runs in order and unconnected inputs read their defaults", "[engine]") {
    Rig rig;
    // (2 * 3) + b, with b unconnected (default 1): 7
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 2}}), moduleSpec("g", "tgain", {{"gain", 3}}), moduleSpec("s", "tsum"),
                                moduleSpec("o", "tout")},
                               {{"c.out", "g.in"}, {"g.out", "s.a"}, {"s.out", "o.in"}}));
    const auto out = runBlocks(rig.engine, &rig.session, 2);
    CHECK(out.front() == 7.0f);
    CHECK(out.back() == 7.0f);
    CHECK(rig.session.report().feedback.empty());
    CHECK(rig.session.report().steps == 4);
}

TEST_CASE("several cables into one input are summed", "[engine]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("a", "tconst", {{"value", 1}}), moduleSpec("b", "tconst", {{"value", 10}}),
                                moduleSpec("c", "tconst", {{"value", 100}}), moduleSpec("o", "tout")},
                               {{"a.out", "o.in"}, {"b.out", "o.in"}, {"c.out", "o.in"}}));
    CHECK(runBlocks(rig.engine, &rig.session, 1)[5] == 111.0f);
}

TEST_CASE("buffers are reused once their last reader has run", "[engine][compiler]") {
    Rig rig;
    Patch p;
    p.modules.push_back(moduleSpec("src", "tconst", {{"value", 1}}));
    std::string previous = "src";
    for (int i = 0; i < 100; ++i) {
        const std::string id = "g" + std::to_string(i);
        p.modules.push_back(moduleSpec(id, "tgain", {{"gain", 1.01}}));
        p.cables.push_back(cableSpec(previous + ".out", id + ".in"));
        previous = id;
    }
    p.modules.push_back(moduleSpec("o", "tout"));
    p.cables.push_back(cableSpec(previous + ".out", "o.in"));
    rig.session.load(p);
    const CompileReport& r = rig.session.report();
    CHECK(r.signals == 101);
    CHECK(r.buffers == 2);  // a chain needs only the buffer being read and the one being written
    CHECK(runBlocks(rig.engine, &rig.session, 1)[0] == Approx(std::pow(1.01, 100)).epsilon(1e-5));
}

TEST_CASE("a cycle is broken with a one-block delay on its return cable", "[engine][compiler]") {
    SECTION("a module feeding itself counts blocks") {
        for (int block : {1, 16, 64}) {
            Rig rig(block);
            rig.session.load(makePatch({moduleSpec("n", "tcount"), moduleSpec("o", "tout")}, {{"n.out", "n.in"}, {"n.out", "o.in"}}));
            REQUIRE(rig.session.report().feedback.size() == 1);
            CHECK(rig.session.report().feedback[0].from == "n.out");
            CHECK(rig.session.report().feedback[0].to == "n.in");
            CHECK(rig.session.report().feedback[0].delayFrames == block);
            const auto out = runBlocks(rig.engine, &rig.session, 5);
            for (int b = 0; b < 5; ++b) CHECK(out[static_cast<std::size_t>(b * block)] == static_cast<float>(b + 1));
        }
    }
    SECTION("in a two-module loop the cable back toward the output's path is delayed") {
        Rig rig;
        // a -> b -> out, and b -> a closes the loop: b.out -> a.in is the return cable.
        rig.session.load(makePatch({moduleSpec("a", "tcount"), moduleSpec("b", "tgain", {{"gain", 1}}), moduleSpec("o", "tout")},
                                   {{"a.out", "b.in"}, {"b.out", "a.in"}, {"b.out", "o.in"}}));
        REQUIRE(rig.session.report().feedback.size() == 1);
        CHECK(rig.session.report().feedback[0].from == "b.out");
        CHECK(rig.session.report().feedback[0].to == "a.in");
        const auto out = runBlocks(rig.engine, &rig.session, 3);
        CHECK(out[0] == 1.0f);
        CHECK(out[64] == 2.0f);
        CHECK(out[128] == 3.0f);
    }
}

TEST_CASE("channel counts propagate through the graph", "[engine][compiler]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 1}, {"channels", 4}}), moduleSpec("g", "tgain", {{"gain", 2}}),
                                moduleSpec("p", "tprobe"), moduleSpec("o", "tout")},
                               {{"c.out", "g.in"}, {"g.out", "p.in"}, {"g.out", "o.in"}}));
    const auto out = runBlocks(rig.engine, &rig.session, 1);
    CHECK(probeReadings(*rig.session.instance("p")).channels == 4);
    CHECK(out[0] == 2.0f * (1 + 2 + 3 + 4));  // tout sums the channels: 2 * (1 + 2 + 3 + 4)
    // The report gives the editor each output's channel count by module id.
    CHECK(rig.session.report().outputChannels.at("g") == std::vector<int>{4});
    CHECK(rig.session.report().outputChannels.at("c") == std::vector<int>{4});

    SECTION("a structural param recompiles with the new count") {
        rig.session.setParam("c", "channels", 2);
        runBlocks(rig.engine, &rig.session, 1);
        CHECK(probeReadings(*rig.session.instance("p")).channels == 2);
    }
}

TEST_CASE("profiling adds each module's processing time only while it is on", "[engine]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 1}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}}));
    runBlocks(rig.engine, &rig.session, 10);
    CHECK(rig.session.instance("c")->cpuNanos() == 0);
    rig.engine.setProfiling(true);
    runBlocks(rig.engine, &rig.session, 100);
    const std::uint64_t measured = rig.session.instance("c")->cpuNanos();
    CHECK(measured > 0);
    CHECK(rig.session.instance("o")->cpuNanos() > 0);
    rig.engine.setProfiling(false);
    runBlocks(rig.engine, &rig.session, 10);
    CHECK(rig.session.instance("c")->cpuNanos() == measured);
}

TEST_CASE("the engine takes a submitted plan at the next block and hands the old one back", "[engine]") {
    Engine engine(EngineConfig{48000.0, 64, 1, false});
    Compiler compiler(CompileOptions{48000.0, 64, 10.0f});
    auto module = std::shared_ptr<Module>(testRegistry().find("tconst")->create());
    Graph graph;
    graph.nodes.push_back(GraphNode{1, module, "c"});
    engine.submit(compiler.compile(graph, true));
    engine.submit(compiler.compile(graph, true));  // replaces the first, which is freed unused
    CHECK(engine.activeGeneration() == 0);
    engine.processBlock();
    CHECK(engine.activeGeneration() == 2);
    engine.submit(compiler.compile(graph, true));
    CHECK(engine.collectGarbage() == 0);
    engine.processBlock();
    CHECK(engine.activeGeneration() == 3);
    CHECK(engine.collectGarbage() == 1);
    CHECK(engine.stats().planSwaps == 2);
}

TEST_CASE("a new cable fades in and a removed one fades out, linearly over the fade time", "[engine][session]") {
    Rig rig(64, 1, 10.0f);  // 10 ms = 480 frames
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 1}}), moduleSpec("o", "tout")}, {}));
    rig.session.edit([](Patch& p) { p.cables.push_back(cableSpec("c.out", "o.in")); });
    auto out = runBlocks(rig.engine, &rig.session, 10);
    CHECK(out[0] == Approx(1.0f / 480.0f).margin(1e-6));
    CHECK(out[239] == Approx(0.5f).margin(1e-6));
    CHECK(out[478] == Approx(479.0f / 480.0f).margin(1e-6));
    CHECK(out[480] == 1.0f);
    CHECK(maxStep(out) <= 1.0f / 480.0f + 1e-6f);
    CHECK_FALSE(rig.session.transitioning());

    rig.session.edit([](Patch& p) { removeCable(p, "c.out", "o.in"); });
    CHECK(rig.session.transitioning());
    out = runBlocks(rig.engine, &rig.session, 10);
    CHECK(out[0] == Approx(479.0f / 480.0f).margin(1e-6));
    CHECK(out[239] == Approx(0.5f).margin(1e-6));
    CHECK(out[479] == 0.0f);
    CHECK(maxStep(out) <= 1.0f / 480.0f + 1e-6f);
    CHECK_FALSE(rig.session.transitioning());
}

TEST_CASE("connecting a cable glides from the input's unpatched value", "[engine][session]") {
    Rig rig;
    // tsum.b defaults to 1: patching a constant 5 into it glides 1 -> 5.
    rig.session.load(
        makePatch({moduleSpec("c", "tconst", {{"value", 5}}), moduleSpec("s", "tsum"), moduleSpec("o", "tout")}, {{"s.out", "o.in"}}));
    CHECK(runBlocks(rig.engine, &rig.session, 1)[0] == 1.0f);
    rig.session.edit([](Patch& p) { p.cables.push_back(cableSpec("c.out", "s.b")); });
    const auto out = runBlocks(rig.engine, &rig.session, 10);
    CHECK(out[0] == Approx(1.0f + 4.0f / 480.0f).margin(1e-5));
    CHECK(out[239] == Approx(3.0f).margin(1e-5));
    CHECK(out.back() == 5.0f);
    CHECK(maxStep(out) <= 4.0f / 480.0f + 1e-5f);
}

TEST_CASE("a removed module keeps running while its cables fade out, then is freed", "[engine][session]") {
    Rig rig;
    rig.session.load(
        makePatch({moduleSpec("c", "tconst", {{"value", 1}}), moduleSpec("g", "tgain", {{"gain", 1}}), moduleSpec("o", "tout")},
                  {{"c.out", "g.in"}, {"g.out", "o.in"}}));
    Module* removed = rig.session.instance("g");
    REQUIRE(removed);
    rig.session.edit([](Patch& p) { removeModule(p, "g"); });
    CHECK(rig.session.instance("g") == nullptr);
    CHECK(rig.session.ghostCount() == 1);
    const auto out = runBlocks(rig.engine, &rig.session, 12);
    CHECK(out[0] == Approx(479.0f / 480.0f).margin(1e-6));
    CHECK(out[479] == 0.0f);
    CHECK(maxStep(out) <= 1.0f / 480.0f + 1e-6f);
    CHECK(rig.session.ghostCount() == 0);
}

TEST_CASE("undoing a removal during its fade revives the same instance", "[engine][session]") {
    Rig rig;
    const Patch before = makePatch({moduleSpec("s", "tsine", {{"freq", 100}}), moduleSpec("o", "tout")}, {{"s.out", "o.in"}});
    rig.session.load(before);
    Module* original = rig.session.instance("s");
    runBlocks(rig.engine, &rig.session, 3);
    rig.session.edit([](Patch& p) { removeModule(p, "s"); });
    auto out = runBlocks(rig.engine, &rig.session, 2);
    rig.session.setPatch(before);  // undo
    CHECK(rig.session.instance("s") == original);
    const auto after = runBlocks(rig.engine, &rig.session, 20);
    out.insert(out.end(), after.begin(), after.end());
    // the sine's own largest step at 100 Hz is 2*pi*100/48000 = 0.013; the fade must not exceed it
    CHECK(maxStep(out) < 0.0135f);
    CHECK(peak(std::span<const float>(after).last(480)) == Approx(1.0f).margin(1e-3));
}

TEST_CASE("plans can be swapped every block without a discontinuity", "[engine][session]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("r", "tramp", {{"slope", 1e-5}}), moduleSpec("o", "tout")}, {{"r.out", "o.in"}}));
    std::vector<float> out;
    for (int b = 0; b < 2000; ++b) {
        // alternate between two equivalent documents: one with an extra unconnected module
        rig.session.edit([&](Patch& p) {
            if (b % 2)
                p.modules.push_back(moduleSpec("x", "tconst"));
            else
                removeModule(p, "x");
        });
        auto block = runBlocks(rig.engine, &rig.session, 1);
        out.insert(out.end(), block.begin(), block.end());
    }
    CHECK(rig.engine.stats().planSwaps >= 2000);
    CHECK(maxStep(out) <= 1e-5f + 2.5e-7f);  // the ramp's own step, plus float rounding
    CHECK(out.back() == Approx(1e-5 * (2000 * 64 - 1)).epsilon(1e-4));
}

TEST_CASE("NaN and Inf at the output become silence and are counted", "[engine]") {
    // Behind the per-module containment (test_containment.cpp): a sink writing NaN into the device.
    Rig rig;
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 0.5}}), moduleSpec("o", "tout", {{"nan", 1}})}, {{"c.out", "o.in"}}));
    const auto out = runBlocks(rig.engine, &rig.session, 2);
    CHECK(out[0] == 0.0f);
    CHECK(out[64] == 0.0f);
    CHECK(out[1] == 0.5f);
    CHECK(rig.engine.stats().nonFiniteSamples == 2);
}

TEST_CASE("the output guard is transparent below 0.9 and soft above", "[engine]") {
    Engine engine(EngineConfig{48000.0, 64, 1, true});
    Session session(engine, testRegistry());
    session.load(makePatch({moduleSpec("c", "tconst", {{"value", 0.5}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}}));
    CHECK(runBlocks(engine, &session, 1)[0] == 0.5f);
    session.setParam("c", "value", 3.0);
    const float loud = runBlocks(engine, &session, 1)[0];
    CHECK(loud <= 1.0f);
    CHECK(loud > 0.99f);
    CHECK(engine.stats().guardedSamples == 64);
}

TEST_CASE("any device buffer size gets the same samples as whole engine blocks", "[engine]") {
    auto patch = makePatch({moduleSpec("r", "tramp", {{"slope", 1e-3}}), moduleSpec("o", "tout")}, {{"r.out", "o.in"}});
    for (int hostFrames : {1, 17, 64, 100, 256, 1000}) {
        Engine engine(EngineConfig{48000.0, 64, 2, false});
        Session session(engine, testRegistry());
        session.load(patch);
        std::vector<float> left(3000), right(3000), interleaved(2 * 3000);
        for (int done = 0; done < 3000; done += hostFrames) {
            const int n = std::min(hostFrames, 3000 - done);
            float* out[2] = {left.data() + done, right.data() + done};
            engine.process(out, 2, n);
        }
        for (int i = 0; i < 3000; ++i) REQUIRE(left[static_cast<std::size_t>(i)] == Approx(i * 1e-3f).margin(1e-6));
        CHECK(right == left);
    }
}

TEST_CASE("module instances survive every recompile", "[engine][session]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("s", "tsine", {{"freq", 375}}), moduleSpec("o", "tout")}, {{"s.out", "o.in"}}));
    Module* sine = rig.session.instance("s");
    std::vector<float> out;
    for (int i = 0; i < 50; ++i) {
        rig.session.edit([&](Patch& p) { p.modules.push_back(moduleSpec("x" + std::to_string(i), "tconst")); });
        auto block = runBlocks(rig.engine, &rig.session, 4);
        out.insert(out.end(), block.begin(), block.end());
    }
    CHECK(rig.session.instance("s") == sine);
    CHECK(zeroCrossingFrequency(out, 48000.0) == Approx(375.0).margin(1e-3));
    CHECK(maxStep(out) < 2 * M_PI * 375 / 48000 * 1.001);
}

TEST_CASE("removing a group fades its output once, linearly", "[engine][session]") {
    SECTION("a removed chain keeps its inner cables at full gain") {
        Rig rig;
        rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 1}}), moduleSpec("a", "tgain", {{"gain", 1}}),
                                    moduleSpec("b", "tgain", {{"gain", 1}}), moduleSpec("o", "tout")},
                                   {{"c.out", "a.in"}, {"a.out", "b.in"}, {"b.out", "o.in"}}));
        rig.session.edit([](Patch& p) {
            removeModule(p, "a");
            removeModule(p, "b");
        });
        CHECK(rig.session.ghostCount() == 2);
        const auto out = runBlocks(rig.engine, &rig.session, 10);
        CHECK(out[239] == Approx(0.5f).margin(1e-6));
        CHECK(out[479] == 0.0f);
        CHECK(maxStep(out) <= 1.0f / 480.0f + 1e-6f);
        CHECK(rig.session.ghostCount() == 0);
        CHECK_FALSE(rig.session.transitioning());
    }
    SECTION("a removed sink fades its inputs") {
        Rig rig;
        rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 1}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}}));
        rig.session.edit([](Patch& p) { removeModule(p, "o"); });
        const auto out = runBlocks(rig.engine, &rig.session, 10);
        CHECK(out[239] == Approx(0.5f).margin(1e-6));
        CHECK(out[479] == 0.0f);
        CHECK(rig.session.ghostCount() == 0);
    }
    SECTION("removing the middle of a chain and patching around it crossfades") {
        Rig rig;
        rig.session.load(
            makePatch({moduleSpec("c", "tconst", {{"value", 1}}), moduleSpec("g", "tgain", {{"gain", 3}}), moduleSpec("o", "tout")},
                      {{"c.out", "g.in"}, {"g.out", "o.in"}}));
        rig.session.edit([](Patch& p) {
            removeModule(p, "g");
            p.cables.push_back(cableSpec("c.out", "o.in"));
        });
        const auto out = runBlocks(rig.engine, &rig.session, 10);
        CHECK(out[239] == Approx(2.0f).margin(1e-5));  // halfway between 3 and 1
        CHECK(out[479] == 1.0f);
        CHECK(maxStep(out) <= 2.0f / 480.0f + 1e-5f);
        CHECK(rig.session.ghostCount() == 0);
    }
}

TEST_CASE("modules learn which of their outputs are read", "[engine][compiler]") {
    // A module that records whether its output is connected, with tgain's ports.
    struct Recorder final : Module {
        using Module::Module;
        void process(const ProcessContext& ctx) noexcept override { connected = ctx.out[0].connected; }
        bool connected = true;
    };
    Engine engine(EngineConfig{48000.0, 64, 1, false});
    Compiler compiler(CompileOptions{48000.0, 64, 10.0f});
    auto source = std::shared_ptr<Module>(testRegistry().find("tconst")->create());
    auto recorder = std::make_shared<Recorder>(*testRegistry().find("tgain"));
    auto sink = std::shared_ptr<Module>(testRegistry().find("tout")->create());
    Graph graph;
    graph.nodes = {GraphNode{1, source, "c"}, GraphNode{2, recorder, "r"}};
    graph.edges = {GraphEdge{0, 0, 1, 0}};
    engine.submit(compiler.compile(graph, true));
    engine.processBlock();
    CHECK_FALSE(recorder->connected);
    graph.nodes.push_back(GraphNode{3, sink, "o"});
    graph.edges.push_back(GraphEdge{1, 0, 2, 0});
    engine.submit(compiler.compile(graph, true));
    engine.processBlock();
    CHECK(recorder->connected);
}

TEST_CASE("a parameter glide always arrives exactly", "[engine][smoothing]") {
    // Targets large relative to the step that is left near the end (a delay time in samples,
    // a frequency): the glide must not stall half an ulp short of the target.
    for (float target : {3000.0f, 19999.0f, 1.0e6f}) {
        ParamSmoother s;
        s.prepare(48000.0, 50.0f);
        s.reset(target * 0.5f);
        int blocks = 0;
        while (s.current() != target && blocks < 100000) {
            s.next(target, 64);
            ++blocks;
        }
        INFO("target " << target);
        CHECK(s.current() == target);
        CHECK(blocks < 2000);
    }
}
