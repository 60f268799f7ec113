// libFuzzer target for core/tuning: the .scl/.ascl and .kbm parsers, and everything a parsed
// file feeds (Tuning, its real-time table, modes, export). The first byte chooses what the rest
// is; an InputError is the expected answer to bad input, anything else (a crash, a sanitizer
// report, another exception, a failed round trip) is a bug.
//
//   selector % 4 == 0: a scale (.scl/.ascl text); tuning lookups; export and re-parse
//                   1: a keyboard map (.kbm text) under 12-TET; export and re-parse
//                   2: a scale and a map, separated by the first NUL byte
//                   3: a scale used as a system; the next bytes choose a mode of it
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/tuning/tuning.hpp"

namespace {

using namespace kabel::tuning;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void exercise(const Tuning& t) {
    const TuningTable& table = t.table();
    for (const double note : {-200.5, -1.0, 0.0, 0.25, 60.0, 69.5, 126.75, 127.0, 128.5, 1000.0, 1e12, std::nan("")}) {
        const double hz = table.frequency(note);
        check(std::isfinite(hz) && hz > 0.0);
    }
    for (int key = -5; key < 133; key += 4) {
        (void)t.frequencyOfKey(key);
        (void)t.centsFromReference(key);
        const int degree = t.degreeOfKey(key);
        check(degree == kUnmapped || (degree >= 0 && degree < t.scale().degreeCount()));
        (void)t.degreeName(degree);
    }
}

void roundTripScale(const Scale& s) {
    const Scale back = parseScale(toAscl(s, "fuzz.ascl"), "roundtrip.ascl");
    check(back.noteCount() == s.noteCount());
    for (int i = 0; i < s.noteCount(); ++i)
        check(back.pitches[static_cast<std::size_t>(i)].cents == s.pitches[static_cast<std::size_t>(i)].cents);
    check(back.noteNames == s.noteNames);
    check(back.systemDegrees == s.systemDegrees);
}

void roundTripMap(const KeyboardMap& m) {
    const KeyboardMap back = parseKeyboardMap(toKbm(m, "fuzz.kbm"), "roundtrip.kbm");
    check(back.mapSize == m.mapSize && back.mapping == m.mapping && back.referenceFrequency == m.referenceFrequency);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const int selector = data[0] % 4;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        switch (selector) {
            case 0: {
                const Scale s = parseScale(text, "fuzz.scl");
                exercise(Tuning(s));
                roundTripScale(s);
                break;
            }
            case 1: {
                const KeyboardMap m = parseKeyboardMap(text, "fuzz.kbm");
                exercise(Tuning(equalTemperament(12), m));
                roundTripMap(m);
                break;
            }
            case 2: {
                const std::size_t nul = text.find('\0');
                if (nul == std::string_view::npos) return 0;
                const Scale s = parseScale(text.substr(0, nul), "fuzz.scl");
                const KeyboardMap m = parseKeyboardMap(text.substr(nul + 1), "fuzz.kbm");
                exercise(Tuning(s, m));
                break;
            }
            default: {
                if (text.size() < 4) return 0;
                const Scale system = parseScale(text.substr(4), "system.scl");
                Mode mode;
                mode.system = system;
                const int n = system.degreeCount();
                const auto bits =
                    static_cast<std::uint32_t>(static_cast<unsigned char>(text[0]) | (static_cast<unsigned char>(text[1]) << 8));
                for (int d = 0; d < n && d < 16; ++d)
                    if (d == 0 || (bits >> d) & 1u) mode.degrees.push_back(d);
                mode.tonic = mode.degrees[static_cast<std::size_t>(static_cast<unsigned char>(text[2])) % mode.degrees.size()];
                ModeKeyboard kb;
                kb.tonicKey = static_cast<unsigned char>(text[3]) % 128;
                kb.referenceDegree = static_cast<unsigned char>(text[2]) % n;
                kb.layout = (text[3] & 0x80) ? ModeKeyboard::Layout::SystemKeys : ModeKeyboard::Layout::Consecutive;
                exercise(tuningOfMode(mode, kb));
                roundTripScale(mode.toScale());
                break;
            }
        }
    } catch (const kabel::InputError&) {
        // The expected answer to a bad file.
    }
    return 0;
}
