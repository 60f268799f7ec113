// Undo/redo for the editor: a stack of whole-document snapshots.
//
// Design note. The Patch is plain data and Session::setPatch applies any document with fades, so
// undo does not need one command class per edit: the editor records the document as it was before
// each edit, and undo hands that document back. Consecutive records with the same merge key while
// a gesture is open (a knob drag, a move) collapse into one step that keeps the oldest `before`.
//
// Memory. A snapshot shares every module that is equal to the same module in the snapshot recorded
// just before it (modules are held as shared immutable values), and shares the cable and MIDI map
// lists when they did not change; an edit that touches one module of 500 stores one module, the
// rest is a vector of pointers. The history is bounded by `limit` steps; the oldest fall off.
//
// Thread: UI thread only (not thread-safe).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/patch/patch.hpp"

namespace kabel::editor {

class History {
public:
    /// `limit`: the most undo steps kept (the oldest are dropped); 0 keeps none.
    explicit History(std::size_t limit = 1000);

    /// Call BEFORE applying an edit: remembers `before` for undo and clears redo. `label` names the
    /// edit ("Add Sine Oscillator", "Move 3 modules"). A non-empty `mergeKey` equal to the previous
    /// record's key, while a gesture is open, merges into that record: the step keeps its oldest
    /// `before` and takes the new label (one undo step per knob drag or move).
    void record(const Patch& before, std::string label, std::string mergeKey = {});
    /// Ends the current gesture: the next record never merges (call on mouse release). Undo, redo
    /// and clear end the gesture too.
    void endGesture();

    bool canUndo() const { return !undo_.empty(); }
    bool canRedo() const { return !redo_.empty(); }
    /// The label of the step undo/redo would apply; "" when there is none.
    const std::string& undoLabel() const;
    const std::string& redoLabel() const;

    /// The document to go back to (nullopt when there is nothing to undo); `current` goes onto the
    /// redo stack under the same label.
    std::optional<Patch> undo(const Patch& current);
    /// The document to go forward to (nullopt when there is nothing to redo); `current` goes back
    /// onto the undo stack.
    std::optional<Patch> redo(const Patch& current);

    void clear();
    std::size_t undoDepth() const { return undo_.size(); }
    std::size_t redoDepth() const { return redo_.size(); }
    std::size_t limit() const { return limit_; }

    /// Distinct module objects held by all snapshots together (a measure of memory: shared
    /// unchanged modules count once).
    std::size_t storedModuleCount() const;

private:
    struct Snapshot {
        PatchMeta meta;
        std::vector<std::shared_ptr<const ModuleSpec>> modules;
        std::shared_ptr<const std::vector<CableSpec>> cables;
        std::shared_ptr<const std::vector<MidiMapping>> midiMap;
        std::string extraJson;
    };
    struct Step {
        Snapshot document;
        std::string label;
        std::string mergeKey;
    };

    Snapshot capture(const Patch& patch) const;
    static Patch materialise(const Snapshot& snapshot);
    /// The most recently captured snapshot, to share unchanged parts with; nullptr when empty.
    const Snapshot* latest() const;

    std::size_t limit_;
    std::deque<Step> undo_;   // back = most recent
    std::vector<Step> redo_;  // back = next to redo
    bool gestureOpen_ = false;
};

}  // namespace kabel::editor
