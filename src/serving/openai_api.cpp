#include "serving/openai_api.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "generation/prompt_bound.h"
#include "tern/error.h"

namespace tern {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

ApiError bad_field(const std::string& key, const std::string& message) { return ApiError(400, message, key); }

// The value of `key`, or null when absent or JSON null (OpenAI treats both as unset).
const json* field(const json& body, const char* key) {
  const auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number_in(const json& body, const char* key, double low, double high, double fallback) {
  const json* v = field(body, key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) throw bad_field(key, fmt::format("'{}' must be a number, got {}", key, v->type_name()));
  const double x = v->get<double>();
  if (!(x >= low && x <= high))
    throw bad_field(key, fmt::format("'{}' must be in [{}, {}], got {}", key, low, high, x));
  return x;
}

// An integer: a JSON integer, or a number with no fraction (16.0), in [low, high].
int64_t integer_in(const json& body, const char* key, int64_t low, int64_t high, int64_t fallback) {
  const json* v = field(body, key);
  if (v == nullptr) return fallback;
  auto out_of_range = [&](const std::string& shown) {
    return bad_field(key, fmt::format("'{}' must be an integer in [{}, {}], got {}", key, low, high, shown));
  };
  if (v->is_number_unsigned()) {
    const uint64_t x = v->get<uint64_t>();
    if (high < 0 || x > static_cast<uint64_t>(high) || static_cast<int64_t>(x) < low) throw out_of_range(v->dump());
    return static_cast<int64_t>(x);
  }
  if (v->is_number_integer() ||
      (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
       std::fabs(v->get<double>()) < 9e15)) {
    const int64_t x = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(v->get<double>());
    if (x < low || x > high) throw out_of_range(v->dump());
    return x;
  }
  throw bad_field(key, fmt::format("'{}' must be an integer, got {}", key, v->dump()));
}

bool boolean(const json& body, const char* key, bool fallback) {
  const json* v = field(body, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) throw bad_field(key, fmt::format("'{}' must be true or false, got {}", key, v->type_name()));
  return v->get<bool>();
}

// Any seed a client sends (OpenAI's is a signed 64-bit integer) picks one RNG stream.
uint64_t seed_of(const json& body, uint64_t fallback) {
  const json* v = field(body, "seed");
  if (v == nullptr) return fallback;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  return static_cast<uint64_t>(
      integer_in(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 0));
}

std::vector<std::string> stop_strings(const json& body) {
  const json* v = field(body, "stop");
  if (v == nullptr) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array() || v->size() > 4)
    throw bad_field("stop", "'stop' must be a string or an array of at most 4 strings");
  std::vector<std::string> stops;
  for (const json& s : *v) {
    if (!s.is_string()) throw bad_field("stop", "'stop' must be a string or an array of at most 4 strings");
    stops.push_back(s.get<std::string>());
  }
  return stops;
}

// Options tern does not implement: accepted only at the value that means "off".
void refuse_unsupported(const json& body) {
  if (integer_in(body, "n", 1, 1, 1) != 1) throw bad_field("n", "'n' must be 1");
  if (const json* v = field(body, "logprobs"); v != nullptr && *v != false && *v != 0)
    throw bad_field("logprobs", "'logprobs' is not supported");
  if (const json* v = field(body, "top_logprobs"); v != nullptr && *v != 0)
    throw bad_field("top_logprobs", "'top_logprobs' is not supported");
  if (boolean(body, "echo", false)) throw bad_field("echo", "'echo' is not supported");
  if (integer_in(body, "best_of", 1, 1, 1) != 1) throw bad_field("best_of", "'best_of' must be 1");
  if (const json* v = field(body, "suffix"); v != nullptr && *v != "")
    throw bad_field("suffix", "'suffix' is not supported");
  for (const char* penalty : {"presence_penalty", "frequency_penalty"})
    if (number_in(body, penalty, -2, 2, 0) != 0)
      throw bad_field(penalty, fmt::format("'{}' is not supported (only 0)", penalty));
}

std::string completion_prompt(const json& body) {
  const json* v = field(body, "prompt");
  if (v == nullptr) throw bad_field("prompt", "'prompt' is required");
  if (v->is_string()) return v->get<std::string>();
  if (v->is_array() && v->size() == 1 && (*v)[0].is_string()) return (*v)[0].get<std::string>();
  throw bad_field("prompt", "'prompt' must be a string (or an array of one string)");
}

std::string message_text(const json& content) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    throw bad_field("messages", "a message's 'content' must be a string or an array of text parts");
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
        !part["text"].is_string())
      throw bad_field("messages", "content parts must be {\"type\": \"text\", \"text\": string} (no images or audio)");
    text += part["text"].get<std::string>();
  }
  return text;
}

// The roles chat templates know; "developer" is OpenAI's newer name for "system".
std::string template_role(const std::string& role) {
  if (role == "system" || role == "developer") return "system";
  if (role == "user" || role == "assistant") return role;
  throw bad_field("messages",
                  fmt::format("message role '{}' is not supported (system, developer, user, assistant)", role));
}

std::string_view piece_text(const Tokenizer& tok, int32_t id) {
  return id >= 0 && id < tok.n_vocab() ? std::string_view(tok.vocab().pieces[id]) : std::string_view();
}

// The prompt tokens of a chat, as `tern chat` makes them: the template's text with
// special tokens parsed, BOS first unless the template writes it.
std::vector<int32_t> chat_prompt_tokens(const std::vector<ChatMessage>& messages, const ChatTemplate& chat_template,
                                        const Tokenizer& tok, std::string& text) {
  const std::string_view bos = piece_text(tok, tok.bos()), eos = piece_text(tok, tok.eos());
  text = chat_template.render(messages, /*add_generation_prompt=*/true, bos, eos);
  const bool add_bos = tok.vocab().add_bos && !(!bos.empty() && std::string_view(text).starts_with(bos));
  return tok.encode(text, add_bos, /*parse_special=*/true);
}

ordered_json usage_of(const BatchResult& r) {
  return ordered_json{{"prompt_tokens", r.tokens_prompt},
                      {"completion_tokens", r.tokens_generated},
                      {"total_tokens", r.tokens_prompt + r.tokens_generated}};
}

ordered_json head(const ResponseMeta& meta, const char* object) {
  return ordered_json{{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

}  // namespace

std::optional<Endpoint> endpoint_from_url(std::string_view url) {
  if (url == "/v1/completions") return Endpoint::Completions;
  if (url == "/v1/chat/completions") return Endpoint::ChatCompletions;
  return std::nullopt;
}

ordered_json error_body(const ApiError& e) {
  return ordered_json{{"error",
                       {{"message", e.what()},
                        {"type", e.type},
                        {"param", e.param.empty() ? json() : json(e.param)},
                        {"code", e.code.empty() ? json() : json(e.code)}}}};
}

ChatTemplate model_chat_template(const Tokenizer& tokenizer) {
  try {
    return ChatTemplate::recognize(tokenizer.vocab().chat_template);
  } catch (const Error& e) {
    spdlog::warn("chat completions use the plain format: {}", e.what());
    return ChatTemplate(ChatTemplate::Kind::Plain);
  }
}

std::vector<ChatMessage> chat_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) throw bad_field("messages", "'messages' must be a non-empty array");
  std::vector<ChatMessage> out;
  for (const json& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw bad_field("messages", "each message must be an object with a 'role' string");
    out.push_back({template_role(m["role"].get<std::string>()), message_text(m.value("content", json()))});
  }
  return out;
}

ApiRequest parse_api_request(Endpoint endpoint, const json& body, const Tokenizer& tokenizer,
                             const RequestDefaults& defaults) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  ApiRequest r;
  r.endpoint = endpoint;
  if (const json* model = field(body, "model")) {
    if (!model->is_string()) throw bad_field("model", "'model' must be a string");
    r.model = model->get<std::string>();
  }
  refuse_unsupported(body);
  BatchRequest& g = r.generation;
  std::vector<ChatMessage> messages;
  if (endpoint == Endpoint::Completions) g.prompt = completion_prompt(body);
  else messages = chat_messages(body.value("messages", json()));
  g.stop = stop_strings(body);
  // OpenAI's sampling defaults: temperature 1, top_p 1, nothing else.
  g.sampling.temperature = static_cast<float>(number_in(body, "temperature", 0, 2, 1));
  g.sampling.top_p = static_cast<float>(number_in(body, "top_p", 0, 1, 1));
  if (g.sampling.top_p == 0) throw bad_field("top_p", "'top_p' must be in (0, 1]");
  g.sampling.top_k = static_cast<int32_t>(integer_in(body, "top_k", 0, 1 << 30, 0));
  g.sampling.min_p = static_cast<float>(number_in(body, "min_p", 0, 1, 0));
  g.sampling.repeat_penalty = static_cast<float>(number_in(body, "repeat_penalty", 1e-3, 100, 1));
  g.sampling.seed = seed_of(body, defaults.seed);
  r.stream = boolean(body, "stream", false);
  if (const json* options = field(body, "stream_options")) {
    if (!options->is_object()) throw bad_field("stream_options", "'stream_options' must be an object");
    r.include_usage = boolean(*options, "include_usage", false);
  }

  const char* prompt_key = endpoint == Endpoint::Completions ? "prompt" : "messages";
  std::vector<int32_t> tokens;
  try {
    if (endpoint == Endpoint::Completions) {
      check_prompt_bytes(tokenizer, g.prompt, defaults.n_ctx);  // a huge prompt is refused before tokenizing it
      tokens = tokenizer.encode(g.prompt, tokenizer.vocab().add_bos);
    } else {
      std::string all;
      for (const ChatMessage& m : messages) all += m.content;
      check_prompt_bytes(tokenizer, all, defaults.n_ctx);
      g.prompt_tokens = chat_prompt_tokens(messages, defaults.chat_template, tokenizer, g.prompt);
      tokens = g.prompt_tokens;
      // A turn ends at the template's end-of-turn token or, in formats without one, its text.
      for (const std::string& piece : defaults.chat_template.end_of_turn_pieces())
        if (const int32_t id = piece.empty() ? -1 : tokenizer.find_piece(piece); id >= 0) g.end_tokens.push_back(id);
      for (const std::string& stop : defaults.chat_template.stop_strings()) g.stop.push_back(stop);
    }
  } catch (const Error& e) {
    throw ApiError(400, e.what(), prompt_key, "context_length_exceeded");
  }
  r.prompt_tokens = std::max<int64_t>(1, static_cast<int64_t>(tokens.size()));  // an empty prompt runs from BOS
  if (r.prompt_tokens > defaults.n_ctx)
    throw ApiError(400, fmt::format("the prompt is {} tokens but the context is {}", r.prompt_tokens, defaults.n_ctx),
                   prompt_key, "context_length_exceeded");
  const char* limit_key = endpoint == Endpoint::ChatCompletions && field(body, "max_completion_tokens") != nullptr
                              ? "max_completion_tokens"
                              : "max_tokens";
  // Unset: 16 tokens for a completion (OpenAI's default), the rest of the context for a chat.
  const int64_t room = defaults.n_ctx - r.prompt_tokens;
  const int64_t fallback = endpoint == Endpoint::Completions ? std::min<int64_t>(16, std::max<int64_t>(room, 1)) : -1;
  const int64_t max_tokens = integer_in(body, limit_key, 1, std::numeric_limits<int32_t>::max(), fallback);
  if (max_tokens > room)
    throw ApiError(400,
                   fmt::format("the prompt ({} tokens) plus {} ({}) exceeds the context ({})", r.prompt_tokens,
                               limit_key, max_tokens, defaults.n_ctx),
                   limit_key, "context_length_exceeded");
  g.n_predict = static_cast<int32_t>(max_tokens);
  return r;
}

std::string_view api_finish_reason(FinishReason reason) { return reason == FinishReason::Length ? "length" : "stop"; }

std::string response_id(Endpoint endpoint, std::string_view suffix) {
  return fmt::format("{}-{}", endpoint == Endpoint::Completions ? "cmpl" : "chatcmpl", suffix);
}

ordered_json response_body(Endpoint endpoint, const ResponseMeta& meta, const BatchResult& r) {
  ordered_json choice{{"index", 0}};
  if (endpoint == Endpoint::Completions) {
    choice["text"] = r.text;
  } else {
    choice["message"] = {{"role", "assistant"}, {"content", r.text}};
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = api_finish_reason(r.finish);
  ordered_json body = head(meta, endpoint == Endpoint::Completions ? "text_completion" : "chat.completion");
  body["choices"] = ordered_json::array({choice});
  body["usage"] = usage_of(r);
  return body;
}

ordered_json stream_chunk(Endpoint endpoint, const ResponseMeta& meta, std::string_view piece,
                          std::optional<FinishReason> finish, bool first) {
  ordered_json choice{{"index", 0}};
  if (endpoint == Endpoint::Completions) {
    choice["text"] = piece;
  } else {
    ordered_json delta = ordered_json::object();
    if (first) delta["role"] = "assistant";
    if (!finish || !piece.empty()) delta["content"] = piece;
    choice["delta"] = delta;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish ? ordered_json(api_finish_reason(*finish)) : ordered_json();
  ordered_json chunk = head(meta, endpoint == Endpoint::Completions ? "text_completion" : "chat.completion.chunk");
  chunk["choices"] = ordered_json::array({choice});
  return chunk;
}

ordered_json usage_chunk(Endpoint endpoint, const ResponseMeta& meta, const BatchResult& result) {
  ordered_json chunk = head(meta, endpoint == Endpoint::Completions ? "text_completion" : "chat.completion.chunk");
  chunk["choices"] = ordered_json::array();
  chunk["usage"] = usage_of(result);
  return chunk;
}

}  // namespace tern
