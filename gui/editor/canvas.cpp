// The node canvas: drawing modules and cables with ImDrawList, hit-testing by hand, and the
// mouse gestures (select, box-select, move, patch, re-patch, knob drags, pan, zoom).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/module/module.hpp"
#include "gui/editor/editor.hpp"
#include "gui/editor/views.hpp"
#include "gui/model/live_views.hpp"

namespace kabel::editor {

namespace {

using Clock = std::chrono::steady_clock;

constexpr float kPortRadius = 5.0f;
constexpr ImU32 kBody = IM_COL32(44, 46, 52, 255);
constexpr ImU32 kBorder = IM_COL32(20, 20, 24, 255);
constexpr ImU32 kSelected = IM_COL32(255, 200, 60, 255);
constexpr ImU32 kMuted = IM_COL32(220, 50, 45, 255);  // a module the engine muted for NaN/Inf
constexpr ImU32 kText = IM_COL32(225, 225, 230, 255);
constexpr ImU32 kDim = IM_COL32(150, 150, 160, 255);

ImVec2 add(ImVec2 a, ImVec2 b) {
    return ImVec2(a.x + b.x, a.y + b.y);
}
ImVec2 sub(ImVec2 a, ImVec2 b) {
    return ImVec2(a.x - b.x, a.y - b.y);
}
float distanceSq(ImVec2 a, ImVec2 b) {
    return (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
}

// The header colour of a category (stable, muted).
ImU32 categoryColour(const std::string& category) {
    static const std::pair<const char*, ImU32> kColours[] = {
        {"Oscillators", IM_COL32(60, 100, 160, 255)}, {"Filters", IM_COL32(150, 90, 50, 255)},  {"Envelopes", IM_COL32(70, 130, 90, 255)},
        {"Modulation", IM_COL32(110, 80, 150, 255)},  {"Effects", IM_COL32(140, 60, 90, 255)},  {"Sequencing", IM_COL32(150, 130, 50, 255)},
        {"Tuning", IM_COL32(40, 130, 130, 255)},      {"Utilities", IM_COL32(80, 85, 95, 255)}, {"Sampling", IM_COL32(120, 100, 70, 255)},
        {"I/O", IM_COL32(50, 60, 70, 255)},
    };
    for (const auto& [name, colour] : kColours)
        if (category == name) return colour;
    return IM_COL32(80, 85, 95, 255);
}

// Cubic bezier control points of a cable from an output (left) to an input (right).
void cablePoints(ImVec2 from, ImVec2 to, float zoom, ImVec2 (&p)[4]) {
    const float dx = std::max(40.0f * zoom, std::abs(to.x - from.x) * 0.5f);
    p[0] = from;
    p[1] = ImVec2(from.x + dx, from.y);
    p[2] = ImVec2(to.x - dx, to.y);
    p[3] = to;
}

ImVec2 bezierAt(const ImVec2 (&p)[4], float t) {
    const float u = 1.0f - t;
    const float a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
    return ImVec2(a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x, a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y);
}

// Squared distance from `m` to the polyline through 20 points of the curve.
float bezierDistanceSq(const ImVec2 (&p)[4], ImVec2 m) {
    float best = 1e30f;
    ImVec2 a = p[0];
    for (int i = 1; i <= 20; ++i) {
        const ImVec2 b = bezierAt(p, static_cast<float>(i) / 20.0f);
        const ImVec2 ab = sub(b, a), am = sub(m, a);
        const float len = ab.x * ab.x + ab.y * ab.y;
        const float t = len > 0.0f ? std::clamp((am.x * ab.x + am.y * ab.y) / len, 0.0f, 1.0f) : 0.0f;
        best = std::min(best, distanceSq(m, ImVec2(a.x + t * ab.x, a.y + t * ab.y)));
        a = b;
    }
    return best;
}

// "440 Hz", "0.25 s", "Sine" (choices), "on/off".
std::string formatValue(const ParamDescriptor& p, double value) {
    char text[64];
    switch (p.curve) {
        case ParamCurve::Choice: {
            const auto i = static_cast<std::size_t>(std::clamp<long>(std::lround(value), 0, static_cast<long>(p.choices.size()) - 1));
            return p.choices.empty() ? std::to_string(std::lround(value)) : p.choices[i];
        }
        case ParamCurve::Toggle:
            return value >= 0.5 ? "on" : "off";
        case ParamCurve::Integer:
            std::snprintf(text, sizeof text, "%ld%s%s", std::lround(value), p.unit.empty() ? "" : " ", p.unit.c_str());
            return text;
        default:
            break;
    }
    const double a = std::abs(value);
    const char* format = a >= 1000 ? "%.0f" : a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : "%.3f";
    std::snprintf(text, sizeof text, format, value);
    return std::string(text) + (p.unit.empty() ? "" : " " + p.unit);
}

double paramValue(const ModuleSpec& module, const ParamDescriptor& p) {
    const auto it = module.params.find(p.id);
    return it == module.params.end() ? p.defaultValue : it->second;
}

}  // namespace

ImU32 Editor::kindColour(SignalKind kind, float alpha) {
    const auto a = static_cast<int>(255.0f * alpha);
    switch (kind) {
        case SignalKind::Audio:
            return IM_COL32(240, 200, 70, a);
        case SignalKind::Pitch:
            return IM_COL32(90, 170, 250, a);
        case SignalKind::Gate:
            return IM_COL32(240, 90, 90, a);
        case SignalKind::Control:
            return IM_COL32(120, 220, 140, a);
    }
    return IM_COL32(200, 200, 200, a);
}

const NodeLayout& Editor::layout(const ModuleSpec& module) {
    const auto found = layouts_.find(module.type);
    if (found != layouts_.end()) return found->second;
    return layouts_.emplace(module.type, nodeLayout(module.type)).first->second;
}

ImVec2 Editor::toScreen(float x, float y) const {
    return ImVec2(origin_.x + (x + pan_.x) * zoom_, origin_.y + (y + pan_.y) * zoom_);
}

ImVec2 Editor::toCanvas(ImVec2 screen) const {
    return ImVec2((screen.x - origin_.x) / zoom_ - pan_.x, (screen.y - origin_.y) / zoom_ - pan_.y);
}

// A module's canvas position, including the offset of a move in progress.
static ImVec2 nodePosition(const ModuleSpec& m, bool moving, ImVec2 offset) {
    return moving ? ImVec2(m.x + offset.x, m.y + offset.y) : ImVec2(m.x, m.y);
}

ImVec2 Editor::portPosition(const ModuleSpec& module, bool output, int index) {
    const NodeLayout& l = layout(module);
    const bool moving = drag_ == DragKind::Move && selected_.count(module.id);
    const ImVec2 offset = moving ? sub(toCanvas(ImGui::GetMousePos()), toCanvas(dragStart_)) : ImVec2(0, 0);
    const ImVec2 p = nodePosition(module, moving, offset);
    return toScreen(p.x + (output ? l.width : 0.0f), p.y + l.header + (static_cast<float>(index) + 0.5f) * l.row);
}

bool Editor::cableCurve(const PortRef& from, const PortRef& to, ImVec2 (&p)[4], SignalKind& kind) {
    const Patch& doc = patch();
    const ModuleSpec* a = doc.findModule(from.module);
    const ModuleSpec* b = doc.findModule(to.module);
    const ModuleDescriptor* ad = a ? Registry::global().find(a->type) : nullptr;
    const ModuleDescriptor* bd = b ? Registry::global().find(b->type) : nullptr;
    const int out = ad ? ad->outputIndex(from.port) : -1;
    const int in = bd ? bd->inputIndex(to.port) : -1;
    if (out < 0 || in < 0) return false;
    cablePoints(portPosition(*a, true, out), portPosition(*b, false, in), zoom_, p);
    kind = ad->outputs[static_cast<std::size_t>(out)].kind;
    return true;
}

Editor::Hit Editor::hitTest(ImVec2 mouse) {
    const Patch& doc = patch();
    const float portReach = std::max(8.0f, kPortRadius * zoom_ + 3.0f);
    for (auto it = doc.modules.rbegin(); it != doc.modules.rend(); ++it) {
        const ModuleSpec& m = *it;
        const NodeLayout& l = layout(m);
        const ImVec2 min = toScreen(m.x, m.y);
        const ImVec2 max = toScreen(m.x + l.width, m.y + l.height);
        if (mouse.x < min.x - portReach || mouse.x > max.x + portReach || mouse.y < min.y || mouse.y > max.y) continue;
        const ModuleDescriptor* d = Registry::global().find(m.type);
        if (d) {
            for (int i = 0; i < static_cast<int>(d->inputs.size()); ++i)
                if (distanceSq(mouse, portPosition(m, false, i)) <= portReach * portReach) return Hit{Hit::Input, m.id, i};
            for (int i = 0; i < static_cast<int>(d->outputs.size()); ++i)
                if (distanceSq(mouse, portPosition(m, true, i)) <= portReach * portReach) return Hit{Hit::Output, m.id, i};
        }
        if (mouse.x < min.x || mouse.x > max.x) continue;
        const float y = (mouse.y - min.y) / zoom_;
        if (y < l.header) return Hit{Hit::Header, m.id, -1};
        const float paramTop = l.header + static_cast<float>(l.portRows) * l.row;
        if (d && y >= paramTop && y < paramTop + static_cast<float>(l.paramRows) * l.row)
            return Hit{Hit::Param, m.id, static_cast<int>((y - paramTop) / l.row)};
        return Hit{Hit::Body, m.id, -1};
    }
    // Cables: the nearest within 6 px.
    float best = 36.0f;
    Hit hit;
    for (std::size_t i = 0; i < doc.cables.size(); ++i) {
        ImVec2 p[4];
        SignalKind kind;
        if (!cableCurve(doc.cables[i].from, doc.cables[i].to, p, kind)) continue;
        const float lo = std::min({p[0].x, p[3].x}) - 60.0f * zoom_, hi = std::max({p[0].x, p[3].x}) + 60.0f * zoom_;
        if (mouse.x < lo || mouse.x > hi || mouse.y < std::min(p[0].y, p[3].y) - 10 || mouse.y > std::max(p[0].y, p[3].y) + 10) continue;
        const float d2 = bezierDistanceSq(p, mouse);
        if (d2 < best) {
            best = d2;
            hit = Hit{Hit::Cable, {}, static_cast<int>(i)};
        }
    }
    return hit;
}

void Editor::drawNode(ImDrawList* draw, const ModuleSpec& m, const ModuleDescriptor* d, bool hovered) {
    const NodeLayout& l = layout(m);
    const bool moving = drag_ == DragKind::Move && selected_.count(m.id);
    const ImVec2 pos = nodePosition(m, moving, moving ? sub(toCanvas(ImGui::GetMousePos()), toCanvas(dragStart_)) : ImVec2(0, 0));
    const ImVec2 min = toScreen(pos.x, pos.y);
    const ImVec2 max = toScreen(pos.x + l.width, pos.y + l.height);
    const float z = zoom_;
    const float rounding = 5.0f * z;
    ImFont* font = ImGui::GetFont();
    const float fontSize = ImGui::GetFont()->FontSize * z;
    const bool text = z >= 0.45f;

    draw->AddRectFilled(add(min, ImVec2(3 * z, 3 * z)), add(max, ImVec2(3 * z, 3 * z)), IM_COL32(0, 0, 0, 90), rounding);
    draw->AddRectFilled(min, max, kBody, rounding);
    const ImU32 header = d ? categoryColour(d->category) : IM_COL32(150, 40, 40, 255);
    draw->AddRectFilled(min, ImVec2(max.x, min.y + l.header * z), header, rounding, ImDrawFlags_RoundCornersTop);
    const bool selected = selected_.count(m.id) > 0;
    const bool muted = muted_.count(m.id) > 0;  // the engine silenced it: NaN/Inf (tick)
    draw->AddRect(min, max,
                  muted      ? kMuted
                  : selected ? kSelected
                  : hovered  ? IM_COL32(120, 120, 130, 255)
                             : kBorder,
                  rounding, 0,
                  muted      ? 3.0f
                  : selected ? 2.0f
                             : 1.0f);
    if (text) {
        const std::string title = !m.label.empty() ? m.label : d ? d->name : m.type + " (missing)";
        draw->AddText(font, fontSize, ImVec2(min.x + 6 * z, min.y + 5 * z), kText, title.c_str());
        // The flag of a muted module takes the id's place at the header's right end.
        const char* right = muted ? "NaN: muted" : m.id.c_str();
        const float idWidth = font->CalcTextSizeA(fontSize * 0.85f, 1e9f, 0.0f, right).x;
        const float titleWidth = font->CalcTextSizeA(fontSize, 1e9f, 0.0f, title.c_str()).x;
        const ImVec2 at(max.x - idWidth - 6 * z, min.y + 6 * z);
        if (muted) {
            draw->AddRectFilled(ImVec2(at.x - 3 * z, min.y + 3 * z), ImVec2(max.x - 3 * z, min.y + (l.header - 3) * z), kMuted, 3 * z);
            draw->AddText(font, fontSize * 0.85f, at, IM_COL32(255, 255, 255, 255), right);
        } else if (titleWidth + idWidth + 18 * z < max.x - min.x && title != m.id) {
            draw->AddText(font, fontSize * 0.85f, at, IM_COL32(230, 230, 235, 150), right);
        }
    }
    if (!d) {
        if (text)
            draw->AddText(font, fontSize * 0.9f, ImVec2(min.x + 6 * z, min.y + (l.header + 2) * z), IM_COL32(255, 140, 140, 255),
                          "not in this build: kept as is");
        return;
    }

    const Patch& doc = patch();
    const auto channels = host_->session().report().outputChannels.find(m.id);
    for (int i = 0; i < static_cast<int>(d->inputs.size()); ++i) {
        const PortDescriptor& port = d->inputs[static_cast<std::size_t>(i)];
        const ImVec2 p = portPosition(m, false, i);
        const bool connected = std::any_of(doc.cables.begin(), doc.cables.end(),
                                           [&](const CableSpec& c) { return c.to.module == m.id && c.to.port == port.id; });
        if (connected)
            draw->AddCircleFilled(p, kPortRadius * z, kindColour(port.kind));
        else
            draw->AddCircle(p, kPortRadius * z, kindColour(port.kind), 12, 1.5f * z);
        if (text) draw->AddText(font, fontSize * 0.9f, ImVec2(p.x + 9 * z, p.y - fontSize * 0.45f), kDim, port.name.c_str());
    }
    for (int i = 0; i < static_cast<int>(d->outputs.size()); ++i) {
        const PortDescriptor& port = d->outputs[static_cast<std::size_t>(i)];
        const ImVec2 p = portPosition(m, true, i);
        draw->AddCircleFilled(p, kPortRadius * z, kindColour(port.kind));
        if (!text) continue;
        std::string name = port.name;
        if (channels != host_->session().report().outputChannels.end() && static_cast<std::size_t>(i) < channels->second.size() &&
            channels->second[static_cast<std::size_t>(i)] > 1)
            name = "[" + std::to_string(channels->second[static_cast<std::size_t>(i)]) + "] " + name;  // poly: channel count
        const float w = font->CalcTextSizeA(fontSize * 0.9f, 1e9f, 0.0f, name.c_str()).x;
        draw->AddText(font, fontSize * 0.9f, ImVec2(p.x - 9 * z - w, p.y - fontSize * 0.45f), kDim, name.c_str());
    }

    // Inline params: a bar per param, its fill the control position, its text name and value.
    const float paramTop = l.header + static_cast<float>(l.portRows) * l.row;
    for (int i = 0; i < static_cast<int>(d->params.size()); ++i) {
        const ParamDescriptor& p = d->params[static_cast<std::size_t>(i)];
        const double value = paramValue(m, p);
        const ImVec2 a = ImVec2(min.x + 6 * z, min.y + (paramTop + static_cast<float>(i) * l.row + 2) * z);
        const ImVec2 b = ImVec2(max.x - 6 * z, min.y + (paramTop + static_cast<float>(i + 1) * l.row - 2) * z);
        draw->AddRectFilled(a, b, IM_COL32(28, 29, 33, 255), 3 * z);
        const float x = std::clamp(p.toNormalized(static_cast<float>(value)), 0.0f, 1.0f);
        draw->AddRectFilled(a, ImVec2(a.x + (b.x - a.x) * x, b.y), IM_COL32(80, 110, 160, 200), 3 * z);
        if (text) {
            draw->AddText(font, fontSize * 0.85f, ImVec2(a.x + 4 * z, a.y + 1 * z), kText, p.name.c_str());
            const std::string v = formatValue(p, value);
            const float w = font->CalcTextSizeA(fontSize * 0.85f, 1e9f, 0.0f, v.c_str()).x;
            draw->AddText(font, fontSize * 0.85f, ImVec2(b.x - w - 4 * z, a.y + 1 * z), kText, v.c_str());
        }
    }

    // Live views and the CPU meter.
    Module* instance = host_->session().instance(m.id);
    if (l.viewHeight > 0.0f && instance && instance->tap(0)) {
        const ImVec2 a = ImVec2(min.x + 6 * z, min.y + l.viewTop * z);
        const ImVec2 b = ImVec2(max.x - 6 * z, min.y + (l.viewTop + l.viewHeight) * z);
        if (m.type == "scope") {
            drawScopeModule(draw, a, b, *instance->tap(0), scopeSettings(m), host_->sampleRate(), kindColour(SignalKind::Audio),
                            kindColour(SignalKind::Pitch));
        } else {
            auto& view = spectra_[m.id];
            if (!view) view = std::make_unique<SpectrumView>();
            const auto size = m.params.find("size");
            view->setSize(spectrumSize(size == m.params.end() ? 2.0 : size->second));
            view->draw(draw, a, b, *instance->tap(0), 0, host_->sampleRate(), kindColour(SignalKind::Control));
        }
        animating_ = true;
    }
    if (educator_ && instance) {
        const auto cpu = cpu_.find(m.id);
        drawCpuMeter(draw, ImVec2(min.x + 6 * z, max.y - 6 * z), ImVec2(max.x - 6 * z, max.y - 3 * z),
                     cpu == cpu_.end() ? 0.0f : cpu->second.second);
    }
}

void Editor::drawCables(ImDrawList* draw, const Hit& hover) {
    const Patch& doc = patch();
    const auto& feedback = host_->session().report().feedback;
    ImFont* font = ImGui::GetFont();
    for (std::size_t i = 0; i < doc.cables.size(); ++i) {
        const CableSpec& c = doc.cables[i];
        if (drag_ == DragKind::MoveCable && movingCable_ && static_cast<int>(i) == dragFrom_.index) continue;
        ImVec2 p[4];
        SignalKind kind;
        if (!cableCurve(c.from, c.to, p, kind)) continue;
        const bool hot = (hover.kind == Hit::Cable && hover.index == static_cast<int>(i)) || selectedCable_ == static_cast<int>(i);
        const bool delayed = std::any_of(feedback.begin(), feedback.end(),
                                         [&](const FeedbackCable& f) { return f.from == c.from.str() && f.to == c.to.str(); });
        const float width = (hot ? 4.0f : 2.5f) * std::max(0.6f, zoom_);
        draw->AddBezierCubic(p[0], p[1], p[2], p[3], kindColour(kind, hot ? 1.0f : 0.75f), width);
        if (delayed) {
            // A feedback cable: read one block late. Marked with its delay at the middle.
            const ImVec2 mid = bezierAt(p, 0.5f);
            const std::string label = "z-1 " + std::to_string(host_->engine().config().blockFrames) + " smp";
            const ImVec2 size = font->CalcTextSizeA(ImGui::GetFont()->FontSize * 0.85f, 1e9f, 0.0f, label.c_str());
            draw->AddRectFilled(ImVec2(mid.x - size.x / 2 - 3, mid.y - size.y / 2 - 1),
                                ImVec2(mid.x + size.x / 2 + 3, mid.y + size.y / 2 + 1), IM_COL32(20, 20, 24, 230), 3.0f);
            draw->AddText(font, ImGui::GetFont()->FontSize * 0.85f, ImVec2(mid.x - size.x / 2, mid.y - size.y / 2), kindColour(kind),
                          label.c_str());
        }
    }
}

void Editor::canvas() {
    origin_ = ImGui::GetCursorScreenPos();
    canvasSize_ = ImGui::GetContentRegionAvail();
    if (canvasSize_.x < 50.0f) canvasSize_.x = 50.0f;
    if (canvasSize_.y < 50.0f) canvasSize_.y = 50.0f;
    if (fitPending_) {
        // A new patch opens showing as much of it as stays readable.
        fitPending_ = false;
        zoom_ = 1.0f;
        pan_ = ImVec2(40.0f, 40.0f);
        zoomToFit(0.6f, 1.0f);
    }
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const ImVec2 end = add(origin_, canvasSize_);
    draw->AddRectFilled(origin_, end, IM_COL32(30, 31, 36, 255));
    // Grid: every 40 canvas units, stronger every 200.
    for (int major = 0; major < 2; ++major) {
        const float step = (major ? 200.0f : 40.0f) * zoom_;
        if (step < 8.0f) continue;
        const ImU32 colour = major ? IM_COL32(60, 62, 70, 255) : IM_COL32(40, 41, 48, 255);
        for (float x = std::fmod(pan_.x * zoom_, step); x < canvasSize_.x; x += step)
            draw->AddLine(ImVec2(origin_.x + x, origin_.y), ImVec2(origin_.x + x, end.y), colour);
        for (float y = std::fmod(pan_.y * zoom_, step); y < canvasSize_.y; y += step)
            draw->AddLine(ImVec2(origin_.x, origin_.y + y), ImVec2(end.x, origin_.y + y), colour);
    }

    ImGui::InvisibleButton("canvas", canvasSize_,
                           ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight | ImGuiButtonFlags_MouseButtonMiddle);
    const bool canvasHovered = ImGui::IsItemHovered();
    draw->PushClipRect(origin_, end, true);

    // CPU shares, twice a second.
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - lastCpu_).count();
    if (educator_ && elapsed >= 0.5) {
        lastCpu_ = now;
        for (const ModuleSpec& m : patch().modules) {
            const Module* instance = host_->session().instance(m.id);
            if (!instance) continue;
            auto& [last, share] = cpu_[m.id];
            const std::uint64_t nanos = instance->cpuNanos();
            share = last == 0 && share == 0.0f ? 0.0f : static_cast<float>(static_cast<double>(nanos - last) / (elapsed * 1e9));
            last = nanos;
        }
    }

    const Hit hover = canvasHovered && drag_ == DragKind::None ? hitTest(ImGui::GetMousePos()) : Hit{};
    drawCables(draw, hover);
    const Patch& doc = patch();
    for (const ModuleSpec& m : doc.modules) {
        const NodeLayout& l = layout(m);
        const ImVec2 min = toScreen(m.x, m.y);
        const ImVec2 max = toScreen(m.x + l.width, m.y + l.height);
        const bool moving = drag_ == DragKind::Move && selected_.count(m.id);
        if (!moving && (max.x < origin_.x - 20 || max.y < origin_.y || min.x > end.x + 20 || min.y > end.y)) continue;  // off screen
        drawNode(draw, m, Registry::global().find(m.type), hover.module == m.id);
    }
    if (educator_) drawProbes(draw, hover);
    canvasMouse(hover, canvasHovered);
    draw->PopClipRect();
    nodeContextMenu();
    traceLayout();
}

void Editor::canvasMouse(const Hit& hover, bool canvasHovered) {
    ImGuiIO& io = ImGui::GetIO();
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const ImVec2 mouse = io.MousePos;
    const Patch& doc = patch();

    // Zoom about the mouse.
    if (canvasHovered && io.MouseWheel != 0.0f && drag_ == DragKind::None) {
        const ImVec2 before = toCanvas(mouse);
        zoom_ = std::clamp(zoom_ * std::pow(1.15f, io.MouseWheel), 0.1f, 2.5f);
        pan_ = ImVec2((mouse.x - origin_.x) / zoom_ - before.x, (mouse.y - origin_.y) / zoom_ - before.y);
    }
    // Pan: middle drag, or right drag on the canvas.
    if (canvasHovered && (ImGui::IsMouseClicked(ImGuiMouseButton_Middle))) drag_ = DragKind::Pan;
    if (canvasHovered && ImGui::IsMouseDragging(ImGuiMouseButton_Right, 4.0f) && drag_ == DragKind::None) drag_ = DragKind::Pan;
    if (drag_ == DragKind::Pan) {
        pan_ = ImVec2(pan_.x + io.MouseDelta.x / zoom_, pan_.y + io.MouseDelta.y / zoom_);
        if (!ImGui::IsMouseDown(ImGuiMouseButton_Middle) && !ImGui::IsMouseDown(ImGuiMouseButton_Right)) drag_ = DragKind::None;
        return;
    }
    // Right click (no drag): the node menu, or the browser on empty canvas.
    if (canvasHovered && ImGui::IsMouseReleased(ImGuiMouseButton_Right) && drag_ == DragKind::None) {
        if (hover.kind == Hit::Cable) {
            selectedCable_ = hover.index;
            deleteSelection();
        } else if (!hover.module.empty()) {
            if (!selected_.count(hover.module)) selectOnly(hover.module);
            ImGui::OpenPopup("node menu");
        } else {
            browserOpen_ = true;
            browserFocus_ = true;
            browserAt_ = toCanvas(mouse);
        }
    }

    if (canvasHovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left) && drag_ == DragKind::None) {
        dragFrom_ = hover;
        dragStart_ = mouse;
        const bool additive = io.KeyShift || io.KeyCtrl;
        switch (hover.kind) {
            case Hit::Output:
                drag_ = DragKind::NewCableFromOutput;
                break;
            case Hit::Input: {
                const ModuleSpec* m = doc.findModule(hover.module);
                const ModuleDescriptor* d = m ? Registry::global().find(m->type) : nullptr;
                const std::string port = d ? d->inputs[static_cast<std::size_t>(hover.index)].id : std::string{};
                // Lift the newest cable off a connected input; start a cable from a free one.
                int cable = -1;
                for (std::size_t i = 0; i < doc.cables.size(); ++i)
                    if (doc.cables[i].to.module == hover.module && doc.cables[i].to.port == port) cable = static_cast<int>(i);
                if (cable >= 0) {
                    drag_ = DragKind::MoveCable;
                    movingCable_ = doc.cables[static_cast<std::size_t>(cable)];
                    dragFrom_.index = cable;
                } else {
                    drag_ = DragKind::NewCableFromInput;
                }
                break;
            }
            case Hit::Param:
                if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
                    const ModuleSpec* m = doc.findModule(hover.module);
                    const ModuleDescriptor* d = m ? Registry::global().find(m->type) : nullptr;
                    if (d) {
                        const ParamDescriptor& p = d->params[static_cast<std::size_t>(hover.index)];
                        changeParam(m->id, p.id, p.defaultValue, false);
                    }
                } else {
                    drag_ = DragKind::Param;
                }
                break;
            case Hit::Header:
            case Hit::Body:
                if (additive && selected_.count(hover.module)) {
                    selected_.erase(hover.module);
                } else {
                    if (!additive && !selected_.count(hover.module)) selected_.clear();
                    selected_.insert(hover.module);
                    drag_ = DragKind::Move;
                }
                selectedCable_ = -1;
                break;
            case Hit::Cable:
                if (io.KeyAlt) {
                    selectedCable_ = hover.index;
                    deleteSelection();
                } else {
                    selected_.clear();
                    selectedCable_ = hover.index;
                    if (educator_) {
                        // A click pins (or unpins) a mini scope on the cable.
                        const CableSpec& c = doc.cables[static_cast<std::size_t>(hover.index)];
                        const auto pin = std::find(pinned_.begin(), pinned_.end(), std::make_pair(c.from, c.to));
                        if (pin == pinned_.end())
                            pinned_.emplace_back(c.from, c.to);
                        else
                            pinned_.erase(pin);
                    }
                }
                break;
            case Hit::None:
                if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
                    browserOpen_ = true;
                    browserFocus_ = true;
                    browserAt_ = toCanvas(mouse);
                } else {
                    if (!additive) selected_.clear();
                    selectedCable_ = -1;
                    drag_ = DragKind::Box;
                }
                break;
        }
    }

    switch (drag_) {
        case DragKind::Param: {
            const ModuleSpec* m = doc.findModule(dragFrom_.module);
            const ModuleDescriptor* d = m ? Registry::global().find(m->type) : nullptr;
            if (!d || dragFrom_.index >= static_cast<int>(d->params.size())) {
                drag_ = DragKind::None;
                break;
            }
            const ParamDescriptor& p = d->params[static_cast<std::size_t>(dragFrom_.index)];
            if (io.MouseDelta.x != 0.0f) {
                const float span = layout(*m).width * zoom_ * (io.KeyShift ? 10.0f : 1.0f);
                const float x = std::clamp(p.toNormalized(static_cast<float>(paramValue(*m, p))) + io.MouseDelta.x / span, 0.0f, 1.0f);
                changeParam(m->id, p.id, p.fromNormalized(x), true);
            } else if (ImGui::IsMouseReleased(ImGuiMouseButton_Left) && distanceSq(mouse, dragStart_) < 4.0f &&
                       (p.curve == ParamCurve::Toggle || p.curve == ParamCurve::Choice)) {
                // A click steps a switch.
                const double v = paramValue(*m, p);
                const double next =
                    p.curve == ParamCurve::Toggle ? (v >= 0.5 ? 0.0 : 1.0) : (std::lround(v) + 1 > p.max ? p.min : std::lround(v) + 1);
                changeParam(m->id, p.id, next, false);
            }
            if (ImGui::IsMouseReleased(ImGuiMouseButton_Left)) {
                drag_ = DragKind::None;
                endGesture();
            }
            break;
        }
        case DragKind::Move:
            if (ImGui::IsMouseReleased(ImGuiMouseButton_Left)) {
                const ImVec2 offset = sub(toCanvas(mouse), toCanvas(dragStart_));
                drag_ = DragKind::None;
                if (offset.x != 0.0f || offset.y != 0.0f) {
                    const std::vector<std::string> ids = selection();
                    edit(ids.size() == 1 ? "Move " + ids.front() : "Move " + std::to_string(ids.size()) + " modules", [&](Patch& p) {
                        for (ModuleSpec& m : p.modules)
                            if (selected_.count(m.id)) {
                                m.x = std::round(m.x + offset.x);
                                m.y = std::round(m.y + offset.y);
                            }
                    });
                }
            }
            break;
        case DragKind::Box: {
            const ImVec2 a(std::min(dragStart_.x, mouse.x), std::min(dragStart_.y, mouse.y));
            const ImVec2 b(std::max(dragStart_.x, mouse.x), std::max(dragStart_.y, mouse.y));
            draw->AddRectFilled(a, b, IM_COL32(255, 200, 60, 30));
            draw->AddRect(a, b, IM_COL32(255, 200, 60, 160));
            if (ImGui::IsMouseReleased(ImGuiMouseButton_Left)) {
                drag_ = DragKind::None;
                for (const ModuleSpec& m : doc.modules) {
                    const NodeLayout& l = layout(m);
                    const ImVec2 min = toScreen(m.x, m.y), max = toScreen(m.x + l.width, m.y + l.height);
                    if (max.x >= a.x && min.x <= b.x && max.y >= a.y && min.y <= b.y) selected_.insert(m.id);
                }
            }
            break;
        }
        case DragKind::NewCableFromOutput:
        case DragKind::NewCableFromInput:
        case DragKind::MoveCable: {
            // The loose end follows the mouse; on release it connects to the port under it.
            ImVec2 fixed;
            SignalKind kind = SignalKind::Audio;
            bool fromOutput = drag_ != DragKind::NewCableFromInput;
            std::string fromModule = dragFrom_.module;
            int fromPort = dragFrom_.index;
            if (drag_ == DragKind::MoveCable && movingCable_) {
                const ModuleSpec* src = doc.findModule(movingCable_->from.module);
                const ModuleDescriptor* sd = src ? Registry::global().find(src->type) : nullptr;
                if (!sd) {
                    drag_ = DragKind::None;
                    break;
                }
                fromModule = src->id;
                fromPort = sd->outputIndex(movingCable_->from.port);
            }
            const ModuleSpec* m = doc.findModule(fromModule);
            const ModuleDescriptor* d = m ? Registry::global().find(m->type) : nullptr;
            if (!d || fromPort < 0) {
                drag_ = DragKind::None;
                break;
            }
            fixed = portPosition(*m, fromOutput, fromPort);
            kind = (fromOutput ? d->outputs : d->inputs)[static_cast<std::size_t>(fromPort)].kind;
            ImVec2 p[4];
            if (fromOutput)
                cablePoints(fixed, mouse, zoom_, p);
            else
                cablePoints(mouse, fixed, zoom_, p);
            draw->AddBezierCubic(p[0], p[1], p[2], p[3], kindColour(kind), 3.0f * std::max(0.6f, zoom_));
            if (!ImGui::IsMouseReleased(ImGuiMouseButton_Left)) break;
            const DragKind was = drag_;
            drag_ = DragKind::None;
            const Hit target = hitTest(mouse);
            const ModuleSpec* tm = doc.findModule(target.module);
            const ModuleDescriptor* td = tm ? Registry::global().find(tm->type) : nullptr;
            CableSpec cable;
            bool valid = false;
            if (fromOutput && target.kind == Hit::Input && td) {
                cable.from = PortRef{m->id, d->outputs[static_cast<std::size_t>(fromPort)].id};
                cable.to = PortRef{tm->id, td->inputs[static_cast<std::size_t>(target.index)].id};
                valid = true;
            } else if (!fromOutput && target.kind == Hit::Output && td) {
                cable.from = PortRef{tm->id, td->outputs[static_cast<std::size_t>(target.index)].id};
                cable.to = PortRef{m->id, d->inputs[static_cast<std::size_t>(fromPort)].id};
                valid = true;
            }
            const bool exists =
                valid && std::any_of(doc.cables.begin(), doc.cables.end(), [&](const CableSpec& c) { return c.sameEnds(cable); });
            if (was == DragKind::MoveCable && movingCable_) {
                const CableSpec old = *movingCable_;
                movingCable_.reset();
                if (valid && cable.sameEnds(old)) break;  // dropped back where it was
                edit(valid && !exists ? "Move cable to " + cable.to.str() : "Delete cable " + old.from.str() + " -> " + old.to.str(),
                     [&](Patch& p) {
                         const auto it =
                             std::find_if(p.cables.begin(), p.cables.end(), [&](const CableSpec& c) { return c.sameEnds(old); });
                         if (it != p.cables.end()) p.cables.erase(it);
                         if (valid && !exists) p.cables.push_back(cable);
                     });
            } else if (valid && !exists) {
                edit("Connect " + cable.from.str() + " -> " + cable.to.str(), [&](Patch& p) { p.cables.push_back(cable); });
            }
            break;
        }
        case DragKind::Pan:
        case DragKind::None:
            break;
    }

    // Tooltips: what is under the mouse.
    if (drag_ == DragKind::None && canvasHovered && !hover.module.empty() && (hover.kind == Hit::Input || hover.kind == Hit::Output)) {
        const ModuleSpec* m = doc.findModule(hover.module);
        const ModuleDescriptor* d = m ? Registry::global().find(m->type) : nullptr;
        if (d) {
            const PortDescriptor& port = (hover.kind == Hit::Input ? d->inputs : d->outputs)[static_cast<std::size_t>(hover.index)];
            ImGui::BeginTooltip();
            ImGui::Text("%s.%s  (%s %s)", m->id.c_str(), port.id.c_str(), std::string(toString(port.kind)).c_str(),
                        hover.kind == Hit::Input ? "input" : "output");
            if (!port.help.empty()) {
                ImGui::PushTextWrapPos(360.0f);
                ImGui::TextUnformatted(port.help.c_str());
                ImGui::PopTextWrapPos();
            }
            ImGui::EndTooltip();
        }
    } else if (drag_ == DragKind::None && canvasHovered && hover.kind == Hit::Header && ImGui::GetIO().MouseDownDuration[0] < 0.0f) {
        // A module's help after the mouse rests on its header for a moment.
        static std::string resting;
        static double since = 0.0;
        if (resting != hover.module) {
            resting = hover.module;
            since = ImGui::GetTime();
        }
        const ModuleSpec* m = doc.findModule(hover.module);
        const ModuleDescriptor* d = m ? Registry::global().find(m->type) : nullptr;
        if (d && ImGui::GetTime() - since > 0.6) {
            ImGui::BeginTooltip();
            ImGui::Text("%s  (%s)", d->name.c_str(), d->category.c_str());
            if (muted_.count(m->id))
                ImGui::TextColored(ImVec4(1.0f, 0.4f, 0.35f, 1.0f), "Muted: its output was NaN or Inf. Right-click: Reset (unmute).");
            ImGui::PushTextWrapPos(420.0f);
            ImGui::TextUnformatted(d->help.c_str());
            ImGui::PopTextWrapPos();
            ImGui::EndTooltip();
        }
        if (ImGui::GetTime() - since <= 0.6) animating_ = true;  // draw again when the help is due
    } else if (drag_ == DragKind::None && canvasHovered && hover.kind == Hit::Cable) {
        const CableSpec& c = doc.cables[static_cast<std::size_t>(hover.index)];
        if (!educator_)
            ImGui::SetTooltip("%s -> %s\nclick: select, Alt+click or right-click: delete, drag its input end: move", c.from.str().c_str(),
                              c.to.str().c_str());
    }
}

const SignalTap* Editor::probeTap(const PortRef& output) {
    auto it = probes_.find(output);
    if (it == probes_.end()) {
        std::shared_ptr<const SignalTap> tap = host_->session().probe(output, 0.25);
        if (!tap) return nullptr;
        it = probes_.emplace(output, Probe{std::move(tap), {}}).first;
    }
    it->second.used = Clock::now();
    return it->second.tap.get();
}

void Editor::drawProbes(ImDrawList* draw, const Hit& hover) {
    const Patch& doc = patch();
    ImFont* font = ImGui::GetFont();
    // Pinned mini scopes, at the middle of their cables.
    std::erase_if(pinned_, [&](const auto& pin) {
        return std::none_of(doc.cables.begin(), doc.cables.end(),
                            [&](const CableSpec& c) { return c.from == pin.first && c.to == pin.second; });
    });
    for (const auto& [from, to] : pinned_) {
        ImVec2 p[4];
        SignalKind kind;
        if (!cableCurve(from, to, p, kind)) continue;
        const SignalTap* tap = probeTap(from);
        if (!tap) continue;
        const ImVec2 mid = bezierAt(p, 0.5f);
        const ImVec2 min(mid.x - 70.0f, mid.y - 36.0f), max(mid.x + 70.0f, mid.y + 36.0f);
        draw->AddRectFilled(ImVec2(min.x - 2, min.y - 2), ImVec2(max.x + 2, max.y + 2), IM_COL32(10, 10, 12, 230), 4.0f);
        drawScope(draw, min, max, *tap, 0, 0.02f, host_->sampleRate(), kindColour(kind));
        draw->AddText(font, ImGui::GetFont()->FontSize * 0.8f, ImVec2(min.x + 3, min.y + 2), kDim, from.str().c_str());
        animating_ = true;
    }
    // Hover: the newest value of each channel the cable carries.
    if (hover.kind == Hit::Cable && drag_ == DragKind::None) {
        const CableSpec& c = doc.cables[static_cast<std::size_t>(hover.index)];
        if (const SignalTap* tap = probeTap(c.from)) {
            const int channels = std::clamp(host_->session().probeChannels(c.from), 1, tap->channels());
            std::string text = c.from.str() + ":";
            for (int ch = 0; ch < std::min(channels, 8); ++ch) {
                float v = 0.0f;
                tap->read(ch, &v, 1);
                char value[32];
                std::snprintf(value, sizeof value, " %+.4f", v);
                text += value;
            }
            if (channels > 8) text += " ... (" + std::to_string(channels) + " channels)";
            const ImVec2 m = ImGui::GetMousePos();
            const ImVec2 size = font->CalcTextSizeA(ImGui::GetFont()->FontSize, 1e9f, 0.0f, text.c_str());
            draw->AddRectFilled(ImVec2(m.x + 14, m.y - size.y - 10), ImVec2(m.x + 22 + size.x, m.y - 4), IM_COL32(10, 10, 12, 235), 3.0f);
            draw->AddText(ImVec2(m.x + 18, m.y - size.y - 7), kText, text.c_str());
            animating_ = true;
        }
    }
    // Probes nobody looked at for 5 s stop (each costs a copy per block).
    const auto now = Clock::now();
    for (auto it = probes_.begin(); it != probes_.end();) {
        if (now - it->second.used > std::chrono::seconds(5)) {
            host_->session().unprobe(it->first);
            it = probes_.erase(it);
        } else {
            ++it;
        }
    }
}

void Editor::resetMuted(const std::string& id) {
    Module* instance = host_->session().instance(id);
    if (!instance) return;
    resetting_[id] = instance->muteCount();
    instance->requestReset();
    muted_.erase(id);  // tick() flags it again if it goes on producing NaN/Inf
    log_.push_back("module '" + id + "': reset and unmuted");
    trace("UNMUTED " + id);
}

void Editor::nodeContextMenu() {
    if (!ImGui::BeginPopup("node menu")) return;
    if (ImGui::MenuItem("Duplicate", "Ctrl+D")) duplicateSelection();
    if (ImGui::MenuItem("Copy", "Ctrl+C")) copySelection();
    if (ImGui::MenuItem("Delete", "Delete")) deleteSelection();
    if (selected_.size() == 1) {
        const std::string id = *selected_.begin();
        if (ImGui::MenuItem("Reset params")) {
            edit("Reset " + id, [&](Patch& p) {
                if (ModuleSpec* m = p.findModule(id)) m->params.clear();
            });
        }
        if (muted_.count(id)) {
            const bool reset = ImGui::MenuItem("Reset (unmute)");
            const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
            trace("MENU reset-unmute " + std::to_string(static_cast<int>((a.x + b.x) / 2)) + " " +
                  std::to_string(static_cast<int>((a.y + b.y) / 2)));
            if (reset) resetMuted(id);
        }
        const ModuleSpec* m = patch().findModule(id);
        if (m && m->type == "tuner" && ImGui::MenuItem("Show tuning")) {
            tunerModule_ = id;
            showTuning_ = true;
        }
    }
    ImGui::EndPopup();
}

void Editor::traceLayout() {
    if (!options_.trace) return;
    // Printed whenever the picture changes: module count, view, compile.
    static std::string lastKey;
    char key[128];
    std::snprintf(key, sizeof key, "%zu %.3f %.1f %.1f %.1f %.1f %llu", patch().modules.size(), zoom_, pan_.x, pan_.y, origin_.x, origin_.y,
                  static_cast<unsigned long long>(host_->session().compileCount()));
    if (layoutTraced_ && lastKey == key) return;
    lastKey = key;
    layoutTraced_ = true;
    for (const ModuleSpec& m : patch().modules) {
        const NodeLayout& l = layout(m);
        const ImVec2 min = toScreen(m.x, m.y);
        std::printf("NODE %s %.0f %.0f %.0f %.0f\n", m.id.c_str(), min.x, min.y, l.width * zoom_, l.height * zoom_);
        const ModuleDescriptor* d = Registry::global().find(m.type);
        if (!d) continue;
        for (int i = 0; i < static_cast<int>(d->inputs.size()); ++i) {
            const ImVec2 p = portPosition(m, false, i);
            std::printf("PORT %s.%s in %.0f %.0f\n", m.id.c_str(), d->inputs[static_cast<std::size_t>(i)].id.c_str(), p.x, p.y);
        }
        for (int i = 0; i < static_cast<int>(d->outputs.size()); ++i) {
            const ImVec2 p = portPosition(m, true, i);
            std::printf("PORT %s.%s out %.0f %.0f\n", m.id.c_str(), d->outputs[static_cast<std::size_t>(i)].id.c_str(), p.x, p.y);
        }
        const float paramTop = l.header + static_cast<float>(l.portRows) * l.row;
        for (int i = 0; i < static_cast<int>(d->params.size()); ++i) {
            const float y = min.y + (paramTop + (static_cast<float>(i) + 0.5f) * l.row) * zoom_;
            std::printf("PARAM %s.%s %.0f %.0f %.0f\n", m.id.c_str(), d->params[static_cast<std::size_t>(i)].id.c_str(), min.x + 6 * zoom_,
                        y, min.x + (l.width - 6) * zoom_);
        }
    }
    std::printf("LAYOUT done\n");
    std::fflush(stdout);
}

}  // namespace kabel::editor
