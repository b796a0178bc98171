// tern: a CPU inference engine for ternary (1.58-bit) language models.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <vector>

#include "commands.h"
#include "tern/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tern: run ternary (1.58-bit) language models on the CPU"};
  app.require_subcommand(1);
  const std::vector<tern::cli::Command> commands = {
      tern::cli::add_run_command(app),
      tern::cli::add_info_command(app),
      tern::cli::add_tokenize_command(app),
      tern::cli::add_convert_command(app),
      tern::cli::add_bench_command(app),
      tern::cli::add_perplexity_command(app),
      tern::cli::add_batch_command(app),
#ifdef TERN_HAVE_SERVER  // cpp-httplib (a cross build may lack the target's)
      tern::cli::add_serve_command(app),
      tern::cli::add_bench_serve_command(app),
#endif
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, not CLI11's two: the error and where to look.
    std::fprintf(stderr, "tern: error: %s (see tern --help)\n", e.what());
    return 2;
  }
  try {
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    return 2;
  } catch (const tern::Error& e) {
    std::fprintf(stderr, "tern: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tern: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern: error: %s\n", e.what());
    return 1;
  }
}
