// Node geometry and "tidy up": where a module's ports, params and view sit on the canvas, and a
// layered layout of a whole patch by signal flow.
//
// Design note. The geometry depends only on the module type (port and param counts), so the
// editor, the arrange commands and `tidyLayout` share one definition in canvas units. Tidy up
// places each module in the column of its longest path from a source (cables read one block
// late, which close a cycle, are ignored), orders each column by the mean row of the modules
// feeding it, and stacks the column with a fixed gap: a readable left-to-right signal flow.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/module/registry.hpp"
#include "core/patch/patch.hpp"

namespace kabel::editor {

/// The geometry of a node, in canvas units.
struct NodeLayout {
    float width = 180.0f;
    float height = 0.0f;
    float header = 22.0f;
    float row = 16.0f;
    int portRows = 0;
    int paramRows = 0;
    float viewTop = 0.0f;  // live view (scope, spectrum)
    float viewHeight = 0.0f;
};

/// The node of a module type; a type the registry lacks (a placeholder) gets a one-row node.
NodeLayout nodeLayout(const std::string& type, const Registry& registry = Registry::global());

/// Tidy up: moves the modules with these ids (all when empty) into columns by signal flow,
/// starting at the top-left of their current bounding box. Returns how many moved.
int tidyLayout(Patch& patch, const std::vector<std::string>& ids = {}, const Registry& registry = Registry::global());

}  // namespace kabel::editor
