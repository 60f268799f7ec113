#include "gui/model/arrange.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace kabel::editor {
namespace {

struct Item {
    ModuleSpec* module;
    float width;
    float height;
};

/// Positions run along one axis: x with widths, or y with heights.
float& posOf(const Item& item, bool horizontal) {
    return horizontal ? item.module->x : item.module->y;
}
float extentOf(const Item& item, bool horizontal) {
    return horizontal ? item.width : item.height;
}

void align(std::vector<Item>& items, bool horizontal, int side) {  // side: -1 start, 0 centre, +1 end
    float lo = std::numeric_limits<float>::infinity();
    float hi = -std::numeric_limits<float>::infinity();
    for (auto& it : items) {
        lo = std::min(lo, posOf(it, horizontal));
        hi = std::max(hi, posOf(it, horizontal) + extentOf(it, horizontal));
    }
    const float centre = lo + (hi - lo) * 0.5f;
    for (auto& it : items) {
        const float extent = extentOf(it, horizontal);
        posOf(it, horizontal) = side < 0 ? lo : side > 0 ? hi - extent : centre - extent * 0.5f;
    }
}

void distribute(std::vector<Item>& items, bool horizontal) {
    // By position; equal positions keep the selection's order.
    std::stable_sort(items.begin(), items.end(), [&](const Item& a, const Item& b) { return posOf(a, horizontal) < posOf(b, horizontal); });
    const float start = posOf(items.front(), horizontal);
    const float end = posOf(items.back(), horizontal) + extentOf(items.back(), horizontal);
    float occupied = 0.0f;
    for (const auto& it : items) occupied += extentOf(it, horizontal);
    const float gap = (end - start - occupied) / static_cast<float>(items.size() - 1);
    float next = start;
    for (std::size_t i = 0; i + 1 < items.size(); ++i) {
        posOf(items[i], horizontal) = next;
        next += extentOf(items[i], horizontal) + gap;
    }
    // The last module stays exactly where it was (no rounding drift).
}

}  // namespace

void alignModules(Patch& patch, const std::vector<std::string>& ids, Align how, const ModuleSizeFn& size) {
    std::vector<Item> items;
    std::set<std::string_view> seen;
    for (const auto& id : ids) {
        if (!seen.insert(id).second) continue;
        ModuleSpec* m = patch.findModule(id);
        if (!m) continue;
        const ModuleSize s = size ? size(*m) : ModuleSize{};
        items.push_back({m, s.width, s.height});
    }
    const bool distributing = how == Align::DistributeX || how == Align::DistributeY;
    if (items.size() < (distributing ? 3u : 2u)) return;
    switch (how) {
        case Align::Left:
            align(items, true, -1);
            break;
        case Align::Right:
            align(items, true, +1);
            break;
        case Align::CenterX:
            align(items, true, 0);
            break;
        case Align::Top:
            align(items, false, -1);
            break;
        case Align::Bottom:
            align(items, false, +1);
            break;
        case Align::CenterY:
            align(items, false, 0);
            break;
        case Align::DistributeX:
            distribute(items, true);
            break;
        case Align::DistributeY:
            distribute(items, false);
            break;
    }
}

}  // namespace kabel::editor
