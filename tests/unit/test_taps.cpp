// Signal taps (audio thread -> editor) and the editor's spectrum analyzer.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "core/dsp/spectrum_analyzer.hpp"
#include "core/module/signal_tap.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/signals.hpp"

using namespace kabel;
using namespace kabel::test;

TEST_CASE("a tap returns the newest frames, oldest first", "[taps]") {
    SignalTap tap(2, 1000);  // rounded up to 1024
    CHECK(tap.capacity() == 1024);
    std::vector<float> block(64), out(300);
    float next = 0.0f;
    for (int b = 0; b < 40; ++b) {  // 2560 frames: the ring wraps twice
        for (float& v : block) v = next++;
        tap.write(0, block.data(), 64);
        tap.write(1, block.data(), 64);
        tap.commit(64);
    }
    CHECK(tap.written() == 2560);
    REQUIRE(tap.read(1, out.data(), 300) == 300);
    for (int i = 0; i < 300; ++i) REQUIRE(out[static_cast<std::size_t>(i)] == static_cast<float>(2560 - 300 + i));
    std::vector<float> all(5000);
    CHECK(tap.read(0, all.data(), 5000) == 512);  // at most half the ring: the rest is the writer's slack
}

TEST_CASE("a tap read while the audio thread writes is never torn", "[taps][threads]") {
    SignalTap tap(1, 4096);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        std::vector<float> block(64);
        float next = 0.0f;
        while (!stop.load()) {
            for (float& v : block) v = next++;
            tap.write(0, block.data(), 64);
            tap.commit(64);
            if (next > 1e6f) next = 0.0f;  // stay exact in float
            // Paced like an audio thread, only much faster (64 frames per ~20 us, ~70x real
            // time); an unpaced writer laps the ring during every read on a busy machine.
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
    });
    std::vector<float> out(1024);
    int consistent = 0, reads = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (reads < 500 && std::chrono::steady_clock::now() < deadline) {
        const int n = tap.read(0, out.data(), 1024);
        if (n < 2) {
            std::this_thread::yield();
            continue;
        }
        ++reads;
        bool ok = true;
        for (int k = 1; k < n; ++k)
            ok &=
                out[static_cast<std::size_t>(k)] == out[static_cast<std::size_t>(k - 1)] + 1.0f || out[static_cast<std::size_t>(k)] == 0.0f;
        consistent += ok;
    }
    stop = true;
    writer.join();
    CHECK(reads > 100);
    CHECK(consistent == reads);  // every window a contiguous run of the counter
}

TEST_CASE("the scope taps its inputs and the spectrum analyzer reads a tone's level", "[taps]") {
    ModuleHarness scope("scope");
    scope.connect("in1", sineSignal(1000.0, 48000, 0.5));
    scope.connect("in2", Signal{constantSignal(0.1f, 48000), constantSignal(0.2f, 48000)});
    scope.setParam("channel", 2.0f);  // in2's second channel
    scope.run(48000);
    const SignalTap* tap = scope.module().tap(0);
    REQUIRE(tap != nullptr);
    CHECK(scope.module().tap(1) == nullptr);
    std::vector<float> trace(8192), second(16);
    REQUIRE(tap->read(0, trace.data(), 8192) == 8192);
    REQUIRE(tap->read(1, second.data(), 16) == 16);
    CHECK(second[5] == 0.2f);

    SpectrumAnalyzer analyzer(8192);
    const auto& db = analyzer.analyze(trace.data());
    REQUIRE(db.size() == 4097);
    std::size_t peak = 0;
    for (std::size_t k = 0; k < db.size(); ++k)
        if (db[k] > db[peak]) peak = k;
    // 1000 Hz at 48000/8192 = 5.86 Hz per bin: between bins 170 and 171; the window's
    // scalloping at that offset is below 0.85 dB
    CHECK(SpectrumAnalyzer::binFrequency(static_cast<int>(peak), 8192, 48000.0) == Approx(1000.0).margin(6.0));
    CHECK(db[peak] == Approx(20.0 * std::log10(0.5)).margin(0.9));
    CHECK(db[100] < -90.0f);  // far from the tone: the window's side lobes
}
