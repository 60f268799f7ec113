// Tests for modules/sampler.cpp: every format libsndfile writes, sample-exact at unity pitch,
// rate conversion, pitch and loop points to the frame, interpolation accuracy, click-free starts,
// stops, wraps and swaps, rejection of bad files (generated and from the shared corpus) on the
// loader thread while the engine keeps playing, speed.
#include <catch2/catch.hpp>

#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/shared_buffers.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::TempDir;

using kabel::test::constantSignal;
using kabel::test::ModuleHarness;
using kabel::test::Signal;

namespace fs = std::filesystem;

constexpr double kFs = 48000.0;

/// A sound file's content: channels[c][frame], as floats the file represents exactly.
using Frames = std::vector<std::vector<float>>;

/// Writes `content` with libsndfile. Integer formats get integers of their own depth (written
/// as left-aligned 32-bit ints, which libsndfile stores without rounding).
void writeSound(const fs::path& path, int format, int rate, const Frames& content, int bits = 0) {
    SF_INFO info{};
    info.channels = static_cast<int>(content.size());
    info.samplerate = rate;
    info.format = format;
    REQUIRE(sf_format_check(&info));
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(f != nullptr);
    const std::size_t frames = content[0].size();
    const std::size_t ch = content.size();
    if (bits > 0) {
        std::vector<int> x(frames * ch);
        for (std::size_t n = 0; n < frames; ++n)
            for (std::size_t c = 0; c < ch; ++c)
                x[n * ch + c] = static_cast<int>(std::lround(double(content[c][n]) * std::ldexp(1.0, bits - 1))) * (1 << (32 - bits));
        REQUIRE(sf_writef_int(f, x.data(), static_cast<sf_count_t>(frames)) == static_cast<sf_count_t>(frames));
    } else {
        std::vector<float> x(frames * ch);
        for (std::size_t n = 0; n < frames; ++n)
            for (std::size_t c = 0; c < ch; ++c) x[n * ch + c] = content[c][n];
        REQUIRE(sf_writef_float(f, x.data(), static_cast<sf_count_t>(frames)) == static_cast<sf_count_t>(frames));
    }
    REQUIRE(sf_close(f) == 0);
}

/// Random samples that a `bits`-deep integer format holds exactly (bits 0: any float in +-0.9).
/// 32-bit ints keep 24 significant bits so a float holds them exactly too.
Frames randomContent(int channels, int frames, int bits, unsigned seed) {
    std::mt19937 rng(seed);
    Frames x(static_cast<std::size_t>(channels), std::vector<float>(static_cast<std::size_t>(frames)));
    const int depth = bits == 0 || bits > 24 ? 24 : bits;
    std::uniform_int_distribution<int> u(-(1 << (depth - 1)) + 1, (1 << (depth - 1)) - 1);
    for (auto& ch : x)
        for (auto& v : ch) v = static_cast<float>(std::ldexp(double(u(rng)), -(depth - 1)) * (bits == 0 ? 0.9 : 1.0));
    return x;
}

Frames sineContent(int channels, int frames, double hz, double rate, double amplitude = 0.5) {
    Frames x;
    for (int c = 0; c < channels; ++c) x.push_back(kabel::test::sineSignal(hz, frames, amplitude, 0.3 * c, rate));
    return x;
}

std::string state(const std::string& key, const std::string& value) {
    return "{\"" + key + "\": \"" + value + "\"}";
}

/// Plays `file` once (gate high from frame 0) for `frames` frames; returns {left, right}.
Signal playOnce(ModuleHarness& h, int frames) {
    h.connect("gate", constantSignal(1.0f, frames));
    auto out = h.run(frames);
    return {out[0][0], out[1][0]};
}

int lastNonZero(const std::vector<float>& x) {
    for (int n = static_cast<int>(x.size()) - 1; n >= 0; --n)
        if (x[static_cast<std::size_t>(n)] != 0.0f) return n;
    return -1;
}

/// Frames where a != b (first few), for messages.
std::string firstDifferences(const std::vector<float>& a, const std::vector<float>& b, std::size_t count) {
    std::string s;
    int shown = 0;
    for (std::size_t n = 0; n < count && shown < 5; ++n)
        if (a[n] != b[n]) {
            s += "frame " + std::to_string(n) + ": " + std::to_string(a[n]) + " vs " + std::to_string(b[n]) + "; ";
            ++shown;
        }
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// formats, rates, exactness

TEST_CASE("sampler plays lossless files of every format sample-exactly at unity pitch at the engine rate", "[sampler]") {
    struct Format {
        const char* name;
        int format;
        int bits;  // 0: float
        const char* ext;
    };
    const Format formats[] = {
        {"WAV 16-bit", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16, "wav"},    {"WAV 24-bit", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 24, "wav"},
        {"WAV 32-bit", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 32, "wav"},    {"WAV float", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0, "wav"},
        {"AIFF 16-bit", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 16, "aiff"}, {"AIFF 24-bit", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 24, "aiff"},
        {"AIFF float", SF_FORMAT_AIFF | SF_FORMAT_FLOAT, 0, "aiff"},    {"FLAC 16-bit", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16, "flac"},
        {"FLAC 24-bit", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 24, "flac"},
    };
    TempDir dir;
    int checked = 0;
    for (const Format& f : formats)
        for (int rate : {44100, 48000, 96000})
            for (int channels : {1, 2}) {
                const int frames = 3000 + rate / 100;
                const Frames content = randomContent(channels, frames, f.bits, static_cast<unsigned>(rate + channels + f.bits));
                const std::string name = "take." + std::string(f.ext);
                writeSound(dir.path / name, f.format, rate, content, f.bits);
                INFO(f.name << ", " << rate << " Hz, " << channels << " ch");
                ModuleHarness h("sampler", rate, 37);  // an odd block size crosses every boundary
                h.loadState(state("file", name), dir.path);
                REQUIRE(h.module().status().empty());
                const Signal out = playOnce(h, frames + 500);
                for (int c = 0; c < 2; ++c) {
                    const std::vector<float>& want = content[static_cast<std::size_t>(channels == 2 ? c : 0)];
                    std::vector<float> got(out[static_cast<std::size_t>(c)].begin(), out[static_cast<std::size_t>(c)].begin() + frames);
                    INFO("channel " << c << ": " << firstDifferences(got, want, want.size()));
                    CHECK(got == want);
                    CHECK(lastNonZero(out[static_cast<std::size_t>(c)]) < frames);  // silence after the end
                }
                ++checked;
            }
    CHECK(checked == 9 * 3 * 2);
}

TEST_CASE("sampler converts other rates: length scales by the rate ratio and a tone keeps its frequency", "[sampler]") {
    TempDir dir;
    for (int rate : {22050, 44100, 96000}) {
        INFO(rate << " Hz file at 48 kHz");
        const int frames = rate;  // one second
        const double hz = 997.0;
        writeSound(dir.path / "tone.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, sineContent(1, frames, hz, rate), 0);
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        REQUIRE(h.module().status().empty());
        const Signal out = playOnce(h, 50000);
        const double expected = double(frames) * kFs / rate;
        CHECK(std::fabs((lastNonZero(out[0]) + 1) - expected) <= 1.0);
        const std::span<const float> middle(out[0].data() + 2000, 44000);
        CHECK(kabel::test::zeroCrossingFrequency(middle, kFs) == Approx(hz).margin(0.01));
        CHECK(kabel::test::toneAmplitude(middle, kFs, hz) == Approx(0.5).margin(0.001));
        CHECK(out[1] == out[0]);  // mono feeds both outputs
    }
}

TEST_CASE("sampler plays lossy OGG Vorbis at the right level and frequency", "[sampler]") {
    TempDir dir;
    for (int rate : {44100, 48000}) {
        for (int channels : {1, 2}) {
            INFO(rate << " Hz, " << channels << " ch");
            writeSound(dir.path / "tone.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, rate, sineContent(channels, rate, 440.0, rate), 0);
            ModuleHarness h("sampler", kFs);
            h.loadState(state("file", "tone.ogg"), dir.path);
            REQUIRE(h.module().status().empty());
            const Signal out = playOnce(h, 50000);
            CHECK(std::fabs((lastNonZero(out[0]) + 1) - kFs) <= 1.0);
            for (int c = 0; c < 2; ++c) {
                const std::span<const float> middle(out[static_cast<std::size_t>(c)].data() + 4000, 40000);
                CHECK(kabel::test::zeroCrossingFrequency(middle, kFs) == Approx(440.0).margin(0.05));
                CHECK(kabel::test::toneAmplitude(middle, kFs, 440.0) == Approx(0.5).margin(0.01));
            }
        }
    }
}

TEST_CASE("sampler pitch: one octave up is exactly half the length, one down exactly twice", "[sampler]") {
    TempDir dir;
    const int frames = 10000;
    const Frames content = randomContent(2, frames, 0, 11);
    writeSound(dir.path / "noise.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, content, 0);

    SECTION("pitch input +1 and tune +12 semitones") {
        for (int how = 0; how < 2; ++how) {
            ModuleHarness h("sampler", kFs);
            h.loadState(state("file", "noise.wav"), dir.path);
            if (how == 0)
                h.connect("pitch", constantSignal(1.0f, frames));
            else
                h.setParam("tune", 12.0f);
            const Signal out = playOnce(h, frames);
            CHECK(lastNonZero(out[0]) + 1 == frames / 2);
            int exact = 0;
            for (int n = 0; n < frames / 2; ++n) exact += out[0][n] == content[0][2 * n] && out[1][n] == content[1][2 * n];
            CHECK(exact == frames / 2);  // every other frame of the file, exactly
        }
    }
    SECTION("pitch input -1") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "noise.wav"), dir.path);
        h.connect("pitch", constantSignal(-1.0f, 3 * frames));
        const Signal out = playOnce(h, 3 * frames);
        // At half speed the last position read is frame N - 0.5: 2N frames in all.
        CHECK(lastNonZero(out[0]) + 1 == 2 * frames);
        int exact = 0;
        for (int n = 0; n < frames; ++n) exact += out[0][2 * n] == content[0][n];
        CHECK(exact == frames);  // the even output frames land on the file's frames
    }
}

TEST_CASE("sampler interpolation: cubic and sinc follow a tone between samples, the sinc more closely", "[sampler]") {
    TempDir dir;
    const int frames = 96000;
    for (double hz : {1000.0, 5000.0, 12000.0, 16000.0}) {
        writeSound(dir.path / "tone.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(1, frames, hz, kFs, 0.5), 0);
        double errorDb[2];
        for (int kind = 0; kind < 2; ++kind) {
            ModuleHarness h("sampler", kFs);
            h.loadState(state("file", "tone.wav"), dir.path);
            h.setParam("interpolation", float(kind));
            h.setParam("tune", 0.37f);  // a fraction of a frame that keeps changing
            const Signal out = playOnce(h, 80000);
            // The ideal: the file's sine at the sampler's exact fixed-point positions.
            const auto inc = static_cast<std::uint64_t>(std::llround(std::exp2(0.37 / 12.0) * 4294967296.0));
            double err = 0.0;
            int count = 0;
            for (int n = 2000; n < 80000; ++n) {
                const double pos = double(std::uint64_t(n) * inc) / 4294967296.0;
                const double ideal = 0.5 * std::sin(2.0 * std::numbers::pi * hz * pos / kFs);
                err += (out[0][n] - ideal) * (out[0][n] - ideal);
                ++count;
            }
            errorDb[kind] = 20.0 * std::log10(std::sqrt(err / count) / (0.5 / std::sqrt(2.0)));
        }
        std::printf("interpolation error at %5.0f Hz: cubic %6.1f dB, sinc %6.1f dB (re the tone)\n", hz, errorDb[0], errorDb[1]);
        CHECK(errorDb[1] < errorDb[0]);
        CHECK(errorDb[1] < -90.0);  // the sinc: -92..-107 dB wherever a tone sits in the band
        if (hz == 1000.0) CHECK(errorDb[0] < -85.0);
        if (hz == 5000.0) CHECK(errorDb[0] < -45.0);
    }
}

// ---------------------------------------------------------------------------------------------
// modes and loop points

TEST_CASE("sampler loop points are exact: the loop repeats with its period and plays the file between the crossfades", "[sampler]") {
    TempDir dir;
    const int frames = 48000;
    const Frames content = randomContent(1, frames, 0, 5);
    const std::vector<float>& s = content[0];
    writeSound(dir.path / "noise.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, content, 0);
    const int xfMax = 480;  // 10 ms at 48 kHz

    SECTION("a loop inside the file crossfades its end with the frames before its start") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "noise.wav"), dir.path);
        h.setParam("mode", 2.0f);
        h.setParam("loop_start", 0.25f);
        h.setParam("loop_end", 0.75f);
        const Signal out = playOnce(h, 150000);
        const int ls = 12000, le = 36000, len = le - ls, x = xfMax;
        int exact = 0, periodic = 0, blended = 0;
        for (int n = 0; n < le - x; ++n) exact += out[0][n] == s[n];  // first pass: the file itself
        CHECK(exact == le - x);
        for (int n = ls; n + len < 150000; ++n) periodic += out[0][n + len] == out[0][n];
        CHECK(periodic == 150000 - len - ls);
        for (int k = 0; k < x; ++k) {  // the crossfade: file at p fading into file at p - len
            const int p = le - x + k;
            const double w = double(k) / x;
            const double want = s[p] + w * (s[p - len] - s[p]);
            blended += std::fabs(out[0][p] - want) < 1e-6;
        }
        CHECK(blended == x);
        CHECK(kabel::test::maxStep(std::span<const float>(out[0].data() + le - 2, 4)) < 2.0f);  // sanity: it is noise
    }
    SECTION("a loop from frame 0 crossfades the frames after each wrap with those after its end") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "noise.wav"), dir.path);
        h.setParam("mode", 2.0f);
        h.setParam("loop_start", 0.0f);
        h.setParam("loop_end", 0.5f);
        const Signal out = playOnce(h, 100000);
        const int le = 24000, x = xfMax;
        int exact = 0, blended = 0, periodic = 0;
        for (int n = 0; n < le; ++n) exact += out[0][n] == s[n];  // the first pass has not wrapped
        CHECK(exact == le);
        for (int k = 0; k < x; ++k) {
            const double w = double(k) / x;
            const double want = s[k] + (1.0 - w) * (s[le + k] - s[k]);
            blended += std::fabs(out[0][le + k] - want) < 1e-6;
        }
        CHECK(blended == x);
        for (int k = x; k < le; ++k) exact += out[0][le + k] == s[k];
        CHECK(exact == le + le - x);
        for (int n = le; n + le < 100000; ++n) periodic += out[0][n + le] == out[0][n];
        CHECK(periodic == 100000 - 2 * le);
    }
    SECTION("a loop over the whole file repeats it exactly") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "noise.wav"), dir.path);
        h.setParam("mode", 2.0f);
        const Signal out = playOnce(h, 3 * frames);
        int exact = 0;
        for (int n = 0; n < 3 * frames; ++n) exact += out[0][n] == s[n % frames];
        CHECK(exact == 3 * frames);
    }
    SECTION("at an octave up the loop still repeats with its period in output frames") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "noise.wav"), dir.path);
        h.setParam("mode", 2.0f);
        h.setParam("loop_start", 0.25f);
        h.setParam("loop_end", 0.75f);
        h.setParam("tune", 12.0f);
        const Signal out = playOnce(h, 60000);
        int periodic = 0;
        for (int n = 20000; n + 12000 < 60000; ++n) periodic += out[0][n + 12000] == out[0][n];
        CHECK(periodic == 60000 - 12000 - 20000);
    }
}

TEST_CASE("sampler modes: one-shot plays to the end, gate stops with a release, loop stops with a release", "[sampler]") {
    TempDir dir;
    const int frames = 24000;
    writeSound(dir.path / "tone.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(1, frames, 200.0, kFs, 0.9), 0);
    std::vector<float> gate(60000, 0.0f);
    std::fill(gate.begin() + 100, gate.begin() + 5100, 1.0f);  // 5000 frames high
    const float sineStep = float(0.9 * 2.0 * std::numbers::pi * 200.0 / kFs);
    for (int mode = 0; mode < 3; ++mode) {
        INFO("mode " << mode);
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        h.setParam("mode", float(mode));
        h.connect("gate", gate);
        const auto out = h.run(60000)[0][0];
        const int last = lastNonZero(out);
        if (mode == 0) {
            CHECK(last == 100 + frames - 1);  // plays to the end of the file
        } else {
            CHECK(last >= 5100);
            CHECK(last < 5100 + 240);  // 5 ms release
        }
        CHECK(kabel::test::maxStep(out) <= sineStep * 1.01f);  // no click at start or stop
        CHECK(out[100] == 0.0f);                               // the file's first frame (sin 0), at the gate's frame
        CHECK(out[101] != 0.0f);
    }
}

TEST_CASE("sampler voices are click-free: retrigger, start offset, loop seams, moved loop ends, new files", "[sampler]") {
    TempDir dir;
    const int frames = 48000;
    writeSound(dir.path / "tone.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(1, frames, 200.0, kFs, 0.9), 0);
    writeSound(dir.path / "other.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(1, frames, 300.0, kFs, 0.9), 0);
    const float sineStep = float(0.9 * 2.0 * std::numbers::pi * 300.0 / kFs);

    SECTION("retriggers every 1001 frames in one-shot mode") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        std::vector<float> gate(20000, 0.0f);
        for (int n = 0; n < 20000; ++n) gate[n] = (n % 1001) < 500 ? 1.0f : 0.0f;
        h.connect("gate", gate);
        const auto out = h.run(20000)[0][0];
        CHECK(kabel::test::maxStep(out) <= sineStep * 1.5f);
    }
    SECTION("a start offset fades in over 5 ms") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        h.setParam("start", 0.3f);  // a peak-ish phase of the sine
        const auto out = playOnce(h, 2000)[0];
        CHECK(std::fabs(out[0]) == 0.0f);
        CHECK(std::fabs(out[1]) < 0.9f / 240.0f + 1e-6f);
        CHECK(kabel::test::maxStep(out) <= sineStep * 1.5f);
    }
    SECTION("loop seams at arbitrary phases") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        h.setParam("mode", 2.0f);
        h.setParam("loop_start", 0.3013f);
        h.setParam("loop_end", 0.4527f);
        const auto out = playOnce(h, 60000)[0];
        // Without the crossfade the seam would jump by |s[le] - s[ls]|:
        const std::vector<float> s = sineContent(1, frames, 200.0, kFs, 0.9)[0];
        const int ls = int(std::lround(0.3013 * frames)), le = int(std::lround(0.4527 * frames));
        INFO("raw seam step " << std::fabs(s[le] - s[ls]));
        REQUIRE(std::fabs(s[le] - s[ls]) > 0.5f);
        CHECK(kabel::test::maxStep(out) <= sineStep * 1.2f);
    }
    SECTION("the loop end moved behind a playing voice") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        h.setParam("mode", 2.0f);
        h.connect("gate", constantSignal(1.0f, 40000));
        auto first = h.run(30000)[0][0];  // at frame 30000 of the file
        h.setParam("loop_end", 0.2f);     // the loop now ends at 9600, far behind
        auto second = h.run(10000)[0][0];
        first.insert(first.end(), second.begin(), second.end());
        CHECK(kabel::test::maxStep(first) <= sineStep * 1.5f);
        CHECK(kabel::test::rms(std::span<const float>(first.data() + 35000, 5000)) > 0.5);  // still playing
    }
    SECTION("a new file while a held loop plays") {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", "tone.wav"), dir.path);
        h.setParam("mode", 2.0f);
        h.connect("gate", constantSignal(1.0f, 40000));
        auto out = h.run(10000)[0][0];
        h.loadState(state("file", "other.wav"), dir.path);
        auto more = h.run(30000)[0][0];
        out.insert(out.end(), more.begin(), more.end());
        CHECK(kabel::test::maxStep(out) <= sineStep * 1.5f);
        // The held voice restarts on the new file: 300 Hz from then on.
        const std::span<const float> after(out.data() + 12000, 28000);
        CHECK(kabel::test::zeroCrossingFrequency(after, kFs) == Approx(300.0).margin(0.01));
    }
}

TEST_CASE("sampler polyphony: one voice per gate channel, velocity scales each voice", "[sampler]") {
    TempDir dir;
    const Frames content = randomContent(1, 5000, 16, 3);
    writeSound(dir.path / "hit.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, content, 16);
    ModuleHarness h("sampler", kFs);
    h.loadState(state("file", "hit.wav"), dir.path);
    std::vector<float> g0(8000, 0.0f), g1(8000, 0.0f), g2(8000, 0.0f);
    std::fill(g0.begin(), g0.end(), 1.0f);
    std::fill(g1.begin() + 1000, g1.end(), 1.0f);
    h.connect("gate", Signal{g0, g1, g2});
    h.connect("velocity", Signal{constantSignal(1.0f, 8000), constantSignal(0.5f, 8000), constantSignal(1.0f, 8000)});
    const auto out = h.run(8000);
    REQUIRE(h.outputChannels(0) == 3);
    REQUIRE(h.outputChannels(1) == 3);
    int exact0 = 0, exact1 = 0;
    for (int n = 0; n < 5000; ++n) {
        exact0 += out[0][0][n] == content[0][n];
        exact1 += out[0][1][n + 1000] == 0.5f * content[0][n];
    }
    CHECK(exact0 == 5000);
    CHECK(exact1 == 5000);
    CHECK(lastNonZero(out[0][1]) < 6000);
    CHECK(kabel::test::peak(out[0][2]) == 0.0f);  // never gated
    CHECK(lastNonZero(out[0][1]) >= 5000);
}

// ---------------------------------------------------------------------------------------------
// bad files and state

TEST_CASE("sampler rejects malformed and truncated files with the file's name and the reason, and keeps playing", "[sampler]") {
    TempDir dir;
    const Frames good = randomContent(1, 4000, 16, 9);
    writeSound(dir.path / "good.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, good, 16);
    const Frames big = randomContent(2, 48000, 16, 10);
    writeSound(dir.path / "full.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, big, 16);
    writeSound(dir.path / "full.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, big, 24);
    writeSound(dir.path / "full.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, big, 16);
    writeSound(dir.path / "full.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 48000, sineContent(2, 48000, 440.0, kFs), 0);
    auto cut = [&](const std::string& from, const std::string& to, double fraction) {
        std::ifstream in(dir.path / from, std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream(dir.path / to, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() * fraction));
    };
    cut("full.wav", "cut.wav", 0.5);
    cut("full.aiff", "cut.aiff", 0.5);
    cut("full.flac", "cut.flac", 0.5);
    cut("full.ogg", "cut.ogg", 0.5);
    cut("full.wav", "header-only.wav", 0.0005);
    std::ofstream(dir.path / "notes.wav") << "these are my notes, not a sound\n";
    std::ofstream(dir.path / "empty.wav");
    fs::create_directories(dir.path / "folder.wav");

    struct Case {
        const char* file;
        const char* reason;
    };
    const Case cases[] = {
        {"cut.wav", "truncated"},         {"cut.aiff", "truncated"},
        {"cut.flac", "truncated"},        {"cut.ogg", "malformed file (libsndfile: "},
        {"header-only.wav", "truncated"}, {"notes.wav", "not a WAV/FLAC/AIFF/OGG file (libsndfile: "},
        {"empty.wav", "(libsndfile: "},   {"missing.wav", "no such file"},
        {"folder.wav", "is a folder"},
    };
    ModuleHarness h("sampler", kFs);
    h.loadState(state("file", "good.wav"), dir.path);
    REQUIRE(h.module().status().empty());
    std::vector<float> gate(3 * 5000 * std::size(cases), 0.0f);
    for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = (i % 5000) < 4500 ? 1.0f : 0.0f;
    h.connect("gate", gate);
    int rejected = 0;
    for (const Case& c : cases) {
        INFO(c.file);
        h.loadState(state("file", c.file), dir.path);
        const std::string status = h.module().status();
        INFO(status);
        CHECK(status.rfind(std::string(c.file) + ": ", 0) == 0);  // names the file first
        CHECK(status.find(c.reason) != std::string::npos);
        // The good sample keeps playing, sample for sample.
        const auto out = h.run(5000)[0][0];
        std::vector<float> got(out.begin(), out.begin() + 4000);
        CHECK(got == good[0]);
        rejected += !status.empty();
    }
    CHECK(rejected == int(std::size(cases)));
    std::printf("e.g. %s\n", ("cut.wav -> " +
                              [&] {
                                  h.loadState(state("file", "cut.wav"), dir.path);
                                  return h.module().status();
                              }())
                                 .c_str());
}

TEST_CASE("sampler reads the shared corpus: odd valid files load, fuzzed and unsupported ones are rejected by name", "[sampler]") {
    const fs::path corpus = fs::path(KABEL_SHARED_DIR) / "corpus" / "audio";
    REQUIRE(fs::is_directory(corpus));
    struct Valid {
        const char* file;
        int frames;
        int rate;
        int channels;
    };
    // Frame counts and rates from the corpus's SOURCES.md (checked there against sox).
    const Valid valid[] = {
        {"hound/pcmwaveformat-16bit-44100Hz-mono.wav", 4, 44100, 1},
        {"hound/waveformatex-16bit-44100Hz-stereo.wav", 4, 44100, 2},
        {"hound/pcmwaveformat-16bit-44100Hz-mono-extra.wav", 4, 44100, 1},
        {"hound/pcmwaveformat-8bit-44100Hz-mono.wav", 4, 44100, 1},
        {"hound/pcmwaveformat-24bit-4byte-48kHz-stereo.wav", 2, 48000, 2},
        {"hound/waveformatextensible-24bit-4byte-48kHz-stereo.wav", 2, 48000, 2},
        {"hound/waveformatextensible-32bit-48kHz-stereo.wav", 2, 48000, 2},
        {"hound/waveformatextensible-ieeefloat-44100Hz-mono.wav", 4, 44100, 1},
        {"hound/nonstandard-01.wav", 1, 48000, 2},
        {"hound/pop.wav", 100, 44100, 1},
        {"claxon/pop.flac", 100, 44100, 1},
        {"claxon/empty_vorbis_comment.flac", 100, 44100, 1},
        {"claxon/non_subset.flac", 4096, 44100, 2},
        {"claxon/wasted_bits.flac", 4410, 44100, 1},
        {"go-audio-wav/kick.wav", 4484, 22050, 1},
        {"go-audio-wav/bwf.wav", 7287, 44100, 1},
        {"go-audio-wav/padded24b.wav", 3713, 44100, 1},
        {"go-audio-wav/listChunkInHeader.wav", 15318, 44100, 2},
        {"go-audio-aiff/kick.aif", 4484, 22050, 1},
        {"go-audio-aiff/sowt.aif", 4064, 44100, 2},
        {"go-audio-aiff/padded24b.aif", 22913, 48000, 1},
        {"adamstark-audiofile/wav_stereo_32bit_48000.wav", 418909, 48000, 2},
    };
    for (const Valid& v : valid) {
        INFO(v.file);
        ModuleHarness h("sampler", v.rate);
        h.loadState(state("file", v.file), corpus);
        INFO(h.module().status());
        REQUIRE(h.module().status().empty());
        const Signal out = playOnce(h, v.frames + 64);
        CHECK(lastNonZero(out[0]) < v.frames);
        if (std::string(v.file) == "hound/pop.wav" || std::string(v.file) == "claxon/pop.flac") {
            // 0, 2052, 4097, 6126 ... (16-bit) at the file's rate: exact.
            CHECK(out[0][1] == 2052.0f / 32768.0f);
            CHECK(out[0][2] == 4097.0f / 32768.0f);
            CHECK(out[0][3] == 6126.0f / 32768.0f);
        }
        if (std::string(v.file) == "go-audio-wav/kick.wav") CHECK(out[0][0] == 76.0f / 32768.0f);
    }
    // Everything SOURCES.md lists as to be rejected.
    std::vector<fs::path> bad;
    for (const char* folder : {"hound/fuzz", "claxon/fuzz"})
        for (const auto& e : fs::directory_iterator(corpus / folder)) bad.push_back(fs::relative(e.path(), corpus));
    for (const char* f : {"claxon/large_vendor_string.flac", "claxon/large_vorbis_comment_block.flac", "go-audio-aiff/ableton.aif",
                          "go-audio-wav/sample.avi"})
        bad.emplace_back(f);
    std::sort(bad.begin(), bad.end());
    CHECK(bad.size() == 6 + 23 + 4);
    int rejected = 0;
    for (const fs::path& f : bad) {
        ModuleHarness h("sampler", kFs);
        h.loadState(state("file", f.string()), corpus);
        const std::string status = h.module().status();
        INFO(f.string() << " -> " << status);
        CHECK(status.rfind(f.string() + ": ", 0) == 0);
        rejected += !status.empty();
        const Signal out = playOnce(h, 256);
        CHECK(kabel::test::peak(out[0]) == 0.0f);
    }
    CHECK(rejected == int(bad.size()));
}

TEST_CASE("sampler refuses state it cannot use with a clear message", "[sampler]") {
    ModuleHarness h("sampler", kFs);
    auto message = [&](const std::string& json) {
        try {
            h.loadState(json);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(message(R"({"file": 3})") == "\"file\" must be a string");
    CHECK(message(R"({"file": ""})") == "\"file\" must not be empty");
    CHECK(message(R"({"file": "a.wav", "buffer": "loop1"})") == "give \"file\" or \"buffer\", not both");
    CHECK(message(R"({"fiel": "a.wav"})") == "unknown key \"fiel\" (use \"file\" or \"buffer\")");
    CHECK(message(R"(["a.wav"])").find("state must be an object") == 0);
    CHECK(message("") == "accepted");
    CHECK(message("{}") == "accepted");
}

TEST_CASE("sampler plays a live buffer by name, once it exists", "[sampler]") {
    kabel::SharedBuffers buffers;
    ModuleHarness h("sampler", kFs);
    h.module().loadState(nlohmann::json::parse(state("buffer", "loop1")), kabel::LoadContext{{}, nullptr, &buffers});
    CHECK(h.module().status() == "live buffer 'loop1' does not exist yet (a Live Sampler whose state names it creates it)");
    auto buffer = buffers.require("loop1", 2, 1000, kFs);
    for (int n = 0; n < 600; ++n) {
        buffer->channel(0)[n] = 0.001f * float(n);
        buffer->channel(1)[n] = -0.001f * float(n);
    }
    buffer->setLength(600);
    h.module().idle();  // finds it
    CHECK(h.module().status().empty());
    const Signal out = playOnce(h, 1000);
    CHECK(lastNonZero(out[0]) == 599);
    CHECK(out[0][599] == 0.001f * 599.0f);
    CHECK(out[1][599] == -0.001f * 599.0f);
}

// ---------------------------------------------------------------------------------------------
// threads and real time

TEST_CASE("sampler: a bad file is rejected on the loader thread while the engine keeps playing the good one", "[sampler]") {
    TempDir dir;
    writeSound(dir.path / "loop.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(1, 48000, 220.0, kFs, 0.5), 0);
    std::ofstream(dir.path / "bad.wav") << "RIFF....WAVEfmt nonsense";
    const fs::path corpus = fs::path(KABEL_SHARED_DIR) / "corpus" / "audio";

    using namespace kabel;
    Engine engine(EngineConfig{kFs, 64, 1, false});
    Session session(engine);
    // A 0.1 Hz sine holds the gate high from 0.83 s to 4.17 s.
    Patch patch = test::makePatch({test::moduleSpec("gate", "sine", {{"freq", 0.1}}), test::moduleSpec("smp", "sampler", {{"mode", 2.0}}),
                                   test::moduleSpec("o", "out")},
                                  {{"gate.out", "smp.gate"}, {"smp.left", "o.left"}});
    patch.modules[1].stateJson = state("file", "loop.wav");
    session.load(patch, dir.path);
    session.finishLoading();
    REQUIRE(session.messages().empty());

    constexpr int kBlocks = 48000 * 3 / 64;  // 3 s, paced in real time
    std::vector<float> blockRms(kBlocks, -1.0f);
    std::atomic<int> done{0};
    std::thread audio([&] {
        auto next = std::chrono::steady_clock::now();
        for (int b = 0; b < kBlocks; ++b) {
            engine.processBlock();
            double sum = 0.0;
            for (int n = 0; n < 64; ++n) sum += double(engine.blockOutput(0)[n]) * engine.blockOutput(0)[n];
            blockRms[b] = float(std::sqrt(sum / 64.0));
            done.store(b + 1, std::memory_order_release);
            next += std::chrono::microseconds(1333);
            std::this_thread::sleep_until(next);
        }
    });
    auto waitForBlock = [&](int b) {
        while (done.load(std::memory_order_acquire) < b) {
            session.poll();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    };
    const int firstSounding = int(0.9 * kFs / 64);
    waitForBlock(firstSounding);
    // Bad files, one after the other, while it plays: each is reported, none interrupts.
    std::vector<std::string> files = {"bad.wav", (corpus / "claxon/fuzz/a7f07b1dee76f1d975ac5ab0b803f5e886e02c21.flac").string(),
                                      (corpus / "hound/fuzz/oom-48ae4cd061ff8578ad3f23dc87624bd365cf5216.wav").string(),
                                      (corpus / "go-audio-aiff/ableton.aif").string()};
    int reported = 0;
    for (const std::string& f : files) {
        session.edit([&](Patch& p) { p.modules[1].stateJson = state("file", f); });
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        bool seen = false;
        while (!seen && std::chrono::steady_clock::now() < until) {
            session.poll();
            for (const std::string& m : session.messages()) seen |= m.find("module 'smp': " + f + ": ") == 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        INFO(f);
        CHECK(seen);
        reported += seen;
    }
    const int lastEdit = done.load();
    audio.join();
    CHECK(reported == 4);
    CHECK(lastEdit < kBlocks - 10);  // the edits happened while the engine ran
    int silent = 0;
    for (int b = firstSounding; b < kBlocks; ++b) silent += !(blockRms[b] > 0.2f);
    CHECK(silent == 0);  // the loop never stopped: RMS of a 0.5 sine is 0.354
}

TEST_CASE("sampler never allocates or locks on the audio thread while playing, looping and swapping", "[sampler][realtime]") {
    if (!kabel::test::kRtGuardActive) return;
    TempDir dir;
    writeSound(dir.path / "a.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(2, 20000, 220.0, kFs), 0);
    writeSound(dir.path / "b.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, sineContent(1, 20000, 330.0, 44100), 0);
    kabel::test::ModuleBench bench("sampler", 64, kFs, 100);
    bench.connect("gate", 16, [](int c, long n) { return ((n + 97 * c) % 3000) < 2000 ? 1.0f : 0.0f; });
    bench.connect("pitch", 16, [](int c, long n) { return 0.1f * float(c % 5) + 0.001f * float(n % 300); });
    bench.build();
    bench.module().loadState(nlohmann::json::parse(state("file", "a.wav")), kabel::LoadContext{dir.path, nullptr, nullptr});
    bench.module().idle();
    long allocations = 0, locks = 0;
    for (int round = 0; round < 40; ++round) {
        bench.setParam("mode", float(round % 3));
        bench.setParam("interpolation", float(round % 2));
        bench.setParam("loop_end", 0.5f + 0.01f * float(round));
        if (round % 10 == 5) {
            bench.module().loadState(nlohmann::json::parse(state("file", round % 20 == 5 ? "b.wav" : "a.wav")),
                                     kabel::LoadContext{dir.path, nullptr, nullptr});
            bench.module().idle();
        }
        kabel::test::RtGuard guard;
        for (int b = 0; b < 50; ++b) bench.step();
        allocations += guard.counts().allocations;
        locks += guard.counts().locks;
    }
    CHECK(allocations == 0);
    CHECK(locks == 0);
}

TEST_CASE("sampler micro-benchmark", "[.bench]") {
    TempDir dir;
    writeSound(dir.path / "stereo.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, sineContent(2, 480000, 220.0, kFs), 0);
    auto load = [&](kabel::test::ModuleBench& b) {
        b.build();
        b.module().loadState(nlohmann::json::parse(state("file", "stereo.wav")), kabel::LoadContext{dir.path, nullptr, nullptr});
        b.module().idle();
    };
    for (int channels : {1, 16}) {
        for (int kind = 0; kind < 2; ++kind) {
            const char* interp = kind == 0 ? "cubic" : "sinc";
            {
                kabel::test::ModuleBench b("sampler", 64, kFs);
                b.connect("gate", channels, [](int, long) { return 1.0f; });
                b.setParam("mode", 2.0f);
                b.setParam("interpolation", float(kind));
                load(b);
                b.nsPerSample((std::string("sampler stereo loop, unity pitch, ") + interp).c_str());
            }
            {
                kabel::test::ModuleBench b("sampler", 64, kFs);
                b.connect("gate", channels, [](int, long) { return 1.0f; });
                b.setParam("mode", 2.0f);
                b.setParam("tune", 3.3f);
                b.setParam("interpolation", float(kind));
                load(b);
                b.nsPerSample((std::string("sampler stereo loop, constant pitch, ") + interp).c_str());
            }
            {
                kabel::test::ModuleBench b("sampler", 64, kFs);
                b.connect("gate", channels, [](int, long) { return 1.0f; });
                b.connect("pitch", channels, [](int c, long n) { return 0.05f * c + 0.2f * std::sin(0.001f * float(n)); });
                b.setParam("mode", 2.0f);
                b.setParam("interpolation", float(kind));
                load(b);
                b.nsPerSample((std::string("sampler stereo loop, modulated pitch, ") + interp).c_str());
            }
        }
    }
}
