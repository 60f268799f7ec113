// Stereo mixer, crossfader, pan/width, poly split and merge: gains measured against their laws.
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/signals.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {
constexpr int kFrames = 9600;  // 200 ms: 20 smoothing time constants, settled to 1e-6
const float kMinus3dB = static_cast<float>(std::sqrt(0.5));

// The settled level of a run's last block relative to a constant input of 1.
float settled(const std::vector<float>& y) {
    return y.back();
}
}  // namespace

TEST_CASE("stereo mixer: constant-power pan, levels, mute and solo", "[mixing]") {
    ModuleHarness h("stereomixer");
    h.connect("in1", constantSignal(1.0f, kFrames * 4));
    h.connect("in2", constantSignal(0.5f, kFrames * 4));
    h.setParam("pan1", -1.0f);   // in1 hard left
    h.setParam("level2", 2.0f);  // in2 at the centre, level 2: 0.5 x 2 x 0.7071 each side
    auto out = h.run(kFrames);
    CHECK(settled(out[0][0]) == Approx(1.0f + kMinus3dB).margin(1e-5));
    CHECK(settled(out[1][0]) == Approx(kMinus3dB).margin(1e-5));
    CHECK(h.outputChannels(0) == 1);

    SECTION("solo passes only the soloed strip, glides there and never clicks") {
        h.setParam("solo2", 1.0f);
        out = h.run(kFrames);
        CHECK(settled(out[0][0]) == Approx(kMinus3dB).margin(1e-5));
        CHECK(settled(out[1][0]) == Approx(kMinus3dB).margin(1e-5));
        CHECK(maxStep(out[0][0]) < 0.01f);  // a 1.0 step spread over ~10 ms
    }
    SECTION("mute silences a strip, even a soloed one") {
        h.setParam("solo1", 1.0f);
        h.setParam("mute1", 1.0f);
        out = h.run(kFrames);
        CHECK(std::fabs(settled(out[0][0])) < 1e-6f);
        CHECK(std::fabs(settled(out[1][0])) < 1e-6f);
    }
    SECTION("master scales the bus") {
        h.setParam("master", 0.5f);
        out = h.run(kFrames);
        CHECK(settled(out[0][0]) == Approx(0.5f * (1.0f + kMinus3dB)).margin(1e-5));
    }
}

TEST_CASE("stereo mixer sums a polyphonic input into its strip", "[mixing]") {
    ModuleHarness h("stereomixer");
    h.connect("in1", Signal{constantSignal(0.1f, 256), constantSignal(0.2f, 256), constantSignal(0.3f, 256)});
    const auto out = h.run(256);
    CHECK(out[0][0].back() == Approx(0.6f * kMinus3dB).margin(1e-6));
}

TEST_CASE("crossfader follows the linear and equal-power laws", "[mixing]") {
    ModuleHarness h("crossfade");
    h.connect("a", constantSignal(1.0f, kFrames * 3));
    h.connect("b", constantSignal(-1.0f, kFrames * 3));
    h.setParam("curve", 0.0f);
    h.setParam("position", 0.25f);
    CHECK(settled(h.run(kFrames)[0][0]) == Approx(0.75f - 0.25f).margin(1e-5));
    h.setParam("curve", 1.0f);
    h.setParam("position", 0.5f);
    CHECK(settled(h.run(kFrames)[0][0]) == Approx(0.0f).margin(1e-5));  // cos = sin at the middle
    h.setParam("position", 1.0f);
    CHECK(settled(h.run(kFrames)[0][0]) == Approx(-1.0f).margin(1e-5));

    SECTION("the fade input adds to the knob and is kept in range") {
        ModuleHarness f("crossfade");
        f.connect("a", constantSignal(1.0f, 256));
        f.connect("b", constantSignal(0.0f, 256));
        f.connect("fade", constantSignal(5.0f, 256));  // 0.5 + 5 -> 1: all B
        f.setParam("curve", 0.0f);
        CHECK(settled(f.run(256)[0][0]) == Approx(0.0f).margin(1e-6));
    }
}

TEST_CASE("pan places mono with constant power and balances and widens stereo", "[mixing]") {
    SECTION("mono") {
        ModuleHarness h("pan");
        h.connect("left", constantSignal(1.0f, kFrames * 2));
        auto out = h.run(kFrames);
        CHECK(settled(out[0][0]) == Approx(kMinus3dB).margin(1e-5));
        CHECK(settled(out[1][0]) == Approx(kMinus3dB).margin(1e-5));
        h.setParam("position", 0.5f);  // 3/8 of a quarter turn: cos and sin of 67.5 degrees
        out = h.run(kFrames);
        CHECK(settled(out[0][0]) == Approx(std::cos(0.375 * M_PI)).margin(1e-5));
        CHECK(settled(out[1][0]) == Approx(std::sin(0.375 * M_PI)).margin(1e-5));
        const float power = settled(out[0][0]) * settled(out[0][0]) + settled(out[1][0]) * settled(out[1][0]);
        CHECK(power == Approx(1.0f).margin(1e-5));
    }
    SECTION("stereo width and balance") {
        ModuleHarness h("pan");
        h.connect("left", constantSignal(1.0f, kFrames * 3));
        h.connect("right", constantSignal(0.0f, kFrames * 3));
        auto out = h.run(kFrames);  // width 1, centre: unchanged
        CHECK(settled(out[0][0]) == Approx(1.0f).margin(1e-5));
        CHECK(settled(out[1][0]) == Approx(0.0f).margin(1e-5));
        h.setParam("width", 0.0f);  // mono: both get the mid
        out = h.run(kFrames);
        CHECK(settled(out[0][0]) == Approx(0.5f).margin(1e-5));
        CHECK(settled(out[1][0]) == Approx(0.5f).margin(1e-5));
        h.setParam("width", 2.0f);
        h.setParam("position", 0.5f);  // balance right: the left at half
        out = h.run(kFrames);
        CHECK(settled(out[0][0]) == Approx(0.5f * 1.5f).margin(1e-5));
        CHECK(settled(out[1][0]) == Approx(-0.5f).margin(1e-5));
    }
}

TEST_CASE("split takes a polyphonic cable apart and merge builds one", "[mixing]") {
    ModuleHarness split("split");
    split.connect("in", Signal{constantSignal(1.0f, 64), constantSignal(2.0f, 64), constantSignal(3.0f, 64)});
    const auto parts = split.run(64);
    CHECK(parts[0][0][10] == 1.0f);
    CHECK(parts[2][0][10] == 3.0f);
    CHECK(parts[3][0][10] == 0.0f);  // beyond the input's channels

    // merge's automatic channel count: up to the last patched input (here In 3)
    ModuleHarness merge("merge");
    merge.connect("in1", constantSignal(1.0f, 64));
    merge.connect("in3", constantSignal(3.0f, 64));
    const auto merged = merge.run(64);
    REQUIRE(merge.outputChannels(0) == 3);
    CHECK(merged[0][0][10] == 1.0f);
    CHECK(merged[0][1][10] == 0.0f);  // In 2 unpatched: a silent channel
    CHECK(merged[0][2][10] == 3.0f);

    ModuleHarness fixed("merge");
    fixed.setParam("channels", 5.0f);
    fixed.connect("in1", constantSignal(1.0f, 64));
    fixed.run(64);
    CHECK(fixed.outputChannels(0) == 5);
}
