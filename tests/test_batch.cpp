// tern batch: the multi-sequence forward pass, continuous batching and the CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/model_internals.h"
#include "model/multi_forward.h"
#include "model_files.h"
#include "shared_data.h"
#include "tern/error.h"
#include "tern/model.h"
#include "test_support.h"

namespace tern {
namespace {

using json = nlohmann::json;
using testing::run_command;
using testing::shell_quote;
using testing::TempDir;
using testing::tern_cli;

using testing::shipped_model_path;

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// id (as JSON text) -> the record without its timing.
std::map<std::string, json> records(const std::filesystem::path& p, bool allow_duplicates = false) {
  std::map<std::string, json> by_id;
  for (const auto& line : read_lines(p)) {
    json j = json::parse(line);
    j.erase("ms");
    const std::string id = j.at("id").dump();
    EXPECT_TRUE(allow_duplicates || !by_id.count(id)) << "id twice: " << id;
    by_id[id] = j;
  }
  return by_id;
}

void write_prompts(const std::filesystem::path& p, int n, const std::string& extra = "") {
  std::ofstream out(p);
  const char* starts[] = {"Once upon a time", "The dog", "In the beginning", "Lily and Tom", "And he said"};
  for (int i = 0; i < n; ++i) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on
    // "literal" + std::string temporaries here.
    std::string id = "p", prompt = starts[i % 5];
    id += std::to_string(i);
    if (i % 2) prompt += " was";
    out << json{{"id", i % 3 == 0 ? json(id) : json(i)}, {"prompt", prompt}}.dump() << extra << "\n";
  }
}

// Every row's logits, computed by forward_rows with the rows of eight sequences
// interleaved in one batch, are bit-identical to a Context running each alone. The
// batch shrinks as sequences end, so both thread splits run: by tokens (4 or more rows
// per thread, each thread running its rows through every layer) and by rows.
void check_multi_forward(const std::filesystem::path& model_path) {
  LoadOptions load;
  load.threads = 2;
  const Model model = Model::load(model_path, load);
  const auto& c = model.config();
  const std::vector<std::vector<int32_t>> seqs = {
      model.tokenizer().encode("Once upon a time there was", true),
      model.tokenizer().encode("And God said, Let there be light", true),
      model.tokenizer().encode("The", true),
      model.tokenizer().encode("In the beginning", true),
      model.tokenizer().encode("Lily and Tom went to the park and", true),
      model.tokenizer().encode("He said", true),
      model.tokenizer().encode("A little bird sang a song about the sun", true),
      model.tokenizer().encode("The king", true)};
  const size_t n_vocab = static_cast<size_t>(c.n_vocab);
  // Reference: one sequence at a time, one token per pass.
  std::vector<std::vector<std::vector<float>>> expected(seqs.size());
  for (size_t s = 0; s < seqs.size(); ++s) {
    Context ctx(model, 64);
    for (int32_t t : seqs[s]) {
      const auto logits = ctx.decode(t);
      expected[s].emplace_back(logits.begin(), logits.end());
    }
  }
  ForwardScratch scratch(weights_of(model), 64, 8);
  std::vector<KvCache> caches;
  for (size_t s = 0; s < seqs.size(); ++s) caches.emplace_back(c.n_layers(), 64, c.kv_dim());
  size_t longest = 0;
  for (const auto& s : seqs) longest = std::max(longest, s.size());
  for (size_t step = 0; step < longest; ++step) {
    std::vector<int32_t> tokens;
    std::vector<int64_t> positions, rows;
    std::vector<KvCache*> row_caches;
    std::vector<size_t> owner;
    for (size_t s = 0; s < seqs.size(); ++s)
      if (step < seqs[s].size()) {
        rows.push_back(static_cast<int64_t>(tokens.size()));
        tokens.push_back(seqs[s][step]);
        positions.push_back(static_cast<int64_t>(step));
        row_caches.push_back(&caches[s]);
        owner.push_back(s);
      }
    forward_rows(weights_of(model), scratch, tokens, positions, row_caches, rows);
    const float* logits = scratch.logits.get();  // [rows, n_vocab]
    for (size_t r = 0; r < rows.size(); ++r)
      ASSERT_EQ(0, std::memcmp(logits + r * n_vocab, expected[owner[r]][step].data(), n_vocab * sizeof(float)))
          << model_path << " sequence " << owner[r] << " step " << step;
  }
}

TEST(MultiForward, BitIdenticalToOneSequenceAtATimeShipped) { check_multi_forward(shipped_model_path()); }

TEST(MultiForward, BitIdenticalToOneSequenceAtATimeStories) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  check_multi_forward(model);
}

// Head width 64 with four query heads per KV head: the AVX-512 attention's register path,
// which takes a KV head's query heads together when a batch has enough rows.
TEST(MultiForward, BitIdenticalToOneSequenceAtATimeGroupedHeads) {
  TempDir dir;
  testing::make_random_model(dir / "gqa.gguf", "--seed 3 --dim 256 --ffn 320 --heads 4 --kv-heads 1");
  check_multi_forward(dir / "gqa.gguf");
}

std::string batch_cmd(const std::filesystem::path& model, const std::filesystem::path& in,
                      const std::filesystem::path& out, const std::string& flags) {
  return tern_cli() + " batch -q -t 2 -m " + shell_quote(model.string()) + " -i " + shell_quote(in.string()) + " -o " +
         shell_quote(out.string()) + " " + flags;
}

TEST(BatchCli, SameResultsWhateverTheParallelism) {
  TERN_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  TempDir dir;
  write_prompts(dir / "in.jsonl", 13, "");
  for (const auto& model : {stories, shipped_model_path()})
    for (const std::string sampling : {"--temp 0", "--temp 0.9 --seed 42", "--temp 0.9 --seed 42 --kv-type f16"}) {
      std::map<std::string, json> first;
      for (int parallel : {1, 4, 8}) {
        const auto out = dir / ("out" + std::to_string(parallel) + ".jsonl");
        const auto r = run_command(
            batch_cmd(model, dir / "in.jsonl", out, "-n 16 --parallel " + std::to_string(parallel) + " " + sampling));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto got = records(out);
        ASSERT_EQ(got.size(), 13u);
        if (parallel == 1) first = got;
        else EXPECT_EQ(got, first) << model << " " << sampling << " --parallel " << parallel;
      }
      for (const auto& [id, j] : first) {
        EXPECT_EQ(j.at("tokens_generated").get<int>(),
                  j.at("finish_reason") == "length" ? 16 : j.at("tokens_generated").get<int>());
        EXPECT_FALSE(j.at("text").get<std::string>().empty() && j.at("finish_reason") == "length");
      }
    }
}

TEST(BatchCli, GreedyMatchesTernRun) {
  TERN_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  TempDir dir;
  write_prompts(dir / "in.jsonl", 3);
  ASSERT_EQ(
      run_command(batch_cmd(stories, dir / "in.jsonl", dir / "out.jsonl", "-n 12 --temp 0 --parallel 3")).exit_code, 0);
  const auto got = records(dir / "out.jsonl");
  const auto run = run_command(tern_cli() + " run -t 2 -m " + shell_quote(stories.string()) +
                               " -n 12 --temp 0 -p 'The dog was' 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "The dog was" + got.at("1").at("text").get<std::string>());
}

TEST(BatchCli, BadLinesGiveErrorRecordsAndTheRestComplete) {
  TempDir dir;
  {
    std::ofstream in(dir / "in.jsonl");
    in << R"({"id": "ok1", "prompt": "And"})"
       << "\n"
       << "this is not json\n"
       << R"({"id": "noprompt"})"
       << "\n"
       << R"({"id": "badp", "prompt": "x", "top_p": 3})"
       << "\n"
       << R"({"id": "long", "prompt": ")" << std::string(400, 'a') << " " << std::string(400, 'b') << "\"}\n"
       << R"({"id": "ok2", "prompt": "The LORD", "n_predict": 3, "temperature": 0})"
       << "\n";
  }
  const auto r = run_command(batch_cmd(shipped_model_path(), dir / "in.jsonl", dir / "out.jsonl", "-n 5 -c 32"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto got = records(dir / "out.jsonl");
  ASSERT_EQ(got.size(), 6u);
  EXPECT_TRUE(got.at("2").contains("error"));
  EXPECT_TRUE(got.at("\"noprompt\"").contains("error"));
  EXPECT_TRUE(got.at("\"badp\"").contains("error"));
  EXPECT_TRUE(got.at("\"long\"").contains("error"));
  EXPECT_EQ(got.at("\"ok1\"").at("tokens_generated").get<int>() <= 5, true);
  EXPECT_FALSE(got.at("\"ok1\"").contains("error"));
  EXPECT_LE(got.at("\"ok2\"").at("tokens_generated").get<int>(), 3);
}

TEST(BatchCli, KilledRunResumesToTheSameResults) {
  TempDir dir;
  write_prompts(dir / "in.jsonl", 200);
  const std::string flags = "-n 32 --temp 0.8 --seed 3 --parallel 8";
  ASSERT_EQ(run_command(batch_cmd(shipped_model_path(), dir / "in.jsonl", dir / "full.jsonl", flags)).exit_code, 0);
  const auto full = records(dir / "full.jsonl");
  ASSERT_EQ(full.size(), 200u);

  // Killed as soon as a few results are out (polled, not after a fixed sleep: the whole
  // run takes a few tenths of a second and its speed varies).
  const auto out = dir / "out.jsonl";
  const std::string lines = "$(cat " + shell_quote(out.string()) + " 2>/dev/null | wc -l)";
  run_command("sh -c " + shell_quote(batch_cmd(shipped_model_path(), dir / "in.jsonl", out, flags) + " & pid=$!; " +
                                     "while kill -0 $pid 2>/dev/null && [ " + lines +
                                     " -lt 5 ]; do sleep 0.005; done; " + "kill -9 $pid; wait $pid"));
  const std::string partial = slurp(out);
  EXPECT_TRUE(partial.empty() || partial.back() == '\n');
  const auto before = records(out);  // every line parses: only whole lines
  EXPECT_LT(before.size(), 200u) << "the run finished before the kill; the test proves less";
  for (const auto& [id, j] : before) EXPECT_EQ(j, full.at(id));

  const auto r = run_command(batch_cmd(shipped_model_path(), dir / "in.jsonl", out, flags + " --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(records(out), full);  // records() also checks each id is there once
  EXPECT_EQ(read_lines(out).size(), 200u);
}

TEST(BatchCli, ShardsCoverEveryIdOnce) {
  TempDir dir;
  write_prompts(dir / "in.jsonl", 10);
  std::map<std::string, json> all;
  size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    std::string name = "s";  // appended, not "s" + ...: GCC 12's false -Wrestrict
    name += std::to_string(i);
    const auto out = dir / name;
    ASSERT_EQ(
        run_command(batch_cmd(shipped_model_path(), dir / "in.jsonl", out, "-n 2 --shard " + std::to_string(i) + "/3"))
            .exit_code,
        0);
    const auto got = records(out);
    total += got.size();
    all.insert(got.begin(), got.end());
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(all.size(), 10u);
  EXPECT_NE(run_command(batch_cmd(shipped_model_path(), dir / "in.jsonl", dir / "x", "--shard 3/3")).exit_code, 0);
}

TEST(BatchCli, PlainTextInputUsesLineNumbers) {
  TempDir dir;
  {
    std::ofstream in(dir / "in.txt");
    in << "And God said\nThe LORD\n";
  }
  const auto r = run_command(batch_cmd(shipped_model_path(), dir / "in.txt", dir / "out.jsonl", "--text -n 3"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto got = records(dir / "out.jsonl");
  EXPECT_EQ(got.size(), 2u);
  EXPECT_TRUE(got.count("1") && got.count("2"));
}

}  // namespace
}  // namespace tern
