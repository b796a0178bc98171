// A conversation on one Context. The kept messages are rendered whole every
// turn; the context keeps its tokens up to the first one that differs from the
// new prompt and only the rest is prefilled. Dropping old turns to make room
// is therefore just rendering fewer messages: the system prompt, rendered
// first, stays in the context untouched.
#include <algorithm>

#include "generation/prompt_bound.h"
#include "tern/chat.h"
#include "tern/error.h"

namespace tern {
namespace {

int32_t piece_id(const Tokenizer& tok, const std::string& piece) { return piece.empty() ? -1 : tok.find_piece(piece); }

std::string_view piece_text(const Tokenizer& tok, int32_t id) {
  return id >= 0 && id < tok.n_vocab() ? std::string_view(tok.vocab().pieces[id]) : std::string_view();
}

}  // namespace

ChatSession::ChatSession(Context& context, const SamplerParams& sampling, ChatTemplate chat_template,
                         std::string system_prompt)
    : context_(context), generator_(context, sampling), template_(chat_template) {
  if (context_.n_past() != 0) fail("a chat needs an empty context (it holds {} tokens)", context_.n_past());
  if (!system_prompt.empty()) messages_.push_back({"system", std::move(system_prompt)});
  const Tokenizer& tok = context_.model().tokenizer();
  if (tok.eos() >= 0) end_tokens_.push_back(tok.eos());
  for (const std::string& piece : template_.end_of_turn_pieces())
    if (const int32_t id = piece_id(tok, piece); id >= 0) end_tokens_.push_back(id);
}

ChatSession::~ChatSession() = default;

int64_t ChatSession::reply_room() const { return std::max<int64_t>(1, context_.n_ctx() / 4); }

std::vector<int32_t> ChatSession::prompt_tokens(std::span<const ChatMessage> messages) const {
  const Tokenizer& tok = context_.model().tokenizer();
  const std::string_view bos = piece_text(tok, tok.bos()), eos = piece_text(tok, tok.eos());
  const std::string text = template_.render(messages, /*add_generation_prompt=*/true, bos, eos);
  // Templates that write BOS themselves get no second one.
  const bool add_bos = tok.vocab().add_bos && !(bos.size() > 0 && std::string_view(text).starts_with(bos));
  return tok.encode(text, add_bos, /*parse_special=*/true);
}

void ChatSession::clear() {
  if (!messages_.empty() && messages_.front().role == "system") messages_.resize(1);
  else messages_.clear();
}

ChatTurn ChatSession::send(std::string_view user_text, const GenerationParams& params, const TextSink& sink) {
  ChatTurn turn;
  // Refused before the whole conversation is rendered and tokenized (a 10 MB line).
  check_prompt_bytes(context_.model().tokenizer(), user_text, context_.n_ctx());
  messages_.push_back({"user", std::string(user_text)});
  const std::size_t first_turn = !messages_.empty() && messages_.front().role == "system" ? 1 : 0;
  std::vector<int32_t> prompt = prompt_tokens(messages_);
  // Oldest user/assistant pairs go until the prompt leaves room for a reply.
  while (static_cast<int64_t>(prompt.size()) + reply_room() > context_.n_ctx() && messages_.size() > first_turn + 1) {
    const std::size_t n = messages_.size() - first_turn > 2 && messages_[first_turn + 1].role == "assistant" ? 2 : 1;
    messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(first_turn),
                    messages_.begin() + static_cast<std::ptrdiff_t>(first_turn + n));
    turn.dropped_messages += static_cast<int>(n);
    prompt = prompt_tokens(messages_);
  }
  if (static_cast<int64_t>(prompt.size()) >= context_.n_ctx()) {
    messages_.pop_back();
    fail("the message needs {} tokens with the system prompt, but the context has {} (raise -c or shorten it)",
         prompt.size(), context_.n_ctx());
  }
  // Keep what the context already holds of this prompt; at least one token is
  // prefilled so there are logits to sample from.
  const auto& held = generator_.history();
  const auto differ = std::mismatch(held.begin(), held.end(), prompt.begin(), prompt.end());
  const auto keep = std::min<std::size_t>(static_cast<std::size_t>(differ.first - held.begin()), prompt.size() - 1);
  generator_.rewind(static_cast<int64_t>(keep));

  GenerationParams p = params;
  p.stop_tokens.insert(p.stop_tokens.end(), end_tokens_.begin(), end_tokens_.end());
  for (const std::string& s : template_.stop_strings()) p.stop.push_back(s);
  const std::vector<int32_t> suffix(prompt.begin() + static_cast<std::ptrdiff_t>(keep), prompt.end());
  const GenerationResult r = generator_.generate(suffix, p, sink);
  turn.reply = r.text;
  turn.finish = r.finish;
  turn.timings = r.timings;
  turn.timings.n_prompt = static_cast<int64_t>(suffix.size());
  messages_.push_back({"assistant", r.text});
  return turn;
}

}  // namespace tern
