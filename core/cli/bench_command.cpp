// `kabel bench`: renders the standard workloads W1-W4 and reports real-time factors, measured the
// way ../shared/bench/peers/common/bench.py measures the peer engines, so the figures compare:
// each render is a whole process (start-up, patch loading, compiling, rendering, writing the WAV),
// timed from fork/exec to wait4; one untimed warm-up render per engine, then `runs` rounds in which
// every engine renders once, the first engine rotating; RTF = seconds of audio / median wall time.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sndfile.h>
#include <nlohmann/json.hpp>

#include "core/cli/commands.hpp"
#include "core/cli/workloads.hpp"
#include "core/patch/patch_file.hpp"

extern char** environ;

namespace kabel::cli {
namespace {

namespace fs = std::filesystem;

struct Timing {
    double wall = 0.0;
    double cpu = 0.0;
    int status = -1;
};

// Runs argv to completion with stdout/stderr to `log`; wall time from spawn to wait4.
Timing runTimed(const std::vector<std::string>& args, const fs::path& log, const std::vector<std::string>& extraEnv = {}) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e) envStrings.emplace_back(*e);
    for (const auto& e : extraEnv) envStrings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    Timing t;
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return t;
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    t.cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    t.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return t;
}

// The output check of common/check_output.py: rate, channels, length and a finite non-zero RMS.
std::string checkOutput(const fs::path& file, int channels, double seconds) {
    SF_INFO info{};
    SNDFILE* f = sf_open(file.c_str(), SFM_READ, &info);
    if (!f) return "cannot read " + file.string();
    std::vector<float> buffer(static_cast<std::size_t>(4096 * std::max(1, info.channels)));
    double sum = 0.0;
    sf_count_t total = 0, n = 0;
    while ((n = sf_readf_float(f, buffer.data(), 4096)) > 0) {
        for (sf_count_t i = 0; i < n * info.channels; ++i)
            sum += double(buffer[static_cast<std::size_t>(i)]) * buffer[static_cast<std::size_t>(i)];
        total += n;
    }
    sf_close(f);
    const double rms = total > 0 ? std::sqrt(sum / double(total * info.channels)) : 0.0;
    const auto expected = static_cast<sf_count_t>(std::llround(seconds * 48000.0));
    if (info.samplerate != 48000) return "sample rate " + std::to_string(info.samplerate);
    if (info.channels != channels) return "channels " + std::to_string(info.channels);
    if (std::llabs(total - expected) > 64) return "frames " + std::to_string(total) + " (expected " + std::to_string(expected) + ")";
    if (!(rms > 0.0) || !std::isfinite(rms)) return "RMS " + std::to_string(rms);
    return {};
}

struct Engine {
    std::string name;
    std::vector<std::string> command;  // without the workload argument
    std::vector<std::string> env;
    std::vector<double> walls, cpus;
    std::string problem;  // output check failure
};

double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

bool onPath(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (!path) return false;
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
        const std::size_t end = p.find(':', start);
        const fs::path dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
        std::error_code ec;
        if (!dir.empty() && fs::exists(dir / program, ec)) return true;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return false;
}

const std::map<std::string, std::string> kPeerPrograms = {
    {"pd", "pd"}, {"supercollider", "scsynth"}, {"csound", "csound"}, {"chuck", "chuck"}};

}  // namespace

int benchCommand(const BenchCommand& options) {
    std::vector<Workload> workloads;
    for (Workload& w : benchmarkWorkloads())
        if (options.workloads.empty() || std::find(options.workloads.begin(), options.workloads.end(), w.name) != options.workloads.end())
            workloads.push_back(std::move(w));
    if (workloads.empty()) {
        std::fprintf(stderr, "kabel bench: no such workload (use W1, W2, W3, W4)\n");
        return 2;
    }
    std::error_code ec;
    if (!options.writePatches.empty()) {
        fs::create_directories(options.writePatches, ec);
        for (const Workload& w : workloads) {
            const fs::path path = fs::path(options.writePatches) / (w.name + ".kabel");
            savePatchFile(path, w.patch);
            std::printf("%s: %s (%d channel%s)\n", path.c_str(), w.description.c_str(), w.channels, w.channels == 1 ? "" : "s");
        }
        return 0;
    }
    const fs::path dir = fs::temp_directory_path() / ("kabel-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir, ec);
    if (ec) {
        std::fprintf(stderr, "kabel bench: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
        return 1;
    }

    // Peers (only when asked, and only at the peers' own length of 60 s).
    std::vector<std::string> peerNames;
    fs::path peersDir = options.peersDir;
    if (options.peers) {
        if (options.seconds != 60.0) std::fprintf(stderr, "kabel bench: the peers always render 60 s; use --seconds 60 to compare\n");
        const std::vector<std::string> wanted =
            options.peerEngines.empty() ? std::vector<std::string>{"pd", "supercollider", "csound"} : options.peerEngines;
        for (const auto& name : wanted) {
            const auto program = kPeerPrograms.find(name);
            if (program == kPeerPrograms.end()) {
                std::fprintf(stderr, "kabel bench: unknown peer '%s' (pd, supercollider, csound, chuck)\n", name.c_str());
                return 2;
            }
            if (!fs::exists(peersDir / name / "render.sh", ec)) {
                std::fprintf(stderr, "kabel bench: %s not found: no peer %s\n", (peersDir / name / "render.sh").c_str(), name.c_str());
                continue;
            }
            if (!onPath(program->second)) {
                std::fprintf(stderr, "kabel bench: peer %s is not installed (%s not on PATH; `make peers` installs it)\n", name.c_str(),
                             program->second.c_str());
                continue;
            }
            peerNames.push_back(name);
        }
    }

    std::printf("Kabel bench: %.0f s of audio at 48 kHz, 64-frame blocks; median wall time of %d runs of the whole process\n",
                options.seconds, options.runs);
    std::printf(
        "(start-up, loading, compiling, rendering and writing the WAV), after one warm-up; RTF = audio seconds / wall seconds.\n\n");

    nlohmann::json results = nlohmann::json::object();
    struct Row {
        std::string workload, description;
        double kabel = 0, kabelMin = 0, kabelMax = 0, kabelCpu = 0;
        std::map<std::string, double> peers;
    };
    std::vector<Row> rows;
    bool failed = false;
    for (const Workload& w : workloads) {
        const fs::path patch = dir / (w.name + ".kabel");
        savePatchFile(patch, w.patch);
        std::vector<Engine> engines;
        engines.push_back(Engine{"kabel",
                                 {options.self, "render", patch.string(), "-o", (dir / ("kabel_" + w.name + ".wav")).string(), "--seconds",
                                  std::to_string(options.seconds), "--channels", std::to_string(w.channels), "--quiet"},
                                 {},
                                 {},
                                 {},
                                 {}});
        for (const auto& name : peerNames)
            engines.push_back(
                Engine{name, {"sh", (peersDir / name / "render.sh").string(), w.name}, {"PEERS_OUT=" + dir.string()}, {}, {}, {}});
        auto output = [&](const Engine& e) { return dir / (e.name + "_" + w.name + ".wav"); };
        auto logOf = [&](const Engine& e) { return dir / (e.name + "_" + w.name + ".log"); };

        std::fprintf(stderr, "%s %s:", w.name.c_str(), w.description.c_str());
        for (Engine& e : engines) {  // warm-up, checked
            const Timing t = runTimed(e.command, logOf(e), e.env);
            if (t.status != 0)
                e.problem = "exit status " + std::to_string(t.status) + " (log: " + logOf(e).string() + ")";
            else
                e.problem = checkOutput(output(e), w.channels, e.name == "kabel" ? options.seconds : 60.0);
            if (!e.problem.empty()) std::fprintf(stderr, "\n  %s: %s", e.name.c_str(), e.problem.c_str());
        }
        for (int round = 0; round < options.runs; ++round) {
            for (std::size_t k = 0; k < engines.size(); ++k) {
                Engine& e = engines[(k + static_cast<std::size_t>(round)) % engines.size()];
                if (!e.problem.empty()) continue;
                const Timing t = runTimed(e.command, logOf(e), e.env);
                if (t.status != 0) {
                    e.problem = "exit status " + std::to_string(t.status);
                    continue;
                }
                e.walls.push_back(t.wall);
                e.cpus.push_back(t.cpu);
            }
            std::fprintf(stderr, " .");
        }
        std::fprintf(stderr, "\n");

        Row row{w.name, w.description, 0, 0, 0, 0, {}};
        nlohmann::json entry;
        for (Engine& e : engines) {
            if (!e.problem.empty() || e.walls.empty()) {
                if (e.name == "kabel") failed = true;
                continue;
            }
            const double seconds = e.name == "kabel" ? options.seconds : 60.0;
            const double rtf = seconds / median(e.walls);
            if (e.name == "kabel") {
                row.kabel = rtf;
                row.kabelMin = seconds / *std::max_element(e.walls.begin(), e.walls.end());
                row.kabelMax = seconds / *std::min_element(e.walls.begin(), e.walls.end());
                row.kabelCpu = median(e.cpus);
                entry["kabel_rtf"] = rtf;
                entry["kabel_rtf_min"] = row.kabelMin;
                entry["kabel_rtf_max"] = row.kabelMax;
                entry["kabel_median_s"] = median(e.walls);
                entry["kabel_cpu_s"] = row.kabelCpu;
                entry["kabel_times_s"] = e.walls;
            } else {
                row.peers[e.name] = rtf;
                entry["peers"][e.name] = rtf;
            }
        }
        if (!row.peers.empty()) {
            const auto best =
                std::max_element(row.peers.begin(), row.peers.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
            entry["best_peer"] = best->first;
            entry["best_peer_rtf"] = best->second;
            if (row.kabel > 0) entry["ratio"] = row.kabel / best->second;
        }
        for (const Engine& e : engines)
            if (!e.problem.empty()) entry["problems"][e.name] = e.problem;
        results[w.name] = entry;
        rows.push_back(row);
    }

    // The table.
    std::printf("%-40s %10s %17s", "workload", "kabel RTF", "(slowest..fastest)");
    for (const auto& name : peerNames) std::printf(" %13s", name.c_str());
    if (!peerNames.empty()) std::printf(" %22s", "Kabel / best peer");
    std::printf("\n");
    for (const Row& r : rows) {
        std::printf("%-40s %10.1f %8.1f..%-8.1f", (r.workload + " " + r.description).c_str(), r.kabel, r.kabelMin, r.kabelMax);
        for (const auto& name : peerNames) {
            const auto it = r.peers.find(name);
            if (it == r.peers.end())
                std::printf(" %13s", "-");
            else
                std::printf(" %13.1f", it->second);
        }
        if (!r.peers.empty() && r.kabel > 0) {
            const auto best =
                std::max_element(r.peers.begin(), r.peers.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
            std::printf(" %8.2fx %-13s", r.kabel / best->second, best->first.c_str());
        }
        std::printf("\n");
    }
    if (!options.json.empty()) {
        std::ofstream out(options.json);
        out << results.dump(2) << "\n";
        if (!out) {
            std::fprintf(stderr, "kabel bench: cannot write %s\n", options.json.c_str());
            failed = true;
        }
    }
    fs::remove_all(dir, ec);
    return failed ? 1 : 0;
}

}  // namespace kabel::cli
