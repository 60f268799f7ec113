// The editor's document handling, menus, shortcuts and status bar (canvas.cpp draws the graph,
// panels.cpp the windows).
#include "gui/editor/editor.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"
#include "gui/editor/views.hpp"
#include "gui/model/arrange.hpp"
#include "gui/model/clipboard.hpp"

namespace kabel::editor {

namespace {

using Clock = std::chrono::steady_clock;

// Ctrl (or Cmd) held, and not while a text field has the keyboard.
bool ctrl() {
    return ImGui::GetIO().KeyCtrl || ImGui::GetIO().KeySuper;
}

bool keyPressed(int glfwKey) {
    return ImGui::IsKeyPressed(glfwKey, false);
}

std::string fileName(const std::string& path) {
    return path.empty() ? "Untitled" : std::filesystem::path(path).filename().string();
}

}  // namespace

Editor::Editor(EditorOptions options) : options_(std::move(options)), started_(Clock::now()) {
    const std::filesystem::path config = options_.configDirectory.empty() ? configDirectory() : options_.configDirectory;
    std::string problem;
    settings_ = loadSettings(config / "settings.json", problem);
    if (!problem.empty()) log_.push_back(problem);
    educator_ = settings_.educatorMode;
    if (options_.audio.device.empty()) options_.audio.device = settings_.audioDevice;
    if (options_.audio.hostApi.empty()) options_.audio.hostApi = settings_.hostApi;
    if (options_.audio.bufferFrames == 0) options_.audio.bufferFrames = settings_.bufferFrames;
    if (options_.audio.midiInputs.empty()) options_.audio.midiInputs = settings_.midiInputs;
    recent_ = std::make_unique<RecentFiles>(config / "recent.json");
    if (!recent_->problem().empty()) log_.push_back(recent_->problem());

    const std::filesystem::path recoveryDir = options_.recoveryDirectory.empty() ? recoveryDirectory() : options_.recoveryDirectory;
    if (options_.offerRecovery) {
        recoveries_ = Autosave::findOrphans(recoveryDir, recoveryProblems_);
        for (const std::string& p : recoveryProblems_) log_.push_back(p);
    }
    if (options_.autosave) autosave_ = std::make_unique<Autosave>(recoveryDir);

    Patch patch;
    std::string path;
    if (!options_.patchPath.empty()) {
        try {
            LoadedPatch loaded = loadPatchFile(options_.patchPath, Registry::global());
            for (const std::string& w : loaded.warnings) log_.push_back("warning: " + w);
            patch = std::move(loaded.patch);
            path = std::filesystem::absolute(options_.patchPath).lexically_normal().string();
        } catch (const InputError& e) {
            log_.push_back(e.what());
            showLog_ = true;
        }
    }
    host_ = std::make_unique<AudioHost>(options_.audio, Patch{}, std::filesystem::path{});
    load(std::move(patch), path, false);
    for (const std::string& m : host_->takeMessages()) log_.push_back(m);
    lastAutosave_ = Clock::now();
    lastCpu_ = Clock::now();
    trace("READY " + std::string(host_->status().label));
}

Editor::~Editor() {
    const AudioHostStatus status = host_->status();
    trace("EXIT xruns " + std::to_string(status.xruns) + " blocks " + std::to_string(host_->engine().stats().blocks) + " nonfinite " +
          std::to_string(host_->engine().stats().nonFiniteSamples) + " overruns " + std::to_string(status.overruns) + " maxrender_ms " +
          std::to_string(status.maxRenderMs) + " buffer " + std::to_string(status.bufferFrames));
    if (autosave_ && !dirty_) autosave_->discard();
    try {
        settings_.educatorMode = educator_;
        saveSettings((options_.configDirectory.empty() ? configDirectory() : options_.configDirectory) / "settings.json", settings_);
    } catch (const std::exception&) {
        // Settings are a convenience: never fail an exit over them.
    }
    host_.reset();  // stops audio before the views it feeds
}

const Patch& Editor::patch() const {
    return host_->session().patch();
}

void Editor::load(Patch patch, const std::string& path, bool recovered) {
    // A patch written without positions (by hand or by a script) is laid out by signal flow.
    if (patch.modules.size() > 1 && std::all_of(patch.modules.begin(), patch.modules.end(), [&](const ModuleSpec& m) {
            return m.x == patch.modules.front().x && m.y == patch.modules.front().y;
        }))
        tidyLayout(patch);
    std::string problem;
    performance_ = readPerformance(patch, &problem);
    if (!problem.empty()) log_.push_back(problem);
    const std::filesystem::path directory = path.empty() ? std::filesystem::path{} : std::filesystem::path(path).parent_path();
    for (const auto& [port, probe] : probes_) host_->session().unprobe(port);
    probes_.clear();
    pinned_.clear();
    host_->session().load(std::move(patch), directory);
    for (const std::string& m : host_->session().messages()) log_.push_back("note: " + m);
    path_ = path;
    dirty_ = recovered;
    history_.clear();
    selected_.clear();
    selectedCable_ = -1;
    spectra_.clear();
    layoutTraced_ = false;
    fitPending_ = true;
    if (!path.empty() && !recovered) recent_->add(path);
    tunerModule_.clear();
}

void Editor::trace(const std::string& line) const {
    if (!options_.trace) return;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

std::string Editor::windowTitle() const {
    return fileName(path_) + (dirty_ ? "*" : "") + " - Kabel";
}

std::optional<std::string> Editor::takeScreenshotRequest() {
    auto request = std::move(screenshot_);
    screenshot_.reset();
    return request;
}

void Editor::edit(const std::string& label, const std::function<void(Patch&)>& change, const std::string& mergeKey) {
    history_.record(patch(), label, mergeKey);
    host_->session().edit(change);
    dirty_ = true;
    trace("EDIT " + label);
}

void Editor::changeParam(const std::string& module, const std::string& param, double value, bool gesture) {
    const ModuleSpec* spec = patch().findModule(module);
    if (!spec) return;
    const auto current = spec->params.find(param);
    if (current != spec->params.end() && current->second == value) return;
    history_.record(patch(), "Change " + module + "." + param, gesture ? "param:" + module + "." + param : std::string{});
    if (!gesture) history_.endGesture();
    host_->session().setParam(module, param, value);
    if (performance_.automation.recording())
        performance_.automation.record(std::chrono::duration<double>(Clock::now() - started_).count(), module, param, value);
    dirty_ = true;
    trace("PARAM " + module + "." + param + " " + std::to_string(value));
}

void Editor::endGesture() {
    history_.endGesture();
}

void Editor::undo() {
    if (auto previous = history_.undo(patch())) {
        host_->session().setPatch(std::move(*previous));
        dirty_ = true;
        trace("UNDO");
    }
}

void Editor::redo() {
    if (auto next = history_.redo(patch())) {
        host_->session().setPatch(std::move(*next));
        dirty_ = true;
        trace("REDO");
    }
}

bool Editor::save(const std::string& target) {
    try {
        Patch copy = patch();
        writePerformance(copy, performance_);
        savePatchFile(target, copy);
        path_ = std::filesystem::absolute(target).lexically_normal().string();
        dirty_ = false;
        recent_->add(path_);
        if (autosave_) autosave_->discard();
        log_.push_back("saved " + path_);
        trace("SAVED " + path_);
        return true;
    } catch (const std::exception& e) {
        log_.push_back(std::string("could not save: ") + e.what() + " (nothing was overwritten)");
        showLog_ = true;
        return false;
    }
}

bool Editor::open(const std::string& target) {
    try {
        LoadedPatch loaded = loadPatchFile(target, Registry::global());
        for (const std::string& w : loaded.warnings) log_.push_back("warning: " + w);
        load(std::move(loaded.patch), std::filesystem::absolute(target).lexically_normal().string(), false);
        trace("OPENED " + path_);
        return true;
    } catch (const InputError& e) {
        log_.push_back(e.what());
        recent_->remove(target);
        showLog_ = true;
        return false;
    }
}

void Editor::newPatch() {
    Patch patch;
    patch.modules.push_back(ModuleSpec{.id = "out", .type = "out", .x = 600.0f, .y = 200.0f});
    load(std::move(patch), "", false);
}

void Editor::requestClose() {
    if (dirty_)
        showClose_ = true;
    else
        quit_ = true;
}

void Editor::selectOnly(const std::string& id) {
    selected_.clear();
    selected_.insert(id);
    selectedCable_ = -1;
}

std::vector<std::string> Editor::selection() const {
    std::vector<std::string> ids;
    for (const ModuleSpec& m : patch().modules)
        if (selected_.count(m.id)) ids.push_back(m.id);
    return ids;
}

void Editor::deleteSelection() {
    if (selectedCable_ >= 0 && selectedCable_ < static_cast<int>(patch().cables.size())) {
        const int index = selectedCable_;
        edit("Delete cable", [index](Patch& p) { p.cables.erase(p.cables.begin() + index); });
        selectedCable_ = -1;
        return;
    }
    const std::vector<std::string> ids = selection();
    if (ids.empty()) return;
    edit(ids.size() == 1 ? "Delete " + ids.front() : "Delete " + std::to_string(ids.size()) + " modules",
         [&](Patch& p) { removeModules(p, ids); });
    selected_.clear();
}

void Editor::copySelection() {
    const std::vector<std::string> ids = selection();
    if (ids.empty()) return;
    ImGui::SetClipboardText(copyModules(patch(), ids).c_str());
    trace("COPIED " + std::to_string(ids.size()));
}

void Editor::paste() {
    const char* text = ImGui::GetClipboardText();
    if (!text || !*text) return;
    const ImVec2 at = toCanvas(ImGui::GetMousePos());
    std::vector<std::string> added;
    try {
        Patch trial = patch();
        added = pasteModules(trial, text, at.x, at.y, Registry::global());
    } catch (const InputError& e) {
        log_.push_back(std::string("paste: ") + e.what());
        return;
    }
    edit("Paste " + std::to_string(added.size()) + " modules",
         [&](Patch& p) { added = pasteModules(p, text, at.x, at.y, Registry::global()); });
    selected_ = std::set<std::string>(added.begin(), added.end());
}

void Editor::duplicateSelection() {
    const std::vector<std::string> ids = selection();
    if (ids.empty()) return;
    std::vector<std::string> added;
    edit("Duplicate " + std::to_string(ids.size()) + " modules", [&](Patch& p) { added = duplicateModules(p, ids, 30.0f, 30.0f); });
    selected_ = std::set<std::string>(added.begin(), added.end());
}

void Editor::addModule(const std::string& type, ImVec2 at) {
    const ModuleDescriptor* descriptor = Registry::global().find(type);
    if (!descriptor) return;
    std::string id;
    edit("Add " + descriptor->name, [&](Patch& p) {
        id = p.uniqueModuleId(type);
        p.modules.push_back(ModuleSpec{.id = id, .type = type, .x = std::round(at.x), .y = std::round(at.y)});
    });
    selectOnly(id);
    trace("ADDED " + id + " " + type);
}

void Editor::zoomToFit(float minZoom, float maxZoom) {
    const Patch& doc = patch();
    if (doc.modules.empty() || canvasSize_.x <= 0.0f) return;
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (const ModuleSpec& m : doc.modules) {
        const NodeLayout& l = layout(m);
        x0 = std::min(x0, m.x);
        y0 = std::min(y0, m.y);
        x1 = std::max(x1, m.x + l.width);
        y1 = std::max(y1, m.y + l.height);
    }
    const float margin = 30.0f;
    zoom_ = std::clamp(std::min((canvasSize_.x - 2 * margin) / (x1 - x0), (canvasSize_.y - 2 * margin) / (y1 - y0)), minZoom, maxZoom);
    pan_ = ImVec2(margin / zoom_ - x0, margin / zoom_ - y0);
}

void Editor::frame() {
    animating_ = false;  // live views in sight set it again while they draw
    ImGui::GetIO().FontGlobalScale = std::clamp(settings_.uiScale, 0.5f, 4.0f);
    const ImGuiViewport* viewport = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(viewport->WorkPos);
    ImGui::SetNextWindowSize(viewport->WorkSize);
    ImGui::PushStyleVar(ImGuiStyleVar_WindowRounding, 0.0f);
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
    ImGui::Begin("Kabel", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoBringToFrontOnFocus |
                     ImGuiWindowFlags_MenuBar | ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoSavedSettings);
    ImGui::PopStyleVar(2);
    menuBar();
    const float inspectorWidth = showInspector_ ? 320.0f : 0.0f;
    const float statusHeight = ImGui::GetFrameHeight();
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    ImGui::BeginChild("canvas", ImVec2(avail.x - inspectorWidth, avail.y - statusHeight), false,
                      ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoMove);
    canvas();
    ImGui::EndChild();
    if (showInspector_) {
        ImGui::SameLine(0.0f, 0.0f);
        ImGui::BeginChild("inspector", ImVec2(inspectorWidth, avail.y - statusHeight), true);
        inspector();
        ImGui::EndChild();
    }
    statusBar();
    ImGui::End();

    browser();
    if (showHelp_) helpWindow();
    if (showLog_) logWindow();
    if (showTuning_) tuningWindow();
    if (showPerformance_) performanceWindow();
    if (showSettings_) settingsDialog();
    if (showPatches_) patchBrowser();
    if (showSaveAs_) saveAsDialog();
    if (!recoveries_.empty()) recoveryDialog();
    if (showClose_) closeDialog();
    shortcuts();
    tick();
}

void Editor::tick() {
    host_->poll();
    for (const std::string& m : host_->takeMessages()) log_.push_back(m);
    host_->engine().setProfiling(educator_);
    // A learn that completed is an edit of the MIDI map: one undo step back to the map as it was.
    const Session& session = host_->session();
    if (!lastLearnTarget_.empty() && session.learnedCount() != learnedBefore_) {
        learnedBefore_ = session.learnedCount();
        Patch before = session.patch();
        before.midiMap = learnMapBefore_;
        history_.record(before, "MIDI learn " + lastLearnTarget_);
        history_.endGesture();
        dirty_ = true;
        log_.push_back("MIDI learn: " + lastLearnTarget_ + " mapped");
        trace("LEARNED " + lastLearnTarget_);
        lastLearnTarget_.clear();
    } else if (!lastLearnTarget_.empty() && !session.learning()) {
        lastLearnTarget_.clear();  // cancelled
    }
    // Modules muted by the engine for NaN/Inf: logged once per mute, flagged on the canvas.
    std::map<std::string, std::uint32_t> muted;
    for (const Session::MutedModule& m : session.mutedModules()) {
        if (const auto r = resetting_.find(m.id); r != resetting_.end() && r->second == m.times) continue;  // reset pending
        if (const auto it = muted_.find(m.id); it == muted_.end() || it->second != m.times) {
            log_.push_back("module '" + m.id + "': " + Session::describe(m) + "; right-click it: Reset to unmute");
            trace("MUTED " + m.id);
        }
        muted[m.id] = m.times;
    }
    muted_ = std::move(muted);
    std::erase_if(resetting_, [&](const auto& r) {  // applied: unmuted, or muted again since
        const Module* instance = session.instance(r.first);
        return !instance || !instance->muted() || instance->muteCount() != r.second;
    });
    applyPerformance();
    const auto now = Clock::now();
    if (dirty_ && now - lastAutosave_ >= Autosave::kInterval) autosaveNow();
    animating_ = animating_ || host_->session().transitioning() || automationPlaying_ || performance_.automation.recording();
}

std::string Editor::idleKey() const {
    const AudioHostStatus s = host_->status();
    std::string key = s.label + "|" + std::to_string(std::lround(100.0 * s.cpuLoad)) + "|" + std::to_string(s.xruns) + "|" + s.midi + "|" +
                      windowTitle() + "|" + std::to_string(log_.size()) + "|" + std::to_string(host_->session().compileCount()) + "|" +
                      (host_->session().learning() ? "L" : "");
    if (educator_)
        for (const auto& [id, cpu] : cpu_) key += std::to_string(std::lround(cpu.second * 20.0f)) + ",";
    return key;
}

void Editor::autosaveNow() {
    lastAutosave_ = Clock::now();
    if (!autosave_ || !dirty_) return;
    try {
        Patch copy = patch();
        writePerformance(copy, performance_);
        autosave_->write(copy, path_);
        trace("AUTOSAVED " + autosave_->file().string());
    } catch (const std::exception& e) {
        log_.push_back(std::string("autosave failed: ") + e.what());
    }
}

void Editor::menuBar() {
    if (!ImGui::BeginMenuBar()) return;
    if (ImGui::BeginMenu("File")) {
        if (ImGui::MenuItem("New", "Ctrl+N")) newPatch();
        if (ImGui::MenuItem("Open...", "Ctrl+O")) showPatches_ = true;
        if (ImGui::BeginMenu("Open Recent", !recent_->list().empty())) {
            for (const std::string& file : recent_->list())
                if (ImGui::MenuItem(file.c_str())) {
                    open(file);
                    break;
                }
            ImGui::EndMenu();
        }
        if (ImGui::MenuItem("Save", "Ctrl+S")) {
            if (path_.empty())
                showSaveAs_ = true;
            else
                save(path_);
        }
        if (ImGui::MenuItem("Save As...", "Ctrl+Shift+S")) showSaveAs_ = true;
        ImGui::Separator();
        if (ImGui::MenuItem("Audio/MIDI Settings...")) showSettings_ = true;
        ImGui::Separator();
        if (ImGui::MenuItem("Quit", "Ctrl+Q")) requestClose();
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Edit")) {
        const std::string undoText = history_.canUndo() ? "Undo " + history_.undoLabel() : "Undo";
        const std::string redoText = history_.canRedo() ? "Redo " + history_.redoLabel() : "Redo";
        if (ImGui::MenuItem(undoText.c_str(), "Ctrl+Z", false, history_.canUndo())) undo();
        if (ImGui::MenuItem(redoText.c_str(), "Ctrl+Shift+Z", false, history_.canRedo())) redo();
        ImGui::Separator();
        if (ImGui::MenuItem("Add Module...", "Enter / double-click")) {
            browserOpen_ = true;
            browserFocus_ = true;
            browserAt_ = toCanvas(ImVec2(origin_.x + canvasSize_.x * 0.4f, origin_.y + canvasSize_.y * 0.4f));
        }
        if (ImGui::MenuItem("Cut", "Ctrl+X", false, !selected_.empty())) {
            copySelection();
            deleteSelection();
        }
        if (ImGui::MenuItem("Copy", "Ctrl+C", false, !selected_.empty())) copySelection();
        if (ImGui::MenuItem("Paste", "Ctrl+V")) paste();
        if (ImGui::MenuItem("Duplicate", "Ctrl+D", false, !selected_.empty())) duplicateSelection();
        if (ImGui::MenuItem("Delete", "Delete", false, !selected_.empty() || selectedCable_ >= 0)) deleteSelection();
        if (ImGui::MenuItem("Select All", "Ctrl+A"))
            for (const ModuleSpec& m : patch().modules) selected_.insert(m.id);
        if (ImGui::MenuItem("Tidy Up", "Ctrl+L")) {
            const std::vector<std::string> ids = selection();
            edit(ids.size() > 1 ? "Tidy up " + std::to_string(ids.size()) + " modules" : "Tidy up",
                 [&](Patch& p) { tidyLayout(p, ids.size() > 1 ? ids : std::vector<std::string>{}); });
        }
        if (ImGui::BeginMenu("Align", selected_.size() > 1)) {
            static const std::pair<const char*, Align> kAligns[] = {{"Left edges", Align::Left},
                                                                    {"Right edges", Align::Right},
                                                                    {"Top edges", Align::Top},
                                                                    {"Bottom edges", Align::Bottom},
                                                                    {"Centres (vertical line)", Align::CenterX},
                                                                    {"Centres (horizontal line)", Align::CenterY},
                                                                    {"Distribute horizontally", Align::DistributeX},
                                                                    {"Distribute vertically", Align::DistributeY}};
            for (const auto& [name, how] : kAligns)
                if (ImGui::MenuItem(name)) {
                    const std::vector<std::string> ids = selection();
                    edit(std::string("Align ") + name, [&, how = how](Patch& p) {
                        alignModules(p, ids, how, [this](const ModuleSpec& m) {
                            const NodeLayout& l = layout(m);
                            return ModuleSize{l.width, l.height};
                        });
                    });
                }
            ImGui::EndMenu();
        }
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("View")) {
        ImGui::MenuItem("Inspector", "I", &showInspector_);
        ImGui::MenuItem("Tuning", "T", &showTuning_);
        ImGui::MenuItem("Performance", "P", &showPerformance_);
        ImGui::MenuItem("Educator mode (CPU meters, cable probes)", "E", &educator_);
        ImGui::MenuItem("Log", nullptr, &showLog_);
        ImGui::SetNextItemWidth(120.0f);
        ImGui::SliderFloat("UI scale", &settings_.uiScale, 0.75f, 2.0f, "%.2f");
        ImGui::Separator();
        if (ImGui::MenuItem("Zoom In", "Ctrl+=")) zoom_ = std::min(2.5f, zoom_ * 1.2f);
        if (ImGui::MenuItem("Zoom Out", "Ctrl+-")) zoom_ = std::max(0.1f, zoom_ / 1.2f);
        if (ImGui::MenuItem("Zoom to Fit", "F")) zoomToFit();
        if (ImGui::MenuItem("Reset View", "Ctrl+0")) {
            zoom_ = 1.0f;
            pan_ = ImVec2(40.0f, 40.0f);
        }
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Help")) {
        if (ImGui::MenuItem("Shortcuts and mouse", "F1")) showHelp_ = true;
        if (ImGui::MenuItem("Example patches...")) showPatches_ = true;
        ImGui::EndMenu();
    }
    ImGui::EndMenuBar();
}

void Editor::shortcuts() {
    ImGuiIO& io = ImGui::GetIO();
    constexpr int kGlfwF12 = 301;
    if (keyPressed(kGlfwF12)) screenshot_ = "kabel-screenshot.png";  // also while typing: F12 types nothing
    if (io.WantTextInput) return;
    // A modal (recovery, unsaved changes) or a menu owns the keyboard: no edits behind it.
    if (ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId | ImGuiPopupFlags_AnyPopupLevel)) return;
    constexpr int kKeyN = 'N', kKeyO = 'O', kKeyS = 'S', kKeyQ = 'Q', kKeyZ = 'Z', kKeyY = 'Y', kKeyC = 'C', kKeyV = 'V', kKeyX = 'X',
                  kKeyD = 'D', kKeyA = 'A', kKeyI = 'I', kKeyT = 'T', kKeyP = 'P', kKeyE = 'E', kKey0 = '0', kKeyEqual = '=',
                  kKeyMinus = '-';
    if (ctrl()) {
        if (keyPressed(kKeyN)) newPatch();
        if (keyPressed(kKeyO)) showPatches_ = true;
        if (keyPressed(kKeyS)) {
            if (io.KeyShift || path_.empty())
                showSaveAs_ = true;
            else
                save(path_);
        }
        if (keyPressed(kKeyQ)) requestClose();
        if (keyPressed(kKeyZ)) io.KeyShift ? redo() : undo();
        if (keyPressed(kKeyY)) redo();
        if (keyPressed(kKeyC)) copySelection();
        if (keyPressed(kKeyX)) {
            copySelection();
            deleteSelection();
        }
        if (keyPressed(kKeyV)) paste();
        if (keyPressed(kKeyD)) duplicateSelection();
        if (keyPressed(kKeyA))
            for (const ModuleSpec& m : patch().modules) selected_.insert(m.id);
        if (keyPressed('L')) {
            const std::vector<std::string> ids = selection();
            edit("Tidy up", [&](Patch& p) { tidyLayout(p, ids.size() > 1 ? ids : std::vector<std::string>{}); });
        }
        if (keyPressed(kKey0)) {
            zoom_ = 1.0f;
            pan_ = ImVec2(40.0f, 40.0f);
        }
        if (keyPressed(kKeyEqual)) zoom_ = std::min(2.5f, zoom_ * 1.2f);
        if (keyPressed(kKeyMinus)) zoom_ = std::max(0.1f, zoom_ / 1.2f);
        return;
    }
    if (io.WantCaptureKeyboard && ImGui::IsAnyItemActive()) return;
    if (keyPressed(ImGui::GetKeyIndex(ImGuiKey_Delete)) || keyPressed(ImGui::GetKeyIndex(ImGuiKey_Backspace))) deleteSelection();
    if (keyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter)) && !browserOpen_) {
        browserOpen_ = true;
        browserFocus_ = true;
        browserAt_ = toCanvas(ImGui::GetMousePos());
    }
    if (keyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
        selected_.clear();
        selectedCable_ = -1;
    }
    if (keyPressed('F')) zoomToFit();
    if (keyPressed(kKeyI)) showInspector_ = !showInspector_;
    if (keyPressed(kKeyT)) showTuning_ = !showTuning_;
    if (keyPressed(kKeyP)) showPerformance_ = !showPerformance_;
    if (keyPressed(kKeyE)) educator_ = !educator_;
    constexpr int kGlfwF1 = 290;
    if (keyPressed(kGlfwF1)) showHelp_ = !showHelp_;
}

void Editor::statusBar() {
    const AudioHostStatus s = host_->status();
    const Session& session = host_->session();
    ImGui::SetCursorPosX(8.0f);
    ImGui::AlignTextToFramePadding();
    ImGui::TextColored(s.device ? ImVec4(0.5f, 0.9f, 0.5f, 1.0f) : ImVec4(0.95f, 0.7f, 0.3f, 1.0f), "%s", s.label.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("| cpu %4.1f %% | xruns %llu | %zu modules, %zu cables | plan %.2f ms | %s", 100.0 * s.cpuLoad,
                        static_cast<unsigned long long>(s.xruns), session.patch().modules.size(), session.patch().cables.size(),
                        session.report().milliseconds, s.midi.c_str());
    if (!muted_.empty()) {
        ImGui::SameLine();
        ImGui::TextColored(ImVec4(1.0f, 0.35f, 0.3f, 1.0f), "| %zu muted (NaN/Inf)", muted_.size());
    }
    if (!log_.empty()) {
        ImGui::SameLine();
        if (ImGui::SmallButton(("log (" + std::to_string(log_.size()) + ")").c_str())) showLog_ = !showLog_;
    }
}

}  // namespace kabel::editor
