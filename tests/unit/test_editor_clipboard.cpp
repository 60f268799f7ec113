// The editor's group operations on a Patch: copy/paste (also into another patch), duplicate,
// remove, align and distribute.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"
#include "gui/model/arrange.hpp"
#include "gui/model/clipboard.hpp"

using namespace kabel;
using namespace kabel::editor;

namespace {

ModuleSpec module(std::string id, std::string type, float x, float y) {
    ModuleSpec m;
    m.id = std::move(id);
    m.type = std::move(type);
    m.x = x;
    m.y = y;
    return m;
}

CableSpec cable(const std::string& from, const std::string& to) {
    return CableSpec{*PortRef::parse(from), *PortRef::parse(to), {}};
}

MidiMapping mapping(const std::string& module, const std::string& param, int cc) {
    MidiMapping m;
    m.channel = 1;
    m.number = cc;
    m.module = module;
    m.param = param;
    return m;
}

/// osc -> lpf -> out, lfo -> lpf.cutoff; CC 74 on lpf.cutoff, CC 1 on lfo.rate.
Patch source() {
    Patch p;
    p.modules = {module("osc", "saw", 100, 50), module("lpf", "svf", 300, 80), module("out", "out", 500, 50),
                 module("lfo", "lfo", 120, 200)};
    p.modules[1].params = {{"cutoff", 800.0}, {"q", 3.0}};
    p.modules[1].label = "Filter";
    p.modules[1].stateJson = R"({"memory":[1,2]})";
    p.cables = {cable("osc.out", "lpf.in"), cable("lpf.lp", "out.left"), cable("lfo.out", "lpf.cutoff")};
    p.midiMap = {mapping("lpf", "cutoff", 74), mapping("lfo", "rate", 1)};
    return p;
}

std::vector<std::string> cableTexts(const Patch& p) {
    std::vector<std::string> out;
    for (const auto& c : p.cables) out.push_back(c.from.str() + ">" + c.to.str());
    return out;
}

const Registry& noTypes() {
    static const Registry registry;
    return registry;
}

}  // namespace

TEST_CASE("Copy and paste into another patch renames clashing ids and keeps internal cables", "[editor][clipboard]") {
    const Patch from = source();
    const std::string clip = copyModules(from, {"lpf", "osc", "nope"});
    CHECK(clip.find("\"clip\"") != std::string::npos);

    Patch target;
    target.modules = {module("osc", "sine", 0, 0), module("lpf", "svf", 10, 10), module("lpf-2", "svf", 20, 20)};
    target.cables = {cable("osc.out", "lpf.in")};
    const auto ids = pasteModules(target, clip, 1000, 2000, noTypes());

    // Patch order is kept (osc before lpf); "osc" -> "osc-2", "lpf" clashes with lpf and lpf-2 -> "lpf-3".
    REQUIRE(ids == std::vector<std::string>{"osc-2", "lpf-3"});
    REQUIRE(target.modules.size() == 5);
    const ModuleSpec* osc = target.findModule("osc-2");
    const ModuleSpec* lpf = target.findModule("lpf-3");
    REQUIRE(osc);
    REQUIRE(lpf);
    // The clip's top-left corner (min x 100, min y 50) lands at (1000, 2000).
    CHECK(osc->x == 1000.0f);
    CHECK(osc->y == 2000.0f);
    CHECK(lpf->x == 1200.0f);
    CHECK(lpf->y == 2030.0f);
    CHECK(lpf->type == "svf");
    CHECK(lpf->params == std::map<std::string, double>{{"cutoff", 800.0}, {"q", 3.0}});
    CHECK(lpf->label == "Filter");
    CHECK(lpf->stateJson == R"({"memory":[1,2]})");
    // Only the cable inside the selection came along, renamed; the target's own cable is untouched.
    CHECK(cableTexts(target) == std::vector<std::string>{"osc.out>lpf.in", "osc-2.out>lpf-3.in"});
    // The mapping of the copied filter follows it; the LFO's does not come along.
    REQUIRE(target.midiMap.size() == 1);
    CHECK(target.midiMap[0].module == "lpf-3");
    CHECK(target.midiMap[0].number == 74);
    // The result is a valid patch.
    CHECK_NOTHROW(parsePatch(serializePatch(target), "target", noTypes()));

    SECTION("pasting the same clip again gives the next free ids") {
        const auto again = pasteModules(target, clip, 0, 0, noTypes());
        CHECK(again == std::vector<std::string>{"osc-3", "lpf-4"});
        CHECK(target.cables.back().from.module == "osc-3");
        CHECK(target.cables.back().to.module == "lpf-4");
    }
    SECTION("ids that are free are kept") {
        Patch empty;
        CHECK(pasteModules(empty, clip, 0, 0, noTypes()) == std::vector<std::string>{"osc", "lpf"});
    }
}

TEST_CASE("A whole patch file pastes like a clip", "[editor][clipboard]") {
    Patch target;
    const auto ids = pasteModules(target, serializePatch(source()), 0, 0, noTypes());
    CHECK(ids == std::vector<std::string>{"osc", "lpf", "out", "lfo"});
    CHECK(target.cables.size() == 3);
    CHECK(target.midiMap.size() == 2);
    CHECK(target.findModule("osc")->x == 0.0f);
    CHECK(target.findModule("lfo")->y == 150.0f);
}

TEST_CASE("Pasting text that is not a clip throws InputError naming the clipboard", "[editor][clipboard]") {
    Patch target = source();
    const std::string before = serializePatch(target);
    struct Case {
        std::string text;
        std::string reasonContains;
    };
    const std::vector<Case> cases = {
        {"hello world", ""},
        {"", "empty"},
        {R"({"format": "something-else", "version": 1})", "kabel-patch"},
        {R"({"format": "kabel-patch", "version": 1, "modules": [{"id": "a b", "type": "saw"}]})", ""},
        {R"({"format": "kabel-patch", "version": 1, "modules": [], "cables": [{"from": "x.out", "to": "y.in"}]})", ""},
    };
    int checked = 0;
    for (const auto& c : cases) {
        INFO(c.text);
        try {
            pasteModules(target, c.text, 0, 0, noTypes());
            FAIL("no InputError");
        } catch (const InputError& e) {
            CHECK(e.file() == "clipboard");
            CHECK(std::string(e.what()).rfind("clipboard:", 0) == 0);
            if (!c.reasonContains.empty()) CHECK(e.reason().find(c.reasonContains) != std::string::npos);
            ++checked;
        }
        CHECK(serializePatch(target) == before);
    }
    CHECK(checked == static_cast<int>(cases.size()));
}

TEST_CASE("Duplicate copies the modules with the cables among them only", "[editor][clipboard]") {
    Patch p = source();
    const auto ids = duplicateModules(p, {"lpf", "lfo", "lpf"}, 20, 30);
    REQUIRE(ids == std::vector<std::string>{"lpf-2", "lfo-2"});
    REQUIRE(p.modules.size() == 6);
    CHECK(p.findModule("lpf-2")->x == 320.0f);
    CHECK(p.findModule("lpf-2")->y == 110.0f);
    CHECK(p.findModule("lfo-2")->x == 140.0f);
    CHECK(p.findModule("lfo-2")->params == p.findModule("lfo")->params);
    // lfo -> lpf.cutoff is internal to the selection; osc -> lpf and lpf -> out are not.
    CHECK(cableTexts(p) == std::vector<std::string>{"osc.out>lpf.in", "lpf.lp>out.left", "lfo.out>lpf.cutoff", "lfo-2.out>lpf-2.cutoff"});
    REQUIRE(p.midiMap.size() == 4);
    CHECK(p.midiMap[2].module == "lpf-2");
    CHECK(p.midiMap[3].module == "lfo-2");
    CHECK(duplicateModules(p, {"missing"}, 1, 1).empty());
    CHECK(p.modules.size() == 6);
}

TEST_CASE("Remove drops the modules, their cables and their MIDI mappings", "[editor][clipboard]") {
    Patch p = source();
    removeModules(p, {"lpf", "missing"});
    CHECK(p.modules.size() == 3);
    CHECK_FALSE(p.findModule("lpf"));
    CHECK(p.cables.empty());  // every cable touched the filter
    REQUIRE(p.midiMap.size() == 1);
    CHECK(p.midiMap[0].module == "lfo");
    removeModules(p, {"osc", "out", "lfo"});
    CHECK(p.modules.empty());
    CHECK(p.midiMap.empty());
}

TEST_CASE("Align and distribute set exact coordinates", "[editor][arrange]") {
    Patch p;
    p.modules = {module("a", "saw", 100, 10), module("b", "saw", 40, 300), module("c", "saw", 250, 70), module("d", "saw", 900, 900)};
    const std::vector<std::string> abc{"a", "b", "c"};
    auto xs = [&] { return std::vector<float>{p.modules[0].x, p.modules[1].x, p.modules[2].x, p.modules[3].x}; };
    auto ys = [&] { return std::vector<float>{p.modules[0].y, p.modules[1].y, p.modules[2].y, p.modules[3].y}; };

    SECTION("as points") {
        alignModules(p, abc, Align::Left);
        CHECK(xs() == std::vector<float>{40, 40, 40, 900});
        CHECK(ys() == std::vector<float>{10, 300, 70, 900});
        alignModules(p, abc, Align::Bottom);
        CHECK(ys() == std::vector<float>{300, 300, 300, 900});
    }
    SECTION("with sizes") {
        // a: 100 x 50, b: 200 x 100, c: 50 x 20
        const ModuleSizeFn size = [](const ModuleSpec& m) {
            return m.id == "a" ? ModuleSize{100, 50} : m.id == "b" ? ModuleSize{200, 100} : ModuleSize{50, 20};
        };
        alignModules(p, abc, Align::Right, size);  // right edges: 200, 240, 300 -> 300
        CHECK(xs() == std::vector<float>{200, 100, 250, 900});
        alignModules(p, abc, Align::CenterY, size);  // bounding box y 10..400 -> centre 205
        CHECK(ys() == std::vector<float>{180, 155, 195, 900});
        alignModules(p, abc, Align::Top, size);
        CHECK(ys() == std::vector<float>{155, 155, 155, 900});
        alignModules(p, abc, Align::CenterX, size);  // x 100..300 -> centre 200
        CHECK(xs() == std::vector<float>{150, 100, 175, 900});
    }
    SECTION("distribute keeps the ends and makes the gaps equal") {
        p.modules[0].x = 0;
        p.modules[1].x = 30;
        p.modules[2].x = 300;
        alignModules(p, abc, Align::DistributeX);
        CHECK(xs() == std::vector<float>{0, 150, 300, 900});
        const ModuleSizeFn size = [](const ModuleSpec& m) { return m.id == "a" ? ModuleSize{0, 100} : ModuleSize{0, 40}; };
        // By y: a (10, h 100), c (70, h 40), b (300, h 40): span 10..340, occupied 180 -> gap 75.
        alignModules(p, abc, Align::DistributeY, size);
        CHECK(ys() == std::vector<float>{10, 300, 185, 900});
    }
    SECTION("too few modules change nothing") {
        alignModules(p, {"a"}, Align::Left);
        alignModules(p, {"a", "b", "missing"}, Align::DistributeX);
        CHECK(xs() == std::vector<float>{100, 40, 250, 900});
    }
}
