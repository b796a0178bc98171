#include "serving/openai_batch.h"

#include <fmt/format.h>

namespace tern {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::string dump_line(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

ordered_json line_head(const json& custom_id, std::string_view suffix) {
  return ordered_json{{"id", fmt::format("batch_req_{}", suffix)},
                      {"custom_id", ordered_json::parse(custom_id.dump())}};
}

ordered_json response(int status, std::string_view suffix, ordered_json body) {
  return ordered_json{
      {"status_code", status}, {"request_id", fmt::format("req_{}", suffix)}, {"body", std::move(body)}};
}

}  // namespace

bool is_openai_batch_line(std::string_view line) {
  const json j = json::parse(line, nullptr, false);
  return j.is_object() && j.contains("custom_id") && j.contains("body");
}

OpenAiBatchInput parse_openai_batch_line(std::string_view line, const Tokenizer& tokenizer,
                                         const RequestDefaults& defaults) {
  OpenAiBatchInput in;
  const json j = json::parse(line, nullptr, false);
  auto line_failure = [&](std::string message) {
    in.error.emplace(400, std::move(message), "", "invalid_request");
    in.line_error = true;
    return in;
  };
  if (j.is_discarded()) return line_failure("the line is not JSON");
  if (!j.is_object()) return line_failure("the line is not a JSON object");
  if (j.contains("custom_id")) in.custom_id = j["custom_id"];
  if (!in.custom_id.is_string()) return line_failure("'custom_id' must be a string");
  if (j.value("method", json()) != "POST") return line_failure("'method' must be \"POST\"");
  const json url = j.value("url", json());
  const std::optional<Endpoint> endpoint = url.is_string() ? endpoint_from_url(url.get<std::string>()) : std::nullopt;
  if (!endpoint) return line_failure("'url' must be \"/v1/completions\" or \"/v1/chat/completions\"");
  try {
    in.request = parse_api_request(*endpoint, j.value("body", json()), tokenizer, defaults);
    if (in.request->stream) throw ApiError(400, "'stream' is not allowed in a batch", "stream");
  } catch (const ApiError& e) {
    in.request.reset();
    in.error = e;
  }
  return in;
}

std::string openai_batch_output_line(const json& custom_id, std::string_view suffix, const ApiRequest& request,
                                     const std::string& model, const BatchResult& result, int64_t created) {
  ordered_json line = line_head(custom_id, suffix);
  if (!result.error.empty()) {
    line["response"] = response(400, suffix, error_body(ApiError(400, result.error)));
  } else {
    const ResponseMeta meta{response_id(request.endpoint, suffix), created,
                            request.model.empty() ? model : request.model};
    line["response"] = response(200, suffix, response_body(request.endpoint, meta, result));
  }
  line["error"] = nullptr;
  return dump_line(line);
}

std::string openai_batch_error_line(const json& custom_id, std::string_view suffix, const ApiError& error,
                                    bool line_error) {
  ordered_json line = line_head(custom_id, suffix);
  if (line_error) {
    line["response"] = nullptr;
    line["error"] = {{"code", error.code.empty() ? "invalid_request" : error.code}, {"message", error.what()}};
  } else {
    line["response"] = response(error.status, suffix, error_body(error));
    line["error"] = nullptr;
  }
  return dump_line(line);
}

}  // namespace tern
