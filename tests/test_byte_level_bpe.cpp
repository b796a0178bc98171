// Byte-level BPE (LLaMA-3, GPT-2, Falcon): llama.cpp's published vectors for
// each vocabulary, through tokenizer.json and vocab-only GGUF files; decode
// round trips; streaming output that never splits a character; special-token
// parsing; the Split behaviours as Hugging Face documents them.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/gguf_reader.h"
#include "shared_data.h"
#include "tern/error.h"
#include "tern/tokenizer.h"
#include "test_support.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex_split.h"
#include "tokenizer/utf8.h"
#include "tokenizer_vectors.h"

namespace tern::testing {
namespace {

// decode(encode(text)) == text, and streaming the ids one at a time gives the
// same text in pieces that are each valid UTF-8.
void expect_round_trips(const Tokenizer& tok, const std::vector<VocabTestCase>& cases) {
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text, false);
    EXPECT_EQ(tok.decode(ids), c.text);
    StreamDecoder stream(tok);
    std::string streamed;
    for (const int32_t id : ids) {
      const std::string part = stream.push(id);
      EXPECT_FALSE(utf8::first_invalid_offset(part).has_value()) << "token " << id << " of '" << c.text << "'";
      streamed += part;
    }
    streamed += stream.flush();
    EXPECT_EQ(streamed, c.text);
  }
}

void expect_vectors(const Tokenizer& tok, const std::filesystem::path& inp, const std::filesystem::path& out) {
  const std::size_t n = expect_llama_cpp_vectors(tok, inp, out);
  EXPECT_GT(n, 30u);
  expect_round_trips(tok, read_vocab_test_cases(inp, out));
}

// What `tern tokenize` prints for these ids: one line, space-separated. Appended piece by
// piece: GCC 12 gives a false -Wrestrict on "x" + string.
std::string tokenize_output(const std::vector<int32_t>& ids) {
  std::string line;
  for (const int32_t id : ids) {
    if (!line.empty()) line += ' ';
    line += std::to_string(id);
  }
  return line + "\n";
}

Tokenizer llama3_json_tokenizer() {
  return Tokenizer(load_byte_level_tokenizer_json(shared_dir() / "tokenizers/llama3/tokenizer.json"));
}

}  // namespace

TEST(ByteLevelBpe, Llama3TokenizerJsonMatchesLlamaBpeVectors) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  const Tokenizer tok = llama3_json_tokenizer();
  EXPECT_EQ(tok.n_vocab(), 128256);
  EXPECT_EQ(tok.bos(), 128000);  // <|begin_of_text|>, from the post-processor
  EXPECT_TRUE(tok.vocab().add_bos);
  EXPECT_EQ(tok.vocab().pre, "llama-bpe");
  expect_vectors(tok, shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.inp",
                 shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.out");
}

TEST(ByteLevelBpe, Llama3PresetFromGgufNameMatchesTheSameVectors) {
  // The same vocabulary with the pre-tokenizer llama.cpp uses for "llama-bpe"
  // instead of the file's own regex: what a converted GGUF reads back as.
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  Vocab v = load_byte_level_tokenizer_json(json);
  v.pre_tokenizer = *pre_tokenizer_for("llama-bpe");
  expect_vectors(Tokenizer(std::move(v)), shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.inp",
                 shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.out");
}

TEST(ByteLevelBpe, Gpt2GgufMatchesVectors) {
  TERN_REQUIRE_SHARED(gguf, "tokenizers/ggml-vocab-gpt-2.gguf");
  const Tokenizer tok(read_gguf_vocab(GgufFile::open(gguf)));
  EXPECT_EQ(tok.vocab().model, TokenizerModel::ByteLevelBpe);
  EXPECT_EQ(tok.n_vocab(), 50257);
  EXPECT_FALSE(tok.vocab().add_bos);
  expect_vectors(tok, shared_dir() / "tokenizers/ggml-vocab-gpt-2.gguf.inp",
                 shared_dir() / "tokenizers/ggml-vocab-gpt-2.gguf.out");
}

TEST(ByteLevelBpe, FalconGgufMatchesVectors) {
  TERN_REQUIRE_SHARED(gguf, "tokenizers/ggml-vocab-falcon.gguf");
  const Tokenizer tok(read_gguf_vocab(GgufFile::open(gguf)));
  EXPECT_EQ(tok.vocab().pre, "falcon");
  expect_vectors(tok, shared_dir() / "tokenizers/ggml-vocab-falcon.gguf.inp",
                 shared_dir() / "tokenizers/ggml-vocab-falcon.gguf.out");
}

TEST(ByteLevelBpe, SpecialTokenTextIsPlainUnlessAskedFor) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  const Tokenizer tok = llama3_json_tokenizer();
  const int32_t eot = tok.find_piece("<|eot_id|>");
  ASSERT_EQ(eot, 128009);  // LLaMA-3's published id
  const std::string text = "Hi<|eot_id|>there";
  const auto plain = tok.encode(text, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_EQ(tok.decode(plain), text);  // the characters, spelled out in ordinary pieces
  const auto parsed = tok.encode(text, false, /*parse_special=*/true);
  const auto hi = tok.encode("Hi", false), there = tok.encode("there", false);
  std::vector<int32_t> expected = hi;
  expected.push_back(eot);
  expected.insert(expected.end(), there.begin(), there.end());
  EXPECT_EQ(parsed, expected);
  EXPECT_EQ(tok.decode(parsed), "Hithere");  // control tokens decode to nothing
  EXPECT_EQ(tok.encode("", true), std::vector<int32_t>{128000});
}

TEST(ByteLevelBpe, StreamingHoldsACharacterSplitAcrossTokens) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  const Tokenizer tok = llama3_json_tokenizer();
  // Rare CJK and emoji: pieces that end inside a character exist for them.
  const std::string text = "\xF0\x9F\xA6\x99\xE9\xBE\x98\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xE4\xB8\x82";
  const auto ids = tok.encode(text, false);
  StreamDecoder stream(tok);
  std::string out;
  int partial_tokens = 0;  // tokens that, alone, are not whole characters
  for (const int32_t id : ids) {
    if (utf8::first_invalid_offset(tok.token_bytes(id))) ++partial_tokens;
    const std::string part = stream.push(id);
    EXPECT_FALSE(utf8::first_invalid_offset(part).has_value());
    out += part;
  }
  out += stream.flush();
  EXPECT_GT(partial_tokens, 0) << "the text should exercise split characters";
  EXPECT_EQ(out, text);
}

TEST(ByteLevel, MappingIsGpt2sAndReversible) {
  EXPECT_EQ(byte_level::encode(" "), "\xC4\xA0");   // 'Ġ'
  EXPECT_EQ(byte_level::encode("\n"), "\xC4\x8A");  // 'Ċ'
  EXPECT_EQ(byte_level::encode("a!~"), "a!~");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(byte_level::decode(byte_level::encode(all)), all);
  EXPECT_FALSE(byte_level::decode("<|eot_id|>\xE2\x96\x81").has_value());
}

TEST(SplitRegex, BehavioursAsHuggingFaceDocumentsThem) {
  // Hugging Face's SplitDelimiterBehavior examples: "the-final--countdown" on '-'.
  using B = PreTokenizeStep::Behavior;
  const SplitRegex dash("-");
  const auto split = [&](B behavior, bool invert = false) {
    std::vector<std::string_view> v;
    dash.split("the-final--countdown", behavior, invert, v);
    return std::vector<std::string>(v.begin(), v.end());
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split(B::Removed), (V{"the", "final", "countdown"}));
  EXPECT_EQ(split(B::Isolated), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(B::MergedWithPrevious), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(B::MergedWithNext), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(B::Contiguous), (V{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(split(B::Removed, /*invert=*/true), (V{"-", "-", "-"}));
}

TEST(SplitRegex, UnicodeClassesAndBadPatterns) {
  const SplitRegex words(R"(\p{L}+)");
  std::vector<std::string_view> v;
  words.split("Ελληνικά 42 日本", PreTokenizeStep::Behavior::Isolated, false, v);
  EXPECT_EQ((std::vector<std::string>(v.begin(), v.end())), (std::vector<std::string>{"Ελληνικά", " 42 ", "日本"}));
  EXPECT_THROW(SplitRegex("(unclosed"), Error);
}

TEST(ByteLevelBpe, NfcNormalizerComposesBeforeTokenizing) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  Vocab v = load_byte_level_tokenizer_json(json);
  const std::string decomposed = "cafe\xCC\x81 A\xCC\x8A", composed = "caf\xC3\xA9 \xC3\x85";  // e + U+0301, A + U+030A
  const Tokenizer plain(v);
  EXPECT_NE(plain.encode(decomposed, false), plain.encode(composed, false));
  v.normalize_nfc = true;
  const Tokenizer nfc(std::move(v));
  EXPECT_EQ(nfc.encode(decomposed, false), plain.encode(composed, false));
}

TEST(ByteLevelBpe, UnknownGgufPreTokenizerIsAnError) {
  EXPECT_FALSE(pre_tokenizer_for("no-such-pre").has_value());
  EXPECT_NE(known_pre_tokenizer_names().find("llama-bpe"), std::string::npos);
}

// The CLI gives the same ids for every vector, from each kind of file.
void expect_cli_vectors(const std::filesystem::path& tokenizer, const std::string& vectors) {
  TempDir dir;
  const auto cases = read_vocab_test_cases(shared_dir() / "tokenizers" / (vectors + ".inp"),
                                           shared_dir() / "tokenizers" / (vectors + ".out"));
  ASSERT_GT(cases.size(), 30u);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto text = dir / ("case" + std::to_string(i));
    std::ofstream(text, std::ios::binary) << cases[i].text;
    const auto r = run_command(shell_quote(tern_cli()) + " tokenize --no-bos -m " + shell_quote(tokenizer.string()) +
                               " -f " + shell_quote(text.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, tokenize_output(cases[i].ids)) << "text: '" << cases[i].text << "'";
  }
}

TEST(ByteLevelBpeCli, TokenizeMatchesVectorsFromJsonAndVocabGgufs) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  expect_cli_vectors(json, "ggml-vocab-llama-bpe.gguf");
  expect_cli_vectors(shared_dir() / "tokenizers/ggml-vocab-gpt-2.gguf", "ggml-vocab-gpt-2.gguf");
  expect_cli_vectors(shared_dir() / "tokenizers/ggml-vocab-falcon.gguf", "ggml-vocab-falcon.gguf");
}

TEST(ByteLevelBpeCli, PiecesAreOneALineAndSpecialIsOptIn) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  const std::string base = shell_quote(tern_cli()) + " tokenize -m " + shell_quote(json.string());
  const auto pieces = run_command(base + " --pieces -p " + shell_quote("a\n\tb<|eot_id|>"));
  ASSERT_EQ(pieces.exit_code, 0) << pieces.err;
  const auto plain = run_command(base + " --no-bos -p '<|eot_id|>'");
  const auto special = run_command(base + " --no-bos --special -p '<|eot_id|>'");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out, "128009\n");
  EXPECT_EQ(special.out, "128009\n");
  const auto lines = std::count(pieces.out.begin(), pieces.out.end(), '\n');
  const Tokenizer tok = llama3_json_tokenizer();
  EXPECT_EQ(lines, static_cast<long>(tok.encode("a\n\tb<|eot_id|>", true).size())) << pieces.out;
}

// ---- tern convert with a pre-tokenizer that no llama.cpp name stands for ----

namespace {

// tokenizer.json with its pre_tokenizer replaced, converted (in a tiny random model)
// to a GGUF; returns that GGUF's path in dir.
std::filesystem::path convert_with_pre_tokenizer(const TempDir& dir, const nlohmann::json& pre_tokenizer) {
  nlohmann::json j = nlohmann::json::parse(std::ifstream(shared_dir() / "tokenizers/llama3/tokenizer.json"));
  j["pre_tokenizer"] = pre_tokenizer;
  const auto json_path = dir / "tokenizer.json";
  std::ofstream(json_path) << j.dump();
  const auto fixture =
      run_reference_script("hf_fixture.py", "--kind mobilellm --out " + shell_quote((dir / "hf").string()) +
                                                " --tokenizer " + shell_quote(json_path.string()));
  EXPECT_EQ(fixture.exit_code, 0) << fixture.err;
  const auto gguf = dir / "m.gguf";
  const auto convert =
      run_tern_cli("convert " + shell_quote((dir / "hf").string()) + " -o " + shell_quote(gguf.string()));
  EXPECT_EQ(convert.exit_code, 0) << convert.err;
  return gguf;
}

nlohmann::json split_then_byte_level(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
}

}  // namespace

TEST(ByteLevelBpeConvert, UnnamedPreTokenizerIsKeptWholeAndMatchesTheVectors) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  TempDir dir;
  // LLaMA-3's regex with its (?i:...) spelled out: the same splits, but not the
  // text llama.cpp's converter names "llama-bpe", so it travels as tern-custom.
  const auto gguf = convert_with_pre_tokenizer(
      dir,
      split_then_byte_level(R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
                            R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"));
  const GgufFile file = GgufFile::open(gguf);
  EXPECT_EQ(file.get_string("tokenizer.ggml.pre"), "tern-custom");
  const Tokenizer tok(read_gguf_vocab(file));
  EXPECT_TRUE(tok.vocab().ignore_merges);
  expect_vectors(tok, shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.inp",
                 shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.out");
  // The CLI reads the same file the same way.
  const auto r = run_tern_cli("tokenize --no-bos -m " + shell_quote(gguf.string()) + " -p 'It costs 1234 dollars!'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, tokenize_output(tok.encode("It costs 1234 dollars!", false)));
}

TEST(ByteLevelBpeConvert, DigitsAndPunctuationStepsSurviveConversion) {
  TERN_REQUIRE_SHARED(json, "tokenizers/llama3/tokenizer.json");
  TempDir dir;
  nlohmann::json pre = split_then_byte_level(R"(\p{L}+|\s+|[^\s\p{L}]+)");
  pre["pretokenizers"].insert(pre["pretokenizers"].begin(), {{{"type", "Digits"}, {"individual_digits", true}},
                                                             {{"type", "Punctuation"}, {"behavior", "Contiguous"}}});
  const auto gguf = convert_with_pre_tokenizer(dir, pre);
  const Tokenizer converted(read_gguf_vocab(GgufFile::open(gguf)));
  const Tokenizer direct(load_byte_level_tokenizer_json(dir / "tokenizer.json"));
  const auto cases = read_vocab_test_cases(shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.inp",
                                           shared_dir() / "tokenizers/ggml-vocab-llama-bpe.gguf.out");
  for (const auto& c : cases) EXPECT_EQ(converted.encode(c.text, false), direct.encode(c.text, false)) << c.text;
  // The Digits step really is there: LLaMA-3 alone cuts 1234 as 123|4.
  EXPECT_EQ(converted.encode("1234", false).size(), 4u);
  EXPECT_EQ(llama3_json_tokenizer().encode("1234", false).size(), 2u);
}

TEST(ByteLevelBpeConvert, CustomNameWithoutItsStepsIsAnError) {
  TempDir dir;
  const auto path = dir / "v.gguf";
  run_python_script(
      "w = gguf.GGUFWriter()\n"
      "w.add_string('tokenizer.ggml.model', 'gpt2')\nw.add_string('tokenizer.ggml.pre', 'tern-custom')\n"
      "w.add_array('tokenizer.ggml.tokens', gguf.STRING, ['a', 'b', 'ab'])\n"
      "w.add_array('tokenizer.ggml.merges', gguf.STRING, ['a b'])\n"
      "w.write('" +
          path.string() + "')\n",
      dir.path());
  try {
    read_gguf_vocab(GgufFile::open(path));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tern.tokenizer.pre_tokenizer"), std::string::npos) << e.what();
  }
}

TEST(ByteLevelBpeConvert, FalconTokenizerJsonFormIsNamedFalcon) {
  // Falcon's tokenizer.json pre-tokenizer: punctuation runs, GPT-2's ByteLevel split,
  // digit runs, then groups of three digits. With the falcon vocabulary it must give
  // llama.cpp's "falcon" vectors, and convert names it "falcon".
  TERN_REQUIRE_SHARED(gguf, "tokenizers/ggml-vocab-falcon.gguf");
  const nlohmann::json falcon_pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Punctuation"}, {"behavior", "Contiguous"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}},
        {{"type", "Digits"}, {"individual_digits", false}},
        {{"type", "Split"},
         {"pattern", {{"Regex", "[0-9][0-9][0-9]"}}},
         {"behavior", "Isolated"},
         {"invert", false}}}}};
  Vocab v = read_gguf_vocab(GgufFile::open(gguf));
  v.pre_tokenizer = pre_tokenizer_from_hf_json(falcon_pre.dump(), "falcon tokenizer.json");
  EXPECT_EQ(pre_name_of(v.pre_tokenizer), "falcon");
  expect_vectors(Tokenizer(std::move(v)), shared_dir() / "tokenizers/ggml-vocab-falcon.gguf.inp",
                 shared_dir() / "tokenizers/ggml-vocab-falcon.gguf.out");
}

}  // namespace tern::testing
