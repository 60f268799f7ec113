// `kabel tune SCALE [--kbm MAP] [--csv]`: the 128-key table of a tuning; `kabel tune --list`: the
// catalogue. SCALE is a .scl/.ascl file or a catalogue id. Exit code 0, or 1 with the
// "file:line: reason" message on stderr for a bad file or unknown id. --export-scl/--export-kbm/
// --export-mts write the tuning as .scl/.ascl, .kbm and MTS sysex instead of printing the table.
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include "core/cli/commands.hpp"
#include "core/tuning/mts.hpp"
#include "core/tuning/tuning.hpp"
#include "core/util/atomic_file.hpp"

namespace kabel::cli {
namespace {

namespace fs = std::filesystem;
using namespace kabel::tuning;

// Pads to `width` characters (UTF-8 code points, not bytes) so columns line up with "lü" or "ş".
std::string padded(const std::string& s, std::size_t width) {
    std::size_t chars = 0;
    for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
    return chars >= width ? s + " " : s + std::string(width - chars, ' ');
}

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

Scale resolveScale(const std::string& what, std::string& shownName) {
    std::error_code ec;
    if (fs::is_regular_file(what, ec)) {
        shownName = fs::path(what).filename().string();
        return loadScale(what);
    }
    const auto dir = findCatalogue();
    if (!dir) throw InputError(what, 0, "", "no such file, and no scale catalogue found (set KABEL_SCALES to the patches/scales folder)");
    const fs::path path = cataloguePath(*dir, what);
    shownName = what;
    return loadScale(path);
}

int listCatalogueCommand() {
    const auto dir = findCatalogue();
    if (!dir) {
        std::fprintf(stderr, "No scale catalogue found (patches/scales beside the executable or the source tree; or set KABEL_SCALES).\n");
        return 1;
    }
    const auto entries = listCatalogue(*dir);
    std::printf("# %zu scales in %s\n", entries.size(), dir->string().c_str());
    std::printf("%s%s%s%5s  %s\n", padded("id", 33).c_str(), padded("family", 25).c_str(), padded("kind", 15).c_str(), "notes",
                "description");
    int bad = 0;
    for (const CatalogueEntry& e : entries) {
        if (!e.error.empty()) {
            std::printf("%sERROR: %s\n", padded(e.id, 33).c_str(), e.error.c_str());
            ++bad;
            continue;
        }
        std::string description = e.description;
        if (!e.system.empty()) description = "[mode of " + e.system + "] " + description;
        std::printf("%s%s%s%5d  %s\n", padded(e.id, 33).c_str(), padded(e.family, 25).c_str(), padded(toString(e.kind), 15).c_str(),
                    e.noteCount, description.c_str());
    }
    return bad == 0 ? 0 : 1;
}

// Writes the exports that were asked for; refuses to write over the files it read.
void writeExports(const TuneCommand& options, const Scale& scale, const Tuning& tuning, const std::string& name) {
    std::error_code ec;
    auto isInput = [&](const std::string& out) {
        for (const std::string& in : {options.scale, options.kbm})
            if (!in.empty() && fs::exists(in, ec) && fs::equivalent(in, out, ec)) return true;
        return false;
    };
    auto write = [&](const std::string& out, std::string_view bytes, const char* what) {
        if (out.empty()) return;
        if (isInput(out)) throw InputError(out, 0, "", std::string("refusing to write the ") + what + " over an input file");
        writeFileAtomically(out, bytes);
        std::printf("wrote %s (%s, %zu bytes)\n", out.c_str(), what, bytes.size());
    };
    const std::string stem = fs::path(name).stem().string();
    if (!options.exportScl.empty()) {
        const bool ascl = fs::path(options.exportScl).extension() == ".ascl";
        const std::string file = fs::path(options.exportScl).filename().string();
        write(options.exportScl, ascl ? toAscl(scale, file) : toScl(scale, file), ascl ? "Ableton .ascl scale" : "Scala scale");
    }
    if (!options.exportKbm.empty())
        write(options.exportKbm, toKbm(tuning.keyboardMap(), fs::path(options.exportKbm).filename().string()), "Scala keyboard map");
    if (!options.exportMts.empty()) {
        const std::vector<std::uint8_t> dump = encodeBulkDump(tuning.table(), 0, stem);
        write(options.exportMts, std::string_view(reinterpret_cast<const char*>(dump.data()), dump.size()), "MTS bulk dump");
    }
}

}  // namespace

int tuneCommand(const TuneCommand& options) {
    if (options.list) return listCatalogueCommand();
    if (options.scale.empty()) {
        std::fprintf(stderr, "kabel tune: give a scale file (.scl/.ascl) or a catalogue id, or --list\n");
        return 2;
    }
    try {
        std::string name;
        Scale scale = resolveScale(options.scale, name);
        const bool hasMap = !options.kbm.empty();
        const Tuning tuning = hasMap ? Tuning(scale, loadKeyboardMap(options.kbm)) : Tuning(scale);
        const KeyboardMap& map = tuning.keyboardMap();
        if (!options.exportScl.empty() || !options.exportKbm.empty() || !options.exportMts.empty()) {
            writeExports(options, scale, tuning, name);
            return 0;
        }
        if (options.csv) {
            std::printf("note,frequency_hz,cents_from_reference,degree,name,mapped\n");
        } else {
            std::printf("# %s: %s\n", name.c_str(), scale.description.c_str());
            std::printf("# %d notes, period %.6f cents; map: %s, middle note %d, key %d = %.6f Hz\n", scale.noteCount(),
                        scale.periodCents(), hasMap ? fs::path(options.kbm).filename().string().c_str() : "default (linear)",
                        map.middleNote, map.referenceNote, map.referenceFrequency);
            std::printf("%4s %18s %14s %6s  %s\n", "note", "frequency_hz", "cents", "degree", "name");
        }
        for (int key = 0; key < 128; ++key) {
            const bool mapped = tuning.isMapped(key);
            const int degree = tuning.degreeOfKey(key);
            const std::string degreeName = mapped ? tuning.degreeName(degree) : std::string();
            if (options.csv) {
                if (mapped)
                    std::printf("%d,%.6f,%.6f,%d,%s,1\n", key, tuning.frequencyOfKey(key), tuning.centsFromReference(key), degree,
                                csvField(degreeName).c_str());
                else
                    std::printf("%d,,,,,0\n", key);
            } else if (mapped) {
                std::printf("%4d %18.6f %14.6f %6d  %s\n", key, tuning.frequencyOfKey(key), tuning.centsFromReference(key), degree,
                            degreeName.c_str());
            } else {
                std::printf("%4d %18s %14s %6s  %s\n", key, "-", "-", "x", "(unmapped)");
            }
        }
        return 0;
    } catch (const InputError& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", options.scale.c_str(), e.what());
    }
    return 1;
}

}  // namespace kabel::cli
