// core/io/sound_file: readSound(), the decoder every module that loads audio uses, from a path and
// from memory: the same samples both ways, and the checks (NaN/Inf samples, truncation, channel,
// rate and length limits) with the file's name first in every message.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/io/sound_file.hpp"
#include "tests/support/temp_dir.hpp"

using kabel::DecodedSound;
using kabel::NonFiniteSamples;
using kabel::readSound;
using kabel::SoundReadLimits;
using kabel::test::TempDir;

namespace {

void put16(std::string& s, std::uint16_t v) {
    s.append({static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)});
}
void put32(std::string& s, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

/// A canonical WAV: `tag` 1 = PCM (16-bit samples), 3 = IEEE float (32-bit).
std::string wav(int tag, int channels, int rate, const std::string& payload, std::uint32_t declaredData = 0) {
    const int bits = tag == 3 ? 32 : 16;
    std::string fmt;
    put16(fmt, static_cast<std::uint16_t>(tag));
    put16(fmt, static_cast<std::uint16_t>(channels));
    put32(fmt, static_cast<std::uint32_t>(rate));
    put32(fmt, static_cast<std::uint32_t>(rate * channels * bits / 8));
    put16(fmt, static_cast<std::uint16_t>(channels * bits / 8));
    put16(fmt, static_cast<std::uint16_t>(bits));
    std::string body = "WAVEfmt ";
    put32(body, static_cast<std::uint32_t>(fmt.size()));
    body += fmt + "data";
    put32(body, declaredData ? declaredData : static_cast<std::uint32_t>(payload.size()));
    body += payload;
    std::string file = "RIFF";
    put32(file, static_cast<std::uint32_t>(body.size()));
    return file + body;
}

std::string floats(const std::vector<float>& v) {
    std::string s(v.size() * sizeof(float), '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string failure(const std::string& file, const SoundReadLimits& limits = {}) {
    try {
        readSound(bytes(file), "x.wav", limits);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("readSound decodes the same samples from a path and from memory", "[sound_file]") {
    const std::vector<float> stereo = {0.0f, 0.5f, 0.25f, -0.25f, -1.0f, 1.0f};
    const std::string file = wav(3, 2, 44100, floats(stereo));
    TempDir dir;
    dir.write("s.wav", file);
    for (const DecodedSound& s : {readSound(dir.path / "s.wav", "s.wav"), readSound(bytes(file), "s.wav")}) {
        CHECK(s.fileChannels == 2);
        CHECK(s.sampleRate == 44100);
        REQUIRE(s.frames() == 3);
        REQUIRE(s.channels.size() == 2);
        CHECK(s.channels[0] == std::vector<float>{0.0f, 0.25f, -1.0f});
        CHECK(s.channels[1] == std::vector<float>{0.5f, -0.25f, 1.0f});
    }
    SECTION("keepChannels keeps the first channels") {
        SoundReadLimits one;
        one.keepChannels = 1;
        const DecodedSound s = readSound(bytes(file), "s.wav", one);
        CHECK(s.fileChannels == 2);
        REQUIRE(s.channels.size() == 1);
        CHECK(s.channels[0] == std::vector<float>{0.0f, 0.25f, -1.0f});
    }
}

TEST_CASE("readSound rejects NaN and infinite samples or sets them to 0, as asked", "[sound_file]") {
    const float inf = std::numeric_limits<float>::infinity();
    const std::string file = wav(3, 1, 48000, floats({0.5f, std::nanf(""), -inf, 0.25f}));
    CHECK(failure(file) == "x.wav: holds samples that are not numbers (NaN or infinity)");
    SoundReadLimits zero;
    zero.nonFinite = NonFiniteSamples::Zero;
    const DecodedSound s = readSound(bytes(file), "x.wav", zero);
    CHECK(s.replacedSamples == 2);
    CHECK(s.channels[0] == std::vector<float>{0.5f, 0.0f, 0.0f, 0.25f});
}

TEST_CASE("readSound names the file and the problem for bad files", "[sound_file]") {
    std::string pcm;
    for (int i = 0; i < 16; ++i) put16(pcm, static_cast<std::uint16_t>(i * 1000));
    CHECK(failure(wav(1, 1, 8000, pcm, 4000)) == "x.wav: truncated: the header declares 4000 bytes of audio but the file holds 32");
    CHECK(failure("not a sound file at all").rfind("x.wav: not a WAV/FLAC/AIFF/OGG file (libsndfile: ", 0) == 0);
    CHECK(failure(wav(1, 1, 500, pcm)) == "x.wav: sample rate 500 Hz is not supported (1000 Hz to 768000 Hz)");
    SoundReadLimits mono;
    mono.maxChannels = 1;
    CHECK(failure(wav(1, 2, 8000, pcm), mono) == "x.wav: 2 channels; at most 1");
    SoundReadLimits shortOnly;
    shortOnly.maxFrames = 10;
    shortOnly.tooLong = "longer than 10 frames";
    CHECK(failure(wav(1, 1, 8000, pcm), shortOnly) == "x.wav: longer than 10 frames");
    CHECK(failure(wav(1, 1, 8000, "")) == "x.wav: no audio in the file");
    TempDir dir;
    try {
        readSound(dir.path / "missing.wav", "missing.wav");
        FAIL("no error");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "missing.wav: no such file (" + (dir.path / "missing.wav").string() + ")");
    }
}
