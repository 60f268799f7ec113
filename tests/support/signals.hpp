// Test signals, generated in double precision: sines, constants, impulses and noise.
#pragma once

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace kabel::test {

inline std::vector<float> sineSignal(double hz, int frames, double amplitude = 1.0, double phase = 0.0, double sampleRate = 48000.0) {
    std::vector<float> x(static_cast<std::size_t>(frames));
    for (int n = 0; n < frames; ++n)
        x[static_cast<std::size_t>(n)] = static_cast<float>(amplitude * std::sin(2.0 * std::numbers::pi * hz * n / sampleRate + phase));
    return x;
}

inline std::vector<float> constantSignal(float value, int frames) {
    return std::vector<float>(static_cast<std::size_t>(frames), value);
}

/// 1 at frame `at`, 0 elsewhere.
inline std::vector<float> impulseSignal(int frames, int at = 0) {
    std::vector<float> x(static_cast<std::size_t>(frames), 0.0f);
    x[static_cast<std::size_t>(at)] = 1.0f;
    return x;
}

/// Uniform noise in [-1, 1) from a seeded generator; with burst >= 0 only the first `burst`
/// frames are noise and the rest silence.
inline std::vector<float> noiseSignal(int frames, unsigned seed, int burst = -1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(frames), 0.0f);
    const int n = burst < 0 ? frames : burst;
    for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = u(rng);
    return x;
}

}  // namespace kabel::test
