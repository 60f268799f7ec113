// The .kabel file format: loading, validation messages, losslessness, canonical saving, atomic
// writes, hostile input, and the JSON text locator behind the line numbers.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/patch/json_locate.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace kabel;

namespace {

using kabel::test::readFile;
using kabel::test::TempDir;
using kabel::test::writeFile;

// A private registry shaped like the real saw/svf/out modules, so these tests depend on no module
// that is still being written.
std::unique_ptr<Module> createNothing() {
    return nullptr;
}

const Registry& fileTestRegistry() {
    static const ModuleDescriptor saw{
        .id = "saw",
        .name = "Saw",
        .category = "Oscillators",
        .inputs = {{.id = "pitch"}, {.id = "sync"}},
        .outputs = {{.id = "out"}},
        .params = {{.id = "freq", .min = 20.0f, .max = 20000.0f, .defaultValue = 440.0f, .curve = ParamCurve::Exponential},
                   {.id = "octave", .min = -4.0f, .max = 4.0f, .defaultValue = 0.0f, .curve = ParamCurve::Integer}},
        .create = createNothing};
    static const ModuleDescriptor svf{
        .id = "svf",
        .name = "Filter",
        .category = "Filters",
        .inputs = {{.id = "in"}, {.id = "cutoff"}},
        .outputs = {{.id = "lp"}, {.id = "bp"}, {.id = "hp"}},
        .params = {{.id = "cutoff", .min = 20.0f, .max = 20000.0f, .defaultValue = 1000.0f, .curve = ParamCurve::Exponential},
                   {.id = "q", .min = 0.5f, .max = 20.0f, .defaultValue = 0.7f}},
        .create = createNothing};
    static const ModuleDescriptor out{.id = "out",
                                      .name = "Audio Out",
                                      .category = "I/O",
                                      .inputs = {{.id = "left"}, {.id = "right"}},
                                      .params = {{.id = "level", .min = 0.0f, .max = 2.0f, .defaultValue = 1.0f}},
                                      .create = createNothing};
    static const Registry registry = [] {
        Registry r;
        r.add(saw);
        r.add(svf);
        r.add(out);
        return r;
    }();
    return registry;
}

// Time budgets below are for optimised builds; sanitizers and -O0 run many times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
constexpr double kSlowdown = 20.0;
#else
constexpr double kSlowdown = 1.0;
#endif

const fs::path kDataDir = fs::path(KABEL_SOURCE_DIR) / "tests" / "data";

std::vector<fs::path> kabelFilesIn(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".kabel") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

// Runs `load` and returns the InputError it throws; fails the test on success or on any other
// exception.
template <typename Fn>
InputError expectInputError(Fn&& load) {
    try {
        load();
    } catch (const InputError& e) {
        return e;
    } catch (const std::exception& e) {
        FAIL("expected an InputError, got another exception: " << e.what());
    }
    FAIL("expected an InputError, but the patch loaded");
    throw std::logic_error("unreachable");
}

bool samePatch(const Patch& a, const Patch& b) {
    auto sameModule = [](const ModuleSpec& x, const ModuleSpec& y) {
        return x.id == y.id && x.type == y.type && x.params == y.params && x.x == y.x && x.y == y.y && x.label == y.label &&
               x.stateJson == y.stateJson && x.extraParamsJson == y.extraParamsJson && x.extraJson == y.extraJson;
    };
    auto sameMapping = [](const MidiMapping& x, const MidiMapping& y) {
        return x.source == y.source && x.channel == y.channel && x.number == y.number && x.module == y.module && x.param == y.param &&
               x.min == y.min && x.max == y.max && x.curve == y.curve && x.extraJson == y.extraJson;
    };
    auto sameCable = [](const CableSpec& x, const CableSpec& y) { return x.sameEnds(y) && x.extraJson == y.extraJson; };
    return a.meta.title == b.meta.title && a.meta.author == b.meta.author && a.meta.description == b.meta.description &&
           a.meta.extraJson == b.meta.extraJson && a.extraJson == b.extraJson &&
           std::equal(a.modules.begin(), a.modules.end(), b.modules.begin(), b.modules.end(), sameModule) &&
           std::equal(a.cables.begin(), a.cables.end(), b.cables.begin(), b.cables.end(), sameCable) &&
           std::equal(a.midiMap.begin(), a.midiMap.end(), b.midiMap.begin(), b.midiMap.end(), sameMapping);
}

// "m<i>" (not "m" + std::to_string(i): GCC 12 warns falsely about that under -O2, -Wrestrict).
std::string moduleId(int i) {
    std::string id = "m";
    id += std::to_string(i);
    return id;
}

LoadedPatch loadExample(const std::string& name) {
    return loadPatchFile(kDataDir / "patches" / name, fileTestRegistry());
}

// Expected result for each file in tests/data/bad_patches: the line the message must name (0:
// none, e.g. an empty file) and a substring naming the specific problem.
struct BadCase {
    int line;
    const char* message;
};
const std::map<std::string, BadCase>& badCases() {
    static const std::map<std::string, BadCase> cases = {
        {"bom-then-array", {1, "expected a JSON object at the top level, got an array"}},
        {"cable-endpoint-no-port", {10, "/cables/0/from: expected \"module.port\" (two ids joined by a dot), got \"osc\""}},
        {"cable-endpoint-not-string", {10, "/cables/0/to: expected a string, got an array"}},
        {"cable-from-input", {10, "/cables/0/from: 'lpf.in' is an input"}},
        {"cable-missing-from", {10, "/cables/0: missing \"from\""}},
        {"cable-missing-to", {10, "/cables/0: missing \"to\""}},
        {"cable-not-object", {10, "/cables/0: expected an object, got a string"}},
        {"cable-to-output", {10, "/cables/0/to: 'lpf.lp' is an output"}},
        {"cable-unknown-module", {11, "/cables/1/from: no module with id 'vcf' in this patch"}},
        {"cables-not-array", {9, "/cables: expected an array, got an object"}},
        {"comment",
         {2,
          "invalid JSON: syntax error while parsing object key - invalid literal; last read: '{<U+000A>  /'; expected string literal (JSON "
          "has no comments) (column 3)"}},
        {"control-char-in-string",
         {4, "invalid JSON: syntax error while parsing value - invalid string: control character U+000A (LF) must be escaped"}},
        {"deep-nesting", {2, "arrays and objects nested deeper than 256 levels (column 256)"}},
        {"duplicate-cable", {12, "/cables/2: duplicate cable osc.out -> lpf.in (also /cables/0)"}},
        {"duplicate-key", {6, "/modules/0/params/freq: duplicate key \"freq\": keys must be unique within an object"}},
        {"duplicate-module-id", {7, "/modules/2/id: duplicate module id 'osc' (also /modules/0)"}},
        {"empty", {0, "empty file"}},
        {"format-not-string", {2, "/format: \"format\" must be \"kabel-patch\", got a number"}},
        {"invalid-utf8", {5, "invalid UTF-8: byte 0xE9 does not belong here; save the file as UTF-8 (column 18)"}},
        {"label-not-string", {5, "/modules/0/label: expected a string, got an array"}},
        {"meta-not-object", {4, "/meta: expected an object, got a string"}},
        {"meta-title-number", {5, "/meta/title: expected a string, got a number"}},
        {"midi-cc-number-128", {10, "/midi_map/0/number: 128 is out of range: expected an integer 0..127 for source 'cc'"}},
        {"midi-cc14-number-32", {10, "/midi_map/0/number: 32 is out of range: expected an integer 0..31 for source 'cc14'"}},
        {"midi-channel-17", {10, "/midi_map/0/channel: 17 is out of range: expected a channel 0..16 (0 = any)"}},
        {"midi-channel-fraction", {10, "/midi_map/0/channel: expected a channel 0..16 (0 = any), got 1.5"}},
        {"midi-map-not-array", {9, "/midi_map: expected an array, got an object"}},
        {"midi-min-string", {10, "/midi_map/0/min: expected a number, got a string"}},
        {"midi-missing-number", {10, "/midi_map/0: missing \"number\" (the note number to map)"}},
        {"midi-missing-param", {10, "/midi_map/0: missing \"param\""}},
        {"midi-negative-number", {10, "/midi_map/0/number: -1 is out of range: expected an integer 0..127 for source 'cc'"}},
        {"midi-unknown-curve", {10, "/midi_map/0/curve: unknown curve \"log\": expected linear, exponential or toggle"}},
        {"midi-unknown-source", {10, "/midi_map/0/source: unknown source \"sysex\""}},
        {"missing-format", {1, "missing \"format\" (not a Kabel patch?"}},
        {"missing-version", {1, "missing \"version\""}},
        {"module-bad-id", {5, "/modules/0/id: 'my osc' is not a valid module id: use 1-64 characters of A-Z a-z 0-9 _ -"}},
        {"module-id-control-chars", {5, "/modules/0/id: 'osc\\n1\\x07' is not a valid module id"}},
        {"module-id-number", {5, "/modules/0/id: expected a string, got a number"}},
        {"module-missing-id", {6, "/modules/1: missing \"id\""}},
        {"module-missing-type", {6, "/modules/1: missing \"type\""}},
        {"module-not-object", {5, "/modules/0: expected an object, got a string"}},
        {"module-type-bad-id", {5, "/modules/0/type: 'saw wave' is not a valid module type"}},
        {"module-type-not-string", {5, "/modules/0/type: expected a string, got a number"}},
        {"modules-not-array", {4, "/modules: expected an array, got an object"}},
        {"not-json", {1, "invalid JSON: syntax error while parsing value - invalid literal"}},
        {"number-overflow", {6, "number out of range: 1e400 does not fit a double"}},
        {"overlong-utf8", {4, "invalid UTF-8: byte 0xC0"}},
        {"param-array", {5, "/modules/0/params/freq: expected a number, got an array"}},
        {"param-bad-id", {5, "/modules/0/params/fine tune: 'fine tune' is not a valid param id"}},
        {"param-bool", {5, "/modules/0/params/freq: expected a number, got a boolean"}},
        {"param-id-long", {1, "...' is not a valid param id: use 1-64 characters"}},
        {"param-infinity-literal", {5, "invalid JSON: syntax error while parsing value - invalid number; expected digit after '-'"}},
        {"param-nan-literal", {5, "invalid JSON: syntax error while parsing value - invalid literal"}},
        {"param-null", {5, "/modules/0/params/freq: expected a number, got null"}},
        {"param-string", {7, "/modules/1/params/freq: expected a number, got a string"}},
        {"params-not-object", {5, "/modules/0/params: expected an object, got an array"}},
        {"position-not-array", {5, "/modules/0/position: expected [x, y], got a string"}},
        {"position-overflows-float", {5, "/modules/0/position/0: 1e+39 is out of range for a canvas position"}},
        {"position-string-element", {5, "/modules/0/position/0: expected a number, got a string"}},
        {"position-wrong-length", {5, "/modules/0/position: expected [x, y], got an array of 3"}},
        {"random-bytes", {2, "invalid UTF-8: byte 0x8F"}},
        {"single-quotes", {2, "(JSON strings need double quotes) (column 3)"}},
        {"top-level-array", {1, "expected a JSON object at the top level, got an array (is this a Kabel patch?)"}},
        {"top-level-string", {1, "expected a JSON object at the top level, got a string"}},
        {"trailing-comma",
         {7,
          "invalid JSON: syntax error while parsing value - unexpected ']'; expected '[', '{', or a literal (JSON allows no comma after "
          "the last item) (column 3)"}},
        {"trailing-garbage", {10, "invalid JSON: syntax error while parsing value - unexpected '}'; expected end of input"}},
        {"truncated",
         {5,
          "invalid JSON: syntax error while parsing object key - invalid string: missing closing quote; last read: '\"params'; expected "
          "string literal (the file ends too early: is it truncated?) (column 61)"}},
        {"utf16", {1, "the file is UTF-16 encoded: save it as UTF-8"}},
        {"version-fraction", {3, "/version: expected a positive integer, got 1.5"}},
        {"version-negative", {3, "/version: -1 is out of range: expected a positive integer"}},
        {"version-string", {3, "/version: expected a positive integer, got a string"}},
        {"version-zero", {3, "/version: 0 is out of range: expected a positive integer"}},
        {"whitespace-only", {0, "empty file"}},
        {"wrong-format", {2, "/format: \"format\" must be \"kabel-patch\", got \"vcv-rack-patch\""}},
    };
    return cases;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Malformed files

TEST_CASE("every malformed patch is rejected with file, line and the specific problem", "[patchfile]") {
    const auto files = kabelFilesIn(kDataDir / "bad_patches");
    std::set<std::string> seen;
    int checked = 0;
    for (const fs::path& path : files) {
        const std::string name = path.stem().string();
        INFO("bad patch: " << name);
        CHECK(fs::file_size(path) < 1024);  // small, one problem each
        const auto expected = badCases().find(name);
        REQUIRE(expected != badCases().end());  // every file needs an entry in badCases()
        seen.insert(name);

        const InputError e = expectInputError([&] { loadPatchFile(path, fileTestRegistry()); });
        const std::string what = e.what();
        INFO("message: " << what);
        CHECK(e.file() == path.string());
        CHECK(what.rfind(path.string() + ":", 0) == 0);
        CHECK(e.line() == expected->second.line);
        if (expected->second.line > 0) CHECK(what.rfind(path.string() + ":" + std::to_string(expected->second.line) + ": ", 0) == 0);
        CHECK_THAT(what, Catch::Matchers::Contains(expected->second.message));
        CHECK(what.find('\n') == std::string::npos);  // one line
        ++checked;
    }
    CHECK(checked >= 25);
    CHECK(checked == static_cast<int>(badCases().size()));  // no stale table entries
    for (const auto& [name, c] : badCases()) CHECK(seen.count(name) == 1);
}

TEST_CASE("a message names file, line and JSON pointer", "[patchfile]") {
    const std::string text = R"({
  "format": "kabel-patch",
  "version": 1,
  "modules": [
    {"id": "a", "type": "out"},
    {"id": "b", "type": "out"},
    {"id": "c", "type": "out"},
    {
      "id": "osc",
      "type": "saw",
      "params": {
        "freq": "110"
      }
    }
  ]
})";
    const InputError e = expectInputError([&] { parsePatch(text, "song.kabel", fileTestRegistry()); });
    CHECK(std::string(e.what()) == "song.kabel:12: /modules/3/params/freq: expected a number, got a string");
    CHECK(e.line() == 12);
    CHECK(e.where() == "/modules/3/params/freq");
    CHECK(e.reason() == "expected a number, got a string");
}

TEST_CASE("a repeated key is caught at every level, the same key in sibling objects is not", "[patchfile]") {
    SECTION("top level") {
        const InputError e = expectInputError(
            [&] { parsePatch("{\"format\": \"kabel-patch\",\n\"version\": 1,\n\"version\": 1}", "top.kabel", fileTestRegistry()); });
        CHECK(e.line() == 3);
        CHECK(e.reason() == "duplicate key \"version\": keys must be unique within an object");
    }
    SECTION("inside a cable, after other objects with the same keys") {
        const std::string text = R"({"format": "kabel-patch", "version": 1,
"modules": [{"id": "a", "type": "out"}, {"id": "b", "type": "out"}],
"cables": [{"from": "a.x", "to": "b.x", "note": 1},
  {"from": "a.y", "to": "b.y", "to": "b.z"}]})";
        const InputError e = expectInputError([&] { parsePatch(text, "cable.kabel", fileTestRegistry()); });
        CHECK(e.line() == 4);
        CHECK(e.where() == "/cables/1/to");
    }
    SECTION("no repeats: many objects sharing keys load") {
        const std::string text = R"({"format": "kabel-patch", "version": 1,
"modules": [{"id": "a", "type": "out", "x": {"k": 1}}, {"id": "b", "type": "out", "x": {"k": [{"k": 2}, {"k": 3}]}}]})";
        const LoadedPatch loaded = parsePatch(text, "ok.kabel", fileTestRegistry());
        REQUIRE(loaded.patch.modules.size() == 2);
        CHECK(loaded.patch.modules[1].extraJson == R"({"x":{"k":[{"k":2},{"k":3}]}})");
    }
}

TEST_CASE("parse errors give line and column from the byte offset", "[patchfile]") {
    const InputError e =
        expectInputError([&] { parsePatch("{\n  \"format\": \"kabel-patch\",\n  \"version\" 1\n}\n", "x.kabel", fileTestRegistry()); });
    CHECK(e.line() == 3);
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("expected ':'") && Catch::Matchers::Contains("(column 13)"));
}

// ---------------------------------------------------------------------------------------------
// Hostile input

TEST_CASE("10 MB of garbage fails fast with a clear error", "[patchfile]") {
    TempDir dir;
    constexpr std::size_t kSize = 10u << 20;
    std::mt19937 rng(1234);
    struct Garbage {
        const char* name;
        std::string text;
        const char* message;
    };
    std::vector<Garbage> cases;
    {
        std::string bytes(kSize, '\0');
        for (auto& b : bytes) b = static_cast<char>(rng());
        cases.push_back({"random bytes", bytes, "invalid JSON"});  // the first byte is already wrong
        bytes.replace(0, 11, "{\"title\": \"");
        cases.push_back({"random bytes in a string", std::move(bytes), "invalid UTF-8"});
    }
    {
        std::string ascii(kSize, ' ');
        for (auto& b : ascii) b = static_cast<char>(' ' + rng() % 95);
        ascii[0] = 'x';  // not a value
        cases.push_back({"random printable ASCII", std::move(ascii), "invalid JSON"});
    }
    cases.push_back({"endless [[[[", std::string(kSize, '['), "nested deeper than 256 levels"});
    {
        std::string objects;
        objects.reserve(kSize);
        while (objects.size() < kSize) objects += "{\"a\":";
        cases.push_back({"endless {\"a\":{\"a\":", std::move(objects), "nested deeper than 256 levels"});
    }
    {
        std::string longArray = "[";
        longArray.reserve(kSize);
        while (longArray.size() < kSize) longArray += "1,";
        cases.push_back({"a flat array with no end", std::move(longArray), "unexpected end of input"});
    }
    {
        std::string unterminated = "{\"title\": \"";
        unterminated.resize(kSize, 'a');
        cases.push_back({"an endless string", std::move(unterminated), "missing closing quote"});
    }
    for (const Garbage& g : cases) {
        INFO(g.name);
        const fs::path path = dir.path / "garbage.kabel";
        writeFile(path, g.text);
        const auto start = std::chrono::steady_clock::now();
        const InputError e = expectInputError([&] { loadPatchFile(path, fileTestRegistry()); });
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        INFO(e.what());
        CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(g.message));
        CHECK(e.line() >= 1);
        CHECK(std::string(e.what()).size() < 300);  // no echo of the garbage
        CHECK(seconds < 3.0 * kSlowdown);
    }
}

TEST_CASE("files over 64 MB are rejected before they are read", "[patchfile]") {
    TempDir dir;
    const fs::path path = dir.path / "huge.kabel";
    writeFile(path, "{");
    fs::resize_file(path, kMaxPatchFileBytes + 1);  // sparse: costs no disk space
    const InputError e = expectInputError([&] { loadPatchFile(path, fileTestRegistry()); });
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("file too large (67108865 bytes; the limit is 64 MB)"));

    const std::string text(kMaxPatchFileBytes + 1, ' ');
    const InputError e2 = expectInputError([&] { parsePatch(text, "mem.kabel", fileTestRegistry()); });
    CHECK_THAT(std::string(e2.what()), Catch::Matchers::Contains("file too large"));
}

TEST_CASE("unreadable paths give an InputError with the OS reason", "[patchfile]") {
    TempDir dir;
    SECTION("missing file") {
        const fs::path path = dir.path / "nope.kabel";
        const InputError e = expectInputError([&] { loadPatchFile(path, fileTestRegistry()); });
        CHECK(std::string(e.what()) == path.string() + ": cannot open: No such file or directory");
    }
    SECTION("a directory") {
        const InputError e = expectInputError([&] { loadPatchFile(dir.path, fileTestRegistry()); });
        CHECK(std::string(e.what()) == dir.path.string() + ": cannot read: Is a directory");
    }
}

// ---------------------------------------------------------------------------------------------
// Valid files and losslessness

TEST_CASE("valid examples load and round-trip: load, save, load gives the same patch and bytes", "[patchfile]") {
    int checked = 0;
    for (const fs::path& path : kabelFilesIn(kDataDir / "patches")) {
        INFO("example: " << path.filename().string());
        LoadedPatch first;
        REQUIRE_NOTHROW(first = loadPatchFile(path, fileTestRegistry()));
        const std::string saved = serializePatch(first.patch);
        const LoadedPatch second = parsePatch(saved, "saved.kabel", fileTestRegistry());
        CHECK(samePatch(first.patch, second.patch));
        CHECK(serializePatch(second.patch) == saved);
        ++checked;
    }
    CHECK(checked >= 6);
}

TEST_CASE("canonical files are written back byte for byte", "[patchfile]") {
    for (const char* name : {"default.kabel", "placeholders.kabel"}) {
        INFO(name);
        const std::string text = readFile(kDataDir / "patches" / name);
        CHECK(serializePatch(loadExample(name).patch) == text);
    }
}

TEST_CASE("the documented example loads into the patch structs", "[patchfile]") {
    const LoadedPatch loaded = loadExample("default.kabel");
    const Patch& p = loaded.patch;
    CHECK(loaded.warnings.empty());
    CHECK(p.meta.title == "Default");
    CHECK(p.meta.author == "Kabel");
    REQUIRE(p.modules.size() == 3);
    CHECK(p.modules[0].id == "osc");
    CHECK(p.modules[0].type == "saw");
    CHECK(p.modules[0].x == 120.0f);
    CHECK(p.modules[0].y == 80.0f);
    CHECK(p.modules[0].params == std::map<std::string, double>{{"freq", 110.0}});
    CHECK(p.modules[1].label == "Filter");
    CHECK(p.modules[1].params.at("q") == 3.0);
    CHECK(p.modules[2].params.empty());
    REQUIRE(p.cables.size() == 2);
    CHECK(p.cables[1].from.str() == "lpf.lp");
    CHECK(p.cables[1].to.str() == "out.left");
    REQUIRE(p.midiMap.size() == 1);
    const MidiMapping& m = p.midiMap[0];
    CHECK(m.source == "cc");
    CHECK(m.channel == 1);
    CHECK(m.number == 74);
    CHECK(m.module == "lpf");
    CHECK(m.param == "cutoff");
    CHECK(m.min == 200.0);
    CHECK(m.max == 4000.0);
    CHECK(m.curve == "exponential");
    CHECK(p.extraJson.empty());
    CHECK(p.meta.extraJson.empty());
}

TEST_CASE("unknown module types load as placeholders that keep params and cables", "[patchfile]") {
    const LoadedPatch loaded = loadExample("placeholders.kabel");
    const ModuleSpec* grain = loaded.patch.findModule("grain");
    REQUIRE(grain);
    CHECK(grain->type == "granulator");
    CHECK(grain->params == std::map<std::string, double>{{"density", 12.5}, {"pitch", -7.0}, {"size", 1e-5}, {"spread", 1e30}});
    CHECK(grain->extraParamsJson ==
          R"({"flags":[true,false,null],"mode":"cloud","options":{"freeze":false,"window":"hann"},"table":[1,2.5,"x"]})");
    CHECK(grain->label == "Grains (from a newer Kabel)");
    CHECK(grain->stateJson == "[1,2,3]");
    CHECK(grain->extraJson == R"({"gui":{"collapsed":true}})");
    CHECK(grain->x == 300.0f);
    CHECK(grain->y == 40.75f);
    // Cables to and from the placeholder are kept, with ports nobody can check.
    REQUIRE(loaded.patch.cables.size() == 3);
    CHECK(loaded.patch.cables[1].from.str() == "grain.out-l");
    REQUIRE(loaded.warnings.size() == 1);
    CHECK(loaded.warnings[0] == (kDataDir / "patches" / "placeholders.kabel").string() +
                                    ":7: /modules/1/type: unknown module type 'granulator': loaded as a placeholder");

    // Saved back, the placeholder line is what the file had.
    const std::string saved = serializePatch(loaded.patch);
    CHECK_THAT(
        saved,
        Catch::Matchers::Contains(
            R"J({"id": "grain", "type": "granulator", "position": [300, 40.75], "params": {"density": 12.5, "flags": [true, false, null], "mode": "cloud", "options": {"freeze": false, "window": "hann"}, "pitch": -7, "size": 1e-05, "spread": 1e+30, "table": [1, 2.5, "x"]}, "label": "Grains (from a newer Kabel)", "state": [1, 2, 3], "gui": {"collapsed": true}})J"));
}

TEST_CASE("unknown keys at every level survive a round trip", "[patchfile]") {
    const Patch p = loadExample("placeholders.kabel").patch;
    CHECK(p.extraJson == R"({"ui":{"scroll":[0,-120],"zoom":1.25},"zz_future":null})");
    CHECK(p.meta.extraJson == R"({"rating":4.5,"tags":["test","lossless"]})");
    CHECK(p.findModule("osc")->extraJson == R"({"color":"#ff8800"})");
    CHECK(p.findModule("osc")->stateJson == R"({"phase":0.25,"seed":42})");
    CHECK(p.cables[1].extraJson == R"({"color":"#00ff00","curvature":0.5})");
    CHECK(p.cables[0].extraJson.empty());
    CHECK(p.midiMap[0].extraJson == R"({"soft_takeover":true})");

    const Patch again = parsePatch(serializePatch(p), "again.kabel", fileTestRegistry()).patch;
    CHECK(samePatch(p, again));
    CHECK(again.extraJson == p.extraJson);
    CHECK(again.meta.extraJson == p.meta.extraJson);
    CHECK(again.midiMap[0].extraJson == p.midiMap[0].extraJson);
}

TEST_CASE("a patch from a newer format version loads best-effort with a warning", "[patchfile]") {
    const LoadedPatch loaded = loadExample("future-version.kabel");
    REQUIRE(loaded.warnings.size() == 1);
    CHECK_THAT(loaded.warnings[0],
               Catch::Matchers::EndsWith("future-version.kabel:3: /version: format version 2 is newer than this Kabel's (1): "
                                         "loaded best-effort, unknown keys kept; saving writes version 1"));
    CHECK(loaded.patch.extraJson == R"({"scenes":[{"name":"A"},{"name":"B"}]})");
    CHECK(loaded.patch.modules.at(0).extraJson == R"({"lock":true})");
    CHECK_THAT(serializePatch(loaded.patch), Catch::Matchers::Contains("\"version\": 1,"));
}

TEST_CASE("problems that do not stop a load are warnings with file, line and pointer", "[patchfile]") {
    const LoadedPatch loaded = loadExample("warnings.kabel");
    const std::string f = (kDataDir / "patches" / "warnings.kabel").string();
    const std::vector<std::string> expected = {
        f + ":5: /modules/0/params/freq: 50000 is outside the range [20, 20000] of saw.freq: kept, the engine clamps it",
        f + ":5: /modules/0/params/octave: 1.5 is not a whole number (saw.octave is integer): kept, the engine rounds it",
        f + ":5: /modules/0/params/shape: module type 'saw' has no param 'shape': value kept",
        f + ":10: /cables/0/from: module type 'saw' has no output 'sync-out': cable kept, the engine ignores it",
        f + ":11: /cables/1/to: module type 'out' has no input 'aux': cable kept, the engine ignores it",
        f + ":14: /midi_map/0/module: no module with id 'ghost' in this patch: mapping kept, it does nothing",
        f + ":15: /midi_map/1/param: module type 'svf' has no param 'res': mapping kept, it does nothing",
    };
    CHECK(loaded.warnings == expected);
    // Everything is kept as written.
    const ModuleSpec& osc = loaded.patch.modules.at(0);
    CHECK(osc.params.at("freq") == 50000.0);
    CHECK(osc.params.at("shape") == 2.0);
    CHECK(loaded.patch.cables.size() == 2);
    CHECK(loaded.patch.midiMap.size() == 2);
    CHECK(loaded.patch.midiMap[1].curve == "toggle");
}

TEST_CASE("a UTF-8 byte order mark is accepted", "[patchfile]") {
    const LoadedPatch withBom = loadExample("bom.kabel");
    CHECK(withBom.warnings.empty());
    REQUIRE(withBom.patch.modules.size() == 1);
    CHECK(withBom.patch.modules[0].x == 10.0f);
    const std::string text = readFile(kDataDir / "patches" / "bom.kabel");
    REQUIRE(text.rfind("\xEF\xBB\xBF", 0) == 0);
    CHECK(samePatch(parsePatch(text.substr(3), "nobom", fileTestRegistry()).patch, withBom.patch));
    CHECK(serializePatch(withBom.patch).rfind("{\n", 0) == 0);  // saving writes no BOM
}

TEST_CASE("hand-edited files: key order, spacing, escapes and number spellings do not matter", "[patchfile]") {
    const LoadedPatch loaded = loadExample("hand-edited.kabel");
    CHECK(loaded.warnings.empty());
    const Patch& p = loaded.patch;
    CHECK(p.meta.title == "Edited by hand \xC3\xA9 \xF0\x9F\x8E\xB9");
    const ModuleSpec& osc = p.modules.at(0);
    CHECK(osc.params.at("freq") == 250.0);
    CHECK(osc.params.at("octave") == 1.0);
    CHECK(osc.x == 100.7f);
    CHECK(osc.y == 0.0f);
    const ModuleSpec& lpf = p.modules.at(1);
    CHECK(lpf.x == 1000.0f);
    CHECK(lpf.y == 33.333333333f);
    CHECK(lpf.params.at("q") == 0.7071067811865476);
    CHECK(p.modules.at(2).x == 0.0f);
    REQUIRE(p.midiMap.size() == 1);
    CHECK(p.midiMap[0].channel == 0);
    CHECK(p.midiMap[0].curve == "linear");
    CHECK_FALSE(p.midiMap[0].min.has_value());
    CHECK(p.midiMap[0].max == 10.0);

    const std::string saved = serializePatch(p);
    CHECK_THAT(saved,
               Catch::Matchers::Contains(R"({"id": "osc", "type": "saw", "position": [100.7, 0], "params": {"freq": 250, "octave": 1}})"));
    CHECK_THAT(saved, Catch::Matchers::Contains(R"("position": [1000, 33.333332])"));
    CHECK_THAT(saved, Catch::Matchers::Contains(
                          R"({"source": "cc14", "channel": 0, "number": 3, "module": "lpf", "param": "q", "max": 10, "curve": "linear"})"));
    CHECK_THAT(saved, Catch::Matchers::Contains("\"title\": \"Edited by hand \xC3\xA9 \xF0\x9F\x8E\xB9\""));
}

TEST_CASE("a large patch loads and round-trips quickly", "[patchfile]") {
    Patch p;
    constexpr int kModules = 5000;
    for (int i = 0; i < kModules; ++i) {
        ModuleSpec m;
        m.id = moduleId(i);
        m.type = i % 2 ? "svf" : "saw";
        m.x = static_cast<float>(i) * 0.1f;
        m.y = -static_cast<float>(i) / 3.0f;
        if (i % 2)
            m.params = {{"cutoff", 20.0 + i}, {"q", 0.5 + i % 19}};
        else
            m.params = {{"freq", 20.0 + i * 3.7}};
        p.modules.push_back(std::move(m));
    }
    for (int i = 0; i + 1 < kModules; i += 2)
        p.cables.push_back(CableSpec{PortRef{moduleId(i), "out"}, PortRef{moduleId(i + 1), "in"}, {}});
    const auto start = std::chrono::steady_clock::now();
    const std::string text = serializePatch(p);
    const LoadedPatch loaded = parsePatch(text, "big.kabel", fileTestRegistry());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(loaded.warnings.empty());
    CHECK(samePatch(p, loaded.patch));
    CHECK(seconds < 2.0 * kSlowdown);
}

TEST_CASE("thousands of warnings cost one pass over the text, not one each", "[patchfile]") {
    Patch p;
    constexpr int kModules = 10000;  // quadratic work would take seconds
    for (int i = 0; i < kModules; ++i) {
        ModuleSpec m;
        m.id = moduleId(i);
        m.type = "from-a-plugin";
        m.params = {{"gain", 0.5}};
        p.modules.push_back(std::move(m));
    }
    const std::string text = serializePatch(p);
    const auto start = std::chrono::steady_clock::now();
    const LoadedPatch loaded = parsePatch(text, "plugins.kabel", fileTestRegistry());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(loaded.warnings.size() == kModules);
    CHECK(loaded.warnings.back() == "plugins.kabel:" + std::to_string(kModules + 4) + ": /modules/" + std::to_string(kModules - 1) +
                                        "/type: unknown module type 'from-a-plugin': loaded as a placeholder");
    CHECK(seconds < 2.0 * kSlowdown);
}

// ---------------------------------------------------------------------------------------------
// Saving

TEST_CASE("serializePatch writes the canonical layout", "[patchfile]") {
    Patch p;
    p.meta.title = "T";
    ModuleSpec m;
    m.id = "osc";
    m.type = "saw";
    m.x = 0.1f;
    m.y = -2.5f;
    m.params = {{"freq", 1.0 / 3.0}, {"octave", -0.0}};
    p.modules.push_back(m);
    p.cables.push_back(CableSpec{PortRef{"osc", "out"}, PortRef{"osc", "sync"}, {}});
    MidiMapping map;
    map.source = "pitchbend";
    map.module = "osc";
    map.param = "freq";
    p.midiMap.push_back(map);
    const std::string expected = R"({
  "format": "kabel-patch",
  "version": 1,
  "meta": {"title": "T"},
  "modules": [
    {"id": "osc", "type": "saw", "position": [0.1, -2.5], "params": {"freq": 0.3333333333333333, "octave": 0}}
  ],
  "cables": [
    {"from": "osc.out", "to": "osc.sync"}
  ],
  "midi_map": [
    {"source": "pitchbend", "channel": 0, "module": "osc", "param": "freq", "curve": "linear"}
  ]
}
)";
    CHECK(serializePatch(p) == expected);
    CHECK(serializePatch(p) == serializePatch(p));

    SECTION("an empty patch") {
        CHECK(serializePatch(Patch{}) ==
              "{\n  \"format\": \"kabel-patch\",\n  \"version\": 1,\n  \"modules\": [],\n  \"cables\": [],\n  \"midi_map\": []\n}\n");
    }
}

TEST_CASE("saved numbers load back to the same float and double", "[patchfile]") {
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> wide(-1e6, 1e6);
    std::uniform_int_distribution<int> exponent(-30, 30);
    Patch p;
    for (int i = 0; i < 500; ++i) {
        ModuleSpec m;
        m.id = moduleId(i);
        m.type = "mystery";  // placeholder: no range checks
        m.x = static_cast<float>(wide(rng));
        m.y = static_cast<float>(wide(rng) * std::pow(10.0, exponent(rng)));
        m.params = {{"a", wide(rng)}, {"b", wide(rng) * std::pow(10.0, exponent(rng) * 10)}, {"c", std::nextafter(1.0, 2.0)}};
        p.modules.push_back(std::move(m));
    }
    const Patch loaded = parsePatch(serializePatch(p), "n.kabel", fileTestRegistry()).patch;
    REQUIRE(loaded.modules.size() == p.modules.size());
    for (std::size_t i = 0; i < p.modules.size(); ++i) {
        CHECK(loaded.modules[i].x == p.modules[i].x);
        CHECK(loaded.modules[i].y == p.modules[i].y);
        CHECK(loaded.modules[i].params == p.modules[i].params);
    }
}

TEST_CASE("serializePatch rejects a patch no file can hold", "[patchfile]") {
    Patch p;
    p.modules.push_back(ModuleSpec{.id = "osc", .type = "saw"});
    SECTION("a NaN param") {
        p.modules[0].params["freq"] = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_WITH(serializePatch(p), Catch::Matchers::Contains("module 'osc' param 'freq' is not a finite number"));
    }
    SECTION("an infinite position") {
        p.modules[0].x = std::numeric_limits<float>::infinity();
        CHECK_THROWS_AS(serializePatch(p), std::invalid_argument);
    }
    SECTION("extraJson that is not a JSON object") {
        p.modules[0].extraJson = "[1, 2]";
        CHECK_THROWS_WITH(serializePatch(p), Catch::Matchers::Contains("module 'osc' extraJson must be a JSON object"));
    }
    SECTION("stateJson that is not JSON") {
        p.modules[0].stateJson = "{oops";
        CHECK_THROWS_WITH(serializePatch(p), Catch::Matchers::Contains("module 'osc' stateJson is not valid JSON"));
    }
    SECTION("a label that is not UTF-8") {
        p.modules[0].label = "\xFF";
        CHECK_THROWS_AS(serializePatch(p), std::invalid_argument);
    }
}

TEST_CASE("extra keys never override the keys the format defines", "[patchfile]") {
    Patch p;
    p.modules.push_back(ModuleSpec{.id = "osc", .type = "saw", .extraJson = R"({"id": "evil", "note": 1})"});
    p.extraJson = R"({"format": "evil", "zzz": 2})";
    const std::string text = serializePatch(p);
    const Patch loaded = parsePatch(text, "x.kabel", fileTestRegistry()).patch;
    CHECK(loaded.modules.at(0).id == "osc");
    CHECK(loaded.modules.at(0).extraJson == R"({"note":1})");
    CHECK(loaded.extraJson == R"({"zzz":2})");
}

TEST_CASE("savePatchFile replaces a file atomically", "[patchfile]") {
    TempDir dir;
    const fs::path path = dir.path / "song.kabel";
    const Patch patch = loadExample("default.kabel").patch;

    SECTION("saving over an existing file leaves no temporary file behind") {
        writeFile(path, "old contents");
        savePatchFile(path, patch);
        CHECK(readFile(path) == serializePatch(patch));
        CHECK(dir.names() == std::vector<std::string>{"song.kabel"});
        CHECK(samePatch(loadPatchFile(path, fileTestRegistry()).patch, patch));
    }
    SECTION("a save into a directory that does not exist fails naming the path") {
        const fs::path missing = dir.path / "no-such-dir" / "song.kabel";
        try {
            savePatchFile(missing, patch);
            FAIL("save succeeded");
        } catch (const std::system_error& e) {
            CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(missing.string()));
        }
        CHECK(dir.names().empty());
    }
    SECTION("a directory in place of the file stays untouched and no temporary file is left") {
        fs::create_directory(path);
        writeFile(path / "inside.txt", "keep me");
        try {
            savePatchFile(path, patch);
            FAIL("save succeeded");
        } catch (const std::system_error& e) {
            CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(path.string()));
        }
        CHECK(fs::is_directory(path));
        CHECK(readFile(path / "inside.txt") == "keep me");
        CHECK(dir.names() == std::vector<std::string>{"song.kabel"});
    }
    SECTION("a patch that cannot be serialised leaves the old file untouched") {
        writeFile(path, "old contents");
        Patch bad = patch;
        bad.modules[0].params["freq"] = std::numeric_limits<double>::infinity();
        CHECK_THROWS_AS(savePatchFile(path, bad), std::invalid_argument);
        CHECK(readFile(path) == "old contents");
        CHECK(dir.names() == std::vector<std::string>{"song.kabel"});
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON text locator

TEST_CASE("jsontext: positions count lines and code points", "[patchfile]") {
    const std::string text = "ab\n\xC3\xA9x\ny";
    CHECK(jsontext::positionAt(text, 0).line == 1);
    CHECK(jsontext::positionAt(text, 1).column == 2);
    CHECK(jsontext::positionAt(text, 3).line == 2);
    CHECK(jsontext::positionAt(text, 5).column == 2);  // after the two-byte é
    CHECK(jsontext::positionAt(text, 7).line == 3);
    CHECK(jsontext::positionAt(text, 999).line == 3);  // past the end
    const jsontext::LineIndex lines(text);
    for (std::size_t offset = 0; offset <= text.size() + 1; ++offset)
        CHECK(lines.lineOf(offset) == jsontext::positionAt(text, offset).line);
}

TEST_CASE("jsontext: findPointer walks objects, arrays and escaped keys", "[patchfile]") {
    const std::string text = "{\n \"a\": [1,\n  {\"x/y\": 2, \"t~\": [\n\"[{\\\"}\", 3]}],\n \"\\u00e9\": true\n}";
    auto line = [&](const char* ptr) {
        const auto off = jsontext::findPointer(text, ptr);
        return off ? jsontext::positionAt(text, *off).line : -1;
    };
    CHECK(line("") == 1);
    CHECK(line("/a") == 2);
    CHECK(line("/a/1") == 3);
    CHECK(line("/a/1/x~1y") == 3);
    CHECK(line("/a/1/t~0/1") == 4);  // skips a string full of brackets
    CHECK(line("/\xC3\xA9") == 5);
    CHECK(line("/a/7") == 2);  // missing element: the deepest existing value
    CHECK(line("/nope/3") == 1);
    CHECK_FALSE(jsontext::findPointer("   ", "/a").has_value());
    CHECK(jsontext::appendPointer("/p", "a/b~c") == "/p/a~1b~0c");
}

TEST_CASE("jsontext: UTF-8 validation", "[patchfile]") {
    CHECK_FALSE(jsontext::findInvalidUtf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xB9").has_value());
    CHECK(jsontext::findInvalidUtf8("ab\xFF") == 2u);
    CHECK(jsontext::findInvalidUtf8("\xC0\xAF") == 0u);          // overlong '/'
    CHECK(jsontext::findInvalidUtf8("x\xED\xA0\x80") == 1u);     // UTF-16 surrogate
    CHECK(jsontext::findInvalidUtf8("\xF4\x90\x80\x80") == 0u);  // above U+10FFFF
    CHECK(jsontext::findInvalidUtf8("ok\xE2\x82") == 2u);        // truncated sequence
    CHECK(jsontext::findInvalidUtf8("\x80") == 0u);              // lone continuation byte
}

TEST_CASE("jsontext: nesting, number range and duplicate keys", "[patchfile]") {
    CHECK_FALSE(jsontext::findExcessiveNesting("[[\"[[[[[[\"]]", 2).has_value());
    CHECK(jsontext::findExcessiveNesting("[{\"a\":[1]}]", 2) == 6u);
    CHECK(jsontext::findNonFiniteNumber("{\"a1e999\": 1e308, \"b\": [2, -1e309]}") == 27u);
    CHECK_FALSE(jsontext::findNonFiniteNumber("[1e308, \"1e999\", 0.5e-400]").has_value());
    const auto dup = jsontext::findDuplicateKey(R"({"a": {"b": 1, "c": [{}, {"x": 1, "x": 2}]}})");
    REQUIRE(dup.has_value());
    CHECK(dup->pointer == "/a/c/1/x");
    CHECK(dup->offset == 34u);
    CHECK_FALSE(jsontext::findDuplicateKey(R"({"a": {"a": {"a": []}}, "b": [{"a": 1}, {"a": 2}]})").has_value());
}
