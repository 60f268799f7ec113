// Tests for modules/filters.cpp (svf) and core/dsp/fast_math.hpp: measured responses against
// the analytic (prewarped bilinear) ones, modulation, stability, smoothing, polyphony, speed.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <cstdio>
#include <numbers>
#include <random>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::constantSignal;
using kabel::test::ModuleHarness;
using kabel::test::noiseSignal;
using kabel::test::Signal;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;
constexpr double kPi = std::numbers::pi;

enum Tap { kLp, kBp, kHp, kNotch };

/// The analytic response: the bilinear transform (prewarped at fc) of the analog prototypes
/// 1/(s^2 + s/q + 1), s/(..), s^2/(..), (s^2 + 1)/(..).
double analyticDb(Tap tap, double f, double fc, double q) {
    const double g = std::tan(kPi * fc / kFs);
    const std::complex<double> s(0.0, std::tan(kPi * f / kFs) / g);
    const std::complex<double> den = s * s + s / q + 1.0;
    std::complex<double> h;
    switch (tap) {
        case kLp:
            h = 1.0 / den;
            break;
        case kBp:
            h = s / den;
            break;
        case kHp:
            h = s * s / den;
            break;
        case kNotch:
            h = (s * s + 1.0) / den;
            break;
    }
    return 20.0 * std::log10(std::abs(h));
}

/// Renders a unit sine at `f` through an svf; returns the level (dB) of each output, measured
/// after the filter has settled.
std::array<double, 4> measuredDb(double f, double fc, double q, int settle = 24000, int length = 24000) {
    ModuleHarness h("svf", kFs);
    h.setParam("cutoff", static_cast<float>(fc));
    h.setParam("q", static_cast<float>(q));
    h.connect("in", sineSignal(f, settle + length));
    h.run(settle);
    const auto out = h.run(length);
    std::array<double, 4> db{};
    for (int t = 0; t < 4; ++t)
        db[static_cast<std::size_t>(t)] = 20.0 * std::log10(kabel::test::toneAmplitude(out[static_cast<std::size_t>(t)][0], kFs, f));
    return db;
}

bool allFinite(const std::vector<float>& x) {
    for (float v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

}  // namespace

TEST_CASE("fast tan and exp2 are accurate over the ranges the filter uses", "[filters]") {
    double tanError = 0.0;
    int points = 0;
    for (double x = 1e-5; x <= 0.45 * kPi; x += 1e-5, ++points) {
        const double err = std::fabs(double(kabel::dsp::fastTan(static_cast<float>(x))) / std::tan(double(float(x))) - 1.0);
        tanError = std::max(tanError, err);
    }
    REQUIRE(points > 100000);
    INFO("max relative error of fastTan on (0, 0.45 pi]: " << tanError);
    CHECK(tanError < 1e-6);

    double expError = 0.0;
    for (double x = -20.0; x <= 20.0; x += 1e-4) {
        const float xf = static_cast<float>(x);
        expError = std::max(expError, std::fabs(double(kabel::dsp::fastPow2(xf)) / std::exp2(double(xf)) - 1.0));
    }
    INFO("max relative error of fastPow2 on [-20, 20]: " << expError);
    CHECK(expError < 3e-7);
}

TEST_CASE("svf responses match the analytic bilinear responses", "[filters]") {
    double worst = 0.0;
    int compared = 0;
    for (double fc : {200.0, 1000.0, 5000.0, 15000.0}) {
        for (double q : {0.70710678, 3.0, 10.0}) {
            for (double ratio : {0.125, 0.5, 0.9, 1.0, 1.1, 2.0, 8.0}) {
                const double f = fc * ratio;
                if (f > 20000.0) continue;
                const auto db = measuredDb(f, fc, q);
                for (Tap tap : {kLp, kBp, kHp, kNotch}) {
                    const double expected = analyticDb(tap, f, fc, q);
                    if (expected < -80.0) continue;  // the notch's zero
                    const double err = std::fabs(db[tap] - expected);
                    INFO("tap " << tap << " fc " << fc << " q " << q << " f " << f << ": measured " << db[tap] << " dB, analytic "
                                << expected << " dB");
                    CHECK(err < 0.1);
                    worst = std::max(worst, err);
                    ++compared;
                }
            }
        }
    }
    REQUIRE(compared > 250);
    INFO("worst response error: " << worst << " dB over " << compared << " points");
    CHECK(worst < 0.1);
}

TEST_CASE("svf keeps its precision at the bottom of the range", "[filters]") {
    // 20 Hz is g = 0.0013: a 2x2 state matrix would hold 1 - 2g^2/d ~ 1 - 3e-6 with float's 6e-8
    // resolution; the increments keep it exact.
    double worst = 0.0;
    for (double q : {0.70710678, 5.0}) {
        for (double f : {5.0, 10.0, 20.0, 40.0, 160.0}) {
            const auto db = measuredDb(f, 20.0, q, 5 * 48000, 4 * 48000);
            for (Tap tap : {kLp, kBp, kHp}) {
                const double err = std::fabs(db[tap] - analyticDb(tap, f, 20.0, q));
                INFO("tap " << tap << " q " << q << " f " << f << ": " << db[tap] << " dB");
                CHECK(err < 0.05);
                worst = std::max(worst, err);
            }
        }
    }
    INFO("worst error at a 20 Hz cutoff: " << worst << " dB");
    CHECK(worst < 0.05);
}

TEST_CASE("svf gain at the cutoff is q", "[filters]") {
    SECTION("q = 0.7071: low-pass and high-pass are 3 dB down, the notch is a zero") {
        const auto db = measuredDb(1000.0, 1000.0, 0.70710678);
        CHECK(db[kLp] == Approx(-3.0103).margin(0.05));
        CHECK(db[kHp] == Approx(-3.0103).margin(0.05));
        CHECK(db[kBp] == Approx(-3.0103).margin(0.05));
        CHECK(db[kNotch] < -60.0);
    }
    SECTION("q = 10: +20 dB") {
        const auto db = measuredDb(2000.0, 2000.0, 10.0);
        CHECK(db[kLp] == Approx(20.0).margin(0.1));
        CHECK(db[kBp] == Approx(20.0).margin(0.1));
        CHECK(db[kHp] == Approx(20.0).margin(0.1));
    }
    SECTION("cutoff near the top of the range stays exact") {
        const auto db = measuredDb(19000.0, 19000.0, 0.70710678);
        CHECK(db[kLp] == Approx(-3.0103).margin(0.1));
    }
}

TEST_CASE("svf cutoff and fm inputs move the cutoff", "[filters]") {
    const int frames = 48000;
    SECTION("cutoff input is 1 V/oct: +1 doubles the cutoff") {
        ModuleHarness h("svf", kFs);
        h.setParam("cutoff", 1000.0f);
        h.connect("in", sineSignal(2000.0, frames));
        h.connect("cutoff", constantSignal(1.0f, frames));
        const auto out = h.run(frames);
        const std::span<const float> tail(out[kLp][0].data() + 24000, 24000);
        CHECK(20.0 * std::log10(kabel::test::toneAmplitude(tail, kFs, 2000.0)) == Approx(-3.0103).margin(0.05));
    }
    SECTION("fm adds fm x depth Hz") {
        ModuleHarness h("svf", kFs);
        h.setParam("cutoff", 1000.0f);
        h.setParam("fm_depth", 1000.0f);
        h.connect("in", sineSignal(1500.0, frames));
        h.connect("fm", constantSignal(0.5f, frames));
        const auto out = h.run(frames);
        const std::span<const float> tail(out[kLp][0].data() + 24000, 24000);
        CHECK(20.0 * std::log10(kabel::test::toneAmplitude(tail, kFs, 1500.0)) == Approx(-3.0103).margin(0.05));
    }
    SECTION("the per-sample path matches the per-block path when the modulation is zero") {
        const auto x = noiseSignal(frames, 7);
        ModuleHarness block("svf", kFs), fm("svf", kFs), cv("svf", kFs);
        for (ModuleHarness* h : {&block, &fm, &cv}) {
            h->setParam("cutoff", 1234.0f);
            h->setParam("q", 5.0f);
            h->connect("in", x);
        }
        fm.connect("fm", constantSignal(0.0f, frames));
        cv.connect("cutoff", constantSignal(0.0f, frames));
        const auto a = block.run(frames), b = fm.run(frames), c = cv.run(frames);
        float fmDiff = 0.0f, cvDiff = 0.0f;
        for (int t = 0; t < 4; ++t)
            for (int n = 0; n < frames; ++n) {
                fmDiff = std::max(fmDiff, std::fabs(a[t][0][n] - b[t][0][n]));
                cvDiff = std::max(cvDiff, std::fabs(a[t][0][n] - c[t][0][n]));
            }
        CHECK(fmDiff < 1e-5f);
        CHECK(cvDiff < 1e-4f);
    }
}

TEST_CASE("svf stays bounded under audio-rate modulation at q 40", "[filters]") {
    const int frames = 2 * 48000;
    SECTION("fm sweeping the whole range at 3 kHz") {
        ModuleHarness h("svf", kFs);
        h.setParam("cutoff", 10000.0f);
        h.setParam("q", 40.0f);
        h.setParam("fm_depth", 20000.0f);
        h.connect("in", noiseSignal(frames, 1));
        h.connect("fm", sineSignal(3000.0, frames));
        const auto out = h.run(frames);
        for (int t = 0; t < 4; ++t) {
            REQUIRE(allFinite(out[t][0]));
            CHECK(kabel::test::peak(out[t][0]) < 100.0f);
        }
    }
    SECTION("cutoff input swinging +-7 octaves at 1 kHz, square-wave input") {
        ModuleHarness h("svf", kFs);
        h.setParam("cutoff", 1000.0f);
        h.setParam("q", 40.0f);
        std::vector<float> square(static_cast<std::size_t>(frames));
        for (int n = 0; n < frames; ++n) square[static_cast<std::size_t>(n)] = (n / 37) % 2 ? 1.0f : -1.0f;
        h.connect("in", square);
        h.connect("cutoff", sineSignal(1000.0, frames, 7.0));
        const auto out = h.run(frames);
        for (int t = 0; t < 4; ++t) {
            REQUIRE(allFinite(out[t][0]));
            CHECK(kabel::test::peak(out[t][0]) < 100.0f);
        }
    }
    SECTION("a NaN input is dropped instead of latching") {
        ModuleHarness h("svf", kFs);
        auto x = sineSignal(440.0, 9600);
        x[100] = std::nanf("");
        h.connect("in", x);
        const auto out = h.run(9600);
        CHECK(allFinite(std::vector<float>(out[kLp][0].begin() + 4800, out[kLp][0].end())));
    }
}

TEST_CASE("svf param jumps do not click", "[filters]") {
    const int frames = 48000;
    SECTION("cutoff 300 -> 3000 Hz") {
        ModuleHarness h("svf", kFs);
        h.setParam("cutoff", 300.0f);
        h.connect("in", sineSignal(200.0, frames));
        h.run(24000);
        h.setParam("cutoff", 3000.0f);
        const auto out = h.run(24000);
        const std::span<const float> lp = out[kLp][0];
        const float jump = kabel::test::maxStep(lp.first(4800));
        const float steady = kabel::test::maxStep(lp.last(4800));
        INFO("max step after the jump " << jump << ", steady " << steady);
        // The low-pass output's phase and level glide from the 300 Hz to the 3 kHz response; a
        // click would be a step of the order of the amplitude (~0.8), not ~1.2x the sine's own.
        CHECK(jump <= 1.3f * steady);
    }
    SECTION("q 0.7 -> 40 at the cutoff") {
        // At the cutoff the notch output x - k bp is ~0. Were k = 1/q to jump, it would step by
        // (1.41 - 0.025) x 0.707 ~ 1 in one sample; glided, it stays small.
        ModuleHarness h("svf", kFs);
        h.connect("in", sineSignal(1000.0, frames));
        const auto before = h.run(24000);
        h.setParam("q", 40.0f);
        const auto out = h.run(24000);
        const float steadyBefore = kabel::test::maxStep(std::span<const float>(before[kNotch][0]).last(4800));
        const float jump = kabel::test::maxStep(std::span<const float>(out[kNotch][0]).first(4800));
        INFO("notch max step before " << steadyBefore << ", during the glide " << jump);
        CHECK(steadyBefore < 1e-3f);
        CHECK(jump < 0.05f);
        const std::span<const float> bp = out[kBp][0];
        CHECK(20.0 * std::log10(kabel::test::toneAmplitude(bp.last(9600), kFs, 1000.0)) == Approx(32.04).margin(0.1));
    }
}

TEST_CASE("svf is polyphonic: channels are independent", "[filters]") {
    const int frames = 9600;
    Signal in, cv;
    for (int c = 0; c < 4; ++c) {
        in.push_back(noiseSignal(frames, 100u + static_cast<unsigned>(c)));
        cv.push_back(sineSignal(3.0 + c, frames, 0.5 * c));
    }
    ModuleHarness poly("svf", kFs);
    poly.setParam("q", 4.0f);
    poly.connect("in", in);
    poly.connect("cutoff", cv);
    const auto out = poly.run(frames);
    REQUIRE(poly.outputChannels(kLp) == 4);
    for (int c = 0; c < 4; ++c) {
        ModuleHarness mono("svf", kFs);
        mono.setParam("q", 4.0f);
        mono.connect("in", in[c]);
        mono.connect("cutoff", cv[c]);
        const auto ref = mono.run(frames);
        for (int t = 0; t < 4; ++t) CHECK(out[t][c] == ref[t][0]);
    }
}

TEST_CASE("svf output does not depend on the block size", "[filters]") {
    const int frames = 4800;
    const auto x = noiseSignal(frames, 21);
    const auto lfo = sineSignal(5.0, frames);
    auto render = [&](int block, bool modulated) {
        ModuleHarness h("svf", kFs, block);
        h.setParam("q", 8.0f);
        h.setParam("fm_depth", 500.0f);
        h.connect("in", x);
        if (modulated) h.connect("fm", lfo);
        return h.run(frames);
    };
    for (bool modulated : {false, true}) {
        const auto ref = render(64, modulated);
        for (int block : {1, 37, 256}) {
            const auto out = render(block, modulated);
            float worst = 0.0f;
            for (int t = 0; t < 4; ++t)
                for (int n = 0; n < frames; ++n) worst = std::max(worst, std::fabs(out[t][0][n] - ref[t][0][n]));
            INFO((modulated ? "fm" : "static") << ", block " << block << ": max difference " << worst);
            CHECK(worst < 1e-5f);  // rounding only: the two-sample steps pair up differently
        }
    }
}

TEST_CASE("svf process() neither allocates nor locks", "[filters]") {
    if (!kabel::test::kRtGuardActive) return;  // sanitizer builds own malloc
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    int runs = 0;
    for (int mode = 0; mode < 4; ++mode) {
        kabel::test::ModuleBench b("svf", 64, kFs, 8);
        b.connect("in", 4, osc);
        if (mode == 1) b.connect("fm", 4, osc);
        if (mode == 2) b.connect("cutoff", 1, osc);
        b.build();
        kabel::test::RtGuard guard;
        for (int i = 0; i < 64; ++i) {
            if (mode == 3 && i == 10) b.setParam("q", 20.0f);  // a glide
            b.step();
        }
        const auto counts = guard.counts();
        CHECK(counts.allocations == 0);
        CHECK(counts.locks == 0);
        ++runs;
    }
    CHECK(runs == 4);
}

TEST_CASE("svf micro-benchmark", "[.bench]") {
    auto saw = [](int c, long n) { return static_cast<float>(2.0 * std::fmod((110.0 + 7.0 * c) * n / kFs, 1.0) - 1.0); };
    auto lfo = [](int c, long n) { return static_cast<float>(std::sin(2.0 * kPi * (0.1 + 0.12 * c) * n / kFs)); };
    for (int channels : {1, 16}) {
        {
            kabel::test::ModuleBench b("svf");
            b.setParam("q", 3.0f);
            b.connect("in", channels, saw);
            b.nsPerSample(channels == 1 ? "svf static, mono" : "svf static, 16 ch");
        }
        {
            kabel::test::ModuleBench b("svf");
            b.setParam("q", 3.0f);
            b.setParam("cutoff", 1650.0f);
            b.setParam("fm_depth", 1350.0f);
            b.connect("in", channels, saw);
            b.connect("fm", channels, lfo);
            b.nsPerSample(channels == 1 ? "svf fm (W2 voice), mono" : "svf fm (W2 voices), 16 ch");
        }
        {
            kabel::test::ModuleBench b("svf");
            b.setParam("q", 3.0f);
            b.connect("in", channels, saw);
            b.connect("cutoff", channels, lfo);
            b.nsPerSample(channels == 1 ? "svf cutoff cv, mono" : "svf cutoff cv, 16 ch");
        }
    }
}
