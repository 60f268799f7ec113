#include "gui/model/recovery.hpp"

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/error.hpp"
#include "gui/model/user_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kabel::editor {
namespace {

constexpr std::string_view kFormat = "kabel-recovery";
constexpr std::string_view kPrefix = "kabel-recovery-";
constexpr std::string_view kSuffix = ".json";
// A recovery file is a patch plus a few lines of envelope.
constexpr std::uintmax_t kMaxRecoveryBytes = kMaxPatchFileBytes + (std::uintmax_t{1} << 20);

std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::system_error(errno, std::generic_category(), "cannot open");
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw std::system_error(errno, std::generic_category(), "cannot read");
    return s.str();
}

std::string firstLine(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string bootId() {
    return firstLine("/proc/sys/kernel/random/boot_id");
}

/// Field 22 of /proc/PID/stat: the process's start time in clock ticks after boot.
std::optional<unsigned long long> startTicks(long pid) {
    const std::string stat = firstLine("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');  // the command name in (...) may contain spaces
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    for (int n = 3; n <= 22; ++n)
        if (!(fields >> field)) return std::nullopt;
    try {
        return std::stoull(field);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string isoTimeNow() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf;
}

std::string toHex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

std::optional<std::string> fromHex(std::string_view hex) {
    auto value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    if (hex.size() % 2) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = value(hex[i]), lo = value(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

/// True when the process that wrote a recovery file is still running (see the design note).
bool writerAlive(long pid, const std::string& recordedBoot, std::optional<unsigned long long> recordedStart) {
    if (pid <= 0) return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
    if (!recordedBoot.empty() && recordedBoot != bootId()) return false;
    if (recordedStart) return startTicks(pid) == recordedStart;
    return firstLine("/proc/" + std::to_string(pid) + "/comm").rfind("kabel", 0) == 0;
}

/// The parts of a recovery file the editor needs; throws std::runtime_error with the reason.
struct Envelope {
    long pid = 0;
    std::string original;
    std::string bootId;
    std::optional<unsigned long long> startTicks;
    json patch;
};

Envelope readEnvelope(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) throw std::system_error(ec, "cannot read");
    if (size > kMaxRecoveryBytes) throw std::runtime_error("file too large");
    const std::string text = readText(path);
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) throw std::runtime_error("not valid JSON");
    if (!doc.is_object()) throw std::runtime_error("expected a JSON object");
    auto field = [&](const char* key) -> json& {
        auto it = doc.find(key);
        if (it == doc.end()) throw std::runtime_error(std::string("missing \"") + key + "\"");
        return *it;
    };
    if (field("format") != kFormat) throw std::runtime_error("\"format\" is not \"kabel-recovery\"");
    if (!field("version").is_number_integer() || field("version").get<long long>() != 1)
        throw std::runtime_error("unsupported \"version\"");
    Envelope e;
    if (!field("pid").is_number_integer()) throw std::runtime_error("\"pid\" is not an integer");
    e.pid = field("pid").get<long>();
    if (!field("original").is_string()) throw std::runtime_error("\"original\" is not a string");
    e.original = field("original").get<std::string>();
    if (auto it = doc.find("original_hex"); it != doc.end()) {
        std::optional<std::string> bytes = it->is_string() ? fromHex(it->get<std::string>()) : std::nullopt;
        if (!bytes) throw std::runtime_error("\"original_hex\" is not hex text");
        e.original = *bytes;
    }
    if (auto it = doc.find("boot_id"); it != doc.end() && it->is_string()) e.bootId = it->get<std::string>();
    if (auto it = doc.find("start_ticks"); it != doc.end() && it->is_number_unsigned()) e.startTicks = it->get<unsigned long long>();
    if (!field("patch").is_object()) throw std::runtime_error("\"patch\" is not an object");
    e.patch = std::move(field("patch"));
    return e;
}

/// Renames a file to "<name><suffix>" ("<suffix>-2", ... if taken) and says so in one line.
std::string setAside(const fs::path& path, const std::string& reason, const char* suffix = ".corrupt") {
    fs::path target = path;
    target += suffix;
    std::error_code ec;
    for (int n = 2; fs::exists(target, ec); ++n) {
        target = path;
        target += suffix + ("-" + std::to_string(n));
    }
    fs::rename(path, target, ec);
    if (ec) return path.string() + ": " + reason + " (could not set it aside: " + ec.message() + ")";
    return path.string() + ": " + reason + " (set aside as " + target.filename().string() + ")";
}

/// The marker that says "a process is recovering this file": "<recovery file>.recovering".
fs::path markerOf(const fs::path& file) {
    fs::path marker = file;
    marker += ".recovering";
    return marker;
}

std::string processIdentity() {
    std::string text = "{\"format\": \"kabel-recovering\", \"pid\": " + std::to_string(::getpid());
    text += ", \"boot_id\": " + json(bootId()).dump();
    if (auto ticks = startTicks(::getpid())) text += ", \"start_ticks\": " + std::to_string(*ticks);
    return text + "}\n";
}

/// True when the process named in a marker (or recovery file) is alive; false for unreadable text.
bool identityAlive(const json& doc) {
    if (!doc.is_object() || !doc.contains("pid") || !doc["pid"].is_number_integer()) return false;
    const std::string boot = doc.contains("boot_id") && doc["boot_id"].is_string() ? doc["boot_id"].get<std::string>() : "";
    std::optional<unsigned long long> ticks;
    if (doc.contains("start_ticks") && doc["start_ticks"].is_number_unsigned()) ticks = doc["start_ticks"].get<unsigned long long>();
    return writerAlive(doc["pid"].get<long>(), boot, ticks);
}

bool isRecoveryName(const std::string& name) {
    return name.size() > kPrefix.size() + kSuffix.size() && name.rfind(kPrefix, 0) == 0 &&
           name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace

Autosave::Autosave(fs::path directory) {
    std::random_device random;
    char token[9];
    std::snprintf(token, sizeof token, "%08x", static_cast<unsigned>(random()));
    file_ = directory / (std::string(kPrefix) + std::to_string(::getpid()) + "-" + token + std::string(kSuffix));
}

void Autosave::write(const Patch& patch, const std::string& originalPath) {
    // The envelope is written as text around serializePatch's output: the patch's bytes go in
    // exactly as a save would write them.
    std::string text = "{\"format\": \"kabel-recovery\", \"version\": 1,\n \"original\": ";
    try {
        text += json(originalPath).dump();
    } catch (const json::type_error&) {  // not UTF-8: keep the bytes in hex, show a readable form
        text += json(originalPath).dump(-1, ' ', false, json::error_handler_t::replace);
        text += ", \"original_hex\": \"" + toHex(originalPath) + "\"";
    }
    text += ",\n \"pid\": " + std::to_string(::getpid());
    text += ", \"boot_id\": " + json(bootId()).dump();
    if (auto ticks = startTicks(::getpid())) text += ", \"start_ticks\": " + std::to_string(*ticks);
    text += ", \"written\": \"" + isoTimeNow() + "\",\n \"patch\": ";
    text += serializePatch(patch);
    text += "}\n";
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    if (ec) throw std::system_error(ec, "cannot create " + file_.parent_path().string());
    writeFileAtomically(file_, text);
}

void Autosave::discard() noexcept {
    std::error_code ignored;
    fs::remove(file_, ignored);
}

std::vector<RecoveryFile> Autosave::findOrphans(const fs::path& directory, std::vector<std::string>& problems) {
    std::vector<RecoveryFile> found;
    std::error_code ec;
    fs::directory_iterator it(directory, ec);
    if (ec) {
        if (ec != std::errc::no_such_file_or_directory) problems.push_back(directory.string() + ": " + ec.message());
        return found;
    }
    const Registry noTypes;  // structure only: every module loads as a placeholder
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        const fs::path path = it->path();
        if (!isRecoveryName(path.filename().string()) || !it->is_regular_file(ec)) continue;
        try {
            std::error_code local;
            if (fs::exists(markerOf(path), local)) {
                std::ifstream in(markerOf(path));
                const json marker = json::parse(in, nullptr, false);
                if (identityAlive(marker)) continue;  // another editor is recovering it right now
                fs::remove(markerOf(path), local);
                problems.push_back(setAside(path, "Kabel stopped while recovering this file last time", ".crashed"));
                continue;
            }
            Envelope e = readEnvelope(path);
            if (writerAlive(e.pid, e.bootId, e.startTicks)) continue;
            const Patch patch = parsePatch(e.patch.dump(), path.string(), noTypes).patch;
            RecoveryFile r;
            r.file = path;
            r.originalPath = e.original;
            r.written = fs::last_write_time(path);
            r.pid = static_cast<int>(e.pid);
            r.title = !patch.meta.title.empty() ? patch.meta.title
                      : !r.originalPath.empty() ? fs::path(r.originalPath).filename().string()
                                                : "Untitled";
            found.push_back(std::move(r));
        } catch (const InputError& e) {
            const std::string where = e.where().empty() ? "" : e.where() + ": ";
            problems.push_back(setAside(path, "the patch is damaged: " + where + e.reason()));
        } catch (const std::exception& e) {
            problems.push_back(setAside(path, e.what()));
        }
        if (ec) break;
    }
    std::sort(found.begin(), found.end(), [](const RecoveryFile& a, const RecoveryFile& b) {
        return a.written != b.written ? a.written > b.written : a.file < b.file;
    });
    return found;
}

Patch Autosave::load(const RecoveryFile& file, const Registry& registry) {
    json patch;
    try {
        patch = readEnvelope(file.file).patch;
    } catch (const std::exception& e) {
        throw InputError(file.file.string(), 0, "", e.what());
    }
    // From here on a crash (in parsing, or in the editor opening the document) leaves the marker
    // behind, and the next start sets the file aside instead of offering it again.
    try {
        writeFileAtomically(markerOf(file.file), processIdentity());
    } catch (const std::exception&) {
        // Best effort: without the marker a crash only means the file is offered again.
    }
    try {
        return parsePatch(patch.dump(), file.file.string(), registry).patch;
    } catch (...) {
        // A clean failure is not a crash: the file stays on offer (findOrphans checked its
        // structure, so this takes a registry-specific problem) and the marker goes.
        std::error_code ignored;
        fs::remove(markerOf(file.file), ignored);
        throw;
    }
}

void Autosave::dismiss(const RecoveryFile& file) noexcept {
    std::error_code ignored;
    fs::remove(file.file, ignored);
    fs::remove(markerOf(file.file), ignored);
}

fs::path recoveryDirectory() {
    return xdgBaseDirectory("XDG_STATE_HOME", ".local/state") / "kabel" / "recovery";
}

}  // namespace kabel::editor
