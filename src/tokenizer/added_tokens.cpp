#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace tern {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

AddedTokens::AddedTokens(const Vocab& vocab, bool include_user_defined) {
  const auto listed = [](const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType type = vocab.types[id];
    const std::string_view piece = vocab.pieces[id];
    const bool wanted = type == TokenType::Control || (include_user_defined && type == TokenType::UserDefined);
    if (!wanted || piece.empty()) continue;
    by_first_byte_[piece[0]].push_back(
        {piece, id, type == TokenType::Control, listed(vocab.lstrip_ids, id), listed(vocab.rstrip_ids, id)});
  }
  for (auto& [byte, entries] : by_first_byte_)
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.piece.size() > b.piece.size(); });
}

const AddedTokens::Entry* AddedTokens::match_at(std::string_view text, std::size_t pos, bool parse_special) const {
  const auto it = by_first_byte_.find(text[pos]);
  if (it == by_first_byte_.end()) return nullptr;
  for (const Entry& e : it->second)
    if ((parse_special || !e.special) && text.substr(pos).starts_with(e.piece)) return &e;
  return nullptr;
}

std::vector<TextFragment> AddedTokens::partition(std::string_view text, bool parse_special) const {
  std::vector<TextFragment> out;
  std::size_t plain_begin = 0;
  bool strip_leading = false;  // the previous token rstrips: whitespace after it goes
  const auto flush_plain = [&](std::size_t end, bool strip_trailing) {
    std::string_view plain = text.substr(plain_begin, end - plain_begin);
    if (strip_leading)
      while (!plain.empty() && is_space(plain.front())) plain.remove_prefix(1);
    if (strip_trailing)
      while (!plain.empty() && is_space(plain.back())) plain.remove_suffix(1);
    if (!plain.empty()) out.push_back({plain, -1});
  };
  if (by_first_byte_.empty()) {
    if (!text.empty()) out.push_back({text, -1});
    return out;
  }
  for (std::size_t pos = 0; pos < text.size();) {
    const Entry* e = match_at(text, pos, parse_special);
    if (!e) {
      ++pos;
      continue;
    }
    flush_plain(pos, e->lstrip);
    out.push_back({{}, e->id});
    pos += e->piece.size();
    plain_begin = pos;
    strip_leading = e->rstrip;
  }
  flush_plain(text.size(), false);
  return out;
}

}  // namespace tern
