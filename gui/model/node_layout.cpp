#include "gui/model/node_layout.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace kabel::editor {

NodeLayout nodeLayout(const std::string& type, const Registry& registry) {
    NodeLayout l;
    if (const ModuleDescriptor* d = registry.find(type)) {
        l.portRows = static_cast<int>(std::max(d->inputs.size(), d->outputs.size()));
        l.paramRows = static_cast<int>(d->params.size());
        if (type == "scope" || type == "spectrum") l.viewHeight = 96.0f;
    } else {
        l.portRows = 1;
    }
    l.viewTop = l.header + static_cast<float>(l.portRows + l.paramRows) * l.row + 4.0f;
    l.height = l.viewTop + l.viewHeight + (l.viewHeight > 0.0f ? 4.0f : 0.0f) + 8.0f;
    return l;
}

int tidyLayout(Patch& patch, const std::vector<std::string>& ids, const Registry& registry) {
    constexpr float kColumnGap = 70.0f, kRowGap = 24.0f;
    std::set<std::string> chosen(ids.begin(), ids.end());
    std::vector<ModuleSpec*> nodes;
    for (ModuleSpec& m : patch.modules)
        if (chosen.empty() || chosen.count(m.id)) nodes.push_back(&m);
    if (nodes.empty()) return 0;
    std::map<std::string, int> index;
    for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i]->id] = static_cast<int>(i);
    float left = 1e30f, top = 1e30f;
    for (const ModuleSpec* m : nodes) {
        left = std::min(left, m->x);
        top = std::min(top, m->y);
    }

    // Edges among the chosen modules; a depth-first search drops the ones that close a cycle.
    const std::size_t n = nodes.size();
    std::vector<std::vector<int>> out(n), in(n);
    for (const CableSpec& c : patch.cables) {
        const auto a = index.find(c.from.module), b = index.find(c.to.module);
        if (a == index.end() || b == index.end() || a->second == b->second) continue;
        out[static_cast<std::size_t>(a->second)].push_back(b->second);
    }
    std::vector<int> state(n, 0);  // 0 new, 1 on the stack, 2 done
    std::vector<std::vector<int>> forward(n);
    std::vector<std::pair<int, std::size_t>> stack;
    for (std::size_t root = 0; root < n; ++root) {
        if (state[root]) continue;
        stack.emplace_back(static_cast<int>(root), 0);
        state[root] = 1;
        while (!stack.empty()) {
            auto& [v, next] = stack.back();
            const auto& edges = out[static_cast<std::size_t>(v)];
            if (next == edges.size()) {
                state[static_cast<std::size_t>(v)] = 2;
                stack.pop_back();
                continue;
            }
            const int w = edges[next++];
            if (state[static_cast<std::size_t>(w)] == 1) continue;  // closes a cycle
            forward[static_cast<std::size_t>(v)].push_back(w);
            in[static_cast<std::size_t>(w)].push_back(v);
            if (state[static_cast<std::size_t>(w)] == 0) {
                state[static_cast<std::size_t>(w)] = 1;
                stack.emplace_back(w, 0);
            }
        }
    }
    // Longest path from a source, in topological order (Kahn).
    std::vector<int> depth(n, 0), pending(n, 0), order;
    for (std::size_t v = 0; v < n; ++v) pending[v] = static_cast<int>(in[v].size());
    for (std::size_t v = 0; v < n; ++v)
        if (pending[v] == 0) order.push_back(static_cast<int>(v));
    for (std::size_t i = 0; i < order.size(); ++i) {
        const auto v = static_cast<std::size_t>(order[i]);
        for (int w : forward[v]) {
            depth[static_cast<std::size_t>(w)] = std::max(depth[static_cast<std::size_t>(w)], depth[v] + 1);
            if (--pending[static_cast<std::size_t>(w)] == 0) order.push_back(w);
        }
    }
    // Columns: ordered by the mean row of their feeders (sources keep the patch's order).
    const int columns = *std::max_element(depth.begin(), depth.end()) + 1;
    std::vector<float> rank(n, 0.0f);
    int moved = 0;
    float x = left;
    for (int column = 0; column < columns; ++column) {
        std::vector<int> members;
        for (std::size_t v = 0; v < n; ++v)
            if (depth[v] == column) members.push_back(static_cast<int>(v));
        for (int v : members) {
            const auto& feeders = in[static_cast<std::size_t>(v)];
            float sum = 0.0f;
            for (int f : feeders) sum += rank[static_cast<std::size_t>(f)];
            rank[static_cast<std::size_t>(v)] = feeders.empty() ? static_cast<float>(v) : sum / static_cast<float>(feeders.size());
        }
        std::stable_sort(members.begin(), members.end(),
                         [&](int a, int b) { return rank[static_cast<std::size_t>(a)] < rank[static_cast<std::size_t>(b)]; });
        float y = top;
        float width = 0.0f;
        for (std::size_t i = 0; i < members.size(); ++i) {
            ModuleSpec& m = *nodes[static_cast<std::size_t>(members[i])];
            const NodeLayout l = nodeLayout(m.type, registry);
            rank[static_cast<std::size_t>(members[i])] = static_cast<float>(i);
            if (m.x != x || m.y != y) ++moved;
            m.x = std::round(x);
            m.y = std::round(y);
            y += l.height + kRowGap;
            width = std::max(width, l.width);
        }
        x += width + kColumnGap;
    }
    return moved;
}

}  // namespace kabel::editor
