// The OpenAI API mapping (src/serving/openai_api.h, openai_batch.h), checked against
// the request and response bodies the OpenAI API reference documents.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "serving/openai_api.h"
#include "serving/openai_batch.h"
#include "tern/model.h"
#include "test_support.h"

namespace tern {
namespace {

using json = nlohmann::json;

using testing::shipped_model;

ApiRequest parse(Endpoint endpoint, const std::string& body, int64_t n_ctx = 256) {
  return parse_api_request(endpoint, json::parse(body), shipped_model().tokenizer(), RequestDefaults{7, n_ctx});
}

// The error a body draws ("" when it is accepted).
ApiError refusal(Endpoint endpoint, const std::string& body, int64_t n_ctx = 256) {
  try {
    parse(endpoint, body, n_ctx);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "");
}

TEST(OpenAiApi, EndpointsFromUrls) {
  EXPECT_EQ(endpoint_from_url("/v1/completions"), Endpoint::Completions);
  EXPECT_EQ(endpoint_from_url("/v1/chat/completions"), Endpoint::ChatCompletions);
  EXPECT_FALSE(endpoint_from_url("/v1/embeddings"));
  EXPECT_FALSE(endpoint_from_url("/v1/completions/"));
}

// The API reference's completions example.
TEST(OpenAiApi, DocumentedCompletionRequest) {
  const ApiRequest r = parse(
      Endpoint::Completions,
      R"({"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test", "max_tokens": 7, "temperature": 0})");
  EXPECT_EQ(r.model, "gpt-3.5-turbo-instruct");
  EXPECT_EQ(r.generation.prompt, "Say this is a test");
  EXPECT_EQ(r.generation.n_predict, 7);
  EXPECT_EQ(r.generation.sampling.temperature, 0.0f);
  EXPECT_EQ(r.generation.sampling.top_p, 1.0f);  // OpenAI's defaults, not tern run's
  EXPECT_EQ(r.generation.sampling.top_k, 0);
  EXPECT_EQ(r.generation.sampling.min_p, 0.0f);
  EXPECT_EQ(r.generation.sampling.seed, 7u);  // no "seed": the caller's default
  EXPECT_TRUE(r.generation.stop.empty());
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.prompt_tokens,
            static_cast<int64_t>(shipped_model().tokenizer().encode("Say this is a test", true).size()));
}

TEST(OpenAiApi, CompletionDefaultsToSixteenTokens) {
  EXPECT_EQ(parse(Endpoint::Completions, R"({"prompt": "In the beginning"})").generation.n_predict, 16);
}

// The API reference's chat example, with a system ("developer") message, in the plain
// format tern-kjv's template is (include/tern/chat.h: "SYSTEM\n\nUser: ...\nAssistant:").
TEST(OpenAiApi, DocumentedChatRequest) {
  const ApiRequest r = parse(Endpoint::ChatCompletions, R"({
    "model": "gpt-4o",
    "messages": [
      {"role": "developer", "content": "You are a helpful assistant."},
      {"role": "user", "content": "Hello!"}
    ],
    "stream": true, "stream_options": {"include_usage": true}, "seed": 42, "stop": ["\n\n"], "top_p": 0.9
  })");
  EXPECT_EQ(r.generation.prompt, "You are a helpful assistant.\n\nUser: Hello!\nAssistant:");
  EXPECT_EQ(r.generation.prompt_tokens, shipped_model().tokenizer().encode(r.generation.prompt, true));
  EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(r.generation.prompt_tokens.size()));
  EXPECT_EQ(r.generation.stop, (std::vector<std::string>{"\n\n", "\nUser:"}));
  EXPECT_EQ(r.generation.n_predict, -1);  // a chat runs until the context is full
  EXPECT_EQ(r.generation.sampling.seed, 42u);
  EXPECT_FLOAT_EQ(r.generation.sampling.top_p, 0.9f);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiApi, ChatContentPartsAndMaxCompletionTokens) {
  const ApiRequest r = parse(Endpoint::ChatCompletions, R"({"messages": [{"role": "user", "content":
      [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]}], "max_completion_tokens": 5})");
  EXPECT_EQ(r.generation.prompt, "User: Hello there\nAssistant:");
  EXPECT_EQ(r.generation.stop, (std::vector<std::string>{"\nUser:"}));
  EXPECT_EQ(r.generation.n_predict, 5);
}

TEST(OpenAiApi, RefusesWhatItCannotDo) {
  struct Case {
    Endpoint endpoint;
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {Endpoint::Completions, R"({"prompt": "a", "n": 2})", "n"},
      {Endpoint::Completions, R"({"prompt": "a", "logprobs": 2})", "logprobs"},
      {Endpoint::Completions, R"({"prompt": "a", "echo": true})", "echo"},
      {Endpoint::Completions, R"({"prompt": "a", "best_of": 3})", "best_of"},
      {Endpoint::Completions, R"({"prompt": "a", "presence_penalty": 0.5})", "presence_penalty"},
      {Endpoint::Completions, R"({"prompt": 5})", "prompt"},
      {Endpoint::Completions, R"({"prompt": ["a", "b"]})", "prompt"},
      {Endpoint::Completions, R"({})", "prompt"},
      {Endpoint::Completions, R"({"prompt": "a", "model": 3})", "model"},
      {Endpoint::Completions, R"({"prompt": "a", "temperature": "hot"})", "temperature"},
      {Endpoint::Completions, R"({"prompt": "a", "temperature": 2.5})", "temperature"},
      {Endpoint::Completions, R"({"prompt": "a", "top_p": 0})", "top_p"},
      {Endpoint::Completions, R"({"prompt": "a", "max_tokens": 1.5})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt": "a", "max_tokens": "7"})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt": "a", "max_tokens": 0})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt": "a", "max_tokens": -3})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt": "a", "max_tokens": 257})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt": "a", "max_tokens": 18446744073709551615})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt": "a", "seed": 0.5})", "seed"},
      {Endpoint::Completions, R"({"prompt": "a", "stop": ["1", "2", "3", "4", "5"]})", "stop"},
      {Endpoint::Completions, R"({"prompt": "a", "stop": [1]})", "stop"},
      {Endpoint::Completions, R"({"prompt": "a", "stream": "yes"})", "stream"},
      {Endpoint::ChatCompletions, R"({"messages": []})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages": [{"role": "wizard", "content": "hi"}]})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages": [{"content": "hi"}]})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages"},
  };
  for (const Case& c : cases) {
    const ApiError e = refusal(c.endpoint, c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << ": " << e.what();
  }
  EXPECT_EQ(refusal(Endpoint::Completions, "[1, 2]").status, 400);
}

TEST(OpenAiApi, IntegralFloatsAndNullsAreAccepted) {
  const ApiRequest r = parse(Endpoint::Completions, R"({"prompt": "a", "max_tokens": 8.0, "seed": -1, "n": 1,
      "temperature": null, "logprobs": null, "stop": null, "presence_penalty": 0})");
  EXPECT_EQ(r.generation.n_predict, 8);
  EXPECT_EQ(r.generation.sampling.seed, ~uint64_t{0});
  EXPECT_EQ(r.generation.sampling.temperature, 1.0f);
}

TEST(OpenAiApi, PromptAndMaxTokensMustFitTheContext) {
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += " And God said";
  const ApiError too_long = refusal(Endpoint::Completions, json{{"prompt", long_prompt}}.dump());
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.code, "context_length_exceeded");
  const ApiError too_many = refusal(Endpoint::Completions, R"({"prompt": "In the beginning", "max_tokens": 254})");
  EXPECT_EQ(too_many.code, "context_length_exceeded");
  EXPECT_EQ(too_many.param, "max_tokens");
  // A short context leaves a completion's default 16 tokens no room: it takes what fits.
  const int64_t prompt = parse(Endpoint::Completions, R"({"prompt": "In the beginning"})").prompt_tokens;
  EXPECT_EQ(parse(Endpoint::Completions, R"({"prompt": "In the beginning"})", prompt + 3).generation.n_predict, 3);
}

// The response shapes the API reference documents.
TEST(OpenAiApi, ResponseBodies) {
  BatchResult r;
  r.text = "This is a test.";
  r.tokens_prompt = 5;
  r.tokens_generated = 7;
  r.finish = FinishReason::Eos;
  const ResponseMeta meta{"cmpl-1", 1589478378, "tern-kjv"};
  const json completion = json::parse(response_body(Endpoint::Completions, meta, r).dump());
  EXPECT_EQ(completion, json::parse(R"({"id": "cmpl-1", "object": "text_completion", "created": 1589478378,
      "model": "tern-kjv", "choices": [{"index": 0, "text": "This is a test.", "logprobs": null, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})"));
  r.finish = FinishReason::Length;
  const json chat = json::parse(response_body(Endpoint::ChatCompletions, meta, r).dump());
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"], json::parse(R"({"role": "assistant", "content": "This is a test."})"));
  EXPECT_EQ(chat["choices"][0]["finish_reason"], "length");
}

TEST(OpenAiApi, StreamChunks) {
  const ResponseMeta meta{"chatcmpl-1", 1694268190, "tern-kjv"};
  const json role = json::parse(stream_chunk(Endpoint::ChatCompletions, meta, "", std::nullopt, true).dump());
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"], json::parse(R"({"role": "assistant", "content": ""})"));
  EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
  const json piece = json::parse(stream_chunk(Endpoint::ChatCompletions, meta, "Hello", std::nullopt, false).dump());
  EXPECT_EQ(piece["choices"][0]["delta"], json::parse(R"({"content": "Hello"})"));
  const json last = json::parse(stream_chunk(Endpoint::ChatCompletions, meta, "", FinishReason::Stop, false).dump());
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  const json text = json::parse(stream_chunk(Endpoint::Completions, meta, "Hi", std::nullopt, false).dump());
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "Hi");
  BatchResult r;
  r.tokens_prompt = 3, r.tokens_generated = 4;
  const json usage = json::parse(usage_chunk(Endpoint::ChatCompletions, meta, r).dump());
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
}

TEST(OpenAiApi, ErrorBody) {
  const json e = json::parse(error_body(ApiError(400, "'n' must be 1", "n")).dump());
  EXPECT_EQ(
      e,
      json::parse(
          R"({"error": {"message": "'n' must be 1", "type": "invalid_request_error", "param": "n", "code": null}})"));
}

// The Batch API guide's input line.
constexpr const char* kDocumentedBatchLine =
    R"({"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-3.5-turbo-0125", "messages": [{"role": "system", "content": "You are a helpful assistant."},{"role": "user", "content": "Hello world!"}],"max_tokens": 1000}})";

TEST(OpenAiBatch, DetectsTheFormatFromALine) {
  EXPECT_TRUE(is_openai_batch_line(kDocumentedBatchLine));
  EXPECT_FALSE(is_openai_batch_line(R"({"id": 1, "prompt": "a"})"));
  EXPECT_FALSE(is_openai_batch_line("not json"));
}

TEST(OpenAiBatch, DocumentedLineParsesAndItsMaxTokensIsPastTheContext) {
  OpenAiBatchInput in =
      parse_openai_batch_line(kDocumentedBatchLine, shipped_model().tokenizer(), RequestDefaults{0, 2048});
  ASSERT_TRUE(in.request) << in.error->what();
  EXPECT_EQ(in.custom_id, "request-1");
  EXPECT_EQ(in.request->endpoint, Endpoint::ChatCompletions);
  EXPECT_EQ(in.request->generation.n_predict, 1000);
  EXPECT_EQ(in.request->generation.prompt, "You are a helpful assistant.\n\nUser: Hello world!\nAssistant:");
  // tern-kjv's 256-token context cannot take 1000 tokens: a 400 in the response.
  in = parse_openai_batch_line(kDocumentedBatchLine, shipped_model().tokenizer(), RequestDefaults{0, 256});
  ASSERT_TRUE(in.error);
  EXPECT_FALSE(in.line_error);
  const json line = json::parse(openai_batch_error_line(in.custom_id, "1", *in.error, in.line_error));
  EXPECT_EQ(line["custom_id"], "request-1");
  EXPECT_EQ(line["response"]["status_code"], 400);
  EXPECT_EQ(line["response"]["body"]["error"]["code"], "context_length_exceeded");
  EXPECT_TRUE(line["error"].is_null());
}

TEST(OpenAiBatch, MalformedLinesAreLineErrors) {
  for (const char* bad : {"{", "[1]", R"({"method": "POST", "url": "/v1/completions", "body": {}})",
                          R"({"custom_id": "a", "method": "GET", "url": "/v1/completions", "body": {}})",
                          R"({"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}})"}) {
    const OpenAiBatchInput in = parse_openai_batch_line(bad, shipped_model().tokenizer(), RequestDefaults{});
    ASSERT_TRUE(in.error) << bad;
    EXPECT_TRUE(in.line_error) << bad;
    const json line = json::parse(openai_batch_error_line(in.custom_id, "3", *in.error, in.line_error));
    EXPECT_TRUE(line["response"].is_null());
    EXPECT_EQ(line["error"]["code"], "invalid_request");
    EXPECT_EQ(line["id"], "batch_req_3");
  }
}

TEST(OpenAiBatch, OutputLineHasTheDocumentedShape) {
  OpenAiBatchInput in = parse_openai_batch_line(
      R"({"custom_id": "r2", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x", "max_tokens": 3}})",
      shipped_model().tokenizer(), RequestDefaults{});
  ASSERT_TRUE(in.request);
  BatchResult r;
  r.text = "abc", r.tokens_prompt = 2, r.tokens_generated = 3;
  const json line = json::parse(openai_batch_output_line(in.custom_id, "9", *in.request, "tern-kjv", r, 100));
  EXPECT_EQ(line["id"], "batch_req_9");
  EXPECT_EQ(line["custom_id"], "r2");
  EXPECT_EQ(line["response"]["status_code"], 200);
  EXPECT_EQ(line["response"]["request_id"], "req_9");
  EXPECT_EQ(line["response"]["body"]["object"], "text_completion");
  EXPECT_EQ(line["response"]["body"]["model"], "tern-kjv");
  EXPECT_EQ(line["response"]["body"]["choices"][0]["text"], "abc");
  EXPECT_TRUE(line["error"].is_null());
}

}  // namespace
}  // namespace tern
