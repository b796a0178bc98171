// Perplexity against the numpy reference (tools/reference/perplexity.py), same windows.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "model_files.h"
#include "tern/error.h"
#include "tern/perplexity.h"

namespace tern {
namespace {

using testing::TempDir;

TEST(Perplexity, MatchesNumpyReferenceOnSlidingWindows) {
  TempDir dir;
  const auto path = dir / "model.gguf";
  testing::make_random_model(path, "--seed 21 --repeat 2 --heads 4 --kv-heads 2 --ctx 64");
  std::mt19937 rng(4);
  std::vector<int32_t> tokens = {1};
  for (int i = 0; i < 70; ++i) tokens.push_back(static_cast<int32_t>(3 + rng() % 290));
  std::ostringstream csv;
  for (size_t i = 0; i < tokens.size(); ++i) csv << (i ? "," : "") << tokens[i];
  LoadOptions options;
  options.isa = "scalar";
  const Model model = Model::load(path, options);
  struct Case {
    int64_t context, stride;
    KvType kv_type;
  };
  for (auto [context, stride, kv_type] : {Case{16, 8, KvType::F32}, Case{16, 16, KvType::F32}, Case{24, 5, KvType::F32},
                                          Case{64, 32, KvType::F32}, Case{24, 5, KvType::F16}}) {
    SCOPED_TRACE(kv_type_name(kv_type));
    const auto r =
        testing::run_command(testing::python() + " " + testing::reference_tool("perplexity.py") + " " + path.string() +
                             " --tokens " + csv.str() + " -c " + std::to_string(context) + " --stride " +
                             std::to_string(stride) + (kv_type == KvType::F16 ? " --kv-f16" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    double expected = 0;
    int64_t expected_scored = 0;
    std::istringstream(r.out) >> expected >> expected_scored;
    const auto result = compute_perplexity(model, tokens, context, stride, kv_type);
    // Overlapping windows score every target once; back-to-back windows (stride = context)
    // cannot score each window's first token, which has no context inside its window.
    if (stride < context) {
      EXPECT_EQ(result.n_scored, static_cast<int64_t>(tokens.size()) - 1);
    }
    EXPECT_EQ(result.n_scored, expected_scored);
    EXPECT_NEAR(result.perplexity, expected, 1e-3 * expected) << "context " << context << " stride " << stride;
  }
}

TEST(Perplexity, RejectsBadWindows) {
  TempDir dir;
  const auto path = dir / "model.gguf";
  testing::make_random_model(path, "--seed 22");
  const Model model = Model::load(path);
  const std::vector<int32_t> tokens = {1, 5, 6, 7};
  EXPECT_THROW(compute_perplexity(model, tokens, 1, 1), Error);
  EXPECT_THROW(compute_perplexity(model, tokens, 8, 9), Error);
  EXPECT_THROW(compute_perplexity(model, std::vector<int32_t>{1}, 8, 4), Error);
}

}  // namespace
}  // namespace tern
