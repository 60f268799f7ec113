// Compiler: turns a graph of live module instances into a Plan (UI thread).
//
// Design note.
// - Order: a depth-first walk from the sinks along input cables ("pull" order) gives a
//   topological order in which each producer runs just before its first consumer, so buffers
//   live briefly and are reused. Every cycle is broken by reading one cable a block late: on a
//   fresh compile the cable that closes the cycle in pull order (the return path of a feedback
//   loop); on later compiles the compiler keeps its earlier choices and delays a *new* cable that
//   closes a cycle, so editing never moves a delay onto a cable that had none (which would jump
//   that signal in time). A delayed cable that no longer closes a cycle keeps its delay until the
//   history is forgotten (loading a patch), for the same reason.
// - Channels: each module says how many channels its outputs carry given its inputs'
//   (Module::outputChannels); counts are propagated in order, iterating for feedback cables.
// - Inputs: no cable → a shared constant buffer with the port's default; one settled cable → the
//   producer's buffer itself (no copy); several cables or a fading cable → a MixOp.
// - Buffers: one pool per plan; each signal gets a buffer for its live range (first write to last
//   read) and buffers are reused by later signals of the same channel count.
// - Probes: a probed output counts as read (its module writes it) and is appended to its tap right
//   after its step, before any later step can reuse the buffer. Taps belong to the caller.
// - Cable gains and feedback lines persist across compiles (shared with running plans), so
//   recompiling never restarts a fade or forgets a feedback block.
// - Waves (CompileOptions::threads > 1, big patches only): hubs (modules with many cable
//   neighbours, or that share state) are taken out and what stays linked forms strands, run whole
//   on one thread. Each strand or hub gets a level, one more than what it depends on (its
//   sources; for a cable read a block late, whichever of the two ends comes first in the serial
//   order, so the read still happens before or after the copy as it would serially; modules that
//   share state keep their serial order). Units of one level form a wave; a wave with at least
//   two units free to move is split into chunks for the threads, and runs of narrower waves are
//   merged into one pinned chunk. Buffer liveness is then measured in waves (every step of a wave
//   is live at once) instead of steps. Wide fan-ins are summed per chunk. See plan.hpp and
//   docs/ARCHITECTURE.md ("Multi-core").
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/plan.hpp"

namespace kabel {

/// A module instance in the graph. `key` identifies the instance across compiles.
struct GraphNode {
    std::uint64_t key = 0;
    std::shared_ptr<Module> module;
    std::string label;  // the patch module id, for reports
};

/// A cable between an output and an input, by node index and port index.
struct GraphEdge {
    int from = 0;
    int fromPort = 0;
    int to = 0;
    int toPort = 0;
    float target = 1.0f;  // 1: in the patch; 0: fading out before removal
};

/// A cable probe: output `port` of node `node` is appended to `tap` every block (its first
/// min(channels, tap->channels()) channels). The tap's capacity must hold at least two blocks;
/// give each probe its own tap (one tap on two ports would interleave their blocks).
struct GraphProbe {
    int node = 0;
    int port = 0;
    std::shared_ptr<SignalTap> tap;
};

struct Graph {
    std::vector<GraphNode> nodes;
    std::vector<GraphEdge> edges;
    std::vector<GraphProbe> probes;
};

/// Identifies a cable across compiles by the instance keys and port indices of its ends.
struct EdgeKey {
    std::uint64_t from = 0;
    int fromPort = 0;
    std::uint64_t to = 0;
    int toPort = 0;
    auto operator<=>(const EdgeKey&) const = default;
};

struct FeedbackCable {
    std::string from;  // "module.port"
    std::string to;
    int delayFrames = 0;
};

struct CompileReport {
    std::vector<FeedbackCable> feedback;  // cables read one block late to break cycles
    /// Channels each output carries, by node label (the patch module id) and output index; for a
    /// label on several nodes, the first node's.
    std::map<std::string, std::vector<int>> outputChannels;
    std::size_t steps = 0;
    std::size_t buffers = 0;  // physical signal buffers after reuse
    std::size_t signals = 0;  // signals before reuse
    std::size_t bufferBytes = 0;
    bool fading = false;    // a cable is mid-fade: compile again when fadesSettled()
    int threads = 1;        // threads the plan is split for (1: serial)
    std::size_t waves = 0;  // parallel waves (merged narrow ones count once)
    double milliseconds = 0.0;
};

struct CompileOptions {
    double sampleRate = 48000.0;
    int maxFrames = 64;    // the engine block
    float fadeMs = 10.0f;  // cable fade-in/fade-out time
    int threads = 1;       // threads a big plan may be split for (the engine's workers + 1)
};

/// Fewest steps for which a plan is split into waves: below it a block is too short for the
/// threads' hand-offs (each wave costs a few hundred nanoseconds) to pay.
inline constexpr std::size_t kMinParallelSteps = 48;

class Compiler {
public:
    explicit Compiler(CompileOptions options);
    ~Compiler();
    Compiler(const Compiler&) = delete;
    Compiler& operator=(const Compiler&) = delete;

    const CompileOptions& options() const noexcept { return options_; }

    /// UI thread. Builds a plan for `graph` (every edge and probe must name valid ports). Calls each
    /// module's prepareChannels(). With `instant`, cables new to this compiler start at their
    /// target gain (loading a patch); otherwise they fade in.
    std::unique_ptr<Plan> compile(const Graph& graph, bool instant, CompileReport* report = nullptr);

    /// UI thread: the audio thread's current gain of a cable in the last compile; -1 if unknown.
    float cableGain(const EdgeKey& key) const;

    /// UI thread: true when every cable that was mid-fade at the last compile has reached its
    /// target, so compiling again would let those inputs read their sources directly.
    bool fadesSettled() const;

    /// UI thread: the next compile chooses feedback cables afresh.
    void forgetHistory();

private:
    struct Memory;
    std::unique_ptr<Memory> memory_;
    CompileOptions options_;
    std::uint64_t generation_ = 0;
};

}  // namespace kabel
