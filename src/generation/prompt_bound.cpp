#include "generation/prompt_bound.h"

#include <algorithm>

#include "tern/error.h"

namespace tern {
namespace {

constexpr uint64_t kMaxUtf8CharBytes = 4;  // what an unknown token can stand for

uint64_t max_bytes_per_token(const Vocab& vocab) {
  uint64_t longest = kMaxUtf8CharBytes;
  for (const auto& piece : vocab.pieces) longest = std::max<uint64_t>(longest, piece.size());
  return longest;
}

}  // namespace

void check_prompt_bytes(const Tokenizer& tokenizer, std::string_view prompt, int64_t room) {
  // Cheap test first: only a prompt longer than room * 4 bytes needs the vocabulary scan.
  if (room < 0 || prompt.size() <= static_cast<uint64_t>(room) * kMaxUtf8CharBytes) return;
  const auto kept =
      static_cast<uint64_t>(prompt.size() - static_cast<size_t>(std::count(prompt.begin(), prompt.end(), ' ')));
  const uint64_t per_token = max_bytes_per_token(tokenizer.vocab());
  if (kept > static_cast<uint64_t>(room) * per_token)
    fail(
        "prompt is {} bytes but only {} tokens of context remain, which hold at most {} bytes (raise -c or shorten "
        "the prompt)",
        prompt.size(), room, static_cast<uint64_t>(room) * per_token);
}

}  // namespace tern
