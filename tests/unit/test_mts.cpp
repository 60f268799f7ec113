// core/tuning/mts: MIDI Tuning Standard frequency words, messages, the real-time decoder and
// Scala export. Expected bytes and frequencies are computed here from the specification's
// definitions (note = xx + yyzz / 16384 semitones, 440 * 2^((note - 69) / 12) Hz; checksum = XOR of
// the bytes between F0 and the checksum, & 0x7F), never taken from the implementation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/tuning/mts.hpp"
#include "core/tuning/tuning.hpp"
#include "tests/support/rt_guard.hpp"

namespace {

using namespace kabel::tuning;
using Bytes = std::vector<std::uint8_t>;

double hzOfNote(double note) {
    return 440.0 * std::pow(2.0, (note - 69.0) / 12.0);
}

double centsBetween(double a, double b) {
    return 1200.0 * std::log2(a / b);
}

// What the specification says a word means, computed here.
double noteOf(int xx, int yy, int zz) {
    return xx + (yy * 128 + zz) / 16384.0;
}

std::uint8_t xorChecksum(const Bytes& m) {
    std::uint8_t x = 0;
    for (std::size_t i = 1; i + 2 < m.size(); ++i) x = static_cast<std::uint8_t>(x ^ m[i]);
    return static_cast<std::uint8_t>(x & 0x7F);
}

// A tuning with no regularity: every key somewhere in MTS's range.
TuningTable randomTable(unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> note(0.0, 127.99);
    TuningTable t;
    for (int k = 0; k < 128; ++k) {
        t.log2Hz[static_cast<std::size_t>(k)] = std::log2(hzOfNote(note(rng)));
        t.mapped[static_cast<std::size_t>(k)] = true;
    }
    return t;
}

void checkTableMatches(const MtsTable& decoded, const TuningTable& original, double toleranceCents) {
    double worst = 0.0;
    for (int k = 0; k < 128; ++k) {
        // MTS spans 00 00 00 (8.1758 Hz) .. 7F 7F 7E (13289.73 Hz): keys beyond are clamped.
        const double want =
            std::clamp(std::exp2(original.log2Hz[static_cast<std::size_t>(k)]), hzOfNote(0.0), hzOfNote(127.0 + 16382.0 / 16384.0));
        worst = std::max(worst, std::fabs(centsBetween(decoded.frequency(k), want)));
    }
    INFO("worst error " << worst << " cents");
    CHECK(worst <= toleranceCents);
}

}  // namespace

TEST_CASE("MTS frequency words are the ones the specification lists", "[mts]") {
    // xx = the 12-TET semitone (A4 = 69 = 440 Hz), yy zz = 14-bit fraction of a semitone.
    CHECK(mtsWordOfFrequency(440.0) == MtsWord{0x45, 0x00, 0x00});
    CHECK(mtsWordOfNote(60.0) == MtsWord{0x3C, 0x00, 0x00});
    CHECK(mtsWordOfFrequency(hzOfNote(60.0)) == MtsWord{0x3C, 0x00, 0x00});  // 261.6256 Hz
    // Middle C + 50 cents: half a semitone = 8192/16384 -> yy = 8192 >> 7 = 0x40, zz = 0.
    CHECK(mtsWordOfNote(60.5) == MtsWord{0x3C, 0x40, 0x00});
    // 3C 20 00 is 4096/16384 of a semitone: +25 cents.
    CHECK(mtsNoteOfWord({0x3C, 0x20, 0x00}) == Approx(60.25).epsilon(1e-15));
    CHECK(mtsWordOfNote(60.25) == MtsWord{0x3C, 0x20, 0x00});
    // One step: 100/16384 cents.
    CHECK(mtsWordOfNote(69.0 + 1.0 / 16384.0) == MtsWord{0x45, 0x00, 0x01});
    CHECK(mtsFrequencyOfNote(noteOf(0x45, 0x00, 0x01)) == Approx(440.0016).margin(5e-5));
    CHECK(mtsFrequencyOfNote(noteOf(0x44, 0x7F, 0x7F)) == Approx(439.9984).margin(5e-5));
    CHECK(mtsFrequencyOfNote(noteOf(0x00, 0x00, 0x00)) == Approx(8.1758).margin(5e-5));
    CHECK(mtsFrequencyOfNote(noteOf(0x78, 0x00, 0x00)) == Approx(8372.0181).margin(5e-4));
    CHECK(mtsFrequencyOfNote(noteOf(0x7F, 0x7F, 0x7E)) == Approx(13289.73).margin(5e-3));
    // The range's ends: 7F 7F 7F is "no change", so the top is 7F 7F 7E.
    CHECK(mtsWordOfFrequency(20000.0) == MtsWord{0x7F, 0x7F, 0x7E});
    CHECK(mtsWordOfNote(128.0) == MtsWord{0x7F, 0x7F, 0x7E});
    CHECK(mtsWordOfFrequency(1.0) == MtsWord{0x00, 0x00, 0x00});
    CHECK(mtsWordOfFrequency(0.0) == MtsWord{0x00, 0x00, 0x00});
    CHECK(mtsWordOfNote(std::nan("")) == MtsWord{0x00, 0x00, 0x00});
    CHECK(MtsWord{0x7F, 0x7F, 0x7F}.noChange());
    CHECK_FALSE(MtsWord{0x7F, 0x7F, 0x7E}.noChange());
    // Rounding to the nearest step: every word in a sweep is within half a step.
    double worst = 0.0;
    for (int i = 0; i < 20000; ++i) {
        const double note = 0.3 + i * 0.0063317;
        worst = std::max(worst, std::fabs(mtsNoteOfWord(mtsWordOfNote(note)) - note));
    }
    CHECK(worst <= 0.5 / 16384.0 + 1e-12);
}

TEST_CASE("a bulk tuning dump has the specified layout and checksum", "[mts]") {
    const Tuning equal;  // 12-TET, A4 = 440 Hz
    const Bytes m = encodeBulkDump(equal.table(), 5, "Twelve", 0x10);
    REQUIRE(m.size() == 408u);  // F0 7E dev 08 01 tt + 16 name + 384 data + checksum + F7
    CHECK(m[0] == 0xF0);
    CHECK(m[1] == 0x7E);
    CHECK(m[2] == 0x10);
    CHECK(m[3] == 0x08);
    CHECK(m[4] == 0x01);
    CHECK(m[5] == 5);
    CHECK(std::string(m.begin() + 6, m.begin() + 22) == "Twelve          ");
    for (int k = 0; k < 128; ++k) {
        INFO("key " << k);
        CHECK(m[static_cast<std::size_t>(22 + 3 * k)] == k);
        CHECK(m[static_cast<std::size_t>(23 + 3 * k)] == 0);
        CHECK(m[static_cast<std::size_t>(24 + 3 * k)] == 0);
    }
    CHECK(m[406] == xorChecksum(m));
    CHECK(mtsChecksum(m) == xorChecksum(m));
    CHECK(m[407] == 0xF7);
    // The 12-TET checksum from first principles: 7E ^ 10 ^ 08 ^ 01 ^ 05 ^ the name ^ (0 ^ 1 ^ ... ^ 127).
    std::uint8_t x = 0x7E ^ 0x10 ^ 0x08 ^ 0x01 ^ 0x05;
    for (char c : std::string("Twelve          ")) x = static_cast<std::uint8_t>(x ^ static_cast<std::uint8_t>(c));
    for (int k = 0; k < 128; ++k) x = static_cast<std::uint8_t>(x ^ k);
    CHECK(m[406] == (x & 0x7F));

    // Names: non-ASCII characters (one UTF-8 sequence each) become '?', long names are cut.
    const Bytes named = encodeBulkDump(equal.table(), 0, "Rāst on C, 24-EDO notation");
    CHECK(std::string(named.begin() + 6, named.begin() + 22) == "R?st on C, 24-ED");
    CHECK_THROWS_AS(encodeBulkDump(equal.table(), 128), std::invalid_argument);
    CHECK_THROWS_AS(encodeBulkDump(equal.table(), 0, "", 200), std::invalid_argument);

    const Bytes banked = encodeKeyBasedDump(equal.table(), 3, 7, "x");
    REQUIRE(banked.size() == 409u);
    CHECK(banked[4] == 0x04);
    CHECK(banked[5] == 3);
    CHECK(banked[6] == 7);
    CHECK(banked[407] == xorChecksum(banked));
}

TEST_CASE("a single-note tuning change has the specified bytes", "[mts]") {
    // A4 50 cents sharp in tuning program 1, device 0.
    const MtsNoteChange change{69, 69.5};
    const Bytes m = encodeNoteChange(std::span<const MtsNoteChange>(&change, 1), 1, 0x00);
    CHECK(m == Bytes{0xF0, 0x7F, 0x00, 0x08, 0x02, 0x01, 0x01, 0x45, 0x45, 0x40, 0x00, 0xF7});
    std::vector<MtsNoteChange> none;
    CHECK_THROWS_AS(encodeNoteChange(none), std::invalid_argument);
    std::vector<MtsNoteChange> tooMany(128, MtsNoteChange{60, 60.0});
    CHECK_THROWS_AS(encodeNoteChange(tooMany), std::invalid_argument);
    const MtsNoteChange badKey{128, 60.0};
    CHECK_THROWS_AS(encodeNoteChange(std::span<const MtsNoteChange>(&badKey, 1)), std::invalid_argument);

    MtsDecoder decoder;
    const MtsResult r = decoder.decode(m);
    REQUIRE(r.ok());
    CHECK(r.kind == MtsKind::NoteChange);
    CHECK(r.realtime);
    CHECK(r.program == 1);
    CHECK(r.changedKeys == 1);
    CHECK(decoder.table().note[69] == 69.5);
    CHECK(decoder.table().frequency(69) == Approx(440.0 * std::pow(2.0, 50.0 / 1200.0)).epsilon(1e-12));
    CHECK(decoder.table().note[68] == 68.0);  // the others keep their tuning

    // 7F 7F 7F leaves a key as it is.
    const Bytes noChange{0xF0, 0x7F, 0x7F, 0x08, 0x02, 0x00, 0x02, 0x45, 0x7F, 0x7F, 0x7F, 0x3C, 0x3C, 0x20, 0x00, 0xF7};
    const MtsResult r2 = decoder.decode(noChange);
    REQUIRE(r2.ok());
    CHECK(r2.changedKeys == 1);
    CHECK(decoder.table().note[69] == 69.5);
    CHECK(decoder.table().note[60] == 60.25);
}

TEST_CASE("encoding then decoding gives every key back within one 14-bit step", "[mts]") {
    const double oneStep = 100.0 / 16384.0;  // 0.0061 cents
    std::vector<TuningTable> tables;
    tables.push_back(Tuning().table());
    tables.push_back(Tuning(equalTemperament(31), KeyboardMap::linear(60, 69, 432.0)).table());
    tables.push_back(Tuning(equalTemperament(13, 1200.0 * std::log2(3.0)), KeyboardMap::linear(60, 60, 250.0)).table());
    for (unsigned seed = 1; seed <= 5; ++seed) tables.push_back(randomTable(seed));
    int checked = 0;
    for (const TuningTable& t : tables) {
        MtsDecoder bulk;
        REQUIRE(bulk.decode(encodeBulkDump(t, 3, "round trip")).ok());
        checkTableMatches(bulk.table(), t, oneStep);
        CHECK(bulk.table().program == 3);
        CHECK(bulk.table().nameText() == "round trip");

        MtsDecoder keyBased;
        REQUIRE(keyBased.decode(encodeKeyBasedDump(t, 2, 4)).ok());
        checkTableMatches(keyBased.table(), t, oneStep);
        CHECK(keyBased.table().bank == 2);

        MtsDecoder notes;
        const auto messages = encodeNoteChanges(t);
        REQUIRE(messages.size() == 2u);
        CHECK(messages[0].size() == 8u + 4u * 127u);
        CHECK(messages[1].size() == 8u + 4u);
        for (const Bytes& m : messages) REQUIRE(notes.decode(m).ok());
        checkTableMatches(notes.table(), t, oneStep);
        ++checked;
    }
    CHECK(checked == 8);
    // In fact within half a step (rounding to nearest).
    MtsDecoder d;
    const TuningTable t = randomTable(99);
    REQUIRE(d.decode(encodeBulkDump(t)).ok());
    checkTableMatches(d.table(), t, oneStep / 2.0 + 1e-9);
}

TEST_CASE("scale/octave tuning messages offset each pitch class from 12-TET", "[mts]") {
    const std::array<double, 12> offsets{0.0, -10.0, 3.9, 15.6, -13.7, -2.0, -9.8, 2.0, 13.7, -15.6, 17.6, -11.7};
    SECTION("1-byte form: whole cents from -64 to +63, 40 = 0") {
        const Bytes m = encodeScaleOctave(offsets, false, true, 0xFFFF);
        REQUIRE(m.size() == 21u);
        CHECK(m[1] == 0x7F);
        CHECK(m[4] == 0x08);
        CHECK((m[5] == 0x03 && m[6] == 0x7F && m[7] == 0x7F));  // all 16 channels
        CHECK(m[8] == 0x40);                                    // C: 0 cents
        CHECK(m[9] == 0x40 - 10);                               // C#: -10 cents
        MtsDecoder d;
        const MtsResult r = d.decode(m);
        REQUIRE(r.ok());
        CHECK(r.kind == MtsKind::ScaleOctave);
        CHECK(r.channels == 0xFFFF);
        for (int k = 0; k < 128; ++k) {
            INFO("key " << k);
            CHECK(d.table().note[static_cast<std::size_t>(k)] == Approx(k + std::round(offsets[static_cast<std::size_t>(k % 12)]) / 100.0));
        }
    }
    SECTION("2-byte form: 14 bits from -100 to +100 cents, 40 00 = 0") {
        const Bytes m = encodeScaleOctave(offsets, true, false, 0x0001);
        REQUIRE(m.size() == 33u);
        CHECK(m[1] == 0x7E);
        CHECK(m[4] == 0x09);
        CHECK((m[5] == 0 && m[6] == 0 && m[7] == 1));  // channel 1 only
        CHECK((m[8] == 0x40 && m[9] == 0x00));         // C: 8192 = 0 cents
        MtsDecoder d;
        const MtsResult r = d.decode(m);
        REQUIRE(r.ok());
        CHECK_FALSE(r.realtime);
        CHECK(r.channels == 0x0001);
        for (int k = 0; k < 128; ++k)
            CHECK(std::fabs((d.table().note[static_cast<std::size_t>(k)] - k) * 100.0 - offsets[static_cast<std::size_t>(k % 12)]) <=
                  0.5 * 100.0 / 8192.0 + 1e-9);
        // The ends: 00 00 = -100 cents, 7F 7F = +99.988 cents.
        const Bytes ends{0xF0, 0x7F, 0x7F, 0x08, 0x09, 0x03, 0x7F, 0x7F, 0x00, 0x00, 0x7F, 0x7F, 0x40, 0x00, 0x40, 0x00, 0x40,
                         0x00, 0x40, 0x00, 0x40, 0x00, 0x40, 0x00, 0x40, 0x00, 0x40, 0x00, 0x40, 0x00, 0x40, 0x00, 0xF7};
        REQUIRE(d.decode(ends).ok());
        CHECK(d.table().note[60] == Approx(59.0));
        CHECK(d.table().note[61] == Approx(61.0 + (16383 - 8192) / 8192.0));
    }
}

TEST_CASE("untrusted MTS bytes are rejected with a reason and change nothing", "[mts]") {
    const Tuning equal;
    const Bytes good = encodeBulkDump(Tuning(equalTemperament(19)).table(), 0, "19");
    struct Case {
        const char* what;
        Bytes bytes;
        MtsError error;
        int offset;
    };
    std::vector<Case> cases;
    cases.push_back({"empty", {}, MtsError::NotSysex, 0});
    cases.push_back({"no F0", Bytes(good.begin() + 1, good.end()), MtsError::NotSysex, 0});
    cases.push_back({"truncated", Bytes(good.begin(), good.begin() + 200), MtsError::Unterminated, 200});
    cases.push_back({"only F0", {0xF0}, MtsError::Unterminated, 1});
    {
        Bytes b = good;
        b.erase(b.begin() + 100);  // one data byte missing
        cases.push_back({"one byte short", b, MtsError::WrongLength, 406});
    }
    {
        Bytes b = good;
        b[50] ^= 0x01;  // a data byte changed: the checksum no longer matches
        cases.push_back({"bad checksum", b, MtsError::BadChecksum, 406});
    }
    {
        Bytes b = good;
        b[60] = 0x80;
        cases.push_back({"byte above 0x7F", b, MtsError::DataByteHigh, 60});
    }
    {
        Bytes b = good;
        b[1] = 0x7F;  // a bulk dump exists only as non-real-time
        cases.push_back({"bulk dump as real-time", b, MtsError::WrongRealtime, 1});
    }
    cases.push_back({"note change as non-real-time",
                     {0xF0, 0x7E, 0x7F, 0x08, 0x02, 0x00, 0x01, 0x45, 0x45, 0x40, 0x00, 0xF7},
                     MtsError::WrongRealtime,
                     1});
    cases.push_back({"unknown sub-id", {0xF0, 0x7E, 0x7F, 0x08, 0x0A, 0x00, 0xF7}, MtsError::UnknownSubId, 4});
    cases.push_back({"identity request", {0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7}, MtsError::NotMts, 1});
    cases.push_back({"manufacturer sysex", {0xF0, 0x43, 0x10, 0x4C, 0x00, 0x00, 0x7E, 0x00, 0xF7}, MtsError::NotMts, 1});
    cases.push_back({"count 0", {0xF0, 0x7F, 0x7F, 0x08, 0x02, 0x00, 0x00, 0xF7}, MtsError::BadCount, 6});
    cases.push_back(
        {"count 2, one change", {0xF0, 0x7F, 0x7F, 0x08, 0x02, 0x00, 0x02, 0x45, 0x45, 0x40, 0x00, 0xF7}, MtsError::WrongLength, 11});
    cases.push_back({"count missing", {0xF0, 0x7F, 0x7F, 0x08, 0x02, 0x00, 0xF7}, MtsError::WrongLength, 6});
    cases.push_back({"scale/octave short", {0xF0, 0x7F, 0x7F, 0x08, 0x08, 0x03, 0x7F, 0x7F, 0x40, 0x40, 0xF7}, MtsError::WrongLength, 10});
    {
        Bytes b(600, 0x00);
        b.front() = 0xF0;
        b.back() = 0xF7;
        cases.push_back({"too long", b, MtsError::TooLong, 520});
    }
    int checked = 0;
    for (const Case& c : cases) {
        INFO(c.what);
        MtsDecoder d;
        const MtsResult r = d.decode(c.bytes);
        CHECK(r.error == c.error);
        CHECK(r.offset == c.offset);
        CHECK_FALSE(r.ok());
        CHECK(r.kind == MtsKind::None);
        for (int k = 0; k < 128; ++k) REQUIRE(d.table().note[static_cast<std::size_t>(k)] == k);  // still 12-TET
        CHECK_FALSE(describe(r).empty());
        ++checked;
    }
    CHECK(checked == static_cast<int>(cases.size()));

    // The reasons read well.
    MtsDecoder d;
    Bytes b = good;
    b[50] ^= 0x01;
    const MtsResult r = d.decode(b);
    CHECK(
        describe(r) == "MTS bulk tuning dump: bad checksum at byte 406 (expected 0x" +
                           [&] {
                               char hex[8];
                               std::snprintf(hex, sizeof hex, "%02X", xorChecksum(b));
                               return std::string(hex);
                           }() +
                           ", got 0x" +
                           [&] {
                               char hex[8];
                               std::snprintf(hex, sizeof hex, "%02X", b[406]);
                               return std::string(hex);
                           }() +
                           ")");
    CHECK(describe(d.decode(Bytes(good.begin(), good.begin() + 200))) ==
          "MTS message: truncated: the message does not end with F7 at byte 200");
}

TEST_CASE("the MTS decoder filters by device and program, and answers requests", "[mts]") {
    const Tuning tuning(equalTemperament(19));
    MtsDecoder d;
    d.setDevice(0x05);
    d.setProgram(2);
    MtsResult r = d.decode(encodeBulkDump(tuning.table(), 2, "", 0x06));
    CHECK(r.error == MtsError::OtherDevice);
    r = d.decode(encodeBulkDump(tuning.table(), 3, "", 0x05));
    CHECK(r.error == MtsError::OtherProgram);
    CHECK(d.table().note[61] == 61.0);
    r = d.decode(encodeBulkDump(tuning.table(), 2, "", 0x7F));  // the all-call device id
    CHECK(r.ok());
    CHECK(d.table().frequency(61) == Approx(tuning.frequency(61)).epsilon(1e-5));
    r = d.decode(Bytes{0xF0, 0x7E, 0x05, 0x08, 0x00, 0x11, 0xF7});
    REQUIRE(r.ok());
    CHECK(r.kind == MtsKind::DumpRequest);
    CHECK(r.program == 0x11);
    r = d.decode(Bytes{0xF0, 0x7E, 0x05, 0x08, 0x03, 0x02, 0x11, 0xF7});
    REQUIRE(r.ok());
    CHECK(r.kind == MtsKind::DumpRequest);
    CHECK(r.bank == 2);
}

TEST_CASE("the MTS decoder takes a MIDI byte stream with real-time bytes inside sysex", "[mts]") {
    const Tuning tuning(equalTemperament(22));
    const Bytes dump = encodeBulkDump(tuning.table());
    MtsDecoder d;
    int ended = 0;
    // Noise before, a clock byte (F8) every 17 bytes inside, an active-sensing byte (FE).
    for (std::uint8_t b : Bytes{0x90, 0x3C, 0x40, 0x80, 0x3C, 0x00}) ended += d.feed(b) ? 1 : 0;
    CHECK(ended == 0);
    for (std::size_t i = 0; i < dump.size(); ++i) {
        if (i % 17 == 5) CHECK_FALSE(d.feed(0xF8));
        if (i == 200) CHECK_FALSE(d.feed(0xFE));
        const bool end = d.feed(dump[i]);
        CHECK(end == (i + 1 == dump.size()));
        ended += end ? 1 : 0;
    }
    CHECK(ended == 1);
    REQUIRE(d.lastResult().ok());
    CHECK(d.lastResult().kind == MtsKind::BulkDump);
    CHECK(d.table().frequency(70) == Approx(tuning.frequency(70)).epsilon(1e-5));

    // A status byte breaks a message off: reported, nothing applied, the next message works.
    d.reset();
    for (std::size_t i = 0; i < 100; ++i) d.feed(dump[i]);
    CHECK(d.feed(0x90));
    CHECK(d.lastResult().error == MtsError::Unterminated);
    CHECK(d.table().note[70] == 70.0);
    // A new F0 in the middle of a message also ends the old one.
    for (std::size_t i = 0; i < 50; ++i) d.feed(dump[i]);
    CHECK(d.feed(0xF0));
    CHECK(d.lastResult().error == MtsError::Unterminated);
    for (std::size_t i = 1; i < dump.size(); ++i) d.feed(dump[i]);
    CHECK(d.lastResult().ok());
    CHECK(d.table().frequency(70) == Approx(tuning.frequency(70)).epsilon(1e-5));
    // Too long: reported at its F7.
    d.feed(0xF0);
    for (int i = 0; i < 700; ++i) CHECK_FALSE(d.feed(0x01));
    CHECK(d.feed(0xF7));
    CHECK(d.lastResult().error == MtsError::TooLong);
}

TEST_CASE("the MTS decoder neither allocates nor locks", "[mts]") {
    if (!kabel::test::kRtGuardActive) return;
    const Bytes dump = encodeBulkDump(Tuning(equalTemperament(31)).table());
    const auto notes = encodeNoteChanges(Tuning(equalTemperament(17)).table());
    Bytes bad = dump;
    bad[30] ^= 3;
    MtsDecoder d;
    long allocations = 0, locks = 0;
    int ok = 0;
    {
        const kabel::test::RtGuard guard;
        for (int round = 0; round < 50; ++round) {
            ok += d.decode(dump).ok() ? 1 : 0;
            ok += d.decode(bad).ok() ? 1 : 0;
            for (const Bytes& m : notes)
                for (std::uint8_t b : m) d.feed(b);
            ok += d.lastResult().ok() ? 1 : 0;
        }
        allocations = guard.counts().allocations;
        locks = guard.counts().locks;
    }
    CHECK(ok == 100);
    CHECK(allocations == 0);
    CHECK(locks == 0);
}

TEST_CASE("a decoded MTS table exports as .scl and .kbm that play the same keys", "[mts]") {
    SECTION("a periodic tuning becomes its period's scale") {
        // 12-note 5-limit just intonation on C (linear from middle C; keys 0..127 stay inside
        // MTS's 8.18..13289.73 Hz) sent as a bulk dump.
        Scale just;
        for (auto [n, d] : std::vector<std::pair<int, int>>{
                 {16, 15}, {9, 8}, {6, 5}, {5, 4}, {4, 3}, {45, 32}, {3, 2}, {8, 5}, {5, 3}, {9, 5}, {15, 8}, {2, 1}})
            just.pitches.push_back(Pitch::fromRatio(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(d)));
        const Tuning original(just);
        MtsDecoder d;
        REQUIRE(d.decode(encodeBulkDump(original.table(), 0, "just 12")).ok());
        const MtsPeriod period = periodOf(d.table());
        CHECK(period.keys == 12);
        CHECK(period.cents == Approx(1200.0).margin(0.007));
        const ScalaExport e = toScala(d.table());
        CHECK(e.scale.description == "just 12");
        CHECK(e.scale.noteCount() == 12);
        const Scale scl = parseScale(toScl(e.scale, "mts.scl"), "mts.scl");
        const KeyboardMap kbm = parseKeyboardMap(toKbm(e.map, "mts.kbm"), "mts.kbm");
        const Tuning again(scl, kbm);
        double worst = 0.0, worstOriginal = 0.0;
        for (int k = 0; k < 128; ++k) {
            worst = std::max(worst, std::fabs(centsBetween(again.frequency(k), d.table().frequency(k))));
            worstOriginal = std::max(worstOriginal, std::fabs(centsBetween(again.frequency(k), original.frequency(k))));
        }
        INFO("vs decoded " << worst << " c, vs original " << worstOriginal << " c");
        CHECK(worst <= 100.0 / 16384.0 * 1.01);  // the period is averaged over the table
        CHECK(worstOriginal <= 2.0 * 100.0 / 16384.0);
        // The just pitches from first principles: E = 5/4 above C.
        CHECK(again.frequency(64) / again.frequency(60) == Approx(5.0 / 4.0).epsilon(1e-5));
        CHECK(again.frequency(67) / again.frequency(48) == Approx(2.0 * 3.0 / 2.0).epsilon(1e-5));
    }
    SECTION("12-TET is exported with 12 notes") {
        MtsDecoder d;
        const MtsPeriod period = periodOf(d.table());
        CHECK(period.keys == 12);
        CHECK(period.cents == Approx(1200.0));
        const ScalaExport e = toScala(d.table());
        CHECK(e.scale.noteCount() == 12);
        CHECK(e.scale.pitches[6].cents == Approx(700.0));
        CHECK(e.map.referenceFrequency == Approx(hzOfNote(60.0)));
    }
    SECTION("a table with no period becomes a 128-note scale") {
        MtsDecoder d;
        REQUIRE(d.decode(encodeBulkDump(randomTable(7))).ok());
        CHECK(periodOf(d.table()).keys == 0);
        const ScalaExport e = toScala(d.table(), "random");
        CHECK(e.scale.noteCount() == 128);
        const Tuning again(parseScale(toScl(e.scale), "r.scl"), parseKeyboardMap(toKbm(e.map), "r.kbm"));
        double worst = 0.0;
        for (int k = 0; k < 128; ++k) worst = std::max(worst, std::fabs(centsBetween(again.frequency(k), d.table().frequency(k))));
        CHECK(worst < 1e-6);
    }
    SECTION("a tuning with no octave repeats every key") {
        MtsTable alpha = MtsTable::equal();  // Carlos' alpha: 78-cent steps, no octave in 64 keys
        for (int k = 0; k < 128; ++k) alpha.note[static_cast<std::size_t>(k)] = 20.0 + 0.78 * k;
        const MtsPeriod period = periodOf(alpha);
        CHECK(period.keys == 1);
        CHECK(period.cents == Approx(78.0));
        MtsTable twelve = MtsTable::equal();  // and 31-EDO's octave is 31 keys, not its one-key step
        for (int k = 0; k < 128; ++k) twelve.note[static_cast<std::size_t>(k)] = 30.0 + 12.0 * k / 31.0;
        CHECK(periodOf(twelve).keys == 31);
    }
    SECTION("the table as a TuningTable") {
        MtsDecoder d;
        REQUIRE(d.decode(encodeBulkDump(Tuning(equalTemperament(31), KeyboardMap::linear(60, 60, 256.0)).table())).ok());
        const TuningTable t = toTuningTable(d.table());
        CHECK(t.periodKeys == 31);
        CHECK(t.periodLog2 == Approx(1.0).margin(1e-5));
        CHECK(t.degree[60] == 0);
        CHECK(t.degree[91] == 0);
        CHECK(t.degree[61] == 1);
        CHECK(t.frequency(60.0) == Approx(256.0).epsilon(1e-5));
        CHECK(t.frequency(91.0) == Approx(512.0).epsilon(1e-5));
        CHECK(t.frequency(140.0) == Approx(256.0 * std::pow(2.0, 80.0 / 31.0)).epsilon(1e-5));  // beyond key 127, by period
    }
}
