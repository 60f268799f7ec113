// A one-line progress bar on a terminal (stderr), redrawn in place; silent when stderr is not a
// terminal (logs, CI) so that files stay readable.
#pragma once

#include <chrono>
#include <string>

namespace kabel::cli {

class ProgressBar {
public:
    /// `label` precedes the bar. Enabled only when stderr is a terminal and `enabled` is true.
    ProgressBar(std::string label, bool enabled);
    ~ProgressBar();

    /// fraction in [0, 1]; `detail` is printed after the percentage.
    void update(double fraction, const std::string& detail = {});
    /// Ends the line (after a final update at 100%).
    void finish();

private:
    std::string label_;
    bool enabled_;
    bool open_ = false;
    std::chrono::steady_clock::time_point lastDraw_{};
};

}  // namespace kabel::cli
