// LFO: exact frequency, start phase, shapes, square edges on the exact sample, unipolar, reset,
// rate input, click-free param changes; hidden [.bench] micro-benchmarks.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/unit/module_bench.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

constexpr double kRate = 48000.0;

std::vector<float> render(ModuleHarness& h, int frames) {
    return h.run(frames)[0][0];
}

// Frames where a 0/1 signal goes up and down.
struct Edges {
    std::vector<long> rising, falling;
};
Edges edgesOf(const std::vector<float>& x) {
    Edges e;
    if (!x.empty() && x[0] >= 0.5f) e.rising.push_back(0);
    for (std::size_t n = 1; n < x.size(); ++n) {
        if (x[n - 1] < 0.5f && x[n] >= 0.5f) e.rising.push_back(long(n));
        if (x[n - 1] >= 0.5f && x[n] < 0.5f) e.falling.push_back(long(n));
    }
    return e;
}

}  // namespace

TEST_CASE("lfo is exact in frequency", "[modulation]") {
    for (float hz : {2.0f, 0.1f, 13.7f, 440.0f}) {
        ModuleHarness h("lfo");
        h.setParam("rate", hz);
        const auto x = render(h, 30 * 48000);
        INFO(hz << " Hz");
        CHECK(zeroCrossingFrequency(x, kRate) == Approx(double(hz)).margin(1e-5));
    }
}

TEST_CASE("lfo shapes start where documented", "[modulation]") {
    // 1 Hz: a cycle of 48000 frames, quarter at 12000.
    auto shapeAt = [](int shape) {
        ModuleHarness h("lfo");
        h.setParam("rate", 1.0f);
        h.setParam("shape", float(shape));
        return render(h, 48001);
    };
    const auto sine = shapeAt(0), triangle = shapeAt(1), saw = shapeAt(2), square = shapeAt(3);
    CHECK(sine[0] == 0.0f);
    CHECK(sine[1] > 0.0f);
    CHECK(sine[12000] == Approx(1.0f).margin(1e-6));
    CHECK(sine[36000] == Approx(-1.0f).margin(1e-6));
    CHECK(triangle[0] == 0.0f);
    CHECK(triangle[1] > 0.0f);
    CHECK(triangle[6000] == Approx(0.5f).margin(1e-6));
    CHECK(triangle[12000] == Approx(1.0f).margin(1e-6));
    CHECK(triangle[36000] == Approx(-1.0f).margin(1e-6));
    CHECK(saw[0] == -1.0f);
    CHECK(saw[24000] == Approx(0.0f).margin(1e-6));
    CHECK(saw[47999] == Approx(1.0f).margin(1e-4));
    CHECK(saw[48000] == -1.0f);
    CHECK(square[0] == 1.0f);
    CHECK(square[23999] == 1.0f);
    CHECK(square[24000] == -1.0f);
    CHECK(square[47999] == -1.0f);
    CHECK(square[48000] == 1.0f);
}

TEST_CASE("lfo start phase", "[modulation]") {
    ModuleHarness h("lfo");
    h.setParam("rate", 1.0f);
    h.setParam("phase", 0.25f);
    const auto x = render(h, 24001);
    CHECK(x[0] == Approx(1.0f).margin(1e-6));
    CHECK(x[24000] == Approx(-1.0f).margin(1e-6));
}

TEST_CASE("lfo square edges land on the exact sample for minutes", "[modulation]") {
    struct Case {
        float rate, pw;
        long period, high;
    };
    for (const Case& c : {Case{2.0f, 0.6f, 24000, 14400}, Case{1.0f, 0.5f, 48000, 24000}, Case{0.5f, 0.3f, 96000, 28800}}) {
        ModuleHarness h("lfo");
        h.setParam("rate", c.rate);
        h.setParam("shape", 3.0f);
        h.setParam("pw", c.pw);
        h.setParam("unipolar", 1.0f);
        const int frames = 5 * 60 * 48000;  // five minutes
        const auto x = render(h, frames);
        const Edges e = edgesOf(x);
        INFO("rate " << c.rate << " pw " << c.pw);
        REQUIRE(e.rising.size() == static_cast<std::size_t>((frames + c.period - 1) / c.period));
        REQUIRE(e.falling.size() == e.rising.size());
        long wrong = 0;
        for (std::size_t k = 0; k < e.rising.size(); ++k) {
            wrong += e.rising[k] != long(k) * c.period;
            wrong += e.falling[k] != long(k) * c.period + c.high;
        }
        CHECK(wrong == 0);
        CHECK(*std::min_element(x.begin(), x.end()) == 0.0f);
        CHECK(*std::max_element(x.begin(), x.end()) == 1.0f);
    }
}

TEST_CASE("lfo unipolar maps to 0..1", "[modulation]") {
    for (int shape = 0; shape < 4; ++shape) {
        ModuleHarness h("lfo");
        h.setParam("rate", 5.0f);
        h.setParam("shape", float(shape));
        h.setParam("unipolar", 1.0f);
        const auto x = render(h, 48000);
        INFO("shape " << shape);
        CHECK(*std::min_element(x.begin(), x.end()) == Approx(0.0f).margin(2e-4));  // the saw: a frame of 9600 from the top
        CHECK(*std::max_element(x.begin(), x.end()) == Approx(1.0f).margin(2e-4));
        CHECK(mean(x) == Approx(0.5).margin(1e-3));
    }
}

TEST_CASE("lfo reset restarts at the phase param on the rising edge", "[modulation]") {
    std::vector<float> reset(48000, 0.0f);
    for (int n = 10000; n < 10100; ++n) reset[static_cast<std::size_t>(n)] = 1.0f;  // one pulse
    for (int n = 30001; n < 48000; ++n) reset[static_cast<std::size_t>(n)] = 0.7f;  // a held level: one edge
    ModuleHarness h("lfo");
    h.setParam("rate", 1.0f);
    h.setParam("shape", 2.0f);  // saw: the phase is visible directly
    h.setParam("phase", 0.5f);
    h.connect("reset", reset);
    const auto x = render(h, 48000);
    CHECK(x[0] == Approx(0.0f).margin(1e-6));  // starts at the phase param too
    CHECK(x[9999] == Approx(-1.0f + 2.0f * float(0.5 + 9999.0 / 48000.0)).margin(1e-5));
    CHECK(x[10000] == Approx(0.0f).margin(1e-6));  // phase 0.5 on the edge's sample
    CHECK(x[10001] == Approx(2.0f / 48000.0f).margin(1e-6));
    CHECK(x[30001] == Approx(0.0f).margin(1e-6));
    CHECK(x[30002] > 0.0f);
}

TEST_CASE("lfo rate input adds octaves", "[modulation]") {
    ModuleHarness h("lfo");
    h.setParam("rate", 3.0f);
    h.connect("rate", std::vector<float>(20 * 48000, 1.0f));
    const auto x = render(h, 20 * 48000);
    CHECK(zeroCrossingFrequency(x, kRate) == Approx(6.0).margin(1e-4));
}

TEST_CASE("lfo param jumps produce no step larger than the signal's own", "[modulation]") {
    SECTION("rate jump glides") {
        ModuleHarness h("lfo");
        h.setParam("rate", 1.0f);
        auto x = render(h, 4800);
        h.setParam("rate", 200.0f);
        const auto y = render(h, 48000);
        x.insert(x.end(), y.begin(), y.end());
        CHECK(maxStep(x) <= float(2.0 * std::sin(std::numbers::pi * 200.0 / kRate)) * 1.001f);
    }
    SECTION("shape and polarity changes crossfade") {
        ModuleHarness h("lfo");
        h.setParam("rate", 1.0f);
        auto x = render(h, 6000);  // phase 1/8: sine 0.707, triangle 0.5, saw -0.75
        h.setParam("shape", 1.0f);
        auto y = render(h, 6000);
        x.insert(x.end(), y.begin(), y.end());
        h.setParam("shape", 2.0f);
        y = render(h, 6000);
        x.insert(x.end(), y.begin(), y.end());
        h.setParam("unipolar", 1.0f);
        y = render(h, 6000);
        x.insert(x.end(), y.begin(), y.end());
        // Without the crossfade the saw switch alone would step by ~1.7.
        CHECK(maxStep(x) < 0.05f);
    }
}

TEST_CASE("lfo is polyphonic with its reset and rate inputs", "[modulation]") {
    Signal rate{std::vector<float>(48000, 0.0f), std::vector<float>(48000, 1.0f), std::vector<float>(48000, 2.0f)};
    ModuleHarness h("lfo");
    h.setParam("rate", 10.0f);
    h.connect("rate", rate);
    const auto out = h.run(48000)[0];
    REQUIRE(out.size() == 3);
    CHECK(zeroCrossingFrequency(out[0], kRate) == Approx(10.0).margin(1e-3));
    CHECK(zeroCrossingFrequency(out[1], kRate) == Approx(20.0).margin(1e-3));
    CHECK(zeroCrossingFrequency(out[2], kRate) == Approx(40.0).margin(1e-3));
}

TEST_CASE("lfo micro-benchmarks", "[.bench]") {
    const char* names[] = {"sine", "triangle", "saw", "square"};
    for (int shape = 0; shape < 4; ++shape) {
        ModuleBench b("lfo");
        b.setParam("rate", 1.5f);
        b.setParam("shape", float(shape));
        const std::string label = std::string("lfo ") + names[shape] + ", mono, unpatched";
        b.nsPerSample(label.c_str());
    }
    {
        ModuleBench b("lfo");
        b.connect("rate", 16, [](int c, long n) { return 0.1f * float(c) + 0.1f * std::sin(float(n) * 1e-4f); });
        b.nsPerSample("lfo sine, 16 ch, rate modulated");
    }
    {
        ModuleBench b("lfo");
        b.setParam("shape", 3.0f);
        b.connect("reset", 16, [](int c, long n) { return (n + c * 100) % 20000 < 50 ? 1.0f : 0.0f; });
        b.nsPerSample("lfo square, 16 ch, reset patched");
    }
}
