// Tests for modules/reverbs.cpp: reverb decay, damping, levels, stereo, denormal safety, speed.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <vector>

#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::impulseSignal;
using kabel::test::ModuleHarness;
using kabel::test::noiseSignal;
using kabel::test::Signal;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;

bool allFinite(std::span<const float> x) {
    for (float v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

/// RT60 from the Schroeder energy decay curve: twice the time from -5 dB to -35 dB (T30).
double rt60(std::span<const float> h, double sampleRate) {
    std::vector<double> edc(h.size() + 1, 0.0);
    for (std::size_t i = h.size(); i-- > 0;) edc[i] = edc[i + 1] + double(h[i]) * h[i];
    const double total = edc[0];
    double t5 = -1.0, t35 = -1.0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const double db = 10.0 * std::log10(edc[i] / total);
        if (t5 < 0.0 && db <= -5.0) t5 = double(i) / sampleRate;
        if (t35 < 0.0 && db <= -35.0) {
            t35 = double(i) / sampleRate;
            break;
        }
    }
    return (t5 < 0.0 || t35 < 0.0) ? -1.0 : 2.0 * (t35 - t5);
}

double correlation(std::span<const float> a, std::span<const float> b) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

// ---------------------------------------------------------------------------------------------
// reverb

/// Wet impulse response of the left output (mix 1), `seconds` long.
std::vector<float> reverbImpulse(float room, float damp, double seconds) {
    const int frames = static_cast<int>(seconds * kFs);
    ModuleHarness h("reverb", kFs);
    h.setParam("room", room);
    h.setParam("damp", damp);
    h.setParam("mix", 1.0f);
    h.connect("left", impulseSignal(frames));
    return h.run(frames)[0][0];
}

/// Freeverb's comb decay: a pass of L samples multiplies by g = 0.7 + 0.28 room.
double combRt60(int tuning, float room) {
    const double g = 0.7 + 0.28 * room;
    return -3.0 * (tuning / 44100.0) / std::log10(g);
}

}  // namespace

TEST_CASE("reverb: the impulse response decays, and RT60 rises with room", "[reverbs]") {
    double previous = 0.0;
    for (float room : {0.0f, 0.25f, 0.5f, 0.8f, 1.0f}) {
        const double lo = combRt60(1116, room), hi = combRt60(1617 + 23, room);
        const auto h = reverbImpulse(room, 0.0f, std::max(2.0, 1.2 * hi));
        const double measured = rt60(h, kFs);
        INFO("room " << room << ": RT60 " << measured << " s, combs alone " << lo << " .. " << hi << " s");
        CHECK(measured > 0.9 * lo);
        CHECK(measured < 1.1 * hi);
        CHECK(measured > previous);
        previous = measured;
    }
}

TEST_CASE("reverb: damping shortens the high-frequency decay", "[reverbs]") {
    // Level of 4-8 kHz relative to 250-1000 Hz in the tail from 0.5 s to 1 s.
    auto tilt = [](float damp) {
        const auto h = reverbImpulse(0.8f, damp, 1.0);
        const auto s = kabel::test::spectrum(std::span<const float>(h).subspan(24000, 24000), kFs);
        auto bandPower = [&](double lo, double hi) {
            double p = 0.0;
            for (std::size_t k = static_cast<std::size_t>(lo / s.binHz); k <= static_cast<std::size_t>(hi / s.binHz); ++k)
                p += std::pow(10.0, s.db[k] / 10.0);
            return 10.0 * std::log10(p / ((hi - lo) / s.binHz));
        };
        return bandPower(4000.0, 8000.0) - bandPower(250.0, 1000.0);
    };
    const double open = tilt(0.0), half = tilt(0.5), damped = tilt(1.0);
    INFO("tail HF/LF tilt: damp 0 " << open << " dB, damp 0.5 " << half << " dB, damp 1 " << damped << " dB");
    CHECK(open > -6.0);
    CHECK(half < open - 10.0);
    CHECK(damped < half - 10.0);
}

TEST_CASE("reverb: dry and wet levels are exact", "[reverbs]") {
    const int frames = 4800;
    SECTION("mix 0 passes the input unchanged, to both outputs when Right is unpatched") {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 0.0f);
        const auto x = noiseSignal(frames, 3);
        h.connect("left", x);
        const auto out = h.run(frames);
        CHECK(out[0][0] == x);
        CHECK(out[1][0] == x);
    }
    SECTION("mix 0 with both inputs patched keeps them apart") {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 0.0f);
        const auto l = noiseSignal(frames, 4), r = noiseSignal(frames, 5);
        h.connect("left", l);
        h.connect("right", r);
        const auto out = h.run(frames);
        CHECK(out[0][0] == l);
        CHECK(out[1][0] == r);
    }
    SECTION("mix 0.25: dry 0.75 now, the first echo at the shortest comb") {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 0.25f);
        h.setParam("width", 1.0f);
        h.connect("left", impulseSignal(frames));
        const auto out = h.run(frames);
        const int first = static_cast<int>(std::lround(1116 * kFs / 44100.0));
        CHECK(out[0][0][0] == 0.75f);
        CHECK(out[1][0][0] == 0.75f);
        for (int n = 1; n < first; ++n) REQUIRE(out[0][0][n] == 0.0f);
        // Both inputs (left feeds right too) x 0.015, through a comb's delay and 4 allpasses'
        // direct paths (-1 each): 0.03, times wet 0.25.
        CHECK(out[0][0][first] == Approx(0.25 * 0.03).epsilon(1e-6));
        // The right side's combs are 23 samples (at 44.1 kHz) longer.
        const int firstRight = static_cast<int>(std::lround((1116 + 23) * kFs / 44100.0));
        for (int n = 1; n < firstRight; ++n) REQUIRE(out[1][0][n] == 0.0f);
        CHECK(out[1][0][firstRight] == Approx(0.25 * 0.03).epsilon(1e-6));
    }
    SECTION("polyphonic inputs are summed") {
        ModuleHarness poly("reverb", kFs), mono("reverb", kFs);
        const auto a = noiseSignal(frames, 6), b = noiseSignal(frames, 7);
        std::vector<float> sum(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) sum[i] = a[i] + b[i];
        poly.connect("left", Signal{a, b});
        mono.connect("left", sum);
        const auto p = poly.run(frames), m = mono.run(frames);
        REQUIRE(poly.outputChannels(0) == 1);
        CHECK(p[0][0] == m[0][0]);
        CHECK(p[1][0] == m[1][0]);
    }
}

TEST_CASE("reverb: width 1 decorrelates the sides, width 0 is mono", "[reverbs]") {
    const int frames = 96000;
    const auto x = noiseSignal(frames, 9);
    auto run = [&](float width) {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 1.0f);
        h.setParam("room", 0.8f);
        h.setParam("width", width);
        h.connect("left", x);
        return h.run(frames);
    };
    const auto wide = run(1.0f), narrow = run(0.0f);
    const double cWide = correlation(std::span<const float>(wide[0][0]).subspan(48000), std::span<const float>(wide[1][0]).subspan(48000));
    const double cNarrow =
        correlation(std::span<const float>(narrow[0][0]).subspan(48000), std::span<const float>(narrow[1][0]).subspan(48000));
    INFO("L/R correlation: width 1 " << cWide << ", width 0 " << cNarrow);
    CHECK(std::fabs(cWide) < 0.2);
    CHECK(cNarrow == Approx(1.0).margin(1e-6));
}

TEST_CASE("reverb: the silent tail neither slows down nor goes NaN", "[reverbs]") {
    // A 0.1 s noise burst at 1e-30 into room 1 (the tail falls ~4.8 dB a second): it reaches the
    // subnormal range (below 1.2e-38) after ~30 s and, were subnormals computed, would stay in it
    // (~140 dB more) to the end of the minute, every operation on them ~100x slower. The module
    // flushes subnormals itself, so the time per second stays flat without the engine's flag.
    // Some CPUs (AMD Zen) compute subnormals at nearly full speed; there the last check (the tail
    // ends in exact zeros, not stuck on the smallest subnormals) is the one that catches a missing
    // flush (tried: without it the tail ends at ~4e-39).
    const int seconds = 60;
    const int frames = seconds * 48000;
    auto x = noiseSignal(frames, 11, 4800);
    for (float& v : x) v *= 1e-30f;
    ModuleHarness h("reverb", kFs);
    h.setParam("room", 1.0f);
    h.setParam("damp", 0.0f);
    h.setParam("mix", 1.0f);
    h.connect("left", x);
    using Clock = std::chrono::steady_clock;
    std::vector<double> perSecond;
    std::vector<float> peaks;
    for (int s = 0; s < seconds; ++s) {
        const auto t0 = Clock::now();
        const auto out = h.run(48000);
        perSecond.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        REQUIRE(allFinite(out[0][0]));
        REQUIRE(allFinite(out[1][0]));
        peaks.push_back(std::max(kabel::test::peak(out[0][0]), kabel::test::peak(out[1][0])));
    }
    // The fastest second of each stretch: on a busy machine the others include time the OS gave
    // away, while subnormal arithmetic would slow every second of the late stretch.
    const double early = *std::min_element(perSecond.begin(), perSecond.begin() + 5);
    const double late = *std::min_element(perSecond.begin() + 35, perSecond.end());
    INFO("fastest second after 35 s " << late * 1e3 << " ms, of the first 5 s " << early * 1e3 << " ms; peak at 20 s " << peaks[20]
                                      << ", at 35 s " << peaks[35]);
    CHECK(peaks[20] > 0.0f);  // the tail was still there, in the smallest normal numbers
    CHECK(peaks[20] < 1e-33f);
    CHECK(late < 2.0 * early);
    CHECK(peaks.back() == 0.0f);  // flushed to zero, not stuck on a subnormal
}

TEST_CASE("reverb: a mix jump glides", "[reverbs]") {
    ModuleHarness h("reverb", kFs);
    h.setParam("mix", 0.0f);
    h.connect("left", sineSignal(300.0, 96000, 0.5));
    const auto before = h.run(48000);
    h.setParam("mix", 1.0f);
    const auto out = h.run(48000);
    const float own = kabel::test::maxStep(before[0][0]);  // mix 0: the dry sine itself
    const float step = kabel::test::maxStep(std::span<const float>(out[0][0]).first(4800));
    INFO("max step while the mix glides " << step << ", the sine's own " << own);
    CHECK(step < 1.1f * own);
}

TEST_CASE("reverb: process() neither allocates nor locks", "[reverbs]") {
    if (!kabel::test::kRtGuardActive) return;  // sanitizer builds own malloc
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    kabel::test::ModuleBench reverb("reverb", 64, kFs, 8);
    reverb.connect("left", 3, osc);
    reverb.build();
    kabel::test::RtGuard guard;
    for (int i = 0; i < 400; ++i) {
        if (i == 300) reverb.setParam("room", 0.9f);
        if (i == 350) reverb.module().requestReset();
        reverb.step();
    }
    CHECK(guard.counts().allocations == 0);
    CHECK(guard.counts().locks == 0);
}

// ---------------------------------------------------------------------------------------------
// benchmarks

namespace {

float benchNoise(int c, long n) {
    std::uint32_t s = static_cast<std::uint32_t>(n * 747796405u + static_cast<unsigned>(c) * 2891336453u);
    s ^= s >> 15;
    s *= 2246822519u;
    s ^= s >> 13;
    return static_cast<float>(s) / 2147483648.0f - 1.0f;
}

}  // namespace

TEST_CASE("reverbs micro-benchmark", "[.bench]") {
    for (int channels : {1, 16}) {
        kabel::test::ModuleBench b("reverb");
        b.setParam("room", 0.8f);
        b.connect("left", channels, benchNoise);
        b.connect("right", channels, [](int c, long n) { return benchNoise(c + 100, n); });
        const double ns = b.nsPerSample(channels == 1 ? "reverb room 0.8 (W3), stereo in" : "reverb, 16-ch poly inputs");
        std::printf("%-48s %8.3f ns/stereo frame\n", "", ns);
    }
}
