// Counter-based random numbers: value n of a stream is a hash of (stream, n), so any value can be
// computed on its own (no state to carry, reproducible per instance seed and channel).
#pragma once

#include <cstdint>

namespace kabel::dsp {

/// splitmix64's finaliser (Steele, Lea and Flood 2014): a bijection mixing every bit into every bit.
inline std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/// The stream of channel c of a module instance (`salt` separates a module's streams).
inline std::uint64_t streamOf(std::uint64_t seed, std::uint64_t salt, int c) noexcept {
    return mix64(mix64(seed ^ salt) + static_cast<std::uint64_t>(c) * 0x9e3779b97f4a7c15ull);
}

/// The 64 random bits of value `index` of a stream.
inline std::uint64_t hashAt(std::uint64_t stream, std::uint64_t index) noexcept {
    return mix64(stream + index * 0xd1b54a32d192ed03ull);
}

}  // namespace kabel::dsp
