// Tests for modules/modfx.cpp: the chorus's and flanger's delay modulation measured as the
// instantaneous frequency of a sine through them (depth and rate against 2 pi rate depth), voice
// spread, through-zero latency, comb notches at a frozen LFO, the phaser's notches against the
// allpass theory, stereo, polyphony, real-time safety and speed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <numbers>
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
using kabel::test::noiseSignal;
using kabel::test::Signal;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;
constexpr double kPi = std::numbers::pi;

/// Instantaneous frequency from successive rising zero crossings (linearly interpolated): one
/// (time, frequency) point per period.
struct Track {
    std::vector<double> t, f;
};

Track instantaneousFrequency(std::span<const float> x, double sampleRate) {
    std::vector<double> crossings;
    for (std::size_t n = 1; n < x.size(); ++n)
        if (x[n - 1] < 0.0f && x[n] >= 0.0f) crossings.push_back(double(n - 1) + double(x[n - 1]) / (double(x[n - 1]) - double(x[n])));
    Track track;
    for (std::size_t i = 1; i < crossings.size(); ++i) {
        track.t.push_back(0.5 * (crossings[i] + crossings[i - 1]) / sampleRate);
        track.f.push_back(sampleRate / (crossings[i] - crossings[i - 1]));
    }
    return track;
}

/// Least-squares fit of m + a cos(2 pi r t) + b sin(2 pi r t) to a track.
struct SineFit {
    double amplitude = 0.0, mean = 0.0, residual = 0.0;  // residual: RMS of what the fit leaves
};

SineFit fitSine(const Track& track, double rate) {
    double m[3][4] = {};
    for (std::size_t i = 0; i < track.t.size(); ++i) {
        const double basis[3] = {1.0, std::cos(2.0 * kPi * rate * track.t[i]), std::sin(2.0 * kPi * rate * track.t[i])};
        for (int r = 0; r < 3; ++r) {
            for (int c = 0; c < 3; ++c) m[r][c] += basis[r] * basis[c];
            m[r][3] += basis[r] * track.f[i];
        }
    }
    for (int p = 0; p < 3; ++p)  // Gauss-Jordan (well conditioned: the track spans whole periods or more)
        for (int r = 0; r < 3; ++r) {
            if (r == p) continue;
            const double k = m[r][p] / m[p][p];
            for (int c = 0; c < 4; ++c) m[r][c] -= k * m[p][c];
        }
    SineFit fit;
    fit.mean = m[0][3] / m[0][0];
    const double a = m[1][3] / m[1][1], b = m[2][3] / m[2][2];
    fit.amplitude = std::hypot(a, b);
    double sum = 0.0;
    for (std::size_t i = 0; i < track.t.size(); ++i) {
        const double e =
            track.f[i] - (fit.mean + a * std::cos(2.0 * kPi * rate * track.t[i]) + b * std::sin(2.0 * kPi * rate * track.t[i]));
        sum += e * e;
    }
    fit.residual = std::sqrt(sum / double(track.t.size()));
    return fit;
}

/// The modulation rate: the r in [lo, hi] whose sine leaves the least residual (golden section).
double fitRate(const Track& track, double lo, double hi) {
    const double g = (std::sqrt(5.0) - 1.0) / 2.0;
    double a = lo, b = hi, c = b - g * (b - a), d = a + g * (b - a);
    double fc = fitSine(track, c).residual, fd = fitSine(track, d).residual;
    while (b - a > 1e-6) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = fitSine(track, c).residual;
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = fitSine(track, d).residual;
        }
    }
    return 0.5 * (a + b);
}

Track tail(const Track& track, double from) {
    Track out;
    for (std::size_t i = 0; i < track.t.size(); ++i)
        if (track.t[i] >= from) {
            out.t.push_back(track.t[i]);
            out.f.push_back(track.f[i]);
        }
    return out;
}

/// |H| in dB at f from an impulse response (direct DTFT in double).
double dtftDb(const std::vector<float>& h, double f) {
    const std::complex<double> z = std::polar(1.0, -2.0 * kPi * f / kFs);
    std::complex<double> p = 1.0, acc = 0.0;
    for (std::size_t n = 0; n < h.size(); ++n) {
        acc += double(h[n]) * p;
        p *= z;
        if ((n & 1023) == 1023) p /= std::abs(p);
    }
    return 20.0 * std::log10(std::abs(acc));
}

/// The frequency of the smallest |H| in [lo, hi] (grid, then golden section).
double notchOf(const std::vector<float>& h, double lo, double hi) {
    double best = lo, bestDb = 1e300;
    const int steps = 80;
    for (int i = 0; i <= steps; ++i) {
        const double f = lo + (hi - lo) * i / steps;
        const double db = dtftDb(h, f);
        if (db < bestDb) {
            bestDb = db;
            best = f;
        }
    }
    const double step = (hi - lo) / steps;
    double a = std::max(lo, best - step), b = std::min(hi, best + step);
    const double g = (std::sqrt(5.0) - 1.0) / 2.0;
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = dtftDb(h, c), fd = dtftDb(h, d);
    while (b - a > 1e-3) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = dtftDb(h, c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = dtftDb(h, d);
        }
    }
    return 0.5 * (a + b);
}

bool allFinite(std::span<const float> x) {
    for (float v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
    const std::size_t n = std::min(a.size(), b.size());
    double ma = 0.0, mb = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        ma += a[i];
        mb += b[i];
    }
    ma /= double(n);
    mb /= double(n);
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        ab += (a[i] - ma) * (b[i] - mb);
        aa += (a[i] - ma) * (a[i] - ma);
        bb += (b[i] - mb) * (b[i] - mb);
    }
    return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST_CASE("chorus delay modulation depth and rate are measured on a sine", "[modfx]") {
    // A delay D(t) = D0 + d sin(2 pi r t) turns a sine at f0 into one at f0 (1 - D'(t)): its
    // frequency swings by f0 2 pi r d around f0, at the rate r.
    const double f0 = 1000.0;
    for (const auto& [rate, depthMs] : {std::pair{2.0, 2.0}, std::pair{0.5, 5.0}, std::pair{5.0, 0.5}}) {
        ModuleHarness h("chorus", kFs);
        h.setParam("voices", 1.0f);
        h.setParam("mix", 1.0f);
        h.setParam("rate", static_cast<float>(rate));
        h.setParam("depth", static_cast<float>(depthMs));
        h.setParam("delay", 12.0f);
        const int frames = 8 * 48000;
        h.connect("in", sineSignal(f0, frames));
        const auto out = h.run(frames);
        const Track track = tail(instantaneousFrequency(out[0][0], kFs), 0.1);
        const double expected = f0 * 2.0 * kPi * rate * depthMs / 1000.0;
        const double measuredRate = fitRate(track, 0.8 * rate, 1.2 * rate);
        const SineFit fit = fitSine(track, measuredRate);
        const double deviation = fit.amplitude, mean = fit.mean;
        std::printf("chorus rate %.2f Hz depth %.2f ms: measured rate %.5f Hz, deviation %.3f Hz (expected %.3f), mean %.4f Hz\n", rate,
                    depthMs, measuredRate, deviation, expected, mean);
        INFO("rate " << rate << " depth " << depthMs << " ms");
        CHECK(measuredRate == Approx(rate).epsilon(1e-4));
        CHECK(deviation == Approx(expected).epsilon(5e-3));
        CHECK(mean == Approx(f0).epsilon(1e-4));
        CHECK(out[0][0] == out[1][0]);  // one voice sits in the middle
    }
}

TEST_CASE("chorus spread puts opposite voices left and right", "[modfx]") {
    const double f0 = 1000.0;
    ModuleHarness h("chorus", kFs);
    h.setParam("voices", 2.0f);
    h.setParam("spread", 1.0f);
    h.setParam("mix", 1.0f);
    h.setParam("rate", 1.0f);
    h.setParam("depth", 3.0f);
    const int frames = 4 * 48000;
    h.connect("in", sineSignal(f0, frames));
    const auto out = h.run(frames);
    const Track left = tail(instantaneousFrequency(out[0][0], kFs), 0.1);
    const Track right = tail(instantaneousFrequency(out[1][0], kFs), 0.1);
    // Voice 0 alone on the left, voice 1 (half a cycle later) alone on the right, each at 1/2.
    const double expected = f0 * 2.0 * kPi * 1.0 * 0.003;
    CHECK(fitSine(left, 1.0).amplitude == Approx(expected).epsilon(0.02));
    CHECK(fitSine(right, 1.0).amplitude == Approx(expected).epsilon(0.02));
    CHECK(correlation(left.f, right.f) < -0.99);
    // Each side carries one voice at 1/2: a (frequency-modulated) sine of amplitude 1/2.
    CHECK(std::sqrt(2.0) * kabel::test::rms(std::span<const float>(out[0][0]).last(48000)) == Approx(0.5).margin(0.005));
    CHECK(std::sqrt(2.0) * kabel::test::rms(std::span<const float>(out[1][0]).last(48000)) == Approx(0.5).margin(0.005));
}

TEST_CASE("chorus mix 0 passes the input untouched and voice changes do not click", "[modfx]") {
    const int frames = 48000;
    const auto x = sineSignal(440.0, frames, 0.5);
    SECTION("mix 0") {
        ModuleHarness h("chorus", kFs);
        h.setParam("mix", 0.0f);
        h.connect("in", x);
        const auto out = h.run(frames);
        CHECK(out[0][0] == x);
        CHECK(out[1][0] == x);
    }
    SECTION("voices 2 -> 4 and spread 0.2 -> 1 mid-stream") {
        ModuleHarness h("chorus", kFs);
        h.setParam("voices", 2.0f);
        h.setParam("spread", 0.2f);
        h.setParam("mix", 1.0f);
        h.connect("in", x);
        const auto before = h.run(24000);
        h.setParam("voices", 4.0f);
        h.setParam("spread", 1.0f);
        const auto after = h.run(24000);
        for (int side = 0; side < 2; ++side) {
            const float steady = kabel::test::maxStep(std::span<const float>(before[side][0]).last(4800));
            const float jump = kabel::test::maxStep(std::span<const float>(after[side][0]).first(4800));
            INFO("side " << side << ": largest step " << jump << " after the change, " << steady << " before");
            CHECK(jump < 1.5f * steady);
        }
    }
}

TEST_CASE("flanger sweep depth and rate are measured on a sine", "[modfx]") {
    // The swept delay runs from Delay to Delay + Depth: a sine of amplitude Depth / 2.
    const double f0 = 1000.0, rate = 1.0, depthMs = 4.0;
    ModuleHarness h("flanger", kFs);
    h.setParam("delay", 1.0f);
    h.setParam("depth", static_cast<float>(depthMs));
    h.setParam("rate", static_cast<float>(rate));
    h.setParam("feedback", 0.0f);
    h.setParam("mix", 1.0f);
    const int frames = 8 * 48000;
    h.connect("in", sineSignal(f0, frames));
    const auto out = h.run(frames);
    const Track track = tail(instantaneousFrequency(out[0][0], kFs), 0.1);
    const double measuredRate = fitRate(track, 0.8 * rate, 1.2 * rate);
    const SineFit fit = fitSine(track, measuredRate);
    const double deviation = fit.amplitude, mean = fit.mean;
    const double expected = f0 * 2.0 * kPi * rate * 0.5 * depthMs / 1000.0;
    std::printf("flanger rate %.2f Hz depth %.2f ms: measured rate %.5f Hz, deviation %.3f Hz (expected %.3f)\n", rate, depthMs,
                measuredRate, deviation, expected);
    CHECK(measuredRate == Approx(rate).epsilon(1e-4));
    CHECK(deviation == Approx(expected).epsilon(5e-3));
    CHECK(mean == Approx(f0).epsilon(1e-4));
}

TEST_CASE("flanger at a frozen LFO is the comb 1 + z^-D", "[modfx]") {
    // Depth 0 freezes the delay at D = Delay: with Mix 0.5 and no feedback, H = (1 + z^-D) / 2,
    // notches at (k + 1/2) fs / D; with feedback g, H = (1 + z^-D / (1 - g z^-D)) / 2.
    const int d = 96;  // 2 ms
    for (float g : {0.0f, 0.5f}) {
        ModuleHarness h("flanger", kFs);
        h.setParam("delay", 2.0f);
        h.setParam("depth", 0.0f);
        h.setParam("feedback", g);
        h.setParam("mix", 0.5f);
        const int frames = 1 << 14;
        h.connect("in", kabel::test::impulseSignal(frames));
        const auto ir = h.run(frames)[0][0];
        for (int k = 0; k < 6; ++k) {
            const double f = (k + 0.5) * kFs / d;
            if (g == 0.0f) {
                const double notch = notchOf(ir, 0.9 * f, 1.1 * f);
                INFO("notch " << k << ": " << notch << " Hz, expected " << f);
                CHECK(notch == Approx(f).epsilon(1e-3));
                CHECK(dtftDb(ir, f) < -60.0);
            }
            for (double probe : {f, f + 0.25 * kFs / d}) {
                const std::complex<double> z = std::polar(1.0, -2.0 * kPi * probe * d / kFs);
                const double expected = 20.0 * std::log10(std::abs(0.5 * (1.0 + z / (1.0 - double(g) * z))));
                if (expected < -60.0) continue;
                INFO("feedback " << g << " at " << probe << " Hz");
                CHECK(dtftDb(ir, probe) == Approx(expected).margin(0.1));
            }
        }
    }
}

TEST_CASE("flanger through zero delays the dry path by the sweep centre", "[modfx]") {
    // Delay 1 ms + Depth 2 ms: the dry path is 2 ms = 96 samples late; Mix 0 hears only it.
    ModuleHarness h("flanger", kFs);
    h.setParam("delay", 1.0f);
    h.setParam("depth", 2.0f);
    h.setParam("feedback", 0.0f);
    h.setParam("mix", 0.0f);
    h.setParam("through_zero", 1.0f);
    const int frames = 4096;
    h.connect("in", kabel::test::impulseSignal(frames, 10));
    const auto out = h.run(frames)[0][0];
    for (int n = 0; n < frames; ++n) {
        INFO("frame " << n);
        CHECK(out[static_cast<std::size_t>(n)] == Approx(n == 106 ? 1.0 : 0.0).margin(1e-6));
    }
}

TEST_CASE("flanger through-zero switch fades instead of clicking", "[modfx]") {
    // Mix 0: the output is the dry path alone, the input itself or (through zero) the input 2 ms
    // late; switching fades between the two.
    ModuleHarness h("flanger", kFs);
    h.setParam("mix", 0.0f);
    h.setParam("feedback", 0.0f);
    h.connect("in", sineSignal(440.0, 48000, 0.5));
    const auto before = h.run(24000);
    h.setParam("through_zero", 1.0f);
    const auto after = h.run(24000);
    const float steady = kabel::test::maxStep(std::span<const float>(before[0][0]).last(4800));
    const float jump = kabel::test::maxStep(std::span<const float>(after[0][0]).first(4800));
    INFO("largest step after the switch " << jump << ", before " << steady);
    CHECK(jump <= 1.05f * steady);
}

TEST_CASE("flanger stays bounded with maximum feedback and a NaN input", "[modfx]") {
    const int frames = 48000;
    ModuleHarness h("flanger", kFs);
    h.setParam("delay", 0.1f);
    h.setParam("depth", 10.0f);
    h.setParam("rate", 10.0f);
    h.setParam("feedback", -0.95f);
    h.setParam("through_zero", 1.0f);
    auto x = noiseSignal(frames, 11);
    x[20000] = std::nanf("");
    h.connect("in", x);
    const auto out = h.run(frames);
    const std::span<const float> y = out[0][0];
    CHECK(allFinite(y.first(20000)));
    CHECK(allFinite(y.last(frames - 20032)));
    CHECK(kabel::test::peak(y.first(20000)) < 50.0f);
}

namespace {

/// Notch frequencies of N equal first-order allpasses at fb mixed 1:1 with the dry signal: where
/// -2 N atan(tan(pi f / fs) / tan(pi fb / fs)) = -(2m + 1) pi.
std::vector<double> phaserNotches(int stages, double fb) {
    std::vector<double> notches;
    const double g = std::tan(kPi * fb / kFs);
    for (int m = 0; 2 * m + 1 < stages; ++m) notches.push_back(kFs / kPi * std::atan(g * std::tan((2 * m + 1) * kPi / (2.0 * stages))));
    return notches;
}

}  // namespace

TEST_CASE("phaser notches at a frozen LFO match the allpass theory", "[modfx]") {
    double worst = 0.0;
    int checked = 0;
    for (int stages : {4, 6, 8, 12}) {
        for (double center : {300.0, 1000.0, 3000.0}) {
            for (float feedback : {0.0f, 0.6f, -0.6f}) {
                ModuleHarness h("phaser", kFs);
                h.setParam("stages", float(stages));
                h.setParam("center", static_cast<float>(center));
                h.setParam("depth", 0.0f);  // frozen
                h.setParam("feedback", feedback);
                h.setParam("mix", 0.5f);
                const int frames = 1 << 15;
                h.connect("in", kabel::test::impulseSignal(frames));
                const auto out = h.run(frames);
                const auto& ir = out[0][0];
                CHECK(out[0][0] == out[1][0]);  // a frozen LFO: both sides alike
                const auto expected = phaserNotches(stages, center);
                REQUIRE(expected.size() == static_cast<std::size_t>(stages / 2));
                for (double f : expected) {
                    if (f > 20000.0) continue;
                    const double notch = notchOf(ir, 0.93 * f, 1.07 * f);
                    INFO(stages << " stages, centre " << center << " Hz, feedback " << feedback << ": notch at " << notch
                                << " Hz, expected " << f << " Hz (" << dtftDb(ir, f) << " dB)");
                    CHECK(notch == Approx(f).epsilon(2e-3));
                    // Without feedback the notch is a zero; with it, a minimum of 20 log10(|fb| / (1 + fb)) / 2.
                    if (feedback == 0.0f)
                        CHECK(dtftDb(ir, f) < -60.0);
                    else if (feedback > 0.0f)
                        CHECK(dtftDb(ir, f) == Approx(20.0 * std::log10(0.5 * feedback / (1.0 + feedback))).margin(0.2));
                    worst = std::max(worst, std::fabs(notch / f - 1.0));
                    ++checked;
                }
            }
        }
    }
    REQUIRE(checked > 100);
    std::printf("phaser: worst notch offset from the allpass theory %.4f %% over %d notches\n", 100.0 * worst, checked);
}

TEST_CASE("phaser sweeps with its LFO and spreads the sides", "[modfx]") {
    const int frames = 4 * 48000;
    const auto x = noiseSignal(frames, 17);
    auto render = [&](float spread) {
        ModuleHarness h("phaser", kFs);
        h.setParam("rate", 1.0f);
        h.setParam("depth", 3.0f);
        h.setParam("spread", spread);
        h.connect("in", x);
        return h.run(frames);
    };
    const auto same = render(0.0f);
    CHECK(same[0][0] == same[1][0]);
    const auto apart = render(90.0f);
    std::vector<double> l(apart[0][0].begin(), apart[0][0].end()), r(apart[1][0].begin(), apart[1][0].end());
    CHECK(correlation(l, r) < 0.95);
    // The sweep input moves the notches: +1 octave there is the centre doubled.
    ModuleHarness a("phaser", kFs), b("phaser", kFs);
    for (ModuleHarness* h : {&a, &b}) {
        h->setParam("depth", 0.0f);
        h->setParam("feedback", 0.0f);
        h->connect("in", kabel::test::impulseSignal(1 << 14));
    }
    a.setParam("center", 1000.0f);
    b.setParam("center", 500.0f);
    b.connect("sweep", kabel::test::constantSignal(1.0f, 1 << 14));
    const auto ia = a.run(1 << 14), ib = b.run(1 << 14);
    float diff = 0.0f;
    for (std::size_t n = 0; n < ia[0][0].size(); ++n) diff = std::max(diff, std::fabs(ia[0][0][n] - ib[0][0][n]));
    CHECK(diff < 1e-5f);
}

TEST_CASE("modfx modules are polyphonic and stay finite", "[modfx]") {
    const int frames = 9600;
    Signal in, sweep;
    for (int c = 0; c < 5; ++c) {
        in.push_back(noiseSignal(frames, 300u + static_cast<unsigned>(c)));
        sweep.push_back(sineSignal(2.0 + c, frames, 1.0));
    }
    for (const char* type : {"chorus", "flanger", "phaser"}) {
        ModuleHarness poly(type, kFs);
        poly.connect("in", in);
        if (std::string(type) == "phaser") poly.connect("sweep", sweep);
        const auto out = poly.run(frames);
        for (int c = 0; c < 5; ++c) {
            ModuleHarness mono(type, kFs);
            mono.connect("in", in[c]);
            if (std::string(type) == "phaser") mono.connect("sweep", sweep[c]);
            const auto ref = mono.run(frames);
            for (std::size_t o = 0; o < out.size(); ++o) {
                INFO(type << " output " << o << " channel " << c);
                CHECK(allFinite(out[o][c]));
                CHECK(out[o][c] == ref[o][0]);
            }
        }
    }
}

TEST_CASE("modfx process() neither allocates nor locks", "[modfx]") {
    if (!kabel::test::kRtGuardActive) return;
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    int runs = 0;
    for (const char* type : {"chorus", "flanger", "phaser"}) {
        kabel::test::ModuleBench b(type, 64, kFs, 8);
        b.connect("in", 5, osc);
        b.build();
        kabel::test::RtGuard guard;
        for (int i = 0; i < 64; ++i) {
            if (i == 10) b.setParam("mix", 0.9f);
            b.step();
        }
        const auto counts = guard.counts();
        CHECK(counts.allocations == 0);
        CHECK(counts.locks == 0);
        ++runs;
    }
    CHECK(runs == 3);
}

TEST_CASE("modfx micro-benchmarks", "[.bench]") {
    auto saw = [](int c, long n) { return static_cast<float>(2.0 * std::fmod((110.0 + 7.0 * c) * n / kFs, 1.0) - 1.0); };
    for (int channels : {1, 16}) {
        const std::string suffix = channels == 1 ? ", mono" : ", 16 ch";
        {
            kabel::test::ModuleBench b("chorus");
            b.connect("in", channels, saw);
            b.nsPerSample(("chorus 3 voices" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("flanger");
            b.connect("in", channels, saw);
            b.nsPerSample(("flanger" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("flanger");
            b.setParam("through_zero", 1.0f);
            b.connect("in", channels, saw);
            b.nsPerSample(("flanger through zero" + suffix).c_str());
        }
        for (int stages : {6, 12}) {
            kabel::test::ModuleBench b("phaser");
            b.setParam("stages", float(stages));
            b.connect("in", channels, saw);
            b.nsPerSample(("phaser " + std::to_string(stages) + " stages" + suffix).c_str());
        }
    }
}
