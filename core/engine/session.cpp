#include "core/engine/session.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

namespace kabel {

Session::Session(Engine& engine, const Registry& registry, float fadeMs)
    : engine_(engine),
      registry_(registry),
      compiler_(CompileOptions{engine.config().sampleRate, engine.config().blockFrames, fadeMs, engine.threads()}) {}

Session::~Session() = default;

void Session::load(Patch patch, std::filesystem::path directory) {
    document_ = std::move(patch);
    directory_ = std::move(directory);
    sync(true);
}

void Session::setPatch(Patch patch) {
    document_ = std::move(patch);
    sync(false);
}

bool Session::setParam(std::string_view moduleId, std::string_view paramId, double value) {
    ModuleSpec* spec = document_.findModule(moduleId);
    if (!spec) return false;
    const auto it = live_.find(std::string(moduleId));
    if (it == live_.end()) {  // placeholder: keep the value in the document only
        spec->params[std::string(paramId)] = value;
        return true;
    }
    const ModuleDescriptor& d = it->second.module->descriptor();
    const int index = d.paramIndex(paramId);
    if (index < 0) return false;
    spec->params[std::string(paramId)] = value;
    const float before = it->second.module->param(index);
    it->second.module->setParam(index, static_cast<float>(value));
    if (d.params[static_cast<std::size_t>(index)].structural && it->second.module->param(index) != before) sync(false);
    return true;
}

Session::Instance Session::create(const ModuleSpec& spec, const ModuleDescriptor& descriptor) {
    Instance instance{spec.id, spec.type, std::shared_ptr<Module>(descriptor.create()), nextKey_++};
    std::uint64_t seed = 14695981039346656037ull;  // FNV-1a of the module id: stable across renders
    for (unsigned char c : spec.id) seed = (seed ^ c) * 1099511628211ull;
    instance.module->setInstanceSeed(seed);
    instance.module->prepare(engine_.config().sampleRate, engine_.config().blockFrames);
    return instance;
}

// The document's state for this module, given to the module when it differs from what it has.
void Session::applyState(Instance& instance, const ModuleSpec& spec) {
    if (spec.stateJson == instance.appliedState) return;
    instance.appliedState = spec.stateJson;
    try {
        const nlohmann::json state = spec.stateJson.empty() ? nlohmann::json() : nlohmann::json::parse(spec.stateJson);
        instance.module->loadState(state, LoadContext{directory_, &worker_, &buffers_});
    } catch (const std::exception& e) {
        stateProblems_[spec.id] = e.what();
        return;
    }
    stateProblems_.erase(spec.id);
}

void Session::sync(bool instant) {
    notes_.clear();

    // Modules: keep, revive or create the document's; the rest become ghosts.
    bool instancesChanged = instant;
    std::map<std::string, Instance> live;
    std::vector<std::uint64_t> order;  // node order: the document's, then ghosts
    for (const ModuleSpec& spec : document_.modules) {
        const ModuleDescriptor* d = registry_.find(spec.type);
        if (!d) {
            notes_.push_back("module '" + spec.id + "': unknown type '" + spec.type + "' (kept as a placeholder)");
            continue;
        }
        if (live.count(spec.id)) continue;  // duplicate id: the loader rejects these; keep the first
        Instance instance;
        const auto it = live_.find(spec.id);
        const auto ghost =
            std::find_if(ghosts_.begin(), ghosts_.end(), [&](const Instance& g) { return g.id == spec.id && g.type == spec.type; });
        if (it != live_.end() && it->second.type == spec.type) {
            instance = std::move(it->second);
            live_.erase(it);
        } else if (!instant && ghost != ghosts_.end()) {
            instance = std::move(*ghost);
            ghosts_.erase(ghost);
            instancesChanged = true;
        } else {
            instance = create(spec, *d);
            instancesChanged = true;
        }
        applyState(instance, spec);
        for (std::size_t p = 0; p < d->params.size(); ++p) {
            const auto value = spec.params.find(d->params[p].id);
            instance.module->setParam(static_cast<int>(p),
                                      value != spec.params.end() ? static_cast<float>(value->second) : d->params[p].defaultValue);
        }
        order.push_back(instance.key);
        live.emplace(spec.id, std::move(instance));
    }
    std::erase_if(stateProblems_, [&](const auto& entry) { return !live.count(entry.first); });
    if (!live_.empty()) instancesChanged = true;  // what is left of the old set was removed
    if (instancesChanged) ++instancesVersion_;
    if (instant) {
        ghosts_.clear();
        edges_.clear();
        compiler_.forgetHistory();
    } else {
        for (auto& [id, instance] : live_) ghosts_.push_back(std::move(instance));
    }
    live_ = std::move(live);

    // Cables: the document's, plus cables of the last compile still fading out.
    std::unordered_map<std::uint64_t, const Instance*> byKey;
    for (const auto& [id, instance] : live_) byKey[instance.key] = &instance;
    for (const Instance& g : ghosts_) byKey[g.key] = &g;

    std::map<EdgeKey, EdgeInfo> edges;
    for (const CableSpec& cable : document_.cables) {
        const auto from = live_.find(cable.from.module);
        const auto to = live_.find(cable.to.module);
        if (from == live_.end() || to == live_.end()) continue;  // a placeholder end: kept in the document only
        const int fromPort = from->second.module->descriptor().outputIndex(cable.from.port);
        const int toPort = to->second.module->descriptor().inputIndex(cable.to.port);
        if (fromPort < 0 || toPort < 0) {
            notes_.push_back("cable " + cable.from.str() + " -> " + cable.to.str() + ": no such port (kept in the patch, not connected)");
            continue;
        }
        edges[EdgeKey{from->second.key, fromPort, to->second.key, toPort}] = EdgeInfo{1.0f};
    }
    if (!instant) retireEdges(edges, byKey);
    edges_ = std::move(edges);
    for (const Instance& g : ghosts_) order.push_back(g.key);

    // The graph, in document order.
    byKey.clear();
    for (const auto& [id, instance] : live_) byKey[instance.key] = &instance;
    for (const Instance& g : ghosts_) byKey[g.key] = &g;
    Graph graph;
    std::unordered_map<std::uint64_t, int> index;
    for (std::uint64_t key : order) {
        const Instance* instance = byKey.at(key);
        index[key] = static_cast<int>(graph.nodes.size());
        graph.nodes.push_back(GraphNode{key, instance->module, instance->id});
    }
    for (const auto& [key, info] : edges_)
        graph.edges.push_back(GraphEdge{index.at(key.from), key.fromPort, index.at(key.to), key.toPort, info.target});

    for (const auto& [port, tap] : probes_) {
        const auto it = live_.find(port.module);
        if (it == live_.end()) continue;  // removed (or a placeholder): the tap stops
        const int output = it->second.module->descriptor().outputIndex(port.port);
        if (output >= 0) graph.probes.push_back(GraphProbe{index.at(it->second.key), output, tap});
    }

    engine_.submit(compiler_.compile(graph, instant, &report_));
    ++compiles_;
    rebuildMidiMap(instant);
}

void Session::rebuildMidiMap(bool resetPickup) {
    auto table = std::make_unique<MidiMapTable>();
    table->resetPickup = resetPickup;
    mapped_.clear();
    midiNotes_.clear();
    for (const MidiMapping& m : document_.midiMap) {
        const auto it = live_.find(m.module);
        if (it == live_.end()) continue;  // a removed module or a placeholder: kept in the document only
        const ModuleDescriptor& d = it->second.module->descriptor();
        const int index = d.paramIndex(m.param);
        const auto source = parseMidiSource(m.source);
        const auto curve = parseMidiCurve(m.curve);
        if (index < 0 || !source || !curve) continue;  // the loader warned about these
        const ParamDescriptor& p = d.params[static_cast<std::size_t>(index)];
        if (p.structural) {
            midiNotes_.push_back("MIDI mapping to " + m.module + "." + m.param +
                                 ": a structural param (it changes channels or ports) cannot follow MIDI (kept, does nothing)");
            continue;
        }
        const auto mode = parseMidiMode(m.mode);
        if (!mode) continue;
        if (m.port && *m.port >= engine_.midiInputCount())
            midiNotes_.push_back("MIDI mapping to " + m.module + "." + m.param + ": port " + std::to_string(*m.port) +
                                 " but the engine has " + std::to_string(engine_.midiInputCount()) + " MIDI input(s) (kept, does nothing)");
        MidiMapEntry e;
        e.param = index;
        e.source = *source;
        e.channel = m.channel;
        e.port = m.port.value_or(-1);
        e.number = *source == MidiSource::PitchBend || *source == MidiSource::Pressure ? 0 : m.number;
        if (*source == MidiSource::PolyPressure && m.number < 0) e.number = kMidiAnyNote;
        e.min = static_cast<float>(m.min.value_or(p.min));
        e.max = static_cast<float>(m.max.value_or(p.max));
        e.curve = *curve;
        e.mode = *mode;
        e.step = static_cast<float>(m.step.value_or(0.0));
        e.pickup = m.pickup;
        table->add(it->second.module, e);
        mapped_.push_back(MappedParam{m.module, m.param, it->second.module.get(), index});
    }
    engine_.submitMidiMap(std::move(table));
}

void Session::captureMidiParams() {
    for (const MappedParam& m : mapped_) {
        ModuleSpec* spec = document_.findModule(m.module);
        const auto it = live_.find(m.module);
        if (!spec || it == live_.end() || it->second.module.get() != m.instance) continue;
        const float live = m.instance->param(m.index);
        const auto value = spec->params.find(m.param);
        const float written = value != spec->params.end() ? static_cast<float>(value->second)
                                                          : m.instance->descriptor().params[static_cast<std::size_t>(m.index)].defaultValue;
        if (live != written) spec->params[m.param] = live;
    }
}

bool Session::learnMidi(std::string_view moduleId, std::string_view paramId) {
    const auto it = live_.find(std::string(moduleId));
    if (it == live_.end() || it->second.module->descriptor().paramIndex(paramId) < 0) return false;
    learnModule_ = std::string(moduleId);
    learnParam_ = std::string(paramId);
    learnSeen_.reset();
    engine_.midiMapper().armLearn();
    return true;
}

void Session::cancelLearn() {
    engine_.midiMapper().cancelLearn();
    learnModule_.clear();
    learnParam_.clear();
    learnSeen_.reset();
}

void Session::setLearnWindow(std::chrono::milliseconds window) {
    learnWindow_ = window;
}

// A plain CC waits for more of its values (up to the learn window, or 3 values): they tell an
// endless encoder from a knob, and a 14-bit LSB may still upgrade it. Other sources are final.
void Session::finishLearn() {
    MidiControl control;
    if (learnModule_.empty() || !engine_.midiMapper().peekLearned(control)) return;
    if (control.source == MidiSource::Cc && control.messages < 3) {
        const auto now = std::chrono::steady_clock::now();
        if (!learnSeen_) learnSeen_ = now;
        if (now - *learnSeen_ < learnWindow_) return;
    }
    if (!engine_.midiMapper().takeLearned(control)) return;
    MidiMapping m;
    m.source = std::string(midiSourceName(control.source));
    m.channel = control.channel;
    m.number = control.source == MidiSource::PolyPressure && control.number == kMidiAnyNote ? -1 : control.number;
    m.mode = std::string(midiModeName(control.mode));
    m.module = learnModule_;
    m.param = learnParam_;
    learnModule_.clear();
    learnParam_.clear();
    learnSeen_.reset();
    std::erase_if(document_.midiMap, [&](const MidiMapping& old) {
        return old.source == m.source && old.channel == m.channel && old.number == m.number && !old.port;
    });
    document_.midiMap.push_back(m);
    lastLearned_ = std::move(m);
    ++learnedCount_;
    captureMidiParams();
    rebuildMidiMap(false);
}

int Session::unmapMidi(std::string_view moduleId, std::string_view paramId) {
    captureMidiParams();
    const auto removed = std::erase_if(document_.midiMap, [&](const MidiMapping& m) { return m.module == moduleId && m.param == paramId; });
    if (removed > 0) rebuildMidiMap(false);
    return static_cast<int>(removed);
}

// Cables of the last compile that the document no longer has: those feeding live modules (or a
// removed sink) fade out; those inside a removed group keep full gain, so the group's output fades
// once, linearly. A removed module is dropped when nothing it feeds is still fading.
void Session::retireEdges(std::map<EdgeKey, EdgeInfo>& edges, const std::unordered_map<std::uint64_t, const Instance*>& byKey) {
    std::map<EdgeKey, EdgeInfo> old;
    for (const auto& [key, info] : edges_)
        if (!edges.count(key) && byKey.count(key.from) && byKey.count(key.to)) old[key] = info;
    std::unordered_map<std::uint64_t, Instance*> ghostByKey;
    for (Instance& g : ghosts_) ghostByKey[g.key] = &g;
    for (const auto& [key, info] : old)
        if (const auto g = ghostByKey.find(key.from); g != ghostByKey.end() && !g->second->hadOutputs && info.target > 0.0f)
            g->second->hadOutputs = true;  // newly removed with cables out

    for (bool changed = true; changed;) {
        changed = false;
        std::unordered_set<std::uint64_t> feeding;  // modules with a cable out
        for (const auto& entry : old) feeding.insert(entry.first.from);
        for (auto it = old.begin(); it != old.end();) {
            const auto ghost = ghostByKey.find(it->first.to);
            const bool inner = ghost != ghostByKey.end() && ghost->second->hadOutputs;
            it->second.target = inner ? 1.0f : 0.0f;
            const bool done = inner ? !feeding.count(it->first.to) : compiler_.cableGain(it->first) <= 0.0f;
            if (done) {
                it = old.erase(it);
                changed = true;
            } else {
                ++it;
            }
        }
    }
    edges.insert(old.begin(), old.end());
    std::erase_if(ghosts_, [&](const Instance& g) {
        return std::none_of(old.begin(), old.end(), [&](const auto& e) { return e.first.from == g.key || e.first.to == g.key; });
    });
}

void Session::poll() {
    engine_.collectGarbage();
    finishLearn();
    captureMidiParams();
    worker_.runCompletions();
    for (auto& [id, instance] : live_) instance.module->idle();
    for (Instance& g : ghosts_) g.module->idle();
    bool recompile = compiler_.fadesSettled();
    for (const auto& [key, info] : edges_)
        if (info.target == 0.0f && compiler_.cableGain(key) <= 0.0f) recompile = true;
    if (recompile) sync(false);
}

void Session::finishLoading() {
    worker_.drain();
    for (auto& [id, instance] : live_) instance.module->idle();
}

std::vector<std::string> Session::messages() const {
    std::vector<std::string> all = notes_;
    all.insert(all.end(), midiNotes_.begin(), midiNotes_.end());
    for (const auto& [id, problem] : stateProblems_) all.push_back("module '" + id + "': state not loaded: " + problem);
    for (const auto& [id, instance] : live_)
        if (std::string status = instance.module->status(); !status.empty()) all.push_back("module '" + id + "': " + status);
    for (const MutedModule& muted : mutedModules()) all.push_back("module '" + muted.id + "': " + describe(muted));
    return all;
}

std::vector<Session::MutedModule> Session::mutedModules() const {
    std::vector<MutedModule> muted;
    for (const auto& [id, instance] : live_)
        if (instance.module->muted())
            muted.push_back(MutedModule{id, instance.type, static_cast<double>(instance.module->mutedAt()) / engine_.config().sampleRate,
                                        instance.module->muteCount()});
    return muted;
}

std::string Session::describe(const MutedModule& muted) {
    char at[32];
    std::snprintf(at, sizeof at, "%.3f", muted.seconds);
    std::string text = std::string("muted at ") + at + " s: its output was NaN or Inf";
    if (muted.times > 1) text += " (muted " + std::to_string(muted.times) + " times)";
    return text;
}

bool Session::transitioning() const noexcept {
    return report_.fading || !ghosts_.empty() ||
           std::any_of(edges_.begin(), edges_.end(), [](const auto& e) { return e.second.target == 0.0f; });
}

Module* Session::instance(std::string_view moduleId) const {
    const auto it = live_.find(std::string(moduleId));
    return it == live_.end() ? nullptr : it->second.module.get();
}

namespace {
// SignalTap::read gives at most half the ring (the rest is the writer's slack), so the ring holds
// twice the asked time. 16 channels of 10 s at 48 kHz: 64 MiB; longer asks are cut to this.
constexpr double kMaxProbeSeconds = 10.0;
}  // namespace

std::shared_ptr<const SignalTap> Session::probe(const PortRef& output, double seconds) {
    if (const auto it = probes_.find(output); it != probes_.end()) return it->second;
    const Module* module = instance(output.module);
    if (!module || module->descriptor().outputIndex(output.port) < 0) return nullptr;
    const int block = engine_.config().blockFrames;
    const double frames = std::ceil(std::clamp(seconds, 0.0, kMaxProbeSeconds) * engine_.config().sampleRate);
    auto tap = std::make_shared<SignalTap>(kMaxChannels, std::max(2 * block, 2 * static_cast<int>(frames)));
    probes_.emplace(output, tap);
    captureMidiParams();  // sync re-applies the document's params
    sync(false);
    return tap;
}

void Session::unprobe(const PortRef& output) {
    if (probes_.erase(output) == 0) return;
    captureMidiParams();
    sync(false);
}

int Session::probeChannels(const PortRef& output) const {
    const Module* module = instance(output.module);
    if (!module) return 0;
    const int index = module->descriptor().outputIndex(output.port);
    const auto it = report_.outputChannels.find(output.module);
    if (index < 0 || it == report_.outputChannels.end() || static_cast<std::size_t>(index) >= it->second.size()) return 0;
    return it->second[static_cast<std::size_t>(index)];
}

}  // namespace kabel
