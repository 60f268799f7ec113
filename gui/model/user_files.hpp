// The editor's own small files: the recent-files list and the editor settings.
//
// Design note. Each is one JSON file in configDirectory(), written atomically
// (writeFileAtomically), with a "format" name and a version so that a later Kabel can change it:
//   recent.json:   {"format": "kabel-recent", "version": 1, "files": ["/abs/a.kabel", ...]}
//   settings.json: {"format": "kabel-settings", "version": 1, "audio_device": "", "host_api": "",
//                   "buffer_frames": 0, "midi_inputs": [], "ui_scale": 1, "educator_mode": true}
// These files are conveniences: a missing one is the default, a bad one is ignored with a
// one-line message ("file: reason") for the status bar, never an exception at start-up. In the
// settings, a field of the wrong type or out of range falls back to its default alone and is
// reported; the other fields load.
//
// Thread: UI thread (file I/O).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace kabel::editor {

/// The most recently opened/saved patch files, most recent first.
class RecentFiles {
public:
    static constexpr std::size_t kMaxFiles = 10;

    /// Loads the list from `file` (the editor passes configDirectory() / "recent.json"). Entries
    /// that no longer exist are dropped, duplicates (same canonical path) kept once.
    explicit RecentFiles(std::filesystem::path file);

    /// Puts `path` (made absolute and canonical) at the front, removing an older entry for the same
    /// file and the entries past kMaxFiles, and writes the list. A failed write is reported through
    /// problem(); never throws.
    void add(const std::string& path);
    /// Removes `path` (e.g. after it failed to open) and writes the list. Never throws.
    void remove(const std::string& path);

    const std::vector<std::string>& list() const { return files_; }
    /// What went wrong reading or writing the file, one line; "" when nothing did.
    std::string problem() const { return problem_; }

private:
    void save();

    std::filesystem::path file_;
    std::vector<std::string> files_;
    std::string problem_;
};

struct EditorSettings {
    std::string audioDevice;  // "" = the default device
    std::string hostApi;      // "" = the default host API
    int bufferFrames = 0;     // device buffer in frames, 0 = the device's default
    std::vector<std::string> midiInputs;
    float uiScale = 1.0f;  // 0.5 .. 4
    bool educatorMode = true;
};

/// Reads the settings; a missing file gives the defaults with an empty `problem`, a bad file or bad
/// fields give defaults (for what was bad) and a one-line `problem`. Never throws.
EditorSettings loadSettings(const std::filesystem::path& file, std::string& problem);
/// Writes the settings atomically, creating the directory. Throws std::system_error when it fails.
void saveSettings(const std::filesystem::path& file, const EditorSettings& settings);

/// $XDG_CONFIG_HOME/kabel, or ~/.config/kabel when XDG_CONFIG_HOME is unset or not absolute.
std::filesystem::path configDirectory();

/// The XDG base directory in `variable` if it is set to an absolute path, else $HOME/`fallback`
/// (the password database's home when HOME is unset). Shared by configDirectory and
/// recoveryDirectory.
std::filesystem::path xdgBaseDirectory(const char* variable, const char* fallback);

}  // namespace kabel::editor
