// Helpers to build patch documents in tests and to run an engine block by block.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/patch/patch.hpp"

namespace kabel::test {

inline ModuleSpec moduleSpec(std::string id, std::string type, std::initializer_list<std::pair<const std::string, double>> params = {}) {
    ModuleSpec m;
    m.id = std::move(id);
    m.type = std::move(type);
    m.params = params;
    return m;
}

/// "module.port" -> "module.port"
inline CableSpec cableSpec(const std::string& from, const std::string& to) {
    return CableSpec{*PortRef::parse(from), *PortRef::parse(to), {}};
}

inline Patch makePatch(std::vector<ModuleSpec> modules, std::initializer_list<std::pair<const char*, const char*>> cables) {
    Patch p;
    p.modules = std::move(modules);
    for (const auto& [from, to] : cables) p.cables.push_back(cableSpec(from, to));
    return p;
}

inline void removeCable(Patch& p, const std::string& from, const std::string& to) {
    std::erase_if(p.cables, [&](const CableSpec& c) { return c.from.str() == from && c.to.str() == to; });
}

inline void removeModule(Patch& p, const std::string& id) {
    std::erase_if(p.modules, [&](const ModuleSpec& m) { return m.id == id; });
    std::erase_if(p.cables, [&](const CableSpec& c) { return c.from.module == id || c.to.module == id; });
}

/// Runs `blocks` engine blocks, polling the session after each, and returns output channel `ch`.
inline std::vector<float> runBlocks(Engine& engine, Session* session, int blocks, int ch = 0) {
    std::vector<float> out;
    const int frames = engine.config().blockFrames;
    out.reserve(static_cast<std::size_t>(blocks) * static_cast<std::size_t>(frames));
    for (int b = 0; b < blocks; ++b) {
        engine.processBlock();
        const float* block = engine.blockOutput(ch);
        out.insert(out.end(), block, block + frames);
        if (session) session->poll();
    }
    return out;
}

}  // namespace kabel::test
