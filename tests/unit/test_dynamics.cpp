// Tests for modules/dynamics.cpp: the compressor's static curve against the gain-computer formula
// (peak and RMS detectors, knee, makeup, side-chain, link), its attack and release measured as
// the time to 63 %; the limiter's ceiling on hard signals, its latency and transparency, its
// release, real-time safety and speed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <span>
#include <string>
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

double dbOf(double gain) {
    return 20.0 * std::log10(gain);
}
double gainOf(double db) {
    return std::pow(10.0, db / 20.0);
}

/// Giannoulis, Massberg & Reiss (2012): the static output level for input level x (all dB).
double staticCurve(double x, double threshold, double ratio, double knee) {
    const double d = x - threshold;
    if (2.0 * d < -knee) return x;
    if (2.0 * std::fabs(d) <= knee && knee > 0.0) return x + (1.0 / ratio - 1.0) * (d + knee / 2.0) * (d + knee / 2.0) / (2.0 * knee);
    return threshold + d / ratio;
}

struct CompressorSettings {
    double threshold = -20.0, ratio = 4.0, knee = 6.0, attack = 0.001, release = 0.01, makeup = 0.0;
    int detector = 0;
};

void configure(ModuleHarness& h, const CompressorSettings& s) {
    h.setParam("threshold", static_cast<float>(s.threshold));
    h.setParam("ratio", static_cast<float>(s.ratio));
    h.setParam("knee", static_cast<float>(s.knee));
    h.setParam("attack", static_cast<float>(s.attack));
    h.setParam("release", static_cast<float>(s.release));
    h.setParam("makeup", static_cast<float>(s.makeup));
    h.setParam("detector", float(s.detector));
}

/// The first time (samples, linearly interpolated) at which x crosses `level` after `from`.
double crossing(std::span<const float> x, double level, std::size_t from) {
    for (std::size_t n = from + 1; n < x.size(); ++n) {
        const double a = x[n - 1] - level, b = x[n] - level;
        if ((a < 0.0) != (b < 0.0)) return double(n - 1) + a / (a - b);
    }
    return -1.0;
}

}  // namespace

TEST_CASE("compressor static curve matches the gain computer", "[dynamics]") {
    // Steady levels (a constant: peak = RMS = the level) from -60 to 0 dB, each held until the
    // gain has settled; the gain measured is output / input, less the makeup.
    double worst = 0.0;
    int checked = 0;
    const CompressorSettings settings[] = {{-20.0, 4.0, 0.0, 0.001, 0.01, 0.0, 0},
                                           {-30.0, 8.0, 12.0, 0.001, 0.01, 6.0, 0},
                                           {-10.0, 2.0, 6.0, 0.001, 0.01, 0.0, 0},
                                           {-40.0, 20.0, 24.0, 0.001, 0.01, 12.0, 0},
                                           {-20.0, 4.0, 6.0, 0.001, 0.01, 0.0, 1}};
    for (const CompressorSettings& s : settings) {
        for (double level = -60.0; level <= 0.0; level += 2.0) {
            ModuleHarness h("compressor", kFs);
            configure(h, s);
            h.connect("in", constantSignal(static_cast<float>(gainOf(level)), 9600));
            const auto out = h.run(9600);
            const double measured = dbOf(out[0][0].back()) - level - s.makeup;
            const double expected = staticCurve(level, s.threshold, s.ratio, s.knee) - level;
            INFO("threshold " << s.threshold << " ratio " << s.ratio << " knee " << s.knee << " detector " << s.detector << ", level "
                              << level << " dB: gain " << measured << " dB, formula " << expected << " dB");
            CHECK(measured == Approx(expected).margin(0.2));
            CHECK(dbOf(out[1][0].back()) == Approx(expected).margin(0.2));  // the Gain output, without makeup
            worst = std::max(worst, std::fabs(measured - expected));
            ++checked;
        }
    }
    REQUIRE(checked == 155);
    std::printf("compressor: worst static-curve error %.4f dB over %d levels\n", worst, checked);
}

TEST_CASE("compressor RMS detector reads a sine's RMS level", "[dynamics]") {
    // A 1 kHz sine of peak level P dB has an RMS level of P - 3.01 dB; the RMS detector's 10 ms
    // window leaves < 0.05 dB of ripple at 2 kHz.
    CompressorSettings s;
    s.threshold = -30.0;
    s.ratio = 5.0;
    s.knee = 0.0;
    s.attack = 0.005;
    s.release = 0.05;
    s.detector = 1;
    for (double peakDb : {-40.0, -20.0, -6.0}) {
        ModuleHarness h("compressor", kFs);
        configure(h, s);
        h.connect("in", sineSignal(1000.0, 48000, gainOf(peakDb)));
        const auto out = h.run(48000);
        const std::span<const float> y = std::span<const float>(out[0][0]).last(9600);
        const double gain = dbOf(kabel::test::toneAmplitude(y, kFs, 1000.0) / gainOf(peakDb));
        const double rmsDb = peakDb + dbOf(std::sqrt(0.5));
        const double expected = staticCurve(rmsDb, s.threshold, s.ratio, s.knee) - rmsDb;
        INFO("sine at " << peakDb << " dB peak: gain " << gain << " dB, formula " << expected);
        CHECK(gain == Approx(expected).margin(0.2));
    }
}

TEST_CASE("compressor attack and release take their time constants to 63 percent", "[dynamics]") {
    // Threshold -20, ratio 20, hard knee; a constant steps from -40 dB (no reduction) to -10 dB,
    // a reduction of (-20 + 10/20) - (-10) = -9.5 dB, then back. The reduction in dB is a one-pole:
    // 63.2 % of the way one time constant after the last sample before the step.
    for (const auto& [attack, release] : {std::pair{0.010, 0.100}, std::pair{0.001, 0.5}, std::pair{0.05, 0.02}}) {
        CompressorSettings s;
        s.threshold = -20.0;
        s.ratio = 20.0;
        s.knee = 0.0;
        s.attack = attack;
        s.release = release;
        const int hold = static_cast<int>(10 * std::max(attack, release) * kFs);
        std::vector<float> x(static_cast<std::size_t>(3 * hold), static_cast<float>(gainOf(-40.0)));
        for (int n = hold; n < 2 * hold; ++n) x[static_cast<std::size_t>(n)] = static_cast<float>(gainOf(-10.0));
        ModuleHarness h("compressor", kFs);
        configure(h, s);
        h.connect("in", x);
        const auto out = h.run(3 * hold);
        std::vector<float> reduction(x.size());
        for (std::size_t n = 0; n < x.size(); ++n) reduction[n] = static_cast<float>(dbOf(out[0][0][n] / x[n]));
        const double full = (-20.0 + 10.0 / 20.0) - (-10.0);
        CHECK(reduction[static_cast<std::size_t>(2 * hold - 1)] == Approx(full).margin(0.01));
        const double t1 = crossing(reduction, (1.0 - std::exp(-1.0)) * full, static_cast<std::size_t>(hold - 1)) - (hold - 1);
        const double t2 = crossing(reduction, std::exp(-1.0) * full, static_cast<std::size_t>(2 * hold - 1)) - (2 * hold - 1);
        std::printf("compressor attack %.3f s: 63 %% after %.2f samples (%.2f expected); release %.3f s: after %.2f (%.2f)\n", attack, t1,
                    attack * kFs, release, t2, release * kFs);
        CHECK(t1 == Approx(attack * kFs).margin(1.0));
        CHECK(t2 == Approx(release * kFs).margin(1.0));
    }
}

TEST_CASE("compressor side-chain and link", "[dynamics]") {
    const int frames = 24000;
    CompressorSettings s;
    s.threshold = -30.0;
    s.ratio = 4.0;
    s.knee = 0.0;
    SECTION("the side-chain's level sets the gain") {
        ModuleHarness h("compressor", kFs);
        configure(h, s);
        h.connect("in", sineSignal(500.0, frames, 0.1));
        h.connect("sidechain", constantSignal(static_cast<float>(gainOf(-10.0)), frames));
        const auto out = h.run(frames);
        const double gain = dbOf(kabel::test::toneAmplitude(std::span<const float>(out[0][0]).last(9600), kFs, 500.0) / 0.1);
        CHECK(gain == Approx(staticCurve(-10.0, -30.0, 4.0, 0.0) + 10.0).margin(0.1));
    }
    SECTION("linked channels share the loudest channel's gain; unlinked ones keep their own") {
        const Signal x{constantSignal(static_cast<float>(gainOf(-6.0)), frames), constantSignal(static_cast<float>(gainOf(-40.0)), frames)};
        for (bool link : {true, false}) {
            ModuleHarness h("compressor", kFs);
            configure(h, s);
            h.setParam("link", link ? 1.0f : 0.0f);
            h.connect("in", x);
            const auto out = h.run(frames);
            const double loud = dbOf(out[0][0].back() / x[0].back());
            const double quiet = dbOf(out[0][1].back() / x[1].back());
            const double expected = staticCurve(-6.0, -30.0, 4.0, 0.0) + 6.0;
            INFO("link " << link);
            CHECK(loud == Approx(expected).margin(0.1));
            CHECK(quiet == Approx(link ? expected : 0.0).margin(0.1));
        }
    }
}

TEST_CASE("limiter output never exceeds the ceiling on hard signals", "[dynamics]") {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int frames = 4 * 48000;
    std::vector<std::pair<std::string, std::vector<float>>> signals;
    {
        std::vector<float> x(frames, 0.0f);  // isolated and clustered spikes up to +20 dB
        for (int k = 0; k < 400; ++k) {
            const int at = static_cast<int>((u(rng) * 0.5f + 0.5f) * (frames - 10));
            for (int j = 0; j < 1 + k % 4; ++j) x[static_cast<std::size_t>(at + j)] = 10.0f * u(rng);
        }
        signals.emplace_back("spikes", x);
    }
    {
        std::vector<float> x(frames);  // noise at +18 dB, gated on and off every 30 ms
        for (int n = 0; n < frames; ++n) x[static_cast<std::size_t>(n)] = (n / 1440) % 2 ? 8.0f * u(rng) : 0.01f * u(rng);
        signals.emplace_back("gated noise", x);
    }
    {
        std::vector<float> x(frames);  // a square at +20 dB and a sweep 20 Hz..20 kHz with steps
        double phase = 0.0;
        for (int n = 0; n < frames; ++n) {
            const double t = double(n) / frames;
            phase += 20.0 * std::pow(1000.0, t) / kFs;
            const float level = (n / 4800) % 3 == 0 ? 10.0f : ((n / 4800) % 3 == 1 ? 0.3f : 3.0f);
            x[static_cast<std::size_t>(n)] =
                level * static_cast<float>(std::sin(2.0 * std::numbers::pi * phase)) + ((n / 60) % 2 ? 2.0f : -2.0f);
        }
        signals.emplace_back("square + stepped sweep", x);
    }
    int runs = 0;
    for (const auto& [name, x] : signals) {
        for (float ceilingDb : {-0.1f, -6.0f}) {
            for (float lookaheadMs : {0.5f, 5.0f}) {
                for (float release : {0.01f, 0.3f}) {
                    ModuleHarness h("limiter", kFs);
                    h.setParam("ceiling", ceilingDb);
                    h.setParam("lookahead", lookaheadMs);
                    h.setParam("release", release);
                    h.connect("in", x);
                    const auto out = h.run(frames);
                    const double ceiling = gainOf(ceilingDb);
                    const int latency = static_cast<int>(std::lround(lookaheadMs * 0.001 * kFs));
                    // The gain alone keeps every sample within the ceiling (the final clamp only
                    // absorbs rounding): |x(n - L)| g(n) <= c, to float precision.
                    double worstGain = 0.0;
                    for (int n = latency; n < frames; ++n)
                        worstGain = std::max(worstGain, std::fabs(double(x[static_cast<std::size_t>(n - latency)])) *
                                                            out[1][0][static_cast<std::size_t>(n)]);
                    const double peak = kabel::test::peak(out[0][0]);
                    INFO(name << ", ceiling " << ceilingDb << " dB, look-ahead " << lookaheadMs << " ms, release " << release << " s: peak "
                              << dbOf(peak) << " dB, gain x input " << dbOf(worstGain) << " dB");
                    CHECK(peak <= ceiling * (1.0 + 2.4e-7));  // the float nearest the ceiling (within two ulps)
                    CHECK(worstGain <= ceiling * (1.0 + 1e-5));
                    ++runs;
                }
            }
        }
    }
    CHECK(runs == 24);
}

TEST_CASE("limiter latency is the look-ahead and it is transparent below the ceiling", "[dynamics]") {
    for (float lookaheadMs : {0.1f, 1.0f, 5.0f, 20.0f}) {
        const int latency = static_cast<int>(std::lround(lookaheadMs * 0.001 * kFs));
        ModuleHarness h("limiter", kFs);
        h.setParam("lookahead", lookaheadMs);
        h.setParam("ceiling", -1.0f);
        auto x = sineSignal(440.0, 9600, 0.5);
        x[3000] = 0.85f;  // a peak just under the ceiling (0.891)
        h.connect("in", x);
        const auto out = h.run(9600);
        float worst = 0.0f;
        for (int n = latency; n < 9600; ++n)
            worst = std::max(worst, std::fabs(out[0][0][static_cast<std::size_t>(n)] - x[static_cast<std::size_t>(n - latency)]));
        INFO("look-ahead " << lookaheadMs << " ms = " << latency << " samples: largest difference from the delayed input " << worst);
        CHECK(worst == 0.0f);
        for (int n = 0; n < latency; ++n) CHECK(out[0][0][static_cast<std::size_t>(n)] == 0.0f);
    }
}

TEST_CASE("limiter gain ramps down over the look-ahead and recovers with the release time", "[dynamics]") {
    // A burst at +12 dB (gain needed 0.2244 for a -1 dB ceiling) from frame 4800 to 9600. The gain
    // reaches it when the burst leaves the delay, falling linearly over the look-ahead before; after
    // the burst the running minimum lets go L + 1 frames later, the release one-pole then recovers
    // 63 % in its time constant, and the box filter adds L / 2 on average.
    const float lookaheadMs = 2.0f, release = 0.1f;
    const int latency = 96;
    std::vector<float> x(48000, 0.0f);
    for (int n = 4800; n < 9600; ++n) x[static_cast<std::size_t>(n)] = n % 2 ? 4.0f : -4.0f;
    ModuleHarness h("limiter", kFs);
    h.setParam("lookahead", lookaheadMs);
    h.setParam("release", release);
    h.setParam("ceiling", -1.0f);
    h.connect("in", x);
    const auto out = h.run(48000);
    const std::vector<float>& gain = out[1][0];
    const double need = gainOf(-1.0) / 4.0;
    CHECK(gain[4799] == Approx(1.0).margin(1e-6));  // not yet: L frames before the burst leaves
    CHECK(gain[4800 + latency] == Approx(need).margin(1e-4));
    CHECK(gain[4800 + latency / 2] == Approx(1.0 - (1.0 - need) * (latency / 2 + 1) / (latency + 1.0)).margin(1e-3));  // linear ramp
    const double recovered = 1.0 - (1.0 - need) * std::exp(-1.0);
    const double t = crossing(gain, recovered, 9600) - 9600;
    const double expected = release * kFs + (latency + 1) + latency / 2.0;
    std::printf("limiter release %.2f s: 63 %% recovered %.1f samples after the burst (expected %.1f)\n", release, t, expected);
    CHECK(t == Approx(expected).margin(0.01 * release * kFs + 2.0));
}

TEST_CASE("limiter link applies the loudest channel's gain to all", "[dynamics]") {
    const int frames = 9600;
    const Signal x{std::vector<float>(frames, 2.0f), std::vector<float>(frames, 0.1f)};
    for (bool link : {true, false}) {
        ModuleHarness h("limiter", kFs);
        h.setParam("ceiling", 0.0f);
        h.setParam("link", link ? 1.0f : 0.0f);
        h.connect("in", x);
        const auto out = h.run(frames);
        CHECK(out[0][0].back() == Approx(1.0f).margin(1e-5));
        CHECK(out[0][1].back() == Approx(link ? 0.05f : 0.1f).margin(1e-5));
    }
}

TEST_CASE("dynamics process() neither allocates nor locks", "[dynamics]") {
    if (!kabel::test::kRtGuardActive) return;
    auto osc = [](int c, long n) { return static_cast<float>(4.0 * std::sin(0.01 * n + c)); };
    int runs = 0;
    for (const char* type : {"compressor", "limiter"}) {
        for (int mode = 0; mode < 2; ++mode) {
            kabel::test::ModuleBench b(type, 64, kFs, 8);
            b.connect("in", 5, osc);
            b.setParam("link", float(mode));
            b.build();
            kabel::test::RtGuard guard;
            for (int i = 0; i < 64; ++i) {
                if (i == 10) b.setParam(std::string(type) == "limiter" ? "lookahead" : "threshold", 3.0f);
                if (i == 20) b.setParam("link", float(1 - mode));
                b.step();
            }
            const auto counts = guard.counts();
            CHECK(counts.allocations == 0);
            CHECK(counts.locks == 0);
            ++runs;
        }
    }
    CHECK(runs == 4);
}

TEST_CASE("dynamics micro-benchmarks", "[.bench]") {
    auto saw = [](int c, long n) { return static_cast<float>(2.0 * std::fmod((110.0 + 7.0 * c) * n / kFs, 1.0) - 1.0); };
    for (int channels : {1, 16}) {
        const std::string suffix = channels == 1 ? ", mono" : ", 16 ch";
        for (int link = 0; link < 2; ++link) {
            for (int detector = 0; detector < 2; ++detector) {
                kabel::test::ModuleBench b("compressor");
                b.setParam("link", float(link));
                b.setParam("detector", float(detector));
                b.connect("in", channels, saw);
                b.nsPerSample(("compressor " + std::string(detector ? "rms" : "peak") + (link ? " linked" : "") + suffix).c_str());
            }
            kabel::test::ModuleBench b("limiter");
            b.setParam("link", float(link));
            b.setParam("drive", 12.0f);
            b.connect("in", channels, saw);
            b.nsPerSample(("limiter" + std::string(link ? " linked" : "") + suffix).c_str());
        }
    }
}
