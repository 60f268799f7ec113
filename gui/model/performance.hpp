// Performance mode: snapshots of every param, a morph between two of them, and knob automation
// recorded and replayed as a loop. Plain C++ on the Patch document; the editor applies the
// ParamChanges it gets through Session::setParam.
//
// Design note. A snapshot is a value copy (module id -> param id -> value) with the defaults
// filled in, so recalling it restores params the patch never wrote. Morphing follows each param's
// curve (Linear: straight line, Exponential: geometric, stepped curves: switch at the middle) and
// returns only what differs from the document, so a still slider costs nothing. Automation stores
// events by time since the start of recording; replay is a loop of the recorded length, and the
// caller asks once per UI frame for the events due in (previous time, now] — wrap-around included.
// Everything is kept in the patch file under the top-level key "performance" (docs/patch-format.md,
// "Performance"); Patch::extraJson carries it, so builds without this code keep it untouched.
//
// Threads: UI thread (everything allocates).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/module/registry.hpp"
#include "core/patch/patch.hpp"

namespace kabel::editor {

/// One param value to apply (Session::setParam(module, param, value)).
struct ParamChange {
    std::string module, param;
    double value = 0.0;
    bool operator==(const ParamChange&) const = default;
};

/// All param values of a patch: module id -> param id -> value.
struct Snapshot {
    std::string name;
    std::map<std::string, std::map<std::string, double>> values;
    bool operator==(const Snapshot&) const = default;
};

/// Every param of every module whose type `registry` knows (the patch's value, else the param's
/// default). Modules of unknown type (placeholders) are left out.
Snapshot captureSnapshot(const Patch& patch, const Registry& registry, std::string name);

/// The changes that make the document the snapshot again: every value of `snapshot` for a module
/// and param that exist in `current` (known type), where the document's value differs.
std::vector<ParamChange> recall(const Snapshot& snapshot, const Patch& current, const Registry& registry);

/// Values at morph position t (clamped to [0, 1]) between a and b, for params present in both and in
/// `current` (known type): Linear (and unknown) params interpolate linearly, Exponential ones
/// geometrically (linearly when a value is not positive), Integer/Choice/Toggle switch to b at
/// t >= 0.5. t = 0 gives a's values exactly, t = 1 b's. Returns only params whose value differs
/// from the document's (its value, else the default), in module id, param id order.
std::vector<ParamChange> morph(const Snapshot& a, const Snapshot& b, double t, const Patch& current, const Registry& registry);

/// One recorded knob movement.
struct AutomationEvent {
    double time = 0.0;  ///< seconds since the start of recording, in [0, length]
    std::string module, param;
    double value = 0.0;
    bool operator==(const AutomationEvent&) const = default;
};

/// Knob automation: records param changes with their times, replays them as a loop of the recorded
/// length. Times are in seconds on any monotonic clock the caller chooses (e.g. ImGui::GetTime()).
class Automation {
public:
    /// Starts a new take: forgets the old events and notes `now` as time 0.
    void startRecording(double now);
    /// While recording: keeps (now - start, module, param, value). Ignored when not recording.
    void record(double now, std::string module, std::string param, double value);
    /// Ends the take: the loop length is now - start (at least the last event's time).
    void stopRecording(double now);
    bool recording() const noexcept { return recording_; }
    /// Loop length in seconds (0 before the first take ends).
    double length() const noexcept { return length_; }
    /// No events.
    bool empty() const noexcept { return events_.empty(); }
    const std::vector<AutomationEvent>& events() const noexcept { return events_; }

    /// The changes due in (from, to], in seconds of playback time (0 = loop start; the event at time
    /// e plays at e, e + length, e + 2 length, ...). A span longer than one loop plays each event
    /// once (its latest occurrence). Ordered by playback time, recording order for equal times.
    /// Start playback with a negative `from` (e.g. -1) so events at time 0 play on the first frame.
    /// Empty while recording, when empty() or when length() is 0.
    std::vector<ParamChange> due(double from, double to) const;

    /// Forgets everything (events, length, recording).
    void clear();
    /// Replaces the events and the length (a loaded patch). Events are sorted by time (stable);
    /// times are clamped to [0, length].
    void assign(std::vector<AutomationEvent> events, double length);

    bool operator==(const Automation&) const = default;

private:
    std::vector<AutomationEvent> events_;
    double length_ = 0.0;
    double start_ = 0.0;
    bool recording_ = false;
};

/// What a patch keeps for performance mode.
struct Performance {
    std::vector<Snapshot> snapshots;
    int morphA = -1, morphB = -1;  ///< indices into snapshots, -1 = none
    double morph = 0.0;            ///< slider position, 0..1
    Automation automation;
    std::string extraJson;  ///< keys of "performance" this build does not know (compact JSON object text), "" = none

    /// Nothing worth saving.
    bool empty() const noexcept;
    bool operator==(const Performance&) const = default;
};

/// Reads the "performance" key of patch.extraJson. Absent key: an empty Performance. A value of the
/// wrong shape: an empty Performance and, in `problem` (when given), one line saying what is wrong
/// ("performance: /snapshots/0/values/osc/freq: expected a number"). Never throws. The editor should
/// not write back a Performance it could not read unless the user changes it (that would drop the
/// bad value from the file).
Performance readPerformance(const Patch& patch, std::string* problem = nullptr);

/// Sets the "performance" key of patch.extraJson (other keys kept); an empty() Performance removes
/// it. Non-finite numbers are left out (a patch file cannot hold them).
void writePerformance(Patch& patch, const Performance& performance);

}  // namespace kabel::editor
