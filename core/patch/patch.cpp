#include "core/patch/patch.hpp"

#include "core/module/descriptor.hpp"

namespace kabel {

std::optional<PortRef> PortRef::parse(std::string_view text) {
    const auto dot = text.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    PortRef ref{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
    if (!isValidId(ref.module) || !isValidId(ref.port)) return std::nullopt;
    return ref;
}

const ModuleSpec* Patch::findModule(std::string_view id) const {
    for (const auto& m : modules)
        if (m.id == id) return &m;
    return nullptr;
}

ModuleSpec* Patch::findModule(std::string_view id) {
    for (auto& m : modules)
        if (m.id == id) return &m;
    return nullptr;
}

std::string Patch::uniqueModuleId(std::string_view base) const {
    std::string id(base);
    for (int n = 2; findModule(id); ++n) id = std::string(base) + "-" + std::to_string(n);
    return id;
}

}  // namespace kabel
