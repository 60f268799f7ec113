// libFuzzer target for core/patch: parsePatch() on untrusted .kabel text with every module of
// this build registered. A patch that parses must serialise (serializePatch) and parse back to the
// same Patch, serialise to the same bytes again, and load into a Session on an offline Engine and
// play a few blocks. An InputError is the expected answer to a bad file; anything else (a crash, a
// sanitizer report, another exception, a failed round trip) is a bug.
//
// The fuzzer must not write files or open sockets: modules that write files ("recorder") are
// taken out before the Session load, module state that names a path with a separator is dropped
// there (a plain name resolves in a folder that does not exist), and the Engine has no device.
// Patches with more than kMaxModules modules or kMaxCables cables only parse and round-trip.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"

namespace {

using namespace kabel;

constexpr std::size_t kMaxModules = 12;
constexpr std::size_t kMaxCables = 48;
constexpr int kBlocks = 3;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

/// Numbers compare by value: the file format writes -0 as 0 (the same position, the same param).
bool sameValue(double a, double b) {
    return a == b;
}

bool same(const Patch& a, const Patch& b) {
    if (a.meta.title != b.meta.title || a.meta.author != b.meta.author || a.meta.description != b.meta.description ||
        a.meta.extraJson != b.meta.extraJson || a.extraJson != b.extraJson)
        return false;
    if (a.modules.size() != b.modules.size() || a.cables.size() != b.cables.size() || a.midiMap.size() != b.midiMap.size()) return false;
    for (std::size_t i = 0; i < a.modules.size(); ++i) {
        const ModuleSpec &x = a.modules[i], &y = b.modules[i];
        if (x.id != y.id || x.type != y.type || x.label != y.label || x.stateJson != y.stateJson ||
            x.extraParamsJson != y.extraParamsJson || x.extraJson != y.extraJson || !sameValue(x.x, y.x) || !sameValue(x.y, y.y) ||
            x.params.size() != y.params.size())
            return false;
        for (auto p = x.params.begin(), q = y.params.begin(); p != x.params.end(); ++p, ++q)
            if (p->first != q->first || !sameValue(p->second, q->second)) return false;
    }
    for (std::size_t i = 0; i < a.cables.size(); ++i)
        if (a.cables[i].from != b.cables[i].from || a.cables[i].to != b.cables[i].to || a.cables[i].extraJson != b.cables[i].extraJson)
            return false;
    for (std::size_t i = 0; i < a.midiMap.size(); ++i) {
        const MidiMapping &x = a.midiMap[i], &y = b.midiMap[i];
        const auto sameOpt = [](const std::optional<double>& p, const std::optional<double>& q) {
            return p.has_value() == q.has_value() && (!p || sameValue(*p, *q));
        };
        if (x.source != y.source || x.channel != y.channel || x.port != y.port || x.number != y.number || x.module != y.module ||
            x.param != y.param || !sameOpt(x.min, y.min) || !sameOpt(x.max, y.max) || x.curve != y.curve || x.mode != y.mode ||
            !sameOpt(x.step, y.step) || x.pickup != y.pickup || x.extraJson != y.extraJson)
            return false;
    }
    return true;
}

/// The patch as the fuzzer may run it: no file writers, no state naming a path elsewhere.
Patch sandboxed(Patch p) {
    std::erase_if(p.modules, [](const ModuleSpec& m) { return m.type == "recorder"; });
    for (ModuleSpec& m : p.modules)
        if (m.stateJson.find_first_of("/\\") != std::string::npos) m.stateJson.clear();
    return p;
}

void play(const Patch& patch) {
    EngineConfig config;
    config.sampleRate = 48000.0;
    config.blockFrames = 32;
    config.outputChannels = 2;
    config.midiQueueEvents = 64;
    config.midiQueueSysexBytes = 1024;
    config.midiOutputQueueEvents = 64;
    config.threads = 1;
    Engine engine(config);
    Session session(engine, Registry::global());
    session.load(sandboxed(patch), "/nonexistent-kabel-fuzz-dir");
    session.finishLoading();
    for (int b = 0; b < kBlocks; ++b) {
        engine.processBlock();
        session.poll();
    }
    (void)session.messages();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    LoadedPatch loaded;
    try {
        loaded = parsePatch(text, "fuzz.kabel", Registry::global());
    } catch (const InputError&) {
        return 0;  // the expected answer to a bad file
    }
    const std::string saved = serializePatch(loaded.patch);                        // throws (a bug) for a Patch no file can hold
    LoadedPatch again = parsePatch(saved, "roundtrip.kabel", Registry::global());  // throws (a bug) if its own output is bad
    check(same(loaded.patch, again.patch));
    check(serializePatch(again.patch) == saved);
    if (loaded.patch.modules.size() <= kMaxModules && loaded.patch.cables.size() <= kMaxCables) play(loaded.patch);
    return 0;
}
