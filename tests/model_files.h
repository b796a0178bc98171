#pragma once
// Builders of model files for tests: random models from the independent Python
// generator, and C++-side rewrites of existing files.
#include <filesystem>
#include <string>

#include "tern/model.h"
#include "test_support.h"

namespace tern::testing {

// Writes a random tiny mobilellm model with tools/reference/make_random_model.py.
inline void make_random_model(const std::filesystem::path& out, const std::string& options) {
  const auto r =
      run_command(python() + " " + reference_tool("make_random_model.py") + " --out " + out.string() + " " + options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// Logits [n_tokens, n_vocab] from the numpy reference forward pass.
inline std::vector<float> reference_logits(const std::filesystem::path& model, const std::string& tokens_csv,
                                           const std::filesystem::path& out, KvType kv_type = KvType::F32) {
  const auto r = run_command(python() + " " + reference_tool("forward.py") + " " + model.string() + " --tokens " +
                             tokens_csv + " --out " + out.string() + (kv_type == KvType::F16 ? " --kv-f16" : ""));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_floats(out);
}

// Logits of every position ([n_tokens, n_vocab]), one token per step, on the given
// kernels: "scalar" is the reference path, "" the best the CPU has.
inline std::vector<float> engine_logits(const std::filesystem::path& path, const std::vector<int32_t>& tokens,
                                        const std::string& isa, int threads = 1, KvType kv_type = KvType::F32) {
  LoadOptions options;
  options.isa = isa;
  options.threads = threads;
  const Model model = Model::load(path, options);
  Context context(model, 64, Context::kDefaultBatch, kv_type);
  std::vector<float> all;
  for (int32_t t : tokens) {
    const auto logits = context.decode(t);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

}  // namespace tern::testing
