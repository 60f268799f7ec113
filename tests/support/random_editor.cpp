#include "tests/support/random_editor.hpp"

#include <algorithm>
#include <array>

namespace kabel::test {

RandomEditor::RandomEditor(Session& session, const Registry& registry, const std::vector<std::string>& types, unsigned seed)
    : session_(session), registry_(registry), rng_(seed) {
    for (const ModuleDescriptor* d : registry.all())
        if (types.empty() || std::find(types.begin(), types.end(), d->id) != types.end()) types_.push_back(d);
}

void RandomEditor::remember(const Patch& doc) {
    history_.push_back(doc);
    if (history_.size() > 32) history_.erase(history_.begin());
}

bool RandomEditor::step() {
    const Patch& doc = session_.patch();
    const int action = static_cast<int>(pick(7));
    if (action == 0 || doc.modules.size() < 3) {
        if (doc.modules.size() >= kMaxModules) return false;
        const ModuleDescriptor* d = types_[pick(types_.size())];
        remember(doc);
        std::string base(1, 'e');  // (not "e" + to_string: g++ 12 warns falsely, -Wrestrict)
        base += std::to_string(nextId_++);
        const std::string id = doc.uniqueModuleId(base);
        session_.edit([&](Patch& p) {
            ModuleSpec m;
            m.id = id;
            m.type = d->id;
            p.modules.push_back(std::move(m));
        });
        return true;
    }
    if (action == 1) {
        remember(doc);
        const std::string id = doc.modules[pick(doc.modules.size())].id;
        session_.edit([&](Patch& p) {
            std::erase_if(p.modules, [&](const ModuleSpec& m) { return m.id == id; });
            std::erase_if(p.cables, [&](const CableSpec& c) { return c.from.module == id || c.to.module == id; });
        });
        return true;
    }
    if (action == 2 || action == 3) {
        const ModuleSpec& a = doc.modules[pick(doc.modules.size())];
        const ModuleSpec& b = doc.modules[pick(doc.modules.size())];
        const ModuleDescriptor* da = registry_.find(a.type);
        const ModuleDescriptor* db = registry_.find(b.type);
        if (!da || !db || da->outputs.empty() || db->inputs.empty()) return false;
        CableSpec c{{a.id, da->outputs[pick(da->outputs.size())].id}, {b.id, db->inputs[pick(db->inputs.size())].id}, {}};
        if (std::any_of(doc.cables.begin(), doc.cables.end(), [&](const CableSpec& x) { return x.sameEnds(c); })) return false;
        remember(doc);
        session_.edit([&](Patch& p) { p.cables.push_back(c); });
        return true;
    }
    if (action == 4) {
        if (doc.cables.empty()) return false;
        remember(doc);
        const auto k = static_cast<long>(pick(doc.cables.size()));
        session_.edit([&](Patch& p) { p.cables.erase(p.cables.begin() + k); });
        return true;
    }
    if (action == 5) {  // a knob jump, to an extreme or the middle
        const ModuleSpec& m = doc.modules[pick(doc.modules.size())];
        const ModuleDescriptor* d = registry_.find(m.type);
        if (!d || d->params.empty()) return false;
        const ParamDescriptor& p = d->params[pick(d->params.size())];
        const float x = std::array<float, 4>{0.0f, 0.3f, 0.7f, 1.0f}[pick(4)];
        return session_.setParam(m.id, p.id, p.fromNormalized(x));
    }
    if (history_.empty()) return false;  // undo
    session_.setPatch(history_.back());
    history_.pop_back();
    return true;
}

}  // namespace kabel::test
