// The oscillator family (sine, saw, square, triangle, wavetable, fmpair, noise) and the fast math
// under them: measured frequency, level, DC, spectrum purity, alias rejection, through-zero FM,
// phase modulation, hard sync, wavetable files and state, noise statistics; hidden [.bench]
// micro-benchmarks.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "core/io/sound_file.hpp"
#include "core/module/registry.hpp"
#include "modules/oscillator_core.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/module_bench.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

constexpr double kRate = 48000.0;

std::vector<float> render(ModuleHarness& h, int frames, int channel = 0) {
    return h.run(frames)[0][static_cast<std::size_t>(channel)];
}

// The frequency an oscillator actually runs at for `hz`: its uint32 increment's.
double exactFrequency(double hz) {
    return double(dsp::phaseIncrement(hz / kRate)) * kRate / dsp::kPhaseCycle;
}

// Worst spectral line that is not a harmonic of f0 (nor DC), in dB re the fundamental, up to
// maxHz. Each harmonic (and DC) masks +-8 bins: the Blackman-Harris main lobe is +-4.
double worstAliasDb(const std::vector<float>& x, double f0, double maxHz) {
    const Spectrum s = spectrum(x, kRate);
    std::vector<bool> masked(s.db.size(), false);
    auto mask = [&](double hz) {
        const long centre = std::lround(hz / s.binHz);
        for (long k = centre - 8; k <= centre + 8; ++k)
            if (k >= 0 && k < static_cast<long>(masked.size())) masked[static_cast<std::size_t>(k)] = true;
    };
    mask(0.0);
    for (double h = f0; h <= kRate / 2; h += f0) mask(h);
    const double fundamental = s.peakDb(f0 - 2 * s.binHz, f0 + 2 * s.binHz);
    double worst = -400.0;
    for (std::size_t k = 0; k < s.db.size() && double(k) * s.binHz <= maxHz; ++k)
        if (!masked[k]) worst = std::max(worst, s.db[k]);
    return worst - fundamental;
}

// Mean power spectral density (linear) over [lowHz, highHz).
double bandPower(const Spectrum& s, double lowHz, double highHz) {
    double sum = 0.0;
    int count = 0;
    for (std::size_t k = 0; k < s.db.size(); ++k) {
        const double hz = double(k) * s.binHz;
        if (hz >= lowHz && hz < highHz) {
            sum += std::pow(10.0, s.db[k] / 10.0);
            ++count;
        }
    }
    REQUIRE(count > 0);
    return sum / count;
}

// Least-squares slope of 10 log10(band power) against octaves over octave bands from 100 Hz
// to 10 kHz.
double slopeDbPerOctave(const std::vector<float>& x) {
    const Spectrum s = spectrum(x, kRate);
    std::vector<double> octaves, db;
    for (double lo = 100.0; lo * 2.0 <= 12800.0; lo *= 2.0) {
        octaves.push_back(std::log2(lo * std::sqrt(2.0) / 100.0));
        db.push_back(10.0 * std::log10(bandPower(s, lo, lo * 2.0)));
    }
    REQUIRE(octaves.size() == 7);
    const double n = double(octaves.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < octaves.size(); ++i) {
        sx += octaves[i];
        sy += db[i];
        sxx += octaves[i] * octaves[i];
        sxy += octaves[i] * db[i];
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

// The naive waveforms at phase p (cycles), as the modules define them: phase 0 is 0 rising
// (the pulse: its rising edge).
enum class Wave { Sine, Saw, Square, Triangle };

double frac(double x) {
    return x - std::floor(x);
}

double naiveWave(Wave w, double p, double pw = 0.5) {
    switch (w) {
        case Wave::Sine:
            return std::sin(2.0 * std::numbers::pi * p);
        case Wave::Saw:
            return 2.0 * frac(p + 0.5) - 1.0;
        case Wave::Square:
            return frac(p) < pw ? 1.0 : -1.0;
        case Wave::Triangle:
            return 1.0 - 4.0 * std::fabs(frac(p + 0.25) - 0.5);
    }
    return 0.0;
}

// Frames the output lags the phase: the band-limited waveforms (and any output with sync
// patched) are delayed by the linear-phase step's half length.
constexpr int kBlepDelay = 12;

// Renders `type` at `hz` after a 0.1 s settle, optionally through the general kernel (fm
// patched with zeros: the same frequency, the other code path).
std::vector<float> renderTone(const char* type, double hz, int frames, bool general = false) {
    ModuleHarness h(type);
    h.setParam("freq", float(hz));
    if (general) h.connect("fm", constantSignal(0.0f, frames + 4800));
    h.run(4800);
    return render(h, frames);
}

// The complex amplitude of the component at `hz` (Hann-windowed single-bin DFT; x[0] is at time
// t0): a cos(2 pi hz t + phi) gives a e^{i phi}.
std::complex<double> toneComplex(std::span<const float> x, double sampleRate, double hz, double t0 = 0.0) {
    std::complex<double> acc = 0.0;
    double windowSum = 0.0;
    const double n = double(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double hann = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * double(i) / n);
        acc += double(x[i]) * hann * std::polar(1.0, -2.0 * std::numbers::pi * hz * (t0 + double(i) / sampleRate));
        windowSum += hann;
    }
    return 2.0 * acc / windowSum;
}

// Fourier coefficient c_k of one master period of the hard-synced slave (restarted at phase 0 at
// the period's start, running `ratio` slave cycles per master period): the DFT of 2^16 points.
std::complex<double> syncedHarmonic(Wave w, double ratio, int k) {
    constexpr int kPoints = 1 << 16;
    std::complex<double> c = 0.0;
    for (int m = 0; m < kPoints; ++m) c += naiveWave(w, ratio * m / kPoints) * std::polar(1.0, -2.0 * std::numbers::pi * k * m / kPoints);
    return c / double(kPoints);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// fast math

TEST_CASE("fastSin2pi is within 2e-7 of sin(2 pi x) over [-0.5, 0.5]", "[oscillators][fast_math]") {
    double worst = 0.0;
    long checked = 0;
    for (std::int64_t i = -(std::int64_t{1} << 24); i <= (std::int64_t{1} << 24); ++i, ++checked) {
        const float x = static_cast<float>(i) * 0x1p-25f;
        worst = std::max(worst, std::fabs(double(dsp::fastSin2pi(x)) - std::sin(2.0 * std::numbers::pi * double(x))));
    }
    INFO("max abs error " << worst << " over " << checked << " points");
    CHECK(checked == (std::int64_t{1} << 25) + 1);
    CHECK(worst <= 2e-7);
    CHECK(dsp::fastSin2pi(0.0f) == 0.0f);
    CHECK(dsp::fastSin2pi(0.25f) == Approx(1.0f).margin(2e-7));
    CHECK(dsp::fastSin2pi(-0.5f) == Approx(0.0f).margin(1e-7));
}

TEST_CASE("fastPow2 is within 2e-7 relative of 2^x and exact at integers", "[oscillators][fast_math]") {
    double worst = 0.0;
    long checked = 0;
    for (float x = -20.0f; x <= 20.0f; x += 0x1p-12f, ++checked) {
        const double exact = std::exp2(double(x));
        worst = std::max(worst, std::fabs(double(dsp::fastPow2(x)) - exact) / exact);
    }
    INFO("max relative error " << worst << " (" << worst * 1200.0 / std::numbers::ln2 << " cent)");
    CHECK(checked == 40 * 4096 + 1);
    CHECK(worst <= 2e-7);
    for (int n = -126; n <= 126; ++n) CHECK(dsp::fastPow2(float(n)) == std::ldexp(1.0f, n));
    CHECK(dsp::fastPow2(1000.0f) == std::ldexp(1.0f, 126));
    CHECK(dsp::fastPow2(-1000.0f) == std::ldexp(1.0f, -126));
}

TEST_CASE("the fixed-point phase wraps exactly and maps to -0.5..0.5 and 0..1", "[oscillators][fast_math]") {
    CHECK(dsp::phaseIncrement(0.25) == 0x40000000u);
    CHECK(dsp::phaseIncrement(-0.25) == 0xC0000000u);
    CHECK(dsp::phaseIncrement(0.9) == 0x80000000u);  // clamped to Nyquist
    CHECK(dsp::phaseToSigned(0) == 0.0f);
    CHECK(dsp::phaseToSigned(0x80000000u) == -0.5f);
    CHECK(dsp::phaseToSigned(0x40000000u) == 0.25f);
    CHECK(dsp::phaseToUnit(0) == 0.0f);
    CHECK(dsp::phaseToUnit(0xFFFFFFFFu) < 1.0f);
    CHECK(dsp::phaseToUnit(0x80000000u) == 0.5f);
    // 1000 Hz at 48 kHz: 48 cycles of 48000 frames wrap back to (nearly) the start.
    const std::uint32_t inc = dsp::phaseIncrement(1000.0 / 48000.0);
    std::uint32_t phase = 0;
    for (int n = 0; n < 48000; ++n) phase += inc;
    CHECK(std::abs(static_cast<std::int32_t>(phase)) < 48000);  // < 1e-5 cycle after a second
    CHECK(dsp::phaseIncrementFast(0.25f) == 0x40000000u);
    CHECK(dsp::phaseIncrementFast(3.0f) == 2147483520u);
    CHECK(dsp::phaseIncrementFast(0.0f) == 0u);
}

// ---------------------------------------------------------------------------------------------
// sine

TEST_CASE("sine is exact in frequency over 20 s", "[oscillators]") {
    for (double hz : {1000.0, 261.6256, 4321.5, 55.0}) {
        ModuleHarness h("sine");
        h.setParam("freq", float(hz));
        const auto x = render(h, 20 * 48000);
        const double measured = zeroCrossingFrequency(x, kRate);
        INFO("set " << hz << " Hz, measured " << measured << " Hz, error " << measured - hz << " Hz");
        CHECK(std::fabs(measured - double(float(hz))) < 0.001);
        if (hz == 1000.0) WARN("sine 1000 Hz over 20 s: measured " << std::setprecision(10) << measured << " Hz");
    }
}

TEST_CASE("sine starts at 0 rising and has amplitude 1", "[oscillators]") {
    ModuleHarness h("sine");
    h.setParam("freq", 1000.0f);
    const auto x = render(h, 48000);
    CHECK(x[0] == 0.0f);
    CHECK(x[1] > 0.0f);
    CHECK(x[12] == Approx(1.0f).margin(1e-6));  // a quarter period of 48 samples
    CHECK(peak(x) == Approx(1.0).margin(1e-4));
    CHECK(toneAmplitude(x, kRate, 1000.0) == Approx(1.0).margin(1e-4));
    CHECK(rms(x) == Approx(1.0 / std::sqrt(2.0)).margin(1e-4));
}

TEST_CASE("sine harmonics and noise floor are below -120 dB", "[oscillators]") {
    // A frequency on an FFT bin (1365 bins of 48000/65536 Hz), so the window leaks nothing and
    // every other bin shows only what the oscillator adds.
    const double hz = 1365.0 * kRate / 65536.0;  // 999.755859375 Hz, exact in float
    for (bool modulated : {false, true}) {
        ModuleHarness h("sine");
        h.setParam("freq", float(hz));
        if (modulated) h.connect("pitch", constantSignal(0.0f, 65536 + 4800));  // the per-sample kernel
        h.run(4800);
        const auto x = render(h, 65536);
        const Spectrum s = spectrum(x, kRate);
        double worst = -400.0;
        for (std::size_t k = 0; k < s.db.size(); ++k)
            if (std::abs(static_cast<long>(k) - 1365) > 4) worst = std::max(worst, s.db[k]);
        INFO((modulated ? "modulated" : "constant") << " kernel: worst line " << worst << " dB");
        WARN("sine (" << (modulated ? "modulated" : "constant") << " kernel): worst spectral line off the fundamental " << worst << " dB");
        CHECK(s.peakDb(hz - 1, hz + 1) == Approx(0.0).margin(0.01));
        CHECK(worst < -120.0);
    }
}

TEST_CASE("sine pitch input: +1 octave doubles the frequency, 4 channels give 4 voices", "[oscillators]") {
    SECTION("mono pitch") {
        for (float octaves : {1.0f, -1.0f, 0.5f}) {
            ModuleHarness h("sine");
            h.setParam("freq", 440.0f);
            h.connect("pitch", constantSignal(octaves, 10 * 48000));
            const auto x = render(h, 10 * 48000);
            const double expected = 440.0 * std::exp2(double(octaves));
            INFO("pitch " << octaves);
            CHECK(zeroCrossingFrequency(x, kRate) == Approx(expected).margin(0.001));
        }
    }
    SECTION("polyphonic pitch") {
        const std::vector<float> pitches{0.0f, 1.0f, -1.0f, 7.0f / 12.0f};
        Signal poly;
        for (float p : pitches) poly.push_back(constantSignal(p, 10 * 48000));
        ModuleHarness h("sine");
        h.connect("pitch", poly);
        const auto out = h.run(10 * 48000)[0];
        REQUIRE(h.outputChannels(0) == 4);
        REQUIRE(out.size() == 4);
        for (std::size_t c = 0; c < 4; ++c) {
            INFO("channel " << c);
            CHECK(zeroCrossingFrequency(out[c], kRate) == Approx(261.6256 * std::exp2(double(pitches[c]))).margin(0.001));
        }
    }
}

TEST_CASE("sine frequency jumps glide without a click", "[oscillators]") {
    ModuleHarness h("sine");
    h.setParam("freq", 200.0f);
    auto x = render(h, 4800);
    h.setParam("freq", 4000.0f);
    const auto y = render(h, 48000);
    x.insert(x.end(), y.begin(), y.end());
    // A 4 kHz sine's own largest step is 2 sin(pi f / fs); the glide never exceeds it.
    const float own = float(2.0 * std::sin(std::numbers::pi * 4000.0 / kRate));
    CHECK(maxStep(x) <= own * 1.001f);
    CHECK(zeroCrossingFrequency(std::span<const float>(y).subspan(24000), kRate) == Approx(4000.0).margin(0.01));
}

TEST_CASE("sine reset restarts the phase at 0", "[oscillators]") {
    ModuleHarness h("sine");
    render(h, 1000);
    h.module().reset();
    const auto x = render(h, 64);
    CHECK(x[0] == 0.0f);
    CHECK(x[1] > 0.0f);
}

// ---------------------------------------------------------------------------------------------
// saw

TEST_CASE("saw is exact in frequency and rises from 0", "[oscillators]") {
    for (double hz : {1000.0, 55.0, 841.0, 4321.5}) {
        ModuleHarness h("saw");
        h.setParam("freq", float(hz));
        const auto x = render(h, 20 * 48000);
        INFO("set " << hz << " Hz");
        CHECK(zeroCrossingFrequency(x, kRate) == Approx(exactFrequency(float(hz))).margin(0.001));
    }
    ModuleHarness h("saw");
    h.setParam("freq", 1000.0f);
    const auto x = render(h, 100);
    for (int n = 0; n < 12; ++n) CHECK(x[static_cast<std::size_t>(n)] == 0.0f);  // the 12-sample delay
    CHECK(x[12] == Approx(0.0f).margin(2e-3));
    CHECK(x[13] > x[12]);
    CHECK(x[18] == Approx(6.0 * 2.0 / 48.0).margin(2e-3));  // rising 2 per period
    // reset() restarts the same way, at the frequency already set (no glide from the default)
    h.module().reset();
    const auto y = render(h, 100);
    CHECK(y == x);
}

TEST_CASE("saw aliases stay 60 dB below the fundamental for 1-5 kHz", "[oscillators]") {
    for (bool modulated : {false, true}) {
        double worstFull = -400.0, worstAudible = -400.0;
        for (double hz : {1000.0, 1234.5, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0, 4321.0, 4500.0, 5000.0}) {
            ModuleHarness h("saw");
            h.setParam("freq", float(hz));
            if (modulated) h.connect("pitch", constantSignal(0.0f, 65536 + 4800));
            h.run(4800);
            const auto x = render(h, 65536);
            const double f0 = exactFrequency(float(hz));
            const double full = worstAliasDb(x, f0, kRate / 2), audible = worstAliasDb(x, f0, 20000.0);
            INFO(hz << " Hz: alias " << full << " dB (below 20 kHz: " << audible << " dB)");
            CHECK(full < -60.0);
            CHECK(toneAmplitude(x, kRate, f0) == Approx(2.0 / std::numbers::pi).epsilon(0.002));
            worstFull = std::max(worstFull, full);
            worstAudible = std::max(worstAudible, audible);
        }
        WARN("saw (" << (modulated ? "modulated" : "constant") << " kernel) worst alias 1-5 kHz: " << worstFull
                     << " dB re fundamental (below 20 kHz: " << worstAudible << " dB)");
        CHECK(worstFull < -75.0);  // measured -80 dB
    }
}

TEST_CASE("saw has no DC offset and stays within its range", "[oscillators]") {
    for (double hz : {55.0, 440.0, 841.0, 3000.0}) {
        ModuleHarness h("saw");
        h.setParam("freq", float(hz));
        const auto x = render(h, 10 * 48000);
        INFO(hz << " Hz: mean " << mean(x) << ", peak " << peak(x));
        CHECK(std::fabs(mean(x)) < 1e-3);
        CHECK(peak(x) < 1.2f);  // Gibbs overshoot of the band-limited step
    }
}

TEST_CASE("saw pitch input and polyphony", "[oscillators]") {
    Signal poly{constantSignal(0.0f, 5 * 48000), constantSignal(1.0f, 5 * 48000), constantSignal(-2.0f, 5 * 48000)};
    ModuleHarness h("saw");
    h.setParam("freq", 440.0f);
    h.connect("pitch", poly);
    const auto out = h.run(5 * 48000)[0];
    REQUIRE(out.size() == 3);
    CHECK(zeroCrossingFrequency(out[0], kRate) == Approx(440.0).margin(0.001));
    CHECK(zeroCrossingFrequency(out[1], kRate) == Approx(880.0).margin(0.001));
    CHECK(zeroCrossingFrequency(out[2], kRate) == Approx(110.0).margin(0.001));
}

TEST_CASE("saw frequency jumps and pitch sweeps stay band-limited and click-free", "[oscillators]") {
    ModuleHarness h("saw");
    h.setParam("freq", 100.0f);
    // a pitch sweep of 5 octaves over 2 s, through the modulated kernel
    std::vector<float> sweep(2 * 48000 + 4800);
    for (std::size_t n = 0; n < sweep.size(); ++n) sweep[n] = 5.0f * float(std::min<std::size_t>(n, 96000)) / 96000.0f;
    h.connect("pitch", sweep);
    const auto x = render(h, int(sweep.size()));
    // The band-limited saw's steps: the wrap (about 2) plus the ramp's own slope; nothing larger.
    CHECK(maxStep(x) < 2.2f);
    CHECK(std::isfinite(rms(x)));
    CHECK(zeroCrossingFrequency(std::span<const float>(x).subspan(96000 + 100), kRate) == Approx(3200.0).margin(0.01));
}

// ---------------------------------------------------------------------------------------------
// square and triangle

TEST_CASE("square and triangle are exact in frequency", "[oscillators]") {
    for (const char* type : {"square", "triangle"})
        for (double hz : {55.0, 1000.0, 4321.5}) {
            const auto x = renderTone(type, hz, 10 * 48000);
            INFO(type << " at " << hz << " Hz");
            CHECK(zeroCrossingFrequency(x, kRate) == Approx(exactFrequency(float(hz))).margin(0.01));
        }
}

TEST_CASE("square and triangle have their textbook fundamental, no DC and bounded peaks", "[oscillators]") {
    // Fourier series: a +-1 square's fundamental is 4/pi, a +-1 triangle's 8/pi^2.
    const double squareLevel = 4.0 / std::numbers::pi, triangleLevel = 8.0 / (std::numbers::pi * std::numbers::pi);
    for (double hz : {100.0, 441.0, 2000.0}) {
        const double f0 = exactFrequency(float(hz));
        const auto sq = renderTone("square", hz, 4 * 48000);
        const auto tri = renderTone("triangle", hz, 4 * 48000);
        INFO(hz << " Hz: square mean " << mean(sq) << ", triangle mean " << mean(tri));
        CHECK(toneAmplitude(sq, kRate, f0) == Approx(squareLevel).epsilon(0.002));
        CHECK(toneAmplitude(tri, kRate, f0) == Approx(triangleLevel).epsilon(0.002));
        CHECK(std::fabs(mean(sq)) < 1e-3);
        CHECK(std::fabs(mean(tri)) < 1e-3);
        CHECK(peak(sq) < 1.2f);  // Gibbs overshoot of the band-limited edges
        CHECK(peak(tri) <= 1.0f);
        CHECK(peak(tri) > 0.95f);
    }
}

TEST_CASE("square and triangle start at phase 0 like the sine, 12 samples late", "[oscillators]") {
    ModuleHarness sq("square"), tri("triangle");
    sq.setParam("freq", 100.0f);
    tri.setParam("freq", 100.0f);
    const auto s = render(sq, 240), t = render(tri, 240);
    for (int n = 0; n < kBlepDelay - 1; ++n) CHECK(s[static_cast<std::size_t>(n)] == Approx(0.0f).margin(0.02));
    // a quarter period (120 frames) after the start the triangle peaks (its corner rounded by
    // the band-limited ramp: 8 x 100 / 48000 x the ramp residual's 0.12 at 0, 0.002), the square
    // is high
    CHECK(t[120 + kBlepDelay] == Approx(1.0f).margin(3e-3));
    CHECK(t[60 + kBlepDelay] == Approx(0.5f).margin(2e-3));
    CHECK(s[60 + kBlepDelay] == Approx(1.0f).margin(2e-3));
}

TEST_CASE("square and triangle aliases stay 60 dB below the fundamental for 1-5 kHz", "[oscillators]") {
    for (const char* type : {"square", "triangle"})
        for (bool general : {false, true}) {
            double worst = -400.0;
            for (double hz : {1000.0, 1234.5, 2000.0, 3000.0, 4321.0, 5000.0}) {
                const auto x = renderTone(type, hz, 65536, general);
                const double f0 = exactFrequency(float(hz));
                const double alias = worstAliasDb(x, f0, kRate / 2);
                INFO(type << " at " << hz << " Hz: alias " << alias << " dB");
                CHECK(alias < -60.0);
                worst = std::max(worst, alias);
            }
            WARN(type << (general ? " (fm patched)" : "") << " worst alias 1-5 kHz: " << worst << " dB re fundamental");
        }
    SECTION("a narrow pulse too") {
        ModuleHarness h("square");
        h.setParam("freq", 3100.0f);
        h.setParam("pw", 0.1f);
        h.run(4800);
        const auto x = render(h, 65536);
        const double alias = worstAliasDb(x, exactFrequency(3100.0f), kRate / 2);
        INFO("pw 0.1 at 3.1 kHz: alias " << alias << " dB");
        CHECK(alias < -60.0);
    }
}

TEST_CASE("square pulse width sets the duty cycle, knob plus input", "[oscillators]") {
    for (auto [knob, input] : {std::pair{0.25f, 0.0f}, {0.1f, 0.0f}, {0.9f, 0.0f}, {0.25f, 0.25f}, {0.5f, 1.0f}}) {
        ModuleHarness h("square");
        h.setParam("freq", 100.0f);
        h.setParam("pw", knob);
        h.connect("pw", constantSignal(input, 48000 + 4800));
        h.run(4800);
        const auto x = render(h, 48000);
        const double width = std::clamp(double(knob) + input, 0.01, 0.99);
        const double high = double(std::count_if(x.begin(), x.end(), [](float v) { return v > 0.0f; })) / double(x.size());
        INFO("pw knob " << knob << " + input " << input);
        CHECK(high == Approx(width).margin(0.002));
        CHECK(mean(x) == Approx(2.0 * width - 1.0).margin(2e-3));  // the mean of a +-1 pulse
    }
}

TEST_CASE("square pulse-width modulation glides without a click", "[oscillators]") {
    ModuleHarness h("square");
    h.setParam("freq", 200.0f);
    h.setParam("pw", 0.5f);
    auto x = render(h, 4800);
    h.setParam("pw", 0.05f);
    const auto y = render(h, 48000);
    x.insert(x.end(), y.begin(), y.end());
    CHECK(maxStep(x) < 2.3f);  // no step beyond a band-limited edge's own
    std::vector<float> tail(y.end() - 24000, y.end());
    CHECK(mean(tail) == Approx(2.0 * 0.05 - 1.0).margin(3e-3));
}

TEST_CASE("square and triangle are polyphonic by pitch", "[oscillators]") {
    for (const char* type : {"square", "triangle"}) {
        Signal poly{constantSignal(0.0f, 5 * 48000), constantSignal(1.0f, 5 * 48000), constantSignal(-1.0f, 5 * 48000)};
        ModuleHarness h(type);
        h.setParam("freq", 440.0f);
        h.connect("pitch", poly);
        const auto out = h.run(5 * 48000)[0];
        REQUIRE(out.size() == 3);
        INFO(type);
        CHECK(zeroCrossingFrequency(out[0], kRate) == Approx(440.0).margin(0.01));
        CHECK(zeroCrossingFrequency(out[1], kRate) == Approx(880.0).margin(0.01));
        CHECK(zeroCrossingFrequency(out[2], kRate) == Approx(220.0).margin(0.01));
    }
}

// ---------------------------------------------------------------------------------------------
// FM, PM, sync (every phase oscillator)

TEST_CASE("linear FM scales the frequency by 1 + amount x fm, and patching it keeps it exact", "[oscillators]") {
    for (const char* type : {"sine", "saw", "square", "triangle", "wavetable"}) {
        for (auto [amount, fm] : {std::pair{1.0f, 0.0f}, {1.0f, 0.5f}, {2.0f, 0.25f}, {10.0f, -0.05f}}) {
            ModuleHarness h(type);
            h.setParam("freq", 200.0f);
            h.setParam("fm_amount", amount);
            h.connect("fm", constantSignal(fm, 10 * 48000));
            const auto x = render(h, 10 * 48000);
            const double expected = 200.0 * (1.0 + double(amount) * fm);
            INFO(type << ": amount " << amount << ", fm " << fm);
            CHECK(zeroCrossingFrequency(std::span<const float>(x).subspan(4800), kRate) == Approx(expected).margin(0.01));
        }
    }
}

TEST_CASE("through-zero FM: fm = -2 runs a 100 Hz carrier backwards at 100 Hz", "[oscillators]") {
    SECTION("the saw falls instead of rising") {
        ModuleHarness h("saw");
        h.setParam("freq", 100.0f);
        h.connect("fm", constantSignal(-2.0f, 5 * 48000));
        const auto x = render(h, 5 * 48000);
        long falling = 0, rising = 0;
        for (std::size_t n = 4800; n + 1 < x.size(); ++n) (x[n + 1] < x[n] ? falling : rising) += 1;
        INFO(falling << " frames falling, " << rising << " rising");
        CHECK(double(falling) / double(falling + rising) > 0.97);
        // one jump up per cycle: the rising zero crossings count cycles
        CHECK(zeroCrossingFrequency(std::span<const float>(x).subspan(4800), kRate) == Approx(100.0).margin(0.01));
        CHECK(toneAmplitude(std::span<const float>(x).subspan(4800), kRate, 100.0) == Approx(2.0 / std::numbers::pi).epsilon(0.002));
    }
    SECTION("the sine becomes sin(-2 pi 100 t)") {
        ModuleHarness h("sine");
        h.setParam("freq", 100.0f);
        h.connect("fm", constantSignal(-2.0f, 48000));
        const auto x = render(h, 48000);
        double worst = 0.0;
        for (std::size_t n = 0; n < x.size(); ++n)
            worst = std::max(worst, std::fabs(double(x[n]) + std::sin(2.0 * std::numbers::pi * 100.0 * double(n) / kRate)));
        INFO("largest difference from -sin " << worst);
        CHECK(worst < 1e-4);
    }
    SECTION("audio-rate FM through zero stays bounded and band-limited") {
        for (const char* type : {"saw", "square", "triangle"}) {
            ModuleHarness h(type);
            h.setParam("freq", 300.0f);
            h.connect("fm", sineSignal(3.0, 48000, 2.5));  // -1.5 .. 3.5 x f0
            const auto x = render(h, 48000);
            INFO(type);
            CHECK(std::isfinite(rms(x)));
            CHECK(peak(x) < 1.25f);
            CHECK(maxStep(x) < 2.3f);
        }
    }
}

TEST_CASE("PM of a sine by a sine equals the FM formula, with Bessel sidebands", "[oscillators]") {
    // sin(2 pi fc t + I sin(2 pi fm t)): the PM input is the deviation in cycles, I / 2 pi.
    const double fc = 1000.0, fm = 300.0, index = 2.0;
    ModuleHarness h("sine");
    h.setParam("freq", float(fc));
    h.connect("pm", sineSignal(fm, 48000, index / (2.0 * std::numbers::pi)));
    const auto x = render(h, 48000);
    double worst = 0.0;
    for (std::size_t n = 0; n < x.size(); ++n) {
        const double t = double(n) / kRate;
        const double expected = std::sin(2.0 * std::numbers::pi * fc * t + index * std::sin(2.0 * std::numbers::pi * fm * t));
        worst = std::max(worst, std::fabs(double(x[n]) - expected));
    }
    INFO("largest difference from the formula " << worst);
    CHECK(worst < 2e-4);
    for (int k = 0; k <= 3; ++k) {
        const double bessel = std::fabs(std::cyl_bessel_j(double(k), index));
        for (double f : {fc + k * fm, fc - k * fm}) {
            const double db = 20.0 * std::log10(toneAmplitude(x, kRate, f) / bessel);
            INFO("k " << k << " at " << f << " Hz: " << db << " dB re |J_k(I)|");
            CHECK(std::fabs(db) < 0.1);
        }
    }
}

TEST_CASE("PM works on every waveform: a constant offset shifts the phase", "[oscillators]") {
    // pm = 0.25 cycle: the output is the unmodulated one a quarter period earlier.
    for (const char* type : {"sine", "saw", "square", "triangle"}) {
        ModuleHarness plain(type), shifted(type);
        plain.setParam("freq", 200.0f);  // 240 frames per period
        shifted.setParam("freq", 200.0f);
        shifted.connect("pm", constantSignal(0.25f, 4800));
        plain.connect("fm", constantSignal(0.0f, 4800));  // both through the general kernel
        const auto a = render(plain, 4800), b = render(shifted, 4800);
        double worst = 0.0;
        for (std::size_t n = 1200; n < 4000; ++n) worst = std::max(worst, std::fabs(double(b[n]) - double(a[n + 60])));
        INFO(type << ": largest difference " << worst);
        CHECK(worst < 1e-3);
    }
}

TEST_CASE("hard sync locks the slave to the master with the slave's waveshape, band-limited", "[oscillators]") {
    // The master: a rising ramp from -1 to 1 at fm (the shape of a saw's core), crossing 0.5 at
    // phase 3/4 of each of its cycles; a straight line there, so the sub-sample crossing the
    // module interpolates is exact. The slave's output must be periodic in the master's period,
    // with the Fourier series of the slave's waveform restarted there (computed here from the
    // naive waveform, in double).
    struct Case {
        const char* type;
        Wave wave;
    };
    for (auto [master, ratio] : {std::pair{220.0, 1.7}, {441.0, 2.31}, {1499.0, 1.37}}) {
        const int frames = 65536 + 4800;
        std::vector<float> sync(static_cast<std::size_t>(frames));
        for (int n = 0; n < frames; ++n) sync[static_cast<std::size_t>(n)] = float(2.0 * frac(master * n / kRate) - 1.0);
        for (Case c : {Case{"sine", Wave::Sine}, Case{"saw", Wave::Saw}, Case{"square", Wave::Square}, Case{"triangle", Wave::Triangle},
                       Case{"wavetable", Wave::Sine}}) {
            const double slave = master * ratio;
            ModuleHarness h(c.type);
            h.setParam("freq", float(slave));
            h.connect("sync", sync);
            const auto x = h.run(frames)[0][0];
            // the output 12 frames late (every synced output is), from 0.1 s on
            const std::span<const float> out = std::span<const float>(x).subspan(4800 + kBlepDelay, 65536 - kBlepDelay);
            const double t0 = 4800.0 / kRate;
            double error = 0.0, total = 0.0;
            for (int k = 1; k * master < 10000.0; ++k) {
                const std::complex<double> expected =
                    2.0 * syncedHarmonic(c.wave, ratio, k) * std::polar(1.0, -2.0 * std::numbers::pi * k * 0.75);
                const std::complex<double> measured = toneComplex(out, kRate, k * master, t0);
                error += std::norm(measured - expected);
                total += std::norm(expected);
            }
            const std::vector<float> tail(x.end() - 65536, x.end());
            const double alias = worstAliasDb(tail, master, kRate / 2);
            const double errorDb = 10.0 * std::log10(error / total);
            INFO(c.type << " at " << slave << " Hz synced to " << master << " Hz: harmonics below 10 kHz within " << errorDb
                        << " dB of the synced waveform's, worst line off the master's harmonics " << alias << " dB");
            CHECK(errorDb < -30.0);
            CHECK(alias < -50.0);
            if (master == 1499.0)
                WARN(c.type << " synced (" << slave << " Hz to " << master << " Hz): shape error " << errorDb
                            << " dB, worst line off the master's harmonics " << alias << " dB");
        }
    }
}

TEST_CASE("patching and unpatching sync keeps a sine's output continuous", "[oscillators]") {
    // Patched, the sine's output is delayed by 12 samples; its phase skips ahead (and back on
    // unpatching) so the output is the same sine throughout. A sync that never crosses 0.5.
    const ModuleDescriptor* d = Registry::global().find("sine");
    REQUIRE(d);
    auto m = d->create();
    m->prepare(kRate, 64);
    m->setParam(d->paramIndex("freq"), 1000.0f);
    std::vector<float> zeros(64, 0.0f), out(64, 0.0f), x;
    std::vector<InputPort> in(d->inputs.size());
    for (auto& p : in) {
        p.data = zeros.data();
        p.zeros = zeros.data();
        p.stride = 64;
    }
    const std::vector<OutputPort> outs{OutputPort{out.data(), 1, 64}};
    for (int block = 0; block < 60; ++block) {
        in[static_cast<std::size_t>(d->inputIndex("sync"))].connected = block >= 20 && block < 40;
        ProcessContext ctx;
        ctx.frames = 64;
        ctx.in = in;
        ctx.out = outs;
        HostBuffers host;
        ctx.host = &host;
        m->run(ctx);
        x.insert(x.end(), out.begin(), out.end());
    }
    double worst = 0.0;
    for (std::size_t n = 0; n < x.size(); ++n)
        worst = std::max(worst, std::fabs(double(x[n]) - std::sin(2.0 * std::numbers::pi * exactFrequency(1000.0) * double(n) / kRate)));
    INFO("largest difference from an uninterrupted sine " << worst);
    CHECK(worst < 1e-5);
}

TEST_CASE("sync resets on the rising crossing of 0.5 only", "[oscillators]") {
    // A gate that rises once: the saw restarts at phase 0 (its mid-point, 0) at that instant.
    ModuleHarness h("saw");
    h.setParam("freq", 100.0f);
    std::vector<float> gate(4800, 0.0f);
    for (std::size_t n = 1000; n < 2000; ++n) gate[n] = 1.0f;  // rises at 1000, falls at 2000
    h.connect("sync", gate);
    const auto x = render(h, 4800);
    // before the gate: the plain saw, 12 frames late; just after 1000 + 12: the saw from 0 again
    CHECK(x[500 + kBlepDelay] == Approx(naiveWave(Wave::Saw, 100.0 * 500.0 / kRate)).margin(1e-3));
    // the crossing of 0.5 is half-way between frames 999 and 1000: the reset at 999.5
    CHECK(x[1100 + kBlepDelay] == Approx(naiveWave(Wave::Saw, 100.0 * 100.5 / kRate)).margin(1e-3));
    // the falling edge at 2000 changes nothing
    CHECK(x[2100 + kBlepDelay] == Approx(naiveWave(Wave::Saw, 100.0 * 1100.5 / kRate)).margin(1e-3));
}

// ---------------------------------------------------------------------------------------------
// fmpair

TEST_CASE("fmpair sidebands at fc +- k fm have the amplitudes |J_k(I)|", "[oscillators]") {
    const double fc = 1000.0, ratio = 0.3;
    for (double index : {0.5, 2.0, 5.0}) {
        for (bool viaInput : {false, true}) {
            ModuleHarness h("fmpair");
            h.setParam("freq", float(fc));
            h.setParam("ratio", float(ratio));
            if (viaInput) {
                h.setParam("index", 1.0f);
                h.connect("index", constantSignal(float(index) - 1.0f, 48000 + 4800));
            } else {
                h.setParam("index", float(index));
            }
            h.run(4800);
            const auto x = render(h, 48000);
            const double fm = fc * ratio;
            for (int k = 0; k <= 4; ++k) {
                const double bessel = std::fabs(std::cyl_bessel_j(double(k), index));
                if (bessel < 0.01) continue;  // too weak to measure to 0.2 dB beside its neighbours
                for (double f : {fc + k * fm, fc - k * fm}) {
                    const double db = 20.0 * std::log10(toneAmplitude(x, kRate, f) / bessel);
                    INFO("I = " << index << (viaInput ? " (knob + input)" : "") << ", k = " << k << " at " << f << " Hz: " << db
                                << " dB re |J_k(I)| = " << bessel);
                    CHECK(std::fabs(db) < 0.2);
                }
            }
        }
    }
}

TEST_CASE("fmpair with index 0 is a sine exact in frequency; pitch moves both operators", "[oscillators]") {
    for (float pitch : {0.0f, 1.0f}) {
        ModuleHarness h("fmpair");
        h.setParam("freq", 440.0f);
        h.setParam("index", 0.0f);
        if (pitch != 0.0f) h.connect("pitch", constantSignal(pitch, 10 * 48000));
        const auto x = render(h, 10 * 48000);
        const double expected = 440.0 * std::exp2(double(pitch));
        CHECK(zeroCrossingFrequency(x, kRate) == Approx(expected).margin(0.01));
        CHECK(toneAmplitude(x, kRate, expected) == Approx(1.0).margin(1e-4));
    }
    // with pitch +1 and ratio 0.5 the modulator runs at the un-shifted carrier's 440 Hz
    ModuleHarness h("fmpair");
    h.setParam("freq", 440.0f);
    h.setParam("ratio", 0.5f);
    h.setParam("index", 1.0f);
    h.connect("pitch", constantSignal(1.0f, 48000 + 4800));
    h.run(4800);
    const auto x = render(h, 48000);
    CHECK(toneAmplitude(x, kRate, 880.0) == Approx(std::cyl_bessel_j(0.0, 1.0)).epsilon(0.01));
    CHECK(toneAmplitude(x, kRate, 880.0 + 440.0) == Approx(std::cyl_bessel_j(1.0, 1.0)).epsilon(0.01));
}

TEST_CASE("fmpair has no DC: sine carrier and modulator start together", "[oscillators]") {
    // sin(t + I sin(r t)) has lines at (1 +- k r) f; one at 0 Hz (integer 1/r) is a sine of
    // phase 0 there: no DC.
    for (float ratio : {1.0f, 0.5f, 2.0f, 1.41f}) {
        ModuleHarness h("fmpair");
        h.setParam("freq", 200.0f);
        h.setParam("ratio", ratio);
        h.setParam("index", 3.0f);
        const auto x = render(h, 10 * 48000);
        INFO("ratio " << ratio << ": mean " << mean(x));
        CHECK(std::fabs(mean(x)) < 1e-3);
        CHECK(peak(x) <= 1.0f);
    }
}

TEST_CASE("every oscillator survives NaN and infinite inputs", "[oscillators]") {
    // A broken patch may feed anything: the output stays finite and bounded (and nothing reads
    // out of bounds).
    std::vector<float> bad(4800);
    for (std::size_t n = 0; n < bad.size(); ++n) {
        const float values[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), 1e30f, 0.7f};
        bad[n] = values[(n / 7) % 5];
    }
    for (const char* type : {"sine", "saw", "square", "triangle", "wavetable", "fmpair"}) {
        const ModuleDescriptor* d = Registry::global().find(type);
        REQUIRE(d);
        for (const auto& input : d->inputs) {
            ModuleHarness h(type);
            h.connect(input.id, bad);
            const auto x = render(h, 4800);
            INFO(type << ", " << input.id);
            CHECK(std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v) && std::fabs(v) < 4.0f; }));
        }
    }
}

TEST_CASE("fmpair feedback brightens the tone and stays harmonic", "[oscillators]") {
    // Ratio 1: every line is a harmonic of fc, with or without feedback.
    auto renderFb = [](float feedback) {
        ModuleHarness h("fmpair");
        h.setParam("freq", 220.0f);
        h.setParam("ratio", 1.0f);
        h.setParam("index", 1.0f);
        h.setParam("feedback", feedback);
        h.run(4800);
        return render(h, 65536);
    };
    const auto plain = renderFb(0.0f), fed = renderFb(1.0f);
    const double f0 = exactFrequency(220.0f);
    auto highHarmonics = [&](const std::vector<float>& x) {
        double power = 0.0;
        for (int k = 5; k <= 20; ++k) power += std::pow(toneAmplitude(x, kRate, k * f0), 2.0);
        return 10.0 * std::log10(power);
    };
    const double plainHigh = highHarmonics(plain), fedHigh = highHarmonics(fed);
    INFO("harmonics 5-20: " << plainHigh << " dB without feedback, " << fedHigh << " dB with");
    CHECK(fedHigh > plainHigh + 10.0);
    CHECK(worstAliasDb(fed, f0, kRate / 2) < -80.0);
    CHECK(peak(fed) <= 1.0f);
}

TEST_CASE("fmpair index and ratio glide without a click", "[oscillators]") {
    ModuleHarness h("fmpair");
    h.setParam("freq", 200.0f);
    h.setParam("index", 0.0f);
    auto x = render(h, 4800);
    h.setParam("index", 10.0f);
    h.setParam("ratio", 2.0f);
    const auto y = render(h, 9600);
    x.insert(x.end(), y.begin(), y.end());
    // The steepest the output can move: 2 pi (fc + I fm) / fs per sample, with the final I and fm.
    const float bound = float(2.0 * std::numbers::pi * (200.0 + 10.0 * 400.0) / kRate);
    CHECK(maxStep(x) < bound);
}

// ---------------------------------------------------------------------------------------------
// wavetable

namespace {

void writeWav(const std::filesystem::path& path, const std::vector<float>& interleaved, int channels = 1) {
    SoundFileWriter w(path, channels, kRate, SampleFormat::Float32);
    w.write(interleaved.data(), static_cast<std::int64_t>(interleaved.size()) / channels);
    w.close();
}

// One cycle of a naive rising ramp -1..1: harmonic h has amplitude ~2/(pi h), all the way up.
std::vector<float> sawCycle(int size) {
    std::vector<float> x(static_cast<std::size_t>(size));
    for (int i = 0; i < size; ++i) x[static_cast<std::size_t>(i)] = float(2.0 * i / size - 1.0);
    return x;
}

std::vector<float> sineCycles(int size, int cycles, double amplitude = 1.0, double offset = 0.0) {
    std::vector<float> x(static_cast<std::size_t>(size));
    for (int i = 0; i < size; ++i)
        x[static_cast<std::size_t>(i)] = float(offset + amplitude * std::sin(2.0 * std::numbers::pi * cycles * i / size));
    return x;
}

std::string stateFor(const std::string& file, int frame = 2048) {
    return "{\"file\": \"" + file + "\", \"frame\": " + std::to_string(frame) + "}";
}

}  // namespace

TEST_CASE("wavetable without a file morphs sine, triangle, saw, square at their textbook levels", "[oscillators]") {
    struct Step {
        float position;
        double fundamental;
        const char* name;
    };
    const double pi = std::numbers::pi;
    for (Step s : {Step{0.0f, 1.0, "sine"}, Step{1.0f / 3.0f, 8.0 / (pi * pi), "triangle"}, Step{2.0f / 3.0f, 2.0 / pi, "saw"},
                   Step{1.0f, 4.0 / pi, "square"}}) {
        ModuleHarness h("wavetable");
        h.setParam("freq", 441.0f);
        h.setParam("position", s.position);
        h.run(4800);
        const auto x = render(h, 10 * 48000);
        const double f0 = exactFrequency(441.0);
        INFO(s.name << " (position " << s.position << ")");
        CHECK(zeroCrossingFrequency(x, kRate) == Approx(f0).margin(0.01));
        CHECK(toneAmplitude(x, kRate, f0) == Approx(s.fundamental).epsilon(0.002));
        CHECK(std::fabs(mean(x)) < 1e-3);
        const std::vector<float> part(x.begin(), x.begin() + 65536);
        CHECK(worstAliasDb(part, f0, kRate / 2) < -80.0);
    }
    SECTION("the sine frame is pure") {
        ModuleHarness h("wavetable");
        const double hz = 1365.0 * kRate / 65536.0;  // on an FFT bin
        h.setParam("freq", float(hz));
        h.run(4800);
        const Spectrum s = spectrum(render(h, 65536), kRate);
        double worst = -400.0;
        for (std::size_t k = 0; k < s.db.size(); ++k)
            if (std::abs(static_cast<long>(k) - 1365) > 4) worst = std::max(worst, s.db[k]);
        INFO("worst line off the fundamental " << worst << " dB");
        CHECK(worst < -100.0);
    }
}

TEST_CASE("wavetable aliases stay 60 dB below the fundamental for 1-5 kHz with a saw table", "[oscillators]") {
    TempDir dir;
    writeWav(dir.path / "saw.wav", sawCycle(2048));
    for (bool builtin : {false, true}) {
        double worst = -400.0;
        for (double hz : {1000.0, 1234.5, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0, 4321.0, 5000.0}) {
            ModuleHarness h("wavetable");
            if (builtin)
                h.setParam("position", 2.0f / 3.0f);
            else
                h.loadState(stateFor("saw.wav"), dir.path);
            h.setParam("freq", float(hz));
            h.run(4800);
            const auto x = render(h, 65536);
            const double f0 = exactFrequency(float(hz));
            const double alias = worstAliasDb(x, f0, kRate / 2);
            INFO((builtin ? "built-in saw" : "saw.wav") << " at " << hz << " Hz: alias " << alias << " dB");
            CHECK(alias < -60.0);
            // the naive 2048-sample ramp's fundamental is (2/pi) (pi/2048) / sin(pi/2048): 2/pi to 4e-7
            CHECK(toneAmplitude(x, kRate, f0) == Approx(2.0 / std::numbers::pi).epsilon(0.002));
            worst = std::max(worst, alias);
        }
        WARN("wavetable (" << (builtin ? "built-in saw" : "saw.wav") << ") worst alias 1-5 kHz: " << worst << " dB re fundamental");
    }
}

TEST_CASE("wavetable position picks and crossfades frames, knob plus input", "[oscillators]") {
    TempDir dir;
    std::vector<float> file = sineCycles(1024, 1);  // frame 0: harmonic 1; frame 1: harmonic 3
    const auto third = sineCycles(1024, 3);
    file.insert(file.end(), third.begin(), third.end());
    writeWav(dir.path / "two.wav", file);
    const double f0 = exactFrequency(200.0);
    for (auto [knob, input, weight] :
         {std::tuple{0.0f, 0.0f, 0.0}, {1.0f, 0.0f, 1.0}, {0.5f, 0.0f, 0.5}, {0.25f, 0.5f, 0.75}, {0.5f, 1.0f, 1.0}}) {
        ModuleHarness h("wavetable");
        h.loadState(stateFor("two.wav", 1024), dir.path);
        h.setParam("freq", 200.0f);
        h.setParam("position", knob);
        h.connect("position", constantSignal(input, 48000 + 4800));
        h.run(4800);
        const auto x = render(h, 48000);
        INFO("position knob " << knob << " + input " << input);
        CHECK(toneAmplitude(x, kRate, f0) == Approx(1.0 - weight).margin(1e-3));
        CHECK(toneAmplitude(x, kRate, 3.0 * f0) == Approx(weight).margin(1e-3));
    }
}

TEST_CASE("wavetable removes DC, reads the first channel and frames of any length", "[oscillators]") {
    TempDir dir;
    // frame 600 (not a power of two): 0.5 + 0.8 sin, stereo with noise on the second channel
    const auto cycle = sineCycles(600, 1, 0.8, 0.5);
    std::vector<float> stereo;
    for (std::size_t i = 0; i < cycle.size(); ++i) {
        stereo.push_back(cycle[i]);
        stereo.push_back(i % 2 ? 1.0f : -1.0f);
    }
    writeWav(dir.path / "odd.wav", stereo, 2);
    ModuleHarness h("wavetable");
    h.loadState(stateFor("odd.wav", 600), dir.path);
    h.setParam("freq", 300.0f);
    h.run(4800);
    const auto x = render(h, 48000);
    CHECK(h.module().status() == "");
    CHECK(std::fabs(mean(x)) < 1e-4);
    CHECK(toneAmplitude(x, kRate, exactFrequency(300.0)) == Approx(0.8).margin(1e-4));
    CHECK(peak(x) == Approx(0.8f).margin(1e-3));
}

TEST_CASE("wavetable reports a bad file and keeps playing the table it had", "[oscillators]") {
    TempDir dir;
    writeWav(dir.path / "saw.wav", sawCycle(2048));
    {
        std::ofstream text(dir.path / "notes.wav");
        text << "these are not samples";
    }
    writeWav(dir.path / "short.wav", sawCycle(1000));
    std::vector<float> many;
    for (int i = 0; i < 257; ++i) {
        const auto s = sawCycle(64);
        many.insert(many.end(), s.begin(), s.end());
    }
    writeWav(dir.path / "many.wav", many);
    ModuleHarness h("wavetable");
    h.setParam("freq", 500.0f);
    h.loadState(stateFor("saw.wav"), dir.path);
    h.run(4800);
    const double f0 = exactFrequency(500.0);
    REQUIRE(toneAmplitude(render(h, 48000), kRate, f0) == Approx(2.0 / std::numbers::pi).epsilon(0.002));
    struct Bad {
        std::string state, message;
    };
    for (const Bad& bad : {Bad{stateFor("notes.wav"), "notes.wav: not a WAV/FLAC/AIFF/OGG file (libsndfile: "},
                           Bad{stateFor("missing.wav"), "missing.wav: no such file"},
                           Bad{stateFor("short.wav"), "short.wav: 1000 samples, shorter than one frame of 2048"},
                           Bad{stateFor("many.wav", 64), "many.wav: 257 frames of 64 samples; at most 256"}}) {
        h.loadState(bad.state, dir.path);
        INFO(bad.state << " -> " << h.module().status());
        CHECK(h.module().status().rfind(bad.message, 0) == 0);
        // still the saw
        CHECK(toneAmplitude(render(h, 48000), kRate, f0) == Approx(2.0 / std::numbers::pi).epsilon(0.002));
    }
    // a good file clears the message; no state returns to the built-in set (a sine at position 0)
    h.loadState(stateFor("saw.wav"), dir.path);
    CHECK(h.module().status() == "");
    h.loadState("");
    render(h, 64);
    CHECK(toneAmplitude(render(h, 48000), kRate, f0) == Approx(1.0).margin(1e-3));
}

TEST_CASE("wavetable never allocates or locks on the audio thread while tables are swapped", "[oscillators][realtime]") {
    if (!kabel::test::kRtGuardActive) return;  // sanitizer builds own malloc
    TempDir dir;
    writeWav(dir.path / "saw.wav", sawCycle(2048));
    std::vector<float> two = sawCycle(1024);
    for (int i = 0; i < 1024; ++i) two.push_back(std::sin(2.0f * std::numbers::pi_v<float> * float(i) / 1024.0f));
    writeWav(dir.path / "two.wav", two);
    kabel::test::ModuleBench bench("wavetable", 64, kRate, 100);
    bench.connect("pitch", 16, [](int c, long n) { return 0.2f * float(c % 7) - 0.5f + 0.002f * float(n % 500); });
    bench.connect("position", 16, [](int c, long n) { return 0.05f * float(c) + 0.0001f * float(n % 1000); });
    bench.build();
    long allocations = 0, locks = 0;
    for (int round = 0; round < 40; ++round) {
        bench.setParam("position", 0.025f * float(round));
        if (round % 5 == 0) {  // a new table set: built on the loader, swapped in on the audio thread
            const std::string state =
                round % 15 == 0 ? "" : stateFor(round % 10 == 0 ? "saw.wav" : "two.wav", round % 10 == 0 ? 2048 : 1024);
            bench.module().loadState(state.empty() ? nlohmann::json() : nlohmann::json::parse(state),
                                     kabel::LoadContext{dir.path, nullptr, nullptr});
            bench.module().idle();
        }
        kabel::test::RtGuard guard;
        for (int b = 0; b < 50; ++b) bench.step();
        allocations += guard.counts().allocations;
        locks += guard.counts().locks;
    }
    CHECK(allocations == 0);
    CHECK(locks == 0);
}

TEST_CASE("wavetable state is parsed strictly", "[oscillators]") {
    ModuleHarness h("wavetable");
    struct Bad {
        const char* state;
        const char* message;
    };
    for (Bad bad :
         {Bad{"[1, 2]", "wavetable state must be an object"},
          Bad{"{\"file\": \"a.wav\", \"frames\": 2}", "wavetable state: unknown key \"frames\""},
          Bad{"{\"file\": \"a.wav\", \"frame\": 3}", "wavetable state: \"frame\" must be a whole number of samples from 4 to 65536, got 3"},
          Bad{"{\"file\": \"a.wav\", \"frame\": 256.5}", "wavetable state: \"frame\" must be a whole number of samples"},
          Bad{"{\"file\": \"a.wav\", \"frame\": \"big\"}", "wavetable state: \"frame\" must be a whole number of samples"},
          Bad{"{\"file\": 5}", "wavetable state: \"file\" must be a file name, got 5"},
          Bad{"{\"file\": \"\"}", "wavetable state: \"file\" must be a file name"}}) {
        INFO(bad.state);
        try {
            h.loadState(bad.state);
            FAIL("no exception");
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).rfind(bad.message, 0) == 0);
        }
    }
    h.loadState("{\"frame\": 1024}");  // no file: the built-in set
    CHECK(h.module().status() == "");
    h.setParam("freq", 1000.0f);  // 100 whole periods in 4800 frames
    CHECK(rms(render(h, 4800)) == Approx(1.0 / std::sqrt(2.0)).margin(1e-3));
}

TEST_CASE("wavetable pitch sweeps cross the mip levels smoothly and stay band-limited", "[oscillators]") {
    // A saw swept over 6 octaves. Per-octave levels keep every harmonic below 0.19 fs (where a
    // level fades toward the next darker one, over the top third of its octave) and none at or
    // above 0.5 fs, so the level of each block lies between those of saws band-limited there;
    // and no step exceeds a band-limited saw's own.
    ModuleHarness h("wavetable");
    h.setParam("position", 2.0f / 3.0f);
    h.setParam("freq", 100.0f);
    std::vector<float> sweep(3 * 48000);
    for (std::size_t n = 0; n < sweep.size(); ++n) sweep[n] = 6.0f * float(n) / float(sweep.size());
    h.connect("pitch", sweep);
    const auto x = render(h, int(sweep.size()));
    CHECK(maxStep(x) < 2.3f);
    CHECK(peak(x) < 1.2f);
    auto sawRms = [](double harmonics) {
        double power = 0.0;
        for (int k = 1; k <= int(harmonics); ++k) power += 0.5 * std::pow(2.0 / (std::numbers::pi * k), 2.0);
        return std::sqrt(power);
    };
    int blocks = 0;
    for (std::size_t start = 2048; start + 2048 <= x.size(); start += 2048, ++blocks) {
        const double low = 100.0 * std::exp2(6.0 * double(start - kBlepDelay) / double(sweep.size()));
        const double high = 100.0 * std::exp2(6.0 * double(start + 2048) / double(sweep.size()));
        double weighted = 0.0, weights = 0.0;  // a Hann-weighted mean square: no partial-period error
        for (std::size_t n = 0; n < 2048; ++n) {
            const double w = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * double(n) / 2048.0);
            weighted += w * double(x[start + n]) * double(x[start + n]);
            weights += w;
        }
        const double level = std::sqrt(weighted / weights);
        INFO(low << "-" << high << " Hz: RMS " << level << ", between " << sawRms(0.19 * kRate / high) << " and "
                 << sawRms(0.5 * kRate / low));
        CHECK(level > sawRms(0.19 * kRate / high) * 0.99);
        CHECK(level < sawRms(0.5 * kRate / low) * 1.01);
    }
    CHECK(blocks == 69);
}

// ---------------------------------------------------------------------------------------------
// noise

TEST_CASE("white noise is uniform, zero-mean and flat", "[oscillators]") {
    ModuleHarness h("noise");
    const auto x = render(h, 1 << 20);
    CHECK(rms(x) == Approx(1.0 / std::sqrt(3.0)).margin(0.003));
    CHECK(std::fabs(mean(x)) < 0.003);
    CHECK(*std::min_element(x.begin(), x.end()) >= -1.0f);
    CHECK(*std::max_element(x.begin(), x.end()) < 1.0f);
    // a histogram of 20 bins, each within 2% of 1/20
    std::vector<int> bins(20, 0);
    for (float v : x) ++bins[static_cast<std::size_t>(std::clamp(int((v + 1.0f) * 10.0f), 0, 19))];
    for (int b : bins) CHECK(double(b) / double(x.size()) == Approx(0.05).epsilon(0.02));
    const double slope = slopeDbPerOctave(x);
    INFO("white slope " << slope << " dB/octave");
    CHECK(std::fabs(slope) < 0.2);
}

TEST_CASE("pink noise falls 3 dB per octave at white's RMS", "[oscillators]") {
    ModuleHarness h("noise");
    h.setParam("color", 1.0f);
    h.run(48000);  // let the 5 Hz section settle
    const auto x = render(h, 1 << 20);
    const double slope = slopeDbPerOctave(x);
    WARN("pink noise slope over 100 Hz-10 kHz: " << slope << " dB/octave, RMS " << rms(x));
    CHECK(slope == Approx(-3.0103).margin(0.3));  // the brief allows +-1
    CHECK(rms(x) == Approx(1.0 / std::sqrt(3.0)).epsilon(0.15));
    CHECK(std::fabs(mean(x)) < 0.05);
}

TEST_CASE("noise channels and instances are independent", "[oscillators]") {
    ModuleHarness a("noise");
    a.setParam("channels", 4.0f);
    ModuleHarness b("noise", 48000.0, 64, 1);  // another instance: another seed
    const auto outA = a.run(1 << 16)[0];
    const auto outB = b.run(1 << 16)[0];
    REQUIRE(a.outputChannels(0) == 4);
    REQUIRE(outA.size() == 4);
    auto correlation = [](const std::vector<float>& p, const std::vector<float>& q) {
        double pq = 0, pp = 0, qq = 0;
        for (std::size_t n = 0; n < p.size(); ++n) {
            pq += double(p[n]) * q[n];
            pp += double(p[n]) * p[n];
            qq += double(q[n]) * q[n];
        }
        return pq / std::sqrt(pp * qq);
    };
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = i + 1; j < 4; ++j) CHECK(std::fabs(correlation(outA[i], outA[j])) < 0.02);
        CHECK(std::fabs(correlation(outA[i], outB[0])) < 0.02);
        // and no channel is a shifted copy of another within a second
        CHECK(outA[i] != outB[0]);
    }
    // reset repeats the stream
    ModuleHarness c("noise");
    const auto first = c.run(256)[0][0];
    c.module().reset();
    CHECK(c.run(256)[0][0] == first);
}

// ---------------------------------------------------------------------------------------------
// micro-benchmarks (hidden): ./kabel_tests "[.bench]"

TEST_CASE("oscillator micro-benchmarks", "[.bench]") {
    {
        ModuleBench b("sine");
        b.setParam("freq", 1000.0f);
        b.nsPerSample("sine, mono, pitch unpatched");
    }
    {
        ModuleBench b("sine");
        b.connect("pitch", 1, [](int, long n) { return 0.1f * std::sin(float(n) * 0.001f); });
        b.nsPerSample("sine, mono, pitch modulated");
    }
    {
        ModuleBench b("sine");
        b.connect("pitch", 16, [](int c, long n) { return 0.1f * float(c) + 0.01f * std::sin(float(n) * 0.001f); });
        b.nsPerSample("sine, 16 ch, pitch modulated");
    }
    for (float hz : {55.0f, 841.0f, 5000.0f}) {
        ModuleBench b("saw");
        b.setParam("freq", hz);
        const std::string label = "saw, mono, pitch unpatched, " + std::to_string(int(hz)) + " Hz";
        b.nsPerSample(label.c_str());
    }
    {
        ModuleBench b("saw");
        b.setParam("freq", 55.0f);
        b.connect("pitch", 16, [](int c, long) { return 4.0f * float(c) / 16.0f; });  // 55..841 Hz
        b.nsPerSample("saw, 16 ch, pitch patched, 55-841 Hz");
    }
    {
        ModuleBench b("noise");
        b.nsPerSample("noise, white, mono");
    }
    {
        ModuleBench b("noise");
        b.setParam("color", 1.0f);
        b.nsPerSample("noise, pink, mono");
    }
}

namespace {

// One row of the family's benchmark table, mono (pitch unpatched) and 16 channels (a
// polyphonic pitch: a spread of 110-880 Hz), after `setup` patches the modulation (mono inputs
// broadcast to every channel).
void benchRow(const char* type, const char* what, const std::function<void(ModuleBench&)>& setup) {
    for (int channels : {1, 16}) {
        ModuleBench b(type);
        b.setParam("freq", 110.0f);
        if (channels == 16) b.connect("pitch", 16, [](int c, long) { return 3.0f * float(c) / 16.0f; });
        setup(b);
        const std::string label = std::string(type) + ", " + (channels == 1 ? "mono" : "16 ch") + ", " + what;
        b.nsPerSample(label.c_str());
    }
}

void patchFm(ModuleBench& b) {
    b.connect("fm", 1, [](int, long n) { return 0.5f * std::sin(float(n) * 0.02f); });
}
void patchPm(ModuleBench& b) {
    b.connect("pm", 1, [](int, long n) { return 0.2f * std::sin(float(n) * 0.02f); });
}
void patchSync(ModuleBench& b) {  // a 77 Hz ramp as the master
    b.connect("sync", 1, [](int, long n) { return float(2.0 * frac(77.0 * double(n) / kRate) - 1.0); });
}

}  // namespace

TEST_CASE("oscillator family micro-benchmarks, mono and 16 channels", "[.bench]") {
    const auto nothing = [](ModuleBench&) {};
    benchRow("sine", "fm patched", patchFm);
    benchRow("sine", "pm patched", patchPm);
    benchRow("sine", "sync patched", patchSync);
    benchRow("saw", "plain", nothing);
    benchRow("saw", "fm patched", patchFm);
    benchRow("saw", "sync patched", patchSync);
    benchRow("square", "plain", nothing);
    benchRow("square", "pw modulated",
             [](ModuleBench& b) { b.connect("pw", 1, [](int, long n) { return 0.3f * std::sin(float(n) * 0.0005f); }); });
    benchRow("square", "fm patched", patchFm);
    benchRow("square", "sync patched", patchSync);
    benchRow("triangle", "plain", nothing);
    benchRow("triangle", "fm patched", patchFm);
    benchRow("triangle", "sync patched", patchSync);
    benchRow("wavetable", "built-in, position 0.5", [](ModuleBench& b) { b.setParam("position", 0.5f); });
    benchRow("wavetable", "position modulated",
             [](ModuleBench& b) { b.connect("position", 1, [](int, long n) { return 0.5f + 0.5f * std::sin(float(n) * 0.0003f); }); });
    benchRow("wavetable", "fm patched", patchFm);
    benchRow("wavetable", "sync patched", patchSync);
    benchRow("fmpair", "index 2", nothing);
    benchRow("fmpair", "feedback 0.5", [](ModuleBench& b) { b.setParam("feedback", 0.5f); });
    benchRow("fmpair", "index modulated",
             [](ModuleBench& b) { b.connect("index", 1, [](int, long n) { return 2.0f * std::sin(float(n) * 0.001f); }); });
}

// ---------------------------------------------------------------------------------------------
// The BLEP tables: built at start-up with each kernel value computed once; they must be the
// bits of the plain construction, kept here as the reference.

namespace {

double referenceBesselI0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 60; ++k) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if (term < 1e-17 * sum) break;
    }
    return sum;
}

// Three kernel evaluations per Simpson step, as the tables were first built.
osc::BlepTables referenceBlepTables() {
    constexpr int N = osc::kBlepTaps;
    constexpr int M = osc::kBlepOversample;
    constexpr double kCutoff = 0.42;
    constexpr double kBeta = 7.0;
    constexpr int kSteps = 16 * M;
    const double half = N / 2.0;
    const double i0Beta = referenceBesselI0(kBeta);
    auto kernel = [&](double t) {
        const double x = t / half;
        const double window = referenceBesselI0(kBeta * std::sqrt(std::max(0.0, 1.0 - x * x))) / i0Beta;
        const double sinc = t == 0.0 ? 2.0 * kCutoff : std::sin(2.0 * std::numbers::pi * kCutoff * t) / (std::numbers::pi * t);
        return sinc * window;
    };
    const std::size_t points = static_cast<std::size_t>(N * kSteps + 1);
    std::vector<double> step(points, 0.0), ramp(points, 0.0);
    double sum = 0.0;
    for (int j = 0; j < N * kSteps; ++j) {
        const double t0 = -half + double(j) / kSteps, t1 = t0 + 1.0 / kSteps;
        sum += (kernel(t0) + 4.0 * kernel(0.5 * (t0 + t1)) + kernel(t1)) / (6.0 * kSteps);
        step[static_cast<std::size_t>(j + 1)] = sum;
    }
    for (auto& s : step) s /= sum;
    for (std::size_t j = 1; j < points; ++j) ramp[j] = ramp[j - 1] + 0.5 * (step[j - 1] + step[j]) / kSteps;
    auto stepResidual = [&](int p, int i) {
        const int j = i * kSteps + p * (kSteps / M);
        return step[static_cast<std::size_t>(j)] - (i >= N / 2 ? 1.0 : 0.0);
    };
    auto rampResidual = [&](int p, int i) {
        const int j = i * kSteps + p * (kSteps / M);
        const double tau = double(j) / kSteps - half;
        return ramp[static_cast<std::size_t>(j)] - std::max(tau, 0.0);
    };
    osc::BlepTables tables{};
    for (int p = 0; p < M; ++p)
        for (int i = 0; i < N; ++i) {
            const auto pp = static_cast<std::size_t>(p), ii = static_cast<std::size_t>(i);
            const double s = stepResidual(p, i), s1 = stepResidual(p + 1, i);
            tables.step[pp].value[ii] = static_cast<float>(s);
            tables.step[pp].delta[ii] = static_cast<float>(s1 - s);
            const double r = rampResidual(p, i), r1 = rampResidual(p + 1, i);
            tables.ramp[pp].value[ii] = static_cast<float>(r);
            tables.ramp[pp].delta[ii] = static_cast<float>(r1 - r);
        }
    return tables;
}

}  // namespace

TEST_CASE("BLEP tables are bit-identical to the plain Simpson construction", "[oscillators]") {
    const osc::BlepTables reference = referenceBlepTables();
    const osc::BlepTables& built = osc::blepTables();
    int compared = 0, differing = 0;
    auto compare = [&](const std::array<osc::BlepTables::Row, osc::kBlepOversample>& a,
                       const std::array<osc::BlepTables::Row, osc::kBlepOversample>& b) {
        for (std::size_t p = 0; p < a.size(); ++p)
            for (std::size_t i = 0; i < a[p].value.size(); ++i) {
                differing += std::bit_cast<std::uint32_t>(a[p].value[i]) != std::bit_cast<std::uint32_t>(b[p].value[i]);
                differing += std::bit_cast<std::uint32_t>(a[p].delta[i]) != std::bit_cast<std::uint32_t>(b[p].delta[i]);
                compared += 2;
            }
    };
    compare(built.step, reference.step);
    compare(built.ramp, reference.ramp);
    CHECK(compared == 2 * 2 * osc::kBlepOversample * osc::kBlepTaps);
    CHECK(differing == 0);
}
