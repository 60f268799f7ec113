// `kabel validate PATCH`: loads a patch file with every registered module type and reports
// whether it is valid, with its warnings. Exit code 0 for a loadable file (warnings or not),
// 1 for an error. Summary on stdout, warnings and errors on stderr (one per line).
#include <cstdio>
#include <exception>
#include <string>

#include "core/cli/commands.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"

namespace kabel::cli {
namespace {

std::string count(std::size_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

int validatePatch(const std::string& path) {
    try {
        const LoadedPatch loaded = loadPatchFile(path, Registry::global());
        for (const std::string& warning : loaded.warnings) std::fprintf(stderr, "%s\n", warning.c_str());
        std::string summary = count(loaded.patch.modules.size(), "module") + ", " + count(loaded.patch.cables.size(), "cable");
        if (!loaded.warnings.empty()) summary += ", " + count(loaded.warnings.size(), "warning");
        std::printf("%s: ok (%s)\n", path.c_str(), summary.c_str());
        return 0;
    } catch (const InputError& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {
        // Not expected (InputError covers bad files), but a validator must never crash.
        std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    }
    return 1;
}

}  // namespace kabel::cli
