#include "convert/bitllama2c_reader.h"

#include <cstring>

#include "io/mapped_file.h"
#include "model/limits.h"
#include "tern/error.h"

namespace tern {
namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr size_t kHeaderBytes = 256;

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  bool shared_classifier;
};

// Sequential reader over the mapped checkpoint that names what ran out.
class Reader {
 public:
  Reader(const MappedFile& file, size_t offset) : file_(file), pos_(offset) {}
  const uint8_t* take(size_t n, const std::string& what) {
    if (n > file_.bytes().size() - pos_)
      fail("{}: truncated: {} needs {} bytes at offset {}, file has {}", file_.path().string(), what, n, pos_,
           file_.bytes().size());
    const uint8_t* p = file_.bytes().data() + pos_;
    pos_ += n;
    return p;
  }
  std::vector<float> floats(size_t n, const std::string& what) {
    std::vector<float> v(n);
    std::memcpy(v.data(), take(n * sizeof(float), what), n * sizeof(float));
    return v;
  }

 private:
  const MappedFile& file_;
  size_t pos_;
};

Header read_header(const MappedFile& file) {
  const auto bytes = file.bytes();
  const std::string name = file.path().string();
  if (bytes.size() < kHeaderBytes) fail("{}: too small for a bitllama2.c header ({} of 256 bytes)", name, bytes.size());
  uint32_t magic;
  int32_t version;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 4);
  if (magic != kMagic)
    fail("{}: not a bitllama2.c checkpoint (magic 0x{:08x}, expected 0x{:08x})", name, magic, kMagic);
  if (version != 1) fail("{}: bitllama2.c version {} is not supported (expected 1)", name, version);
  Header h{};
  std::memcpy(&h.dim, bytes.data() + 8, 7 * sizeof(int32_t));
  h.shared_classifier = bytes[36] != 0;
  const int32_t fields[] = {h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len};
  for (int32_t v : fields)
    if (v <= 0 || v > (1 << 20)) fail("{}: header field {} is out of range", name, v);
  if (h.dim % h.n_heads != 0 || h.n_heads % h.n_kv_heads != 0)
    fail("{}: dim {} / heads {} / KV heads {} do not divide", name, h.dim, h.n_heads, h.n_kv_heads);
  if (!h.shared_classifier) fail("{}: checkpoints with a separate classifier are not supported", name);
  return h;
}

// The size of the file the header describes. Fields are at most 2^20, so no product
// overflows 64 bits.
uint64_t described_bytes(const Header& h) {
  const uint64_t dim = h.dim, ffn = h.hidden_dim, layers = h.n_layers;
  const uint64_t kv_dim = dim / h.n_heads * h.n_kv_heads;
  const uint64_t floats = dim + dim * h.vocab_size;                           // final norm, embedding
  const uint64_t weights = dim * dim * 2 + dim * kv_dim * 2 + dim * ffn * 3;  // wq wo, wk wv, w1 w2 w3
  return kHeaderBytes + 4 * floats + layers * (7 * 4 + weights / 4);
}

// One layer's matrix: fp32 scale, then rows * cols 2-bit codes, first weight in the
// high bits. The x / (n * rms) input norm's 1/n goes into the scale.
TernaryWeights read_matrix(Reader& in, int64_t rows, int64_t cols, const std::string& what, const std::string& file) {
  if ((rows * cols) % 4 != 0) fail("{}: {} has {} weights, not a multiple of 4", file, what, rows * cols);
  float scale;
  std::memcpy(&scale, in.take(4, what + " scale"), 4);
  const uint8_t* codes = in.take(static_cast<size_t>(rows * cols / 4), what + " weights");
  TernaryWeights w;
  w.n_in = cols;
  w.n_rows = rows;
  w.group = cols;
  w.scales.assign(static_cast<size_t>(rows), scale / static_cast<float>(cols));
  w.weights.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const int code = (codes[i / 4] >> (6 - 2 * (i % 4))) & 3;
    if (code == 2) fail("{}: {} holds the invalid code 10 at weight {}", file, what, i);
    w.weights[i] = static_cast<int8_t>(code == 1 ? 1 : code == 3 ? -1 : 0);
  }
  return w;
}

}  // namespace

bool is_bitllama2c_file(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  uint32_t magic = 0;
  const bool ok = std::fread(&magic, 4, 1, f) == 1 && magic == kMagic;
  std::fclose(f);
  return ok;
}

ModelDraft read_bitllama2c(const std::filesystem::path& path) {
  const MappedFile file(path);
  const Header h = read_header(file);
  const std::string name = path.string();
  // Before anything is allocated: the header's sizes must match the file's.
  const uint64_t described = described_bytes(h), found = file.bytes().size();
  if (found < described)
    fail(
        "{}: truncated: the header (dim {}, hidden_dim {}, {} layers, {} KV heads, vocab {}) describes a {}-byte "
        "file, found {} bytes",
        name, h.dim, h.hidden_dim, h.n_layers, h.n_kv_heads, h.vocab_size, described, found);
  if (found > described)
    fail("{}: {} unexpected bytes after the last weight (expected a {}-byte file)", name, found - described, described);
  ModelDraft d;
  d.source = name;
  ModelConfig& c = d.config;
  c.architecture = "mobilellm";
  c.name = path.stem().string();
  c.dim = h.dim;
  c.ffn = h.hidden_dim;
  c.n_blocks = h.n_layers;
  c.block_repeat = 1;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = h.dim / h.n_heads;
  c.context_length = h.seq_len;
  check_layer_limits(c, name, "n_layers");
  c.n_vocab = h.vocab_size;
  c.rms_eps = 1e-5f;
  c.rope_base = 10000.0f;
  c.linear_norm = true;
  c.linear_norm_eps = 0.0f;

  Reader in(file, kHeaderBytes);
  const auto dim = static_cast<uint64_t>(c.dim);
  d.tensors.push_back({"output_norm.weight", {dim}, in.floats(dim, "final norm"), std::nullopt});
  d.tensors.push_back({"token_embd.weight",
                       {dim, static_cast<uint64_t>(c.n_vocab)},
                       in.floats(dim * c.n_vocab, "token embedding"),
                       std::nullopt});
  struct Kind {
    const char* source_name;
    const char* tensor;
    int64_t rows, cols;
  };
  const Kind kinds[] = {{"wq", "attn_q", c.q_dim(), c.dim},  {"wk", "attn_k", c.kv_dim(), c.dim},
                        {"wv", "attn_v", c.kv_dim(), c.dim}, {"wo", "attn_output", c.dim, c.q_dim()},
                        {"w1", "ffn_gate", c.ffn, c.dim},    {"w2", "ffn_down", c.dim, c.ffn},
                        {"w3", "ffn_up", c.ffn, c.dim}};
  for (const Kind& k : kinds)
    for (int64_t layer = 0; layer < c.n_blocks; ++layer) {
      const std::string what = fmt::format("{} of layer {}", k.source_name, layer);
      DraftTensor t;
      t.name = fmt::format("blk.{}.{}.weight", layer, k.tensor);
      t.ne = {static_cast<uint64_t>(k.cols), static_cast<uint64_t>(k.rows)};
      t.ternary = read_matrix(in, k.rows, k.cols, what, name);
      d.tensors.push_back(std::move(t));
    }
  return d;
}

}  // namespace tern
