// Atomic file replacement: the user's file is either the old version or the complete new one,
// never a half-written mix, even if the program or the machine dies during the save.
#pragma once

#include <filesystem>
#include <string_view>

namespace kabel {

/// UI/loader thread. Writes `contents` to a temporary file beside `path`, fsyncs it, renames it
/// over `path` and fsyncs the directory. Throws std::system_error naming the path on failure, in
/// which case `path` is untouched and the temporary file is removed.
void writeFileAtomically(const std::filesystem::path& path, std::string_view contents);

/// Whether a replacement waits for the data to reach the disk before the rename (fsync of the
/// file and of its folder). Either way the rename is atomic: readers see the old file or the whole
/// new one. Synced also survives a power cut; the user's own documents (patches) need that.
/// Renamed is for files that can be made again (a render's WAV): an fsync of a 20 MB render costs
/// more than a short render itself. The rename is still atomic for every reader and against a
/// crash of the program; only a power cut in the next ~30 s (before the kernel's writeback) may
/// leave the new file incomplete, as with any program that does not fsync.
enum class Durability { Synced, Renamed };

/// Like writeFileAtomically, for producers that write the file themselves (e.g. libsndfile):
/// `write` receives the temporary path and must create it completely; then the file is fsynced
/// (unless `durability` says otherwise) and renamed over `path`. If `write` throws, the temporary
/// file is removed and `path` is untouched.
template <typename WriteFn>
void replaceFileAtomically(const std::filesystem::path& path, WriteFn&& write, Durability durability = Durability::Synced);

namespace detail {
std::filesystem::path makeTempPathBeside(const std::filesystem::path& path);
void commitTempFile(const std::filesystem::path& temp, const std::filesystem::path& path, Durability durability);
void discardTempFile(const std::filesystem::path& temp) noexcept;
}  // namespace detail

template <typename WriteFn>
void replaceFileAtomically(const std::filesystem::path& path, WriteFn&& write, Durability durability) {
    const std::filesystem::path temp = detail::makeTempPathBeside(path);
    try {
        write(temp);
        detail::commitTempFile(temp, path, durability);
    } catch (...) {
        detail::discardTempFile(temp);
        throw;
    }
}

}  // namespace kabel
