#include "gui/model/history.hpp"

#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace kabel::editor {
namespace {

// Field-by-field equality for sharing unchanged parts between snapshots. The structured bindings
// name every field: adding a field to these structs stops this file compiling until it is
// compared here too (a forgotten field would make undo restore a stale value).
bool sameModule(const ModuleSpec& a, const ModuleSpec& b) {
    const auto& [id, type, params, x, y, label, stateJson, extraParamsJson, extraJson] = a;
    return std::tie(id, type, params, x, y, label, stateJson, extraParamsJson, extraJson) ==
           std::tie(b.id, b.type, b.params, b.x, b.y, b.label, b.stateJson, b.extraParamsJson, b.extraJson);
}

bool sameCable(const CableSpec& a, const CableSpec& b) {
    const auto& [from, to, extraJson] = a;
    return std::tie(from, to, extraJson) == std::tie(b.from, b.to, b.extraJson);
}

bool sameMapping(const MidiMapping& a, const MidiMapping& b) {
    const auto& [source, channel, port, number, module, param, min, max, curve, mode, step, pickup, extraJson] = a;
    return std::tie(source, channel, port, number, module, param, min, max, curve, mode, step, pickup, extraJson) ==
           std::tie(b.source, b.channel, b.port, b.number, b.module, b.param, b.min, b.max, b.curve, b.mode, b.step, b.pickup, b.extraJson);
}

template <typename T, typename Eq>
bool sameList(const std::vector<T>& a, const std::vector<T>& b, Eq eq) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!eq(a[i], b[i])) return false;
    return true;
}

template <typename T, typename Eq>
std::shared_ptr<const std::vector<T>> shareList(const std::vector<T>& list, const std::shared_ptr<const std::vector<T>>* previous, Eq eq) {
    if (previous && *previous && sameList(list, **previous, eq)) return *previous;
    return std::make_shared<const std::vector<T>>(list);
}

const std::string kNoLabel;

}  // namespace

History::History(std::size_t limit) : limit_(limit) {}

const History::Snapshot* History::latest() const {
    if (!undo_.empty()) return &undo_.back().document;
    if (!redo_.empty()) return &redo_.back().document;
    return nullptr;
}

History::Snapshot History::capture(const Patch& patch) const {
    const Snapshot* previous = latest();
    Snapshot s;
    s.meta = patch.meta;
    s.extraJson = patch.extraJson;
    s.modules.reserve(patch.modules.size());
    // Modules usually keep their index between edits; the id index is built only when they moved.
    std::unordered_map<std::string_view, const std::shared_ptr<const ModuleSpec>*> byId;
    bool indexed = false;
    for (std::size_t i = 0; i < patch.modules.size(); ++i) {
        const ModuleSpec& m = patch.modules[i];
        const std::shared_ptr<const ModuleSpec>* candidate = nullptr;
        if (previous) {
            if (i < previous->modules.size() && previous->modules[i]->id == m.id) {
                candidate = &previous->modules[i];
            } else {
                if (!indexed) {
                    for (const auto& p : previous->modules) byId.emplace(p->id, &p);
                    indexed = true;
                }
                if (auto it = byId.find(m.id); it != byId.end()) candidate = it->second;
            }
        }
        if (candidate && sameModule(**candidate, m))
            s.modules.push_back(*candidate);
        else
            s.modules.push_back(std::make_shared<const ModuleSpec>(m));
    }
    s.cables = shareList(patch.cables, previous ? &previous->cables : nullptr, sameCable);
    s.midiMap = shareList(patch.midiMap, previous ? &previous->midiMap : nullptr, sameMapping);
    return s;
}

Patch History::materialise(const Snapshot& snapshot) {
    Patch p;
    p.meta = snapshot.meta;
    p.extraJson = snapshot.extraJson;
    p.modules.reserve(snapshot.modules.size());
    for (const auto& m : snapshot.modules) p.modules.push_back(*m);
    p.cables = *snapshot.cables;
    p.midiMap = *snapshot.midiMap;
    return p;
}

void History::record(const Patch& before, std::string label, std::string mergeKey) {
    redo_.clear();
    if (gestureOpen_ && !mergeKey.empty() && !undo_.empty() && undo_.back().mergeKey == mergeKey) {
        undo_.back().label = std::move(label);  // the step keeps the document from the gesture's start
        return;
    }
    gestureOpen_ = !mergeKey.empty();
    if (limit_ == 0) return;
    Step step{capture(before), std::move(label), std::move(mergeKey)};
    undo_.push_back(std::move(step));
    while (undo_.size() > limit_) undo_.pop_front();
}

void History::endGesture() {
    gestureOpen_ = false;
}

const std::string& History::undoLabel() const {
    return undo_.empty() ? kNoLabel : undo_.back().label;
}

const std::string& History::redoLabel() const {
    return redo_.empty() ? kNoLabel : redo_.back().label;
}

std::optional<Patch> History::undo(const Patch& current) {
    gestureOpen_ = false;
    if (undo_.empty()) return std::nullopt;
    Step now{capture(current), undo_.back().label, {}};
    Step back = std::move(undo_.back());
    undo_.pop_back();
    redo_.push_back(std::move(now));
    return materialise(back.document);
}

std::optional<Patch> History::redo(const Patch& current) {
    gestureOpen_ = false;
    if (redo_.empty()) return std::nullopt;
    Step now{capture(current), redo_.back().label, {}};
    Step forward = std::move(redo_.back());
    redo_.pop_back();
    undo_.push_back(std::move(now));
    while (undo_.size() > limit_) undo_.pop_front();
    return materialise(forward.document);
}

void History::clear() {
    undo_.clear();
    redo_.clear();
    gestureOpen_ = false;
}

std::size_t History::storedModuleCount() const {
    std::unordered_set<const ModuleSpec*> distinct;
    for (const auto& step : undo_)
        for (const auto& m : step.document.modules) distinct.insert(m.get());
    for (const auto& step : redo_)
        for (const auto& m : step.document.modules) distinct.insert(m.get());
    return distinct.size();
}

}  // namespace kabel::editor
