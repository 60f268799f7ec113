#include "core/engine/compiler.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <map>
#include <queue>
#include <set>
#include <stdexcept>

namespace kabel {

struct Compiler::Memory {
    std::map<EdgeKey, std::shared_ptr<CableState>> cables;
    std::map<EdgeKey, float> targets;  // each cable's target in the last compile
    std::set<EdgeKey> delayed;         // cables read one block late in the last compile
    std::map<std::pair<std::uint64_t, int>, std::shared_ptr<FeedbackLine>> lines;
    std::vector<std::pair<std::shared_ptr<CableState>, float>> fading;  // mid-fade at the last compile
};

Compiler::Compiler(CompileOptions options) : memory_(std::make_unique<Memory>()), options_(options) {
    if (options_.maxFrames < 1) throw std::invalid_argument("Compiler: maxFrames must be >= 1");
}

Compiler::~Compiler() = default;

float Compiler::cableGain(const EdgeKey& key) const {
    const auto it = memory_->cables.find(key);
    return it == memory_->cables.end() ? -1.0f : it->second->gain.load(std::memory_order_relaxed);
}

bool Compiler::fadesSettled() const {
    if (memory_->fading.empty()) return false;
    return std::all_of(memory_->fading.begin(), memory_->fading.end(),
                       [](const auto& f) { return f.first->gain.load(std::memory_order_relaxed) == f.second; });
}

void Compiler::forgetHistory() {
    memory_->targets.clear();
    memory_->delayed.clear();
}

namespace {

// Depth-first walk from the sinks along input cables; the post-order is a topological order of
// the cables not marked delayed. A cable reaching a node still on the walk's stack closes a cycle
// and is marked delayed.
std::vector<int> pullOrder(const Graph& g, std::vector<char>& delayed) {
    const int nodeCount = static_cast<int>(g.nodes.size());
    std::vector<std::vector<int>> incoming(static_cast<std::size_t>(nodeCount));
    std::vector<char> hasOutgoing(static_cast<std::size_t>(nodeCount), 0);
    for (std::size_t e = 0; e < g.edges.size(); ++e) {
        hasOutgoing[static_cast<std::size_t>(g.edges[e].from)] = 1;
        if (!delayed[e]) incoming[static_cast<std::size_t>(g.edges[e].to)].push_back(static_cast<int>(e));
    }
    for (auto& list : incoming)
        std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
            return g.edges[static_cast<std::size_t>(a)].toPort < g.edges[static_cast<std::size_t>(b)].toPort;
        });

    std::vector<int> roots;
    for (int v = 0; v < nodeCount; ++v)
        if (!hasOutgoing[static_cast<std::size_t>(v)]) roots.push_back(v);
    for (int v = 0; v < nodeCount; ++v)
        if (hasOutgoing[static_cast<std::size_t>(v)]) roots.push_back(v);

    enum : char { kUnvisited, kOnStack, kDone };
    std::vector<char> state(static_cast<std::size_t>(nodeCount), kUnvisited);
    std::vector<int> order;
    order.reserve(static_cast<std::size_t>(nodeCount));
    std::vector<std::pair<int, std::size_t>> stack;
    for (int root : roots) {
        if (state[static_cast<std::size_t>(root)] != kUnvisited) continue;
        stack.emplace_back(root, 0);
        state[static_cast<std::size_t>(root)] = kOnStack;
        while (!stack.empty()) {
            auto& [v, next] = stack.back();
            const auto& in = incoming[static_cast<std::size_t>(v)];
            if (next < in.size()) {
                const int e = in[next++];
                const int u = g.edges[static_cast<std::size_t>(e)].from;
                if (state[static_cast<std::size_t>(u)] == kUnvisited) {
                    state[static_cast<std::size_t>(u)] = kOnStack;
                    stack.emplace_back(u, 0);
                } else if (state[static_cast<std::size_t>(u)] == kOnStack) {
                    delayed[static_cast<std::size_t>(e)] = 1;
                }
            } else {
                state[static_cast<std::size_t>(v)] = kDone;
                order.push_back(v);
                stack.pop_back();
            }
        }
    }
    return order;
}

// Marks cables delayed so that the rest is acyclic, keeping earlier choices: cables delayed last
// time stay delayed, cables compiled last time stay direct, and a new cable that would close a
// cycle is delayed.
void keepEarlierChoices(const Graph& g, const std::vector<EdgeKey>& keys, const std::map<EdgeKey, float>& previous,
                        const std::set<EdgeKey>& previouslyDelayed, std::vector<char>& delayed) {
    const std::size_t nodeCount = g.nodes.size();
    std::vector<std::vector<int>> outgoing(nodeCount);
    std::vector<int> fresh;
    for (std::size_t e = 0; e < g.edges.size(); ++e) {
        if (previouslyDelayed.count(keys[e])) {
            delayed[e] = 1;
        } else if (previous.count(keys[e])) {
            outgoing[static_cast<std::size_t>(g.edges[e].from)].push_back(g.edges[e].to);
        } else {
            fresh.push_back(static_cast<int>(e));
        }
    }
    std::vector<unsigned> seen(nodeCount, 0);
    unsigned stamp = 0;
    std::vector<int> stack;
    auto reaches = [&](int from, int to) {
        ++stamp;
        stack.assign(1, from);
        seen[static_cast<std::size_t>(from)] = stamp;
        while (!stack.empty()) {
            const int v = stack.back();
            stack.pop_back();
            if (v == to) return true;
            for (int w : outgoing[static_cast<std::size_t>(v)])
                if (seen[static_cast<std::size_t>(w)] != stamp) {
                    seen[static_cast<std::size_t>(w)] = stamp;
                    stack.push_back(w);
                }
        }
        return false;
    };
    for (int e : fresh) {
        const GraphEdge& edge = g.edges[static_cast<std::size_t>(e)];
        if (reaches(edge.to, edge.from)) {
            delayed[static_cast<std::size_t>(e)] = 1;
        } else {
            outgoing[static_cast<std::size_t>(edge.from)].push_back(edge.to);
        }
    }
}

// The steps of a parallel plan: `order` wave by wave (a valid serial order), each step's time for
// buffer liveness (one per wave; one per step inside merged narrow waves), and the chunks.
struct Schedule {
    std::vector<int> order;
    std::vector<int> time;  // by position in `order`
    std::vector<plan::Chunk> chunks;
    std::vector<plan::Wave> waves;
};

// Chunks per thread in a wide wave: more pieces balance a late worker better, each costs a claim.
constexpr int kChunksPerThread = 4;

// Dependencies, each from an earlier step in the serial order: (predecessor, levels apart).
std::vector<std::vector<std::pair<int, int>>> dependencies(const Graph& g, const std::vector<int>& serial, const std::vector<char>& delayed,
                                                           const std::vector<char>& pinned) {
    std::vector<int> stepOf(g.nodes.size());
    for (std::size_t s = 0; s < serial.size(); ++s) stepOf[static_cast<std::size_t>(serial[s])] = static_cast<int>(s);
    std::vector<std::vector<std::pair<int, int>>> before(g.nodes.size());
    for (std::size_t e = 0; e < g.edges.size(); ++e) {
        int u = g.edges[e].from, v = g.edges[e].to;
        if (u == v) continue;
        if (delayed[e] && stepOf[static_cast<std::size_t>(u)] > stepOf[static_cast<std::size_t>(v)]) std::swap(u, v);
        before[static_cast<std::size_t>(v)].emplace_back(u, 1);
    }
    int previousPinned = -1;
    for (int v : serial) {
        if (!pinned[static_cast<std::size_t>(v)]) continue;
        if (previousPinned >= 0) before[static_cast<std::size_t>(v)].emplace_back(previousPinned, 0);
        previousPinned = v;
    }
    return before;
}

// Waves of units: a unit is a set of steps one thread runs in serial order (a single step, or a
// strand: steps linked only among themselves). `unitOf` maps nodes to units, each unit's steps in
// serial order. Returns an empty schedule if the units depend on each other in a cycle.
Schedule scheduleUnits(const std::vector<std::vector<int>>& units, const std::vector<int>& unitOf,
                       const std::vector<std::vector<std::pair<int, int>>>& before, const std::vector<char>& pinned, int threads) {
    const std::size_t count = units.size();
    std::vector<std::vector<std::pair<int, int>>> next(count);  // (unit, levels apart)
    std::vector<int> waiting(count, 0);
    for (std::size_t v = 0; v < before.size(); ++v)
        for (const auto& [u, apart] : before[v]) {
            const int from = unitOf[static_cast<std::size_t>(u)], to = unitOf[v];
            if (from == to) continue;  // inside a unit: its serial order keeps it
            next[static_cast<std::size_t>(from)].emplace_back(to, apart);
            ++waiting[static_cast<std::size_t>(to)];
        }
    std::vector<int> level(count, 0), ready;
    for (std::size_t u = 0; u < count; ++u)
        if (waiting[u] == 0) ready.push_back(static_cast<int>(u));
    std::size_t placed = 0;
    int levels = 0;
    while (!ready.empty()) {
        const int u = ready.back();
        ready.pop_back();
        ++placed;
        levels = std::max(levels, level[static_cast<std::size_t>(u)] + 1);
        for (const auto& [w, apart] : next[static_cast<std::size_t>(u)]) {
            level[static_cast<std::size_t>(w)] = std::max(level[static_cast<std::size_t>(w)], level[static_cast<std::size_t>(u)] + apart);
            if (--waiting[static_cast<std::size_t>(w)] == 0) ready.push_back(w);
        }
    }
    if (placed != count) return {};
    std::vector<std::vector<int>> byLevel(static_cast<std::size_t>(levels));
    for (std::size_t u = 0; u < count; ++u) byLevel[static_cast<std::size_t>(level[u])].push_back(static_cast<int>(u));
    for (auto& wave : byLevel)  // units in the order of their first step in the serial plan
        std::sort(wave.begin(), wave.end());

    Schedule out;
    std::size_t steps = 0, spread = 0;  // all steps; steps in chunks that threads share
    std::vector<int> narrow;            // units of merged narrow waves
    int time = 0;
    auto isPinned = [&](int u) {
        return units[static_cast<std::size_t>(u)].size() == 1 && pinned[static_cast<std::size_t>(units[static_cast<std::size_t>(u)][0])];
    };
    auto chunkOf = [&](const std::vector<int>& list, bool pin, bool ownTimes) {
        out.chunks.push_back(plan::Chunk{static_cast<std::uint32_t>(out.order.size()), 0, pin});
        for (int u : list)
            for (int v : units[static_cast<std::size_t>(u)]) {
                out.order.push_back(v);
                out.time.push_back(ownTimes ? time++ : time);
            }
        out.chunks.back().stepCount = static_cast<std::uint32_t>(out.order.size()) - out.chunks.back().firstStep;
    };
    auto flushNarrow = [&] {
        if (narrow.empty()) return;
        out.waves.push_back(plan::Wave{static_cast<std::uint32_t>(out.chunks.size()), 1});
        chunkOf(narrow, true, true);
        narrow.clear();
    };
    for (const auto& wave : byLevel) {
        std::vector<int> held, free;
        std::size_t freeSteps = 0;
        for (int u : wave) {
            steps += units[static_cast<std::size_t>(u)].size();
            if (isPinned(u)) {
                held.push_back(u);
            } else {
                free.push_back(u);
                freeSteps += units[static_cast<std::size_t>(u)].size();
            }
        }
        if (free.size() < 2) {
            narrow.insert(narrow.end(), wave.begin(), wave.end());
            continue;
        }
        flushNarrow();
        const auto firstChunk = static_cast<std::uint32_t>(out.chunks.size());
        if (!held.empty()) chunkOf(held, true, false);
        // Neighbouring units into up to kChunksPerThread x threads chunks of similar step counts.
        const std::size_t pieces = std::min(free.size(), static_cast<std::size_t>(kChunksPerThread * threads));
        std::vector<int> piece;
        std::size_t pieceSteps = 0, made = 0, doneSteps = 0;
        for (std::size_t i = 0; i < free.size(); ++i) {
            piece.push_back(free[i]);
            pieceSteps += units[static_cast<std::size_t>(free[i])].size();
            const bool last = i + 1 == free.size();
            if (last || (doneSteps + pieceSteps) * pieces >= freeSteps * (made + 1)) {
                chunkOf(piece, false, false);
                doneSteps += pieceSteps;
                ++made;
                piece.clear();
                pieceSteps = 0;
            }
        }
        ++time;
        spread += freeSteps;
        out.waves.push_back(plan::Wave{firstChunk, static_cast<std::uint32_t>(out.chunks.size()) - firstChunk});
    }
    flushNarrow();
    if (2 * spread < steps) return {};  // mostly a chain: not worth the hand-offs
    return out;
}

// A module with more cable neighbours than this is a hub (a shared clock, a mixer of many voices):
// strands are what remains linked once hubs are taken out.
constexpr std::size_t kHubNeighbours = 8;

Schedule scheduleWaves(const Graph& g, const std::vector<int>& serial, const std::vector<char>& delayed, int threads) {
    const std::size_t nodes = g.nodes.size();
    std::vector<char> pinned(nodes);
    for (std::size_t v = 0; v < nodes; ++v) pinned[v] = g.nodes[v].module->sharesState() ? 1 : 0;
    const auto before = dependencies(g, serial, delayed, pinned);

    // Strands: the voices of a patch (saw, filter, envelope, VCA of voice i) run as one piece on
    // one thread, with no wave boundary between them and their inputs still in its cache.
    std::vector<std::set<int>> neighbours(nodes);
    for (const GraphEdge& e : g.edges)
        if (e.from != e.to) {
            neighbours[static_cast<std::size_t>(e.from)].insert(e.to);
            neighbours[static_cast<std::size_t>(e.to)].insert(e.from);
        }
    std::vector<char> hub(nodes);
    for (std::size_t v = 0; v < nodes; ++v) hub[v] = pinned[v] || neighbours[v].size() > kHubNeighbours;
    std::vector<int> root(nodes);
    for (std::size_t v = 0; v < nodes; ++v) root[v] = static_cast<int>(v);
    auto find = [&](int v) {
        while (root[static_cast<std::size_t>(v)] != v)
            v = root[static_cast<std::size_t>(v)] = root[static_cast<std::size_t>(root[static_cast<std::size_t>(v)])];
        return v;
    };
    for (const GraphEdge& e : g.edges)
        if (!hub[static_cast<std::size_t>(e.from)] && !hub[static_cast<std::size_t>(e.to)])
            root[static_cast<std::size_t>(find(e.from))] = find(e.to);
    // Units numbered by their first step in the serial order; steps in serial order.
    auto build = [&](auto&& key) {
        std::vector<int> unitOf(nodes, -1);
        std::map<int, int> unitOfKey;
        std::vector<std::vector<int>> units;
        for (int v : serial) {
            const auto [it, fresh] = unitOfKey.emplace(key(v), static_cast<int>(units.size()));
            if (fresh) units.emplace_back();
            unitOf[static_cast<std::size_t>(v)] = it->second;
            units[static_cast<std::size_t>(it->second)].push_back(v);
        }
        return std::make_pair(std::move(units), std::move(unitOf));
    };
    const auto [strands, strandOf] = build([&](int v) { return hub[static_cast<std::size_t>(v)] ? -1 - v : find(v); });
    std::size_t largest = 0;
    for (const auto& unit : strands) largest = std::max(largest, unit.size());
    if (strands.size() < serial.size() && largest * 2 * static_cast<std::size_t>(threads) <= serial.size()) {
        Schedule schedule = scheduleUnits(strands, strandOf, before, pinned, threads);
        if (!schedule.waves.empty()) return schedule;
    }
    // Otherwise every step is its own unit: waves of steps.
    const auto [single, singleOf] = build([&](int v) { return v; });
    return scheduleUnits(single, singleOf, before, pinned, threads);
}

// A signal before buffer assignment: written first at time `def`, read last at time `lastUse`.
// Times are step positions in a serial plan, waves in a parallel one (timeOf).
struct Signal {
    int channels;
    int def;
    int lastUse;
    int producer = -1;       // the step that writes it (a module output), by position; -1: a mix
    std::size_t offset = 0;  // into the plan's pool, once assigned
};

// An input port's source before pointers exist.
struct PortSource {
    enum Kind { Constant, SignalBuffer, Line } kind = Constant;
    int signal = -1;               // SignalBuffer
    FeedbackLine* line = nullptr;  // Line
    float constant = 0.0f;         // Constant
    int channels = 1;
};

struct PendingMixSource {
    PortSource source;
    CableState* state;
    float target;
    bool settled;
};

struct PendingStep {
    int node;
    std::vector<PortSource> inputs;
    std::vector<int> mixes;                             // indices into pendingMixes
    std::vector<std::pair<int, FeedbackLine*>> copies;  // signal -> line
    std::vector<std::pair<int, SignalTap*>> probes;     // signal -> tap
};

struct PendingMix {
    int dstSignal;
    float defaultValue;
    std::vector<PendingMixSource> sources;
};

// A partial sum of a fan-in, run at the end of `chunk`.
struct PendingPartial {
    int chunk;
    PendingMix mix;
};

// Fan-ins with at least this many settled sources made in other chunks are summed by partials.
constexpr std::size_t kMinPartialSources = 16;

std::vector<PendingPartial> groupFanIns(const Schedule& schedule, const std::vector<PendingStep>& steps, std::vector<PendingMix>& mixes,
                                        std::vector<Signal>& signals) {
    std::vector<int> chunkOf(steps.size(), -1);
    for (std::size_t c = 0; c < schedule.chunks.size(); ++c)
        for (std::uint32_t i = 0; i < schedule.chunks[c].stepCount; ++i) chunkOf[schedule.chunks[c].firstStep + i] = static_cast<int>(c);
    std::vector<PendingPartial> partials;
    for (std::size_t position = 0; position < steps.size(); ++position) {
        for (int m : steps[position].mixes) {
            PendingMix& mix = mixes[static_cast<std::size_t>(m)];
            // Which chunk made each source, if it is a settled full-gain cable from a free chunk.
            std::vector<int> from(mix.sources.size(), -1);
            std::size_t movable = 0;
            for (std::size_t i = 0; i < mix.sources.size(); ++i) {
                const PendingMixSource& src = mix.sources[i];
                if (src.source.kind != PortSource::SignalBuffer || !src.settled || src.target != 1.0f) continue;
                const int producer = signals[static_cast<std::size_t>(src.source.signal)].producer;
                if (producer < 0) continue;
                const int chunk = chunkOf[static_cast<std::size_t>(producer)];
                if (chunk < 0 || schedule.chunks[static_cast<std::size_t>(chunk)].pinned || chunk == chunkOf[position]) continue;
                from[i] = chunk;
                ++movable;
            }
            if (movable < kMinPartialSources) continue;
            std::map<int, std::size_t> sourcesOf;  // chunk -> its sources in this fan-in
            for (int chunk : from)
                if (chunk >= 0) ++sourcesOf[chunk];
            std::map<int, std::size_t> partialOf;  // chunk (with two or more) -> index into partials
            for (const auto& [chunk, count] : sourcesOf) {
                if (count < 2) continue;
                partialOf.emplace(chunk, partials.size());
                partials.push_back(PendingPartial{chunk, PendingMix{-1, 0.0f, {}}});
            }
            std::vector<PendingMixSource> kept;
            for (std::size_t i = 0; i < mix.sources.size(); ++i) {
                const auto it = from[i] >= 0 ? partialOf.find(from[i]) : partialOf.end();
                if (it == partialOf.end()) {
                    kept.push_back(mix.sources[i]);
                    continue;
                }
                PendingMix& partial = partials[it->second].mix;
                if (partial.sources.empty()) {  // the partial takes the place of its first source
                    partial.dstSignal = static_cast<int>(signals.size());
                    const Signal& first = signals[static_cast<std::size_t>(mix.sources[i].source.signal)];
                    signals.push_back(Signal{0, first.def, signals[static_cast<std::size_t>(mix.dstSignal)].def});
                    PendingMixSource sum = mix.sources[i];
                    sum.source.signal = partial.dstSignal;
                    kept.push_back(sum);
                }
                partial.sources.push_back(mix.sources[i]);
                Signal& dst = signals[static_cast<std::size_t>(partial.dstSignal)];
                dst.channels = std::max(dst.channels, mix.sources[i].source.channels);
            }
            // The sum's source entries carry its channel count.
            for (PendingMixSource& src : kept)
                if (src.source.kind == PortSource::SignalBuffer)
                    src.source.channels = signals[static_cast<std::size_t>(src.source.signal)].channels;
            mix.sources = std::move(kept);
        }
    }
    return partials;
}

std::string portLabel(const GraphNode& node, bool output, int port) {
    const auto& ports = output ? node.module->descriptor().outputs : node.module->descriptor().inputs;
    return node.label + "." + ports[static_cast<std::size_t>(port)].id;
}

}  // namespace

std::unique_ptr<Plan> Compiler::compile(const Graph& g, bool instant, CompileReport* report) {
    const auto startTime = std::chrono::steady_clock::now();
    const std::size_t nodeCount = g.nodes.size();
    const std::size_t edgeCount = g.edges.size();
    for (const GraphEdge& e : g.edges) {
        const auto valid = [&](int node, int port, bool output) {
            if (node < 0 || static_cast<std::size_t>(node) >= nodeCount) return false;
            const auto& d = g.nodes[static_cast<std::size_t>(node)].module->descriptor();
            return port >= 0 && static_cast<std::size_t>(port) < (output ? d.outputs.size() : d.inputs.size());
        };
        if (!valid(e.from, e.fromPort, true) || !valid(e.to, e.toPort, false))
            throw std::invalid_argument("Compiler: a graph edge names a missing node or port");
    }
    for (const GraphProbe& probe : g.probes) {
        if (probe.node < 0 || static_cast<std::size_t>(probe.node) >= nodeCount || probe.port < 0 ||
            static_cast<std::size_t>(probe.port) >= g.nodes[static_cast<std::size_t>(probe.node)].module->descriptor().outputs.size())
            throw std::invalid_argument("Compiler: a graph probe names a missing node or output");
        if (!probe.tap || probe.tap->capacity() < 2 * options_.maxFrames)
            throw std::invalid_argument("Compiler: a graph probe needs a tap of at least two blocks");
    }

    std::vector<EdgeKey> keys(edgeCount);
    for (std::size_t e = 0; e < edgeCount; ++e) {
        const GraphEdge& edge = g.edges[e];
        keys[e] = EdgeKey{g.nodes[static_cast<std::size_t>(edge.from)].key, edge.fromPort, g.nodes[static_cast<std::size_t>(edge.to)].key,
                          edge.toPort};
    }

    // 1. Order, breaking cycles.
    std::vector<char> delayed(edgeCount, 0);
    if (!memory_->targets.empty()) keepEarlierChoices(g, keys, memory_->targets, memory_->delayed, delayed);
    std::vector<int> order = pullOrder(g, delayed);
    Schedule schedule;
    if (options_.threads > 1 && nodeCount >= kMinParallelSteps) schedule = scheduleWaves(g, order, delayed, options_.threads);
    std::vector<int> timeOf(order.size());  // by step: when its buffers are live (see Signal)
    if (schedule.waves.empty()) {
        for (std::size_t s = 0; s < order.size(); ++s) timeOf[s] = static_cast<int>(s);
    } else {
        order = schedule.order;
        timeOf = schedule.time;
    }
    std::vector<int> stepOf(nodeCount);
    for (std::size_t s = 0; s < order.size(); ++s) stepOf[static_cast<std::size_t>(order[s])] = static_cast<int>(s);

    // Edges into each input port, in graph order.
    std::vector<std::vector<std::vector<int>>> into(nodeCount);
    for (std::size_t v = 0; v < nodeCount; ++v) into[v].resize(g.nodes[v].module->descriptor().inputs.size());
    for (std::size_t e = 0; e < edgeCount; ++e)
        into[static_cast<std::size_t>(g.edges[e].to)][static_cast<std::size_t>(g.edges[e].toPort)].push_back(static_cast<int>(e));

    // 2. Channel counts, iterated until the feedback cables agree.
    std::vector<std::vector<int>> inChannels(nodeCount), outChannels(nodeCount);
    for (std::size_t v = 0; v < nodeCount; ++v) {
        inChannels[v].assign(into[v].size(), 1);
        outChannels[v].assign(g.nodes[v].module->descriptor().outputs.size(), 1);
    }
    for (int pass = 0; pass <= kMaxChannels; ++pass) {
        bool changed = false;
        for (int v : order) {
            auto& in = inChannels[static_cast<std::size_t>(v)];
            for (std::size_t p = 0; p < in.size(); ++p) {
                int channels = 0;  // unconnected (see Module::outputChannels)
                for (int e : into[static_cast<std::size_t>(v)][p]) {
                    const GraphEdge& edge = g.edges[static_cast<std::size_t>(e)];
                    channels =
                        std::max(channels, outChannels[static_cast<std::size_t>(edge.from)][static_cast<std::size_t>(edge.fromPort)]);
                }
                in[p] = channels;
            }
            auto& out = outChannels[static_cast<std::size_t>(v)];
            for (std::size_t o = 0; o < out.size(); ++o) {
                const int channels =
                    std::clamp(g.nodes[static_cast<std::size_t>(v)].module->outputChannels(static_cast<int>(o), in), 1, kMaxChannels);
                changed |= channels != out[o];
                out[o] = channels;
            }
        }
        if (!changed) break;
    }

    // Cable states (persistent) and which cables are settled.
    std::map<EdgeKey, std::shared_ptr<CableState>> cables;
    std::map<EdgeKey, float> targets;
    std::vector<CableState*> states(edgeCount);
    std::vector<char> settled(edgeCount, 0);
    auto plan = std::unique_ptr<Plan>(new Plan());
    memory_->fading.clear();
    for (std::size_t e = 0; e < edgeCount; ++e) {
        const float target = g.edges[e].target;
        std::shared_ptr<CableState>& state = cables[keys[e]];
        if (!state) {
            const auto it = memory_->cables.find(keys[e]);
            if (it != memory_->cables.end()) {
                state = it->second;
            } else {
                state = std::make_shared<CableState>();
                state->gain.store(instant ? target : 0.0f, std::memory_order_relaxed);
            }
            plan->cableStates_.push_back(state);
        }
        states[e] = state.get();
        const auto previous = memory_->targets.find(keys[e]);
        const bool wasTarget = previous != memory_->targets.end() ? previous->second == target : instant;
        settled[e] = wasTarget && state->gain.load(std::memory_order_relaxed) == target;
        if (!settled[e]) memory_->fading.emplace_back(state, target);
        targets[keys[e]] = target;
    }

    // Feedback lines (persistent) for outputs read by delayed cables.
    const int stride = alignedStride(options_.maxFrames);
    std::map<std::pair<std::uint64_t, int>, std::shared_ptr<FeedbackLine>> lines;
    std::vector<FeedbackLine*> lineOf(edgeCount, nullptr);
    for (std::size_t e = 0; e < edgeCount; ++e) {
        if (!delayed[e]) continue;
        const GraphEdge& edge = g.edges[e];
        const int channels = outChannels[static_cast<std::size_t>(edge.from)][static_cast<std::size_t>(edge.fromPort)];
        const auto lineKey = std::make_pair(keys[e].from, edge.fromPort);
        std::shared_ptr<FeedbackLine>& line = lines[lineKey];
        if (!line) {
            const auto it = memory_->lines.find(lineKey);
            if (it != memory_->lines.end() && it->second->channels == channels)
                line = it->second;
            else
                line = std::make_shared<FeedbackLine>(channels, stride);
            plan->feedbackLines_.push_back(line);
        }
        lineOf[e] = line.get();
    }

    // Outputs some cable reads (the others may be left unwritten by their module): kReadBySink when
    // only guarded sinks read it (screened only while hunting, plan.hpp "Containment"), kRead else.
    constexpr char kReadBySink = 1, kRead = 2;
    std::vector<std::vector<char>> outputRead(nodeCount);
    for (std::size_t v = 0; v < nodeCount; ++v) outputRead[v].assign(g.nodes[v].module->descriptor().outputs.size(), 0);
    for (const GraphEdge& edge : g.edges) {
        char& read = outputRead[static_cast<std::size_t>(edge.from)][static_cast<std::size_t>(edge.fromPort)];
        read = std::max(read, g.nodes[static_cast<std::size_t>(edge.to)].module->guardedSink() ? kReadBySink : kRead);
    }
    for (const GraphProbe& probe : g.probes) outputRead[static_cast<std::size_t>(probe.node)][static_cast<std::size_t>(probe.port)] = kRead;

    // 3. Signals and operations, in step order (pointers are filled in after buffer assignment).
    std::vector<Signal> signals;
    std::vector<std::vector<int>> outSignal(nodeCount);
    for (int v : order) {
        const int position = stepOf[static_cast<std::size_t>(v)];
        const int s = timeOf[static_cast<std::size_t>(position)];
        for (int channels : outChannels[static_cast<std::size_t>(v)]) {
            outSignal[static_cast<std::size_t>(v)].push_back(static_cast<int>(signals.size()));
            signals.push_back(Signal{channels, s, s, position});
        }
    }
    auto sourceOf = [&](int e, int step) {
        const GraphEdge& edge = g.edges[static_cast<std::size_t>(e)];
        PortSource src;
        if (delayed[static_cast<std::size_t>(e)]) {
            src.kind = PortSource::Line;
            src.line = lineOf[static_cast<std::size_t>(e)];
            src.channels = src.line->channels;
        } else {
            src.kind = PortSource::SignalBuffer;
            src.signal = outSignal[static_cast<std::size_t>(edge.from)][static_cast<std::size_t>(edge.fromPort)];
            src.channels = signals[static_cast<std::size_t>(src.signal)].channels;
            Signal& sig = signals[static_cast<std::size_t>(src.signal)];
            sig.lastUse = std::max(sig.lastUse, step);
        }
        return src;
    };

    std::vector<PendingStep> pendingSteps;
    std::vector<PendingMix> pendingMixes;
    std::size_t mixSourceCount = 0;
    pendingSteps.reserve(order.size());
    for (int v : order) {
        const int s = timeOf[static_cast<std::size_t>(stepOf[static_cast<std::size_t>(v)])];
        const auto& descriptor = g.nodes[static_cast<std::size_t>(v)].module->descriptor();
        PendingStep step{v, {}, {}, {}, {}};
        for (std::size_t p = 0; p < descriptor.inputs.size(); ++p) {
            const auto& edges = into[static_cast<std::size_t>(v)][p];
            const float defaultValue = descriptor.inputs[p].defaultValue;
            PortSource input;
            if (edges.empty()) {
                input.kind = PortSource::Constant;
                input.constant = defaultValue;
            } else if (edges.size() == 1 && settled[static_cast<std::size_t>(edges[0])] &&
                       g.edges[static_cast<std::size_t>(edges[0])].target == 1.0f) {
                input = sourceOf(edges[0], s);
            } else {
                PendingMix mix{-1, defaultValue, {}};
                int channels = 1;
                for (int e : edges) {
                    mix.sources.push_back(PendingMixSource{sourceOf(e, s), states[static_cast<std::size_t>(e)],
                                                           g.edges[static_cast<std::size_t>(e)].target,
                                                           settled[static_cast<std::size_t>(e)] != 0});
                    channels = std::max(channels, mix.sources.back().source.channels);
                }
                mix.dstSignal = static_cast<int>(signals.size());
                signals.push_back(Signal{channels, s, s});
                input.kind = PortSource::SignalBuffer;
                input.signal = mix.dstSignal;
                input.channels = channels;
                mixSourceCount += mix.sources.size();
                step.mixes.push_back(static_cast<int>(pendingMixes.size()));
                pendingMixes.push_back(std::move(mix));
            }
            step.inputs.push_back(input);
        }
        pendingSteps.push_back(std::move(step));
    }
    // Outputs read by delayed cables are copied to their lines right after their step.
    for (std::size_t e = 0; e < edgeCount; ++e) {
        if (!delayed[e]) continue;
        const GraphEdge& edge = g.edges[e];
        const int signal = outSignal[static_cast<std::size_t>(edge.from)][static_cast<std::size_t>(edge.fromPort)];
        auto& step = pendingSteps[static_cast<std::size_t>(stepOf[static_cast<std::size_t>(edge.from)])];
        const bool already = std::any_of(step.copies.begin(), step.copies.end(), [&](const auto& c) { return c.second == lineOf[e]; });
        if (!already) step.copies.emplace_back(signal, lineOf[e]);
    }

    // Probed outputs are written to their taps right after their step (a port probed twice with
    // the same tap is written once).
    for (const GraphProbe& probe : g.probes) {
        const int signal = outSignal[static_cast<std::size_t>(probe.node)][static_cast<std::size_t>(probe.port)];
        auto& step = pendingSteps[static_cast<std::size_t>(stepOf[static_cast<std::size_t>(probe.node)])];
        const bool already =
            std::any_of(step.probes.begin(), step.probes.end(), [&](const auto& p) { return p.second == probe.tap.get(); });
        if (already) continue;
        step.probes.emplace_back(signal, probe.tap.get());
        plan->taps_.push_back(probe.tap);
    }

    // 3b. Parallel plans: a wide fan-in sums its settled sources chunk by chunk, each partial sum
    // at the end of the chunk that made them (on the thread that wrote them, while they are in
    // its cache); the consumer adds the partial sums. The sum's order, and so its last bits,
    // differ from the serial plan's.
    std::vector<PendingPartial> partials;
    if (!schedule.waves.empty()) partials = groupFanIns(schedule, pendingSteps, pendingMixes, signals);

    // 4. Buffers by liveness: signals in order of first write; a buffer is free again after the
    // last read of its signal, for a later signal with the same channel count.
    std::vector<int> byDef(signals.size());
    for (std::size_t i = 0; i < byDef.size(); ++i) byDef[i] = static_cast<int>(i);
    std::stable_sort(byDef.begin(), byDef.end(),
                     [&](int a, int b) { return signals[static_cast<std::size_t>(a)].def < signals[static_cast<std::size_t>(b)].def; });
    std::set<float> constantValues;
    for (const auto& step : pendingSteps)
        for (const auto& in : step.inputs)
            if (in.kind == PortSource::Constant) constantValues.insert(in.constant);
    std::size_t poolFloats = static_cast<std::size_t>(stride) * (1 + constantValues.size());
    std::map<float, std::size_t> constantOffset;
    {
        std::size_t offset = static_cast<std::size_t>(stride);
        for (float value : constantValues) {
            constantOffset[value] = offset;
            offset += static_cast<std::size_t>(stride);
        }
    }
    std::map<int, std::vector<std::size_t>> freeBuffers;  // channels -> offsets
    using Live = std::pair<int, int>;                     // (lastUse, signal)
    std::priority_queue<Live, std::vector<Live>, std::greater<>> live;
    std::size_t physicalBuffers = 0;
    for (int i : byDef) {
        Signal& sig = signals[static_cast<std::size_t>(i)];
        while (!live.empty() && live.top().first < sig.def) {
            const Signal& done = signals[static_cast<std::size_t>(live.top().second)];
            freeBuffers[done.channels].push_back(done.offset);
            live.pop();
        }
        auto& pool = freeBuffers[sig.channels];
        if (!pool.empty()) {
            sig.offset = pool.back();
            pool.pop_back();
        } else {
            sig.offset = poolFloats;
            poolFloats += static_cast<std::size_t>(sig.channels) * static_cast<std::size_t>(stride);
            ++physicalBuffers;
        }
        live.emplace(sig.lastUse, i);
    }

    // 5. The plan itself.
    plan->generation_ = ++generation_;
    plan->maxFrames_ = options_.maxFrames;
    plan->stride_ = stride;
    plan->fadeStepPerFrame_ = options_.fadeMs > 0.0f ? static_cast<float>(1000.0 / (options_.fadeMs * options_.sampleRate)) : 1.0f;
    plan->pool_ = AlignedFloats(poolFloats);
    plan->threads_ = schedule.waves.empty() ? 1 : options_.threads;
    plan->gainScratch_ = AlignedFloats(static_cast<std::size_t>(stride) * static_cast<std::size_t>(plan->threads_));
    plan->chunks_ = std::move(schedule.chunks);
    plan->waves_ = std::move(schedule.waves);
    plan->claimed_ = std::make_unique<std::atomic<std::uint64_t>[]>(plan->chunks_.size());
    float* const pool = plan->pool_.data();
    for (const auto& [value, offset] : constantOffset) std::fill_n(pool + offset, stride, value);

    auto pointerOf = [&](const PortSource& src) -> float* {
        switch (src.kind) {
            case PortSource::Constant:
                return pool + constantOffset.at(src.constant);
            case PortSource::Line:
                return src.line->data.data();
            case PortSource::SignalBuffer:
                break;
        }
        return pool + signals[static_cast<std::size_t>(src.signal)].offset;
    };

    // A pending mix (a fan-in, or a partial sum of one) as the plan runs it; its sources are
    // appended to mixSources_.
    auto mixOp = [&](const PendingMix& mix) {
        const Signal& dst = signals[static_cast<std::size_t>(mix.dstSignal)];
        const plan::MixOp op{pool + dst.offset, dst.channels, mix.defaultValue, static_cast<std::uint32_t>(plan->mixSources_.size()),
                             static_cast<std::uint32_t>(mix.sources.size())};
        for (const auto& src : mix.sources)
            plan->mixSources_.push_back(plan::MixSource{pointerOf(src.source), src.source.channels, src.state, src.target, src.settled});
        return op;
    };

    std::size_t inputCount = 0, outputCount = 0;
    for (const auto& step : pendingSteps) {
        inputCount += step.inputs.size();
        outputCount += outSignal[static_cast<std::size_t>(step.node)].size();
    }
    plan->inputs_.reserve(inputCount);
    plan->outputs_.reserve(outputCount);
    plan->mixes_.reserve(pendingMixes.size());
    plan->mixSources_.reserve(mixSourceCount);
    plan->steps_.reserve(pendingSteps.size());
    plan->probes_.reserve(plan->taps_.size());
    plan->modules_.reserve(pendingSteps.size());

    for (const auto& pending : pendingSteps) {
        const std::size_t v = static_cast<std::size_t>(pending.node);
        const GraphNode& node = g.nodes[v];
        plan::Step step{};
        step.module = node.module.get();
        plan->modules_.push_back(node.module);

        step.firstMix = static_cast<std::uint32_t>(plan->mixes_.size());
        for (int m : pending.mixes) plan->mixes_.push_back(mixOp(pendingMixes[static_cast<std::size_t>(m)]));
        step.mixCount = static_cast<std::uint32_t>(pending.mixes.size());

        const std::size_t firstInput = plan->inputs_.size();
        std::vector<int> actualIn;
        const auto& descriptor = node.module->descriptor();
        for (std::size_t p = 0; p < pending.inputs.size(); ++p) {
            const PortSource& src = pending.inputs[p];
            InputPort port;
            port.data = pointerOf(src);
            port.zeros = pool;
            port.channels = src.channels;
            port.stride = stride;
            port.connected = src.kind != PortSource::Constant;
            port.constant = descriptor.inputs[p].defaultValue;
            plan->inputs_.push_back(port);
            actualIn.push_back(src.channels);
        }
        const std::size_t firstOutput = plan->outputs_.size();
        // The step's screens: those always checked first, then those checked only while hunting.
        step.firstScreen = static_cast<std::uint32_t>(plan->screens_.size());
        for (const char kind : {kRead, kReadBySink}) {
            for (std::size_t o = 0; o < outSignal[v].size(); ++o) {
                const Signal& sig = signals[static_cast<std::size_t>(outSignal[v][o])];
                if (outputRead[v][o] == kind)
                    plan->screens_.push_back(plan::Screen{pool + sig.offset, static_cast<std::uint32_t>(sig.channels)});
            }
            if (kind == kRead) step.screenCount = static_cast<std::uint32_t>(plan->screens_.size()) - step.firstScreen;
        }
        step.huntCount = static_cast<std::uint32_t>(plan->screens_.size()) - step.firstScreen;
        for (std::size_t o = 0; o < outSignal[v].size(); ++o) {
            const Signal& sig = signals[static_cast<std::size_t>(outSignal[v][o])];
            plan->outputs_.push_back(OutputPort{pool + sig.offset, sig.channels, stride, outputRead[v][o] != 0});
        }
        node.module->prepareChannels(actualIn, outChannels[v]);

        step.firstCopy = static_cast<std::uint32_t>(plan->copies_.size());
        for (const auto& [signal, line] : pending.copies) {
            const Signal& sig = signals[static_cast<std::size_t>(signal)];
            plan->copies_.push_back(plan::CopyOp{pool + sig.offset, line->data.data(), static_cast<std::uint32_t>(sig.channels * stride)});
        }
        step.copyCount = static_cast<std::uint32_t>(pending.copies.size());

        step.firstProbe = static_cast<std::uint32_t>(plan->probes_.size());
        for (const auto& [signal, tap] : pending.probes) {
            const Signal& sig = signals[static_cast<std::size_t>(signal)];
            plan->probes_.push_back(plan::ProbeOp{pool + sig.offset, std::min(sig.channels, tap->channels()), tap});
        }
        step.probeCount = static_cast<std::uint32_t>(pending.probes.size());

        step.ctx.in = std::span<const InputPort>(plan->inputs_.data() + firstInput, pending.inputs.size());
        step.ctx.out = std::span<const OutputPort>(plan->outputs_.data() + firstOutput, outSignal[v].size());
        step.ctx.host = &plan->host_;
        plan->steps_.push_back(step);
    }
    for (std::size_t c = 0; c < plan->chunks_.size(); ++c) {
        plan::Chunk& chunk = plan->chunks_[c];
        chunk.firstPartial = static_cast<std::uint32_t>(plan->partials_.size());
        for (const PendingPartial& partial : partials)
            if (partial.chunk == static_cast<int>(c)) plan->partials_.push_back(mixOp(partial.mix));
        chunk.partialCount = static_cast<std::uint32_t>(plan->partials_.size()) - chunk.firstPartial;
    }

    // Remember what later compiles need; drop what no cable uses any more.
    std::set<EdgeKey> delayedKeys;
    for (std::size_t e = 0; e < edgeCount; ++e)
        if (delayed[e]) delayedKeys.insert(keys[e]);
    if (report) {
        report->feedback.clear();
        for (std::size_t e = 0; e < edgeCount; ++e) {
            if (!delayed[e] || g.edges[e].target == 0.0f) continue;
            const GraphEdge& edge = g.edges[e];
            report->feedback.push_back(FeedbackCable{portLabel(g.nodes[static_cast<std::size_t>(edge.from)], true, edge.fromPort),
                                                     portLabel(g.nodes[static_cast<std::size_t>(edge.to)], false, edge.toPort),
                                                     options_.maxFrames});
        }
        report->outputChannels.clear();
        // First node wins: the session lists document modules before ghosts, so a module replaced
        // by another type reports the new one while the old one fades out under the same id.
        for (std::size_t v = 0; v < nodeCount; ++v) report->outputChannels.try_emplace(g.nodes[v].label, outChannels[v]);
        report->steps = plan->steps_.size();
        report->signals = signals.size();
        report->buffers = physicalBuffers;
        report->bufferBytes = poolFloats * sizeof(float);
        report->fading = !memory_->fading.empty();
        report->threads = plan->threads_;
        report->waves = plan->waves_.size();
        report->milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - startTime).count();
    }
    memory_->cables = std::move(cables);
    memory_->targets = std::move(targets);
    memory_->delayed = std::move(delayedKeys);
    memory_->lines = std::move(lines);
    return plan;
}

}  // namespace kabel
