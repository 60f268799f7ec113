// Small ASCII text helpers shared by the parsers and the device pickers.
#pragma once

#include <string>
#include <string_view>

namespace kabel {

/// `text` with A-Z turned into a-z (bytes outside ASCII are kept as they are).
inline std::string asciiLower(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

/// True when `text` is one or more of the digits 0-9 and nothing else.
inline bool allDigits(std::string_view text) noexcept {
    if (text.empty()) return false;
    for (char c : text)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace kabel
