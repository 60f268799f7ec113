// Tests for modules/tuning.cpp: the tuner (keys -> tuned pitch, ombak, gate, degree) and the
// quantizer, with catalogue tunings and files of our own. Expected pitches are computed here from
// the ratios, cents and reference rules (12-TET: A4 = 440 Hz; pitch 0 = C4 = 440 * 2^(-9/12) Hz).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/tuning/mts.hpp"
#include "core/tuning/tuning.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::TempDir;

using kabel::test::ModuleHarness;
using kabel::test::Signal;
namespace fs = std::filesystem;

constexpr double kC4 = 261.6255653005986;  // 440 * 2^(-9/12)
constexpr int kFrames = 256;

double cents(double ratio) {
    return 1200.0 * std::log2(ratio);
}

// A pitch output (octaves re C4) as cents above C4.
double centsOf(float pitch) {
    return 1200.0 * static_cast<double>(pitch);
}

double hzOf(float pitch) {
    return kC4 * std::exp2(static_cast<double>(pitch));
}

// The key as the tuner reads it: 60 + 12 x pitch.
float keyPitch(double key) {
    return static_cast<float>((key - 60.0) / 12.0);
}

fs::path catalogue() {
    const auto dir = kabel::tuning::findCatalogue();
    REQUIRE(dir.has_value());
    return *dir;
}

std::string scaleState(const std::string& id) {
    return nlohmann::json{{"scale", id}}.dump();
}

// Plays one key per channel (up to 16) for one block; returns outputs[port][channel] at the
// block's last frame.
struct KeyRun {
    std::vector<float> out, ombak, gate, degree;
};

KeyRun playKeys(const std::string& state, const std::vector<double>& keys, const std::vector<std::pair<const char*, float>>& params = {},
                const fs::path& dir = {}) {
    ModuleHarness h("tuner");
    for (const auto& [id, value] : params) h.setParam(id, value);
    Signal pitch;
    for (double k : keys) pitch.push_back(std::vector<float>(kFrames, keyPitch(k)));
    h.connect("pitch", pitch);
    h.loadState(state, dir);
    const auto o = h.run(kFrames);  // smoothers start at their targets: the first block is settled
    KeyRun r;
    for (std::size_t c = 0; c < keys.size(); ++c) {
        r.out.push_back(o[0][c].back());
        r.ombak.push_back(o[1][c].back());
        r.gate.push_back(o[2][c].back());
        r.degree.push_back(o[3][c].back());
    }
    return r;
}

// Keys played one after the other (any number).
KeyRun playMany(const std::string& state, const std::vector<double>& keys, const std::vector<std::pair<const char*, float>>& params = {},
                const fs::path& dir = {}) {
    KeyRun all;
    for (std::size_t i = 0; i < keys.size(); i += 16) {
        const std::vector<double> part(keys.begin() + static_cast<long>(i),
                                       keys.begin() + static_cast<long>(std::min(keys.size(), i + 16)));
        const KeyRun r = playKeys(state, part, params, dir);
        all.out.insert(all.out.end(), r.out.begin(), r.out.end());
        all.ombak.insert(all.ombak.end(), r.ombak.begin(), r.ombak.end());
        all.gate.insert(all.gate.end(), r.gate.begin(), r.gate.end());
        all.degree.insert(all.degree.end(), r.degree.begin(), r.degree.end());
    }
    return all;
}

// Checks that key 60 + q * n + j plays q * period + pitches[j] cents above C4 + offset, for the
// keys `from`..`to`.
void checkKeys(const std::string& state, const std::vector<double>& pitches, double period, double offsetCents, int from, int to,
               const std::vector<std::pair<const char*, float>>& params = {}, int tonic = 60) {
    std::vector<double> keys;
    for (int k = from; k <= to; ++k) keys.push_back(k);
    const KeyRun r = playMany(state, keys, params);
    const int n = static_cast<int>(pitches.size());
    int checked = 0;
    for (int k = from; k <= to; ++k) {
        const int d = k - tonic;
        const int q = (d >= 0 ? d : d - n + 1) / n;
        const int j = d - q * n;
        const double want = offsetCents + q * period + pitches[static_cast<std::size_t>(j)];
        INFO("key " << k << ": want " << want << " cents");
        CHECK(centsOf(r.out[static_cast<std::size_t>(k - from)]) == Approx(want).margin(1e-3));
        CHECK(r.gate[static_cast<std::size_t>(k - from)] == 1.0f);
        CHECK(r.degree[static_cast<std::size_t>(k - from)] == static_cast<float>(j));
        ++checked;
    }
    CHECK(checked == to - from + 1);
}

}  // namespace

TEST_CASE("the tuner with no state is 12-TET: out equals pitch", "[tuner]") {
    ModuleHarness h("tuner");
    Signal pitch(16);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-5.0f, 5.0f);
    for (int c = 0; c < 16; ++c)
        for (int n = 0; n < 4096; ++n)
            pitch[static_cast<std::size_t>(c)].push_back(c < 8 ? keyPitch((c * 16 + n / 32) % 128) : u(rng));  // keys, then anything
    h.connect("pitch", pitch);
    const auto o = h.run(4096);
    long mismatches = 0, checked = 0;
    for (int c = 0; c < 16; ++c)
        for (int n = 0; n < 4096; ++n) {
            const auto cc = static_cast<std::size_t>(c), nn = static_cast<std::size_t>(n);
            mismatches += o[0][cc][nn] != pitch[cc][nn];  // bit for bit
            mismatches += o[1][cc][nn] != pitch[cc][nn];  // no ombak: the same voice
            mismatches += o[2][cc][nn] != 1.0f;
            if (c < 8) mismatches += o[3][cc][nn] != static_cast<float>(((c * 16 + n / 32) % 128) % 12);
            ++checked;
        }
    CHECK(checked == 16 * 4096);
    CHECK(mismatches == 0);
    // A4 = key 69 = 440 Hz.
    CHECK(hzOf(playKeys("", {69.0}).out[0]) == Approx(440.0).epsilon(1e-7));
}

TEST_CASE("maqam Rast from the catalogue: each key plays the file's cents above the tonic", "[tuner]") {
    SECTION("24-EDO notation: quarter tones") {
        // C D E½♭ F G A B½♭: 0 200 350 500 700 900 1050, period 1200; no reference pitch, so the tonic is C4.
        checkKeys(scaleState("maqam-rast-24edo"), {0, 200, 350, 500, 700, 900, 1050}, 1200.0, 0.0, 39, 88);
    }
    SECTION("just ratios") {
        // 1/1 9/8 27/22 4/3 3/2 27/16 81/44.
        checkKeys(scaleState("maqam-rast-just"),
                  {0.0, cents(9.0 / 8.0), cents(27.0 / 22.0), cents(4.0 / 3.0), cents(1.5), cents(27.0 / 16.0), cents(81.0 / 44.0)}, 1200.0,
                  0.0, 46, 74);
    }
    SECTION("a measured set: Abu Shumays' Egyptian Rast, as its file gives it") {
        const kabel::tuning::Scale file =
            kabel::tuning::loadScale(kabel::tuning::cataloguePath(catalogue(), "maqam-rast-egypt-abushumays"));
        std::vector<double> pitches{0.0};
        for (int d = 1; d < file.degreeCount(); ++d) pitches.push_back(file.centsOfDegree(d));
        REQUIRE(pitches.size() == 7u);
        // Its system fixes C at 261.6256 Hz (@ABL REFERENCE_PITCH 3 0 261.6256): C4 within 0.0001 Hz.
        checkKeys(scaleState("maqam-rast-egypt-abushumays"), pitches, file.periodCents(), cents(261.6256 / kC4), 50, 70);
    }
}

TEST_CASE("tonic moves the mode along the keys, reference moves its pitch, independently", "[tuner]") {
    const std::string rast = scaleState("maqam-rast-24edo");
    const std::vector<double> pitches{0, 200, 350, 500, 700, 900, 1050};
    const double d4 = kC4 * std::pow(2.0, 200.0 / 1200.0);  // D4 in 12-TET, 293.66 Hz
    SECTION("tonic: key 62 plays the tonic, still at C4") {
        checkKeys(rast, pitches, 1200.0, 0.0, 55, 75, {{"tonic", 62.0f}}, 62);
    }
    SECTION("reference: the tonic at D4, still on key 60") {
        checkKeys(rast, pitches, 1200.0, 200.0, 55, 75, {{"reference", static_cast<float>(d4)}}, 60);
    }
    SECTION("both: Rast on D, played from key 62") {
        checkKeys(rast, pitches, 1200.0, 200.0, 55, 75, {{"tonic", 62.0f}, {"reference", static_cast<float>(d4)}}, 62);
    }
    SECTION("12-TET: the reference is A's frequency, the tonic C's key") {
        const KeyRun r = playKeys("", {69.0, 60.0, 81.0}, {{"reference", 442.0f}});
        CHECK(hzOf(r.out[0]) == Approx(442.0).epsilon(1e-7));
        CHECK(hzOf(r.out[1]) == Approx(442.0 * std::pow(2.0, -9.0 / 12.0)).epsilon(1e-7));
        CHECK(hzOf(r.out[2]) == Approx(884.0).epsilon(1e-7));
        const KeyRun moved = playKeys("", {71.0, 69.0}, {{"reference", 442.0f}, {"tonic", 62.0f}});
        CHECK(hzOf(moved.out[0]) == Approx(442.0).epsilon(1e-7));  // A is now on key 71
        CHECK(moved.degree[0] == 9.0f);
        CHECK(moved.degree[1] == 7.0f);
    }
}

TEST_CASE("the reference pitch comes from the file, else its system, else the tonic at middle C", "[tuner]") {
    // slendro-madukentir: @ABL REFERENCE_PITCH 3 0 259.0, its own tone 1.
    CHECK(hzOf(playKeys(scaleState("slendro-madukentir"), {60.0}).out[0]) == Approx(259.0).epsilon(1e-7));
    // The 12-tet file: A (degree 9) = 440 Hz.
    CHECK(hzOf(playKeys(scaleState("12-tet"), {69.0}).out[0]) == Approx(440.0).epsilon(1e-7));
    // Sikah (a mode of Abu Shumays' Egyptian set) has no reference of its own: its system's C is
    // 261.6256 Hz, so the tonic E½♭ (system degree 4) sounds that many cents above it.
    const auto dir = catalogue();
    const kabel::tuning::Scale system = kabel::tuning::loadScale(kabel::tuning::cataloguePath(dir, "arabic-egypt-rast-abushumays"));
    REQUIRE(system.referencePitch.has_value());
    REQUIRE(system.referencePitch->degree == 0);
    const double sikahTonic = system.referencePitch->frequency * std::pow(2.0, system.centsOfDegree(4) / 1200.0);
    CHECK(hzOf(playKeys(scaleState("maqam-sikah-egypt-abushumays"), {60.0}).out[0]) == Approx(sikahTonic).epsilon(1e-7));
    CHECK(system.centsOfDegree(4) == Approx(342.0).margin(1.0));  // the low Egyptian E½♭ (docs/scales.md)
    // No reference anywhere: the tonic at 261.6256 Hz. The Reference knob replaces the frequency only.
    CHECK(hzOf(playKeys(scaleState("raga-yaman"), {60.0}).out[0]) == Approx(kC4).epsilon(1e-7));
    CHECK(hzOf(playKeys(scaleState("raga-yaman"), {60.0}, {{"reference", 138.59f}}).out[0]) == Approx(138.59).epsilon(1e-6));
    CHECK(hzOf(playKeys(scaleState("slendro-madukentir"), {60.0}, {{"reference", 250.0f}}).out[0]) == Approx(250.0).epsilon(1e-7));
}

TEST_CASE("unmapped keys give gate 0 and degree -1", "[tuner]") {
    SECTION("system keys: the 24-EDO degrees outside Rast") {
        std::vector<double> keys;
        for (int k = 60; k <= 84; ++k) keys.push_back(k);
        const KeyRun r = playMany(scaleState("maqam-rast-24edo"), keys, {{"layout", 1.0f}});
        const std::vector<int> rast{0, 4, 7, 10, 14, 18, 21};  // Rast's degrees of 24-EDO
        int mapped = 0;
        for (int k = 60; k <= 84; ++k) {
            const auto i = static_cast<std::size_t>(k - 60);
            const int step = (k - 60) % 24;
            const auto it = std::find(rast.begin(), rast.end(), step);
            INFO("key " << k);
            if (it == rast.end()) {
                CHECK(r.gate[i] == 0.0f);
                CHECK(r.degree[i] == -1.0f);
            } else {
                CHECK(r.gate[i] == 1.0f);
                CHECK(r.degree[i] == static_cast<float>(it - rast.begin()));
                CHECK(centsOf(r.out[i]) == Approx(50.0 * (k - 60)).margin(1e-3));  // every key a quarter tone
                ++mapped;
            }
        }
        CHECK(mapped == 8);
    }
    SECTION("a .kbm with x keys") {
        TempDir dir;
        std::string scl = "! 12.scl\n12-TET\n 12\n";
        for (int i = 1; i < 12; ++i) scl += " " + std::to_string(i * 100) + ".0\n";
        dir.write("12.scl", scl + " 2/1\n");
        // White keys only, A4 = 432 Hz, keys 36..96.
        dir.write("white.kbm", "12\n36\n96\n60\n69\n432.0\n12\n0\nx\n2\nx\n4\n5\nx\n7\nx\n9\nx\n11\n");
        const std::string state = R"({"file": "12.scl", "kbm": "white.kbm"})";
        const KeyRun r = playKeys(state, {60.0, 61.0, 62.0, 69.0, 35.0, 36.0, 96.0, 97.0}, {}, dir.path);
        const std::vector<float> gates{1, 0, 1, 1, 0, 1, 1, 0};
        for (std::size_t i = 0; i < gates.size(); ++i) CHECK(r.gate[i] == gates[i]);
        CHECK(r.degree[1] == -1.0f);
        CHECK(r.degree[2] == 2.0f);
        CHECK(hzOf(r.out[3]) == Approx(432.0).epsilon(1e-7));
        CHECK(hzOf(r.out[0]) == Approx(432.0 * std::pow(2.0, -9.0 / 12.0)).epsilon(1e-7));
        // Tonic moves the map's middle note by tonic - 60; the reference key moves with it.
        const KeyRun moved = playKeys(state, {62.0, 63.0, 71.0}, {{"tonic", 62.0f}}, dir.path);
        CHECK(moved.gate[0] == 1.0f);
        CHECK(moved.gate[1] == 0.0f);
        CHECK(hzOf(moved.out[2]) == Approx(432.0).epsilon(1e-7));
    }
}

TEST_CASE("a catalogue maqam on the white keys through a .kbm", "[tuner]") {
    // Rast's seven degrees on C D E F G A B, black keys silent, middle C at 261.6256 Hz; the map's
    // formal octave is degree 7 (the maqam's period).
    TempDir dir;
    dir.write("white7.kbm", "12\n0\n127\n60\n60\n261.6255653\n7\n0\nx\n1\nx\n2\n3\nx\n4\nx\n5\nx\n6\n");
    const KeyRun r =
        playKeys(R"({"scale": "maqam-rast-24edo", "kbm": "white7.kbm"})", {60, 61, 62, 64, 65, 67, 69, 71, 72, 52, 48}, {}, dir.path);
    const std::vector<double> want{0, 0, 200, 350, 500, 700, 900, 1050, 1200, 350 - 1200, -1200};
    const std::vector<float> gates{1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("entry " << i);
        CHECK(r.gate[i] == gates[i]);
        if (gates[i] == 1.0f) CHECK(centsOf(r.out[i]) == Approx(want[i]).margin(1e-3));
    }
    CHECK(r.degree[3] == 2.0f);  // E plays E½♭, degree 2 of Rast
}

TEST_CASE("the ombak voice is exactly N Hz above the tuned voice at every pitch", "[tuner]") {
    // Balinese paired tuning: a constant beat rate, so a constant difference in Hz, not in cents.
    std::vector<double> keys;
    for (int k = 30; k <= 100; k += 5) keys.push_back(k);
    const std::string selisir = scaleState("bali-selisir-tampak-gangsai");  // @KABEL OMBAK 6.0
    for (float setting : {0.0f, 4.5f}) {
        const double want = setting > 0.0f ? setting : 6.0;
        const KeyRun r = playMany(selisir, keys, {{"ombak", setting}});
        for (std::size_t i = 0; i < keys.size(); ++i) {
            INFO("key " << keys[i] << ", ombak " << want);
            const double base = hzOf(r.out[i]), pair = hzOf(r.ombak[i]);
            CHECK(pair - base == Approx(want).margin(2e-3 * std::max(1.0, base / 1000.0)));
        }
        // In cents the pairs differ by less up high than down low.
        CHECK(centsOf(r.ombak.front() - r.out.front()) > 10.0 * centsOf(r.ombak.back() - r.out.back()));
    }
    // A tuning without OMBAK: the paired voice is the voice itself until the knob says otherwise.
    const KeyRun none = playKeys(scaleState("maqam-rast-24edo"), {64.0});
    CHECK(none.ombak[0] == none.out[0]);
    const KeyRun five = playKeys(scaleState("maqam-rast-24edo"), {64.0}, {{"ombak", 5.0f}});
    CHECK(hzOf(five.ombak[0]) - hzOf(five.out[0]) == Approx(5.0).margin(1e-3));
}

TEST_CASE("fractional keys glide in log-frequency between their neighbours", "[tuner]") {
    const KeyRun r = playKeys(scaleState("maqam-rast-24edo"), {61.25, 62.5, 59.5, 60.75});
    // Keys 60, 61, 62 play 0, 200, 350 cents; key 59 plays B½♭ below, 1050 - 1200.
    CHECK(centsOf(r.out[0]) == Approx(200.0 + 0.25 * 150.0).margin(1e-3));  // a quarter of the way from D to E½♭
    CHECK(centsOf(r.out[1]) == Approx(350.0 + 0.5 * 150.0).margin(1e-3));   // halfway from E½♭ to F
    CHECK(centsOf(r.out[2]) == Approx(-150.0 / 2.0).margin(1e-3));          // halfway from B½♭ to C
    CHECK(centsOf(r.out[3]) == Approx(0.75 * 200.0).margin(1e-3));
    CHECK(r.degree[0] == 1.0f);  // the nearest key's degree
    CHECK(r.degree[3] == 1.0f);
}

TEST_CASE("the tuner plays sixteen channels, each its own key", "[tuner]") {
    std::vector<double> keys;
    for (int c = 0; c < 16; ++c) keys.push_back(58 + c);
    const KeyRun r = playKeys(scaleState("maqam-rast-just"), keys);
    const std::vector<double> rast{0.0,        cents(9.0 / 8.0),   cents(27.0 / 22.0), cents(4.0 / 3.0),
                                   cents(1.5), cents(27.0 / 16.0), cents(81.0 / 44.0)};
    for (int c = 0; c < 16; ++c) {
        const int d = 58 + c - 60;
        const int q = (d >= 0 ? d : d - 6) / 7;
        CHECK(centsOf(r.out[static_cast<std::size_t>(c)]) == Approx(q * 1200.0 + rast[static_cast<std::size_t>(d - 7 * q)]).margin(1e-3));
    }
}

TEST_CASE("a tonic change glides without a jump", "[tuner]") {
    ModuleHarness h("tuner");
    h.connect("pitch", std::vector<float>(48000, keyPitch(64.0)));
    auto before = h.run(4800);
    CHECK(centsOf(before[0][0].back()) == Approx(400.0).margin(1e-3));
    h.setParam("tonic", 67.0f);  // E is now 3 keys above the tonic: a minor third... of C below: -300 cents
    auto after = h.run(24000);
    const std::vector<float>& out = after[0][0];
    CHECK(centsOf(out.back()) == Approx(-300.0).margin(1e-3));
    float largest = 0.0f;
    int between = 0;
    for (std::size_t n = 1; n < out.size(); ++n) largest = std::max(largest, std::fabs(out[n] - out[n - 1]));
    for (float v : out) between += (centsOf(v) < 390.0 && centsOf(v) > -290.0) ? 1 : 0;
    CHECK(largest < 0.05f * (700.0f / 1200.0f));  // no step bigger than 5 % of the move
    CHECK(between > 480);                         // it spends > 10 ms on the way
}

TEST_CASE("retune at trig holds the outputs from one rising edge to the next", "[tuner]") {
    ModuleHarness h("tuner");
    h.setParam("retune", 1.0f);
    std::vector<float> pitch(9600, keyPitch(60.0)), trig(9600, 0.0f);
    for (int n = 2000; n < 9600; ++n) pitch[static_cast<std::size_t>(n)] = keyPitch(67.0);
    for (int n = 100; n < 200; ++n) trig[static_cast<std::size_t>(n)] = 1.0f;
    for (int n = 5000; n < 5100; ++n) trig[static_cast<std::size_t>(n)] = 1.0f;
    h.connect("pitch", pitch);
    h.connect("trig", trig);
    const auto o = h.run(9600);
    CHECK(o[0][0][150] == 0.0f);
    CHECK(o[0][0][4999] == 0.0f);  // the key changed at 2000, the output waits for the trig
    CHECK(centsOf(o[0][0][5000]) == Approx(700.0).margin(1e-3));
    CHECK(centsOf(o[0][0][9599]) == Approx(700.0).margin(1e-3));
}

TEST_CASE("a bad tuning file keeps the old tuning and reports file:line", "[tuner]") {
    TempDir dir;
    dir.write("five.scl", "! five.scl\nFive equal steps\n 5\n 240.0\n 480.0\n 720.0\n 960.0\n 2/1\n");
    dir.write("bad.scl", "! bad.scl\nBroken\n 5\n 240.0\n 480.0\n abc\n 960.0\n 2/1\n");
    ModuleHarness h("tuner");
    h.connect("pitch", std::vector<float>(kFrames * 8, keyPitch(61.0)));
    h.loadState(R"({"file": "five.scl"})", dir.path);
    CHECK(centsOf(h.run(kFrames)[0][0].back()) == Approx(240.0).margin(1e-3));
    CHECK(h.module().status().empty());

    h.loadState(R"({"file": "bad.scl"})", dir.path);
    CHECK(h.module().status().find("bad.scl:6:") == 0);
    CHECK(h.module().status().find("abc") != std::string::npos);
    CHECK(centsOf(h.run(kFrames)[0][0].back()) == Approx(240.0).margin(1e-3));  // still five steps

    h.loadState(R"({"file": "missing.scl"})", dir.path);
    CHECK(h.module().status().find("missing.scl") != std::string::npos);
    h.loadState(R"({"scale": "no-such-tuning"})", dir.path);
    CHECK(h.module().status().find("no-such-tuning") != std::string::npos);
    CHECK(centsOf(h.run(kFrames)[0][0].back()) == Approx(240.0).margin(1e-3));

    h.loadState(R"({"scale": "12-tet"})", dir.path);
    CHECK(h.module().status().empty());
    CHECK(centsOf(h.run(kFrames)[0][0].back()) == Approx(100.0).margin(1e-3));

    // Bad state is refused at once, with the shape it should have.
    for (const char* bad : {R"("rast")", R"({"scale": 3})", R"({"scale": ""})", R"({"tuning": "rast"})",
                            R"({"scale": "maqam-rast-24edo", "file": "x.scl"})", R"({"kbm": "x.kbm"})"}) {
        INFO(bad);
        CHECK_THROWS_AS(h.loadState(bad, dir.path), std::invalid_argument);
    }
    try {
        h.loadState(R"({"tuning": "rast"})", dir.path);
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("tuner state: unknown key \"tuning\"") == 0);
    }
    h.loadState("", dir.path);  // null: back to 12-TET
    h.run(kFrames);
    CHECK(centsOf(h.run(kFrames)[0][0].back()) == Approx(100.0).margin(1e-3));
}

namespace {

// Runs a tuner block by block with a constant key per channel and system-exclusive messages at
// given frames (as the engine delivers MIDI); returns out[port][channel][frame].
struct SysexAt {
    int frame;
    std::vector<std::uint8_t> bytes;
};

std::vector<Signal> runWithMidi(const std::vector<double>& keys, const std::vector<SysexAt>& messages, int frames,
                                std::unique_ptr<kabel::Module>& module, const std::vector<std::pair<const char*, float>>& params) {
    using namespace kabel;
    const ModuleDescriptor* d = Registry::global().find("tuner");
    REQUIRE(d != nullptr);
    if (!module) {
        module = d->create();
        for (const auto& [id, value] : params) module->setParam(d->paramIndex(id), value);
        module->prepare(48000.0, 64);
    }
    const int channels = static_cast<int>(keys.size());
    const int stride = 64;
    std::vector<float> pitch(static_cast<std::size_t>(channels * stride)), zeros(stride, 0.0f);
    for (int c = 0; c < channels; ++c) std::fill_n(pitch.begin() + c * stride, stride, keyPitch(keys[static_cast<std::size_t>(c)]));
    std::vector<std::vector<float>> buffers(4, std::vector<float>(static_cast<std::size_t>(channels * stride)));
    std::vector<InputPort> in(2);
    in[0] = InputPort{pitch.data(), zeros.data(), channels, stride, true, 0.0f};
    in[1] = InputPort{zeros.data(), zeros.data(), 1, stride, false, 0.0f};
    std::vector<OutputPort> out;
    for (auto& b : buffers) out.push_back(OutputPort{b.data(), channels, stride, true});
    std::vector<Signal> result(4, Signal(static_cast<std::size_t>(channels)));
    for (int start = 0; start < frames; start += stride) {
        std::vector<MidiEvent> events;
        for (const SysexAt& m : messages)
            if (m.frame >= start && m.frame < start + stride) {
                MidiEvent e;
                e.frame = static_cast<std::uint32_t>(m.frame - start);
                e.status = 0xF0;
                e.sysex = m.bytes.data();
                e.sysexLength = static_cast<std::uint32_t>(m.bytes.size());
                events.push_back(e);
            }
        HostBuffers host;
        host.midi = events;
        ProcessContext ctx;
        ctx.frames = stride;
        ctx.in = in;
        ctx.out = out;
        ctx.host = &host;
        module->process(ctx);
        for (int p = 0; p < 4; ++p)
            for (int c = 0; c < channels; ++c) {
                const float* x = out[static_cast<std::size_t>(p)].channel(c);
                auto& dst = result[static_cast<std::size_t>(p)][static_cast<std::size_t>(c)];
                dst.insert(dst.end(), x, x + stride);
            }
    }
    return result;
}

}  // namespace

TEST_CASE("the tuner follows MIDI Tuning Standard messages from the sample they arrive", "[tuner]") {
    using namespace kabel::tuning;
    // 19 equal steps per octave, A4 = 440 Hz, sent as a bulk dump; then key 64 alone retuned to
    // 330 Hz by a single-note change; then a bad dump.
    const Tuning nineteen(equalTemperament(19), KeyboardMap::linear(69, 69, 440.0));
    const std::vector<std::uint8_t> dump = encodeBulkDump(nineteen.table(), 0, "19-EDO");
    const MtsNoteChange change{64, 69.0 + 12.0 * std::log2(330.0 / 440.0)};
    const std::vector<std::uint8_t> single = encodeNoteChange(std::span<const MtsNoteChange>(&change, 1));
    std::vector<std::uint8_t> bad = dump;
    bad[100] ^= 1;
    std::unique_ptr<kabel::Module> tuner;
    const std::vector<double> keys{69.0, 70.0, 64.0, 50.5};
    const auto o = runWithMidi(keys, {{1000, dump}, {3000, single}, {5000, bad}}, 6400, tuner, {{"mts", 1.0f}, {"tonic", 62.0f}});
    const double step = 1200.0 / 19.0;
    // Before the dump: 12-TET with its tonic on key 62 (so key 69 plays G4); after it, to the sample, 19-EDO.
    CHECK(hzOf(o[0][0][999]) == Approx(440.0 * std::pow(2.0, -2.0 / 12.0)).epsilon(1e-7));
    CHECK(hzOf(o[0][0][1000]) == Approx(440.0).epsilon(2e-6));  // Tonic does not apply to an MTS tuning
    CHECK(1200.0 * (o[0][1][1000] - o[0][0][1000]) == Approx(step).margin(0.0062));
    CHECK(1200.0 * (o[0][2][1000] - o[0][0][1000]) == Approx(-5.0 * step).margin(0.0062));
    CHECK(1200.0 * (o[0][3][1000] - o[0][0][1000]) == Approx(-18.5 * step).margin(0.0062));  // fractional keys glide
    CHECK(o[2][0][1000] == 1.0f);
    // The single-note change moves key 64 only.
    CHECK(hzOf(o[0][2][2999]) == Approx(440.0 * std::pow(2.0, -5.0 / 19.0)).epsilon(2e-6));
    CHECK(hzOf(o[0][2][3000]) == Approx(330.0).epsilon(2e-6));
    CHECK(hzOf(o[0][1][3000]) == Approx(440.0 * std::pow(2.0, 1.0 / 19.0)).epsilon(2e-6));
    // A bad dump changes nothing and says why.
    CHECK(hzOf(o[0][2][6399]) == Approx(330.0).epsilon(2e-6));
    CHECK(tuner->status().find("MTS bulk tuning dump: bad checksum at byte 406") == 0);
    // Ignore: the state's tuning again (12-TET, tonic on 62).
    tuner->setParam(tuner->descriptor().paramIndex("mts"), 0.0f);
    const auto off = runWithMidi(keys, {{10, dump}}, 128, tuner, {});
    CHECK(hzOf(off[0][0][127]) == Approx(440.0 * std::pow(2.0, -2.0 / 12.0)).epsilon(1e-7));
    CHECK(tuner->status().empty());
}

TEST_CASE("the quantizer picks the nearest degree in any octave", "[tuner]") {
    ModuleHarness h("quantizer");
    h.setParam("hysteresis", 0.0f);
    const std::vector<double> rast{0, 200, 350, 500, 700, 900, 1050};
    std::vector<float> in;
    std::vector<double> inCents;
    for (double c = -2500.0; c <= 2500.0; c += 37.3) {
        for (int n = 0; n < 64; ++n) in.push_back(static_cast<float>(c / 1200.0));
        inCents.push_back(c);
    }
    h.connect("pitch", in);
    h.loadState(scaleState("maqam-rast-24edo"));
    const auto o = h.run(static_cast<int>(in.size()));
    int checked = 0;
    for (std::size_t i = 0; i < inCents.size(); ++i) {
        // Brute force: every degree in octaves -4..4.
        double best = 1e9, bestCents = 0.0;
        int bestDegree = -1;
        for (int q = -4; q <= 4; ++q)
            for (std::size_t j = 0; j < rast.size(); ++j) {
                const double c = q * 1200.0 + rast[j];
                if (std::fabs(c - inCents[i]) < best) {
                    best = std::fabs(c - inCents[i]);
                    bestCents = c;
                    bestDegree = static_cast<int>(j);
                }
            }
        INFO("input " << inCents[i] << " cents");
        CHECK(centsOf(o[0][0][i * 64 + 63]) == Approx(bestCents).margin(1e-3));
        CHECK(o[2][0][i * 64 + 63] == static_cast<float>(bestDegree));
        ++checked;
    }
    CHECK(checked > 130);
}

TEST_CASE("the quantizer holds within the hysteresis and fires one trig per change", "[tuner]") {
    const float hysteresis = 20.0f;
    ModuleHarness h("quantizer");
    h.setParam("hysteresis", hysteresis);
    // A slow ramp from 100 to 1000 cents and back (0.01 cent per sample).
    std::vector<float> in;
    for (int n = 0; n <= 90000; ++n) in.push_back(static_cast<float>((100.0 + n * 0.01) / 1200.0));
    for (int n = 90000; n >= 0; --n) in.push_back(static_cast<float>((100.0 + n * 0.01) / 1200.0));
    h.connect("pitch", in);
    h.loadState(scaleState("maqam-rast-24edo"));
    const auto o = h.run(static_cast<int>(in.size()));
    const std::vector<float>& out = o[0][0];
    const std::vector<float>& trig = o[1][0];
    // Up from 200: to 350, 500, 700, 900 and 1050 (switching at 975 + 10 = 985 < 1000), then
    // the same five back down.
    int changes = 0, pulses = 0, pulseFrames = 0;
    for (std::size_t n = 1; n < out.size(); ++n) {
        if (out[n] != out[n - 1]) {
            ++changes;
            const double from = centsOf(out[n - 1]), to = centsOf(out[n]);
            // Switch where the input is `hysteresis` closer to the new degree: midpoint +- h/2.
            const double expected = (from + to) / 2.0 + (to > from ? 1.0 : -1.0) * hysteresis / 2.0;
            INFO("change " << from << " -> " << to << " at input " << centsOf(in[n]));
            CHECK(centsOf(in[n]) == Approx(expected).margin(0.02));
            CHECK(trig[n] == 1.0f);
            CHECK(trig[n - 1] == 0.0f);
        }
        if (trig[n] > 0.5f && trig[n - 1] < 0.5f) ++pulses;
        pulseFrames += trig[n] > 0.5f ? 1 : 0;
    }
    CHECK(changes == 10);  // the first choice (200) is not a change
    CHECK(pulses == changes);
    CHECK(pulseFrames == changes * 48);  // 1 ms at 48 kHz
    CHECK(centsOf(out.front()) == Approx(200.0).margin(1e-3));
    CHECK(centsOf(out.back()) == Approx(200.0).margin(1e-3));
    CHECK(trig.front() == 0.0f);
}

TEST_CASE("the quantizer's reference moves its degrees", "[tuner]") {
    ModuleHarness h("quantizer");
    h.setParam("hysteresis", 0.0f);
    h.setParam("reference", static_cast<float>(kC4 * std::pow(2.0, 200.0 / 1200.0)));  // Rast on D
    h.connect("pitch", std::vector<float>{static_cast<float>(180.0 / 1200.0), static_cast<float>(480.0 / 1200.0),
                                          static_cast<float>(10.0 / 1200.0)});
    h.loadState(scaleState("maqam-rast-24edo"));
    const auto o = h.run(3);
    CHECK(centsOf(o[0][0][0]) == Approx(200.0).margin(1e-3));  // D, the tonic
    CHECK(centsOf(o[0][0][1]) == Approx(550.0).margin(1e-3));  // F½♯ (E½♭ of Rast on D)
    CHECK(centsOf(o[0][0][2]) == Approx(50.0).margin(1e-3));   // C½♯, the B½♭ below D
    CHECK(o[2][0][2] == 6.0f);
}

TEST_CASE("the tuning modules swap tunings while playing without allocating or locking", "[tuner][realtime]") {
    if (!kabel::test::kRtGuardActive) return;
    const std::vector<std::string> ids{"maqam-rast-24edo", "raga-yaman", "bali-selisir-tampak-gangsai", "partch-43", "slendro-madukentir"};
    for (const char* type : {"tuner", "quantizer"}) {
        INFO(type);
        kabel::test::ModuleBench bench(type, 64, 48000.0, 100);
        bench.connect("pitch", 16, [](int c, long n) { return 0.05f * float(c) + 0.3f * std::sin(0.0007f * float(n)); });
        bench.build();
        long allocations = 0, locks = 0;
        for (int round = 0; round < 30; ++round) {
            bench.setParam("reference", round % 3 == 0 ? 0.0f : 200.0f + 10.0f * float(round));
            if (std::string(type) == "tuner") {
                bench.setParam("tonic", float(55 + round % 10));
                bench.setParam("layout", float(round % 2));
                bench.setParam("retune", float((round / 2) % 2));
            }
            if (round % 3 == 1) {
                bench.module().loadState(nlohmann::json{{"scale", ids[static_cast<std::size_t>(round) % ids.size()]}},
                                         kabel::LoadContext{});
                bench.module().idle();
            }
            kabel::test::RtGuard guard;
            for (int b = 0; b < 40; ++b) bench.step();
            allocations += guard.counts().allocations;
            locks += guard.counts().locks;
        }
        CHECK(bench.module().status().empty());
        CHECK(allocations == 0);
        CHECK(locks == 0);
    }
}

TEST_CASE("tuner and quantizer micro-benchmark", "[.bench]") {
    for (int channels : {1, 16}) {
        {
            kabel::test::ModuleBench b("tuner", 64);
            b.connect("pitch", channels, [](int c, long n) { return float((n / 4800 + c) % 24 - 12) / 12.0f; });  // held keys
            b.build();
            b.module().loadState(nlohmann::json{{"scale", "maqam-rast-24edo"}}, kabel::LoadContext{});
            b.module().idle();
            b.nsPerSample("tuner, held keys, Rast");
        }
        {
            kabel::test::ModuleBench b("tuner", 64);
            b.connect("pitch", channels, [](int c, long n) { return 0.05f * float(c) + 0.5f * std::sin(0.0003f * float(n)); });
            b.build();
            b.module().loadState(nlohmann::json{{"scale", "maqam-rast-24edo"}}, kabel::LoadContext{});
            b.module().idle();
            b.nsPerSample("tuner, gliding pitch, Rast");
        }
        {
            kabel::test::ModuleBench b("tuner", 64);
            b.connect("pitch", channels, [](int c, long n) { return 0.05f * float(c) + 0.5f * std::sin(0.0003f * float(n)); });
            b.build();
            b.module().loadState(nlohmann::json{{"scale", "bali-selisir-tampak-gangsai"}}, kabel::LoadContext{});
            b.module().idle();
            // ModuleBench leaves outputs connected: the ombak voice is computed too.
            b.nsPerSample("tuner, gliding pitch, selisir + ombak");
        }
        {
            kabel::test::ModuleBench b("quantizer", 64);
            b.connect("pitch", channels, [](int c, long n) { return 0.05f * float(c) + 0.5f * std::sin(0.0003f * float(n)); });
            b.build();
            b.module().loadState(nlohmann::json{{"scale", "partch-43"}}, kabel::LoadContext{});
            b.module().idle();
            b.nsPerSample("quantizer, gliding pitch, Partch 43");
        }
    }
}
