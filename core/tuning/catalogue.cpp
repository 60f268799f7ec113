// The built-in scale catalogue: .scl/.ascl files under patches/scales/ (any sub-folders), each
// known by its file stem.
#include <algorithm>
#include <cstdlib>
#include <system_error>

#include "core/tuning/tuning.hpp"
#include "core/util/text.hpp"

namespace kabel::tuning {
namespace fs = std::filesystem;

namespace {

bool isDirectory(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

bool isScaleFile(const fs::path& p) {
    const std::string ext = asciiLower(p.extension().string());
    return ext == ".scl" || ext == ".ascl";
}

std::vector<fs::path> scaleFiles(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        std::error_code typeEc;
        if (it->is_regular_file(typeEc) && isScaleFile(it->path())) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

std::optional<fs::path> findCatalogue() {
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("KABEL_SCALES"); env && *env) candidates.emplace_back(env);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        candidates.push_back(exe.parent_path() / ".." / "patches" / "scales");
        candidates.push_back(exe.parent_path() / ".." / ".." / "patches" / "scales");
    }
    // The source tree this file was compiled from (CMake passes absolute source paths).
    candidates.push_back(fs::path(__FILE__).parent_path() / ".." / ".." / "patches" / "scales");
    for (const fs::path& c : candidates)
        if (isDirectory(c)) return fs::weakly_canonical(c, ec);
    return std::nullopt;
}

std::vector<CatalogueEntry> listCatalogue(const fs::path& dir) {
    std::vector<CatalogueEntry> entries;
    for (const fs::path& file : scaleFiles(dir)) {
        CatalogueEntry e;
        e.id = file.stem().string();
        e.path = file;
        try {
            const Scale s = loadScale(file);
            e.family = s.family;
            e.description = s.description;
            e.kind = s.kind;
            e.noteCount = s.noteCount();
            e.system = s.system;
        } catch (const InputError& error) {
            e.error = error.what();
        }
        entries.push_back(std::move(e));
    }
    std::stable_sort(entries.begin(), entries.end(), [](const CatalogueEntry& a, const CatalogueEntry& b) { return a.id < b.id; });
    return entries;
}

fs::path cataloguePath(const fs::path& dir, const std::string& id) {
    std::vector<fs::path> found;
    for (const fs::path& file : scaleFiles(dir))
        if (file.stem().string() == id) found.push_back(file);
    if (found.empty())
        throw InputError(id, 0, "", "no scale with this id in the catalogue " + dir.string() + " (kabel tune --list shows them)");
    if (found.size() > 1)
        throw InputError(id, 0, "", "the id is ambiguous in the catalogue: " + found[0].string() + " and " + found[1].string());
    return found[0];
}

Scale loadCatalogueScale(const fs::path& dir, const std::string& id) {
    return loadScale(cataloguePath(dir, id));
}

Mode loadCatalogueMode(const fs::path& dir, const std::string& id) {
    const fs::path path = cataloguePath(dir, id);
    Scale file = loadScale(path);
    if (file.system.empty()) {
        Mode mode;
        for (int d = 0; d < file.degreeCount(); ++d) mode.degrees.push_back(d);
        mode.description = file.description;
        mode.system = std::move(file);
        return mode;
    }
    if (file.system == id) throw InputError(path.filename().string(), 0, "", "@KABEL SYSTEM names the file itself");
    const Scale system = loadCatalogueScale(dir, file.system);
    return modeOf(file, system, path.filename().string());
}

}  // namespace kabel::tuning
