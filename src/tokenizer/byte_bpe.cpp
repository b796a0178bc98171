#include "tokenizer/byte_bpe.h"

#include <queue>

#include "tern/error.h"
#include "tokenizer/byte_level.h"

namespace tern {
namespace {

struct Symbol {
  int32_t id;  // -1 once merged into its left neighbour
  int32_t prev, next;
};

struct Candidate {
  int32_t rank;
  int32_t left, right;        // symbol indices
  int32_t left_id, right_id;  // what they held when queued: stale if either changed
  int32_t merged;             // the id the pair becomes
};

struct LowestRankFirst {  // priority_queue pops the "largest": lowest rank, then leftmost
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

ByteLevelBpe::ByteLevelBpe(const Vocab& vocab, std::string_view source)
    : unk_id_(vocab.unk_id), ignore_merges_(vocab.ignore_merges) {
  piece_ids_.reserve(vocab.pieces.size());
  for (int32_t id = 0; id < vocab.size(); ++id)
    if (!vocab.pieces[id].empty()) piece_ids_.emplace(vocab.pieces[id], id);  // the first of duplicates wins
  merges_.reserve(vocab.merges.size());
  std::string joined;  // reused: one allocation for all merges
  for (std::size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const std::string_view merge = vocab.merges[rank];
    const std::size_t space = merge.find(' ', 1);  // a piece is never empty; the first may be a space itself
    if (space == std::string_view::npos)
      fail("{}: merge {} is '{}', expected two pieces separated by a space", source, rank, merge);
    const std::string_view left = merge.substr(0, space), right = merge.substr(space + 1);
    joined.assign(left).append(right);
    const int32_t l = find(left), r = find(right), m = find(joined);
    if (l < 0 || r < 0 || m < 0)
      fail("{}: merge {} '{}' names a piece the vocabulary lacks ('{}')", source, rank, merge,
           l < 0   ? left
           : r < 0 ? right
                   : std::string_view(joined));
    merges_.try_emplace(pair_key(l, r), Merge{static_cast<int32_t>(rank), m});  // the first rank of a pair counts
  }
}

void ByteLevelBpe::encode(std::string_view pre_token, std::vector<int32_t>& out) const {
  if (pre_token.empty()) return;
  if (ignore_merges_)
    if (const int32_t id = find(pre_token); id >= 0) {
      out.push_back(id);
      return;
    }
  // One symbol per mapped byte: each is a 1- or 2-byte UTF-8 character.
  std::vector<Symbol> symbols;
  symbols.reserve(pre_token.size());
  for (std::size_t pos = 0; pos < pre_token.size();) {
    const std::size_t len = static_cast<unsigned char>(pre_token[pos]) < 0x80 ? 1 : 2;
    // Some vocabularies (Falcon's) lack pieces for a few control bytes.
    int32_t id = find(pre_token.substr(pos, len));
    if (id < 0) id = unk_id_;
    if (id < 0) {
      const auto byte = byte_level::decode(pre_token.substr(pos, len));
      fail("cannot tokenize: the vocabulary has no piece for byte 0x{:02X} and no unknown token",
           byte && !byte->empty() ? static_cast<uint8_t>((*byte)[0]) : 0);
    }
    const auto i = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, i - 1, -1});
    if (i > 0) symbols[i - 1].next = i;
    pos += len;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, LowestRankFirst> queue;
  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it != merges_.end())
      queue.push({it->second.rank, left, right, symbols[left].id, symbols[right].id, it->second.merged});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) consider(i - 1, i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.id != c.left_id || right.id != c.right_id || left.next != c.right) continue;  // stale
    left.id = c.merged;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace tern
