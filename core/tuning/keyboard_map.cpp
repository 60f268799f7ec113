// Scala .kbm keyboard mappings: parsing and export. Decisions on the format's open questions
// (blank lines, short mappings, ranges) are in docs/tuning.md.
#include <cmath>
#include <sstream>

#include "core/tuning/text.hpp"
#include "core/tuning/tuning.hpp"

namespace kabel::tuning {

namespace detail {
std::string readTuningFile(const std::filesystem::path& path, const std::string& name);  // scale.cpp
}

using detail::quote;

KeyboardMap KeyboardMap::linear(int middleNote, int referenceNote, double referenceFrequency) {
    KeyboardMap map;
    map.middleNote = middleNote;
    map.referenceNote = referenceNote;
    map.referenceFrequency = referenceFrequency;
    return map;
}

namespace {

constexpr int kHeaderFields = 7;
constexpr const char* kFieldNames[kHeaderFields] = {
    "the map size",       "the first MIDI note",     "the last MIDI note",      "the middle note",
    "the reference note", "the reference frequency", "the formal octave degree"};
constexpr long long kMaxDegree = 16LL * kMaxNotes;

}  // namespace

KeyboardMap parseKeyboardMap(std::string_view bytes, const std::string& fileName) {
    const auto fail = [&](int line, const std::string& reason) { throw InputError(fileName, line, "", reason); };
    if (bytes.size() > kMaxFileBytes) fail(0, "file is larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) + " MiB");
    const detail::Utf8Text utf8 = detail::toUtf8(bytes);

    KeyboardMap map;
    int field = 0;  // header fields read so far; then mapping entries
    int lastLine = 0;
    const std::vector<detail::Line> lines = detail::splitLines(utf8.text);
    for (const detail::Line& line : lines) {
        lastLine = line.number;
        const auto lineFail = [&](const std::string& reason) { fail(line.number, reason); };
        if (line.text.size() > kMaxLineBytes) lineFail("line is longer than " + std::to_string(kMaxLineBytes / 1024) + " KiB");
        if (!line.text.empty() && line.text.front() == '!') continue;
        const int entry = field - kHeaderFields;  // 0-based mapping entry, when >= 0
        const std::string what = field < kHeaderFields
                                     ? std::string(kFieldNames[field])
                                     : "mapping entry " + std::to_string(entry + 1) + " of " + std::to_string(map.mapSize);
        const bool blank = detail::isBlankLine(line.text);
        // One value per line: a blank line is no value (and in the mapping it would be ambiguous:
        // an entry forgotten, or a key meant to be unmapped?). Editors often leave one blank
        // line at the very end; that one alone is tolerated.
        if (blank && line.number == lines.back().number) continue;
        if (blank && field >= kHeaderFields && entry >= map.mapSize)
            lineFail(map.mapSize == 0
                         ? std::string("empty line after a linear map (size 0 takes no mapping entries; comment lines start with '!')")
                         : "empty line after the map's " + std::to_string(map.mapSize) + " entries (only comment lines may follow)");
        if (field >= kHeaderFields && entry >= map.mapSize) {
            if (map.mapSize == 0)
                lineFail("a linear map (size 0) has no mapping entries, but this line is not a comment: " + quote(detail::trim(line.text)));
            lineFail("more mapping entries than the map size (" + std::to_string(map.mapSize) + "): " + quote(detail::trim(line.text)));
        }
        const auto token = detail::firstToken(line.text);
        if (token.value.empty())
            lineFail("empty line where " + what + " was expected" +
                     (field >= kHeaderFields ? " (write 'x' for an unmapped key; comment lines start with '!')" : ""));
        if (!token.rest.empty() && !token.restIsComment)
            lineFail("unexpected text after " + what + ": " + quote(token.rest) + " (one value per line; comments start with '!')");
        const auto integer = [&](long long lo, long long hi, const char* expected) {
            const auto v = detail::parseInteger(token.value);
            if (!v) lineFail("expected " + what + " (" + expected + "), got " + quote(token.value));
            if (*v < lo || *v > hi)
                lineFail(what + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + quote(token.value));
            return static_cast<int>(*v);
        };
        switch (field) {
            case 0:
                map.mapSize = integer(0, kMaxMapSize, "a whole number, 0 for a linear map");
                break;
            case 1:
                map.firstNote = integer(0, 127, "a MIDI note 0..127");
                break;
            case 2:
                map.lastNote = integer(0, 127, "a MIDI note 0..127");
                if (map.lastNote < map.firstNote)
                    lineFail("the last MIDI note (" + std::to_string(map.lastNote) + ") is below the first (" +
                             std::to_string(map.firstNote) + ")");
                break;
            case 3:
                map.middleNote = integer(0, 127, "a MIDI note 0..127");
                break;
            case 4:
                map.referenceNote = integer(0, 127, "a MIDI note 0..127");
                break;
            case 5: {
                const auto hz = detail::parseReal(token.value);
                if (!hz) lineFail("expected the reference frequency in Hz (like 440.0), got " + quote(token.value));
                if (!(*hz > 0.0) || *hz > kMaxFrequency)
                    lineFail("the reference frequency must be > 0 and <= 1e6 Hz, got " + quote(token.value));
                map.referenceFrequency = *hz;
                break;
            }
            case 6:
                map.octaveDegree = integer(0, kMaxDegree, "a scale degree >= 0");
                map.mapping.reserve(static_cast<std::size_t>(map.mapSize));
                break;
            default:
                if (token.value == "x" || token.value == "X")
                    map.mapping.push_back(kUnmapped);
                else
                    map.mapping.push_back(integer(0, kMaxDegree, "a scale degree >= 0, or x for an unmapped key"));
                break;
        }
        ++field;
    }
    if (field < kHeaderFields) {
        if (field == 0 && lastLine == 0) fail(0, "empty file: expected " + std::string(kFieldNames[0]));
        fail(lastLine, "the file ends before " + std::string(kFieldNames[field]));
    }
    // The .kbm template: "at the end, unmapped keys may be left out".
    map.mapping.resize(static_cast<std::size_t>(map.mapSize), kUnmapped);
    return map;
}

KeyboardMap loadKeyboardMap(const std::filesystem::path& path) {
    const std::string name = path.filename().string();
    return parseKeyboardMap(detail::readTuningFile(path, name), name);
}

std::string toKbm(const KeyboardMap& map, const std::string& fileName) {
    std::ostringstream out;
    if (!fileName.empty()) out << "! " << fileName << "\n";
    out << "!\n! Size of map (0: linear, key n plays degree n - middle note):\n"
        << map.mapSize << "\n! First MIDI note number to retune:\n"
        << map.firstNote << "\n! Last MIDI note number to retune:\n"
        << map.lastNote << "\n! Middle note where the first entry of the mapping is mapped to:\n"
        << map.middleNote << "\n! Reference note for which frequency is given:\n"
        << map.referenceNote << "\n! Frequency to tune the above note to:\n"
        << detail::realText(map.referenceFrequency) << "\n! Scale degree to consider as formal octave (0: the scale's period):\n"
        << map.octaveDegree << "\n! Mapping (x: unmapped key):\n";
    for (int i = 0; i < map.mapSize; ++i) {
        const int e = i < static_cast<int>(map.mapping.size()) ? map.mapping[static_cast<std::size_t>(i)] : kUnmapped;
        if (e == kUnmapped)
            out << "x\n";
        else
            out << e << "\n";
    }
    return out.str();
}

}  // namespace kabel::tuning
