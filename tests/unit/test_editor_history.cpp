// The editor's undo history: sequences, gesture merging, the limit, redo invalidation, shared
// snapshots, and the cost of record + undo on a 500-module patch.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/patch/patch_file.hpp"
#include "gui/model/history.hpp"

using namespace kabel;
using kabel::editor::History;

namespace {

Patch withModules(int count) {
    Patch p;
    p.meta.title = "History test";
    for (int i = 0; i < count; ++i) {
        ModuleSpec m;
        m.id = "m" + std::to_string(i);
        m.type = i % 2 ? "svf" : "saw";
        m.params = {{"freq", 100.0 + i}, {"q", 0.5}, {"level", 0.25}};
        m.x = static_cast<float>(i % 25) * 200.0f;
        m.y = static_cast<float>(i / 25) * 150.0f;
        p.modules.push_back(m);
    }
    for (int i = 0; i + 1 < count; i += 2)
        p.cables.push_back(CableSpec{{"m" + std::to_string(i), "out"}, {"m" + std::to_string(i + 1), "in"}, {}});
    return p;
}

Patch withParam(Patch p, double value) {
    p.modules.at(0).params["freq"] = value;
    return p;
}

std::string text(const Patch& p) {
    return serializePatch(p);
}

}  // namespace

TEST_CASE("History undo and redo walk back and forth through recorded edits", "[editor][history]") {
    History h;
    const Patch p0 = withModules(2);
    Patch p1 = p0;
    p1.modules.push_back(p0.modules[0]);
    p1.modules.back().id = "added";
    Patch p2 = p1;
    p2.cables.clear();

    CHECK_FALSE(h.canUndo());
    CHECK(h.undoLabel().empty());
    CHECK_FALSE(h.undo(p0).has_value());

    h.record(p0, "Add Saw");
    h.record(p1, "Delete 1 cable");
    CHECK(h.undoDepth() == 2);
    CHECK(h.undoLabel() == "Delete 1 cable");

    auto back1 = h.undo(p2);
    REQUIRE(back1);
    CHECK(text(*back1) == text(p1));
    CHECK(h.redoLabel() == "Delete 1 cable");
    CHECK(h.undoLabel() == "Add Saw");
    auto back0 = h.undo(*back1);
    REQUIRE(back0);
    CHECK(text(*back0) == text(p0));
    CHECK_FALSE(h.canUndo());
    CHECK(h.redoDepth() == 2);
    CHECK(h.redoLabel() == "Add Saw");

    auto fwd1 = h.redo(*back0);
    REQUIRE(fwd1);
    CHECK(text(*fwd1) == text(p1));
    auto fwd2 = h.redo(*fwd1);
    REQUIRE(fwd2);
    CHECK(text(*fwd2) == text(p2));
    CHECK_FALSE(h.canRedo());
    CHECK_FALSE(h.redo(p2).has_value());
    CHECK(h.undoDepth() == 2);
    CHECK(h.undoLabel() == "Delete 1 cable");

    h.clear();
    CHECK(h.undoDepth() == 0);
    CHECK(h.redoDepth() == 0);
}

TEST_CASE("History merges records with the same key within one gesture", "[editor][history]") {
    History h;
    const Patch start = withModules(2);

    SECTION("a knob drag is one undo step back to where the drag began") {
        h.record(start, "Change m0.freq", "param:m0.freq");
        h.record(withParam(start, 200), "Change m0.freq", "param:m0.freq");
        h.record(withParam(start, 300), "Change m0.freq to 400", "param:m0.freq");
        CHECK(h.undoDepth() == 1);
        CHECK(h.undoLabel() == "Change m0.freq to 400");
        auto back = h.undo(withParam(start, 400));
        REQUIRE(back);
        CHECK(back->modules[0].params.at("freq") == 100.0);
        auto fwd = h.redo(*back);
        REQUIRE(fwd);
        CHECK(fwd->modules[0].params.at("freq") == 400.0);
    }
    SECTION("endGesture starts a new step even with the same key") {
        h.record(start, "Change m0.freq", "param:m0.freq");
        h.endGesture();
        h.record(withParam(start, 200), "Change m0.freq", "param:m0.freq");
        CHECK(h.undoDepth() == 2);
        CHECK(h.undo(withParam(start, 300))->modules[0].params.at("freq") == 200.0);
    }
    SECTION("a different key or no key never merges") {
        h.record(start, "Change m0.freq", "param:m0.freq");
        h.record(withParam(start, 200), "Move 1 module", "move");
        h.record(withParam(start, 300), "Add Saw");
        h.record(withParam(start, 400), "Add Saw");
        CHECK(h.undoDepth() == 4);
    }
    SECTION("undo ends the gesture: the next record is a new step") {
        h.record(start, "Change m0.freq", "param:m0.freq");
        h.record(withParam(start, 200), "Change m0.q", "param:m0.q");
        REQUIRE(h.undo(withParam(start, 300)));
        h.record(withParam(start, 200), "Change m0.freq", "param:m0.freq");
        CHECK(h.undoDepth() == 2);
    }
}

TEST_CASE("History drops the oldest steps beyond its limit", "[editor][history]") {
    History h(3);
    const Patch start = withModules(1);
    for (int i = 0; i < 5; ++i) h.record(withParam(start, 1000 + i), "Edit " + std::to_string(i));
    CHECK(h.undoDepth() == 3);
    Patch now = withParam(start, 1005);
    double oldest = 0;
    while (auto back = h.undo(now)) {
        now = *back;
        oldest = now.modules[0].params.at("freq");
    }
    CHECK(oldest == 1002.0);  // edits 0 and 1 fell off
    CHECK(h.redoDepth() == 3);

    History none(0);
    none.record(start, "Edit");
    CHECK_FALSE(none.canUndo());
}

TEST_CASE("History clears redo when a new edit is recorded", "[editor][history]") {
    History h;
    const Patch start = withModules(1);
    h.record(withParam(start, 1), "Edit 1");
    h.record(withParam(start, 2), "Edit 2");
    REQUIRE(h.undo(withParam(start, 3)));
    REQUIRE(h.canRedo());
    h.record(withParam(start, 2), "Edit 3");
    CHECK_FALSE(h.canRedo());
    CHECK(h.redoLabel().empty());
    CHECK_FALSE(h.redo(withParam(start, 4)).has_value());
    CHECK(h.undoDepth() == 2);
}

TEST_CASE("History snapshots share unchanged modules and restore every field", "[editor][history]") {
    History h;
    Patch p = withModules(500);
    p.modules[3].label = "Named";
    p.modules[3].stateJson = R"({"steps":[1,0,1]})";
    p.modules[3].extraJson = R"({"future":true})";
    MidiMapping cc;
    cc.channel = 1;
    cc.number = 74;
    cc.module = "m0";
    cc.param = "freq";
    cc.min = 200.0;
    p.midiMap.push_back(cc);
    p.extraJson = R"({"top":1})";
    const Patch original = p;
    for (int i = 0; i < 100; ++i) {
        h.record(p, "Move m" + std::to_string(i));
        p.modules[static_cast<std::size_t>(i)].x += 10.0f;
    }
    // 500 modules in the first snapshot, then one changed module per step.
    CHECK(h.storedModuleCount() == 599);
    Patch now = p;
    while (auto back = h.undo(now)) now = *back;
    CHECK(text(now) == text(original));
    // Reordering modules (delete + re-add) still shares them by id.
    History reordered;
    Patch q = withModules(50);
    reordered.record(q, "first");
    std::swap(q.modules[0], q.modules[49]);
    reordered.record(q, "second");
    CHECK(reordered.storedModuleCount() == 50);
    CHECK(text(*reordered.undo(withModules(1))) == text(q));
}

TEST_CASE("History record and undo cost on a 500-module patch", "[editor][history][bench]") {
    const Patch big = withModules(500);
    History h;
    // Warm the history so that record shares against a previous snapshot, as in a session.
    h.record(big, "warm");
    constexpr int kRounds = 50;
    double recordUs = 0, undoUs = 0;
    Patch current = withParam(big, 1);
    for (int i = 0; i < kRounds; ++i) {
        const Patch edited = withParam(big, 2 + i);
        auto t0 = std::chrono::steady_clock::now();
        h.record(current, "Change m0.freq");
        auto t1 = std::chrono::steady_clock::now();
        auto back = h.undo(edited);
        auto t2 = std::chrono::steady_clock::now();
        REQUIRE(back);
        CHECK(text(*back) == text(current));
        current = edited;
        recordUs += std::chrono::duration<double, std::micro>(t1 - t0).count();
        undoUs += std::chrono::duration<double, std::micro>(t2 - t1).count();
    }
    recordUs /= kRounds;
    undoUs /= kRounds;
    std::printf("History on 500 modules: record %.1f us, undo %.1f us (mean of %d)\n", recordUs, undoUs, kRounds);
    CHECK(recordUs + undoUs < 50000.0);  // far below one frame even in debug builds on a loaded machine
}
