// `tern tokenize`: the ids (and pieces) a model's tokenizer gives for a text.
#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  bool pieces = false;
  bool no_bos = false;
  LogOptions log;
};

int run_tokenize(const TokenizeOptions& o) {
  apply_log_options(o.log);
  const Model model = Model::load(resolve_model_path(o.model));
  const Tokenizer& tok = model.tokenizer();
  const auto ids = tok.encode(read_prompt(o.prompt, o.prompt_file), !o.no_bos && tok.vocab().add_bos);
  if (!o.pieces) {
    fmt::print("{}\n", fmt::join(ids, " "));
    return 0;
  }
  for (int32_t id : ids) fmt::print("{:>6} {}\n", id, tok.vocab().pieces[id]);
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& parent) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* app = parent.add_subcommand("tokenize", "Print the token ids of a text");
  app->add_option("-m,--model", options->model, "Model file (GGUF) whose tokenizer to use");
  add_prompt_options(*app, options->prompt, options->prompt_file, "Text to tokenize", "Read the text from a file");
  app->add_flag("--pieces", options->pieces, "Print one token a line with its piece");
  app->add_flag("--no-bos", options->no_bos, "Do not add the BOS token");
  add_log_options(*app, options->log);
  return {app, [options] { return run_tokenize(*options); }};
}

}  // namespace tern::cli
