// Tuning modules: the tuner (keys -> tuned pitch in any tuning, with the Balinese ombak voice) and
// the quantizer (pitch -> nearest degree of a mode); also the tuning state they share with the
// drone (modules/tuning_state.hpp).
//
// Design note. A tuning arrives as an immutable TunerTable built on the worker (AsyncLoad) from a
// catalogue id or a .scl/.ascl (+ .kbm) file. The table is a key pattern measured from the tonic
// key, so the Tonic and Reference knobs are arithmetic on the audio thread (a smoothed tonic
// glides through the pattern; a smoothed reference adds a constant): no rebuild, no allocation.
// Per sample the tuner does two pattern lookups and an interpolation in double precision; a
// memo per channel skips the work while the input holds still (keys and steps mostly do).
#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
#include "core/module/smoothing.hpp"
#include "core/tuning/mts.hpp"
#include "modules/tuning_state.hpp"

namespace kabel {
namespace tuned {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// The shared tuning state

TuningSource parseTuningSource(const nlohmann::json& state, const LoadContext& context, std::string_view module,
                               std::initializer_list<std::string_view> extraKeys, bool allowKbm) {
    TuningSource source;
    if (state.is_null()) return source;
    const std::string prefix = std::string(module) + " state: ";
    const std::string shape = allowKbm ? " (expected {\"scale\": \"<catalogue id>\"} or {\"file\": \"x.scl\", \"kbm\": \"y.kbm\"})"
                                       : " (expected {\"scale\": \"<catalogue id>\"} or {\"file\": \"x.scl\"})";
    if (!state.is_object()) throw std::invalid_argument(prefix + "must be an object" + shape);
    for (const auto& [key, value] : state.items()) {
        bool known = key == "scale" || key == "file" || (allowKbm && key == "kbm");
        for (std::string_view extra : extraKeys) known = known || key == extra;
        if (!known) throw std::invalid_argument(prefix + "unknown key \"" + key + "\"" + shape);
    }
    const auto text = [&](const char* key) {
        const nlohmann::json& v = state[key];
        if (!v.is_string() || v.get<std::string>().empty())
            throw std::invalid_argument(prefix + "\"" + key + "\" must be a non-empty string, got " + v.dump());
        return v.get<std::string>();
    };
    const bool hasScale = state.contains("scale"), hasFile = state.contains("file");
    if (hasScale && hasFile) throw std::invalid_argument(prefix + "give \"scale\" or \"file\", not both" + shape);
    if (hasScale) source.catalogueId = text("scale");
    if (hasFile) source.file = context.resolve(text("file"));
    if (state.contains("kbm")) {
        if (!hasScale && !hasFile)
            throw std::invalid_argument(prefix + "\"kbm\" maps the keys of a \"scale\" or \"file\": give one" + shape);
        source.kbm = context.resolve(text("kbm"));
    }
    return source;
}

namespace {

bool isFile(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// The system a mode file names: a file of that id beside the mode file, else the catalogue's.
// nullopt when neither has it and `required` is false (a user's file then plays as it is).
std::optional<tuning::Scale> findSystem(const std::string& id, const fs::path& besideDir, bool required) {
    if (!besideDir.empty())
        for (const char* ext : {".ascl", ".scl"})
            if (isFile(besideDir / (id + ext))) return tuning::loadScale(besideDir / (id + ext));
    const std::optional<fs::path> catalogue = tuning::findCatalogue();
    if (!catalogue) {
        if (required) throw std::runtime_error(id + ": the scale catalogue (patches/scales) was not found; set KABEL_SCALES");
        return std::nullopt;
    }
    try {
        return tuning::loadScale(tuning::cataloguePath(*catalogue, id));
    } catch (const InputError&) {
        if (required) throw;
        return std::nullopt;
    }
}

tuning::Mode selfMode(const tuning::Scale& file) {
    tuning::Mode mode;
    for (int d = 0; d < file.degreeCount(); ++d) mode.degrees.push_back(d);
    mode.description = file.description;
    mode.system = file;
    return mode;
}

// Key map with its range opened, so every slot of the pattern reports its degree (the tuner
// applies the range itself, in absolute keys).
tuning::KeyboardMap wideOpen(tuning::KeyboardMap map) {
    map.firstNote = INT_MIN;
    map.lastNote = INT_MAX;
    return map;
}

// The pattern of `slots` keys from `anchor` of a Tuning; `degreeOf` renames the Tuning's degrees.
KeyPattern patternOf(const tuning::Tuning& tu, int anchor, int slots, const std::vector<int>* degreeOf) {
    KeyPattern p;
    p.cents.resize(static_cast<std::size_t>(slots));
    p.degree.resize(static_cast<std::size_t>(slots));
    const double c0 = tu.centsFromReference(anchor);
    for (int r = 0; r < slots; ++r) {
        const auto i = static_cast<std::size_t>(r);
        p.cents[i] = tu.centsFromReference(anchor + r) - c0;
        const int d = tu.degreeOfKey(anchor + r);
        p.degree[i] = d < 0 ? -1 : (degreeOf ? (*degreeOf)[static_cast<std::size_t>(d)] : d);
    }
    p.periodCents = tu.centsFromReference(anchor + slots) - c0;
    return p;
}

PitchClasses pitchClassesOf(const KeyPattern& p) {
    PitchClasses pc;
    pc.period = std::fabs(p.periodCents) > 1e-9 ? std::fabs(p.periodCents) : 0.0;
    std::vector<std::pair<double, int>> members;
    for (int r = 0; r < p.size(); ++r) {
        const auto i = static_cast<std::size_t>(r);
        if (p.degree[i] < 0) continue;
        double c = p.cents[i];
        if (pc.period > 0.0) {
            c -= std::floor(c / pc.period) * pc.period;
            if (c >= pc.period) c -= pc.period;  // rounding just below a whole period
        }
        members.emplace_back(c, p.degree[i]);
    }
    std::sort(members.begin(), members.end());
    for (const auto& [c, d] : members) {
        pc.cents.push_back(c);
        pc.degree.push_back(d);
    }
    return pc;
}

}  // namespace

PitchClasses::Nearest PitchClasses::nearest(double y) const noexcept {
    const std::size_t n = cents.size();
    if (!(y == y)) y = 0.0;
    y = std::clamp(y, -1.0e7, 1.0e7);
    Nearest best;
    if (period > 0.0) {
        const double q = std::floor(y / period);
        const double r = y - q * period;
        const std::size_t hi = static_cast<std::size_t>(std::lower_bound(cents.begin(), cents.end(), r) - cents.begin());
        // The neighbours below and above r, across the period boundary when needed.
        const std::size_t a = hi == 0 ? n - 1 : hi - 1;
        const double ca = hi == 0 ? cents[a] - period : cents[a];
        const long long qa = static_cast<long long>(q) - (hi == 0 ? 1 : 0);
        const std::size_t b = hi == n ? 0 : hi;
        const double cb = hi == n ? cents[b] + period : cents[b];
        const long long qb = static_cast<long long>(q) + (hi == n ? 1 : 0);
        const bool below = r - ca <= cb - r;
        best.cents = (below ? ca : cb) + q * period;
        best.degree = degree[below ? a : b];
        best.id = (below ? qa : qb) * static_cast<long long>(n) + static_cast<long long>(below ? a : b);
        return best;
    }
    const std::size_t hi = static_cast<std::size_t>(std::lower_bound(cents.begin(), cents.end(), y) - cents.begin());
    std::size_t i = hi;
    if (hi == n || (hi > 0 && y - cents[hi - 1] <= cents[hi] - y)) i = hi - 1;
    best.cents = cents[i];
    best.degree = degree[i];
    best.id = static_cast<long long>(i);
    return best;
}

LoadedTuning defaultTuning() {
    LoadedTuning t;
    tuning::Scale scale = tuning::equalTemperament(12);
    scale.description = "12-tone equal temperament, A4 = 440 Hz";
    t.mode = selfMode(scale);
    t.scale = t.mode.toScale();
    t.referenceHz = 440.0;
    t.referenceCents = 900.0;  // A, degree 9
    t.name = "12-TET";
    return t;
}

LoadedTuning loadTuning(const TuningSource& source) {
    if (source.empty()) return defaultTuning();
    LoadedTuning t;
    tuning::Scale file;
    std::string fileName;
    fs::path besideDir;
    if (!source.catalogueId.empty()) {
        const std::optional<fs::path> catalogue = tuning::findCatalogue();
        if (!catalogue)
            throw std::runtime_error(source.catalogueId + ": the scale catalogue (patches/scales) was not found; set KABEL_SCALES");
        const fs::path path = tuning::cataloguePath(*catalogue, source.catalogueId);
        file = tuning::loadScale(path);
        fileName = path.filename().string();
        t.name = source.catalogueId;
    } else {
        file = tuning::loadScale(source.file);
        fileName = source.file.filename().string();
        besideDir = source.file.parent_path();
        t.name = fileName;
    }
    std::optional<tuning::Scale> system;
    if (!file.system.empty() && file.system != source.catalogueId) system = findSystem(file.system, besideDir, !source.catalogueId.empty());
    t.mode = system ? tuning::modeOf(file, *system, fileName) : selfMode(file);
    t.scale = t.mode.toScale();
    t.ombakHz = file.ombakHz.value_or(system && system->ombakHz ? *system->ombakHz : 0.0);

    if (!source.kbm.empty()) {
        tuning::KeyboardMap map = tuning::loadKeyboardMap(source.kbm);
        try {
            const tuning::Tuning tu(t.scale, wideOpen(map));
            t.referenceCents = -tu.centsFromReference(map.middleNote);
        } catch (const InputError& e) {
            throw InputError(source.kbm.filename().string(), 0, "", e.reason());
        }
        t.referenceHz = map.referenceFrequency;
        t.anchorOffset = map.middleNote - 60;
        t.kbm = std::move(map);
    } else if (file.referencePitch) {
        t.referenceCents = file.centsOfDegree(file.referencePitch->degree);
        t.referenceHz = file.referencePitch->frequency;
    } else if (system && system->referencePitch) {
        t.referenceCents = system->centsOfDegree(system->referencePitch->degree) - system->centsOfDegree(t.mode.tonic);
        t.referenceHz = system->referencePitch->frequency;
    }
    return t;
}

std::unique_ptr<TunerTable> buildTunerTable(const LoadedTuning& lt) {
    auto table = std::make_unique<TunerTable>();
    table->valid = true;
    table->referenceHz = lt.referenceHz;
    table->referenceCents = lt.referenceCents;
    table->anchorOffset = lt.anchorOffset;
    table->ombakHz = lt.ombakHz;
    if (lt.kbm) {
        const tuning::KeyboardMap& map = *lt.kbm;
        try {
            const tuning::Tuning tu(lt.scale, wideOpen(map));
            const int slots = map.mapSize > 0 ? map.mapSize : lt.scale.degreeCount();
            table->layout[0] = patternOf(tu, map.middleNote, slots, nullptr);
        } catch (const InputError& e) {
            throw InputError(lt.name, 0, "", e.reason());
        }
        table->layout[1] = table->layout[0];
        table->firstNote = map.firstNote;
        table->lastNote = map.lastNote;
    } else {
        // System degree -> mode degree (0 = tonic, ascending), for the system-keys layout.
        const int n = lt.mode.system.degreeCount();
        std::vector<int> members;
        for (int d : lt.mode.degrees) members.push_back(((d % n) + n) % n);
        std::sort(members.begin(), members.end());
        members.erase(std::unique(members.begin(), members.end()), members.end());
        const int tonic = ((lt.mode.tonic % n) + n) % n;
        std::rotate(members.begin(), std::find(members.begin(), members.end(), tonic), members.end());
        std::vector<int> modeDegree(static_cast<std::size_t>(n), -1);
        for (std::size_t j = 0; j < members.size(); ++j) modeDegree[static_cast<std::size_t>(members[j])] = static_cast<int>(j);

        for (int l = 0; l < 2; ++l) {
            tuning::ModeKeyboard kb;
            kb.tonicKey = 0;
            kb.referenceDegree = lt.mode.tonic;
            kb.referenceFrequency = kC4Hz;  // only differences are used
            kb.layout = l == 0 ? tuning::ModeKeyboard::Layout::Consecutive : tuning::ModeKeyboard::Layout::SystemKeys;
            kb.firstNote = INT_MIN;
            kb.lastNote = INT_MAX;
            const tuning::Tuning tu = tuning::tuningOfMode(lt.mode, kb);
            table->layout[static_cast<std::size_t>(l)] =
                l == 0 ? patternOf(tu, 0, lt.scale.degreeCount(), nullptr) : patternOf(tu, 0, n, &modeDegree);
        }
    }
    table->classes = pitchClassesOf(table->layout[0]);
    return table;
}

}  // namespace tuned

namespace {

using tuned::kLog2C4;
using tuned::TunerTable;

// The tuning a tuner or quantizer plays: the default until a state loads, then the loaded table.
class TuningSlot {
public:
    TuningSlot() : builtin_(builtin()) {}

    // UI thread.
    void load(const nlohmann::json& state, const LoadContext& context, std::string_view module) {
        const tuned::TuningSource source = tuned::parseTuningSource(state, context, module);
        if (source.empty()) {
            load_.clear();
            return;
        }
        load_.request(context.worker, [source] { return tuned::buildTunerTable(tuned::loadTuning(source)); });
    }
    void idle() { load_.collect(); }
    std::string status() const { return load_.error(); }

    // Audio thread.
    const TunerTable& get() noexcept {
        const TunerTable* t = load_.get();
        return t && t->valid ? *t : *builtin_;
    }

private:
    static const TunerTable* builtin() {
        static const std::unique_ptr<TunerTable> table = tuned::buildTunerTable(tuned::defaultTuning());
        return table.get();
    }

    const TunerTable* builtin_;
    AsyncLoad<TunerTable> load_;
};

// log2 of the anchor key's frequency minus log2(C4), in octaves: pitch = offset + cents / 1200.
double anchorOffset(const TunerTable& t, float referenceParam) noexcept {
    const double hz = referenceParam > 0.0f ? static_cast<double>(referenceParam) : t.referenceHz;
    return std::log2(hz) - t.referenceCents / 1200.0 - kLog2C4;
}

ParamDescriptor referenceParam() {
    return {.id = "reference",
            .name = "Reference",
            .min = 0.0f,
            .max = 2000.0f,
            .defaultValue = 0.0f,
            .unit = "Hz",
            .curve = ParamCurve::Linear,
            .help =
                "Hz of the tuning's reference degree (the file's @ABL REFERENCE_PITCH degree, e.g. A of 12-TET; else the "
                "tonic); 0 = the file's own frequency (else 261.63 Hz). Moves every pitch, no key"};
}

// ---------------------------------------------------------------------------------------------
// tuner

enum TunerInputs { kTunerPitch, kTunerTrig };
enum TunerOutputs { kTunerOut, kTunerOmbak, kTunerGate, kTunerDegree };
enum TunerParams { kTunerTonic, kTunerReference, kTunerOmbakHz, kTunerLayout, kTunerRetune, kTunerMts };

class Tuner final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        tonic_.prepare(sampleRate);
        offset_.prepare(sampleRate);
        ombak_.prepare(sampleRate);
    }

    // The signal state; a tuning received by MTS is kept (it is a tuning, not a signal).
    void reset() noexcept override {
        for (Voice& v : voices_) v = Voice{};
        lastTable_ = nullptr;
    }

    void loadState(const nlohmann::json& state, const LoadContext& context) override { slot_.load(state, context, "tuner"); }
    void idle() override { slot_.idle(); }
    std::string status() const override {
        std::string s = slot_.status();
        if (s.empty() && param(kTunerMts) >= 0.5f) {
            const std::uint64_t packed = mtsProblem_.load(std::memory_order_relaxed);
            if (packed != 0) {
                tuning::MtsResult r;
                r.error = static_cast<tuning::MtsError>(packed & 0xFF);
                r.subId = static_cast<int>((packed >> 8) & 0xFF) - 1;
                r.offset = static_cast<int>((packed >> 16) & 0xFFFF) - 1;
                r.expected = static_cast<int>((packed >> 32) & 0xFFFF) - 1;
                r.got = static_cast<int>((packed >> 48) & 0xFFFF) - 1;
                s = tuning::describe(r);
            }
        }
        return s;
    }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const TunerTable& t = slot_.get();
        const bool followMts = param(kTunerMts) >= 0.5f;
        Block b;
        b.table = &t;
        b.layout = param(kTunerLayout) >= 0.5f ? 1 : 0;
        b.tonic = tonic_.next(param(kTunerTonic), frames);
        b.offsetExact = anchorOffset(t, param(kTunerReference));
        b.offset = offset_.next(static_cast<float>(b.offsetExact), frames);
        const float ombakParam = param(kTunerOmbakHz);
        b.ombakExact = ombakParam > 0.0f ? static_cast<double>(ombakParam) : t.ombakHz;
        b.ombak = ombak_.next(static_cast<float>(b.ombakExact), frames);
        b.mts = followMts && mtsLoaded_;
        const bool same = &t == lastTable_ && b.layout == lastLayout_ && b.mts == lastMts_ && mtsGeneration_ == lastGeneration_;
        b.settled = same && b.tonic.constant() && b.offset.constant() && b.ombak.constant();

        // Sample-accurate MTS: the block is cut at each system-exclusive message.
        int start = 0;
        if (followMts) {
            for (const MidiEvent& e : ctx.midi()) {
                if (e.status != 0xF0 || e.sysex == nullptr) continue;
                const int at = std::clamp(static_cast<int>(e.frame), 0, frames);
                if (at > start) render(ctx, b, start, at, start == 0);
                if (receive(e)) {
                    b.mts = true;
                    b.settled = false;
                    for (Voice& v : voices_) v.memoValid = false;
                }
                start = std::max(start, at);
            }
        }
        render(ctx, b, start, frames, start == 0);
        lastTable_ = &t;
        lastLayout_ = b.layout;
        lastMts_ = b.mts;
        lastGeneration_ = mtsGeneration_;
    }

private:
    struct Voice {
        float out = 0.0f, ombak = 0.0f, gate = 0.0f, degree = 0.0f;
        float memoIn = 0.0f;
        bool memoValid = false, ombakValid = false;
        bool trigHigh = false, held = false;
    };

    // What a block's frames share.
    struct Block {
        const TunerTable* table = nullptr;
        int layout = 0;
        Ramp tonic, offset, ombak;
        double offsetExact = 0.0, ombakExact = 0.0;
        bool mts = false;  // play the MTS table instead of the state's tuning
        bool settled = false;
    };

    // One MTS message (audio thread). True when it changed the tuning.
    bool receive(const MidiEvent& e) noexcept {
        const tuning::MtsResult r = mts_.decode(std::span<const std::uint8_t>(e.sysex, e.sysexLength));
        if (!r.ok()) {
            if (r.error != tuning::MtsError::NotMts) {  // other sysex is none of our business
                const auto field = [](int v) { return static_cast<std::uint64_t>(std::clamp(v + 1, 0, 0xFFFF)); };
                mtsProblem_.store(static_cast<std::uint64_t>(r.error) | field(r.subId) << 8 | field(r.offset) << 16 |
                                      field(r.expected) << 32 | field(r.got) << 48,
                                  std::memory_order_relaxed);
            }
            return false;
        }
        if (r.kind == tuning::MtsKind::DumpRequest || r.kind == tuning::MtsKind::None) return false;
        mtsProblem_.store(0, std::memory_order_relaxed);
        mtsTable_ = tuning::toTuningTable(mts_.table());
        mtsLoaded_ = true;
        ++mtsGeneration_;
        return true;
    }

    void render(const ProcessContext& ctx, const Block& b, int from, int to, bool first) noexcept {
        const TunerTable& t = *b.table;
        const tuned::KeyPattern& pattern = t.layout[static_cast<std::size_t>(b.layout)];
        const InputPort& pitchIn = ctx.in[kTunerPitch];
        const InputPort& trigIn = ctx.in[kTunerTrig];
        const bool atTrig = param(kTunerRetune) >= 0.5f && trigIn.connected;
        const OutputPort& out = ctx.out[kTunerOut];
        const OutputPort& ombakOut = ctx.out[kTunerOmbak];
        const OutputPort& gateOut = ctx.out[kTunerGate];
        const OutputPort& degreeOut = ctx.out[kTunerDegree];
        const bool wantOmbak = ombakOut.connected;
        const double anchorOffsetKeys = t.anchorOffset;

        for (int c = 0; c < out.channels; ++c) {
            Voice& v = voices_[static_cast<std::size_t>(c)];
            if ((first && !b.settled) || v.ombakValid != wantOmbak) v.memoValid = false;
            v.ombakValid = wantOmbak;
            const float* p = pitchIn.channel(c);
            const float* tr = trigIn.channel(c);
            float* o = out.connected ? out.channel(c) : nullptr;
            float* om = wantOmbak ? ombakOut.channel(c) : nullptr;
            float* g = gateOut.connected ? gateOut.channel(c) : nullptr;
            float* d = degreeOut.connected ? degreeOut.channel(c) : nullptr;
            for (int i = from; i < to; ++i) {
                bool update = true;
                if (atTrig) {
                    const bool high = tr[i] >= 0.5f;
                    update = (high && !v.trigHigh) || !v.held;
                    v.trigHigh = high;
                }
                if (update && !(v.memoValid && p[i] == v.memoIn)) {
                    const double omb = b.ombak.constant() ? b.ombakExact : b.ombak.at(i);
                    if (b.mts) {
                        evaluateMts(mtsTable_, p[i], wantOmbak ? omb : 0.0, v);
                    } else {
                        const double anchor = (b.tonic.constant() ? b.tonic.start : b.tonic.at(i)) + anchorOffsetKeys;
                        const double off = b.offset.constant() ? b.offsetExact : b.offset.at(i);
                        evaluate(pattern, t, p[i], anchor, off, wantOmbak ? omb : 0.0, v);
                    }
                    v.memoIn = p[i];
                    v.memoValid = b.settled;
                }
                v.held = true;
                if (o) o[i] = v.out;
                if (om) om[i] = v.ombak;
                if (g) g[i] = v.gate;
                if (d) d[i] = v.degree;
            }
        }
    }

    // The paired voice: a constant number of Hz above the voice, whatever its register.
    static void setOmbak(double ombakHz, Voice& v) noexcept {
        if (ombakHz != 0.0) {
            const double hz = std::exp2(static_cast<double>(v.out) + kLog2C4) + ombakHz;
            v.ombak = hz > 0.0 ? static_cast<float>(std::log2(hz) - kLog2C4) : -40.0f;
        } else {
            v.ombak = v.out;
        }
    }

    // Key 60 + 12 x pitch through the pattern (see tuning_state.hpp), into v's outputs.
    static void evaluate(const tuned::KeyPattern& pattern, const TunerTable& t, float pitch, double anchor, double offset, double ombakHz,
                         Voice& v) noexcept {
        const double note = pitch == pitch ? 60.0 + 12.0 * static_cast<double>(pitch) : 60.0;
        const double x = std::clamp(note - anchor, -1.0e6, 1.0e6);
        const double fl = std::floor(x);
        const auto k = static_cast<long long>(fl);
        const double f = x - fl;
        const double c0 = pattern.centsAt(k);
        const double cents = f > 0.0 ? c0 + f * (pattern.centsAt(k + 1) - c0) : c0;
        const double out = std::clamp(offset + cents / 1200.0, -40.0, 40.0);
        const int degree = pattern.degreeAt(f >= 0.5 ? k + 1 : k);
        const double key = std::floor(std::clamp(note, -1.0e6, 1.0e6) + 0.5);
        const bool mapped = degree >= 0 && key >= t.firstNote && key <= t.lastNote;
        v.out = static_cast<float>(out);
        v.gate = mapped ? 1.0f : 0.0f;
        v.degree = mapped ? static_cast<float>(degree) : -1.0f;
        setOmbak(ombakHz, v);
    }

    // Key 60 + 12 x pitch in a tuning received by MTS: every key's frequency as sent (Tonic and
    // Reference do not apply), fractional keys in log-frequency, keys beyond 0..127 by its period.
    static void evaluateMts(const tuning::TuningTable& table, float pitch, double ombakHz, Voice& v) noexcept {
        const double note = pitch == pitch ? std::clamp(60.0 + 12.0 * static_cast<double>(pitch), -1.0e6, 1.0e6) : 60.0;
        v.out = static_cast<float>(std::clamp(table.log2Frequency(note) - kLog2C4, -40.0, 40.0));
        const auto key = static_cast<long long>(std::floor(note + 0.5));
        const long long m = table.periodKeys;
        long long degree = key;
        if (key >= 0 && key < tuning::TuningTable::kKeys) {
            degree = table.degree[static_cast<std::size_t>(key)];
        } else if (m > 0 && m < tuning::TuningTable::kKeys) {
            degree = ((key - 60) % m + m) % m;
        }
        v.gate = 1.0f;  // MTS has no silent keys
        v.degree = static_cast<float>(degree);
        setOmbak(ombakHz, v);
    }

    TuningSlot slot_;
    ParamSmoother tonic_, offset_, ombak_;
    std::array<Voice, kMaxChannels> voices_{};
    const TunerTable* lastTable_ = nullptr;
    int lastLayout_ = 0;
    bool lastMts_ = false;
    // MTS (audio thread, except mtsProblem_).
    tuning::MtsDecoder mts_;
    tuning::TuningTable mtsTable_{};
    bool mtsLoaded_ = false;
    std::uint64_t mtsGeneration_ = 0, lastGeneration_ = 0;
    std::atomic<std::uint64_t> mtsProblem_{0};  // the last rejected MTS message, packed; 0 = none
};

const ModuleDescriptor kTuner{
    .id = "tuner",
    .name = "Tuner",
    .category = "Tuning",
    .help =
        "Plays keys in any tuning: a Scala .scl (+ .kbm) or Ableton .ascl file, or one of the tunings of Kabel's catalogue "
        "(Arabic maqamat, Turkish makamlar, ragas on the 22 shrutis, sléndro and pélog of named Javanese gamelan, Balinese "
        "saih pitu, Persian dastgah, Chinese lü, Thai, Bohlen-Pierce and more; docs/scales.md says where every number comes "
        "from and what it cannot tell). The state chooses it: {\"scale\": \"maqam-rast-24edo\"} (a catalogue id, `kabel "
        "tune --list`) or {\"file\": \"my.scl\", \"kbm\": \"my.kbm\"} (paths relative to the patch); no state plays 12-TET "
        "(Out = Pitch). Pitch is read as the MIDI key 60 + 12 x pitch, as a keyboard or sequencer sends it; Out is the pitch "
        "that key has in the tuning (octaves re C4: patch it into any oscillator); fractional keys glide in log-frequency "
        "between their neighbours. Tonic is the key that plays the mode's tonic (Sa, the maqam's qarar, the 1/1); "
        "Reference fixes the absolute pitch: the Hz of the tuning's reference degree, which is the one named by the file's "
        "@ABL REFERENCE_PITCH (A = 440 Hz in 12-TET, tone 1 of a measured gamelan), else (for a mode) its system's, else "
        "the tonic; 0 keeps the file's frequency (without one, the tonic sounds at 261.63 Hz, middle C). The two are "
        "independent: Tonic moves the mode along the keyboard without changing its pitch, Reference transposes without "
        "moving keys; both glide. Layout: consecutive (each key plays the next degree of the mode) or system keys (each key "
        "plays the next degree of the whole system; keys of degrees outside the mode are unmapped). With a .kbm the file "
        "lays out the keys (Tonic moves its middle note by tonic - 60) and gives the reference note and frequency "
        "(Reference replaces the frequency). Gate is 0 on unmapped keys (patch it into a VCA) and Degree gives the degree "
        "(0 = tonic; -1 when unmapped). Ombak is the paired voice of Balinese gamelan: Out's frequency plus a constant "
        "number of Hz (the beat rate stays the same in every register; 0 = the file's @KABEL OMBAK, 6 Hz for the Tampak "
        "Gangsai tunings). Retune: continuous (a tuning or knob change reaches sounding notes at once) or at trig (the "
        "outputs hold from one rising edge of Trig to the next, like note-on retuning; continuous while Trig is "
        "unpatched). MTS on follow: MIDI Tuning Standard messages arriving on the MIDI inputs (bulk dump, single-note "
        "and scale/octave tuning changes) retune the keys from the sample they arrive, every key at the frequency sent "
        "(Tonic and Reference do not apply to it; switch back to ignore for the state's tuning); a rejected message is "
        "shown here with its reason. A file that does not load is reported here with its file:line reason while the "
        "previous tuning keeps playing. Polyphonic.",
    .inputs = {{.id = "pitch",
                .name = "Pitch",
                .kind = SignalKind::Pitch,
                .help = "the key as 12-TET pitch (octaves re C4): key = 60 + 12 x pitch"},
               {.id = "trig",
                .name = "Trig",
                .kind = SignalKind::Gate,
                .help = "with Retune at trig: a rising edge (>= 0.5) takes the key's new pitch (patch the note's gate)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Pitch, .help = "the key's pitch in the tuning (octaves re C4)"},
                {.id = "ombak",
                 .name = "Ombak",
                 .kind = SignalKind::Pitch,
                 .help = "the paired voice: Out's frequency + Ombak Hz, as a pitch (octaves re C4)"},
                {.id = "gate", .name = "Gate", .kind = SignalKind::Gate, .help = "1 on mapped keys, 0 on unmapped ones"},
                {.id = "degree",
                 .name = "Degree",
                 .kind = SignalKind::Control,
                 .help = "the degree the key plays: 0 = tonic, 1, 2, ... up the mode (or the .kbm's scale degree); -1 unmapped"}},
    .params = {{.id = "tonic",
                .name = "Tonic",
                .min = 0.0f,
                .max = 127.0f,
                .defaultValue = 60.0f,
                .unit = "key",
                .curve = ParamCurve::Integer,
                .help = "the MIDI key that plays the mode's tonic (60 = middle C); glides"},
               referenceParam(),
               {.id = "ombak",
                .name = "Ombak",
                .min = 0.0f,
                .max = 30.0f,
                .defaultValue = 0.0f,
                .unit = "Hz",
                .curve = ParamCurve::Linear,
                .help = "beat rate of the paired voice in Hz; 0 = the file's @KABEL OMBAK (none: no detune)"},
               {.id = "layout",
                .name = "Layout",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"consecutive", "system keys"},
                .help = "consecutive: every key a degree of the mode; system keys: every key a degree of the system, the "
                        "mode's others unmapped"},
               {.id = "retune",
                .name = "Retune",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"continuous", "at trig"},
                .help = "continuous: outputs follow at once; at trig: outputs change only at a rising edge of Trig"},
               {.id = "mts",
                .name = "MTS",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"ignore", "follow"},
                .help = "follow: MIDI Tuning Standard messages from the MIDI inputs retune the keys, from the sample they arrive"}},
    .create = [] { return std::unique_ptr<Module>(new Tuner(kTuner)); },
};
const RegisterModule registerTuner{kTuner};

// ---------------------------------------------------------------------------------------------
// quantizer

enum QuantizerInputs { kQuantPitch };
enum QuantizerOutputs { kQuantOut, kQuantTrig, kQuantDegree };
enum QuantizerParams { kQuantReference, kQuantHysteresis };

class Quantizer final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        offset_.prepare(sampleRate);
        trigFrames_ = std::max(1, static_cast<int>(std::lround(sampleRate * 0.001)));
    }

    void reset() noexcept override {
        for (Voice& v : voices_) v = Voice{};
        lastTable_ = nullptr;
    }

    void loadState(const nlohmann::json& state, const LoadContext& context) override { slot_.load(state, context, "quantizer"); }
    void idle() override { slot_.idle(); }
    std::string status() const override { return slot_.status(); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const TunerTable& t = slot_.get();
        const double offsetExact = anchorOffset(t, param(kQuantReference));
        const Ramp offset = offset_.next(static_cast<float>(offsetExact), frames);
        // A threshold, not a level: a jump cannot click, so it is read as it is.
        const double hysteresis = param(kQuantHysteresis);
        const bool changed = &t != lastTable_;
        lastTable_ = &t;
        const bool settled = !changed && offset.constant();
        const tuned::PitchClasses& classes = t.classes;

        const InputPort& in = ctx.in[kQuantPitch];
        const OutputPort& out = ctx.out[kQuantOut];
        const OutputPort& trigOut = ctx.out[kQuantTrig];
        const OutputPort& degreeOut = ctx.out[kQuantDegree];
        for (int c = 0; c < out.channels; ++c) {
            Voice& v = voices_[static_cast<std::size_t>(c)];
            if (changed) v.has = false;  // the old pitch's id means nothing in the new table
            if (!settled) v.memoValid = false;
            const float* p = in.channel(c);
            float* o = out.connected ? out.channel(c) : nullptr;
            float* tr = trigOut.connected ? trigOut.channel(c) : nullptr;
            float* d = degreeOut.connected ? degreeOut.channel(c) : nullptr;
            for (int i = 0; i < frames; ++i) {
                if (!(v.memoValid && p[i] == v.memoIn)) {
                    const double off = offset.constant() ? offsetExact : offset.at(i);
                    step(classes, p[i], off, hysteresis, v);
                    v.memoIn = p[i];
                    v.memoValid = settled;
                }
                if (o) o[i] = v.out;
                if (d) d[i] = v.degree;
                if (tr) tr[i] = v.trigLeft > 0 ? 1.0f : 0.0f;
                if (v.trigLeft > 0) --v.trigLeft;
            }
        }
    }

private:
    struct Voice {
        tuned::PitchClasses::Nearest current;
        bool has = false, started = false;
        float out = 0.0f, degree = -1.0f;
        float memoIn = 0.0f;
        bool memoValid = false;
        int trigLeft = 0;
    };

    void step(const tuned::PitchClasses& classes, float pitch, double offset, double hysteresis, Voice& v) const noexcept {
        const float previous = v.out;
        if (classes.cents.empty()) {  // nothing mapped: pass the pitch through
            v.out = pitch;
            v.degree = -1.0f;
            v.has = false;
        } else {
            const double in = pitch == pitch ? static_cast<double>(pitch) : 0.0;
            const double y = 1200.0 * (in - offset);
            const tuned::PitchClasses::Nearest n = classes.nearest(y);
            bool moved = false;
            if (!v.has) {
                v.current = n;
                v.has = true;
                moved = true;
            } else if (n.id != v.current.id && std::fabs(y - n.cents) + hysteresis <= std::fabs(y - v.current.cents)) {
                v.current = n;
                moved = true;
            }
            v.out = static_cast<float>(std::clamp(offset + v.current.cents / 1200.0, -40.0, 40.0));
            v.degree = static_cast<float>(v.current.degree);
            // A change of degree fires; the first choice after start does not, a new table's does
            // when it changes the pitch.
            if (moved && v.started && v.out != previous) v.trigLeft = trigFrames_;
        }
        v.started = true;
    }

    TuningSlot slot_;
    ParamSmoother offset_;
    std::array<Voice, kMaxChannels> voices_{};
    const TunerTable* lastTable_ = nullptr;
    int trigFrames_ = 48;
};

const ModuleDescriptor kQuantizer{
    .id = "quantizer",
    .name = "Quantizer",
    .category = "Tuning",
    .help =
        "Snaps a continuous pitch to the nearest degree of a mode in its own tuning: nearest in cents, in any octave (any "
        "period: a stretched gamelan octave, Bohlen-Pierce's 3/1). The state chooses the tuning exactly as the Tuner's "
        "does ({\"scale\": \"raga-yaman\"}, {\"file\": \"my.scl\", \"kbm\": \"my.kbm\"}; the catalogue and its sources: "
        "docs/scales.md); no state quantizes to 12-TET. Reference is the Hz of the tuning's reference degree (the file's "
        "@ABL REFERENCE_PITCH, else the tonic; 0 = the file's own frequency, else the tonic at 261.63 Hz), so it transposes "
        "the whole set; with a .kbm, only its mapped keys count. Hysteresis (cents) steadies a noisy or slowly moving "
        "input: the output moves to another degree only when the input is that many cents closer to it than to the "
        "current one. Trig gives a 1 ms pulse at every change of degree (not at start), Degree the degree (0 = tonic). "
        "A file that does not load is reported here with its file:line reason while the previous tuning stays. Polyphonic.",
    .inputs = {{.id = "pitch", .name = "Pitch", .kind = SignalKind::Pitch, .help = "any pitch (octaves re C4)"}},
    .outputs = {{.id = "out", .name = "Out", .kind = SignalKind::Pitch, .help = "the nearest degree's pitch (octaves re C4)"},
                {.id = "trig", .name = "Trig", .kind = SignalKind::Gate, .help = "a 1 ms pulse at every change of degree"},
                {.id = "degree", .name = "Degree", .kind = SignalKind::Control, .help = "the degree: 0 = tonic, 1, 2, ... up the mode"}},
    .params = {referenceParam(),
               {.id = "hysteresis",
                .name = "Hysteresis",
                .min = 0.0f,
                .max = 100.0f,
                .defaultValue = 10.0f,
                .unit = "cents",
                .curve = ParamCurve::Linear,
                .help = "the output changes only when the input is this much closer to another degree"}},
    .create = [] { return std::unique_ptr<Module>(new Quantizer(kQuantizer)); },
};
const RegisterModule registerQuantizer{kQuantizer};

}  // namespace
}  // namespace kabel
