// `tern convert`: bring a checkpoint in as tern GGUF (or export a standard llama GGUF).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "tern/convert.h"
#include "tern/error.h"

namespace tern::cli {
namespace {

struct ConvertCliOptions {
  std::string source;
  std::string output;
  std::string tokenizer;
  std::string ternary_type;  // empty: tern2 for mobilellm, tq2_0 for llama
  std::string embd_type = "auto";
  std::string dense_type = "f32";
  std::string to = "mobilellm";
  bool dry_run = false;
  LogOptions log;
};

void print_plan(const ConvertSummary& r) {
  uint64_t total = 0;
  for (const auto& t : r.tensors) {
    std::string shape;
    for (auto d : t.shape) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    fmt::print("{:<32} {:<14} {:<6} {:>12}\n", t.name, shape, t.type, t.bytes);
    total += t.bytes;
  }
  fmt::print("{} tensors, {} bytes of tensor data\n", r.tensors.size(), total);
}

int run_convert(const ConvertCliOptions& o) {
  apply_log_options(o.log);
  ConvertRequest options;
  options.source = o.source;
  options.output = o.output;
  options.tokenizer = o.tokenizer;
  options.dry_run = o.dry_run;
  // Progress on stderr: a live counter on a terminal, a line per 10% otherwise.
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  options.progress = [terminal, last_decile = size_t{0}](size_t done, size_t total) mutable {
    if (terminal) {
      fmt::print(stderr, "\rtern: encoding tensor {}/{}{}", done, total, done == total ? "\n" : "");
    } else if (total >= 100 && done * 10 / total > last_decile) {
      last_decile = done * 10 / total;
      fmt::print(stderr, "tern: encoded {}/{} tensors\n", done, total);
    }
  };
  options.to = o.to;
  options.ternary_type = o.ternary_type;
  options.embedding_type = o.embd_type;
  options.dense_type = o.dense_type;
  if (!o.dry_run && o.output.empty()) fail("no output file: pass -o OUT.gguf (or --dry-run)");
  spdlog::info("converting {} ...", o.source);  // -v only: a failure is one error line
  const ConvertSummary r = convert_checkpoint(options);
  if (r.post_training_quantized)
    fmt::print(stderr,
               "tern: WARNING: {} holds full-precision weights; they were ternarized here by absmean "
               "(post-training quantization). Expect a large quality drop unless the model was trained ternary.\n",
               o.source);
  for (const auto& note : r.notes) fmt::print(stderr, "tern: {}\n", note);
  if (o.dry_run) {
    fmt::print("{} -> {} ({} layers, dim {}, vocab {})\n", r.source_kind, o.to, r.config.n_layers(), r.config.dim,
               r.config.n_vocab);
    print_plan(r);
    return 0;
  }
  fmt::print(stderr, "tern: wrote {} ({} tensors, {} bytes)\n", o.output, r.tensors.size(), r.file_bytes);
  return 0;
}

}  // namespace

Command add_convert_command(CLI::App& parent) {
  auto o = std::make_shared<ConvertCliOptions>();
  CLI::App* app =
      parent.add_subcommand("convert", "Convert a checkpoint (bitllama2.c, Hugging Face, GGUF) to tern GGUF");
  app->add_option("source", o->source, "bitllama2.c .bin, Hugging Face folder, or GGUF file")->required();
  app->add_option("-o,--output", o->output, "Output GGUF file (written atomically)");
  app->add_option("--tokenizer", o->tokenizer,
                  "Tokenizer: SentencePiece .model, llama2.c tokenizer.bin, tokenizer.json or GGUF");
  app->add_option("--type", o->ternary_type,
                  "Ternary packing: tern2 (any width, one scale per tensor, or per row as TERN2R where rows differ; "
                  "default), tern2r, tq2_0, tq1_0");
  app->add_option("--embd-type", o->embd_type,
                  "Embedding / LM head type: auto (default: q8_0 where rows are whole 32-blocks, else f32), f32, f16, "
                  "bf16, q4_0, q8_0, q6_k");
  app->add_option("--dense-type", o->dense_type,
                  "Type of non-ternary matrices: f32 (default), f16, bf16, q4_0, q8_0, q6_k (widths multiple of 256)");
  app->add_option("--to", o->to,
                  "Target architecture: mobilellm (tern, default) or llama (standard, shared blocks written out)")
      ->check(CLI::IsMember({"mobilellm", "llama"}));
  app->add_flag("--dry-run", o->dry_run, "Print what would be written, write nothing");
  add_log_options(*app, o->log);
  return {app, [o] { return run_convert(*o); }};
}

}  // namespace tern::cli
