// Session: the UI thread's owner of a running patch. It keeps the patch document, the live module
// instances and the compiler, and turns every edit into a new plan for the engine.
//
// Design note. Any edit goes through one path: change the document, then sync(), which diffs the
// document against the live state. New modules are created and prepared here (never on the audio
// thread). A removed module becomes a "ghost": it keeps running, with its cables fading out over
// the fade time, and is dropped (by poll()) once they are silent — so deleting a sounding module
// never clicks. Cables new to the running patch fade in. Because the document is plain data,
// undo/redo is just setPatch(previousDocument); a module that comes back while its ghost is still
// fading is revived with its state. Parameter changes write atomics and recompile nothing unless
// the parameter is structural (changes channel counts). Cable probes are kept by port name
// ("module.port") and resolved against the document's modules at every compile, so they survive
// edits; a removed module's probe is simply not written (and moves again if the module comes back).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/engine/compiler.hpp"
#include "core/engine/engine.hpp"
#include "core/module/registry.hpp"
#include "core/module/shared_buffers.hpp"
#include "core/module/signal_tap.hpp"
#include "core/patch/patch.hpp"
#include "core/util/worker.hpp"

namespace kabel {

class Session {
public:
    /// UI thread. Module instances are prepared for the engine's sample rate and block.
    explicit Session(Engine& engine, const Registry& registry = Registry::global(), float fadeMs = 10.0f);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Replaces everything at once, with no fades: new instances, feedback cables chosen afresh.
    /// `directory` is the patch file's folder: relative paths in module state resolve there.
    void load(Patch patch, std::filesystem::path directory = {});

    /// Changes the document and brings the engine in line (crossfading what changed).
    template <typename Change>
    void edit(Change&& change) {
        captureMidiParams();
        change(document_);
        sync(false);
    }
    /// Replaces the document as an edit (undo/redo): only what differs changes, with fades.
    void setPatch(Patch patch);

    const Patch& patch() const noexcept { return document_; }

    /// Sets one parameter (knob, MIDI, automation) in the document and on the instance. Recompiles
    /// only for structural params. False when the module or param does not exist. Every parameter
    /// change goes through here (or through the document): each sync re-applies the document's
    /// values, so a value written straight into a module's atomic would not survive the next edit.
    bool setParam(std::string_view moduleId, std::string_view paramId, double value);

    /// UI thread, regularly (every UI frame; between blocks offline): frees retired plans, drops
    /// cables and ghosts whose fade-out has finished, and recompiles once fades settle.
    void poll();

    /// MIDI learn, UI thread. learnMidi() arms learning for a param (false for an unknown module or
    /// param); the next mappable control the audio thread sees (a CC, a 14-bit CC pair, an NRPN,
    /// a note-on, pitch bend, channel or poly pressure, on its channel) is reported, and a later
    /// poll() adds the mapping to the document (full range, linear, pickup on, any port),
    /// replacing any port-less mapping of the same control. A plain CC is added once 3 of its
    /// values arrived or the learn window passed since poll() first saw it: repeated small values
    /// make it a relative (encoder) mapping (docs/midi.md, "Learn"). Arming again retargets;
    /// cancelLearn() disarms.
    bool learnMidi(std::string_view moduleId, std::string_view paramId);
    void cancelLearn();
    /// True while armed and the control has not been added yet.
    bool learning() const noexcept { return !learnModule_.empty(); }
    /// How long a learned plain CC waits for more values (default 300 ms; 0: add at the next poll).
    void setLearnWindow(std::chrono::milliseconds window);
    /// Learns completed so far, and the mapping the last one added (as it is in the document).
    std::uint64_t learnedCount() const noexcept { return learnedCount_; }
    const std::optional<MidiMapping>& lastLearned() const noexcept { return lastLearned_; }
    /// UI thread: removes every mapping to module.param from the document (and the engine's
    /// table); returns how many.
    int unmapMidi(std::string_view moduleId, std::string_view paramId);

    /// Changes whenever the set of live module instances changes (a module created, revived,
    /// removed or replaced; every load). Observers (the OSC lookup table) rebuild when it moves.
    std::uint64_t instancesVersion() const noexcept { return instancesVersion_; }

    /// True while cables fade or removed modules are still fading out.
    bool transitioning() const noexcept;

    /// UI thread: waits for every background load (samples, tables) and applies the results.
    /// Offline renders call it so they start with everything loaded.
    void finishLoading();

    /// The live instance of a document module; nullptr for an unknown id or a placeholder.
    Module* instance(std::string_view moduleId) const;

    /// UI thread: a tap on a module output ("module.port"), written by the audio thread after the
    /// module runs, every block, all its channels (up to kMaxChannels; the tap is sized for
    /// kMaxChannels so a channel-count change needs no new tap), holding at least `seconds` of
    /// signal (at least two blocks, at most 10 s). The same port asked twice gives the same tap (its first
    /// size). Takes effect with the next compile (the call recompiles). nullptr for an unknown
    /// module/port or a placeholder. The tap stays valid (shared_ptr) even after the module is
    /// removed; it then stops moving (and moves again if a module with that id and port returns).
    std::shared_ptr<const SignalTap> probe(const PortRef& output, double seconds = 0.5);
    /// UI thread: stop writing that tap (recompiles). Unknown ports are ignored.
    void unprobe(const PortRef& output);
    /// UI thread: channels the output currently carries (from the last compile), 0 if unknown.
    /// The tap's channels beyond this count hold stale samples.
    int probeChannels(const PortRef& output) const;

    const CompileReport& report() const noexcept { return report_; }
    /// What the engine could not honour: placeholders, cables to ports a module lacks, bad state.
    const std::vector<std::string>& notes() const noexcept { return notes_; }
    /// notes() plus each module's current status ("module 'kit': kick.wav: not a sound file") and
    /// the modules the engine muted for NaN/Inf.
    std::vector<std::string> messages() const;

    /// A module the engine muted because an output of it held NaN or Inf (plan.hpp, "Containment").
    struct MutedModule {
        std::string id;
        std::string type;
        double seconds = 0.0;  // engine time of the block in which it was (last) muted
        std::uint32_t times = 0;
    };
    /// UI thread: the live modules muted now, by id. Module::requestReset() unmutes one.
    std::vector<MutedModule> mutedModules() const;
    /// The sentence the editor and the command line show for one ("muted at 1.234 s: its output
    /// was NaN or Inf").
    static std::string describe(const MutedModule& muted);
    std::uint64_t compileCount() const noexcept { return compiles_; }
    std::size_t ghostCount() const noexcept { return ghosts_.size(); }

private:
    struct Instance {
        std::string id;
        std::string type;
        std::shared_ptr<Module> module;
        std::uint64_t key = 0;
        bool hadOutputs = false;   // ghosts: had cables out when removed (else a sink that fades its inputs)
        std::string appliedState;  // the document's state text last given to loadState()
    };
    struct EdgeInfo {
        float target = 1.0f;  // 0: fading out before removal
    };

    void sync(bool instant);
    void applyState(Instance& instance, const ModuleSpec& spec);
    void retireEdges(std::map<EdgeKey, EdgeInfo>& edges, const std::unordered_map<std::uint64_t, const Instance*>& byKey);
    Instance create(const ModuleSpec& spec, const ModuleDescriptor& descriptor);
    // MIDI map: the table for the engine from the document and the live modules.
    void rebuildMidiMap(bool resetPickup);
    // Copies params that MIDI moved on the audio thread into the document, so a sync keeps them.
    void captureMidiParams();
    void finishLearn();

    Worker worker_;          // first member: destroyed last
    SharedBuffers buffers_;  // named live buffers (modules keep the ones they use alive)
    Engine& engine_;
    const Registry& registry_;
    std::filesystem::path directory_;
    Compiler compiler_;
    Patch document_;
    std::map<std::string, Instance> live_;
    std::vector<Instance> ghosts_;
    std::map<EdgeKey, EdgeInfo> edges_;                     // the edges of the last compile
    std::map<PortRef, std::shared_ptr<SignalTap>> probes_;  // cable probes, by output
    CompileReport report_;
    std::vector<std::string> notes_;
    std::map<std::string, std::string> stateProblems_;  // module id -> why its state was refused
    std::uint64_t nextKey_ = 1;
    std::uint64_t compiles_ = 0;
    struct MappedParam {
        std::string module, param;
        Module* instance;
        int index;
    };
    std::vector<MappedParam> mapped_;                                 // the targets of the last table (UI-side mirror)
    std::vector<std::string> midiNotes_;                              // mappings the table could not honour
    std::string learnModule_, learnParam_;                            // armed learn target ("" = not learning)
    std::optional<std::chrono::steady_clock::time_point> learnSeen_;  // a plain CC first reported
    std::chrono::milliseconds learnWindow_{300};
    std::uint64_t learnedCount_ = 0;
    std::optional<MidiMapping> lastLearned_;
    std::uint64_t instancesVersion_ = 0;
};

}  // namespace kabel
