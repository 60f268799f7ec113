// ModuleHarness: runs one module on its own, block by block, with whole signals as input, so DSP
// tests measure a module without building a patch. Channel counts come from the module's own
// outputChannels(), as in a compiled plan.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/module/module.hpp"

namespace kabel::test {

/// signal[channel][frame]
using Signal = std::vector<std::vector<float>>;

class ModuleHarness {
public:
    /// Creates the registered module `typeId`, gives it `seed` (Module::setInstanceSeed) and
    /// prepares it. Throws std::invalid_argument for an unknown type.
    explicit ModuleHarness(std::string_view typeId, double sampleRate = 48000.0, int blockFrames = 64, std::uint64_t seed = 0);
    ~ModuleHarness();

    Module& module() { return *module_; }
    double sampleRate() const { return sampleRate_; }

    /// Sets a param by id (clamped like a patch would). Throws std::invalid_argument if unknown.
    void setParam(std::string_view paramId, float value);

    /// Connects an input to a signal; each channel must cover every frame later run. Must be
    /// called before the first run().
    void connect(std::string_view inputId, Signal channels);
    void connect(std::string_view inputId, std::vector<float> mono) { connect(inputId, Signal{std::move(mono)}); }

    /// Gives the module its state (JSON text; "" for the default), as a session would, with files
    /// resolved relative to `directory`. Loads at once (no worker). Throws what loadState throws.
    void loadState(const std::string& json, const std::filesystem::path& directory = {});

    /// Gives the module device buffers (for audio I/O modules): `channels` outputs.
    void setHostOutputs(int channels);

    /// Renders `frames` more frames; returns outputs[port][channel][frame] for these frames.
    /// Successive calls continue the same signals and state.
    std::vector<Signal> run(int frames);

    /// Device output channels written during the last run(): host[channel][frame].
    const Signal& hostOutput() const { return hostOut_; }

    /// Channel count of output `port` in this set-up.
    int outputChannels(int port) const { return outChannels_[static_cast<std::size_t>(port)]; }

private:
    void build();

    std::unique_ptr<Module> module_;
    double sampleRate_;
    int blockFrames_;
    int stride_;
    bool built_ = false;
    long position_ = 0;
    std::vector<Signal> inputSignals_;  // per input port; empty = unconnected
    std::vector<int> inChannels_, outChannels_;
    std::vector<std::vector<float>> inBuffers_, outBuffers_;
    std::vector<float> zeros_;
    std::vector<InputPort> inPorts_;
    std::vector<OutputPort> outPorts_;
    int hostChannels_ = 0;
    std::vector<std::vector<float>> hostBlock_;
    std::vector<float*> hostPointers_;
    HostBuffers host_;
    Signal hostOut_;
};

}  // namespace kabel::test
