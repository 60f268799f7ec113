// Errors for untrusted input (patch files, scales, audio files): each names the file, the line
// when one is known, where in the document (e.g. a JSON pointer) and the reason, in one line
// that a user can act on: "song.kabel:12: /modules/3/params/freq: expected a number, got a string".
#pragma once

#include <stdexcept>
#include <string>

namespace kabel {

class InputError : public std::runtime_error {
public:
    /// `line` is 1-based; 0 when unknown. `where` may be empty.
    InputError(std::string file, int line, std::string where, std::string reason)
        : std::runtime_error(format(file, line, where, reason)),
          file_(std::move(file)),
          line_(line),
          where_(std::move(where)),
          reason_(std::move(reason)) {}

    const std::string& file() const noexcept { return file_; }
    int line() const noexcept { return line_; }
    const std::string& where() const noexcept { return where_; }
    const std::string& reason() const noexcept { return reason_; }

    static std::string format(const std::string& file, int line, const std::string& where, const std::string& reason) {
        std::string s = file.empty() ? std::string("<input>") : file;
        if (line > 0) {
            s += ':';
            s += std::to_string(line);
        }
        s += ": ";
        if (!where.empty()) {
            s += where;
            s += ": ";
        }
        s += reason;
        return s;
    }

private:
    std::string file_;
    int line_;
    std::string where_;
    std::string reason_;
};

}  // namespace kabel
