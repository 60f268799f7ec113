#include "tests/support/measure.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

namespace kabel::test {

double rms(std::span<const float> x) {
    if (x.empty()) return 0.0;
    double sum = 0.0;
    for (float v : x) sum += double(v) * v;
    return std::sqrt(sum / double(x.size()));
}

double mean(std::span<const float> x) {
    if (x.empty()) return 0.0;
    double sum = 0.0;
    for (float v : x) sum += v;
    return sum / double(x.size());
}

float peak(std::span<const float> x) {
    float p = 0.0f;
    for (float v : x) p = std::max(p, std::fabs(v));
    return p;
}

float maxStep(std::span<const float> x) {
    float m = 0.0f;
    for (std::size_t n = 1; n < x.size(); ++n) m = std::max(m, std::fabs(x[n] - x[n - 1]));
    return m;
}

double zeroCrossingFrequency(std::span<const float> x, double sampleRate) {
    double first = -1.0, last = -1.0;
    long count = 0;
    for (std::size_t n = 1; n < x.size(); ++n) {
        if (x[n - 1] < 0.0f && x[n] >= 0.0f) {
            const double t = double(n - 1) + double(-x[n - 1]) / (double(x[n]) - double(x[n - 1]));
            if (count == 0) first = t;
            last = t;
            ++count;
        }
    }
    if (count < 2) return 0.0;
    return double(count - 1) * sampleRate / (last - first);
}

double toneAmplitude(std::span<const float> x, double sampleRate, double frequency) {
    const std::size_t n = x.size();
    if (n == 0) return 0.0;
    std::complex<double> acc = 0.0;
    double windowSum = 0.0;
    const double w = 2.0 * std::numbers::pi * frequency / sampleRate;
    for (std::size_t i = 0; i < n; ++i) {
        const double hann = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * double(i) / double(n));
        acc += double(x[i]) * hann * std::polar(1.0, -w * double(i));
        windowSum += hann;
    }
    return 2.0 * std::abs(acc) / windowSum;
}

Spectrum spectrum(std::span<const float> x, double sampleRate) {
    const int n = static_cast<int>(x.size());
    Spectrum s;
    if (n < 4) return s;
    std::vector<double> in(static_cast<std::size_t>(n));
    double windowSum = 0.0;
    for (int i = 0; i < n; ++i) {
        const double t = 2.0 * std::numbers::pi * i / n;
        // 4-term Blackman-Harris: sidelobes below -92 dB
        const double wv = 0.35875 - 0.48829 * std::cos(t) + 0.14128 * std::cos(2 * t) - 0.01168 * std::cos(3 * t);
        in[static_cast<std::size_t>(i)] = x[static_cast<std::size_t>(i)] * wv;
        windowSum += wv;
    }
    std::vector<std::complex<double>> out(static_cast<std::size_t>(n / 2 + 1));
    fftw_plan plan = fftw_plan_dft_r2c_1d(n, in.data(), reinterpret_cast<fftw_complex*>(out.data()), FFTW_ESTIMATE);
    fftw_execute(plan);
    fftw_destroy_plan(plan);
    s.binHz = sampleRate / n;
    s.db.resize(out.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
        const double amplitude = 2.0 * std::abs(out[k]) / windowSum;
        s.db[k] = 20.0 * std::log10(std::max(amplitude, 1e-30));
    }
    return s;
}

double Spectrum::peakDb(double lowHz, double highHz) const {
    double best = -400.0;
    const auto lo = static_cast<std::size_t>(std::max(0.0, std::floor(lowHz / binHz)));
    const auto hi = std::min(db.size() - 1, static_cast<std::size_t>(std::ceil(highHz / binHz)));
    for (std::size_t k = lo; k <= hi; ++k) best = std::max(best, db[k]);
    return best;
}

double Spectrum::peakFrequency(double lowHz, double highHz) const {
    const auto lo = static_cast<std::size_t>(std::max(1.0, std::floor(lowHz / binHz)));
    const auto hi = std::min(db.size() - 2, static_cast<std::size_t>(std::ceil(highHz / binHz)));
    std::size_t best = lo;
    for (std::size_t k = lo; k <= hi; ++k)
        if (db[k] > db[best]) best = k;
    const double a = db[best - 1], b = db[best], c = db[best + 1];
    const double denom = a - 2 * b + c;
    const double offset = denom != 0.0 ? 0.5 * (a - c) / denom : 0.0;
    return (double(best) + offset) * binHz;
}

Edges edgesOf(std::span<const float> x) {
    Edges e;
    if (!x.empty() && x[0] >= 0.5f) e.rising.push_back(0);
    for (std::size_t n = 1; n < x.size(); ++n) {
        if (x[n - 1] < 0.5f && x[n] >= 0.5f) e.rising.push_back(static_cast<long>(n));
        if (x[n - 1] >= 0.5f && x[n] < 0.5f) e.falling.push_back(static_cast<long>(n));
    }
    return e;
}

}  // namespace kabel::test
