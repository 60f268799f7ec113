// NaN/Inf containment (plan.hpp, "Containment"): a module whose output holds NaN or Inf is muted
// at once, its readers never see the bad samples, the rest of the patch keeps playing, and a
// reset unmutes it.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Rig {
    explicit Rig(int threads = 1) : engine(config(threads)), session(engine, testRegistry()) {}
    static EngineConfig config(int threads) {
        EngineConfig c{48000.0, 64, 1, false};
        c.threads = threads;
        return c;
    }
    Engine engine;
    Session session;
};

bool allFinite(const std::vector<float>& x) {
    for (float v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

// A 375 Hz sine (128 samples a cycle) beside the module under test, summed into the output.
Patch withSine(std::vector<ModuleSpec> modules, std::initializer_list<std::pair<const char*, const char*>> cables) {
    modules.push_back(moduleSpec("s", "tsine", {{"freq", 375}}));
    modules.push_back(moduleSpec("o", "tout"));
    Patch p = makePatch(std::move(modules), cables);
    p.cables.push_back(cableSpec("s.out", "o.in"));
    return p;
}

float sineAt(std::size_t n) {
    return static_cast<float>(std::sin(2.0 * M_PI * 375.0 * static_cast<double>(n) / 48000.0));
}

}  // namespace

TEST_CASE("a module that outputs NaN is muted at once and the rest keeps playing", "[engine][containment]") {
    for (const bool inf : {false, true}) {
        Rig rig;
        // 0.25 for 1000 frames, then NaN or Inf; through a gain, so a reader would see it.
        rig.session.load(withSine({moduleSpec("n", "tnan", {{"at", 1000}, {"inf", inf ? 1 : 0}}), moduleSpec("g", "tgain", {{"gain", 2}})},
                                  {{"n.out", "g.in"}, {"g.out", "o.in"}}));
        const auto out = runBlocks(rig.engine, &rig.session, 40);
        REQUIRE(allFinite(out));
        // Until the block holding frame 1000 (frames 960..1023) the module plays; from there on
        // it is silent and the sine goes on alone, sample for sample.
        for (std::size_t n = 0; n < out.size(); ++n) REQUIRE(out[n] == Approx(sineAt(n) + (n < 960 ? 0.5f : 0.0f)).margin(1e-5));
        Module& bad = *rig.session.instance("n");
        CHECK(bad.muted());
        CHECK(bad.muteCount() == 1);
        CHECK(bad.mutedAt() == 960);
        CHECK_FALSE(rig.session.instance("g")->muted());
        CHECK_FALSE(rig.session.instance("s")->muted());
        CHECK(rig.engine.stats().nonFiniteSamples == 0);  // nothing reached the output guard
    }
}

TEST_CASE("reset unmutes a muted module", "[engine][containment]") {
    Rig rig;
    rig.session.load(withSine({moduleSpec("n", "tnan", {{"at", 640}})}, {{"n.out", "o.in"}}));
    runBlocks(rig.engine, &rig.session, 20);
    Module& bad = *rig.session.instance("n");
    REQUIRE(bad.muted());
    REQUIRE(bad.mutedAt() == 640);

    bad.requestReset();  // the editor's Reset: the module starts over (0.25 for 640 frames)
    const std::uint64_t resetAt = rig.engine.stats().blocks * 64;
    const auto out = runBlocks(rig.engine, &rig.session, 20);
    REQUIRE(allFinite(out));
    for (std::size_t n = 0; n < out.size(); ++n) REQUIRE(out[n] == Approx(sineAt(resetAt + n) + (n < 640 ? 0.25f : 0.0f)).margin(1e-5));
    CHECK(bad.muted());
    CHECK(bad.muteCount() == 2);
    CHECK(bad.mutedAt() == resetAt + 640);
}

TEST_CASE("a runaway feedback loop mutes the module that overflows, not the patch", "[engine][containment]") {
    Rig rig;
    // sum = feedback + 1; gain x1e6 feeds it back one block late: 1e6, 1e12, ... Inf in 7 blocks.
    rig.session.load(withSine({moduleSpec("a", "tsum"), moduleSpec("g", "tgain", {{"gain", 1e6}})},
                              {{"a.out", "g.in"}, {"g.out", "a.a"}, {"a.out", "o.in"}}));
    const auto out = runBlocks(rig.engine, &rig.session, 30);
    REQUIRE(allFinite(out));
    CHECK(rig.session.instance("g")->muted());
    CHECK_FALSE(rig.session.instance("a")->muted());
    CHECK_FALSE(rig.session.instance("s")->muted());
    // With the gain silent the sum is its unpatched b = 1 again: the sine rides on 1.
    for (std::size_t n = out.size() - 640; n < out.size(); ++n) REQUIRE(out[n] == Approx(sineAt(n) + 1.0f).margin(1e-5));
}

TEST_CASE("muting allocates nothing and takes no lock on the audio thread", "[engine][containment][realtime]") {
    if (!kRtGuardActive) {
        WARN("allocation counting is compiled out in sanitizer builds");
        return;
    }
    Rig rig;
    rig.session.load(withSine({moduleSpec("n", "tnan", {{"at", 300}})}, {{"n.out", "o.in"}}));
    rig.session.poll();
    RtGuard guard;
    for (int b = 0; b < 20; ++b) rig.engine.processBlock();
    const RtCounts counts = guard.counts();
    CHECK(rig.session.instance("n")->muted());
    CHECK(counts.allocations == 0);
    CHECK(counts.locks == 0);
}

TEST_CASE("containment works in a parallel plan, on every thread", "[engine][containment][parallel]") {
    // 40 voices (tsine -> tgain) into one sum: a plan the engine splits; voice 7 goes NaN.
    auto build = [] {
        Patch p;
        p.modules.push_back(moduleSpec("o", "tout"));
        for (int v = 0; v < 40; ++v) {
            const std::string s = "s" + std::to_string(v), g = "g" + std::to_string(v);
            p.modules.push_back(v == 7 ? moduleSpec(s, "tnan", {{"at", 2000}}) : moduleSpec(s, "tsine", {{"freq", 100.0 + 10 * v}}));
            p.modules.push_back(moduleSpec(g, "tgain", {{"gain", 0.02}}));
            p.cables.push_back(cableSpec(s + ".out", g + ".in"));
            p.cables.push_back(cableSpec(g + ".out", "o.in"));
        }
        return p;
    };
    Rig serial(1), parallel(2);
    serial.session.load(build());
    parallel.session.load(build());
    if (parallel.engine.threads() < 2 || parallel.session.report().threads < 2) {
        WARN("one core: the plan is not split here");
        return;
    }
    const auto a = runBlocks(serial.engine, &serial.session, 100);
    const auto b = runBlocks(parallel.engine, &parallel.session, 100);
    REQUIRE(allFinite(b));
    REQUIRE(b.size() == a.size());
    for (std::size_t n = 0; n < a.size(); ++n) REQUIRE(b[n] == Approx(a[n]).margin(1e-6));
    CHECK(parallel.session.instance("s7")->muted());
    CHECK(parallel.session.instance("s7")->mutedAt() == 1984);
    CHECK_FALSE(parallel.session.instance("g7")->muted());
    CHECK(parallel.engine.stats().nonFiniteSamples == 0);
}

TEST_CASE("what only a guarded sink reads is found by the output stage, then muted", "[engine][containment]") {
    // tdevice, like the real Audio Out, is a guarded sink: what it alone reads is not screened
    // every block. The first bad block is silenced by the output stage; the engine then hunts and
    // mutes the source in the next block.
    Rig rig;
    rig.session.load(withSine({moduleSpec("n", "tnan", {{"at", 640}}), moduleSpec("d", "tdevice")}, {{"n.out", "d.in"}}));
    const auto out = runBlocks(rig.engine, &rig.session, 30);
    REQUIRE(allFinite(out));
    // The block with the NaN (frames 640..703) is silent: the output stage zeroes what it cannot
    // screen apart (the sine summed with NaN). Before and after, the sine plays on.
    for (std::size_t n = 0; n < out.size(); ++n)
        REQUIRE(out[n] == Approx(n < 640 ? sineAt(n) + 0.25f : n < 704 ? 0.0f : sineAt(n)).margin(1e-5));
    CHECK(rig.engine.stats().nonFiniteSamples == 64);  // one block of NaN reached the output stage
    Module& bad = *rig.session.instance("n");
    CHECK(bad.muted());
    CHECK(bad.mutedAt() == 704);  // the block after
}

TEST_CASE("the real Audio Out is a guarded sink", "[engine][containment]") {
    const std::unique_ptr<Module> out(Registry::global().find("out")->create());
    CHECK(out->guardedSink());
    const std::unique_ptr<Module> vca(Registry::global().find("vca")->create());
    CHECK_FALSE(vca->guardedSink());
}

TEST_CASE("denormals never reach the output: the engine flushes them to zero", "[engine][containment]") {
    // 1e-38 x 1e-5 is 1e-43, a denormal; with FTZ/DAZ on (processBlock) it is exactly zero.
    Rig rig;
    rig.session.load(
        makePatch({moduleSpec("c", "tconst", {{"value", 1e-38}}), moduleSpec("g", "tgain", {{"gain", 1e-5}}), moduleSpec("o", "tout")},
                  {{"c.out", "g.in"}, {"g.out", "o.in"}}));
    volatile float tiny = 1e-38f, scale = 1e-5f;
    REQUIRE(tiny * scale != 0.0f);  // this thread does not flush: the product is a denormal
    const auto out = runBlocks(rig.engine, &rig.session, 4);
    for (float v : out) REQUIRE(v == 0.0f);
}
