// Reading and writing audio files through libsndfile (UI/worker threads only).
//
// Design note. Every file Kabel plays (sampler samples, wavetables, convolver impulse responses)
// is decoded by readSound(), from a path or from bytes in memory (libsndfile's virtual I/O; the
// audio fuzz target uses it), so a file is checked once and the same way everywhere: a plausible
// channel count and sample rate, a length cap that holds also when the header lies, a WAV/AIFF
// audio chunk that is cut short (libsndfile quietly plays what is left), a decoding error midway,
// and NaN or infinite samples in float files. Every error is a std::runtime_error whose message
// starts with the file's name: "kick.wav: truncated: ...".
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kabel {

enum class SampleFormat { Float32, Pcm16, Pcm24 };

/// What readSound() does with a NaN or infinite sample (float and double files can hold them).
enum class NonFiniteSamples {
    Reject,  ///< the file is refused: "name: holds samples that are not numbers (NaN or infinity)"
    Zero,    ///< each becomes 0; DecodedSound::replacedSamples counts them
};

/// What a reader accepts. The defaults are the sampler's.
struct SoundReadLimits {
    int maxChannels = 256;                                    ///< files with more channels are refused (libsndfile allows 1024)
    int keepChannels = 2;                                     ///< the first channels decoded into DecodedSound::channels (>= 1)
    int minSampleRate = 1000;                                 ///< Hz; outside [min, max] the file is refused
    int maxSampleRate = 768000;                               ///<
    std::int64_t maxFrames = std::int64_t{20 * 60} * 768000;  ///< longer files are refused...
    double maxSeconds = 20.0 * 60.0;                          ///< ...as are files longer than this at their rate
    std::string tooLong = "longer than 20 minutes";           ///< the reason given then ("name: " + tooLong)
    NonFiniteSamples nonFinite = NonFiniteSamples::Reject;
};

/// A decoded file at its own sample rate.
struct DecodedSound {
    int fileChannels = 0;  ///< channels in the file (channels.size() is min(this, keepChannels))
    int sampleRate = 0;
    int format = 0;                            ///< libsndfile's SF_FORMAT_* (major type | subtype)
    std::vector<std::vector<float>> channels;  ///< one vector per kept channel, all frames() long
    std::int64_t replacedSamples = 0;          ///< NaN/Inf samples set to 0 (NonFiniteSamples::Zero)
    std::int64_t frames() const noexcept { return channels.empty() ? 0 : static_cast<std::int64_t>(channels[0].size()); }
};

/// Decodes the sound file at `path` (WAV, AIFF, FLAC, OGG, ... whatever libsndfile reads). `name`
/// starts every message (usually the file name). Throws std::runtime_error: "name: no such file
/// (path)", "name: not a WAV/FLAC/AIFF/OGG file (libsndfile: ...)", "name: truncated: ...", "name:
/// corrupt audio after N frames ...", "name: no audio in the file", a channel count, sample rate or
/// length outside `limits`, a non-finite sample (NonFiniteSamples::Reject). Any thread but the
/// audio thread.
DecodedSound readSound(const std::filesystem::path& path, const std::string& name, const SoundReadLimits& limits = {});
/// The same from a file's bytes in memory (no file is opened).
DecodedSound readSound(std::span<const std::uint8_t> bytes, const std::string& name, const SoundReadLimits& limits = {});

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
