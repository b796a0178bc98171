// `tern info`: what a model file holds.
#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "tern/chat.h"
#include "tern/error.h"
#include "tern/model.h"

#include <algorithm>

namespace tern::cli {
namespace {

struct InfoOptions {
  std::string model;
  LogOptions log;
};

std::string human_bytes(uint64_t n) {
  if (n >= (1u << 20)) return fmt::format("{:.2f} MiB", n / 1048576.0);
  if (n >= 1024) return fmt::format("{:.1f} KiB", n / 1024.0);
  return fmt::format("{} B", n);
}

// The template tern recognizes in a chat template, or that it knows none.
std::string chat_template_label(const std::string& jinja) {
  try {
    return std::string(ChatTemplate::recognize(jinja).name());
  } catch (const Error&) {
    return "not recognized: use --chat-template";
  }
}

// How finely the ternary linears are scaled, from their types: "one per row (TERN2R: 7 tensors)".
std::string scale_granularity(const ModelSummary& s) {
  std::string out;
  for (const auto& u : s.by_type) {
    if (!u.ternary) continue;
    const std::string& what = u.ternary_scales;
    out += fmt::format("{}{} ({}: {} tensors)", out.empty() ? "" : ", ", what, u.type, u.n_tensors);
  }
  return out;
}

int run_info(const InfoOptions& o) {
  apply_log_options(o.log);
  const Model model = Model::load(resolve_model_path(o.model));
  const ModelConfig& c = model.config();
  const ModelSummary s = model.summary();
  fmt::print("file            {} ({})\n", model.path().string(), human_bytes(s.file_bytes));
  fmt::print("architecture    {}{}\n", c.architecture, c.name.empty() ? "" : fmt::format(" ({})", c.name));
  fmt::print("layers          {} executed = {} stored blocks x {} repeat\n", c.n_layers(), c.n_blocks, c.block_repeat);
  fmt::print("width           dim {}, ffn {} ({}), heads {} / {} KV, head dim {}\n", c.dim, c.ffn,
             c.activation == FfnActivation::Silu ? "SwiGLU" : "ReLU^2 GLU", c.n_heads, c.n_kv_heads, c.head_dim);
  fmt::print("context         {} tokens, RoPE base {}, RMSNorm eps {}\n", c.context_length, c.rope_base, c.rms_eps);
  const bool has_ternary =
      std::any_of(s.by_type.begin(), s.by_type.end(), [](const TensorTypeUsage& u) { return u.ternary; });
  if (has_ternary) {
    fmt::print("ternary linears BitNet b1.58 W1.58A8{}\n",
               c.linear_norm ? fmt::format(", in-linear norm (eps {})", c.linear_norm_eps) : std::string());
    fmt::print("ternary scales  {}\n", scale_granularity(s));
  }
  if (!c.source_format.empty()) fmt::print("source format   {}\n", c.source_format);
  fmt::print("parameters      {} unique, {} effective\n", s.unique_parameters, s.effective_parameters);
  fmt::print("{:<8} {:>8} {:>14} {:>12} {:>8} {:>10}\n", "type", "tensors", "weights", "bytes", "share", "bits/w");
  for (const auto& u : s.by_type)
    fmt::print("{:<8} {:>8} {:>14} {:>12} {:>7.1f}% {:>10.4f}\n", u.type, u.n_tensors, u.n_weights, u.n_bytes,
               100.0 * u.n_bytes / s.file_bytes, 8.0 * u.n_bytes / u.n_weights);
  const Tokenizer& tok = model.tokenizer();
  const Vocab& v = tok.vocab();
  const std::string kind = v.model == TokenizerModel::ByteLevelBpe
                               ? fmt::format("byte-level BPE (pre {})", v.pre.empty() ? "custom" : v.pre)
                               : "SentencePiece BPE";
  fmt::print("tokenizer       {}, {} tokens, BOS {} EOS {}, add BOS {}\n", kind, tok.n_vocab(), tok.bos(), tok.eos(),
             v.add_bos ? "yes" : "no");
  if (!v.chat_template.empty())
    fmt::print("chat template   {} ({} bytes)\n", chat_template_label(v.chat_template), v.chat_template.size());
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& parent) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* app = parent.add_subcommand("info", "Show a model's architecture, sizes and tokenizer");
  app->add_option("-m,--model", options->model, "Model file (GGUF)");
  add_log_options(*app, options->log);
  return {app, [options] { return run_info(*options); }};
}

}  // namespace tern::cli
