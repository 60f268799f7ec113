// Finding places in raw JSON text, so that errors about a parsed document can name a line.
//
// nlohmann::json keeps no source positions, so when the patch loader has to report a problem at
// a JSON pointer ("/modules/3/params/freq") it walks the original text again with the small
// tokenizer here. These helpers run only on error and warning paths, plus two linear pre-checks
// (UTF-8 and nesting depth) that every load performs before handing the text to nlohmann.
//
// All functions are pure, allocate little, never recurse (deep input cannot overflow the stack)
// and accept any bytes: on text that is not valid JSON they return their best guess or nothing.
// Any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kabel::jsontext {

/// A 1-based line and column. Columns count Unicode code points (UTF-8 continuation bytes do not
/// advance the column), so they match what an editor shows for valid UTF-8.
struct TextPosition {
    int line = 1;
    int column = 1;
};

/// The position of byte `offset` (0-based) in `text`. Offsets past the end give the position
/// just after the last character.
TextPosition positionAt(std::string_view text, std::size_t offset) noexcept;

/// Line numbers for many offsets: indexes the line starts once, then answers in O(log lines).
class LineIndex {
public:
    explicit LineIndex(std::string_view text);
    /// The 1-based line of byte `offset`, like positionAt(text, offset).line.
    int lineOf(std::size_t offset) const noexcept;

private:
    std::vector<std::size_t> newlines_;  // offsets of '\n', ascending
};

/// Offset of the first byte that is not part of well-formed UTF-8 (overlong forms, surrogates and
/// code points above U+10FFFF count as ill-formed), or nullopt if the whole text is valid.
std::optional<std::size_t> findInvalidUtf8(std::string_view text) noexcept;

/// Offset of the first '[' or '{' (outside strings) that opens nesting level `maxDepth + 1`, or
/// nullopt. Tolerant: works on any bytes, valid JSON or not.
std::optional<std::size_t> findExcessiveNesting(std::string_view text, int maxDepth) noexcept;

/// Offset of the first number token (outside strings) whose value does not fit a finite double,
/// e.g. 1e400, or nullopt. Tolerant like findExcessiveNesting.
std::optional<std::size_t> findNonFiniteNumber(std::string_view text) noexcept;

/// Offset of the value that the JSON pointer (RFC 6901, e.g. "/modules/3/params/freq") names in
/// `text`, which must be valid JSON. When the pointer leads nowhere, the offset of the deepest
/// value on its path that exists (at least the root); nullopt only for text with no value.
std::optional<std::size_t> findPointer(std::string_view text, std::string_view pointer);

/// findPointer for many pointers in one pass over the text (for the loader's warnings, which
/// can be thousands in a large patch). Result i belongs to pointers[i].
std::vector<std::optional<std::size_t>> findPointers(std::string_view text, const std::vector<std::string>& pointers);

/// The first member of an object that repeats an earlier key of the same object, in valid JSON.
struct DuplicateKey {
    std::string pointer;   // JSON pointer of the repeated member
    std::size_t offset{};  // offset of its key in the text
};
std::optional<DuplicateKey> findDuplicateKey(std::string_view text);

/// Appends `token` to a JSON pointer, escaping '~' and '/' as RFC 6901 requires.
std::string appendPointer(std::string_view pointer, std::string_view token);

}  // namespace kabel::jsontext
