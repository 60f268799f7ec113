// Drone: a tanpura-like drone of four plucked strings, tuned from the same tuning state as the
// tuner (modules/tuning_state.hpp), with a jivari bridge.
//
// Design note. Each string is a waveguide loop (Karplus-Strong): a delay line of m samples, a
// first-order allpass for the fractional part of the delay, a 3-tap linear-phase loss filter
// [a, 1 - 2a, a] (exactly one sample of delay at every frequency), a gain and the jivari bridge,
// then back into the line. The loop's phase delay at the string's frequency f is made exactly
// fs / f: the FIR takes one sample, the line m, and the allpass coefficient is solved for the
// remaining delay D at f itself (eta = sin((1 - D) w / 2) / sin((1 + D) w / 2), exact at
// w = 2 pi f / fs, not only near DC). The linear loop has no other phase, so the partials stay
// harmonic (an in-loop DC blocker would detune the low strings' second partial by 15 cents). The
// gain makes the loop lose 60 dB in `decay` seconds at f: g = 10^(-3 / (decay f)) / |FIR(f)|,
// never above 1.
//
// Jivari. A tanpura's strings lie on a wide, gently curved bridge; a cotton thread (jivari) under
// each string sets where it leaves the bridge, so on one side of its swing the string grazes the
// bridge and that part of its motion is cut short. The contact turns the fundamental's energy into
// high partials, a little more at each pass, which is the bright, buzzing swell that rises after
// the pluck and fades as the string rests. Here the bridge sits at -h below the string's rest
// position: a displacement pressed past it is held back softly (at most 0.05 of a pluck's peak
// beyond), and the running mean of that upward correction is taken out again, as the string's
// tension pulls it back onto the bridge. Jivari moves the bridge from 0.6 to 0.1 of a pluck's peak
// below the rest position: more contact, more buzz, and a little less level, since the bridge
// takes energy. The correction only ever moves a displacement toward the bridge, so the loop
// stays passive and stable; with Jivari at 0 the bridge is skipped and the string is linear.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <complex>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/rt_value.hpp"
#include "core/module/smoothing.hpp"
#include "modules/tuning_state.hpp"

namespace kabel {
namespace {

constexpr int kStrings = 4;
constexpr int kPatterns = 4;                                 // Pa, Ma, Ni, custom
constexpr double kMinStringHz = 10.0;                        // lower strings are clamped here
constexpr double kPluckAt[kStrings] = {0.0, 0.2, 0.4, 0.6};  // of the cycle; the low Sa rings for the last 0.4
constexpr float kFirA = 0.05f;                               // loss filter [a, 1 - 2a, a]
constexpr double kOutputDcHz = 5.0;                          // the outputs' DC blocker
constexpr double kBridgeMeanHz = 10.0;                       // the bridge correction's mean is taken out above this
constexpr float kPluckAmp = 0.3f;
constexpr float kPluckPoint = 0.2f;     // the pluck point along the string (triangle shape)
constexpr float kBridgeScale = 0.07f;   // a fresh pluck's displacement in the loop (its peak)
constexpr float kBridgeGive = 0.05f;    // how far (x kBridgeScale) a string can press past the bridge
constexpr double kGlideSeconds = 0.02;  // a string's glide to a new pitch

enum DroneInputs { kDroneRun };
enum DroneOutputs { kDroneLeft, kDroneRight };
enum DroneParams { kDroneTonic, kDronePattern, kDroneTempo, kDroneDecay, kDroneJivari, kDroneLevel };

// ---------------------------------------------------------------------------------------------
// Tuning: which pitch each string plays in each pattern (built on the worker)

struct StringPitch {
    bool active = false;
    double cents = 0.0;  // above the middle Sa (the Tonic)
};

struct DroneTuning {
    std::array<std::array<StringPitch, kStrings>, kPatterns> pattern{};
};

// A custom string from the state: a degree (index or name) and an octave (periods of the tuning).
struct StringSpec {
    bool active = false;
    int degree = -1;   // -1: by name
    std::string name;  // when degree == -1
    int octave = 0;
};
using CustomStrings = std::array<StringSpec, kStrings>;

// "strings": [ {"degree": 4, "octave": -1}, {"degree": "Sa"}, {"degree": 0}, null ] — exactly four.
std::optional<CustomStrings> parseStrings(const nlohmann::json& state) {
    if (!state.is_object() || !state.contains("strings")) return std::nullopt;
    const char* kShape = " (expected \"strings\": four entries, each {\"degree\": <index or name>, \"octave\": <-3..3>} or null)";
    const nlohmann::json& list = state["strings"];
    if (!list.is_array() || list.size() != kStrings)
        throw std::invalid_argument(std::string("drone state: \"strings\" must be a list of four") + kShape);
    CustomStrings strings;
    for (std::size_t i = 0; i < kStrings; ++i) {
        const nlohmann::json& e = list[i];
        const std::string where = "drone state: strings[" + std::to_string(i) + "]: ";
        if (e.is_null()) continue;
        if (!e.is_object()) throw std::invalid_argument(where + "must be an object or null" + kShape);
        for (const auto& [key, value] : e.items())
            if (key != "degree" && key != "octave") throw std::invalid_argument(where + "unknown key \"" + key + "\"" + kShape);
        if (!e.contains("degree")) throw std::invalid_argument(where + "needs a \"degree\"" + kShape);
        StringSpec& s = strings[i];
        s.active = true;
        const nlohmann::json& d = e["degree"];
        if (d.is_number_integer() && d.get<long long>() >= 0 && d.get<long long>() < tuning::kMaxNotes) {
            s.degree = d.get<int>();
        } else if (d.is_string() && !d.get<std::string>().empty()) {
            s.name = d.get<std::string>();
        } else {
            throw std::invalid_argument(where + "\"degree\" must be a degree index (0 = Sa) or a degree name, got " + d.dump());
        }
        if (e.contains("octave")) {
            const nlohmann::json& o = e["octave"];
            if (!o.is_number_integer() || o.get<long long>() < -3 || o.get<long long>() > 3)
                throw std::invalid_argument(where + "\"octave\" must be a whole number from -3 to 3, got " + o.dump());
            s.octave = o.get<int>();
        }
    }
    return strings;
}

// The cents of the mode's Pa (Ma, Ni): by its sargam name when the mode is named in sargam, else
// the mode's degree within 35 cents of the just interval; else the just interval itself.
double namedOrJust(const tuning::Scale& mode, const char* name, double justCents) {
    const bool sargam = !mode.noteNames.empty() && mode.noteNames[0] == "Sa";
    if (sargam) {
        for (int d = 0; d < mode.degreeCount(); ++d)
            if (mode.degreeName(d) == name) return mode.centsOfDegree(d);
        return justCents;
    }
    double best = justCents, distance = 35.0;
    for (int d = 1; d < mode.degreeCount(); ++d) {
        const double c = mode.centsOfDegree(d);
        if (std::fabs(c - justCents) <= distance) {
            distance = std::fabs(c - justCents);
            best = c;
        }
    }
    return best;
}

std::unique_ptr<DroneTuning> buildDroneTuning(const tuned::LoadedTuning& lt, const std::optional<CustomStrings>& custom) {
    auto t = std::make_unique<DroneTuning>();
    const tuning::Scale& mode = lt.scale;
    const double period = mode.periodCents();
    const double fifth = 1200.0 * std::log2(1.5), fourth = 1200.0 * std::log2(4.0 / 3.0), seventh = 1200.0 * std::log2(15.0 / 8.0);
    const double first[3] = {namedOrJust(mode, "Pa", fifth), namedOrJust(mode, "Ma", fourth), namedOrJust(mode, "Ni", seventh)};
    for (int p = 0; p < 3; ++p) {
        auto& s = t->pattern[static_cast<std::size_t>(p)];
        s[0] = {true, first[p] - period};  // the lower octave's Pa (Ma, Ni)
        s[1] = {true, 0.0};                // middle Sa
        s[2] = {true, 0.0};
        s[3] = {true, -period};  // low Sa (kharaj)
    }
    auto& c = t->pattern[3];
    if (!custom) {
        c = t->pattern[0];
        return t;
    }
    for (std::size_t i = 0; i < kStrings; ++i) {
        const StringSpec& spec = (*custom)[i];
        if (!spec.active) continue;
        int degree = spec.degree;
        if (degree < 0) {
            for (int d = 0; d < mode.degreeCount() && degree < 0; ++d)
                if (mode.degreeName(d) == spec.name) degree = d;
            if (degree < 0) {
                std::string names;
                for (int d = 0; d < mode.degreeCount(); ++d) names += (d ? " " : "") + mode.degreeName(d);
                throw std::runtime_error(
                    "drone: strings[" + std::to_string(i) + "]: " + lt.name + " has no degree named '" + spec.name + "'" +
                    (names.empty() ? std::string(" (it has no names: give an index)") : " (its names: " + names + ")"));
            }
        }
        if (degree >= mode.degreeCount())
            throw std::runtime_error("drone: strings[" + std::to_string(i) + "]: degree " + std::to_string(degree) + " is beyond " +
                                     lt.name + "'s " + std::to_string(mode.degreeCount()) + " degrees");
        c[i] = {true, mode.centsOfDegree(degree) + spec.octave * period};
    }
    return t;
}

const DroneTuning* builtinDroneTuning() {
    static const std::unique_ptr<DroneTuning> t = buildDroneTuning(tuned::defaultTuning(), std::nullopt);
    return t.get();
}

// ---------------------------------------------------------------------------------------------
// One string

struct Waveguide {
    float* line = nullptr;
    std::uint32_t mask = 0, write = 0;
    int delay = 1;  // whole samples of the line
    float eta = 0.0f, gain = 0.0f;
    float apIn = 0.0f, apOut = 0.0f;  // allpass state
    float fir1 = 0.0f, fir2 = 0.0f;   // the FIR's last two inputs
    float bridgeMean = 0.0f;          // running mean of the bridge's correction
    // Pitch.
    double cents = 0.0, target = 0.0;
    bool tuned = false;  // cents set once
    bool active = false;
    double hz = 0.0, decay = 0.0;  // what the coefficients were computed for
    // Pluck.
    int exciteLeft = 0, exciteLength = 1;
    float excitePrev = 0.0f;
    std::uint32_t noise = 1;
    // Stereo.
    float left = 0.0f, right = 0.0f;
};

class Drone final : public Module {
public:
    explicit Drone(const ModuleDescriptor& d) : Module(d), builtin_(builtinDroneTuning()) {}

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        const auto size = std::bit_ceil(static_cast<std::uint32_t>(sampleRate / kMinStringHz) + 8u);
        lines_.assign(static_cast<std::size_t>(size) * kStrings, 0.0f);
        // Pans: Pa a little left, the two middle Sa either side of the centre, the low Sa right.
        constexpr float kPan[kStrings] = {-0.5f, 0.2f, -0.2f, 0.5f};
        for (int s = 0; s < kStrings; ++s) {
            Waveguide& w = strings_[static_cast<std::size_t>(s)];
            w.line = lines_.data() + static_cast<std::size_t>(s) * size;
            w.mask = size - 1;
            const float angle = (kPan[s] + 1.0f) * 0.25f * std::numbers::pi_v<float>;
            w.left = std::cos(angle);
            w.right = std::sin(angle);
        }
        tonic_.prepare(sampleRate);
        tempo_.prepare(sampleRate);
        decay_.prepare(sampleRate);
        jivari_.prepare(sampleRate);
        level_.prepare(sampleRate);
        outDcR_ = static_cast<float>(1.0 - 2.0 * std::numbers::pi * kOutputDcHz / sampleRate);
        meanCoef_ = static_cast<float>(1.0 - std::exp(-2.0 * std::numbers::pi * kBridgeMeanHz / sampleRate));
        reset();
    }

    void reset() noexcept override {
        std::fill(lines_.begin(), lines_.end(), 0.0f);
        for (int s = 0; s < kStrings; ++s) {
            Waveguide& w = strings_[static_cast<std::size_t>(s)];
            w.write = 0;
            w.apIn = w.apOut = w.fir1 = w.fir2 = w.bridgeMean = 0.0f;
            w.tuned = w.active = false;
            w.hz = w.decay = 0.0;
            w.exciteLeft = 0;
            w.noise = static_cast<std::uint32_t>(instanceSeed() * 2654435761u + 977u * static_cast<unsigned>(s + 1)) | 1u;
        }
        outIn_.fill(0.0f);
        outOut_.fill(0.0f);
        phase_ = 0.0;
        next_ = 0;
        runHigh_ = true;
    }

    int outputChannels(int, std::span<const int>) const override { return 1; }

    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        const tuned::TuningSource source = tuned::parseTuningSource(state, context, "drone", {"strings"}, false);
        const std::optional<CustomStrings> custom = parseStrings(state);
        if (source.empty() && !custom) {
            load_.clear();
            return;
        }
        load_.request(context.worker, [source, custom] { return buildDroneTuning(tuned::loadTuning(source), custom); });
    }
    void idle() override { load_.collect(); }
    std::string status() const override { return load_.error(); }

    void process(const ProcessContext& ctx) noexcept override {
        const int frames = ctx.frames;
        const DroneTuning* loaded = load_.get();
        const bool useLoaded = loaded && loadedValid(loaded);
        const DroneTuning& t = useLoaded ? *loaded : *builtin_;
        const int pattern = std::clamp(static_cast<int>(param(kDronePattern) + 0.5f), 0, kPatterns - 1);
        const Ramp tonic = tonic_.next(param(kDroneTonic), frames);
        const Ramp tempo = tempo_.next(param(kDroneTempo), frames);
        const Ramp decay = decay_.next(param(kDroneDecay), frames);
        const Ramp jivari = jivari_.next(param(kDroneJivari), frames);
        const Ramp level = level_.next(param(kDroneLevel), frames);
        const double fs = sampleRate();

        // The plucks of this block: the cycle's four points, while Run is high.
        std::array<int, kStrings> pluckAt;
        pluckAt.fill(-1);
        const InputPort& runIn = ctx.in[kDroneRun];
        const double dphase = 1.0 / (std::max(0.05f, tempo.start) * fs);
        for (int i = 0; i < frames; ++i) {
            const bool high = runIn.channel(0)[i] >= 0.5f;
            if (high && !runHigh_) {  // Run rises: the cycle starts again at the first string
                phase_ = 0.0;
                next_ = 0;
            }
            runHigh_ = high;
            if (!high) continue;
            while (next_ < kStrings && phase_ >= kPluckAt[next_]) {
                pluckAt[static_cast<std::size_t>(next_)] = i;
                ++next_;
            }
            phase_ += dphase;
            if (phase_ >= 1.0) {
                phase_ -= 1.0;
                next_ = 0;
            }
        }

        const OutputPort& left = ctx.out[kDroneLeft];
        const OutputPort& right = ctx.out[kDroneRight];
        float* l = left.channel(0);
        float* r = right.channel(0);
        std::fill_n(l, frames, 0.0f);
        std::fill_n(r, frames, 0.0f);
        const double glide = 1.0 - std::exp(-frames / (kGlideSeconds * fs));
        // The bridge: contact below -h, nearer the rest position as Jivari grows; 0 = no bridge.
        const float jiv = std::clamp(jivari.start, 0.0f, 1.0f);
        const float h = kBridgeScale * (0.6f - 0.5f * jiv);
        for (int s = 0; s < kStrings; ++s) {
            Waveguide& w = strings_[static_cast<std::size_t>(s)];
            const int at = pluckAt[static_cast<std::size_t>(s)];
            const StringPitch& pitch = t.pattern[static_cast<std::size_t>(pattern)][static_cast<std::size_t>(s)];
            if (at >= 0) retarget(w, pitch);
            // Glide toward the target pitch (a new pitch is taken at the string's pluck).
            w.cents = std::fabs(w.target - w.cents) < 1e-7 ? w.target : w.cents + (w.target - w.cents) * glide;
            tune(w, static_cast<double>(tonic.end(frames)) * std::exp2(w.cents / 1200.0), decay.start, fs);
            if (jiv > 0.0f)
                run<true>(w, frames, w.active ? at : -1, h, l, r);
            else
                run<false>(w, frames, w.active ? at : -1, h, l, r);
        }
        // Level, after a DC blocker per side (outside the loops: the contact's correction can leave
        // a little DC in a string for a while; blocking it in the loop would detune partials).
        const float R = outDcR_;
        for (int i = 0; i < frames; ++i) {
            const float g = level.at(i);
            const float dl = l[i] - outIn_[0] + R * outOut_[0];
            const float dr = r[i] - outIn_[1] + R * outOut_[1];
            outIn_[0] = l[i];
            outIn_[1] = r[i];
            outOut_[0] = dl;
            outOut_[1] = dr;
            l[i] = dl * g;
            r[i] = dr * g;
        }
    }

private:
    static bool loadedValid(const DroneTuning* t) noexcept { return t->pattern[1][1].active; }  // a cleared value has no strings

    // Coefficients for frequency hz and decay (T60, s) of the fundamental. Audio thread, per block
    // when either changed.
    void tune(Waveguide& w, double hz, double decaySeconds, double fs) const noexcept {
        hz = std::clamp(hz, kMinStringHz, fs / 4.0);
        if (hz == w.hz && decaySeconds == w.decay) return;
        w.hz = hz;
        w.decay = decaySeconds;
        const double omega = 2.0 * std::numbers::pi * hz / fs;
        const double remaining = fs / hz - 1.0;  // the FIR takes one sample; the line and the allpass the rest
        const double m = std::floor(remaining - 0.5);
        const double d = remaining - m;  // [0.5, 1.5)
        w.delay = std::max(1, static_cast<int>(m));
        w.eta = static_cast<float>(std::sin((1.0 - d) * omega * 0.5) / std::sin((1.0 + d) * omega * 0.5));
        const double fir = 1.0 - 2.0 * kFirA * (1.0 - std::cos(omega));
        const double g = std::pow(10.0, -3.0 / (std::max(0.01, decaySeconds) * hz)) / fir;
        w.gain = static_cast<float>(std::min(g, 0.99999));
    }

    // At a string's pluck: the pattern's (or tuning's) pitch for it becomes its target.
    static void retarget(Waveguide& w, const StringPitch& p) noexcept {
        w.active = p.active;
        w.target = p.cents;
        if (!w.tuned) {
            w.cents = p.cents;
            w.tuned = true;
        }
    }

    static void excite(Waveguide& w) noexcept {
        w.exciteLength = std::max(2, w.delay + 1);
        w.exciteLeft = w.exciteLength;
        w.excitePrev = 0.0f;
    }

    // The excitation's next sample: a triangle (the string's shape when plucked at kPluckPoint) less
    // its mean, with a little noise of the finger, softened by a one-pole lowpass.
    static float excitation(Waveguide& w) noexcept {
        const int n = w.exciteLength - w.exciteLeft;
        const float x = (static_cast<float>(n) + 0.5f) / static_cast<float>(w.exciteLength);
        const float tri = x < kPluckPoint ? x / kPluckPoint : (1.0f - x) / (1.0f - kPluckPoint);
        w.noise = w.noise * 1664525u + 1013904223u;
        const float noise = static_cast<float>(static_cast<std::int32_t>(w.noise)) * 0x1p-31f;
        const float e = kPluckAmp * ((tri - 0.5f) + 0.1f * noise);
        w.excitePrev += 0.5f * (e - w.excitePrev);
        --w.exciteLeft;
        return w.excitePrev;
    }

    template <bool kBridge>
    void run(Waveguide& w, int frames, int pluckAt, float h, float* l, float* r) noexcept {
        const std::uint32_t mask = w.mask;
        const float eta = w.eta, g = w.gain, a = kFirA, b = 1.0f - 2.0f * kFirA, meanCoef = meanCoef_;
        const float k = 1.0f / (kBridgeGive * kBridgeScale);
        const auto delay = static_cast<std::uint32_t>(w.delay);
        float apIn = w.apIn, apOut = w.apOut, f1 = w.fir1, f2 = w.fir2, mean = w.bridgeMean;
        std::uint32_t wr = w.write;
        for (int i = 0; i < frames; ++i) {
            if (i == pluckAt) excite(w);
            const float y = w.line[(wr - delay) & mask];
            const float ap = eta * (y - apOut) + apIn;  // out = eta in + in[-1] - eta out[-1]
            apIn = y;
            apOut = ap;
            const float fir = a * (ap + f2) + b * f1;
            f2 = f1;
            f1 = ap;
            float v = g * fir;
            if (w.exciteLeft > 0) v = 0.5f * v + excitation(w);  // the finger damps the old swing as it plucks
            if constexpr (kBridge) {
                // Pressed past the bridge (u < 0): held back toward it, softly (at most kBridgeGive x
                // kBridgeScale past it). The correction always pushes up; its running mean is taken
                // out again, or the string would drift off the bridge.
                const float u = v + h;
                const float correction = u < 0.0f ? -h + u / (1.0f - k * u) - v : 0.0f;
                mean += meanCoef * (correction - mean);
                v += correction - mean;
            }
            w.line[wr & mask] = v;
            ++wr;
            l[i] += w.left * v;
            r[i] += w.right * v;
        }
        w.apIn = apIn;
        w.apOut = apOut;
        w.fir1 = f1;
        w.fir2 = f2;
        w.bridgeMean = mean;
        w.write = wr;
    }

    const DroneTuning* builtin_;
    AsyncLoad<DroneTuning> load_;
    std::vector<float> lines_;
    std::array<Waveguide, kStrings> strings_{};
    ParamSmoother tonic_, tempo_, decay_, jivari_, level_;
    float meanCoef_ = 0.0026f;
    float outDcR_ = 0.9993f;
    std::array<float, 2> outIn_{}, outOut_{};
    double phase_ = 0.0;
    int next_ = 0;
    bool runHigh_ = true;
};

const ModuleDescriptor kDrone{
    .id = "drone",
    .name = "Drone (tanpura)",
    .category = "Tuning",
    .help =
        "A tanpura-like drone: four plucked strings, plucked one after another in the traditional cycle (string 1 at "
        "the start, 2 after a fifth of the cycle, 3 after two fifths, the low Sa after three fifths, which then rings "
        "through the last two fifths), a cycle every Tempo seconds while Run is high (a rising edge of Run starts the "
        "cycle again). Pattern tunes the first string: Pa-Sa-Sa-Sa (the lower octave's Pa, two middle Sa, the low "
        "Sa), Ma-Sa-Sa-Sa or Ni-Sa-Sa-Sa, or custom from the state. The pitches come from the tuning in the state, as "
        "for the Tuner ({\"scale\": \"raga-yaman\"} or {\"file\": \"my.scl\"}; the catalogue's sources: docs/scales.md; "
        "no state: 12-TET): Sa is the mode's tonic, sounding at Tonic Hz (the middle Sa; the low Sa is one period of "
        "the tuning below); Pa, Ma and Ni are the mode's degrees of those names (in a mode named in sargam), or the "
        "mode's degree within 35 cents of 3/2, 4/3 or 15/8, else those just ratios (Yaman has Ma sharp, so its Ma "
        "string is 4/3). A custom set: {\"scale\": \"raga-yaman\", \"strings\": [{\"degree\": \"Pa\", \"octave\": -1}, "
        "{\"degree\": 0}, {\"degree\": 0}, null]} (a degree by index, 0 = Sa, or by name; octave in periods; null "
        "leaves a string silent) and Pattern on custom. Each string is a waveguide tuned exactly (within a cent) "
        "whose fundamental dies away by 60 dB in Decay seconds. Jivari is the cotton thread under each string on the "
        "tanpura's wide, curved bridge: on one side of its swing the string grazes the bridge, which turns the "
        "fundamental's energy into high partials pass after pass, the bright, buzzing swell that rises after each "
        "pluck and fades as the string rests. It is modelled as a soft one-sided stop in each string's loop, nearer "
        "the string's rest position as Jivari grows (more buzz, a little less level; 0 = a plain string). The strings "
        "are spread in stereo (Pa left, low Sa right). "
        "A pattern or tuning change reaches each string at its next pluck (a quick glide); Tonic glides at once.",
    .inputs = {{.id = "run",
                .name = "Run",
                .kind = SignalKind::Gate,
                .defaultValue = 1.0f,
                .help = "plucks while high (1 when unpatched); a rising edge restarts the cycle"}},
    .outputs = {{.id = "left", .name = "Left", .kind = SignalKind::Audio, .help = "left channel"},
                {.id = "right", .name = "Right", .kind = SignalKind::Audio, .help = "right channel"}},
    .params = {{.id = "tonic",
                .name = "Tonic (Sa)",
                .min = 30.0f,
                .max = 1000.0f,
                .defaultValue = 130.8128f,
                .unit = "Hz",
                .curve = ParamCurve::Exponential,
                .help = "the middle Sa in Hz (130.81 Hz = C3); glides"},
               {.id = "pattern",
                .name = "Pattern",
                .min = 0.0f,
                .max = 3.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"Pa-Sa-Sa-Sa", "Ma-Sa-Sa-Sa", "Ni-Sa-Sa-Sa", "custom"},
                .help = "the strings' degrees; custom: the state's \"strings\" (Pa-Sa-Sa-Sa without them)"},
               {.id = "tempo",
                .name = "Tempo",
                .min = 1.0f,
                .max = 30.0f,
                .defaultValue = 4.0f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "seconds per cycle of four plucks"},
               {.id = "decay",
                .name = "Decay",
                .min = 0.5f,
                .max = 30.0f,
                .defaultValue = 8.0f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time for a string's fundamental to fall by 60 dB"},
               {.id = "jivari",
                .name = "Jivari",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "how much the strings graze the bridge: 0 = plain strings, 1 = the brightest buzz"},
               {.id = "level",
                .name = "Level",
                .min = 0.0f,
                .max = 2.0f,
                .defaultValue = 0.5f,
                .unit = "",
                .curve = ParamCurve::Linear,
                .help = "output gain"}},
    .create = [] { return std::unique_ptr<Module>(new Drone(kDrone)); },
};
const RegisterModule registerDrone{kDrone};

}  // namespace
}  // namespace kabel
