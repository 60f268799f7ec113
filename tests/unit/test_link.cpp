// Ableton Link: two LinkSessions in one process find each other over the local interfaces, share
// a tempo, and a clock with source Link places its beats and bars where Link's beat timeline
// puts them (Link's own beatAtTime() at each frame's host time is the reference).
//
// Waits are bounded (2 s each, polled every 5 ms) so a loaded machine slows the test down but
// never hangs it. Another Link application on this machine during the test would add peers.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "core/sync/link_session.hpp"
#include "tests/support/patch_builder.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

constexpr double kRate = 48000.0;

// Polls `done` every 5 ms for at most `seconds`; true as soon as it holds.
bool waitFor(const std::function<bool()>& done, double seconds = 2.0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

// Frames where `x` rises through 0.5.
std::vector<std::int64_t> risingEdges(const std::vector<float>& x) {
    std::vector<std::int64_t> edges;
    for (std::size_t n = 0; n < x.size(); ++n)
        if (x[n] >= 0.5f && (n == 0 || x[n - 1] < 0.5f)) edges.push_back(static_cast<std::int64_t>(n));
    return edges;
}

// Renders `frames` frames of a two-out patch (clock beat -> out 1, bar -> out 2, bpm -> out 3)
// through engine.process() in device buffers of `buffer` frames, the device clock published once
// at frame 0 = steady time `t0`.
std::vector<std::vector<float>> renderClock(Engine& engine, std::int64_t t0, int frames, int buffer) {
    engine.setAutoPublishClock(false);
    engine.publishClock(t0);
    std::vector<std::vector<float>> out(3, std::vector<float>(static_cast<std::size_t>(frames)));
    for (int done = 0; done < frames; done += buffer) {
        const int n = std::min(buffer, frames - done);
        float* ptr[3] = {out[0].data() + done, out[1].data() + done, out[2].data() + done};
        engine.process(ptr, 3, n);
    }
    return out;
}

Patch clockPatch(double source, double beats) {
    return makePatch({moduleSpec("clock", "clock", {{"source", source}, {"beats", beats}, {"bpm", 120.0}}), moduleSpec("out", "out"),
                      moduleSpec("tempo", "out", {{"first", 3}})},
                     {{"clock.beat", "out.left"}, {"clock.bar", "out.right"}, {"clock.bpm", "tempo.left"}});
}

}  // namespace

TEST_CASE("two Link sessions in one process discover each other and share a tempo change", "[link]") {
    LinkSession a(120.0), b(120.0);
    CHECK_FALSE(a.enabled());
    CHECK(a.numPeers() == 0);
    a.enable(true);
    b.enable(true);
    const auto t = std::chrono::steady_clock::now();
    REQUIRE(waitFor([&] { return a.numPeers() == 1 && b.numPeers() == 1; }));
    const double discovery = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
    WARN("discovery: " << discovery << " ms");

    a.setTempo(133.0);
    CHECK(a.tempo() == Approx(133.0).margin(1e-9));
    const auto t2 = std::chrono::steady_clock::now();
    REQUIRE(waitFor([&] { return std::fabs(b.tempo() - 133.0) < 1e-3; }));
    const double propagation = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t2).count();
    WARN("tempo propagation: " << propagation << " ms");

    // Both map a host time to the same beat (Link keeps 1e-6 beat resolution).
    const std::int64_t now = LinkSession::nowNanos();
    REQUIRE(waitFor([&] { return std::fabs(a.beatAt(now, 4.0) - b.beatAt(now, 4.0)) < 1e-3; }));
    b.enable(false);
    REQUIRE(waitFor([&] { return a.numPeers() == 0; }));
}

TEST_CASE("a clock with source Link puts its beats and bars on Link's timeline within one sample", "[link]") {
    LinkSession a(120.0), b(120.0);
    a.enable(true);
    b.enable(true);
    REQUIRE(waitFor([&] { return a.numPeers() == 1 && b.numPeers() == 1; }));
    b.setTempo(133.0);  // the clock follows a tempo set by the other peer
    REQUIRE(waitFor([&] { return std::fabs(a.tempo() - 133.0) < 1e-3; }));

    for (const int buffer : {64, 100, 256}) {
        INFO("device buffer " << buffer);
        Engine engine(EngineConfig{.sampleRate = kRate, .blockFrames = 64, .outputChannels = 3, .outputGuard = false});
        Session session(engine, Registry::global());
        session.load(clockPatch(2.0, 4.0));
        engine.setLink(&a);
        const std::int64_t t0 = LinkSession::nowNanos();
        const int frames = static_cast<int>(kRate * 5.0);  // 11 beats at 133 BPM
        const auto out = renderClock(engine, t0, frames, buffer);

        // Reference: the first frame whose host time Link maps to a beat >= k (bars: k = 4 m).
        const MidiClock& clock = engine.midiClock();
        const auto beatOf = [&](std::int64_t frame) {
            std::int64_t nanos = 0;
            REQUIRE(clock.timeAt(static_cast<std::uint64_t>(frame), nanos));
            return a.beatAt(nanos, 4.0);
        };
        const auto firstFrameAtOrAfter = [&](double beat) {
            std::int64_t lo = 0, hi = frames;  // beatOf(hi) >= beat
            while (lo < hi) {
                const std::int64_t mid = (lo + hi) / 2;
                if (beatOf(mid) >= beat)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            return lo;
        };
        const double firstBeat = std::ceil(beatOf(1)), lastBeat = std::floor(beatOf(frames - 1));
        std::vector<std::int64_t> beats, bars;
        for (double k = firstBeat; k <= lastBeat; k += 1.0) {
            beats.push_back(firstFrameAtOrAfter(k));
            if (std::fmod(k, 4.0) == 0.0) bars.push_back(firstFrameAtOrAfter(k));
        }
        REQUIRE(beats.size() >= 10);
        REQUIRE(bars.size() >= 2);

        const auto beatEdges = risingEdges(out[0]);
        const auto barEdges = risingEdges(out[1]);
        // Frame 0 may already be high (the block started inside a pulse): not an edge Link placed.
        const auto fromOne = [](std::vector<std::int64_t> e) {
            if (!e.empty() && e.front() == 0) e.erase(e.begin());
            return e;
        };
        const auto gotBeats = fromOne(beatEdges), gotBars = fromOne(barEdges);
        REQUIRE(gotBeats.size() == beats.size());
        REQUIRE(gotBars.size() == bars.size());
        std::int64_t worst = 0;
        for (std::size_t i = 0; i < beats.size(); ++i) worst = std::max(worst, std::abs(gotBeats[i] - beats[i]));
        for (std::size_t i = 0; i < bars.size(); ++i) worst = std::max(worst, std::abs(gotBars[i] - bars[i]));
        CHECK(worst <= 1);
        WARN("device buffer " << buffer << ": " << beats.size() << " beats, " << bars.size() << " bars, worst placement error " << worst
                              << " frames");
        // Beats are 60/133 s apart: 21654.1 frames.
        CHECK(static_cast<double>(beats.back() - beats.front()) / static_cast<double>(beats.size() - 1) ==
              Approx(kRate * 60.0 / 133.0).margin(1.0));
        CHECK(out[2][static_cast<std::size_t>(frames / 2)] == Approx(a.tempo()).epsilon(1e-6));  // Link keeps microseconds per beat
        REQUIRE(session.instance("clock") != nullptr);
        CHECK(session.instance("clock")->status() == "Link: 133.00 BPM");
        engine.setLink(nullptr);
    }
}

TEST_CASE("a clock with source Link and no Link session runs on its Tempo knob and says so", "[link]") {
    Engine engine(EngineConfig{.sampleRate = kRate, .blockFrames = 64, .outputChannels = 3, .outputGuard = false});
    Session session(engine, Registry::global());
    session.load(clockPatch(2.0, 4.0));
    const auto out = renderClock(engine, LinkSession::nowNanos(), 100000, 64);
    const auto beats = risingEdges(out[0]);
    // 120 BPM at 48 kHz: beat k on frame 24000 k.
    REQUIRE(beats.size() == 5);
    for (std::size_t k = 0; k < beats.size(); ++k) CHECK(beats[k] == static_cast<std::int64_t>(24000 * k));
    CHECK(out[2][5000] == 120.0f);
    REQUIRE(session.instance("clock") != nullptr);
    CHECK(session.instance("clock")->status() == "Link is off: running on the Tempo knob (kabel play --link)");
}

TEST_CASE("link clock micro-benchmark", "[.bench][link]") {
    // Whole engine (clock with beat, bar and bpm patched, two out modules), 64-frame blocks:
    // source Link with a session attached (one capture per block) against the internal source.
    LinkSession a(120.0);
    for (const double source : {0.0, 2.0}) {
        Engine engine(EngineConfig{.sampleRate = kRate, .blockFrames = 64, .outputChannels = 3, .outputGuard = false});
        Session session(engine, Registry::global());
        session.load(clockPatch(source, 4.0));
        if (source == 2.0) engine.setLink(&a);
        const int frames = static_cast<int>(kRate * 20.0);
        const auto start = std::chrono::steady_clock::now();
        const auto out = renderClock(engine, LinkSession::nowNanos(), frames, 256);
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / frames;
        CHECK(risingEdges(out[0]).size() >= 39);
        WARN("clock source " << (source == 2.0 ? "Link" : "internal") << ": " << ns << " ns per sample (whole engine, mono clock)");
    }
}
