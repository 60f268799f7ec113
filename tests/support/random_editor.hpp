// RandomEditor: random edits through a Session, the way a performer patches: add and remove
// modules, connect and disconnect cables, jump knobs, undo. For stress and real-time tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "core/engine/session.hpp"
#include "core/module/registry.hpp"

namespace kabel::test {

class RandomEditor {
public:
    /// `types`: module types to add (empty: every type in `registry`). UI thread.
    RandomEditor(Session& session, const Registry& registry, const std::vector<std::string>& types, unsigned seed);
    bool usable() const { return !types_.empty(); }

    /// One edit; false when the random choice was a no-op (e.g. a cable that exists already).
    bool step();

private:
    static constexpr std::size_t kMaxModules = 24;

    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    void remember(const Patch& doc);

    Session& session_;
    const Registry& registry_;
    std::mt19937 rng_;
    std::vector<const ModuleDescriptor*> types_;
    std::vector<Patch> history_;
    int nextId_ = 0;
};

}  // namespace kabel::test
