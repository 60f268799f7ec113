// The .kabel patch file: JSON text <-> Patch. The format is specified in docs/patch-format.md
// (format version 1); this header is its programming interface.
//
// Design note. Loading is strict about what this build understands and lossless about what it
// does not: a value of the wrong type, a cable to a module that is not in the file or a duplicate
// id is an error (InputError naming file, line, JSON pointer and reason), while unknown module
// types, unknown keys at any level, params a module does not have and values outside a param's
// range load with a warning and are written back as they were. Saving is deterministic (same
// Patch, same bytes), diff-friendly (one line per module, cable and MIDI mapping) and atomic.
//
// All functions: UI or loader thread, never the audio thread (they allocate and do I/O).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/patch/patch.hpp"

namespace kabel {

class Registry;

/// The format version this build writes and fully understands.
inline constexpr int kPatchFormatVersion = 1;
/// Larger files are rejected before they are read ("file too large").
inline constexpr std::size_t kMaxPatchFileBytes = std::size_t{64} << 20;
/// Deeper nesting of JSON arrays/objects is rejected before parsing (guards against stack and
/// memory exhaustion from hostile files). Real patches nest 4-5 levels, module state a few more.
inline constexpr int kMaxPatchNesting = 256;

struct LoadedPatch {
    Patch patch;
    /// Things the user may want to know that did not stop the load, each one line in the
    /// InputError format: "file:line: /json/pointer: text".
    std::vector<std::string> warnings;
};

/// Parses and validates patch text. `fileName` is used in messages only. Module types are looked
/// up in `registry` (unknown ones load as placeholders). Accepts a leading UTF-8 byte order mark.
/// Throws InputError on the first error.
LoadedPatch parsePatch(std::string_view text, const std::string& fileName, const Registry& registry);

/// Reads `path` and parses it. Throws InputError, also for a missing or unreadable file, a
/// directory and a file over kMaxPatchFileBytes (the reason names the OS error).
LoadedPatch loadPatchFile(const std::filesystem::path& path, const Registry& registry);

/// The file text for `patch`, in the canonical layout of docs/patch-format.md; always the same
/// bytes for the same Patch, and parsePatch(serializePatch(p)) gives back p. Throws
/// std::invalid_argument for a Patch no file can hold (a programmer error: a non-finite number,
/// or an extraJson/extraParamsJson/stateJson that is not the JSON its field requires).
std::string serializePatch(const Patch& patch);

/// Serialises and writes atomically (writeFileAtomically): `path` holds either its old contents
/// or the complete new file. Throws std::system_error naming the path when the write fails.
void savePatchFile(const std::filesystem::path& path, const Patch& patch);

/// Replaces the `midi_map` of the patch file at `path` with `map` (`kabel play --save-map`): the
/// file is read again and everything else is kept as it is there now (not as a running document
/// has it), then written in the canonical layout, atomically. Returns false, writing nothing,
/// when the file's map already equals `map`. Throws InputError when the file cannot be read or
/// parsed and std::system_error when the write fails; in both cases the file is untouched.
bool saveMidiMapInto(const std::filesystem::path& path, const std::vector<MidiMapping>& map, const Registry& registry);

}  // namespace kabel
