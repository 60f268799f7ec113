#include "core/module/registry.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace kabel {

Registry& Registry::global() {
    static Registry registry;
    return registry;
}

void Registry::add(const ModuleDescriptor& d) {
    auto die = [&](const char* why) {
        std::fprintf(stderr, "kabel: module descriptor '%s': %s (fix the descriptor in modules/)\n", d.id.c_str(), why);
        std::abort();
    };
    if (!isValidId(d.id)) die("type id must be 1-64 characters of [A-Za-z0-9_-]");
    if (find(d.id)) die("type id registered twice");
    if (!d.create) die("no create function");
    for (const auto* ports : {&d.inputs, &d.outputs}) {
        std::set<std::string> seen;
        for (const auto& p : *ports)
            if (!isValidId(p.id) || !seen.insert(p.id).second) die("port ids must be valid and unique");
    }
    std::set<std::string> seen;
    for (const auto& p : d.params) {
        if (!isValidId(p.id) || !seen.insert(p.id).second) die("param ids must be valid and unique");
        if (!(p.min <= p.defaultValue && p.defaultValue <= p.max)) die("param default outside [min, max]");
        if (p.curve == ParamCurve::Exponential && !(p.min > 0)) die("exponential param needs min > 0");
        if (p.curve == ParamCurve::Choice && p.choices.size() != static_cast<std::size_t>(p.max - p.min + 1))
            die("choice param needs one label per value");
    }
    descriptors_.push_back(&d);
    byId_.emplace(d.id, &d);  // descriptors are static: the view stays valid
}

const ModuleDescriptor* Registry::find(std::string_view typeId) const noexcept {
    const auto it = byId_.find(typeId);
    return it == byId_.end() ? nullptr : it->second;
}

std::vector<const ModuleDescriptor*> Registry::all() const {
    auto sorted = descriptors_;
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return a->category != b->category ? a->category < b->category : a->id < b->id; });
    return sorted;
}

}  // namespace kabel
