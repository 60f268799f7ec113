// `kabel bench`: renders the standard workloads W1-W4 and reports real-time factors, measured the
// way ../shared/bench/peers/common/bench.py measures the peer engines, so the figures compare:
// each render is a whole process (start-up, patch loading, compiling, rendering, writing the WAV),
// timed from fork/exec to wait4; one untimed warm-up render per engine, then `runs` rounds in which
// every engine renders once, the first engine rotating; RTF = seconds of audio / median wall time.
//
// After the table come the engine's own figures (issue 7), measured in this process so no start-up
// or file writing is in them: the plan compile time of W4 (1,001 modules) on a first load and after
// a one-cable edit; the engine time per sample and per node and block of 10 s renders (wall and
// thread CPU time: on a shared machine the CPU time is the steadier); and instructions per output
// sample of each render process, counted by `perf stat` where the machine has hardware counters.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
#include "core/engine/session.hpp"
#include "core/engine/workers.hpp"
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

constexpr double kRate = 48000.0;
constexpr int kBlock = 64;

double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double msSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

struct Spread {
    double median = 0, min = 0, max = 0;
};

Spread spread(const std::vector<double>& v) {
    if (v.empty()) return {};
    return {median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

nlohmann::json toJson(const std::vector<double>& v) {
    const Spread s = spread(v);
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"runs", v.size()}};
}

// Plan compile times of `patch` in this process, on an offline engine (nothing rendered while
// timing). "compile" is Compiler::compile alone (CompileReport::milliseconds); "whole" is the
// Session call around it (a load also creates and prepares every module; an edit diffs the document).
struct CompileTimes {
    std::vector<double> loadCompile, loadWhole, editCompile, editWhole;
};

CompileTimes measureCompile(const Patch& patch, int channels, int repeats) {
    CompileTimes t;
    const EngineConfig config{kRate, kBlock, channels, true};
    for (int i = 0; i < repeats; ++i) {  // first loads: a new engine and session each time
        kabel::Engine engine(config);
        Session session(engine);
        const auto start = std::chrono::steady_clock::now();
        session.load(patch);
        t.loadWhole.push_back(msSince(start));
        t.loadCompile.push_back(session.report().milliseconds);
    }
    // One-cable edits: the first cable is removed, then put back, and so on. Between edits the
    // engine renders past the cable fade and the session settles (untimed), as it would live.
    if (patch.cables.empty()) return t;
    kabel::Engine engine(config);
    Session session(engine);
    session.load(patch);
    session.finishLoading();
    const CableSpec cable = patch.cables.front();
    const int settleBlocks = 2 + static_cast<int>(std::ceil(0.03 * kRate / kBlock));  // > the 10 ms fade
    for (int i = 0; i < 2 * repeats; ++i) {
        const bool remove = i % 2 == 0;
        const auto start = std::chrono::steady_clock::now();
        session.edit([&](Patch& p) {
            if (remove)
                std::erase_if(p.cables, [&](const CableSpec& c) { return c.sameEnds(cable); });
            else
                p.cables.push_back(cable);
        });
        t.editWhole.push_back(msSince(start));
        t.editCompile.push_back(session.report().milliseconds);
        for (int b = 0; b < settleBlocks; ++b) engine.processBlock();
        session.poll();
        for (int b = 0; b < 2; ++b) engine.processBlock();
        session.poll();
    }
    return t;
}

// Engine time of rendering `seconds` of `patch`, `runs` times in a row after a 1 s warm-up: only
// Engine::processBlock (no start-up, no output copy, no WAV). Wall and thread CPU seconds per run.
struct EngineTimes {
    std::vector<double> wall, cpu;
    std::uint64_t blocks = 0;
    std::size_t nodes = 0;
    std::uint64_t joins = 0, solo = 0;  // workers' joins, blocks run alone (backing off)
};

EngineTimes measureEngine(const Patch& patch, int channels, double seconds, int runs, int threads, CompileReport* report = nullptr) {
    EngineTimes t;
    EngineConfig config{kRate, kBlock, channels, true};
    config.threads = threads;
    kabel::Engine engine(config);
    Session session(engine);
    session.load(patch);
    session.finishLoading();
    if (report) *report = session.report();
    t.nodes = patch.modules.size();
    t.blocks = static_cast<std::uint64_t>(std::llround(seconds * kRate / kBlock));
    for (int b = 0; b < static_cast<int>(kRate / kBlock); ++b) engine.processBlock();
    session.poll();
    for (int r = 0; r < runs; ++r) {
        const double cpu0 = threadCpuSeconds();
        const auto start = std::chrono::steady_clock::now();
        for (std::uint64_t b = 0; b < t.blocks; ++b) engine.processBlock();
        t.wall.push_back(msSince(start) * 1e-3);
        t.cpu.push_back(threadCpuSeconds() - cpu0);
    }
    t.joins = engine.workerJoins();
    t.solo = engine.soloBlocks();
    return t;
}

// Instructions of one process, counted by `perf stat -x, -e instructions`: the count, or the
// reason there is none.
struct PerfCount {
    double instructions = 0;
    std::string problem;
};

PerfCount perfInstructions(const std::vector<std::string>& command, const fs::path& dir) {
    PerfCount count;
    if (!onPath("perf")) {
        count.problem = "perf is not on PATH";
        return count;
    }
    const fs::path csv = dir / "perf.csv";
    std::vector<std::string> args = {"perf", "stat", "-x,", "-e", "instructions", "-o", csv.string(), "--"};
    args.insert(args.end(), command.begin(), command.end());
    const Timing t = runTimed(args, dir / "perf.log");
    if (t.status != 0) {
        count.problem = "perf stat exit status " + std::to_string(t.status) + " (see `perf stat -e instructions true`)";
        return count;
    }
    std::ifstream in(csv);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line.find(",instructions") == std::string::npos) continue;
        const std::string value = line.substr(0, line.find(','));
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (end != value.c_str() && *end == '\0' && v > 0) {
            count.instructions = v;
            return count;
        }
        count.problem = "instructions " + value +
                        (value.find("not supported") != std::string::npos ? ": no hardware performance counters (a virtual machine?)" : "");
        return count;
    }
    count.problem = "no instructions line in perf's output";
    return count;
}

constexpr int kCompileRepeats = 21;
constexpr double kEngineSeconds = 10.0;
constexpr int kEngineRuns = 5;

// Prints the engine's figures after the table and returns them for the JSON "engine" object.
nlohmann::json engineFigures(const std::vector<Workload>& workloads, const std::vector<std::vector<std::string>>& renderCommands,
                             const BenchCommand& options, const fs::path& dir) {
    nlohmann::json json = nlohmann::json::object();
    std::printf("\nThe engine alone (issue 7), in this process: no start-up, no WAV; median (min..max).\n");

    // 1. Plan compile time of the 1,000-module patch, whichever workloads were chosen.
    for (const Workload& w : benchmarkWorkloads()) {
        if (w.name != "W4") continue;
        const CompileTimes c = measureCompile(w.patch, w.channels, kCompileRepeats);
        const Spread load = spread(c.loadCompile), edit = spread(c.editCompile);
        const Spread loadWhole = spread(c.loadWhole), editWhole = spread(c.editWhole);
        std::printf(
            "Plan compile, W4 (%zu modules, %zu cables), %d times each: first load %.2f ms (%.2f..%.2f), one-cable edit %.2f ms "
            "(%.2f..%.2f); target < 2 ms\n",
            w.patch.modules.size(), w.patch.cables.size(), kCompileRepeats, load.median, load.min, load.max, edit.median, edit.min,
            edit.max);
        std::printf("  whole session call: load %.2f ms (%.2f..%.2f, creating and preparing every module), edit %.2f ms (%.2f..%.2f)\n",
                    loadWhole.median, loadWhole.min, loadWhole.max, editWhole.median, editWhole.min, editWhole.max);
        json["compile"] = {{"workload", w.name},
                           {"modules", w.patch.modules.size()},
                           {"cables", w.patch.cables.size()},
                           {"load_ms", toJson(c.loadCompile)},
                           {"edit_ms", toJson(c.editCompile)},
                           {"load_session_ms", toJson(c.loadWhole)},
                           {"edit_session_ms", toJson(c.editWhole)},
                           {"target_ms", 2.0}};
    }

    // 3. Whether perf can count instructions here (probed once on a trivial command).
    const PerfCount probe = perfInstructions({"true"}, dir);
    json["perf"] = probe.problem.empty() ? "ok" : "not available (" + probe.problem + ")";

    // 2. Engine time per sample and per node and block; 3. instructions per output sample.
    std::printf("%-8s %5s %31s %31s %7s %12s\n", "", "", "ns per sample", "ns per node per block", "engine", "");
    std::printf("%-8s %5s %22s %8s %22s %8s %7s %12s\n", "workload", "nodes", "wall (min..max)", "CPU", "wall (min..max)", "CPU", "RTF",
                "instr/sample");
    nlohmann::json perWorkload = nlohmann::json::object();
    for (std::size_t i = 0; i < workloads.size(); ++i) {
        const Workload& w = workloads[i];
        const EngineTimes e = measureEngine(w.patch, w.channels, kEngineSeconds, kEngineRuns, 1);
        const double samples = static_cast<double>(e.blocks) * kBlock;
        const double nodeBlocks = static_cast<double>(e.blocks) * static_cast<double>(e.nodes);
        auto scaled = [](const std::vector<double>& seconds, double per) {
            std::vector<double> v;
            for (double s : seconds) v.push_back(s * 1e9 / per);
            return v;
        };
        const std::vector<double> perSample = scaled(e.wall, samples), perNode = scaled(e.wall, nodeBlocks);
        const std::vector<double> cpuPerSample = scaled(e.cpu, samples), cpuPerNode = scaled(e.cpu, nodeBlocks);
        const Spread s = spread(perSample), n = spread(perNode);
        nlohmann::json entry = {{"seconds", kEngineSeconds},
                                {"blocks", e.blocks},
                                {"nodes", e.nodes},
                                {"ns_per_sample", toJson(perSample)},
                                {"ns_per_node_block", toJson(perNode)},
                                {"cpu_ns_per_sample", toJson(cpuPerSample)},
                                {"cpu_ns_per_node_block", toJson(cpuPerNode)},
                                {"engine_rtf", kEngineSeconds / median(e.wall)}};
        std::string instructions = "-";
        if (probe.problem.empty()) {
            const PerfCount count = perfInstructions(renderCommands[i], dir);
            if (count.problem.empty()) {
                const double perOutputSample = count.instructions / (options.seconds * kRate);
                entry["instructions"] = count.instructions;
                entry["instructions_per_sample"] = perOutputSample;
                char text[32];
                std::snprintf(text, sizeof text, "%.0f", perOutputSample);
                instructions = text;
            } else {
                entry["instructions_problem"] = count.problem;
            }
        }
        std::printf("%-8s %5zu %8.1f (%5.1f..%5.1f) %8.1f %8.2f (%5.2f..%5.2f) %8.2f %7.0f %12s\n", w.name.c_str(), e.nodes, s.median,
                    s.min, s.max, median(cpuPerSample), n.median, n.min, n.max, median(cpuPerNode), kEngineSeconds / median(e.wall),
                    instructions.c_str());
        perWorkload[w.name] = entry;
    }
    json["workloads"] = perWorkload;
    std::printf(
        "(%d runs of %.0f s each after a 1 s warm-up; CPU: this thread's CPU time, which other processes' load does not inflate;\n"
        " a node is a module; W4 target <= 15 ns per node per block, Pure Data about 56)\n",
        kEngineRuns, kEngineSeconds);
    if (probe.problem.empty())
        std::printf("instr/sample: instructions of one whole `kabel render` process (perf stat) / (%.0f s x 48000)\n", options.seconds);
    else
        std::printf("perf: not available (%s)\n", probe.problem.c_str());

    // 4. Multi-core: the same engine renders with one thread and with one per core (wall time).
    const int cores = Workers::hardwareThreads();
    nlohmann::json scaling = nlohmann::json::object();
    std::printf("\nMulti-core, the engine alone: wall ns per sample, 1 thread vs %d (median of %d runs of %.0f s)\n", cores, kEngineRuns,
                kEngineSeconds);
    std::printf("%-8s %6s %12s %12s %9s\n", "workload", "waves", "1 thread", "all cores", "speed-up");
    for (const Workload& w : workloads) {
        CompileReport report;
        const EngineTimes one = measureEngine(w.patch, w.channels, kEngineSeconds, kEngineRuns, 1);
        const EngineTimes all = measureEngine(w.patch, w.channels, kEngineSeconds, kEngineRuns, cores, &report);
        const double samples = static_cast<double>(one.blocks) * kBlock;
        const double a = median(one.wall) * 1e9 / samples, b = median(all.wall) * 1e9 / samples;
        std::printf("%-8s %6zu %12.2f %12.2f %8.2fx%s\n", w.name.c_str(), report.waves, a, b, a / b,
                    report.threads > 1 ? "" : "  (serial plan: too small or a chain)");
        if (report.threads > 1)
            std::printf("         worker joins %llu, blocks run alone (backing off) %llu, of %llu\n",
                        static_cast<unsigned long long>(all.joins), static_cast<unsigned long long>(all.solo),
                        static_cast<unsigned long long>(all.blocks * kEngineRuns + static_cast<std::uint64_t>(kRate / kBlock)));
        scaling[w.name] = {{"threads", report.threads},
                           {"waves", report.waves},
                           {"ns_per_sample_1_thread", a},
                           {"ns_per_sample_all", b},
                           {"speedup", a / b}};
    }
    json["multicore"] = {{"cores", cores}, {"workloads", scaling}};
    return json;
}

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
    std::vector<std::vector<std::string>> renderCommands;  // kabel's, by workload (for perf stat)
    bool failed = false;
    for (const Workload& w : workloads) {
        const fs::path patch = dir / (w.name + ".kabel");
        savePatchFile(patch, w.patch);
        std::vector<Engine> engines;
        engines.push_back(Engine{"kabel",
                                 {options.self, "render", patch.string(), "-o", (dir / ("kabel_" + w.name + ".wav")).string(), "--seconds",
                                  std::to_string(options.seconds), "--channels", std::to_string(w.channels), "--threads",
                                  std::to_string(options.threads), "--quiet"},
                                 {},
                                 {},
                                 {},
                                 {}});
        renderCommands.push_back(engines.front().command);
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
    std::printf("%-40s %10s %17s", "workload", "kabel RTF", "median (min..max)");
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
    // The engine's own figures (issue 7), in this process.
    nlohmann::json engineJson = nlohmann::json::object();
    try {
        engineJson = engineFigures(workloads, renderCommands, options, dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kabel bench: engine figures: %s\n", e.what());
        failed = true;
    }
    results["engine"] = engineJson;
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
