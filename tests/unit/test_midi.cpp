// The midi module (MIDI to pitch/gate): outputs at exact frames, voice allocation in each mode,
// sustain, bend range, MPE, retrig and gate gaps.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"

using namespace kabel;

namespace {

enum { kPitch, kGate, kVelocity, kAftertouch, kBend, kMod, kRetrig, kSlide, kOutputs };

struct Ev {
    std::uint64_t frame;
    std::uint8_t status, data1, data2;
};

// Runs the `midi` module block by block with `events` (absolute frames, sorted) and returns
// out[port][voice][frame].
class MidiRig {
public:
    explicit MidiRig(std::initializer_list<std::pair<const char*, float>> params = {}, int block = 64) : block_(block) {
        const ModuleDescriptor* d = Registry::global().find("midi");
        REQUIRE(d != nullptr);
        module_ = d->create();
        for (const auto& [id, value] : params) module_->setParam(d->paramIndex(id), value);
        module_->prepare(48000.0, block);
        voices_ = module_->outputChannels(0, {});
        stride_ = block;
        buffers_.assign(kOutputs, std::vector<float>(static_cast<std::size_t>(voices_ * stride_)));
        for (int p = 0; p < kOutputs; ++p)
            ports_[static_cast<std::size_t>(p)] = OutputPort{buffers_[static_cast<std::size_t>(p)].data(), voices_, stride_, true};
    }

    int voices() const { return voices_; }
    double processNs = 0.0;  // time spent in process()

    std::vector<std::vector<std::vector<float>>> run(const std::vector<Ev>& events, int frames) {
        std::vector<std::vector<std::vector<float>>> out(kOutputs, std::vector<std::vector<float>>(static_cast<std::size_t>(voices_)));
        std::size_t next = 0;
        for (int done = 0; done < frames;) {
            const int n = std::min(block_, frames - done);
            const std::uint64_t start = position_;
            std::vector<MidiEvent> block;
            for (; next < events.size() && events[next].frame < start + static_cast<std::uint64_t>(n); ++next) {
                MidiEvent e;
                e.frame = static_cast<std::uint32_t>(events[next].frame - start);
                e.status = events[next].status;
                e.data1 = events[next].data1;
                e.data2 = events[next].data2;
                block.push_back(e);
            }
            HostBuffers host;
            host.midi = block;
            ProcessContext ctx;
            ctx.frames = n;
            ctx.blockStart = start;
            ctx.out = ports_;
            ctx.host = &host;
            const auto t0 = std::chrono::steady_clock::now();
            module_->process(ctx);
            processNs += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
            for (int p = 0; p < kOutputs; ++p)
                for (int v = 0; v < voices_; ++v) {
                    const float* x = ports_[static_cast<std::size_t>(p)].channel(v);
                    auto& dst = out[static_cast<std::size_t>(p)][static_cast<std::size_t>(v)];
                    dst.insert(dst.end(), x, x + n);
                }
            done += n;
            position_ += static_cast<std::uint64_t>(n);
        }
        return out;
    }

private:
    std::unique_ptr<Module> module_;
    int block_, voices_ = 1, stride_ = 64;
    std::uint64_t position_ = 0;
    std::vector<std::vector<float>> buffers_;
    std::array<OutputPort, kOutputs> ports_{};
};

Ev on(std::uint64_t f, int note, int vel = 100, int ch = 0) {
    return {f, static_cast<std::uint8_t>(0x90 | ch), static_cast<std::uint8_t>(note), static_cast<std::uint8_t>(vel)};
}
Ev off(std::uint64_t f, int note, int ch = 0) {
    return {f, static_cast<std::uint8_t>(0x80 | ch), static_cast<std::uint8_t>(note), 0};
}
Ev cc(std::uint64_t f, int number, int value, int ch = 0) {
    return {f, static_cast<std::uint8_t>(0xB0 | ch), static_cast<std::uint8_t>(number), static_cast<std::uint8_t>(value)};
}
Ev bend(std::uint64_t f, int value, int ch = 0) {  // -8192..8191
    const int v = value + 8192;
    return {f, static_cast<std::uint8_t>(0xE0 | ch), static_cast<std::uint8_t>(v & 0x7F), static_cast<std::uint8_t>(v >> 7)};
}

}  // namespace

TEST_CASE("midi module outputs change exactly at the event frame", "[midi]") {
    for (int block : {1, 64, 100}) {
        INFO("block " << block);
        MidiRig rig({}, block);
        const auto out = rig.run({on(150, 72, 127), off(300, 72), on(300, 48, 64), cc(310, 1, 127)}, 400);
        const auto& pitch = out[kPitch][0];
        const auto& gate = out[kGate][0];
        CHECK(gate[149] == 0.0f);
        CHECK(gate[150] == 1.0f);
        CHECK(pitch[149] == 0.0f);          // note 60 before anything: 0
        CHECK(pitch[150] == Approx(1.0f));  // note 72: one octave up
        CHECK(out[kVelocity][0][150] == 1.0f);
        // Note-off and a new note on the same frame: the gate is low for exactly one sample.
        CHECK(gate[299] == 1.0f);
        CHECK(gate[300] == 0.0f);
        CHECK(gate[301] == 1.0f);
        CHECK(pitch[299] == Approx(1.0f));
        CHECK(pitch[300] == Approx(-1.0f));
        CHECK(out[kVelocity][0][300] == Approx(64.0f / 127.0f));
        CHECK(out[kMod][0][309] == 0.0f);
        CHECK(out[kMod][0][310] == 1.0f);
        // Retrig: 1 ms = 48 samples from each note-on.
        CHECK(out[kRetrig][0][149] == 0.0f);
        CHECK(out[kRetrig][0][150] == 1.0f);
        CHECK(out[kRetrig][0][197] == 1.0f);
        CHECK(out[kRetrig][0][198] == 0.0f);
        CHECK(out[kRetrig][0][300] == 1.0f);
        CHECK(out[kRetrig][0][348] == 0.0f);
    }
}

TEST_CASE("midi module treats note-on with velocity 0 as note-off and holds pitch after release", "[midi]") {
    MidiRig rig;
    const auto out = rig.run({on(10, 67), on(20, 67, 0)}, 40);
    CHECK(out[kGate][0][19] == 1.0f);
    CHECK(out[kGate][0][20] == 0.0f);
    CHECK(out[kPitch][0][39] == Approx(7.0f / 12.0f));
    CHECK(out[kVelocity][0][39] == Approx(100.0f / 127.0f));
}

TEST_CASE("midi module re-struck and stolen voices get a one-sample gate gap", "[midi]") {
    MidiRig rig;  // one voice
    const auto out = rig.run({on(10, 60), on(20, 64), on(30, 64)}, 40);
    const auto& gate = out[kGate][0];
    CHECK(gate[19] == 1.0f);
    CHECK(gate[20] == 0.0f);  // stolen by 64
    CHECK(gate[21] == 1.0f);
    CHECK(gate[30] == 0.0f);  // 64 struck again
    CHECK(gate[31] == 1.0f);
    CHECK(out[kPitch][0][25] == Approx(4.0f / 12.0f));
}

TEST_CASE("midi module rotate mode cycles through voices", "[midi]") {
    MidiRig rig({{"voices", 3}, {"mode", 0}});
    REQUIRE(rig.voices() == 3);
    // 60 -> v0, 62 -> v1, release 60; 64 -> v2 (next after the last used, though v0 is free); 65 -> v0;
    // all busy: 67 steals the voice after the last used (v1).
    const auto out = rig.run({on(0, 60), on(10, 62), off(20, 60), on(30, 64), on(40, 65), on(50, 67)}, 60);
    CHECK(out[kPitch][0][5] == Approx(0.0f));
    CHECK(out[kPitch][1][15] == Approx(2.0f / 12));
    CHECK(out[kGate][0][25] == 0.0f);
    CHECK(out[kPitch][2][35] == Approx(4.0f / 12));
    CHECK(out[kPitch][0][45] == Approx(5.0f / 12));
    CHECK(out[kPitch][1][55] == Approx(7.0f / 12));
    CHECK(out[kGate][1][50] == 0.0f);  // the steal dips the gate
    CHECK(out[kGate][1][51] == 1.0f);
}

TEST_CASE("midi module reuse mode returns a note to its previous voice", "[midi]") {
    MidiRig rig({{"voices", 3}, {"mode", 1}});
    // 60 -> v0, 62 -> v1, 64 -> v2; all released; 64 again -> v2, 62 -> v1, 70 -> v0 (lowest free).
    const auto out =
        rig.run({on(0, 60), on(1, 62), on(2, 64), off(10, 60), off(10, 62), off(10, 64), on(20, 64), on(21, 62), on(22, 70)}, 30);
    CHECK(out[kPitch][2][25] == Approx(4.0f / 12));
    CHECK(out[kPitch][1][25] == Approx(2.0f / 12));
    CHECK(out[kPitch][0][25] == Approx(10.0f / 12));
}

TEST_CASE("midi module lowest mode takes the lowest free voice and steals the oldest note", "[midi]") {
    MidiRig rig({{"voices", 3}, {"mode", 2}});
    // 60 -> v0, 62 -> v1, 64 -> v2; release 62; 65 -> v1; all busy: 67 steals the oldest (60 on v0).
    const auto out = rig.run({on(0, 60), on(1, 62), on(2, 64), off(10, 62), on(20, 65), on(30, 67)}, 40);
    CHECK(out[kPitch][1][25] == Approx(5.0f / 12));
    CHECK(out[kPitch][0][35] == Approx(7.0f / 12));
    CHECK(out[kPitch][2][35] == Approx(4.0f / 12));
    CHECK(out[kGate][2][35] == 1.0f);
    // A note-off for the stolen note does nothing.
    const auto after = rig.run({off(40, 60)}, 10);
    CHECK(after[kGate][0][9] == 1.0f);
}

TEST_CASE("midi module sustain pedal holds released notes until it lifts", "[midi]") {
    MidiRig rig({{"voices", 2}});
    const auto out = rig.run({on(0, 60), cc(5, 64, 127), off(10, 60), on(15, 62), off(20, 62), cc(30, 64, 0)}, 40);
    CHECK(out[kGate][0][25] == 1.0f);
    CHECK(out[kGate][1][25] == 1.0f);
    CHECK(out[kGate][0][29] == 1.0f);
    CHECK(out[kGate][0][30] == 0.0f);
    CHECK(out[kGate][1][30] == 0.0f);
    // All notes off releases held keys and pedal-held notes alike.
    const auto out2 = rig.run({on(40, 64), cc(45, 64, 127), on(46, 65), off(47, 64), cc(50, 123, 0)}, 20);
    CHECK(out2[kGate][0][9] == 1.0f);
    CHECK(out2[kGate][1][9] == 1.0f);
    CHECK(out2[kGate][0][10] == 0.0f);
    CHECK(out2[kGate][1][10] == 0.0f);
}

TEST_CASE("midi module pitch bend follows the bend range", "[midi]") {
    for (float range : {2.0f, 12.0f, 48.0f}) {
        INFO("range " << range);
        MidiRig rig({{"bend_range", range}});
        const auto out = rig.run({on(0, 69), bend(10, 8191), bend(20, -8192), bend(30, 4096)}, 40);
        const float base = 9.0f / 12.0f;
        CHECK(out[kPitch][0][9] == Approx(base));
        CHECK(out[kPitch][0][10] == Approx(base + range * (8191.0f / 8192.0f) / 12.0f));
        CHECK(out[kPitch][0][20] == Approx(base - range / 12.0f));
        CHECK(out[kPitch][0][30] == Approx(base + range * 0.5f / 12.0f));
        CHECK(out[kBend][0][30] == Approx(0.5f));
    }
}

TEST_CASE("midi module channel filter follows one channel", "[midi]") {
    MidiRig rig({{"channel", 3}});  // MIDI channel 3 = status nibble 2
    const auto out = rig.run({on(0, 60, 100, 0), on(10, 64, 100, 2), bend(20, 8191, 0)}, 30);
    CHECK(out[kGate][0][5] == 0.0f);
    CHECK(out[kGate][0][15] == 1.0f);
    CHECK(out[kPitch][0][25] == Approx(4.0f / 12));  // the bend on channel 1 is ignored
}

TEST_CASE("midi module pressure, poly pressure and slide", "[midi]") {
    MidiRig rig({{"voices", 2}});
    const auto out = rig.run({on(0, 60), on(0, 64), {10, 0xD0, 127, 0}, {20, 0xA0, 64, 0}, cc(30, 74, 127)}, 40);
    CHECK(out[kAftertouch][0][15] == 1.0f);
    CHECK(out[kAftertouch][1][15] == 1.0f);
    CHECK(out[kAftertouch][0][25] == 1.0f);
    CHECK(out[kAftertouch][1][25] == 0.0f);  // poly pressure 0 on note 64 only
    CHECK(out[kSlide][0][29] == 0.0f);
    CHECK(out[kSlide][1][30] == 1.0f);
}

TEST_CASE("midi module in mpe mode gives each voice its own channel's bend, pressure and slide", "[midi]") {
    MidiRig rig({{"voices", 4}, {"mpe", 1}, {"bend_range", 48}});
    // Notes on member channels 2 and 3 (nibbles 1, 2); channel 2 bends +1/2, channel 3 presses;
    // the master channel (1) bends everything by +1/4 of its range.
    const auto out =
        rig.run({on(0, 60, 100, 1), on(0, 67, 100, 2), bend(10, 4096, 1), {20, 0xD2, 127, 0}, cc(25, 74, 127, 2), bend(30, 2048, 0)}, 40);
    CHECK(out[kPitch][0][15] == Approx(24.0f / 12));  // +24 semitones
    CHECK(out[kPitch][1][15] == Approx(7.0f / 12));
    CHECK(out[kBend][0][15] == Approx(0.5f));
    CHECK(out[kBend][1][15] == 0.0f);
    CHECK(out[kAftertouch][0][25] == 0.0f);
    CHECK(out[kAftertouch][1][25] == 1.0f);
    CHECK(out[kSlide][0][25] == 0.0f);
    CHECK(out[kSlide][1][25] == 1.0f);
    CHECK(out[kPitch][0][35] == Approx(36.0f / 12));  // + master 12 semitones
    CHECK(out[kPitch][1][35] == Approx(19.0f / 12));
    CHECK(out[kBend][0][35] == Approx(0.5f));  // Bend shows the voice's own channel
}

TEST_CASE("midi module bench", "[.bench]") {
    for (int voices : {1, 16}) {
        MidiRig rig({{"voices", static_cast<float>(voices)}});
        std::vector<Ev> events;
        for (int i = 0; i < 48000; i += 480) {
            events.push_back(on(static_cast<std::uint64_t>(i), 40 + (i / 480) % 40));
            events.push_back(off(static_cast<std::uint64_t>(i + 240), 40 + (i / 480) % 40));
        }
        rig.run(events, 48000);
        std::printf("midi voices=%d, 200 events/s: %.3f ns per sample per channel (all 8 outputs connected)\n", voices,
                    rig.processNs / 48000.0 / voices);
    }
}
