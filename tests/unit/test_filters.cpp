// Tests for modules/filters.cpp (svf, ladder, comb, formant) and core/dsp/fast_math.hpp: measured
// responses against the analytic (prewarped bilinear) ones, self-oscillation, comb peaks and
// notches, formants against Peterson & Barney, modulation, stability, smoothing, polyphony, speed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <memory>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/denormals.hpp"
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

namespace {

/// The svf's low-pass (and band-pass) one sample at a time, as the design note in
/// modules/filters.cpp writes it: coefficients in float through the same rational tan, states
/// in double. The reference for the grouped, vectorised kernel.
struct SvfReference {
    double s1 = 0.0, s2 = 0.0;
    float piOverFs = static_cast<float>(kPi / kFs);
    std::pair<float, float> step(float x, float hz, float k) {
        hz = std::clamp(hz, 5.0f, static_cast<float>(0.45 * kFs));
        const kabel::dsp::TanRatio t = kabel::dsp::tanRatio(hz * piOverFs);
        const float pq = t.num * t.den, pp = t.num * t.num;
        const float inv = 1.0f / (t.den * t.den + k * pq + pp);
        const double e2 = 2.0f * pq * inv, e3 = 2.0f * pp * inv, e1 = -(e3 + k * e2);
        const double t1 = s1 + e1 * s1 - e2 * s2 + e2 * x;
        const double t2 = s2 + e2 * s1 - e3 * s2 + e3 * x;
        const auto out = std::pair<float, float>(static_cast<float>(0.5 * (s2 + t2)), static_cast<float>(0.5 * (s1 + t1)));
        s1 = t1;
        s2 = t2;
        return out;
    }
};

/// An svf run straight through process() in 64-frame blocks with only the low-pass read
/// (`allTaps` false: the path benchmark W2 takes) or every output read, in and fm patched.
class DirectSvf {
public:
    static constexpr int kBlock = 64;
    DirectSvf(float cutoff, float depth, float q, bool allTaps) : allTaps_(allTaps) {
        const kabel::ModuleDescriptor* d = kabel::Registry::global().find("svf");
        REQUIRE(d != nullptr);
        m_ = d->create();
        m_->prepare(kFs, kBlock);
        m_->setParam(d->paramIndex("cutoff"), cutoff);
        m_->setParam(d->paramIndex("fm_depth"), depth);
        m_->setParam(d->paramIndex("q"), q);
        const std::array<int, 3> inChannels{1, 1, 1};
        const std::array<int, 4> outChannels{1, 1, 1, 1};
        m_->prepareChannels(inChannels, outChannels);
        for (int i = 0; i < 3; ++i) in_[i] = kabel::InputPort{inBuf_.data() + i * kBlock, zeros_.data(), 1, kBlock, i != 1, 0.0f};
        for (int o = 0; o < 4; ++o) out_[o] = kabel::OutputPort{outBuf_.data() + o * kBlock, 1, kBlock, o == 0 || allTaps};
    }
    /// One block from x[start..] and fm[start..]; returns the low-pass block (bp follows it).
    const float* block(const float* x, const float* fm) {
        std::copy_n(x, kBlock, inBuf_.data());
        std::copy_n(fm, kBlock, inBuf_.data() + 2 * kBlock);
        kabel::ProcessContext ctx;
        ctx.frames = kBlock;
        ctx.in = in_;
        ctx.out = out_;
        ctx.host = &host_;
        m_->run(ctx);
        return outBuf_.data();
    }
    /// The whole of x and fm (a multiple of kBlock frames): lp, and bp when every tap is read.
    std::array<std::vector<float>, 2> render(const std::vector<float>& x, const std::vector<float>& fm) {
        std::array<std::vector<float>, 2> result;
        for (std::size_t start = 0; start + kBlock <= x.size(); start += kBlock) {
            const float* lp = block(x.data() + start, fm.data() + start);
            result[0].insert(result[0].end(), lp, lp + kBlock);
            if (allTaps_) result[1].insert(result[1].end(), lp + kBlock, lp + 2 * kBlock);
        }
        return result;
    }

private:
    bool allTaps_;
    std::unique_ptr<kabel::Module> m_;
    kabel::AlignedFloats inBuf_{3 * kBlock}, outBuf_{4 * kBlock}, zeros_{kBlock};
    std::array<kabel::InputPort, 3> in_{};
    std::array<kabel::OutputPort, 4> out_{};
    kabel::HostBuffers host_;
};

}  // namespace

TEST_CASE("svf under audio-rate fm matches a sample-by-sample reference", "[filters]") {
    const int frames = 48000;
    const auto x = noiseSignal(frames, 5);
    // W2's voice (cutoff 1650 +- 1350 Hz, q 3) and a harder case: fast fm over most of the range, q 20.
    struct Case {
        float cutoff, depth, q, fmHz;
    };
    for (const Case c : {Case{1650.0f, 1350.0f, 3.0f, 2.0f}, Case{6000.0f, 5900.0f, 20.0f, 700.0f}}) {
        const auto fm = sineSignal(c.fmHz, frames);
        for (bool allTaps : {false, true}) {
            const auto got = DirectSvf(c.cutoff, c.depth, c.q, allTaps).render(x, fm);
            REQUIRE(got[0].size() == static_cast<std::size_t>(frames));
            SvfReference ref;
            float worstLp = 0.0f, worstBp = 0.0f, peak = 0.0f;
            for (int n = 0; n < frames; ++n) {
                const auto [lp, bp] = ref.step(x[n], c.cutoff + fm[n] * c.depth, 1.0f / c.q);
                worstLp = std::max(worstLp, std::fabs(got[0][n] - lp));
                if (allTaps) worstBp = std::max(worstBp, std::fabs(got[1][n] - bp));
                peak = std::max(peak, std::fabs(lp));
            }
            INFO("cutoff " << c.cutoff << " +- " << c.depth << ", q " << c.q << (allTaps ? ", all taps" : ", lp only") << ": lp off by "
                           << worstLp << ", bp by " << worstBp << ", peak " << peak);
            // Float rounding only: 1e-5 of the signal's own peak (q 20 peaks near 8.5 here).
            const float bound = 1e-5f * std::max(1.0f, peak);
            CHECK(peak > 0.1f);
            CHECK(worstLp < bound);
            CHECK(worstBp < bound);
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

TEST_CASE("svf micro-benchmark of the low-pass only path of W2", "[.bench]") {
    // 64 W2 voices, one block each in turn as the plan runs them, over 16 distinct blocks of
    // input (small enough to stay in cache) cycled 50 times; the fastest of seven passes, ns per
    // voice-sample (the two 64-frame copies into the ports included).
    constexpr int kVoices = 64, kBlocks = 16, kRepeats = 50;
    const int frames = kBlocks * DirectSvf::kBlock;
    std::vector<std::vector<float>> x, fm;
    std::vector<std::unique_ptr<DirectSvf>> voices;
    for (int v = 0; v < kVoices; ++v) {
        std::vector<float> saw(static_cast<std::size_t>(frames));
        for (int n = 0; n < frames; ++n)
            saw[n] = static_cast<float>(2.0 * std::fmod((55.0 * std::pow(2.0, v / 16.0)) * n / kFs, 1.0) - 1.0);
        x.push_back(std::move(saw));
        fm.push_back(sineSignal(20.0 + v, frames));
        voices.push_back(std::make_unique<DirectSvf>(1650.0f, 1350.0f, 3.0f, false));
    }
    double best = 1e30;
    float sink = 0.0f;
    for (int pass = 0; pass < 7; ++pass) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < kRepeats; ++r)
            for (int b = 0; b < kBlocks; ++b)
                for (int v = 0; v < kVoices; ++v)
                    sink += voices[v]->block(x[v].data() + b * DirectSvf::kBlock, fm[v].data() + b * DirectSvf::kBlock)[7];
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
        best = std::min(best, ns / (double(frames) * kRepeats * kVoices));
    }
    std::printf("svf lp only (W2 voices), 64 voices: %.3f ns per voice-sample (%g)\n", best, double(sink) * 0.0);
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

// ---------------------------------------------------------------------------------------------
// ladder, comb, formant

namespace {

/// H(e^jw) from an impulse response, by a direct DTFT in double precision.
std::complex<double> dtft(const std::vector<float>& h, double f, double sampleRate = kFs) {
    const std::complex<double> z = std::polar(1.0, -2.0 * kPi * f / sampleRate);
    std::complex<double> p = 1.0, acc = 0.0;
    for (std::size_t n = 0; n < h.size(); ++n) {
        acc += double(h[n]) * p;
        p *= z;
        if ((n & 1023) == 1023) p /= std::abs(p);  // keep the rotation on the unit circle
    }
    return acc;
}

double dtftDb(const std::vector<float>& h, double f, double sampleRate = kFs) {
    return 20.0 * std::log10(std::abs(dtft(h, f, sampleRate)));
}

/// Frequency of the largest (or smallest) |H| in [lo, hi]: a grid of `steps`, then golden-section
/// refinement around the best grid point.
double extremumOf(const std::vector<float>& h, double lo, double hi, bool minimum = false, int steps = 64, double sampleRate = kFs) {
    auto score = [&](double f) {
        const double db = dtftDb(h, f, sampleRate);
        return minimum ? -db : db;
    };
    double best = lo, bestScore = -1e300;
    const double step = (hi - lo) / steps;
    for (int i = 0; i <= steps; ++i) {
        const double f = lo + i * step;
        const double s = score(f);
        if (s > bestScore) {
            bestScore = s;
            best = f;
        }
    }
    double a = std::max(lo, best - step), b = std::min(hi, best + step);
    const double r = (std::sqrt(5.0) - 1.0) / 2.0;
    double c = b - r * (b - a), d = a + r * (b - a);
    double fc = score(c), fd = score(d);
    for (int i = 0; i < 60 && b - a > 1e-4; ++i) {
        if (fc > fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = score(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = score(d);
        }
    }
    return 0.5 * (a + b);
}

std::vector<float> impulseResponse(const char* type, const std::vector<std::pair<const char*, float>>& params, int frames) {
    ModuleHarness h(type, kFs);
    for (const auto& [id, value] : params) h.setParam(id, value);
    h.connect("in", kabel::test::impulseSignal(frames));
    return h.run(frames)[0][0];
}

enum LadderTap { kLadderLp, kLadderLp12, kLadderBp, kLadderHp };

/// The bilinear transform (prewarped at fc) of the analog ladder: stage H = 1/(1 + s), loop
/// 1/(1 + k H^4), taps H^4, H^2, 4 H^2 (1 - H)^2, (1 - H)^4.
std::complex<double> ladderResponse(LadderTap tap, double f, double fc, double k) {
    const std::complex<double> s(0.0, std::tan(kPi * f / kFs) / std::tan(kPi * fc / kFs));
    const std::complex<double> h = 1.0 / (1.0 + s), hp = 1.0 - h;
    const std::complex<double> loop = 1.0 + k * h * h * h * h;
    switch (tap) {
        case kLadderLp:
            return h * h * h * h / loop;
        case kLadderLp12:
            return h * h / loop;
        case kLadderBp:
            return 4.0 * h * h * hp * hp / loop;
        case kLadderHp:
            return hp * hp * hp * hp / loop;
    }
    return 0.0;
}

double toneDb(std::span<const float> x, double f, double amplitude = 1.0) {
    return 20.0 * std::log10(kabel::test::toneAmplitude(x, kFs, f) / amplitude);
}

}  // namespace

TEST_CASE("ladder small-signal responses match the bilinear ladder", "[filters]") {
    // Small signals see tanh(u) = u, so the filter is linear: every tap against its analytic
    // response, with and without feedback, in the pass band, at the cutoff and in the stop band.
    constexpr double kAmplitude = 0.01;
    double worst = 0.0;
    int compared = 0;
    for (double fc : {200.0, 1000.0, 4000.0}) {
        for (double resonance : {0.0, 0.5}) {
            for (double ratio : {0.25, 0.5, 1.0, 2.0, 4.0, 8.0}) {
                const double f = fc * ratio;
                ModuleHarness h("ladder", kFs);
                h.setParam("cutoff", static_cast<float>(fc));
                h.setParam("resonance", static_cast<float>(resonance));
                h.connect("in", sineSignal(f, 48000, kAmplitude));
                h.run(24000);
                const auto out = h.run(24000);
                for (LadderTap tap : {kLadderLp, kLadderLp12, kLadderBp, kLadderHp}) {
                    const double expected = 20.0 * std::log10(std::abs(ladderResponse(tap, f, fc, 4.0 * resonance)));
                    if (expected < -80.0) continue;
                    const double measured = toneDb(out[tap][0], f, kAmplitude);
                    INFO("tap " << tap << " fc " << fc << " resonance " << resonance << " f " << f << ": measured " << measured
                                << " dB, analytic " << expected << " dB");
                    CHECK(measured == Approx(expected).margin(0.5));
                    worst = std::max(worst, std::fabs(measured - expected));
                    ++compared;
                }
            }
        }
    }
    REQUIRE(compared > 120);
    std::printf("ladder: worst response error %.4f dB over %d points\n", worst, compared);
}

TEST_CASE("ladder low-pass is -12 dB at the cutoff and falls 24 dB per octave", "[filters]") {
    // Four equal one-poles, each 1/sqrt(2) at fc: (1/sqrt 2)^4 = -12.04 dB. In the stop band of a
    // 200 Hz cutoff each octave is (|1 + j 2f/fc| / |1 + j f/fc|)^4 -> 24 dB, bilinear-warped
    // slightly steeper toward Nyquist.
    auto lpDb = [](double fc, double f) {
        ModuleHarness h("ladder", kFs);
        h.setParam("cutoff", static_cast<float>(fc));
        h.connect("in", sineSignal(f, 48000, 0.01));
        h.run(24000);
        return toneDb(h.run(24000)[kLadderLp][0], f, 0.01);
    };
    for (double fc : {100.0, 1000.0, 10000.0}) {
        const double expected = 20.0 * std::log10(std::abs(ladderResponse(kLadderLp, fc, fc, 0.0)));
        INFO("fc " << fc);
        CHECK(expected == Approx(-12.0412).margin(1e-3));
        CHECK(lpDb(fc, fc) == Approx(expected).margin(0.05));
    }
    const double slope1 = lpDb(200.0, 3200.0) - lpDb(200.0, 1600.0);
    const double slope2 = lpDb(200.0, 6400.0) - lpDb(200.0, 3200.0);
    const double analytic1 =
        20.0 * std::log10(std::abs(ladderResponse(kLadderLp, 3200.0, 200.0, 0.0) / ladderResponse(kLadderLp, 1600.0, 200.0, 0.0)));
    INFO("octave 1.6-3.2 kHz: " << slope1 << " dB (analytic " << analytic1 << "), 3.2-6.4 kHz: " << slope2 << " dB");
    CHECK(slope1 == Approx(analytic1).margin(0.5));
    CHECK(slope1 == Approx(-24.0).margin(1.0));
    const double analytic2 =
        20.0 * std::log10(std::abs(ladderResponse(kLadderLp, 6400.0, 200.0, 0.0) / ladderResponse(kLadderLp, 3200.0, 200.0, 0.0)));
    CHECK(slope2 == Approx(analytic2).margin(0.5));  // -25.6: the bilinear warp steepens toward Nyquist
}

TEST_CASE("ladder self-oscillates as a sine at the cutoff", "[filters]") {
    double worstCents = 0.0;
    int measured = 0;
    for (double fc : {100.0, 220.0, 500.0, 1000.0, 2000.0, 3500.0, 5000.0}) {
        ModuleHarness h("ladder", kFs);
        h.setParam("cutoff", static_cast<float>(fc));
        h.setParam("resonance", 1.1f);
        h.run(2 * 48000);  // nothing patched: the filter starts itself and settles
        const auto out = h.run(48000);
        const std::span<const float> lp = out[kLadderLp][0];
        const double f = kabel::test::zeroCrossingFrequency(lp, kFs);
        const double cents = 1200.0 * std::log2(f / fc);
        const double level = 20.0 * std::log10(std::sqrt(2.0) * kabel::test::rms(lp));
        const double third = toneDb(lp, 3.0 * f) - toneDb(lp, f);
        std::printf("ladder self-oscillation at %6.0f Hz: %9.3f Hz (%+.2f cents), %.1f dB peak, 3rd harmonic %.1f dB\n", fc, f, cents,
                    level, third);
        INFO("cutoff " << fc << ": oscillates at " << f << " Hz, " << cents << " cents, level " << level << " dB");
        CHECK(std::fabs(cents) < 10.0);
        CHECK(level > -30.0);
        CHECK(third < -30.0);
        worstCents = std::max(worstCents, std::fabs(cents));
        ++measured;
    }
    REQUIRE(measured == 7);
    CHECK(worstCents < 10.0);
}

TEST_CASE("ladder stays bounded under audio-rate modulation at maximum resonance", "[filters]") {
    const int frames = 2 * 48000;
    SECTION("fm sweeping the whole range at 3 kHz, driven noise") {
        ModuleHarness h("ladder", kFs);
        h.setParam("cutoff", 10000.0f);
        h.setParam("resonance", 1.2f);
        h.setParam("drive", 24.0f);
        h.setParam("fm_depth", 20000.0f);
        h.connect("in", noiseSignal(frames, 3));
        h.connect("fm", sineSignal(3000.0, frames));
        const auto out = h.run(frames);
        for (int t = 0; t < 4; ++t) {
            REQUIRE(allFinite(out[t][0]));
            CHECK(kabel::test::peak(out[t][0]) < 20.0f);
        }
    }
    SECTION("cutoff input swinging +-7 octaves at 1 kHz, square-wave input") {
        ModuleHarness h("ladder", kFs);
        h.setParam("resonance", 1.2f);
        std::vector<float> square(static_cast<std::size_t>(frames));
        for (int n = 0; n < frames; ++n) square[static_cast<std::size_t>(n)] = (n / 37) % 2 ? 1.0f : -1.0f;
        h.connect("in", square);
        h.connect("cutoff", sineSignal(1000.0, frames, 7.0));
        const auto out = h.run(frames);
        for (int t = 0; t < 4; ++t) {
            REQUIRE(allFinite(out[t][0]));
            CHECK(kabel::test::peak(out[t][0]) < 20.0f);
        }
    }
    SECTION("NaN and Inf inputs are dropped instead of latching") {
        ModuleHarness h("ladder", kFs);
        h.setParam("resonance", 0.8f);
        auto x = sineSignal(440.0, 9600);
        x[100] = std::nanf("");
        x[200] = INFINITY;
        h.connect("in", x);
        const auto out = h.run(9600);
        for (int t = 0; t < 4; ++t) CHECK(allFinite(out[t][0]));
    }
}

TEST_CASE("ladder cutoff and fm inputs move the cutoff", "[filters]") {
    const int frames = 48000;
    const double expected = 20.0 * std::log10(std::abs(ladderResponse(kLadderLp, 2000.0, 2000.0, 0.0)));
    SECTION("cutoff input is 1 V/oct") {
        ModuleHarness h("ladder", kFs);
        h.setParam("cutoff", 1000.0f);
        h.connect("in", sineSignal(2000.0, frames, 0.01));
        h.connect("cutoff", constantSignal(1.0f, frames));
        const auto out = h.run(frames);
        CHECK(toneDb(std::span<const float>(out[kLadderLp][0]).last(24000), 2000.0, 0.01) == Approx(expected).margin(0.05));
    }
    SECTION("fm adds fm x depth Hz") {
        ModuleHarness h("ladder", kFs);
        h.setParam("cutoff", 1000.0f);
        h.setParam("fm_depth", 2000.0f);
        h.connect("in", sineSignal(2000.0, frames, 0.01));
        h.connect("fm", constantSignal(0.5f, frames));
        const auto out = h.run(frames);
        CHECK(toneDb(std::span<const float>(out[kLadderLp][0]).last(24000), 2000.0, 0.01) == Approx(expected).margin(0.05));
    }
}

TEST_CASE("ladder is polyphonic and block-size independent", "[filters]") {
    const int frames = 9600;
    Signal in, cv;
    for (int c = 0; c < 5; ++c) {  // a group of 8 lanes with 3 idle
        in.push_back(noiseSignal(frames, 200u + static_cast<unsigned>(c)));
        cv.push_back(sineSignal(3.0 + c, frames, 0.5 * c));
    }
    auto render = [&](const Signal& x, const Signal& v, int block) {
        ModuleHarness h("ladder", kFs, block);
        h.setParam("resonance", 0.9f);
        h.setParam("drive", 6.0f);
        h.connect("in", x);
        h.connect("cutoff", v);
        return h.run(frames);
    };
    const auto poly = render(in, cv, 64);
    for (int c = 0; c < 5; ++c) {
        const auto mono = render(Signal{in[c]}, Signal{cv[c]}, 64);
        for (int t = 0; t < 4; ++t) CHECK(poly[t][c] == mono[t][0]);
    }
    for (int block : {1, 37, 256}) {
        const auto other = render(in, cv, block);
        for (int t = 0; t < 4; ++t)
            for (int c = 0; c < 5; ++c) CHECK(other[t][c] == poly[t][c]);
    }
}

TEST_CASE("ladder cutoff and resonance jumps do not click", "[filters]") {
    // After a jump the output glides to its new level and phase; a click would be a step far
    // larger than the settled signal's own largest step.
    auto steps = [](const char* id, float from, float to, double inputHz) {
        ModuleHarness h("ladder", kFs);
        h.setParam("cutoff", 300.0f);
        h.setParam(id, from);
        h.connect("in", sineSignal(inputHz, 48000, 0.5));
        h.run(24000);
        h.setParam(id, to);
        const auto out = h.run(24000);
        const std::span<const float> lp = out[kLadderLp][0];
        return std::pair{kabel::test::maxStep(lp.first(4800)), kabel::test::maxStep(lp.last(4800))};
    };
    SECTION("cutoff 300 -> 3000 Hz") {
        const auto [jump, steady] = steps("cutoff", 300.0f, 3000.0f, 200.0);
        INFO("max step after the jump " << jump << ", settled " << steady);
        CHECK(jump <= 1.3f * steady);
    }
    SECTION("resonance 0 -> 0.5 at the cutoff") {
        const auto [jump, steady] = steps("resonance", 0.0f, 0.5f, 300.0);
        INFO("max step after the jump " << jump << ", settled " << steady);
        CHECK(jump <= 1.3f * steady);
    }
}

TEST_CASE("comb feedback form peaks at k f with the analytic height", "[filters]") {
    // blend 1: H = 1 / (1 - g z^-D), D = fs / f: peaks 1 / (1 - g) at k f, troughs 1 / (1 + g)
    // at (k + 1/2) f.
    const double f = 441.0;  // D = 108.84: interpolated
    const double g = 0.9;
    const auto h = impulseResponse("comb", {{"freq", float(f)}, {"feedback", float(g)}}, 1 << 16);
    for (int k = 1; k <= 10; ++k) {
        const double peak = extremumOf(h, (k - 0.3) * f, (k + 0.3) * f);
        INFO("harmonic " << k << ": peak at " << peak << " Hz");
        CHECK(peak == Approx(k * f).epsilon(1e-3));
        CHECK(dtftDb(h, k * f) == Approx(20.0 * std::log10(1.0 / (1.0 - g))).margin(0.5));
        CHECK(dtftDb(h, (k + 0.5) * f) == Approx(20.0 * std::log10(1.0 / (1.0 + g))).margin(0.5));
    }
}

TEST_CASE("comb negative feedback peaks at odd multiples of f over 2", "[filters]") {
    const double f = 300.0;
    const auto h = impulseResponse("comb", {{"freq", float(f)}, {"feedback", -0.9f}}, 1 << 16);
    for (int k = 0; k < 8; ++k) {
        const double expected = (k + 0.5) * f;
        const double peak = extremumOf(h, expected - 0.3 * f, expected + 0.3 * f);
        INFO("peak near " << expected << ": " << peak << " Hz");
        CHECK(peak == Approx(expected).epsilon(1e-3));
        CHECK(dtftDb(h, expected) == Approx(20.0).margin(0.5));
    }
}

TEST_CASE("comb feedforward form notches at odd multiples of f over 2", "[filters]") {
    // blend 0: H = 1 + g z^-D: |H| = 1 + g at k f, 1 - g at (k + 1/2) f.
    const double f = 500.0;
    const double g = 0.99;
    const auto h = impulseResponse("comb", {{"freq", float(f)}, {"feedback", float(g)}, {"blend", 0.0f}}, 4096);
    for (int k = 0; k < 8; ++k) {
        const double expected = (k + 0.5) * f;
        const double notch = extremumOf(h, expected - 0.3 * f, expected + 0.3 * f, true);
        INFO("notch near " << expected << ": " << notch << " Hz, " << dtftDb(h, expected) << " dB");
        CHECK(notch == Approx(expected).epsilon(2e-3));
        CHECK(dtftDb(h, expected) == Approx(20.0 * std::log10(1.0 - g)).margin(1.0));
        CHECK(dtftDb(h, (k + 1) * f) == Approx(20.0 * std::log10(1.0 + g)).margin(0.1));
    }
}

TEST_CASE("comb pitch input is 1 V/oct and damping keeps the fundamental in tune", "[filters]") {
    const int frames = 1 << 16;
    SECTION("pitch +1 octave") {
        ModuleHarness h("comb", kFs);
        h.setParam("freq", 220.0f);
        h.setParam("feedback", 0.9f);
        h.connect("in", kabel::test::impulseSignal(frames));
        h.connect("pitch", constantSignal(1.0f, frames));
        const auto ir = h.run(frames)[0][0];
        CHECK(extremumOf(ir, 300.0, 600.0) == Approx(440.0).epsilon(1e-3));
        CHECK(extremumOf(ir, 700.0, 1000.0) == Approx(880.0).epsilon(1e-3));
    }
    SECTION("damping 0.7") {
        const double f = 330.0;
        const auto ir = impulseResponse("comb", {{"freq", float(f)}, {"feedback", 0.95f}, {"damp", 0.7f}}, frames);
        const double peak = extremumOf(ir, 0.7 * f, 1.3 * f);
        INFO("fundamental peak at " << peak << " Hz");
        CHECK(peak == Approx(f).epsilon(1e-3));
        // The damping lowers the higher peaks: the 8th harmonic's is well below the fundamental's.
        CHECK(dtftDb(ir, extremumOf(ir, 7.7 * f, 8.3 * f)) < dtftDb(ir, peak) - 10.0);
    }
}

TEST_CASE("comb stays bounded under audio-rate pitch modulation", "[filters]") {
    const int frames = 48000;
    ModuleHarness h("comb", kFs);
    h.setParam("freq", 1000.0f);
    h.setParam("feedback", -0.99f);
    h.setParam("damp", 0.2f);
    auto x = noiseSignal(frames, 5, 2000);
    x[30000] = std::nanf("");
    h.connect("in", x);
    h.connect("pitch", sineSignal(700.0, frames, 4.0));
    const auto out = h.run(frames);
    const std::span<const float> y = out[0][0];
    REQUIRE(allFinite(std::vector<float>(y.begin(), y.begin() + 30000)));
    CHECK(kabel::test::peak(y.first(30000)) < 200.0f);
    // The NaN reaches the output in its own block only; then the line is forgotten: silence (the
    // input is silent there).
    CHECK(allFinite(std::vector<float>(y.begin() + 30016, y.end())));
    CHECK(kabel::test::peak(std::span<const float>(out[0][0]).last(4800)) == 0.0f);
}

namespace {

// Peterson & Barney (1952), Table II (the values the module cites), for the test's own check.
constexpr double kVowelFormants[3][5][3] = {
    {{730, 1090, 2440}, {530, 1840, 2480}, {270, 2290, 3010}, {570, 840, 2410}, {300, 870, 2240}},
    {{850, 1220, 2810}, {610, 2330, 2990}, {310, 2790, 3310}, {590, 920, 2710}, {370, 950, 2670}},
    {{1030, 1370, 3170}, {690, 2610, 3570}, {370, 3200, 3730}, {680, 1060, 3180}, {430, 1170, 3260}},
};

}  // namespace

TEST_CASE("formant peaks sit at the published formant frequencies", "[filters]") {
    const char* voices[] = {"man", "woman", "child"};
    double worst = 0.0;
    int checked = 0;
    for (int voice = 0; voice < 3; ++voice) {
        for (int vowel = 0; vowel < 5; ++vowel) {
            const auto h = impulseResponse("formant", {{"voice", float(voice)}, {"vowel", float(vowel)}}, 1 << 14);
            for (int i = 0; i < 3; ++i) {
                const double f = kVowelFormants[voice][vowel][i];
                // The largest |H| within +-5 % of the formant must be a true (local) peak: inside the
                // window, not at its edge on a neighbour's skirt.
                const double peak = extremumOf(h, 0.95 * f, 1.05 * f);
                const double error = peak / f - 1.0;
                INFO(voices[voice] << " vowel "
                                   << "aeiou"[vowel] << " F" << i + 1 << " " << f << " Hz: peak at " << peak << " Hz");
                CHECK(peak > 0.9505 * f);
                CHECK(peak < 1.0495 * f);
                worst = std::max(worst, std::fabs(error));
                ++checked;
            }
        }
    }
    REQUIRE(checked == 45);
    std::printf("formant: worst peak offset from Peterson & Barney %.2f %%\n", 100.0 * worst);
}

TEST_CASE("formant morphs between vowels and shifts by octaves", "[filters]") {
    SECTION("vowel 0.5 sits between a and e (geometric mean)") {
        const auto h = impulseResponse("formant", {{"vowel", 0.5f}}, 1 << 14);
        for (int i = 0; i < 2; ++i) {
            const double f = std::sqrt(kVowelFormants[0][0][i] * kVowelFormants[0][1][i]);
            const double peak = extremumOf(h, 0.95 * f, 1.05 * f);
            INFO("F" << i + 1 << " expected " << f << ", peak " << peak);
            CHECK(peak > 0.9505 * f);
            CHECK(peak < 1.0495 * f);
        }
    }
    SECTION("shift +1 doubles every formant") {
        const auto h = impulseResponse("formant", {{"vowel", 2.0f}, {"shift", 1.0f}}, 1 << 14);
        for (int i = 0; i < 3; ++i) {
            const double f = 2.0 * kVowelFormants[0][2][i];
            const double peak = extremumOf(h, 0.95 * f, 1.05 * f);
            INFO("F" << i + 1 << " expected " << f << ", peak " << peak);
            CHECK(peak > 0.9505 * f);
            CHECK(peak < 1.0495 * f);
        }
    }
    SECTION("the strongest formant is at 0 dB") {
        const auto h = impulseResponse("formant", {{"vowel", 0.0f}}, 1 << 14);
        double strongest = -100.0;
        for (int i = 0; i < 3; ++i) strongest = std::max(strongest, dtftDb(h, kVowelFormants[0][0][i]));
        CHECK(strongest == Approx(0.0).margin(1.5));
    }
}

TEST_CASE("formant stays bounded under audio-rate vowel and shift modulation", "[filters]") {
    const int frames = 48000;
    ModuleHarness h("formant", kFs);
    h.setParam("vowel", 2.0f);
    h.connect("in", noiseSignal(frames, 9));
    h.connect("vowel", sineSignal(1000.0, frames, 3.0));
    h.connect("shift", sineSignal(1700.0, frames, 2.0));
    const auto out = h.run(frames);
    REQUIRE(allFinite(out[0][0]));
    CHECK(kabel::test::peak(out[0][0]) < 10.0f);
}

TEST_CASE("ladder comb and formant process() neither allocate nor lock", "[filters]") {
    if (!kabel::test::kRtGuardActive) return;
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    int runs = 0;
    for (const char* type : {"ladder", "comb", "formant"}) {
        for (int mode = 0; mode < 3; ++mode) {
            kabel::test::ModuleBench b(type, 64, kFs, 8);
            b.connect("in", 5, osc);
            if (mode == 1) b.connect(std::string(type) == "comb" ? "pitch" : (std::string(type) == "ladder" ? "cutoff" : "vowel"), 5, osc);
            b.build();
            kabel::test::RtGuard guard;
            for (int i = 0; i < 64; ++i) {
                if (mode == 2 && i == 10)
                    b.setParam(std::string(type) == "comb" ? "freq" : (std::string(type) == "ladder" ? "cutoff" : "vowel"), 3.0f);
                b.step();
            }
            const auto counts = guard.counts();
            CHECK(counts.allocations == 0);
            CHECK(counts.locks == 0);
            ++runs;
        }
    }
    CHECK(runs == 9);
}

TEST_CASE("ladder comb and formant micro-benchmarks", "[.bench]") {
    auto saw = [](int c, long n) { return static_cast<float>(2.0 * std::fmod((110.0 + 7.0 * c) * n / kFs, 1.0) - 1.0); };
    auto lfo = [](int c, long n) { return static_cast<float>(std::sin(2.0 * kPi * (0.1 + 0.12 * c) * n / kFs)); };
    for (int channels : {1, 16}) {
        const std::string suffix = channels == 1 ? ", mono" : ", 16 ch";
        {
            kabel::test::ModuleBench b("ladder");
            b.setParam("resonance", 0.8f);
            b.connect("in", channels, saw);
            b.nsPerSample(("ladder static" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("ladder");
            b.setParam("resonance", 0.8f);
            b.setParam("fm_depth", 1350.0f);
            b.connect("in", channels, saw);
            b.connect("fm", channels, lfo);
            b.nsPerSample(("ladder fm" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("comb");
            b.connect("in", channels, saw);
            b.nsPerSample(("comb static" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("comb");
            b.connect("in", channels, saw);
            b.connect("pitch", channels, lfo);
            b.nsPerSample(("comb pitch cv" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("formant");
            b.connect("in", channels, saw);
            b.nsPerSample(("formant static" + suffix).c_str());
        }
        {
            kabel::test::ModuleBench b("formant");
            b.connect("in", channels, saw);
            b.connect("vowel", channels, lfo);
            b.nsPerSample(("formant vowel cv" + suffix).c_str());
        }
    }
}

TEST_CASE("svf micro-benchmark with only the low-pass read", "[.bench]") {
    // Benchmark W2 reads only the svf's low-pass: the other taps are then left unformed.
    constexpr int kFrames = 64, kBlocks = 500;
    const int stride = kabel::alignedStride(kFrames);
    for (int channels : {1, 16}) {
        double ns[2] = {0.0, 0.0};
        for (int lpOnly = 0; lpOnly < 2; ++lpOnly) {
            auto module = kabel::Registry::global().find("svf")->create();
            module->prepare(kFs, kFrames);
            module->setParam(module->descriptor().paramIndex("q"), 3.0f);
            module->setParam(module->descriptor().paramIndex("cutoff"), 1650.0f);
            module->setParam(module->descriptor().paramIndex("fm_depth"), 1350.0f);
            const std::size_t blockSize = static_cast<std::size_t>(channels * stride);
            kabel::AlignedFloats saw(blockSize * kBlocks), lfo(blockSize * kBlocks), zeros(static_cast<std::size_t>(stride)),
                out(4 * blockSize);
            for (int b = 0; b < kBlocks; ++b)
                for (int c = 0; c < channels; ++c)
                    for (int n = 0; n < kFrames; ++n) {
                        const long t = static_cast<long>(b) * kFrames + n;
                        const std::size_t i = static_cast<std::size_t>(b) * blockSize + static_cast<std::size_t>(c * stride + n);
                        saw[i] = static_cast<float>(2.0 * std::fmod((110.0 + 7.0 * c) * t / kFs, 1.0) - 1.0);
                        lfo[i] = static_cast<float>(std::sin(2.0 * kPi * (0.1 + 0.12 * c) * t / kFs));
                    }
            std::array<kabel::InputPort, 3> in{};
            for (auto& p : in) {
                p.zeros = zeros.data();
                p.channels = channels;
                p.stride = stride;
                p.connected = true;
            }
            in[1] = kabel::InputPort{zeros.data(), zeros.data(), 1, stride, false, 0.0f};  // cutoff unpatched
            std::array<kabel::OutputPort, 4> outs{};
            for (int o = 0; o < 4; ++o)
                outs[static_cast<std::size_t>(o)] = kabel::OutputPort{out.data() + o * blockSize, channels, stride, o == 0 || lpOnly == 0};
            kabel::HostBuffers host;
            kabel::ProcessContext ctx;
            ctx.frames = kFrames;
            ctx.in = in;
            ctx.out = outs;
            ctx.host = &host;
            kabel::ScopedFlushDenormals noDenormals;
            double best = 1e300;
            for (int pass = 0; pass < 40; ++pass) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int b = 0; b < kBlocks; ++b) {
                    in[0].data = saw.data() + static_cast<std::size_t>(b) * blockSize;
                    in[2].data = lfo.data() + static_cast<std::size_t>(b) * blockSize;
                    module->run(ctx);
                }
                const double t = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
                best = std::min(best, t / (double(kBlocks) * kFrames * channels));
            }
            ns[lpOnly] = best;
        }
        std::printf("svf fm (W2), %2d ch: all four taps %.3f ns/sample, low-pass only %.3f ns/sample (%.0f %% less)\n", channels, ns[0],
                    ns[1], 100.0 * (1.0 - ns[1] / ns[0]));
    }
}
