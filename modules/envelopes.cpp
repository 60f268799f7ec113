// Envelopes: the ADSR, the AR (attack-release while a gate is held) and the AD (attack-decay on a
// trigger, optionally looping).
//
// Design note. Segments have fixed durations, as in SuperCollider's Env.adsr, Pd's vline~ and
// Csound's loopseg: whatever level a segment starts from, it reaches its target after exactly its
// time, rounded to whole samples (0.01 s at 48 kHz = 480 samples). A segment is evaluated in closed
// form from its start level and the count of frames into it (no running sum, so no drift), runs
// between events are vectorised, and the gate is examined on every sample, so the timing is
// sample-exact. A segment's time and curve are taken from the params when it starts, so moving a
// time or curve knob never makes the output jump.
//
// Curves, exactly: a segment from level L0 to T over N frames is an RC charge toward a virtual
// target V beyond T, y(k) = V + (L0 - V) * c^k, with V and c chosen so that y(N) = T: c^N = e and
// V = T + (T - L0) * e / (1 - e). The `curve` param sets e continuously: decay and release use
// e = 1e-3^curve and the attack e = (1/3)^curve. At curve 1 (the ADSR's exponential shape as it
// always was) decay and release fall 60 dB of their span by the set time, arriving exactly, and
// the attack is an analog attack charging toward 1.5 x its span (the comparator at 2/3 of the
// charging voltage). curve 0 is e = 1: the straight line (|curve| < 1e-3 is computed as one, where
// V would be too far away for float precision). A negative curve gives e > 1: V lies behind the
// start and the segment starts slowly and speeds up (the mirror image of the exponential).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "core/dsp/fast_math.hpp"
#include "core/module/gates.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

constexpr float kAttackEpsilon = 1.0f / 3.0f;
constexpr float kDecayEpsilon = 1e-3f;
constexpr float kLinearCurve = 1e-3f;  // |curve| below this is a straight line
constexpr double kEocSeconds = 0.001;  // the AD's end-of-cycle trigger

enum class Kind : std::uint8_t { Adsr, Ar, Ad };

enum AdsrInputs { kAdsrGate, kAdsrRetrig };
enum AdsrOutputs { kAdsrEnv };
enum AdsrParams { kAdsrAttack, kAdsrDecay, kAdsrSustain, kAdsrRelease, kAdsrShape, kAdsrCurve };

enum ArInputs { kArGate };
enum ArOutputs { kArEnv };
enum ArParams { kArAttack, kArRelease, kArCurve };

enum AdInputs { kAdTrig };
enum AdOutputs { kAdEnv, kAdEoc };
enum AdParams { kAdAttack, kAdDecay, kAdCurve, kAdLoop };

// The epsilons of a curve, recomputed (two pow calls) only when the knob moves.
class CurveCache {
public:
    void get(float curve, float& attack, float& decay) noexcept {
        if (curve != curve_) {
            curve_ = curve;
            attack_ = std::pow(kAttackEpsilon, curve);
            decay_ = std::pow(kDecayEpsilon, curve);
        }
        attack = attack_;
        decay = decay_;
    }

private:
    float curve_ = 1.0f, attack_ = kAttackEpsilon, decay_ = kDecayEpsilon;
};

// One envelope engine for the three kinds: the ADSR's stages, with the AR holding 1 instead of
// decaying to a sustain level, and the AD decaying to 0 as soon as its attack ends.
template <Kind K>
class Envelope final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        for (auto& v : voices_) v.sustain.prepare(sampleRate);
        eocFrames_ = std::max(1, static_cast<int>(std::lround(kEocSeconds * sampleRate)));
        reset();
    }

    void reset() noexcept override {
        for (auto& v : voices_) {
            v.stage = Stage::Idle;
            v.gate = v.retrig = false;
            v.from = v.to = 0.0f;
            v.eocLeft = 0;
        }
    }

    void process(const ProcessContext& ctx) noexcept override {
        Settings s;
        float curve = 1.0f;
        if constexpr (K == Kind::Adsr) {
            s.attack = param(kAdsrAttack);
            s.decay = param(kAdsrDecay);
            s.sustain = param(kAdsrSustain);
            s.release = param(kAdsrRelease);
            curve = param(kAdsrCurve);
            s.exponential = param(kAdsrShape) >= 0.5f && std::fabs(curve) >= kLinearCurve;
        } else if constexpr (K == Kind::Ar) {
            s.attack = param(kArAttack);
            s.sustain = 1.0f;
            s.release = param(kArRelease);
            curve = param(kArCurve);
            s.exponential = std::fabs(curve) >= kLinearCurve;
        } else {
            s.attack = param(kAdAttack);
            s.decay = param(kAdDecay);
            curve = param(kAdCurve);
            s.exponential = std::fabs(curve) >= kLinearCurve;
            s.loop = param(kAdLoop) >= 0.5f;
        }
        if (s.exponential) curves_.get(curve, s.attackEpsilon, s.decayEpsilon);

        const InputPort& gate = ctx.in[0];
        const InputPort& retrig = ctx.in[K == Kind::Adsr ? kAdsrRetrig : 0];
        const OutputPort& out = ctx.out[0];
        const OutputPort* eoc = nullptr;
        if constexpr (K == Kind::Ad) eoc = ctx.out[kAdEoc].connected ? &ctx.out[kAdEoc] : nullptr;
        for (int c = 0; c < out.channels; ++c)
            run(voices_[static_cast<std::size_t>(c)], s, gate, gate.channel(c), retrig, retrig.channel(c), out.channel(c),
                eoc ? eoc->channel(c) : nullptr, ctx.frames);
    }

private:
    enum class Stage : std::uint8_t { Idle, Attack, Decay, Sustain, Release };

    struct Settings {
        float attack = 0.01f, decay = 0.1f, sustain = 0.0f, release = 0.1f;
        float attackEpsilon = 1.0f, decayEpsilon = 1.0f;
        bool exponential = false, loop = false;
    };

    struct Voice {
        Stage stage = Stage::Idle;
        bool gate = false, retrig = false;              // input states after the last frame seen
        bool exponential = false;                       // this segment's curve
        int length = 1, pos = 0;                        // timed segments: frames in it, frames done
        float from = 0.0f, to = 0.0f;                   // start level, target
        float slope = 0.0f;                             // linear: per frame
        float virtualTarget = 0.0f, log2Factor = 0.0f;  // exponential: V and log2(c)
        float sustainBase = 0.0f, sustainStep = 0.0f;   // sustain level at block frame i: base + i * step
        int eocLeft = 0;                                // AD: frames of end-of-cycle trigger still to send
        ParamSmoother sustain;                          // glides the sustain level when the knob moves
    };

    static bool timed(Stage s) noexcept { return s == Stage::Attack || s == Stage::Decay || s == Stage::Release; }

    // The level the voice outputs at block frame i (pos frames into a timed segment).
    static float levelAt(const Voice& v, int i) noexcept {
        switch (v.stage) {
            case Stage::Idle:
                return 0.0f;
            case Stage::Sustain:
                return v.sustainBase + static_cast<float>(i) * v.sustainStep;
            default:
                if (v.exponential)
                    return v.virtualTarget + (v.from - v.virtualTarget) * dsp::fastPow2(static_cast<float>(v.pos) * v.log2Factor);
                return v.from + static_cast<float>(v.pos) * v.slope;
        }
    }

    void startSegment(Voice& v, Stage stage, float from, float to, float seconds, bool exponential, float epsilon) const noexcept {
        v.stage = stage;
        v.from = from;
        v.to = to;
        v.pos = 0;
        v.length = std::max(1, static_cast<int>(std::lround(double(seconds) * sampleRate())));
        v.exponential = exponential;
        v.slope = (to - from) / static_cast<float>(v.length);
        if (exponential) {
            v.virtualTarget = to + (to - from) * (epsilon / (1.0f - epsilon));
            v.log2Factor = std::log2(epsilon) / static_cast<float>(v.length);
        }
    }

    void startAttack(Voice& v, float level, const Settings& s) const noexcept {
        startSegment(v, Stage::Attack, level, 1.0f, s.attack, s.exponential, s.attackEpsilon);
    }

    // Holds `level` for the rest of this block; from the next block the ADSR glides to the knob.
    static void enterSustain(Voice& v, float level) noexcept {
        v.stage = Stage::Sustain;
        v.sustain.reset(level);
        v.sustainBase = level;
        v.sustainStep = 0.0f;
    }

    // Renders frames [i0, i1) of the current stage.
    static void render(Voice& v, float* __restrict out, int i0, int i1) noexcept {
        switch (v.stage) {
            case Stage::Idle:
                std::fill(out + i0, out + i1, 0.0f);
                return;
            case Stage::Sustain: {
                const float base = v.sustainBase, step = v.sustainStep;
                for (int i = i0; i < i1; ++i) out[i] = base + static_cast<float>(i) * step;
                return;
            }
            default: {
                const float k0 = static_cast<float>(v.pos - i0);
                if (v.exponential) {
                    const float target = v.virtualTarget, span = v.from - v.virtualTarget, l2c = v.log2Factor;
                    for (int i = i0; i < i1; ++i) out[i] = target + span * dsp::fastPow2((k0 + static_cast<float>(i)) * l2c);
                } else {
                    const float from = v.from, slope = v.slope;
                    for (int i = i0; i < i1; ++i) out[i] = from + (k0 + static_cast<float>(i)) * slope;
                }
                v.pos += i1 - i0;
                return;
            }
        }
    }

    // The AD's end-of-cycle trigger over frames [i0, i1).
    static void renderEoc(Voice& v, float* eoc, int i0, int i1) noexcept {
        const int high = std::min(v.eocLeft, i1 - i0);
        v.eocLeft -= high;
        if (!eoc) return;
        std::fill(eoc + i0, eoc + i0 + high, 1.0f);
        std::fill(eoc + i0 + high, eoc + i1, 0.0f);
    }

    // Frame i: the timed segment that has just ended hands over to the next stage.
    void endSegment(Voice& v, const Settings& s) const noexcept {
        switch (v.stage) {
            case Stage::Attack:
                if constexpr (K == Kind::Adsr)
                    startSegment(v, Stage::Decay, v.to, s.sustain, s.decay, s.exponential, s.decayEpsilon);
                else if constexpr (K == Kind::Ar)
                    enterSustain(v, v.to);
                else
                    startSegment(v, Stage::Decay, v.to, 0.0f, s.decay, s.exponential, s.decayEpsilon);
                break;
            case Stage::Decay:
                if constexpr (K == Kind::Ad) {
                    v.stage = Stage::Idle;
                    v.eocLeft = eocFrames_;
                    if (s.loop) startAttack(v, 0.0f, s);
                } else {
                    enterSustain(v, v.to);
                }
                break;
            default:
                v.stage = Stage::Idle;
                break;
        }
    }

    void run(Voice& v, const Settings& s, const InputPort& gateIn, const float* gate, const InputPort& retrigIn, const float* retrig,
             float* out, float* eoc, int frames) const noexcept {
        if constexpr (K == Kind::Adsr) {
            if (v.stage == Stage::Sustain) {
                const Ramp r = v.sustain.next(s.sustain, frames);
                v.sustainBase = r.start;
                v.sustainStep = r.step;
            }
        }
        if constexpr (K == Kind::Ad) {
            if (s.loop && v.stage == Stage::Idle) startAttack(v, 0.0f, s);  // cycling needs no trigger
        }
        int i = 0;
        while (i < frames) {
            // g and r are frames where an input changes state, or `frames` if none does.
            const int g = gateChangeAt(gateIn, gate, i, frames, v.gate);
            const int r = K == Kind::Adsr ? gateChangeAt(retrigIn, retrig, i, frames, v.retrig) : frames;
            int end = std::min(g, r);
            if (timed(v.stage)) end = std::min(end, i + (v.length - v.pos));
            render(v, out, i, end);
            if constexpr (K == Kind::Ad) renderEoc(v, eoc, i, end);
            i = end;
            if (i == frames) break;
            // Events at frame i, in order: the segment ends, then the gate, then the retrigger.
            if (timed(v.stage) && v.pos >= v.length) endSegment(v, s);
            if (i == g) {
                v.gate = !v.gate;
                const float level = levelAt(v, i);
                if (v.gate)
                    startAttack(v, level, s);
                else if constexpr (K != Kind::Ad)
                    startSegment(v, Stage::Release, level, 0.0f, s.release, s.exponential, s.decayEpsilon);
            }
            if constexpr (K == Kind::Adsr) {
                if (i == r) {
                    v.retrig = !v.retrig;
                    if (v.retrig && v.gate && i != g) startAttack(v, levelAt(v, i), s);
                }
            }
        }
    }

    std::array<Voice, kMaxChannels> voices_{};
    CurveCache curves_;
    int eocFrames_ = 48;
};

ParamDescriptor timeParam(std::string id, std::string name, float defaultValue, std::string help) {
    return {.id = std::move(id),
            .name = std::move(name),
            .min = 0.0001f,
            .max = 30.0f,
            .defaultValue = defaultValue,
            .unit = "s",
            .curve = ParamCurve::Exponential,
            .help = std::move(help)};
}

ParamDescriptor curveParam(std::string help) {
    return {.id = "curve", .name = "Curve", .min = -1.0f, .max = 1.0f, .defaultValue = 1.0f, .unit = "", .help = std::move(help)};
}

const ModuleDescriptor kAdsr{
    .id = "adsr",
    .name = "ADSR Envelope",
    .category = "Envelopes",
    .help =
        "An attack-decay-sustain-release envelope, 0..1. While Gate is high (>= 0.5) it rises "
        "from wherever it is to 1 in Attack seconds, falls to Sustain in Decay seconds and "
        "holds; when Gate falls it goes from its current level to 0 in Release seconds. Times "
        "are exact to the sample (rounded to whole samples), whatever level a segment starts "
        "from, so a retrigger never jumps. A rising edge on Retrig while the gate is held "
        "restarts the attack. Linear shape: straight segments. Exponential shape: analog-like "
        "RC curves that still arrive on time, bent by Curve: at Curve 1 (the default) the "
        "attack charges toward 1 + (1 - start)/2 and reaches 1 at the attack time, and decay "
        "and release head past their target by 1/1000 of their span, so they arrive exactly at "
        "the set time (having fallen 60 dB of the way there); Curve 0 is straight; between, "
        "the overshoot shrinks continuously (1000^-curve and 3^-curve of the span); negative "
        "values bend the other way (slow start, fast finish). A segment takes its time and "
        "curve when it starts. Polyphonic: one envelope per gate channel.",
    .inputs = {{.id = "gate",
                .name = "Gate",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "high (>= 0.5) holds the envelope open; a rising edge starts the attack"},
               {.id = "retrig",
                .name = "Retrig",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge restarts the attack while the gate is held"}},
    .outputs = {{.id = "env", .name = "Env", .kind = SignalKind::Control, .help = "envelope, 0..1"}},
    .params = {timeParam("attack", "Attack", 0.01f, "time from the current level to 1"),
               timeParam("decay", "Decay", 0.1f, "time from 1 to the sustain level"),
               {.id = "sustain",
                .name = "Sustain",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.7f,
                .unit = "",
                .help = "level held while the gate is high (moves glide, 10 ms)"},
               timeParam("release", "Release", 0.3f, "time from the current level to 0 after the gate falls"),
               {.id = "shape",
                .name = "Shape",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"linear", "exponential"},
                .help = "segment curves: linear ignores Curve"},
               curveParam("with the exponential shape: 1 the analog RC curves, 0 straight, -1 the mirror image (slow start)")},
    .create = [] { return std::unique_ptr<Module>(new Envelope<Kind::Adsr>(kAdsr)); },
};
const RegisterModule registerAdsr{kAdsr};

const ModuleDescriptor kAr{
    .id = "ar",
    .name = "AR Envelope",
    .category = "Envelopes",
    .help =
        "An attack-release envelope, 0..1, for gates: while Gate is high (>= 0.5) it rises from "
        "wherever it is to 1 in Attack seconds and holds 1; when Gate falls it goes from its "
        "current level to 0 in Release seconds (also from mid-attack). Times are exact to the "
        "sample (rounded to whole samples) whatever level a segment starts from, so a new gate "
        "during the release never jumps. Curve bends both segments: 1 (default) analog RC "
        "curves that arrive exactly on time (the attack charges toward 1.5 x its span, the "
        "release heads 1/1000 of its span below 0), 0 straight lines, -1 the mirror image "
        "(slow start, fast finish); a segment takes its time and curve when it starts. "
        "Polyphonic: one envelope per gate channel.",
    .inputs = {{.id = "gate",
                .name = "Gate",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "high (>= 0.5) opens the envelope; falling starts the release"}},
    .outputs = {{.id = "env", .name = "Env", .kind = SignalKind::Control, .help = "envelope, 0..1"}},
    .params = {timeParam("attack", "Attack", 0.01f, "time from the current level to 1"),
               timeParam("release", "Release", 0.3f, "time from the current level to 0 after the gate falls"),
               curveParam("1 analog RC curves, 0 straight, -1 the mirror image (slow start)")},
    .create = [] { return std::unique_ptr<Module>(new Envelope<Kind::Ar>(kAr)); },
};
const RegisterModule registerAr{kAr};

const ModuleDescriptor kAd{
    .id = "ad",
    .name = "AD Envelope",
    .category = "Envelopes",
    .help =
        "An attack-decay envelope, 0..1, for triggers: a rising edge on Trig (through 0.5) "
        "starts the attack from wherever the envelope is, to 1 in Attack seconds, then it "
        "decays to 0 in Decay seconds whatever the trigger does (percussion). A trigger during "
        "the decay restarts the attack from the current level without a jump. Times are exact "
        "to the sample (rounded to whole samples). At the end of each decay EOC sends a 1 ms "
        "trigger. Loop: the envelope cycles attack-decay-attack for ever, starting at once "
        "(no trigger needed; a trigger restarts the cycle), so it doubles as an asymmetric "
        "LFO with a period of exactly Attack + Decay. Curve bends both segments: 1 (default) "
        "analog RC curves that arrive on time, 0 straight lines, -1 the mirror image (slow "
        "start); a segment takes its time and curve when it starts. Polyphonic: one envelope "
        "per trigger channel.",
    .inputs = {{.id = "trig",
                .name = "Trig",
                .kind = SignalKind::Gate,
                .defaultValue = 0.0f,
                .help = "a rising edge through 0.5 starts the attack"}},
    .outputs = {{.id = "env", .name = "Env", .kind = SignalKind::Control, .help = "envelope, 0..1"},
                {.id = "eoc", .name = "EOC", .kind = SignalKind::Gate, .help = "a 1 ms trigger when a decay ends"}},
    .params = {timeParam("attack", "Attack", 0.005f, "time from the current level to 1"),
               timeParam("decay", "Decay", 0.3f, "time from 1 to 0"),
               curveParam("1 analog RC curves, 0 straight, -1 the mirror image (slow start)"),
               {.id = "loop",
                .name = "Loop",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.0f,
                .unit = "",
                .curve = ParamCurve::Toggle,
                .help = "on: cycle attack and decay continuously"}},
    .create = [] { return std::unique_ptr<Module>(new Envelope<Kind::Ad>(kAd)); },
};
const RegisterModule registerAd{kAd};

}  // namespace
}  // namespace kabel
