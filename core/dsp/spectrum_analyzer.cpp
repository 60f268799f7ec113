#include "core/dsp/spectrum_analyzer.hpp"

#include <fftw3.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>

namespace kabel {

struct SpectrumAnalyzer::Fft {
    explicit Fft(int size)
        : in(static_cast<float*>(fftwf_malloc(sizeof(float) * static_cast<std::size_t>(size)))),
          out(static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * static_cast<std::size_t>(size / 2 + 1)))),
          plan(fftwf_plan_dft_r2c_1d(size, in, out, FFTW_ESTIMATE)) {}
    ~Fft() {
        fftwf_destroy_plan(plan);
        fftwf_free(out);
        fftwf_free(in);
    }
    float* in;
    fftwf_complex* out;
    fftwf_plan plan;
};

SpectrumAnalyzer::SpectrumAnalyzer(int size) : size_(size) {
    if (size < 64 || size > 65536 || (size & (size - 1)) != 0)
        throw std::invalid_argument("spectrum size must be a power of two, 64..65536");
    fft_ = std::make_unique<Fft>(size);
    window_.resize(static_cast<std::size_t>(size));
    double sum = 0.0;
    for (int i = 0; i < size; ++i) {
        const double t = 2.0 * std::numbers::pi * i / size;
        const double w = 0.35875 - 0.48829 * std::cos(t) + 0.14128 * std::cos(2 * t) - 0.01168 * std::cos(3 * t);
        window_[static_cast<std::size_t>(i)] = static_cast<float>(w);
        sum += w;
    }
    windowSum_ = static_cast<float>(sum);
    magnitudes_.resize(static_cast<std::size_t>(size / 2 + 1));
}

SpectrumAnalyzer::~SpectrumAnalyzer() = default;

const std::vector<float>& SpectrumAnalyzer::analyze(const float* samples) {
    for (int i = 0; i < size_; ++i) fft_->in[i] = samples[i] * window_[static_cast<std::size_t>(i)];
    fftwf_execute(fft_->plan);
    for (int k = 0; k <= size_ / 2; ++k) {
        const float amplitude = 2.0f * std::hypot(fft_->out[k][0], fft_->out[k][1]) / windowSum_;
        magnitudes_[static_cast<std::size_t>(k)] = amplitude > 1e-10f ? 20.0f * std::log10(amplitude) : -200.0f;
    }
    return magnitudes_;
}

}  // namespace kabel
