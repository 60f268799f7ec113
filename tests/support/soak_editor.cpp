#include "tests/support/soak_editor.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "core/patch/patch_file.hpp"

namespace kabel::test {
namespace {

// How often each kind is drawn (out of the sum): rewiring and knobs most, as in a performance.
constexpr std::array<int, kSoakEditKinds> kWeights{
    12,  // AddModule
    8,   // RemoveModule
    20,  // Connect
    12,  // Disconnect
    20,  // ParamJump
    6,   // LoadSample
    2,   // UnloadSample
    6,   // LoadScale
    2,   // UnloadScale
    8,   // Undo
    4,   // Redo
};

bool sampleType(const std::string& type) {
    return type == "sampler" || type == "wavetable" || type == "convolver";
}
bool scaleType(const std::string& type) {
    return type == "tuner" || type == "quantizer";
}

const ModuleSpec* findModule(const Patch& p, const std::string& id) {
    for (const ModuleSpec& m : p.modules)
        if (m.id == id) return &m;
    return nullptr;
}

// Only parameter values differ between the two documents.
bool paramsOnly(const Patch& a, const Patch& b) {
    if (a.modules.size() != b.modules.size() || a.cables.size() != b.cables.size()) return false;
    for (std::size_t i = 0; i < a.cables.size(); ++i)
        if (!a.cables[i].sameEnds(b.cables[i])) return false;
    for (std::size_t i = 0; i < a.modules.size(); ++i)
        if (a.modules[i].id != b.modules[i].id || a.modules[i].type != b.modules[i].type ||
            a.modules[i].stateJson != b.modules[i].stateJson)
            return false;
    return true;
}

}  // namespace

const char* toString(SoakEdit kind) noexcept {
    static constexpr std::array<const char*, kSoakEditKinds> kNames{
        "add", "remove", "connect", "disconnect", "param", "load_sample", "unload_sample", "load_scale", "unload_scale", "undo", "redo"};
    return kNames[static_cast<std::size_t>(kind)];
}

bool soakEditFromString(const std::string& name, SoakEdit& kind) noexcept {
    for (std::size_t k = 0; k < kSoakEditKinds; ++k)
        if (name == toString(static_cast<SoakEdit>(k))) {
            kind = static_cast<SoakEdit>(k);
            return true;
        }
    return false;
}

SoakEditor::SoakEditor(Session& session, const Registry& registry, editor::History& history, SoakEditorOptions options)
    : session_(session), registry_(registry), history_(history), options_(std::move(options)), rng_(options_.seed) {
    weights_ = kWeights;
    if (!options_.kinds.empty()) {
        weights_.fill(0);
        for (SoakEdit k : options_.kinds) weights_[static_cast<std::size_t>(k)] = kWeights[static_cast<std::size_t>(k)];
    }
    for (const ModuleDescriptor* d : registry.all())
        if (std::find(options_.excludedTypes.begin(), options_.excludedTypes.end(), d->id) == options_.excludedTypes.end())
            types_.push_back(d);
}

bool SoakEditor::isProtected(const std::string& moduleId) const {
    return std::find(options_.protectedModules.begin(), options_.protectedModules.end(), moduleId) != options_.protectedModules.end();
}

bool SoakEditor::openInput(const PortRef& port) const {
    const std::string name = port.module + "." + port.port;
    return std::find(options_.openInputs.begin(), options_.openInputs.end(), name) != options_.openInputs.end();
}

template <typename Change>
void SoakEditor::recordEdit(const std::string& label, Change&& change) {
    history_.record(session_.patch(), label);
    history_.endGesture();  // a jump, not a drag: one undo step each
    session_.edit(std::forward<Change>(change));
}

bool SoakEditor::step(SoakStep& out) {
    int total = 0;
    for (int w : weights_) total += w;
    for (int attempt = 0; attempt < 200; ++attempt) {
        int r = static_cast<int>(pick(static_cast<std::size_t>(total)));
        std::size_t k = 0;
        while (r >= weights_[k]) r -= weights_[k++];
        const auto kind = static_cast<SoakEdit>(k);
        const Patch before = session_.patch();
        out = SoakStep{};
        out.kind = kind;
        if (!tryStep(kind, out)) continue;
        if (out.smooth) out.smooth = smoothChange(before, session_.patch());
        out.knob = paramsOnly(before, session_.patch());
        ++counts_[k];
        return true;
    }
    return false;
}

bool SoakEditor::tryStep(SoakEdit kind, SoakStep& out) {
    switch (kind) {
        case SoakEdit::AddModule:
            return addModule(out);
        case SoakEdit::RemoveModule:
            return removeModule(out);
        case SoakEdit::Connect:
            return connect(out);
        case SoakEdit::Disconnect:
            return disconnect(out);
        case SoakEdit::ParamJump:
            return paramJump(out);
        case SoakEdit::LoadSample:
            return setState(out, true, true);
        case SoakEdit::UnloadSample:
            return setState(out, true, false);
        case SoakEdit::LoadScale:
            return setState(out, false, true);
        case SoakEdit::UnloadScale:
            return setState(out, false, false);
        case SoakEdit::Undo:
            return applyHistory(true, out);
        case SoakEdit::Redo:
            return applyHistory(false, out);
    }
    return false;
}

bool SoakEditor::addModule(SoakStep& out) {
    const Patch& doc = session_.patch();
    if (doc.modules.size() >= options_.maxModules || types_.empty()) return false;
    const ModuleDescriptor* d = types_[pick(types_.size())];
    std::string base(1, 's');  // (not "s" + to_string: g++ 12 warns falsely, -Wrestrict)
    base += std::to_string(nextId_++);
    const std::string id = doc.uniqueModuleId(base);
    out.label = "Add " + d->name + " " + id;
    recordEdit(out.label, [&](Patch& p) {
        ModuleSpec m;
        m.id = id;
        m.type = d->id;
        m.x = static_cast<float>(pick(2000));
        m.y = static_cast<float>(pick(1500));
        p.modules.push_back(std::move(m));
    });
    return true;
}

bool SoakEditor::removeModule(SoakStep& out) {
    const Patch& doc = session_.patch();
    std::vector<std::string> candidates;
    for (const ModuleSpec& m : doc.modules)
        if (!isProtected(m.id)) candidates.push_back(m.id);
    if (candidates.size() < 3) return false;  // keep something playing
    const std::string id = pickOf(candidates);
    out.label = "Delete " + id;
    recordEdit(out.label, [&](Patch& p) {
        std::erase_if(p.modules, [&](const ModuleSpec& m) { return m.id == id; });
        std::erase_if(p.cables, [&](const CableSpec& c) { return c.from.module == id || c.to.module == id; });
    });
    return true;
}

bool SoakEditor::connect(SoakStep& out) {
    const Patch& doc = session_.patch();
    std::vector<PortRef> outputs, inputs;
    for (const ModuleSpec& m : doc.modules) {
        const ModuleDescriptor* d = registry_.find(m.type);
        if (!d) continue;
        for (const PortDescriptor& p : d->inputs)
            if (!isProtected(m.id) || openInput({m.id, p.id})) inputs.push_back({m.id, p.id});
        if (isProtected(m.id)) continue;
        for (const PortDescriptor& p : d->outputs) outputs.push_back({m.id, p.id});
    }
    if (outputs.empty() || inputs.empty()) return false;
    CableSpec c{outputs[pick(outputs.size())], inputs[pick(inputs.size())], {}};
    if (std::any_of(doc.cables.begin(), doc.cables.end(), [&](const CableSpec& x) { return x.sameEnds(c); })) return false;
    out.label = "Connect " + c.from.module + "." + c.from.port + " -> " + c.to.module + "." + c.to.port;
    recordEdit(out.label, [&](Patch& p) { p.cables.push_back(c); });
    return true;
}

bool SoakEditor::disconnect(SoakStep& out) {
    const Patch& doc = session_.patch();
    std::vector<std::size_t> candidates;
    for (std::size_t i = 0; i < doc.cables.size(); ++i) {
        const CableSpec& c = doc.cables[i];
        if (isProtected(c.from.module)) continue;
        if (isProtected(c.to.module) && !openInput(c.to)) continue;
        candidates.push_back(i);
    }
    if (candidates.empty()) return false;
    const std::size_t k = candidates[pick(candidates.size())];
    const CableSpec c = doc.cables[k];
    out.label = "Disconnect " + c.from.module + "." + c.from.port + " -> " + c.to.module + "." + c.to.port;
    recordEdit(out.label, [&](Patch& p) { std::erase_if(p.cables, [&](const CableSpec& x) { return x.sameEnds(c); }); });
    return true;
}

bool SoakEditor::paramJump(SoakStep& out) {
    const Patch& doc = session_.patch();
    std::vector<const ModuleSpec*> candidates;
    for (const ModuleSpec& m : doc.modules)
        if (!isProtected(m.id)) candidates.push_back(&m);
    if (candidates.empty()) return false;
    const ModuleSpec& m = *candidates[pick(candidates.size())];
    const ModuleDescriptor* d = registry_.find(m.type);
    if (!d || d->params.empty()) return false;
    const ParamDescriptor& p = d->params[pick(d->params.size())];
    const std::array<float, 4> extremes{0.0f, 0.3f, 0.7f, 1.0f};
    const float x = pick(5) == 4 ? std::uniform_real_distribution<float>(0.0f, 1.0f)(rng_) : extremes[pick(4)];
    const double value = p.fromNormalized(x);
    const std::string id = m.id;  // (the document changes under `m`)
    out.label = "Set " + id + "." + p.id;
    history_.record(session_.patch(), out.label, id + "." + p.id);
    history_.endGesture();
    return session_.setParam(id, p.id, value);
}

bool SoakEditor::setState(SoakStep& out, bool sample, bool load) {
    const Patch& doc = session_.patch();
    std::vector<std::string> candidates;
    for (const ModuleSpec& m : doc.modules)
        if (!isProtected(m.id) && (sample ? sampleType(m.type) : scaleType(m.type)) && (load || !m.stateJson.empty()))
            candidates.push_back(m.id);
    if (candidates.empty()) return false;
    const std::string id = pickOf(candidates);
    std::string state;  // "" unloads
    const SoakFiles& f = options_.files;
    if (load) {
        nlohmann::json j = nlohmann::json::object();
        if (sample) {
            const bool bad = !f.badSamples.empty() && pick(4) == 0;
            const std::string& file = bad ? pickOf(f.badSamples) : pickOf(f.samples);
            j["file"] = file;
        } else if (pick(8) == 0) {
            j["scale"] = "maqam-rast-24edo";  // the catalogue, no file
        } else {
            const bool bad = !f.badScales.empty() && pick(5) == 0;
            j["file"] = bad ? pickOf(f.badScales) : pickOf(f.scales);
            if (pick(3) == 0 && !f.kbms.empty()) j["kbm"] = !f.badKbms.empty() && pick(4) == 0 ? pickOf(f.badKbms) : pickOf(f.kbms);
        }
        state = j.dump();
    }
    const ModuleSpec* m = findModule(doc, id);
    if (m->stateJson == state) return false;
    out.label = std::string(load ? "Load " : "Unload ") + (sample ? "sample" : "scale") + " " + id + (load ? " " + state : "");
    recordEdit(out.label, [&](Patch& p) {
        for (ModuleSpec& x : p.modules)
            if (x.id == id) x.stateJson = state;
    });
    return true;
}

bool SoakEditor::applyHistory(bool undo, SoakStep& out) {
    std::optional<Patch> target = undo ? history_.undo(session_.patch()) : history_.redo(session_.patch());
    if (!target) return false;
    const std::string expected = serializePatch(*target);
    out.label = undo ? "Undo" : "Redo";
    session_.setPatch(std::move(*target));
    out.exact = serializePatch(session_.patch()) == expected;
    return true;
}

int SoakEditor::undoAll(bool& exact) {
    int n = 0;
    SoakStep s;
    while (applyHistory(true, s)) {
        ++n;
        if (!s.exact) exact = false;
    }
    return n;
}

int SoakEditor::redoAll(bool& exact) {
    int n = 0;
    SoakStep s;
    while (applyHistory(false, s)) {
        ++n;
        if (!s.exact) exact = false;
    }
    return n;
}

bool SoakEditor::smoothChange(const Patch& before, const Patch& after) const {
    // Modules in both: a discrete parameter or the state changed -> not smooth.
    for (const ModuleSpec& a : before.modules) {
        const ModuleSpec* b = findModule(after, a.id);
        if (!b) continue;
        if (b->type != a.type || b->stateJson != a.stateJson) return false;
        const ModuleDescriptor* d = registry_.find(a.type);
        if (!d) continue;
        for (const ParamDescriptor& p : d->params) {
            const auto ia = a.params.find(p.id), ib = b->params.find(p.id);
            const double va = ia == a.params.end() ? p.defaultValue : ia->second;
            const double vb = ib == b->params.end() ? p.defaultValue : ib->second;
            if (va == vb) continue;
            if (p.curve == ParamCurve::Choice || p.curve == ParamCurve::Toggle || p.curve == ParamCurve::Integer) return false;
        }
    }
    // Cables that came or went: each must run from an audio output to an audio input (unpatched
    // 0) of a module that exists on both sides (a module's own arrival or removal is faded by its
    // cables). Control, gate and pitch outputs carry levels far outside +-1 (a clock's BPM output
    // reads 132): their 10 ms fade is a ramp whose corners scale with that level, so patching one
    // into an audio input is a step of the signal's own, not an engine click.
    auto kindOf = [&](const Patch& p, const PortRef& port, bool input) -> std::optional<SignalKind> {
        const ModuleSpec* m = findModule(p, port.module);
        const ModuleDescriptor* d = m ? registry_.find(m->type) : nullptr;
        if (!d) return std::nullopt;
        for (const PortDescriptor& x : input ? d->inputs : d->outputs)
            if (x.id == port.port) {
                if (input && x.defaultValue != 0.0f) return SignalKind::Control;
                // Hard sync restarts the oscillator's phase at each rising crossing of 0.5: an
                // audio input that acts as a trigger, so patching it changes the wave at once.
                if (input && x.id == "sync") return SignalKind::Gate;
                return x.kind;
            }
        return std::nullopt;
    };
    auto inputIsAudio = [&](const CableSpec& c) {
        if (!findModule(before, c.to.module) || !findModule(after, c.to.module)) return true;
        const auto to = kindOf(after, c.to, true);
        auto from = kindOf(after, c.from, false);
        if (!from) from = kindOf(before, c.from, false);
        return (!to || *to == SignalKind::Audio) && (!from || *from == SignalKind::Audio);
    };
    auto changed = [&](const Patch& x, const Patch& y) {
        for (const CableSpec& c : x.cables)
            if (std::none_of(y.cables.begin(), y.cables.end(), [&](const CableSpec& o) { return o.sameEnds(c); }) && !inputIsAudio(c))
                return true;
        return false;
    };
    return !changed(before, after) && !changed(after, before);
}

}  // namespace kabel::test
