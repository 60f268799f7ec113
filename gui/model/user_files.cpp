#include "gui/model/user_files.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/util/atomic_file.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kabel::editor {
namespace {

constexpr std::uintmax_t kMaxFileBytes = 1 << 20;  // these files are a few hundred bytes

/// The file's JSON object with the expected "format" and version 1. Returns a null json when the
/// file does not exist; throws std::runtime_error with the reason when it is bad.
json readDocument(const fs::path& path, std::string_view format) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return nullptr;
    const auto size = fs::file_size(path, ec);
    if (ec) throw std::runtime_error(ec.message());
    if (size > kMaxFileBytes) throw std::runtime_error("file too large");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded()) throw std::runtime_error("not valid JSON");
    if (!doc.is_object()) throw std::runtime_error("expected a JSON object");
    if (doc.value("format", json()) != format) throw std::runtime_error("expected \"format\": \"" + std::string(format) + "\"");
    if (doc.value("version", json()) != 1) throw std::runtime_error("unsupported \"version\" (this Kabel reads 1)");
    return doc;
}

void writeDocument(const fs::path& path, const json& doc) {
    std::error_code ec;
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    if (ec) throw std::system_error(ec, "cannot create " + path.parent_path().string());
    writeFileAtomically(path, doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

/// The canonical form of a path for comparing entries: absolute, with "." and ".." and symlinks
/// resolved as far as the file exists.
std::string canonicalPath(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : p.string();
}

}  // namespace

RecentFiles::RecentFiles(fs::path file) : file_(std::move(file)) {
    try {
        const json doc = readDocument(file_, "kabel-recent");
        if (doc.is_null()) return;
        const auto files = doc.find("files");
        if (files == doc.end() || !files->is_array()) throw std::runtime_error("\"files\" is not an array");
        for (const auto& entry : *files) {
            if (!entry.is_string()) continue;  // one bad entry costs that entry only
            std::error_code ec;
            const std::string path = canonicalPath(entry.get<std::string>());
            if (!fs::is_regular_file(path, ec)) continue;
            if (std::find(files_.begin(), files_.end(), path) != files_.end()) continue;
            if (files_.size() < kMaxFiles) files_.push_back(path);
        }
    } catch (const std::exception& e) {
        files_.clear();
        problem_ = file_.string() + ": " + e.what() + " (recent files ignored)";
    }
}

void RecentFiles::add(const std::string& path) {
    if (path.empty()) return;
    const std::string canonical = canonicalPath(path);
    std::erase(files_, canonical);
    files_.insert(files_.begin(), canonical);
    if (files_.size() > kMaxFiles) files_.resize(kMaxFiles);
    save();
}

void RecentFiles::remove(const std::string& path) {
    std::erase(files_, canonicalPath(path));
    save();
}

void RecentFiles::save() {
    try {
        writeDocument(file_, json{{"format", "kabel-recent"}, {"version", 1}, {"files", files_}});
        problem_.clear();
    } catch (const std::exception& e) {
        problem_ = file_.string() + ": " + e.what();
    }
}

EditorSettings loadSettings(const fs::path& file, std::string& problem) {
    problem.clear();
    EditorSettings s;
    json doc;
    try {
        doc = readDocument(file, "kabel-settings");
    } catch (const std::exception& e) {
        problem = file.string() + ": " + e.what() + " (default settings used)";
        return s;
    }
    if (doc.is_null()) return s;
    std::vector<std::string> bad;
    auto get = [&](const char* key, auto valid, auto apply) {
        auto it = doc.find(key);
        if (it == doc.end()) return;
        if (valid(*it))
            apply(*it);
        else
            bad.push_back(key);
    };
    get(
        "audio_device", [](const json& v) { return v.is_string(); }, [&](const json& v) { s.audioDevice = v.get<std::string>(); });
    get(
        "host_api", [](const json& v) { return v.is_string(); }, [&](const json& v) { s.hostApi = v.get<std::string>(); });
    get(
        "buffer_frames", [](const json& v) { return v.is_number_integer() && v.get<long long>() >= 0 && v.get<long long>() <= 65536; },
        [&](const json& v) { s.bufferFrames = v.get<int>(); });
    get(
        "midi_inputs",
        [](const json& v) { return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }); },
        [&](const json& v) { s.midiInputs = v.get<std::vector<std::string>>(); });
    get(
        "ui_scale", [](const json& v) { return v.is_number() && v.get<double>() >= 0.5 && v.get<double>() <= 4.0; },
        [&](const json& v) { s.uiScale = v.get<float>(); });
    get(
        "educator_mode", [](const json& v) { return v.is_boolean(); }, [&](const json& v) { s.educatorMode = v.get<bool>(); });
    if (!bad.empty()) {
        problem = file.string() + ": ignored bad value" + (bad.size() > 1 ? "s" : "") + " for";
        for (std::size_t i = 0; i < bad.size(); ++i) problem += (i ? ", " : " ") + bad[i];
        problem += " (defaults used)";
    }
    return s;
}

void saveSettings(const fs::path& file, const EditorSettings& settings) {
    json doc{{"format", "kabel-settings"},
             {"version", 1},
             {"audio_device", settings.audioDevice},
             {"host_api", settings.hostApi},
             {"buffer_frames", settings.bufferFrames},
             {"midi_inputs", settings.midiInputs},
             {"ui_scale", settings.uiScale},
             {"educator_mode", settings.educatorMode}};
    writeDocument(file, doc);
}

fs::path xdgBaseDirectory(const char* variable, const char* fallback) {
    if (const char* value = std::getenv(variable); value && value[0] == '/') return value;
    const char* home = std::getenv("HOME");
    if (!home || !*home) {
        const passwd* pw = ::getpwuid(::getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : nullptr;
    }
    return (home ? fs::path(home) : fs::temp_directory_path()) / fallback;
}

fs::path configDirectory() {
    return xdgBaseDirectory("XDG_CONFIG_HOME", ".config") / "kabel";
}

}  // namespace kabel::editor
