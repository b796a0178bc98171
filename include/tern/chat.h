#pragma once
// Conversations with instruction models:
//   ChatTemplate -- a model's prompt format, recognized from its Jinja chat
//                   template (GGUF tokenizer.chat_template) and rendered natively;
//   ChatSession  -- turns on one Context: keeps the system prompt, drops the
//                   oldest turns when the context fills, stops at end of turn.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/generator.h"
#include "tern/model.h"

namespace tern {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  // The template a Jinja template string is; an empty string gives the plain
  // format. Throws tern::Error listing the known names when it is none of them.
  static ChatTemplate recognize(std::string_view jinja);
  // By name (--chat-template): llama3, chatml, falcon3, bitnet, llama2, zephyr,
  // gemma, phi3, plain, continue. Throws listing the names when unknown.
  //   plain:    "SYSTEM\n\nUser: ...\nAssistant: ...\n", for base models in `tern chat`;
  //   continue: the turns joined as they are (a space between when neither side
  //             has one), so a reply continues the user's text: `tern run -i`.
  static ChatTemplate named(std::string_view name);
  static std::string names();  // "llama3, chatml, ..."

  std::string_view name() const;
  // The prompt text for `messages`, ending with the assistant's header when
  // add_generation_prompt. Special tokens appear as text (e.g. "<|eot_id|>"):
  // tokenize it with parse_special. bos/eos: the vocabulary's pieces.
  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt, std::string_view bos,
                     std::string_view eos) const;
  // Pieces that end an assistant turn besides EOS (e.g. "<|eot_id|>").
  std::vector<std::string> end_of_turn_pieces() const;
  // Text that ends a turn in formats without a token for it (plain: "\nUser:").
  std::vector<std::string> stop_strings() const;

  enum class Kind { Plain, Continue, Llama3, ChatMl, Falcon3, Bitnet, Llama2, Zephyr, Gemma, Phi3 };
  explicit ChatTemplate(Kind kind) : kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct ChatTurn {
  std::string reply;
  FinishReason finish = FinishReason::Length;  // Length: cut by -n or by a full context
  int dropped_messages = 0;                    // oldest messages dropped to make room this turn
  GenerationTimings timings;
};

// One conversation on one Context. Each turn renders the whole kept
// conversation, reuses the context's tokens up to the first difference and
// prefills the rest, so the model always sees exactly what the template says.
class ChatSession {
 public:
  ChatSession(Context& context, const SamplerParams& sampling, ChatTemplate chat_template, std::string system_prompt);
  ~ChatSession();

  // Adds the user's message, generates the reply (streamed through `sink`) and
  // keeps it. When the conversation does not fit with `reply_room` tokens to
  // spare (at least), the oldest user/assistant pairs go; the system prompt
  // stays. Throws tern::Error if even the system prompt and this message do not fit.
  ChatTurn send(std::string_view user_text, const GenerationParams& params, const TextSink& sink);

  // Forgets every turn (the system prompt stays).
  void clear();

  const std::vector<ChatMessage>& messages() const { return messages_; }
  const ChatTemplate& chat_template() const { return template_; }
  // The tokens a prompt for `messages` (plus the assistant header) becomes.
  std::vector<int32_t> prompt_tokens(std::span<const ChatMessage> messages) const;
  // Tokens kept free for the reply when trimming: a quarter of the context.
  int64_t reply_room() const;

 private:
  Context& context_;
  Generator generator_;
  ChatTemplate template_;
  std::vector<ChatMessage> messages_;  // system first (if any), then user/assistant turns
  std::vector<int32_t> in_context_;    // the tokens the context holds, oldest first
  std::vector<int32_t> end_tokens_;    // EOS and end-of-turn tokens
};

}  // namespace tern
