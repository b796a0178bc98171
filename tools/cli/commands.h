#pragma once
// Each subcommand registers its flags on the app and returns the function that runs
// it once the command line is parsed.
#include <CLI/CLI.hpp>

#include <functional>

namespace tern::cli {

struct Command {
  CLI::App* app;             // the subcommand
  std::function<int()> run;  // runs it; returns the exit code
};

Command add_run_command(CLI::App& parent);
Command add_info_command(CLI::App& parent);
Command add_tokenize_command(CLI::App& parent);
Command add_convert_command(CLI::App& parent);
Command add_bench_command(CLI::App& parent);
Command add_perplexity_command(CLI::App& parent);
Command add_batch_command(CLI::App& parent);
Command add_chat_command(CLI::App& parent);
Command add_serve_command(CLI::App& parent);
Command add_bench_serve_command(CLI::App& parent);

}  // namespace tern::cli
