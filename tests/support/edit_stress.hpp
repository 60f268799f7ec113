// Edit stress: an audio thread runs engine blocks while the calling (UI) thread applies random
// edits through a Session — add/remove modules, rewire, param jumps, undo — and polls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/module/registry.hpp"
#include "tests/support/rt_guard.hpp"

namespace kabel::test {

struct StressOptions {
    const Registry* registry = nullptr;  // module types to use
    std::vector<std::string> types;      // empty: every type in the registry
    int edits = 1000;
    std::uint32_t seed = 1;
    bool countOnAudioThread = true;  // arm an RtGuard around every block
};

struct StressResult {
    RtCounts audioThread;  // allocations/locks seen inside processBlock
    std::uint64_t blocks = 0;
    std::uint64_t planSwaps = 0;
    std::uint64_t compiles = 0;
    int edits = 0;
};

StressResult runEditStress(const StressOptions& options);

}  // namespace kabel::test
