#include "core/io/sound_file.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

namespace kabel {

namespace {

// ---- Reading from memory: libsndfile's virtual I/O over a span ----

struct MemoryFile {
    std::span<const std::uint8_t> bytes;
    sf_count_t pos = 0;
};

sf_count_t memoryLength(void* user) {
    return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size());
}

sf_count_t memorySeek(sf_count_t offset, int whence, void* user) {
    auto* m = static_cast<MemoryFile*>(user);
    const sf_count_t size = static_cast<sf_count_t>(m->bytes.size());
    const sf_count_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? size : 0;
    // Overflow-safe: offsets come from the file's (untrusted) header.
    if ((offset > 0 && base > SF_COUNT_MAX - offset) || base + offset < 0) return -1;
    m->pos = base + offset;  // past the end is allowed (reads there return nothing), as for a file
    return m->pos;
}

sf_count_t memoryRead(void* out, sf_count_t count, void* user) {
    auto* m = static_cast<MemoryFile*>(user);
    const sf_count_t size = static_cast<sf_count_t>(m->bytes.size());
    if (count <= 0 || m->pos >= size) return 0;
    const sf_count_t n = std::min(count, size - m->pos);
    std::memcpy(out, m->bytes.data() + m->pos, static_cast<std::size_t>(n));
    m->pos += n;
    return n;
}

sf_count_t memoryWrite(const void*, sf_count_t, void*) {
    return 0;
}  // read only
sf_count_t memoryTell(void* user) {
    return static_cast<MemoryFile*>(user)->pos;
}

struct SndFileCloser {
    void operator()(SNDFILE* f) const noexcept { sf_close(f); }
};
using SndFilePtr = std::unique_ptr<SNDFILE, SndFileCloser>;

/// Reads `n` bytes at `pos` of the file being checked; false past the end or on an error.
using ReadAt = std::function<bool(std::uint64_t pos, unsigned char* out, std::size_t n)>;

std::uint32_t readLe32(const unsigned char* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
std::uint32_t readBe32(const unsigned char* p) {
    return std::uint32_t{p[3]} | std::uint32_t{p[2]} << 8 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[0]} << 24;
}

/// libsndfile quietly plays what is left of a WAV or AIFF file cut short. This walks the
/// RIFF/FORM chunks to the audio chunk and compares the size its header declares with the bytes
/// the file holds. Sizes 0 and 0xFFFFFFFF (written by streaming recorders that never learnt the
/// length) mean "to the end of the file" and pass.
void checkAudioChunk(std::uint64_t size, const ReadAt& readAt, const std::string& name) {
    unsigned char header[12];
    if (!readAt(0, header, sizeof header)) return;
    const bool riff = std::memcmp(header, "RIFF", 4) == 0 && std::memcmp(header + 8, "WAVE", 4) == 0;
    const bool form =
        std::memcmp(header, "FORM", 4) == 0 && (std::memcmp(header + 8, "AIFF", 4) == 0 || std::memcmp(header + 8, "AIFC", 4) == 0);
    if (!riff && !form) return;
    const char* audioId = riff ? "data" : "SSND";
    std::uint64_t pos = 12;
    while (pos + 8 <= size) {
        unsigned char chunk[8];
        if (!readAt(pos, chunk, sizeof chunk)) return;
        const std::uint32_t length = riff ? readLe32(chunk + 4) : readBe32(chunk + 4);
        if (std::memcmp(chunk, audioId, 4) == 0) {
            if (length == 0 || length == 0xFFFFFFFFu) return;
            const std::uint64_t held = size - pos - 8;
            if (length > held)
                throw std::runtime_error(name + ": truncated: the header declares " + std::to_string(length) +
                                         " bytes of audio but the file holds " + std::to_string(held));
            return;
        }
        pos += 8 + std::uint64_t{length} + (length & 1u);
    }
}

/// libsndfile's log says when the audio chunk is shorter than declared ("data : 192000 (should be
/// 95978)"), also for the variants checkAudioChunk does not walk (RF64, W64, ...).
void checkLog(SNDFILE* file, const std::string& name) {
    std::string log(4096, '\0');
    sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
    log.resize(log.find('\0'));
    std::size_t start = 0;
    while (start < log.size()) {
        const std::size_t end = std::min(log.find('\n', start), log.size());
        const std::string_view line(log.data() + start, end - start);
        const std::size_t colon = line.find(':'), should = line.find("(should be ");
        if ((line.starts_with("data") || line.starts_with("SSND")) && colon != std::string_view::npos && should != std::string_view::npos) {
            // Only a declared size larger than the file: 0 and 0xFFFFFFFF mean "to the end" (streaming recorders).
            const unsigned long long declared = std::strtoull(std::string(line.substr(colon + 1)).c_str(), nullptr, 10);
            const unsigned long long held = std::strtoull(std::string(line.substr(should + 11)).c_str(), nullptr, 10);
            if (declared != 0 && declared != 0xFFFFFFFFull && declared > held)
                throw std::runtime_error(name + ": truncated file (libsndfile: " + std::string(line) + ")");
        }
        start = end + 1;
    }
}

std::string openFailure(const std::string& name) {
    const std::string why = sf_strerror(nullptr);
    switch (sf_error(nullptr)) {
        case SF_ERR_UNRECOGNISED_FORMAT:
            return name + ": not a WAV/FLAC/AIFF/OGG file (libsndfile: " + why + ")";
        case SF_ERR_MALFORMED_FILE:
            return name + ": malformed file (libsndfile: " + why + ")";
        case SF_ERR_UNSUPPORTED_ENCODING:
            return name + ": unsupported encoding (libsndfile: " + why + ")";
        case SF_ERR_SYSTEM:
            return name + ": cannot open (libsndfile: " + why + ")";
        default:  // e.g. a WAV without its 'data' chunk
            return name + ": not a WAV/FLAC/AIFF/OGG file (libsndfile: " + why + ")";
    }
}

DecodedSound decode(SNDFILE* file, const SF_INFO& info, std::uint64_t fileBytes, const ReadAt& readAt, const std::string& name,
                    const SoundReadLimits& limits) {
    if (info.channels < 1) throw std::runtime_error(name + ": malformed header (no channels)");
    if (info.channels > limits.maxChannels)
        throw std::runtime_error(name + ": " + std::to_string(info.channels) + " channels; at most " + std::to_string(limits.maxChannels));
    if (info.samplerate < limits.minSampleRate || info.samplerate > limits.maxSampleRate)
        throw std::runtime_error(name + ": sample rate " + std::to_string(info.samplerate) + " Hz is not supported (" +
                                 std::to_string(limits.minSampleRate) + " Hz to " + std::to_string(limits.maxSampleRate) + " Hz)");
    const std::int64_t maxFrames = std::min<std::int64_t>(limits.maxFrames, static_cast<std::int64_t>(limits.maxSeconds * info.samplerate));
    const bool lengthKnown = info.frames > 0 && info.frames < SF_COUNT_MAX;
    if (lengthKnown && info.frames > maxFrames) throw std::runtime_error(name + ": " + limits.tooLong);
    const int major = info.format & SF_FORMAT_TYPEMASK;
    if (major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX || major == SF_FORMAT_AIFF) checkAudioChunk(fileBytes, readAt, name);
    checkLog(file, name);

    DecodedSound sound;
    sound.fileChannels = info.channels;
    sound.sampleRate = info.samplerate;
    sound.format = info.format;
    const int kept = std::clamp(limits.keepChannels, 1, info.channels);
    sound.channels.resize(static_cast<std::size_t>(kept));
    if (lengthKnown)  // the header may lie: reserve at most a million frames ahead
        for (auto& c : sound.channels) c.reserve(static_cast<std::size_t>(std::min<std::int64_t>(info.frames, 1 << 20)));
    const sf_count_t chunkFrames = std::max(1, 65536 / info.channels);
    std::vector<float> chunk(static_cast<std::size_t>(chunkFrames) * static_cast<std::size_t>(info.channels));
    std::int64_t total = 0;
    for (;;) {
        const sf_count_t n = sf_readf_float(file, chunk.data(), chunkFrames);
        if (n <= 0) break;
        total += n;
        if (total > maxFrames) throw std::runtime_error(name + ": " + limits.tooLong);
        for (int c = 0; c < kept; ++c) {
            auto& out = sound.channels[static_cast<std::size_t>(c)];
            for (sf_count_t i = 0; i < n; ++i) out.push_back(chunk[static_cast<std::size_t>(i * info.channels + c)]);
        }
    }
    if (sf_error(file) != SF_ERR_NO_ERROR)
        throw std::runtime_error(name + ": corrupt audio after " + std::to_string(total) + " frames (libsndfile: " + sf_strerror(file) +
                                 ")");
    if (lengthKnown && total < info.frames)
        throw std::runtime_error(name + ": truncated: the header declares " + std::to_string(info.frames) + " frames but only " +
                                 std::to_string(total) + " could be decoded");
    if (total == 0) throw std::runtime_error(name + ": no audio in the file");
    for (auto& c : sound.channels)
        for (float& v : c)
            if (!std::isfinite(v)) {
                if (limits.nonFinite == NonFiniteSamples::Reject)
                    throw std::runtime_error(name + ": holds samples that are not numbers (NaN or infinity)");
                v = 0.0f;
                ++sound.replacedSamples;
            }
    return sound;
}

}  // namespace

DecodedSound readSound(const std::filesystem::path& path, const std::string& name, const SoundReadLimits& limits) {
    SF_INFO info{};
    const SndFilePtr file(sf_open(path.c_str(), SFM_READ, &info));
    if (!file) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) throw std::runtime_error(name + ": no such file (" + path.string() + ")");
        if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(name + ": is a folder, not a sound file");
        throw std::runtime_error(openFailure(name));
    }
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    std::ifstream in(path, std::ios::binary);
    const ReadAt readAt = [&](std::uint64_t pos, unsigned char* out, std::size_t n) {
        in.clear();
        in.seekg(static_cast<std::streamoff>(pos));
        return static_cast<bool>(in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n)));
    };
    return decode(file.get(), info, ec ? 0 : size, readAt, name, limits);
}

DecodedSound readSound(std::span<const std::uint8_t> bytes, const std::string& name, const SoundReadLimits& limits) {
    MemoryFile memory{bytes, 0};
    SF_VIRTUAL_IO io{memoryLength, memorySeek, memoryRead, memoryWrite, memoryTell};
    SF_INFO info{};
    const SndFilePtr file(sf_open_virtual(&io, SFM_READ, &info, &memory));
    if (!file) throw std::runtime_error(openFailure(name));
    const ReadAt readAt = [&](std::uint64_t pos, unsigned char* out, std::size_t n) {
        if (pos > bytes.size() || n > bytes.size() - pos) return false;
        std::memcpy(out, bytes.data() + pos, n);
        return true;
    };
    return decode(file.get(), info, bytes.size(), readAt, name, limits);
}

SampleFormat parseSampleFormat(std::string_view text) {
    if (text == "float" || text == "f32") return SampleFormat::Float32;
    if (text == "s16" || text == "pcm16") return SampleFormat::Pcm16;
    if (text == "s24" || text == "pcm24") return SampleFormat::Pcm24;
    throw std::invalid_argument("unknown sample format '" + std::string(text) + "' (use float, s16 or s24)");
}

struct SoundFileWriter::Handle {
    SNDFILE* file = nullptr;
};

SoundFileWriter::SoundFileWriter(const std::filesystem::path& path, int channels, double sampleRate, SampleFormat format, PeakChunk peak)
    : handle_(std::make_unique<Handle>()), path_(path) {
    SF_INFO info{};
    info.channels = channels;
    info.samplerate = static_cast<int>(sampleRate);
    const int subtype = format == SampleFormat::Float32 ? SF_FORMAT_FLOAT
                        : format == SampleFormat::Pcm16 ? SF_FORMAT_PCM_16
                                                        : SF_FORMAT_PCM_24;
    info.format = SF_FORMAT_WAV | subtype;
    handle_->file = sf_open(path.c_str(), SFM_WRITE, &info);
    if (!handle_->file) throw std::runtime_error("cannot write '" + path.string() + "': " + sf_strerror(nullptr));
    // Integer files: clip instead of wrapping around when a float exceeds full scale.
    sf_command(handle_->file, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    // Must come before the first write (libsndfile reserves the chunk's room in the header then).
    if (peak == PeakChunk::Omit && format == SampleFormat::Float32) sf_command(handle_->file, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
}

SoundFileWriter::~SoundFileWriter() {
    if (handle_->file) sf_close(handle_->file);
}

void SoundFileWriter::write(const float* interleaved, std::int64_t frames) {
    if (sf_writef_float(handle_->file, interleaved, frames) != frames)
        throw std::runtime_error("cannot write '" + path_.string() + "': " + sf_strerror(handle_->file));
}

void SoundFileWriter::close() {
    if (!handle_->file) return;
    const int rc = sf_close(handle_->file);
    handle_->file = nullptr;
    if (rc != 0) throw std::runtime_error("cannot finish '" + path_.string() + "': " + sf_error_number(rc));
}

}  // namespace kabel
