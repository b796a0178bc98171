// Greedy text of the real models in ../shared on the kernels this CPU selects (TERN_ISA
// forces a table): the text each model's own reference implementation prints. Run once
// per instruction set level (scripts/test-arm64.sh runs it under qemu for NEON,
// dotprod and i8mm), so every table produces the reference text end to end, in process
// (no child processes: an emulated run cannot start another ARM64 program).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "convert/convert.h"
#include "kernels/cpu_features.h"
#include "reference_texts.h"
#include "shared_data.h"
#include "tern/generator.h"
#include "tern/model.h"
#include "test_support.h"

namespace tern {
namespace {

using testing::TempDir;

// prompt + its greedy continuation of n tokens (no repetition penalty, as the references).
std::string greedy_text(const Model& model, const std::string& prompt, int32_t n) {
  Context context(model, 256);
  SamplerParams sampling;
  sampling.temperature = 0.0f;
  sampling.repeat_penalty = 1.0f;
  Generator generator(context, sampling);
  GenerationParams params;
  params.n_predict = n;
  return prompt + generator.generate(prompt, params, [](std::string_view) { return true; }).text;
}

// The table TERN_ISA names, when it names one.
void expect_forced_isa(const Model& model) {
  const char* forced = std::getenv("TERN_ISA");
  if (forced != nullptr && *forced != '\0') {
    EXPECT_EQ(model.isa(), forced);
  }
}

TEST(SelectedIsa, Stories260KGreedyTextMatchesLlama2c) {
  TERN_REQUIRE_SHARED(path, "models/stories260K.gguf");
  const Model model = Model::load(path);
  expect_forced_isa(model);
  const std::string text = greedy_text(model, "Once upon a time", 24);
  const std::string want = std::string("Once upon a time") + testing::kReference260KContinuation;
  ASSERT_GE(text.size(), std::string("Once upon a time, there was a little girl named Lily.").size()) << text;
  EXPECT_EQ(want.rfind(text, 0), 0u) << model.isa() << ": '" << text << "'";
}

TEST(SelectedIsa, Bitllama2c3MGreedyTextMatchesItsReference) {
  TERN_REQUIRE_SHARED(bin, "models/bitllama2c-3M.bin");
  TERN_REQUIRE_SHARED(tok, "models/tok512.model");
  TempDir dir;
  ConvertOptions options;
  options.source = bin;
  options.tokenizer = tok;
  options.output = dir / "3M.gguf";
  convert_model(options);
  const Model model = Model::load(options.output);
  expect_forced_isa(model);
  const std::string empty = greedy_text(model, "", 60);
  EXPECT_EQ(empty.rfind(testing::kReference3MEmpty, 0), 0u) << model.isa() << ": " << empty;
  const std::string park = greedy_text(model, "Tom and Sue went to the park", 60);
  EXPECT_EQ(park.rfind(testing::kReference3MPark, 0), 0u) << model.isa() << ": " << park;
}

}  // namespace
}  // namespace tern
