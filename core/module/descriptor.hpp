// Module descriptors: what a module type is, independent of any instance. One static descriptor
// per module type, defined and registered in its family's source file (modules/*.cpp). Ids are
// stable strings stored in patch files: port and param ids are append-only, never renamed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kabel {

class Module;

/// Maximum channels (polyphonic voices) one cable carries.
inline constexpr int kMaxChannels = 16;

/// What a signal means. All signals are audio-rate floats; the kind guides the editor (colours)
/// and documents the range. Pitch is in octaves relative to C4 = 261.6256 Hz ("1 V/oct").
enum class SignalKind : std::uint8_t { Audio, Pitch, Gate, Control };

std::string_view toString(SignalKind kind) noexcept;

struct PortDescriptor {
    std::string id;    // stable, [A-Za-z0-9_-]+
    std::string name;  // shown in the editor
    SignalKind kind = SignalKind::Audio;
    float defaultValue = 0.0f;  // inputs: the value an unconnected input reads
    std::string help;
};

/// How a 0..1 control (knob, MIDI CC) maps onto a parameter's range.
enum class ParamCurve : std::uint8_t {
    Linear,       // min + x (max - min)
    Exponential,  // min (max/min)^x; requires 0 < min < max (frequencies, times)
    Integer,      // linear, rounded to whole numbers
    Choice,       // integer index into `choices`
    Toggle,       // 0 or 1
};

std::string_view toString(ParamCurve curve) noexcept;

struct ParamDescriptor {
    std::string id;
    std::string name;
    float min = 0.0f;
    float max = 1.0f;
    float defaultValue = 0.0f;
    std::string unit;  // "Hz", "s", "dB", "" ...
    ParamCurve curve = ParamCurve::Linear;
    std::vector<std::string> choices;  // labels for ParamCurve::Choice
    std::string help;
    /// True when the value changes the module's channel counts or ports: the session recompiles.
    bool structural = false;

    /// Clamps to [min, max] and rounds stepped curves. NaN becomes the default.
    float clamp(float value) const noexcept;
    /// Maps a 0..1 control position to a value (clamped).
    float fromNormalized(float x) const noexcept;
    /// Maps a value to its 0..1 control position.
    float toNormalized(float value) const noexcept;
};

struct ModuleDescriptor {
    std::string id;        // stable type id stored in patches, e.g. "sine"
    std::string name;      // display name, e.g. "Sine Oscillator"
    std::string category;  // "Oscillators", "Filters", ...
    std::string help;      // one paragraph: what it does and how to patch it
    std::vector<PortDescriptor> inputs;
    std::vector<PortDescriptor> outputs;
    std::vector<ParamDescriptor> params;
    std::unique_ptr<Module> (*create)() = nullptr;

    /// Index of the port/param with this id, or -1.
    int inputIndex(std::string_view portId) const noexcept;
    int outputIndex(std::string_view portId) const noexcept;
    int paramIndex(std::string_view paramId) const noexcept;
};

/// True for ids that patch files accept for modules, ports and params: 1-64 of [A-Za-z0-9_-].
bool isValidId(std::string_view id) noexcept;

}  // namespace kabel
