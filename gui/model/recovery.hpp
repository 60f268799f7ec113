// Autosave and crash recovery.
//
// Design note. Every editor process autosaves (every 10 s, driven by the editor) to its own
// recovery file, "kabel-recovery-<pid>-<token>.json" in recoveryDirectory(), written atomically:
//   {"format": "kabel-recovery", "version": 1, "original": "/abs/path or empty", "pid": N,
//    "boot_id": "...", "start_ticks": N, "written": "2026-11-22T04:30:00Z", "patch": {...}}
// "patch" is the patch file's JSON (serializePatch), so it round-trips losslessly. "original" is
// the file the document belongs to ("" = never saved); a path that is not valid UTF-8 is also
// stored byte for byte as hex in "original_hex". The editor reopens a recovered document under its
// original path, unsaved: recovery never writes over any file itself.
//
// Orphans. A recovery file is an orphan (its process crashed) when its process is gone: the PID
// does not exist (kill(pid, 0) fails with ESRCH), the machine rebooted since (boot_id differs),
// or the PID now belongs to a different process: its start time (/proc/PID/stat field 22) is not
// the recorded start_ticks or, for a file without start_ticks, its name (/proc/PID/comm) does not
// begin with "kabel". The file of a live Kabel process (another editor, or this one) is left
// alone. The random token in the name keeps a new process whose PID was reused from overwriting
// an orphan that has not been recovered yet.
//
// A file that cannot be read or parsed (also its patch, checked structurally) is renamed aside
// with ".corrupt" appended and reported; it never blocks start-up and is not offered again.
//
// A recovery that crashes is not offered again either: load() leaves a marker
// "<file>.recovering" naming this process until dismiss(); a marker whose process has died
// (Kabel stopped while opening or running the recovered document) makes the next findOrphans set
// the file aside as ".crashed" with a message. A file whose marker names a live process is being
// recovered by another editor and is skipped.
//
// Thread: UI thread (file I/O).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/patch/patch.hpp"

namespace kabel {
class Registry;
}

namespace kabel::editor {

struct RecoveryFile {
    std::filesystem::path file;
    std::string originalPath;  // "" = never saved
    std::filesystem::file_time_type written;
    std::string title;  // the patch's title, else the original file's name, else "Untitled"
    int pid = 0;        // the process that wrote it
};

class Autosave {
public:
    /// How often the editor autosaves a document with unsaved changes.
    static constexpr std::chrono::seconds kInterval{10};

    /// `directory`: where recovery files live (created on demand). The editor passes
    /// recoveryDirectory().
    explicit Autosave(std::filesystem::path directory);

    /// Atomically writes the document and its original path to this process's recovery file,
    /// creating the directory if needed. Throws std::system_error when the write fails (the
    /// previous recovery file is kept then).
    void write(const Patch& patch, const std::string& originalPath);
    /// Removes this process's recovery file (after a clean save or a clean exit). Never throws.
    void discard() noexcept;
    /// This process's recovery file (it exists once write() has succeeded).
    const std::filesystem::path& file() const { return file_; }

    /// Recovery files left by processes that are no longer running, newest first. A file that
    /// cannot be read or parsed is renamed aside (".corrupt") and reported in `problems`, one line
    /// each; a missing directory is no problem. Never throws.
    static std::vector<RecoveryFile> findOrphans(const std::filesystem::path& directory, std::vector<std::string>& problems);
    /// Loads a recovery file's patch and marks the file as being recovered by this process (see
    /// the design note). Throws InputError naming the file; the mark is removed then and the file
    /// stays on offer.
    static Patch load(const RecoveryFile& file, const Registry& registry);
    /// After the user declined, or recovered: removes the file and its marker. Never throws.
    /// After a recovery, call it once this process's own Autosave has written the recovered
    /// document, so that a crash in between loses nothing.
    static void dismiss(const RecoveryFile& file) noexcept;

private:
    std::filesystem::path file_;
};

/// $XDG_STATE_HOME/kabel/recovery, or ~/.local/state/kabel/recovery when XDG_STATE_HOME is unset
/// or not absolute (as the XDG base directory specification says).
std::filesystem::path recoveryDirectory();

}  // namespace kabel::editor
