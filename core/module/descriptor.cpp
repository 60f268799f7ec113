#include "core/module/descriptor.hpp"

#include <algorithm>
#include <cmath>

namespace kabel {

std::string_view toString(SignalKind kind) noexcept {
    switch (kind) {
        case SignalKind::Audio:
            return "audio";
        case SignalKind::Pitch:
            return "pitch";
        case SignalKind::Gate:
            return "gate";
        case SignalKind::Control:
            return "control";
    }
    return "?";
}

std::string_view toString(ParamCurve curve) noexcept {
    switch (curve) {
        case ParamCurve::Linear:
            return "linear";
        case ParamCurve::Exponential:
            return "exponential";
        case ParamCurve::Integer:
            return "integer";
        case ParamCurve::Choice:
            return "choice";
        case ParamCurve::Toggle:
            return "toggle";
    }
    return "?";
}

float ParamDescriptor::clamp(float value) const noexcept {
    if (std::isnan(value)) return defaultValue;
    value = std::clamp(value, min, max);
    switch (curve) {
        case ParamCurve::Integer:
        case ParamCurve::Choice:
            return std::round(value);
        case ParamCurve::Toggle:
            return value >= 0.5f ? 1.0f : 0.0f;
        default:
            return value;
    }
}

float ParamDescriptor::fromNormalized(float x) const noexcept {
    x = std::clamp(std::isnan(x) ? 0.0f : x, 0.0f, 1.0f);
    if (curve == ParamCurve::Exponential) return clamp(min * std::pow(max / min, x));
    return clamp(min + x * (max - min));
}

float ParamDescriptor::toNormalized(float value) const noexcept {
    value = clamp(value);
    if (max <= min) return 0.0f;
    if (curve == ParamCurve::Exponential) return std::log(value / min) / std::log(max / min);
    return (value - min) / (max - min);
}

namespace {
template <typename Items>
int indexOf(const Items& items, std::string_view id) noexcept {
    for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].id == id) return static_cast<int>(i);
    return -1;
}
}  // namespace

int ModuleDescriptor::inputIndex(std::string_view portId) const noexcept {
    return indexOf(inputs, portId);
}
int ModuleDescriptor::outputIndex(std::string_view portId) const noexcept {
    return indexOf(outputs, portId);
}
int ModuleDescriptor::paramIndex(std::string_view paramId) const noexcept {
    return indexOf(params, paramId);
}

bool isValidId(std::string_view id) noexcept {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

}  // namespace kabel
