#include "core/cli/workloads.hpp"

#include <cmath>
#include <utility>

namespace kabel::cli {
namespace {

// The numbers of ../shared/bench/peers/common/params.py (the peers' single source of truth).
constexpr double kW1Count = 256, kW4Count = 500;
constexpr int kW2Voices = 64;
constexpr double kW2CutoffMid = 1650.0, kW2CutoffDev = 1350.0, kW2Q = 3.0;
constexpr double kW2Attack = 0.010, kW2Decay = 0.100, kW2Sustain = 0.6, kW2Gate = 0.300, kW2Release = 0.100, kW2Period = 0.500;
constexpr double kW3BurstPeriod = 1.0, kW3BurstAttack = 0.001, kW3BurstDecay = 0.100, kW3BurstAmp = 0.5;
constexpr double kW3Delay = 0.375, kW3Feedback = 0.6, kW3Room = 0.8, kW3Damp = 0.5, kW3Mix = 0.33;

double sineBankFrequency(int i) {
    return 100.0 + 7.3 * i;
}

struct Builder {
    Patch patch;
    void module(std::string id, std::string type, std::map<std::string, double> params, float x, float y) {
        ModuleSpec m;
        m.id = std::move(id);
        m.type = std::move(type);
        m.params = std::move(params);
        m.x = x;
        m.y = y;
        patch.modules.push_back(std::move(m));
    }
    void cable(const std::string& fromModule, const std::string& fromPort, const std::string& toModule, const std::string& toPort) {
        patch.cables.push_back(CableSpec{{fromModule, fromPort}, {toModule, toPort}, {}});
    }
};

Workload sineBank() {
    Builder b;
    b.patch.meta.title = "W1 sine bank";
    b.patch.meta.description = "256 sines at 100 + 7.3 i Hz, each at amplitude 1/256, summed (bench workload W1).";
    for (int i = 0; i < static_cast<int>(kW1Count); ++i) {
        const std::string id = "sine" + std::to_string(i);
        b.module(id, "sine", {{"freq", sineBankFrequency(i)}}, 40.0f, 40.0f + 60.0f * static_cast<float>(i));
        b.cable(id, "out", "mix", "in");  // 256 cables into one input: summed
    }
    b.module("mix", "vca", {{"gain", 1.0 / kW1Count}}, 300.0f, 40.0f);
    b.module("out", "out", {}, 500.0f, 40.0f);
    b.cable("mix", "out", "out", "left");
    return {"W1", "sine bank (256 sines)", 1, std::move(b.patch)};
}

Workload subtractiveVoices() {
    Builder b;
    b.patch.meta.title = "W2 subtractive voices";
    b.patch.meta.description =
        "64 voices: band-limited saw -> resonant 2-pole low-pass (q 3, cutoff 1650 + 1350 sin(2 pi r t)) -> VCA with a "
        "linear ADSR (10 ms, 100 ms, 0.6, 100 ms; gate 300 ms every 500 ms), summed (bench workload W2).";
    // One clock for every envelope: a unipolar square, high for 300 ms of each 500 ms.
    b.module("gate", "lfo", {{"rate", 1.0 / kW2Period}, {"shape", 3}, {"pw", kW2Gate / kW2Period}, {"unipolar", 1}}, 40.0f, 0.0f);
    for (int i = 0; i < kW2Voices; ++i) {
        const std::string n = std::to_string(i);
        const float y = 80.0f + 120.0f * static_cast<float>(i);
        b.module("saw" + n, "saw", {{"freq", 55.0 * std::pow(2.0, i / 16.0)}}, 40.0f, y);
        b.module("lfo" + n, "lfo", {{"rate", 0.1 + 1.9 * i / (kW2Voices - 1)}, {"shape", 0}}, 40.0f, y + 60.0f);
        b.module("lpf" + n, "svf", {{"cutoff", kW2CutoffMid}, {"q", kW2Q}, {"fm_depth", kW2CutoffDev}}, 240.0f, y);
        b.module("env" + n, "adsr",
                 {{"attack", kW2Attack}, {"decay", kW2Decay}, {"sustain", kW2Sustain}, {"release", kW2Release}, {"shape", 0}}, 240.0f,
                 y + 60.0f);
        b.module("vca" + n, "vca", {{"gain", 1.0 / kW2Voices}}, 440.0f, y);
        b.cable("saw" + n, "out", "lpf" + n, "in");
        b.cable("lfo" + n, "out", "lpf" + n, "fm");
        b.cable("lpf" + n, "lp", "vca" + n, "in");
        b.cable("gate", "out", "env" + n, "gate");
        b.cable("env" + n, "env", "vca" + n, "cv");
        b.cable("vca" + n, "out", "out", "left");
    }
    b.module("out", "out", {}, 640.0f, 0.0f);
    return {"W2", "subtractive voices (64)", 1, std::move(b.patch)};
}

Workload effectsChain() {
    Builder b;
    b.patch.meta.title = "W3 effects chain";
    b.patch.meta.description =
        "A white-noise burst (1 ms up to 0.5, 100 ms down, once a second) -> two 375 ms feedback delays (feedback 0.6, "
        "x + d) -> stereo reverb (room 0.8, damping 0.5, mix 0.33) (bench workload W3).";
    b.module("clock", "lfo", {{"rate", 1.0 / kW3BurstPeriod}, {"shape", 3}, {"pw", 0.5}, {"unipolar", 1}}, 40.0f, 0.0f);
    b.module("burst", "adsr",
             {{"attack", kW3BurstAttack}, {"decay", kW3BurstDecay}, {"sustain", 0.0}, {"release", kW3BurstDecay}, {"shape", 0}}, 240.0f,
             0.0f);
    b.module("noise", "noise", {}, 40.0f, 100.0f);
    b.module("vca", "vca", {{"gain", kW3BurstAmp}}, 240.0f, 100.0f);
    for (const char* side : {"L", "R"})
        b.module(std::string("delay") + side, "delay", {{"time", kW3Delay}, {"feedback", kW3Feedback}, {"dry", 1.0}, {"wet", 1.0}}, 440.0f,
                 side[0] == 'L' ? 60.0f : 160.0f);
    b.module("reverb", "reverb", {{"room", kW3Room}, {"damp", kW3Damp}, {"mix", kW3Mix}, {"width", 1.0}}, 640.0f, 100.0f);
    b.module("out", "out", {}, 840.0f, 100.0f);
    b.cable("clock", "out", "burst", "gate");
    b.cable("burst", "env", "vca", "cv");
    b.cable("noise", "out", "vca", "in");
    b.cable("vca", "out", "delayL", "in");
    b.cable("vca", "out", "delayR", "in");
    b.cable("delayL", "out", "reverb", "left");
    b.cable("delayR", "out", "reverb", "right");
    b.cable("reverb", "left", "out", "left");
    b.cable("reverb", "right", "out", "right");
    return {"W3", "effects chain (burst, delays, reverb)", 2, std::move(b.patch)};
}

Workload bigGraph() {
    Builder b;
    b.patch.meta.title = "W4 big graph";
    b.patch.meta.description = "500 sines at 100 + 7.3 i Hz, each into its own gain node (1/500), summed: 1000 nodes (bench workload W4).";
    for (int i = 0; i < static_cast<int>(kW4Count); ++i) {
        const std::string n = std::to_string(i);
        b.module("sine" + n, "sine", {{"freq", sineBankFrequency(i)}}, 40.0f, 40.0f + 60.0f * static_cast<float>(i));
        b.module("gain" + n, "vca", {{"gain", 1.0 / kW4Count}}, 240.0f, 40.0f + 60.0f * static_cast<float>(i));
        b.cable("sine" + n, "out", "gain" + n, "in");
        b.cable("gain" + n, "out", "out", "left");
    }
    b.module("out", "out", {}, 440.0f, 40.0f);
    return {"W4", "big graph (1000 nodes)", 1, std::move(b.patch)};
}

}  // namespace

std::vector<Workload> benchmarkWorkloads() {
    std::vector<Workload> w;
    w.push_back(sineBank());
    w.push_back(subtractiveVoices());
    w.push_back(effectsChain());
    w.push_back(bigGraph());
    return w;
}

}  // namespace kabel::cli
