// `tern tokenize`: the ids (and pieces) a tokenizer gives for a text. The
// tokenizer may come from a model GGUF, a vocab-only GGUF, a Hugging Face
// tokenizer.json or a SentencePiece tokenizer.model.
#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "tern/convert.h"
#include "tern/tokenizer.h"

namespace tern::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  bool pieces = false;
  bool no_bos = false;
  bool special = false;
  LogOptions log;
};

// A piece as one printable line: control characters and backslashes escaped.
std::string escape_piece(std::string_view piece) {
  std::string out;
  for (const char c : piece) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (u < 0x20 || u == 0x7F) out += fmt::format("\\x{:02X}", u);
    else out += c;
  }
  return out;
}

int run_tokenize(const TokenizeOptions& o) {
  apply_log_options(o.log);
  // Only the tokenizer is read: a model GGUF's weights are never mapped.
  const Tokenizer tok(load_tokenizer_file(resolve_model_path(o.model)));
  const auto ids = tok.encode(read_prompt(o.prompt, o.prompt_file), !o.no_bos && tok.vocab().add_bos, o.special);
  if (!o.pieces) {
    fmt::print("{}\n", fmt::join(ids, " "));
    return 0;
  }
  for (int32_t id : ids) fmt::print("{:>6} {}\n", id, escape_piece(tok.vocab().pieces[id]));
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& parent) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* app = parent.add_subcommand("tokenize", "Print the token ids of a text");
  app->add_option("-m,--model", options->model,
                  "Tokenizer source: model or vocab-only GGUF, tokenizer.json or tokenizer.model "
                  "(default: the model shipped in models/)");
  add_prompt_options(*app, options->prompt, options->prompt_file, "Text to tokenize", "Read the text from a file");
  app->add_flag("--pieces", options->pieces, "Print one token a line with its piece (control characters escaped)");
  app->add_flag("--no-bos", options->no_bos, "Do not add the BOS token");
  app->add_flag("--special", options->special, "Parse special-token text such as <|eot_id|> into those tokens");
  add_log_options(*app, options->log);
  return {app, [options] { return run_tokenize(*options); }};
}

}  // namespace tern::cli
