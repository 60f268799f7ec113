// Internal helpers of the tuning parsers: bytes to UTF-8 lines, tokens and C-locale numbers.
// Not part of the public API (core/tuning/tuning.hpp); any thread but the audio thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/text.hpp"

namespace kabel::tuning::detail {

/// A file's text as UTF-8: valid UTF-8 stays as it is (a leading BOM removed); anything else is
/// read as Windows-1252/Latin-1 (the Scala archive's 8-bit files) and converted.
struct Utf8Text {
    std::string text;
    bool converted = false;  ///< the bytes were not UTF-8
    int firstBadLine = 0;    ///< 1-based line of the first byte that was not UTF-8 (when converted)
};
Utf8Text toUtf8(std::string_view bytes);

/// One line without its end (LF, CRLF or CR); `number` is 1-based.
struct Line {
    std::string_view text;
    int number = 0;
};
/// Splits at LF, CRLF and CR. A final line end does not start another (empty) line.
std::vector<Line> splitLines(std::string_view text);

bool isBlank(char c) noexcept;
std::string_view trim(std::string_view s) noexcept;
bool isBlankLine(std::string_view s) noexcept;

/// The first token of a line (up to a space, tab or '!') and the rest, trimmed, with a leading
/// '!' removed.
struct Token {
    std::string_view value;
    std::string_view rest;
    bool restIsComment = false;  ///< the rest started with '!'
};
Token firstToken(std::string_view line) noexcept;

/// Whole-token C-locale numbers (std::from_chars; a leading '+' allowed). nullopt when the token
/// is not exactly one number, or (doubles) not finite.
std::optional<long long> parseInteger(std::string_view token) noexcept;
std::optional<double> parseReal(std::string_view token) noexcept;

/// log2 of a non-empty string of decimal digits of any length (exact for up to 19 digits, else
/// from the leading 36 digits in long double and the digit count: relative error ~1e-19).
long double log2OfDigits(std::string_view digits) noexcept;
using kabel::allDigits;  // core/util/text.hpp
/// The value of at most 19 digits, or nullopt when it does not fit 64 bits.
std::optional<std::uint64_t> digitsValue(std::string_view digits) noexcept;

/// A token quoted for a message: at most ~40 characters, control characters escaped.
std::string quote(std::string_view token);

/// The directive on a comment line `! @ABL NAME args` / `! @KABEL NAME args`: `prefix` is "@ABL"
/// or "@KABEL". nullopt for an ordinary comment (also for "!! @ABL ...", a disabled directive).
struct Directive {
    std::string_view prefix;
    std::string_view name;
    std::string_view args;  ///< trimmed
};
std::optional<Directive> directiveOf(std::string_view commentLine) noexcept;

/// Splits directive arguments at blanks; "double-quoted" arguments may hold blanks. nullopt for
/// an unterminated quote.
std::optional<std::vector<std::string>> splitArguments(std::string_view args);

/// Shortest text that reads back to exactly `value`, always with a '.' (cents in .scl).
std::string centsText(double value);
/// Shortest round-trip text of a double (no exponent for ordinary magnitudes).
std::string realText(double value);

long long floorDiv(long long a, long long b) noexcept;

}  // namespace kabel::tuning::detail
