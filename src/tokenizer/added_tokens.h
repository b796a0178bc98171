#pragma once
// Added tokens (Hugging Face's added_tokens; GGUF UserDefined and Control
// pieces) are found in text before anything else, longest first, and the
// text between them is tokenized on its own. UserDefined pieces are always
// matched; Control pieces only when special-token parsing is asked for.
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/tokenizer.h"

namespace tern {

struct TextFragment {
  std::string_view text;  // plain text, when token < 0
  int32_t token = -1;
};

class AddedTokens {
 public:
  // include_user_defined: false for SentencePiece, whose merger keeps
  // UserDefined pieces whole itself.
  AddedTokens(const Vocab& vocab, bool include_user_defined);

  // Cuts `text` into plain fragments and added tokens, in order.
  std::vector<TextFragment> partition(std::string_view text, bool parse_special) const;

 private:
  struct Entry {
    std::string_view piece;
    int32_t id;
    bool special;  // Control: matched only with parse_special
    bool lstrip, rstrip;
  };
  // First byte -> entries starting with it, longest first.
  std::unordered_map<char, std::vector<Entry>> by_first_byte_;
  const Entry* match_at(std::string_view text, std::size_t pos, bool parse_special) const;
};

}  // namespace tern
