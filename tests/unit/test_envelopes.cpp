// ADSR: linear segment timings to the sample, retriggers without jumps, exponential curves that
// arrive on time, the continuous curve param, click-free sustain changes, polyphony. AR: held
// gates, release from mid-attack, curves. AD: trigger timing, retrigger, loop period, the
// end-of-cycle trigger. Hidden [.bench] micro-benchmarks.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/unit/module_bench.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

// A gate signal: high on [on, off) of each period (or once, with period 0).
std::vector<float> gateSignal(int frames, int on, int off, int period = 0) {
    std::vector<float> g(static_cast<std::size_t>(frames), 0.0f);
    for (int n = 0; n < frames; ++n) {
        const int t = period > 0 ? n % period : n;
        g[static_cast<std::size_t>(n)] = (t >= on && t < off) ? 1.0f : 0.0f;
    }
    return g;
}

void setAdsr(ModuleHarness& h, float attack, float decay, float sustain, float release, int shape = 0) {
    h.setParam("attack", attack);
    h.setParam("decay", decay);
    h.setParam("sustain", sustain);
    h.setParam("release", release);
    h.setParam("shape", float(shape));
}

}  // namespace

TEST_CASE("linear adsr segments last exactly their times", "[envelopes]") {
    // The W2 envelope: 10 ms, 100 ms, 0.6, 100 ms; gate high for 300 ms from frame 100.
    constexpr int kOn = 100, kA = 480, kD = 4800, kGate = 14400, kR = 4800;
    ModuleHarness h("adsr");
    setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
    h.connect("gate", gateSignal(30000, kOn, kOn + kGate));
    const auto env = h.run(30000)[0][0];

    // The ideal piecewise-linear envelope, in double.
    std::vector<double> ideal(30000, 0.0);
    for (int n = 0; n < 30000; ++n) {
        double v = 0.0;
        const int k = n - kOn;
        if (k < 0)
            v = 0.0;
        else if (k < kA)
            v = double(k) / kA;
        else if (k < kA + kD)
            v = 1.0 - 0.4 * double(k - kA) / kD;
        else if (k < kGate)
            v = 0.6;
        else if (k < kGate + kR)
            v = 0.6 * (1.0 - double(k - kGate) / kR);
        ideal[static_cast<std::size_t>(n)] = v;
    }
    double worst = 0.0;
    for (std::size_t n = 0; n < env.size(); ++n) worst = std::max(worst, std::fabs(double(env[n]) - ideal[n]));
    INFO("max deviation from the ideal envelope " << worst);
    CHECK(worst < 1e-6);

    // The corners, exactly.
    CHECK(env[kOn - 1] == 0.0f);
    CHECK(env[kOn] == 0.0f);
    CHECK(env[kOn + 1] > 0.0f);
    CHECK(env[kOn + kA - 1] < 1.0f);
    CHECK(env[kOn + kA] == 1.0f);
    CHECK(env[kOn + kA + 1] < 1.0f);
    CHECK(env[kOn + kA + kD - 1] > 0.6f);
    CHECK(env[kOn + kA + kD] == 0.6f);
    CHECK(env[kOn + kGate - 1] == 0.6f);
    CHECK(env[kOn + kGate] == 0.6f);
    CHECK(env[kOn + kGate + 1] < 0.6f);
    CHECK(env[kOn + kGate + kR - 1] > 0.0f);
    CHECK(env[kOn + kGate + kR] == 0.0f);
    CHECK(env.back() == 0.0f);
}

TEST_CASE("linear adsr repeats identically when regated every 500 ms", "[envelopes]") {
    ModuleHarness h("adsr");
    setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
    h.connect("gate", gateSignal(4 * 24000, 0, 14400, 24000));
    const auto env = h.run(4 * 24000)[0][0];
    for (int n = 0; n < 24000; ++n)
        for (int cycle = 1; cycle < 4; ++cycle)
            if (env[static_cast<std::size_t>(n + cycle * 24000)] != env[static_cast<std::size_t>(n)])
                FAIL("frame " << n << " cycle " << cycle);
    CHECK(env[480] == 1.0f);
    CHECK(env[24000 + 480] == 1.0f);
    CHECK(env[14400 + 4800] == 0.0f);
}

TEST_CASE("the W3 burst: 1 ms attack, 100 ms decay to 0", "[envelopes]") {
    ModuleHarness h("adsr");
    setAdsr(h, 0.001f, 0.1f, 0.0f, 0.1f);
    h.connect("gate", gateSignal(48000, 0, 24000));
    const auto env = h.run(48000)[0][0];
    CHECK(env[0] == 0.0f);
    CHECK(env[24] == Approx(0.5f).margin(1e-6));
    CHECK(env[48] == 1.0f);
    CHECK(env[48 + 2400] == Approx(0.5f).margin(1e-6));
    CHECK(env[48 + 4799] > 0.0f);
    CHECK(env[48 + 4800] == 0.0f);
    CHECK(peak(std::span<const float>(env).subspan(4848)) == 0.0f);
}

TEST_CASE("retriggers restart the attack from the current level without a jump", "[envelopes]") {
    SECTION("gate again during the release") {
        // Gate 0..1000 (attack, decay), release from frame 1000, gate again at frame 3400.
        std::vector<float> gate = gateSignal(12000, 0, 1000);
        for (int n = 3400; n < 12000; ++n) gate[static_cast<std::size_t>(n)] = 1.0f;
        ModuleHarness h("adsr");
        setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
        h.connect("gate", gate);
        const auto env = h.run(12000)[0][0];
        const float atRelease = env[1000];
        CHECK(atRelease == Approx(1.0f - 0.4f * 520.0f / 4800.0f).margin(1e-6));
        const float atRegate = env[3400];
        CHECK(atRegate == Approx(atRelease * (1.0f - 2400.0f / 4800.0f)).margin(1e-6));
        CHECK(env[3400 + 240] == Approx(atRegate + 0.5f * (1.0f - atRegate)).margin(1e-6));
        CHECK(env[3400 + 480] == 1.0f);
        // No step larger than the steepest segment's own slope (the first attack, from 0).
        CHECK(maxStep(env) <= 1.0f / 480.0f * 1.001f);
        CHECK(std::fabs(env[3400] - env[3399]) <= (1.0f - atRegate) / 480.0f * 1.001f);
    }
    SECTION("retrig input while the gate is held") {
        std::vector<float> retrig(20000, 0.0f);
        for (int n = 10000; n < 10010; ++n) retrig[static_cast<std::size_t>(n)] = 1.0f;  // in the sustain
        for (int n = 300; n < 310; ++n) retrig[static_cast<std::size_t>(n)] = 1.0f;      // during the attack
        ModuleHarness h("adsr");
        setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
        h.connect("gate", gateSignal(20000, 0, 20000));
        h.connect("retrig", retrig);
        const auto env = h.run(20000)[0][0];
        CHECK(env[300] == Approx(300.0f / 480.0f).margin(1e-6));
        CHECK(env[300 + 480] == 1.0f);  // a fresh attack time from the retrigger
        CHECK(env[300 + 480 + 4800] == 0.6f);
        CHECK(env[10000] == 0.6f);
        CHECK(env[10240] == Approx(0.8f).margin(1e-6));
        CHECK(env[10480] == 1.0f);
        CHECK(env[10480 + 4800] == 0.6f);
        CHECK(maxStep(env) <= 1.0f / 480.0f * 1.001f);
    }
    SECTION("retrig input with the gate low does nothing") {
        std::vector<float> retrig = gateSignal(4800, 100, 200);
        ModuleHarness h("adsr");
        setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
        h.connect("retrig", retrig);
        CHECK(peak(h.run(4800)[0][0]) == 0.0f);
    }
}

TEST_CASE("a gate released during the attack releases from where it is", "[envelopes]") {
    ModuleHarness h("adsr");
    setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
    h.connect("gate", gateSignal(10000, 0, 240));
    const auto env = h.run(10000)[0][0];
    CHECK(env[240] == Approx(0.5f).margin(1e-6));
    CHECK(env[240 + 2400] == Approx(0.25f).margin(1e-6));
    CHECK(env[240 + 4799] > 0.0f);
    CHECK(env[240 + 4800] == 0.0f);
    CHECK(maxStep(env) <= 1.0f / 480.0f * 1.001f);
}

TEST_CASE("exponential adsr curves arrive exactly at the set times", "[envelopes]") {
    constexpr int kA = 4800, kD = 9600, kGate = 30000, kR = 19200;  // 100 ms, 200 ms, 625 ms, 400 ms
    ModuleHarness h("adsr");
    setAdsr(h, 0.1f, 0.2f, 0.5f, 0.4f, 1);
    h.connect("gate", gateSignal(60000, 0, kGate));
    const auto env = h.run(60000)[0][0];
    // attack: an RC charge toward 1.5, reaching 1 at exactly kA frames
    CHECK(env[0] == 0.0f);
    CHECK(env[kA / 2] == Approx(1.5 * (1.0 - std::sqrt(1.0 / 3.0))).margin(1e-5));  // concave: 0.634 at half time
    CHECK(env[kA - 1] < 1.0f);
    CHECK(env[kA] == Approx(1.0f).margin(1e-6));
    // decay: heads 1/1000 of the span past the sustain level and reaches it at kD
    const double e = 1e-3;
    const double halfWay = (std::sqrt(e) - e) / (1.0 - e);  // fraction of the span left at half time
    CHECK(env[kA + kD / 2] == Approx(0.5 + 0.5 * halfWay).margin(1e-5));
    CHECK(env[kA + kD - 1] > 0.5f);
    CHECK(env[kA + kD - 1] - 0.5f < 1e-3f * 0.5f);  // within 1e-3 of the span just before the end
    CHECK(env[kA + kD] == Approx(0.5f).margin(1e-6));
    CHECK(env[kGate - 1] == 0.5f);
    // release: from 0.5 to 0 in exactly kR frames
    CHECK(env[kGate] == 0.5f);
    CHECK(env[kGate + kR / 2] == Approx(0.5 * halfWay).margin(1e-5));
    CHECK(env[kGate + kR - 1] > 0.0f);
    CHECK(env[kGate + kR] == Approx(0.0f).margin(1e-7));
    CHECK(peak(std::span<const float>(env).subspan(kGate + kR + 1)) == 0.0f);
    // monotonic within each segment
    for (int n = 1; n <= kA; ++n) REQUIRE(env[static_cast<std::size_t>(n)] >= env[static_cast<std::size_t>(n - 1)]);
    for (int n = kA + 1; n <= kA + kD; ++n) REQUIRE(env[static_cast<std::size_t>(n)] <= env[static_cast<std::size_t>(n - 1)]);
    for (int n = kGate + 1; n <= kGate + kR; ++n) REQUIRE(env[static_cast<std::size_t>(n)] <= env[static_cast<std::size_t>(n - 1)]);
}

TEST_CASE("exponential retrigger from a partial level keeps the attack time", "[envelopes]") {
    std::vector<float> gate = gateSignal(20000, 0, 6000);
    for (int n = 8000; n < 20000; ++n) gate[static_cast<std::size_t>(n)] = 1.0f;
    ModuleHarness h("adsr");
    setAdsr(h, 0.01f, 0.05f, 0.8f, 0.1f, 1);
    h.connect("gate", gate);
    const auto env = h.run(20000)[0][0];
    CHECK(env[8000] > 0.01f);  // mid-release
    CHECK(env[8000] < 0.8f);
    CHECK(env[8480 - 1] < 1.0f);
    CHECK(env[8480] == Approx(1.0f).margin(1e-6));
    CHECK(maxStep(env) < 0.01f);
}

TEST_CASE("sustain changes glide without a click", "[envelopes]") {
    ModuleHarness h("adsr");
    setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
    h.connect("gate", gateSignal(48000, 0, 48000));
    auto env = h.run(12000)[0][0];
    CHECK(env.back() == 0.6f);
    h.setParam("sustain", 0.1f);
    const auto more = h.run(12000)[0][0];
    env.insert(env.end(), more.begin(), more.end());
    CHECK(more.back() == 0.1f);
    // The decay's own slope is 0.4 / 4800 per frame; a 0.5 jump glides with steps well below 1e-3.
    const float step = maxStep(std::span<const float>(env).subspan(11000));
    INFO("largest step after the jump " << step);
    CHECK(step < 1e-3f);
}

TEST_CASE("adsr is polyphonic: one envelope per gate channel", "[envelopes]") {
    Signal gates{gateSignal(10000, 0, 5000), gateSignal(10000, 1000, 5000), gateSignal(10000, 2000, 3000)};
    ModuleHarness h("adsr");
    setAdsr(h, 0.01f, 0.1f, 0.6f, 0.1f);
    h.connect("gate", gates);
    const auto out = h.run(10000)[0];
    REQUIRE(out.size() == 3);
    CHECK(out[0][480] == 1.0f);
    CHECK(out[1][999] == 0.0f);
    CHECK(out[1][1480] == 1.0f);
    CHECK(out[2][2480] == 1.0f);
    CHECK(out[2][3000] == Approx(1.0f - 0.4f * 520.0f / 4800.0f).margin(1e-6));
}

TEST_CASE("adsr shortest times and an unpatched gate", "[envelopes]") {
    ModuleHarness h("adsr");
    setAdsr(h, 0.0001f, 0.0001f, 0.5f, 0.0001f);
    h.connect("gate", gateSignal(100, 10, 50));
    const auto env = h.run(100)[0][0];
    CHECK(env[10 + 5] == 1.0f);  // 0.1 ms = 4.8 frames, rounded to 5
    CHECK(env[10 + 10] == 0.5f);
    CHECK(env[50 + 5] == 0.0f);
    ModuleHarness idle("adsr");
    CHECK(peak(idle.run(4800)[0][0]) == 0.0f);
}

// The fraction of a segment's span still to go k frames into an N-frame segment with curve
// epsilon e (envelopes.cpp's design note): y - T = (L0 - T) (c^k - e) / (1 - e), c^N = e.
double fractionLeft(double e, double k, double n) {
    if (e == 1.0) return 1.0 - k / n;
    return (std::pow(e, k / n) - e) / (1.0 - e);
}

TEST_CASE("adsr curve 0 with the exponential shape is the linear envelope", "[envelopes]") {
    ModuleHarness lin("adsr"), flat("adsr");
    setAdsr(lin, 0.01f, 0.1f, 0.6f, 0.1f, 0);
    setAdsr(flat, 0.01f, 0.1f, 0.6f, 0.1f, 1);
    flat.setParam("curve", 0.0f);
    const auto gate = gateSignal(30000, 100, 14500);
    lin.connect("gate", gate);
    flat.connect("gate", gate);
    CHECK(lin.run(30000)[0][0] == flat.run(30000)[0][0]);
}

TEST_CASE("adsr linear shape ignores the curve param", "[envelopes]") {
    ModuleHarness a("adsr"), b("adsr");
    setAdsr(a, 0.01f, 0.1f, 0.6f, 0.1f, 0);
    setAdsr(b, 0.01f, 0.1f, 0.6f, 0.1f, 0);
    b.setParam("curve", -0.7f);
    const auto gate = gateSignal(30000, 100, 14500);
    a.connect("gate", gate);
    b.connect("gate", gate);
    CHECK(a.run(30000)[0][0] == b.run(30000)[0][0]);
}

TEST_CASE("adsr intermediate and negative curves follow the formula and arrive on time", "[envelopes]") {
    constexpr int kA = 4800, kD = 9600, kGate = 30000, kR = 19200;
    for (float curve : {0.5f, 0.25f, -0.5f, -1.0f}) {
        ModuleHarness h("adsr");
        setAdsr(h, 0.1f, 0.2f, 0.5f, 0.4f, 1);
        h.setParam("curve", curve);
        h.connect("gate", gateSignal(60000, 0, kGate));
        const auto env = h.run(60000)[0][0];
        const double ea = std::pow(1.0 / 3.0, double(curve)), ed = std::pow(1e-3, double(curve));
        INFO("curve " << curve);
        for (int k : {kA / 4, kA / 2, 3 * kA / 4})  // attack from 0 to 1
            CHECK(env[static_cast<std::size_t>(k)] == Approx(1.0 - fractionLeft(ea, k, kA)).margin(2e-5));
        CHECK(env[kA] == Approx(1.0f).margin(1e-5));
        for (int k : {kD / 4, kD / 2, 3 * kD / 4})  // decay from 1 to 0.5
            CHECK(env[static_cast<std::size_t>(kA + k)] == Approx(0.5 + 0.5 * fractionLeft(ed, k, kD)).margin(2e-5));
        CHECK(env[kA + kD] == Approx(0.5f).margin(1e-5));
        for (int k : {kR / 4, kR / 2, 3 * kR / 4})  // release from 0.5 to 0
            CHECK(env[static_cast<std::size_t>(kGate + k)] == Approx(0.5 * fractionLeft(ed, k, kR)).margin(2e-5));
        CHECK(env[kGate + kR] == Approx(0.0f).margin(1e-5));
        CHECK(peak(std::span<const float>(env).subspan(kGate + kR + 1)) == 0.0f);
        // Bent the documented way: positive curves are ahead of the straight line halfway
        // through the attack (fast start), negative ones behind it (slow start).
        if (curve > 0.0f) CHECK(env[kA / 2] > 0.5f);
        if (curve < 0.0f) CHECK(env[kA / 2] < 0.5f);
    }
}

TEST_CASE("ar holds 1 while the gate is high, with exact linear times", "[envelopes]") {
    constexpr int kOn = 100, kA = 480, kGate = 10000, kR = 14400;  // 10 ms, 300 ms
    ModuleHarness h("ar");
    h.setParam("attack", 0.01f);
    h.setParam("release", 0.3f);
    h.setParam("curve", 0.0f);
    h.connect("gate", gateSignal(30000, kOn, kOn + kGate));
    const auto env = h.run(30000)[0][0];
    CHECK(env[kOn] == 0.0f);
    CHECK(env[kOn + kA / 2] == Approx(0.5f).margin(1e-6));
    CHECK(env[kOn + kA - 1] < 1.0f);
    CHECK(env[kOn + kA] == 1.0f);
    for (int n = kOn + kA; n <= kOn + kGate; ++n) REQUIRE(env[static_cast<std::size_t>(n)] == 1.0f);
    CHECK(env[kOn + kGate + kR / 4] == Approx(0.75f).margin(1e-6));
    CHECK(env[kOn + kGate + kR - 1] > 0.0f);
    CHECK(env[kOn + kGate + kR] == 0.0f);
    CHECK(peak(std::span<const float>(env).subspan(kOn + kGate + kR)) == 0.0f);
}

TEST_CASE("ar releases from mid-attack and reopens from mid-release without a jump", "[envelopes]") {
    std::vector<float> gate = gateSignal(20000, 0, 240);                          // half the 480-frame attack
    for (int n = 2640; n < 20000; ++n) gate[static_cast<std::size_t>(n)] = 1.0f;  // again mid-release
    ModuleHarness h("ar");
    h.setParam("attack", 0.01f);
    h.setParam("release", 0.1f);
    h.setParam("curve", 0.0f);
    h.connect("gate", gate);
    const auto env = h.run(20000)[0][0];
    CHECK(env[240] == Approx(0.5f).margin(1e-6));
    CHECK(env[240 + 2400] == Approx(0.25f).margin(1e-6));  // release: 0.5 to 0 over 4800 frames
    CHECK(env[2640 + 480] == 1.0f);                        // a full attack time from 0.25
    CHECK(env[2640 + 240] == Approx(0.625f).margin(1e-6));
    CHECK(maxStep(env) <= 1.0f / 480.0f * 1.001f);
}

TEST_CASE("ar exponential curve arrives exactly on time", "[envelopes]") {
    constexpr int kA = 4800, kGate = 20000, kR = 9600;
    ModuleHarness h("ar");
    h.setParam("attack", 0.1f);
    h.setParam("release", 0.2f);  // curve 1 is the default
    h.connect("gate", gateSignal(40000, 0, kGate));
    const auto env = h.run(40000)[0][0];
    CHECK(env[kA / 2] == Approx(1.5 * (1.0 - std::sqrt(1.0 / 3.0))).margin(1e-5));
    CHECK(env[kA] == Approx(1.0f).margin(1e-6));
    CHECK(env[kGate - 1] == Approx(1.0f).margin(1e-6));
    CHECK(env[kGate + kR / 2] == Approx(fractionLeft(1e-3, kR / 2, kR)).margin(1e-5));
    CHECK(env[kGate + kR] == Approx(0.0f).margin(1e-7));
    CHECK(peak(std::span<const float>(env).subspan(kGate + kR + 1)) == 0.0f);
}

TEST_CASE("ad runs attack then decay from a trigger, whatever the trigger's length", "[envelopes]") {
    constexpr int kA = 240, kD = 4800;  // 5 ms, 100 ms
    for (int width : {1, 100, 20000}) {
        ModuleHarness h("ad");
        h.setParam("attack", 0.005f);
        h.setParam("decay", 0.1f);
        h.setParam("curve", 0.0f);
        h.connect("trig", gateSignal(30000, 1000, 1000 + width));
        const auto out = h.run(30000);
        const auto& env = out[0][0];
        const auto& eoc = out[1][0];
        INFO("trigger " << width << " frames");
        CHECK(env[999] == 0.0f);
        CHECK(env[1000] == 0.0f);
        CHECK(env[1000 + kA / 2] == Approx(0.5f).margin(1e-6));
        CHECK(env[1000 + kA] == 1.0f);
        CHECK(env[1000 + kA + kD / 2] == Approx(0.5f).margin(1e-6));
        CHECK(env[1000 + kA + kD - 1] > 0.0f);
        CHECK(env[1000 + kA + kD] == 0.0f);
        CHECK(peak(std::span<const float>(env).subspan(1000 + kA + kD)) == 0.0f);
        // EOC: 1 ms (48 frames) from the end of the decay.
        const Edges e = edgesOf(eoc);
        REQUIRE(e.rising.size() == 1);
        CHECK(e.rising[0] == 1000 + kA + kD);
        REQUIRE(e.falling.size() == 1);
        CHECK(e.falling[0] == 1000 + kA + kD + 48);
    }
}

TEST_CASE("ad retrigger during the decay restarts the attack from the current level", "[envelopes]") {
    std::vector<float> trig = gateSignal(20000, 0, 10);
    for (int n = 2640; n < 2650; ++n) trig[static_cast<std::size_t>(n)] = 1.0f;  // halfway down the decay
    ModuleHarness h("ad");
    h.setParam("attack", 0.005f);
    h.setParam("decay", 0.1f);
    h.setParam("curve", 0.0f);
    h.connect("trig", trig);
    const auto env = h.run(20000)[0][0];
    CHECK(env[2640] == Approx(0.5f).margin(1e-6));
    CHECK(env[2640 + 120] == Approx(0.75f).margin(1e-6));
    CHECK(env[2640 + 240] == 1.0f);
    CHECK(env[2640 + 240 + 4800] == 0.0f);
    CHECK(maxStep(env) <= 1.0f / 240.0f * 1.001f);
}

TEST_CASE("ad loop cycles with a period of exactly attack plus decay", "[envelopes]") {
    ModuleHarness h("ad");
    h.setParam("attack", 0.01f);  // 480 frames
    h.setParam("decay", 0.09f);   // 4320 frames: period 4800 = 10 Hz
    h.setParam("loop", 1.0f);
    const auto out = h.run(10 * 48000);
    const auto& env = out[0][0];
    const auto& eoc = out[1][0];
    CHECK(env[0] == 0.0f);
    CHECK(env[480] == Approx(1.0f).margin(1e-6));
    long wrong = 0;
    for (int cycle = 1; cycle < 100; ++cycle)
        for (int n = 0; n < 4800; n += 7) wrong += env[static_cast<std::size_t>(cycle * 4800 + n)] != env[static_cast<std::size_t>(n)];
    CHECK(wrong == 0);
    const Edges e = edgesOf(eoc);
    REQUIRE(e.rising.size() == 99);  // at 4800, 9600, ..., 475200
    for (std::size_t k = 0; k < e.rising.size(); ++k) REQUIRE(e.rising[k] == long(k + 1) * 4800);
}

TEST_CASE("ar and ad are polyphonic", "[envelopes]") {
    Signal gates{gateSignal(4000, 0, 3000), gateSignal(4000, 1000, 3000)};
    ModuleHarness ar("ar"), ad("ad");
    ar.setParam("curve", 0.0f);
    ad.setParam("curve", 0.0f);
    ar.connect("gate", gates);
    ad.connect("trig", gates);
    const auto a = ar.run(4000)[0];
    const auto d = ad.run(4000)[0];
    REQUIRE(a.size() == 2);
    REQUIRE(d.size() == 2);
    CHECK(a[0][480] == 1.0f);
    CHECK(a[1][999] == 0.0f);
    CHECK(a[1][1480] == 1.0f);
    CHECK(d[0][240] == 1.0f);  // ad: 5 ms attack by default
    CHECK(d[1][1240] == 1.0f);
}

TEST_CASE("adsr micro-benchmarks", "[.bench]") {
    for (int shape = 0; shape < 2; ++shape) {
        for (int channels : {1, 16}) {
            ModuleBench b("adsr");
            b.setParam("shape", float(shape));
            b.setParam("sustain", 0.6f);
            b.connect("gate", channels, [](int c, long n) { return (n + c * 1000) % 24000 < 14400 ? 1.0f : 0.0f; });
            const std::string label =
                std::string("adsr ") + (shape ? "exponential" : "linear") + ", " + std::to_string(channels) + " ch, gate 300 ms of 500 ms";
            b.nsPerSample(label.c_str());
        }
    }
}

TEST_CASE("ar and ad micro-benchmarks", "[.bench]") {
    for (int channels : {1, 16}) {
        ModuleBench b("ar");
        b.connect("gate", channels, [](int c, long n) { return (n + c * 1000) % 24000 < 14400 ? 1.0f : 0.0f; });
        b.nsPerSample(("ar exponential, " + std::to_string(channels) + " ch, gate 300 ms of 500 ms").c_str());
    }
    for (int channels : {1, 16}) {
        ModuleBench b("ad");
        b.connect("trig", channels, [](int c, long n) { return (n + c * 1000) % 24000 < 10 ? 1.0f : 0.0f; });
        b.nsPerSample(("ad exponential, " + std::to_string(channels) + " ch, trigger every 500 ms").c_str());
    }
    {
        ModuleBench b("ad");
        b.setParam("loop", 1.0f);
        b.nsPerSample("ad looping, mono");
    }
}
