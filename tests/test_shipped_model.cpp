// The model shipped in models/ against the figures its training run recorded with the
// torch model (models/expected.json, shown in models/README.md): held-out perplexity
// within 1%, and greedy token ids identical. A wrong file or a numerics regression fails
// here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tern/model.h"
#include "tern/perplexity.h"
#include "test_support.h"

namespace tern {
namespace {

const std::filesystem::path kModels = std::filesystem::path(TERN_SOURCE_DIR) / "models";

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json expected() { return nlohmann::json::parse(read_text(kModels / "expected.json")); }

TEST(ShippedModel, HeldOutPerplexityMatchesTheTorchModel) {
  const auto rows = expected().at("perplexity");
  ASSERT_GE(rows.size(), 1u) << "models/expected.json has no perplexity figures";
  const Model model = Model::load(kModels / "tern-kjv.gguf");
  for (const auto& row : rows) {
    const auto file = row.at("file").get<std::string>();
    const auto tokens = model.tokenizer().encode(read_text(kModels / file), true);
    EXPECT_EQ(static_cast<int64_t>(tokens.size()), row.at("tokens").get<int64_t>()) << file;
    const auto r = compute_perplexity(model, tokens, row.at("context").get<int64_t>(), row.at("stride").get<int64_t>());
    const double recorded = row.at("perplexity").get<double>();
    EXPECT_NEAR(r.perplexity, recorded, row.at("tolerance_relative").get<double>() * recorded) << file;
  }
}

// Greedy ids after each recorded prompt, as the torch model chose them.
void expect_recorded_greedy_tokens(const std::filesystem::path& model_file, const std::string& isa, int threads) {
  const auto cases = expected().at("greedy").at("cases");
  ASSERT_GE(cases.size(), 3u) << "models/expected.json lists no greedy samples";
  LoadOptions options;
  options.isa = isa;
  options.threads = threads;
  const Model model = Model::load(model_file, options);
  for (const auto& c : cases) {
    const auto prompt = c.at("prompt").get<std::string>();
    const auto prompt_ids = c.at("prompt_ids").get<std::vector<int32_t>>();
    const auto generated_ids = c.at("generated_ids").get<std::vector<int32_t>>();
    EXPECT_EQ(model.tokenizer().encode(prompt, true), prompt_ids) << prompt;
    Context context(model, 128);
    auto logits = context.prefill(prompt_ids);
    std::vector<int32_t> generated;
    while (generated.size() < generated_ids.size()) {
      generated.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
      logits = context.decode(generated.back());
    }
    EXPECT_EQ(generated, generated_ids) << prompt << " (" << model_file.filename() << ", " << isa << ", " << threads
                                        << " threads)";
  }
}

// On every instruction set the CPU has, with 1 and 2 threads.
TEST(ShippedModel, GreedyTokensMatchTheTorchModel) {
  for (const std::string isa : {"scalar", "avx2", "avx512"}) {
    if (!testing::isa_supported_by_cpu(isa)) continue;
    for (const int threads : {1, 2}) expect_recorded_greedy_tokens(kModels / "tern-kjv.gguf", isa, threads);
  }
}

}  // namespace
}  // namespace tern
