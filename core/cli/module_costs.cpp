// `kabel bench --modules`: what each module type costs, in nanoseconds per sample per channel,
// with mono and with 16-channel (polyphonic) inputs, so that expensive modules are visible.
//
// Each module runs on its own, straight through its process(), on 64-frame blocks at 48 kHz, with
// every input patched to a signal suited to its kind (audio: a sine; pitch: a slow vibrato around
// 0; gate: a 4 Hz square; control: a slow sine 0..1) and its params at their defaults (a param
// named "channels" or "voices" is set to the channel count). The time is the fastest of three
// runs of one second of audio, after a warm-up.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

#include "core/cli/commands.hpp"
#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/denormals.hpp"

namespace kabel::cli {
namespace {

constexpr double kRate = 48000.0;
constexpr int kBlock = 64;
constexpr int kSignalBlocks = 64;  // input signals: 64 different blocks, cycled

float signalValue(SignalKind kind, int channel, long n) {
    const double t = static_cast<double>(n) / kRate;
    switch (kind) {
        case SignalKind::Audio:
            return static_cast<float>(0.5 * std::sin(2.0 * std::numbers::pi * (220.0 + 17.0 * channel) * t));
        case SignalKind::Pitch:
            return static_cast<float>(0.02 * std::sin(2.0 * std::numbers::pi * 5.0 * t) + 0.1 * (channel % 12) / 12.0);
        case SignalKind::Gate:
            return std::fmod(t * 4.0 + 0.03 * channel, 1.0) < 0.5 ? 1.0f : 0.0f;
        case SignalKind::Control:
            return static_cast<float>(0.5 + 0.5 * std::sin(2.0 * std::numbers::pi * 0.7 * t + channel));
    }
    return 0.0f;
}

struct Cost {
    double nsPerSample = 0.0;  // per sample per channel
    int channels = 1;
};

Cost measure(const ModuleDescriptor& d, int channels) {
    const int stride = alignedStride(kBlock);
    std::unique_ptr<Module> module = d.create();
    module->setInstanceSeed(1);
    module->prepare(kRate, kBlock);
    for (std::size_t p = 0; p < d.params.size(); ++p)
        if (d.params[p].id == "channels" || d.params[p].id == "voices") module->setParam(static_cast<int>(p), static_cast<float>(channels));

    // Inputs: every one patched, `channels` wide; signals precomputed for kSignalBlocks blocks.
    std::vector<int> inChannels(d.inputs.size(), channels);
    std::vector<AlignedFloats> signals;
    for (const PortDescriptor& port : d.inputs) {
        AlignedFloats s(static_cast<std::size_t>(kSignalBlocks) * static_cast<std::size_t>(channels * stride));
        for (int b = 0; b < kSignalBlocks; ++b)
            for (int c = 0; c < channels; ++c)
                for (int n = 0; n < kBlock; ++n)
                    s[static_cast<std::size_t>((b * channels + c) * stride + n)] =
                        signalValue(port.kind, c, static_cast<long>(b) * kBlock + n);
        signals.push_back(std::move(s));
    }
    std::vector<int> outChannels;
    std::vector<AlignedFloats> outBuffers;
    int widest = 0;
    for (std::size_t o = 0; o < d.outputs.size(); ++o) {
        const int n = std::clamp(module->outputChannels(static_cast<int>(o), inChannels), 1, kMaxChannels);
        outChannels.push_back(n);
        outBuffers.emplace_back(static_cast<std::size_t>(n * stride));
        widest = std::max(widest, n);
    }
    module->prepareChannels(inChannels, outChannels);
    AlignedFloats zeros(static_cast<std::size_t>(stride));
    std::vector<InputPort> in(d.inputs.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        in[i].zeros = zeros.data();
        in[i].channels = channels;
        in[i].stride = stride;
        in[i].connected = true;
        in[i].constant = d.inputs[i].defaultValue;
    }
    std::vector<OutputPort> out;
    for (std::size_t o = 0; o < outBuffers.size(); ++o) out.push_back(OutputPort{outBuffers[o].data(), outChannels[o], stride, true});
    float* hostChannels[2] = {};
    AlignedFloats host(static_cast<std::size_t>(2 * stride));
    hostChannels[0] = host.data();
    hostChannels[1] = host.data() + stride;
    HostBuffers hostBuffers{hostChannels, 2, nullptr, 0};

    ProcessContext ctx;
    ctx.frames = kBlock;
    ctx.in = in;
    ctx.out = out;
    ctx.host = &hostBuffers;
    ScopedFlushDenormals noDenormals;
    auto runBlocks = [&](int blocks) {
        for (int b = 0; b < blocks; ++b) {
            const int k = b % kSignalBlocks;
            for (std::size_t i = 0; i < in.size(); ++i) in[i].data = signals[i].data() + static_cast<std::ptrdiff_t>(k * channels * stride);
            ctx.blockStart = static_cast<std::uint64_t>(b) * kBlock;
            module->run(ctx);
        }
    };
    const int blocks = static_cast<int>(kRate) / kBlock;  // one second
    runBlocks(blocks / 4);
    double best = 1e30;
    for (int round = 0; round < 3; ++round) {
        const auto start = std::chrono::steady_clock::now();
        runBlocks(blocks);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    const int perChannel = std::max(widest, d.outputs.empty() ? channels : 1);
    return Cost{best * 1e9 / (static_cast<double>(blocks) * kBlock * perChannel), perChannel};
}

}  // namespace

int moduleCosts(const std::string& filter) {
    std::printf("Module costs: ns per sample per channel, 64-frame blocks at 48 kHz, every input patched\n");
    std::printf("(fastest of 3 runs of 1 s; \"16 ch\" = 16-channel inputs, or the module's own channel count).\n\n");
    std::printf("%-14s %-26s %10s %10s %8s\n", "module", "name", "mono", "16 ch", "(chans)");
    for (const ModuleDescriptor* d : Registry::global().all()) {
        if (!filter.empty() && d->id.find(filter) == std::string::npos) continue;
        const Cost mono = measure(*d, 1);
        const Cost poly = measure(*d, kMaxChannels);
        std::printf("%-14s %-26s %10.2f %10.2f %8d\n", d->id.c_str(), d->name.c_str(), mono.nsPerSample, poly.nsPerSample, poly.channels);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace kabel::cli
