#include "core/tuning/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace kabel::tuning::detail {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (strict: no overlongs, surrogates or > U+10FFFF).
std::size_t utf8Length(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

void appendCodePoint(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Windows-1252 for 0x80..0x9F (its five unassigned bytes stay Latin-1 C1 controls); Latin-1 above.
constexpr std::uint16_t kCp1252[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
                                       0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
                                       0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

}  // namespace

Utf8Text toUtf8(std::string_view bytes) {
    Utf8Text result;
    if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
    std::size_t i = 0;
    int line = 1;
    while (i < bytes.size()) {
        const std::size_t n = utf8Length(bytes, i);
        if (n == 0) break;
        if (bytes[i] == '\n' || (bytes[i] == '\r' && (i + 1 >= bytes.size() || bytes[i + 1] != '\n'))) ++line;
        i += n;
    }
    if (i == bytes.size()) {
        result.text = std::string(bytes);
        return result;
    }
    result.converted = true;
    result.firstBadLine = line;
    result.text.reserve(bytes.size() + bytes.size() / 4);
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80)
            result.text += ch;
        else if (c < 0xA0)
            appendCodePoint(result.text, kCp1252[c - 0x80]);
        else
            appendCodePoint(result.text, c);
    }
    return result;
}

std::vector<Line> splitLines(std::string_view text) {
    std::vector<Line> lines;
    std::size_t start = 0;
    int number = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n' && text[i] != '\r') continue;
        lines.push_back({text.substr(start, i - start), number++});
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        start = i + 1;
    }
    if (start < text.size()) lines.push_back({text.substr(start), number});
    return lines;
}

bool isBlank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
    while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
    return s;
}

bool isBlankLine(std::string_view s) noexcept {
    return trim(s).empty();
}

Token firstToken(std::string_view line) noexcept {
    Token t;
    line = trim(line);
    std::size_t end = 0;
    while (end < line.size() && !isBlank(line[end]) && line[end] != '!') ++end;
    t.value = line.substr(0, end);
    std::string_view rest = trim(line.substr(end));
    if (!rest.empty() && rest.front() == '!') {
        t.restIsComment = true;
        rest = trim(rest.substr(1));
    }
    t.rest = rest;
    return t;
}

std::optional<long long> parseInteger(std::string_view token) noexcept {
    if (token.size() > 1 && token.front() == '+' && token[1] != '-') token.remove_prefix(1);
    long long value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || end != token.data() + token.size() || token.empty()) return std::nullopt;
    return value;
}

std::optional<double> parseReal(std::string_view token) noexcept {
    if (token.size() > 1 && token.front() == '+' && token[1] != '-') token.remove_prefix(1);
    if (token.empty()) return std::nullopt;
    // from_chars also reads "inf" and "nan"; a pitch or frequency must be a plain number.
    for (char c : token)
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return std::nullopt;
    double value = 0.0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || end != token.data() + token.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

std::optional<std::uint64_t> digitsValue(std::string_view digits) noexcept {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
}

long double log2OfDigits(std::string_view digits) noexcept {
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    if (const auto exact = digitsValue(digits)) return std::log2l(static_cast<long double>(*exact));
    // Beyond 64 bits: the leading 36 digits as a long double (64-bit mantissa, so ~1e-19
    // relative) and the remaining digit count as a power of ten.
    constexpr std::size_t kLead = 36;
    const std::size_t lead = digits.size() < kLead ? digits.size() : kLead;
    long double mantissa = 0.0L;
    for (std::size_t i = 0; i < lead; ++i) mantissa = mantissa * 10.0L + static_cast<long double>(digits[i] - '0');
    const long double log2of10 = 3.321928094887362347870319429489390175864831393L;
    return std::log2l(mantissa) + static_cast<long double>(digits.size() - lead) * log2of10;
}

std::string quote(std::string_view token) {
    std::string out = "'";
    std::size_t count = 0;
    for (char c : token) {
        if (++count > 40) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::optional<Directive> directiveOf(std::string_view line) noexcept {
    if (line.empty() || line.front() != '!') return std::nullopt;
    std::string_view rest = trim(line.substr(1));
    for (std::string_view prefix : {std::string_view("@ABL"), std::string_view("@KABEL")}) {
        if (rest.substr(0, prefix.size()) != prefix) continue;
        std::string_view after = rest.substr(prefix.size());
        if (!after.empty() && !isBlank(after.front())) return std::nullopt;
        after = trim(after);
        std::size_t end = 0;
        while (end < after.size() && !isBlank(after[end])) ++end;
        return Directive{prefix, after.substr(0, end), trim(after.substr(end))};
    }
    return std::nullopt;
}

std::optional<std::vector<std::string>> splitArguments(std::string_view args) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (true) {
        while (i < args.size() && isBlank(args[i])) ++i;
        if (i >= args.size()) break;
        std::string arg;
        if (args[i] == '"') {
            const std::size_t close = args.find('"', i + 1);
            if (close == std::string_view::npos) return std::nullopt;
            arg = std::string(args.substr(i + 1, close - i - 1));
            i = close + 1;
        } else {
            const std::size_t start = i;
            while (i < args.size() && !isBlank(args[i])) ++i;
            arg = std::string(args.substr(start, i - start));
        }
        out.push_back(std::move(arg));
    }
    return out;
}

std::string realText(double value) {
    char buf[64];
    // Fixed notation when it is short, else general (exponent): both read back exactly.
    std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
    if (r.ec != std::errc() || r.ptr - buf > 40) r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

std::string centsText(double value) {
    std::string s = realText(value);
    if (s.find('.') == std::string::npos) {
        const std::size_t e = s.find_first_of("eE");
        if (e == std::string::npos)
            s += ".0";
        else
            s.insert(e, ".0");
    }
    return s;
}

long long floorDiv(long long a, long long b) noexcept {
    long long q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

}  // namespace kabel::tuning::detail
