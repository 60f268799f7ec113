// The patch document: plain data describing modules, cables, MIDI mappings and metadata. Edited
// only on the UI thread; the session turns it into running plans, patch_file.hpp into JSON.
//
// Losslessness: a patch written by a newer Kabel, or naming module types this build does not
// have, must survive a load/save round trip unchanged. Every level therefore keeps the JSON keys
// it does not understand (`extraJson`), and modules of unknown type keep all their params.
#pragma once

#include <compare>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kabel {

/// One end of a cable: a module id and one of its port ids. Written "module.port" in files.
struct PortRef {
    std::string module;
    std::string port;

    std::string str() const { return module + "." + port; }
    /// Parses "module.port"; nullopt unless both parts are valid ids.
    static std::optional<PortRef> parse(std::string_view text);
    auto operator<=>(const PortRef&) const = default;
};

struct ModuleSpec {
    std::string id;                        // unique in the patch, stable, [A-Za-z0-9_-]
    std::string type;                      // registry type id; unknown types load as placeholders
    std::map<std::string, double> params;  // by param id, as written (ids this build lacks are kept)
    float x = 0.0f;                        // canvas position
    float y = 0.0f;
    std::string label;            // optional display name ("" = the type's name)
    std::string stateJson;        // the module's own state (JSON text), "" = none
    std::string extraParamsJson;  // placeholders only: non-numeric params (JSON object text)
    std::string extraJson;        // keys this build does not know (JSON object text), "" = none
};

struct CableSpec {
    PortRef from;  // an output
    PortRef to;    // an input
    std::string extraJson;

    bool sameEnds(const CableSpec& other) const { return from == other.from && to == other.to; }
};

/// Maps a MIDI control to a parameter. `min`/`max` are in the parameter's unit; absent means
/// the parameter's full range.
struct MidiMapping {
    std::string source = "cc";  // "cc", "cc14", "nrpn", "note", "pitchbend", "pressure", "polypressure"
    int channel = 0;            // 1..16, 0 = any channel
    std::optional<int> port;    // engine MIDI input (0 the virtual input, 1..n the --midi sources); none = any
    int number = 0;             // controller, note or NRPN number (ignored for pitchbend/pressure;
                                // polypressure: the note, -1 = every note)
    std::string module;
    std::string param;
    std::optional<double> min;
    std::optional<double> max;
    std::string curve = "linear";   // "linear", "exponential", "toggle"
    std::string mode = "absolute";  // cc only: "absolute", "relative2c", "relativeBin", "relativeSign"
    std::optional<double> step;     // relative cc and NRPN increments: control position per step (0..1]
    bool pickup = true;             // soft takeover: the control takes over only once it meets the value
    std::string extraJson;
};

struct PatchMeta {
    std::string title;
    std::string author;
    std::string description;
    std::string extraJson;
};

struct Patch {
    PatchMeta meta;
    std::vector<ModuleSpec> modules;
    std::vector<CableSpec> cables;
    std::vector<MidiMapping> midiMap;
    std::string extraJson;  // unknown top-level keys

    const ModuleSpec* findModule(std::string_view id) const;
    ModuleSpec* findModule(std::string_view id);
    /// A module id not used yet: `base` if free, else base-2, base-3, ...
    std::string uniqueModuleId(std::string_view base) const;
};

}  // namespace kabel
