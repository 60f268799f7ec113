// libFuzzer target for audio-file loading: core/io/sound_file's readSound() from memory, the
// decoder the sampler, the wavetable oscillator and the convolver use for every file they load
// (libsndfile's virtual I/O, then Kabel's checks: channels, sample rate, length cap, truncated
// WAV/AIFF chunks, decoding errors, NaN/Inf samples). The first byte chooses the limits (a
// module's): the rest is the file. A std::runtime_error naming the file is the expected answer to
// a bad file; anything else (a crash, a sanitizer report, another exception, a broken invariant:
// a kept sample that is not finite, channels of different lengths, a length over the cap) is a bug.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "core/io/sound_file.hpp"

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    kabel::SoundReadLimits limits;
    // Small caps: compressed formats can expand a few bytes into minutes of audio.
    limits.maxFrames = std::int64_t{1} << 18;
    limits.maxSeconds = (selector & 1) ? 2.0 : 30.0;
    limits.maxChannels = (selector & 2) ? 2 : 256;
    limits.keepChannels = 1 + (selector >> 2) % 3;
    limits.nonFinite = (selector & 0x20) ? kabel::NonFiniteSamples::Zero : kabel::NonFiniteSamples::Reject;
    const std::string name = "fuzz.wav";
    try {
        const kabel::DecodedSound sound = kabel::readSound(std::span<const std::uint8_t>(data + 1, size - 1), name, limits);
        check(sound.fileChannels >= 1 && sound.fileChannels <= limits.maxChannels);
        check(sound.sampleRate >= limits.minSampleRate && sound.sampleRate <= limits.maxSampleRate);
        check(static_cast<int>(sound.channels.size()) == std::min(sound.fileChannels, limits.keepChannels));
        const std::int64_t frames = sound.frames();
        check(frames >= 1 && frames <= limits.maxFrames && frames <= limits.maxSeconds * sound.sampleRate);
        for (const auto& channel : sound.channels) {
            check(static_cast<std::int64_t>(channel.size()) == frames);
            for (const float v : channel) check(std::isfinite(v));
        }
        check(limits.nonFinite == kabel::NonFiniteSamples::Zero || sound.replacedSamples == 0);
    } catch (const std::runtime_error& e) {
        check(std::string(e.what()).rfind(name + ": ", 0) == 0);  // names the file first
    }
    return 0;
}
