#include "tests/support/test_modules.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <numbers>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/module/rt_value.hpp"

namespace kabel::test {
namespace {

class Const final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        const OutputPort& out = ctx.out[0];
        for (int c = 0; c < out.channels; ++c)
            for (int n = 0; n < ctx.frames; ++n) out.channel(c)[n] = param(0) + static_cast<float>(c);
    }
    int outputChannels(int, std::span<const int>) const override { return static_cast<int>(param(1)); }
};

class Gain final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        const OutputPort& out = ctx.out[0];
        for (int c = 0; c < out.channels; ++c)
            for (int n = 0; n < ctx.frames; ++n) out.channel(c)[n] = ctx.in[0].channel(c)[n] * param(0);
    }
};

class Sum final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        const OutputPort& out = ctx.out[0];
        for (int c = 0; c < out.channels; ++c)
            for (int n = 0; n < ctx.frames; ++n) out.channel(c)[n] = ctx.in[0].channel(c)[n] + ctx.in[1].channel(c)[n];
    }
};

class Count final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        for (int n = 0; n < ctx.frames; ++n) ctx.out[0].data[n] = ctx.in[0].data[n] + 1.0f;
    }
};

class RampSource final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        for (int n = 0; n < ctx.frames; ++n)
            ctx.out[0].data[n] = static_cast<float>(static_cast<double>(ctx.blockStart + static_cast<std::uint64_t>(n)) * param(0));
    }
};

class Sine final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        const double increment = 2.0 * std::numbers::pi * param(0) / sampleRate();
        for (int n = 0; n < ctx.frames; ++n) {
            ctx.out[0].data[n] = static_cast<float>(std::sin(phase_));
            phase_ += increment;
            if (phase_ > 2.0 * std::numbers::pi) phase_ -= 2.0 * std::numbers::pi;
        }
    }
    void reset() noexcept override { phase_ = 0.0; }

private:
    double phase_ = 0.0;
};

class NotANumber final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        const float bad = param(1) != 0.0f ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
        const auto at = static_cast<std::uint64_t>(param(0));
        for (int n = 0; n < ctx.frames; ++n, ++frame_) ctx.out[0].data[n] = frame_ >= at ? bad : 0.25f;
    }
    void reset() noexcept override { frame_ = 0; }

private:
    std::uint64_t frame_ = 0;  // since creation or reset
};

class Out final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        for (int ch = 0; ch < ctx.host->outChannels; ++ch)
            for (int c = 0; c < ctx.in[0].channels; ++c)
                for (int n = 0; n < ctx.frames; ++n) ctx.host->out[ch][n] += ctx.in[0].channel(c)[n];
        if (param(0) != 0.0f && ctx.host->outChannels > 0) ctx.host->out[0][0] = std::numeric_limits<float>::quiet_NaN();
    }
};

// Like Out, but a guarded sink (as the real Audio Out is): see Module::guardedSink.
class Device final : public Module {
public:
    using Module::Module;
    bool guardedSink() const noexcept override { return true; }
    void process(const ProcessContext& ctx) noexcept override {
        for (int ch = 0; ch < ctx.host->outChannels; ++ch)
            for (int c = 0; c < ctx.in[0].channels; ++c)
                for (int n = 0; n < ctx.frames; ++n) ctx.host->out[ch][n] += ctx.in[0].channel(c)[n];
    }
};

class Probe final : public Module {
public:
    using Module::Module;
    void process(const ProcessContext& ctx) noexcept override {
        readings.channels.store(ctx.in[0].channels, std::memory_order_relaxed);
        readings.first.store(ctx.in[0].data[0], std::memory_order_relaxed);
        readings.blocks.fetch_add(1, std::memory_order_relaxed);
    }
    ProbeReadings readings;
};

// Loads a number from the text file its state names ({"file": "value.txt"}) in the background
// and outputs it; a file that does not hold a number keeps the previous value and reports why.
class FileValue final : public Module {
public:
    using Module::Module;
    struct Value {
        float number = 0.0f;
    };
    void loadState(const nlohmann::json& state, const LoadContext& context) override {
        if (state.is_null() || !state.contains("file")) {
            value_.clear();
            return;
        }
        if (!state["file"].is_string()) throw std::invalid_argument("\"file\" must be a string");
        const std::filesystem::path path = context.resolve(state["file"].get<std::string>());
        value_.request(context.worker, [path] {
            std::ifstream in(path);
            if (!in) throw std::runtime_error(path.filename().string() + ": cannot open");
            auto v = std::make_unique<Value>();
            if (!(in >> v->number)) throw std::runtime_error(path.filename().string() + ": not a number");
            return v;
        });
    }
    void idle() override { value_.collect(); }
    std::string status() const override { return value_.error(); }
    void process(const ProcessContext& ctx) noexcept override {
        const Value* v = value_.get();
        for (int n = 0; n < ctx.frames; ++n) ctx.out[0].data[n] = v ? v->number : -1.0f;
    }

private:
    AsyncLoad<Value> value_;
};

ModuleDescriptor describe(std::string id, std::vector<PortDescriptor> inputs, std::vector<PortDescriptor> outputs,
                          std::vector<ParamDescriptor> params, std::unique_ptr<Module> (*create)()) {
    ModuleDescriptor d;
    d.id = std::move(id);
    d.name = d.id;
    d.category = "Test";
    d.help = "test module";
    d.inputs = std::move(inputs);
    d.outputs = std::move(outputs);
    d.params = std::move(params);
    d.create = create;
    return d;
}

PortDescriptor port(std::string id, float defaultValue = 0.0f) {
    return PortDescriptor{.id = std::move(id), .name = "", .defaultValue = defaultValue};
}
ParamDescriptor param(std::string id, float min, float max, float def, bool structural = false) {
    return ParamDescriptor{.id = std::move(id), .name = "", .min = min, .max = max, .defaultValue = def, .structural = structural};
}

struct Descriptors {
    ModuleDescriptor constant, gain, sum, count, ramp, sine, nan, out, device, probe, file;
};

const Descriptors& descriptors() {
    static const Descriptors d{
        describe("tconst", {}, {port("out")}, {param("value", -1e6f, 1e6f, 1.0f), param("channels", 1, 16, 1, true)},
                 [] { return std::unique_ptr<Module>(new Const(descriptors().constant)); }),
        describe("tgain", {port("in")}, {port("out")}, {param("gain", -1e6f, 1e6f, 1.0f)},
                 [] { return std::unique_ptr<Module>(new Gain(descriptors().gain)); }),
        describe("tsum", {port("a"), port("b", 1.0f)}, {port("out")}, {},
                 [] { return std::unique_ptr<Module>(new Sum(descriptors().sum)); }),
        describe("tcount", {port("in")}, {port("out")}, {}, [] { return std::unique_ptr<Module>(new Count(descriptors().count)); }),
        describe("tramp", {}, {port("out")}, {param("slope", -1.0f, 1.0f, 1e-5f)},
                 [] { return std::unique_ptr<Module>(new RampSource(descriptors().ramp)); }),
        describe("tsine", {}, {port("out")}, {param("freq", 0.0f, 20000.0f, 440.0f)},
                 [] { return std::unique_ptr<Module>(new Sine(descriptors().sine)); }),
        describe("tnan", {}, {port("out")}, {param("at", 0.0f, 1e9f, 0.0f), param("inf", 0.0f, 1.0f, 0.0f)},
                 [] { return std::unique_ptr<Module>(new NotANumber(descriptors().nan)); }),
        describe("tout", {port("in")}, {}, {param("nan", 0.0f, 1.0f, 0.0f)},
                 [] { return std::unique_ptr<Module>(new Out(descriptors().out)); }),
        describe("tdevice", {port("in")}, {}, {}, [] { return std::unique_ptr<Module>(new Device(descriptors().device)); }),
        describe("tprobe", {port("in")}, {}, {}, [] { return std::unique_ptr<Module>(new Probe(descriptors().probe)); }),
        describe("tfile", {}, {port("out")}, {}, [] { return std::unique_ptr<Module>(new FileValue(descriptors().file)); }),
    };
    return d;
}

}  // namespace

const Registry& testRegistry() {
    static const Registry registry = [] {
        Registry r;
        const Descriptors& d = descriptors();
        for (const ModuleDescriptor* m :
             {&d.constant, &d.gain, &d.sum, &d.count, &d.ramp, &d.sine, &d.nan, &d.out, &d.device, &d.probe, &d.file})
            r.add(*m);
        return r;
    }();
    return registry;
}

ProbeReadings& probeReadings(Module& probe) {
    return static_cast<Probe&>(probe).readings;
}

}  // namespace kabel::test
