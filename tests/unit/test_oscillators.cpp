// Oscillators (sine, saw, noise) and the fast math under them: measured frequency, level,
// spectrum purity, alias rejection, noise statistics; hidden [.bench] micro-benchmarks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <numbers>
#include <vector>

#include "core/dsp/fast_math.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/signals.hpp"
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
    for (double h = f0; h < kRate / 2; h += f0) mask(h);
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
