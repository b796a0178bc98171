#pragma once
// llama.cpp's published tokenizer test vectors (e.g. ggml-vocab-llama-spm.gguf.inp/.out),
// reusable by any test that loads the LLaMA SentencePiece vocab.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tern/tokenizer.h"

namespace tern::testing {

struct VocabTestCase {
  std::string text;
  std::vector<int32_t> ids;
};

namespace vocab_vectors_detail {
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace vocab_vectors_detail

// The .inp file is each case followed by "\n__ggml_vocab_test__\n" (how
// llama.cpp's generator writes it and its test-tokenizer-0 splits it): the
// newline before a separator belongs to the separator, not to the case. The
// .out file has one line of space-separated ids (no BOS) per case.
inline std::vector<VocabTestCase> read_vocab_test_cases(const std::filesystem::path& inp,
                                                        const std::filesystem::path& out) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  const std::string text = vocab_vectors_detail::read_file(inp);
  std::vector<VocabTestCase> cases;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t next = text.find(sep, pos);
    if (next == std::string::npos) {
      ADD_FAILURE() << inp << ": text after the last separator";
      break;
    }
    cases.push_back({text.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(vocab_vectors_detail::read_file(out));
  std::string line;
  std::size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    if (i >= cases.size()) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) cases[i].ids.push_back(id);
  }
  EXPECT_EQ(i, cases.size()) << out << " has a different number of cases than " << inp;
  return cases;
}

// Runs every case of a llama.cpp vocab test (e.g. ggml-vocab-llama-spm.gguf.inp
// /.out) through `tokenizer`, expecting exact ids. Returns the number of cases.
inline std::size_t expect_llama_cpp_vectors(const Tokenizer& tokenizer, const std::filesystem::path& inp,
                                            const std::filesystem::path& out) {
  const auto cases = read_vocab_test_cases(inp, out);
  for (const auto& c : cases)
    EXPECT_EQ(tokenizer.encode(c.text, /*add_bos=*/false), c.ids) << "text: '" << c.text << "'";
  return cases.size();
}

}  // namespace tern::testing
