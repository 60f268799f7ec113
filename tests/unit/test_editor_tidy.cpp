// Node geometry and Tidy Up (gui/model/node_layout.hpp).
#include <catch2/catch.hpp>

#include "core/module/registry.hpp"
#include "gui/model/node_layout.hpp"

using namespace kabel;
using namespace kabel::editor;

namespace {

ModuleSpec module(const std::string& id, const std::string& type, float x, float y) {
    ModuleSpec m;
    m.id = id;
    m.type = type;
    m.x = x;
    m.y = y;
    return m;
}

CableSpec cable(const std::string& from, const std::string& to) {
    return CableSpec{*PortRef::parse(from), *PortRef::parse(to)};
}

}  // namespace

TEST_CASE("a node is as tall as its port rows and param rows", "[editor][tidy]") {
    const ModuleDescriptor& saw = *Registry::global().find("saw");
    const NodeLayout l = nodeLayout("saw");
    CHECK(l.portRows == static_cast<int>(std::max(saw.inputs.size(), saw.outputs.size())));
    CHECK(l.paramRows == static_cast<int>(saw.params.size()));
    CHECK(l.height == Approx(l.header + (l.portRows + l.paramRows) * l.row + 4 + 8));
    CHECK(nodeLayout("scope").viewHeight > 0.0f);
    const NodeLayout missing = nodeLayout("no-such-type");
    CHECK(missing.portRows == 1);
    CHECK(missing.paramRows == 0);
}

TEST_CASE("tidy up puts modules in columns by signal flow and keeps cycles readable", "[editor][tidy]") {
    Patch p;
    // Declared out of order and piled up at one spot; a feedback cable from the delay back to the mixer.
    p.modules = {module("out", "out", 500, 500), module("mix", "mixer", 500, 500), module("osc", "sine", 500, 500),
                 module("lfo", "lfo", 500, 500), module("echo", "delay", 500, 500)};
    p.cables = {cable("lfo.out", "osc.pitch"), cable("osc.out", "mix.in1"), cable("mix.out", "echo.in"), cable("echo.out", "mix.in2"),
                cable("echo.out", "out.left")};
    CHECK(tidyLayout(p) >= 4);
    const auto x = [&](const char* id) { return p.findModule(id)->x; };
    CHECK(x("lfo") == 500.0f);  // the source column starts at the old top-left
    CHECK(x("osc") > x("lfo"));
    CHECK(x("mix") > x("osc"));
    CHECK(x("echo") > x("mix"));  // the cable back to the mixer is ignored
    CHECK(x("out") > x("echo"));
    CHECK(x("osc") - x("lfo") == nodeLayout("lfo").width + 70.0f);
    // Two unconnected sources share the first column, stacked with the gap, in patch order.
    Patch q;
    q.modules = {module("a", "sine", 0, 40), module("b", "saw", 300, 10)};
    tidyLayout(q);
    CHECK(q.modules[0].x == 0.0f);
    CHECK(q.modules[1].x == 0.0f);
    CHECK(q.modules[0].y == 10.0f);
    CHECK(q.modules[1].y == 10.0f + nodeLayout("sine").height + 24.0f);
}

TEST_CASE("tidy up of a selection moves only the selected modules", "[editor][tidy]") {
    Patch p;
    p.modules = {module("a", "sine", 100, 100), module("b", "vca", 100, 100), module("c", "out", 900, 900)};
    p.cables = {cable("a.out", "b.in"), cable("b.out", "c.left")};
    tidyLayout(p, {"a", "b"});
    CHECK(p.findModule("a")->x == 100.0f);
    CHECK(p.findModule("b")->x == 100.0f + nodeLayout("sine").width + 70.0f);
    CHECK(p.findModule("c")->x == 900.0f);
    CHECK(p.findModule("c")->y == 900.0f);
}
