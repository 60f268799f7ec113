// core/tuning: scales, keyboard maps, tunings, modes and export, checked against frequencies
// computed here from first principles (ratios, powers of two), never from the implementation.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/tuning/tuning.hpp"
#include "tests/support/rt_guard.hpp"

namespace {

using namespace kabel::tuning;
namespace fs = std::filesystem;

constexpr double kC4 = 261.6255653005986;  // 440 * 2^(-9/12)

double centsBetween(double a, double b) {
    return 1200.0 * std::log2(a / b);
}

// A frequency within 0.001 cent of the expected one.
#define CHECK_CENTS(actual, expected) CHECK(std::fabs(centsBetween((actual), (expected))) < 1e-3)

std::string edoScl(int steps, const std::string& period) {
    std::string s = "! generated\nEqual steps\n " + std::to_string(steps) + "\n!\n";
    for (int i = 1; i < steps; ++i) s += " " + std::to_string(i * 1200.0 / steps) + "\n";
    return s + " " + period + "\n";
}

// The decimal digits of base^exponent (schoolbook multiplication), for ratios beyond 64 bits.
std::string powerDigits(int base, int exponent) {
    std::vector<int> digits{1};  // little-endian
    for (int e = 0; e < exponent; ++e) {
        int carry = 0;
        for (int& d : digits) {
            const int v = d * base + carry;
            d = v % 10;
            carry = v / 10;
        }
        while (carry) {
            digits.push_back(carry % 10);
            carry /= 10;
        }
    }
    std::string s;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) s += static_cast<char>('0' + *it);
    return s;
}

std::string kbmText(int size, int first, int last, int middle, int reference, double hz, int octave,
                    const std::vector<std::string>& entries) {
    std::string s = "! test map\n";
    for (const std::string& v : {std::to_string(size), std::to_string(first), std::to_string(last), std::to_string(middle),
                                 std::to_string(reference), std::to_string(hz), std::to_string(octave)})
        s += v + "\n";
    for (const std::string& e : entries) s += e + "\n";
    return s;
}

}  // namespace

TEST_CASE("default tuning is 12-TET with A4 at 440 Hz", "[tuning]") {
    const Tuning t;
    int checked = 0;
    for (int key = 0; key < 128; ++key) {
        const double expected = 440.0 * std::pow(2.0, (key - 69) / 12.0);
        CHECK_CENTS(t.frequencyOfKey(key), expected);
        CHECK_CENTS(t.frequency(key), expected);
        CHECK_CENTS(t.table().frequency(key), expected);
        CHECK(t.isMapped(key));
        CHECK(t.degreeOfKey(key) == ((key - 60) % 12 + 12) % 12);
        ++checked;
    }
    CHECK(checked == 128);
    CHECK(t.frequencyOfKey(69) == Approx(440.0).epsilon(1e-12));
}

TEST_CASE("fractional notes interpolate in log frequency between neighbouring keys", "[tuning]") {
    const Tuning t;
    CHECK_CENTS(t.frequency(69.5), 440.0 * std::pow(2.0, 0.5 / 12.0));
    CHECK_CENTS(t.frequency(60.25), kC4 * std::pow(2.0, 0.25 / 12.0));
    // A just scale: between 5/4 and 4/3 the pitch moves evenly in cents.
    const Scale just = parseScale("Just\n 4\n 9/8\n 5/4\n 4/3\n 2/1\n", "just.scl");
    const Tuning j(just);
    const double e = kC4 * 5.0 / 4.0, f = kC4 * 4.0 / 3.0;
    CHECK_CENTS(j.frequency(62.3), e * std::pow(f / e, 0.3));
    CHECK_CENTS(j.frequency(62.999), e * std::pow(f / e, 0.999));
}

TEST_CASE("5-limit just intonation frequencies", "[tuning]") {
    const Scale s = parseScale(
        "! just.scl\n5-limit just chromatic\n 12\n!\n 16/15\n 9/8\n 6/5\n 5/4\n 4/3\n 45/32\n 3/2\n 8/5\n 5/3\n 9/5\n 15/8\n 2/1\n",
        "just.scl");
    const double ratios[12] = {1.0, 16.0 / 15, 9.0 / 8, 6.0 / 5, 5.0 / 4, 4.0 / 3, 45.0 / 32, 3.0 / 2, 8.0 / 5, 5.0 / 3, 9.0 / 5, 15.0 / 8};
    const Tuning t(s);
    for (int key = 0; key < 128; ++key) {
        const int d = key - 60;
        const int octave = d >= 0 ? d / 12 : -((11 - d) / 12);
        const double expected = kC4 * std::pow(2.0, octave) * ratios[d - octave * 12];
        CHECK_CENTS(t.frequencyOfKey(key), expected);
    }
    // Reference A4 = 440 Hz on the 5/3: C4 = 264 Hz.
    const Tuning a(s, parseKeyboardMap(kbmText(0, 0, 127, 60, 69, 440.0, 0, {}), "a440.kbm"));
    CHECK_CENTS(a.frequencyOfKey(60), 264.0);
    CHECK_CENTS(a.frequencyOfKey(67), 396.0);
    CHECK(a.centsFromReference(60) == Approx(-1200.0 * std::log2(5.0 / 3.0)));
}

TEST_CASE("31-EDO through a 12-key meantone map", "[tuning]") {
    const Scale s = parseScale(edoScl(31, "2/1"), "31edo.scl");
    const std::vector<int> entries{0, 3, 5, 8, 10, 13, 16, 18, 21, 23, 26, 29};
    std::vector<std::string> text;
    for (int e : entries) text.push_back(std::to_string(e));
    const KeyboardMap map = parseKeyboardMap(kbmText(12, 0, 127, 69, 69, 440.0, 31, text), "31edo_meantone.kbm");
    const Tuning t(s, map);
    for (int key = 0; key < 128; ++key) {
        const int d = key - 69;
        const int octave = d >= 0 ? d / 12 : -((11 - d) / 12);
        const int step = entries[static_cast<std::size_t>(d - octave * 12)];
        CHECK_CENTS(t.frequencyOfKey(key), 440.0 * std::pow(2.0, octave + step / 31.0));
        CHECK(t.degreeOfKey(key) == step);
    }
    // The meantone fifth: 18 steps of 31.
    CHECK(centsBetween(t.frequencyOfKey(76), t.frequencyOfKey(69)) == Approx(18 * 1200.0 / 31));
}

TEST_CASE("ED3-17: a tritave divided in 17 equal steps", "[tuning]") {
    std::string text = "ED3-17\n 17\n";
    for (int i = 1; i < 17; ++i) text += " " + std::to_string(i * 1200.0 * std::log2(3.0) / 17) + "\n";
    text += " 3/1\n";
    const Tuning t(parseScale(text, "ED3-17.scl"));
    for (int key = 0; key < 128; ++key) CHECK_CENTS(t.frequencyOfKey(key), kC4 * std::pow(3.0, (key - 60) / 17.0));
    CHECK(t.scale().periodCents() == Approx(1200.0 * std::log2(3.0)));
}

TEST_CASE("non-octave periods, negative cents and non-monotonic pitches", "[tuning]") {
    // Degrees 0, -100 c, 350 c; period 3/2.
    const Scale s = parseScale("Odd\n 3\n -100.0\n 350.0\n 3/2\n", "odd.scl");
    const double fifth = 1200.0 * std::log2(1.5);
    const double within[3] = {0.0, -100.0, 350.0};
    const Tuning t(s);
    for (int key = 0; key < 128; ++key) {
        const int d = key - 60;
        const int period = d >= 0 ? d / 3 : -((2 - d) / 3);
        CHECK_CENTS(t.frequencyOfKey(key), kC4 * std::pow(2.0, (period * fifth + within[d - period * 3]) / 1200.0));
    }
    // A period below 1/1 (the archive's chimes.scl has 16/29): pitches fall as keys rise.
    const Tuning down(parseScale("Falling\n 1\n 1/2\n", "down.scl"));
    CHECK_CENTS(down.frequencyOfKey(61), kC4 / 2);
    CHECK_CENTS(down.frequencyOfKey(59), kC4 * 2);
}

TEST_CASE("ratios far beyond 64 bits give the right pitch", "[tuning]") {
    // 3^60 / 2^95 (29 digits each): 60 log2 3 - 95 octaves.
    const std::string num = powerDigits(3, 60), den = powerDigits(2, 95);
    REQUIRE(num == "42391158275216203514294433201");
    const Scale s = parseScale("Huge\n 2\n " + num + "/" + den + "\n 2/1\n", "huge.scl");
    CHECK(s.pitches[0].cents == Approx(1200.0 * (60 * std::log2(3.0) - 95)).margin(1e-9));
    // 3^200 / 2^317 (96 digits over 96 digits) and 7^100 / 2^280.
    const Scale big = parseScale("Bigger\n 3\n " + powerDigits(3, 200) + "/" + powerDigits(2, 317) + " label\n " + powerDigits(7, 100) +
                                     "/" + powerDigits(2, 280) + "\n 2/1\n",
                                 "bigger.scl");
    CHECK(big.pitches[0].cents == Approx(1200.0 * (200 * std::log2(3.0) - 317)).margin(1e-9));
    CHECK(big.pitches[0].label == "label");
    CHECK(big.pitches[1].cents == Approx(1200.0 * (100 * std::log2(7.0) - 280)).margin(1e-9));
    // Leading zeros and ratios of equal long numbers.
    const Scale zeros = parseScale("Zeros\n 2\n 0003/0002\n " + powerDigits(3, 80) + "/" + powerDigits(3, 80) + "\n", "zeros.scl");
    CHECK(zeros.pitches[0].cents == Approx(1200.0 * std::log2(1.5)).margin(1e-9));
    CHECK(zeros.pitches[1].cents == Approx(0.0).margin(1e-9));
}

TEST_CASE("stretched octaves", "[tuning]") {
    // 12 equal steps of a 1206-cent octave, like a piano's stretch.
    std::string text = "Stretched\n 12\n";
    for (int i = 1; i <= 12; ++i) text += " " + std::to_string(i * 100.5) + "\n";
    const Tuning t(parseScale(text, "stretch.scl"));
    for (int key = 0; key < 128; ++key) CHECK_CENTS(t.frequencyOfKey(key), kC4 * std::pow(2.0, (key - 60) * 100.5 / 1200.0));
    CHECK(centsBetween(t.frequencyOfKey(72), t.frequencyOfKey(60)) == Approx(1206.0));
}

TEST_CASE("unmapped keys: x entries, short maps and keys outside first and last", "[tuning]") {
    const Scale s = equalTemperament(12);
    // White keys only, 7 entries of a 12-key pattern written out and the last one left out.
    const KeyboardMap map =
        parseKeyboardMap(kbmText(12, 21, 108, 60, 69, 440.0, 12, {"0", "x", "2", "x", "4", "5", "x", "7", "x", "9", "x"}), "white.kbm");
    REQUIRE(map.mapping.size() == 12);
    CHECK(map.mapping[11] == kUnmapped);  // left out at the end: unmapped (the .kbm template)
    const Tuning t(s, map);
    const bool white[12] = {true, false, true, false, true, true, false, true, false, true, false, false};
    for (int key = 0; key < 128; ++key) {
        const bool expected = key >= 21 && key <= 108 && white[key % 12];
        CHECK(t.isMapped(key) == expected);
        CHECK(t.table().isMapped(key) == expected);
        if (expected) {
            CHECK_CENTS(t.frequencyOfKey(key), 440.0 * std::pow(2.0, (key - 69) / 12.0));
            CHECK(t.degreeOfKey(key) == key % 12);
        } else {
            CHECK(t.degreeOfKey(key) == kUnmapped);
        }
    }
    // An unmapped key keeps a pitch between its mapped neighbours (glides stay smooth).
    CHECK_CENTS(t.frequencyOfKey(61), std::sqrt(t.frequencyOfKey(60) * t.frequencyOfKey(62)));
    // B (entry 11, left out) lies between A and the next C.
    CHECK_CENTS(t.frequencyOfKey(70), t.frequencyOfKey(69) * std::pow(t.frequencyOfKey(72) / t.frequencyOfKey(69), 1.0 / 3.0));
}

TEST_CASE("mapping entries and formal octave beyond the scale size continue by periods", "[tuning]") {
    // A 5-note scale on a 12-key map that uses degrees 0..9 (two periods): entry 5 = degree 0 one period up.
    const Scale pent = parseScale("Pent\n 5\n 9/8\n 5/4\n 3/2\n 5/3\n 2/1\n", "pent.scl");
    const KeyboardMap map =
        parseKeyboardMap(kbmText(12, 0, 127, 60, 60, kC4, 10, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "x", "x"}), "wide.kbm");
    const Tuning t(pent, map);
    CHECK_CENTS(t.frequencyOfKey(65), 2 * kC4);
    CHECK_CENTS(t.frequencyOfKey(67), 2 * kC4 * 5.0 / 4);
    CHECK(t.degreeOfKey(67) == 2);
    CHECK_CENTS(t.frequencyOfKey(72), 4 * kC4);  // formal octave = degree 10 = two periods
}

TEST_CASE("reference note on an unmapped key and far from the middle note", "[tuning]") {
    // A 7-note just diatonic on white keys from B (middle 59), A = 442 Hz on key 69 or on x key 68.
    const Scale s = parseScale("Diatonic\n 7\n 9/8\n 5/4\n 4/3\n 3/2\n 5/3\n 15/8\n 2/1\n", "diatonic.scl");
    const double ratio[7] = {1.0, 9.0 / 8, 5.0 / 4, 4.0 / 3, 3.0 / 2, 5.0 / 3, 15.0 / 8};
    const std::vector<std::string> entries{"0", "1", "x", "2", "x", "3", "4", "x", "5", "x", "6", "x"};
    const Tuning on69(s, parseKeyboardMap(kbmText(12, 0, 127, 59, 69, 442.0, 7, entries), "a442.kbm"));
    const double b = 442.0 / ratio[6];
    CHECK_CENTS(on69.frequencyOfKey(69), 442.0);
    CHECK_CENTS(on69.frequencyOfKey(59), b);
    CHECK_CENTS(on69.frequencyOfKey(71), 2 * b);
    CHECK_CENTS(on69.frequencyOfKey(64), b * ratio[3]);
    // Surge's copy puts the reference on key 68, an 'x': that key's (interpolated) pitch is 442 Hz.
    const Tuning on68(s, parseKeyboardMap(kbmText(12, 0, 127, 59, 68, 442.0, 7, entries), "a442-68.kbm"));
    CHECK_FALSE(on68.isMapped(68));
    CHECK_CENTS(on68.frequencyOfKey(68), 442.0);
    CHECK_CENTS(on68.frequencyOfKey(67) * on68.frequencyOfKey(69), 442.0 * 442.0);
    CHECK(centsBetween(on68.frequencyOfKey(69), on68.frequencyOfKey(67)) == Approx(1200.0 * std::log2(ratio[6] / ratio[5])));
    // A reference key far outside first..last still fixes the pitch.
    const Tuning far(equalTemperament(12), parseKeyboardMap(kbmText(0, 40, 80, 60, 120, 8000.0, 0, {}), "far.kbm"));
    CHECK_CENTS(far.frequencyOfKey(60), 8000.0 * std::pow(2.0, -60 / 12.0));
    CHECK_FALSE(far.isMapped(120));
}

TEST_CASE("scales with 0 and 1 notes", "[tuning]") {
    const Scale zero = parseScale("Only the 1/1\n 0\n", "zero.scl");
    CHECK(zero.noteCount() == 0);
    CHECK(zero.degreeCount() == 1);
    const Tuning t(zero);
    CHECK_CENTS(t.frequencyOfKey(0), kC4);
    CHECK_CENTS(t.frequencyOfKey(127), kC4);
    const Tuning alpha(parseScale("Carlos alpha\n 1\n 78.0\n", "alpha.scl"));
    for (int key = 0; key < 128; ++key) CHECK_CENTS(alpha.frequencyOfKey(key), kC4 * std::pow(2.0, (key - 60) * 78.0 / 1200.0));
}

TEST_CASE("scl syntax: comments, labels, integers, trailing dots, tabs and line ends", "[tuning]") {
    const std::string body =
        "! comment\n!\n  Description with spaces  \n 6 notes\n! between\n 100.0 cents\n 5/4 E\n 3/2 ! fifth\n\t2.\t\n 3\n 2\n";
    for (const std::string eol : {"\n", "\r\n", "\r"}) {
        std::string text = body;
        std::string converted;
        for (char c : text) converted += c == '\n' ? eol : std::string(1, c);
        const Scale s = parseScale(converted, "syntax.scl");
        CHECK(s.description == "Description with spaces");
        REQUIRE(s.noteCount() == 6);
        CHECK(s.pitches[0].cents == Approx(100.0));
        CHECK(s.pitches[0].label == "cents");
        CHECK(s.pitches[1].cents == Approx(1200.0 * std::log2(1.25)));
        CHECK(s.pitches[1].label == "E");
        CHECK(s.pitches[2].label == "fifth");
        CHECK(s.pitches[3].kind == Pitch::Kind::Cents);
        CHECK(s.pitches[3].cents == Approx(2.0));  // "2." is 2 cents, not 2/1
        CHECK(s.pitches[4].cents == Approx(1200.0 * std::log2(3.0)));
        CHECK(s.periodCents() == Approx(1200.0));
    }
    // An empty description line is a description.
    const Scale empty = parseScale("!\n\n 1\n 2/1\n", "empty-description.scl");
    CHECK(empty.description.empty());
    CHECK(empty.noteCount() == 1);
    // A UTF-8 byte-order mark is not part of the description; '+' signs and exponents read in the C locale.
    const Scale bom = parseScale("\xEF\xBB\xBFMit BOM\n 2\n +150.5\n 1.2e3\n", "bom.scl");
    CHECK(bom.description == "Mit BOM");
    CHECK(bom.pitches[0].cents == 150.5);
    CHECK(bom.pitches[1].cents == 1200.0);
}

TEST_CASE("Latin-1 descriptions become UTF-8, UTF-8 stays", "[tuning]") {
    const Scale latin = parseScale("! s\xFC\x64\n Ammerbach's s\xFC\x64\x64\x65utschen Stimmung \x92quoted\x92\n 1\n 2/1\n", "latin.scl");
    CHECK(latin.description == "Ammerbach's s\xC3\xBC\x64\x64\x65utschen Stimmung \xE2\x80\x99quoted\xE2\x80\x99");
    const Scale utf8 = parseScale("K\xC3\xBCrdili \xE2\x99\xAD\n 1\n 2/1\n", "utf8.scl");
    CHECK(utf8.description == "K\xC3\xBCrdili \xE2\x99\xAD");
}

TEST_CASE("ascl directives: names, reference pitch, ranges, source and link", "[tuning]") {
    const std::string text =
        "! rast.ascl\nRast\n 7\n!\n 204.0\n 342.0\n 498.0\n 702.0\n 906.0\n 1056.0\n 2/1\n!\n"
        "! @ABL NOTE_NAMES C D \"E half\xE2\x99\xAD\" F G A B\xE2\x99\xAD\n"
        "! @ABL REFERENCE_PITCH 4 4 392.0\n"
        "!! @ABL DISABLED directive\n"
        "! @ABL NOTE_RANGE_BY_INDEX 2 0 6 6\n"
        "! @ABL SOURCE Abu Shumays, Inside Arabic Music\n"
        "! @ABL SOURCE second line\n"
        "! @ABL LINK https://example.org/rast\n"
        "! @KABEL FAMILY Arabic maqam\n! @KABEL KIND measured\n! @KABEL OMBAK 6.5\n";
    const Scale s = parseScale(text, "rast.ascl");
    REQUIRE(s.noteNames.size() == 7);
    CHECK(s.noteNames[2] == "E half\xE2\x99\xAD");
    CHECK(s.degreeName(9) == "E half\xE2\x99\xAD");
    REQUIRE(s.referencePitch);
    CHECK(s.referencePitch->degree == 4);
    CHECK(s.source == "Abu Shumays, Inside Arabic Music\nsecond line");
    CHECK(s.link == "https://example.org/rast");
    CHECK(s.family == "Arabic maqam");
    CHECK(s.kind == SourceKind::Measured);
    CHECK(*s.ombakHz == 6.5);
    // Without a .kbm: 1/1 on key 60, the reference degree (G, 702 c) at 392 Hz.
    const Tuning t(s);
    CHECK_CENTS(t.frequencyOfKey(64), 392.0);
    CHECK_CENTS(t.frequencyOfKey(60), 392.0 * std::pow(2.0, -702.0 / 1200.0));
    CHECK(t.degreeName(t.degreeOfKey(62)) == "E half\xE2\x99\xAD");
    // NOTE_RANGE_BY_INDEX 2 0 .. 6 6 with the reference in octave 4: keys 60 - 14 .. 60 + 20.
    CHECK_FALSE(t.isMapped(45));
    CHECK(t.isMapped(46));
    CHECK(t.isMapped(80));
    CHECK_FALSE(t.isMapped(81));
    // A frequency range.
    const Tuning f(parseScale(edoScl(12, "2/1") + "! @ABL NOTE_RANGE_BY_FREQUENCY 100.0 1000.0\n", "range.ascl"));
    for (int key = 0; key < 128; ++key) {
        const double hz = kC4 * std::pow(2.0, (key - 60) / 12.0);
        CHECK(f.isMapped(key) == (hz >= 100.0 && hz <= 1000.0));
    }
}

TEST_CASE("kbm fields, x entries and the linear map", "[tuning]") {
    const KeyboardMap k = parseKeyboardMap("! k\n 5 ! size\n10\n100\n61\n69\n 432.5\n5\n0\nx\n 2\nX\n4\n", "k.kbm");
    CHECK(k.mapSize == 5);
    CHECK(k.firstNote == 10);
    CHECK(k.lastNote == 100);
    CHECK(k.middleNote == 61);
    CHECK(k.referenceNote == 69);
    CHECK(k.referenceFrequency == 432.5);
    CHECK(k.octaveDegree == 5);
    CHECK(k.mapping == std::vector<int>{0, kUnmapped, 2, kUnmapped, 4});
    const KeyboardMap linear = parseKeyboardMap("0\r\n0\r\n127\r\n60\r\n69\r\n440.0\r\n0", "linear.kbm");  // no final line end
    CHECK(linear.mapSize == 0);
    CHECK(linear.mapping.empty());
}

TEST_CASE("export round-trips scales and maps exactly", "[tuning]") {
    const std::string text =
        "Mixed \xE2\x99\xAD scale\n 5\n 111.731\n 9/8 re\n -13.5\n " + powerDigits(3, 60) + "/" + powerDigits(2, 95) +
        "\n 2/1\n! @ABL NOTE_NAMES Sa \"Re komal\" Re Ga Ma\n! @ABL REFERENCE_PITCH 3 0 261.6256\n! @ABL NOTE_RANGE_BY_FREQUENCY 20.0\n"
        "! @ABL SOURCE A book\n! @ABL LINK https://example.org\n! @KABEL FAMILY Test\n! @KABEL KIND theoretical\n"
        "! @KABEL SYSTEM other\n! @KABEL DEGREES 0 1 2 3 4\n! @KABEL OMBAK 5\n";
    const Scale s = parseScale(text, "mixed.ascl");
    for (const bool ascl : {false, true}) {
        const Scale back = parseScale(ascl ? toAscl(s, "mixed.ascl") : toScl(s, "mixed.scl"), "back");
        CHECK(back.description == s.description);
        REQUIRE(back.noteCount() == s.noteCount());
        for (int i = 0; i < s.noteCount(); ++i) {
            CHECK(std::fabs(back.pitches[i].cents - s.pitches[i].cents) < 1e-9);
            CHECK(back.pitches[i].label == s.pitches[i].label);
        }
        CHECK(back.family == s.family);
        CHECK(back.kind == s.kind);
        CHECK(back.system == s.system);
        CHECK(back.systemDegrees == s.systemDegrees);
        CHECK(back.ombakHz == s.ombakHz);
        CHECK(back.noteNames == (ascl ? s.noteNames : std::vector<std::string>{}));
        CHECK(back.source == (ascl ? s.source : std::string()));
        CHECK(back.link == (ascl ? s.link : std::string()));
        CHECK(back.referencePitch.has_value() == ascl);
        CHECK(back.noteRange.has_value() == ascl);
    }
    // Programmatic cents reach the file with every digit.
    Scale made;
    made.description = "!starts like a comment";
    made.pitches = {Pitch::fromCents(100.0 / 3.0), Pitch::fromCents(1e-7), Pitch::fromCents(-1234.5678901234567), Pitch::fromRatio(3, 1)};
    const Scale madeBack = parseScale(toScl(made), "made.scl");
    CHECK(madeBack.description == made.description);
    for (int i = 0; i < 4; ++i) CHECK(madeBack.pitches[i].cents == made.pitches[i].cents);

    KeyboardMap map;
    map.mapSize = 7;
    map.firstNote = 3;
    map.lastNote = 120;
    map.middleNote = 58;
    map.referenceNote = 70;
    map.referenceFrequency = 1.0 / 3.0 * 1000.0;
    map.octaveDegree = 12;
    map.mapping = {0, kUnmapped, 2, 3, kUnmapped, 11, 14};
    const KeyboardMap mapBack = parseKeyboardMap(toKbm(map, "map.kbm"), "map.kbm");
    CHECK(mapBack.mapSize == map.mapSize);
    CHECK(mapBack.firstNote == map.firstNote);
    CHECK(mapBack.lastNote == map.lastNote);
    CHECK(mapBack.middleNote == map.middleNote);
    CHECK(mapBack.referenceNote == map.referenceNote);
    CHECK(mapBack.referenceFrequency == map.referenceFrequency);
    CHECK(mapBack.octaveDegree == map.octaveDegree);
    CHECK(mapBack.mapping == map.mapping);
}

TEST_CASE("the real-time table continues by periods outside 0..127 and survives NaN", "[tuning]") {
    static_assert(noexcept(std::declval<const TuningTable&>().frequency(1.0)));
    static_assert(noexcept(std::declval<const TuningTable&>().log2Frequency(1.0)));
    const Tuning t;
    const TuningTable& table = t.table();
    CHECK(table.periodKeys == 12);
    CHECK(table.periodLog2 == Approx(1.0));
    for (const double note : {-40.0, -12.0, -0.5, 127.5, 128.0, 140.25, 300.0})
        CHECK_CENTS(table.frequency(note), 440.0 * std::pow(2.0, (note - 69) / 12.0));
    CHECK(table.frequency(std::nan("")) == Approx(table.frequency(0.0)));
    CHECK(std::isfinite(table.frequency(1e300)));
    CHECK(std::isfinite(table.frequency(-1e300)));
    // Degrees and periods per key.
    CHECK(table.degree[61] == 1);
    CHECK(table.period[59] == -1);
    CHECK(table.period[72] == 1);
    // A 441-note scale (period longer than the table) extrapolates by the end slope.
    const Tuning wide(equalTemperament(441));
    CHECK(wide.table().periodKeys == 441);
    CHECK_CENTS(wide.table().frequency(130.0), kC4 * std::pow(2.0, (130.0 - 60) / 441.0));
}

TEST_CASE("table lookups neither allocate nor lock", "[tuning]") {
    const Tuning t(parseScale("Just\n 4\n 9/8\n 5/4\n 4/3\n 2/1\n", "just.scl"));
    const TuningTable table = t.table();  // the copy an audio thread would hold
    double sum = 0.0;
    long allocations = 0, locks = 0;
    {
        const kabel::test::RtGuard guard;
        for (int i = 0; i < 10000; ++i) {
            const double note = -50.0 + i * 0.023;
            sum += table.frequency(note) + table.log2Frequency(note) + (table.isMapped(i % 140) ? 1.0 : 0.0);
        }
        allocations = guard.counts().allocations;
        locks = guard.counts().locks;
    }
    CHECK(std::isfinite(sum));
    CHECK(allocations == 0);
    CHECK(locks == 0);
}

TEST_CASE("a mode of a system with an independent tonic and reference pitch", "[tuning]") {
    Scale system = equalTemperament(12);
    system.noteNames = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
    Mode minor;
    minor.system = system;
    minor.degrees = {0, 2, 4, 5, 7, 9, 11};
    minor.tonic = 9;  // A aeolian in C major's pitch set
    const Scale asScale = minor.toScale();
    REQUIRE(asScale.noteCount() == 7);
    const double expected[7] = {200, 300, 500, 700, 800, 1000, 1200};
    for (int i = 0; i < 7; ++i) CHECK(asScale.pitches[static_cast<std::size_t>(i)].cents == Approx(expected[i]));
    CHECK(asScale.noteNames == std::vector<std::string>{"A", "B", "C", "D", "E", "F", "G"});

    // Tonic on key 57, the system's C at 261.63 Hz: A sounds at 440 Hz.
    ModeKeyboard kb;
    kb.tonicKey = 57;
    kb.referenceDegree = 0;
    kb.referenceFrequency = kC4;
    const Tuning consecutive = tuningOfMode(minor, kb);
    CHECK_CENTS(consecutive.frequencyOfKey(57), 440.0);
    CHECK_CENTS(consecutive.frequencyOfKey(58), 440.0 * std::pow(2.0, 2 / 12.0));  // B
    CHECK_CENTS(consecutive.frequencyOfKey(64), 880.0);                            // 7 keys = one period
    CHECK(consecutive.degreeName(consecutive.degreeOfKey(59)) == "C");
    // Same tonic key, the system re-pitched to A = 432 Hz: only the absolute pitch moves.
    kb.referenceDegree = 9;
    kb.referenceFrequency = 432.0;
    CHECK_CENTS(tuningOfMode(minor, kb).frequencyOfKey(57), 432.0);
    // Tonic on another key, reference unchanged: the tonic still sounds 432 Hz.
    kb.tonicKey = 45;
    CHECK_CENTS(tuningOfMode(minor, kb).frequencyOfKey(45), 432.0);
    // System layout: every system degree on its own key, degrees outside the mode unmapped.
    kb.tonicKey = 57;
    kb.layout = ModeKeyboard::Layout::SystemKeys;
    const Tuning keys = tuningOfMode(minor, kb);
    CHECK_CENTS(keys.frequencyOfKey(57), 432.0);
    CHECK(keys.isMapped(59));          // B
    CHECK_FALSE(keys.isMapped(58));    // Bb: not in the mode
    CHECK(keys.degreeOfKey(60) == 0);  // C: system degree 0
    CHECK(keys.degreeName(keys.degreeOfKey(60)) == "C");
    CHECK_CENTS(keys.frequencyOfKey(69), 864.0);
}

TEST_CASE("a mode file checked against its system", "[tuning]") {
    const Scale system =
        parseScale("Just 12\n 12\n 16/15\n 9/8\n 6/5\n 5/4\n 4/3\n 45/32\n 3/2\n 8/5\n 5/3\n 9/5\n 15/8\n 2/1\n", "just12.scl");
    // D dorian-like mode on degree 2 (9/8), wrapping past the period: 2 4 5 7 9 11 0 (= 12).
    const std::string modeText =
        "Mode on 9/8\n 7\n 10/9\n 32/27\n 4/3\n 40/27\n 5/3\n 16/9\n 2/1\n! @ABL NOTE_NAMES D E F G A B C\n! @KABEL SYSTEM just12\n"
        "! @KABEL DEGREES 2 4 5 7 9 11 0\n";
    const Scale modeFile = parseScale(modeText, "mode.ascl");
    const Mode mode = modeOf(modeFile, system, "mode.ascl");
    CHECK(mode.tonic == 2);
    CHECK(mode.degrees == std::vector<int>{0, 2, 4, 5, 7, 9, 11});
    CHECK(mode.names == std::vector<std::string>{"D", "E", "F", "G", "A", "B", "C"});
    const Scale back = mode.toScale();
    for (int i = 0; i < 7; ++i)
        CHECK(back.pitches[static_cast<std::size_t>(i)].cents == Approx(modeFile.pitches[static_cast<std::size_t>(i)].cents));
    // A wrong pitch is named.
    std::string wrong = modeText;
    wrong.replace(wrong.find("32/27"), 5, "6/5");
    try {
        modeOf(parseScale(wrong, "wrong.ascl"), system, "wrong.ascl");
        FAIL("a mismatched mode was accepted");
    } catch (const kabel::InputError& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find("wrong.ascl: pitch 2 (") == 0);
        CHECK(std::string(e.what()).find("is not system degree 5 re-based on the tonic") != std::string::npos);
    }
}

TEST_CASE("the catalogue: lookup by id in sub-folders, listing, modes and errors", "[tuning]") {
    const fs::path dir = fs::temp_directory_path() / ("kabel-catalogue-test-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "just");
    fs::create_directories(dir / "modes" / "deeper");
    const auto write = [](const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; };
    write(
        dir / "just" / "just12.scl",
        "Just 12\n 12\n 16/15\n 9/8\n 6/5\n 5/4\n 4/3\n 45/32\n 3/2\n 8/5\n 5/3\n 9/5\n 15/8\n 2/1\n! @KABEL FAMILY Western\n! @KABEL KIND "
        "theoretical\n");
    write(dir / "modes" / "deeper" / "major.ascl",
          "Major\n 7\n 9/8\n 5/4\n 4/3\n 3/2\n 5/3\n 15/8\n 2/1\n! @KABEL SYSTEM just12\n! @KABEL DEGREES 0 2 4 5 7 9 11\n");
    write(dir / "modes" / "broken.scl", "Broken\n 2\n 3/0\n 2/1\n");
    write(dir / "notes.txt", "not a scale");

    const auto entries = listCatalogue(dir);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].id == "broken");
    CHECK(entries[0].error.find("broken.scl:3: a ratio cannot have a zero denominator") == 0);
    CHECK(entries[1].id == "just12");
    CHECK(entries[1].family == "Western");
    CHECK(entries[1].kind == SourceKind::Theoretical);
    CHECK(entries[1].noteCount == 12);
    CHECK(entries[2].id == "major");
    CHECK(entries[2].system == "just12");

    CHECK(loadCatalogueScale(dir, "just12").noteCount() == 12);
    const Mode major = loadCatalogueMode(dir, "major");
    CHECK(major.tonic == 0);
    CHECK(major.degrees.size() == 7);
    CHECK(loadCatalogueMode(dir, "just12").degrees.size() == 12);
    CHECK_THROWS_WITH(loadCatalogueScale(dir, "nothing"), Catch::Contains("nothing: no scale with this id"));
    write(dir / "just" / "major.scl", "Another major\n 1\n 2/1\n");
    CHECK_THROWS_WITH(cataloguePath(dir, "major"), Catch::Contains("major: the id is ambiguous"));

    // KABEL_SCALES wins over the built-in places.
    ::setenv("KABEL_SCALES", dir.string().c_str(), 1);
    const auto found = findCatalogue();
    ::unsetenv("KABEL_SCALES");
    REQUIRE(found);
    CHECK(fs::equivalent(*found, dir));
    fs::remove_all(dir);
}

TEST_CASE("hostile input: limits give clear errors", "[tuning]") {
    CHECK_THROWS_WITH(parseScale(std::string(kMaxFileBytes + 1, '!'), "big.scl"), "big.scl: file is larger than 16 MiB");
    CHECK_THROWS_WITH(parseScale("d\n 65537\n", "n.scl"), "n.scl:2: note count 65537 is more than Kabel reads (65536)");
    CHECK_THROWS_WITH(parseScale("d\n 2\n 1e400.\n 2/1\n", "e.scl"), Catch::StartsWith("e.scl:3: expected a pitch"));
    CHECK_THROWS_WITH(parseKeyboardMap("70000\n", "m.kbm"), "m.kbm:1: the map size must be 0..65536, got '70000'");
    CHECK_THROWS_WITH(parseKeyboardMap("99999999999999999999999\n", "m.kbm"), Catch::StartsWith("m.kbm:1: expected the map size"));
    // The largest accepted note count parses (and quickly).
    std::string many;
    many = "many\n 65536\n";
    for (int i = 1; i <= 65536; ++i) many += " " + std::to_string(i * 0.01) + "\n";
    CHECK(parseScale(many, "many.scl").noteCount() == 65536);
    CHECK_THROWS_AS(loadScale("/nonexistent/none.scl"), kabel::InputError);
    CHECK_THROWS_WITH(loadScale("/nonexistent/none.scl"), "none.scl: cannot open the file");
}

TEST_CASE("ascl note names with control characters are refused (they could not be written back)", "[tuning]") {
    // Found by fuzz_tuning: a name holding a form feed and NULs did not survive export and re-parse.
    const std::string text = std::string("Names\n 2\n 700.0\n 2/1\n! @ABL NOTE_NAMES C \"G") + '\f' + "x\"\n";
    CHECK_THROWS_WITH(parseScale(text, "names.ascl"), Catch::Contains("names.ascl:5: @ABL NOTE_NAMES: name 2 holds a control character"));
    CHECK(parseScale("Names\n 2\n 700.0\n 2/1\n! @ABL NOTE_NAMES C \"G x\"\n", "names.ascl").noteNames[1] == "G x");
}
