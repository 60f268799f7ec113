// The engine's MIDI output path: the per-block buffer modules send into (order, overflow), the
// engine stamping each message with its absolute frame into the output queue, and the clock ->
// midiclockout patch producing 0xFA then 0xF8 every 1000 frames at 120 BPM, with no allocation or
// lock on the audio thread.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/midi/midi_output.hpp"
#include "core/module/registry.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Sent {
    std::uint64_t frame;
    std::uint8_t status;
    bool operator==(const Sent&) const = default;
};

std::vector<Sent> drain(MidiOutputQueue& q) {
    std::vector<Sent> v;
    while (const StampedMidi* e = q.front()) {
        v.push_back({e->frame, e->status});
        q.pop(nullptr);
    }
    return v;
}

Patch clockOutPatch(float bpm) {
    return makePatch({moduleSpec("clk", "clock", {{"bpm", bpm}}), moduleSpec("tx", "midiclockout")}, {{"clk.ppqn", "tx.clock"}});
}

}  // namespace

TEST_CASE("midi output block keeps messages in frame order, stable, and counts what overflows", "[midi][output]") {
    MidiOutputBlock block;
    block.add(10, 0xF8);
    block.add(3, 0xFA);
    block.add(10, 0xFC);
    block.add(3, 0xF8);
    const auto s = block.sorted();
    REQUIRE(s.size() == 4);
    CHECK(s[0].frame == 3);
    CHECK(s[0].status == 0xFA);
    CHECK(s[1].status == 0xF8);
    CHECK(s[2].status == 0xF8);
    CHECK(s[3].status == 0xFC);
    CHECK(block.clear() == 0);
    for (int i = 0; i < kMaxMidiOutEventsPerBlock; ++i) REQUIRE(block.add(static_cast<std::uint32_t>(i), 0xF8));
    CHECK_FALSE(block.add(0, 0xF8));
    CHECK_FALSE(block.add(0, 0xF8));
    CHECK(block.size() == kMaxMidiOutEventsPerBlock);
    CHECK(block.clear() == 2);
    CHECK(block.size() == 0);
}

TEST_CASE("engine stamps sent messages with absolute engine frames: clock to midiclockout at 120 BPM", "[midi][output]") {
    for (int blockFrames : {64, 100}) {
        EngineConfig config;
        config.blockFrames = blockFrames;
        Engine engine(config);
        Session session(engine, Registry::global());
        session.load(clockOutPatch(120.0f));
        engine.setMidiOutputAttached(true);
        std::vector<Sent> sent;
        const int blocks = 48000 * 2 / blockFrames;  // 2 s
        for (int b = 0; b < blocks; ++b) {
            engine.processBlock();
            const auto got = drain(engine.midiOutput());
            sent.insert(sent.end(), got.begin(), got.end());
            session.poll();
        }
        INFO("block " << blockFrames);
        REQUIRE(sent.size() >= 2);
        CHECK(sent[0] == Sent{0, 0xFA});
        // 0xF8 at frame 1000 k exactly: 120 BPM x 24 ppqn = 48 per second at 48 kHz.
        const std::uint64_t end = static_cast<std::uint64_t>(blocks) * static_cast<std::uint64_t>(blockFrames);
        std::vector<Sent> expected{{0, 0xFA}};
        for (std::uint64_t f = 0; f < end; f += 1000) expected.push_back({f, 0xF8});
        CHECK(sent == expected);
        const MidiStats st = engine.midiStats();
        CHECK(st.sent == expected.size());
        CHECK(st.sendDropped == 0);
    }
}

TEST_CASE("engine discards sent MIDI until a device attaches, and counts a full queue", "[midi][output]") {
    EngineConfig config;
    config.midiOutputQueueEvents = 16;
    Engine engine(config);
    Session session(engine, Registry::global());
    session.load(clockOutPatch(120.0f));
    for (int b = 0; b < 100; ++b) engine.processBlock();
    CHECK(engine.midiOutput().front() == nullptr);
    CHECK(engine.midiStats().sent == 0);
    engine.setMidiOutputAttached(true);                   // nobody reads: 16 fit, the rest are dropped and counted
    for (int b = 0; b < 750; ++b) engine.processBlock();  // 48000 frames: 48 clocks
    CHECK(engine.midiStats().sent == 16);
    CHECK(engine.midiStats().sendDropped == 32);
}

TEST_CASE("sending MIDI clock allocates nothing and locks nothing on the audio thread", "[midi][output]") {
    if (!kRtGuardActive) return;
    Engine engine(EngineConfig{});
    Session session(engine, Registry::global());
    session.load(clockOutPatch(173.0f));
    engine.setMidiOutputAttached(true);
    engine.processBlock();  // takes the plan
    RtCounts counts;
    std::uint64_t received = 0;
    {
        RtGuard guard;
        for (int b = 0; b < 3000; ++b) {
            engine.processBlock();
            while (engine.midiOutput().front()) {
                engine.midiOutput().pop(nullptr);
                ++received;
            }
        }
        counts = guard.counts();
    }
    CHECK(received > 100);
    CHECK(counts.allocations == 0);
    CHECK(counts.locks == 0);
}
