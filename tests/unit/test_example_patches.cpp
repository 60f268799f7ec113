// The example patches in patches/: each loads without a warning, finds every file it uses, and
// renders offline (with the real engine, through the same renderPatch as `kabel render`) to
// something musical: the exact length, finite, never clipping, neither silent nor too loud.
// The patches are found by listing the folder at test time, so a new patch is covered as soon as
// it is added; a MIDI file with the patch's stem (subtractive-poly.mid) is played into it.
#include <catch2/catch.hpp>

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/engine/offline.hpp"
#include "core/midi/midi_file.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wav_file.hpp"

using namespace kabel;
using kabel::test::readSoundFile;
namespace fs = std::filesystem;

namespace {

constexpr double kSeconds = 10.0;
constexpr double kRate = 48000.0;
constexpr sf_count_t kFrames = 480000;
constexpr sf_count_t kTailFrames = 4 * 48000;  // the level is measured over the last 4 s

std::vector<fs::path> examplePatches() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(fs::path(KABEL_SOURCE_DIR) / "patches"))
        if (entry.is_regular_file() && entry.path().extension() == ".kabel") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TEST_CASE("the example patches are there: the default and at least eight more", "[patches]") {
    std::vector<std::string> names;
    for (const fs::path& file : examplePatches()) names.push_back(file.stem().string());
    CHECK(names.size() >= 9);
    for (const char* expected : {"default", "subtractive-poly", "maqam-rast-drone", "gamelan-kotekan", "sampler-kit", "feedback-soundscape",
                                 "fm-bell", "stairwell"})
        CHECK(std::find(names.begin(), names.end(), expected) != names.end());
}

TEST_CASE("every example patch loads cleanly and renders 10 s of music", "[patches]") {
    const std::vector<fs::path> files = examplePatches();
    REQUIRE(!files.empty());
    for (const fs::path& file : files) {
        DYNAMIC_SECTION("patch " << file.filename().string()) {
            const LoadedPatch loaded = loadPatchFile(file.string(), Registry::global());
            CHECK(loaded.warnings.empty());
            CHECK(!loaded.patch.meta.title.empty());
            CHECK(loaded.patch.meta.author == "Kabel");
            CHECK(loaded.patch.meta.description.size() > 200);  // it teaches something

            RenderOptions options;
            options.seconds = kSeconds;
            options.sampleRate = kRate;
            options.channels = 2;
            options.patchDirectory = file.parent_path();
            MidiFile midi;
            fs::path midiPath = file;
            midiPath.replace_extension(".mid");
            const bool hasMidi = fs::exists(midiPath);
            if (hasMidi) {
                midi = readMidiFile(midiPath);
                REQUIRE(!midi.events.empty());
                options.midi = &midi;
            }

            const test::TempDir dir;
            const fs::path wav = dir.path / (file.stem().string() + ".wav");
            const RenderSummary summary = renderPatch(loaded.patch, wav, options);

            // Nothing missing: no placeholder, no unknown port, every sample and response loaded.
            CHECK(summary.notes.empty());
            for (const std::string& note : summary.notes) UNSCOPED_INFO(note);
            CHECK(summary.stats.nonFiniteSamples == 0);
            CHECK(summary.stats.guardedSamples == 0);  // the output guard never had to step in
            if (hasMidi) CHECK(summary.midi.delivered == midi.events.size());

            SF_INFO info;
            const std::vector<float> samples = readSoundFile(wav, info);
            CHECK(summary.frames == static_cast<std::uint64_t>(kFrames));
            CHECK(info.frames == kFrames);
            CHECK(info.channels == 2);
            CHECK(info.samplerate == 48000);

            bool finite = true;
            float peak = 0.0f;
            for (float s : samples) {
                finite = finite && std::isfinite(s);
                peak = std::max(peak, std::fabs(s));
            }
            CHECK(finite);
            CHECK(peak <= 1.0f);
            CHECK(peak > 0.0f);

            double sum = 0.0;
            const std::size_t tailStart = static_cast<std::size_t>((kFrames - kTailFrames) * 2);
            for (std::size_t i = tailStart; i < samples.size(); ++i) sum += double(samples[i]) * samples[i];
            const double tailDb = 10.0 * std::log10(sum / double(samples.size() - tailStart) + 1e-30);
            INFO("RMS over the last 4 s: " << tailDb << " dBFS, peak " << 20.0 * std::log10(peak + 1e-30) << " dBFS");
            CHECK(tailDb > -40.0);
            CHECK(tailDb < -6.0);
        }
    }
}
