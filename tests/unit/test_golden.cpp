// Golden audio: whole patches of real modules rendered through the engine, measured.
#include <catch2/catch.hpp>

#include <sndfile.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>

#include "core/cli/workloads.hpp"
#include "core/engine/offline.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/wav_file.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

std::filesystem::path tempPath(const std::string& name) {
    return std::filesystem::temp_directory_path() / ("kabel-golden-" + std::to_string(::getpid()) + "-" + name);
}

// All channels of a WAV file, de-interleaved.
std::vector<std::vector<float>> readWav(const std::filesystem::path& path, SF_INFO& info) {
    const std::vector<float> frames = readSoundFile(path, info);
    return deinterleave(frames, info.channels);
}

struct Live {
    explicit Live(int channels = 1) : engine(EngineConfig{48000.0, 64, channels, false}), session(engine) {}
    Engine engine;
    Session session;
};

}  // namespace

TEST_CASE("a rendered sine has the right frequency and level", "[golden]") {
    const auto wav = tempPath("sine.wav");
    for (double frequency : {261.6256, 1000.0, 4321.5}) {
        const Patch patch = makePatch({moduleSpec("osc", "sine", {{"freq", frequency}}), moduleSpec("out", "out", {{"level", 0.5}})},
                                      {{"osc.out", "out.left"}});
        RenderOptions options;
        options.seconds = 10.0;
        options.channels = 2;
        const RenderSummary summary = renderPatch(patch, wav, options);
        CHECK(summary.frames == 480000);
        SF_INFO info;
        const auto channels = readWav(wav, info);
        CHECK(info.samplerate == 48000);
        CHECK(info.channels == 2);
        CHECK((info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT);
        INFO("frequency " << frequency);
        CHECK(zeroCrossingFrequency(channels[0], 48000.0) == Approx(frequency).margin(0.01));
        CHECK(rms(channels[0]) == Approx(0.5 / std::sqrt(2.0)).margin(1e-4));
        CHECK(peak(channels[0]) == Approx(0.5).margin(1e-4));
        CHECK(channels[1] == channels[0]);  // mono out feeds both channels
    }
    std::filesystem::remove(wav);
}

TEST_CASE("swapping the plan every block for 10 s leaves the audio bit-identical", "[golden][session]") {
    const Patch patch = makePatch({moduleSpec("osc", "saw", {{"freq", 220}}), moduleSpec("lpf", "svf", {{"cutoff", 1200}, {"q", 2}}),
                                   moduleSpec("lfo", "lfo", {{"rate", 0.5}}), moduleSpec("out", "out", {{"level", 0.5}})},
                                  {{"osc.out", "lpf.in"}, {"lfo.out", "lpf.cutoff"}, {"lpf.lp", "out.left"}});
    constexpr int kBlocks = 48000 * 10 / 64;
    Live reference, swapped;
    reference.session.load(patch);
    swapped.session.load(patch);
    const auto expected = runBlocks(reference.engine, &reference.session, kBlocks);
    std::vector<float> out;
    out.reserve(expected.size());
    for (int b = 0; b < kBlocks; ++b) {
        // Every block an edit that does not touch the sounding path: a module appears or goes.
        swapped.session.edit([&](Patch& p) {
            if (b % 2 == 0)
                p.modules.push_back(moduleSpec("idle", "noise"));
            else
                removeModule(p, "idle");
        });
        const auto block = runBlocks(swapped.engine, &swapped.session, 1);
        out.insert(out.end(), block.begin(), block.end());
    }
    CHECK(swapped.engine.stats().planSwaps >= static_cast<std::uint64_t>(kBlocks));
    CHECK(rms(expected) > 0.05);
    REQUIRE(out.size() == expected.size());
    CHECK(out == expected);
}

TEST_CASE("edits while rendering produce no step larger than the signals' own", "[golden][session]") {
    // The sounding patch before and after each edit; the edit happens at 0.5 s of 1 s.
    const Patch base = makePatch({moduleSpec("osc", "sine", {{"freq", 440}}), moduleSpec("saw", "saw", {{"freq", 330}}),
                                  moduleSpec("lpf", "svf", {{"cutoff", 2000}, {"q", 1}}), moduleSpec("out", "out", {{"level", 0.4}})},
                                 {{"osc.out", "out.left"}, {"saw.out", "lpf.in"}, {"lpf.lp", "out.left"}});
    struct Scenario {
        const char* name;
        std::function<void(Patch&)> edit;
    };
    const std::vector<Scenario> scenarios = {
        {"add a sounding module",
         [](Patch& p) {
             p.modules.push_back(moduleSpec("new", "sine", {{"freq", 880}}));
             p.cables.push_back(cableSpec("new.out", "out.left"));
         }},
        {"remove a sounding module", [](Patch& p) { removeModule(p, "osc"); }},
        {"remove the filter and patch around it",
         [](Patch& p) {
             removeModule(p, "lpf");
             p.cables.push_back(cableSpec("saw.out", "out.left"));
         }},
        {"reconnect a cable to another output",
         [](Patch& p) {
             removeCable(p, "lpf.lp", "out.left");
             p.cables.push_back(cableSpec("lpf.hp", "out.left"));
         }},
        {"remove the output module", [](Patch& p) { removeModule(p, "out"); }},
    };
    for (const Scenario& s : scenarios) {
        Patch after = base;
        s.edit(after);
        Live before, afterLive, edited;
        before.session.load(base);
        afterLive.session.load(after);
        edited.session.load(base);
        const auto a = runBlocks(before.engine, &before.session, 750);
        const auto b = runBlocks(afterLive.engine, &afterLive.session, 750);
        auto e = runBlocks(edited.engine, &edited.session, 375);
        edited.session.edit(s.edit);
        const auto rest = runBlocks(edited.engine, &edited.session, 375);
        e.insert(e.end(), rest.begin(), rest.end());
        const float own = std::max(maxStep(a), maxStep(b));
        // (A linear 10 ms crossfade could in theory add |a - b| / 480 to one step; measured, it
        // adds nothing here: the edited render's largest step is at most the signals' own.)
        INFO(s.name << ": own max step " << own << ", with the edit " << maxStep(e));
        CHECK(maxStep(e) <= own);
        CHECK_FALSE(edited.session.transitioning());
        CHECK(edited.session.ghostCount() == 0);
    }
}

TEST_CASE("a feedback loop renders with its delay reported and exactly one block longer", "[golden][compiler]") {
    // A blip at t = 0 goes round mixer -> delay (100 ms) -> mixer; each echo is half as loud.
    const Patch patch = makePatch(
        {moduleSpec("clock", "lfo", {{"rate", 0.1}, {"shape", 3}, {"pw", 0.5}, {"unipolar", 1}}),
         moduleSpec("blip", "adsr", {{"attack", 0.0001}, {"decay", 0.0001}, {"sustain", 0}, {"release", 0.0001}, {"shape", 0}}),
         moduleSpec("mix", "mixer", {{"level2", 0.5}}),
         moduleSpec("echo", "delay", {{"time", 0.1}, {"feedback", 0}, {"dry", 0}, {"wet", 1}}), moduleSpec("out", "out")},
        {{"clock.out", "blip.gate"}, {"blip.env", "mix.in1"}, {"mix.out", "echo.in"}, {"echo.out", "mix.in2"}, {"mix.out", "out.left"}});
    Live live;
    live.session.load(patch);
    const auto& feedback = live.session.report().feedback;
    REQUIRE(feedback.size() == 1);
    CHECK(feedback[0].delayFrames == 64);
    const auto out = runBlocks(live.engine, &live.session, 300);
    // Peaks of successive echoes: 4800 frames of delay line + 64 frames of feedback delay apart.
    auto peakIn = [&](std::size_t from, std::size_t to) {
        std::size_t best = from;
        for (std::size_t n = from; n < to; ++n)
            if (std::fabs(out[n]) > std::fabs(out[best])) best = n;
        return best;
    };
    const std::size_t p0 = peakIn(0, 2000), p1 = peakIn(2000, 7000), p2 = peakIn(7000, 12000);
    CHECK(p1 - p0 == 4864);
    CHECK(p2 - p1 == 4864);
    CHECK(std::fabs(out[p1]) == Approx(0.5 * std::fabs(out[p0])).epsilon(1e-3));
    CHECK(std::fabs(out[p2]) == Approx(0.25 * std::fabs(out[p0])).epsilon(1e-3));
}

TEST_CASE("the benchmark workloads render what the peers render", "[golden][bench]") {
    for (const auto& w : cli::benchmarkWorkloads()) {
        Live live(w.channels);
        live.session.load(w.patch);
        INFO(w.name << ": " << (live.session.notes().empty() ? "" : live.session.notes().front()));
        CHECK(live.session.notes().empty());
        const auto out = runBlocks(live.engine, &live.session, 48000 * 4 / 64);
        const double level = rms(out);
        if (w.name == "W1") CHECK(level == Approx(0.0442).epsilon(0.01));  // peers: 0.0442
        if (w.name == "W4") CHECK(level == Approx(0.0316).epsilon(0.01));  // peers: 0.0316
        if (w.name == "W2") CHECK((level > 0.02 && level < 0.07));         // peers: 0.026 .. 0.062
        if (w.name == "W3") CHECK((level > 0.03 && level < 0.1));          // peers: 0.058 .. 0.081
        CHECK(live.engine.stats().nonFiniteSamples == 0);
    }
}

TEST_CASE("the default patch renders a pulsing, unclipped sound", "[golden][patches]") {
    const auto loaded = loadPatchFile(std::string(KABEL_SOURCE_DIR) + "/patches/default.kabel", Registry::global());
    CHECK(loaded.warnings.empty());
    Live live(2);
    live.session.load(loaded.patch);
    CHECK(live.session.notes().empty());
    const auto left = runBlocks(live.engine, &live.session, 48000 * 16 / 64, 0);
    CHECK(live.engine.stats().guardedSamples == 0);  // never reaches the output guard
    CHECK(live.engine.stats().nonFiniteSamples == 0);
    CHECK(peak(left) < 0.9f);
    CHECK(rms(left) > 0.04);
    // The pulse: the level envelope (RMS in 10 ms windows) repeats every 1/3 s.
    std::vector<float> envelope;
    for (std::size_t n = 0; n + 480 <= left.size(); n += 480)
        envelope.push_back(static_cast<float>(rms(std::span<const float>(left).subspan(n, 480))));
    auto correlation = [&](std::size_t lag) {
        double sum = 0;
        for (std::size_t i = 0; i + lag < envelope.size(); ++i) sum += double(envelope[i]) * envelope[i + lag];
        return sum / double(envelope.size() - lag);
    };
    CHECK(correlation(33) > 1.2 * correlation(17));  // 333 ms (one pulse) vs half a pulse
}

TEST_CASE("renders are exact at any sample rate and engine block", "[golden]") {
    const auto wav = tempPath("rates.wav");
    const Patch patch =
        makePatch({moduleSpec("osc", "sine", {{"freq", 1000}}), moduleSpec("out", "out", {{"level", 0.5}})}, {{"osc.out", "out.left"}});
    for (double rate : {44100.0, 48000.0, 96000.0}) {
        for (int block : {1, 37, 64, 256}) {
            RenderOptions options;
            options.seconds = 3.0;
            options.sampleRate = rate;
            options.blockFrames = block;
            options.channels = 1;
            options.format = SampleFormat::Pcm24;
            const RenderSummary summary = renderPatch(patch, wav, options);
            SF_INFO info;
            const auto channels = readWav(wav, info);
            INFO("rate " << rate << ", block " << block);
            CHECK(summary.frames == static_cast<std::uint64_t>(3.0 * rate));
            CHECK(info.frames == static_cast<sf_count_t>(3.0 * rate));
            CHECK(info.samplerate == static_cast<int>(rate));
            CHECK((info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_24);
            CHECK(zeroCrossingFrequency(channels[0], rate) == Approx(1000.0).margin(0.01));
            CHECK(peak(channels[0]) == Approx(0.5).margin(1e-4));
        }
    }
    std::filesystem::remove(wav);
}

TEST_CASE("a module of unknown type runs as a silent placeholder, and the rest plays", "[golden][session]") {
    Patch patch = makePatch({moduleSpec("osc", "sine", {{"freq", 500}}), moduleSpec("future", "granular-cloud", {{"density", 12}}),
                             moduleSpec("out", "out", {{"level", 0.5}})},
                            {{"osc.out", "out.left"}, {"future.out", "out.left"}, {"osc.out", "future.in"}});
    Live live;
    live.session.load(patch);
    REQUIRE(live.session.notes().size() == 1);
    CHECK(live.session.notes()[0].find("unknown type 'granular-cloud'") != std::string::npos);
    CHECK(live.session.instance("future") == nullptr);
    const auto out = runBlocks(live.engine, &live.session, 750);
    CHECK(zeroCrossingFrequency(out, 48000.0) == Approx(500.0).margin(0.01));
    CHECK(peak(out) == Approx(0.5).margin(1e-4));
    // The document keeps the placeholder, its params and its cables for saving.
    CHECK(live.session.patch().findModule("future")->params.at("density") == 12.0);
    CHECK(live.session.patch().cables.size() == 3);
}

TEST_CASE("noise is the same on every render of a patch, and different per module", "[golden]") {
    const Patch patch = makePatch({moduleSpec("a", "noise"), moduleSpec("b", "noise"), moduleSpec("out", "out")},
                                  {{"a.out", "out.left"}, {"b.out", "out.right"}});
    Live first(2), second(2);
    first.session.load(patch);
    second.session.load(patch);
    CHECK(runBlocks(first.engine, &first.session, 100, 0) == runBlocks(second.engine, &second.session, 100, 0));
    // a and b feed the two channels: their streams differ
    CHECK(std::vector<float>(first.engine.blockOutput(0), first.engine.blockOutput(0) + 64) !=
          std::vector<float>(first.engine.blockOutput(1), first.engine.blockOutput(1) + 64));
}
