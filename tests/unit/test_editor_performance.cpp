// Performance mode (gui/model/performance.hpp): snapshots, morphing along each param's curve, knob
// automation looped with wrap-around, and the "performance" key of the patch file.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "gui/model/performance.hpp"

using namespace kabel;
using namespace kabel::editor;

namespace {

std::unique_ptr<Module> createNothing() {
    return nullptr;
}

// A private registry: one module type with a param of every curve, so these tests depend on no
// real module's ranges.
const Registry& testRegistry() {
    static const ModuleDescriptor kOsc{
        .id = "osc",
        .name = "Osc",
        .category = "Test",
        .params = {{.id = "freq", .name = "Freq", .min = 20.0f, .max = 20000.0f, .defaultValue = 440.0f, .curve = ParamCurve::Exponential},
                   {.id = "level", .name = "Level", .min = 0.0f, .max = 1.0f, .defaultValue = 0.5f, .curve = ParamCurve::Linear},
                   {.id = "shape",
                    .name = "Shape",
                    .min = 0.0f,
                    .max = 3.0f,
                    .defaultValue = 0.0f,
                    .curve = ParamCurve::Choice,
                    .choices = {"sine", "saw", "square", "triangle"}},
                   {.id = "steps", .name = "Steps", .min = 1.0f, .max = 16.0f, .defaultValue = 8.0f, .curve = ParamCurve::Integer},
                   {.id = "on", .name = "On", .min = 0.0f, .max = 1.0f, .defaultValue = 1.0f, .curve = ParamCurve::Toggle}},
        .create = createNothing,
    };
    static const Registry registry = [] {
        Registry r;
        r.add(kOsc);
        return r;
    }();
    return registry;
}

Patch smallPatch() {
    Patch p;
    p.modules.push_back({.id = "a", .type = "osc", .params = {{"freq", 110.0}, {"shape", 2.0}}});
    p.modules.push_back({.id = "b", .type = "osc"});
    p.modules.push_back({.id = "ghost", .type = "not-built", .params = {{"x", 1.0}}});
    return p;
}

double valueOf(const std::vector<ParamChange>& changes, const std::string& module, const std::string& param) {
    for (const ParamChange& c : changes)
        if (c.module == module && c.param == param) return c.value;
    return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

TEST_CASE("captureSnapshot fills in defaults for every param of known modules", "[editor][performance]") {
    const Snapshot s = captureSnapshot(smallPatch(), testRegistry(), "intro");
    CHECK(s.name == "intro");
    REQUIRE(s.values.size() == 2);  // the placeholder is left out
    CHECK(s.values.at("a") == std::map<std::string, double>{{"freq", 110.0}, {"level", 0.5}, {"on", 1.0}, {"shape", 2.0}, {"steps", 8.0}});
    CHECK(s.values.at("b") == std::map<std::string, double>{{"freq", 440.0}, {"level", 0.5}, {"on", 1.0}, {"shape", 0.0}, {"steps", 8.0}});
}

TEST_CASE("morph follows each param's curve and returns only changes", "[editor][performance]") {
    const Registry& reg = testRegistry();
    Patch patch = smallPatch();
    Snapshot a = captureSnapshot(patch, reg, "A");
    Snapshot b = a;
    b.name = "B";
    b.values["a"]["freq"] = 440.0;  // exponential 110 -> 440
    b.values["a"]["level"] = 1.0;   // linear 0.5 -> 1
    b.values["a"]["shape"] = 3.0;   // choice 2 -> 3
    b.values["a"]["steps"] = 16.0;  // integer 8 -> 16
    b.values["a"]["on"] = 0.0;      // toggle 1 -> 0

    SECTION("t = 0 is a, nothing differs from the patch it was captured from") {
        CHECK(morph(a, b, 0.0, patch, reg).empty());
    }
    SECTION("t = 0.25") {
        const auto c = morph(a, b, 0.25, patch, reg);
        REQUIRE(c.size() == 2);  // stepped params have not switched yet
        CHECK(valueOf(c, "a", "freq") == Approx(110.0 * std::pow(4.0, 0.25)).epsilon(1e-12));
        CHECK(valueOf(c, "a", "level") == 0.625);
    }
    SECTION("t = 0.5: geometric middle, linear middle, stepped params switch") {
        const auto c = morph(a, b, 0.5, patch, reg);
        REQUIRE(c.size() == 5);
        CHECK(valueOf(c, "a", "freq") == 220.0);
        CHECK(valueOf(c, "a", "level") == 0.75);
        CHECK(valueOf(c, "a", "shape") == 3.0);
        CHECK(valueOf(c, "a", "steps") == 16.0);
        CHECK(valueOf(c, "a", "on") == 0.0);
        // In module id, param id order.
        CHECK(c[0].param == "freq");
        CHECK(c[4].param == "steps");
    }
    SECTION("t = 1 is b exactly; clamped beyond") {
        for (double t : {1.0, 7.0}) {
            const auto c = morph(a, b, t, patch, reg);
            REQUIRE(c.size() == 5);
            CHECK(valueOf(c, "a", "freq") == 440.0);
            CHECK(valueOf(c, "a", "level") == 1.0);
        }
    }
    SECTION("params already at the morph value are left out") {
        patch.modules[0].params["level"] = 0.75;
        patch.modules[0].params["freq"] = 220.0;
        const auto c = morph(a, b, 0.5, patch, reg);
        CHECK(c.size() == 3);
        CHECK(std::isnan(valueOf(c, "a", "level")));
        CHECK(std::isnan(valueOf(c, "a", "freq")));
    }
    SECTION("params or modules missing from one side or from the patch are skipped") {
        b.values.erase("b");
        b.values["a"].erase("level");
        patch.modules[1].params["freq"] = 1000.0;  // b differs from the snapshot but is not in b
        a.values["gone"]["freq"] = 1.0;
        b.values["gone"]["freq"] = 2.0;
        const auto c = morph(a, b, 0.5, patch, reg);
        CHECK(c.size() == 4);
        CHECK(std::isnan(valueOf(c, "a", "level")));
    }
    SECTION("recall restores a snapshot") {
        patch.modules[1].params["level"] = 0.1;
        const auto c = recall(a, patch, reg);
        REQUIRE(c.size() == 1);
        CHECK(c[0] == ParamChange{"b", "level", 0.5});
    }
}

TEST_CASE("automation records and replays as a loop", "[editor][performance]") {
    Automation a;
    CHECK(a.empty());
    CHECK_FALSE(a.recording());
    a.record(1.0, "x", "p", 9.0);  // not recording: ignored
    a.startRecording(100.0);
    CHECK(a.recording());
    a.record(100.0, "a", "freq", 1.0);
    a.record(100.5, "a", "freq", 2.0);
    a.record(101.0, "b", "level", 0.25);
    a.record(103.5, "a", "freq", 3.0);
    CHECK(a.due(-1.0, 10.0).empty());  // nothing plays while recording
    a.stopRecording(104.0);
    CHECK_FALSE(a.recording());
    CHECK(a.length() == 4.0);
    REQUIRE(a.events().size() == 4);
    CHECK(a.events()[1] == AutomationEvent{0.5, "a", "freq", 2.0});
    a.record(104.5, "a", "freq", 7.0);  // after stop: ignored
    CHECK(a.events().size() == 4);

    SECTION("the first frame includes time 0 when started from a negative time") {
        const auto c = a.due(-1.0, 0.0);
        REQUIRE(c.size() == 1);
        CHECK(c[0] == ParamChange{"a", "freq", 1.0});
    }
    SECTION("half-open intervals: each event once across consecutive frames") {
        CHECK(a.due(0.0, 0.5) == std::vector<ParamChange>{{"a", "freq", 2.0}});
        CHECK(a.due(0.5, 1.0) == std::vector<ParamChange>{{"b", "level", 0.25}});
        CHECK(a.due(1.0, 3.4).empty());
        CHECK(a.due(3.4, 3.6) == std::vector<ParamChange>{{"a", "freq", 3.0}});
    }
    SECTION("wrap-around: the end of one loop and the start of the next, in time order") {
        const auto c = a.due(3.4, 4.6);  // 3.5, then 4.0 (= 0), then 4.5 (= 0.5)
        REQUIRE(c.size() == 3);
        CHECK(c[0].value == 3.0);
        CHECK(c[1].value == 1.0);
        CHECK(c[2].value == 2.0);
        // Many loops later, the same pattern.
        CHECK(a.due(40.9, 41.0) == std::vector<ParamChange>{{"b", "level", 0.25}});
    }
    SECTION("a span longer than the loop plays each event once") {
        const auto c = a.due(0.25, 20.0);
        CHECK(c.size() == 4);
    }
    SECTION("clear forgets everything") {
        a.clear();
        CHECK(a.empty());
        CHECK(a.length() == 0.0);
        CHECK(a.due(-1.0, 10.0).empty());
    }
    SECTION("a new take replaces the old one") {
        a.startRecording(200.0);
        a.record(200.25, "c", "on", 0.0);
        a.stopRecording(201.0);
        CHECK(a.length() == 1.0);
        CHECK(a.due(0.0, 1.0) == std::vector<ParamChange>{{"c", "on", 0.0}});
    }
}

TEST_CASE("the performance key round-trips through the patch file", "[editor][performance]") {
    const Registry& reg = testRegistry();
    Patch patch = smallPatch();
    patch.extraJson = R"({"zz_future": {"keep": [1, 2]}})";
    Performance perf;
    perf.snapshots.push_back(captureSnapshot(patch, reg, "verse"));
    Snapshot chorus = perf.snapshots[0];
    chorus.name = "chorus";
    chorus.values["a"]["freq"] = 0.1;
    perf.snapshots.push_back(chorus);
    perf.morphA = 0;
    perf.morphB = 1;
    perf.morph = 0.375;
    perf.automation.assign({{0.5, "a", "level", 0.25}, {0.0, "b", "freq", 220.0}}, 2.0);
    perf.extraJson = R"({"later":true})";  // compact, as read back
    writePerformance(patch, perf);

    const std::string text = serializePatch(patch);
    const LoadedPatch loaded = parsePatch(text, "perf.kabel", reg);
    CHECK(nlohmann::json::parse(loaded.patch.extraJson) == nlohmann::json::parse(patch.extraJson));
    CHECK(nlohmann::json::parse(loaded.patch.extraJson)["zz_future"] == nlohmann::json::parse(R"({"keep": [1, 2]})"));
    std::string problem = "stale";
    const Performance back = readPerformance(loaded.patch, &problem);
    CHECK(problem.empty());
    CHECK(back == perf);
    REQUIRE(back.automation.events().size() == 2);
    CHECK(back.automation.events()[0].module == "b");  // sorted by time
    CHECK(serializePatch(loaded.patch) == text);

    SECTION("an empty performance removes the key and keeps the others") {
        Patch p = loaded.patch;
        writePerformance(p, Performance{});
        CHECK(nlohmann::json::parse(p.extraJson) == nlohmann::json::parse(R"({"zz_future": {"keep": [1, 2]}})"));
        CHECK(readPerformance(p) == Performance{});
        Patch plain = smallPatch();
        writePerformance(plain, Performance{});
        CHECK(plain.extraJson.empty());
    }
}

TEST_CASE("a bad performance value reads as empty with the reason", "[editor][performance]") {
    struct Case {
        const char* json;
        const char* problem;
    };
    const Case cases[] = {
        {R"({"performance": 3})", "performance: expected an object"},
        {R"({"performance": {"snapshots": {}}})", "performance: /snapshots: expected an array"},
        {R"({"performance": {"snapshots": [{"name": "a", "values": {"osc": {"freq": "high"}}}]}})",
         "performance: /snapshots/0/values/osc/freq: expected a number"},
        {R"({"performance": {"snapshots": [{"values": {}}]}})", "performance: /snapshots/0/name: missing"},
        {R"({"performance": {"morph": {"a": 2}}})", "performance: /morph/a: no snapshot 2"},
        {R"({"performance": {"morph": {"a": 0.5}}})", "performance: /morph/a: expected a snapshot index"},
        {R"({"performance": {"automation": {"length": -1}}})", "performance: /automation/length: expected a length >= 0"},
        {R"({"performance": {"automation": {"length": 1, "events": [[0, "a", "b"]]}}})",
         "performance: /automation/events/0: expected [time, module, param, value]"},
    };
    int ran = 0;
    for (const Case& c : cases) {
        Patch p;
        p.extraJson = c.json;
        std::string problem;
        const Performance perf = readPerformance(p, &problem);
        INFO(c.json);
        CHECK(perf == Performance{});
        CHECK(problem == c.problem);
        ++ran;
    }
    CHECK(ran == 8);

    Patch absent;
    absent.extraJson = R"({"other": 1})";
    std::string problem = "x";
    CHECK(readPerformance(absent, &problem).empty());
    CHECK(problem.empty());
}
