#pragma once
// Builders of model files for tests: random models from the independent Python
// generator, and C++-side rewrites of existing files.
#include <filesystem>
#include <string>

#include "test_support.h"

namespace tern::testing {

// Writes a random tiny mobilellm model with tools/reference/make_random_model.py.
inline void make_random_model(const std::filesystem::path& out, const std::string& options) {
  const auto r = run_command(python() + " " + reference_tool("make_random_model.py") + " --out " + out.string() + " " + options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// Logits [n_tokens, n_vocab] from the numpy reference forward pass.
inline std::vector<float> reference_logits(const std::filesystem::path& model, const std::string& tokens_csv,
                                           const std::filesystem::path& out) {
  const auto r = run_command(python() + " " + reference_tool("forward.py") + " " + model.string() + " --tokens " +
                             tokens_csv + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_floats(out);
}

}  // namespace tern::testing
