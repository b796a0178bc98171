#pragma once
// A PCRE2 pattern compiled once (UTF + UCP, JIT when the library has it) and
// used to cut text into pieces the way Hugging Face's Split pre-tokenizer does.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tern/tokenizer.h"

namespace tern {

class SplitRegex {
 public:
  // Throws tern::Error quoting the pattern and PCRE2's message if it does not compile.
  explicit SplitRegex(const std::string& pattern);

  // Cuts `text` (valid UTF-8) into pieces; what becomes of matches and of the
  // text between them follows `behavior` and `invert`. Empty pieces are dropped.
  // Appends views into `text` to `out`. Safe to call from several threads.
  void split(std::string_view text, PreTokenizeStep::Behavior behavior, bool invert,
             std::vector<std::string_view>& out) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string pattern_;
};

}  // namespace tern
