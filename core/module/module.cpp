#include "core/module/module.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kabel {

Module::Module(const ModuleDescriptor& descriptor) : descriptor_(&descriptor), params_(inlineParams_) {
    if (descriptor.params.size() > kInlineParams) {
        heapParams_.reset(new std::atomic<float>[descriptor.params.size()]);
        params_ = heapParams_.get();
    }
    for (std::size_t i = 0; i < descriptor.params.size(); ++i)
        params_[i].store(descriptor.params[i].defaultValue, std::memory_order_relaxed);
}

Module::~Module() = default;

void Module::prepare(double sampleRate, int maxFrames) {
    sampleRate_ = sampleRate;
    maxFrames_ = maxFrames;
}

int Module::outputChannels(int, std::span<const int> inputChannels) const {
    int channels = 1;
    for (int c : inputChannels) channels = std::max(channels, c);
    return std::min(channels, kMaxChannels);
}

void Module::prepareChannels(std::span<const int>, std::span<const int>) {}

void Module::saveState(nlohmann::json&) const {}

const SignalTap* Module::tap(int) const {
    return nullptr;
}
void Module::loadState(const nlohmann::json&, const LoadContext&) {}

void Module::setParam(int index, float value) noexcept {
    params_[index].store(descriptor_->params[index].clamp(value), std::memory_order_relaxed);
}

}  // namespace kabel
