// The benchmark workloads W1-W4 as Kabel patches, exactly as ../shared/bench/peers/NOTES.md
// ("Shared definitions") and common/params.py define them for the peer engines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/patch/patch.hpp"

namespace kabel::cli {

struct Workload {
    std::string name;         // "W1"
    std::string description;  // "sine bank (256 sines)"
    int channels;             // output channels of the render
    Patch patch;
};

/// W1..W4 in order.
std::vector<Workload> benchmarkWorkloads();

}  // namespace kabel::cli
