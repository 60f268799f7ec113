// ModuleBench: times one module's process() on its own, block by block, with pre-rendered inputs,
// for the hidden [.bench] micro-benchmarks. Unlike ModuleHarness it copies nothing per block, so
// the time measured is the module's. Denormals are flushed, as the engine does.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"
#include "core/util/denormals.hpp"

namespace kabel::test {

class ModuleBench {
public:
    /// `blocks` distinct blocks of input are rendered up front and cycled through.
    ModuleBench(std::string_view typeId, int frames = 64, double sampleRate = 48000.0, int blocks = 750)
        : frames_(frames), stride_(alignedStride(frames)), blocks_(blocks), sampleRate_(sampleRate) {
        const ModuleDescriptor* d = Registry::global().find(typeId);
        if (!d) throw std::invalid_argument("no module type '" + std::string(typeId) + "'");
        module_ = d->create();
        module_->prepare(sampleRate, frames);
        inputs_.resize(d->inputs.size());
        for (std::size_t i = 0; i < d->inputs.size(); ++i) inputs_[i].constant = d->inputs[i].defaultValue;
    }

    Module& module() { return *module_; }

    void setParam(std::string_view id, float value) {
        const int i = module_->descriptor().paramIndex(id);
        if (i < 0) throw std::invalid_argument("no param '" + std::string(id) + "'");
        module_->setParam(i, value);
    }

    /// Connects input `id` with `channels` channels; signal(channel, frame) gives the samples.
    void connect(std::string_view id, int channels, const std::function<float(int, long)>& signal) {
        const int i = module_->descriptor().inputIndex(id);
        if (i < 0) throw std::invalid_argument("no input '" + std::string(id) + "'");
        Input& in = inputs_[static_cast<std::size_t>(i)];
        in.channels = channels;
        in.connected = true;
        in.data = AlignedFloats(static_cast<std::size_t>(blocks_) * channels * stride_);
        for (int b = 0; b < blocks_; ++b)
            for (int c = 0; c < channels; ++c)
                for (int n = 0; n < frames_; ++n)
                    in.data[(static_cast<std::size_t>(b) * channels + c) * stride_ + n] = signal(c, static_cast<long>(b) * frames_ + n);
    }

    /// Runs for about `seconds` of wall time after a warm-up, timing each pass over the rendered
    /// blocks; returns the fastest pass in ns per frame per channel (of output 0) and prints a
    /// line with `label`. The fastest pass is the one the OS did not interrupt (the machine may
    /// be busy), which is the module's own cost.
    double nsPerSample(const char* label, double seconds = 0.5) {
        build();
        ScopedFlushDenormals noDenormals;
        for (int b = 0; b < blocks_; ++b) runBlock(b);
        using Clock = std::chrono::steady_clock;
        double best = 1e300;
        const auto until = Clock::now() + std::chrono::duration<double>(seconds);
        for (int pass = 0; pass < 3 || Clock::now() < until; ++pass) {
            const auto start = Clock::now();
            for (int b = 0; b < blocks_; ++b) runBlock(b);
            const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
            best = std::min(best, ns / (double(blocks_) * frames_ * outChannels_[0]));
        }
        std::printf("%-48s %8.3f ns/sample  (%d ch, %d-frame blocks)\n", label, best, outChannels_[0], frames_);
        return best;
    }

    /// Runs `blocks` blocks; returns the wall time per frame (ns), not per channel.
    double nsPerFrame(long blocks) {
        build();
        ScopedFlushDenormals noDenormals;
        const auto start = std::chrono::steady_clock::now();
        for (long b = 0; b < blocks; ++b) runBlock(static_cast<int>(b % blocks_));
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        return ns / (double(blocks) * frames_);
    }

    /// Runs the next block (for timing many instances in turn). Call build() first.
    void step() { runBlock(static_cast<int>((position_ / static_cast<std::uint64_t>(frames_)) % static_cast<std::uint64_t>(blocks_))); }

    void build() {
        if (built_) return;
        built_ = true;
        buildPorts();
    }

    int outputChannels(int port) const { return outChannels_[static_cast<std::size_t>(port)]; }

private:
    struct Input {
        AlignedFloats data;
        int channels = 1;
        bool connected = false;
        float constant = 0.0f;
    };

    void buildPorts() {
        const auto& d = module_->descriptor();
        zeros_ = AlignedFloats(static_cast<std::size_t>(stride_));
        std::vector<int> inChannels;
        for (auto& in : inputs_) {
            if (!in.connected) {
                in.data = AlignedFloats(static_cast<std::size_t>(stride_));
                std::fill_n(in.data.data(), stride_, in.constant);
            }
            inChannels.push_back(in.channels);
        }
        for (std::size_t o = 0; o < d.outputs.size(); ++o) {
            const int ch = module_->outputChannels(static_cast<int>(o), inChannels);
            outChannels_.push_back(ch);
            outBuffers_.emplace_back(static_cast<std::size_t>(ch * stride_));
        }
        module_->prepareChannels(inChannels, outChannels_);
        for (std::size_t i = 0; i < inputs_.size(); ++i) {
            InputPort p;
            p.data = inputs_[i].data.data();
            p.zeros = zeros_.data();
            p.channels = inputs_[i].channels;
            p.stride = stride_;
            p.connected = inputs_[i].connected;
            p.constant = inputs_[i].constant;
            inPorts_.push_back(p);
        }
        for (std::size_t o = 0; o < outBuffers_.size(); ++o)
            outPorts_.push_back(OutputPort{outBuffers_[o].data(), outChannels_[o], stride_});
    }

    void runBlock(int b) {
        for (std::size_t i = 0; i < inputs_.size(); ++i)
            if (inputs_[i].connected)
                inPorts_[i].data = inputs_[i].data.data() + static_cast<std::size_t>(b) * inputs_[i].channels * stride_;
        ProcessContext ctx;
        ctx.frames = frames_;
        ctx.blockStart = position_;
        ctx.in = inPorts_;
        ctx.out = outPorts_;
        ctx.host = &host_;
        module_->run(ctx);
        position_ += static_cast<std::uint64_t>(frames_);
    }

    std::unique_ptr<Module> module_;
    int frames_, stride_, blocks_;
    double sampleRate_;
    bool built_ = false;
    std::uint64_t position_ = 0;
    std::vector<Input> inputs_;
    AlignedFloats zeros_;
    std::vector<int> outChannels_;
    std::vector<AlignedFloats> outBuffers_;
    std::vector<InputPort> inPorts_;
    std::vector<OutputPort> outPorts_;
    HostBuffers host_;
};

}  // namespace kabel::test
