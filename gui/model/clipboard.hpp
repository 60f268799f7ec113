// Copy, paste, duplicate and remove groups of modules in a Patch document.
//
// Design note. A clip is a patch file: the selected modules, the cables among them and their MIDI
// mappings, written by serializePatch with one extra top-level key, "clip": {"version": 1} (old
// loaders keep unknown top-level keys, so the text stays a valid .kabel file). Pasting therefore
// goes through parsePatch, the same strict validation as opening a file, and accepts a whole patch
// file's text as well (its modules are pasted). The system clipboard is untrusted input: errors
// are InputError with the file name "clipboard".
//
// Pasted and duplicated modules get fresh ids: an id that is free in the target patch is kept,
// a clashing one becomes the next free "base-N" (Patch::uniqueModuleId on the id without its
// "-N" suffix), and the cables and mappings that belong to the group follow the renaming.
// Cables to modules outside the group are never copied.
//
// Thread: UI thread (allocates).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/patch/patch.hpp"

namespace kabel {
class Registry;
}

namespace kabel::editor {

/// The modules with these ids (unknown ids are skipped; the patch's module order is kept), the
/// cables between them and their MIDI mappings, as clip text (see the design note).
std::string copyModules(const Patch& patch, const std::vector<std::string>& ids);

/// Adds the clip's modules with fresh unique ids, internal cables and mappings renamed, placed so
/// the clip's top-left module corner (smallest x, smallest y) lands at (x, y). Returns the new ids
/// in the clip's order. Throws InputError (file "clipboard") for text that is not a clip or a
/// patch; `patch` is unchanged then.
std::vector<std::string> pasteModules(Patch& patch, std::string_view text, float x, float y, const Registry& registry);

/// Copies of the modules with these ids offset by (dx, dy), with the cables among them (not the
/// cables from outside) and their MIDI mappings. Returns the new ids, one per copied module, in
/// the order of `ids` (unknown and repeated ids are skipped).
std::vector<std::string> duplicateModules(Patch& patch, const std::vector<std::string>& ids, float dx, float dy);

/// Removes the modules with these ids, every cable touching them and their MIDI mappings.
void removeModules(Patch& patch, const std::vector<std::string>& ids);

}  // namespace kabel::editor
