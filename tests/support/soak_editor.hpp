// SoakEditor: the random performer of the soak test (tests/e2e/soak.cpp). Every step() is one
// edit through the Session, recorded first in an editor::History exactly as the editor records
// its edits (record(before, label) and then the change; undo and redo take their documents from
// the History): add and remove modules, connect and disconnect cables, parameter jumps, load and
// unload samples (sampler, wavetable, convolver state) and scales (tuner, quantizer state,
// including missing, corrupt and malformed files), undo and redo.
//
// Protected modules (the pilot and the output) are never removed, re-parameterised or rewired,
// except that cables INTO the allowed inputs (out.left) may come and go: the soak's pilot on
// out.right must stay untouched for the whole run.
//
// Thread: UI thread only (like the Session and the History).
#pragma once

#include <array>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "gui/model/history.hpp"

namespace kabel::test {

enum class SoakEdit {
    AddModule,
    RemoveModule,
    Connect,
    Disconnect,
    ParamJump,
    LoadSample,
    UnloadSample,
    LoadScale,
    UnloadScale,
    Undo,
    Redo,
};
inline constexpr std::size_t kSoakEditKinds = 11;
const char* toString(SoakEdit kind) noexcept;
/// The kind named `name` (as toString gives it); false when there is none.
bool soakEditFromString(const std::string& name, SoakEdit& kind) noexcept;

/// Files the soak loads, as paths relative to the session's directory (the corpus folder).
struct SoakFiles {
    std::vector<std::string> samples;     // sound files that load (sampler, wavetable, convolver)
    std::vector<std::string> badSamples;  // missing or corrupt: the module reports it, keeps its sound
    std::vector<std::string> scales;      // .scl/.ascl that load
    std::vector<std::string> kbms;        // .kbm that load
    std::vector<std::string> badScales;   // missing or malformed .scl
    std::vector<std::string> badKbms;     // malformed .kbm
};

struct SoakEditorOptions {
    std::vector<std::string> protectedModules;  // never removed, edited or rewired
    std::vector<std::string> openInputs;        // "module.port" inputs of protected modules cables may reach
    std::vector<std::string> excludedTypes;     // module types never added
    SoakFiles files;
    std::size_t maxModules = 32;
    unsigned seed = 1;
    /// Kinds to draw (empty: all). A diagnostic: which kind of edit makes a number move.
    std::vector<SoakEdit> kinds;
};

/// What one step did.
struct SoakStep {
    SoakEdit kind = SoakEdit::AddModule;
    /// True when every change the edit made is one the engine must make without a click: cables
    /// from audio outputs into audio inputs (unpatched 0; not an oscillator's hard-sync input,
    /// which triggers a phase reset) coming or going, modules added or removed, continuous
    /// parameters jumping. False when the edit changes what a signal legitimately does at once: a
    /// gate, pitch or control port patched or unpatched (an envelope starts, a pitch moves), a
    /// choice/toggle/integer parameter, a module's state (a new sample or scale).
    bool smooth = true;
    /// Only parameter values changed (a knob jump, or an undo/redo of one): the module's own
    /// smoothing is what keeps it from clicking, not the engine's fades.
    bool knob = false;
    /// Undo/redo: the Session's document equals the History's document byte for byte.
    bool exact = true;
    std::string label;
};

class SoakEditor {
public:
    SoakEditor(Session& session, const Registry& registry, editor::History& history, SoakEditorOptions options);

    /// One edit (kinds drawn with fixed weights; a draw that finds nothing to do draws again, up
    /// to 200 times). False only when no edit at all could be made.
    bool step(SoakStep& out);

    /// Undo until the History is empty; returns the steps undone. `exact` turns false if any
    /// step's result differed from the History's document.
    int undoAll(bool& exact);
    /// Redo until nothing is left; returns the steps redone.
    int redoAll(bool& exact);

    /// Edits applied per kind.
    const std::array<long, kSoakEditKinds>& counts() const { return counts_; }

    /// Is the change from `before` to `after` smooth (see SoakStep::smooth)?
    bool smoothChange(const Patch& before, const Patch& after) const;

private:
    bool tryStep(SoakEdit kind, SoakStep& out);
    bool addModule(SoakStep& out);
    bool removeModule(SoakStep& out);
    bool connect(SoakStep& out);
    bool disconnect(SoakStep& out);
    bool paramJump(SoakStep& out);
    bool setState(SoakStep& out, bool sample, bool load);
    bool applyHistory(bool undo, SoakStep& out);

    bool isProtected(const std::string& moduleId) const;
    bool openInput(const PortRef& port) const;
    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    const std::string& pickOf(const std::vector<std::string>& list) { return list[pick(list.size())]; }
    // Records `before` in the History, then applies `change` through the Session.
    template <typename Change>
    void recordEdit(const std::string& label, Change&& change);

    Session& session_;
    const Registry& registry_;
    editor::History& history_;
    SoakEditorOptions options_;
    std::mt19937 rng_;
    std::vector<const ModuleDescriptor*> types_;
    std::array<long, kSoakEditKinds> counts_{};
    std::array<int, kSoakEditKinds> weights_{};
    int nextId_ = 0;
};

}  // namespace kabel::test
