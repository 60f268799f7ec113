// Real-time safety: nothing the audio thread runs may allocate or lock, while the UI thread
// edits the patch (new plans every few blocks), moves params and frees retired plans.
#include <catch2/catch.hpp>

#include <mutex>
#include <vector>

#include "core/module/registry.hpp"
#include "tests/support/edit_stress.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel;
using namespace kabel::test;

TEST_CASE("the allocation counter sees allocations and locks (negative control)", "[realtime]") {
    if (!kRtGuardActive) return;  // sanitizer build: the counter is off
    RtCounts counts;
    {
        RtGuard guard;
        { std::vector<int> v(100); }
        std::mutex m;
        m.lock();
        m.unlock();
        counts = guard.counts();
    }
    CHECK(counts.allocations == 2);  // new + delete
    CHECK(counts.locks == 1);
}

TEST_CASE("the audio thread never allocates or locks while plans are swapped and params move", "[realtime]") {
    if (!kRtGuardActive) return;
    SECTION("test modules") {
        StressOptions options;
        options.registry = &testRegistry();
        options.types = {"tconst", "tgain", "tsum", "tcount", "tsine", "tout", "tramp"};
        options.edits = 3000;
        const StressResult r = runEditStress(options);
        INFO("blocks " << r.blocks << ", plan swaps " << r.planSwaps << ", compiles " << r.compiles);
        CHECK(r.planSwaps >= 500);
        CHECK(r.blocks >= 1000);
        CHECK(r.audioThread.allocations == 0);
        CHECK(r.audioThread.locks == 0);
    }
    SECTION("every registered module type") {
        StressOptions options;
        options.registry = &Registry::global();
        options.edits = 3000;
        options.seed = 7;
        const StressResult r = runEditStress(options);
        INFO("module types " << Registry::global().all().size() << ", blocks " << r.blocks << ", plan swaps " << r.planSwaps);
        CHECK(r.planSwaps >= 500);
        CHECK(r.audioThread.allocations == 0);
        CHECK(r.audioThread.locks == 0);
    }
}
