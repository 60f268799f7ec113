// Measurements for DSP tests: levels, frequency, discontinuities and spectra of rendered signals.
#pragma once

#include <span>
#include <vector>

namespace kabel::test {

double rms(std::span<const float> x);
double mean(std::span<const float> x);
float peak(std::span<const float> x);  // max |x|

/// Largest |x[n] - x[n-1]|: a click shows up as a step larger than the signal's own.
float maxStep(std::span<const float> x);

/// Frequency from rising zero crossings located by linear interpolation; precise to ~1e-4 Hz
/// over a few seconds of a clean periodic signal. Returns 0 with fewer than two crossings.
double zeroCrossingFrequency(std::span<const float> x, double sampleRate);

/// Amplitude of the component at exactly `frequency` (single-bin DFT over whole periods when
/// possible, Hann-windowed). A sine of amplitude A gives ~A.
double toneAmplitude(std::span<const float> x, double sampleRate, double frequency);

/// Magnitude spectrum with a Blackman-Harris window (FFTW), in dB re a full-scale sine.
struct Spectrum {
    std::vector<double> db;  // bin k is k * binHz
    double binHz = 0.0;
    /// Peak level (dB) within [lowHz, highHz].
    double peakDb(double lowHz, double highHz) const;
    /// Frequency of the strongest bin in [lowHz, highHz], refined by parabolic interpolation.
    double peakFrequency(double lowHz, double highHz) const;
};
Spectrum spectrum(std::span<const float> x, double sampleRate);

/// Frames where a gate (high at >= 0.5) goes up and down; a gate high at frame 0 rises there.
struct Edges {
    std::vector<long> rising, falling;
};
Edges edgesOf(std::span<const float> x);

}  // namespace kabel::test
