// `tern chat`: a conversation with an instruction model in its own prompt format
// (the GGUF's tokenizer.chat_template, or --chat-template), line by line from
// standard input. Old turns make way when the context fills; the system prompt stays.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common.h"
#include "tern/chat.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"

namespace tern::cli {
namespace {

struct ChatOptions {
  GenerationOptions generation;  // -m, -c, -t, --kv-type, sampling, --seed, --stop, logging
  std::string system;
  std::string chat_template;  // empty: from the model
  int32_t n_predict = -1;
};

ChatTemplate choose_template(const ChatOptions& o, const Model& model) {
  if (!o.chat_template.empty()) return ChatTemplate::named(o.chat_template);
  return ChatTemplate::recognize(model.tokenizer().vocab().chat_template);
}

int run_chat(ChatOptions o) {
  const Model model = load_for_generation(o.generation);
  const ChatTemplate chat_template = choose_template(o, model);
  spdlog::info("chat template {}", chat_template.name());
  Context context = generation_context(o.generation, model);
  ChatSession session(context, o.generation.sampling, chat_template, o.system);
  fmt::print(stderr, "tern: chat ({} format): Enter sends, Ctrl-C stops a reply, /clear starts over, Ctrl-D exits\n",
             chat_template.name());
  return converse(session, context, generation_params(o.generation, o.n_predict));
}

}  // namespace

Command add_chat_command(CLI::App& parent) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* app = parent.add_subcommand("chat", "Chat with an instruction model in its own prompt format");
  app->add_option("--system", o->system, "System prompt, kept for the whole conversation");
  app->add_option("--chat-template", o->chat_template,
                  "Prompt format instead of the model's: " + ChatTemplate::names());
  app->add_option("-n,--n-predict", o->n_predict, "Tokens per reply at most (-1: until the turn ends)")
      ->check(CLI::Range(-1, 1 << 30))
      ->capture_default_str();
  add_generation_options(*app, o->generation);
  return {app, [o] { return run_chat(*o); }};
}

}  // namespace tern::cli
