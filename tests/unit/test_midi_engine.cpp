// MIDI delivery by the engine (exact frames, late events, overflow), offline rendering from a
// Standard MIDI File through midi -> sine, and real-time safety while events flow.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <sndfile.h>

#include "core/engine/engine.hpp"
#include "core/engine/offline.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/wav_file.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

// Records every event it sees as (absolute frame, status, data1, port), in a buffer allocated up front.
struct Seen {
    std::uint64_t frame;
    std::uint8_t status, data1, port;
    std::uint32_t sysexLength;
    bool operator==(const Seen&) const = default;
};
std::vector<Seen>* gSeen = nullptr;

class Recorder final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        std::uint32_t last = 0;
        for (const MidiEvent& e : ctx.midi()) {
            if (e.frame < last || static_cast<int>(e.frame) >= ctx.frames) sorted = false;
            last = e.frame;
            if (gSeen && gSeen->size() < gSeen->capacity())
                gSeen->push_back({ctx.blockStart + e.frame, e.status, e.data1, e.port, e.sysexLength});
        }
        for (int n = 0; n < ctx.frames; ++n) ctx.out[0].data[n] = 0.0f;
    }
    static inline bool sorted = true;
};

const ModuleDescriptor kRecorder{.id = "trecord",
                                 .name = "Recorder",
                                 .category = "Test",
                                 .help = "records MIDI events",
                                 .outputs = {{.id = "out", .name = "Out"}},
                                 .create = [] { return std::unique_ptr<Module>(new Recorder(kRecorder)); }};

const Registry& recorderRegistry() {
    static Registry r = [] {
        Registry reg;
        reg.add(kRecorder);
        return reg;
    }();
    return r;
}

}  // namespace

TEST_CASE("midi events reach modules at their exact frames for any block size", "[midi]") {
    for (int block : {1, 64, 100}) {
        INFO("block " << block);
        Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = block, .outputChannels = 1, .outputGuard = false});
        Session session(engine, recorderRegistry());
        session.load(makePatch({moduleSpec("r", "trecord")}, {}));
        engine.processBlock();  // the plan is taken at the first block
        std::vector<Seen> seen;
        seen.reserve(1000);
        gSeen = &seen;
        Recorder::sorted = true;
        const std::uint64_t b = static_cast<std::uint64_t>(block);
        // Frames on block boundaries (b, 2b, 3b - 1, 3b), inside blocks, several on one frame, far ahead.
        std::vector<std::uint64_t> frames{b, 2 * b, 3 * b - 1, 3 * b, 3 * b, 3 * b + 7, 1000, 1001, 4799};
        std::vector<Seen> expected;
        std::uint8_t note = 0;
        for (std::uint64_t f : frames) {
            REQUIRE(engine.midiInput(0).push(f, 0x90, note, 100));
            expected.push_back({f, 0x90, note++, 0, 0});
        }
        while (engine.deviceFrame() < 5000 && engine.stats().blocks * b < 5000) {
            engine.processBlock();
        }
        gSeen = nullptr;
        CHECK(seen == expected);
        CHECK(Recorder::sorted);
        CHECK(engine.midiStats().late == 0);
        CHECK(engine.midiStats().delivered == frames.size());
    }
}

TEST_CASE("midi events from several ports are merged sorted by frame, stable for equal frames", "[midi]") {
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 1, .outputGuard = false, .midiInputs = 3});
    Session session(engine, recorderRegistry());
    session.load(makePatch({moduleSpec("r", "trecord")}, {}));
    engine.processBlock();
    std::vector<Seen> seen;
    seen.reserve(100);
    gSeen = &seen;
    Recorder::sorted = true;
    engine.midiInput(2).push(70, 0xB0, 1);
    engine.midiInput(2).push(80, 0xB0, 2);
    engine.midiInput(0).push(80, 0xB0, 3);
    engine.midiInput(1).push(65, 0xB0, 4);
    engine.midiInput(0).push(90, 0xB0, 5);
    engine.processBlock();
    gSeen = nullptr;
    const std::vector<Seen> expected{
        {65, 0xB0, 4, 1, 0}, {70, 0xB0, 1, 2, 0}, {80, 0xB0, 3, 0, 0}, {80, 0xB0, 2, 2, 0}, {90, 0xB0, 5, 0, 0}};
    CHECK(seen == expected);
    CHECK(Recorder::sorted);
}

TEST_CASE("late midi events go to the first frame of the block and are counted", "[midi]") {
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 1, .outputGuard = false});
    Session session(engine, recorderRegistry());
    session.load(makePatch({moduleSpec("r", "trecord")}, {}));
    for (int b = 0; b < 4; ++b) engine.processBlock();  // frame 256 next
    std::vector<Seen> seen;
    seen.reserve(100);
    gSeen = &seen;
    engine.midiInput(0).push(10, 0x90, 1, 1);   // long gone
    engine.midiInput(0).push(255, 0x90, 2, 1);  // one frame late
    engine.midiInput(0).push(256, 0x90, 3, 1);  // on time
    engine.processBlock();
    gSeen = nullptr;
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].frame == 256);
    CHECK(seen[1].frame == 256);
    CHECK(seen[2].frame == 256);
    CHECK(engine.midiStats().late == 2);
}

TEST_CASE("midi queue and block overflows are counted, not fatal", "[midi]") {
    Engine engine(
        EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 1, .outputGuard = false, .midiQueueEvents = 2048});
    Session session(engine, recorderRegistry());
    session.load(makePatch({moduleSpec("r", "trecord")}, {}));
    engine.processBlock();
    std::vector<Seen> seen;
    seen.reserve(5000);
    gSeen = &seen;
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) accepted += engine.midiInput(0).push(100, 0xB0, static_cast<std::uint8_t>(i & 0x7F), 0) ? 1 : 0;
    CHECK(accepted == 2048);
    CHECK(engine.midiStats().dropped == 3000 - 2048);
    engine.processBlock();
    CHECK(seen.size() == static_cast<std::size_t>(kMaxMidiEventsPerBlock));
    CHECK(engine.midiStats().overflowed == 2048 - kMaxMidiEventsPerBlock);
    // Sysex: the block's bytes are shared; what does not fit is dropped and counted.
    std::vector<std::uint8_t> big(40000, 0x11);
    big.front() = 0xF0;
    big.back() = 0xF7;
    MidiMessage m;
    m.status = 0xF0;
    m.sysex = big.data();
    m.sysexLength = static_cast<std::uint32_t>(big.size());
    Engine sx(
        EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 1, .outputGuard = false, .midiQueueSysexBytes = 1 << 17});
    Session s2(sx, recorderRegistry());
    s2.load(makePatch({moduleSpec("r", "trecord")}, {}));
    sx.processBlock();
    seen.clear();
    CHECK(sx.midiInput(0).push(64, m));
    CHECK(sx.midiInput(0).push(65, m));  // 80000 bytes in one block > 65536
    CHECK(sx.midiInput(0).push(128, m));
    sx.processBlock();
    sx.processBlock();
    gSeen = nullptr;
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == Seen{64, 0xF0, 0, 0, 40000});
    CHECK(seen[1] == Seen{128, 0xF0, 0, 0, 40000});
    CHECK(sx.midiStats().overflowed == 1);
}

TEST_CASE("the midi clock maps steady time to engine frames", "[midi]") {
    MidiClock clock(48000.0);
    std::uint64_t frame = 1;
    CHECK_FALSE(clock.frameAt(0, frame));
    clock.publish(4800, 1'000'000'000);
    REQUIRE(clock.frameAt(1'000'000'000, frame));
    CHECK(frame == 4800);
    REQUIRE(clock.frameAt(1'010'000'000, frame));  // 10 ms later: 480 frames
    CHECK(frame == 5280);
    REQUIRE(clock.frameAt(0, frame));  // long before: clamped at 0
    CHECK(frame == 0);
    // The engine publishes the device position at each callback: frames handed to the device.
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 1});
    std::vector<float> buffer(100);
    float* out[1] = {buffer.data()};
    engine.process(out, 1, 100);
    CHECK(engine.deviceFrame() == 100);
    engine.process(out, 1, 100);
    REQUIRE(engine.midiClock().frameAt(MidiClock::nowNanos(), frame));
    CHECK(frame >= 100);
    CHECK(frame < 100 + 4800);  // within 100 ms of the last callback
    CHECK(engine.stampNow(128) >= frame + 128);
}

namespace {

void writeBytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void varLen(std::vector<std::uint8_t>& out, std::uint32_t v) {
    std::uint8_t b[4];
    int n = 0;
    b[n++] = v & 0x7F;
    while (v >>= 7) b[n++] = static_cast<std::uint8_t>(0x80 | (v & 0x7F));
    while (n) out.push_back(b[--n]);
}

}  // namespace

TEST_CASE("offline render plays a midi file through midi and sine with each onset at its exact frame", "[midi]") {
    // Format 1: a tempo track (120 bpm, then 60 bpm from tick 960) and a note track, 480 ticks/qn.
    struct Note {
        std::uint32_t on, off;  // ticks
        std::uint8_t key;
    };
    const std::vector<Note> notes{{0, 240, 69}, {480, 720, 81}, {960, 1200, 57}, {1440, 1680, 76}};
    std::vector<std::uint8_t> tempo{0, 0xFF, 0x51, 3, 0x07, 0xA1, 0x20};  // 500000 us/qn
    varLen(tempo, 960);
    for (std::uint8_t b : {0xFF, 0x51, 3, 0x0F, 0x42, 0x40}) tempo.push_back(b);  // 1000000 us/qn
    for (std::uint8_t b : {0, 0xFF, 0x2F, 0}) tempo.push_back(b);
    std::vector<std::uint8_t> track;
    std::uint32_t now = 0;
    for (const Note& n : notes) {
        varLen(track, n.on - now);
        for (int b : {0x90, int{n.key}, 100}) track.push_back(static_cast<std::uint8_t>(b));
        varLen(track, n.off - n.on);
        for (int b : {int{n.key}, 0}) track.push_back(static_cast<std::uint8_t>(b));  // running status, velocity 0
        now = n.off;
    }
    for (std::uint8_t b : {0, 0xFF, 0x2F, 0}) track.push_back(b);
    std::vector<std::uint8_t> file{'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 2, 0x01, 0xE0};
    for (auto* t : {&tempo, &track}) {
        for (std::uint8_t b : {'M', 'T', 'r', 'k'}) file.push_back(b);
        const auto len = static_cast<std::uint32_t>(t->size());
        for (int s = 24; s >= 0; s -= 8) file.push_back(static_cast<std::uint8_t>(len >> s));
        file.insert(file.end(), t->begin(), t->end());
    }
    const auto dir = std::filesystem::temp_directory_path() / "kabel_test_midi_render";
    std::filesystem::create_directories(dir);
    writeBytes(dir / "song.mid", file);
    const MidiFile song = readMidiFile(dir / "song.mid");
    REQUIRE(song.events.size() == 8);

    // midi.pitch -> sine.pitch; sine * gate (vca) -> out
    Patch patch = makePatch({moduleSpec("m", "midi"), moduleSpec("s", "sine"), moduleSpec("v", "vca"), moduleSpec("o", "out")},
                            {{"m.pitch", "s.pitch"}, {"s.out", "v.in"}, {"m.gate", "v.cv"}, {"v.out", "o.left"}});
    RenderOptions options;
    options.seconds = 3.0;
    options.channels = 1;
    options.blockFrames = 100;  // onsets fall inside blocks
    options.outputGuard = false;
    options.midi = &song;
    const RenderSummary summary = renderPatch(patch, dir / "song.wav", options);
    CHECK(summary.midi.delivered == 8);
    CHECK(summary.midi.late == 0);
    SF_INFO info{};
    const std::vector<float> x = readSoundFile(dir / "song.wav", info);
    REQUIRE(info.channels == 1);
    // Onsets: tick 0, 480 (0.5 s), 960 (1.0 s), 1440 (1.0 s + 480 ticks at 60 bpm = 2.0 s).
    const double onsets[] = {0.0, 0.5, 1.0, 2.0};
    const double lengths[] = {0.25, 0.25, 0.5, 0.5};
    for (std::size_t i = 0; i < notes.size(); ++i) {
        const auto onset = static_cast<std::size_t>(std::llround(onsets[i] * 48000.0));
        INFO("note " << i << " onset frame " << onset);
        if (onset > 0) CHECK(x[onset - 1] == 0.0f);  // the gate opens exactly on the onset frame
        if (onset > 0) CHECK(x[onset] != 0.0f);      // (at frame 0 the sine starts at phase 0)
        float peak = 0.0f;
        for (std::size_t n = onset; n < onset + 96; ++n) peak = std::max(peak, std::fabs(x[n]));
        CHECK(peak > 0.5f);
        const auto len = static_cast<std::size_t>(std::llround(lengths[i] * 48000.0));
        const std::vector<float> note(x.begin() + static_cast<std::ptrdiff_t>(onset), x.begin() + static_cast<std::ptrdiff_t>(onset + len));
        const double expectedHz = 440.0 * std::pow(2.0, (notes[i].key - 69) / 12.0);
        CHECK(zeroCrossingFrequency(note, 48000.0) == Approx(expectedHz).epsilon(0.002));
        CHECK(x[onset + len] == 0.0f);  // note-off exactly here
        CHECK(x[onset + len - 1] != 0.0f);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("the audio thread makes no allocation or lock while midi events flow", "[midi][realtime]") {
    if (!kRtGuardActive) return;
    Engine engine(EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 2, .outputGuard = true, .midiInputs = 2});
    Session session(engine);
    session.load(makePatch({moduleSpec("m", "midi", {{"voices", 8}, {"mpe", 1}}), moduleSpec("s", "sine"), moduleSpec("o", "out")},
                           {{"m.pitch", "s.pitch"}, {"s.out", "o.left"}}));
    engine.processBlock();
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> audioFrame{0};
    RtCounts counts;
    std::thread audio([&] {
        RtGuard guard;
        // At least 4000 blocks, and on until the producers have been scheduled enough to deliver
        // the events checked below (a loaded machine may run the producers late), bounded.
        for (int b = 0; b < 4000 || (engine.midiStats().delivered <= 1000 && b < 400000); ++b) {
            engine.processBlock();
            audioFrame.store(engine.deviceFrame(), std::memory_order_relaxed);
            if (b % 16 == 0) std::this_thread::yield();
        }
        counts = guard.counts();
        stop = true;
    });
    std::vector<std::uint8_t> sysex{0xF0, 0x7F, 0x7F, 0x08, 0x02, 0x00, 0x01, 0x45, 0x45, 0x00, 0x00, 0xF7};
    std::uint64_t pushed = 0;
    std::thread producers[2];
    for (int p = 0; p < 2; ++p)
        producers[p] = std::thread([&, p] {
            std::uint32_t i = 0;
            while (!stop) {
                const std::uint64_t at = audioFrame.load(std::memory_order_relaxed) + 64 + (i % 200);
                const auto ch = static_cast<std::uint8_t>(i % 16);
                const auto key = static_cast<std::uint8_t>(36 + i % 48);
                engine.midiInput(p).push(at, static_cast<std::uint8_t>((i & 1 ? 0x80 : 0x90) | ch), key, 100);
                engine.midiInput(p).push(at, static_cast<std::uint8_t>(0xE0 | ch), static_cast<std::uint8_t>(i & 0x7F), 64);
                if (i % 50 == 0) {
                    MidiMessage m;
                    m.status = 0xF0;
                    m.sysex = sysex.data();
                    m.sysexLength = static_cast<std::uint32_t>(sysex.size());
                    engine.midiInput(p).push(at, m);
                }
                ++i;
                if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
            (void)pushed;
        });
    audio.join();
    for (auto& t : producers) t.join();
    INFO("delivered " << engine.midiStats().delivered);
    CHECK(engine.midiStats().delivered > 1000);
    CHECK(counts.allocations == 0);
    CHECK(counts.locks == 0);
}
