// Writing audio files through libsndfile (UI/worker threads only).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace kabel {

enum class SampleFormat { Float32, Pcm16, Pcm24 };

/// Parses "float", "f32", "s16", "pcm16", "s24", "pcm24"; throws std::invalid_argument.
SampleFormat parseSampleFormat(std::string_view text);

/// Whether a float WAV carries libsndfile's PEAK chunk (the largest |sample| per channel). Nothing
/// in Kabel reads it; keeping it costs a pass over every sample written (~3% of a W3 render).
enum class PeakChunk { Add, Omit };

/// A WAV file being written. Throws std::runtime_error naming the path and libsndfile's reason.
/// One thread at a time (any thread; renders write from a writer thread).
class SoundFileWriter {
public:
    SoundFileWriter(const std::filesystem::path& path, int channels, double sampleRate, SampleFormat format,
                    PeakChunk peak = PeakChunk::Add);
    ~SoundFileWriter();
    SoundFileWriter(const SoundFileWriter&) = delete;
    SoundFileWriter& operator=(const SoundFileWriter&) = delete;

    /// Appends `frames` interleaved frames.
    void write(const float* interleaved, std::int64_t frames);
    /// Flushes and closes; throws if the file could not be completed.
    void close();

private:
    struct Handle;
    std::unique_ptr<Handle> handle_;
    std::filesystem::path path_;
};

}  // namespace kabel
