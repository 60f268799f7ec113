// Performance mode (see performance.hpp).
#include "gui/model/performance.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace kabel::editor {

using nlohmann::json;

namespace {

// The document's value of a param: as written, else the default.
double currentValue(const ModuleSpec& spec, const ParamDescriptor& param) {
    const auto it = spec.params.find(param.id);
    return it != spec.params.end() ? it->second : static_cast<double>(param.defaultValue);
}

double interpolate(ParamCurve curve, double a, double b, double t) {
    if (t <= 0.0) return a;
    if (t >= 1.0) return b;
    switch (curve) {
        case ParamCurve::Integer:
        case ParamCurve::Choice:
        case ParamCurve::Toggle:
            return t >= 0.5 ? b : a;
        case ParamCurve::Exponential:
            if (a > 0.0 && b > 0.0) return a * std::pow(b / a, t);
            break;
        case ParamCurve::Linear:
            break;
    }
    return (1.0 - t) * a + t * b;
}

// Thrown while reading: the JSON pointer and what is wrong there.
struct Bad {
    std::string where, what;
};

const json& member(const json& object, const char* key, const std::string& where) {
    if (!object.is_object()) throw Bad{where, "expected an object"};
    const auto it = object.find(key);
    if (it == object.end()) throw Bad{where + "/" + key, "missing"};
    return *it;
}

double number(const json& value, const std::string& where) {
    if (!value.is_number()) throw Bad{where, "expected a number"};
    const double v = value.get<double>();
    if (!std::isfinite(v)) throw Bad{where, "expected a finite number"};
    return v;
}

std::string text(const json& value, const std::string& where) {
    if (!value.is_string()) throw Bad{where, "expected a string"};
    return value.get<std::string>();
}

Snapshot readSnapshot(const json& s, const std::string& where) {
    Snapshot snap;
    snap.name = text(member(s, "name", where), where + "/name");
    const json& values = member(s, "values", where);
    if (!values.is_object()) throw Bad{where + "/values", "expected an object"};
    for (const auto& [module, params] : values.items()) {
        const std::string w = where + "/values/" + module;
        if (!params.is_object()) throw Bad{w, "expected an object"};
        auto& out = snap.values[module];
        for (const auto& [param, value] : params.items()) out[param] = number(value, w + "/" + param);
    }
    return snap;
}

Performance readObject(const json& p) {
    if (!p.is_object()) throw Bad{"", "expected an object"};
    Performance perf;
    json extra = json::object();
    for (const auto& [key, value] : p.items()) {
        if (key == "snapshots") {
            if (!value.is_array()) throw Bad{"/snapshots", "expected an array"};
            for (std::size_t i = 0; i < value.size(); ++i)
                perf.snapshots.push_back(readSnapshot(value[i], "/snapshots/" + std::to_string(i)));
        } else if (key == "morph") {
            if (!value.is_object()) throw Bad{"/morph", "expected an object"};
            const auto index = [&](const char* k) {
                if (!value.contains(k)) return -1;
                const double v = number(value[k], std::string("/morph/") + k);
                if (v != std::floor(v) || v < -1.0 || v >= 1e9) throw Bad{std::string("/morph/") + k, "expected a snapshot index"};
                return static_cast<int>(v);
            };
            perf.morphA = index("a");
            perf.morphB = index("b");
            if (value.contains("position")) perf.morph = std::clamp(number(value["position"], "/morph/position"), 0.0, 1.0);
        } else if (key == "automation") {
            if (!value.is_object()) throw Bad{"/automation", "expected an object"};
            const double length = number(member(value, "length", "/automation"), "/automation/length");
            if (length < 0.0) throw Bad{"/automation/length", "expected a length >= 0"};
            std::vector<AutomationEvent> events;
            if (value.contains("events")) {
                const json& list = value["events"];
                if (!list.is_array()) throw Bad{"/automation/events", "expected an array"};
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const std::string w = "/automation/events/" + std::to_string(i);
                    const json& e = list[i];
                    if (!e.is_array() || e.size() != 4) throw Bad{w, "expected [time, module, param, value]"};
                    events.push_back({number(e[0], w + "/0"), text(e[1], w + "/1"), text(e[2], w + "/2"), number(e[3], w + "/3")});
                }
            }
            perf.automation.assign(std::move(events), length);
        } else {
            extra[key] = value;
        }
    }
    const int n = static_cast<int>(perf.snapshots.size());
    if (perf.morphA >= n) throw Bad{"/morph/a", "no snapshot " + std::to_string(perf.morphA)};
    if (perf.morphB >= n) throw Bad{"/morph/b", "no snapshot " + std::to_string(perf.morphB)};
    if (!extra.empty()) perf.extraJson = extra.dump();
    return perf;
}

}  // namespace

Snapshot captureSnapshot(const Patch& patch, const Registry& registry, std::string name) {
    Snapshot snap;
    snap.name = std::move(name);
    for (const ModuleSpec& spec : patch.modules) {
        const ModuleDescriptor* d = registry.find(spec.type);
        if (!d) continue;
        auto& values = snap.values[spec.id];
        for (const ParamDescriptor& p : d->params) values[p.id] = currentValue(spec, p);
    }
    return snap;
}

std::vector<ParamChange> recall(const Snapshot& snapshot, const Patch& current, const Registry& registry) {
    return morph(snapshot, snapshot, 0.0, current, registry);
}

std::vector<ParamChange> morph(const Snapshot& a, const Snapshot& b, double t, const Patch& current, const Registry& registry) {
    t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0);
    std::vector<ParamChange> out;
    for (const auto& [module, valuesA] : a.values) {
        const auto itB = b.values.find(module);
        if (itB == b.values.end()) continue;
        const ModuleSpec* spec = current.findModule(module);
        const ModuleDescriptor* d = spec ? registry.find(spec->type) : nullptr;
        if (!d) continue;
        for (const auto& [param, va] : valuesA) {
            const auto vb = itB->second.find(param);
            const int index = d->paramIndex(param);
            if (vb == itB->second.end() || index < 0) continue;
            const ParamDescriptor& p = d->params[static_cast<std::size_t>(index)];
            const double value = interpolate(p.curve, va, vb->second, t);
            if (value != currentValue(*spec, p)) out.push_back({module, param, value});
        }
    }
    return out;
}

void Automation::startRecording(double now) {
    events_.clear();
    length_ = 0.0;
    start_ = now;
    recording_ = true;
}

void Automation::record(double now, std::string module, std::string param, double value) {
    if (!recording_) return;
    events_.push_back({std::max(0.0, now - start_), std::move(module), std::move(param), value});
}

void Automation::stopRecording(double now) {
    if (!recording_) return;
    recording_ = false;
    // Clocks are monotonic, but a caller may pass times out of order: keep the events sorted.
    std::stable_sort(events_.begin(), events_.end(), [](const AutomationEvent& x, const AutomationEvent& y) { return x.time < y.time; });
    length_ = std::max(now - start_, events_.empty() ? 0.0 : events_.back().time);
}

std::vector<ParamChange> Automation::due(double from, double to) const {
    std::vector<ParamChange> out;
    if (recording_ || events_.empty() || !(length_ > 0.0) || !(to > from)) return out;
    from = std::max(from, to - length_);  // at most one loop: each event once
    std::vector<std::pair<double, std::size_t>> hits;
    for (std::size_t i = 0; i < events_.size(); ++i) {
        const double e = events_[i].time;
        // The first occurrence e + k length (k >= 0) after `from`.
        const double k = std::max(0.0, std::floor((from - e) / length_) + 1.0);
        double at = e + k * length_;
        if (at <= from) at += length_;  // rounding in the division
        if (at <= to) hits.emplace_back(at, i);
    }
    std::stable_sort(hits.begin(), hits.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [at, i] : hits) out.push_back({events_[i].module, events_[i].param, events_[i].value});
    return out;
}

void Automation::clear() {
    *this = Automation{};
}

void Automation::assign(std::vector<AutomationEvent> events, double length) {
    clear();
    length_ = std::max(0.0, length);
    for (AutomationEvent& e : events) e.time = std::clamp(e.time, 0.0, length_);
    std::stable_sort(events.begin(), events.end(), [](const AutomationEvent& x, const AutomationEvent& y) { return x.time < y.time; });
    events_ = std::move(events);
}

bool Performance::empty() const noexcept {
    return snapshots.empty() && morphA < 0 && morphB < 0 && morph == 0.0 && automation.empty() && automation.length() == 0.0 &&
           extraJson.empty();
}

Performance readPerformance(const Patch& patch, std::string* problem) {
    const auto fail = [&](const std::string& what) {
        if (problem) *problem = "performance: " + what;
        return Performance{};
    };
    if (problem) problem->clear();
    if (patch.extraJson.empty()) return {};
    json doc;
    try {
        doc = json::parse(patch.extraJson);
    } catch (const json::exception& e) {
        return fail(std::string("the patch's extra keys are not JSON: ") + e.what());
    }
    if (!doc.is_object() || !doc.contains("performance")) return {};
    try {
        return readObject(doc["performance"]);
    } catch (const Bad& bad) {
        return fail(bad.where.empty() ? bad.what : bad.where + ": " + bad.what);
    }
}

void writePerformance(Patch& patch, const Performance& performance) {
    json doc = patch.extraJson.empty() ? json::object() : json::parse(patch.extraJson);
    if (!doc.is_object()) throw std::invalid_argument("Patch::extraJson is not a JSON object");
    if (performance.empty()) {
        doc.erase("performance");
    } else {
        json p = performance.extraJson.empty() ? json::object() : json::parse(performance.extraJson);
        const auto finite = [](double v) { return std::isfinite(v); };
        if (!performance.snapshots.empty()) {
            json list = json::array();
            for (const Snapshot& s : performance.snapshots) {
                json values = json::object();
                for (const auto& [module, params] : s.values) {
                    json m = json::object();
                    for (const auto& [param, value] : params)
                        if (finite(value)) m[param] = value;
                    values[module] = std::move(m);
                }
                list.push_back({{"name", s.name}, {"values", std::move(values)}});
            }
            p["snapshots"] = std::move(list);
        }
        if (performance.morphA >= 0 || performance.morphB >= 0 || performance.morph != 0.0) {
            json m = json::object();
            if (performance.morphA >= 0) m["a"] = performance.morphA;
            if (performance.morphB >= 0) m["b"] = performance.morphB;
            if (finite(performance.morph)) m["position"] = performance.morph;
            p["morph"] = std::move(m);
        }
        const Automation& a = performance.automation;
        if (!a.empty() || a.length() > 0.0) {
            json events = json::array();
            for (const AutomationEvent& e : a.events())
                if (finite(e.time) && finite(e.value)) events.push_back({e.time, e.module, e.param, e.value});
            p["automation"] = {{"length", finite(a.length()) ? a.length() : 0.0}, {"events", std::move(events)}};
        }
        doc["performance"] = std::move(p);
    }
    patch.extraJson = doc.empty() ? std::string() : doc.dump();
}

}  // namespace kabel::editor
