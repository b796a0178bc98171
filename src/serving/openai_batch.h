#pragma once
// Lines of the OpenAI Batch API's files, as `tern batch` reads and writes them.
//   input:  {"custom_id": "...", "method": "POST", "url": "/v1/completions" or
//            "/v1/chat/completions", "body": {...}}
//   output: {"id": "batch_req_...", "custom_id": "...", "response": {"status_code",
//            "request_id", "body"}, "error": null}
// A request the API would refuse gets a response with status 400 and an error body; a
// line that is not a batch request at all gets "response": null and an "error" object.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "serving/openai_api.h"

namespace tern {

// Whether a batch file is in this format, judged from its first non-blank line.
bool is_openai_batch_line(std::string_view line);

struct OpenAiBatchInput {
  nlohmann::json custom_id;           // null when the line has none
  std::optional<ApiRequest> request;  // set when the line is a valid request
  std::optional<ApiError> error;      // set when not
  bool line_error = false;            // the line itself is malformed (not just its body)
};

// Never throws: a bad line comes back with `error` set.
OpenAiBatchInput parse_openai_batch_line(std::string_view line, const Tokenizer& tokenizer,
                                         const RequestDefaults& defaults);

// `suffix` makes the line's ids ("batch_req_<suffix>", "req_<suffix>", "cmpl-<suffix>").
std::string openai_batch_output_line(const nlohmann::json& custom_id, std::string_view suffix,
                                     const ApiRequest& request, const std::string& model, const BatchResult& result,
                                     int64_t created);
std::string openai_batch_error_line(const nlohmann::json& custom_id, std::string_view suffix, const ApiError& error,
                                    bool line_error);

}  // namespace tern
