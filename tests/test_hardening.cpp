// Malformed and hostile input (issue 15): every file in ../shared/fuzz-repros, run with
// the command its README gives, ends in exactly one "tern: error:" line and exit code 1
// within 5 s under a 2 GB address-space limit; plus the defects that need no file
// (metadata amplification, huge prompts, float-to-int casts, NaN weights, temp files).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert/safetensors_reader.h"
#include "io/atomic_file.h"
#include "io/json_number.h"
#include "shared_data.h"
#include "tern/batch.h"
#include "tern/error.h"
#include "test_support.h"

namespace tern::testing {
namespace {

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// ASan reserves terabytes of address space for its shadow, so a sanitized build runs
// without the limit (ASan itself reports oversized allocations) and with more time.
constexpr int kAddressSpaceKiB = 2 * 1024 * 1024;
constexpr int kSeconds = kSanitized ? 30 : 5;

std::string quote(const fs::path& p) { return shell_quote(p.string()); }

struct Limited {
  CommandResult result;
  double seconds = 0;
};

// Runs `tern ARGS` through sh with the address-space and time limits.
Limited run_limited(const std::string& args, const std::string& stdin_file = "/dev/null") {
  std::string script = kSanitized ? "" : "ulimit -v " + std::to_string(kAddressSpaceKiB) + "; ";
  script += "exec timeout -s KILL " + std::to_string(kSeconds + 1) + " " + shell_quote(tern_cli()) + " " + args + " <" +
            shell_quote(stdin_file);
  const auto start = std::chrono::steady_clock::now();
  Limited r;
  // run_command adds </dev/null after the script; the inner redirection wins for tern.
  r.result = run_command("sh -c " + shell_quote(script));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

int count_error_lines(const std::string& err) {
  int n = 0;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) n += line.rfind("tern: error:", 0) == 0 ? 1 : 0;
  return n;
}

void expect_clean_failure(const Limited& r, const std::string& mentions) {
  EXPECT_EQ(r.result.exit_code, 1) << "stderr:\n" << r.result.err;
  EXPECT_EQ(count_error_lines(r.result.err), 1) << "stderr:\n" << r.result.err;
  EXPECT_NE(r.result.err.find(mentions), std::string::npos) << "expected '" << mentions << "' in:\n" << r.result.err;
  EXPECT_LT(r.seconds, kSeconds) << "stderr:\n" << r.result.err;
}

fs::path repro(const std::string& name) { return shared_dir() / "fuzz-repros" / name; }

#define TERN_REQUIRE_REPROS()                                           \
  if (!fs::exists(repro("README.md"))) {                                \
    if (running_in_ci()) FAIL() << "CI=true but missing " << repro(""); \
    GTEST_SKIP() << "shared fuzz repros not found";                     \
  }

// ---- the repro inputs, with the README's commands ----

struct ConvertRepro {
  const char* name;
  const char* extra_args;
  const char* mentions;
};

class HfRepro : public ::testing::TestWithParam<ConvertRepro> {};

TEST_P(HfRepro, EndsInOneCleanError) {
  TERN_REQUIRE_REPROS();
  const auto& c = GetParam();
  TempDir out;
  const auto r = run_limited("convert " + quote(repro(c.name)) + " -o " + quote(out / "x.gguf") + " " + c.extra_args);
  expect_clean_failure(r, c.mentions);
  EXPECT_TRUE(fs::is_empty(out.path())) << "left a file behind";
}

INSTANTIATE_TEST_SUITE_P(FuzzRepros, HfRepro,
                         ::testing::Values(ConvertRepro{"hf-permute-overflow-dir", "", "shape"},
                                           ConvertRepro{"hf-repeat-dir", "--to llama", "layer_sharing_repeat"},
                                           ConvertRepro{"hf-repeat-dir", "", "layer_sharing_repeat"},
                                           ConvertRepro{"hf-config-repeat-float-dir", "", "1e+20"},
                                           ConvertRepro{"hf-tokjson-id-float-dir", "", "1e+20"}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.name) + (info.param.extra_args[0] ? "_to_llama" : "");
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(FuzzRepros, Bitllama2cWithTokenizer) {
  TERN_REQUIRE_REPROS();
  TERN_REQUIRE_SHARED(tok, "models/tok512.model");
  for (const char* name : {"bitllama2c-4gib-alloc.bin", "bitllama2c-huge-alloc.bin"}) {
    SCOPED_TRACE(name);
    TempDir out;
    const auto r =
        run_limited("convert " + quote(repro(name)) + " --tokenizer " + quote(tok) + " -o " + quote(out / "x.gguf"));
    expect_clean_failure(r, "truncated");
  }
}

TEST(FuzzRepros, GgufBlockRepeat) {
  TERN_REQUIRE_REPROS();
  const auto r = run_limited("run -m " + quote(repro("gguf-block-repeat-16M.gguf")) + " -p hi -n 2");
  expect_clean_failure(r, "mobilellm.block_repeat");
}

TEST(FuzzRepros, BatchFloatCastsAreErrorRecords) {
  TERN_REQUIRE_REPROS();
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  TempDir out;
  const auto r = run_limited("batch -q -m " + quote(model) + " -i " + quote(repro("batch-float-cast.jsonl")) + " -o " +
                             quote(out / "out.jsonl"));
  expect_clean_failure(r, "1 of 1 prompts failed");
  std::ifstream in(out / "out.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto record = nlohmann::json::parse(line);
  EXPECT_EQ(record.at("id"), 1);
  EXPECT_NE(record.at("error").get<std::string>().find("n_predict"), std::string::npos) << line;
}

// A folder with a valid config.json and tokenizer.json from the repros and the given
// file as model.safetensors.
void make_hf_folder(const fs::path& dir, const fs::path& safetensors) {
  fs::create_directories(dir);
  fs::copy_file(repro("hf-tokjson-id-float-dir/config.json"), dir / "config.json");
  fs::copy_file(repro("hf-permute-overflow-dir/tokenizer.json"), dir / "tokenizer.json");
  fs::copy_file(safetensors, dir / "model.safetensors");
  fs::permissions(dir / "model.safetensors", fs::perms::owner_write, fs::perm_options::add);
}

TEST(FuzzRepros, SafetensorsInAnHfFolder) {
  TERN_REQUIRE_REPROS();
  const std::pair<const char*, const char*> cases[] = {
      {"st/safetensors-shape-wrap.safetensors", "overflows"},
      {"st/safetensors-shape-wrap2.safetensors", "overflows"},
      {"st/safetensors-empty-tensor-memcpy-null.crash", "error"},
  };
  for (const auto& [name, mentions] : cases) {
    SCOPED_TRACE(name);
    TempDir dir;
    make_hf_folder(dir / "hf", repro(name));
    const auto r = run_limited("convert " + quote(dir / "hf") + " -o " + quote(dir / "x.gguf"));
    expect_clean_failure(r, mentions);
  }
}

// ---- defects with no file in the repros ----

// A GGUF whose only metadata is a u8 array of n bytes: about 48 bytes of memory per
// element if parsed naively.
void write_gguf_with_u8_array(const fs::path& path, uint64_t n) {
  std::ofstream out(path, std::ios::binary);
  auto put = [&](auto v) { out.write(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(uint32_t{0x46554747});
  put(uint32_t{3});
  put(uint64_t{0});  // tensors
  put(uint64_t{1});  // key/values
  const std::string key = "big";
  put(uint64_t{key.size()});
  out << key;
  put(uint32_t{9});  // array
  put(uint32_t{0});  // of u8
  put(n);
  const std::vector<char> zeros(1 << 20, 1);
  for (uint64_t done = 0; done < n; done += zeros.size())
    out.write(zeros.data(), static_cast<std::streamsize>(std::min<uint64_t>(zeros.size(), n - done)));
}

TEST(Hardening, GgufMetadataArrayIsBoundedByTheFileSize) {
  TempDir dir;
  write_gguf_with_u8_array(dir / "big.gguf", uint64_t{32} << 20);
  const auto r = run_limited("info -m " + quote(dir / "big.gguf"));
  expect_clean_failure(r, "key 'big': metadata would take more than");
}

TEST(Hardening, HugePromptIsRefusedBeforeTokenizing) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  TempDir dir;
  const std::string prompt(10 << 20, 'a');
  std::ofstream(dir / "in.txt") << prompt << "\n";
  // tern run -f: one clean error, before the 10 MB are tokenized.
  expect_clean_failure(run_limited("run -c 64 -n 1 -m " + quote(model) + " -f " + quote(dir / "in.txt")),
                       "but only 64 tokens of context remain");
  // tern run -i: the same text as one line typed in (the prompt "> " precedes the error).
  const auto r = run_limited("run -i -c 64 -n 1 -m " + quote(model), (dir / "in.txt").string());
  EXPECT_NE(r.result.err.find("tern: error: prompt is 1048576"), std::string::npos) << r.result.err;
  EXPECT_LT(r.seconds, kSeconds);
  // tern batch --text: the same line is one request that fails with an error record.
  const auto b = run_limited("batch -q --text -c 64 -m " + quote(model) + " -i " + quote(dir / "in.txt") + " -o " +
                             quote(dir / "out.jsonl"));
  expect_clean_failure(b, "1 of 1 prompts failed");
  std::ifstream in(dir / "out.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("only 64 tokens of context remain"), std::string::npos) << line;
}

TEST(Hardening, BatchRefusesItsInputAsOutput) {
  TERN_REQUIRE_SHARED(model, "models/stories260K.gguf");
  TempDir dir;
  const std::string prompts = "{\"prompt\": \"Once\"}\n";
  std::ofstream(dir / "in.jsonl") << prompts;
  fs::create_symlink(dir / "in.jsonl", dir / "link.jsonl");
  // Same file by another spelling and through a link: compared by identity, not name.
  for (const fs::path& out : {dir / "." / "in.jsonl", dir / "link.jsonl"}) {
    SCOPED_TRACE(out.string());
    const auto r = run_limited("batch -q -m " + quote(model) + " -i " + quote(dir / "in.jsonl") + " -o " + quote(out));
    expect_clean_failure(r, "is the input file");
  }
  std::ifstream in(dir / "in.jsonl");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), prompts);
}

TEST(Hardening, ConvertToAnExistingDirectoryIsACleanError) {
  TERN_REQUIRE_SHARED(bin, "models/bitllama2c-1M.bin");
  TERN_REQUIRE_SHARED(tok, "models/tok512.model");
  TempDir dir;
  fs::create_directories(dir / "out.gguf");
  const auto r = run_limited("convert " + quote(bin) + " --tokenizer " + quote(tok) + " -o " + quote(dir / "out.gguf"));
  expect_clean_failure(r, "is a directory");
  EXPECT_TRUE(fs::is_empty(dir / "out.gguf"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1) << "a temp file was left";
}

// An HF folder from tools/reference/hf_fixture.py (config.json, model.safetensors, tokenizer).
void make_fixture(const fs::path& dir, const std::string& kind) {
  const auto made = run_command(shell_quote(python()) + " " + shell_quote(reference_tool("hf_fixture.py")) +
                                " --kind " + kind + " --out " + quote(dir));
  ASSERT_EQ(made.exit_code, 0) << made.err;
}

TEST(Hardening, NanWeightIsRefusedByName) {
  TempDir dir;
  const auto src = dir / "hf";
  ASSERT_NO_FATAL_FAILURE(make_fixture(src, "llama"));
  // Overwrite the first value of layer 1's k_proj with a float NaN.
  std::fstream f(src / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  const auto info = nlohmann::json::parse(header).at("model.layers.1.self_attn.k_proj.weight");
  ASSERT_EQ(info.at("dtype"), "F32");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  f.seekp(static_cast<std::streamoff>(8 + header_len + info.at("data_offsets")[0].get<uint64_t>()));
  f.write(reinterpret_cast<const char*>(&nan), 4);
  f.close();
  const auto r = run_limited("convert " + quote(src) + " -o " + quote(dir / "x.gguf"));
  expect_clean_failure(r, "tensor 'model.layers.1.self_attn.k_proj.weight' holds nan at element 0");
}

TEST(Hardening, HfRepeatAboveTheLoadersMaximumIsRefused) {
  TempDir dir;
  const auto src = dir / "hf";
  ASSERT_NO_FATAL_FAILURE(make_fixture(src, "mobilellm"));
  std::ifstream in(src / "config.json");
  auto config = nlohmann::json::parse(in);
  in.close();
  config["layer_sharing"] = true;
  config["layer_sharing_repeat"] = 17;  // kMaxBlockRepeat + 1
  std::ofstream(src / "config.json") << config.dump();
  const auto r = run_limited("convert " + quote(src) + " -o " + quote(dir / "x.gguf"));
  expect_clean_failure(r, "expected an integer in [1, 16]");
}

// ---- library level ----

TEST(SafetensorsTest, EmptyTensorReadsAsNoValues) {
  TERN_REQUIRE_REPROS();
  // Under TERN_SANITIZE this is where memcpy(nullptr, p, 0) was reported.
  const auto file = SafetensorsFile::open(repro("st/safetensors-empty-tensor-memcpy-null.crash"));
  ASSERT_NE(file.find("e"), nullptr);
  EXPECT_TRUE(file.find("e")->to_floats(file.name()).empty());
}

TEST(SafetensorsTest, ShapeOverflowIsRefused) {
  TERN_REQUIRE_REPROS();
  for (const char* name : {"st/safetensors-shape-wrap.safetensors", "st/safetensors-shape-wrap2.safetensors"}) {
    try {
      SafetensorsFile::open(repro(name));
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("overflows 64 bits"), std::string::npos) << e.what();
    }
  }
}

TEST(JsonNumber, OnlyExactIntegersInRange) {
  using nlohmann::json;
  EXPECT_EQ(exact_integer(json(2), 0, 10), 2);
  EXPECT_EQ(exact_integer(json(2.0), 0, 10), 2);
  EXPECT_EQ(exact_integer(json(2.5), 0, 10), std::nullopt);
  EXPECT_EQ(exact_integer(json(1e20), INT64_MIN, INT64_MAX), std::nullopt);
  EXPECT_EQ(exact_integer(json(9223372036854775808.0), INT64_MIN, INT64_MAX), std::nullopt);  // 2^63
  EXPECT_EQ(exact_integer(json(-9223372036854775808.0), INT64_MIN, INT64_MAX), INT64_MIN);
  EXPECT_EQ(exact_integer(json(uint64_t{1} << 63), INT64_MIN, INT64_MAX), std::nullopt);
  EXPECT_EQ(exact_integer(json(-1), 0, 10), std::nullopt);
  EXPECT_EQ(exact_integer(json("2"), 0, 10), std::nullopt);
  EXPECT_EQ(exact_unsigned(json(UINT64_MAX), UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(exact_unsigned(json(-5.5e30), UINT64_MAX), std::nullopt);
  EXPECT_EQ(exact_unsigned(json(18446744073709551616.0), UINT64_MAX), std::nullopt);  // 2^64
  EXPECT_EQ(exact_unsigned(json(-1), UINT64_MAX), std::nullopt);
  EXPECT_THROW(require_float(json(1e300), "x"), Error);
  EXPECT_EQ(require_float(json(0.5), "x"), 0.5f);
}

TEST(BatchLine, IntegersMustBeExactAndInRange) {
  BatchDefaults defaults;
  std::string id;  // JSON text
  auto error_of = [&](const std::string& line) {
    try {
      parse_batch_line(line, 7, defaults, id);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"({"prompt":"x","n_predict":1e20})").find("line 7: \"n_predict\" is 1e+20"), std::string::npos);
  EXPECT_NE(error_of(R"({"prompt":"x","top_k":-3e12})").find("\"top_k\""), std::string::npos);
  EXPECT_NE(error_of(R"({"prompt":"x","seed":-5.5e30})").find("\"seed\""), std::string::npos);
  EXPECT_NE(error_of(R"({"prompt":"x","seed":1.5})").find("\"seed\""), std::string::npos);
  EXPECT_NE(error_of(R"({"prompt":"x","temperature":1e300})").find("\"temperature\""), std::string::npos);
  EXPECT_NE(error_of(R"({"prompt":"x","stop":[1]})").find("\"stop\""), std::string::npos);
  EXPECT_NE(error_of(R"({"id":"a","prompt":"x","n_predict":-2})").find("n_predict"), std::string::npos);
  EXPECT_EQ(id, "\"a\"");  // set before the error, so the error record carries it
  const auto r =
      parse_batch_line(R"({"prompt":"x","n_predict":5.0,"seed":18446744073709551615,"top_k":-1})", 1, defaults, id);
  EXPECT_EQ(r.generation.n_predict, 5);
  EXPECT_EQ(r.sampling.seed, UINT64_MAX);
  EXPECT_EQ(r.sampling.top_k, -1);
  EXPECT_EQ(id, "1");
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

TEST(AtomicFileTest, ReplacesASymlinkNotItsTarget) {
  TempDir dir;
  std::ofstream(dir / "victim") << "keep";
  fs::create_symlink(dir / "victim", dir / "out.gguf");
  {
    AtomicFile f(dir / "out.gguf");
    f.write("new", 3);
    f.commit();
  }
  std::ifstream victim(dir / "victim");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(victim), {}), "keep");
  EXPECT_FALSE(fs::is_symlink(dir / "out.gguf"));
  std::ifstream out(dir / "out.gguf");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(out), {}), "new");
  EXPECT_EQ(names_in(dir.path()).size(), 2u);
}

TEST(AtomicFileTest, TempNamesAreUniqueAndRemovedWithoutCommit) {
  TempDir dir;
  {
    AtomicFile a(dir / "out.gguf");
    AtomicFile b(dir / "out.gguf");
    EXPECT_NE(a.temp_path(), b.temp_path());
    EXPECT_EQ(names_in(dir.path()).size(), 2u);
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(AtomicFileTest, SigtermRemovesTheTempFile) {
  for (int sig : {SIGTERM, SIGINT}) {
    TempDir dir;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      AtomicFile f(dir / "out.gguf");
      f.write("partial", 7);
      ::raise(sig);
      ::_exit(0);  // not reached: the handler re-raises with the default action
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_TRUE(fs::is_empty(dir.path())) << names_in(dir.path()).size() << " files left";
  }
}

}  // namespace
}  // namespace tern::testing
