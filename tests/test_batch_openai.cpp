// `tern batch` on OpenAI Batch API files, and --shard auto from a scheduler's environment.
// The OpenAI format must give the texts tern's own format gives for the same prompt and
// parameters (OpenAI's sampling defaults written out), and the same resume and shard
// guarantees; the merge script must find every id exactly once.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace tern {
namespace {

using json = nlohmann::json;
using testing::run_command;
using testing::shell_quote;
using testing::TempDir;
using testing::tern_cli;

std::string shipped() { return testing::shipped_model_path().string(); }

std::string batch_cmd(const std::filesystem::path& in, const std::filesystem::path& out, const std::string& flags) {
  return tern_cli() + " batch -q -t 2 -m " + shell_quote(shipped()) + " -i " + shell_quote(in.string()) + " -o " +
         shell_quote(out.string()) + " " + flags;
}

std::vector<json> read_records(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<json> records;
  std::string line;
  while (std::getline(in, line)) records.push_back(json::parse(line));
  return records;
}

// custom_id -> record, each id once.
std::map<std::string, json> by_custom_id(const std::filesystem::path& p) {
  std::map<std::string, json> out;
  for (json r : read_records(p)) {
    const std::string id = r["custom_id"].dump();
    EXPECT_FALSE(out.count(id)) << "twice: " << id;
    if (r["response"].is_object()) r["response"]["body"].erase("created");
    out[id] = r;
  }
  return out;
}

const char* kStarts[] = {"In the beginning", "And it came to pass", "The LORD is", "Blessed are", "And God said"};

// n completion requests, alternately greedy and seeded sampling.
void write_openai_completions(const std::filesystem::path& p, int n) {
  std::ofstream out(p);
  for (int i = 0; i < n; ++i) {
    json body = {{"model", "gpt-3.5-turbo-instruct"}, {"prompt", kStarts[i % 5]}, {"max_tokens", 6 + i % 4}};
    if (i % 2) body["temperature"] = 0;
    else body["seed"] = 1000 + i, body["temperature"] = 0.9, body["top_p"] = 0.95;
    out << json{{"custom_id", "request-" + std::to_string(i)},
                {"method", "POST"},
                {"url", "/v1/completions"},
                {"body", body}}
               .dump()
        << "\n";
  }
}

TEST(BatchOpenAi, CompletionsGiveTernFormatTexts) {
  TempDir dir;
  const int n = 10;
  write_openai_completions(dir / "openai.jsonl", n);
  {
    // The same requests in tern's format, with OpenAI's defaults spelled out.
    std::ofstream out(dir / "tern.jsonl");
    for (int i = 0; i < n; ++i) {
      json line = {{"id", "request-" + std::to_string(i)},
                   {"prompt", kStarts[i % 5]},
                   {"n_predict", 6 + i % 4},
                   {"top_k", 0},
                   {"min_p", 0},
                   {"top_p", 1.0},
                   {"temperature", 0}};
      if (i % 2 == 0) line["seed"] = 1000 + i, line["temperature"] = 0.9, line["top_p"] = 0.95;
      out << line.dump() << "\n";
    }
  }
  auto r = run_command(batch_cmd(dir / "openai.jsonl", dir / "openai.out", "--parallel 4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(batch_cmd(dir / "tern.jsonl", dir / "tern.out", "--parallel 3"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, json> tern;
  for (const json& j : read_records(dir / "tern.out")) tern[j["id"].dump()] = j;
  const auto openai = by_custom_id(dir / "openai.out");
  ASSERT_EQ(openai.size(), static_cast<size_t>(n));
  for (const auto& [id, line] : openai) {
    EXPECT_TRUE(line["id"].get<std::string>().rfind("batch_req_", 0) == 0);
    EXPECT_TRUE(line["error"].is_null());
    ASSERT_EQ(line["response"]["status_code"], 200) << line;
    const json& body = line["response"]["body"];
    EXPECT_EQ(body["object"], "text_completion");
    EXPECT_EQ(body["model"], "gpt-3.5-turbo-instruct");
    const json& expected = tern.at(id);
    EXPECT_EQ(body["choices"][0]["text"], expected["text"]) << id;
    EXPECT_EQ(body["usage"]["completion_tokens"], expected["tokens_generated"]);
    EXPECT_EQ(body["usage"]["prompt_tokens"], expected["tokens_prompt"]);
    EXPECT_EQ(body["choices"][0]["finish_reason"], expected["finish_reason"] == "length" ? "length" : "stop");
  }
}

// The Batch API guide's chat lines, a refused body and a malformed line in one file.
TEST(BatchOpenAi, ChatLinesAndErrorRecords) {
  TempDir dir;
  {
    std::ofstream out(dir / "in.jsonl");
    out << R"({"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-3.5-turbo-0125", "messages": [{"role": "system", "content": "You are a helpful assistant."},{"role": "user", "content": "Hello world!"}],"max_tokens": 1000}})"
        << "\n"
        << R"({"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-3.5-turbo-0125", "messages": [{"role": "system", "content": "You are an unhelpful assistant."},{"role": "user", "content": "Hello world!"}],"max_tokens": 10, "seed": 4}})"
        << "\n"
        << R"({"custom_id": "request-3", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x", "n": 3}})"
        << "\n"
        << "not a json line\n";
  }
  const auto r = run_command(batch_cmd(dir / "in.jsonl", dir / "out.jsonl", ""));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // some lines failed
  const auto records = read_records(dir / "out.jsonl");
  ASSERT_EQ(records.size(), 4u);
  std::map<std::string, json> by_id;
  for (const json& j : records) by_id[j["custom_id"].dump()] = j;
  // 1000 tokens do not fit tern-kjv's 256-token context.
  EXPECT_EQ(by_id.at("\"request-1\"")["response"]["status_code"], 400);
  EXPECT_EQ(by_id.at("\"request-1\"")["response"]["body"]["error"]["code"], "context_length_exceeded");
  const json& chat = by_id.at("\"request-2\"")["response"];
  EXPECT_EQ(chat["status_code"], 200);
  EXPECT_EQ(chat["body"]["object"], "chat.completion");
  EXPECT_EQ(chat["body"]["choices"][0]["message"]["role"], "assistant");
  EXPECT_LE(chat["body"]["usage"]["completion_tokens"].get<int>(), 10);
  EXPECT_EQ(by_id.at("\"request-3\"")["response"]["body"]["error"]["param"], "n");
  const json& malformed = by_id.at("null");
  EXPECT_TRUE(malformed["response"].is_null());
  EXPECT_EQ(malformed["error"]["code"], "invalid_request");
  EXPECT_EQ(malformed["id"], "batch_req_4");
}

TEST(BatchOpenAi, ResumeSkipsAnsweredCustomIds) {
  TempDir dir;
  write_openai_completions(dir / "in.jsonl", 12);
  ASSERT_EQ(run_command(batch_cmd(dir / "in.jsonl", dir / "full.jsonl", "")).exit_code, 0);
  // A run that was killed after four lines, the fifth torn.
  {
    std::ifstream full(dir / "full.jsonl");
    std::ofstream partial(dir / "out.jsonl");
    std::string line;
    for (int i = 0; i < 4 && std::getline(full, line); ++i) partial << line << "\n";
    std::getline(full, line);
    partial << line.substr(0, line.size() / 2);
  }
  const auto r = run_command(batch_cmd(dir / "in.jsonl", dir / "out.jsonl", "--resume"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(by_custom_id(dir / "out.jsonl"), by_custom_id(dir / "full.jsonl"));
  EXPECT_EQ(read_records(dir / "out.jsonl").size(), 12u);
}

// Slurm array tasks (ids 1..3, MIN 1) and Kubernetes indexes split an OpenAI file and a
// tern file; the merge script finds every id exactly once, and notices a missing part.
TEST(BatchOpenAi, ShardAutoFromSchedulersAndMergeCheck) {
  TempDir dir;
  write_openai_completions(dir / "in.jsonl", 11);
  std::string parts;
  for (int task = 1; task <= 3; ++task) {
    const auto out = dir / ("slurm-" + std::to_string(task) + ".jsonl");
    const std::string env =
        fmt::format("SLURM_ARRAY_TASK_ID={} SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 ", task);
    const auto r = run_command(env + batch_cmd(dir / "in.jsonl", out, "--shard auto"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_GE(read_records(out).size(), 3u);
    parts.append(" ").append(shell_quote(out.string()));
  }
  const std::string merge = testing::python() + " " +
                            shell_quote(std::string(TERN_SOURCE_DIR) + "/scripts/merge-shards.py") + " " +
                            shell_quote((dir / "in.jsonl").string());
  auto r = run_command(merge + parts);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("11 records for 11 requests"), std::string::npos) << r.err;
  r = run_command(merge + " " + shell_quote((dir / "slurm-1.jsonl").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;

  // Kubernetes: JOB_COMPLETION_INDEX with the count from auto/N.
  size_t total = 0;
  for (int index = 0; index < 2; ++index) {
    const auto out = dir / ("k8s-" + std::to_string(index) + ".jsonl");
    const auto k8s = run_command("JOB_COMPLETION_INDEX=" + std::to_string(index) + " " +
                                 batch_cmd(dir / "in.jsonl", out, "--shard auto/2"));
    ASSERT_EQ(k8s.exit_code, 0) << k8s.err;
    total += read_records(out).size();
  }
  EXPECT_EQ(total, 11u);
  // No scheduler: a one-line error naming both.
  r = run_command("env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX " +
                  batch_cmd(dir / "in.jsonl", dir / "none.jsonl", "--shard auto"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tern: error: --shard auto"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("JOB_COMPLETION_INDEX"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tern
