// Background loading and immutable values for the audio thread: Worker, RtValue, AsyncLoad, and
// module state flowing from the document through the session.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/module/rt_value.hpp"
#include "core/util/worker.hpp"
#include "tests/support/patch_builder.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel;
using namespace kabel::test;

namespace {

struct Counted {
    static inline std::atomic<int> alive{0};
    int value = 0;
    Counted() { ++alive; }
    explicit Counted(int v) : value(v) { ++alive; }
    ~Counted() { --alive; }
};

}  // namespace

TEST_CASE("RtValue hands values to the audio thread and back to be freed", "[loading]") {
    {
        RtValue<Counted> value(4);
        Counted::alive = 0;
        CHECK(value.get() == nullptr);
        auto first = std::make_unique<const Counted>(1);
        REQUIRE(value.publish(first));
        CHECK(value.latest()->value == 1);
        {
            RtGuard guard;  // the audio side neither allocates nor frees
            CHECK(value.get()->value == 1);
            CHECK(guard.counts().allocations == 0);
        }
        for (int i = 2; i <= 3; ++i) {
            auto next = std::make_unique<const Counted>(i);
            REQUIRE(value.publish(next));
        }
        {
            RtGuard guard;
            CHECK(value.get()->value == 3);  // takes the newest; 1 and 2 go back
            CHECK(guard.counts().allocations == 0);
        }
        CHECK(Counted::alive == 3);
        value.collect();
        CHECK(Counted::alive == 1);
    }
    CHECK(Counted::alive == 0);  // the destructor frees the current value
}

TEST_CASE("AsyncLoad loads on the worker, keeps the old value on failure, and ignores superseded loads", "[loading]") {
    Worker worker;
    AsyncLoad<Counted> load;
    load.request(&worker, [] { return std::make_unique<Counted>(7); });
    CHECK(load.pending());
    worker.drain();
    load.collect();
    CHECK_FALSE(load.pending());
    CHECK(load.error().empty());
    CHECK(load.get()->value == 7);

    load.request(&worker, []() -> std::unique_ptr<Counted> { throw std::runtime_error("kick.wav: not a sound file"); });
    worker.drain();
    CHECK(load.error() == "kick.wav: not a sound file");
    CHECK(load.get()->value == 7);  // still playing the last good value

    std::atomic<bool> release{false};
    load.request(&worker, [&] {
        while (!release) std::this_thread::yield();
        return std::make_unique<Counted>(8);
    });
    load.request(&worker, [] { return std::make_unique<Counted>(9); });  // supersedes the slow one
    release = true;
    worker.drain();
    load.collect();
    CHECK(load.get()->value == 9);
    CHECK(load.error().empty());

    SECTION("without a worker the load happens at once") {
        AsyncLoad<Counted> now;
        now.request(nullptr, [] { return std::make_unique<Counted>(3); });
        CHECK(now.get()->value == 3);
    }
}

TEST_CASE("a module destroyed while its load runs is not touched by the result", "[loading]") {
    Worker worker;
    std::atomic<bool> release{false};
    {
        AsyncLoad<Counted> load;
        load.request(&worker, [&] {
            while (!release) std::this_thread::yield();
            return std::make_unique<Counted>(1);
        });
    }  // destroyed with the job still running
    release = true;
    worker.drain();  // the completion finds its owner gone and drops the result
    CHECK(Counted::alive == 0);
}

TEST_CASE("module state loads from files relative to the patch, in the background", "[loading][session]") {
    TempDir dir;
    dir.write("value.txt", "0.25");
    dir.write("other.txt", "0.5");
    dir.write("broken.txt", "not a number");
    Engine engine(EngineConfig{48000.0, 64, 1, false});
    Session session(engine, testRegistry());
    Patch patch = makePatch({moduleSpec("f", "tfile"), moduleSpec("o", "tout")}, {{"f.out", "o.in"}});
    patch.modules[0].stateJson = R"({"file": "value.txt"})";
    session.load(patch, dir.path);
    session.finishLoading();
    CHECK(runBlocks(engine, &session, 1)[0] == 0.25f);
    CHECK(session.messages().empty());

    SECTION("a state change in the document loads the new file") {
        session.edit([](Patch& p) { p.modules[0].stateJson = R"({"file": "other.txt"})"; });
        session.finishLoading();
        CHECK(runBlocks(engine, &session, 1)[0] == 0.5f);
    }
    SECTION("a bad file is reported and the old value keeps playing") {
        session.edit([](Patch& p) { p.modules[0].stateJson = R"({"file": "broken.txt"})"; });
        session.finishLoading();
        CHECK(runBlocks(engine, &session, 1)[0] == 0.25f);
        REQUIRE(session.messages().size() == 1);
        CHECK(session.messages()[0] == "module 'f': broken.txt: not a number");
    }
    SECTION("state the module refuses is reported") {
        session.edit([](Patch& p) { p.modules[0].stateJson = R"({"file": 3})"; });
        REQUIRE(session.messages().size() == 1);
        CHECK(session.messages()[0] == "module 'f': state not loaded: \"file\" must be a string");
        CHECK(runBlocks(engine, &session, 1)[0] == 0.25f);
    }
    SECTION("clearing the state returns to the default") {
        session.edit([](Patch& p) { p.modules[0].stateJson.clear(); });
        session.finishLoading();
        CHECK(runBlocks(engine, &session, 1)[0] == 0.0f);
    }
}
