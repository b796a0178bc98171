// The model shipped in models/ against the figures its training run recorded with the
// torch model (models/README.md): held-out perplexity within 1%, and greedy token ids
// identical. A wrong file or a numerics regression fails here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "generation/perplexity.h"
#include "tern/model.h"
#include "test_support.h"

namespace tern {
namespace {

const std::filesystem::path kModels = std::filesystem::path(TERN_SOURCE_DIR) / "models";

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<int32_t> parse_ids(const std::string& csv) {
  std::vector<int32_t> ids;
  std::stringstream s(csv);
  std::string item;
  while (std::getline(s, item, ',')) ids.push_back(std::stoi(item));
  return ids;
}

// Rows of the README's greedy table: | `prompt` | prompt ids | generated ids | text |
struct GreedyCase {
  std::string prompt;
  std::vector<int32_t> prompt_ids, generated_ids;
};

std::vector<GreedyCase> recorded_greedy_cases() {
  std::vector<GreedyCase> cases;
  const std::regex row(R"(^\| `([^`]+)` \| ([0-9, ]+) \| ([0-9, ]+) \|)");
  std::istringstream lines(read_text(kModels / "README.md"));
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) cases.push_back({m[1], parse_ids(m[2]), parse_ids(m[3])});
  }
  return cases;
}

double recorded_excerpt_perplexity() {
  const std::regex row(R"(\| `models/heldout-excerpt.txt` \| [0-9,]+ \| \*\*([0-9.]+)\*\*)");
  std::smatch m;
  const std::string readme = read_text(kModels / "README.md");
  if (!std::regex_search(readme, m, row)) return 0;
  return std::stod(m[1]);
}

TEST(ShippedModel, HeldOutPerplexityMatchesTheTorchModel) {
  const double recorded = recorded_excerpt_perplexity();
  ASSERT_GT(recorded, 1.0) << "models/README.md has no perplexity row for heldout-excerpt.txt";
  const Model model = Model::load(kModels / "tern-kjv.gguf");
  const auto tokens = model.tokenizer().encode(read_text(kModels / "heldout-excerpt.txt"), true);
  const auto r = compute_perplexity(model, tokens, 256, 128);
  EXPECT_NEAR(r.perplexity, recorded, 0.01 * recorded);
}

// On every instruction set the CPU has, with 1 and 2 threads.
TEST(ShippedModel, GreedyTokensMatchTheTorchModel) {
  const auto cases = recorded_greedy_cases();
  ASSERT_GE(cases.size(), 3u) << "models/README.md lists no greedy samples";
  for (const std::string isa : {"scalar", "avx2", "avx512"}) {
    if (!testing::isa_supported_by_cpu(isa)) continue;
    for (const int threads : {1, 2}) {
      LoadOptions options;
      options.isa = isa;
      options.threads = threads;
      const Model model = Model::load(kModels / "tern-kjv.gguf", options);
      for (const auto& c : cases) {
        EXPECT_EQ(model.tokenizer().encode(c.prompt, true), c.prompt_ids) << c.prompt;
        Context context(model, 128);
        auto logits = context.prefill(c.prompt_ids);
        std::vector<int32_t> generated;
        while (generated.size() < c.generated_ids.size()) {
          generated.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
          logits = context.decode(generated.back());
        }
        EXPECT_EQ(generated, c.generated_ids) << c.prompt << " (" << isa << ", " << threads << " threads)";
      }
    }
  }
}

}  // namespace
}  // namespace tern
