// Cable probes: any module output written into a SignalTap by the audio thread (the editor's
// "hover a cable shows its value, click pins a mini scope").
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/engine/compiler.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Rig {
    explicit Rig(int block = 64, const Registry& registry = testRegistry())
        : engine(EngineConfig{48000.0, block, 1, false}), session(engine, registry) {}
    Engine engine;
    Session session;
};

PortRef port(const char* text) {
    return *PortRef::parse(text);
}

// The newest `frames` frames of channel `c`; fails the test unless all of them are there.
std::vector<float> newest(const SignalTap& tap, int c, int frames) {
    std::vector<float> out(static_cast<std::size_t>(frames));
    REQUIRE(tap.read(c, out.data(), frames) == frames);
    return out;
}

// Writes 5 to its output only when a cable (or a probe) reads it, like the real modules that
// skip unread outputs.
class WritesWhenRead final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        if (!ctx.out[0].connected) return;
        for (int n = 0; n < ctx.frames; ++n) ctx.out[0].data[n] = 5.0f;
    }
};

const ModuleDescriptor& writesWhenRead() {
    static const ModuleDescriptor d = [] {
        ModuleDescriptor m;
        m.id = "tlazy";
        m.name = "tlazy";
        m.category = "Test";
        m.help = "writes 5 to out only when it is read";
        m.outputs.push_back(PortDescriptor{.id = "out", .name = "Out"});
        m.create = [] { return std::unique_ptr<Module>(new WritesWhenRead(writesWhenRead())); };
        return m;
    }();
    return d;
}

}  // namespace

TEST_CASE("a probe reads exactly the signal of a module output", "[probe]") {
    SECTION("a constant and a gain chain") {
        Rig rig;
        rig.session.load(
            makePatch({moduleSpec("c", "tconst", {{"value", 2}}), moduleSpec("g", "tgain", {{"gain", 3}}), moduleSpec("o", "tout")},
                      {{"c.out", "g.in"}, {"g.out", "o.in"}}));
        const std::uint64_t compiles = rig.session.compileCount();
        const auto constant = rig.session.probe(port("c.out"));
        const auto gained = rig.session.probe(port("g.out"));
        REQUIRE(constant);
        REQUIRE(gained);
        CHECK(constant != gained);
        CHECK(rig.session.compileCount() == compiles + 2);  // each new probe recompiles
        CHECK(constant->channels() == kMaxChannels);
        CHECK(constant->capacity() >= 2 * 24000);  // 0.5 s at 48 kHz, readable whole
        runBlocks(rig.engine, &rig.session, 3);
        CHECK(constant->written() == 3 * 64);
        CHECK(gained->written() == 3 * 64);
        for (float v : newest(*constant, 0, 3 * 64)) REQUIRE(v == 2.0f);
        for (float v : newest(*gained, 0, 3 * 64)) REQUIRE(v == 6.0f);
        CHECK(rig.session.probeChannels(port("g.out")) == 1);
    }
    SECTION("every sample, in order, across blocks, with profiling on or off") {
        int runs = 0;
        for (bool profiling : {false, true}) {
            Rig rig(16);
            rig.engine.setProfiling(profiling);
            rig.session.load(makePatch({moduleSpec("r", "tramp", {{"slope", 1}}), moduleSpec("o", "tout")}, {{"r.out", "o.in"}}));
            const auto tap = rig.session.probe(port("r.out"), 0.01);
            REQUIRE(tap);
            runBlocks(rig.engine, &rig.session, 10);
            REQUIRE(tap->written() == 160);
            const auto ramp = newest(*tap, 0, 100);
            for (int i = 0; i < 100; ++i) REQUIRE(ramp[static_cast<std::size_t>(i)] == static_cast<float>(60 + i));  // frame index
            ++runs;
        }
        CHECK(runs == 2);
    }
    SECTION("an output no cable reads is written by its module once probed") {
        Registry registry;
        registry.add(writesWhenRead());
        Rig rig(64, registry);
        rig.session.load(makePatch({moduleSpec("z", "tlazy")}, {}));
        const auto tap = rig.session.probe(port("z.out"));
        REQUIRE(tap);
        runBlocks(rig.engine, &rig.session, 2);
        REQUIRE(tap->written() == 128);
        for (float v : newest(*tap, 0, 128)) REQUIRE(v == 5.0f);
    }
}

TEST_CASE("a probe carries every channel of a polyphonic output", "[probe]") {
    Rig rig;
    rig.session.load(
        makePatch({moduleSpec("c", "tconst", {{"value", 10}, {"channels", 4}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}}));
    const auto tap = rig.session.probe(port("c.out"));
    REQUIRE(tap);
    CHECK(rig.session.probeChannels(port("c.out")) == 4);
    runBlocks(rig.engine, &rig.session, 2);
    for (int c = 0; c < 4; ++c)
        for (float v : newest(*tap, c, 128)) REQUIRE(v == static_cast<float>(10 + c));  // tconst: value + channel

    SECTION("a channel-count change keeps the tap") {
        rig.session.setParam("c", "channels", 6);
        CHECK(rig.session.probeChannels(port("c.out")) == 6);
        CHECK(rig.session.probe(port("c.out")) == tap);
        runBlocks(rig.engine, &rig.session, 2);
        CHECK(tap->written() == 4 * 64);
        for (int c = 0; c < 6; ++c)
            for (float v : newest(*tap, c, 128)) REQUIRE(v == static_cast<float>(10 + c));
    }
}

TEST_CASE("probeChannels follows a module replaced by another type while the old one fades out", "[probe]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 1}, {"channels", 4}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}}));
    const auto tap = rig.session.probe(port("c.out"));
    REQUIRE(rig.session.probeChannels(port("c.out")) == 4);
    rig.session.edit([](Patch& p) { p.modules[0] = moduleSpec("c", "tramp", {{"slope", 1}}); });
    REQUIRE(rig.session.ghostCount() == 1);  // the old c still fades out, under the same id
    CHECK(rig.session.probeChannels(port("c.out")) == 1);
    runBlocks(rig.engine, &rig.session, 2);
    CHECK(tap->written() == 128);  // the new module's output, same tap
    CHECK(newest(*tap, 0, 64).back() == 127.0f);
}

TEST_CASE("a probe survives edits and follows param changes", "[probe]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("c", "tconst", {{"value", 2}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}}));
    const auto tap = rig.session.probe(port("c.out"));
    REQUIRE(tap);
    runBlocks(rig.engine, &rig.session, 2);

    SECTION("an unrelated edit") {
        const std::uint64_t compiles = rig.session.compileCount();
        rig.session.edit([](Patch& p) {
            p.modules.push_back(moduleSpec("x", "tconst", {{"value", 9}}));
            p.modules.push_back(moduleSpec("y", "tgain"));
            p.cables.push_back(cableSpec("x.out", "y.in"));
        });
        CHECK(rig.session.compileCount() == compiles + 1);
        runBlocks(rig.engine, &rig.session, 3);
        CHECK(tap->written() == 5 * 64);
        for (float v : newest(*tap, 0, 5 * 64)) REQUIRE(v == 2.0f);
        // Asking again gives the same tap and compiles nothing.
        const std::uint64_t before = rig.session.compileCount();
        CHECK(rig.session.probe(port("c.out")) == tap);
        CHECK(rig.session.compileCount() == before);
    }
    SECTION("a param change") {
        REQUIRE(rig.session.setParam("c", "value", 7));
        runBlocks(rig.engine, &rig.session, 2);
        CHECK(tap->written() == 4 * 64);
        for (float v : newest(*tap, 0, 128)) REQUIRE(v == 7.0f);
    }
}

TEST_CASE("unprobe stops a tap and a removed module's tap stops moving", "[probe]") {
    Rig rig;
    const Patch patch = makePatch({moduleSpec("c", "tconst", {{"value", 2}}), moduleSpec("o", "tout")}, {{"c.out", "o.in"}});
    rig.session.load(patch);
    auto tap = rig.session.probe(port("c.out"));
    REQUIRE(tap);
    runBlocks(rig.engine, &rig.session, 2);
    REQUIRE(tap->written() == 128);

    SECTION("unprobe") {
        rig.session.unprobe(port("c.out"));
        runBlocks(rig.engine, &rig.session, 3);
        CHECK(tap->written() == 128);
        // Probing again makes a new tap.
        const auto again = rig.session.probe(port("c.out"));
        REQUIRE(again);
        CHECK(again != tap);
        runBlocks(rig.engine, &rig.session, 1);
        CHECK(again->written() == 64);
        CHECK(tap->written() == 128);
        // Unknown ports are ignored and compile nothing.
        const std::uint64_t compiles = rig.session.compileCount();
        rig.session.unprobe(port("nobody.out"));
        rig.session.unprobe(port("o.in"));
        CHECK(rig.session.compileCount() == compiles);
    }
    SECTION("the module is removed") {
        rig.session.edit([](Patch& p) { removeModule(p, "c"); });
        runBlocks(rig.engine, &rig.session, 3);
        CHECK(tap->written() == 128);
        CHECK(rig.session.probeChannels(port("c.out")) == 0);
        // Every plan that wrote it is freed; the caller's tap still reads the last signal.
        for (int i = 0; i < 20 && rig.session.transitioning(); ++i) runBlocks(rig.engine, &rig.session, 1);
        rig.engine.collectGarbage();
        for (float v : newest(*tap, 0, 128)) REQUIRE(v == 2.0f);
        // The same tap while the port is probed: undoing the removal moves it again.
        CHECK(rig.session.probe(port("c.out")) == tap);
        rig.session.setPatch(patch);
        runBlocks(rig.engine, &rig.session, 1);
        CHECK(tap->written() == 3 * 64);
    }
}

TEST_CASE("probing an unknown port gives nullptr and compiles nothing", "[probe]") {
    Rig rig;
    rig.session.load(makePatch({moduleSpec("c", "tconst"), moduleSpec("o", "tout"), moduleSpec("p", "no-such-type")}, {{"c.out", "o.in"}}));
    const std::uint64_t compiles = rig.session.compileCount();
    CHECK(rig.session.probe(port("nobody.out")) == nullptr);
    CHECK(rig.session.probe(port("c.nothing")) == nullptr);
    CHECK(rig.session.probe(port("o.in")) == nullptr);   // an input, not an output
    CHECK(rig.session.probe(port("p.out")) == nullptr);  // a placeholder
    CHECK(rig.session.compileCount() == compiles);
    CHECK(rig.session.probeChannels(port("nobody.out")) == 0);
    CHECK(rig.session.probeChannels(port("c.nothing")) == 0);
    CHECK(rig.session.probeChannels(port("p.out")) == 0);
    CHECK(rig.session.probeChannels(port("c.out")) == 1);  // not probed, still known
}

TEST_CASE("the compiler refuses a probe on a missing port or with a tap under two blocks", "[probe][compiler]") {
    Compiler compiler(CompileOptions{48000.0, 64, 10.0f});
    Graph graph;
    graph.nodes.push_back(GraphNode{1, std::shared_ptr<Module>(testRegistry().find("tconst")->create()), "c"});
    graph.nodes[0].module->prepare(48000.0, 64);
    graph.probes.push_back(GraphProbe{0, 1, std::make_shared<SignalTap>(1, 1024)});
    CHECK_THROWS_AS(compiler.compile(graph, true), std::invalid_argument);
    graph.probes[0] = GraphProbe{0, 0, std::make_shared<SignalTap>(1, 64)};
    CHECK_THROWS_AS(compiler.compile(graph, true), std::invalid_argument);
    graph.probes[0] = GraphProbe{0, 0, std::make_shared<SignalTap>(1, 128)};
    const auto plan = compiler.compile(graph, true);
    CHECK(plan->probeCount() == 1);
}

TEST_CASE("probes come and go while the audio thread runs, which never allocates or locks", "[probe][realtime]") {
    Engine engine(EngineConfig{48000.0, 64, 2, true});
    Session session(engine, testRegistry());
    Patch patch = makePatch({moduleSpec("c", "tconst", {{"value", 3}, {"channels", 2}}), moduleSpec("g", "tgain", {{"gain", 2}}),
                             moduleSpec("r", "tramp"), moduleSpec("o", "tout")},
                            {{"c.out", "g.in"}, {"g.out", "o.in"}, {"r.out", "o.in"}});
    session.load(patch);

    std::atomic<bool> stop{false};
    std::atomic<long> allocations{0}, locks{0};
    std::atomic<std::uint64_t> blocks{0};
    std::thread audio([&] {
        while (!stop.load(std::memory_order_acquire)) {
            {
                RtGuard guard;
                engine.processBlock();
                const RtCounts c = guard.counts();
                if (c.allocations) allocations.fetch_add(c.allocations, std::memory_order_relaxed);
                if (c.locks) locks.fetch_add(c.locks, std::memory_order_relaxed);
            }
            blocks.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::yield();  // a real audio thread waits for its next callback
        }
    });
    auto waitUntilTaken = [&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (engine.activeGeneration() < session.compileCount() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    };

    const std::vector<PortRef> ports = {port("c.out"), port("g.out"), port("r.out")};
    std::vector<std::shared_ptr<const SignalTap>> taps;
    const int rounds = 300;
    int probes = 0;
    for (int i = 0; i < rounds; ++i) {
        const PortRef& p = ports[static_cast<std::size_t>(i) % ports.size()];
        if (i % 2 == 0) {
            taps.push_back(session.probe(p, 0.05));
            REQUIRE(taps.back());
            ++probes;
        } else {
            session.unprobe(ports[static_cast<std::size_t>(i / 2) % ports.size()]);
        }
        if (i % 7 == 0) session.setParam("c", "channels", 1 + i % 3);  // structural: recompiles, moves channel counts
        waitUntilTaken();
        session.poll();
    }
    // The last probe of g.out is still written: its newest value is c * 2 on channel 0.
    const auto live = session.probe(port("g.out"), 0.05);
    waitUntilTaken();
    const std::uint64_t before = live->written();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (live->written() < before + 256 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    stop.store(true, std::memory_order_release);
    audio.join();
    session.poll();

    INFO("blocks " << blocks.load() << ", plan swaps " << engine.stats().planSwaps << ", probes made " << probes);
    CHECK(live->written() >= before + 256);
    CHECK(newest(*live, 0, 64).back() == 6.0f);
    CHECK(engine.stats().planSwaps >= 150);
    if (kRtGuardActive) {
        CHECK(allocations.load() == 0);
        CHECK(locks.load() == 0);
    }
}
