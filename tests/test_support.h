#pragma once
// Small helpers shared by the tests: temporary directories, running commands.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/tensor_type.h"
#include "kernels/cpu_features.h"
#include "kernels/float16.h"
#include "tern/model.h"

namespace tern::testing {

// The model shipped in models/ (what `tern run` uses without -m).
inline std::filesystem::path shipped_model_path() {
  return std::filesystem::path(TERN_SOURCE_DIR) / "models" / "tern-kjv.gguf";
}

// The shipped model, loaded once per test program (on two threads: tests run in parallel).
inline const Model& shipped_model() {
  static const Model model = [] {
    LoadOptions load;
    load.threads = 2;
    return Model::load(shipped_model_path(), load);
  }();
  return model;
}

// Whether this CPU runs the named kernel table ("scalar", "avx2", "neon", ...).
inline bool isa_supported_by_cpu(const std::string& name) {
  for (Isa isa : kAllIsas)
    if (isa_name(isa) == name) return isa_supported(isa, detect_cpu_features());
  return false;
}

// Rows of a K-quant type (or Q4_0) as random bytes, with each block's f16 scales (Q6_K:
// d at byte 208; Q4_K: d, dmin at bytes 0, 2; Q4_0: d at byte 0) set to small values:
// every packed field takes arbitrary values.
inline std::vector<uint8_t> random_k_quant_rows(TensorType type, int64_t n_in, int64_t n_rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(row_bytes(type, static_cast<uint64_t>(n_in)) * static_cast<uint64_t>(n_rows));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  const size_t block = traits(type).block_bytes;
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (size_t at = 0; at < bytes.size(); at += block)
    for (size_t field : type == TensorType::Q6_K   ? std::vector<size_t>{208}
                        : type == TensorType::Q4_K ? std::vector<size_t>{0, 2}
                                                   : std::vector<size_t>{0}) {
      const uint16_t h = f32_to_f16(scale(rng));
      bytes[at + field] = static_cast<uint8_t>(h & 0xff);
      bytes[at + field + 1] = static_cast<uint8_t>(h >> 8);
    }
  return bytes;
}

// A fresh directory under the build tree, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "tern";
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = std::filesystem::path(TERN_BINARY_DIR) / "test-tmp" / (name + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs a shell command line, capturing stdout and stderr separately.
inline CommandResult run_command(const std::string& command_line) {
  TempDir dir;
  const auto out = dir / "stdout";
  const auto err = dir / "stderr";
  const std::string full = command_line + " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Single-quotes a word for sh.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

inline std::string python() { return TERN_PYTHON; }
inline std::string reference_tool(const std::string& script) {
  return (std::filesystem::path(TERN_SOURCE_DIR) / "tools" / "reference" / script).string();
}
inline std::string tern_cli() { return TERN_CLI_PATH; }

// `tern ARGS` and `python3 tools/reference/SCRIPT ARGS` (ARGS already shell-quoted).
inline CommandResult run_tern_cli(const std::string& args) { return run_command(shell_quote(tern_cli()) + " " + args); }
inline CommandResult run_reference_script(const std::string& script, const std::string& args) {
  return run_command(shell_quote(python()) + " " + shell_quote(reference_tool(script)) + " " + args);
}

// Runs a Python script with tools/reference importable (as gguf) and json imported, in
// dir; returns its standard output.
inline std::string run_python_script(const std::string& script, const std::filesystem::path& dir) {
  std::string tools_dir;  // as a Python string literal
  for (char c : reference_tool("")) tools_dir += (c == '\\' || c == '\'') ? std::string("\\") + c : std::string(1, c);
  const auto file = dir / "script.py";
  std::ofstream(file) << "import sys\nsys.path.insert(0, '" << tools_dir << "')\nimport gguf\nimport json\n" << script;
  const auto r = run_command(python() + " " + file.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

inline std::vector<float> read_floats(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace tern::testing
