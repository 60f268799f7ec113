#include "core/io/sound_file.hpp"

#include <sndfile.h>

#include <stdexcept>
#include <string>

namespace kabel {

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
