// Device audio in and out: the engine's input path (one block of latency, any device buffer),
// the `in` and `out` modules' channel routing, and the JACK server-loss guard being in effect.
#include <catch2/catch.hpp>

#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/io/jack_server_loss.hpp"
#include "core/module/registry.hpp"
#include "tests/support/patch_builder.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

// Runs `total` frames through engine.process(in, out) in device buffers of `buffer` frames and
// returns every output channel. Input channel c carries 1000 * (c + 1) + frame index.
std::vector<std::vector<float>> playThrough(Engine& engine, int inChannels, int outChannels, int buffer, int total) {
    std::vector<std::vector<float>> in(static_cast<std::size_t>(inChannels), std::vector<float>(static_cast<std::size_t>(total)));
    for (int c = 0; c < inChannels; ++c)
        for (int n = 0; n < total; ++n)
            in[static_cast<std::size_t>(c)][static_cast<std::size_t>(n)] = 1000.0f * static_cast<float>(c + 1) + static_cast<float>(n);
    std::vector<std::vector<float>> out(static_cast<std::size_t>(outChannels), std::vector<float>(static_cast<std::size_t>(total)));
    std::vector<const float*> inPtr(static_cast<std::size_t>(inChannels));
    std::vector<float*> outPtr(static_cast<std::size_t>(outChannels));
    for (int done = 0; done < total; done += buffer) {
        const int n = std::min(buffer, total - done);
        for (int c = 0; c < inChannels; ++c) inPtr[static_cast<std::size_t>(c)] = in[static_cast<std::size_t>(c)].data() + done;
        for (int c = 0; c < outChannels; ++c) outPtr[static_cast<std::size_t>(c)] = out[static_cast<std::size_t>(c)].data() + done;
        engine.process(inPtr.data(), inChannels, outPtr.data(), outChannels, n);
    }
    return out;
}

}  // namespace

TEST_CASE("device input reaches the patch exactly one engine block later at any device buffer size", "[audio-io]") {
    for (const int buffer : {1, 37, 64, 100, 256, 1000}) {
        Engine engine(
            EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 2, .outputGuard = false, .inputChannels = 2});
        Session session(engine, Registry::global());
        session.load(makePatch({moduleSpec("in", "in"), moduleSpec("out", "out")}, {{"in.left", "out.left"}, {"in.right", "out.right"}}));
        const auto out = playThrough(engine, 2, 2, buffer, 4096);
        INFO("device buffer " << buffer);
        int wrong = 0;
        for (int n = 0; n < 4096; ++n) {
            const float left = n < 64 ? 0.0f : 1000.0f + static_cast<float>(n - 64);
            const float right = n < 64 ? 0.0f : 2000.0f + static_cast<float>(n - 64);
            if (out[0][static_cast<std::size_t>(n)] != left || out[1][static_cast<std::size_t>(n)] != right) ++wrong;
        }
        CHECK(wrong == 0);
    }
}

TEST_CASE("device inputs the device does not deliver read as silence", "[audio-io]") {
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 2, .outputGuard = false, .inputChannels = 4});
    Session session(engine, Registry::global());
    session.load(makePatch({moduleSpec("in", "in", {{"first", 3}}), moduleSpec("out", "out")},
                           {{"in.left", "out.left"}, {"in.right", "out.right"}}));
    const auto out = playThrough(engine, 2, 2, 128, 1024);  // the device gives 2 of the engine's 4 inputs
    float peak = 0.0f;
    for (const auto& channel : out)
        for (float v : channel) peak = std::max(peak, std::abs(v));
    CHECK(peak == 0.0f);
}

TEST_CASE("a mono device input feeds both outputs of the in module", "[audio-io]") {
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 2, .outputGuard = false, .inputChannels = 1});
    Session session(engine, Registry::global());
    session.load(makePatch({moduleSpec("in", "in"), moduleSpec("out", "out")}, {{"in.left", "out.left"}, {"in.right", "out.right"}}));
    const auto out = playThrough(engine, 1, 2, 64, 512);
    CHECK(out[0][200] == 1000.0f + 136.0f);
    CHECK(out[1][200] == 1000.0f + 136.0f);
}

TEST_CASE("the out module's First Channel sends a pair to outputs 3 and 4 of a multi-channel device", "[audio-io]") {
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 4, .outputGuard = false, .inputChannels = 2});
    Session session(engine, Registry::global());
    session.load(makePatch({moduleSpec("in", "in"), moduleSpec("out", "out", {{"first", 3}})},
                           {{"in.left", "out.left"}, {"in.right", "out.right"}}));
    const auto out = playThrough(engine, 2, 4, 64, 512);
    CHECK(out[0][300] == 0.0f);
    CHECK(out[1][300] == 0.0f);
    CHECK(out[2][300] == 1000.0f + 236.0f);
    CHECK(out[3][300] == 2000.0f + 236.0f);
}

TEST_CASE("an out module aimed past the device's last channel is silent, and one on the last channel plays Left", "[audio-io]") {
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 3, .outputGuard = false, .inputChannels = 2});
    Session session(engine, Registry::global());
    session.load(makePatch({moduleSpec("in", "in"), moduleSpec("last", "out", {{"first", 3}}), moduleSpec("past", "out", {{"first", 9}})},
                           {{"in.left", "last.left"}, {"in.right", "last.right"}, {"in.left", "past.left"}}));
    const auto out = playThrough(engine, 2, 3, 64, 512);
    CHECK(out[0][300] == 0.0f);
    CHECK(out[1][300] == 0.0f);
    CHECK(out[2][300] == 1000.0f + 236.0f);
}

TEST_CASE("the JACK server-loss guard is what PortAudio's libjack calls reach", "[audio-io]") {
    // Without it, a JACK server quitting under a stream aborts the process (jack_server_loss.hpp).
    CHECK(jackServerLossGuardActive());
    CHECK_FALSE(jackClientLost());
}
