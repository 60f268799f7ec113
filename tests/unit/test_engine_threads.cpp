// The engine and session on two real threads (built and run under ThreadSanitizer in make test):
// the audio thread runs blocks while the UI thread edits, polls and frees retired plans.
#include <catch2/catch.hpp>

#include "core/module/registry.hpp"
#include "tests/support/edit_stress.hpp"
#include "tests/support/test_modules.hpp"

using namespace kabel::test;

TEST_CASE("plan swaps between a UI thread and an audio thread", "[engine][threads]") {
    StressOptions options;
    options.registry = &testRegistry();
    options.types = {"tconst", "tgain", "tsum", "tcount", "tsine", "tout", "tprobe"};
    options.edits = 1500;
    options.countOnAudioThread = false;
    options.seed = 3;
    const StressResult r = runEditStress(options);
    INFO("blocks " << r.blocks << ", plan swaps " << r.planSwaps << ", compiles " << r.compiles);
    CHECK(r.edits == 1500);
    CHECK(r.planSwaps >= r.compiles * 9 / 10);
    CHECK(r.compiles >= 1000);
}

TEST_CASE("plan swaps between a UI thread and an audio thread, with every module type", "[engine][threads]") {
    // Under ThreadSanitizer this checks the real modules too: prepareChannels() on the UI thread
    // (new delay lines, voices) while the audio thread runs the same instances.
    StressOptions options;
    options.registry = &kabel::Registry::global();
    options.edits = 1000;
    options.countOnAudioThread = false;
    options.seed = 11;
    const StressResult r = runEditStress(options);
    INFO("blocks " << r.blocks << ", plan swaps " << r.planSwaps << ", compiles " << r.compiles);
    CHECK(r.edits == 1000);
    CHECK(r.planSwaps >= r.compiles * 9 / 10);
}
