// Tests for modules/recording.cpp: the Live Sampler records to the frame (replace, overdub,
// append, full), a Sampler plays its buffer back sample-exactly; the Recorder's file equals its
// input sample-exactly and appears only when the take ends, overruns are counted, a minute of
// stereo at 100x real time drops nothing, an offline render records what it renders.
#include <catch2/catch.hpp>

#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/engine/offline.hpp"
#include "core/module/shared_buffers.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wav_file.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::deinterleave;
using kabel::test::readSoundFile;
using kabel::test::TempDir;

using kabel::test::constantSignal;
using kabel::test::ModuleHarness;
using kabel::test::noiseSignal;
using kabel::test::Signal;

namespace fs = std::filesystem;

constexpr double kFs = 48000.0;

void loadState(ModuleHarness& h, const std::string& json, kabel::SharedBuffers* buffers, const fs::path& dir = {}) {
    h.module().loadState(nlohmann::json::parse(json), kabel::LoadContext{dir, nullptr, buffers});
    h.module().idle();
}

/// A gate: high over [from, to), `frames` long.
std::vector<float> gateSignal(int frames, int from, int to) {
    std::vector<float> g(static_cast<std::size_t>(frames), 0.0f);
    std::fill(g.begin() + from, g.begin() + to, 1.0f);
    return g;
}

struct Sound {
    int channels = 0;
    double rate = 0.0;
    int format = 0;
    std::vector<std::vector<float>> data;  // [channel][frame]
};

Sound readSound(const fs::path& path) {
    SF_INFO info{};
    const std::vector<float> x = readSoundFile(path, info);
    Sound s;
    s.channels = info.channels;
    s.rate = info.samplerate;
    s.format = info.format;
    s.data = deinterleave(x, info.channels);
    return s;
}

/// Hidden temporary files the recorder writes beside its target.
int tempFiles(const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(".take.wav.tmp-", 0) == 0;
    return n;
}

bool waitFor(const std::function<bool()>& condition, double seconds = 10.0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!condition()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

std::vector<float> slice(const std::vector<float>& x, int from, int count) {
    return std::vector<float>(x.begin() + from, x.begin() + from + count);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// livesampler

TEST_CASE("livesampler records exactly while the gate is high and shows its position", "[recording]") {
    kabel::SharedBuffers buffers;
    ModuleHarness h("livesampler", kFs);
    loadState(h, R"({"buffer": "loop1", "seconds": 0.1})", &buffers);
    CHECK(h.module().status().empty());
    const auto left = noiseSignal(3000, 1), right = noiseSignal(3000, 2);
    h.connect("left", left);
    h.connect("right", right);
    h.connect("record", gateSignal(3000, 100, 1100));
    const auto position = h.run(3000)[0][0];
    auto buffer = buffers.find("loop1");
    REQUIRE(buffer);
    CHECK(buffer->capacity() == 4800);
    CHECK(buffer->channels() == 2);
    CHECK(buffer->length() == 1000);
    int exact = 0;
    for (int k = 0; k < 1000; ++k) exact += buffer->channel(0)[k] == left[100 + k] && buffer->channel(1)[k] == right[100 + k];
    CHECK(exact == 1000);
    CHECK(buffer->channel(0)[1000] == 0.0f);
    CHECK(position[99] == 0.0f);
    CHECK(position[100] == 0.0f);
    CHECK(position[600] == 500.0f / 4800.0f);
    CHECK(position[1099] == 999.0f / 4800.0f);
    CHECK(position[1100] == 1000.0f / 4800.0f);  // holds where the take ended
    CHECK(position[2999] == 1000.0f / 4800.0f);
}

TEST_CASE("livesampler takes: replace, overdub and append, and a full buffer stops", "[recording]") {
    kabel::SharedBuffers buffers;
    const int frames = 12000;
    const auto a = noiseSignal(frames, 3);
    std::vector<float> gate(frames, 0.0f);
    std::fill(gate.begin() + 0, gate.begin() + 2000, 1.0f);     // take 1: frames 0..1999
    std::fill(gate.begin() + 5000, gate.begin() + 5500, 1.0f);  // take 2: frames 5000..5499 (500)
    auto run = [&](int mode) {
        ModuleHarness h("livesampler", kFs);
        loadState(h, R"({"buffer": "t", "seconds": 1})", &buffers);
        h.setParam("mode", float(mode));
        h.connect("left", a);  // right unpatched: both channels get the left input
        h.connect("record", gate);
        h.run(frames);
        return buffers.find("t");
    };
    SECTION("replace: the second take is all there is") {
        auto b = run(0);
        CHECK(b->length() == 500);
        CHECK(std::vector<float>(b->channel(0), b->channel(0) + 500) == slice(a, 5000, 500));
        CHECK(std::vector<float>(b->channel(1), b->channel(1) + 500) == slice(a, 5000, 500));
    }
    SECTION("overdub: the second take adds onto the first from the start") {
        auto b = run(1);
        CHECK(b->length() == 2000);
        int exact = 0;
        for (int k = 0; k < 2000; ++k) exact += b->channel(0)[k] == (k < 500 ? a[k] + a[5000 + k] : a[k]);
        CHECK(exact == 2000);
    }
    SECTION("append: the second take continues after the first") {
        auto b = run(2);
        CHECK(b->length() == 2500);
        CHECK(std::vector<float>(b->channel(0), b->channel(0) + 2000) == slice(a, 0, 2000));
        CHECK(std::vector<float>(b->channel(0) + 2000, b->channel(0) + 2500) == slice(a, 5000, 500));
    }
    SECTION("a full buffer stops recording and shows position 1") {
        ModuleHarness h("livesampler", kFs);
        loadState(h, R"({"buffer": "small", "seconds": 0.02})", &buffers);  // 960 frames
        h.connect("left", a);
        h.connect("record", constantSignal(1.0f, 3000));
        const auto position = h.run(3000)[0][0];
        auto b = buffers.find("small");
        CHECK(b->length() == 960);
        CHECK(std::vector<float>(b->channel(0), b->channel(0) + 960) == slice(a, 0, 960));
        CHECK(position[959] == 959.0f / 960.0f);
        CHECK(position[960] == 1.0f);
        CHECK(position[2999] == 1.0f);
    }
}

TEST_CASE("livesampler sums polyphonic inputs", "[recording]") {
    kabel::SharedBuffers buffers;
    ModuleHarness h("livesampler", kFs);
    loadState(h, R"({"buffer": "poly"})", &buffers);
    const auto x = noiseSignal(1000, 4), y = noiseSignal(1000, 5);
    h.connect("left", Signal{x, y});
    h.connect("right", Signal{y, y, x});
    h.connect("record", constantSignal(1.0f, 1000));
    h.run(1000);
    auto b = buffers.find("poly");
    CHECK(b->capacity() == 30u * 48000u);  // 30 s by default
    int exact = 0;
    for (int k = 0; k < 1000; ++k) exact += b->channel(0)[k] == x[k] + y[k] && b->channel(1)[k] == (y[k] + y[k]) + x[k];
    CHECK(exact == 1000);
}

TEST_CASE("livesampler to sampler round trip is sample-exact", "[recording][sampler]") {
    kabel::SharedBuffers buffers;
    ModuleHarness player("sampler", kFs);
    loadState(player, R"({"buffer": "loop1"})", &buffers);  // before the buffer exists
    CHECK_FALSE(player.module().status().empty());

    ModuleHarness recorder("livesampler", kFs);
    loadState(recorder, R"({"buffer": "loop1", "seconds": 2})", &buffers);
    const auto left = noiseSignal(20000, 6), right = noiseSignal(20000, 7);
    recorder.connect("left", left);
    recorder.connect("right", right);
    recorder.connect("record", gateSignal(20000, 1234, 1234 + 15000));
    recorder.run(20000);

    player.module().idle();  // the sampler finds the buffer by name
    CHECK(player.module().status().empty());
    player.connect("gate", gateSignal(40000, 10, 40000));
    SECTION("one-shot") {
        const auto out = player.run(40000);
        CHECK(slice(out[0][0], 10, 15000) == slice(left, 1234, 15000));
        CHECK(slice(out[1][0], 10, 15000) == slice(right, 1234, 15000));
        CHECK(out[0][0][10 + 15000] == 0.0f);
    }
    SECTION("looped over the whole take") {
        player.setParam("mode", 2.0f);
        const auto out = player.run(40000);
        int exact = 0;
        for (int n = 10; n < 40000; ++n) exact += out[0][0][n] == left[1234 + (n - 10) % 15000];
        CHECK(exact == 40000 - 10);
    }
}

TEST_CASE("a sampler looping a live buffer that is recorded again fades out instead of clicking", "[recording][sampler]") {
    kabel::SharedBuffers buffers;
    const int frames = 60000;
    ModuleHarness recorder("livesampler", kFs);
    loadState(recorder, R"({"buffer": "loop1", "seconds": 1})", &buffers);
    recorder.connect("left", kabel::test::sineSignal(200.0, frames, 0.9));
    std::vector<float> record = gateSignal(frames, 0, 24000);
    std::fill(record.begin() + 40000, record.end(), 1.0f);  // a replace take starts at 40000
    recorder.connect("record", record);
    ModuleHarness player("sampler", kFs);
    loadState(player, R"({"buffer": "loop1"})", &buffers);
    player.setParam("mode", 2.0f);
    player.connect("gate", gateSignal(frames, 25000, frames));
    std::vector<float> out;
    for (int b = 0; b < frames / 64; ++b) {  // one engine block each, recorder first
        recorder.run(64);
        const auto block = player.run(64)[0][0];
        out.insert(out.end(), block.begin(), block.end());
    }
    const float sineStep = float(0.9 * 2.0 * 3.14159265358979 * 200.0 / kFs);
    CHECK(kabel::test::rms(std::span<const float>(out.data() + 30000, 9000)) > 0.6);  // the loop plays
    CHECK(kabel::test::maxStep(out) <= sineStep + 0.9f / 240.0f + 1e-4f);             // fades, never jumps
    // The voice fades over 5 ms, still reading the old take, then stops (the performer retriggers).
    CHECK(kabel::test::rms(std::span<const float>(out.data() + 40064, 60)) > 0.3);
    CHECK(kabel::test::peak(std::span<const float>(out.data() + 40000 + 64 + 240, 1000)) == 0.0f);
}

TEST_CASE("livesampler refuses state it cannot use with a clear message", "[recording]") {
    kabel::SharedBuffers buffers;
    ModuleHarness h("livesampler", kFs);
    auto message = [&](const std::string& json) {
        try {
            h.module().loadState(json.empty() ? nlohmann::json() : nlohmann::json::parse(json), kabel::LoadContext{{}, nullptr, &buffers});
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(message(R"({"seconds": 3})") == "\"buffer\" is missing: name the live buffer, e.g. {\"buffer\": \"loop1\"}");
    CHECK(message(R"({"buffer": 1})") == "\"buffer\" must be a string");
    CHECK(message(R"({"buffer": "a", "seconds": "3"})") == "\"seconds\" must be a number");
    CHECK(message(R"({"buffer": "a", "seconds": 0})") == "\"seconds\" must be more than 0 and at most 600");
    CHECK(message(R"({"buffer": "a", "second": 3})") == "unknown key \"second\" (use \"buffer\" and \"seconds\")");
    CHECK(message(R"({"buffer": "a"})") == "accepted");
    CHECK(message("") == "accepted");
    CHECK(h.module().status() == "no buffer: give it a state such as {\"buffer\": \"loop1\", \"seconds\": 30}");
}

// ---------------------------------------------------------------------------------------------
// recorder

TEST_CASE("recorder writes its input sample-exactly, and the file appears only when the take ends", "[recording]") {
    TempDir dir;
    const int frames = 96000;
    const auto left = noiseSignal(frames + 2000, 8), right = noiseSignal(frames + 2000, 9);
    {
        ModuleHarness h("recorder", kFs);
        loadState(h, R"({"file": "take.wav"})", nullptr, dir.path);
        CHECK(h.module().status().empty());
        h.connect("left", left);
        h.connect("right", right);
        h.connect("record", gateSignal(frames + 2000, 777, 777 + frames));
        h.run(777 + frames / 2);
        // Mid-take: a hidden temporary file, nothing under the user's name.
        CHECK(waitFor([&] { return tempFiles(dir.path) == 1; }));
        CHECK_FALSE(fs::exists(dir.path / "take.wav"));
        h.run(frames / 2 + 1000);  // the gate falls: the take ends
        CHECK(waitFor([&] { return fs::exists(dir.path / "take.wav"); }));
        CHECK(tempFiles(dir.path) == 0);
        CHECK(h.module().status().empty());
    }
    const Sound s = readSound(dir.path / "take.wav");
    CHECK(s.channels == 2);
    CHECK(s.rate == kFs);
    CHECK(s.format == (SF_FORMAT_WAV | SF_FORMAT_FLOAT));
    REQUIRE(s.data[0].size() == std::size_t(frames));
    CHECK(s.data[0] == slice(left, 777, frames));
    CHECK(s.data[1] == slice(right, 777, frames));
}

TEST_CASE("recorder: armed records, a new take replaces the file, poly inputs are summed, Right defaults to Left", "[recording]") {
    TempDir dir;
    const auto x = noiseSignal(20000, 10), y = noiseSignal(20000, 11);
    ModuleHarness h("recorder", kFs);
    loadState(h, R"({"file": "take.wav"})", nullptr, dir.path);
    h.connect("left", Signal{x, y});
    h.setParam("armed", 1.0f);
    h.run(5000);
    h.setParam("armed", 0.0f);
    h.run(5000);
    REQUIRE(waitFor([&] { return fs::exists(dir.path / "take.wav"); }));
    Sound s = readSound(dir.path / "take.wav");
    REQUIRE(s.data[0].size() == 5000u);
    int exact = 0;
    for (int n = 0; n < 5000; ++n) exact += s.data[0][n] == x[n] + y[n] && s.data[1][n] == s.data[0][n];
    CHECK(exact == 5000);

    h.setParam("armed", 1.0f);  // take 2: frames 10000..12999
    h.run(3000);
    h.setParam("armed", 0.0f);
    h.run(64);
    REQUIRE(waitFor([&] { return readSound(dir.path / "take.wav").data[0].size() == 3000u; }));
    s = readSound(dir.path / "take.wav");
    exact = 0;
    for (int n = 0; n < 3000; ++n) exact += s.data[0][n] == x[10000 + n] + y[10000 + n];
    CHECK(exact == 3000);
}

TEST_CASE("recorder counts the frames it drops when the ring overflows and shows them", "[recording]") {
    TempDir dir;
    const int frames = 900 * 512;  // 9.6 s, produced far faster than 10 ms of ring can be written
    ModuleHarness h("recorder", kFs, 512);
    loadState(h, R"({"file": "take.wav", "ring_seconds": 0.01})", nullptr, dir.path);
    h.connect("left", noiseSignal(frames + 512, 12));
    h.setParam("armed", 1.0f);
    h.run(frames);
    const std::string status = h.module().status();
    INFO(status);
    CHECK(status.find("take.wav: ") == 0);
    CHECK(status.find(" frames dropped because the disk writer fell behind") != std::string::npos);
    const long dropped = std::stol(status.substr(std::string("take.wav: ").size()));
    CHECK(dropped > 0);
    CHECK(dropped % 512 == 0);  // whole blocks
    h.setParam("armed", 0.0f);
    h.run(512);
    REQUIRE(waitFor([&] { return fs::exists(dir.path / "take.wav"); }));
    CHECK(long(readSound(dir.path / "take.wav").data[0].size()) == frames - dropped);
}

TEST_CASE("recorder keeps up with a minute of stereo at 100x real time", "[recording]") {
    TempDir dir;
    const int frames = 60 * 48000;
    const auto left = noiseSignal(frames, 13), right = kabel::test::sineSignal(1000.0, frames, 0.5);
    std::string status;
    double seconds = 0.0;
    {
        ModuleHarness h("recorder", kFs, 64);
        loadState(h, R"({"file": "take.wav"})", nullptr, dir.path);
        h.connect("left", left);
        h.connect("right", right);
        h.setParam("armed", 1.0f);
        const int chunk = 4800;  // 0.1 s of audio per 1 ms of wall time
        const auto start = std::chrono::steady_clock::now();
        for (int done = 0; done < frames; done += chunk) {
            h.run(chunk);
            std::this_thread::sleep_until(start + std::chrono::microseconds((done + chunk) * 1000000LL / 48000 / 100));
        }
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        status = h.module().status();
    }  // the destructor ends the take
    const Sound s = readSound(dir.path / "take.wav");
    std::printf("recorder: 60 s of stereo in %.2f s (%.0fx real time), %zu frames written, status '%s'\n", seconds, 60.0 / seconds,
                s.data[0].size(), status.c_str());
    CHECK(status.empty());
    REQUIRE(s.data[0].size() == std::size_t(frames));
    CHECK(s.data[0] == left);
    CHECK(s.data[1] == right);

    SECTION("unthrottled (reported, not asserted: it depends on the disk and the load)") {
        std::string fastStatus;
        double fast = 0.0;
        {
            ModuleHarness h("recorder", kFs, 64);
            loadState(h, R"({"file": "fast.wav"})", nullptr, dir.path);
            h.connect("left", left);
            h.connect("right", right);
            h.setParam("armed", 1.0f);
            const auto start = std::chrono::steady_clock::now();
            for (int done = 0; done < frames; done += 48000) h.run(48000);
            fast = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            fastStatus = h.module().status();
        }
        std::printf("recorder unthrottled: 60 s of stereo in %.3f s (%.0fx real time): '%s'\n", fast, 60.0 / fast, fastStatus.c_str());
    }
}

TEST_CASE("recorder in an offline render records exactly what the render writes", "[recording]") {
    TempDir dir;
    kabel::Patch patch =
        kabel::test::makePatch({kabel::test::moduleSpec("osc", "sine", {{"freq", 441.0}}), kabel::test::moduleSpec("o", "out"),
                                kabel::test::moduleSpec("rec", "recorder", {{"armed", 1.0}})},
                               {{"osc.out", "o.left"}, {"osc.out", "rec.left"}});
    patch.modules[2].stateJson = R"({"file": "take.wav"})";
    kabel::RenderOptions options;
    options.seconds = 5.0;
    options.channels = 1;
    options.outputGuard = false;
    options.patchDirectory = dir.path;
    const kabel::RenderSummary summary = kabel::renderPatch(patch, dir.path / "render.wav", options);
    CHECK(summary.frames == 240000u);
    const Sound rendered = readSound(dir.path / "render.wav");
    const Sound take = readSound(dir.path / "take.wav");  // there when the render returns
    REQUIRE(take.data[0].size() == 240000u);
    CHECK(take.data[0] == rendered.data[0]);
    CHECK(take.data[1] == rendered.data[0]);
}

TEST_CASE("recorder reports a file it cannot write, by name", "[recording]") {
    TempDir dir;
    ModuleHarness h("recorder", kFs);
    loadState(h, R"({"file": "no/such/folder/take.wav"})", nullptr, dir.path);
    h.connect("left", noiseSignal(2000, 14));
    h.setParam("armed", 1.0f);
    h.run(1000);
    REQUIRE(waitFor([&] { return !h.module().status().empty(); }));
    const std::string status = h.module().status();
    INFO(status);
    CHECK(status.find("no/such/folder/take.wav: cannot record: ") == 0);
    h.setParam("armed", 0.0f);
    h.run(1000);
}

TEST_CASE("recorder refuses state it cannot use with a clear message", "[recording]") {
    ModuleHarness h("recorder", kFs);
    auto message = [&](const std::string& json) {
        try {
            h.module().loadState(json.empty() ? nlohmann::json() : nlohmann::json::parse(json), kabel::LoadContext{});
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(message(R"({"ring_seconds": 3})") == "\"file\" is missing: name the WAV file to write, e.g. {\"file\": \"take.wav\"}");
    CHECK(message(R"({"file": true})") == "\"file\" must be a string");
    CHECK(message(R"({"file": ""})") == "\"file\" must not be empty");
    CHECK(message(R"({"file": "a.wav", "ring_seconds": 0})") == "\"ring_seconds\" must be within 0.01..600");
    CHECK(message(R"({"file": "a.wav", "rate": 3})") == "unknown key \"rate\" (use \"file\" and \"ring_seconds\")");
    CHECK(message("") == "accepted");
    h.setParam("armed", 1.0f);
    CHECK(h.module().status() == "armed but no file: give it a state such as {\"file\": \"take.wav\"}");
}

TEST_CASE("recording modules never allocate or lock on the audio thread while recording", "[recording][realtime]") {
    if (!kabel::test::kRtGuardActive) return;
    TempDir dir;
    kabel::SharedBuffers buffers;
    for (const char* type : {"livesampler", "recorder"}) {
        INFO(type);
        kabel::test::ModuleBench bench(type, 64, kFs, 100);
        bench.connect("left", 16, [](int c, long n) { return 0.01f * float(c) + 0.0001f * float(n % 1000); });
        bench.connect("record", 1, [](int, long n) { return (n % 2000) < 1500 ? 1.0f : 0.0f; });
        bench.build();
        const std::string state = std::string(type) == "recorder" ? R"({"file": "take.wav"})" : R"({"buffer": "b", "seconds": 1})";
        bench.module().loadState(nlohmann::json::parse(state), kabel::LoadContext{dir.path, nullptr, &buffers});
        bench.module().idle();
        kabel::test::RtGuard guard;
        for (int b = 0; b < 3000; ++b) bench.step();
        CHECK(guard.counts().allocations == 0);
        CHECK(guard.counts().locks == 0);
    }
}

TEST_CASE("recording micro-benchmark", "[.bench]") {
    TempDir dir;
    kabel::SharedBuffers buffers;
    for (int channels : {1, 16}) {
        {
            kabel::test::ModuleBench b("livesampler", 64, kFs);
            b.connect("left", channels, [](int c, long n) { return 0.01f * float(c) + 0.0001f * float(n % 1000); });
            b.connect("right", channels, [](int c, long n) { return 0.02f * float(c) - 0.0001f * float(n % 900); });
            b.connect("record", 1, [](int, long n) { return n % 48000 < 47936 ? 1.0f : 0.0f; });  // a take per second
            b.setParam("mode", 1.0f);                                                             // overdub
            b.build();
            b.module().loadState(nlohmann::json::parse(R"({"buffer": "bench", "seconds": 2})"), kabel::LoadContext{{}, nullptr, &buffers});
            b.module().idle();
            std::printf("(livesampler: %d input channels, one output)\n", channels);
            b.nsPerSample("livesampler stereo, recording (overdub)");
        }
        {
            kabel::test::ModuleBench b("recorder", 64, kFs);
            b.connect("left", channels, [](int c, long n) { return 0.01f * float(c) + 0.0001f * float(n % 1000); });
            b.connect("right", channels, [](int c, long n) { return 0.02f * float(c) - 0.0001f * float(n % 900); });
            b.setParam("armed", 1.0f);
            b.build();
            b.module().loadState(nlohmann::json::parse(R"({"file": "bench.wav"})"), kabel::LoadContext{dir.path, nullptr, nullptr});
            // No outputs to count samples by: the fastest of 40 passes of 250 blocks (13 s of audio
            // in all, within the ring), in ns per frame.
            double best = 1e300;
            for (int pass = 0; pass < 40; ++pass) {
                const auto start = std::chrono::steady_clock::now();
                for (int block = 0; block < 250; ++block) b.step();
                best = std::min(
                    best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / (250.0 * 64.0));
            }
            std::printf("%-48s %8.3f ns/frame  (%d input channels, 64-frame blocks)\n", "recorder stereo, recording", best, channels);
        }
    }
}

TEST_CASE("recorder never replaces a file it did not write: takes go to take-2.wav", "[recording]") {
    TempDir dir;
    {
        std::ofstream mine(dir.path / "take.wav");
        mine << "the user's own file";
    }
    const auto x = noiseSignal(4000, 13);
    ModuleHarness h("recorder", kFs);
    loadState(h, R"({"file": "take.wav"})", nullptr, dir.path);
    h.connect("left", x);
    for (int take = 0; take < 2; ++take) {  // the second take replaces the first, in take-2.wav
        h.setParam("armed", 1.0f);
        h.run(1000);
        h.setParam("armed", 0.0f);
        h.run(1000);
    }
    REQUIRE(
        waitFor([&] { return fs::exists(dir.path / "take-2.wav") && readSound(dir.path / "take-2.wav").data[0] == slice(x, 2000, 1000); }));
    std::ifstream mine(dir.path / "take.wav");
    std::string text;
    std::getline(mine, text);
    CHECK(text == "the user's own file");
    CHECK_FALSE(fs::exists(dir.path / "take-3.wav"));
    CHECK(h.module().status().find("take.wav was there already (not recorded by this module): recording to take-2.wav") !=
          std::string::npos);
}

TEST_CASE("recorder refuses a file that is not a .wav", "[recording]") {
    TempDir dir;
    ModuleHarness h("recorder", kFs);
    for (const char* state : {R"({"file": "notes.txt"})", R"({"file": "../.bashrc"})", R"({"file": "take"})"}) {
        INFO(state);
        CHECK_THROWS_WITH(h.module().loadState(nlohmann::json::parse(state), kabel::LoadContext{dir.path}),
                          Catch::Contains("must name a .wav file"));
    }
}
