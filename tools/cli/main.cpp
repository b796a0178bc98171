// tern: a CPU inference engine for ternary (1.58-bit) language models.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "tern/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tern: run ternary (1.58-bit) language models on the CPU"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.set_version_flag("--version", std::string("tern ") + TERN_VERSION + " (commit " + TERN_GIT_COMMIT + ")");
  const std::vector<tern::cli::Command> commands = {
      tern::cli::add_run_command(app),      tern::cli::add_info_command(app),
      tern::cli::add_tokenize_command(app), tern::cli::add_convert_command(app),
      tern::cli::add_bench_command(app),    tern::cli::add_perplexity_command(app),
      tern::cli::add_batch_command(app),    tern::cli::add_chat_command(app),
#ifdef TERN_HAVE_SERVER  // cpp-httplib (a cross build may lack the target's)
      tern::cli::add_serve_command(app),    tern::cli::add_bench_serve_command(app),
#endif
  };

  try {
    std::vector<std::string> args = tern::cli::handle_llama_cpp_flags(argc, argv);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
  } catch (const tern::Error& e) {
    std::fprintf(stderr, "tern: error: %s\n", e.what());
    return 2;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
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
