// Loading, validating and saving .kabel files (format: docs/patch-format.md).
//
// Loading runs in three stages. (1) Cheap linear checks on the raw bytes that nlohmann cannot
// report well or that guard it: size, byte order mark, UTF-8, nesting depth. (2) nlohmann parses
// the text; its errors carry a byte offset, which becomes line and column. (3) The document is
// validated against format version 1 and the registry, building the Patch. Stage 3 knows only
// JSON pointers; json_locate.hpp turns a pointer back into a line, on error/warning paths only.
//
// Saving writes a fixed layout by hand (not json::dump) so that files diff well: one line per
// module, cable and mapping, keys in a fixed order, numbers in their shortest round-trip form.
#include "core/patch/patch_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/module/registry.hpp"
#include "core/patch/json_locate.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/error.hpp"

namespace kabel {
namespace {

using nlohmann::json;

constexpr std::string_view kFormatName = "kabel-patch";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------------
// Numbers as text

// Shortest text that parses back to the same value (std::to_chars without a format is the
// shortest round-trip form, and it only ever produces valid JSON numbers for finite values).
template <typename T>
std::string shortestNumber(T v) {
    if (v == 0) return "0";  // also -0: the sign of zero means nothing in a patch
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, result.ptr);
}

std::string describe(const json& v) {
    switch (v.type()) {
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::null:
            return "null";
        case json::value_t::number_float:
            return shortestNumber(v.get<double>());
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return v.dump();
        default:
            return "an unsupported value";
    }
}

std::string describeType(const json& v) {
    return v.is_number() ? "a number" : describe(v);
}

// User text as it may appear in a one-line message: control characters escaped, at most about
// `max` bytes (cut at a character boundary, "..." marks the cut).
std::string shown(std::string_view s, std::size_t max = 60) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (out.size() >= max && (c & 0xC0) != 0x80) return out + "...";  // not inside a character
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7F) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned>(c));
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string inQuotes(std::string_view s) {
    std::string out;  // not "'" + s + "'": GCC 12 reports a false -Wrestrict for that
    out += '\'';
    out += shown(s);
    out += '\'';
    return out;
}

std::string inDoubleQuotes(std::string_view s) {
    std::string out;
    out += '"';
    out += shown(s);
    out += '"';
    return out;
}

// ---------------------------------------------------------------------------------------------
// Loading

constexpr const char* kIdRule = "use 1-64 characters of A-Z a-z 0-9 _ -";

// The keys a midi_map entry defines (the rest are kept as extraJson).
const std::initializer_list<std::string_view> kMappingKeys = {"source", "channel", "port",  "number", "module", "param",
                                                              "min",    "max",     "curve", "mode",   "step",   "pickup"};

struct SourceRange {
    long long lo;
    long long hi;
};

std::optional<SourceRange> midiNumberRange(std::string_view source) {
    if (source == "cc" || source == "note" || source == "polypressure") return SourceRange{0, 127};
    if (source == "cc14") return SourceRange{0, 31};
    if (source == "nrpn") return SourceRange{0, 16383};
    if (source == "pitchbend" || source == "pressure") return SourceRange{0, 16383};  // ignored
    return std::nullopt;
}

bool sourceUsesNumber(std::string_view source) {
    return source != "pitchbend" && source != "pressure";
}

// Builds the document from nlohmann's SAX events as its own DOM parser does, and notices a
// repeated key as it inserts it: nlohmann would silently keep one of the two values. (A parse
// callback watching for repeats cost a set of keys per object and a std::function call per
// event: a third of loading a 1,000-module patch.)
class DomBuilder {
public:
    explicit DomBuilder(json& root) : root_(root) {}

    bool sawDuplicateKey() const { return duplicate_; }

    bool null() { return add(nullptr); }
    bool boolean(bool v) { return add(v); }
    bool number_integer(json::number_integer_t v) { return add(v); }
    bool number_unsigned(json::number_unsigned_t v) { return add(v); }
    bool number_float(json::number_float_t v, const json::string_t&) { return add(v); }
    bool string(json::string_t& v) { return add(std::move(v)); }
    bool binary(json::binary_t& v) { return add(json::binary(std::move(v))); }
    bool start_object(std::size_t) {
        stack_.push_back(place(json::value_t::object));
        return true;
    }
    bool key(json::string_t& k) {
        auto& object = *stack_.back()->get_ptr<json::object_t*>();
        const auto [it, inserted] = object.try_emplace(std::move(k));
        duplicate_ = duplicate_ || !inserted;
        slot_ = &it->second;
        return true;
    }
    bool end_object() {
        stack_.pop_back();
        return true;
    }
    bool start_array(std::size_t) {
        stack_.push_back(place(json::value_t::array));
        return true;
    }
    bool end_array() {
        stack_.pop_back();
        return true;
    }
    template <typename Exception>
    bool parse_error(std::size_t, const std::string&, const Exception& e) {
        throw e;  // the concrete type (parse_error, out_of_range), as json::parse throws it
    }

private:
    json& root_;
    std::vector<json*> stack_;  // the open objects and arrays
    json* slot_ = nullptr;      // the value of the key just read

    bool duplicate_ = false;

    template <typename Value>
    bool add(Value&& v) {
        place(std::forward<Value>(v));
        return true;
    }
    template <typename Value>
    json* place(Value&& v) {
        if (stack_.empty()) {
            root_ = json(std::forward<Value>(v));
            return &root_;
        }
        if (auto* array = stack_.back()->get_ptr<json::array_t*>()) {
            array->emplace_back(std::forward<Value>(v));
            return &array->back();
        }
        *slot_ = json(std::forward<Value>(v));
        return slot_;
    }
};

class Loader {
public:
    Loader(std::string_view text, const std::string& fileName, const Registry& registry)
        : text_(text), file_(fileName), registry_(registry) {}

    LoadedPatch run() {
        checkBytes();
        const json doc = parseJson();
        readDocument(doc);
        resolveWarnings();
        return std::move(result_);
    }

private:
    std::string_view text_;  // without the byte order mark
    const std::string& file_;
    const Registry& registry_;
    LoadedPatch result_;

    // --- reporting ----------------------------------------------------------------------------

    int lineOf(const std::string& pointer) const {
        const auto offset = jsontext::findPointer(text_, pointer);
        return offset ? jsontext::positionAt(text_, *offset).line : 0;
    }

    [[noreturn]] void fail(const std::string& pointer, const std::string& reason) const {
        throw InputError(file_, lineOf(pointer), shown(pointer, 200), reason);
    }

    [[noreturn]] void failAt(std::size_t offset, const std::string& reason) const {
        const jsontext::TextPosition pos = jsontext::positionAt(text_, offset);
        throw InputError(file_, pos.line, "", reason + " (column " + std::to_string(pos.column) + ")");
    }

    // Warnings get their lines at the end, all in one pass over the text: a patch full of
    // placeholders can have thousands, and a walk per warning would be quadratic.
    void warn(std::string pointer, std::string text) { pending_.push_back({std::move(pointer), std::move(text)}); }

    void resolveWarnings() {
        std::vector<std::string> pointers;
        pointers.reserve(pending_.size());
        for (const auto& w : pending_) pointers.push_back(w.pointer);
        const auto offsets = jsontext::findPointers(text_, pointers);
        const jsontext::LineIndex lines(text_);
        for (std::size_t i = 0; i < pending_.size(); ++i) {
            const int line = offsets[i] ? lines.lineOf(*offsets[i]) : 0;
            result_.warnings.push_back(InputError(file_, line, shown(pending_[i].pointer, 200), pending_[i].text).what());
        }
    }

    struct PendingWarning {
        std::string pointer;
        std::string text;
    };
    std::vector<PendingWarning> pending_;

    // --- stages 1 and 2 -----------------------------------------------------------------------

    void checkBytes() {
        if (text_.size() > kMaxPatchFileBytes)
            throw InputError(file_, 0, "",
                             "file too large (" + std::to_string(text_.size()) + " bytes; the limit is " +
                                 std::to_string(kMaxPatchFileBytes >> 20) + " MB)");
        if (text_.starts_with(kUtf8Bom)) text_.remove_prefix(kUtf8Bom.size());
        if (text_.starts_with("\xFF\xFE") || text_.starts_with("\xFE\xFF"))
            throw InputError(file_, 1, "", "the file is UTF-16 encoded: save it as UTF-8");
        if (text_.find_first_not_of(" \t\r\n") == std::string_view::npos)
            throw InputError(file_, 0, "", "empty file: expected a JSON object with \"format\": \"kabel-patch\"");
        const auto bad = jsontext::findInvalidUtf8(text_);
        const auto deep = jsontext::findExcessiveNesting(text_, kMaxPatchNesting);
        if (bad && (!deep || *bad < *deep)) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text_[*bad])));
            failAtOrEarlier(*bad, std::string("invalid UTF-8: byte ") + hex + " does not belong here; save the file as UTF-8");
        }
        if (deep) failAtOrEarlier(*deep, "arrays and objects nested deeper than " + std::to_string(kMaxPatchNesting) + " levels");
    }

    // Reports `reason` at `offset`, unless the text before it already has a syntax error: the
    // earliest problem is the one to fix (random bytes that happen to hold 257 '[' are "invalid
    // JSON" at column 1). Callers pass the first bad byte or excessive nesting, so the prefix is
    // valid UTF-8 and shallow: parsing it is safe. A prefix that merely ends early fails at its
    // end (nlohmann's byte = size + 1), which does not count.
    [[noreturn]] void failAtOrEarlier(std::size_t offset, const std::string& reason) {
        json ignored;
        const auto failure = tryParse(text_.substr(0, offset), ignored);
        if (failure && failure->offset < offset) failAt(failure->offset, failure->reason);
        failAt(offset, reason);
    }

    struct ParseFailure {
        std::size_t offset;  // into text_
        std::string reason;
    };

    // Parses text_ or a prefix of it. Returns the failure instead of throwing so that
    // failAtOrEarlier can tell an early syntax error from the end of a prefix.
    std::optional<ParseFailure> tryParse(std::string_view text, json& doc) {
        DomBuilder builder(doc);
        try {
            json::sax_parse(text.begin(), text.end(), &builder);
        } catch (const json::parse_error& e) {
            // e.byte is the 1-based index of the last byte read; its position is where it broke.
            const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
            return ParseFailure{offset, "invalid JSON: " + parseErrorReason(e.what()) + hint(text, offset)};
        } catch (const json::out_of_range&) {
            // nlohmann's only out_of_range while parsing: a number beyond the double range.
            const auto offset = jsontext::findNonFiniteNumber(text);
            if (!offset) return ParseFailure{0, "number out of range: does not fit a double"};
            const std::size_t end = std::min(text.find_first_of(" \t\r\n,]}", *offset), *offset + 40);
            return ParseFailure{*offset,
                                "number out of range: " + std::string(text.substr(*offset, end - *offset)) + " does not fit a double"};
        }
        if (builder.sawDuplicateKey()) {
            if (const auto dup = jsontext::findDuplicateKey(text)) {
                const std::size_t slash = dup->pointer.rfind('/');
                throw InputError(file_, jsontext::positionAt(text_, dup->offset).line, dup->pointer,
                                 "duplicate key \"" + dup->pointer.substr(slash + 1) + "\": keys must be unique within an object");
            }
            throw InputError(file_, 0, "", "duplicate key: keys must be unique within an object");
        }
        return std::nullopt;
    }

    json parseJson() {
        json doc;
        if (const auto failure = tryParse(text_, doc)) failAt(failure->offset, failure->reason);
        return doc;
    }

    // nlohmann: "[json.exception.parse_error.101] parse error at line 1, column 7: <reason>".
    // The position is ours (computed from the byte offset); keep only the reason.
    static std::string parseErrorReason(std::string_view what) {
        const auto at = what.find("parse error");
        const auto colon = what.find(": ", at == std::string_view::npos ? 0 : at);
        std::string reason(colon == std::string_view::npos ? what : what.substr(colon + 2));
        // "last read: '<token>'" echoes the token being read, which in a hostile file can be an
        // unterminated string of megabytes: keep its ends only.
        constexpr std::string_view kLastRead = "last read: '";
        const auto begin = reason.find(kLastRead);
        if (begin != std::string::npos) {
            const std::size_t start = begin + kLastRead.size();
            auto end = reason.rfind("'; expected");
            if (end == std::string::npos || end < start) end = reason.rfind('\'');
            if (end != std::string::npos && end > start + 60) reason.replace(start + 25, end - start - 50, "...");
        }
        return reason;
    }

    // A likely cause for the common hand-editing mistakes that nlohmann reports generically.
    static std::string hint(std::string_view text, std::size_t offset) {
        if (offset >= text.size()) return " (the file ends too early: is it truncated?)";
        const char c = text[offset];
        if (c == '/' || c == '#') return " (JSON has no comments)";
        if (c == '\'') return " (JSON strings need double quotes)";
        if (c == ']' || c == '}') {
            const auto before = text.find_last_not_of(" \t\r\n", offset == 0 ? 0 : offset - 1);
            if (offset > 0 && before != std::string_view::npos && text[before] == ',') return " (JSON allows no comma after the last item)";
        }
        return "";
    }

    // --- stage 3: typed access ----------------------------------------------------------------

    enum class Want { Object, Array, String, Number };

    const json& expect(const json& v, Want want, const std::string& pointer) const {
        static constexpr const char* kNames[] = {"an object", "an array", "a string", "a number"};
        const bool ok = want == Want::Object   ? v.is_object()
                        : want == Want::Array  ? v.is_array()
                        : want == Want::String ? v.is_string()
                                               : v.is_number();
        if (!ok) fail(pointer, std::string("expected ") + kNames[static_cast<int>(want)] + ", got " + describeType(v));
        return v;
    }
    const json& expectObject(const json& v, const std::string& p) const { return expect(v, Want::Object, p); }
    const json& expectArray(const json& v, const std::string& p) const { return expect(v, Want::Array, p); }
    std::string expectString(const json& v, const std::string& p) const { return expect(v, Want::String, p).get<std::string>(); }
    double expectNumber(const json& v, const std::string& p) const {
        const double d = expect(v, Want::Number, p).get<double>();
        if (!std::isfinite(d)) fail(p, "number out of range");  // unreachable: parsing rejects these
        return d;
    }
    // An integer in [lo, hi]; integral floats such as 3.0 count as integers.
    long long expectInteger(const json& v, const std::string& p, long long lo, long long hi, const std::string& what) const {
        if (!v.is_number()) fail(p, "expected " + what + ", got " + describeType(v));
        const double d = v.get<double>();
        if (d != std::floor(d)) fail(p, "expected " + what + ", got " + describe(v));
        if (d < double(lo) || d > double(hi)) fail(p, describe(v) + " is out of range: expected " + what);
        return static_cast<long long>(d);
    }
    std::string expectId(const json& v, const std::string& p, const char* what) const {
        std::string id = expectString(v, p);
        if (!isValidId(id)) fail(p, inQuotes(id) + " is not a valid " + what + ": " + kIdRule);
        return id;
    }
    const json& required(const json& object, const char* key, const std::string& pointer, const char* why) const {
        const auto it = object.find(key);
        if (it == object.end()) fail(pointer, std::string("missing \"") + key + "\"" + why);
        return *it;
    }
    static const json* member(const json& object, const char* key) {
        const auto it = object.find(key);
        return it == object.end() ? nullptr : &*it;
    }
    // The members of `object` not named in `known`, as JSON object text ("" if none).
    static std::string extraKeys(const json& object, std::initializer_list<std::string_view> known) {
        const auto isKnown = [&](std::string_view key) { return std::find(known.begin(), known.end(), key) != known.end(); };
        const auto& members = *object.get_ptr<const json::object_t*>();
        if (std::all_of(members.begin(), members.end(), [&](const auto& member) { return isKnown(member.first); }))
            return std::string();  // the usual case: no json object to build and dump
        json extra = json::object();
        for (const auto& [key, value] : members)
            if (!isKnown(key)) extra[key] = value;
        return extra.dump();
    }

    // --- stage 3: the document ----------------------------------------------------------------

    void readDocument(const json& doc) {
        if (!doc.is_object()) fail("", "expected a JSON object at the top level, got " + describeType(doc) + " (is this a Kabel patch?)");

        const json& format = required(doc, "format", "", " (not a Kabel patch? expected \"format\": \"kabel-patch\")");
        if (!format.is_string() || format.get<std::string>() != kFormatName)
            fail("/format", "\"format\" must be \"kabel-patch\", got " +
                                (format.is_string() ? inDoubleQuotes(format.get<std::string>()) : describeType(format)));

        const json& version = required(doc, "version", "", " (the format version, 1 for this Kabel)");
        const long long v = expectInteger(version, "/version", 1, std::numeric_limits<int>::max(), "a positive integer");
        if (v > kPatchFormatVersion)
            warn("/version", "format version " + std::to_string(v) + " is newer than this Kabel's (" + std::to_string(kPatchFormatVersion) +
                                 "): loaded best-effort, unknown keys kept; saving writes version " + std::to_string(kPatchFormatVersion));

        Patch& patch = result_.patch;
        if (const json* meta = member(doc, "meta")) readMeta(*meta, patch.meta);
        if (const json* modules = member(doc, "modules")) {
            expectArray(*modules, "/modules");
            for (std::size_t i = 0; i < modules->size(); ++i) readModule((*modules)[i], "/modules/" + std::to_string(i));
        }
        if (const json* cables = member(doc, "cables")) {
            expectArray(*cables, "/cables");
            for (std::size_t i = 0; i < cables->size(); ++i) readCable((*cables)[i], "/cables/" + std::to_string(i));
        }
        if (const json* midiMap = member(doc, "midi_map")) {
            expectArray(*midiMap, "/midi_map");
            for (std::size_t i = 0; i < midiMap->size(); ++i) readMapping((*midiMap)[i], "/midi_map/" + std::to_string(i));
        }
        patch.extraJson = extraKeys(doc, {"format", "version", "meta", "modules", "cables", "midi_map"});
    }

    void readMeta(const json& meta, PatchMeta& out) const {
        expectObject(meta, "/meta");
        if (const json* v = member(meta, "title")) out.title = expectString(*v, "/meta/title");
        if (const json* v = member(meta, "author")) out.author = expectString(*v, "/meta/author");
        if (const json* v = member(meta, "description")) out.description = expectString(*v, "/meta/description");
        out.extraJson = extraKeys(meta, {"title", "author", "description"});
    }

    void readModule(const json& m, const std::string& ptr) {
        expectObject(m, ptr);
        ModuleSpec spec;
        spec.id = expectId(required(m, "id", ptr, " (every module needs a unique id)"), ptr + "/id", "module id");
        if (const auto it = moduleIndex_.find(spec.id); it != moduleIndex_.end())
            fail(ptr + "/id", "duplicate module id " + inQuotes(spec.id) + " (also /modules/" + std::to_string(it->second) + ")");
        spec.type = expectId(required(m, "type", ptr, " (the module type, e.g. \"sine\")"), ptr + "/type", "module type");
        const ModuleDescriptor* type = registry_.find(spec.type);
        if (!type) warn(ptr + "/type", "unknown module type " + inQuotes(spec.type) + ": loaded as a placeholder");

        if (const json* pos = member(m, "position")) {
            const std::string p = ptr + "/position";
            if (!pos->is_array() || pos->size() != 2)
                fail(p, "expected [x, y], got " + (pos->is_array() ? "an array of " + std::to_string(pos->size()) : describeType(*pos)));
            float* xy[2] = {&spec.x, &spec.y};
            for (std::size_t k = 0; k < 2; ++k) {
                const std::string pk = p + "/" + std::to_string(k);
                const double d = expectNumber((*pos)[k], pk);
                if (std::fabs(d) > double(std::numeric_limits<float>::max()))
                    fail(pk, describe((*pos)[k]) + " is out of range for a canvas position");
                *xy[k] = static_cast<float>(d);
            }
        }
        if (const json* params = member(m, "params")) readParams(*params, ptr + "/params", type, spec);
        if (const json* label = member(m, "label")) spec.label = expectString(*label, ptr + "/label");
        if (const json* state = member(m, "state")) spec.stateJson = state->dump();
        spec.extraJson = extraKeys(m, {"id", "type", "position", "params", "label", "state"});

        moduleIndex_.emplace(spec.id, result_.patch.modules.size());
        result_.patch.modules.push_back(std::move(spec));
    }

    void readParams(const json& params, const std::string& ptr, const ModuleDescriptor* type, ModuleSpec& spec) {
        expectObject(params, ptr);
        json extra = json::object();  // placeholders: non-numeric params
        for (const auto& [id, value] : params.items()) {
            const std::string p = jsontext::appendPointer(ptr, id);
            if (!isValidId(id)) fail(p, inQuotes(id) + " is not a valid param id: " + kIdRule);
            if (!type) {
                if (value.is_number())
                    spec.params[id] = value.get<double>();
                else
                    extra[id] = value;
                continue;
            }
            const double v = expectNumber(value, p);
            spec.params[id] = v;
            const int index = type->paramIndex(id);
            if (index < 0) {
                warn(p, "module type " + inQuotes(type->id) + " has no param " + inQuotes(id) + ": value kept");
                continue;
            }
            const ParamDescriptor& d = type->params[static_cast<std::size_t>(index)];
            if (v < double(d.min) || v > double(d.max))
                warn(p, shortestNumber(v) + " is outside the range [" + shortestNumber(d.min) + ", " + shortestNumber(d.max) + "] of " +
                            type->id + "." + id + ": kept, the engine clamps it");
            else if ((d.curve == ParamCurve::Integer || d.curve == ParamCurve::Choice || d.curve == ParamCurve::Toggle) &&
                     v != std::floor(v))
                warn(p, shortestNumber(v) + " is not a whole number (" + type->id + "." + id + " is " + std::string(toString(d.curve)) +
                            "): kept, the engine rounds it");
        }
        if (!extra.empty()) spec.extraParamsJson = extra.dump();
    }

    PortRef readPortRef(const json& c, const char* key, const std::string& ptr) const {
        const std::string p = ptr + "/" + key;
        const std::string text = expectString(required(c, key, ptr, " (cables need \"from\" and \"to\")"), p);
        const auto ref = PortRef::parse(text);
        if (!ref) fail(p, "expected \"module.port\" (two ids joined by a dot), got " + inDoubleQuotes(text));
        if (!findModule(ref->module)) fail(p, "no module with id " + inQuotes(ref->module) + " in this patch");
        return *ref;
    }

    // Checks that `ref` names an output (`wantOutput`) or an input of a known module type.
    void checkPort(const PortRef& ref, bool wantOutput, const std::string& p) {
        const ModuleSpec* module = findModule(ref.module);
        const ModuleDescriptor* type = registry_.find(module->type);
        if (!type) return;  // placeholder: ports unknown, cable kept as written
        const bool isOutput = type->outputIndex(ref.port) >= 0;
        const bool isInput = type->inputIndex(ref.port) >= 0;
        if (wantOutput ? isOutput : isInput) return;
        if (wantOutput ? isInput : isOutput)
            fail(p, inQuotes(ref.str()) + " is an " + (wantOutput ? "input" : "output") +
                        ": a cable runs from \"from\" (an output) to \"to\" (an input)");
        warn(p, "module type " + inQuotes(type->id) + " has no " + (wantOutput ? "output " : "input ") + inQuotes(ref.port) +
                    ": cable kept, the engine ignores it");
    }

    void readCable(const json& c, const std::string& ptr) {
        expectObject(c, ptr);
        CableSpec cable;
        cable.from = readPortRef(c, "from", ptr);
        cable.to = readPortRef(c, "to", ptr);
        checkPort(cable.from, true, ptr + "/from");
        checkPort(cable.to, false, ptr + "/to");
        // Port ids hold no space, so "from to" names one cable.
        const auto [it, inserted] = cableIndex_.try_emplace(cable.from.str() + ' ' + cable.to.str(), result_.patch.cables.size());
        if (!inserted)
            fail(ptr,
                 "duplicate cable " + cable.from.str() + " -> " + cable.to.str() + " (also /cables/" + std::to_string(it->second) + ")");
        cable.extraJson = extraKeys(c, {"from", "to"});
        result_.patch.cables.push_back(std::move(cable));
    }

    void readMapping(const json& m, const std::string& ptr) {
        expectObject(m, ptr);
        MidiMapping map;
        map.source =
            expectString(required(m, "source", ptr, " (cc, cc14, nrpn, note, pitchbend, pressure or polypressure)"), ptr + "/source");
        const auto range = midiNumberRange(map.source);
        if (!range)
            fail(ptr + "/source",
                 "unknown source " + inDoubleQuotes(map.source) + ": expected cc, cc14, nrpn, note, pitchbend, pressure or polypressure");
        if (const json* ch = member(m, "channel"))
            map.channel = static_cast<int>(expectInteger(*ch, ptr + "/channel", 0, 16, "a channel 0..16 (0 = any)"));
        if (const json* port = member(m, "port"))
            map.port = static_cast<int>(
                expectInteger(*port, ptr + "/port", 0, 255, "a MIDI input port 0..255 (0 = the virtual input, 1..n the --midi sources)"));
        const json* number = member(m, "number");
        const bool anyNote = map.source == "polypressure";  // without a number: every note
        if (!number && sourceUsesNumber(map.source) && !anyNote) fail(ptr, "missing \"number\" (the " + map.source + " number to map)");
        if (number)
            map.number = static_cast<int>(expectInteger(
                *number, ptr + "/number", range->lo, range->hi,
                "an integer " + std::to_string(range->lo) + ".." + std::to_string(range->hi) + " for source '" + map.source + "'"));
        else if (anyNote)
            map.number = -1;
        if (map.source == "nrpn" && map.number == 16383)
            warn(ptr + "/number", "NRPN 16383 (127/127) is the null parameter, which deselects: mapping kept, it does nothing");
        map.module = expectId(required(m, "module", ptr, " (the module id to control)"), ptr + "/module", "module id");
        map.param = expectId(required(m, "param", ptr, " (the param id to control)"), ptr + "/param", "param id");
        if (const json* v = member(m, "min")) map.min = expectNumber(*v, ptr + "/min");
        if (const json* v = member(m, "max")) map.max = expectNumber(*v, ptr + "/max");
        if (const json* v = member(m, "curve")) {
            map.curve = expectString(*v, ptr + "/curve");
            if (map.curve != "linear" && map.curve != "exponential" && map.curve != "toggle")
                fail(ptr + "/curve", "unknown curve " + inDoubleQuotes(map.curve) + ": expected linear, exponential or toggle");
        }
        if (const json* v = member(m, "mode")) {
            map.mode = expectString(*v, ptr + "/mode");
            if (map.mode != "absolute" && map.mode != "relative2c" && map.mode != "relativeBin" && map.mode != "relativeSign")
                fail(ptr + "/mode",
                     "unknown mode " + inDoubleQuotes(map.mode) + ": expected absolute, relative2c, relativeBin or relativeSign");
            if (map.mode != "absolute" && map.source != "cc")
                fail(ptr + "/mode", "mode " + inDoubleQuotes(map.mode) + " needs source \"cc\" (relative encoders send 7-bit CCs), got " +
                                        inDoubleQuotes(map.source));
            if (map.mode != "absolute" && map.curve == "toggle")
                fail(ptr + "/mode", "mode " + inDoubleQuotes(map.mode) + " cannot drive a toggle curve: use linear or exponential");
        }
        if (const json* v = member(m, "step")) {
            const double step = expectNumber(*v, ptr + "/step");
            if (!(step > 0.0 && step <= 1.0))
                fail(ptr + "/step", describe(*v) + " is out of range: expected 0 < step <= 1 (the control position moved per step)");
            map.step = step;
            if (map.mode == "absolute" && map.source != "nrpn")
                warn(ptr + "/step", "step is used by relative modes and NRPN increments only: kept, it does nothing here");
        }
        if (const json* v = member(m, "pickup")) {
            if (!v->is_boolean()) fail(ptr + "/pickup", "expected true or false, got " + describeType(*v));
            map.pickup = v->get<bool>();
        }
        map.extraJson = extraKeys(m, kMappingKeys);

        if (const ModuleSpec* target = findModule(map.module)) {
            const ModuleDescriptor* type = registry_.find(target->type);
            if (type && type->paramIndex(map.param) < 0)
                warn(ptr + "/param",
                     "module type " + inQuotes(type->id) + " has no param " + inQuotes(map.param) + ": mapping kept, it does nothing");
        } else {
            warn(ptr + "/module", "no module with id " + inQuotes(map.module) + " in this patch: mapping kept, it does nothing");
        }
        result_.patch.midiMap.push_back(std::move(map));
    }

    // Patch::findModule is a linear search; cables and mappings look modules up by id here.
    const ModuleSpec* findModule(std::string_view id) const {
        const auto it = moduleIndex_.find(id);
        return it == moduleIndex_.end() ? nullptr : &result_.patch.modules[it->second];
    }

    // Hashed by id, looked up by string_view (1,000-module patches: a tree's string compares
    // showed in the profile).
    struct IdHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::size_t, IdHash, std::equal_to<>> moduleIndex_;
    std::unordered_map<std::string, std::size_t> cableIndex_;  // "from to" -> index
};

// ---------------------------------------------------------------------------------------------
// Saving

[[noreturn]] void badPatch(const std::string& what) {
    throw std::invalid_argument("serializePatch: " + what);
}

// Compact one-line JSON with a space after ':' and ',', keys sorted (nlohmann's object order).
// Numbers keep nlohmann's form so that an integer stays an integer and 1.0 stays 1.0.
void writeCompact(const json& v, std::string& out) {
    if (v.is_object()) {
        out += '{';
        bool first = true;
        for (const auto& [key, value] : v.items()) {
            if (!first) out += ", ";
            first = false;
            out += json(key).dump();
            out += ": ";
            writeCompact(value, out);
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) out += ", ";
            writeCompact(v[i], out);
        }
        out += ']';
    } else {
        out += v.dump();
    }
}

// Parses one of the Patch's JSON text fields; "" means nothing.
json parseField(const std::string& text, const std::string& field, bool mustBeObject) {
    if (text.empty()) return mustBeObject ? json::object() : json();
    if (jsontext::findExcessiveNesting(text, kMaxPatchNesting)) badPatch(field + " is nested too deeply");
    json v = json::parse(text, nullptr, false);
    if (v.is_discarded()) badPatch(field + " is not valid JSON: " + text.substr(0, 80));
    if (mustBeObject && !v.is_object()) badPatch(field + " must be a JSON object, got: " + text.substr(0, 80));
    return v;
}

class Writer {
public:
    std::string out;

    // Starts `"key": ` inside an object (the caller supplies the value).
    void key(std::string_view k, bool& first) {
        if (!first) out += ", ";
        first = false;
        out += json(k).dump();
        out += ": ";
    }
    void string(std::string_view s) { out += json(s).dump(); }
    void number(double v, const std::string& field) {
        if (!std::isfinite(v)) badPatch(field + " is not a finite number");
        out += shortestNumber(v);
    }
    void position(float v, const std::string& field) {
        if (!std::isfinite(v)) badPatch(field + " is not a finite number");
        out += shortestNumber(v);  // float's shortest form: loads back to the same float
    }
    // Extra keys, sorted, skipping the ones the format defines (those are written from fields).
    void extras(const json& extra, std::initializer_list<std::string_view> known, bool& first) {
        for (const auto& [k, value] : extra.items()) {
            bool isKnown = false;
            for (const auto name : known) isKnown = isKnown || k == name;
            if (isKnown) continue;
            key(k, first);
            writeCompact(value, out);
        }
    }
};

void writeMeta(Writer& w, const PatchMeta& meta) {
    const json extra = parseField(meta.extraJson, "meta.extraJson", true);
    bool first = true;
    w.out += "{";
    if (!meta.title.empty()) w.key("title", first), w.string(meta.title);
    if (!meta.author.empty()) w.key("author", first), w.string(meta.author);
    if (!meta.description.empty()) w.key("description", first), w.string(meta.description);
    w.extras(extra, {"title", "author", "description"}, first);
    w.out += "}";
}

void writeModule(Writer& w, const ModuleSpec& m) {
    const std::string name = "module '" + m.id + "'";
    bool first = true;
    w.out += "{";
    w.key("id", first), w.string(m.id);
    w.key("type", first), w.string(m.type);
    w.key("position", first);
    w.out += "[";
    w.position(m.x, name + " x");
    w.out += ", ";
    w.position(m.y, name + " y");
    w.out += "]";
    // Numeric params and a placeholder's other params, merged into one object sorted by id.
    const json extraParams = parseField(m.extraParamsJson, name + " extraParamsJson", true);
    if (!m.params.empty() || !extraParams.empty()) {
        std::map<std::string, std::string> values;
        for (const auto& [id, value] : extraParams.items()) writeCompact(value, values[id]);
        for (const auto& [id, value] : m.params) {
            std::string& text = values[id];
            text.clear();
            if (!std::isfinite(value)) badPatch(name + " param '" + id + "' is not a finite number");
            text = shortestNumber(value);
        }
        w.key("params", first);
        w.out += "{";
        bool firstParam = true;
        for (const auto& [id, text] : values) {
            w.key(id, firstParam);
            w.out += text;
        }
        w.out += "}";
    }
    if (!m.label.empty()) w.key("label", first), w.string(m.label);
    if (!m.stateJson.empty()) {
        w.key("state", first);
        writeCompact(parseField(m.stateJson, name + " stateJson", false), w.out);
    }
    w.extras(parseField(m.extraJson, name + " extraJson", true), {"id", "type", "position", "params", "label", "state"}, first);
    w.out += "}";
}

void writeCable(Writer& w, const CableSpec& c) {
    bool first = true;
    w.out += "{";
    w.key("from", first), w.string(c.from.str());
    w.key("to", first), w.string(c.to.str());
    w.extras(parseField(c.extraJson, "cable " + c.from.str() + " -> " + c.to.str() + " extraJson", true), {"from", "to"}, first);
    w.out += "}";
}

void writeMapping(Writer& w, const MidiMapping& m) {
    const std::string name = "MIDI mapping to " + m.module + "." + m.param;
    bool first = true;
    w.out += "{";
    w.key("source", first), w.string(m.source);
    w.key("channel", first), w.out += std::to_string(m.channel);
    if (m.port) w.key("port", first), w.out += std::to_string(*m.port);
    const bool writeNumber = m.source == "polypressure" ? m.number >= 0 : sourceUsesNumber(m.source) || m.number != 0;
    if (writeNumber) w.key("number", first), w.out += std::to_string(m.number);
    w.key("module", first), w.string(m.module);
    w.key("param", first), w.string(m.param);
    if (m.min) w.key("min", first), w.number(*m.min, name + " min");
    if (m.max) w.key("max", first), w.number(*m.max, name + " max");
    w.key("curve", first), w.string(m.curve);
    if (m.mode != "absolute") w.key("mode", first), w.string(m.mode);
    if (m.step) w.key("step", first), w.number(*m.step, name + " step");
    if (!m.pickup) w.key("pickup", first), w.out += "false";  // true is the default
    w.extras(parseField(m.extraJson, name + " extraJson", true), kMappingKeys, first);
    w.out += "}";
}

// Writes `"key": [` ... `]` with one item per line.
template <typename Items, typename WriteItem>
void writeList(Writer& w, std::string_view key, const Items& items, WriteItem writeItem) {
    w.out += "  ";
    w.string(key);
    if (items.empty()) {
        w.out += ": []";
        return;
    }
    w.out += ": [\n";
    for (std::size_t i = 0; i < items.size(); ++i) {
        w.out += "    ";
        writeItem(w, items[i]);
        w.out += i + 1 < items.size() ? ",\n" : "\n";
    }
    w.out += "  ]";
}

}  // namespace

LoadedPatch parsePatch(std::string_view text, const std::string& fileName, const Registry& registry) {
    return Loader(text, fileName, registry).run();
}

LoadedPatch loadPatchFile(const std::filesystem::path& path, const Registry& registry) {
    const std::string name = path.string();
    const auto osError = [&](const char* what) {
        return InputError(name, 0, "", std::string(what) + ": " + std::generic_category().message(errno));
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw osError("cannot open");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw osError("cannot read");
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        throw osError("cannot read");
    }
    const auto tooLarge = [&](std::size_t size) {
        return InputError(name, 0, "",
                          "file too large (" + std::to_string(size) + (S_ISREG(st.st_mode) ? "" : "+") + " bytes; the limit is " +
                              std::to_string(kMaxPatchFileBytes >> 20) + " MB)");
    };
    if (S_ISREG(st.st_mode) && static_cast<std::uintmax_t>(st.st_size) > kMaxPatchFileBytes)
        throw tooLarge(static_cast<std::size_t>(st.st_size));

    // Read to the end rather than trusting st_size: the file may change, or be a pipe.
    std::string text;
    if (S_ISREG(st.st_mode)) text.reserve(static_cast<std::size_t>(st.st_size));
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw osError("cannot read");
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxPatchFileBytes) throw tooLarge(text.size());
    }
    return parsePatch(text, name, registry);
}

std::string serializePatch(const Patch& patch) {
    Writer w;
    try {
        w.out += "{\n  \"format\": ";
        w.string(kFormatName);
        w.out += ",\n  \"version\": " + std::to_string(kPatchFormatVersion) + ",\n";
        const PatchMeta& meta = patch.meta;
        if (!meta.title.empty() || !meta.author.empty() || !meta.description.empty() || !meta.extraJson.empty()) {
            w.out += "  \"meta\": ";
            writeMeta(w, meta);
            w.out += ",\n";
        }
        writeList(w, "modules", patch.modules, writeModule);
        w.out += ",\n";
        writeList(w, "cables", patch.cables, writeCable);
        w.out += ",\n";
        writeList(w, "midi_map", patch.midiMap, writeMapping);
        const json extra = parseField(patch.extraJson, "Patch::extraJson", true);
        for (const auto& [key, value] : extra.items()) {
            if (key == "format" || key == "version" || key == "meta" || key == "modules" || key == "cables" || key == "midi_map") continue;
            w.out += ",\n  ";
            w.string(key);
            w.out += ": ";
            writeCompact(value, w.out);
        }
        w.out += "\n}\n";
    } catch (const json::exception& e) {
        badPatch(e.what());  // e.g. a string that is not valid UTF-8
    }
    return std::move(w.out);
}

void savePatchFile(const std::filesystem::path& path, const Patch& patch) {
    writeFileAtomically(path, serializePatch(patch));
}

bool saveMidiMapInto(const std::filesystem::path& path, const std::vector<MidiMapping>& map, const Registry& registry) {
    Patch patch = loadPatchFile(path, registry).patch;
    const std::string before = serializePatch(patch);
    patch.midiMap = map;
    const std::string after = serializePatch(patch);
    if (after == before) return false;
    writeFileAtomically(path, after);
    return true;
}

}  // namespace kabel
