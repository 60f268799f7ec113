#include "core/patch/json_locate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kabel::jsontext {
namespace {

bool isSpace(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool isNumberChar(char c) noexcept {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}
bool isWordChar(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
}

// A cursor over JSON text. Every step is bounded by the text size; malformed text makes the
// steps stop early rather than read out of bounds.
struct Cursor {
    std::string_view text;
    std::size_t pos = 0;

    bool atEnd() const noexcept { return pos >= text.size(); }
    char peek() const noexcept { return atEnd() ? '\0' : text[pos]; }
    void skipSpace() noexcept {
        while (!atEnd() && isSpace(text[pos])) ++pos;
    }
    // At an opening quote: moves past the closing quote.
    void skipString() noexcept {
        ++pos;
        while (!atEnd()) {
            const char c = text[pos++];
            if (c == '\\')
                ++pos;
            else if (c == '"')
                return;
        }
    }
    // At an opening quote: the decoded string, moving past the closing quote. Escapes are decoded
    // so that keys compare equal to the pointer's (already decoded) tokens.
    std::string readString() {
        std::string out;
        ++pos;
        while (!atEnd()) {
            const char c = text[pos++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (atEnd()) break;
            const char e = text[pos++];
            switch (e) {
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u':
                    appendCodePoint(out, readUnicodeEscape());
                    break;
                default:
                    out += e;
                    break;  // '"', '\\', '/'
            }
        }
        return out;
    }
    // At a value: moves past it. Iterative, so nesting depth costs no stack.
    void skipValue() noexcept {
        const char c = peek();
        if (c == '"') return skipString();
        if (c != '[' && c != '{') {
            while (!atEnd() && !isSpace(text[pos]) && text[pos] != ',' && text[pos] != ']' && text[pos] != '}') ++pos;
            return;
        }
        int depth = 0;
        while (!atEnd()) {
            const char d = text[pos];
            if (d == '"') {
                skipString();
                continue;
            }
            ++pos;
            if (d == '[' || d == '{')
                ++depth;
            else if ((d == ']' || d == '}') && --depth == 0)
                return;
        }
    }

private:
    unsigned readHex4() noexcept {
        unsigned v = 0;
        for (int i = 0; i < 4 && !atEnd(); ++i) {
            const char h = text[pos++];
            v <<= 4;
            if (h >= '0' && h <= '9')
                v |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f')
                v |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
                v |= unsigned(h - 'A' + 10);
        }
        return v;
    }
    unsigned readUnicodeEscape() noexcept {
        const unsigned hi = readHex4();
        if (hi >= 0xD800 && hi <= 0xDBFF && text.substr(pos, 2) == "\\u") {
            pos += 2;
            const unsigned lo = readHex4();
            if (lo >= 0xDC00 && lo <= 0xDFFF) return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        }
        return hi;
    }
    static void appendCodePoint(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }
};

// Splits a JSON pointer into its decoded reference tokens ("~1" -> "/", "~0" -> "~").
std::vector<std::string> splitPointer(std::string_view pointer) {
    std::vector<std::string> tokens;
    if (pointer.empty() || pointer[0] != '/') return tokens;
    std::string token;
    for (std::size_t i = 1; i <= pointer.size(); ++i) {
        if (i == pointer.size() || pointer[i] == '/') {
            tokens.push_back(std::move(token));
            token.clear();
        } else if (pointer[i] == '~' && i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
            token += pointer[i + 1] == '0' ? '~' : '/';
            ++i;
        } else {
            token += pointer[i];
        }
    }
    return tokens;
}

// Moves the cursor from the container at its position to the member or element named `token`.
bool stepInto(Cursor& cur, const std::string& token) {
    const char open = cur.peek();
    if (open != '{' && open != '[') return false;
    ++cur.pos;
    cur.skipSpace();
    if (open == '{') {
        while (cur.peek() == '"') {
            const std::string key = cur.readString();
            cur.skipSpace();
            if (cur.peek() != ':') return false;
            ++cur.pos;
            cur.skipSpace();
            if (key == token) return true;
            cur.skipValue();
            cur.skipSpace();
            if (cur.peek() != ',') return false;
            ++cur.pos;
            cur.skipSpace();
        }
        return false;
    }
    if (token.empty() || token.size() > 9 || token.find_first_not_of("0123456789") != std::string::npos) return false;
    long index = std::strtol(token.c_str(), nullptr, 10);
    if (cur.peek() == ']') return false;
    while (index-- > 0) {
        cur.skipValue();
        cur.skipSpace();
        if (cur.peek() != ',') return false;
        ++cur.pos;
        cur.skipSpace();
    }
    return !cur.atEnd();
}

}  // namespace

TextPosition positionAt(std::string_view text, std::size_t offset) noexcept {
    TextPosition p;
    const std::size_t end = offset < text.size() ? offset : text.size();
    for (std::size_t i = 0; i < end; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            ++p.line;
            p.column = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++p.column;
        }
    }
    return p;
}

LineIndex::LineIndex(std::string_view text) {
    for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1)) newlines_.push_back(i);
}

int LineIndex::lineOf(std::size_t offset) const noexcept {
    // Line = 1 + the number of newlines before `offset`.
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), offset) - newlines_.begin());
}

std::optional<std::size_t> findInvalidUtf8(std::string_view text) noexcept {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        int length = 0;
        unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF)
            length = 2;
        else if (c == 0xE0)
            length = 3, lo = 0xA0;
        else if (c == 0xED)
            length = 3, hi = 0x9F;  // excludes UTF-16 surrogates
        else if (c >= 0xE1 && c <= 0xEF)
            length = 3;
        else if (c == 0xF0)
            length = 4, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3)
            length = 4;
        else if (c == 0xF4)
            length = 4, hi = 0x8F;  // nothing above U+10FFFF
        else
            return i;  // 0x80..0xC1 and 0xF5..0xFF never start a character
        if (i + length > n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (int k = 2; k < length; ++k)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += length;
    }
    return std::nullopt;
}

std::optional<std::size_t> findExcessiveNesting(std::string_view text, int maxDepth) noexcept {
    Cursor cur{text};
    int depth = 0;
    while (!cur.atEnd()) {
        const char c = text[cur.pos];
        if (c == '"') {
            cur.skipString();
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > maxDepth) return cur.pos;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
        ++cur.pos;
    }
    return std::nullopt;
}

std::optional<std::size_t> findNonFiniteNumber(std::string_view text) noexcept {
    Cursor cur{text};
    while (!cur.atEnd()) {
        const char c = text[cur.pos];
        if (c == '"') {
            cur.skipString();
            continue;
        }
        const bool starts = (c == '-' || (c >= '0' && c <= '9')) && (cur.pos == 0 || !isWordChar(text[cur.pos - 1]));
        if (!starts) {
            ++cur.pos;
            continue;
        }
        const std::size_t begin = cur.pos;
        while (!cur.atEnd() && isNumberChar(text[cur.pos])) ++cur.pos;
        char buf[64];
        const std::size_t len = cur.pos - begin;
        if (len >= sizeof buf) {
            // Long tokens are rare; only the exponent decides overflow, so test a copy on the heap.
            const std::string copy(text.substr(begin, len));
            if (!std::isfinite(std::strtod(copy.c_str(), nullptr))) return begin;
            continue;
        }
        text.copy(buf, len, begin);
        buf[len] = '\0';
        if (!std::isfinite(std::strtod(buf, nullptr))) return begin;
    }
    return std::nullopt;
}

std::optional<std::size_t> findPointer(std::string_view text, std::string_view pointer) {
    Cursor cur{text};
    cur.skipSpace();
    if (cur.atEnd()) return std::nullopt;
    std::size_t found = cur.pos;
    for (const std::string& token : splitPointer(pointer)) {
        if (!stepInto(cur, token)) break;
        found = cur.pos;
    }
    return found;
}

namespace {

void appendToken(std::string& pointer, std::string_view token) {
    pointer += '/';
    for (const char c : token) {
        if (c == '~')
            pointer += "~0";
        else if (c == '/')
            pointer += "~1";
        else
            pointer += c;
    }
}

// Visits every value of valid JSON text in document order without recursion, calling
// onValue(pointer, offset) at each; onValue returns false to stop. With `checkKeys`, stops at
// the first key that repeats an earlier key of the same object and returns it. The pointer is
// one string edited in place (no allocation per value beyond its growth).
template <typename OnValue>
std::optional<DuplicateKey> walk(std::string_view text, bool checkKeys, OnValue&& onValue) {
    struct Frame {
        bool object;
        std::size_t pointerLength;  // length of the container's own pointer
        std::size_t index = 0;
        std::set<std::string> keys;
    };
    std::vector<Frame> stack;
    std::string pointer;
    Cursor cur{text};
    cur.skipSpace();

    // At a member key of the object on top of the stack: reads it and the ':' after it.
    auto readKey = [&]() -> std::optional<DuplicateKey> {
        Frame& top = stack.back();
        const std::size_t keyOffset = cur.pos;
        std::string key = cur.readString();
        pointer.resize(top.pointerLength);
        appendToken(pointer, key);
        if (checkKeys && !top.keys.insert(std::move(key)).second) return DuplicateKey{pointer, keyOffset};
        cur.skipSpace();
        if (cur.peek() == ':') ++cur.pos;
        cur.skipSpace();
        return std::nullopt;
    };
    auto setElementPointer = [&](Frame& top) {
        pointer.resize(top.pointerLength);
        pointer += '/';
        pointer += std::to_string(top.index);
    };

    while (!cur.atEnd()) {
        // At a value.
        if (!onValue(std::as_const(pointer), cur.pos)) return std::nullopt;
        const char c = cur.peek();
        if (c == '{' || c == '[') {
            stack.push_back(Frame{c == '{', pointer.size()});
            ++cur.pos;
            cur.skipSpace();
            if (cur.peek() != '}' && cur.peek() != ']') {
                if (c == '{') {
                    if (cur.peek() != '"') return std::nullopt;
                    if (auto dup = readKey()) return dup;
                } else {
                    setElementPointer(stack.back());
                }
                continue;
            }
            // An empty container: its closing bracket is handled below.
        } else {
            cur.skipValue();
            cur.skipSpace();
        }
        // After a value (or inside an empty container): closing brackets, then a comma.
        for (;;) {
            if (stack.empty()) return std::nullopt;
            const char d = cur.peek();
            if (d == ']' || d == '}') {
                stack.pop_back();
                ++cur.pos;
                cur.skipSpace();
                continue;
            }
            if (d != ',') return std::nullopt;
            ++cur.pos;
            cur.skipSpace();
            Frame& top = stack.back();
            if (top.object) {
                if (cur.peek() != '"') return std::nullopt;
                if (auto dup = readKey()) return dup;
            } else {
                ++top.index;
                setElementPointer(top);
            }
            break;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<DuplicateKey> findDuplicateKey(std::string_view text) {
    return walk(text, true, [](const std::string&, std::size_t) { return true; });
}

std::vector<std::optional<std::size_t>> findPointers(std::string_view text, const std::vector<std::string>& pointers) {
    std::vector<std::optional<std::size_t>> offsets(pointers.size());
    std::unordered_map<std::string_view, std::vector<std::size_t>> wanted;
    for (std::size_t i = 0; i < pointers.size(); ++i) wanted[pointers[i]].push_back(i);
    std::size_t left = wanted.size();
    walk(text, false, [&](const std::string& pointer, std::size_t offset) {
        const auto it = wanted.find(pointer);
        if (it != wanted.end() && !offsets[it->second.front()]) {
            for (const std::size_t i : it->second) offsets[i] = offset;
            --left;
        }
        return left > 0;
    });
    // Pointers that name no value (none of the loader's do) fall back to their nearest ancestor.
    for (std::size_t i = 0; i < pointers.size(); ++i)
        if (!offsets[i]) offsets[i] = findPointer(text, pointers[i]);
    return offsets;
}

std::string appendPointer(std::string_view pointer, std::string_view token) {
    std::string out(pointer);
    appendToken(out, token);
    return out;
}

}  // namespace kabel::jsontext
