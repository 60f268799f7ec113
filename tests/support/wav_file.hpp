// Reading the sound files tests write (renders, recordings), through libsndfile.
#pragma once

#include <sndfile.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace kabel::test {

/// Every frame of a sound file, interleaved as floats; its format in `info`. Throws
/// std::runtime_error (naming the file) when it cannot be opened or reads short.
inline std::vector<float> readSoundFile(const std::filesystem::path& path, SF_INFO& info) {
    info = SF_INFO{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    if (!file) throw std::runtime_error("cannot open " + path.string() + ": " + sf_strerror(nullptr));
    std::vector<float> samples(static_cast<std::size_t>(info.frames * info.channels));
    const sf_count_t read = sf_readf_float(file, samples.data(), info.frames);
    sf_close(file);
    if (read != info.frames)
        throw std::runtime_error(path.string() + ": read " + std::to_string(read) + " frames of " + std::to_string(info.frames));
    return samples;
}

/// Interleaved frames of `channels` channels, one vector per channel.
inline std::vector<std::vector<float>> deinterleave(const std::vector<float>& frames, int channels) {
    std::vector<std::vector<float>> out(static_cast<std::size_t>(channels));
    for (std::size_t i = 0; i < frames.size(); ++i) out[i % static_cast<std::size_t>(channels)].push_back(frames[i]);
    return out;
}

}  // namespace kabel::test
