#pragma once
// Tokenizers of two kinds, as GGUF's tokenizer.ggml.model names them:
//   "llama" -- SentencePiece-style BPE (merge by piece score, byte fallback);
//   "gpt2"  -- byte-level BPE (LLaMA-3, GPT-2, Falcon, Qwen2): pre-tokenizer
//              regexes, bytes mapped to printable characters, merges by rank.
//
//   Vocab      -- the data: pieces, scores, types, special ids, normalizer flags.
//   Tokenizer  -- text <-> ids; immutable after construction, safe to share
//                 between threads, cheap to copy.
//   StreamDecoder -- ids -> text one token at a time, never splitting a
//                 UTF-8 character across two outputs.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// Values are those of GGUF's tokenizer.ggml.token_type (and of sentencepiece's
// ModelProto.SentencePiece.Type), so both loaders can cast directly.
enum class TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

enum class TokenizerModel { SentencePiece, ByteLevelBpe };

// One step of byte-level BPE pre-tokenization: Hugging Face's pre-tokenizers,
// each reduced to a regex split or the byte-level mapping (docs/FORMAT.md 3.4).
struct PreTokenizeStep {
  enum class Kind { Split, ByteLevel };
  // What becomes of the regex matches (Hugging Face's SplitDelimiterBehavior).
  enum class Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous };
  Kind kind = Kind::Split;
  std::string regex;  // Split: a PCRE2 pattern (UTF and UCP modes)
  Behavior behavior = Behavior::Isolated;
  bool invert = false;            // Split: the pattern matches what lies between pieces
  bool add_prefix_space = false;  // ByteLevel: a space before a piece not starting with one
  bool operator==(const PreTokenizeStep&) const = default;
};

// The steps llama.cpp applies for a GGUF tokenizer.ggml.pre name ("llama-bpe",
// "gpt-2", "falcon", "falcon3", "qwen2", ...); nullopt for a name tern does not know.
std::optional<std::vector<PreTokenizeStep>> pre_tokenizer_for(std::string_view pre_name);
// The names pre_tokenizer_for knows, for error messages.
std::string known_pre_tokenizer_names();

struct Vocab {
  TokenizerModel model = TokenizerModel::SentencePiece;
  std::vector<std::string> pieces;  // [n_vocab] raw piece text, '▁' (U+2581) marks a space, "<0x0A>" byte tokens;
                                    // byte-level BPE: bytes as GPT-2's printable characters ('Ġ' a space)
  std::vector<float> scores;        // [n_vocab] BPE merge priority (higher merges first)
  std::vector<TokenType> types;     // [n_vocab]
  int32_t bos_id = 1, eos_id = 2, unk_id = 0, pad_id = -1;  // -1: the vocab has none
  bool add_bos = true, add_eos = false, add_space_prefix = true;
  // sentencepiece's normalizer_spec.remove_extra_whitespaces: strip leading and
  // trailing spaces and collapse runs of spaces before tokenizing. LLaMA-2's
  // model and GGUF files (llama.cpp ignores it) leave it off; llama2.c-trained
  // models such as tok512 have it on.
  bool remove_extra_whitespaces = false;

  // Byte-level BPE only.
  std::vector<std::string> merges;  // "left right" pieces, highest priority first (GGUF tokenizer.ggml.merges)
  std::string pre;                  // GGUF tokenizer.ggml.pre; empty when the steps have no llama.cpp name
  std::vector<PreTokenizeStep> pre_tokenizer;
  bool ignore_merges = false;  // a pre-token that is a whole piece is taken as is (LLaMA-3)
  bool normalize_nfc = false;  // text is NFC-normalized first (Hugging Face normalizer NFC: Qwen2)
  // Added tokens that swallow whitespace beside them when matched in text.
  std::vector<int32_t> lstrip_ids, rstrip_ids;

  // Jinja chat template (GGUF tokenizer.chat_template); empty when the model has none.
  std::string chat_template;

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  // Sizes agree, ids in range, types known, byte pieces well formed, pieces
  // valid UTF-8, scores not NaN. Throws tern::Error naming `source_name`.
  void validate(std::string_view source_name) const;
};

// Reads a SentencePiece BPE .model file through libsentencepiece. Throws
// tern::Error naming the file if it cannot be loaded or is not a BPE model.
Vocab load_sentencepiece_vocab(const std::filesystem::path& model_file);

// Reads a Hugging Face tokenizer.json of a byte-level BPE model (model.type BPE
// without byte_fallback). Special ids come from the tokenizer_config.json beside
// it when there is one (and its chat_template), else from the post-processor
// and well-known names. Throws tern::Error naming the file and the field.
Vocab load_byte_level_tokenizer_json(const std::filesystem::path& tokenizer_json);

class Tokenizer {
 public:
  // Validates, then builds the piece -> id map and the 256 byte-token table once.
  explicit Tokenizer(Vocab vocab);

  // Text -> ids. Throws tern::Error on invalid UTF-8 (naming the byte offset),
  // or if add_bos is asked for and the vocab has no BOS token. With
  // parse_special, the text of a control token (e.g. "<|eot_id|>") becomes
  // that token; otherwise it is plain text. Only chat formatting and
  // `tokenize --special` should ask for that.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const;

  // The id of the token whose piece is exactly `piece`, or -1.
  int32_t find_piece(std::string_view piece) const;

  // The bytes token `id` stands for: '▁' -> ' ', <0xNN> -> that byte, control
  // tokens -> "", the unknown token -> " ⁇ " (sentencepiece's surface for it).
  std::string token_bytes(int32_t id) const;

  // Ids -> text, as sentencepiece's DecodeIds: pieces concatenated; the one
  // leading space that add_space_prefix introduced is dropped; bytes of byte
  // tokens that do not form valid UTF-8 become U+FFFD, one per byte.
  std::string decode(std::span<const int32_t> ids) const;

  const Vocab& vocab() const;
  int32_t n_vocab() const;
  int32_t bos() const;
  int32_t eos() const;

  struct Impl;  // internal (src/tokenizer); public only so internals can name it

 private:
  std::shared_ptr<const Impl> impl_;
};

// Streaming detokenization: feed ids one at a time, get back only complete
// UTF-8 text. Bytes of an incomplete multi-byte sequence are held until it
// completes; flush() returns any leftover (bytes that cannot complete become
// U+FFFD), never a broken sequence. pushes + flush() == tokenizer.decode(ids).
class StreamDecoder {
 public:
  // strip_leading_space: drop the space add_space_prefix put before the first
  // token, as decode() does. Pass false when continuing text already shown.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space = true);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;  // bytes of a not-yet-complete UTF-8 sequence
  bool at_start_;        // still before the first visible piece (see decode())
};

}  // namespace tern
