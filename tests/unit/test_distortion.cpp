// Tests for modules/distortion.cpp: the saturator's curves against their Fourier series, its
// oversampling filters (flat pass band, latency to a hundredth of a sample, aliases of a hard-driven
// 5 kHz sine against the naive curve), silence with bias; the bitcrusher's levels, exact hold
// lengths, dither, real-time safety and speed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <functional>
#include <numbers>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::ModuleHarness;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;
constexpr double kPi = std::numbers::pi;

/// The complex amplitude of the component at f (whole periods of a long stretch: exact for a sine).
std::complex<double> phasor(std::span<const float> x, double f) {
    std::complex<double> acc = 0.0;
    for (std::size_t n = 0; n < x.size(); ++n) acc += double(x[n]) * std::polar(1.0, -2.0 * kPi * f * double(n) / kFs);
    return 2.0 * acc / double(x.size());
}

/// Amplitude of harmonic k of g(A sin t), by numerical Fourier integration (double precision).
double harmonic(const std::function<double(double)>& g, double amplitude, int k) {
    const int steps = 1 << 16;
    double s = 0.0, c = 0.0;
    for (int i = 0; i < steps; ++i) {
        const double t = 2.0 * kPi * i / steps;
        const double v = g(amplitude * std::sin(t));
        s += v * std::sin(k * t);
        c += v * std::cos(k * t);
    }
    return 2.0 * std::hypot(s, c) / steps;
}

/// The strongest alias of a 5 kHz tone at 48 kHz relative to its fundamental (dB): every product
/// of a 5 kHz tone lands on a multiple of 1 kHz, the true harmonics on 5, 10, 15 and 20 kHz, so
/// everything else in 1..20 kHz is aliasing.
double worstAliasDb(std::span<const float> y) {
    const kabel::test::Spectrum s = kabel::test::spectrum(y, kFs);
    const double fundamental = s.peakDb(4990.0, 5010.0);
    double worst = -300.0;
    for (int k = 1; k <= 20; ++k) {
        if (k % 5 == 0) continue;
        worst = std::max(worst, s.peakDb(1000.0 * k - 10.0, 1000.0 * k + 10.0) - fundamental);
    }
    return worst;
}

std::vector<float> saturate(float drive, float bias, int curve, int oversampling, const std::vector<float>& x, float level = 0.0f) {
    ModuleHarness h("saturator", kFs);
    h.setParam("drive", drive);
    h.setParam("bias", bias);
    h.setParam("level", level);
    h.setParam("curve", float(curve));
    h.setParam("oversampling", float(oversampling));
    h.connect("in", x);
    return h.run(static_cast<int>(x.size()))[0][0];
}

constexpr double kLatency[4] = {0.0, 31.0, 35.5, 37.25};

}  // namespace

TEST_CASE("saturator oversampling passes the audio band flat with the stated latency", "[distortion]") {
    // A quiet sine stays in tanh's linear region: the output is the input through the resampling
    // filters and the 5 Hz DC blocker, whose own response we know.
    const double r = std::exp(-2.0 * kPi * 5.0 / kFs);
    for (int oversampling = 0; oversampling < 4; ++oversampling) {
        double worstDb = 0.0, worstDelay = 0.0;
        for (double f : {250.0, 1000.0, 4000.0, 10000.0, 16000.0, 19000.0, 20000.0}) {
            const auto x = sineSignal(f, 3 * 48000, 1e-3);
            const auto y = saturate(0.0f, 0.0f, 0, oversampling, x);
            const std::span<const float> in(x), out(y);
            const std::complex<double> h = phasor(out.last(96000), f) / phasor(in.last(96000), f);
            const std::complex<double> z = std::polar(1.0, -2.0 * kPi * f / kFs);
            const std::complex<double> blocker = (1.0 - z) / (1.0 - r * z);
            const std::complex<double> filters = h / blocker;
            const double db = 20.0 * std::log10(std::abs(filters));
            // The linear phase of a pure delay of L samples: -2 pi f L / fs (unwrapped around the
            // stated latency).
            const double expectedPhase = -2.0 * kPi * f * kLatency[oversampling] / kFs;
            double phase = std::arg(filters);
            phase += 2.0 * kPi * std::round((expectedPhase - phase) / (2.0 * kPi));
            const double delay = -phase * kFs / (2.0 * kPi * f);
            INFO(oversampling << ": " << f << " Hz: " << db << " dB, delay " << delay << " samples");
            CHECK(std::fabs(db) < 0.02);
            CHECK(delay == Approx(kLatency[oversampling]).margin(0.01));
            worstDb = std::max(worstDb, std::fabs(db));
            worstDelay = std::max(worstDelay, std::fabs(delay - kLatency[oversampling]));
        }
        std::printf("saturator %dx: pass band (250 Hz..20 kHz) within %.4f dB, latency %.2f samples (+-%.4f)\n", 1 << oversampling, worstDb,
                    kLatency[oversampling], worstDelay);
    }
}

TEST_CASE("saturator oversampling keeps aliases of a hard-driven 5 kHz sine far below the naive curve", "[distortion]") {
    const auto x = sineSignal(5000.0, 2 * 48000);
    for (const auto& [driveDb, bias] : {std::pair{24.0, 0.0}, std::pair{12.0, 0.0}, std::pair{24.0, 0.3}}) {
        // The naive version: the same curve at 48 kHz.
        const double g = std::pow(10.0, driveDb / 20.0);
        std::vector<float> naive(x.size());
        for (std::size_t n = 0; n < x.size(); ++n) naive[n] = static_cast<float>(std::tanh(g * x[n] + bias));
        const double naiveAlias = worstAliasDb(std::span<const float>(naive).last(48000));
        double alias[4];
        for (int oversampling = 0; oversampling < 4; ++oversampling) {
            const auto y = saturate(static_cast<float>(driveDb), static_cast<float>(bias), 0, oversampling, x);
            alias[oversampling] = worstAliasDb(std::span<const float>(y).last(48000));
        }
        std::printf(
            "saturator, 5 kHz sine at +%.0f dB drive, bias %.1f: worst alias re fundamental: naive %.1f dB; 1x %.1f, 2x %.1f, "
            "4x %.1f, 8x %.1f dB\n",
            driveDb, bias, naiveAlias, alias[0], alias[1], alias[2], alias[3]);
        INFO("drive " << driveDb << " bias " << bias);
        CHECK(alias[0] == Approx(naiveAlias).margin(1.0));  // 1x is the naive curve
        CHECK(alias[3] < naiveAlias - 40.0);                // 8x: at least 40 dB below the naive aliases
        CHECK(alias[3] < -60.0);                            // and far below the harmonics
        CHECK(alias[2] < alias[1]);
        CHECK((alias[3] < alias[2] || alias[3] < -100.0));  // both may be at the noise floor
    }
}

TEST_CASE("saturator curves match their Fourier series", "[distortion]") {
    // A 1 kHz sine of amplitude 0.5 (drive 0 dB): harmonics of g(0.5 sin t) - g(bias), which the
    // oversampling filters pass unchanged (all below 20 kHz and well above the DC blocker).
    const double a = 0.5;
    const auto x = sineSignal(1000.0, 2 * 48000, a);
    const auto asym = [](double u) { return u >= 0.0 ? std::tanh(u) : 0.5 * std::tanh(2.0 * u); };
    const auto cubic = [](double u) {
        u = std::clamp(u, -1.0, 1.0);
        return 1.5 * u - 0.5 * u * u * u;
    };
    struct Case {
        int curve;
        double bias;
        std::function<double(double)> g;
    };
    const Case cases[] = {{0, 0.0, [](double u) { return std::tanh(u); }},
                          {0, 0.4, [](double u) { return std::tanh(u + 0.4); }},
                          {1, 0.0, cubic},
                          {2, 0.0, asym},
                          {2, 0.2, [&](double u) { return asym(u + 0.2); }}};
    for (const Case& c : cases) {
        for (int oversampling : {0, 3}) {
            const auto y = saturate(0.0f, static_cast<float>(c.bias), c.curve, oversampling, x);
            const std::span<const float> out = std::span<const float>(y).last(48000);
            for (int k = 1; k <= 4; ++k) {
                const double expected = harmonic(c.g, a, k);
                const double measured = std::abs(phasor(out, 1000.0 * k));
                INFO("curve " << c.curve << " bias " << c.bias << " oversampling " << oversampling << " harmonic " << k << ": measured "
                              << measured << ", expected " << expected);
                if (expected < 1e-6)
                    CHECK(measured < 1e-5);  // symmetric curves make no even harmonics
                else
                    CHECK(20.0 * std::log10(measured / expected) == Approx(0.0).margin(0.05));
            }
        }
    }
    // The cubic is exact: 1.5 a - 0.375 a^3 and 0.125 a^3.
    CHECK(harmonic(cubic, a, 1) == Approx(1.5 * a - 0.375 * a * a * a).epsilon(1e-6));
    CHECK(harmonic(cubic, a, 3) == Approx(0.125 * a * a * a).epsilon(1e-6));
}

TEST_CASE("saturator keeps silence silent whatever the bias", "[distortion]") {
    for (int curve = 0; curve < 3; ++curve)
        for (float bias : {-0.8f, 0.3f, 1.0f}) {
            const auto y = saturate(24.0f, bias, curve, 3, std::vector<float>(9600, 0.0f), 12.0f);
            INFO("curve " << curve << " bias " << bias);
            CHECK(kabel::test::peak(y) < 1e-6f);
        }
}

TEST_CASE("saturator stays finite on NaN and huge inputs", "[distortion]") {
    auto x = sineSignal(440.0, 9600, 1e6);
    x[1000] = std::nanf("");
    x[2000] = INFINITY;
    for (int curve = 0; curve < 3; ++curve) {
        const auto y = saturate(36.0f, 0.5f, curve, 3, x);
        const std::span<const float> tail = std::span<const float>(y).last(4800);
        bool finite = true;
        for (float v : tail) finite = finite && std::isfinite(v);
        CHECK(finite);
        CHECK(kabel::test::peak(tail) < 10.0f);
    }
}

TEST_CASE("bitcrusher quantises to steps of 2^(1 - bits)", "[distortion]") {
    const int frames = 48000;
    std::vector<float> ramp(frames);
    for (int n = 0; n < frames; ++n) ramp[static_cast<std::size_t>(n)] = -1.0f + 2.0f * static_cast<float>(n) / (frames - 1);
    for (float bits : {1.0f, 3.0f, 8.0f, 12.5f}) {
        ModuleHarness h("bitcrusher", kFs);
        h.setParam("bits", bits);
        h.setParam("rate", 192000.0f);  // no hold
        h.connect("in", ramp);
        const auto y = h.run(frames)[0][0];
        const double q = std::exp2(1.0 - bits);
        std::set<long> levels;
        double worst = 0.0, offGrid = 0.0;
        for (int n = 0; n < frames; ++n) {
            const double v = y[static_cast<std::size_t>(n)] / q;
            offGrid = std::max(offGrid, std::fabs(v - std::round(v)));
            levels.insert(std::lround(v));
            worst = std::max(worst, std::fabs(double(y[static_cast<std::size_t>(n)]) - ramp[static_cast<std::size_t>(n)]));
        }
        const long expected = 2 * std::lround(std::floor(1.0 / q + 0.5)) + 1;
        INFO("bits " << bits << ": q " << q << ", " << levels.size() << " levels, worst error " << worst / q << " q");
        CHECK(offGrid < 1e-3);  // our q and the module's (2^x to 1e-7) differ by ~1e-7 relative: 3e-4 at 2896 q
        CHECK(worst <= 0.5 * q * (1.0 + 1e-5));
        CHECK(static_cast<long>(levels.size()) == expected);
    }
    // Silence stays silent (mid-tread).
    ModuleHarness h("bitcrusher", kFs);
    h.setParam("bits", 1.0f);
    h.connect("in", std::vector<float>(4800, 0.0f));
    CHECK(kabel::test::peak(h.run(4800)[0][0]) == 0.0f);
}

TEST_CASE("bitcrusher holds each sample for fs over rate samples", "[distortion]") {
    const int frames = 96000;
    std::vector<float> ramp(frames);
    for (int n = 0; n < frames; ++n) ramp[static_cast<std::size_t>(n)] = static_cast<float>(n) / frames;
    auto holds = [&](float rate, bool cv) {
        ModuleHarness h("bitcrusher", kFs);
        h.setParam("bits", 24.0f);
        h.setParam("rate", cv ? rate / 2.0f : rate);
        h.connect("in", ramp);
        if (cv) h.connect("rate", kabel::test::constantSignal(1.0f, frames));  // +1 octave
        const auto y = h.run(frames)[0][0];
        std::vector<int> lengths;
        int run = 1;
        for (int n = 1; n < frames; ++n) {
            if (y[static_cast<std::size_t>(n)] != y[static_cast<std::size_t>(n - 1)]) {
                lengths.push_back(run);
                // A new value is the input at that very sample.
                CHECK(y[static_cast<std::size_t>(n)] == Approx(ramp[static_cast<std::size_t>(n)]).margin(2e-7));
                run = 0;
            }
            ++run;
        }
        return lengths;
    };
    SECTION("1 kHz: exactly 48 samples, every time") {
        const auto lengths = holds(1000.0f, false);
        REQUIRE(lengths.size() > 1000);
        for (int l : lengths) CHECK(l == 48);
    }
    SECTION("7 kHz: 6 or 7 samples, 48000 / 7000 on average") {
        const auto lengths = holds(7000.0f, false);
        double sum = 0.0;
        for (int l : lengths) {
            CHECK((l == 6 || l == 7));
            sum += l;
        }
        CHECK(sum / double(lengths.size()) == Approx(48000.0 / 7000.0).epsilon(1e-3));
    }
    SECTION("the Rate input is in octaves") {
        const auto lengths = holds(3000.0f, true);
        double sum = 0.0;
        for (int l : lengths) sum += l;
        CHECK(sum / double(lengths.size()) == Approx(16.0).epsilon(2e-3));
    }
}

TEST_CASE("bitcrusher dither keeps details below one step audible", "[distortion]") {
    // A sine of 0.3 steps rounds to silence; with TPDF dither the quantiser is linear on average:
    // the sine survives at its own amplitude in an error of RMS q / 2 (q^2/12 + q^2/6 = q^2/4).
    const double q = 1.0 / 128.0;  // 8 bits
    const auto x = sineSignal(1000.0, 96000, 0.3 * q);
    for (bool dither : {false, true}) {
        ModuleHarness h("bitcrusher", kFs, 64, 42);
        h.setParam("bits", 8.0f);
        h.setParam("rate", 192000.0f);
        h.setParam("dither", dither ? 1.0f : 0.0f);
        h.connect("in", x);
        const auto y = h.run(96000)[0][0];
        const double amplitude = kabel::test::toneAmplitude(y, kFs, 1000.0);
        if (!dither) {
            CHECK(kabel::test::peak(y) == 0.0f);
        } else {
            double error = 0.0;
            for (std::size_t n = 0; n < y.size(); ++n) error += (double(y[n]) - x[n]) * (double(y[n]) - x[n]);
            error = std::sqrt(error / double(y.size()));
            INFO("amplitude " << amplitude / q << " q, error RMS " << error / q << " q");
            CHECK(amplitude == Approx(0.3 * q).epsilon(0.05));
            CHECK(error == Approx(0.5 * q).epsilon(0.03));
        }
    }
}

TEST_CASE("distortion process() neither allocates nor locks", "[distortion]") {
    if (!kabel::test::kRtGuardActive) return;
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    int runs = 0;
    for (const char* type : {"saturator", "bitcrusher"}) {
        kabel::test::ModuleBench b(type, 64, kFs, 8);
        b.connect("in", 5, osc);
        b.build();
        kabel::test::RtGuard guard;
        for (int i = 0; i < 64; ++i) {
            if (i == 10) b.setParam(std::string(type) == "saturator" ? "oversampling" : "dither", 1.0f);
            b.step();
        }
        const auto counts = guard.counts();
        CHECK(counts.allocations == 0);
        CHECK(counts.locks == 0);
        ++runs;
    }
    CHECK(runs == 2);
}

TEST_CASE("distortion micro-benchmarks", "[.bench]") {
    auto saw = [](int c, long n) { return static_cast<float>(2.0 * std::fmod((110.0 + 7.0 * c) * n / kFs, 1.0) - 1.0); };
    for (int channels : {1, 16}) {
        const std::string suffix = channels == 1 ? ", mono" : ", 16 ch";
        for (int oversampling = 0; oversampling < 4; ++oversampling) {
            kabel::test::ModuleBench b("saturator");
            b.setParam("oversampling", float(oversampling));
            b.connect("in", channels, saw);
            b.nsPerSample(("saturator tanh " + std::to_string(1 << oversampling) + "x" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("bitcrusher");
            b.connect("in", channels, saw);
            b.nsPerSample(("bitcrusher" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("bitcrusher");
            b.setParam("dither", 1.0f);
            b.connect("in", channels, saw);
            b.nsPerSample(("bitcrusher dither" + suffix).c_str());
        }
    }
}
