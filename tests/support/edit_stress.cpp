#include "tests/support/edit_stress.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "tests/support/random_editor.hpp"

namespace kabel::test {

StressResult runEditStress(const StressOptions& options) {
    Engine engine(EngineConfig{48000.0, 64, 2, true});
    Session session(engine, *options.registry);
    session.load(Patch{});
    RandomEditor editor(session, *options.registry, options.types, options.seed);

    std::atomic<bool> stop{false};
    std::atomic<long> allocations{0}, locks{0};
    std::atomic<std::uint64_t> blocks{0};
    std::thread audio([&] {
        while (!stop.load(std::memory_order_acquire)) {
            if (options.countOnAudioThread) {
                RtGuard guard;
                engine.processBlock();
                const RtCounts c = guard.counts();
                if (c.allocations) allocations.fetch_add(c.allocations, std::memory_order_relaxed);
                if (c.locks) locks.fetch_add(c.locks, std::memory_order_relaxed);
            } else {
                engine.processBlock();
            }
            blocks.fetch_add(1, std::memory_order_relaxed);
            // A real audio thread waits for its next callback; yielding here lets the UI thread
            // run on a machine with fewer free cores than threads (CI: 2 cores, ctest -j2).
            std::this_thread::yield();
        }
    });

    // Let the audio thread take each plan before the next compile replaces it (on a loaded
    // machine the audio thread can be descheduled for milliseconds).
    auto waitUntilTaken = [&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (engine.activeGeneration() < session.compileCount() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    };
    StressResult result;
    for (int attempt = 0; result.edits < options.edits && attempt < options.edits * 20; ++attempt) {
        if (!editor.step()) continue;
        ++result.edits;
        waitUntilTaken();
        session.poll();
        waitUntilTaken();
    }
    // Let the fades finish and the ghosts go.
    for (int i = 0; i < 50 && session.transitioning(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        session.poll();
    }
    stop.store(true, std::memory_order_release);
    audio.join();
    session.poll();
    result.audioThread = RtCounts{allocations.load(), locks.load()};
    result.blocks = blocks.load();
    result.planSwaps = engine.stats().planSwaps;
    result.compiles = session.compileCount();
    return result;
}

}  // namespace kabel::test
