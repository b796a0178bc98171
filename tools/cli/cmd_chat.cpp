// `tern chat`: a conversation with an instruction model in its own prompt format
// (the GGUF's tokenizer.chat_template, or --chat-template), line by line from
// standard input. Old turns make way when the context fills; the system prompt stays.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>

#include "commands.h"
#include "common.h"
#include "tern/chat.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

struct ChatOptions {
  std::string model;
  std::string system;
  std::string chat_template;  // empty: from the model
  int32_t n_predict = -1;
  int64_t n_ctx = 0;
  int32_t threads = 0;
  KvType kv_type = KvType::F32;
  bool seed_given = false;
  std::vector<std::string> stop;
  SamplerParams sampling;
  LogOptions log;
};

ChatTemplate choose_template(const ChatOptions& o, const Model& model) {
  if (!o.chat_template.empty()) return ChatTemplate::named(o.chat_template);
  return ChatTemplate::recognize(model.tokenizer().vocab().chat_template);
}

int run_chat(ChatOptions o) {
  apply_log_options(o.log);
  if (!o.seed_given) o.sampling.seed = std::random_device{}();
  spdlog::info("seed {}", o.sampling.seed);
  o.sampling.validate();
  LoadOptions load;
  load.threads = o.threads;
  const Model model = Model::load(resolve_model_path(o.model), load);
  const ChatTemplate chat_template = choose_template(o, model);
  spdlog::info("chat template {}", chat_template.name());
  Context context(model, context_size(o.n_ctx, model), Context::kDefaultBatch, o.kv_type);
  ChatSession session(context, o.sampling, chat_template, o.system);
  GenerationParams params;
  params.n_predict = o.n_predict;
  params.stop = o.stop;
  fmt::print(stderr, "tern: chat ({} format): Enter sends, Ctrl-C stops a reply, /clear starts over, Ctrl-D exits\n",
             chat_template.name());
  return converse(session, context, params);
}

}  // namespace

Command add_chat_command(CLI::App& parent) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* app = parent.add_subcommand("chat", "Chat with an instruction model in its own prompt format");
  app->add_option("-m,--model", o->model, "Model file (GGUF); default: the model shipped in models/");
  app->add_option("--system", o->system, "System prompt, kept for the whole conversation");
  app->add_option("--chat-template", o->chat_template,
                  "Prompt format instead of the model's: " + ChatTemplate::names());
  app->add_option("-n,--n-predict", o->n_predict, "Tokens per reply at most (-1: until the turn ends)")
      ->check(CLI::Range(-1, 1 << 30))
      ->capture_default_str();
  add_context_options(*app, o->n_ctx, o->threads);
  add_kv_type_option(*app, o->kv_type);
  add_sampler_options(*app, o->sampling);
  add_seed_option(*app, o->sampling.seed, o->seed_given);
  add_stop_option(*app, o->stop);
  add_log_options(*app, o->log);
  return {app, [o] { return run_chat(*o); }};
}

}  // namespace tern::cli
