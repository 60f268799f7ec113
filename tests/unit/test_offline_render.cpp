// Offline render's file writing: a writer thread takes the rendered chunks (serial plans on a
// machine with two or more threads); the file must hold exactly what the engine made, and every
// error must leave the target untouched, the temp file gone and the reason on the calling thread.
#include <catch2/catch.hpp>

#include <sndfile.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/engine/offline.hpp"
#include "core/engine/session.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wav_file.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

// A stereo patch whose channels differ (a sine left, a filtered saw right).
Patch stereoPatch() {
    return makePatch({moduleSpec("osc", "sine", {{"freq", 441.0}}), moduleSpec("buzz", "saw", {{"freq", 110.0}}),
                      moduleSpec("lpf", "svf", {{"cutoff", 900.0}}), moduleSpec("out", "out", {{"level", 0.5}})},
                     {{"osc.out", "out.left"}, {"buzz.out", "lpf.in"}, {"lpf.lp", "out.right"}});
}

// The interleaved frames the engine makes for `patch`, block by block, as renderPatch drives it.
std::vector<float> engineFrames(const Patch& patch, int channels, std::uint64_t frames) {
    EngineConfig config{48000.0, 64, channels, true};
    config.threads = 1;
    Engine engine(config);
    Session session(engine);
    session.load(patch);
    session.finishLoading();
    std::vector<float> out;
    out.reserve(frames * static_cast<std::uint64_t>(channels));
    for (std::uint64_t done = 0; done < frames; done += 64) {
        engine.processBlock();
        const std::uint64_t n = std::min<std::uint64_t>(64, frames - done);
        for (std::uint64_t i = 0; i < n; ++i)
            for (int c = 0; c < channels; ++c) out.push_back(engine.blockOutput(c)[i]);
    }
    return out;
}

std::vector<std::string> filesIn(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    return names;
}

// Lowers the file size limit for the scope (writes past it fail with EFBIG instead of SIGXFSZ).
struct FileSizeLimit {
    explicit FileSizeLimit(rlim_t bytes) {
        previousHandler = std::signal(SIGXFSZ, SIG_IGN);
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &previous) == 0);
        rlimit lowered = previous;
        lowered.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lowered) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &previous);
        std::signal(SIGXFSZ, previousHandler);
    }
    rlimit previous{};
    void (*previousHandler)(int) = nullptr;
};

}  // namespace

TEST_CASE("a render's file holds exactly the engine's frames", "[offline]") {
    TempDir dir;
    const Patch patch = stereoPatch();
    // Lengths around the write chunk (32768 frames) and the block, and a long one (many chunks
    // through the writer's ring of three).
    int cases = 0;
    for (const std::uint64_t frames : {std::uint64_t{1}, std::uint64_t{63}, std::uint64_t{32768}, std::uint64_t{32769},
                                       std::uint64_t{3 * 32768 + 100}, std::uint64_t{480000 + 17}}) {
        INFO("frames " << frames);
        RenderOptions options;
        options.seconds = static_cast<double>(frames) / 48000.0;
        options.channels = 2;
        const auto wav = dir.path / "out.wav";
        const RenderSummary summary = renderPatch(patch, wav, options);
        CHECK(summary.frames == frames);
        CHECK(summary.report.threads == 1);
        SF_INFO info;
        const std::vector<float> written = readSoundFile(wav, info);
        CHECK(info.frames == static_cast<sf_count_t>(frames));
        CHECK(info.channels == 2);
        CHECK(info.samplerate == 48000);
        CHECK((info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT);
        CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV);
        const std::vector<float> expected = engineFrames(patch, 2, frames);
        REQUIRE(written.size() == expected.size());
        CHECK(written == expected);  // bit for bit
        CHECK(filesIn(dir.path) == std::vector<std::string>{"out.wav"});
        ++cases;
    }
    CHECK(cases == 6);
}

TEST_CASE("a render with three channels interleaves them in order", "[offline]") {
    TempDir dir;
    const Patch patch = stereoPatch();
    RenderOptions options;
    options.seconds = 1.0;
    options.channels = 3;
    const auto wav = dir.path / "three.wav";
    const RenderSummary summary = renderPatch(patch, wav, options);
    CHECK(summary.frames == 48000);
    SF_INFO info;
    const std::vector<float> written = readSoundFile(wav, info);
    CHECK(info.channels == 3);
    CHECK(written == engineFrames(patch, 3, 48000));
}

TEST_CASE("a float render carries no PEAK chunk and stays a plain float WAV", "[offline]") {
    TempDir dir;
    RenderOptions options;
    options.seconds = 0.5;
    const auto wav = dir.path / "plain.wav";
    renderPatch(stereoPatch(), wav, options);
    const std::string bytes = readFile(wav);
    REQUIRE(bytes.size() > 64);
    CHECK(bytes.substr(0, 4) == "RIFF");
    CHECK(bytes.substr(8, 4) == "WAVE");
    CHECK(bytes.find("PEAK") == std::string::npos);
    // Header plus 24000 stereo float frames, nothing else.
    const std::size_t data = bytes.find("data");
    REQUIRE(data != std::string::npos);
    CHECK(bytes.size() - (data + 8) == 24000u * 2u * 4u);
}

TEST_CASE("a write error on the writer thread reaches the caller and leaves the target untouched", "[offline]") {
    TempDir dir;
    const auto wav = dir.path / "keep.wav";
    writeFile(wav, "the old render");
    RenderOptions options;
    options.seconds = 10.0;  // 3.84 MB of stereo float
    options.channels = 2;
    bool threw = false;
    {
        const FileSizeLimit limit(1 << 20);  // fails in the writer's fourth or so chunk
        try {
            renderPatch(stereoPatch(), wav, options);
        } catch (const std::runtime_error& e) {
            threw = true;
            const std::string message = e.what();
            INFO(message);
            CHECK(message.find("cannot write '") == 0);
            CHECK(message.find(dir.path.string()) != std::string::npos);
        }
    }
    CHECK(threw);
    CHECK(readFile(wav) == "the old render");
    CHECK(filesIn(dir.path) == std::vector<std::string>{"keep.wav"});
}

TEST_CASE("an error on the rendering thread stops the writer and removes the temp file", "[offline]") {
    TempDir dir;
    const auto wav = dir.path / "keep.wav";
    writeFile(wav, "the old render");
    RenderOptions options;
    options.seconds = 10.0;
    options.progress = [](double fraction) {
        if (fraction > 0.3) throw std::logic_error("stop here");
    };
    CHECK_THROWS_WITH(renderPatch(stereoPatch(), wav, options), "stop here");
    CHECK(readFile(wav) == "the old render");
    CHECK(filesIn(dir.path) == std::vector<std::string>{"keep.wav"});
}

TEST_CASE("a render reports progress in order and 1 once, at the end", "[offline]") {
    TempDir dir;
    std::vector<double> reports;
    RenderOptions options;
    options.seconds = 5.0;
    options.progress = [&](double fraction) { reports.push_back(fraction); };
    renderPatch(stereoPatch(), dir.path / "p.wav", options);
    REQUIRE(reports.size() >= 2);
    for (std::size_t i = 1; i < reports.size(); ++i) CHECK(reports[i] > reports[i - 1]);
    CHECK(reports.back() == 1.0);
    CHECK(std::count(reports.begin(), reports.end(), 1.0) == 1);
}
