// SpectrumAnalyzer: the magnitude spectrum of a window of samples, for the editor's spectrum
// views (UI thread; FFTW single precision, planned once per size).
#pragma once

#include <memory>
#include <vector>

namespace kabel {

class SpectrumAnalyzer {
public:
    /// UI thread. `size`: a power of two, 64..65536. Throws std::invalid_argument otherwise.
    explicit SpectrumAnalyzer(int size);
    ~SpectrumAnalyzer();
    SpectrumAnalyzer(const SpectrumAnalyzer&) = delete;
    SpectrumAnalyzer& operator=(const SpectrumAnalyzer&) = delete;

    int size() const noexcept { return size_; }

    /// UI thread: `size()` samples in, size()/2 + 1 magnitudes out, in dB relative to a
    /// full-scale sine (a sine of amplitude A at a bin's centre reads 20 log10 A), through a
    /// 4-term Blackman-Harris window (side lobes below -92 dB). Silence reads -200 dB.
    const std::vector<float>& analyze(const float* samples);

    /// Frequency of bin k's centre.
    static double binFrequency(int k, int size, double sampleRate) { return k * sampleRate / size; }

private:
    struct Fft;
    std::unique_ptr<Fft> fft_;
    int size_;
    std::vector<float> window_;
    float windowSum_ = 0.0f;
    std::vector<float> magnitudes_;
};

}  // namespace kabel
