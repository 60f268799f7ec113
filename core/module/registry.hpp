// The registry of module types. Each module family file registers its descriptors at start-up
// with a `const RegisterModule` object beside the descriptor, so adding a module touches one file.
#pragma once

#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/module/descriptor.hpp"

namespace kabel {

class Registry {
public:
    /// The process-wide registry that RegisterModule fills during static initialisation.
    /// Read-only once main() runs; any thread may read it then.
    static Registry& global();

    /// Static-initialisation time only. A duplicate or invalid id is a programmer error: aborts
    /// with a message naming it.
    void add(const ModuleDescriptor& descriptor);

    /// The descriptor with this type id, or nullptr. A hash lookup: loading a patch asks once per
    /// module and twice per cable.
    const ModuleDescriptor* find(std::string_view typeId) const noexcept;

    /// All descriptors, sorted by category, then id.
    std::vector<const ModuleDescriptor*> all() const;

private:
    std::vector<const ModuleDescriptor*> descriptors_;                    // in registration order
    std::unordered_map<std::string_view, const ModuleDescriptor*> byId_;  // views of the descriptors' ids
};

/// Registers a descriptor with Registry::global() during static initialisation:
///   const kabel::RegisterModule registerSine{kSineDescriptor};
struct RegisterModule {
    explicit RegisterModule(const ModuleDescriptor& descriptor) { Registry::global().add(descriptor); }
};

}  // namespace kabel
