// The live views (see views.hpp). Drawing only: the numbers come from gui/model/live_views.hpp.
#include "gui/editor/views.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>

#include "core/dsp/spectrum_analyzer.hpp"
#include "gui/model/live_views.hpp"

namespace kabel::editor {

namespace {

constexpr ImU32 kBackground = IM_COL32(18, 20, 24, 255);
constexpr ImU32 kGrid = IM_COL32(70, 74, 82, 255);
constexpr ImU32 kFaint = IM_COL32(70, 74, 82, 140);
constexpr float kFloorDb = -90.0f;

// Read buffers shared by every view (UI thread only): no allocation once they have grown.
std::vector<float>& scratch(int which) {
    static std::vector<float> buffers[4];
    return buffers[which];
}

int columnsOf(ImVec2 min, ImVec2 max) {
    return std::max(1, static_cast<int>(max.x - min.x));
}

// One trace: a vertical span per pixel column (min..max), joined to its neighbour so a slow
// signal reads as a line.
void drawTrace(ImDrawList* draw, ImVec2 min, ImVec2 max, std::span<const float> samples, float scale, ImU32 colour) {
    const int columns = columnsOf(min, max);
    const std::vector<MinMax> cols = thinColumns(samples, columns);
    if (cols.empty()) return;
    const float mid = 0.5f * (min.y + max.y);
    const float half = 0.5f * (max.y - min.y);
    const auto y = [&](float v) { return std::clamp(mid - v / scale * half, min.y, max.y); };
    float prevLo = y(cols[0].min), prevHi = y(cols[0].max);
    for (int c = 0; c < columns; ++c) {
        const MinMax& m = cols[static_cast<std::size_t>(c)];
        float hi = y(m.max), lo = y(m.min);  // screen y grows downwards: hi <= lo
        // Close the gap to the previous column.
        hi = std::min(hi, prevLo);
        lo = std::max(lo, prevHi);
        const float x = min.x + static_cast<float>(c) + 0.5f;
        draw->AddLine(ImVec2(x, hi - 0.5f), ImVec2(x, lo + 0.5f), colour, 1.5f);
        prevLo = y(m.min);
        prevHi = y(m.max);
    }
}

void frame(ImDrawList* draw, ImVec2 min, ImVec2 max) {
    draw->AddRectFilled(min, max, kBackground, 3.0f);
    const float mid = std::floor(0.5f * (min.y + max.y)) + 0.5f;
    draw->AddLine(ImVec2(min.x, mid), ImVec2(max.x, mid), kGrid);
}

// Reads `window` frames plus a trigger search span ending at the newest frame of channel
// `channel` into scratch(slot); returns how many frames arrived.
int readWithSearch(const SignalTap& tap, int channel, int window, double sampleRate, int slot) {
    const int limit = tap.capacity() / 2;
    window = std::clamp(window, 1, limit);
    const int search = std::clamp(std::min(window, static_cast<int>(0.1 * sampleRate)), 0, limit - window);
    std::vector<float>& buffer = scratch(slot);
    buffer.resize(static_cast<std::size_t>(window + search));
    return tap.read(channel, buffer.data(), window + search);
}

ImU32 lerpColour(ImU32 a, ImU32 b, float t) {
    const ImVec4 x = ImGui::ColorConvertU32ToFloat4(a), y = ImGui::ColorConvertU32ToFloat4(b);
    return ImGui::ColorConvertFloat4ToU32(
        ImVec4(x.x + (y.x - x.x) * t, x.y + (y.y - x.y) * t, x.z + (y.z - x.z) * t, x.w + (y.w - x.w) * t));
}

}  // namespace

// ---- Scope ----

void drawScope(ImDrawList* draw, ImVec2 min, ImVec2 max, const SignalTap& tap, int channel, float seconds, double sampleRate,
               ImU32 colour) {
    frame(draw, min, max);
    if (channel < 0 || channel >= tap.channels()) return;
    const int window = std::max(1, static_cast<int>(std::lround(static_cast<double>(seconds) * sampleRate)));
    const int n = readWithSearch(tap, channel, window, sampleRate, 0);
    const std::vector<float>& s = scratch(0);
    const int shown = std::min(window, n);
    const int start = scopeStart(std::span<const float>(s.data(), static_cast<std::size_t>(n)), n, shown, 0.0f);
    draw->PushClipRect(min, max, true);
    drawTrace(draw, min, max, std::span<const float>(s.data() + start, static_cast<std::size_t>(shown)), 1.0f, colour);
    draw->PopClipRect();
}

ScopeSettings scopeSettings(const ModuleSpec& scope) {
    const auto param = [&](const char* id, double fallback) {
        const auto it = scope.params.find(id);
        return it != scope.params.end() && std::isfinite(it->second) ? it->second : fallback;
    };
    ScopeSettings s;
    s.seconds = static_cast<float>(std::clamp(param("time", 0.02), 0.0005, 2.0));
    s.level = static_cast<float>(std::clamp(param("level", 0.0), -10.0, 10.0));
    s.source = static_cast<int>(std::lround(std::clamp(param("source", 0.0), 0.0, 3.0)));
    return s;
}

void drawScopeModule(ImDrawList* draw, ImVec2 min, ImVec2 max, const SignalTap& tap, const ScopeSettings& settings, double sampleRate,
                     ImU32 colour1, ImU32 colour2) {
    frame(draw, min, max);
    if (tap.channels() < 2) return;
    const int window = std::max(1, static_cast<int>(std::lround(static_cast<double>(settings.seconds) * sampleRate)));
    // All channels are read for the same span: the tap's position moves between reads, so each
    // read takes the newest frames; a block's drift between them is below a pixel column for
    // windows of a few ms and more, and invisible in a display.
    const int n1 = readWithSearch(tap, 0, window, sampleRate, 0);
    const int n2 = readWithSearch(tap, 1, window, sampleRate, 1);
    const bool free = settings.source == 3 || (settings.source == 2 && tap.channels() < 3);
    int nt = 0;
    if (!free) nt = settings.source == 2 ? readWithSearch(tap, 2, window, sampleRate, 2) : (settings.source == 0 ? n1 : n2);
    const std::vector<float>& trigger = settings.source == 2 ? scratch(2) : scratch(settings.source == 1 ? 1 : 0);
    const int n = std::min(n1, n2);
    const int shown = std::min(window, n);
    const int start = free ? n - shown
                           : scopeStart(std::span<const float>(trigger.data(), static_cast<std::size_t>(std::min(n, nt))), std::min(n, nt),
                                        shown, settings.level);
    const float scale = std::max(1.0f, std::fabs(settings.level));
    draw->PushClipRect(min, max, true);
    if (!free && settings.source != 2) {
        const float y = 0.5f * (min.y + max.y) - settings.level / scale * 0.5f * (max.y - min.y);
        for (float x = min.x; x < max.x; x += 8.0f) draw->AddLine(ImVec2(x, y), ImVec2(std::min(x + 4.0f, max.x), y), kFaint);
    }
    drawTrace(draw, min, max, std::span<const float>(scratch(1).data() + start, static_cast<std::size_t>(shown)), scale, colour2);
    drawTrace(draw, min, max, std::span<const float>(scratch(0).data() + start, static_cast<std::size_t>(shown)), scale, colour1);
    draw->PopClipRect();
}

// ---- Spectrum ----

SpectrumView::SpectrumView() = default;
SpectrumView::~SpectrumView() = default;
SpectrumView::SpectrumView(SpectrumView&&) noexcept = default;
SpectrumView& SpectrumView::operator=(SpectrumView&&) noexcept = default;

void SpectrumView::setSize(int fftSize) {
    fftSize = std::clamp(fftSize, 1024, 16384);
    if (fftSize == size_) return;
    size_ = fftSize;
    analyzer_.reset();
    lastWritten_ = ~std::uint64_t{0};
}

void SpectrumView::draw(ImDrawList* draw, ImVec2 min, ImVec2 max, const SignalTap& tap, int channel, double sampleRate, ImU32 colour) {
    draw->AddRectFilled(min, max, kBackground, 3.0f);
    const double minHz = 20.0, maxHz = 0.5 * sampleRate;
    const float w = max.x - min.x, h = max.y - min.y;
    for (float db : {-30.0f, -60.0f}) {
        const float y = max.y - levelPosition(db, kFloorDb) * h;
        draw->AddLine(ImVec2(min.x, y), ImVec2(max.x, y), kFaint);
    }
    for (double hz : {100.0, 1000.0, 10000.0}) {
        if (hz >= maxHz) continue;
        const float x = min.x + logFrequencyPosition(hz, minHz, maxHz) * w;
        draw->AddLine(ImVec2(x, min.y), ImVec2(x, max.y), kFaint);
    }
    if (channel < 0 || channel >= tap.channels() || !(maxHz > minHz)) return;

    const int columns = columnsOf(min, max);
    const double now = ImGui::GetTime();
    const std::uint64_t written = tap.written();
    if (written != lastWritten_ || static_cast<int>(columns_.size()) != columns) {
        if (!analyzer_) analyzer_ = std::make_unique<SpectrumAnalyzer>(size_);
        samples_.assign(static_cast<std::size_t>(size_), 0.0f);
        const int n = tap.read(channel, samples_.data(), size_);
        if (n < size_) std::rotate(samples_.begin(), samples_.begin() + n, samples_.end());  // zeros first, newest last
        const std::vector<float>& db = analyzer_->analyze(samples_.data());
        const std::vector<float> fresh = spectrumColumns(db, size_, sampleRate, columns, minHz, maxHz);
        if (columns_.size() != fresh.size()) {
            columns_ = fresh;
        } else {
            // Peaks fall back at 60 dB/s; rises show at once.
            const auto fall = static_cast<float>(60.0 * std::clamp(now - lastTime_, 0.0, 1.0));
            for (std::size_t c = 0; c < fresh.size(); ++c) columns_[c] = std::max(fresh[c], columns_[c] - fall);
        }
        lastWritten_ = written;
        lastTime_ = now;
    }
    draw->PushClipRect(min, max, true);
    const ImU32 fill = (colour & ~IM_COL32_A_MASK) | (static_cast<ImU32>(70) << IM_COL32_A_SHIFT);
    float prevY = max.y;
    for (int c = 0; c < columns; ++c) {
        const float y = max.y - levelPosition(columns_[static_cast<std::size_t>(c)], kFloorDb) * h;
        const float x = min.x + static_cast<float>(c);
        draw->AddRectFilled(ImVec2(x, y), ImVec2(x + 1.0f, max.y), fill);
        if (c > 0) draw->AddLine(ImVec2(x - 0.5f, prevY), ImVec2(x + 0.5f, y), colour, 1.5f);
        prevY = y;
    }
    draw->PopClipRect();
}

// ---- CPU meter ----

void drawCpuMeter(ImDrawList* draw, ImVec2 min, ImVec2 max, float fraction) {
    constexpr ImU32 kGreen = IM_COL32(80, 200, 100, 255), kAmber = IM_COL32(240, 180, 40, 255), kRed = IM_COL32(230, 60, 50, 255);
    if (std::isnan(fraction)) fraction = 0.0f;
    draw->AddRectFilled(min, max, kBackground, 2.0f);
    const float f = std::clamp(fraction, 0.0f, 1.0f);
    const ImU32 colour = f < 0.5f   ? lerpColour(kGreen, kAmber, f / 0.5f * 0.3f)
                         : f < 0.8f ? lerpColour(kAmber, kRed, (f - 0.5f) / 0.3f * 0.5f)
                                    : kRed;
    if (f > 0.0f) draw->AddRectFilled(min, ImVec2(min.x + std::max(1.0f, f * (max.x - min.x)), max.y), colour, 2.0f);
    if (fraction > 1.0f) draw->AddRect(min, max, kRed, 2.0f, 0, 1.5f);
}

// ---- Tuning view ----

void drawTuningView(const tuning::Tuning& tuning, int sounding, ImVec2 size) {
    constexpr ImU32 kText = IM_COL32(220, 222, 228, 255), kDim = IM_COL32(150, 154, 162, 255);
    constexpr ImU32 kDot = IM_COL32(120, 170, 250, 255), kTonic = IM_COL32(250, 200, 90, 255), kLit = IM_COL32(255, 110, 90, 255);
    constexpr ImU32 kKey = IM_COL32(48, 52, 60, 255), kKeyOff = IM_COL32(26, 28, 32, 255);
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const TuningCircle circle = tuningCircle(tuning.scale());
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const float stripHeight = std::clamp(size.y * 0.18f, 36.0f, 64.0f);
    const float circleHeight = std::max(60.0f, size.y - stripHeight - 8.0f);

    // Circle: radius leaves room for labels outside it.
    ImGui::InvisibleButton("##tuning-circle", ImVec2(size.x, circleHeight));
    const ImVec2 centre(origin.x + 0.5f * size.x, origin.y + 0.5f * circleHeight);
    const float radius = std::max(10.0f, 0.5f * std::min(size.x, circleHeight) - 42.0f);
    const auto at = [&](double angle, float r) {
        return ImVec2(centre.x + r * static_cast<float>(std::sin(angle)), centre.y - r * static_cast<float>(std::cos(angle)));
    };
    draw->AddCircle(centre, radius, kGrid, 96, 1.0f);
    for (double a : circle.tetAngles) draw->AddLine(at(a, radius - 5.0f), at(a, radius + 5.0f), kFaint, 1.0f);
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    int hovered = -1;
    for (const CircleDegree& d : circle.degrees) {
        const ImVec2 p = at(d.angle, radius);
        const bool lit = d.degree == sounding;
        const ImU32 colour = lit ? kLit : (d.degree == 0 ? kTonic : kDot);
        draw->AddCircleFilled(p, lit ? 7.0f : 5.0f, colour);
        if (ImGui::IsItemHovered() && std::hypot(mouse.x - p.x, mouse.y - p.y) < 8.0f) hovered = d.degree;
        // Labels only while they fit: many-degree systems (53 commas) show names on hover instead.
        if (circle.degrees.size() <= 24 || lit) {
            const std::string cents = formatCents(d.cents);
            const std::string label = d.name.empty() ? cents : d.name + "\n" + cents;
            const ImVec2 ts = ImGui::CalcTextSize(label.c_str());
            const ImVec2 q = at(d.angle, radius + 14.0f + 0.5f * std::max(ts.x, ts.y));
            draw->AddText(ImVec2(q.x - 0.5f * ts.x, q.y - 0.5f * ts.y), lit ? kLit : kText, label.c_str());
        }
    }
    const std::string period = "period " + formatCents(circle.periodCents) + " c";
    const ImVec2 ps = ImGui::CalcTextSize(period.c_str());
    draw->AddText(ImVec2(centre.x - 0.5f * ps.x, centre.y - 0.5f * ps.y), kDim, period.c_str());
    if (hovered >= 0) {
        const CircleDegree& d = circle.degrees[static_cast<std::size_t>(hovered)];
        ImGui::SetTooltip("degree %d%s%s\n%s cents (%+.1f from 12-TET)", d.degree, d.name.empty() ? "" : ": ", d.name.c_str(),
                          formatCents(d.cents).c_str(), d.tetDeviation);
    }

    // Keyboard strip around the map's middle note.
    ImGui::Dummy(ImVec2(size.x, 8.0f));
    const ImVec2 stripOrigin = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("##tuning-keys", ImVec2(size.x, stripHeight));
    const float keyWidth = 18.0f;
    const int count = std::max(1, static_cast<int>(size.x / keyWidth));
    const int first = std::clamp(tuning.keyboardMap().middleNote - count / 2, 0, std::max(0, 128 - count));
    const std::vector<StripKey> keys = keyStrip(tuning, first, std::min(127, first + count - 1));
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const StripKey& k = keys[i];
        const ImVec2 a(stripOrigin.x + static_cast<float>(i) * keyWidth, stripOrigin.y);
        const ImVec2 b(a.x + keyWidth - 2.0f, a.y + stripHeight);
        const bool lit = k.mapped && k.degree == sounding;
        draw->AddRectFilled(a, b, lit ? kLit : (k.mapped ? (k.degree == 0 ? kTonic : kKey) : kKeyOff), 2.0f);
        if (k.mapped) {
            char text[8];
            std::snprintf(text, sizeof text, "%d", k.degree);
            const ImVec2 ts = ImGui::CalcTextSize(text);
            draw->AddText(ImVec2(a.x + 0.5f * (keyWidth - 2.0f - ts.x), b.y - ts.y - 2.0f), k.degree == 0 || lit ? kBackground : kText,
                          text);
        }
        if (ImGui::IsItemHovered() && mouse.x >= a.x && mouse.x < b.x) {
            if (!k.mapped) {
                ImGui::SetTooltip("key %d: not mapped", k.key);
            } else {
                const std::string& name = tuning.degreeName(k.degree);
                ImGui::SetTooltip("key %d: degree %d%s%s\n%.3f Hz, %s cents from the reference", k.key, k.degree, name.empty() ? "" : " ",
                                  name.c_str(), k.frequency, formatCents(tuning.centsFromReference(k.key)).c_str());
            }
        }
    }
}

}  // namespace kabel::editor
