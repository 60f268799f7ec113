// core/tuning on real files: the whole Scala archive (../shared/corpus, skipped with a message
// when absent), its 8-bit originals, another library's good and bad test files, real .kbm files,
// and our own malformed inputs (tests/data/bad_scales) with the exact message each must give.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/tuning/tuning.hpp"

namespace {

using namespace kabel::tuning;
namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(KABEL_SHARED_DIR) / "corpus";
const fs::path kBadScales = fs::path(KABEL_SOURCE_DIR) / "tests" / "data" / "bad_scales";

bool corpusPresent(const fs::path& dir) {
    if (fs::is_directory(dir)) return true;
    WARN("skipped: " << dir.string() << " is not here (the shared test corpus lives beside the project checkout)");
    return false;
}

std::vector<fs::path> filesIn(const fs::path& dir, const std::string& extension) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().extension() == extension) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

// One CSV record (RFC 4180 quoting) from a line.
std::vector<std::string> csvFields(const std::string& line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                fields.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                fields.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c != '\r') {
            fields.back() += c;
        }
    }
    return fields;
}

}  // namespace

TEST_CASE("every file of the Scala archive parses with the indexed note count and period", "[tuning]") {
    const fs::path archive = kCorpus / "scala" / "huygens-fokker-archive";
    if (!corpusPresent(archive)) return;
    std::ifstream index(archive / "scala-scale-index.csv");
    std::string line;
    std::getline(index, line);
    REQUIRE(csvFields(line)[0] == "scl_file");
    int checked = 0;
    while (std::getline(index, line)) {
        const auto fields = csvFields(line);
        REQUIRE(fields.size() >= 3);
        INFO(fields[0]);
        const Scale s = loadScale(archive / "scl" / fields[0]);
        CHECK(s.noteCount() == std::stoi(fields[1]));
        CHECK(s.periodCents() == Approx(std::stod(fields[2])).margin(1e-4));
        // Every scale also makes a tuning whose table is finite, and survives export.
        const Tuning t(s);
        CHECK(std::isfinite(t.table().log2Hz[0]));
        CHECK(std::isfinite(t.table().log2Hz[127]));
        const Scale back = parseScale(toScl(s, fields[0]), fields[0]);
        REQUIRE(back.noteCount() == s.noteCount());
        for (int i = 0; i < s.noteCount(); ++i)
            CHECK(back.pitches[static_cast<std::size_t>(i)].cents == s.pitches[static_cast<std::size_t>(i)].cents);
        ++checked;
    }
    CHECK(checked == 5354);
}

TEST_CASE("archive files with huge ratios, negative and trailing-dot cents read right", "[tuning]") {
    const fs::path scl = kCorpus / "scala" / "huygens-fokker-archive" / "scl";
    if (!corpusPresent(scl)) return;
    // pepper_meantone-killer.scl writes cents with a trailing dot ("67."): cents, not ratios.
    const Scale pepper = loadScale(scl / "pepper_meantone-killer.scl");
    for (const Pitch& p : pepper.pitches)
        if (p.text.back() == '.') CHECK(p.kind == Pitch::Kind::Cents);
    // atomschis.scl has ratios with numerators and denominators beyond 64 bits: check each ratio
    // written with more than 19 digits against the same ratio computed digit by digit here.
    const Scale atom = loadScale(scl / "atomschis.scl");
    int huge = 0;
    for (const Pitch& p : atom.pitches) {
        const auto slash = p.text.find('/');
        if (slash == std::string::npos || slash <= 19) continue;
        long double num = 0, den = 0;
        for (char c : p.text.substr(0, slash)) num = num * 10 + (c - '0');
        for (char c : p.text.substr(slash + 1)) den = den * 10 + (c - '0');
        CHECK(p.cents == Approx(static_cast<double>(1200.0L * std::log2l(num / den))).margin(1e-9));
        ++huge;
    }
    CHECK(huge >= 3);
    // mavila12.scl has negative cents.
    const Scale mavila = loadScale(scl / "mavila12.scl");
    bool negative = false;
    for (const Pitch& p : mavila.pitches) negative |= p.cents < 0;
    CHECK(negative);
}

TEST_CASE("the archive's 8-bit originals give the same pitches and descriptions as their UTF-8 twins", "[tuning]") {
    const fs::path originals = kCorpus / "scala" / "huygens-fokker-archive-original-encoding" / "scl";
    const fs::path utf8 = kCorpus / "scala" / "huygens-fokker-archive" / "scl";
    if (!corpusPresent(originals)) return;
    int checked = 0, sameDescription = 0;
    for (const fs::path& file : filesIn(originals, ".scl")) {
        INFO(file.filename().string());
        const Scale a = loadScale(file);
        const Scale b = loadScale(utf8 / file.filename());
        REQUIRE(a.noteCount() == b.noteCount());
        for (int i = 0; i < a.noteCount(); ++i)
            CHECK(a.pitches[static_cast<std::size_t>(i)].cents == b.pitches[static_cast<std::size_t>(i)].cents);
        sameDescription += a.description == b.description;
        ++checked;
    }
    CHECK(checked == 125);
    // The mirror converted 123 files from ISO-8859-1 and 2 from CP1250-style bytes (0x92 as an
    // apostrophe); Kabel reads 8-bit text as Windows-1252, so at least the Latin-1 ones agree.
    CHECK(sameDescription >= 123);
}

TEST_CASE("real-world scl files from other tools", "[tuning]") {
    const fs::path dir = kCorpus / "scala" / "misc" / "scale-workshop";
    if (!corpusPresent(dir)) return;
    const Scale shang = loadScale(dir / "shang_pentatonic.scl");
    REQUIRE(shang.noteCount() == 5);
    CHECK(shang.pitches[0].cents == Approx(1200.0 * std::log2(9.0 / 8.0)));
    CHECK(shang.pitches[1].cents == Approx(1200.0 * std::log2(4.0 / 3.0)));
    const Scale zhi = loadScale(dir / "zhi_pentatonic.scl");
    REQUIRE(zhi.noteCount() == 5);
    CHECK(zhi.pitches[1].cents == Approx(1200.0 * std::log2(4.0 / 3.0)));
    CHECK(zhi.pitches[2].cents == Approx(1200.0 * std::log2(3.0 / 2.0)));
    const Scale brun = loadScale(dir / "brun_wilsonic.scl");
    const double expected[7] = {239.999968, 260.000020, 499.999952, 699.999905, 939.999819, 959.999871, 1200.0};
    REQUIRE(brun.noteCount() == 7);
    for (int i = 0; i < 7; ++i) CHECK(brun.pitches[static_cast<std::size_t>(i)].cents == Approx(expected[i]).margin(1e-9));
}

TEST_CASE("another library's good test files parse and tune", "[tuning]") {
    const fs::path dir = kCorpus / "tuning-library-data";
    if (!corpusPresent(dir)) return;
    int scales = 0, maps = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string ext = entry.path().extension().string();
        INFO(entry.path().filename().string());
        if (ext == ".scl" || ext == ".ascl") {
            CHECK_NOTHROW(Tuning(loadScale(entry.path())));
            ++scales;
        } else if (ext == ".kbm") {
            const KeyboardMap map = loadKeyboardMap(entry.path());
            CHECK_NOTHROW(Tuning(equalTemperament(12), map));
            ++maps;
        }
    }
    CHECK(scales >= 17);
    CHECK(maps >= 23);

    // 31-EDO with the meantone keyboard map: A4 = 440, the fifth 18 steps, the octave 12 keys.
    const Tuning meantone(loadScale(dir / "31edo.scl"), loadKeyboardMap(dir / "31edo_meantone.kbm"));
    CHECK(meantone.frequencyOfKey(69) == Approx(440.0));
    CHECK(meantone.frequencyOfKey(81) == Approx(880.0));
    CHECK(1200.0 * std::log2(meantone.frequencyOfKey(76) / 440.0) == Approx(18 * 1200.0 / 31));
    // The same tuning from DOS line ends.
    const Scale dos = loadScale(dir / "31edo_dos_lineends.scl");
    CHECK(dos.description == "31 equal divisions of octave");
    // rast.ascl: REFERENCE_PITCH 3 0 261.6256 puts its 1/1 on key 60 at that frequency.
    const Tuning rast(loadScale(dir / "rast.ascl"));
    CHECK(rast.frequencyOfKey(60) == Approx(261.6256));
    CHECK(rast.frequencyOfKey(64) == Approx(261.6256 * std::pow(2.0, 342.0 / 1200.0)));
    CHECK(rast.degreeName(4) == "E1/2\xE2\x99\xAD");
    // A 7-note scale on white keys with A = 442 Hz (mapping-a442-7-to-12.kbm, reference key 69).
    const Scale diatonic = parseScale("Diatonic\n 7\n 9/8\n 5/4\n 4/3\n 3/2\n 5/3\n 15/8\n 2/1\n", "diatonic.scl");
    const Tuning a442(diatonic, loadKeyboardMap(dir / "mapping-a442-7-to-12.kbm"));
    CHECK(a442.frequencyOfKey(69) == Approx(442.0));
    CHECK(a442.frequencyOfKey(59) == Approx(442.0 * 8.0 / 15.0));
    CHECK(a442.frequencyOfKey(71) == Approx(2 * 442.0 * 8.0 / 15.0));
    CHECK_FALSE(a442.isMapped(61));
}

TEST_CASE("Surge's keyboard maps: reference keys and increasing tables", "[tuning]") {
    const fs::path dir = kCorpus / "scala" / "misc" / "surge";
    if (!corpusPresent(dir)) return;
    const std::map<std::string, std::pair<int, double>> refs = {{"mapping-note42-to-100.kbm", {42, 100.0}},
                                                                {"mapping-note48-to-100.kbm", {48, 100.0}},
                                                                {"mapping-note72-to-500.kbm", {72, 500.0}},
                                                                {"mapping-note80-to-1000.kbm", {80, 1000.0}}};
    for (const auto& [file, ref] : refs) {
        INFO(file);
        const Tuning t(equalTemperament(12), loadKeyboardMap(dir / file));
        CHECK(t.frequencyOfKey(ref.first) == Approx(ref.second));
        for (int key = 1; key < 128; ++key) CHECK(t.frequencyOfKey(key) > t.frequencyOfKey(key - 1));
    }
    // Surge's copy of mapping-a442-7-to-12.kbm: reference key 68 is an 'x'; no final line end.
    const KeyboardMap a442 = loadKeyboardMap(dir / "mapping-a442-7-to-12.kbm");
    CHECK(a442.mapSize == 12);
    CHECK(a442.middleNote == 59);
    CHECK(a442.referenceNote == 68);
    CHECK(a442.referenceFrequency == 442.0);
    CHECK(a442.octaveDegree == 7);
    CHECK(a442.mapping == std::vector<int>{0, 1, kUnmapped, 2, kUnmapped, 3, 4, kUnmapped, 5, kUnmapped, 6, kUnmapped});
    const Tuning t(parseScale("Diatonic\n 7\n 9/8\n 5/4\n 4/3\n 3/2\n 5/3\n 15/8\n 2/1\n", "diatonic.scl"), a442);
    CHECK_FALSE(t.isMapped(68));
    CHECK(t.frequencyOfKey(68) == Approx(442.0));
    // Files with spaces, '#' and ',' in their names.
    CHECK(loadKeyboardMap(dir / "61-277-61 Concert C#, Db.kbm").referenceNote == 61);
    CHECK(loadScale(dir / "696.774 ED2-31 ELT-12.scl").noteCount() == 12);
    const Tuning halberstadt(equalTemperament(12), loadKeyboardMap(dir / "Halberstadt 60-440-69.kbm"));
    CHECK(halberstadt.frequencyOfKey(69) == Approx(440.0));
}

TEST_CASE("another library's bad files are rejected with file, line and reason", "[tuning]") {
    const fs::path dir = kCorpus / "tuning-library-data" / "bad";
    if (!corpusPresent(dir)) return;
    // The message each file must give. missing-note.kbm is the one deliberate exception: it
    // leaves its last mapping entry out, which the .kbm template allows ("unmapped keys may be
    // left out"), so Kabel reads it with that key unmapped (docs/tuning.md).
    const std::map<std::string, std::string> expected = {
        {"bad-rast.ascl", "bad-rast.ascl:35: @ABL NOTE_NAMES lists 9 names, but the scale has 12 degrees"},
        {"bad-reference-pitch.ascl", "bad-reference-pitch.ascl:36: @ABL REFERENCE_PITCH: expected an octave number, got '99999999999999'"},
        {"badnote.scl", "badnote.scl:12: expected a pitch (cents like 150.0 or a ratio like 3/2), got 'What is this'"},
        {"blank-line.kbm", "blank-line.kbm:27: empty line where mapping entry 6 of 12 was expected"},
        {"blanknote.scl", "blanknote.scl:12: empty line where pitch 7 of 17 was expected"},
        {"empty-bad.kbm", "empty-bad.kbm:15: the file ends before the formal octave degree"},
        {"empty-extra.kbm", "empty-extra.kbm:18: empty line after a linear map (size 0 takes no mapping entries"},
        {"extraline-long.kbm", "extraline-long.kbm:34: empty line after the map's 12 entries (only comment lines may follow)"},
        {"extraline.scl", "extraline.scl:24: unexpected text after the 17 pitches: 'All this extra garbage after 17 notes is...'"},
        {"garbage-key.kbm",
         "garbage-key.kbm:26: expected mapping entry 5 of 12 (a scale degree >= 0, or x for an unmapped key), got 'garbage'"},
        {"missingnote.scl", "missingnote.scl:21: the file ends after 16 of 17 pitches"},
    };
    int rejected = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        INFO(name);
        if (name == "missing-note.kbm") {
            const KeyboardMap map = loadKeyboardMap(entry.path());
            CHECK(map.mapping == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, kUnmapped});
            continue;
        }
        const auto it = expected.find(name);
        REQUIRE(it != expected.end());
        try {
            if (entry.path().extension() == ".kbm")
                loadKeyboardMap(entry.path());
            else
                loadScale(entry.path());
            FAIL("accepted");
        } catch (const kabel::InputError& e) {
            CHECK(std::string(e.what()).rfind(it->second, 0) == 0);
            CHECK(e.file() == name);
            ++rejected;
        }
    }
    CHECK(rejected == static_cast<int>(expected.size()));
}

TEST_CASE("our own malformed scales and maps are each rejected with the expected message", "[tuning]") {
    // file -> the start of the message (file:line: reason); see tests/data/bad_scales.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"empty.scl", "empty.scl: no description line"},
        {"only-comments.scl", "only-comments.scl:2: no description line: the file is empty or only comments"},
        {"no-count.scl", "no-count.scl:2: the file ends before the note count"},
        {"count-word.scl", "count-word.scl:3: expected the note count (a whole number >= 0), got 'twelve'"},
        {"count-negative.scl", "count-negative.scl:2: expected the note count (a whole number >= 0), got '-3'"},
        {"count-blank.scl", "count-blank.scl:2: expected the note count (a whole number >= 0), got an empty line"},
        {"count-huge.scl", "count-huge.scl:2: note count 70000 is more than Kabel reads (65536)"},
        {"count-float.scl", "count-float.scl:2: expected the note count (a whole number >= 0), got '12.0'"},
        {"maqam.scl", "maqam.scl:7: expected a pitch (cents like 150.0 or a ratio like 3/2), got 'abc'"},
        {"zero-denominator.scl", "zero-denominator.scl:3: a ratio cannot have a zero denominator, got '3/0'"},
        {"zero-numerator.scl", "zero-numerator.scl:3: a ratio cannot have a zero numerator, got '0/5'"},
        {"negative-ratio.scl", "negative-ratio.scl:3: a ratio cannot be negative, got '-3/2'"},
        {"two-slashes.scl", "two-slashes.scl:3: expected a pitch (cents like 150.0 or a ratio like 3/2), got '3/2/1'"},
        {"decimal-comma.scl", "decimal-comma.scl:3: expected a pitch (cents like 150.0 or a ratio like 3/2), got '100,5'"},
        {"double-dot.scl", "double-dot.scl:3: expected a pitch (cents like 150.0 or a ratio like 3/2), got '1.2.3'"},
        {"cents-nan.scl", "cents-nan.scl:3: expected a pitch (cents like 150.0 or a ratio like 3/2), got 'nan.'"},
        {"cents-huge.scl", "cents-huge.scl:3: pitch '1000000.0' is outside +-100000 cents"},
        {"ratio-huge.scl", "ratio-huge.scl:3: ratio '1000000000000000000000000000000000000000...' is outside +-100000 cents"},
        {"missing-pitches.scl", "missing-pitches.scl:5: the file ends after 3 of 5 pitches"},
        {"blank-pitch.scl", "blank-pitch.scl:5: empty line where pitch 3 of 5 was expected"},
        {"trailing-text.scl",
         "trailing-text.scl:5: unexpected text after the 2 pitches: 'this line is not a comment' (comment lines start with '!')"},
        {"long-line.scl", "long-line.scl:1: line is longer than 64 KiB"},
        {"ratio-letter.scl", "ratio-letter.scl:3: expected a pitch (cents like 150.0 or a ratio like 3/2), got '3/2x'"},
        {"hex.scl", "hex.scl:3: expected a pitch (cents like 150.0 or a ratio like 3/2), got '0x10'"},
        {"abl-unknown.ascl", "abl-unknown.ascl:16: unknown directive @ABL 'TEMPERATURE'"},
        {"abl-names-count.ascl", "abl-names-count.ascl:16: @ABL NOTE_NAMES lists 3 names, but the scale has 12 degrees"},
        {"abl-names-quote.ascl", "abl-names-quote.ascl:16: @ABL NOTE_NAMES: a double quote is not closed"},
        {"abl-ref-octave.ascl", "abl-ref-octave.ascl:16: @ABL REFERENCE_PITCH: the octave must be -2..8, got '9'"},
        {"abl-ref-degree.ascl",
         "abl-ref-degree.ascl:16: @ABL REFERENCE_PITCH: degree index 12 is not a degree of this 12-degree scale (0..11)"},
        {"abl-ref-freq.ascl", "abl-ref-freq.ascl:16: @ABL REFERENCE_PITCH: expected a frequency in Hz (> 0, <= 1e6), got '0'"},
        {"abl-ref-args.ascl", "abl-ref-args.ascl:16: @ABL REFERENCE_PITCH needs 3 values: octave, degree index, frequency in Hz"},
        {"abl-latin1.ascl", "abl-latin1.ascl:2: a file with @ABL lines must be UTF-8 (the .ascl rule), but this line is not"},
        {"abl-range-both.ascl", "abl-range-both.ascl:18: NOTE_RANGE_BY_INDEX and NOTE_RANGE_BY_FREQUENCY cannot both be given"},
        {"abl-range-noref.ascl", "abl-range-noref.ascl:16: NOTE_RANGE_BY_INDEX needs a REFERENCE_PITCH line"},
        {"abl-twice.ascl", "abl-twice.ascl:17: @ABL REFERENCE_PITCH is given twice (first on line 16)"},
        {"abl-range-reversed.ascl", "abl-range-reversed.ascl:16: @ABL NOTE_RANGE_BY_FREQUENCY: the maximum is below the minimum"},
        {"kabel-unknown.scl", "kabel-unknown.scl:16: unknown directive @KABEL 'COLOUR' (known: SYSTEM, DEGREES, KIND, OMBAK, FAMILY)"},
        {"kabel-kind.scl", "kabel-kind.scl:16: @KABEL KIND must be measured, theoretical or approximation, got 'guessed'"},
        {"kabel-degrees-count.scl", "kabel-degrees-count.scl:17: @KABEL DEGREES lists 3 system degrees, but the scale has 12 degrees"},
        {"kabel-system-alone.scl", "kabel-system-alone.scl:16: @KABEL SYSTEM and @KABEL DEGREES go together"},
        {"kabel-ombak.scl", "kabel-ombak.scl:16: @KABEL OMBAK needs a beat rate in Hz (0..1000), got 'fast'"},
        {"kabel-family-empty.scl", "kabel-family-empty.scl:16: @KABEL FAMILY needs text"},
        {"kbm-empty.kbm", "kbm-empty.kbm: empty file: expected the map size"},
        {"kbm-short-header.kbm", "kbm-short-header.kbm:6: the file ends before the reference frequency"},
        {"kbm-size-word.kbm", "kbm-size-word.kbm:2: expected the map size (a whole number, 0 for a linear map), got 'twelve'"},
        {"kbm-note-range.kbm", "kbm-note-range.kbm:3: the first MIDI note must be 0..127, got '128'"},
        {"kbm-last-below-first.kbm", "kbm-last-below-first.kbm:4: the last MIDI note (20) is below the first (100)"},
        {"kbm-freq-zero.kbm", "kbm-freq-zero.kbm:7: the reference frequency must be > 0 and <= 1e6 Hz, got '0.0'"},
        {"kbm-freq-word.kbm", "kbm-freq-word.kbm:7: expected the reference frequency in Hz (like 440.0), got 'A440'"},
        {"kbm-entry-garbage.kbm",
         "kbm-entry-garbage.kbm:13: expected mapping entry 5 of 12 (a scale degree >= 0, or x for an unmapped key), got 'garbage'"},
        {"kbm-entry-negative.kbm", "kbm-entry-negative.kbm:10: mapping entry 2 of 12 must be 0..1048576, got '-1'"},
        {"kbm-too-many.kbm", "kbm-too-many.kbm:12: more mapping entries than the map size (3): '3'"},
        {"kbm-blank-entry.kbm",
         "kbm-blank-entry.kbm:12: empty line where mapping entry 4 of 12 was expected (write 'x' for an unmapped key"},
        {"kbm-linear-extra.kbm",
         "kbm-linear-extra.kbm:9: a linear map (size 0) has no mapping entries, but this line is not a comment: '5'"},
        {"kbm-two-values.kbm",
         "kbm-two-values.kbm:5: unexpected text after the middle note: '69' (one value per line; comments start with '!')"},
        {"kbm-octave-word.kbm", "kbm-octave-word.kbm:8: expected the formal octave degree (a scale degree >= 0), got 'octave'"},
    };
    REQUIRE(cases.size() >= 30);
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(kBadScales)) files += entry.is_regular_file();
    CHECK(files == cases.size());  // every file has its expected message
    int rejected = 0;
    for (const auto& [file, message] : cases) {
        INFO(file);
        const fs::path path = kBadScales / file;
        REQUIRE(fs::is_regular_file(path));
        try {
            if (path.extension() == ".kbm")
                loadKeyboardMap(path);
            else
                loadScale(path);
            FAIL("accepted");
        } catch (const kabel::InputError& e) {
            CHECK_THAT(e.what(), Catch::StartsWith(message));
            CHECK(e.file() == file);
            ++rejected;
        }
    }
    CHECK(rejected == static_cast<int>(cases.size()));
}
