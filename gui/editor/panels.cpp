// The editor's windows: module browser, inspector, audio/MIDI settings, help, patch browser,
// save-as, crash recovery, unsaved-changes prompt, log, tuning view and performance mode.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "core/io/audio_device.hpp"
#include "core/io/midi_input.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"
#include "gui/editor/editor.hpp"
#include "gui/editor/views.hpp"
#include "gui/model/live_views.hpp"

namespace kabel::editor {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// Browser ranking: 0 best. Name prefix, then id prefix, then word start, then anywhere (name,
// id, category, help); -1 = no match.
int matchRank(const ModuleDescriptor& d, const std::string& query) {
    if (query.empty()) return 0;
    const std::string name = lower(d.name), id = lower(d.id);
    if (name.rfind(query, 0) == 0 || id.rfind(query, 0) == 0) return 0;
    if (name.find(" " + query) != std::string::npos) return 1;
    if (name.find(query) != std::string::npos || id.find(query) != std::string::npos) return 2;
    if (lower(d.category).find(query) != std::string::npos) return 3;
    if (lower(d.help).find(query) != std::string::npos) return 4;
    return -1;
}

}  // namespace

void Editor::browser() {
    if (!browserOpen_) return;
    ImGui::SetNextWindowSize(ImVec2(520, 420), ImGuiCond_Appearing);
    // At the mouse, kept inside the window.
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    ImGui::SetNextWindowPos(ImVec2(std::clamp(mouse.x - 100.0f, 0.0f, std::max(0.0f, display.x - 520.0f)),
                                   std::clamp(mouse.y - 40.0f, 20.0f, std::max(20.0f, display.y - 440.0f))),
                            ImGuiCond_Appearing);
    if (!ImGui::Begin("Add module", &browserOpen_, ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    if (browserFocus_) {
        ImGui::SetKeyboardFocusHere();
        browserFocus_ = false;
        browserFilter_[0] = '\0';
        browserIndex_ = 0;
    }
    ImGui::SetNextItemWidth(-1.0f);
    const bool enter = ImGui::InputTextWithHint("##filter", "type to search: name, category or what it does", browserFilter_,
                                                sizeof browserFilter_, ImGuiInputTextFlags_EnterReturnsTrue);
    const std::string query = lower(browserFilter_);
    std::vector<std::pair<int, const ModuleDescriptor*>> matches;
    for (const ModuleDescriptor* d : Registry::global().all())
        if (const int rank = matchRank(*d, query); rank >= 0) matches.emplace_back(rank, d);
    std::stable_sort(matches.begin(), matches.end(), [&](const auto& a, const auto& b) {
        if (query.empty()) return std::tie(a.second->category, a.second->name) < std::tie(b.second->category, b.second->name);
        return std::tie(a.first, a.second->name) < std::tie(b.first, b.second->name);
    });
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_DownArrow)))
        browserIndex_ = std::min(browserIndex_ + 1, static_cast<int>(matches.size()) - 1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_UpArrow))) browserIndex_ = std::max(browserIndex_ - 1, 0);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) browserOpen_ = false;
    browserIndex_ = std::clamp(browserIndex_, 0, std::max(0, static_cast<int>(matches.size()) - 1));

    const ModuleDescriptor* chosen = nullptr;
    ImGui::BeginChild("list", ImVec2(200, 0), true);
    std::string category;
    for (int i = 0; i < static_cast<int>(matches.size()); ++i) {
        const ModuleDescriptor* d = matches[static_cast<std::size_t>(i)].second;
        if (query.empty() && d->category != category) {
            category = d->category;
            ImGui::TextDisabled("%s", category.c_str());
        }
        ImGui::PushID(d->id.c_str());
        if (ImGui::Selectable(d->name.c_str(), i == browserIndex_, ImGuiSelectableFlags_AllowDoubleClick)) {
            browserIndex_ = i;
            if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) chosen = d;
        }
        if (i == browserIndex_ &&
            (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_DownArrow)) || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_UpArrow))))
            ImGui::SetScrollHereY();
        ImGui::PopID();
    }
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("help", ImVec2(0, 0), false);
    if (!matches.empty()) {
        const ModuleDescriptor* d = matches[static_cast<std::size_t>(browserIndex_)].second;
        ImGui::Text("%s", d->name.c_str());
        ImGui::TextDisabled("%s  -  type '%s'", d->category.c_str(), d->id.c_str());
        ImGui::Separator();
        ImGui::TextWrapped("%s", d->help.c_str());
        ImGui::Spacing();
        ImGui::TextDisabled("Enter or double-click adds it");
        if (enter) chosen = d;
    } else {
        ImGui::TextDisabled("No module matches '%s'", browserFilter_);
    }
    ImGui::EndChild();
    ImGui::End();
    if (chosen) {
        addModule(chosen->id, browserAt_);
        browserOpen_ = false;
    }
}

void Editor::inspector() {
    if (selected_.size() != 1) {
        ImGui::TextDisabled(selected_.empty() ? "Select a module to see its params." : "%zu modules selected.", selected_.size());
        ImGui::Spacing();
        const Patch& doc = patch();
        if (!doc.meta.title.empty()) ImGui::Text("%s", doc.meta.title.c_str());
        if (!doc.meta.description.empty()) ImGui::TextWrapped("%s", doc.meta.description.c_str());
        return;
    }
    const std::string id = *selected_.begin();
    const ModuleSpec* m = patch().findModule(id);
    if (!m) {
        selected_.clear();
        return;
    }
    const ModuleDescriptor* d = Registry::global().find(m->type);
    ImGui::Text("%s", d ? d->name.c_str() : m->type.c_str());
    ImGui::TextDisabled("id '%s'  type '%s'", m->id.c_str(), m->type.c_str());
    char label[128];
    std::snprintf(label, sizeof label, "%s", m->label.c_str());
    if (ImGui::InputText("Label", label, sizeof label, ImGuiInputTextFlags_EnterReturnsTrue)) {
        const std::string text = label;
        edit("Rename " + id, [&](Patch& p) {
            if (ModuleSpec* s = p.findModule(id)) s->label = text;
        });
    }
    if (!d) {
        ImGui::TextWrapped("This build has no module type '%s'. Its params and cables are kept and saved as they were.", m->type.c_str());
        return;
    }
    if (ImGui::CollapsingHeader("About")) ImGui::TextWrapped("%s", d->help.c_str());
    if (const Module* instance = host_->session().instance(id)) {
        const std::string status = instance->status();
        if (!status.empty()) ImGui::TextColored(ImVec4(1.0f, 0.6f, 0.4f, 1.0f), "%s", status.c_str());
        if (educator_) {
            const auto cpu = cpu_.find(id);
            ImGui::TextDisabled("CPU: %.2f %% of one core", cpu == cpu_.end() ? 0.0 : 100.0 * cpu->second.second);
        }
    }
    ImGui::Separator();
    const Session& session = host_->session();
    const bool learning = session.learning();
    for (const ParamDescriptor& p : d->params) {
        ImGui::PushID(p.id.c_str());
        const auto it = m->params.find(p.id);
        float value = it == m->params.end() ? p.defaultValue : static_cast<float>(it->second);
        ImGui::SetNextItemWidth(150.0f);
        bool changed = false;
        if (p.curve == ParamCurve::Choice && !p.choices.empty()) {
            int index = std::clamp(static_cast<int>(std::lround(value)), 0, static_cast<int>(p.choices.size()) - 1);
            if (ImGui::BeginCombo(p.name.c_str(), p.choices[static_cast<std::size_t>(index)].c_str())) {
                for (int i = 0; i < static_cast<int>(p.choices.size()); ++i)
                    if (ImGui::Selectable(p.choices[static_cast<std::size_t>(i)].c_str(), i == index)) {
                        index = i;
                        changed = true;
                    }
                ImGui::EndCombo();
            }
            value = static_cast<float>(index);
        } else if (p.curve == ParamCurve::Toggle) {
            bool on = value >= 0.5f;
            changed = ImGui::Checkbox(p.name.c_str(), &on);
            value = on ? 1.0f : 0.0f;
        } else if (p.curve == ParamCurve::Integer) {
            int v = static_cast<int>(std::lround(value));
            changed = ImGui::SliderInt(p.name.c_str(), &v, static_cast<int>(p.min), static_cast<int>(p.max), ("%d " + p.unit).c_str());
            value = static_cast<float>(v);
        } else {
            const std::string format = "%.4g " + p.unit;
            changed = ImGui::SliderFloat(p.name.c_str(), &value, p.min, p.max, format.c_str(),
                                         p.curve == ParamCurve::Exponential ? ImGuiSliderFlags_Logarithmic : ImGuiSliderFlags_None);
        }
        const bool active = ImGui::IsItemActive();
        if (ImGui::IsItemHovered() && !p.help.empty()) ImGui::SetTooltip("%s\nCtrl+click to type an exact value", p.help.c_str());
        if (changed) changeParam(id, p.id, p.clamp(value), active);
        if (ImGui::IsItemDeactivatedAfterEdit()) endGesture();
        ImGui::SameLine();
        const bool armed = learning && lastLearnTarget_ == id + "." + p.id;
        if (armed) ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.8f, 0.3f, 0.2f, 1.0f));
        if (ImGui::SmallButton(armed ? "learning" : "learn")) {
            if (armed) {
                host_->session().cancelLearn();
            } else if (host_->session().learnMidi(id, p.id)) {
                lastLearnTarget_ = id + "." + p.id;
                learnedBefore_ = session.learnedCount();
                learnMapBefore_ = session.patch().midiMap;
                trace("LEARN " + lastLearnTarget_);
            }
        }
        if (armed) ImGui::PopStyleColor();
        const auto mapped = std::count_if(session.patch().midiMap.begin(), session.patch().midiMap.end(),
                                          [&](const MidiMapping& mm) { return mm.module == id && mm.param == p.id; });
        if (mapped > 0) {
            ImGui::SameLine();
            if (ImGui::SmallButton("unmap")) {
                history_.record(patch(), "Unmap " + id + "." + p.id);
                host_->session().unmapMidi(id, p.id);
                dirty_ = true;
            }
            if (ImGui::IsItemHovered()) {
                std::string text;
                for (const MidiMapping& mm : session.patch().midiMap)
                    if (mm.module == id && mm.param == p.id)
                        text += mm.source + " " + std::to_string(mm.number) +
                                (mm.channel ? " ch " + std::to_string(mm.channel) : " any channel") + "\n";
                ImGui::SetTooltip("%s", text.c_str());
            }
        }
        ImGui::PopID();
    }
    ImGui::Separator();
    ImGui::TextDisabled("Ports");
    for (const PortDescriptor& port : d->inputs) {
        std::string from;
        for (const CableSpec& c : patch().cables)
            if (c.to.module == id && c.to.port == port.id) from += (from.empty() ? "" : ", ") + c.from.str();
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kindColour(port.kind)), "in  %s", port.name.c_str());
        ImGui::SameLine();
        ImGui::TextDisabled("%s", from.empty() ? "(unpatched)" : ("<- " + from).c_str());
    }
    for (const PortDescriptor& port : d->outputs) {
        std::string to;
        for (const CableSpec& c : patch().cables)
            if (c.from.module == id && c.from.port == port.id) to += (to.empty() ? "" : ", ") + c.to.str();
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kindColour(port.kind)), "out %s", port.name.c_str());
        ImGui::SameLine();
        ImGui::TextDisabled("%s", to.empty() ? "" : ("-> " + to).c_str());
    }
}

void Editor::settingsDialog() {
    ImGui::SetNextWindowSize(ImVec2(560, 420), ImGuiCond_Appearing);
    if (!ImGui::Begin("Audio/MIDI settings", &showSettings_, ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    static std::vector<AudioDeviceInfo> devices;
    static std::vector<std::string> midiSources;
    static char device[256], host[32];
    static int buffer = 0;
    if (ImGui::IsWindowAppearing()) {
        devices = listAudioDevices();
        try {
            midiSources = listMidiSources(host_->status().label.find("JACK") != std::string::npos ? MidiInput::Backend::Jack
                                                                                                  : MidiInput::Backend::RtMidiAlsa);
        } catch (const std::exception& e) {
            midiSources = {std::string("(") + e.what() + ")"};
        }
        std::snprintf(device, sizeof device, "%s", settings_.audioDevice.c_str());
        std::snprintf(host, sizeof host, "%s", settings_.hostApi.c_str());
        buffer = settings_.bufferFrames;
    }
    ImGui::TextWrapped("Now: %s", host_->status().label.c_str());
    ImGui::Separator();
    ImGui::InputTextWithHint("Device", "default (JACK when a server runs)", device, sizeof device);
    ImGui::InputTextWithHint("Host API", "jack, alsa or empty", host, sizeof host);
    ImGui::InputInt("Buffer (frames, 0 = device's)", &buffer);
    buffer = std::clamp(buffer, 0, 8192);
    ImGui::TextDisabled("Output devices:");
    ImGui::BeginChild("devices", ImVec2(0, 120), true);
    for (const AudioDeviceInfo& info : devices)
        if (info.maxOutputChannels > 0 && ImGui::Selectable((info.name + "  (" + info.hostApi + ")").c_str(), info.name == device)) {
            std::snprintf(device, sizeof device, "%s", info.name.c_str());
            std::snprintf(host, sizeof host, "%s", lower(info.hostApi).find("jack") != std::string::npos ? "jack" : "alsa");
        }
    if (devices.empty()) ImGui::TextDisabled("none found");
    ImGui::EndChild();
    ImGui::TextDisabled("MIDI sources (connected on apply):");
    ImGui::BeginChild("midi", ImVec2(0, 80), true);
    for (const std::string& source : midiSources) {
        bool on = std::find(settings_.midiInputs.begin(), settings_.midiInputs.end(), source) != settings_.midiInputs.end();
        if (ImGui::Checkbox(source.c_str(), &on)) {
            if (on)
                settings_.midiInputs.push_back(source);
            else
                settings_.midiInputs.erase(std::remove(settings_.midiInputs.begin(), settings_.midiInputs.end(), source),
                                           settings_.midiInputs.end());
        }
    }
    ImGui::EndChild();
    if (ImGui::Button("Apply")) {
        settings_.audioDevice = device;
        settings_.hostApi = host;
        settings_.bufferFrames = buffer;
        options_.audio.device = device;
        options_.audio.hostApi = host;
        options_.audio.bufferFrames = buffer;
        options_.audio.midiInputs = settings_.midiInputs;
        // Restart the audio side with the document as it is (module state starts afresh).
        Patch document = patch();
        const std::filesystem::path directory = path_.empty() ? std::filesystem::path{} : std::filesystem::path(path_).parent_path();
        probes_.clear();
        pinned_.clear();
        host_.reset();
        host_ = std::make_unique<AudioHost>(options_.audio, std::move(document), directory);
        spectra_.clear();
        cpu_.clear();
        log_.push_back("audio: " + host_->status().label);
    }
    ImGui::SameLine();
    ImGui::TextDisabled("Applying restarts the audio engine with the current patch.");
    ImGui::End();
}

void Editor::helpWindow() {
    ImGui::SetNextWindowSize(ImVec2(560, 520), ImGuiCond_Appearing);
    if (!ImGui::Begin("Help: shortcuts and mouse", &showHelp_, ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    static const char* kRows[][2] = {
        {"Double-click canvas, Enter, right-click", "add a module (type to search, Up/Down, Enter)"},
        {"Drag from an output to an input", "patch a cable (or from a free input to an output)"},
        {"Drag a cable's input end", "move it to another input; drop it on the canvas to delete it"},
        {"Click a cable / Alt+click, right-click", "select it / delete it"},
        {"Click, Shift+click, drag on canvas", "select, add to selection, box-select"},
        {"Drag a module's header", "move the selection"},
        {"Drag a param bar (Shift: fine)", "change it; double-click resets; click steps a switch"},
        {"Wheel / middle or right drag", "zoom about the mouse / pan"},
        {"Delete, Backspace", "delete the selection"},
        {"Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y", "undo, redo (every edit; a drag is one step)"},
        {"Ctrl+C, Ctrl+X, Ctrl+V, Ctrl+D", "copy, cut, paste (also between patches), duplicate"},
        {"Ctrl+A, Esc", "select all, clear the selection"},
        {"Ctrl+N, Ctrl+O, Ctrl+S, Ctrl+Shift+S", "new, open, save, save as"},
        {"Ctrl+=, Ctrl+-, Ctrl+0", "zoom in, out, reset the view"},
        {"I, T, P, E", "inspector, tuning view, performance mode, educator mode"},
        {"F1, F12", "this help, screenshot (kabel-screenshot.png)"},
        {"Ctrl+Q", "quit (asks when there are unsaved changes)"},
    };
    if (ImGui::BeginTable("keys", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV)) {
        for (const auto& row : kRows) {
            ImGui::TableNextRow();
            ImGui::TableSetColumnIndex(0);
            ImGui::TextUnformatted(row[0]);
            ImGui::TableSetColumnIndex(1);
            ImGui::TextWrapped("%s", row[1]);
        }
        ImGui::EndTable();
    }
    ImGui::Spacing();
    ImGui::TextWrapped(
        "Every edit is applied to the running patch at once: the audio never stops, new cables fade in and removed ones fade out. "
        "Your work is autosaved every 10 seconds to a recovery file; after a crash Kabel offers it at the next start.");
    ImGui::End();
}

void Editor::patchBrowser() {
    ImGui::SetNextWindowSize(ImVec2(640, 460), ImGuiCond_Appearing);
    if (!ImGui::Begin("Open patch", &showPatches_, ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    static std::vector<std::pair<std::string, PatchMeta>> examples;
    if (ImGui::IsWindowAppearing()) {
        examples.clear();
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(options_.examplesDirectory, ec)) {
            if (entry.path().extension() != ".kabel") continue;
            PatchMeta meta;
            try {
                meta = loadPatchFile(entry.path(), Registry::global()).patch.meta;
            } catch (const InputError& e) {
                meta.description = e.what();
            }
            examples.emplace_back(entry.path().string(), meta);
        }
        std::sort(examples.begin(), examples.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::snprintf(pathInput_, sizeof pathInput_, "%s", path_.c_str());
    }
    ImGui::SetNextItemWidth(-80.0f);
    const bool enter =
        ImGui::InputTextWithHint("##path", "a .kabel file", pathInput_, sizeof pathInput_, ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Open") || enter) && pathInput_[0]) {
        if (open(pathInput_)) showPatches_ = false;
    }
    // The folder of the path typed so far: its subfolders and patches, to click through.
    {
        std::error_code ec;
        std::filesystem::path folder = pathInput_[0] ? std::filesystem::path(pathInput_) : std::filesystem::current_path(ec);
        if (!std::filesystem::is_directory(folder, ec)) folder = folder.parent_path();
        if (folder.empty()) folder = std::filesystem::current_path(ec);
        std::vector<std::filesystem::path> entries;
        for (const auto& entry :
             std::filesystem::directory_iterator(folder, std::filesystem::directory_options::skip_permission_denied, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.empty() || name[0] == '.') continue;
            if (entry.is_directory(ec) || entry.path().extension() == ".kabel") entries.push_back(entry.path());
        }
        std::sort(entries.begin(), entries.end());
        ImGui::TextDisabled("In %s", folder.string().c_str());
        ImGui::BeginChild("folder", ImVec2(0, 120), true);
        if (folder.has_parent_path() && folder != folder.root_path() && ImGui::Selectable(".. (up)"))
            std::snprintf(pathInput_, sizeof pathInput_, "%s/", folder.parent_path().string().c_str());
        for (const std::filesystem::path& entry : entries) {
            const bool directory = std::filesystem::is_directory(entry, ec);
            const std::string label = entry.filename().string() + (directory ? "/" : "");
            if (ImGui::Selectable(label.c_str(), false, ImGuiSelectableFlags_AllowDoubleClick)) {
                std::snprintf(pathInput_, sizeof pathInput_, "%s%s", entry.string().c_str(), directory ? "/" : "");
                if (!directory && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left) && open(entry.string())) showPatches_ = false;
            }
        }
        ImGui::EndChild();
    }
    if (!recent_->list().empty()) {
        ImGui::TextDisabled("Recent");
        for (const std::string& file : recent_->list())
            if (ImGui::Selectable(file.c_str())) std::snprintf(pathInput_, sizeof pathInput_, "%s", file.c_str());
    }
    ImGui::TextDisabled("Example patches (%s)", options_.examplesDirectory.string().c_str());
    ImGui::BeginChild("examples", ImVec2(0, 0), true);
    for (const auto& [file, meta] : examples) {
        ImGui::PushID(file.c_str());
        const std::string title = meta.title.empty() ? std::filesystem::path(file).stem().string() : meta.title;
        if (ImGui::Selectable(title.c_str(), false, ImGuiSelectableFlags_AllowDoubleClick)) {
            std::snprintf(pathInput_, sizeof pathInput_, "%s", file.c_str());
            if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left) && open(file)) showPatches_ = false;
        }
        if (!meta.description.empty()) {
            ImGui::Indent();
            ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
            ImGui::TextWrapped("%s", meta.description.c_str());
            ImGui::PopStyleColor();
            ImGui::Unindent();
        }
        ImGui::PopID();
    }
    ImGui::EndChild();
    ImGui::End();
}

void Editor::saveAsDialog() {
    ImGui::SetNextWindowSize(ImVec2(560, 0), ImGuiCond_Appearing);
    if (!ImGui::Begin("Save as", &showSaveAs_, ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_AlwaysAutoResize)) {
        ImGui::End();
        return;
    }
    if (ImGui::IsWindowAppearing()) {
        std::snprintf(pathInput_, sizeof pathInput_, "%s", path_.empty() ? "untitled.kabel" : path_.c_str());
        ImGui::SetKeyboardFocusHere();
    }
    ImGui::SetNextItemWidth(440.0f);
    const bool enter = ImGui::InputText("File", pathInput_, sizeof pathInput_, ImGuiInputTextFlags_EnterReturnsTrue);
    std::string target = pathInput_;
    if (!target.empty() && std::filesystem::path(target).extension() != ".kabel") target += ".kabel";
    std::error_code ec;
    const bool exists = !target.empty() && std::filesystem::exists(target, ec) &&
                        std::filesystem::weakly_canonical(target, ec) != std::filesystem::weakly_canonical(path_.empty() ? "/" : path_, ec);
    if (exists) ImGui::TextColored(ImVec4(1.0f, 0.7f, 0.3f, 1.0f), "%s exists: saving replaces it.", target.c_str());
    if ((ImGui::Button("Save") || enter) && !target.empty() && save(target)) showSaveAs_ = false;
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) showSaveAs_ = false;
    ImGui::End();
}

void Editor::recoveryDialog() {
    ImGui::OpenPopup("Recover unsaved work?");
    ImGui::SetNextWindowSize(ImVec2(600, 0), ImGuiCond_Appearing);
    if (!ImGui::BeginPopupModal("Recover unsaved work?", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
    const RecoveryFile& file = recoveries_.front();
    ImGui::TextWrapped("Kabel did not shut down cleanly. It autosaved \"%s\"%s.", file.title.c_str(),
                       file.originalPath.empty() ? " (never saved)" : (", opened from " + file.originalPath).c_str());
    ImGui::TextWrapped("Recovering opens it unsaved; Save then writes to %s.",
                       file.originalPath.empty() ? "a file you choose" : file.originalPath.c_str());
    const bool recover = ImGui::Button("Recover");
    if (options_.trace) {
        // Where the button is, once it is placed (an auto-sized popup settles after a frame).
        static std::string traced;
        const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
        const std::string line = "RECOVERY offered " + file.originalPath + "\nBUTTON Recover " +
                                 std::to_string(static_cast<int>((a.x + b.x) / 2)) + " " +
                                 std::to_string(static_cast<int>((a.y + b.y) / 2));
        if (ImGui::GetFrameCount() > 3 && line != traced) {
            traced = line;
            trace(line);
        }
    }
    if (recover) {
        try {
            Patch recovered = Autosave::load(file, Registry::global());
            load(std::move(recovered), file.originalPath, true);
            log_.push_back("recovered " + file.file.string());
            trace("RECOVERED " + file.originalPath);
            autosaveNow();  // our own recovery file holds it before the old one goes
            Autosave::dismiss(file);
        } catch (const InputError& e) {
            log_.push_back(std::string("recovery failed: ") + e.what());
            showLog_ = true;
        }
        recoveries_.erase(recoveries_.begin());
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Discard")) {
        Autosave::dismiss(file);
        recoveries_.erase(recoveries_.begin());
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Later")) {
        recoveries_.erase(recoveries_.begin());
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

void Editor::closeDialog() {
    ImGui::OpenPopup("Unsaved changes");
    if (!ImGui::BeginPopupModal("Unsaved changes", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
    ImGui::Text("%s has unsaved changes.", path_.empty() ? "This patch" : std::filesystem::path(path_).filename().c_str());
    if (ImGui::Button("Save and quit")) {
        if (path_.empty()) {
            showSaveAs_ = true;
        } else if (save(path_)) {
            quit_ = true;
        }
        showClose_ = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Quit without saving")) {
        quit_ = true;
        dirty_ = false;
        showClose_ = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) {
        showClose_ = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

void Editor::logWindow() {
    ImGui::SetNextWindowSize(ImVec2(640, 240), ImGuiCond_Appearing);
    if (!ImGui::Begin("Log", &showLog_, ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    if (ImGui::SmallButton("Clear")) log_.clear();
    ImGui::Separator();
    for (const std::string& line : log_) ImGui::TextWrapped("%s", line.c_str());
    ImGui::End();
}

void Editor::tuningWindow() {
    ImGui::SetNextWindowSize(ImVec2(460, 560), ImGuiCond_Appearing);
    if (!ImGui::Begin("Tuning", &showTuning_, ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    std::vector<std::string> tuners;
    for (const ModuleSpec& m : patch().modules)
        if (m.type == "tuner" || m.type == "quantizer") tuners.push_back(m.id);
    if (tuners.empty()) {
        ImGui::TextWrapped(
            "This patch has no tuner or quantizer. Add one (maqam, makam, raga, gamelan, Scala files) to see its scale here.");
        ImGui::End();
        return;
    }
    if (std::find(tuners.begin(), tuners.end(), tunerModule_) == tuners.end()) tunerModule_ = tuners.front();
    if (ImGui::BeginCombo("Module", tunerModule_.c_str())) {
        for (const std::string& id : tuners)
            if (ImGui::Selectable(id.c_str(), id == tunerModule_)) tunerModule_ = id;
        ImGui::EndCombo();
    }
    const ModuleSpec* m = patch().findModule(tunerModule_);
    // The tuning is loaded again only when the module's state or params change.
    static std::string key;
    static std::optional<tuning::Tuning> shown;
    static std::string problem;
    std::string now = m->id + "|" + m->stateJson;
    for (const auto& [param, value] : m->params) now += "|" + param + "=" + std::to_string(value);
    if (now != key) {
        key = now;
        try {
            shown = tunerTuning(*m, path_.empty() ? std::filesystem::path{} : std::filesystem::path(path_).parent_path());
            problem.clear();
        } catch (const std::exception& e) {
            shown.reset();
            problem = e.what();
        }
    }
    if (shown) {
        // The degree sounding now, from a probe on the module's Degree output (the tuning view
        // keeps redrawing while it is open).
        int sounding = -1;
        if (const SignalTap* tap = probeTap(PortRef{m->id, "degree"})) {
            float degree = -1.0f;
            if (tap->read(0, &degree, 1) == 1) sounding = static_cast<int>(std::lround(degree));
            animating_ = true;
        }
        drawTuningView(*shown, sounding, ImGui::GetContentRegionAvail());
    } else
        ImGui::TextWrapped("Cannot show this tuning: %s", problem.c_str());
    ImGui::End();
}

void Editor::applyPerformance() {
    if (!automationPlaying_ || performance_.automation.empty()) return;
    const double now = std::chrono::duration<double>(Clock::now() - automationStart_).count();
    for (const ParamChange& change : performance_.automation.due(automationClock_, now))
        host_->session().setParam(change.module, change.param, change.value);
    automationClock_ = now;
    dirty_ = true;
}

void Editor::performanceWindow() {
    ImGui::SetNextWindowSize(ImVec2(520, 460), ImGuiCond_Appearing);
    if (!ImGui::Begin("Performance", &showPerformance_, ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    const float big = ImGui::GetFrameHeight() * 2.0f;
    ImGui::TextDisabled("Snapshots store every param; recall one, or morph between two.");
    if (ImGui::Button("Store snapshot", ImVec2(180, big))) {
        performance_.snapshots.push_back(
            captureSnapshot(patch(), Registry::global(), "Snapshot " + std::to_string(performance_.snapshots.size() + 1)));
        dirty_ = true;
        trace("SNAPSHOT " + std::to_string(performance_.snapshots.size()));
    }
    int remove = -1;
    for (int i = 0; i < static_cast<int>(performance_.snapshots.size()); ++i) {
        ImGui::PushID(i);
        if (i % 4 != 0) ImGui::SameLine();
        if (ImGui::Button(performance_.snapshots[static_cast<std::size_t>(i)].name.c_str(), ImVec2(110, big))) {
            const std::vector<ParamChange> changes =
                recall(performance_.snapshots[static_cast<std::size_t>(i)], patch(), Registry::global());
            if (!changes.empty())
                edit("Recall " + performance_.snapshots[static_cast<std::size_t>(i)].name, [&](Patch& p) {
                    for (const ParamChange& c : changes)
                        if (ModuleSpec* m = p.findModule(c.module)) m->params[c.param] = c.value;
                });
        }
        if (ImGui::BeginPopupContextItem()) {
            if (ImGui::MenuItem("Morph from here (A)")) performance_.morphA = i;
            if (ImGui::MenuItem("Morph to here (B)")) performance_.morphB = i;
            if (ImGui::MenuItem("Delete")) remove = i;
            ImGui::EndPopup();
        }
        ImGui::PopID();
    }
    if (remove >= 0) {
        performance_.snapshots.erase(performance_.snapshots.begin() + remove);
        performance_.morphA = performance_.morphB = -1;
        dirty_ = true;
    }
    ImGui::Separator();
    const int count = static_cast<int>(performance_.snapshots.size());
    if (count >= 2) {
        if (performance_.morphA < 0 || performance_.morphA >= count) performance_.morphA = 0;
        if (performance_.morphB < 0 || performance_.morphB >= count) performance_.morphB = 1;
        ImGui::Text("Morph  A: %s   B: %s   (right-click a snapshot to choose)",
                    performance_.snapshots[static_cast<std::size_t>(performance_.morphA)].name.c_str(),
                    performance_.snapshots[static_cast<std::size_t>(performance_.morphB)].name.c_str());
        float t = static_cast<float>(performance_.morph);
        ImGui::SetNextItemWidth(-1.0f);
        ImGui::PushStyleVar(ImGuiStyleVar_FramePadding, ImVec2(8, big * 0.3f));
        if (ImGui::SliderFloat("##morph", &t, 0.0f, 1.0f, "A  %.2f  B")) {
            performance_.morph = t;
            const auto changes =
                morph(performance_.snapshots[static_cast<std::size_t>(performance_.morphA)],
                      performance_.snapshots[static_cast<std::size_t>(performance_.morphB)], t, patch(), Registry::global());
            if (!changes.empty())
                edit(
                    "Morph",
                    [&](Patch& p) {
                        for (const ParamChange& c : changes)
                            if (ModuleSpec* m = p.findModule(c.module)) m->params[c.param] = c.value;
                    },
                    "morph");
        }
        if (ImGui::IsItemDeactivatedAfterEdit()) endGesture();
        ImGui::PopStyleVar();
    } else {
        ImGui::TextDisabled("Store two snapshots to morph between them.");
    }
    ImGui::Separator();
    ImGui::TextDisabled("Automation: record knob moves, then play them back as a loop.");
    Automation& automation = performance_.automation;
    const double now = std::chrono::duration<double>(Clock::now() - started_).count();
    if (!automation.recording()) {
        if (ImGui::Button("Record", ImVec2(120, big))) {
            automationPlaying_ = false;
            automation.startRecording(now);
        }
    } else if (ImGui::Button("Stop recording", ImVec2(120, big))) {
        automation.stopRecording(now);
        dirty_ = true;
    }
    ImGui::SameLine();
    if (ImGui::Button(automationPlaying_ ? "Stop" : "Play loop", ImVec2(120, big)) && !automation.recording() && !automation.empty()) {
        automationPlaying_ = !automationPlaying_;
        automationStart_ = Clock::now();
        automationClock_ = -1.0;
    }
    ImGui::SameLine();
    if (ImGui::Button("Clear", ImVec2(80, big))) {
        automation.clear();
        automationPlaying_ = false;
        dirty_ = true;
    }
    ImGui::Text("%zu moves, loop %.2f s%s", automation.events().size(), automation.length(), automation.recording() ? "  (recording)" : "");
    ImGui::End();
}

}  // namespace kabel::editor
