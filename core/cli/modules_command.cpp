#include "core/cli/commands.hpp"

#include <cstdio>
#include <string>

#include "core/module/registry.hpp"

namespace kabel::cli {
namespace {

std::string formatNumber(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", double(v));
    return buf;
}

void printPorts(const char* heading, const std::vector<PortDescriptor>& ports, bool inputs) {
    if (ports.empty()) return;
    std::printf("    %s:\n", heading);
    for (const auto& p : ports) {
        std::printf("      %-10s %-8s %s", p.id.c_str(), std::string(toString(p.kind)).c_str(), p.name.c_str());
        if (inputs && p.defaultValue != 0.0f) std::printf(" (unpatched: %s)", formatNumber(p.defaultValue).c_str());
        if (!p.help.empty()) std::printf(" - %s", p.help.c_str());
        std::printf("\n");
    }
}

}  // namespace

int listModules(bool verbose) {
    std::string category;
    for (const ModuleDescriptor* d : Registry::global().all()) {
        if (d->category != category) {
            category = d->category;
            std::printf("%s\n", category.c_str());
        }
        std::printf("  %-12s %s\n", d->id.c_str(), d->name.c_str());
        if (!verbose) continue;
        std::printf("    %s\n", d->help.c_str());
        printPorts("inputs", d->inputs, true);
        printPorts("outputs", d->outputs, false);
        if (!d->params.empty()) std::printf("    params:\n");
        for (const auto& p : d->params) {
            std::printf("      %-10s %s [%s .. %s, default %s%s%s, %s]", p.id.c_str(), p.name.c_str(),
                        formatNumber(p.min).c_str(), formatNumber(p.max).c_str(), formatNumber(p.defaultValue).c_str(),
                        p.unit.empty() ? "" : " ", p.unit.c_str(), std::string(toString(p.curve)).c_str());
            if (!p.choices.empty()) {
                std::printf(" {");
                for (std::size_t i = 0; i < p.choices.size(); ++i)
                    std::printf("%s%zu=%s", i ? ", " : "", i + static_cast<std::size_t>(p.min), p.choices[i].c_str());
                std::printf("}");
            }
            if (!p.help.empty()) std::printf(" - %s", p.help.c_str());
            std::printf("\n");
        }
        std::printf("\n");
    }
    return 0;
}

}  // namespace kabel::cli
