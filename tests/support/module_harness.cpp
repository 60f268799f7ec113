#include "tests/support/module_harness.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"

namespace kabel::test {

ModuleHarness::ModuleHarness(std::string_view typeId, double sampleRate, int blockFrames, std::uint64_t seed)
    : sampleRate_(sampleRate), blockFrames_(blockFrames), stride_(alignedStride(blockFrames)) {
    const ModuleDescriptor* d = Registry::global().find(typeId);
    if (!d) throw std::invalid_argument("no module type '" + std::string(typeId) + "'");
    module_ = d->create();
    module_->setInstanceSeed(seed);
    module_->prepare(sampleRate, blockFrames);
    inputSignals_.resize(d->inputs.size());
}

ModuleHarness::~ModuleHarness() = default;

void ModuleHarness::setParam(std::string_view paramId, float value) {
    const int i = module_->descriptor().paramIndex(paramId);
    if (i < 0) throw std::invalid_argument("no param '" + std::string(paramId) + "'");
    module_->setParam(i, value);
}

void ModuleHarness::connect(std::string_view inputId, Signal channels) {
    const int i = module_->descriptor().inputIndex(inputId);
    if (i < 0) throw std::invalid_argument("no input '" + std::string(inputId) + "'");
    if (built_) throw std::logic_error("connect() after run()");
    if (channels.empty() || channels.size() > static_cast<std::size_t>(kMaxChannels)) throw std::invalid_argument("1..16 channels");
    inputSignals_[static_cast<std::size_t>(i)] = std::move(channels);
}

void ModuleHarness::loadState(const std::string& json, const std::filesystem::path& directory) {
    module_->loadState(json.empty() ? nlohmann::json() : nlohmann::json::parse(json), LoadContext{directory, nullptr});
    module_->idle();
}

void ModuleHarness::setHostOutputs(int channels) {
    hostChannels_ = channels;
}

void ModuleHarness::build() {
    const auto& d = module_->descriptor();
    zeros_.assign(static_cast<std::size_t>(stride_), 0.0f);
    for (std::size_t i = 0; i < d.inputs.size(); ++i) {
        const int ch = inputSignals_[i].empty() ? 1 : static_cast<int>(inputSignals_[i].size());
        inChannels_.push_back(ch);
        inBuffers_.emplace_back(static_cast<std::size_t>(ch * stride_), d.inputs[i].defaultValue);
    }
    std::vector<int> connected(inChannels_.size());  // 0 for unconnected inputs, as the compiler reports them
    for (std::size_t i = 0; i < connected.size(); ++i) connected[i] = inputSignals_[i].empty() ? 0 : inChannels_[i];
    for (std::size_t o = 0; o < d.outputs.size(); ++o) {
        const int ch = std::clamp(module_->outputChannels(static_cast<int>(o), connected), 1, kMaxChannels);
        outChannels_.push_back(ch);
        outBuffers_.emplace_back(static_cast<std::size_t>(ch * stride_), 0.0f);
    }
    module_->prepareChannels(inChannels_, outChannels_);
    for (std::size_t i = 0; i < d.inputs.size(); ++i) {
        InputPort p;
        p.data = inBuffers_[i].data();
        p.zeros = zeros_.data();
        p.channels = inChannels_[i];
        p.stride = stride_;
        p.connected = !inputSignals_[i].empty();
        p.constant = d.inputs[i].defaultValue;
        inPorts_.push_back(p);
    }
    for (std::size_t o = 0; o < d.outputs.size(); ++o) outPorts_.push_back(OutputPort{outBuffers_[o].data(), outChannels_[o], stride_});
    hostBlock_.assign(static_cast<std::size_t>(hostChannels_), std::vector<float>(static_cast<std::size_t>(stride_)));
    for (auto& h : hostBlock_) hostPointers_.push_back(h.data());
    host_.out = hostPointers_.data();
    host_.outChannels = hostChannels_;
    built_ = true;
}

std::vector<Signal> ModuleHarness::run(int frames) {
    if (!built_) build();
    module_->idle();  // the UI thread's regular call, between runs
    const auto& d = module_->descriptor();
    std::vector<Signal> outputs(d.outputs.size());
    for (std::size_t o = 0; o < outputs.size(); ++o) outputs[o].assign(static_cast<std::size_t>(outChannels_[o]), std::vector<float>());
    hostOut_.assign(static_cast<std::size_t>(hostChannels_), std::vector<float>());

    for (int done = 0; done < frames;) {
        const int n = std::min(blockFrames_, frames - done);
        for (std::size_t i = 0; i < d.inputs.size(); ++i) {
            const Signal& s = inputSignals_[i];
            for (std::size_t c = 0; c < s.size(); ++c) {
                if (s[c].size() < static_cast<std::size_t>(position_ + n)) throw std::logic_error("input signal shorter than the run");
                std::copy_n(s[c].begin() + position_, n, inBuffers_[i].begin() + static_cast<long>(c) * stride_);
            }
        }
        for (auto& h : hostBlock_) std::fill(h.begin(), h.end(), 0.0f);
        ProcessContext ctx;
        ctx.frames = n;
        ctx.blockStart = static_cast<std::uint64_t>(position_);
        ctx.in = inPorts_;
        ctx.out = outPorts_;
        ctx.host = &host_;
        module_->run(ctx);
        for (std::size_t o = 0; o < outputs.size(); ++o)
            for (int c = 0; c < outChannels_[o]; ++c) {
                const float* src = outBuffers_[o].data() + static_cast<long>(c) * stride_;
                outputs[o][static_cast<std::size_t>(c)].insert(outputs[o][static_cast<std::size_t>(c)].end(), src, src + n);
            }
        for (int c = 0; c < hostChannels_; ++c)
            hostOut_[static_cast<std::size_t>(c)].insert(hostOut_[static_cast<std::size_t>(c)].end(),
                                                         hostBlock_[static_cast<std::size_t>(c)].begin(),
                                                         hostBlock_[static_cast<std::size_t>(c)].begin() + n);
        position_ += n;
        done += n;
    }
    return outputs;
}

}  // namespace kabel::test
