// LFO: exact frequency, start phase, shapes, square edges on the exact sample, unipolar, reset,
// rate input, click-free param changes, random shapes, clock sync. Sample & hold, slew, random,
// envelope follower, math, logic and compare: each measured against first principles. Hidden
// [.bench] micro-benchmarks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/signals.hpp"
#include "tests/unit/module_bench.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

constexpr double kRate = 48000.0;

std::vector<float> render(ModuleHarness& h, int frames) {
    return h.run(frames)[0][0];
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

// A pulse train: high for `width` frames from `first` + k * period.
std::vector<float> pulses(int frames, long first, long period, long width = 10) {
    std::vector<float> x(static_cast<std::size_t>(frames), 0.0f);
    for (long start = first; start < frames; start += period)
        for (long n = start; n < std::min<long>(frames, start + width); ++n) x[static_cast<std::size_t>(n)] = 1.0f;
    return x;
}

// Frames where x changes value.
std::vector<long> changesOf(const std::vector<float>& x) {
    std::vector<long> at;
    for (std::size_t n = 1; n < x.size(); ++n)
        if (x[n] != x[n - 1]) at.push_back(long(n));
    return at;
}

TEST_CASE("lfo ramp down falls from +1 to -1 each cycle", "[modulation]") {
    ModuleHarness h("lfo");
    h.setParam("rate", 1.0f);
    h.setParam("shape", 4.0f);
    const auto x = render(h, 48001);
    CHECK(x[0] == 1.0f);
    CHECK(x[12000] == Approx(0.5f).margin(1e-6));
    CHECK(x[24000] == Approx(0.0f).margin(1e-6));
    CHECK(x[47999] == Approx(-1.0f).margin(1e-4));
    CHECK(x[48000] == 1.0f);
    for (int n = 1; n < 48000; ++n) REQUIRE(x[static_cast<std::size_t>(n)] < x[static_cast<std::size_t>(n - 1)]);
}

TEST_CASE("lfo stepped random holds one value per cycle, changing on the exact sample", "[modulation]") {
    ModuleHarness h("lfo", 48000.0, 64, 1234);
    h.setParam("rate", 10.0f);  // 4800 frames per cycle
    h.setParam("shape", 5.0f);
    const auto x = render(h, 200 * 4800);
    const auto at = changesOf(x);
    // A change at every cycle boundary (two equal successive values are possible but rare).
    REQUIRE(at.size() >= 195);
    for (long n : at) REQUIRE(n % 4800 == 0);
    std::vector<float> values;
    for (int k = 0; k < 200; ++k) values.push_back(x[static_cast<std::size_t>(k * 4800)]);
    CHECK(*std::min_element(values.begin(), values.end()) >= -1.0f);
    CHECK(*std::max_element(values.begin(), values.end()) < 1.0f);
    CHECK(mean(values) == Approx(0.0).margin(0.15));  // uniform: sd of the mean 0.04
    CHECK(rms(values) == Approx(std::sqrt(1.0 / 3.0)).margin(0.08));
}

TEST_CASE("lfo random shapes repeat for a seed and block size, and differ between seeds", "[modulation]") {
    auto renderSeed = [](int shape, std::uint64_t seed, int block) {
        ModuleHarness h("lfo", 48000.0, block, seed);
        h.setParam("rate", 30.0f);
        h.setParam("shape", float(shape));
        return render(h, 48000);
    };
    for (int shape : {5, 6}) {
        INFO("shape " << shape);
        const auto a = renderSeed(shape, 7, 64);
        CHECK(a == renderSeed(shape, 7, 64));
        CHECK(a == renderSeed(shape, 7, 37));
        CHECK(a != renderSeed(shape, 8, 64));
    }
}

TEST_CASE("lfo smooth random glides from one stepped value to the next", "[modulation]") {
    ModuleHarness stepped("lfo", 48000.0, 64, 99), smooth("lfo", 48000.0, 64, 99);
    stepped.setParam("rate", 10.0f);
    stepped.setParam("shape", 5.0f);
    smooth.setParam("rate", 10.0f);
    smooth.setParam("shape", 6.0f);
    const auto s = render(stepped, 50 * 4800), m = render(smooth, 50 * 4800);
    // At the start of cycle k the glide has arrived at cycle k-1's stepped value.
    for (int k = 1; k < 50; ++k)
        REQUIRE(m[static_cast<std::size_t>(k * 4800)] == Approx(s[static_cast<std::size_t>(k * 4800 - 1)]).margin(1e-6));
    // Smoothstep's steepest slope is 1.5 x the span per cycle; spans are at most 2.
    CHECK(maxStep(m) <= 1.5f * 2.0f / 4800.0f);
    CHECK(*std::min_element(m.begin(), m.end()) >= -1.0f);
    CHECK(*std::max_element(m.begin(), m.end()) <= 1.0f);
}

TEST_CASE("lfo sync locks the period to the clock times the division", "[modulation]") {
    // A clock of period 12000 frames (4 Hz) from frame 1000; the LFO's own rate is unrelated.
    constexpr long kPeriod = 12000, kFirst = 1000;
    const int frames = 40 * int(kPeriod);
    struct Case {
        int division;  // index into the choices
        long lfoPeriod;
    };
    for (const Case& c : {Case{5, kPeriod}, Case{8, 4 * kPeriod}, Case{2, kPeriod / 4}, Case{3, kPeriod / 3}, Case{6, 2 * kPeriod}}) {
        ModuleHarness h("lfo");
        h.setParam("rate", 0.37f);
        h.setParam("shape", 2.0f);  // saw: -1 exactly at phase 0
        h.setParam("division", float(c.division));
        h.connect("sync", pulses(frames, kFirst, kPeriod));
        const auto x = render(h, frames);
        INFO("division choice " << c.division << ", period " << c.lfoPeriod);
        // From the second clock edge on (the first measured period), the saw restarts exactly
        // every lfoPeriod frames, counted from the first edge, and nowhere else.
        long wrong = 0, wraps = 0;
        for (long n = kFirst + kPeriod + 1; n < frames; ++n) {
            const bool wrap = x[static_cast<std::size_t>(n)] < x[static_cast<std::size_t>(n - 1)];
            const bool expected = (n - kFirst) % c.lfoPeriod == 0;
            wrong += wrap != expected;
            wraps += wrap;
            if (expected) wrong += x[static_cast<std::size_t>(n)] != -1.0f;
        }
        CHECK(wraps > 0);
        CHECK(wrong == 0);
        // Between wraps the saw rises by 2 / lfoPeriod per frame.
        const long mid = kFirst + 10 * kPeriod + c.lfoPeriod / 2;
        CHECK(x[static_cast<std::size_t>(mid + 100)] - x[static_cast<std::size_t>(mid)] ==
              Approx(200.0 / double(c.lfoPeriod)).epsilon(1e-4));
    }
}

TEST_CASE("lfo sync with a jittery clock changes stepped random once per clock", "[modulation]") {
    // Clock periods alternate 12000 and 12001 frames (a tempo that is not a whole number of
    // samples): the LFO sometimes wraps a frame before the late edge; the edge must not draw a
    // second value.
    const int frames = 60 * 12001;
    std::vector<float> clock(static_cast<std::size_t>(frames), 0.0f);
    std::vector<long> edges;
    for (long t = 500, k = 0; t < frames; t += 12000 + (k++ % 2)) {
        edges.push_back(t);
        for (long n = t; n < std::min<long>(frames, t + 20); ++n) clock[static_cast<std::size_t>(n)] = 1.0f;
    }
    ModuleHarness h("lfo", 48000.0, 64, 5);
    h.setParam("shape", 5.0f);
    h.connect("sync", clock);
    const auto x = render(h, frames);
    const auto at = changesOf(x);
    // One change per clock edge from the second on, within a frame of it.
    CHECK(at.size() >= edges.size() - 4);
    CHECK(at.size() <= edges.size());
    for (long n : at) {
        const auto it = std::lower_bound(edges.begin(), edges.end(), n - 1);
        REQUIRE(it != edges.end());
        REQUIRE(std::labs(*it - n) <= 1);
    }
}

TEST_CASE("snh holds the input sampled on the rising edge", "[modulation]") {
    std::vector<float> ramp(20000);
    for (std::size_t n = 0; n < ramp.size(); ++n) ramp[n] = float(n) * 1e-3f;
    const std::vector<long> at{1000, 2500, 2600, 9999, 15000};
    std::vector<float> trig(20000, 0.0f);
    for (long t : at)
        for (long n = t; n < t + 50; ++n) trig[static_cast<std::size_t>(n)] = 1.0f;
    ModuleHarness h("snh");
    h.connect("in", ramp);
    h.connect("trig", trig);
    const auto y = render(h, 20000);
    for (int n = 0; n < 1000; ++n) REQUIRE(y[static_cast<std::size_t>(n)] == 0.0f);
    for (std::size_t k = 0; k < at.size(); ++k) {
        const long end = k + 1 < at.size() ? at[k + 1] : 20000;
        for (long n = at[k]; n < end; ++n) REQUIRE(y[static_cast<std::size_t>(n)] == ramp[static_cast<std::size_t>(at[k])]);
    }
}

TEST_CASE("snh track and hold follows while high and holds the last value", "[modulation]") {
    const auto in = sineSignal(100.0, 10000);
    std::vector<float> gate(10000, 0.0f);
    for (int n = 2000; n < 3000; ++n) gate[static_cast<std::size_t>(n)] = 1.0f;
    ModuleHarness h("snh");
    h.setParam("mode", 1.0f);
    h.connect("in", in);
    h.connect("trig", gate);
    const auto y = render(h, 10000);
    CHECK(y[1999] == 0.0f);
    for (int n = 2000; n < 3000; ++n) REQUIRE(y[static_cast<std::size_t>(n)] == in[static_cast<std::size_t>(n)]);
    for (int n = 3000; n < 10000; ++n) REQUIRE(y[static_cast<std::size_t>(n)] == in[2999]);
}

TEST_CASE("snh samples internal noise when its input is unpatched", "[modulation]") {
    const int frames = 10000 * 48;
    auto run = [&](std::uint64_t seed) {
        ModuleHarness h("snh", 48000.0, 64, seed);
        h.connect("trig", pulses(frames, 0, 48, 5));
        const auto y = render(h, frames);
        std::vector<float> held;
        for (int k = 0; k < 10000; ++k) held.push_back(y[static_cast<std::size_t>(k * 48 + 47)]);
        return held;
    };
    const auto v = run(11);
    CHECK(std::set<float>(v.begin(), v.end()).size() > 9990);  // a fresh value per trigger
    CHECK(*std::min_element(v.begin(), v.end()) >= -1.0f);
    CHECK(*std::max_element(v.begin(), v.end()) < 1.0f);
    CHECK(mean(v) == Approx(0.0).margin(0.03));  // sd of the mean: 0.0058
    CHECK(rms(v) == Approx(std::sqrt(1.0 / 3.0)).margin(0.01));
    CHECK(v == run(11));
    CHECK(v != run(12));
}

TEST_CASE("snh is polyphonic: a mono trigger samples every channel", "[modulation]") {
    Signal in{constantSignal(0.1f, 2000), constantSignal(0.2f, 2000), constantSignal(0.3f, 2000)};
    ModuleHarness h("snh");
    h.connect("in", in);
    h.connect("trig", pulses(2000, 500, 100000));
    const auto y = h.run(2000)[0];
    REQUIRE(y.size() == 3);
    CHECK(y[0][499] == 0.0f);
    CHECK(y[0][500] == 0.1f);
    CHECK(y[1][1999] == 0.2f);
    CHECK(y[2][1999] == 0.3f);
}

TEST_CASE("linear slew reaches its target in the set time per unit", "[modulation]") {
    std::vector<float> in(40000, 0.0f);
    for (int n = 100; n < 20000; ++n) in[static_cast<std::size_t>(n)] = 1.0f;  // up 1 at 100, down 1 at 20000
    ModuleHarness h("slew");
    h.setParam("rise", 0.1f);  // 4800 frames per unit
    h.setParam("fall", 0.2f);  // 9600
    h.connect("in", in);
    const auto y = render(h, 40000);
    CHECK(y[100] == Approx(1.0 / 4800.0).margin(1e-6));
    CHECK(y[100 + 2399] == Approx(0.5).margin(1e-6));
    CHECK(y[100 + 4798] < 1.0f);
    CHECK(y[100 + 4800] == 1.0f);  // 4800 steps of 1/4800, within a frame of rounding
    CHECK(y[20000 + 4799] == Approx(0.5).margin(1e-6));
    CHECK(y[20000 + 9597] > 0.0f);
    CHECK(y[20000 + 9600] == 0.0f);
    CHECK(maxStep(y) <= 1.0f / 4800.0f * 1.001f);

    SECTION("a jump of 2 takes twice the time") {
        ModuleHarness two("slew");
        two.setParam("rise", 0.1f);
        two.connect("in", constantSignal(2.0f, 12000));
        const auto z = render(two, 12000);
        CHECK(z[4799] == Approx(1.0).margin(1e-6));
        CHECK(z[9598] < 2.0f);
        CHECK(z[9600] == 2.0f);
    }
}

TEST_CASE("exponential slew covers 60 dB of a jump in the set time", "[modulation]") {
    std::vector<float> in(60000, 0.0f);
    for (int n = 0; n < 30000; ++n) in[static_cast<std::size_t>(n)] = 2.0f;
    ModuleHarness h("slew");
    h.setParam("shape", 1.0f);
    h.setParam("rise", 0.1f);  // 4800 frames
    h.setParam("fall", 0.3f);  // 14400 frames
    h.connect("in", in);
    const auto y = render(h, 60000);
    // y(k) = 2 (1 - 1000^(-(k+1)/4800)): the first step moves on frame 0.
    const auto left = [](double k, double n) { return std::pow(1e-3, k / n); };
    CHECK(y[4800 / 7 - 1] == Approx(2.0 * (1.0 - left(4800 / 7, 4800))).epsilon(1e-4));
    CHECK(y[2399] == Approx(2.0 * (1.0 - left(2400, 4800))).epsilon(1e-4));
    CHECK(y[4799] == Approx(2.0 * (1.0 - 1e-3)).epsilon(1e-5));
    // The time constant: 63.2% of the jump at time / ln 1000.
    const int tau = int(std::lround(4800.0 / std::log(1000.0)));
    CHECK(y[static_cast<std::size_t>(tau - 1)] == Approx(2.0 * (1.0 - std::exp(-1.0))).epsilon(2e-3));
    CHECK(y[29999] == 2.0f);  // settled
    CHECK(y[30000 + 14399] == Approx(2.0 * 1e-3).epsilon(1e-3));
    CHECK(y[30000 + 7199] == Approx(2.0 * std::sqrt(1e-3)).epsilon(1e-3));
    CHECK(y.back() == Approx(2.0 * left(30000, 14400)).epsilon(1e-3));
}

TEST_CASE("exponential slew arrives even at its longest times", "[modulation]") {
    ModuleHarness h("slew");
    h.setParam("shape", 1.0f);
    h.setParam("rise", 30.0f);  // 1440000 frames
    h.connect("in", constantSignal(1.0f, 1440000));
    const auto y = render(h, 1440000);
    CHECK(y.back() == Approx(1.0 - 1e-3).epsilon(1e-5));
}

TEST_CASE("slew is polyphonic", "[modulation]") {
    Signal in{constantSignal(1.0f, 5000), constantSignal(-1.0f, 5000)};
    ModuleHarness h("slew");
    h.setParam("rise", 0.05f);
    h.setParam("fall", 0.1f);
    h.connect("in", in);
    const auto y = h.run(5000)[0];
    REQUIRE(y.size() == 2);
    CHECK(y[0][2399] == Approx(1.0f).margin(1e-4));
    CHECK(y[1][2399] == Approx(-0.5f).margin(1e-4));
}

TEST_CASE("random steps at its rate with uniform values, and its smooth output arrives on them", "[modulation]") {
    ModuleHarness h("random", 48000.0, 64, 77);
    h.setParam("rate", 20.0f);  // 2400 frames per step
    const auto out = h.run(1000 * 2400);
    const auto& s = out[0][0];
    const auto& m = out[1][0];
    for (long n : changesOf(s)) REQUIRE(n % 2400 == 0);
    std::vector<float> values;
    for (int k = 0; k < 1000; ++k) values.push_back(s[static_cast<std::size_t>(k * 2400)]);
    CHECK(std::set<float>(values.begin(), values.end()).size() > 995);
    CHECK(*std::min_element(values.begin(), values.end()) >= -1.0f);
    CHECK(*std::max_element(values.begin(), values.end()) < 1.0f);
    CHECK(mean(values) == Approx(0.0).margin(0.06));  // sd of the mean 0.018
    CHECK(rms(values) == Approx(std::sqrt(1.0 / 3.0)).margin(0.03));
    for (int k = 1; k < 1000; ++k)
        REQUIRE(m[static_cast<std::size_t>(k * 2400)] == Approx(s[static_cast<std::size_t>(k * 2400 - 1)]).margin(1e-6));
    CHECK(maxStep(m) <= 1.5f * 2.0f / 2400.0f);
}

TEST_CASE("random is reproducible per seed and independent per channel", "[modulation]") {
    auto run = [](std::uint64_t seed, int block) {
        ModuleHarness h("random", 48000.0, block, seed);
        h.setParam("rate", 50.0f);
        h.setParam("channels", 4.0f);
        h.setParam("unipolar", 1.0f);
        return h.run(48000)[0];
    };
    const auto a = run(3, 64);
    REQUIRE(a.size() == 4);
    CHECK(a == run(3, 100));
    CHECK(a != run(4, 64));
    for (int c = 1; c < 4; ++c) CHECK(a[static_cast<std::size_t>(c)] != a[0]);
    for (const auto& ch : a) {
        CHECK(*std::min_element(ch.begin(), ch.end()) >= 0.0f);
        CHECK(*std::max_element(ch.begin(), ch.end()) < 1.0f);
    }
}

TEST_CASE("follower peak detector: attack and release time constants", "[modulation]") {
    std::vector<float> in(96000, 0.0f);
    for (int n = 0; n < 48000; ++n) in[static_cast<std::size_t>(n)] = 1.0f;
    ModuleHarness h("follower");
    h.setParam("attack", 0.01f);   // 480 frames
    h.setParam("release", 0.25f);  // 12000 frames
    h.connect("in", in);
    const auto y = render(h, 96000);
    // A one-pole: after t = tau it has covered 1 - 1/e of a step (frame 479 is the 480th update).
    CHECK(y[479] == Approx(1.0 - std::exp(-1.0)).epsilon(1e-4));
    CHECK(y[959] == Approx(1.0 - std::exp(-2.0)).epsilon(1e-4));
    CHECK(y[47999] == Approx(1.0f).margin(1e-6));

    SECTION("a long release still arrives (no float stall)") {
        ModuleHarness slow("follower");
        slow.setParam("attack", 10.0f);  // 480000 frames
        slow.connect("in", constantSignal(1.0f, 20 * 480000));
        const auto z = render(slow, 20 * 480000);
        CHECK(z[479999] == Approx(1.0 - std::exp(-1.0)).epsilon(1e-4));
        CHECK(z.back() == Approx(1.0f).margin(1e-6));  // e^-20
    }
    CHECK(y[48000 + 11999] == Approx(std::exp(-1.0)).epsilon(1e-4));
    CHECK(y[48000 + 23999] == Approx(std::exp(-2.0)).epsilon(1e-4));
}

TEST_CASE("follower reads a sine's amplitude, its RMS, and dB", "[modulation]") {
    const auto sine = sineSignal(1000.0, 48000, 0.8);
    SECTION("peak") {
        ModuleHarness h("follower");
        h.setParam("attack", 0.0001f);
        h.setParam("release", 1.0f);
        h.connect("in", sine);
        const auto y = render(h, 48000);
        CHECK(mean(std::span<const float>(y).subspan(24000)) == Approx(0.8).epsilon(0.01));
    }
    SECTION("rms") {
        ModuleHarness h("follower");
        h.setParam("detector", 1.0f);
        h.setParam("attack", 0.05f);
        h.setParam("release", 0.05f);
        h.connect("in", sine);
        const auto y = render(h, 48000);
        const auto tail = std::span<const float>(y).subspan(24000);
        CHECK(mean(tail) == Approx(0.8 / std::sqrt(2.0)).epsilon(2e-3));
        CHECK(*std::max_element(tail.begin(), tail.end()) - *std::min_element(tail.begin(), tail.end()) < 0.01f);
    }
    SECTION("rms in dB") {
        ModuleHarness h("follower");
        h.setParam("detector", 1.0f);
        h.setParam("scale", 1.0f);
        h.setParam("attack", 0.05f);
        h.setParam("release", 0.05f);
        h.connect("in", sine);
        const auto y = render(h, 48000);
        CHECK(mean(std::span<const float>(y).subspan(24000)) == Approx(20.0 * std::log10(0.8 / std::sqrt(2.0))).margin(0.02));
    }
}

TEST_CASE("follower rms of a constant is its magnitude, and silence reads exactly 0", "[modulation]") {
    for (float level : {0.5f, -0.25f, 1e-4f, 2.0f}) {
        ModuleHarness h("follower");
        h.setParam("detector", 1.0f);
        h.setParam("attack", 0.0001f);
        h.connect("in", constantSignal(level, 4800));
        INFO("level " << level);
        CHECK(render(h, 4800).back() == Approx(std::fabs(level)).epsilon(1e-6));
    }
    ModuleHarness silent("follower");
    silent.setParam("detector", 1.0f);
    const auto y = render(silent, 256);
    CHECK(peak(y) == 0.0f);
}

TEST_CASE("follower dB output is 20 log10 of the level, floored at -120 dB", "[modulation]") {
    for (float level : {1.0f, 0.5f, 0.1f, 0.001f, 3.0f}) {
        ModuleHarness h("follower");
        h.setParam("scale", 1.0f);
        h.setParam("attack", 0.0001f);
        h.connect("in", constantSignal(level, 4800));
        const auto y = render(h, 4800);
        INFO("level " << level);
        CHECK(y.back() == Approx(20.0 * std::log10(double(level))).margin(1e-3));
    }
    ModuleHarness silent("follower");
    silent.setParam("scale", 1.0f);
    CHECK(render(silent, 64).back() == Approx(-120.0f).margin(1e-3));
}

TEST_CASE("math ops are exact", "[modulation]") {
    const int frames = 4096;
    const auto a = noiseSignal(frames, 1), b0 = noiseSignal(frames, 2), c0 = noiseSignal(frames, 3);
    std::vector<float> b(b0), c(c0);
    for (auto& v : b) v *= 3.0f;
    for (int n = 0; n < frames; n += 97) b[static_cast<std::size_t>(n)] = 0.0f;  // division by 0
    const std::vector<std::pair<std::string, float (*)(float, float, float)>> ops{
        {"add", [](float x, float y, float) { return x + y; }},
        {"subtract", [](float x, float y, float) { return x - y; }},
        {"multiply", [](float x, float y, float) { return x * y; }},
        {"divide", [](float x, float y, float) { return y == 0.0f ? 0.0f : x / y; }},
        {"min", [](float x, float y, float) { return std::min(x, y); }},
        {"max", [](float x, float y, float) { return std::max(x, y); }},
        {"clamp", [](float x, float y, float z) { return std::clamp(x, std::min(y, z), std::max(y, z)); }},
        {"quantize", [](float x, float y, float) { return y > 0.0f ? std::floor(x / y + 0.5f) * y : x; }},
        {"scale & offset", [](float x, float y, float z) { return x * y + z; }},
        {"crossfade", [](float x, float y, float z) { return x + (y - x) * z; }},
        {"abs", [](float x, float, float) { return std::fabs(x); }},
    };
    int op = 0;
    for (const auto& [name, f] : ops) {
        ModuleHarness h("math");
        h.setParam("op", float(op++));
        h.setParam("b", 0.0f);
        h.setParam("c", 0.0f);
        h.connect("a", a);
        h.connect("b", b);
        h.connect("c", c);
        const auto y = render(h, frames);
        long wrong = 0;
        for (int n = 0; n < frames; ++n) {
            const auto i = static_cast<std::size_t>(n);
            const float expected = f(a[i], b[i], c[i]);
            wrong += !(y[i] == expected);
        }
        INFO(name);
        CHECK(wrong == 0);
    }
    CHECK(op == 11);
}

TEST_CASE("math knobs stand in for unpatched operands", "[modulation]") {
    ModuleHarness h("math");
    h.setParam("op", 7.0f);  // quantize
    h.setParam("b", 1.0f / 12.0f);
    std::vector<float> a{0.37f, -0.2f, 1.0f / 24.0f + 1e-4f, 0.5f};
    a.resize(64, 0.0f);
    h.connect("a", a);
    const auto y = render(h, 64);
    const float step = 1.0f / 12.0f;
    CHECK(y[0] == std::floor(0.37f / step + 0.5f) * step);
    CHECK(y[0] == Approx(4.0 / 12.0).margin(1e-6));
    CHECK(y[1] == Approx(-2.0 / 12.0).margin(1e-6));
    CHECK(y[2] == Approx(1.0 / 12.0).margin(1e-6));
    CHECK(y[3] == Approx(0.5).margin(1e-6));
    ModuleHarness scale("math");  // defaults b 1, c 0: scale & offset passes a through
    scale.setParam("op", 8.0f);
    scale.connect("a", a);
    CHECK(render(scale, 64) == a);
}

TEST_CASE("logic truth tables", "[modulation]") {
    // Four segments: (a, b) = (0, 0), (0, 1), (1, 0), (1, 1).
    std::vector<float> a(256), b(256);
    for (int n = 0; n < 256; ++n) {
        a[static_cast<std::size_t>(n)] = (n / 64) & 2 ? 1.0f : 0.0f;
        b[static_cast<std::size_t>(n)] = (n / 64) & 1 ? 1.0f : 0.0f;
    }
    ModuleHarness h("logic");
    h.connect("a", a);
    h.connect("b", b);
    const auto out = h.run(256);
    const std::vector<std::pair<const char*, std::array<float, 4>>> table{{"and", {0, 0, 0, 1}},  {"or", {0, 1, 1, 1}},
                                                                          {"xor", {0, 1, 1, 0}},  {"not", {1, 1, 0, 0}},
                                                                          {"nand", {1, 1, 1, 0}}, {"nor", {1, 0, 0, 0}}};
    for (std::size_t k = 0; k < table.size(); ++k) {
        INFO(table[k].first);
        for (int n = 0; n < 256; ++n) REQUIRE(out[k][0][static_cast<std::size_t>(n)] == table[k].second[static_cast<std::size_t>(n / 64)]);
    }
}

TEST_CASE("logic threshold decides what counts as true", "[modulation]") {
    ModuleHarness h("logic");
    h.setParam("threshold", 0.25f);
    h.connect("a", std::vector<float>{0.24f, 0.25f, 0.3f, -1.0f});
    h.connect("b", std::vector<float>{0.3f, 0.3f, 0.3f, 0.3f});
    const auto out = h.run(4);
    CHECK(out[0][0] == std::vector<float>{0, 1, 1, 0});  // and
    CHECK(out[3][0] == std::vector<float>{1, 0, 0, 1});  // not a
}

TEST_CASE("compare switches with hysteresis exactly at the band edges", "[modulation]") {
    // A triangle between -1 and 1 with noise of +-0.05 on it: without hysteresis it chatters at
    // each crossing; with 0.2 it switches once per crossing, at in > 0.1 and in < -0.1.
    const int frames = 48000;
    const auto noise = noiseSignal(frames, 9);
    std::vector<float> in(frames);
    for (int n = 0; n < frames; ++n) {
        const double t = double(n % 12000) / 12000.0;  // 4 Hz
        in[static_cast<std::size_t>(n)] = float(t < 0.5 ? -1.0 + 4.0 * t : 3.0 - 4.0 * t) + 0.05f * noise[static_cast<std::size_t>(n)];
    }
    ModuleHarness chatter("compare");
    chatter.connect("in", in);
    const Edges c = edgesOf(chatter.run(frames)[0][0]);
    CHECK(c.rising.size() > 8);

    ModuleHarness h("compare");
    h.setParam("hysteresis", 0.2f);
    h.connect("in", in);
    const auto out = h.run(frames);
    const Edges e = edgesOf(out[0][0]);
    REQUIRE(e.rising.size() == 4);
    REQUIRE(e.falling.size() == 4);
    bool high = false;
    for (int n = 0; n < frames; ++n) {
        const float x = in[static_cast<std::size_t>(n)];
        if (x > 0.1f) high = true;
        if (x <= -0.1f) high = false;
        REQUIRE(out[0][0][static_cast<std::size_t>(n)] == (high ? 1.0f : 0.0f));
        REQUIRE(out[1][0][static_cast<std::size_t>(n)] == (high ? 0.0f : 1.0f));
    }
    // Trig: 1 ms (48 frames) from each rising edge.
    const Edges t = edgesOf(out[2][0]);
    REQUIRE(t.rising == e.rising);
    for (std::size_t k = 0; k < t.falling.size(); ++k) CHECK(t.falling[k] == t.rising[k] + 48);
}

TEST_CASE("compare reference input adds to the threshold", "[modulation]") {
    ModuleHarness h("compare");
    h.setParam("threshold", 0.5f);
    h.connect("in", std::vector<float>{0.0f, 0.6f, 0.8f, 0.7f, 0.2f});
    h.connect("ref", std::vector<float>{0.2f, 0.2f, 0.2f, 0.2f, -0.4f});
    CHECK(h.run(5)[0][0] == std::vector<float>{0, 0, 1, 0, 1});
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

TEST_CASE("modulation micro-benchmarks", "[.bench]") {
    for (int shape : {5, 6}) {
        ModuleBench b("lfo");
        b.setParam("rate", 3.0f);
        b.setParam("shape", float(shape));
        b.nsPerSample(shape == 5 ? "lfo stepped random, mono" : "lfo smooth random, mono");
    }
    {
        ModuleBench b("lfo");
        b.connect("sync", 16, [](int c, long n) { return (n + c * 100) % 12000 < 50 ? 1.0f : 0.0f; });
        b.nsPerSample("lfo sine, 16 ch, synced");
    }
    for (int channels : {1, 16}) {
        const std::string ch = ", " + std::to_string(channels) + " ch";
        {
            ModuleBench b("snh");
            b.connect("in", channels, [](int c, long n) { return std::sin(float(n + c) * 1e-3f); });
            b.connect("trig", 1, [](int, long n) { return n % 4800 < 10 ? 1.0f : 0.0f; });
            b.nsPerSample(("snh" + ch).c_str());
        }
        for (int shape : {0, 1}) {
            ModuleBench b("slew");
            b.setParam("shape", float(shape));
            b.connect("in", channels, [](int c, long n) { return (n + c * 37) % 9600 < 4800 ? 1.0f : 0.0f; });
            b.nsPerSample(((shape ? "slew exponential" : "slew linear") + ch).c_str());
        }
        {
            ModuleBench b("random");
            b.setParam("channels", float(channels));
            b.setParam("rate", 5.0f);
            b.nsPerSample(("random, both outputs" + ch).c_str());
        }
        for (int detector : {0, 1}) {
            ModuleBench b("follower");
            b.setParam("detector", float(detector));
            b.setParam("scale", 1.0f);
            b.connect("in", channels, [](int c, long n) { return std::sin(float(n) * 0.05f + float(c)); });
            b.nsPerSample(((detector ? "follower rms, dB" : "follower peak, dB") + ch).c_str());
        }
        for (int op : {0, 7, 9}) {
            ModuleBench b("math");
            b.setParam("op", float(op));
            b.connect("a", channels, [](int c, long n) { return std::sin(float(n + c) * 1e-2f); });
            b.connect("b", channels, [](int c, long n) { return 0.1f + std::cos(float(n + c) * 1e-3f); });
            const char* names[] = {"add", "", "", "", "", "", "", "quantize", "", "crossfade"};
            b.nsPerSample(("math " + std::string(names[op]) + ch).c_str());
        }
        {
            ModuleBench b("logic");
            b.connect("a", channels, [](int c, long n) { return (n + c) % 100 < 50 ? 1.0f : 0.0f; });
            b.connect("b", channels, [](int c, long n) { return (n + c) % 70 < 20 ? 1.0f : 0.0f; });
            b.nsPerSample(("logic, and output read" + ch).c_str());
        }
        {
            ModuleBench b("compare");
            b.setParam("hysteresis", 0.1f);
            b.connect("in", channels, [](int c, long n) { return std::sin(float(n + c) * 1e-3f); });
            b.nsPerSample(("compare" + ch).c_str());
        }
    }
}

TEST_CASE("lfo square runs match the per-frame 64-bit phase comparison", "[modulation]") {
    // The fast path fills runs between edges; the reference compares every frame's phase
    // (i x increment, wrapping) with the pulse width threshold, as the design note defines it.
    constexpr long double kCycle = 18446744073709551616.0L;  // 2^64
    int cases = 0;
    for (const float rate : {0.01f, 0.37f, 3.0f, 97.5f, 1000.0f}) {
        for (const float pw : {0.01f, 0.5f, 0.99f}) {
            ModuleHarness h("lfo");
            h.setParam("rate", rate);
            h.setParam("shape", 3.0f);
            h.setParam("pw", pw);
            h.setParam("unipolar", 0.0f);
            const int frames = 48000;
            const auto x = render(h, frames);
            REQUIRE(x.size() == static_cast<std::size_t>(frames));
            const auto inc = static_cast<std::uint64_t>(std::ceil(static_cast<long double>(double(rate) / kRate) * kCycle));
            const std::uint64_t threshold = static_cast<std::uint64_t>(static_cast<long double>(pw) * kCycle) - (std::uint64_t{1} << 39);
            long wrong = 0;
            for (int i = 0; i < frames; ++i) {
                const float expected = static_cast<std::uint64_t>(i) * inc < threshold ? 1.0f : -1.0f;
                wrong += x[static_cast<std::size_t>(i)] != expected;
            }
            INFO("rate " << rate << " pw " << pw);
            CHECK(wrong == 0);
            ++cases;
        }
    }
    CHECK(cases == 15);
}
