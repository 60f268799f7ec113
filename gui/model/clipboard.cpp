#include "gui/model/clipboard.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "core/patch/patch_file.hpp"

namespace kabel::editor {
namespace {

constexpr const char* kClipMarker = R"({"clip":{"version":1}})";

/// Indices of the modules with these ids, in the order of `ids`, without repeats.
std::vector<std::size_t> selectedIndices(const Patch& patch, const std::vector<std::string>& ids) {
    std::vector<std::size_t> out;
    std::set<std::string_view> seen;
    for (const auto& id : ids) {
        if (!seen.insert(id).second) continue;
        for (std::size_t i = 0; i < patch.modules.size(); ++i)
            if (patch.modules[i].id == id) {
                out.push_back(i);
                break;
            }
    }
    return out;
}

/// The modules at `indices` (in that order), the cables among them and their MIDI mappings.
Patch extractGroup(const Patch& patch, const std::vector<std::size_t>& indices) {
    Patch group;
    std::set<std::string_view> members;
    for (std::size_t i : indices) {
        group.modules.push_back(patch.modules[i]);
        members.insert(patch.modules[i].id);
    }
    for (const auto& c : patch.cables)
        if (members.count(c.from.module) && members.count(c.to.module)) group.cables.push_back(c);
    for (const auto& m : patch.midiMap)
        if (members.count(m.module)) group.midiMap.push_back(m);
    return group;
}

/// `id` if it is free in `patch`, else the next free "base-N" where base is `id` without a
/// trailing "-N" (so a copy of "osc-2" becomes "osc-3", not "osc-2-2").
std::string freshId(const Patch& patch, const std::string& id) {
    if (!patch.findModule(id)) return id;
    std::string base = id;
    const auto dash = base.find_last_of('-');
    if (dash != std::string::npos && dash > 0 && dash + 1 < base.size() &&
        std::all_of(base.begin() + static_cast<std::ptrdiff_t>(dash) + 1, base.end(), [](char c) { return c >= '0' && c <= '9'; }))
        base.resize(dash);
    constexpr std::size_t kRoomForSuffix = 8;  // ids are at most 64 characters
    if (base.size() > 64 - kRoomForSuffix) base.resize(64 - kRoomForSuffix);
    return patch.uniqueModuleId(base);
}

/// Adds `group`'s modules to `patch` offset by (dx, dy) under fresh ids, with the group's cables
/// and mappings renamed. Returns the new ids in the group's order.
std::vector<std::string> insertGroup(Patch& patch, Patch group, float dx, float dy) {
    std::map<std::string, std::string> renamed;
    std::vector<std::string> newIds;
    newIds.reserve(group.modules.size());
    for (auto& m : group.modules) {
        std::string id = freshId(patch, m.id);
        renamed[m.id] = id;
        m.id = id;
        m.x += dx;
        m.y += dy;
        newIds.push_back(id);
        patch.modules.push_back(std::move(m));
    }
    for (auto& c : group.cables) {
        auto from = renamed.find(c.from.module);
        auto to = renamed.find(c.to.module);
        if (from == renamed.end() || to == renamed.end()) continue;
        c.from.module = from->second;
        c.to.module = to->second;
        patch.cables.push_back(std::move(c));
    }
    for (auto& m : group.midiMap) {
        auto it = renamed.find(m.module);
        if (it == renamed.end()) continue;
        m.module = it->second;
        patch.midiMap.push_back(std::move(m));
    }
    return newIds;
}

}  // namespace

std::string copyModules(const Patch& patch, const std::vector<std::string>& ids) {
    std::vector<std::size_t> indices = selectedIndices(patch, ids);
    std::sort(indices.begin(), indices.end());
    Patch clip = extractGroup(patch, indices);
    clip.extraJson = kClipMarker;
    return serializePatch(clip);
}

std::vector<std::string> pasteModules(Patch& patch, std::string_view text, float x, float y, const Registry& registry) {
    LoadedPatch clip = parsePatch(text, "clipboard", registry);
    if (clip.patch.modules.empty()) return {};
    float left = std::numeric_limits<float>::infinity();
    float top = std::numeric_limits<float>::infinity();
    for (const auto& m : clip.patch.modules) {
        left = std::min(left, m.x);
        top = std::min(top, m.y);
    }
    return insertGroup(patch, std::move(clip.patch), x - left, y - top);
}

std::vector<std::string> duplicateModules(Patch& patch, const std::vector<std::string>& ids, float dx, float dy) {
    return insertGroup(patch, extractGroup(patch, selectedIndices(patch, ids)), dx, dy);
}

void removeModules(Patch& patch, const std::vector<std::string>& ids) {
    const std::set<std::string_view> gone(ids.begin(), ids.end());
    std::erase_if(patch.cables, [&](const CableSpec& c) { return gone.count(c.from.module) || gone.count(c.to.module); });
    std::erase_if(patch.midiMap, [&](const MidiMapping& m) { return gone.count(m.module) > 0; });
    std::erase_if(patch.modules, [&](const ModuleSpec& m) { return gone.count(m.id) > 0; });
}

}  // namespace kabel::editor
