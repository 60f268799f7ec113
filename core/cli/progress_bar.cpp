#include "core/cli/progress_bar.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace kabel::cli {

ProgressBar::ProgressBar(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled && ::isatty(2)) {}

ProgressBar::~ProgressBar() {
    finish();
}

void ProgressBar::update(double fraction, const std::string& detail) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    // Redrawing costs a syscall: at most 20 times a second, plus the final 100%.
    if (open_ && fraction < 1.0 && now - lastDraw_ < std::chrono::milliseconds(50)) return;
    lastDraw_ = now;
    constexpr int kWidth = 30;
    fraction = std::clamp(fraction, 0.0, 1.0);
    const int filled = static_cast<int>(fraction * kWidth + 0.5);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %s\x1b[K", label_.c_str(), bar.c_str(), static_cast<int>(fraction * 100.0 + 0.5), detail.c_str());
    std::fflush(stderr);
    open_ = true;
}

void ProgressBar::finish() {
    if (!open_) return;
    std::fputc('\n', stderr);
    open_ = false;
}

}  // namespace kabel::cli
