// The kabel command-line tools. Each returns the process exit code; errors go to stderr.
#pragma once

namespace kabel::cli {

/// `kabel modules [-v]`: every registered module type by category; -v adds help, ports and params.
int listModules(bool verbose);

}  // namespace kabel::cli
