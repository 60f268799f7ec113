#include "tests/support/edit_stress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"

namespace kabel::test {

StressResult runEditStress(const StressOptions& options) {
    const Registry& registry = *options.registry;
    std::vector<const ModuleDescriptor*> types;
    for (const ModuleDescriptor* d : registry.all())
        if (options.types.empty() || std::find(options.types.begin(), options.types.end(), d->id) != options.types.end())
            types.push_back(d);

    Engine engine(EngineConfig{48000.0, 64, 2, true});
    Session session(engine, registry);
    session.load(Patch{});

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
        }
    });

    std::mt19937 rng(options.seed);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(std::uniform_int_distribution<std::size_t>(0, n - 1)(rng)); };
    auto chance = [&](double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < p; };
    auto waitUntilTaken = [&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (engine.activeGeneration() < session.compileCount() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
    };
    std::vector<Patch> history;
    int nextId = 0;
    StressResult result;
    for (int i = 0; i < options.edits; ++i) {
        const Patch& doc = session.patch();
        const int action = static_cast<int>(pick(7));
        if (action == 0 || doc.modules.size() < 3) {  // add a module
            const ModuleDescriptor* d = types[pick(types.size())];
            history.push_back(doc);
            session.edit([&](Patch& p) {
                if (p.modules.size() >= static_cast<std::size_t>(options.maxModules)) return;
                ModuleSpec m;
                m.id = "m" + std::to_string(nextId++);
                m.type = d->id;
                p.modules.push_back(m);
            });
        } else if (action == 1) {  // remove a module and its cables
            history.push_back(doc);
            const std::string id = doc.modules[pick(doc.modules.size())].id;
            session.edit([&](Patch& p) {
                std::erase_if(p.modules, [&](const ModuleSpec& m) { return m.id == id; });
                std::erase_if(p.cables, [&](const CableSpec& c) { return c.from.module == id || c.to.module == id; });
            });
        } else if (action == 2 || action == 3) {  // connect a random output to a random input
            const ModuleSpec& a = doc.modules[pick(doc.modules.size())];
            const ModuleSpec& b = doc.modules[pick(doc.modules.size())];
            const ModuleDescriptor* da = registry.find(a.type);
            const ModuleDescriptor* db = registry.find(b.type);
            if (!da || !db || da->outputs.empty() || db->inputs.empty()) continue;
            CableSpec c{{a.id, da->outputs[pick(da->outputs.size())].id}, {b.id, db->inputs[pick(db->inputs.size())].id}, {}};
            const bool exists = std::any_of(doc.cables.begin(), doc.cables.end(), [&](const CableSpec& x) { return x.sameEnds(c); });
            if (exists) continue;
            history.push_back(doc);
            session.edit([&](Patch& p) { p.cables.push_back(c); });
        } else if (action == 4 && !doc.cables.empty()) {  // disconnect
            history.push_back(doc);
            const std::size_t k = pick(doc.cables.size());
            session.edit([&](Patch& p) { p.cables.erase(p.cables.begin() + static_cast<long>(k)); });
        } else if (action == 5) {  // move a knob (a jump)
            const ModuleSpec& m = doc.modules[pick(doc.modules.size())];
            const ModuleDescriptor* d = registry.find(m.type);
            if (!d || d->params.empty()) continue;
            const ParamDescriptor& p = d->params[pick(d->params.size())];
            if (p.structural && chance(0.7)) continue;  // structural params recompile; keep them rarer
            session.setParam(m.id, p.id, p.fromNormalized(static_cast<float>(chance(0.5) ? 0.3 + 0.4 * chance(0.5) : chance(0.5))));
        } else if (!history.empty()) {  // undo
            session.setPatch(history.back());
            history.pop_back();
        }
        ++result.edits;
        // Let the audio thread take each plan before the next compile replaces it (on a loaded
        // machine the audio thread can be descheduled for milliseconds).
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
