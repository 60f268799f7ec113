// MIDI-mapped parameters: every source type, 14-bit resolution, NRPN, curves, soft takeover,
// MIDI learn (and its round trip through the patch file), real-time safety.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/temp_dir.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

class Knobs final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        for (int n = 0; n < ctx.frames; ++n) ctx.out[0].data[n] = 0.0f;
    }
};

// lin -1..1 (default 0), freq 20..20000 (default 440), on 0..1 (default 0), voices (structural),
// steps 0..8 (integer, default 0).
const ModuleDescriptor kKnobs{
    .id = "tknobs",
    .name = "Knobs",
    .category = "Test",
    .help = "params to map",
    .outputs = {{.id = "out", .name = "Out"}},
    .params = {{.id = "lin", .name = "Lin", .min = -1.0f, .max = 1.0f, .defaultValue = 0.0f},
               {.id = "freq", .name = "Freq", .min = 20.0f, .max = 20000.0f, .defaultValue = 440.0f},
               {.id = "on", .name = "On", .min = 0.0f, .max = 1.0f, .defaultValue = 0.0f},
               {.id = "voices", .name = "Voices", .min = 1.0f, .max = 16.0f, .defaultValue = 1.0f, .structural = true},
               {.id = "steps", .name = "Steps", .min = 0.0f, .max = 8.0f, .defaultValue = 0.0f, .curve = ParamCurve::Integer}},
    .create = [] { return std::unique_ptr<Module>(new Knobs(kKnobs)); }};

const Registry& knobRegistry() {
    static Registry r = [] {
        Registry reg;
        reg.add(kKnobs);
        return reg;
    }();
    return r;
}

MidiMapping mapping(std::string source, int channel, int number, std::string param, std::optional<double> min = {},
                    std::optional<double> max = {}, std::string curve = "linear", bool pickup = false) {
    MidiMapping m;
    m.source = std::move(source);
    m.channel = channel;
    m.number = number;
    m.module = "k";
    m.param = std::move(param);
    m.min = min;
    m.max = max;
    m.curve = std::move(curve);
    m.pickup = pickup;
    return m;
}

MidiMapping relative(int number, std::string mode, std::string param, std::optional<double> step = {}, std::optional<double> min = {},
                     std::optional<double> max = {}, std::string curve = "linear") {
    MidiMapping m = mapping("cc", 1, number, std::move(param), min, max, std::move(curve), true);
    m.mode = std::move(mode);
    m.step = step;
    return m;
}

// One engine of 64-frame blocks with module "k" and the given map, its first block run. Learn
// adds a plain CC at the first poll unless a test sets a window.
struct Rig {
    Engine engine;
    Session session{engine, knobRegistry()};

    explicit Rig(std::vector<MidiMapping> map, std::map<std::string, double> params = {}, int midiInputs = 1)
        : engine(
              EngineConfig{.sampleRate = 48000.0, .blockFrames = 64, .outputChannels = 1, .outputGuard = false, .midiInputs = midiInputs}) {
        session.setLearnWindow(std::chrono::milliseconds(0));
        Patch p = makePatch({moduleSpec("k", "tknobs")}, {});
        p.modules[0].params = std::move(params);
        p.midiMap = std::move(map);
        session.load(std::move(p));
        engine.processBlock();
    }
    float param(const char* id) const { return session.instance("k")->param(session.instance("k")->descriptor().paramIndex(id)); }
    // Pushes one message into the block about to run (frame `offset` in it) and runs that block.
    void send(std::uint8_t status, std::uint8_t d1, std::uint8_t d2 = 0, std::uint32_t offset = 10, int port = 0) {
        REQUIRE(engine.midiInput(port).push(engine.deviceFrame() + offset, status, d1, d2));
        engine.processBlock();
    }
    void cc(int channel, int number, int value, int port = 0) {
        send(static_cast<std::uint8_t>(0xB0 + channel - 1), static_cast<std::uint8_t>(number), static_cast<std::uint8_t>(value), 10, port);
    }
};

float lin(float min, float max, float x) {
    return min + (max - min) * x;
}

}  // namespace

TEST_CASE("a 7-bit cc sets its param in the block that holds the event, scaled to min and max", "[midi][map]") {
    Rig rig({mapping("cc", 1, 74, "lin", -0.5, 0.5)});
    // An event stamped for the next block changes nothing in this one.
    const std::uint64_t next = rig.engine.deviceFrame() + 64 + 3;
    REQUIRE(rig.engine.midiInput(0).push(next, 0xB0, 74, 127));
    rig.engine.processBlock();
    CHECK(rig.param("lin") == 0.0f);
    rig.engine.processBlock();
    CHECK(rig.param("lin") == 0.5f);
    rig.cc(1, 74, 0);
    CHECK(rig.param("lin") == -0.5f);
    rig.cc(1, 74, 64);
    CHECK(rig.param("lin") == lin(-0.5f, 0.5f, 64 / 127.0f));
    rig.cc(2, 74, 127);  // another channel
    rig.cc(1, 75, 127);  // another controller
    CHECK(rig.param("lin") == lin(-0.5f, 0.5f, 64 / 127.0f));
}

TEST_CASE("channel 0 maps every channel and the last event of a block wins", "[midi][map]") {
    Rig rig({mapping("cc", 0, 1, "lin")});  // full range -1..1
    const std::uint64_t f = rig.engine.deviceFrame();
    rig.engine.midiInput(0).push(f + 1, 0xB5, 1, 0);
    rig.engine.midiInput(0).push(f + 2, 0xBF, 1, 127);
    rig.engine.midiInput(0).push(f + 3, 0xB0, 1, 32);
    rig.engine.processBlock();
    CHECK(rig.param("lin") == lin(-1.0f, 1.0f, 32 / 127.0f));
}

TEST_CASE("14-bit cc pairs give 16384 distinct values, an msb alone updates coarsely", "[midi][map]") {
    Rig rig({mapping("cc14", 3, 7, "lin", 0.0, 1.0)});
    rig.cc(3, 7, 100);  // MSB alone: LSB taken as 0
    CHECK(rig.param("lin") == (100 << 7) / 16383.0f);
    rig.cc(3, 39, 5);  // its LSB
    CHECK(rig.param("lin") == ((100 << 7) | 5) / 16383.0f);
    std::set<float> seen;
    float last = -1.0f;
    bool exact = true, rising = true;
    for (int v = 0; v < 16384; ++v) {
        const std::uint64_t f = rig.engine.deviceFrame();
        rig.engine.midiInput(0).push(f, 0xB2, 7, static_cast<std::uint8_t>(v >> 7));
        rig.engine.midiInput(0).push(f + 1, 0xB2, 39, static_cast<std::uint8_t>(v & 127));
        rig.engine.processBlock();
        const float p = rig.param("lin");
        exact = exact && p == v / 16383.0f;
        rising = rising && p > last;
        last = p;
        seen.insert(p);
    }
    CHECK(exact);
    CHECK(rising);
    CHECK(seen.size() == 16384);
    CHECK(last == 1.0f);
}

TEST_CASE("an nrpn is selected by cc 99 and 98 and set by data entry 6 and 38, per channel", "[midi][map]") {
    Rig rig({mapping("nrpn", 1, (3 << 7) | 17, "lin", 0.0, 1.0)});
    rig.cc(1, 99, 3);
    rig.cc(1, 98, 17);
    CHECK(rig.param("lin") == 0.0f);
    rig.cc(1, 6, 64);  // no LSB seen for this NRPN yet: a 7-bit value
    CHECK(rig.param("lin") == 64 / 127.0f);
    rig.cc(1, 38, 1);
    CHECK(rig.param("lin") == ((64 << 7) | 1) / 16383.0f);
    rig.cc(1, 6, 64);  // from now on CC 6 is the coarse half of 14 bits
    CHECK(rig.param("lin") == (64 << 7) / 16383.0f);
    // Data entry on another channel, whose selection is different: no effect.
    rig.cc(2, 99, 3);
    rig.cc(2, 98, 18);
    rig.cc(2, 6, 127);
    CHECK(rig.param("lin") == (64 << 7) / 16383.0f);
    // An RPN selection on channel 1 redirects its data entry away from the NRPN.
    rig.cc(1, 101, 0);
    rig.cc(1, 100, 0);
    rig.cc(1, 6, 2);
    CHECK(rig.param("lin") == (64 << 7) / 16383.0f);
    // Selecting it again: data entry applies again.
    rig.cc(1, 99, 3);
    rig.cc(1, 98, 17);
    rig.cc(1, 6, 127);
    rig.cc(1, 38, 127);
    CHECK(rig.param("lin") == 1.0f);
}

TEST_CASE("a note maps its velocity, its note-off goes to min", "[midi][map]") {
    Rig rig({mapping("note", 1, 60, "lin", 0.0, 1.0)});
    rig.send(0x90, 60, 100);
    CHECK(rig.param("lin") == 100 / 127.0f);
    rig.send(0x90, 61, 127);  // another note
    CHECK(rig.param("lin") == 100 / 127.0f);
    rig.send(0x80, 60, 64);
    CHECK(rig.param("lin") == 0.0f);
    rig.send(0x90, 60, 127);
    CHECK(rig.param("lin") == 1.0f);
    rig.send(0x90, 60, 0);  // velocity 0: a note-off
    CHECK(rig.param("lin") == 0.0f);
}

TEST_CASE("pitch bend maps 14 bits with its centre exactly in the middle", "[midi][map]") {
    Rig rig({mapping("pitchbend", 1, 0, "lin")});  // -1..1
    rig.send(0xE0, 0, 64);                         // 8192: centre
    CHECK(rig.param("lin") == 0.0f);
    rig.send(0xE0, 127, 127);  // 16383
    CHECK(rig.param("lin") == 1.0f);
    rig.send(0xE0, 0, 0);
    CHECK(rig.param("lin") == -1.0f);
    rig.send(0xE0, 0, 32);  // 4096: a quarter
    CHECK(rig.param("lin") == -0.5f);
    rig.send(0xE0, 1, 64);  // 8193: one step above centre, out of 8191
    CHECK(rig.param("lin") == lin(-1.0f, 1.0f, 0.5f + 0.5f / 8191.0f));
}

TEST_CASE("channel pressure maps 7 bits", "[midi][map]") {
    Rig rig({mapping("pressure", 5, 0, "lin", 0.0, 1.0)});
    rig.send(0xD4, 127);
    CHECK(rig.param("lin") == 1.0f);
    rig.send(0xD4, 32);
    CHECK(rig.param("lin") == 32 / 127.0f);
    rig.send(0xD0, 127);  // channel 1
    CHECK(rig.param("lin") == 32 / 127.0f);
}

TEST_CASE("the exponential curve is geometric: its midpoint is the geometric mean", "[midi][map]") {
    Rig rig(
        {mapping("pitchbend", 1, 0, "freq", 100.0, 10000.0, "exponential"), mapping("cc", 1, 20, "freq", 100.0, 10000.0, "exponential")});
    rig.send(0xE0, 0, 64);  // centre: x = 0.5 exactly
    CHECK(rig.param("freq") == Approx(std::sqrt(100.0 * 10000.0)).epsilon(1e-6));
    rig.cc(1, 20, 0);
    CHECK(rig.param("freq") == Approx(100.0).epsilon(1e-6));
    rig.cc(1, 20, 127);
    CHECK(rig.param("freq") == Approx(10000.0).epsilon(1e-6));
    rig.cc(1, 20, 32);
    CHECK(rig.param("freq") == Approx(100.0 * std::pow(100.0, 32.0 / 127.0)).epsilon(1e-6));
    // Equal steps of the control are equal ratios: 3 steps of 127/4 cover three quarters of two decades.
    rig.cc(1, 20, 64);
    const float a = rig.param("freq");
    rig.cc(1, 20, 96);
    CHECK(rig.param("freq") / a == Approx(std::pow(100.0, 32.0 / 127.0)).epsilon(1e-5));
}

TEST_CASE("a range through zero falls back to linear for the exponential curve", "[midi][map]") {
    Rig rig({mapping("cc", 1, 20, "lin", -1.0, 1.0, "exponential")});
    rig.cc(1, 20, 127);
    CHECK(rig.param("lin") == 1.0f);
    rig.cc(1, 20, 32);
    CHECK(rig.param("lin") == lin(-1.0f, 1.0f, 32 / 127.0f));
}

TEST_CASE("toggle flips between min and max on each press", "[midi][map]") {
    Rig rig({mapping("cc", 1, 64, "on", 0.0, 1.0, "toggle"), mapping("note", 1, 36, "lin", -1.0, 1.0, "toggle")});
    rig.cc(1, 64, 127);
    CHECK(rig.param("on") == 1.0f);
    rig.cc(1, 64, 100);  // still held: not a new press
    CHECK(rig.param("on") == 1.0f);
    rig.cc(1, 64, 0);  // release
    CHECK(rig.param("on") == 1.0f);
    rig.cc(1, 64, 64);  // 64 counts as a press
    CHECK(rig.param("on") == 0.0f);
    rig.cc(1, 64, 63);
    rig.cc(1, 64, 127);
    CHECK(rig.param("on") == 1.0f);
    // Notes: each note-on flips, note-offs do nothing. lin starts at 0, nearer... equally near: to max.
    rig.send(0x90, 36, 1);
    CHECK(rig.param("lin") == 1.0f);
    rig.send(0x80, 36, 0);
    CHECK(rig.param("lin") == 1.0f);
    rig.send(0x90, 36, 100);
    CHECK(rig.param("lin") == -1.0f);
    // Another source moved it near max: the next press goes to min.
    rig.session.setParam("k", "lin", 0.9);
    rig.send(0x80, 36, 0);
    rig.send(0x90, 36, 100);
    CHECK(rig.param("lin") == -1.0f);
}

TEST_CASE("pickup: a control far from the value does nothing until it crosses or comes near it", "[midi][map]") {
    Rig rig({mapping("cc", 1, 10, "lin", 0.0, 1.0, "linear", true)}, {{"lin", 0.5}});
    // After the load the control does not own the value.
    rig.cc(1, 10, 0);
    CHECK(rig.param("lin") == 0.5f);
    rig.cc(1, 10, 10);
    CHECK(rig.param("lin") == 0.5f);
    rig.cc(1, 10, 70);  // 10/127 -> 70/127 jumps over 0.5: crossed, takes over
    CHECK(rig.param("lin") == 70 / 127.0f);
    rig.cc(1, 10, 20);  // now it follows
    CHECK(rig.param("lin") == 20 / 127.0f);

    // The UI moves the param: the control lets go until it meets the new value.
    rig.session.setParam("k", "lin", 0.8);
    rig.cc(1, 10, 21);
    CHECK(rig.param("lin") == 0.8f);
    rig.cc(1, 10, 99);  // 0.7795: 0.0205 away, more than 1/64 (0.015625)
    CHECK(rig.param("lin") == 0.8f);
    rig.cc(1, 10, 100);  // 0.7874: within 1/64 of the range
    CHECK(rig.param("lin") == 100 / 127.0f);

    // Without pickup the control jumps at once.
    Rig jump({mapping("cc", 1, 10, "lin", 0.0, 1.0, "linear", false)}, {{"lin", 0.5}});
    jump.cc(1, 10, 0);
    CHECK(jump.param("lin") == 0.0f);
}

TEST_CASE("pickup state of unchanged mappings survives an edit, a patch load resets it", "[midi][map]") {
    Rig rig({mapping("cc", 1, 10, "lin", 0.0, 1.0, "linear", true)}, {{"lin", 0.5}});
    rig.cc(1, 10, 64);  // within 1/64 of 0.5: takes over
    CHECK(rig.param("lin") == 64 / 127.0f);
    rig.session.edit([](Patch& p) { p.modules.push_back(moduleSpec("k2", "tknobs")); });
    rig.engine.processBlock();
    CHECK(rig.param("lin") == 64 / 127.0f);  // the edit kept the MIDI-set value (the document follows MIDI)
    CHECK(rig.session.patch().findModule("k")->params.at("lin") == Approx(64 / 127.0f));
    rig.cc(1, 10, 0);  // a jump: still engaged, so it follows
    CHECK(rig.param("lin") == 0.0f);

    Patch reloaded = rig.session.patch();
    reloaded.modules[0].params["lin"] = 0.5;
    rig.session.load(reloaded);
    rig.cc(1, 10, 127);  // far from 0.5 after a load: waits
    CHECK(rig.param("lin") == 0.5f);
}

TEST_CASE("mappings to a removed module leave the table and stay in the document", "[midi][map]") {
    Rig rig({mapping("cc", 1, 10, "lin", 0.0, 1.0), mapping("cc", 1, 11, "voices")});
    CHECK(rig.session.messages().size() == 1);  // the structural param is refused, with a note
    Module* old = rig.session.instance("k");
    rig.session.edit([](Patch& p) { removeModule(p, "k"); });
    rig.engine.processBlock();
    CHECK(rig.session.patch().midiMap.size() == 2);
    CHECK(rig.session.messages().empty());
    (void)old;
    rig.cc(1, 10, 127);  // nothing to write (and the ghost it was is not written either)
    rig.session.edit([](Patch& p) { p.modules.push_back(moduleSpec("k", "tknobs")); });
    rig.engine.processBlock();
    rig.cc(1, 10, 127);
    CHECK(rig.param("lin") == 1.0f);  // the mapping applies to the module that came back
}

TEST_CASE("learn maps the next cc to the armed param and the mapping survives save and load", "[midi][map]") {
    Rig rig({mapping("cc", 3, 20, "freq")});
    REQUIRE(rig.session.learnMidi("k", "lin"));
    CHECK_FALSE(rig.session.learnMidi("k", "nope"));
    CHECK(rig.session.learning());
    rig.send(0xE0 | 2, 0, 0, 5);  // reported, but cancelled before the UI takes it: dropped
    rig.session.cancelLearn();
    rig.session.poll();
    CHECK(rig.session.patch().midiMap.size() == 1);

    REQUIRE(rig.session.learnMidi("k", "lin"));
    rig.send(0x82, 60, 0);  // a note-off is not learned
    rig.session.poll();
    CHECK(rig.session.learning());
    rig.cc(3, 20, 64);  // the control freq had: replaced
    rig.session.poll();
    CHECK_FALSE(rig.session.learning());
    REQUIRE(rig.session.patch().midiMap.size() == 1);
    const MidiMapping& m = rig.session.patch().midiMap[0];
    CHECK(m.source == "cc");
    CHECK(m.channel == 3);
    CHECK(m.number == 20);
    CHECK(m.module == "k");
    CHECK(m.param == "lin");
    CHECK_FALSE(m.min.has_value());
    CHECK_FALSE(m.max.has_value());
    CHECK(m.curve == "linear");
    CHECK(m.pickup);
    // The mapping works at once (pickup: lin is 0, cc 64 is within 1/64 of the range -1..1 of it).
    rig.cc(3, 20, 64);
    CHECK(rig.param("lin") == lin(-1.0f, 1.0f, 64 / 127.0f));

    const std::string text = serializePatch(rig.session.patch());
    const LoadedPatch loaded = parsePatch(text, "learned.kabel", knobRegistry());
    REQUIRE(loaded.patch.midiMap.size() == 1);
    const MidiMapping& r = loaded.patch.midiMap[0];
    CHECK((r.source == m.source && r.channel == m.channel && r.number == m.number && r.module == m.module && r.param == m.param &&
           r.min == m.min && r.max == m.max && r.curve == m.curve && r.pickup == m.pickup));
    Rig again(loaded.patch.midiMap);
    again.cc(3, 20, 64);
    CHECK(again.param("lin") == lin(-1.0f, 1.0f, 64 / 127.0f));
}

TEST_CASE("learn recognises 14-bit pairs, nrpn, notes, pitch bend and pressure", "[midi][map]") {
    Rig rig({});
    auto learnFrom = [&](std::vector<std::array<std::uint8_t, 3>> messages) {
        REQUIRE(rig.session.learnMidi("k", "lin"));
        const std::uint64_t f = rig.engine.deviceFrame();
        for (const auto& msg : messages) rig.engine.midiInput(0).push(f, msg[0], msg[1], msg[2]);
        rig.engine.processBlock();
        rig.session.poll();
        REQUIRE(rig.session.patch().midiMap.size() >= 1);
        return rig.session.patch().midiMap.back();
    };
    MidiMapping m = learnFrom({{0xB1, 7, 10}, {0xB1, 39, 3}});
    CHECK((m.source == "cc14" && m.channel == 2 && m.number == 7));
    m = learnFrom({{0xB0, 99, 1}, {0xB0, 98, 2}, {0xB0, 6, 64}, {0xB0, 38, 0}});
    CHECK((m.source == "nrpn" && m.channel == 1 && m.number == 130));
    m = learnFrom({{0x9F, 36, 90}});
    CHECK((m.source == "note" && m.channel == 16 && m.number == 36));
    m = learnFrom({{0xE4, 0, 70}});
    CHECK((m.source == "pitchbend" && m.channel == 5));
    m = learnFrom({{0xD0, 10, 0}});
    CHECK((m.source == "pressure" && m.channel == 1));
    CHECK(rig.session.patch().midiMap.size() == 5);
    // Learning a control again replaces its mapping rather than adding one.
    m = learnFrom({{0x9F, 36, 1}});
    CHECK(rig.session.patch().midiMap.size() == 5);
}

TEST_CASE("pickup round trips through the patch file and defaults to true", "[midi][map][patch]") {
    Patch p = makePatch({moduleSpec("k", "tknobs")}, {});
    p.midiMap = {mapping("cc", 1, 1, "lin", {}, {}, "linear", false), mapping("cc", 1, 2, "lin", {}, {}, "linear", true)};
    const std::string text = serializePatch(p);
    CHECK(text.find("\"pickup\": false") != std::string::npos);
    const LoadedPatch back = parsePatch(text, "p.kabel", knobRegistry());
    REQUIRE(back.patch.midiMap.size() == 2);
    CHECK_FALSE(back.patch.midiMap[0].pickup);
    CHECK(back.patch.midiMap[1].pickup);
    CHECK(serializePatch(back.patch) == text);
    const std::string bad = R"({"format": "kabel-patch", "version": 1, "modules": [{"id": "k", "type": "tknobs"}],
        "midi_map": [{"source": "cc", "number": 1, "module": "k", "param": "lin", "pickup": 1}]})";
    CHECK_THROWS_WITH(parsePatch(bad, "bad.kabel", knobRegistry()),
                      Catch::Contains("/midi_map/0/pickup: expected true or false, got a number"));
}

TEST_CASE("the audio thread never allocates or locks while mapped controls stream and the map changes", "[midi][map][realtime]") {
    if (!kRtGuardActive) return;  // sanitizer builds own malloc
    MidiMapping onPort = mapping("cc", 0, 41, "on");
    onPort.port = 1;
    Rig rig({mapping("cc", 1, 10, "lin"), mapping("cc14", 1, 1, "freq", 100.0, 1000.0, "exponential"), mapping("nrpn", 2, 300, "lin"),
             mapping("note", 0, 60, "on", 0.0, 1.0, "toggle"), mapping("pitchbend", 0, 0, "lin"),
             relative(40, "relative2c", "freq", {}, 100.0, 1000.0, "exponential"), relative(42, "relativeBin", "steps"),
             mapping("polypressure", 0, -1, "lin"), onPort},
            {}, 2);
    rig.session.learnMidi("k", "on");
    std::atomic<bool> stop{false};
    std::atomic<long> allocations{0}, locks{0}, blocks{0};
    std::thread audio([&] {
        RtGuard guard;
        while (!stop.load(std::memory_order_acquire)) {
            rig.engine.processBlock();
            blocks.fetch_add(1, std::memory_order_relaxed);
        }
        allocations = guard.counts().allocations;
        locks = guard.counts().locks;
    });
    // This thread is the MIDI producer and the UI: streams controls, edits the map, learns.
    const std::uint64_t frame = 0;  // late for every block: delivered at its first frame
    int pushed = 0;
    for (int i = 0; i < 3000; ++i) {
        const auto v = static_cast<std::uint8_t>(i & 127);
        pushed += rig.engine.midiInput(0).push(frame, 0xB0, 10, v);
        pushed += rig.engine.midiInput(0).push(frame, 0xB0, 1, v);
        pushed += rig.engine.midiInput(0).push(frame, 0xB0, 33, v);
        pushed += rig.engine.midiInput(0).push(frame, 0xB1, 99, 2);
        pushed += rig.engine.midiInput(0).push(frame, 0xB1, 98, 44);
        pushed += rig.engine.midiInput(0).push(frame, 0xB1, 6, v);
        pushed += rig.engine.midiInput(0).push(frame, 0x90, 60, v);
        pushed += rig.engine.midiInput(0).push(frame, 0xE0, v, v);
        pushed += rig.engine.midiInput(0).push(frame, 0xB0, 40, i % 3 ? 1 : 127);
        pushed += rig.engine.midiInput(0).push(frame, 0xB0, 42, i % 2 ? 65 : 62);
        pushed += rig.engine.midiInput(0).push(frame, 0xB1, i % 2 ? 96 : 97, 0);
        pushed += rig.engine.midiInput(0).push(frame, 0xA0, v, v);
        pushed += rig.engine.midiInput(1).push(frame, 0xB3, 41, v);
        if (i % 100 == 0) {
            rig.session.edit([&](Patch& p) { p.midiMap.push_back(mapping("cc", 1, 20 + (i / 100) % 50, "lin")); });
            rig.session.setParam("k", "lin", 0.25);
            rig.session.learnMidi("k", "on");
        }
        rig.session.poll();
        if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    // Every pushed event is either delivered or, when more than a block's capacity piled up while
    // this thread outran the audio thread (a loaded machine), counted as overflowed.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (MidiStats m = rig.engine.midiStats(); m.delivered + m.overflowed < static_cast<std::uint64_t>(pushed);
         m = rig.engine.midiStats()) {
        if (std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::yield();
    }
    stop = true;
    audio.join();
    rig.session.poll();
    CHECK(pushed > 35000);
    CHECK(blocks.load() > 100);
    CHECK(allocations.load() == 0);
    CHECK(locks.load() == 0);
}

TEST_CASE("midi map bench", "[.bench][midi][map]") {
    // ns per event through the engine block (gather + apply + one module), with 0, 8 and 128 mappings.
    for (int mappings : {0, 8, 128}) {
        std::vector<MidiMapping> map;
        for (int i = 0; i < mappings; ++i) map.push_back(mapping("cc", 1 + i % 16, i % 128, i % 2 ? "lin" : "freq"));
        Rig rig(map);
        const int blocks = 2000, perBlock = 64;
        const auto start = std::chrono::steady_clock::now();
        for (int b = 0; b < blocks; ++b) {
            for (int e = 0; e < perBlock; ++e)
                rig.engine.midiInput(0).push(0, static_cast<std::uint8_t>(0xB0 + e % 16), static_cast<std::uint8_t>(e),
                                             static_cast<std::uint8_t>(b & 127));
            rig.engine.processBlock();
        }
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        std::printf("midi map: %d mappings, %d cc per block: %.1f ns per event (block included)\n", mappings, perBlock,
                    ns / (blocks * perBlock));
    }
}

TEST_CASE("nrpn data increment and decrement step by one unit of the data resolution", "[midi][map]") {
    Rig rig({mapping("nrpn", 1, (1 << 7) | 2, "lin", 0.0, 1.0), mapping("nrpn", 1, 5, "freq", 100.0, 200.0)});
    rig.cc(1, 99, 1);
    rig.cc(1, 98, 2);
    rig.cc(1, 6, 64);  // 7-bit data: each increment is 1/127
    CHECK(rig.param("lin") == 64 / 127.0f);
    for (int i = 0; i < 3; ++i) rig.cc(1, 96, 0);  // the value byte does not matter
    CHECK(rig.param("lin") == Approx(67 / 127.0).margin(1e-6));
    rig.cc(1, 97, 127);
    CHECK(rig.param("lin") == Approx(66 / 127.0).margin(1e-6));
    for (int i = 0; i < 80; ++i) rig.cc(1, 96, 1);  // clamps at the top
    CHECK(rig.param("lin") == 1.0f);

    // Once its LSB was seen the NRPN is 14-bit: an increment is 1/16383.
    rig.cc(1, 6, 64);
    rig.cc(1, 38, 0);
    CHECK(rig.param("lin") == (64 << 7) / 16383.0f);
    const std::uint64_t f = rig.engine.deviceFrame();
    for (int i = 0; i < 10; ++i) rig.engine.midiInput(0).push(f + static_cast<std::uint64_t>(i), 0xB0, 96, 0);
    rig.engine.processBlock();
    CHECK(rig.param("lin") == Approx(((64 << 7) + 10) / 16383.0).margin(1e-7));

    // RPN null (101/100 = 127/127) deselects: increments and data entry reach no NRPN.
    const float held = rig.param("lin");
    rig.cc(1, 101, 127);
    rig.cc(1, 100, 127);
    rig.cc(1, 96, 0);
    rig.cc(1, 6, 3);
    CHECK(rig.param("lin") == held);
    // So does an RPN selection.
    rig.cc(1, 101, 0);
    rig.cc(1, 100, 0);
    rig.cc(1, 97, 0);
    CHECK(rig.param("lin") == held);
    // NRPN null (99/98 = 127/127) too.
    rig.cc(1, 99, 127);
    rig.cc(1, 98, 127);
    rig.cc(1, 96, 0);
    CHECK(rig.param("lin") == held);
}

TEST_CASE("an nrpn sent with 7-bit data only reaches both ends of its range", "[midi][map]") {
    Rig rig({mapping("nrpn", 2, 300, "lin", -1.0, 1.0)});
    rig.cc(2, 99, 300 >> 7);
    rig.cc(2, 98, 300 & 127);
    rig.cc(2, 6, 127);
    CHECK(rig.param("lin") == 1.0f);
    rig.cc(2, 6, 0);
    CHECK(rig.param("lin") == -1.0f);
    rig.cc(2, 6, 32);
    CHECK(rig.param("lin") == lin(-1.0f, 1.0f, 32 / 127.0f));
    // The mapping's step overrides the resolution for increments.
    Rig stepped({[] {
        MidiMapping m = mapping("nrpn", 1, 7, "lin", 0.0, 1.0);
        m.step = 0.25;
        return m;
    }()});
    stepped.cc(1, 99, 0);
    stepped.cc(1, 98, 7);
    stepped.cc(1, 6, 0);
    stepped.cc(1, 96, 0);
    stepped.cc(1, 96, 0);
    CHECK(stepped.param("lin") == 0.5f);
}

TEST_CASE("relative cc modes step from the current value by the step size", "[midi][map]") {
    // lin -1..1 starts at 0 (position 0.5); step 1/128 of the range is 1/64 in lin.
    Rig rig({relative(20, "relative2c", "lin", 1.0 / 128), relative(21, "relativeBin", "lin", 1.0 / 128),
             relative(22, "relativeSign", "lin", 1.0 / 128)});
    rig.cc(1, 20, 1);
    CHECK(rig.param("lin") == 1.0f / 64);  // no pickup wait: relative controls move at once
    rig.cc(1, 20, 5);
    CHECK(rig.param("lin") == 6.0f / 64);
    rig.cc(1, 20, 127);  // -1
    CHECK(rig.param("lin") == 5.0f / 64);
    rig.cc(1, 20, 120);  // -8
    CHECK(rig.param("lin") == -3.0f / 64);
    rig.cc(1, 20, 0);  // no motion
    CHECK(rig.param("lin") == -3.0f / 64);

    rig.cc(1, 21, 65);  // binary offset: +1
    CHECK(rig.param("lin") == -2.0f / 64);
    rig.cc(1, 21, 60);  // -4
    CHECK(rig.param("lin") == -6.0f / 64);
    rig.cc(1, 21, 64);
    CHECK(rig.param("lin") == -6.0f / 64);

    rig.cc(1, 22, 3);  // sign-magnitude: +3
    CHECK(rig.param("lin") == -3.0f / 64);
    rig.cc(1, 22, 64 + 10);  // -10
    CHECK(rig.param("lin") == -13.0f / 64);

    // Another source moved the param: the next step starts from there (no pickup needed).
    rig.session.setParam("k", "lin", 0.5);
    rig.cc(1, 20, 1);
    CHECK(rig.param("lin") == 0.5f + 1.0f / 64);
    // Clamped at the ends.
    for (int i = 0; i < 3; ++i) rig.cc(1, 20, 63);
    CHECK(rig.param("lin") == 1.0f);
    rig.cc(1, 20, 64);  // -64 steps: half the range
    CHECK(rig.param("lin") == 0.0f);
}

TEST_CASE("relative steps accumulate on stepped params and follow the exponential curve", "[midi][map]") {
    // Default step 1/127 on 0..8 integers: 8 ticks make 8 x 8/127 = 0.504, the first whole step.
    Rig rig({relative(30, "relative2c", "steps"), relative(31, "relative2c", "freq", 1.0 / 128, 100.0, 10000.0, "exponential")});
    for (int i = 0; i < 7; ++i) rig.cc(1, 30, 1);
    CHECK(rig.param("steps") == 0.0f);
    rig.cc(1, 30, 1);
    CHECK(rig.param("steps") == 1.0f);
    for (int i = 0; i < 8; ++i) rig.cc(1, 30, 1);  // 16/127 x 8 = 1.008
    CHECK(rig.param("steps") == 1.0f);
    rig.cc(1, 30, 127 - 15);  // -16: back to 0
    CHECK(rig.param("steps") == 0.0f);

    // freq 440 sits at log(4.4)/log(100) of 100..10000; one step multiplies by 100^(1/128).
    rig.cc(1, 31, 1);
    CHECK(rig.param("freq") == Approx(440.0 * std::pow(100.0, 1.0 / 128)).epsilon(1e-5));
    rig.cc(1, 31, 16);
    CHECK(rig.param("freq") == Approx(440.0 * std::pow(100.0, 17.0 / 128)).epsilon(1e-5));
}

TEST_CASE("a port filter matches one engine MIDI input, no port matches all", "[midi][map]") {
    MidiMapping onPort1 = mapping("cc", 1, 7, "lin", 0.0, 1.0);
    onPort1.port = 1;
    MidiMapping anyPort = mapping("cc", 1, 8, "on", 0.0, 1.0);
    MidiMapping nrpnPort2 = mapping("nrpn", 1, 9, "freq", 100.0, 200.0);
    nrpnPort2.port = 2;
    Rig rig({onPort1, anyPort, nrpnPort2}, {}, 3);
    CHECK(rig.session.messages().empty());
    rig.cc(1, 7, 127, 0);
    rig.cc(1, 7, 127, 2);
    CHECK(rig.param("lin") == 0.0f);
    rig.cc(1, 7, 127, 1);
    CHECK(rig.param("lin") == 1.0f);
    rig.cc(1, 8, 127, 2);
    CHECK(rig.param("on") == 1.0f);
    rig.cc(1, 8, 0, 0);
    CHECK(rig.param("on") == 0.0f);
    // (N)RPN selection is kept per port: port 1 selects, port 2's data entry has none.
    rig.cc(1, 99, 0, 1);
    rig.cc(1, 98, 9, 1);
    rig.cc(1, 6, 127, 2);
    CHECK(rig.param("freq") == 440.0f);
    rig.cc(1, 99, 0, 2);
    rig.cc(1, 98, 9, 2);
    rig.cc(1, 6, 127, 2);
    CHECK(rig.param("freq") == 200.0f);
    // A port the engine lacks: kept, with a note.
    MidiMapping far = mapping("cc", 1, 9, "lin");
    far.port = 5;
    Rig lonely({far}, {}, 3);
    REQUIRE(lonely.session.messages().size() == 1);
    CHECK_THAT(lonely.session.messages()[0], Catch::Contains("port 5 but the engine has 3 MIDI input(s)"));
}

TEST_CASE("poly pressure maps one note or every note", "[midi][map]") {
    MidiMapping every = mapping("polypressure", 2, -1, "on", 0.0, 1.0);
    Rig rig({mapping("polypressure", 2, 60, "lin", 0.0, 1.0), every});
    rig.send(0xA1, 60, 127);
    CHECK(rig.param("lin") == 1.0f);
    CHECK(rig.param("on") == 1.0f);
    rig.send(0xA1, 61, 32);  // another key: only the any-note mapping
    CHECK(rig.param("lin") == 1.0f);
    CHECK(rig.param("on") == 32 / 127.0f);
    rig.send(0xA0, 60, 0);  // channel 1: neither
    CHECK(rig.param("lin") == 1.0f);
    rig.send(0xA1, 60, 0);
    CHECK(rig.param("lin") == 0.0f);
    CHECK(rig.param("on") == 0.0f);
}

TEST_CASE("learn tells endless encoders from knobs by repeated small values", "[midi][map]") {
    Rig rig({});
    rig.session.setLearnWindow(std::chrono::milliseconds(60000));  // only the values decide here
    auto learnFrom = [&](std::vector<int> values, int number = 30) {
        REQUIRE(rig.session.learnMidi("k", "lin"));
        const std::uint64_t f = rig.engine.deviceFrame();
        for (int v : values) rig.engine.midiInput(0).push(f, 0xB0, static_cast<std::uint8_t>(number), static_cast<std::uint8_t>(v));
        rig.engine.processBlock();
        rig.session.poll();
        REQUIRE_FALSE(rig.session.learning());
        return rig.session.patch().midiMap.back();
    };
    CHECK(learnFrom({1, 1, 1}).mode == "relative2c");
    CHECK(learnFrom({127, 127, 126}).mode == "relative2c");
    CHECK(learnFrom({2, 3, 3}).mode == "relative2c");
    CHECK(learnFrom({65, 65, 66}).mode == "relativeBin");
    CHECK(learnFrom({63, 63, 63}).mode == "relativeBin");
    CHECK(learnFrom({40, 41, 42}).mode == "absolute");  // a knob: no value twice
    CHECK(learnFrom({0, 1, 2}).mode == "absolute");
    CHECK(learnFrom({127, 0, 127}).mode == "absolute");  // a button
    MidiMapping m = learnFrom({1, 1, 1}, 40);
    CHECK((m.source == "cc" && m.number == 40 && m.channel == 1 && m.pickup));
    CHECK(learnFrom({1, 1, 1}, 40).mode == "relative2c");
    CHECK(rig.session.learnedCount() == 10);
    REQUIRE(rig.session.lastLearned().has_value());
    CHECK(rig.session.lastLearned()->number == 40);

    // One value waits for the window: still learning after the poll, then absolute.
    rig.session.setLearnWindow(std::chrono::milliseconds(30));
    REQUIRE(rig.session.learnMidi("k", "freq"));
    rig.cc(1, 50, 77);
    rig.session.poll();
    CHECK(rig.session.learning());
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    rig.session.poll();
    CHECK_FALSE(rig.session.learning());
    CHECK((rig.session.patch().midiMap.back().number == 50 && rig.session.patch().midiMap.back().mode == "absolute"));

    // The learned relative mapping steps at once.
    rig.session.setLearnWindow(std::chrono::milliseconds(0));
    Rig enc({});
    REQUIRE(enc.session.learnMidi("k", "lin"));
    const std::uint64_t f = enc.engine.deviceFrame();
    for (int i = 0; i < 3; ++i) enc.engine.midiInput(0).push(f, 0xB0, 60, 1);
    enc.engine.processBlock();
    enc.session.poll();
    enc.cc(1, 60, 1);
    CHECK(enc.param("lin") == Approx(lin(-1.0f, 1.0f, 0.5f + 1.0f / 127)).margin(1e-6));
}

TEST_CASE("learn reports poly pressure for every note and nrpn from an increment", "[midi][map]") {
    Rig rig({});
    REQUIRE(rig.session.learnMidi("k", "lin"));
    rig.send(0xA3, 64, 90);
    rig.session.poll();
    REQUIRE(rig.session.patch().midiMap.size() == 1);
    MidiMapping m = rig.session.patch().midiMap.back();
    CHECK((m.source == "polypressure" && m.channel == 4 && m.number == -1));
    rig.send(0xA3, 10, 64);  // any key now: 64/127 is within 1/64 of the range of lin's 0 (pickup)
    CHECK(rig.param("lin") == lin(-1.0f, 1.0f, 64 / 127.0f));
    rig.send(0xA3, 11, 127);
    CHECK(rig.param("lin") == 1.0f);

    REQUIRE(rig.session.learnMidi("k", "freq"));
    const std::uint64_t f = rig.engine.deviceFrame();
    rig.engine.midiInput(0).push(f, 0xB0, 99, 3);
    rig.engine.midiInput(0).push(f, 0xB0, 98, 4);
    rig.engine.midiInput(0).push(f, 0xB0, 96, 0);
    rig.engine.processBlock();
    rig.session.poll();
    m = rig.session.patch().midiMap.back();
    CHECK((m.source == "nrpn" && m.number == (3 << 7) + 4 && m.mode == "absolute"));
}

TEST_CASE("unmap removes every mapping of a param from the document and the table", "[midi][map]") {
    Rig rig({mapping("cc", 1, 10, "lin"), mapping("note", 1, 60, "lin"), mapping("cc", 1, 11, "on")});
    CHECK(rig.session.unmapMidi("k", "lin") == 2);
    REQUIRE(rig.session.patch().midiMap.size() == 1);
    CHECK(rig.session.patch().midiMap[0].param == "on");
    rig.cc(1, 10, 127);
    CHECK(rig.param("lin") == 0.0f);
    rig.cc(1, 11, 127);
    CHECK(rig.param("on") == 1.0f);
    CHECK(rig.session.unmapMidi("k", "lin") == 0);
}

TEST_CASE("port mode step and poly pressure round trip through the patch file exactly", "[midi][map][patch]") {
    Patch p = makePatch({moduleSpec("k", "tknobs")}, {});
    MidiMapping a = relative(20, "relative2c", "lin", 1.0 / 128);
    a.port = 2;
    MidiMapping b = relative(21, "relativeSign", "freq", 0.01, 100.0, 1000.0, "exponential");
    MidiMapping c = mapping("polypressure", 3, -1, "on");
    MidiMapping d = mapping("polypressure", 0, 61, "on");
    d.port = 0;
    MidiMapping e = mapping("nrpn", 1, 16000, "lin", 0.0, 1.0, "linear", true);
    e.step = 0.5;
    p.midiMap = {a, b, c, d, e};
    const std::string text = serializePatch(p);
    CHECK(text.find(R"({"source": "cc", "channel": 1, "port": 2, "number": 20, "module": "k", "param": "lin", "curve": "linear", )"
                    R"("mode": "relative2c", "step": 0.0078125})") != std::string::npos);
    CHECK(text.find(R"({"source": "polypressure", "channel": 3, "module": "k", "param": "on", "curve": "linear", "pickup": false})") !=
          std::string::npos);
    const LoadedPatch back = parsePatch(text, "p.kabel", knobRegistry());
    CHECK(back.warnings.empty());
    REQUIRE(back.patch.midiMap.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        const MidiMapping& x = p.midiMap[i];
        const MidiMapping& y = back.patch.midiMap[i];
        CHECK((x.source == y.source && x.channel == y.channel && x.port == y.port && x.number == y.number && x.module == y.module &&
               x.param == y.param && x.min == y.min && x.max == y.max && x.curve == y.curve && x.mode == y.mode && x.step == y.step &&
               x.pickup == y.pickup));
    }
    CHECK(serializePatch(back.patch) == text);
}

TEST_CASE("bad mode step port and poly pressure values are errors with file line and pointer", "[midi][map][patch]") {
    const auto load = [](const std::string& mapping) {
        const std::string text =
            "{\"format\": \"kabel-patch\", \"version\": 1,\n\"modules\": [{\"id\": \"k\", \"type\": \"tknobs\"}],\n"
            "\"midi_map\": [\n" +
            mapping + "\n]}";
        return parsePatch(text, "bad.kabel", knobRegistry());
    };
    const std::string head = R"({"module": "k", "param": "lin", )";
    CHECK_THROWS_WITH(load(head + R"("source": "cc", "number": 1, "mode": "spin"})"),
                      "bad.kabel:4: /midi_map/0/mode: unknown mode \"spin\": expected absolute, relative2c, relativeBin or relativeSign");
    CHECK_THROWS_WITH(load(head + R"("source": "nrpn", "number": 1, "mode": "relative2c"})"),
                      Catch::Contains("bad.kabel:4: /midi_map/0/mode: mode \"relative2c\" needs source \"cc\""));
    CHECK_THROWS_WITH(load(head + R"("source": "cc", "number": 1, "curve": "toggle", "mode": "relativeBin"})"),
                      Catch::Contains("/midi_map/0/mode: mode \"relativeBin\" cannot drive a toggle curve"));
    CHECK_THROWS_WITH(load(head + R"("source": "cc", "number": 1, "mode": "relative2c", "step": 0})"),
                      "bad.kabel:4: /midi_map/0/step: 0 is out of range: expected 0 < step <= 1 (the control position moved per step)");
    CHECK_THROWS_WITH(load(head + R"("source": "cc", "number": 1, "mode": "relative2c", "step": 1.5})"),
                      Catch::Contains("/midi_map/0/step: 1.5 is out of range"));
    CHECK_THROWS_WITH(load(head + R"("source": "cc", "number": 1, "port": 256})"),
                      Catch::Contains("bad.kabel:4: /midi_map/0/port: 256 is out of range: expected a MIDI input port 0..255"));
    CHECK_THROWS_WITH(load(head + R"("source": "cc", "number": 1, "port": "usb"})"),
                      Catch::Contains("/midi_map/0/port: expected a MIDI input port 0..255"));
    CHECK_THROWS_WITH(load(head + R"("source": "polypressure", "number": 128})"),
                      Catch::Contains("/midi_map/0/number: 128 is out of range: expected an integer 0..127 for source 'polypressure'"));
    CHECK_THROWS_WITH(load(head + R"("source": "aftertouch", "number": 1})"),
                      Catch::Contains("expected cc, cc14, nrpn, note, pitchbend, pressure or polypressure"));
    // Warnings, not errors: a step an absolute cc does not use, the NRPN null number.
    const LoadedPatch w =
        load(head + R"("source": "cc", "number": 1, "step": 0.5},)" + "\n" + head + R"("source": "nrpn", "number": 16383})");
    REQUIRE(w.warnings.size() == 2);
    CHECK_THAT(w.warnings[0], Catch::Contains("bad.kabel:4: /midi_map/0/step: step is used by relative modes and NRPN increments only"));
    CHECK_THAT(w.warnings[1], Catch::Contains("bad.kabel:5: /midi_map/1/number: NRPN 16383 (127/127) is the null parameter"));
}

TEST_CASE("saving the map into a patch file replaces only midi_map and never harms the file on error", "[midi][map][patch]") {
    TempDir dir;
    const std::string original =
        "{\"format\": \"kabel-patch\", \"version\": 1, \"modules\": [{\"id\": \"k\", \"type\": \"tknobs\", "
        "\"params\": {\"lin\": 0.25}}], \"song\": {\"bpm\": 120},\n"
        "\"midi_map\": [{\"source\": \"cc\", \"number\": 1, \"module\": \"k\", \"param\": \"lin\"}]}";
    dir.write("song.kabel", original);
    const auto path = dir.path / "song.kabel";
    const auto read = [&] {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    // The same map: nothing written, not even reformatted.
    CHECK_FALSE(saveMidiMapInto(path, loadPatchFile(path, knobRegistry()).patch.midiMap, knobRegistry()));
    CHECK(read() == original);
    // A learned map: only midi_map changes (params and unknown keys as in the file).
    std::vector<MidiMapping> learned = {relative(20, "relative2c", "lin")};
    CHECK(saveMidiMapInto(path, learned, knobRegistry()));
    const LoadedPatch back = loadPatchFile(path, knobRegistry());
    REQUIRE(back.patch.midiMap.size() == 1);
    CHECK((back.patch.midiMap[0].number == 20 && back.patch.midiMap[0].mode == "relative2c"));
    CHECK(back.patch.modules[0].params.at("lin") == 0.25);
    CHECK(back.patch.extraJson == R"({"song":{"bpm":120}})");
    // A file broken meanwhile: an error naming it, the file untouched.
    dir.write("song.kabel", "{\"format\": \"kabel-patch\",");
    CHECK_THROWS_WITH(saveMidiMapInto(path, {}, knobRegistry()), Catch::Contains("song.kabel:1: invalid JSON"));
    CHECK(read() == "{\"format\": \"kabel-patch\",");
    CHECK(dir.names() == std::vector<std::string>{"song.kabel"});
    // A missing file: an error, nothing created.
    CHECK_THROWS_WITH(saveMidiMapInto(dir.path / "gone.kabel", learned, knobRegistry()), Catch::Contains("cannot open"));
    CHECK(dir.names() == std::vector<std::string>{"song.kabel"});
}
