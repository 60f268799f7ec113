// Multi-core plans (plan.hpp, workers.hpp): a plan split into waves over the audio thread and a
// worker gives the same bits as the same patch run serially — feedback cables, modules that share
// state and edits included — except that wide fan-ins, summed chunk by chunk, may differ in the
// last bits; the worker really takes part, and neither thread allocates or locks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/cli/workloads.hpp"
#include "core/engine/session.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

EngineConfig configWith(int threads, int channels, WorkerObserver* observer = nullptr) {
    EngineConfig config{48000.0, 64, channels, false};
    config.threads = threads;
    config.workerObserver = observer;
    return config;
}

// Both output channels of `blocks` blocks, interleaved per block.
std::vector<float> render(Engine& engine, Session& session, int blocks) {
    std::vector<float> out;
    for (int b = 0; b < blocks; ++b) {
        engine.processBlock();
        for (int c = 0; c < engine.config().outputChannels; ++c) out.insert(out.end(), engine.blockOutput(c), engine.blockOutput(c) + 64);
        session.poll();
    }
    return out;
}

// 24 voices whose filters are modulated by the next voice's output (a ring of feedback cables),
// two delays in a feedback loop, a live sampler recording what a sampler plays, and two outputs:
// every case the wave scheduler must keep in serial order.
Patch tangledPatch() {
    Patch p;
    constexpr int kVoices = 24;
    for (int i = 0; i < kVoices; ++i) {
        const std::string n = std::to_string(i);
        p.modules.push_back(moduleSpec("saw" + n, "saw", {{"freq", 55.0 * (1.0 + 0.13 * i)}}));
        p.modules.push_back(moduleSpec("lfo" + n, "lfo", {{"rate", 0.3 + 0.1 * i}}));
        p.modules.push_back(moduleSpec("svf" + n, "svf", {{"cutoff", 800.0}, {"q", 2.0}, {"fm_depth", 400.0}}));
        p.modules.push_back(moduleSpec("vca" + n, "vca", {{"gain", 1.0 / kVoices}}));
        p.cables.push_back(cableSpec("saw" + n + ".out", "svf" + n + ".in"));
        p.cables.push_back(cableSpec("lfo" + n + ".out", "svf" + n + ".fm"));
        p.cables.push_back(cableSpec("svf" + n + ".lp", "vca" + n + ".in"));
        p.cables.push_back(cableSpec("vca" + n + ".out", "svf" + std::to_string((i + 1) % kVoices) + ".in"));
        p.cables.push_back(cableSpec("vca" + n + ".out", (i % 2 ? "outA.left" : "outB.right")));
    }
    p.modules.push_back(moduleSpec("delayA", "delay", {{"time", 0.05}, {"feedback", 0.3}}));
    p.modules.push_back(moduleSpec("delayB", "delay", {{"time", 0.07}, {"feedback", 0.3}}));
    p.cables.push_back(cableSpec("vca0.out", "delayA.in"));
    p.cables.push_back(cableSpec("delayA.out", "delayB.in"));
    p.cables.push_back(cableSpec("delayB.out", "delayA.in"));
    p.cables.push_back(cableSpec("delayB.out", "outA.right"));
    p.modules.push_back(moduleSpec("outA", "out", {{"level", 0.5}}));
    p.modules.push_back(moduleSpec("outB", "out", {{"level", 0.5}}));
    return p;
}

// Joined blocks a test waits for: on a quiet machine the worker joins nearly every block; on one
// busier than its cores it gets little CPU time (or the engine backs off, Workers "Backing off")
// and may join only a few, which must still be there.
std::uint64_t joinsExpected(const Engine& engine) {
    if (engine.workerJoins() >= 50) return 50;
    WARN("a busy machine: the worker joined " << engine.workerJoins() << " blocks; " << engine.soloBlocks() << " ran alone, backing off");
    return 1;
}

// 12 voices (saw -> filter -> VCA, the VCA's output fed back into the filter's FM: a cable read a
// block late inside each strand), one LFO shared by every voice's envelope (a hub) and one output:
// the strand schedule (compiler.hpp), bit for bit (12 sources: no partial sums).
Patch strandPatch() {
    Patch p;
    p.modules.push_back(moduleSpec("clock", "lfo", {{"rate", 3.0}, {"shape", 3}, {"unipolar", 1}}));
    for (int i = 0; i < 12; ++i) {
        const std::string n = std::to_string(i);
        p.modules.push_back(moduleSpec("saw" + n, "saw", {{"freq", 70.0 * (1.0 + 0.17 * i)}}));
        p.modules.push_back(moduleSpec("svf" + n, "svf", {{"cutoff", 900.0}, {"q", 2.0}, {"fm_depth", 300.0}}));
        p.modules.push_back(moduleSpec("env" + n, "adsr", {{"attack", 0.005}, {"decay", 0.05}, {"sustain", 0.5}, {"release", 0.1}}));
        p.modules.push_back(moduleSpec("vca" + n, "vca", {{"gain", 1.0 / 12}}));
        p.cables.push_back(cableSpec("saw" + n + ".out", "svf" + n + ".in"));
        p.cables.push_back(cableSpec("svf" + n + ".lp", "vca" + n + ".in"));
        p.cables.push_back(cableSpec("vca" + n + ".out", "svf" + n + ".fm"));
        p.cables.push_back(cableSpec("clock.out", "env" + n + ".gate"));
        p.cables.push_back(cableSpec("env" + n + ".env", "vca" + n + ".cv"));
        p.cables.push_back(cableSpec("vca" + n + ".out", "out.left"));
    }
    p.modules.push_back(moduleSpec("out", "out", {{"level", 0.5}}));
    return p;
}

// Counts allocations and locks on the worker threads while they work on a block.
class CountingObserver final : public WorkerObserver {
public:
    void beginWork(int) noexcept override { guard().emplace(); }
    void endWork(int) noexcept override {
        const RtCounts c = guard()->counts();
        allocations += c.allocations;
        locks += c.locks;
        guard().reset();
    }
    std::atomic<long> allocations{0}, locks{0};

private:
    static std::optional<RtGuard>& guard() {
        thread_local std::optional<RtGuard> g;
        return g;
    }
};

}  // namespace

TEST_CASE("a big patch is split into waves only when there are threads for it", "[engine][parallel]") {
    const Patch patch = tangledPatch();
    Engine serial(configWith(1, 2));
    Session a(serial);
    a.load(patch);
    CHECK(a.report().threads == 1);
    CHECK(a.report().waves == 0);

    Engine parallel(configWith(2, 2));
    if (parallel.threads() < 2) {
        WARN("one core: no parallel plan to test");
        return;
    }
    Session b(parallel);
    b.load(patch);
    CHECK(b.report().threads == 2);
    CHECK(b.report().waves >= 3);
    CHECK(b.report().feedback.size() == a.report().feedback.size());

    // Voices run as strands: the shared clock, the voices, the output (three waves).
    Session strands(parallel);
    strands.load(strandPatch());
    CHECK(strands.report().threads == 2);
    CHECK(strands.report().waves == 3);

    // A small patch stays serial.
    Session c(parallel);
    c.load(makePatch({moduleSpec("osc", "sine"), moduleSpec("out", "out")}, {{"osc.out", "out.left"}}));
    CHECK(c.report().threads == 1);
}

TEST_CASE("parallel plans render what serial ones render", "[engine][parallel]") {
    std::vector<std::pair<std::string, Patch>> patches{{"tangled", tangledPatch()}, {"strands", strandPatch()}};
    for (const auto& w : cli::benchmarkWorkloads())
        if (w.name != "W3") patches.emplace_back(w.name, w.patch);
    for (const auto& [name, patch] : patches) {
        INFO(name);
        Engine serialEngine(configWith(1, 2));
        Session serial(serialEngine);
        serial.load(patch);
        Engine parallelEngine(configWith(2, 2));
        if (parallelEngine.threads() < 2) {
            WARN("one core: no parallel plan to test");
            return;
        }
        Session parallel(parallelEngine);
        parallel.load(patch);
        REQUIRE(parallel.report().threads == 2);
        // On a busy machine the worker may be slow to get a core: render on (bounded) until it has
        // taken part in enough blocks, comparing everything rendered.
        std::vector<float> expected, got;
        for (int round = 0; round < 40 && (round < 3 || parallelEngine.workerJoins() < 50); ++round) {
            const auto e = render(serialEngine, serial, 250);
            const auto g = render(parallelEngine, parallel, 250);
            expected.insert(expected.end(), e.begin(), e.end());
            got.insert(got.end(), g.begin(), g.end());
        }
        REQUIRE(got.size() == expected.size());
        if (name == "tangled" || name == "strands") {  // no fan-in wide enough for partial sums: the very same bits
            CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
        } else {  // wide fan-ins are summed chunk by chunk: the same sum in another order
            float worst = 0.0f;
            for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - expected[i]));
            CHECK(worst <= 1e-6f);
        }
        CHECK(parallelEngine.workerJoins() >= joinsExpected(parallelEngine));  // the worker did take part
    }
}

TEST_CASE("edits move between serial and parallel plans without a changed sample", "[engine][parallel]") {
    // The same sequence of edits on a serial engine and a parallel one: every plan swap, including
    // those between a parallel plan and a serial one (below kMinParallelSteps), keeps the state.
    Patch big = tangledPatch();
    Patch small =
        makePatch({moduleSpec("saw0", "saw", {{"freq", 55.0}}), moduleSpec("outA", "out", {{"level", 0.5}})}, {{"saw0.out", "outA.left"}});
    Engine serialEngine(configWith(1, 2));
    Engine parallelEngine(configWith(2, 2));
    if (parallelEngine.threads() < 2) {
        WARN("one core: no parallel plan to test");
        return;
    }
    Session serial(serialEngine), parallel(parallelEngine);
    std::vector<float> expected, got;
    for (int round = 0; round < 6; ++round) {
        const Patch& patch = round % 2 ? small : big;
        if (round == 0) {
            serial.load(patch);
            parallel.load(patch);
        } else {
            serial.setPatch(patch);
            parallel.setPatch(patch);
        }
        const auto e = render(serialEngine, serial, 100);
        const auto g = render(parallelEngine, parallel, 100);
        expected.insert(expected.end(), e.begin(), e.end());
        got.insert(got.end(), g.begin(), g.end());
    }
    REQUIRE(got.size() == expected.size());
    CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
}

TEST_CASE("neither the audio thread nor a worker allocates or locks in a parallel plan", "[engine][parallel][realtime]") {
    if (!kRtGuardActive) return;
    CountingObserver observer;
    Engine engine(configWith(2, 1, &observer));
    if (engine.threads() < 2) {
        WARN("one core: no parallel plan to test");
        return;
    }
    Session session(engine);
    for (const auto& w : cli::benchmarkWorkloads())
        if (w.name == "W2") session.load(w.patch);
    REQUIRE(session.report().threads == 2);
    RtCounts audio;
    for (int b = 0; b < 20000 && (b < 2000 || engine.workerJoins() < 50); ++b) {  // on until the worker took part
        RtGuard guard;
        engine.processBlock();
        audio.allocations += guard.counts().allocations;
        audio.locks += guard.counts().locks;
    }
    CHECK(audio.allocations == 0);
    CHECK(audio.locks == 0);
    CHECK(engine.workerJoins() >= joinsExpected(engine));
    CHECK(observer.allocations.load() == 0);
    CHECK(observer.locks.load() == 0);
}
