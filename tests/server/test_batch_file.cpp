// The batch-file API (tern/batch_file.h) that `tern batch` runs: shards split the lines
// by k % N, resume finishes exactly the ids the output lacks (after a torn last line),
// bad lines become error records, and OpenAI Batch API files are answered in its format.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tern/batch_file.h"
#include "tern/error.h"
#include "test_support.h"

namespace tern {
namespace {

using json = nlohmann::json;
using testing::shipped_model;
using testing::TempDir;

const BatchParams kParams{.parallel = 2, .n_ctx = 64};

BatchFileOptions file_options(const std::filesystem::path& input, const std::string& output,
                              const std::string& shard = "", bool resume = false) {
  BatchFileOptions o;
  o.input = input;
  o.output = output;
  o.shard = shard;
  o.resume = resume;
  return o;
}

void write_file(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
}

std::vector<json> read_records(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<json> records;
  for (std::string line; std::getline(in, line);) records.push_back(json::parse(line));
  return records;
}

// Six prompts with ids "p0".."p5"; line 4 asks for a number of tokens that is text.
std::vector<std::string> six_prompts() {
  std::vector<std::string> lines;
  for (int i = 0; i < 6; ++i)
    lines.push_back(
        json{{"id", fmt::format("p{}", i)}, {"prompt", "And God said"}, {"n_predict", i == 4 ? json("many") : json(3)}}
            .dump());
  return lines;
}

std::multiset<std::string> ids_of(const std::vector<json>& records, const std::string& key = "id") {
  std::multiset<std::string> ids;
  for (const json& r : records) ids.insert(r[key].get<std::string>());
  return ids;
}

TEST(BatchFile, ShardsSplitTheLinesByRemainder) {
  TempDir dir;
  write_file(dir / "in.jsonl", six_prompts());
  std::multiset<std::string> all;
  for (int index = 0; index < 2; ++index) {
    const auto out = dir / fmt::format("part-{}.jsonl", index);
    BatchFile file(file_options(dir / "in.jsonl", out, fmt::format("{}/2", index)));
    EXPECT_FALSE(file.openai_format());
    EXPECT_EQ(file.pending(), 3u);
    const BatchFileSummary summary = file.run(shipped_model(), kParams);
    EXPECT_EQ(summary.total, 3u);
    EXPECT_EQ(summary.done, 3u);
    EXPECT_EQ(summary.failed, index == 0 ? 1u : 0u);  // line 4 is in shard 0
    const auto records = read_records(out);
    const auto ids = ids_of(records);
    const std::multiset<std::string> expected =
        index == 0 ? std::multiset<std::string>{"p0", "p2", "p4"} : std::multiset<std::string>{"p1", "p3", "p5"};
    EXPECT_EQ(ids, expected);
    for (const json& r : records) {
      if (r["id"] == "p4") {
        EXPECT_NE(r["error"].get<std::string>().find("n_predict"), std::string::npos) << r;
      } else {
        EXPECT_EQ(r["tokens_generated"], 3) << r;
        EXPECT_EQ(r["finish_reason"], "length") << r;
      }
    }
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 6u);
}

TEST(BatchFile, ResumeRunsExactlyTheMissingIdsAfterATornLine) {
  TempDir dir;
  write_file(dir / "in.jsonl", six_prompts());
  const auto out = dir / "out.jsonl";
  BatchFile(file_options(dir / "in.jsonl", out)).run(shipped_model(), kParams);
  std::vector<json> records = read_records(out);
  ASSERT_EQ(records.size(), 6u);
  // Keep four whole records and half of a fifth, as a killed run leaves them.
  std::ofstream(out, std::ios::binary | std::ios::trunc) << records[0].dump() << "\n"
                                                         << records[1].dump() << "\n"
                                                         << records[2].dump() << "\n"
                                                         << records[3].dump() << "\n"
                                                         << records[4].dump().substr(0, 10);
  BatchFile resumed(file_options(dir / "in.jsonl", out, "", true));
  EXPECT_EQ(resumed.pending(), 2u);
  EXPECT_EQ(resumed.run(shipped_model(), kParams).done, 2u);
  const auto ids = ids_of(read_records(out));
  EXPECT_EQ(ids, (std::multiset<std::string>{"p0", "p1", "p2", "p3", "p4", "p5"}));
  EXPECT_EQ(BatchFile(file_options(dir / "in.jsonl", out, "", true)).pending(), 0u);
}

TEST(BatchFile, OpenAiBatchFilesAreAnsweredInTheirFormat) {
  TempDir dir;
  const json body = {{"model", "tern-kjv"}, {"prompt", "In the beginning"}, {"max_tokens", 3}, {"temperature", 0}};
  write_file(dir / "in.jsonl",
             {json{{"custom_id", "a"}, {"method", "POST"}, {"url", "/v1/completions"}, {"body", body}}.dump(),
              json{{"custom_id", "b"}, {"method", "POST"}, {"url", "/v1/embeddings"}, {"body", body}}.dump()});
  BatchFile file(file_options(dir / "in.jsonl", dir / "out.jsonl"));
  EXPECT_TRUE(file.openai_format());
  const BatchFileSummary summary = file.run(shipped_model(), kParams);
  EXPECT_EQ(summary.done, 2u);
  EXPECT_EQ(summary.failed, 1u);
  std::map<std::string, json> by_id;
  for (const json& r : read_records(dir / "out.jsonl")) by_id[r["custom_id"]] = r;
  ASSERT_EQ(by_id.size(), 2u);
  EXPECT_EQ(by_id["a"]["response"]["status_code"], 200);
  EXPECT_EQ(by_id["a"]["response"]["body"]["object"], "text_completion");
  EXPECT_EQ(by_id["a"]["response"]["body"]["usage"]["completion_tokens"], 3);
  EXPECT_TRUE(by_id["a"]["error"].is_null());
  EXPECT_NE(by_id["b"]["response"]["status_code"], 200);
}

TEST(BatchFile, RefusesWhatCannotWork) {
  TempDir dir;
  write_file(dir / "in.jsonl", six_prompts());
  EXPECT_THROW(BatchFile(file_options(dir / "in.jsonl", "-", "", true)), Error);
  EXPECT_THROW(BatchFile(file_options(dir / "in.jsonl", dir / "in.jsonl")), Error);
  EXPECT_THROW(BatchFile(file_options(dir / "in.jsonl", dir / "o.jsonl", "2/2")), Error);
  EXPECT_THROW(BatchFile(file_options(dir / "missing.jsonl", dir / "o.jsonl")), Error);
}

}  // namespace
}  // namespace tern
