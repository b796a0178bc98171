// SentencePiece BPE: start from single characters, repeatedly merge the
// adjacent pair whose concatenation is the vocabulary piece with the highest
// score (ties: leftmost), until no adjacent pair forms a piece.
//
// Symbols form a doubly linked list over one array; candidate pairs sit in a
// max-heap. A merge only changes the two pairs around the merged symbol, so the
// whole run is O(n log n). Heap entries are never removed when they go stale;
// instead each remembers the byte length it was made for and is skipped when
// popped if either side has since changed (a symbol only ever grows).
#include "tokenizer/spm_bpe.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <utility>

namespace tern {
namespace {

struct Symbol {
  uint32_t begin;  // byte offset into the normalized text
  uint32_t len;    // 0 once merged into its left neighbour
  int32_t prev, next;
  bool frozen;  // a UserDefined piece: never merged with neighbours
};

struct Pair {
  float score;
  int32_t left, right;
  uint32_t len;  // len(left) + len(right) when this pair was queued
};

struct PairOrder {  // std::priority_queue pops the "largest": best score, then leftmost
  bool operator()(const Pair& a, const Pair& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// Text is valid UTF-8 here, so the lead byte alone gives the length.
uint32_t char_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

class Encoder {
 public:
  Encoder(const Vocab& vocab, const VocabIndex& index, std::string_view text)
      : vocab_(vocab), index_(index), text_(text) {}

  void run(std::vector<int32_t>& out) {
    split_into_characters();
    std::vector<Pair> storage;
    storage.reserve(symbols_.size());
    agenda_ = Agenda(PairOrder{}, std::move(storage));
    for (int32_t i = 1; i < static_cast<int32_t>(symbols_.size()); ++i) maybe_queue(i - 1, i);
    while (!agenda_.empty()) {
      const Pair top = agenda_.top();
      agenda_.pop();
      Symbol& left = symbols_[top.left];
      Symbol& right = symbols_[top.right];
      if (left.len == 0 || right.len == 0 || left.len + right.len != top.len) continue;  // stale
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = top.left;
      maybe_queue(left.prev, top.left);
      maybe_queue(top.left, left.next);
    }
    for (int32_t i = symbols_.empty() ? -1 : 0; i >= 0; i = symbols_[i].next) emit(view(symbols_[i]), out);
  }

 private:
  using Agenda = std::priority_queue<Pair, std::vector<Pair>, PairOrder>;

  std::string_view view(const Symbol& s) const { return text_.substr(s.begin, s.len); }

  void split_into_characters() {
    symbols_.reserve(text_.size());
    uint32_t pos = 0;
    while (pos < text_.size()) {
      uint32_t len = 0;
      bool frozen = false;
      if (!index_.user_defined.empty()) {  // longest UserDefined piece starting here
        const std::size_t max = std::min(index_.max_user_defined_bytes, text_.size() - pos);
        for (std::size_t n = max; n > 0 && len == 0; --n)
          if (index_.user_defined.contains(text_.substr(pos, n))) len = static_cast<uint32_t>(n), frozen = true;
      }
      if (len == 0)
        len = std::min<uint32_t>(char_length(static_cast<unsigned char>(text_[pos])),
                                 static_cast<uint32_t>(text_.size()) - pos);
      const auto i = static_cast<int32_t>(symbols_.size());
      symbols_.push_back({pos, len, i - 1, -1, frozen});
      if (i > 0) symbols_[i - 1].next = i;
      pos += len;
    }
  }

  void maybe_queue(int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols_[left].frozen || symbols_[right].frozen) return;
    const uint32_t len = symbols_[left].len + symbols_[right].len;
    const std::string_view merged = text_.substr(symbols_[left].begin, len);
    const int32_t id = index_.find(merged);
    if (id < 0) return;
    agenda_.push({vocab_.scores[id], left, right, len});
    // An Unused piece may take part in merging but is never output: remember
    // how it was made so emit() can split it back (sentencepiece's behaviour).
    if (vocab_.types[id] == TokenType::Unused) unused_splits_[merged] = {view(symbols_[left]), view(symbols_[right])};
  }

  void emit(std::string_view piece, std::vector<int32_t>& out) {
    const int32_t id = index_.find(piece);
    if (id >= 0 && vocab_.types[id] == TokenType::Unused) {
      if (const auto it = unused_splits_.find(piece); it != unused_splits_.end()) {
        const auto [a, b] = it->second;
        emit(a, out);
        emit(b, out);
        return;
      }
    }
    if (id >= 0) {
      out.push_back(id);
      previous_was_unknown_ = false;
    } else if (index_.byte_fallback) {
      for (const char c : piece) out.push_back(index_.byte_ids[static_cast<unsigned char>(c)]);
      previous_was_unknown_ = false;
    } else {
      // Like sentencepiece, a run of unknown symbols becomes a single unk.
      if (!previous_was_unknown_) out.push_back(vocab_.unk_id);
      previous_was_unknown_ = true;
    }
  }

  const Vocab& vocab_;
  const VocabIndex& index_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  Agenda agenda_;
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unused_splits_;
  bool previous_was_unknown_ = false;
};

}  // namespace

std::string spm_normalize(const Vocab& vocab, std::string_view text) {
  const bool squeeze = vocab.remove_extra_whitespaces;
  if (squeeze) {
    const std::size_t first = text.find_first_not_of(' ');
    text = first == std::string_view::npos ? std::string_view{} : text.substr(first);
  }
  std::string out;
  if (text.empty()) return out;  // no dummy prefix for empty text
  out.reserve(text.size() + 2 * static_cast<std::size_t>(std::count(text.begin(), text.end(), ' ')) + 3);
  if (vocab.add_space_prefix) out += kSpaceSymbol;
  bool previous_space = squeeze;  // with squeezing, the prefix counts as a space
  for (const char c : text) {
    if (c == ' ') {
      if (!previous_space || !squeeze) out += kSpaceSymbol;
      previous_space = true;
    } else {
      out += c;
      previous_space = false;
    }
  }
  if (squeeze)  // trailing '▁' go, whether they were spaces or literal U+2581
    while (out.ends_with(kSpaceSymbol)) out.resize(out.size() - kSpaceSymbol.size());
  return out;
}

void spm_bpe_encode(const Vocab& vocab, const VocabIndex& index, std::string_view normalized,
                    std::vector<int32_t>& out) {
  Encoder(vocab, index, normalized).run(out);
}

}  // namespace tern
