// Acceptance tests of the `tern` command line, run as a real process: generation
// against the text the model's reference implementation (llama2.c) prints, the
// info and tokenize subcommands, interactive mode, and bad input (every failure is
// one "tern: error:" line on stderr and a non-zero exit, never a crash).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf_writer.h"
#include "shared_data.h"
#include "test_support.h"

namespace tern::testing {
namespace {

constexpr const char* kModel = "models/stories260K.gguf";

// What llama2.c prints for stories260K, prompt "Once upon a time", temperature 0.
constexpr const char* kReferenceGreedy =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

std::string quote(const std::string& s) { return shell_quote(s); }

std::string tern(const std::string& args) { return quote(tern_cli()) + " " + args; }

CommandResult run_tern(const std::string& args) { return run_command(tern(args)); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A failure: non-zero exit, no crash, one "tern: error:" line on stderr that
// contains `mentions` (case-sensitive substring naming the problem).
void expect_one_line_error(const CommandResult& r, const std::string& mentions, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_NE(r.exit_code, 0) << "stderr: " << r.err;
  EXPECT_LT(r.exit_code, 128) << "crashed (signal " << r.exit_code - 128 << "); stderr: " << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << "stderr:\n" << r.err;
  EXPECT_EQ(lines[0].rfind("tern: error:", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(mentions), std::string::npos) << "expected '" << mentions << "' in: " << lines[0];
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// ---- acceptance: generation ----

TEST(Cli, GreedyRunMatchesLlama2cReference) {
  TERN_REQUIRE_SHARED(model, kModel);
  const auto r = run_tern("run -m " + quote(model.string()) + " -p 'Once upon a time' -n 40 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(kReferenceGreedy, 0), 0u) << "stdout: " << r.out;
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(r.out.find("tokens/s"), std::string::npos) << "timings belong on stderr";
}

TEST(Cli, SameSeedSameTextDifferentSeedDifferentText) {
  TERN_REQUIRE_SHARED(model, kModel);
  const std::string base = "run -m " + quote(model.string()) + " -p 'Once upon a time' -n 40 --temp 0.8 --seed ";
  const auto a = run_tern(base + "1234");
  const auto b = run_tern(base + "1234");
  const auto c = run_tern(base + "98765");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_GT(a.out.size(), std::string("Once upon a time").size());
}

TEST(Cli, PromptFromStandardInput) {
  TERN_REQUIRE_SHARED(model, kModel);
  // run_command pipes /dev/null as stdin; the pipe inside sh -c wins over it.
  const auto r = run_command("sh -c " + quote("printf 'Once upon a time' | " +
                                              tern("run -m " + quote(model.string()) + " -p - -n 40 --temp 0")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(kReferenceGreedy, 0), 0u) << "stdout: " << r.out;
}

TEST(Cli, PromptFromFile) {
  TERN_REQUIRE_SHARED(model, kModel);
  TempDir dir;
  write_bytes(dir / "prompt.txt", "Once upon a time");
  const auto r =
      run_tern("run -m " + quote(model.string()) + " -f " + quote((dir / "prompt.txt").string()) + " -n 40 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(kReferenceGreedy, 0), 0u) << "stdout: " << r.out;
}

TEST(Cli, InteractiveTwoTurnsThenEofExitsCleanly) {
  TERN_REQUIRE_SHARED(model, kModel);
  const auto r = run_command("sh -c " + quote("printf 'Once upon a time\\nThe dog\\n' | " +
                                              tern("run -i -m " + quote(model.string()) + " -n 20 --temp 0")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  // Each reply ends with a newline: two turns, two replies; EOF then ends the loop.
  size_t newlines = 0;
  for (char ch : r.out) newlines += ch == '\n';
  EXPECT_GE(newlines, 2u) << "stdout: " << r.out;
  // One "> " prompt per line read, plus the one that met EOF.
  size_t prompts = 0;
  for (size_t pos = r.err.find("> "); pos != std::string::npos; pos = r.err.find("> ", pos + 2)) ++prompts;
  EXPECT_EQ(prompts, 3u) << "stderr: " << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << "stderr: " << r.err;
}

TEST(Cli, InteractiveWithImmediateEofExitsZero) {
  TERN_REQUIRE_SHARED(model, kModel);
  const auto r = run_tern("run -i -m " + quote(model.string()) + " -n 5 --temp 0");  // stdin: /dev/null
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << "stderr: " << r.err;
}

// ---- acceptance: info and tokenize ----

TEST(Cli, InfoDescribesStories260K) {
  TERN_REQUIRE_SHARED(model, kModel);
  const auto r = run_tern("info -m " + quote(model.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  auto line_starting = [&](const std::string& prefix) -> std::string {
    for (const auto& l : lines)
      if (l.rfind(prefix, 0) == 0) return l;
    ADD_FAILURE() << "no line starting with '" << prefix << "' in:\n" << r.out;
    return {};
  };
  EXPECT_NE(line_starting("architecture").find("llama"), std::string::npos);
  EXPECT_NE(line_starting("layers").find(" 5 "), std::string::npos) << line_starting("layers");
  EXPECT_NE(line_starting("width").find("dim 64"), std::string::npos);
  EXPECT_NE(line_starting("width").find("ffn 172"), std::string::npos);
  EXPECT_NE(line_starting("width").find("heads 8 / 4 KV"), std::string::npos);
  // Every tensor of stories260K is F32: 292,800 weights (dim 64, ffn 172, 5 layers,
  // vocab 512, tied embeddings).
  const std::string f32 = line_starting("F32");
  EXPECT_NE(f32.find("292800"), std::string::npos) << f32;
  EXPECT_NE(line_starting("tokenizer").find("512 tokens"), std::string::npos);
}

TEST(Cli, TokenizeGivesSentencePieceIds) {
  TERN_REQUIRE_SHARED(model, kModel);
  const auto r = run_tern("tokenize -m " + quote(model.string()) + " -p 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");

  const auto pieces = run_tern("tokenize -m " + quote(model.string()) + " -p 'Once upon a time' --pieces");
  ASSERT_EQ(pieces.exit_code, 0) << pieces.err;
  EXPECT_NE(pieces.out.find("\xE2\x96\x81Once"), std::string::npos) << pieces.out;  // "▁Once"
  EXPECT_EQ(lines_of(pieces.out).size(), 5u) << pieces.out;

  const auto no_bos = run_tern("tokenize -m " + quote(model.string()) + " -p 'Once upon a time' --no-bos");
  ASSERT_EQ(no_bos.exit_code, 0) << no_bos.err;
  EXPECT_EQ(no_bos.out, "403 407 261 378\n");
}

// ---- bad input: one line, non-zero, no crash ----

TEST(Cli, MissingModelFile) {
  TempDir dir;
  const std::string missing = (dir / "nope.gguf").string();
  expect_one_line_error(run_tern("run -m " + quote(missing) + " -p hi"), "nope.gguf", "run");
  expect_one_line_error(run_tern("info -m " + quote(missing)), "nope.gguf", "info");
  expect_one_line_error(run_tern("tokenize -m " + quote(missing) + " -p hi"), "nope.gguf", "tokenize");
}

TEST(Cli, EmptyModelFile) {
  TempDir dir;
  write_bytes(dir / "empty.gguf", "");
  const std::string path = quote((dir / "empty.gguf").string());
  expect_one_line_error(run_tern("run -m " + path + " -p hi"), "empty.gguf", "run");
  expect_one_line_error(run_tern("info -m " + path), "empty.gguf", "info");
  expect_one_line_error(run_tern("tokenize -m " + path + " -p hi"), "empty.gguf", "tokenize");
}

TEST(Cli, DirectoryAsModel) {
  TempDir dir;
  std::filesystem::create_directories(dir / "model.gguf");
  const std::string path = quote((dir / "model.gguf").string());
  expect_one_line_error(run_tern("run -m " + path + " -p hi"), "directory", "run");
  expect_one_line_error(run_tern("info -m " + path), "directory", "info");
  expect_one_line_error(run_tern("tokenize -m " + path + " -p hi"), "directory", "tokenize");
}

TEST(Cli, RandomBytesAreNotGguf) {
  TempDir dir;
  std::mt19937 rng(7);
  std::string bytes(4096, '\0');
  for (char& b : bytes) b = static_cast<char>(rng() & 0xFF);
  bytes[0] = 'X';  // never the GGUF magic by chance
  write_bytes(dir / "random.gguf", bytes);
  const std::string path = quote((dir / "random.gguf").string());
  expect_one_line_error(run_tern("run -m " + path + " -p hi"), "GGUF", "run");
  expect_one_line_error(run_tern("info -m " + path), "GGUF", "info");
  expect_one_line_error(run_tern("tokenize -m " + path + " -p hi"), "GGUF", "tokenize");
}

TEST(Cli, TruncatedGgufFails) {
  TERN_REQUIRE_SHARED(model, kModel);
  TempDir dir;
  std::ifstream in(model, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(bytes.size() / 2);  // tensor data cut off
  write_bytes(dir / "half.gguf", bytes);
  const std::string path = quote((dir / "half.gguf").string());
  expect_one_line_error(run_tern("info -m " + path), "half.gguf", "info");
  expect_one_line_error(run_tern("run -m " + path + " -p hi"), "half.gguf", "run");
}

TEST(Cli, UnsupportedArchitecture) {
  TempDir dir;
  GgufWriter writer;
  writer.set("general.architecture", GgufValue::string("gpt2"));
  writer.set("general.name", GgufValue::string("not-a-llama"));
  writer.add_tensor("token_embd.weight", TensorType::F32, {4, 2}, std::vector<uint8_t>(4 * 2 * sizeof(float), 0));
  writer.write(dir / "gpt2.gguf");
  const std::string path = quote((dir / "gpt2.gguf").string());
  expect_one_line_error(run_tern("run -m " + path + " -p hi"), "gpt2", "run");
  expect_one_line_error(run_tern("info -m " + path), "gpt2", "info");
  expect_one_line_error(run_tern("tokenize -m " + path + " -p hi"), "gpt2", "tokenize");
}

TEST(Cli, PromptLongerThanContext) {
  TERN_REQUIRE_SHARED(model, kModel);
  const std::string prompt = "'Once upon a time there was a little girl named Lily who liked to play'";
  const auto r = run_tern("run -m " + quote(model.string()) + " -c 8 -n 4 --temp 0 -p " + prompt);
  expect_one_line_error(r, "context", "-c 8");
}

TEST(Cli, NegativeTokenCount) {
  TERN_REQUIRE_SHARED(model, kModel);
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -p hi -n -5"), "-5", "-n -5");
}

TEST(Cli, TopPOutOfRange) {
  TERN_REQUIRE_SHARED(model, kModel);
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -p hi --top-p 1.5"), "top-p", "--top-p 1.5");
}

TEST(Cli, NegativeTemperature) {
  TERN_REQUIRE_SHARED(model, kModel);
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -p hi --temp -1"), "temp", "--temp -1");
}

TEST(Cli, UnknownKvType) {
  TERN_REQUIRE_SHARED(model, kModel);
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -p hi --kv-type q4"), "kv-type", "--kv-type q4");
}

TEST(Cli, UnknownFlag) {
  TERN_REQUIRE_SHARED(model, kModel);
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -p hi --bogus"), "--bogus", "--bogus");
}

TEST(Cli, PromptFileIsADirectory) {
  TERN_REQUIRE_SHARED(model, kModel);
  TempDir dir;
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -f " + quote(dir.path().string())), "directory",
                        "-f DIR");
}

TEST(Cli, MissingPromptFile) {
  TERN_REQUIRE_SHARED(model, kModel);
  TempDir dir;
  expect_one_line_error(run_tern("run -m " + quote(model.string()) + " -f " + quote((dir / "none.txt").string())),
                        "none.txt", "-f missing");
}

TEST(Cli, MissingSubcommand) {
  expect_one_line_error(run_tern(""), "subcommand", "no arguments");
  expect_one_line_error(run_tern("-p hi"), "", "flag without a subcommand");
}

// CLI11 reports an unknown word in the subcommand position as "A subcommand is
// required" rather than naming the word; accept either.
TEST(Cli, UnknownSubcommand) {
  const auto r = run_tern("frobnicate");
  expect_one_line_error(r, "tern: error:", "unknown subcommand");
  EXPECT_TRUE(r.err.find("frobnicate") != std::string::npos || r.err.find("subcommand") != std::string::npos) << r.err;
}

TEST(Cli, InteractiveExcludesPrompt) {
  TERN_REQUIRE_SHARED(model, kModel);
  expect_one_line_error(run_tern("run -i -m " + quote(model.string()) + " -p hi"), "-i", "-i with -p");
}

TEST(Cli, HelpExitsZero) {
  const auto r = run_tern("--help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("run"), std::string::npos);
}

}  // namespace
}  // namespace tern::testing
