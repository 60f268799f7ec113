#include "core/util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <string>
#include <system_error>

namespace kabel {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " '" + path.string() + "'");
}

void fsyncPath(const std::filesystem::path& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) fail("cannot open", path);
    const int rc = ::fsync(fd);
    const int savedErrno = errno;
    ::close(fd);
    errno = savedErrno;
    // Some file systems refuse fsync on directories (EINVAL); the rename itself is still atomic.
    if (rc != 0 && !(flags & O_DIRECTORY && errno == EINVAL)) fail("cannot fsync", path);
}

}  // namespace

namespace detail {

std::filesystem::path makeTempPathBeside(const std::filesystem::path& path) {
    std::random_device rd;
    const auto name = "." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
    return path.parent_path() / name;
}

void commitTempFile(const std::filesystem::path& temp, const std::filesystem::path& path, Durability durability) {
    if (durability == Durability::Synced) fsyncPath(temp, O_RDONLY);
    if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename temporary file over", path);
    if (durability != Durability::Synced) return;
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    fsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

void discardTempFile(const std::filesystem::path& temp) noexcept {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
}

}  // namespace detail

void writeFileAtomically(const std::filesystem::path& path, std::string_view contents) {
    replaceFileAtomically(path, [&](const std::filesystem::path& temp) {
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) fail("cannot create temporary file for", path);
        const char* p = contents.data();
        std::size_t left = contents.size();
        while (left > 0) {
            const ssize_t n = ::write(fd, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                const int savedErrno = errno;
                ::close(fd);
                errno = savedErrno;
                fail("cannot write", path);
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
        if (::close(fd) != 0) fail("cannot write", path);
    });
}

}  // namespace kabel
