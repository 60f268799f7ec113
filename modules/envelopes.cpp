// Envelopes: the ADSR.
//
// Design note. Segments have fixed durations, as in SuperCollider's Env.adsr, Pd's vline~ and
// Csound's loopseg: whatever level a segment starts from, it reaches its target after exactly its
// time, rounded to whole samples (0.01 s at 48 kHz = 480 samples). A segment is evaluated in closed
// form from its start level and the count of frames into it (no running sum, so no drift), runs
// between events are vectorised, and the gate is examined on every sample, so the timing is
// sample-exact. A segment's time and curve are taken from the params when it starts.
//
// Exponential curves, exactly: a segment from level L0 to T over N frames is an RC charge toward a
// virtual target V beyond T, y(k) = V + (L0 - V) * c^k, with V and c chosen so that y(N) = T:
// c^N = e and V = T + (T - L0) * e / (1 - e). Decay and release use e = 1e-3 (the curve falls
// 60 dB of its span by the set time, arriving exactly); the attack uses e = 1/3, which is an analog
// attack charging toward 1.5 x its span (the comparator at 2/3 of the charging voltage).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "core/dsp/fast_math.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/module/smoothing.hpp"

namespace kabel {
namespace {

enum AdsrInputs { kAdsrGate, kAdsrRetrig };
enum AdsrOutputs { kAdsrEnv };
enum AdsrParams { kAdsrAttack, kAdsrDecay, kAdsrSustain, kAdsrRelease, kAdsrShape };

constexpr float kAttackEpsilon = 1.0f / 3.0f;
constexpr float kDecayEpsilon = 1e-3f;

class Adsr final : public Module {
public:
    using Module::Module;

    void prepare(double sampleRate, int maxFrames) override {
        Module::prepare(sampleRate, maxFrames);
        for (auto& v : voices_) v.sustain.prepare(sampleRate);
        reset();
    }

    void reset() noexcept override {
        for (auto& v : voices_) {
            v.stage = Stage::Idle;
            v.gate = v.retrig = false;
            v.from = v.to = 0.0f;
        }
    }

    void process(const ProcessContext& ctx) noexcept override {
        Settings s;
        s.attack = param(kAdsrAttack);
        s.decay = param(kAdsrDecay);
        s.sustain = param(kAdsrSustain);
        s.release = param(kAdsrRelease);
        s.exponential = param(kAdsrShape) >= 0.5f;
        const InputPort& gate = ctx.in[kAdsrGate];
        const InputPort& retrig = ctx.in[kAdsrRetrig];
        const OutputPort& out = ctx.out[kAdsrEnv];
        for (int c = 0; c < out.channels; ++c)
            run(voices_[static_cast<std::size_t>(c)], s, gate, gate.channel(c), retrig, retrig.channel(c), out.channel(c), ctx.frames);
    }

private:
    enum class Stage : std::uint8_t { Idle, Attack, Decay, Sustain, Release };

    struct Settings {
        float attack, decay, sustain, release;
        bool exponential;
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
        ParamSmoother sustain;                          // glides the sustain level when the knob moves
    };

    // First frame in [from, to) where the input's high/low state differs from `high`, else `to`.
    // A vectorised count first: a gate that holds its state for the whole range (most blocks)
    // costs one pass with no branch per frame; otherwise the frame is found one by one.
    static int changeAt(const InputPort& port, const float* x, int from, int to, bool high) noexcept {
        if (!port.connected) return (port.constant >= 0.5f) != high ? from : to;
        int count = 0;
        for (int n = from; n < to; ++n) count += x[n] >= 0.5f ? 1 : 0;
        if (count == (high ? to - from : 0)) return to;
        for (int n = from; n < to; ++n)
            if ((x[n] >= 0.5f) != high) return n;
        return to;
    }

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
        v.virtualTarget = to + (to - from) * (epsilon / (1.0f - epsilon));
        v.log2Factor = std::log2(epsilon) / static_cast<float>(v.length);
    }

    // Holds `level` for the rest of this block; from the next block it glides to the knob.
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

    void run(Voice& v, const Settings& s, const InputPort& gateIn, const float* gate, const InputPort& retrigIn, const float* retrig,
             float* out, int frames) const noexcept {
        if (v.stage == Stage::Sustain) {
            const Ramp r = v.sustain.next(s.sustain, frames);
            v.sustainBase = r.start;
            v.sustainStep = r.step;
        }
        int i = 0;
        while (i < frames) {
            // g and r are frames where an input changes state, or `frames` if none does.
            const int g = changeAt(gateIn, gate, i, frames, v.gate);
            const int r = changeAt(retrigIn, retrig, i, frames, v.retrig);
            int end = std::min(g, r);
            if (timed(v.stage)) end = std::min(end, i + (v.length - v.pos));
            render(v, out, i, end);
            i = end;
            if (i == frames) break;
            // Events at frame i, in order: the segment ends, then the gate, then the retrigger.
            if (timed(v.stage) && v.pos >= v.length) {
                switch (v.stage) {
                    case Stage::Attack:
                        startSegment(v, Stage::Decay, v.to, s.sustain, s.decay, s.exponential, kDecayEpsilon);
                        break;
                    case Stage::Decay:
                        enterSustain(v, v.to);
                        break;
                    default:
                        v.stage = Stage::Idle;
                        break;
                }
            }
            if (i == g) {
                v.gate = !v.gate;
                const float level = levelAt(v, i);
                if (v.gate)
                    startSegment(v, Stage::Attack, level, 1.0f, s.attack, s.exponential, kAttackEpsilon);
                else
                    startSegment(v, Stage::Release, level, 0.0f, s.release, s.exponential, kDecayEpsilon);
            }
            if (i == r) {
                v.retrig = !v.retrig;
                if (v.retrig && v.gate && i != g)
                    startSegment(v, Stage::Attack, levelAt(v, i), 1.0f, s.attack, s.exponential, kAttackEpsilon);
            }
        }
    }

    std::array<Voice, kMaxChannels> voices_{};
};

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
        "RC curves that still arrive on time: the attack charges toward 1 + (1 - start)/2 and "
        "reaches 1 at the attack time; decay and release head past their target by 1/1000 of "
        "their span, so they arrive exactly at the set time (having fallen 60 dB of the way "
        "there). Polyphonic: one envelope per gate channel.",
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
    .params = {{.id = "attack",
                .name = "Attack",
                .min = 0.0001f,
                .max = 30.0f,
                .defaultValue = 0.01f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time from the current level to 1"},
               {.id = "decay",
                .name = "Decay",
                .min = 0.0001f,
                .max = 30.0f,
                .defaultValue = 0.1f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time from 1 to the sustain level"},
               {.id = "sustain",
                .name = "Sustain",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 0.7f,
                .unit = "",
                .help = "level held while the gate is high (moves glide, 10 ms)"},
               {.id = "release",
                .name = "Release",
                .min = 0.0001f,
                .max = 30.0f,
                .defaultValue = 0.3f,
                .unit = "s",
                .curve = ParamCurve::Exponential,
                .help = "time from the current level to 0 after the gate falls"},
               {.id = "shape",
                .name = "Shape",
                .min = 0.0f,
                .max = 1.0f,
                .defaultValue = 1.0f,
                .unit = "",
                .curve = ParamCurve::Choice,
                .choices = {"linear", "exponential"},
                .help = "segment curves"}},
    .create = [] { return std::unique_ptr<Module>(new Adsr(kAdsr)); },
};
const RegisterModule registerAdsr{kAdsr};

}  // namespace
}  // namespace kabel
