// Engine speed in big graphs: the per-node cost of running a plan (benchmark W4: 1,001 nodes), and
// wide fan-in sums (settled cables skip their shared gain state) checked against a plain scalar
// reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/cli/workloads.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Rig {
    explicit Rig(const Registry& registry, int channels = 1, float fadeMs = 10.0f)
        : engine(EngineConfig{48000.0, 64, channels, false}), session(engine, registry, fadeMs) {}
    Engine engine;
    Session session;
};

}  // namespace

TEST_CASE("W4 engine cost per node per block", "[.bench][enginespeed]") {
    const auto workloads = cli::benchmarkWorkloads();
    const auto w4 = std::find_if(workloads.begin(), workloads.end(), [](const auto& w) { return w.name == "W4"; });
    REQUIRE(w4 != workloads.end());
    Rig rig(Registry::global(), w4->channels);
    rig.session.load(w4->patch);
    const double nodes = static_cast<double>(rig.session.report().steps);
    runBlocks(rig.engine, &rig.session, 200);  // warm up; any fades settle
    constexpr int kBlocks = 4000;
    std::vector<double> perNode;
    for (int round = 0; round < 7; ++round) {
        const auto start = std::chrono::steady_clock::now();
        for (int b = 0; b < kBlocks; ++b) rig.engine.processBlock();
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        perNode.push_back(ns / kBlocks / nodes);
    }
    std::sort(perNode.begin(), perNode.end());
    std::printf("W4 engine-only: %.0f nodes, ns per node per 64-frame block: median %.2f (min %.2f, max %.2f)\n", nodes, perNode[3],
                perNode.front(), perNode.back());
    CHECK(perNode.front() > 0.0);
}

TEST_CASE("a wide fan-in matches a scalar reference, fades included", "[engine][compiler]") {
    Rig rig(testRegistry(), 1, 10.0f);  // 10 ms = 480 frames
    constexpr int kSources = 200;
    Patch p;
    for (int i = 0; i < kSources; ++i) {
        const std::string id = "c" + std::to_string(i);
        p.modules.push_back(moduleSpec(id, "tconst", {{"value", 0.001 * (i + 1)}}));
        p.cables.push_back(cableSpec(id + ".out", "o.in"));
    }
    p.modules.push_back(moduleSpec("o", "tout"));
    rig.session.load(p);
    double all = 0.0;
    for (int i = 0; i < kSources; ++i) all += 0.001 * (i + 1);
    auto out = runBlocks(rig.engine, &rig.session, 2);
    for (float x : out) REQUIRE(x == Approx(all).margin(1e-5));

    // Removing every other cable fades those out linearly while the rest keep summing.
    rig.session.edit([](Patch& q) {
        for (int i = 0; i < kSources; i += 2) removeCable(q, "c" + std::to_string(i) + ".out", "o.in");
    });
    double removed = 0.0;
    for (int i = 0; i < kSources; i += 2) removed += 0.001 * (i + 1);
    out = runBlocks(rig.engine, &rig.session, 10);
    int checked = 0;
    for (std::size_t n = 0; n < out.size(); ++n) {
        const double gain = std::max(0.0, 1.0 - static_cast<double>(n + 1) / 480.0);  // the scalar reference
        REQUIRE(out[n] == Approx(all - removed + gain * removed).margin(1e-5));
        ++checked;
    }
    CHECK(checked == 640);
    CHECK_FALSE(rig.session.transitioning());
}
