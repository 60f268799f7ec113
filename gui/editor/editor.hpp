// Editor: the whole editor UI for one Dear ImGui frame — node canvas, module browser, inspector,
// panels, menus and shortcuts — plus the document it edits (path, undo history, autosave).
//
// Design note. The editor is independent of the window: frame() builds the UI inside any ImGui
// frame, so `kabel bench` can time it for a 500-module patch without a display, and app.cpp
// (GLFW + OpenGL) only feeds it input and draws what it built. Every change to the patch goes
// through edit() or changeParam(): the document before the change is recorded in the History
// (gui/model/history.hpp), then the Session applies it (recompiling a plan on this thread and
// swapping it in lock-free; the audio thread never waits). Undo hands the recorded document to
// Session::setPatch, which crossfades only what differs. Continuous gestures (a knob drag, a
// move) merge into one undo step until the mouse is released.
//
// The canvas draws with ImDrawList and hit-tests by hand (no ImGui item per port or knob), so
// a frame costs little more than the nodes on screen. Positions: ModuleSpec::x/y are canvas
// units; screen = origin + (canvas + pan) * zoom.
//
// Trace (KABEL_EDITOR_TRACE=1 or --trace): one line on stdout per user action and per layout
// fact a test needs ("EDIT ...", "PORT module.port x y", "SAVED path"), for the Xvfb tests.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <imgui.h>

#include "core/module/registry.hpp"
#include "gui/editor/audio_host.hpp"
#include "gui/model/history.hpp"
#include "gui/model/node_layout.hpp"
#include "gui/model/performance.hpp"
#include "gui/model/recovery.hpp"
#include "gui/model/user_files.hpp"

namespace kabel::editor {

class SpectrumView;

struct EditorOptions {
    std::string patchPath;  // "" = untitled
    AudioHostOptions audio;
    bool trace = false;
    bool autosave = true;
    bool offerRecovery = true;
    std::filesystem::path configDirectory;    // settings and recent files ("" = configDirectory())
    std::filesystem::path recoveryDirectory;  // autosave files ("" = recoveryDirectory())
    std::filesystem::path examplesDirectory;  // patches/ (the patch browser)
};

class Editor {
public:
    explicit Editor(EditorOptions options);
    ~Editor();
    Editor(const Editor&) = delete;
    Editor& operator=(const Editor&) = delete;

    /// Builds the UI for this ImGui frame (between ImGui::NewFrame and ImGui::Render).
    void frame();
    /// True once the user quit (menu, Ctrl+Q, or the window's close after confirming).
    bool quitRequested() const noexcept { return quit_; }
    /// The window asks to close: quits, or asks first when there are unsaved changes.
    void requestClose();
    /// True while something on screen moves by itself (scopes, meters, automation playback,
    /// fading cables): the app keeps redrawing at the live-view rate instead of sleeping.
    bool animating() const noexcept { return animating_; }
    /// The work of a frame that needs no drawing: device and session polling, autosave, MIDI learn,
    /// automation playback. frame() calls it; the app calls it alone when it skips a frame.
    void tick();
    /// Changes whenever something on screen would look different without input (status line,
    /// title, CPU meters in 5 % steps): the app skips drawing while it stays the same.
    std::string idleKey() const;
    /// Writes the recovery file now when there are unsaved changes (before a signal ends the app).
    void autosaveNow();
    /// "name* - Kabel" for the window title.
    std::string windowTitle() const;
    /// A screenshot was asked for (F12 or --screenshot): the app writes it and calls back.
    std::optional<std::string> takeScreenshotRequest();

    /// The document (read-only) and the running session.
    const Patch& patch() const;
    AudioHost& host() noexcept { return *host_; }
    const std::string& path() const noexcept { return path_; }
    bool dirty() const noexcept { return dirty_; }

    // Edits (UI thread). Each records undo history first.
    void edit(const std::string& label, const std::function<void(Patch&)>& change, const std::string& mergeKey = {});
    void changeParam(const std::string& module, const std::string& param, double value, bool gesture);
    void endGesture();
    void undo();
    void redo();
    bool save(const std::string& path);
    bool open(const std::string& path);
    void newPatch();

    /// Zooms and pans so every module is on screen (zoom at most `maxZoom`, at least `minZoom`).
    void zoomToFit(float minZoom = 0.1f, float maxZoom = 1.5f);

    /// The node geometry of a module type (cached per type).
    const NodeLayout& layout(const ModuleSpec& module);
    static ImU32 kindColour(SignalKind kind, float alpha = 1.0f);

private:
    struct Cable;
    enum class DragKind { None, Pan, Move, Box, NewCableFromOutput, NewCableFromInput, MoveCable, Param };
    struct Hit {
        enum Kind { None, Header, Body, Input, Output, Param, Cable } kind = None;
        std::string module;
        int index = -1;  // port, param or cable index
    };

    // editor.cpp
    void load(Patch patch, const std::string& path, bool recovered);
    void menuBar();
    void shortcuts();
    void statusBar();
    void trace(const std::string& line) const;
    void selectOnly(const std::string& id);
    std::vector<std::string> selection() const;
    void deleteSelection();
    void copySelection();
    void paste();
    void duplicateSelection();
    void addModule(const std::string& type, ImVec2 canvasPos);

    // canvas.cpp
    void canvas();
    ImVec2 toScreen(float x, float y) const;
    ImVec2 toCanvas(ImVec2 screen) const;
    ImVec2 portPosition(const ModuleSpec& module, bool output, int index);
    Hit hitTest(ImVec2 mouse);
    /// The curve of a cable between two ports that exist, and its signal kind; false otherwise.
    bool cableCurve(const PortRef& from, const PortRef& to, ImVec2 (&p)[4], SignalKind& kind);
    void drawNode(ImDrawList* draw, const ModuleSpec& module, const ModuleDescriptor* descriptor, bool hovered);
    void drawCables(ImDrawList* draw, const Hit& hover);
    void canvasMouse(const Hit& hover, bool canvasHovered);
    void nodeContextMenu();
    /// Unmutes a module the engine muted for NaN/Inf (its state starts over).
    void resetMuted(const std::string& id);
    // Educator mode: cable probes (hover shows the value, a click pins a mini scope).
    const SignalTap* probeTap(const PortRef& output);
    void drawProbes(ImDrawList* draw, const Hit& hover);
    void traceLayout();

    // panels.cpp
    void browser();
    void inspector();
    void settingsDialog();
    void helpWindow();
    void patchBrowser();
    void saveAsDialog();
    void recoveryDialog();
    void closeDialog();
    void logWindow();
    void tuningWindow();
    void performanceWindow();
    void applyPerformance();

    EditorOptions options_;
    std::unique_ptr<AudioHost> host_;
    std::string path_;
    bool dirty_ = false;
    bool quit_ = false;
    bool animating_ = false;
    History history_;
    std::unique_ptr<Autosave> autosave_;
    std::chrono::steady_clock::time_point lastAutosave_;
    std::chrono::steady_clock::time_point started_;
    std::unique_ptr<RecentFiles> recent_;
    EditorSettings settings_;
    std::vector<std::string> log_;
    // Modules the engine muted for NaN/Inf (tick): id -> Module::muteCount() when flagged; and
    // those reset from the menu whose reset the audio thread has not applied yet.
    std::map<std::string, std::uint32_t> muted_, resetting_;
    std::optional<std::string> screenshot_;

    // Canvas view and interaction.
    ImVec2 pan_{40.0f, 40.0f};
    float zoom_ = 1.0f;
    ImVec2 origin_{0.0f, 0.0f};  // screen position of the canvas area
    ImVec2 canvasSize_{0.0f, 0.0f};
    std::set<std::string> selected_;
    int selectedCable_ = -1;
    DragKind drag_ = DragKind::None;
    Hit dragFrom_;
    ImVec2 dragStart_{0.0f, 0.0f};
    std::optional<CableSpec> movingCable_;  // the cable lifted off an input while it is dragged
    std::map<std::string, NodeLayout> layouts_;
    std::map<std::string, std::unique_ptr<SpectrumView>> spectra_;
    std::map<std::string, std::pair<std::uint64_t, float>> cpu_;  // module -> last cpuNanos, smoothed share
    std::chrono::steady_clock::time_point lastCpu_;
    bool layoutTraced_ = false;
    bool fitPending_ = true;
    struct Probe {
        std::shared_ptr<const SignalTap> tap;
        std::chrono::steady_clock::time_point used;
    };
    std::map<PortRef, Probe> probes_;  // by source output
    std::vector<std::pair<PortRef, PortRef>>
        pinned_;  // cables with a pinned mini scope  // fit the patch into view once the canvas size is known

    // Panels.
    bool showInspector_ = true;
    bool showHelp_ = false;
    bool showLog_ = false;
    bool showTuning_ = false;
    bool showPerformance_ = false;
    bool showSettings_ = false;
    bool showPatches_ = false;
    bool showSaveAs_ = false;
    bool showClose_ = false;
    bool educator_ = true;
    bool browserOpen_ = false;
    bool browserFocus_ = false;
    ImVec2 browserAt_{0.0f, 0.0f};  // canvas position new modules go to
    char browserFilter_[64] = {};
    int browserIndex_ = 0;
    char pathInput_[1024] = {};
    std::vector<RecoveryFile> recoveries_;
    std::vector<std::string> recoveryProblems_;
    std::string tunerModule_;      // the tuner the tuning view shows
    std::string lastLearnTarget_;  // "module.param" armed for MIDI learn
    std::uint64_t learnedBefore_ = 0;
    std::vector<MidiMapping> learnMapBefore_;  // the MIDI map when learn was armed (for undo)

    // Performance mode.
    Performance performance_;
    bool automationPlaying_ = false;
    double automationClock_ = 0.0;
    std::chrono::steady_clock::time_point automationStart_;
};

}  // namespace kabel::editor
