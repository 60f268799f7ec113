// Aligning and distributing modules on the canvas.
//
// Design note. The document knows module positions (the top-left corner), not their drawn size,
// which depends on the UI. Each function therefore takes an optional size per module: without it
// modules count as points and Right/Bottom/Center align positions; the editor passes the node
// sizes it drew so that right edges and centres line up. Align moves every module to the
// selection's extreme (Left: the smallest left edge; Right: the largest right edge; CenterX: the
// middle of the selection's bounding box). Distribute keeps the first and last module (by
// position) in place and spaces the others so that the gaps between neighbours are equal.
//
// Thread: UI thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/patch/patch.hpp"

namespace kabel::editor {

enum class Align { Left, Right, Top, Bottom, CenterX, CenterY, DistributeX, DistributeY };

/// A module's drawn width and height in canvas units.
struct ModuleSize {
    float width = 0.0f;
    float height = 0.0f;
};

/// Gives the drawn size of a module; empty = every module is a point.
using ModuleSizeFn = std::function<ModuleSize(const ModuleSpec&)>;

/// Moves the modules with these ids (unknown ids are skipped). Align needs 2 modules, distribute 3;
/// fewer leave the patch unchanged.
void alignModules(Patch& patch, const std::vector<std::string>& ids, Align how, const ModuleSizeFn& size = {});

}  // namespace kabel::editor
