// kabel: the editor (with a display) and the command-line tools.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "core/cli/commands.hpp"
#include "core/io/audio_device.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"
#include "gui/model/node_layout.hpp"
#ifdef KABEL_HAVE_EDITOR
#include "gui/editor/app.hpp"
#endif

namespace {

std::filesystem::path executableDir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path(".") : exe.parent_path();
}

// patches/default.kabel beside the build directory, else in the source tree this was built from.
std::string defaultPatch() {
    for (const auto& candidate : {executableDir() / "../patches/default.kabel", executableDir() / "../share/kabel/patches/default.kabel",
                                  std::filesystem::path(KABEL_SOURCE_DIR) / "patches/default.kabel"}) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(candidate, ec)) return std::filesystem::weakly_canonical(candidate).string();
    }
    return (std::filesystem::path(KABEL_SOURCE_DIR) / "patches/default.kabel").string();
}

struct EditorFlags {
    bool trace = false;
    bool noAudio = false;
    std::string screenshot;
    double seconds = 0.0;
};

std::string examplesDirectory() {
    return std::filesystem::path(defaultPatch()).parent_path().string();
}

// `kabel [PATCH]`: the editor. On a machine without a display (or without OpenGL 3.3) do the
// most useful thing possible, and say so: play the patch live when there is an audio device,
// else render it to a WAV file.
int openPatch(const std::string& patch, const EditorFlags& flags) {
    const bool display = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
    const char* why = display ? "the editor could not open a window (OpenGL 3.3 needed)" : "no display found (DISPLAY is not set)";
#ifdef KABEL_HAVE_EDITOR
    if (display) {
        kabel::editor::AppOptions app;
        app.editor.patchPath = patch;
        app.editor.trace = flags.trace || std::getenv("KABEL_EDITOR_TRACE") != nullptr;
        app.editor.audio.useDevice = !flags.noAudio;
        app.editor.examplesDirectory = examplesDirectory();
        app.screenshot = flags.screenshot;
        app.seconds = flags.seconds;
        const int rc = kabel::editor::runEditor(app);
        if (rc != 3) return rc;
    }
#else
    if (display) why = "this build has no editor (Dear ImGui, GLFW or OpenGL were missing at build time)";
#endif
    (void)flags;
    bool audio = false;
    for (const auto& device : kabel::listAudioDevices()) audio |= device.maxOutputChannels > 0;
    if (audio) {
        std::printf("Kabel: %s, so %s plays on the audio device; Ctrl-C stops it.\n", why, patch.c_str());
        kabel::cli::PlayCommand play;
        play.patch = patch;
        return kabel::cli::playCommand(play);
    }
    std::printf("Kabel: %s and no audio device found, so %s is rendered to a WAV file.\n", why, patch.c_str());
    kabel::cli::RenderCommand render;
    render.patch = patch;
    render.output = std::filesystem::path(patch).stem().string() + ".wav";
    render.seconds = 30.0;
    const int rc = kabel::cli::renderCommand(render);
    if (rc == 0)
        std::printf("Listen to %s with any audio player (e.g. `aplay %s`), or start a JACK server and run `kabel play %s`.\n",
                    render.output.c_str(), render.output.c_str(), patch.c_str());
    return rc;
}

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> items;
    std::string item;
    for (char c : text + ",") {
        if (c == ',') {
            if (!item.empty()) items.push_back(item);
            item.clear();
        } else {
            item += c;
        }
    }
    return items;
}

// `kabel tidy PATCH...`: lays each patch out by signal flow (the editor's Tidy Up) and saves it.
int tidyPatches(const std::vector<std::string>& patches) {
    int rc = 0;
    for (const std::string& path : patches) {
        try {
            kabel::LoadedPatch loaded = kabel::loadPatchFile(path, kabel::Registry::global());
            const int moved = kabel::editor::tidyLayout(loaded.patch);
            kabel::savePatchFile(path, loaded.patch);
            std::printf("%s: %d of %zu modules moved\n", path.c_str(), moved, loaded.patch.modules.size());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "kabel tidy: %s\n", e.what());
            rc = 1;
        }
    }
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Kabel: a live-performance modular patching environment.\n"
        "Without a subcommand, opens PATCH (default: patches/default.kabel) in the editor."};
    app.require_subcommand(0, 1);
    std::string patch;
    app.add_option("patch", patch, "Patch file to open");
    EditorFlags editorFlags;
    app.add_flag("--trace", editorFlags.trace, "Editor: print each action and the layout of ports and params on stdout (for tests)");
    app.add_flag("--no-audio", editorFlags.noAudio, "Editor: do not open an audio device (the engine runs silently)");
    app.add_option("--screenshot", editorFlags.screenshot, "Editor: write a PNG of the window after a few frames, then quit");
    app.add_option("--quit-after", editorFlags.seconds, "Editor: quit after this many seconds");

    bool verbose = false;
    auto* modules = app.add_subcommand("modules", "List every module type");
    modules->add_flag("-v,--verbose", verbose, "Show help text, ports and params");
    bool markdown = false;
    modules->add_flag("--markdown", markdown, "Print the module reference as Markdown (docs/modules.md)");

    std::string validatePath;
    auto* validate = app.add_subcommand("validate", "Check a patch file and report problems with file, line and place");
    validate->add_option("patch", validatePath, "Patch file")->required();

    kabel::cli::TuneCommand tune;
    auto* tuneCmd = app.add_subcommand("tune", "128-key table of a scale (.scl/.ascl file or catalogue id), or --list the catalogue");
    tuneCmd->add_option("scale", tune.scale, "Scale file or catalogue id");
    tuneCmd->add_option("--kbm", tune.kbm, "Keyboard mapping (.kbm)");
    tuneCmd->add_flag("--csv", tune.csv, "Comma-separated output");
    tuneCmd->add_flag("--list", tune.list, "List the scale catalogue");
    tuneCmd->add_option("--export-scl", tune.exportScl, "Write the scale as .scl (or .ascl, by extension) instead of the table");
    tuneCmd->add_option("--export-kbm", tune.exportKbm, "Write the keyboard map in use as .kbm");
    tuneCmd->add_option("--export-mts", tune.exportMts, "Write the 128-key tuning as a MIDI Tuning Standard bulk dump (.syx)");

    kabel::cli::RenderCommand render;
    auto* renderCmd = app.add_subcommand("render", "Render a patch offline to a WAV file, faster than real time");
    renderCmd->add_option("patch", render.patch, "Patch file")->required();
    renderCmd->add_option("-o,--output", render.output, "Output WAV file")->required();
    renderCmd->add_option("-s,--seconds", render.seconds, "Length in seconds")->capture_default_str();
    renderCmd->add_option("-r,--sample-rate", render.sampleRate, "Sample rate in Hz")->capture_default_str();
    renderCmd->add_option("-b,--block", render.blockFrames, "Engine block in frames")->capture_default_str()->check(CLI::Range(1, 8192));
    renderCmd->add_option("-c,--channels", render.channels, "Output channels")->capture_default_str()->check(CLI::Range(1, 64));
    renderCmd->add_option("-f,--format", render.format, "Sample format: float, s16 or s24")->capture_default_str();
    renderCmd->add_option("-m,--midi", render.midi, "Standard MIDI File (format 0 or 1) played into the patch at exact frames");
    renderCmd->add_option("-t,--threads", render.threads, "Threads for big patches: 0 one per core, 1 only one")
        ->capture_default_str()
        ->check(CLI::Range(0, 64));
    renderCmd->add_flag("-q,--quiet", render.quiet, "Print nothing but errors");

    kabel::cli::PlayCommand play;
    auto* playCmd = app.add_subcommand("play", "Run a patch live on the audio device, without the editor");
    playCmd->add_option("patch", play.patch, "Patch file (not needed with --midi list)");
    playCmd->add_option("-s,--seconds", play.seconds, "Stop after this many seconds (default: until Ctrl-C)");
    playCmd->add_option("-a,--audio,-d,--device", play.device, "Audio device: a part of its name, or its number in `kabel devices`");
    playCmd->add_option("--host", play.hostApi, "Host API: jack, alsa or oss (default: JACK when a server runs)");
    playCmd->add_option("-r,--rate", play.sampleRate, "Sample rate in Hz (default: the device's; JACK: the server's)")
        ->check(CLI::Range(8000.0, 384000.0));
    playCmd->add_option("-c,--channels", play.outputChannels, "Output channels to open (default 2; `out` First Channel picks the pair)")
        ->check(CLI::Range(1, 64));
    playCmd->add_option("-i,--inputs", play.inputChannels, "Audio inputs to open (default: what the patch's `in` modules read)")
        ->check(CLI::Range(0, 64));
    playCmd->add_option("--buffer", play.bufferFrames, "Device buffer in frames (default: the device's)");
    playCmd->add_option("-b,--block", play.blockFrames, "Engine block in frames")->capture_default_str()->check(CLI::Range(1, 8192));
    playCmd->add_option("-t,--threads", play.threads, "Threads for big patches: 0 one per core, 1 only one")
        ->capture_default_str()
        ->check(CLI::Range(0, 64));
    playCmd->add_flag("-q,--quiet", play.quiet, "No periodic status line");
    playCmd
        ->add_option("-m,--midi", play.midiPorts,
                     "MIDI source to connect (repeatable): a JACK port like Seq:out, a number or part of a name; 'list' prints them")
        ->allow_extra_args(false);
    playCmd->add_flag("--midi-virtual", play.midiVirtual, "Virtual MIDI input (always created: kabel:midi_in on JACK, 'Kabel' on ALSA)");
    playCmd
        ->add_option("--osc", play.oscPort,
                     "OSC control on this UDP port (bare --osc: 9000): /kabel/<module>/<param>, /kabel/learn (docs/osc.md); 0: off")
        ->expected(0, 1)
        ->default_str("9000")
        ->check(CLI::Range(0, 65535));
    playCmd->add_flag("--save-map", play.saveMap,
                      "On exit, write the MIDI map (learned over OSC, unmapped) back into the patch file, atomically");
    playCmd->add_flag("--link", play.link,
                      "Join the Ableton Link session on the local network (clock source Link follows it; opens UDP sockets on "
                      "every interface)");
    playCmd
        ->add_option("--osc-bind", play.oscBind, "Address the OSC socket listens on (default 127.0.0.1; 0.0.0.0 opens it to the network)")
        ->capture_default_str();

    auto* devices = app.add_subcommand("devices", "List audio devices");

    std::vector<std::string> tidyPaths;
    auto* tidy = app.add_subcommand("tidy", "Lay patches out left to right by signal flow (the editor's Tidy Up) and save them");
    tidy->add_option("patch", tidyPaths, "Patch files")->required();

    kabel::cli::BenchCommand bench;
    std::string workloads, peerEngines;
    auto* benchCmd = app.add_subcommand("bench", "Real-time factors of the standard workloads W1-W4 (and the peer engines)");
    benchCmd->add_option("-w,--workloads", workloads, "Comma-separated subset of W1,W2,W3,W4");
    benchCmd->add_option("-s,--seconds", bench.seconds, "Seconds of audio per render")->capture_default_str();
    benchCmd->add_option("-n,--runs", bench.runs, "Timed runs per workload (the median is reported, with min..max)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    benchCmd->add_flag("--peers", bench.peers, "Also time the peer engines installed (../shared/bench/peers), side by side");
    benchCmd->add_option("--peer-engines", peerEngines, "Comma-separated peers (default: pd,supercollider,csound; chuck is 10-20x slower)");
    benchCmd->add_option("--peers-dir", bench.peersDir, "The peers' folder (default: ../shared/bench/peers of the source tree)");
    benchCmd->add_option("--json", bench.json, "Write the results as JSON to this file");
    benchCmd->add_option("-t,--threads", bench.threads, "Threads for Kabel's renders: 0 one per core, 1 only one")
        ->capture_default_str()
        ->check(CLI::Range(0, 64));
    benchCmd->add_option("--write-patches", bench.writePatches, "Only write the workloads as .kabel files into this folder");
    std::string moduleFilter;
    auto* modulesOption =
        benchCmd->add_option("--modules", moduleFilter, "Only the per-module cost table (module ids containing FILTER)")->expected(0, 1);

    CLI11_PARSE(app, argc, argv);

    if (modules->parsed()) return markdown ? kabel::cli::listModulesMarkdown() : kabel::cli::listModules(verbose);
    if (validate->parsed()) return kabel::cli::validatePatch(validatePath);
    if (tuneCmd->parsed()) return kabel::cli::tuneCommand(tune);
    if (renderCmd->parsed()) {
        render.progress = true;
        return kabel::cli::renderCommand(render);
    }
    if (playCmd->parsed()) return kabel::cli::playCommand(play);
    if (devices->parsed()) return kabel::cli::listDevices();
    if (tidy->parsed()) return tidyPatches(tidyPaths);
    if (benchCmd->parsed() && modulesOption->count() > 0) return kabel::cli::moduleCosts(moduleFilter);
    if (benchCmd->parsed()) {
        bench.workloads = splitList(workloads);
        bench.peerEngines = splitList(peerEngines);
        bench.self = (executableDir() / "kabel").string();
        if (bench.peersDir.empty())
            bench.peersDir = (std::filesystem::path(KABEL_SOURCE_DIR) / "../shared/bench/peers").lexically_normal().string();
        const int rc = kabel::cli::benchCommand(bench);
#ifdef KABEL_HAVE_EDITOR
        if (rc == 0 && bench.writePatches.empty()) {
            const double view = kabel::editor::benchEditorFrameMs(500, 60, false);
            const double fit = kabel::editor::benchEditorFrameMs(500, 60, true);
            std::printf(
                "\nEditor UI, 500 modules (CPU time to build one frame, no GPU): %.2f ms at the default view, %.2f ms with all on screen\n",
                view, fit);
        }
#endif
        return rc;
    }
    return openPatch(patch.empty() ? defaultPatch() : patch, editorFlags);
}
