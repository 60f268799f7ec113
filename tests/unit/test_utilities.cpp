// Tests for modules/utilities.cpp: vca and mixer levels, smoothing, polyphony, speed.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <numbers>
#include <vector>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::constantSignal;
using kabel::test::ModuleHarness;
using kabel::test::Signal;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;

float maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float d = 0.0f;
    for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
    return d;
}

}  // namespace

TEST_CASE("vca multiplies in by cv and gain", "[utilities]") {
    const int frames = 4800;
    const auto x = sineSignal(440.0, frames);
    SECTION("cv unpatched means full gain") {
        ModuleHarness h("vca", kFs);
        h.setParam("gain", 2.5f);
        h.connect("in", x);
        const auto out = h.run(frames);
        for (int n = 0; n < frames; ++n) REQUIRE(out[0][0][n] == x[n] * 2.5f);
    }
    SECTION("cv scales, and a negative cv inverts (four-quadrant)") {
        for (float cv : {0.5f, 0.0f, -1.0f, -0.25f}) {
            ModuleHarness h("vca", kFs);
            h.setParam("gain", 3.0f);
            h.connect("in", x);
            h.connect("cv", constantSignal(cv, frames));
            const auto out = h.run(frames);
            std::vector<float> expected(x.size());
            for (std::size_t n = 0; n < x.size(); ++n) expected[n] = x[n] * cv * 3.0f;
            CHECK(maxAbsDiff(out[0][0], expected) == 0.0f);
        }
    }
    SECTION("an audio-rate cv ring-modulates") {
        ModuleHarness h("vca", kFs);
        h.connect("in", sineSignal(1000.0, frames));
        h.connect("cv", sineSignal(300.0, frames));
        const auto out = h.run(frames);
        CHECK(kabel::test::toneAmplitude(out[0][0], kFs, 700.0) == Approx(0.5).margin(0.01));
        CHECK(kabel::test::toneAmplitude(out[0][0], kFs, 1300.0) == Approx(0.5).margin(0.01));
        CHECK(kabel::test::toneAmplitude(out[0][0], kFs, 1000.0) < 0.01);
    }
    SECTION("in unpatched gives silence") {
        ModuleHarness h("vca", kFs);
        h.connect("cv", constantSignal(1.0f, 256));
        const auto out = h.run(256);
        CHECK(kabel::test::peak(out[0][0]) == 0.0f);
    }
}

TEST_CASE("vca gain jumps glide without a click", "[utilities]") {
    const int frames = 24000;
    ModuleHarness h("vca", kFs);
    h.setParam("gain", 0.25f);
    h.connect("in", sineSignal(1000.0, 2 * frames, 0.5));
    h.run(frames);
    h.setParam("gain", 4.0f);
    const auto out = h.run(frames);
    const std::span<const float> y = out[0][0];
    const float during = kabel::test::maxStep(y.first(2400));  // the first 50 ms
    const float steady = kabel::test::maxStep(y.last(2400));
    INFO("max step during the glide " << during << ", at the new gain " << steady);
    CHECK(during <= 1.01f * steady);
    // ~10 ms time constant: 63% of the way after 480 frames, all of it after 50 ms.
    CHECK(kabel::test::peak(y.subspan(2400, 2400)) == Approx(2.0).margin(1e-3));
}

TEST_CASE("vca is polyphonic", "[utilities]") {
    const int frames = 1024;
    Signal in, cv;
    for (int c = 0; c < 4; ++c) {
        in.push_back(sineSignal(200.0 * (c + 1), frames));
        cv.push_back(constantSignal(0.25f * static_cast<float>(c + 1), frames));
    }
    SECTION("poly cv: channel c is in_c x cv_c") {
        ModuleHarness h("vca", kFs);
        h.connect("in", in);
        h.connect("cv", cv);
        const auto out = h.run(frames);
        REQUIRE(h.outputChannels(0) == 4);
        for (int c = 0; c < 4; ++c)
            for (int n = 0; n < frames; ++n) REQUIRE(out[0][c][n] == in[c][n] * cv[c][n]);
    }
    SECTION("a mono cv drives every channel") {
        ModuleHarness h("vca", kFs);
        h.connect("in", in);
        h.connect("cv", constantSignal(-0.5f, frames));
        const auto out = h.run(frames);
        for (int c = 0; c < 4; ++c)
            for (int n = 0; n < frames; ++n) REQUIRE(out[0][c][n] == in[c][n] * -0.5f);
    }
    SECTION("a poly cv on a mono input gives one channel per cv channel") {
        ModuleHarness h("vca", kFs);
        h.connect("in", in[0]);
        h.connect("cv", cv);
        const auto out = h.run(frames);
        REQUIRE(h.outputChannels(0) == 4);
        for (int c = 0; c < 4; ++c) CHECK(kabel::test::peak(out[0][c]) == Approx(0.25 * (c + 1)).margin(1e-3));
    }
}

TEST_CASE("mixer sums connected inputs with levels and master", "[utilities]") {
    const int frames = 2048;
    const auto a = sineSignal(100.0, frames), b = sineSignal(250.0, frames), d = sineSignal(700.0, frames);
    SECTION("levels and master multiply") {
        ModuleHarness h("mixer", kFs);
        h.setParam("level1", 0.5f);
        h.setParam("level2", 2.0f);
        h.setParam("level4", 0.25f);
        h.setParam("master", 1.5f);
        h.connect("in1", a);
        h.connect("in2", b);
        h.connect("in4", d);
        const auto out = h.run(frames);
        std::vector<float> expected(a.size());
        for (std::size_t n = 0; n < a.size(); ++n) expected[n] = a[n] * 0.75f + b[n] * 3.0f + d[n] * 0.375f;
        CHECK(maxAbsDiff(out[0][0], expected) < 1e-6f);
        CHECK(kabel::test::toneAmplitude(out[0][0], kFs, 250.0) == Approx(3.0).margin(1e-3));
    }
    SECTION("unconnected inputs are skipped; none connected is silence") {
        ModuleHarness one("mixer", kFs);
        one.connect("in3", a);
        CHECK(maxAbsDiff(one.run(frames)[0][0], a) == 0.0f);
        ModuleHarness none("mixer", kFs);
        CHECK(kabel::test::peak(none.run(frames)[0][0]) == 0.0f);
    }
    SECTION("level jumps glide") {
        ModuleHarness h("mixer", kFs);
        h.setParam("level1", 0.0f);
        h.connect("in1", sineSignal(500.0, 48000));
        h.run(24000);
        h.setParam("level1", 2.0f);
        const auto out = h.run(24000);
        const std::span<const float> y = out[0][0];
        const float during = kabel::test::maxStep(y.first(2400));
        const float steady = kabel::test::maxStep(y.last(2400));
        INFO("max step during the glide " << during << ", at the new level " << steady);
        CHECK(during <= 1.01f * steady);
        CHECK(kabel::test::peak(y.first(16)) < 0.05f);
    }
}

TEST_CASE("mixer is polyphonic channel by channel", "[utilities]") {
    const int frames = 1024;
    Signal poly;
    for (int c = 0; c < 4; ++c) poly.push_back(sineSignal(150.0 * (c + 1), frames));
    const auto mono = sineSignal(1000.0, frames, 0.5);
    Signal two{sineSignal(60.0, frames), sineSignal(70.0, frames)};
    ModuleHarness h("mixer", kFs);
    h.connect("in1", poly);
    h.connect("in2", mono);
    h.connect("in3", two);
    const auto out = h.run(frames);
    REQUIRE(h.outputChannels(0) == 4);
    for (int c = 0; c < 4; ++c) {
        std::vector<float> expected(static_cast<std::size_t>(frames));
        for (int n = 0; n < frames; ++n) expected[n] = poly[c][n] + mono[n] + (c < 2 ? two[c][n] : 0.0f);  // mono broadcasts, poly does not
        CHECK(maxAbsDiff(out[0][c], expected) < 1e-6f);
    }
}

TEST_CASE("vca and mixer process() neither allocate nor lock", "[utilities]") {
    if (!kabel::test::kRtGuardActive) return;  // sanitizer builds own malloc
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    kabel::test::ModuleBench vca("vca", 64, kFs, 8), mixer("mixer", 64, kFs, 8);
    vca.connect("in", 16, osc);
    vca.connect("cv", 1, osc);
    mixer.connect("in1", 16, osc);
    mixer.connect("in3", 2, osc);
    vca.build();
    mixer.build();
    kabel::test::RtGuard guard;
    for (int i = 0; i < 64; ++i) {
        if (i == 10) {
            vca.setParam("gain", 3.0f);
            mixer.setParam("level1", 0.1f);
        }
        vca.step();
        mixer.step();
    }
    CHECK(guard.counts().allocations == 0);
    CHECK(guard.counts().locks == 0);
}

TEST_CASE("utilities micro-benchmark", "[.bench]") {
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    for (int channels : {1, 16}) {
        {
            kabel::test::ModuleBench b("vca");
            b.setParam("gain", 0.002f);
            b.connect("in", channels, osc);
            b.nsPerSample(channels == 1 ? "vca settled, cv unpatched (W4), mono" : "vca settled, cv unpatched, 16 ch");
        }
        {
            kabel::test::ModuleBench b("vca");
            b.setParam("gain", 1.0f / 64.0f);
            b.connect("in", channels, osc);
            b.connect("cv", channels, [](int, long n) { return static_cast<float>((n % 4800) / 4800.0); });
            b.nsPerSample(channels == 1 ? "vca with cv (W2), mono" : "vca with cv (W2), 16 ch");
        }
        {
            kabel::test::ModuleBench b("mixer");
            for (const char* in : {"in1", "in2", "in3", "in4"}) b.connect(in, channels, osc);
            b.nsPerSample(channels == 1 ? "mixer 4 inputs, mono" : "mixer 4 inputs, 16 ch");
        }
    }
    // W4's shape: 500 VCAs, one block each, as the engine would run them.
    std::vector<std::unique_ptr<kabel::test::ModuleBench>> bank;
    for (int i = 0; i < 500; ++i) {
        bank.push_back(std::make_unique<kabel::test::ModuleBench>("vca", 64, kFs, 4));
        bank.back()->setParam("gain", 0.002f);
        bank.back()->connect("in", 1, osc);
    }
    for (auto& b : bank) b->build();
    kabel::ScopedFlushDenormals noDenormals;
    double best = 1e300;
    for (int rep = 0; rep < 200; ++rep) {  // fastest block round, as ModuleBench does
        const auto start = std::chrono::steady_clock::now();
        for (auto& b : bank) b->step();
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        best = std::min(best, ns / (64.0 * 500.0));
    }
    std::printf("%-48s %8.3f ns/sample  (500 instances in turn, mono, incl. call overhead)\n", "vca x500 (W4 shape)", best);
}
