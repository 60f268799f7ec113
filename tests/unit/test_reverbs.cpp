// Tests for modules/reverbs.cpp: reverb decay, damping, levels, stereo, denormal safety, speed;
// fdn RT60 (Schroeder) below and above the crossover, predelay, levels, glides; convolver identity,
// accuracy against direct convolution, stereo, resampling, bad files, speed and the heaviest block.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fftw3.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "core/io/sound_file.hpp"
#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::TempDir;

using kabel::test::impulseSignal;
using kabel::test::ModuleHarness;
using kabel::test::noiseSignal;
using kabel::test::Signal;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;

bool allFinite(std::span<const float> x) {
    for (float v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

/// RT60 from the Schroeder energy decay curve: twice the time from -5 dB to -35 dB (T30).
double rt60(std::span<const float> h, double sampleRate) {
    std::vector<double> edc(h.size() + 1, 0.0);
    for (std::size_t i = h.size(); i-- > 0;) edc[i] = edc[i + 1] + double(h[i]) * h[i];
    const double total = edc[0];
    double t5 = -1.0, t35 = -1.0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const double db = 10.0 * std::log10(edc[i] / total);
        if (t5 < 0.0 && db <= -5.0) t5 = double(i) / sampleRate;
        if (t35 < 0.0 && db <= -35.0) {
            t35 = double(i) / sampleRate;
            break;
        }
    }
    return (t5 < 0.0 || t35 < 0.0) ? -1.0 : 2.0 * (t35 - t5);
}

double correlation(std::span<const float> a, std::span<const float> b) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

// ---------------------------------------------------------------------------------------------
// reverb

/// Wet impulse response of the left output (mix 1), `seconds` long.
std::vector<float> reverbImpulse(float room, float damp, double seconds) {
    const int frames = static_cast<int>(seconds * kFs);
    ModuleHarness h("reverb", kFs);
    h.setParam("room", room);
    h.setParam("damp", damp);
    h.setParam("mix", 1.0f);
    h.connect("left", impulseSignal(frames));
    return h.run(frames)[0][0];
}

/// Freeverb's comb decay: a pass of L samples multiplies by g = 0.7 + 0.28 room.
double combRt60(int tuning, float room) {
    const double g = 0.7 + 0.28 * room;
    return -3.0 * (tuning / 44100.0) / std::log10(g);
}

}  // namespace

TEST_CASE("reverb: the impulse response decays, and RT60 rises with room", "[reverbs]") {
    double previous = 0.0;
    for (float room : {0.0f, 0.25f, 0.5f, 0.8f, 1.0f}) {
        const double lo = combRt60(1116, room), hi = combRt60(1617 + 23, room);
        const auto h = reverbImpulse(room, 0.0f, std::max(2.0, 1.2 * hi));
        const double measured = rt60(h, kFs);
        INFO("room " << room << ": RT60 " << measured << " s, combs alone " << lo << " .. " << hi << " s");
        CHECK(measured > 0.9 * lo);
        CHECK(measured < 1.1 * hi);
        CHECK(measured > previous);
        previous = measured;
    }
}

TEST_CASE("reverb: damping shortens the high-frequency decay", "[reverbs]") {
    // Level of 4-8 kHz relative to 250-1000 Hz in the tail from 0.5 s to 1 s.
    auto tilt = [](float damp) {
        const auto h = reverbImpulse(0.8f, damp, 1.0);
        const auto s = kabel::test::spectrum(std::span<const float>(h).subspan(24000, 24000), kFs);
        auto bandPower = [&](double lo, double hi) {
            double p = 0.0;
            for (std::size_t k = static_cast<std::size_t>(lo / s.binHz); k <= static_cast<std::size_t>(hi / s.binHz); ++k)
                p += std::pow(10.0, s.db[k] / 10.0);
            return 10.0 * std::log10(p / ((hi - lo) / s.binHz));
        };
        return bandPower(4000.0, 8000.0) - bandPower(250.0, 1000.0);
    };
    const double open = tilt(0.0), half = tilt(0.5), damped = tilt(1.0);
    INFO("tail HF/LF tilt: damp 0 " << open << " dB, damp 0.5 " << half << " dB, damp 1 " << damped << " dB");
    CHECK(open > -6.0);
    CHECK(half < open - 10.0);
    CHECK(damped < half - 10.0);
}

TEST_CASE("reverb: the eight-lane comb kernel gives the scalar loop's samples exactly", "[reverbs]") {
    // Blocks of 7 frames never fill an eight-sample step, so they take the scalar loop; blocks of
    // 64 take the eight-lane one (on AVX builds). Params are settled, so nothing else differs.
    const int frames = 48000;
    const auto l = noiseSignal(frames, 21), r = noiseSignal(frames, 22);
    std::vector<kabel::test::Signal> outs[2];
    for (int pass = 0; pass < 2; ++pass) {
        ModuleHarness h("reverb", kFs, pass == 0 ? 7 : 64);
        h.setParam("room", 0.9f);
        h.setParam("damp", 0.3f);
        h.setParam("mix", 0.5f);
        h.connect("left", l);
        h.connect("right", r);
        outs[pass] = h.run(frames);
    }
    for (int side = 0; side < 2; ++side) {
        const auto& a = outs[0][static_cast<std::size_t>(side)][0];
        const auto& b = outs[1][static_cast<std::size_t>(side)][0];
        REQUIRE(a.size() == b.size());
        int differing = 0;
        for (std::size_t n = 0; n < a.size(); ++n) differing += a[n] != b[n];
        CHECK(differing == 0);
    }
}

TEST_CASE("reverb: dry and wet levels are exact", "[reverbs]") {
    const int frames = 4800;
    SECTION("mix 0 passes the input unchanged, to both outputs when Right is unpatched") {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 0.0f);
        const auto x = noiseSignal(frames, 3);
        h.connect("left", x);
        const auto out = h.run(frames);
        CHECK(out[0][0] == x);
        CHECK(out[1][0] == x);
    }
    SECTION("mix 0 with both inputs patched keeps them apart") {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 0.0f);
        const auto l = noiseSignal(frames, 4), r = noiseSignal(frames, 5);
        h.connect("left", l);
        h.connect("right", r);
        const auto out = h.run(frames);
        CHECK(out[0][0] == l);
        CHECK(out[1][0] == r);
    }
    SECTION("mix 0.25: dry 0.75 now, the first echo at the shortest comb") {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 0.25f);
        h.setParam("width", 1.0f);
        h.connect("left", impulseSignal(frames));
        const auto out = h.run(frames);
        const int first = static_cast<int>(std::lround(1116 * kFs / 44100.0));
        CHECK(out[0][0][0] == 0.75f);
        CHECK(out[1][0][0] == 0.75f);
        for (int n = 1; n < first; ++n) REQUIRE(out[0][0][n] == 0.0f);
        // Both inputs (left feeds right too) x 0.015, through a comb's delay and 4 allpasses'
        // direct paths (-1 each): 0.03, times wet 0.25.
        CHECK(out[0][0][first] == Approx(0.25 * 0.03).epsilon(1e-6));
        // The right side's combs are 23 samples (at 44.1 kHz) longer.
        const int firstRight = static_cast<int>(std::lround((1116 + 23) * kFs / 44100.0));
        for (int n = 1; n < firstRight; ++n) REQUIRE(out[1][0][n] == 0.0f);
        CHECK(out[1][0][firstRight] == Approx(0.25 * 0.03).epsilon(1e-6));
    }
    SECTION("polyphonic inputs are summed") {
        ModuleHarness poly("reverb", kFs), mono("reverb", kFs);
        const auto a = noiseSignal(frames, 6), b = noiseSignal(frames, 7);
        std::vector<float> sum(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) sum[i] = a[i] + b[i];
        poly.connect("left", Signal{a, b});
        mono.connect("left", sum);
        const auto p = poly.run(frames), m = mono.run(frames);
        REQUIRE(poly.outputChannels(0) == 1);
        CHECK(p[0][0] == m[0][0]);
        CHECK(p[1][0] == m[1][0]);
    }
}

TEST_CASE("reverb: width 1 decorrelates the sides, width 0 is mono", "[reverbs]") {
    const int frames = 96000;
    const auto x = noiseSignal(frames, 9);
    auto run = [&](float width) {
        ModuleHarness h("reverb", kFs);
        h.setParam("mix", 1.0f);
        h.setParam("room", 0.8f);
        h.setParam("width", width);
        h.connect("left", x);
        return h.run(frames);
    };
    const auto wide = run(1.0f), narrow = run(0.0f);
    const double cWide = correlation(std::span<const float>(wide[0][0]).subspan(48000), std::span<const float>(wide[1][0]).subspan(48000));
    const double cNarrow =
        correlation(std::span<const float>(narrow[0][0]).subspan(48000), std::span<const float>(narrow[1][0]).subspan(48000));
    INFO("L/R correlation: width 1 " << cWide << ", width 0 " << cNarrow);
    CHECK(std::fabs(cWide) < 0.2);
    CHECK(cNarrow == Approx(1.0).margin(1e-6));
}

TEST_CASE("reverb: the silent tail neither slows down nor goes NaN", "[reverbs]") {
    // A 0.1 s noise burst at 1e-30 into room 1 (the tail falls ~4.8 dB a second): it reaches the
    // subnormal range (below 1.2e-38) after ~30 s and, were subnormals computed, would stay in it
    // (~140 dB more) to the end of the minute, every operation on them ~100x slower. The module
    // flushes subnormals itself, so the time per second stays flat without the engine's flag.
    // Some CPUs (AMD Zen) compute subnormals at nearly full speed; there the last check (the tail
    // ends in exact zeros, not stuck on the smallest subnormals) is the one that catches a missing
    // flush (tried: without it the tail ends at ~4e-39).
    const int seconds = 60;
    const int frames = seconds * 48000;
    auto x = noiseSignal(frames, 11, 4800);
    for (float& v : x) v *= 1e-30f;
    ModuleHarness h("reverb", kFs);
    h.setParam("room", 1.0f);
    h.setParam("damp", 0.0f);
    h.setParam("mix", 1.0f);
    h.connect("left", x);
    using Clock = std::chrono::steady_clock;
    std::vector<double> perSecond;
    std::vector<float> peaks;
    for (int s = 0; s < seconds; ++s) {
        const auto t0 = Clock::now();
        const auto out = h.run(48000);
        perSecond.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        REQUIRE(allFinite(out[0][0]));
        REQUIRE(allFinite(out[1][0]));
        peaks.push_back(std::max(kabel::test::peak(out[0][0]), kabel::test::peak(out[1][0])));
    }
    // The fastest second of each stretch: on a busy machine the others include time the OS gave
    // away, while subnormal arithmetic would slow every second of the late stretch.
    const double early = *std::min_element(perSecond.begin(), perSecond.begin() + 5);
    const double late = *std::min_element(perSecond.begin() + 35, perSecond.end());
    INFO("fastest second after 35 s " << late * 1e3 << " ms, of the first 5 s " << early * 1e3 << " ms; peak at 20 s " << peaks[20]
                                      << ", at 35 s " << peaks[35]);
    CHECK(peaks[20] > 0.0f);  // the tail was still there, in the smallest normal numbers
    CHECK(peaks[20] < 1e-33f);
    CHECK(late < 2.0 * early);
    CHECK(peaks.back() == 0.0f);  // flushed to zero, not stuck on a subnormal
}

TEST_CASE("reverb: a mix jump glides", "[reverbs]") {
    ModuleHarness h("reverb", kFs);
    h.setParam("mix", 0.0f);
    h.connect("left", sineSignal(300.0, 96000, 0.5));
    const auto before = h.run(48000);
    h.setParam("mix", 1.0f);
    const auto out = h.run(48000);
    const float own = kabel::test::maxStep(before[0][0]);  // mix 0: the dry sine itself
    const float step = kabel::test::maxStep(std::span<const float>(out[0][0]).first(4800));
    INFO("max step while the mix glides " << step << ", the sine's own " << own);
    CHECK(step < 1.1f * own);
}

TEST_CASE("reverb: process() neither allocates nor locks", "[reverbs]") {
    if (!kabel::test::kRtGuardActive) return;  // sanitizer builds own malloc
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    kabel::test::ModuleBench reverb("reverb", 64, kFs, 8);
    reverb.connect("left", 3, osc);
    reverb.build();
    kabel::test::RtGuard guard;
    for (int i = 0; i < 400; ++i) {
        if (i == 300) reverb.setParam("room", 0.9f);
        if (i == 350) reverb.module().requestReset();
        reverb.step();
    }
    CHECK(guard.counts().allocations == 0);
    CHECK(guard.counts().locks == 0);
}

// ---------------------------------------------------------------------------------------------
// fdn

namespace {

/// `x` through a band filter for [lowHz, highHz]: gain 1 inside, raised-cosine skirts a third of
/// an octave wide outside (smooth, so the filter's own ringing is short next to any decay
/// measured), applied to the zero-padded signal's spectrum (FFTW, double).
std::vector<double> bandLimited(std::span<const float> x, double lowHz, double highHz, double sampleRate) {
    std::size_t n = 1;
    while (n < 2 * x.size()) n *= 2;
    std::vector<double> buffer(n, 0.0);
    std::copy(x.begin(), x.end(), buffer.begin());
    std::vector<fftw_complex> spectrum(n / 2 + 1);
    fftw_plan forward = fftw_plan_dft_r2c_1d(static_cast<int>(n), buffer.data(), spectrum.data(), FFTW_ESTIMATE);
    fftw_plan inverse = fftw_plan_dft_c2r_1d(static_cast<int>(n), spectrum.data(), buffer.data(), FFTW_ESTIMATE);
    fftw_execute(forward);
    const double skirt = std::log2(4.0 / 3.0);  // octaves
    for (std::size_t k = 0; k <= n / 2; ++k) {
        const double hz = static_cast<double>(k) * sampleRate / static_cast<double>(n);
        double w = 0.0;
        if (hz >= lowHz && hz <= highHz) {
            w = 1.0;
        } else if (hz > 0.0) {
            const double octaves = hz < lowHz ? std::log2(lowHz / hz) : std::log2(hz / highHz);
            if (octaves < skirt) w = 0.5 + 0.5 * std::cos(std::numbers::pi * octaves / skirt);
        }
        spectrum[k][0] *= w / static_cast<double>(n);
        spectrum[k][1] *= w / static_cast<double>(n);
    }
    fftw_execute(inverse);
    fftw_destroy_plan(forward);
    fftw_destroy_plan(inverse);
    buffer.resize(x.size());
    return buffer;
}

/// RT60 by Schroeder backward integration: the energy decay curve in dB, a least-squares line
/// through its part from -5 dB to `bottomDb` (-35: T30, -25: T20), extrapolated to -60 dB.
double schroederRt60(const std::vector<double>& h, double sampleRate, double bottomDb = -35.0) {
    std::vector<double> edc(h.size() + 1, 0.0);
    for (std::size_t i = h.size(); i-- > 0;) edc[i] = edc[i + 1] + h[i] * h[i];
    double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
    long count = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const double db = 10.0 * std::log10(edc[i] / edc[0]);
        if (db > -5.0) continue;
        if (db < bottomDb) break;
        const double t = static_cast<double>(i) / sampleRate;
        sx += t;
        sy += db;
        sxx += t * t;
        sxy += t * db;
        ++count;
    }
    if (count < 100) return -1.0;
    const double slope = (count * sxy - sx * sy) / (count * sxx - sx * sx);  // dB per second
    return -60.0 / slope;
}

struct FdnSettings {
    float decay = 2.0f, damping = 0.5f, crossover = 3000.0f, size = 1.0f, modulation = 0.25f, predelay = 0.0f;
};

/// The wet impulse response of the left output (mix 1), `seconds` long.
std::vector<float> fdnImpulse(const FdnSettings& s, double seconds) {
    const int frames = static_cast<int>(seconds * kFs);
    ModuleHarness h("fdn", kFs);
    h.setParam("decay", s.decay);
    h.setParam("damping", s.damping);
    h.setParam("crossover", s.crossover);
    h.setParam("size", s.size);
    h.setParam("modulation", s.modulation);
    h.setParam("predelay", s.predelay);
    h.setParam("mix", 1.0f);
    h.connect("left", impulseSignal(frames));
    return h.run(frames)[0][0];
}

}  // namespace

TEST_CASE("fdn: the measured RT60 below the crossover is the decay setting", "[reverbs]") {
    // Band 100-400 Hz, far below the 3 kHz crossover (the shelf is within 2 % of its low gain
    // there); T30 where the tail is long enough, for each setting.
    for (float decay : {0.5f, 1.0f, 2.0f, 5.0f}) {
        FdnSettings s;
        s.decay = decay;
        const auto h = fdnImpulse(s, 1.6 * decay + 0.5);
        const double measured = schroederRt60(bandLimited(h, 100.0, 400.0, kFs), kFs);
        INFO("decay " << decay << " s: RT60 (T30, 100-400 Hz) " << measured << " s");
        CHECK(measured == Approx(decay).epsilon(0.10));
    }
}

TEST_CASE("fdn: damping sets the RT60 above the crossover", "[reverbs]") {
    // Crossover 500 Hz: at 8-16 kHz the shelf has reached its high gain (within 0.5 %), so the band
    // decays in decay x damping. No modulation (its interpolation would add a little loss there).
    for (float damping : {1.0f, 0.5f, 0.25f}) {
        FdnSettings s;
        s.decay = 2.0f;
        s.damping = damping;
        s.crossover = 500.0f;
        s.modulation = 0.0f;
        const auto h = fdnImpulse(s, 3.5);
        const double high = schroederRt60(bandLimited(h, 8000.0, 16000.0, kFs), kFs);
        INFO("damping " << damping << ": RT60 at 8-16 kHz " << high << " s, expected " << 2.0 * damping << " s");
        CHECK(high == Approx(2.0 * damping).epsilon(0.10));
    }
    SECTION("the low band keeps the decay setting (crossover 8 kHz)") {
        FdnSettings s;
        s.decay = 2.0f;
        s.damping = 0.25f;
        s.crossover = 8000.0f;
        const auto h = fdnImpulse(s, 3.5);
        const double low = schroederRt60(bandLimited(h, 100.0, 400.0, kFs), kFs);
        const double high = schroederRt60(bandLimited(h, 16000.0, 23000.0, kFs), kFs);
        INFO("RT60 at 100-400 Hz " << low << " s, at 16-23 kHz " << high << " s");
        CHECK(low == Approx(2.0).epsilon(0.10));
        CHECK(high < 0.7);
    }
}

TEST_CASE("fdn: the first echo comes after the predelay and the shortest line, exactly", "[reverbs]") {
    for (float predelay : {0.0f, 0.02f, 0.25f}) {
        FdnSettings s;
        s.modulation = 0.0f;
        s.predelay = predelay;
        const auto h = fdnImpulse(s, 0.4);
        int first = -1;
        for (std::size_t i = 0; i < h.size(); ++i)
            if (h[i] != 0.0f) {
                first = static_cast<int>(i);
                break;
            }
        const int expected = static_cast<int>(std::lround(predelay * kFs)) + static_cast<int>(std::lround(23.3e-3 * kFs));
        INFO("predelay " << predelay << " s");
        CHECK(first == expected);
    }
}

TEST_CASE("fdn: dry and wet levels, stereo", "[reverbs]") {
    const int frames = 96000;
    SECTION("mix 0 passes the input unchanged") {
        ModuleHarness h("fdn", kFs);
        h.setParam("mix", 0.0f);
        const auto l = noiseSignal(frames, 4), r = noiseSignal(frames, 5);
        h.connect("left", l);
        h.connect("right", r);
        const auto out = h.run(frames);
        CHECK(out[0][0] == l);
        CHECK(out[1][0] == r);
    }
    SECTION("the tail is decorrelated between the sides, and about as loud as the input") {
        ModuleHarness h("fdn", kFs);
        h.setParam("mix", 1.0f);
        const auto x = noiseSignal(frames, 9);
        h.connect("left", x);
        const auto out = h.run(frames);
        const auto l = std::span<const float>(out[0][0]).subspan(48000), r = std::span<const float>(out[1][0]).subspan(48000);
        const double c = correlation(l, r);
        const double level = 20.0 * std::log10(kabel::test::rms(l) / kabel::test::rms(std::span<const float>(x).subspan(48000)));
        INFO("L/R correlation " << c << ", wet level re the input " << level << " dB");
        CHECK(std::fabs(c) < 0.2);
        CHECK(level > -12.0);
        CHECK(level < 6.0);
    }
}

TEST_CASE("fdn: size, predelay and mix jumps glide without clicks", "[reverbs]") {
    // A click is a step larger than the signal's own, before and after the change. (A size change
    // bends the tail's pitch while the lines glide, like tape; that is allowed a little more.)
    const int frames = 48000;
    ModuleHarness h("fdn", kFs);
    h.setParam("mix", 0.5f);
    h.connect("left", sineSignal(220.0, 8 * frames, 0.5));
    auto own = [](const std::vector<kabel::test::Signal>& out) {
        return std::max(kabel::test::maxStep(std::span<const float>(out[0][0]).last(9600)),
                        kabel::test::maxStep(std::span<const float>(out[1][0]).last(9600)));
    };
    float before = own(h.run(frames));
    for (const auto& [param, value, allowed] :
         std::vector<std::tuple<const char*, float, float>>{{"size", 2.0f, 2.0f}, {"predelay", 0.3f, 1.3f}, {"mix", 1.0f, 1.3f}}) {
        h.setParam(param, value);
        const auto during = h.run(frames / 2);
        const float step = std::max(kabel::test::maxStep(during[0][0]), kabel::test::maxStep(during[1][0]));
        REQUIRE(allFinite(during[0][0]));
        const float after = own(h.run(frames));
        INFO(param << " -> " << value << ": max step " << step << ", settled before " << before << ", after " << after);
        CHECK(step < allowed * std::max(before, after));
        before = after;
    }
}

TEST_CASE("fdn: the tail ends in exact zeros, not subnormals", "[reverbs]") {
    auto x = noiseSignal(96000, 12, 4800);
    for (float& v : x) v *= 1e-30f;
    ModuleHarness h("fdn", kFs);
    h.setParam("decay", 0.2f);
    h.setParam("mix", 1.0f);
    h.connect("left", x);
    const auto out = h.run(96000);
    CHECK(kabel::test::peak(std::span<const float>(out[0][0]).last(4800)) == 0.0f);
}

TEST_CASE("fdn: process() neither allocates nor locks", "[reverbs]") {
    if (!kabel::test::kRtGuardActive) return;
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    kabel::test::ModuleBench b("fdn", 64, kFs, 8);
    b.connect("left", 3, osc);
    b.connect("right", 2, osc);
    b.build();
    kabel::test::RtGuard guard;
    for (int i = 0; i < 600; ++i) {
        if (i == 100) b.setParam("size", 2.5f);
        if (i == 200) b.setParam("predelay", 0.4f);
        if (i == 300) b.setParam("decay", 20.0f);
        if (i == 400) b.setParam("size", 0.25f);
        if (i == 500) b.module().requestReset();
        b.step();
    }
    CHECK(guard.counts().allocations == 0);
    CHECK(guard.counts().locks == 0);
}

// ---------------------------------------------------------------------------------------------
// convolver

namespace {

/// Writes channels (equal lengths) as a 32-bit float WAV.
void writeWav(const std::filesystem::path& path, const std::vector<std::vector<float>>& channels, double rate = kFs) {
    kabel::SoundFileWriter w(path, static_cast<int>(channels.size()), rate, kabel::SampleFormat::Float32);
    std::vector<float> interleaved;
    for (std::size_t n = 0; n < channels[0].size(); ++n)
        for (const auto& c : channels) interleaved.push_back(c[n]);
    w.write(interleaved.data(), static_cast<std::int64_t>(channels[0].size()));
    w.close();
}

/// Noise decaying by 60 dB over `seconds` (a synthetic room), seeded.
std::vector<float> decayingNoise(double seconds, unsigned seed) {
    auto x = noiseSignal(static_cast<int>(seconds * kFs), seed);
    for (std::size_t n = 0; n < x.size(); ++n) x[n] *= static_cast<float>(std::pow(10.0, -3.0 * static_cast<double>(n) / (seconds * kFs)));
    return x;
}

/// The error of y against a reference, in dB relative to the reference's power.
double relativeErrorDb(std::span<const float> y, std::span<const double> reference) {
    double e = 0.0, r = 0.0;
    for (std::size_t n = 0; n < reference.size(); ++n) {
        const double d = static_cast<double>(y[n]) - reference[n];
        e += d * d;
        r += reference[n] * reference[n];
    }
    return 10.0 * std::log10(e / r);
}

/// y = x * h in double, directly (n < frames).
std::vector<double> directConvolution(const std::vector<float>& x, const std::vector<float>& h, int frames) {
    std::vector<double> y(static_cast<std::size_t>(frames), 0.0);
    int last = static_cast<int>(x.size()) - 1;
    while (last >= 0 && x[static_cast<std::size_t>(last)] == 0.0f) --last;
    for (int n = 0; n < frames; ++n) {
        double s = 0.0;
        const int m0 = std::max(0, n - last), m1 = std::min(n, static_cast<int>(h.size()) - 1);
        for (int m = m0; m <= m1; ++m) s += static_cast<double>(h[static_cast<std::size_t>(m)]) * x[static_cast<std::size_t>(n - m)];
        y[static_cast<std::size_t>(n)] = s;
    }
    return y;
}

std::string fileState(const std::filesystem::path& file, bool normalize = false) {
    return nlohmann::json{{"file", file.string()}, {"normalize", normalize}}.dump();
}

}  // namespace

TEST_CASE("convolver: a unit impulse response gives the identity", "[reverbs]") {
    TempDir dir;
    const int frames = 96000;
    const auto x = noiseSignal(frames, 21);
    SECTION("the impulse at tap 0 (the head alone)") {
        writeWav(dir.path / "unit.wav", {impulseSignal(1)});
        ModuleHarness h("convolver", kFs);
        h.loadState(fileState(dir.path / "unit.wav", true));
        REQUIRE(h.module().status().empty());
        h.setParam("mix", 1.0f);
        h.connect("left", x);
        const auto out = h.run(frames);
        const std::vector<double> reference(x.begin(), x.end());
        CHECK(relativeErrorDb(out[0][0], reference) < -100.0);
        CHECK(relativeErrorDb(out[1][0], reference) < -100.0);
    }
    SECTION("the impulse at taps 100, 5000 and 40000 (through the FFT partitions of 64 .. 8192)") {
        for (int at : {100, 5000, 40000}) {
            // A response that long, so that the layout has its largest partitions.
            auto ir = impulseSignal(at + 1, at);
            ir.resize(96000, 0.0f);
            ir.back() = 1e-6f;  // keeps the tail from being trimmed
            writeWav(dir.path / "delayed.wav", {ir});
            ModuleHarness h("convolver", kFs, 37);  // a block size that is no power of two
            h.loadState(fileState(dir.path / "delayed.wav"));
            REQUIRE(h.module().status().empty());
            h.setParam("mix", 1.0f);
            h.connect("left", x);
            const auto out = h.run(frames);
            std::vector<double> reference(static_cast<std::size_t>(frames), 0.0);
            for (int n = at; n < frames; ++n) reference[static_cast<std::size_t>(n)] = x[static_cast<std::size_t>(n - at)];
            for (int n = 95999; n < frames; ++n) reference[static_cast<std::size_t>(n)] += 1e-6 * x[static_cast<std::size_t>(n - 95999)];
            const double error = relativeErrorDb(out[0][0], reference);
            INFO("impulse at " << at << ": error " << error << " dB");
            CHECK(error < -100.0);
        }
    }
}

TEST_CASE("convolver: a random response matches direct convolution in double precision", "[reverbs]") {
    TempDir dir;
    const int frames = 2 * 48000 + 4800;
    // A stereo 1.5 s response of decaying noise; a 0.25 s burst of noise in, then silence, so
    // every partition's output is in the two seconds rendered.
    const auto hl = decayingNoise(1.5, 31), hr = decayingNoise(1.5, 32);
    writeWav(dir.path / "room.wav", {hl, hr});
    const auto xl = noiseSignal(frames, 33, 12000), xr = noiseSignal(frames, 34, 12000);
    for (int block : {64, 37}) {
        ModuleHarness h("convolver", kFs, block);
        h.loadState(fileState(dir.path / "room.wav"));
        REQUIRE(h.module().status().empty());
        h.setParam("mix", 1.0f);
        h.connect("left", xl);
        h.connect("right", xr);
        const auto out = h.run(frames);
        const double left = relativeErrorDb(out[0][0], directConvolution(xl, hl, frames));
        const double right = relativeErrorDb(out[1][0], directConvolution(xr, hr, frames));
        INFO("block " << block << ": error left " << left << " dB, right " << right << " dB");
        CHECK(left < -100.0);
        CHECK(right < -100.0);
    }
}

TEST_CASE("convolver: a mono response serves both sides, a stereo one each its own", "[reverbs]") {
    TempDir dir;
    const int frames = 4800;
    auto left = impulseSignal(200, 0), right = impulseSignal(200, 150);
    right[150] = 0.5f;
    writeWav(dir.path / "stereo.wav", {left, right});
    writeWav(dir.path / "mono.wav", {right});
    const auto xl = noiseSignal(frames, 41), xr = noiseSignal(frames, 42);
    SECTION("stereo") {
        ModuleHarness h("convolver", kFs);
        h.loadState(fileState(dir.path / "stereo.wav"));
        h.setParam("mix", 1.0f);
        h.connect("left", xl);
        h.connect("right", xr);
        const auto out = h.run(frames);
        for (int n = 0; n < frames; ++n) {
            REQUIRE(out[0][0][n] == xl[n]);  // the head alone: exact
            REQUIRE(out[1][0][n] == Approx(n >= 150 ? 0.5f * xr[n - 150] : 0.0f).margin(1e-6));
        }
    }
    SECTION("mono, Right unpatched: Left through the response on both sides") {
        ModuleHarness h("convolver", kFs);
        h.loadState(fileState(dir.path / "mono.wav"));
        h.setParam("mix", 1.0f);
        h.connect("left", xl);
        const auto out = h.run(frames);
        for (int n = 0; n < frames; ++n) {
            REQUIRE(out[0][0][n] == Approx(n >= 150 ? 0.5f * xl[n - 150] : 0.0f).margin(1e-6));
            REQUIRE(out[1][0][n] == out[0][0][n]);
        }
    }
}

TEST_CASE("convolver: mix, gain, predelay and normalize", "[reverbs]") {
    TempDir dir;
    const int frames = 9600;
    auto ir = impulseSignal(10, 0);
    ir[0] = 0.5f;
    writeWav(dir.path / "half.wav", {ir});
    const auto x = noiseSignal(frames, 51);
    ModuleHarness h("convolver", kFs);
    h.loadState(fileState(dir.path / "half.wav", true));  // normalised: 0.5 becomes 1
    h.setParam("mix", 0.25f);
    h.setParam("gain", 6.0f);
    h.setParam("predelay", 0.01f);
    h.connect("left", x);
    const auto out = h.run(frames);
    const double g = std::pow(10.0, 6.0 / 20.0);
    double worst = 0.0;
    for (int n = 0; n < frames; ++n) {
        const double expected = 0.75 * x[n] + 0.25 * g * (n >= 480 ? x[n - 480] : 0.0);
        worst = std::max(worst, std::fabs(out[0][0][n] - expected));
    }
    CHECK(worst < 1e-6);
}

TEST_CASE("convolver: a file at another rate is converted to the engine's", "[reverbs]") {
    TempDir dir;
    // 10 ms at 44.1 kHz: tap 441. At 48 kHz the band-limited impulse peaks at tap 480.
    writeWav(dir.path / "slow.wav", {impulseSignal(4410, 441)}, 44100.0);
    ModuleHarness h("convolver", kFs);
    h.loadState(fileState(dir.path / "slow.wav", true));
    REQUIRE(h.module().status().empty());
    h.setParam("mix", 1.0f);
    h.connect("left", impulseSignal(4800));
    const auto y = h.run(4800)[0][0];
    const auto peakAt = std::max_element(y.begin(), y.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - y.begin();
    CHECK(peakAt == 480);
    double energy = 0.0;
    for (float v : y) energy += double(v) * v;
    CHECK(energy == Approx(1.0).epsilon(1e-3));  // normalised
}

TEST_CASE("convolver: bad and truncated files are reported, and the previous response keeps playing", "[reverbs]") {
    TempDir dir;
    const int block = 4800;
    auto ir = impulseSignal(300, 250);
    writeWav(dir.path / "good.wav", {ir});
    // A truncated copy: the header promises more frames than the file holds.
    writeWav(dir.path / "long.wav", {noiseSignal(48000, 5)});
    const auto full = std::filesystem::file_size(dir.path / "long.wav");
    std::filesystem::copy_file(dir.path / "long.wav", dir.path / "truncated.wav");
    std::filesystem::resize_file(dir.path / "truncated.wav", full / 2);
    std::filesystem::copy_file(dir.path / "long.wav", dir.path / "headless.wav");
    std::filesystem::resize_file(dir.path / "headless.wav", 30);

    const auto x = noiseSignal(block * 200, 61);
    ModuleHarness h("convolver", kFs, 64);
    h.setParam("mix", 1.0f);
    h.connect("left", x);
    h.loadState(fileState(dir.path / "good.wav"));
    long position = 0;
    auto playsGood = [&] {
        const auto y = h.run(block)[0][0];
        for (int n = 0; n < block; ++n) {
            const long t = position + n;
            if (std::fabs(y[n] - (t >= 250 ? x[static_cast<std::size_t>(t - 250)] : 0.0f)) > 1e-6f) return false;
        }
        position += block;
        return true;
    };
    REQUIRE(playsGood());

    std::vector<std::filesystem::path> bad = {dir.path / "truncated.wav", dir.path / "headless.wav", dir.path / "missing.wav"};
    const std::filesystem::path corpus = std::filesystem::path(KABEL_SHARED_DIR) / "corpus" / "audio";
    for (const char* folder : {"hound/fuzz", "claxon/fuzz"})
        if (std::filesystem::exists(corpus / folder))
            for (const auto& e : std::filesystem::directory_iterator(corpus / folder)) bad.push_back(e.path());
    if (std::filesystem::exists(corpus / "go-audio-wav" / "sample.avi")) bad.push_back(corpus / "go-audio-wav" / "sample.avi");

    int rejected = 0;
    for (const auto& file : bad) {
        h.loadState(fileState(file));
        h.module().idle();
        const std::string status = h.module().status();
        INFO(file.filename().string() << ": \"" << status << "\"");
        if (status.empty()) {
            // libsndfile could read it: a (strange) response. Put the good one back.
            h.loadState(fileState(dir.path / "good.wav"));
            h.module().idle();
            h.run(block);  // the fade from the strange response
            position += block;
            continue;
        }
        ++rejected;
        CHECK(status.rfind(file.filename().string() + ": ", 0) == 0);  // names the file first
        REQUIRE(playsGood());                                          // unchanged, no fade
    }
    INFO(rejected << " of " << bad.size() << " files rejected");
    CHECK(rejected >= 10);
    // The three made here, with the reason.
    h.loadState(fileState(dir.path / "truncated.wav"));
    CHECK_THAT(h.module().status(), Catch::Matchers::Contains("truncated.wav: ") && Catch::Matchers::Contains("truncated"));
    h.loadState(fileState(dir.path / "headless.wav"));
    CHECK_THAT(h.module().status(), Catch::Matchers::StartsWith("headless.wav: not a WAV/FLAC/AIFF/OGG file (libsndfile: "));
    h.loadState(fileState(dir.path / "missing.wav"));
    CHECK(h.module().status() == "missing.wav: no such file");
}

TEST_CASE("convolver: state is parsed strictly", "[reverbs]") {
    ModuleHarness h("convolver", kFs);
    auto message = [&](const std::string& json) {
        try {
            h.loadState(json);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("(no exception)");
    };
    CHECK_THAT(message("42"), Catch::Matchers::Contains("must be an object"));
    CHECK_THAT(message(R"({"file": 3})"), Catch::Matchers::Contains("\"file\" must be a file name"));
    CHECK_THAT(message(R"({"file": "a.wav", "normalize": "yes"})"), Catch::Matchers::Contains("\"normalize\" must be true or false"));
    CHECK_THAT(message(R"({"file": "a.wav", "gain": 2})"), Catch::Matchers::Contains("unknown key \"gain\""));
    CHECK_THAT(message(R"({"normalize": true})"), Catch::Matchers::Contains("\"file\" is missing"));
    CHECK(message("null") == "(no exception)");
    CHECK(message("") == "(no exception)");
}

TEST_CASE("convolver: process() neither allocates nor locks, also when the response changes", "[reverbs]") {
    if (!kabel::test::kRtGuardActive) return;
    TempDir dir;
    writeWav(dir.path / "a.wav", {decayingNoise(1.0, 71), decayingNoise(1.0, 72)});
    writeWav(dir.path / "b.wav", {decayingNoise(0.5, 73)});
    kabel::test::ModuleBench b("convolver", 64, kFs, 8);
    b.connect("left", 2, [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); });
    b.build();
    b.module().loadState(nlohmann::json::parse(fileState(dir.path / "a.wav")), kabel::LoadContext{});
    kabel::test::RtCounts counts;
    auto steps = [&](int n) {
        kabel::test::RtGuard guard;
        for (int i = 0; i < n; ++i) b.step();
        counts.allocations += guard.counts().allocations;
        counts.locks += guard.counts().locks;
    };
    steps(2000);
    b.module().loadState(nlohmann::json::parse(fileState(dir.path / "b.wav")), kabel::LoadContext{});
    steps(1000);  // fades a out, b in
    b.setParam("predelay", 0.2f);
    b.module().requestReset();
    steps(1000);
    CHECK(counts.allocations == 0);
    CHECK(counts.locks == 0);
}

// ---------------------------------------------------------------------------------------------
// benchmarks

namespace {

float benchNoise(int c, long n) {
    std::uint32_t s = static_cast<std::uint32_t>(n * 747796405u + static_cast<unsigned>(c) * 2891336453u);
    s ^= s >> 15;
    s *= 2246822519u;
    s ^= s >> 13;
    return static_cast<float>(s) / 2147483648.0f - 1.0f;
}

}  // namespace

TEST_CASE("reverbs micro-benchmark", "[.bench]") {
    for (int channels : {1, 16}) {
        kabel::test::ModuleBench b("reverb");
        b.setParam("room", 0.8f);
        b.connect("left", channels, benchNoise);
        b.connect("right", channels, [](int c, long n) { return benchNoise(c + 100, n); });
        const double ns = b.nsPerSample(channels == 1 ? "reverb room 0.8 (W3), stereo in" : "reverb, 16-ch poly inputs");
        std::printf("%-48s %8.3f ns/stereo frame\n", "", ns);
    }
}

TEST_CASE("fdn micro-benchmark", "[.bench]") {
    for (int channels : {1, 16}) {
        kabel::test::ModuleBench b("fdn");
        b.connect("left", channels, benchNoise);
        b.connect("right", channels, [](int c, long n) { return benchNoise(c + 100, n); });
        const double ns = b.nsPerSample(channels == 1 ? "fdn decay 2 s, modulated, stereo in" : "fdn, 16-ch poly inputs");
        std::printf("%-48s %8.3f ns/stereo frame\n", "", ns);
    }
    kabel::test::ModuleBench b("fdn");
    b.setParam("modulation", 0.0f);
    b.connect("left", 1, benchNoise);
    b.nsPerSample("fdn without modulation, mono in");
}

TEST_CASE("convolver micro-benchmark: 2 s and 6 s stereo responses, and the heaviest block", "[.bench]") {
    TempDir dir;
    for (double seconds : {2.0, 6.0}) {
        const std::string file = "ir" + std::to_string(static_cast<int>(seconds)) + ".wav";
        writeWav(dir.path / file, {decayingNoise(seconds, 81), decayingNoise(seconds, 82)});
        kabel::test::ModuleBench b("convolver");
        b.connect("left", 1, benchNoise);
        b.connect("right", 1, [](int c, long n) { return benchNoise(c + 100, n); });
        b.build();
        b.module().loadState(nlohmann::json::parse(fileState(dir.path / file)), kabel::LoadContext{});
        const std::string label = "convolver " + std::to_string(static_cast<int>(seconds)) + " s stereo response";
        const double ns = b.nsPerSample(label.c_str(), 2.0);
        std::printf("%-48s %8.3f ns/stereo frame\n", "", ns);
        // The heaviest block: the time of each of the 512 blocks of the largest partition's
        // period (32768 frames), the fastest of 20 periods each (the others include the OS's
        // interruptions), against their mean.
        using Clock = std::chrono::steady_clock;
        const int period = 512;
        std::vector<double> best(period, 1e300);
        kabel::ScopedFlushDenormals noDenormals;
        for (int pass = 0; pass < 20; ++pass)
            for (int i = 0; i < period; ++i) {
                const auto t0 = Clock::now();
                b.step();
                best[static_cast<std::size_t>(i)] =
                    std::min(best[static_cast<std::size_t>(i)], std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            }
        double sum = 0.0;
        for (double t : best) sum += t;
        const double mean = sum / period, worst = *std::max_element(best.begin(), best.end());
        std::printf("%-48s worst block %.2f us, mean %.2f us (x%.2f)\n", "", worst, mean, worst / mean);
    }
}
