// The tokenizer as stored in GGUF metadata (tokenizer.ggml.*, docs/FORMAT.md 3.3):
// llama.cpp's published vectors run against the vocab read from llama.cpp's own GGUF
// file, and a llama2.c model's embedded vocab agrees with its SentencePiece .model
// through libsentencepiece (an independent implementation).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "shared_data.h"
#include "tern/tokenizer.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer_vectors.h"

namespace tern::testing {
namespace {

TEST(GgufVocab, LlamaSpmGgufMatchesLlamaCppVectors) {
  TERN_REQUIRE_SHARED(gguf, "tokenizers/ggml-vocab-llama-spm.gguf");
  TERN_REQUIRE_SHARED(inp, "tokenizers/ggml-vocab-llama-spm.gguf.inp");
  TERN_REQUIRE_SHARED(out, "tokenizers/ggml-vocab-llama-spm.gguf.out");
  const GgufFile file = GgufFile::open(gguf);
  EXPECT_TRUE(file.tensors().empty());  // a vocab-only file
  const Vocab vocab = read_gguf_vocab(file);
  EXPECT_EQ(vocab.size(), 32000);
  EXPECT_EQ(vocab.bos_id, 1);
  EXPECT_EQ(vocab.eos_id, 2);
  EXPECT_EQ(vocab.unk_id, 0);
  EXPECT_TRUE(vocab.add_bos);
  EXPECT_FALSE(vocab.add_eos);
  EXPECT_EQ(vocab.pieces[3], "<0x00>");
  EXPECT_EQ(vocab.types[3], TokenType::Byte);
  EXPECT_EQ(vocab.types[0], TokenType::Unknown);
  const Tokenizer tokenizer(vocab);
  EXPECT_EQ(expect_llama_cpp_vectors(tokenizer, inp, out), 46u);
}

TEST(GgufVocab, LlamaSpmGgufEqualsLlama2SentencePieceModel) {
  // Same vocabulary, two containers: pieces, scores and types must agree exactly.
  TERN_REQUIRE_SHARED(gguf, "tokenizers/ggml-vocab-llama-spm.gguf");
  TERN_REQUIRE_SHARED(model, "tokenizers/llama2.model");
  const Vocab from_gguf = read_gguf_vocab(GgufFile::open(gguf));
  const Vocab from_spm = load_sentencepiece_vocab(model);
  ASSERT_EQ(from_gguf.size(), from_spm.size());
  EXPECT_EQ(from_gguf.pieces, from_spm.pieces);
  EXPECT_EQ(from_gguf.scores, from_spm.scores);
  EXPECT_EQ(from_gguf.types, from_spm.types);
}

TEST(GgufVocab, Stories260KEmbeddedVocabMatchesTok512ThroughSentencePiece) {
  TERN_REQUIRE_SHARED(gguf, "models/stories260K.gguf");
  TERN_REQUIRE_SHARED(model, "models/tok512.model");
  const GgufFile file = GgufFile::open(gguf);
  const Vocab vocab = read_gguf_vocab(file);
  ASSERT_EQ(vocab.size(), 512);
  // (u32)-1 in the file means "no padding token".
  EXPECT_EQ(vocab.pad_id, -1);
  const Tokenizer tokenizer(vocab);

  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(model.string()).ok());
  ASSERT_EQ(sp.GetPieceSize(), 512);
  // tok512 squeezes runs of spaces, which the GGUF file does not record (llama.cpp
  // has no such key), so these sentences use single spaces only.
  const std::vector<std::string> sentences = {
      "Once upon a time, there was a little girl named Lily.",
      "She liked to play outside in the sun with her big red ball.",
      "One day, Tom said: \"Can I have some cake?\" and Mom said yes!",
      "The end.",
      "hello",
      "Zebras & 42 quick foxes; caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\xa6\x99",
  };
  for (const auto& s : sentences) {
    std::vector<int> expected;
    ASSERT_TRUE(sp.Encode(s, &expected).ok());
    const std::vector<int32_t> expected32(expected.begin(), expected.end());
    EXPECT_EQ(tokenizer.encode(s, /*add_bos=*/false), expected32) << s;
    std::vector<int32_t> with_bos = {1};
    with_bos.insert(with_bos.end(), expected32.begin(), expected32.end());
    EXPECT_EQ(tokenizer.encode(s, /*add_bos=*/true), with_bos) << s;
    std::string decoded;
    ASSERT_TRUE(sp.Decode(expected, &decoded).ok());
    EXPECT_EQ(tokenizer.decode(expected32), decoded) << s;
  }
}

}  // namespace
}  // namespace tern::testing
