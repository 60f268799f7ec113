// Scala .scl / Ableton .ascl parsing and export, with Kabel's `! @KABEL` lines.
// The rules (and each decision where the formats leave room) are in docs/tuning.md.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>

#include "core/tuning/text.hpp"
#include "core/tuning/tuning.hpp"

namespace kabel::tuning {

using detail::Line;
using detail::quote;

const char* toString(SourceKind kind) noexcept {
    switch (kind) {
        case SourceKind::Measured:
            return "measured";
        case SourceKind::Theoretical:
            return "theoretical";
        case SourceKind::Approximation:
            return "approximation";
        case SourceKind::Unspecified:
            break;
    }
    return "";
}

Pitch Pitch::fromCents(double cents, std::string label) {
    Pitch p;
    p.kind = Kind::Cents;
    p.cents = cents;
    p.text = detail::centsText(cents);
    p.label = std::move(label);
    return p;
}

Pitch Pitch::fromRatio(std::uint64_t numerator, std::uint64_t denominator, std::string label) {
    if (numerator == 0 || denominator == 0) throw std::invalid_argument("Pitch::fromRatio: numerator and denominator must be > 0");
    Pitch p;
    p.kind = Kind::Ratio;
    p.text = std::to_string(numerator);
    if (denominator != 1) {
        p.text += '/';
        p.text += std::to_string(denominator);
    }
    p.cents = static_cast<double>(1200.0L *
                                  (std::log2l(static_cast<long double>(numerator)) - std::log2l(static_cast<long double>(denominator))));
    p.label = std::move(label);
    return p;
}

double Scale::centsOfDegree(long long degree) const noexcept {
    if (pitches.empty()) return 0.0;
    const auto n = static_cast<long long>(pitches.size());
    const long long period = detail::floorDiv(degree, n);
    const long long r = degree - period * n;
    return static_cast<double>(period) * periodCents() + (r == 0 ? 0.0 : pitches[static_cast<std::size_t>(r - 1)].cents);
}

const std::string& Scale::degreeName(long long degree) const noexcept {
    static const std::string kNone;
    if (noteNames.empty()) return kNone;
    const auto n = static_cast<long long>(noteNames.size());
    const long long r = degree - detail::floorDiv(degree, n) * n;
    return noteNames[static_cast<std::size_t>(r)];
}

namespace {

constexpr const char* kPitchHint = "expected a pitch (cents like 150.0 or a ratio like 3/2)";

// Parses one pitch token (the line's first token; `line` for messages) or throws with `fail`.
template <typename Fail>
Pitch parsePitch(std::string_view token, std::string_view line, Fail&& fail) {
    Pitch p;
    p.text = std::string(token);
    if (token.find('.') != std::string_view::npos) {
        const auto cents = detail::parseReal(token);
        if (!cents) fail(std::string(kPitchHint) + ", got " + quote(line));
        if (std::fabs(*cents) > kMaxAbsCents) fail("pitch " + quote(token) + " is outside +-" + detail::realText(kMaxAbsCents) + " cents");
        p.kind = Pitch::Kind::Cents;
        p.cents = *cents;
        return p;
    }
    p.kind = Pitch::Kind::Ratio;
    if (!token.empty() && token.front() == '-') fail("a ratio cannot be negative, got " + quote(token));
    const std::size_t slash = token.find('/');
    const std::string_view num = token.substr(0, slash);
    const std::string_view den = slash == std::string_view::npos ? std::string_view("1") : token.substr(slash + 1);
    if (token.empty() || !detail::allDigits(num) || !detail::allDigits(den)) fail(std::string(kPitchHint) + ", got " + quote(line));
    if (num.find_first_not_of('0') == std::string_view::npos) fail("a ratio cannot have a zero numerator, got " + quote(token));
    if (den.find_first_not_of('0') == std::string_view::npos) fail("a ratio cannot have a zero denominator, got " + quote(token));
    const long double log2Ratio = detail::log2OfDigits(num) - detail::log2OfDigits(den);
    const long double cents = 1200.0L * log2Ratio;
    if (std::fabs(static_cast<double>(cents)) > kMaxAbsCents)
        fail("ratio " + quote(token) + " is outside +-" + detail::realText(kMaxAbsCents) + " cents");
    p.cents = static_cast<double>(cents);
    return p;
}

struct PendingDirective {
    detail::Directive directive;
    int line;
};

class ScaleParser {
public:
    ScaleParser(std::string_view bytes, const std::string& fileName) : fileName_(fileName) {
        if (bytes.size() > kMaxFileBytes) fail(0, "file is larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) + " MiB");
        utf8_ = detail::toUtf8(bytes);
    }

    Scale parse() {
        enum class State { Description, Count, Pitches, Trailer } state = State::Description;
        int count = 0;
        int lastLine = 0;
        for (const Line& line : detail::splitLines(utf8_.text)) {
            lastLine = line.number;
            if (line.text.size() > kMaxLineBytes) fail(line.number, "line is longer than " + std::to_string(kMaxLineBytes / 1024) + " KiB");
            if (!line.text.empty() && line.text.front() == '!') {
                if (auto d = detail::directiveOf(line.text)) directives_.push_back({*d, line.number});
                continue;
            }
            const auto lineFail = [&](const std::string& reason) { fail(line.number, reason); };
            switch (state) {
                case State::Description:
                    scale_.description = std::string(detail::trim(line.text));
                    state = State::Count;
                    break;
                case State::Count: {
                    const auto token = detail::firstToken(line.text);
                    if (token.value.empty()) lineFail("expected the note count (a whole number >= 0), got an empty line");
                    const auto n = detail::parseInteger(token.value);
                    if (!n || *n < 0) lineFail("expected the note count (a whole number >= 0), got " + quote(token.value));
                    if (*n > kMaxNotes)
                        lineFail("note count " + std::to_string(*n) + " is more than Kabel reads (" + std::to_string(kMaxNotes) + ")");
                    count = static_cast<int>(*n);
                    scale_.pitches.reserve(static_cast<std::size_t>(count));
                    state = count > 0 ? State::Pitches : State::Trailer;
                    break;
                }
                case State::Pitches: {
                    const int index = scale_.noteCount() + 1;
                    const auto token = detail::firstToken(line.text);
                    if (token.value.empty())
                        lineFail("empty line where pitch " + std::to_string(index) + " of " + std::to_string(count) + " was expected (" +
                                 kPitchHint + ")");
                    Pitch p = parsePitch(token.value, detail::trim(line.text), lineFail);
                    p.label = std::string(token.rest);
                    scale_.pitches.push_back(std::move(p));
                    if (scale_.noteCount() == count) state = State::Trailer;
                    break;
                }
                case State::Trailer:
                    if (!detail::isBlankLine(line.text))
                        lineFail("unexpected text after the " + std::to_string(count) + " pitches: " + quote(detail::trim(line.text)) +
                                 " (comment lines start with '!')");
                    break;
            }
        }
        switch (state) {
            case State::Description:
                fail(lastLine, "no description line: the file is empty or only comments");
                break;
            case State::Count:
                fail(lastLine, "the file ends before the note count");
                break;
            case State::Pitches:
                fail(lastLine, "the file ends after " + std::to_string(scale_.noteCount()) + " of " + std::to_string(count) + " pitches");
                break;
            case State::Trailer:
                break;
        }
        applyDirectives();
        return std::move(scale_);
    }

private:
    [[noreturn]] void fail(int line, const std::string& reason) const { throw InputError(fileName_, line, "", reason); }

    void applyDirectives() {
        std::map<std::string, int, std::less<>> seen;
        bool anyAbl = false;
        const PendingDirective* rangeByIndex = nullptr;
        for (const PendingDirective& pd : directives_) {
            const auto& d = pd.directive;
            const auto lineFail = [&](const std::string& reason) { fail(pd.line, reason); };
            const std::string key = std::string(d.prefix) + " " + std::string(d.name);
            const bool repeatable = key == "@ABL SOURCE" || key == "@ABL LINK";
            if (!repeatable) {
                if (auto it = seen.find(key); it != seen.end())
                    lineFail(key + " is given twice (first on line " + std::to_string(it->second) + ")");
                seen.emplace(key, pd.line);
            }
            if (d.prefix == "@ABL") {
                anyAbl = true;
                if (d.name == "NOTE_RANGE_BY_INDEX") rangeByIndex = &pd;
                applyAbl(d, lineFail);
            } else {
                applyKabel(d, lineFail);
            }
        }
        if (anyAbl && utf8_.converted)
            fail(utf8_.firstBadLine, "a file with @ABL lines must be UTF-8 (the .ascl rule), but this line is not");
        if (seen.count("@ABL NOTE_RANGE_BY_INDEX") && seen.count("@ABL NOTE_RANGE_BY_FREQUENCY"))
            fail(std::max(seen["@ABL NOTE_RANGE_BY_INDEX"], seen["@ABL NOTE_RANGE_BY_FREQUENCY"]),
                 "NOTE_RANGE_BY_INDEX and NOTE_RANGE_BY_FREQUENCY cannot both be given");
        if (rangeByIndex && !scale_.referencePitch)
            fail(rangeByIndex->line, "NOTE_RANGE_BY_INDEX needs a REFERENCE_PITCH line (its octaves count from that one)");
        const bool hasSystem = seen.count("@KABEL SYSTEM") > 0, hasDegrees = seen.count("@KABEL DEGREES") > 0;
        if (hasSystem != hasDegrees)
            fail(hasSystem ? seen["@KABEL SYSTEM"] : seen["@KABEL DEGREES"],
                 "@KABEL SYSTEM and @KABEL DEGREES go together (a mode names its system and the system degrees it uses)");
    }

    template <typename Fail>
    void applyAbl(const detail::Directive& d, Fail&& lineFail) {
        const int degrees = scale_.degreeCount();
        if (d.name == "SOURCE" || d.name == "LINK") {
            if (d.args.empty()) lineFail("@ABL " + std::string(d.name) + " needs text");
            std::string& field = d.name == "SOURCE" ? scale_.source : scale_.link;
            if (!field.empty()) field += '\n';
            field += std::string(d.args);
            return;
        }
        const auto args = detail::splitArguments(d.args);
        if (!args) lineFail("@ABL " + std::string(d.name) + ": a double quote is not closed");
        const auto integer = [&](std::size_t i, const char* what) {
            const auto v = detail::parseInteger((*args)[i]);
            if (!v || *v < -1000000 || *v > 1000000)
                lineFail("@ABL " + std::string(d.name) + ": expected " + what + ", got " + quote((*args)[i]));
            return static_cast<int>(*v);
        };
        const auto frequency = [&](std::size_t i) {
            const auto v = detail::parseReal((*args)[i]);
            if (!v || *v <= 0.0 || *v > kMaxFrequency)
                lineFail("@ABL " + std::string(d.name) + ": expected a frequency in Hz (> 0, <= 1e6), got " + quote((*args)[i]));
            return *v;
        };
        if (d.name == "REFERENCE_PITCH") {
            if (args->size() != 3) lineFail("@ABL REFERENCE_PITCH needs 3 values: octave, degree index, frequency in Hz");
            ReferencePitch ref;
            ref.octave = integer(0, "an octave number");
            if (ref.octave < -2 || ref.octave > 8) lineFail("@ABL REFERENCE_PITCH: the octave must be -2..8, got " + quote((*args)[0]));
            ref.degree = integer(1, "a degree index");
            if (ref.degree < 0 || ref.degree >= degrees)
                lineFail("@ABL REFERENCE_PITCH: degree index " + std::to_string(ref.degree) + " is not a degree of this " +
                         std::to_string(degrees) + "-degree scale (0.." + std::to_string(degrees - 1) + ")");
            ref.frequency = frequency(2);
            scale_.referencePitch = ref;
        } else if (d.name == "NOTE_NAMES") {
            if (static_cast<int>(args->size()) != degrees)
                lineFail("@ABL NOTE_NAMES lists " + std::to_string(args->size()) + " names, but the scale has " + std::to_string(degrees) +
                         " degrees (one name per degree, starting with the 1/1)");
            for (std::size_t i = 0; i < args->size(); ++i)  // names are shown and written back: no control characters
                if (std::any_of((*args)[i].begin(), (*args)[i].end(),
                                [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
                    lineFail("@ABL NOTE_NAMES: name " + std::to_string(i + 1) + " holds a control character");
            scale_.noteNames = *args;
        } else if (d.name == "NOTE_RANGE_BY_FREQUENCY") {
            if (args->size() != 1 && args->size() != 2)
                lineFail("@ABL NOTE_RANGE_BY_FREQUENCY needs a minimum and optionally a maximum in Hz");
            NoteRange range;
            range.by = NoteRange::By::Frequency;
            range.minHz = frequency(0);
            if (args->size() == 2) {
                range.maxHz = frequency(1);
                if (range.maxHz < range.minHz) lineFail("@ABL NOTE_RANGE_BY_FREQUENCY: the maximum is below the minimum");
            }
            scale_.noteRange = range;
        } else if (d.name == "NOTE_RANGE_BY_INDEX") {
            if (args->size() != 2 && args->size() != 4)
                lineFail("@ABL NOTE_RANGE_BY_INDEX needs octave and degree index of the lowest note, optionally of the highest");
            NoteRange range;
            range.by = NoteRange::By::Index;
            range.minOctave = integer(0, "an octave number");
            range.minDegree = integer(1, "a degree index");
            const auto checkDegree = [&](int degree) {
                if (degree < 0 || degree >= degrees)
                    lineFail("@ABL NOTE_RANGE_BY_INDEX: degree index " + std::to_string(degree) + " is not a degree of this " +
                             std::to_string(degrees) + "-degree scale");
            };
            checkDegree(range.minDegree);
            if (args->size() == 4) {
                range.maxOctave = integer(2, "an octave number");
                range.maxDegree = integer(3, "a degree index");
                checkDegree(*range.maxDegree);
                if (static_cast<long long>(*range.maxOctave) * degrees + *range.maxDegree <
                    static_cast<long long>(range.minOctave) * degrees + range.minDegree)
                    lineFail("@ABL NOTE_RANGE_BY_INDEX: the highest note is below the lowest");
            }
            scale_.noteRange = range;
        } else {
            lineFail("unknown directive @ABL " + quote(d.name) +
                     " (known: REFERENCE_PITCH, NOTE_NAMES, NOTE_RANGE_BY_FREQUENCY, NOTE_RANGE_BY_INDEX, SOURCE, LINK)");
        }
    }

    template <typename Fail>
    void applyKabel(const detail::Directive& d, Fail&& lineFail) {
        if (d.name == "FAMILY") {
            if (d.args.empty()) lineFail("@KABEL FAMILY needs text (the tradition, e.g. Arabic maqam)");
            scale_.family = std::string(d.args);
        } else if (d.name == "KIND") {
            if (d.args == "measured")
                scale_.kind = SourceKind::Measured;
            else if (d.args == "theoretical")
                scale_.kind = SourceKind::Theoretical;
            else if (d.args == "approximation")
                scale_.kind = SourceKind::Approximation;
            else
                lineFail("@KABEL KIND must be measured, theoretical or approximation, got " + quote(d.args));
        } else if (d.name == "OMBAK") {
            const auto hz = detail::parseReal(d.args);
            if (!hz || *hz < 0.0 || *hz > 1000.0) lineFail("@KABEL OMBAK needs a beat rate in Hz (0..1000), got " + quote(d.args));
            scale_.ombakHz = *hz;
        } else if (d.name == "SYSTEM") {
            const auto token = detail::firstToken(d.args);
            if (token.value.empty() || !token.rest.empty() || token.restIsComment)
                lineFail("@KABEL SYSTEM needs one catalogue id (a file stem), got " + quote(d.args));
            scale_.system = std::string(token.value);
        } else if (d.name == "DEGREES") {
            const auto args = detail::splitArguments(d.args);
            const int degrees = scale_.degreeCount();
            if (!args || static_cast<int>(args->size()) != degrees)
                lineFail("@KABEL DEGREES lists " + std::to_string(args ? args->size() : 0) + " system degrees, but the scale has " +
                         std::to_string(degrees) + " degrees (one per degree, starting with the tonic)");
            for (const std::string& a : *args) {
                const auto v = detail::parseInteger(a);
                if (!v || *v < 0 || *v > 16 * kMaxNotes) lineFail("@KABEL DEGREES: expected a system degree (>= 0), got " + quote(a));
                scale_.systemDegrees.push_back(static_cast<int>(*v));
            }
        } else {
            lineFail("unknown directive @KABEL " + quote(d.name) + " (known: SYSTEM, DEGREES, KIND, OMBAK, FAMILY)");
        }
    }

    std::string fileName_;
    detail::Utf8Text utf8_;
    Scale scale_;
    std::vector<PendingDirective> directives_;
};

std::string readFile(const std::filesystem::path& path, const std::string& name) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw InputError(name, 0, "", "is a folder, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(name, 0, "", "cannot open the file");
    std::string bytes;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        bytes.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (bytes.size() > kMaxFileBytes)
            throw InputError(name, 0, "", "file is larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) + " MiB");
    }
    if (in.bad()) throw InputError(name, 0, "", "read error");
    return bytes;
}

void writeKabelLines(std::ostringstream& out, const Scale& scale) {
    if (!scale.family.empty()) out << "! @KABEL FAMILY " << scale.family << "\n";
    if (scale.kind != SourceKind::Unspecified) out << "! @KABEL KIND " << toString(scale.kind) << "\n";
    if (scale.ombakHz) out << "! @KABEL OMBAK " << detail::realText(*scale.ombakHz) << "\n";
    if (!scale.system.empty()) {
        out << "! @KABEL SYSTEM " << scale.system << "\n! @KABEL DEGREES";
        for (int d : scale.systemDegrees) out << ' ' << d;
        out << "\n";
    }
}

std::string sclText(const Scale& scale, const std::string& fileName, bool ascl) {
    std::ostringstream out;
    if (!fileName.empty()) out << "! " << fileName << "\n";
    out << "!\n";
    // A description that starts with '!' would read as a comment: keep it readable, not lost.
    std::string description = scale.description;
    for (char& c : description)
        if (c == '\n' || c == '\r') c = ' ';
    if (!description.empty() && description.front() == '!') description.insert(0, " ");
    out << description << "\n " << scale.noteCount() << "\n!\n";
    for (const Pitch& p : scale.pitches) {
        out << ' ' << (p.text.empty() ? (p.kind == Pitch::Kind::Cents ? detail::centsText(p.cents) : std::string("1/1")) : p.text);
        if (!p.label.empty()) out << " ! " << p.label;
        out << "\n";
    }
    if (ascl) {
        out << "!\n";
        if (!scale.noteNames.empty()) {
            out << "! @ABL NOTE_NAMES";
            for (const std::string& name : scale.noteNames) {
                const bool quote = name.empty() || name.find_first_of(" \t") != std::string::npos || name.front() == '"';
                out << ' ' << (quote ? "\"" + name + "\"" : name);
            }
            out << "\n";
        }
        if (scale.referencePitch)
            out << "! @ABL REFERENCE_PITCH " << scale.referencePitch->octave << ' ' << scale.referencePitch->degree << ' '
                << detail::realText(scale.referencePitch->frequency) << "\n";
        if (scale.noteRange) {
            const NoteRange& r = *scale.noteRange;
            if (r.by == NoteRange::By::Frequency) {
                out << "! @ABL NOTE_RANGE_BY_FREQUENCY " << detail::realText(r.minHz);
                if (r.maxHz > 0.0) out << ' ' << detail::realText(r.maxHz);
            } else {
                out << "! @ABL NOTE_RANGE_BY_INDEX " << r.minOctave << ' ' << r.minDegree;
                if (r.maxOctave && r.maxDegree) out << ' ' << *r.maxOctave << ' ' << *r.maxDegree;
            }
            out << "\n";
        }
        for (const auto& [key, text] : {std::pair{"SOURCE", &scale.source}, std::pair{"LINK", &scale.link}}) {
            std::istringstream lines(*text);
            for (std::string line; std::getline(lines, line);)
                if (!line.empty()) out << "! @ABL " << key << ' ' << line << "\n";
        }
    }
    writeKabelLines(out, scale);
    return out.str();
}

}  // namespace

Scale parseScale(std::string_view text, const std::string& fileName) {
    return ScaleParser(text, fileName).parse();
}

Scale loadScale(const std::filesystem::path& path) {
    const std::string name = path.filename().string();
    return parseScale(readFile(path, name), name);
}

namespace detail {
std::string readTuningFile(const std::filesystem::path& path, const std::string& name) {
    return readFile(path, name);
}
}  // namespace detail

std::string toScl(const Scale& scale, const std::string& fileName) {
    return sclText(scale, fileName, false);
}
std::string toAscl(const Scale& scale, const std::string& fileName) {
    return sclText(scale, fileName, true);
}

Scale equalTemperament(int steps, double periodCents) {
    if (steps < 1 || steps > kMaxNotes) throw std::invalid_argument("equalTemperament: steps must be 1.." + std::to_string(kMaxNotes));
    Scale s;
    s.description = std::to_string(steps) + " equal divisions of " + detail::realText(periodCents) + " cents";
    for (int i = 1; i <= steps; ++i) {
        Pitch p = Pitch::fromCents(periodCents * i / steps);
        if (i == steps && periodCents == 1200.0) p = Pitch::fromRatio(2, 1);
        s.pitches.push_back(std::move(p));
    }
    return s;
}

}  // namespace kabel::tuning
