#pragma once
// The OpenAI API's request and response bodies, mapped to and from tern's generation
// requests: the one place both `tern serve` and `tern batch` (OpenAI batch files) read
// /v1/completions and /v1/chat/completions bodies and write their answers.
//
// Fields follow the OpenAI API reference: max_tokens (max_completion_tokens for chat),
// temperature, top_p, seed, stop (a string or up to 4), n (only 1), stream,
// stream_options.include_usage; plus llama.cpp's top_k, min_p and repeat_penalty.
// Features tern does not have (n > 1, logprobs, echo, best_of, suffix, penalties other
// than 0) are refused with a 400, never silently ignored.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "serving/continuous_batch.h"
#include "tern/chat.h"
#include "tern/tokenizer.h"

namespace tern {

enum class Endpoint { Completions, ChatCompletions };

// "/v1/completions" or "/v1/chat/completions"; nullopt for anything else.
std::optional<Endpoint> endpoint_from_url(std::string_view url);

// A request the API refuses: the HTTP status and the fields of its error object.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string code = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(std::move(message)),
        status(status),
        param(std::move(param)),
        code(std::move(code)),
        type(std::move(type)) {}
  int status;
  std::string param;  // the offending field, "" when none
  std::string code;   // e.g. "context_length_exceeded", "" when none
  std::string type;
};

// {"error": {"message", "type", "param", "code"}} as the OpenAI API sends it.
nlohmann::ordered_json error_body(const ApiError& error);

struct RequestDefaults {
  uint64_t seed = 0;                                      // used when the body has no "seed"
  int64_t n_ctx = 2048;                                   // context of a sequence: bounds prompt + max_tokens
  ChatTemplate chat_template{ChatTemplate::Kind::Plain};  // renders chat messages
};

// The chat template of a model (its GGUF's tokenizer.chat_template), or the plain
// format when it has none or one tern does not know (logged).
ChatTemplate model_chat_template(const Tokenizer& tokenizer);

struct ApiRequest {
  Endpoint endpoint = Endpoint::Completions;
  std::string model;          // as the body names it ("" when absent)
  BatchRequest generation;    // prompt, n_predict, sampling, stop (id left empty)
  int64_t prompt_tokens = 0;  // the prompt's length in tokens (with BOS)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Maps a request body; tokenizes the prompt to check it and max_tokens fit the context.
// Throws ApiError (status 400) naming the field that is wrong.
ApiRequest parse_api_request(Endpoint endpoint, const nlohmann::json& body, const Tokenizer& tokenizer,
                             const RequestDefaults& defaults);

// Chat messages ("system" or "developer", "user", "assistant"; text content) checked
// and converted; throws ApiError naming "messages".
std::vector<ChatMessage> chat_messages(const nlohmann::json& messages);

// What identifies one answer: "cmpl-..." / "chatcmpl-..." id, creation time, model.
struct ResponseMeta {
  std::string id;
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// "stop" (end of text or a stop string) or "length".
std::string_view api_finish_reason(FinishReason reason);

// The whole answer: text_completion or chat.completion, with usage.
nlohmann::ordered_json response_body(Endpoint endpoint, const ResponseMeta& meta, const BatchResult& result);

// One streamed chunk (text_completion or chat.completion.chunk): `piece` of text, or the
// last chunk with its finish reason. A chat stream's first chunk carries the role.
nlohmann::ordered_json stream_chunk(Endpoint endpoint, const ResponseMeta& meta, std::string_view piece,
                                    std::optional<FinishReason> finish, bool first);
// The chunk with empty choices and the usage (stream_options.include_usage).
nlohmann::ordered_json usage_chunk(Endpoint endpoint, const ResponseMeta& meta, const BatchResult& result);

// "cmpl-" or "chatcmpl-" followed by `suffix`.
std::string response_id(Endpoint endpoint, std::string_view suffix);

}  // namespace tern
