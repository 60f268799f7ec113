// kabel: the editor (with a display) and the command-line tools.
#include <CLI/CLI.hpp>

#include "core/cli/commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Kabel: a live-performance modular patching environment"};
    app.require_subcommand(0, 1);
    bool verbose = false;
    auto* modules = app.add_subcommand("modules", "List every module type (-v: with help, ports and params)");
    modules->add_flag("-v,--verbose", verbose, "Show help text, ports and params");
    CLI11_PARSE(app, argc, argv);
    if (modules->parsed()) return kabel::cli::listModules(verbose);
    return kabel::cli::listModules(false);
}
