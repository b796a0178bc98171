#include "tern/bench.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <utility>

#include "convert/draft_writer.h"
#include "io/tensor_type.h"
#include "kernels/cpu_features.h"
#include "tern/error.h"

namespace tern {
namespace {

// A vocabulary of the right size that the tokenizer accepts: specials, the 256 byte
// tokens, then made-up pieces. Benchmarks never decode text, they need ids.
Vocab synthetic_vocab(int64_t size) {
  Vocab v;
  auto add = [&](std::string piece, TokenType type) {
    v.pieces.push_back(std::move(piece));
    v.scores.push_back(-static_cast<float>(v.pieces.size()));
    v.types.push_back(type);
  };
  add("<unk>", TokenType::Unknown);
  add("<s>", TokenType::Control);
  add("</s>", TokenType::Control);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), TokenType::Byte);
  while (static_cast<int64_t>(v.pieces.size()) < size)
    add(fmt::format("\xe2\x96\x81t{}", v.pieces.size()), TokenType::Normal);
  return v;
}

// Random weights in {-1, 0, +1} (half zeros) with one scale ~ 1/sqrt(n_in), so
// activations stay in range through the layers.
TernaryWeights random_ternary(std::mt19937_64& rng, int64_t n_in, int64_t rows) {
  TernaryWeights w;
  w.n_in = n_in;
  w.n_rows = rows;
  w.group = n_in;
  w.weights.resize(static_cast<size_t>(n_in * rows));
  for (size_t i = 0; i < w.weights.size(); i += 32) {
    uint64_t bits = rng();
    for (size_t j = i; j < std::min(w.weights.size(), i + 32); ++j, bits >>= 2) {
      const unsigned code = bits & 3;
      w.weights[j] = static_cast<int8_t>(code == 0 ? -1 : code == 2 ? 1 : 0);
    }
  }
  w.scales.assign(static_cast<size_t>(rows), 1.0f / std::sqrt(static_cast<float>(n_in)));
  return w;
}

std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

DraftTensor matrix(std::mt19937_64& rng, const std::string& name, int64_t n_in, int64_t rows, bool ternary) {
  DraftTensor t;
  t.name = name;
  t.ne = {static_cast<uint64_t>(n_in), static_cast<uint64_t>(rows)};
  if (ternary) t.ternary = random_ternary(rng, n_in, rows);
  else t.values = random_floats(rng, static_cast<size_t>(n_in * rows), 1.0f / std::sqrt(static_cast<float>(n_in)));
  return t;
}

ModelDraft synthetic_draft(const ModelShape& s, bool ternary, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ModelDraft d;
  d.source = "shape " + s.name;
  ModelConfig& c = d.config;
  c.architecture = "mobilellm";
  c.name = s.name + " (random weights)";
  c.dim = s.dim;
  c.ffn = s.ffn;
  c.n_blocks = s.layers;
  c.n_heads = s.heads;
  c.n_kv_heads = s.kv_heads;
  c.head_dim = s.dim / s.heads;
  c.context_length = s.context;
  c.n_vocab = s.vocab;
  d.vocab = synthetic_vocab(s.vocab);
  const auto dim = static_cast<uint64_t>(s.dim);
  d.tensors.push_back({"token_embd.weight",
                       {dim, static_cast<uint64_t>(s.vocab)},
                       random_floats(rng, dim * s.vocab, 1.0f),
                       std::nullopt});
  d.tensors.push_back({"output_norm.weight", {dim}, std::vector<float>(dim, 1.0f), std::nullopt});
  for (int64_t b = 0; b < s.layers; ++b) {
    const std::string p = fmt::format("blk.{}.", b);
    d.tensors.push_back({p + "attn_norm.weight", {dim}, std::vector<float>(dim, 1.0f), std::nullopt});
    d.tensors.push_back(matrix(rng, p + "attn_q.weight", c.dim, c.q_dim(), ternary));
    d.tensors.push_back(matrix(rng, p + "attn_k.weight", c.dim, c.kv_dim(), ternary));
    d.tensors.push_back(matrix(rng, p + "attn_v.weight", c.dim, c.kv_dim(), ternary));
    d.tensors.push_back(matrix(rng, p + "attn_output.weight", c.q_dim(), c.dim, ternary));
    d.tensors.push_back({p + "ffn_norm.weight", {dim}, std::vector<float>(dim, 1.0f), std::nullopt});
    d.tensors.push_back(matrix(rng, p + "ffn_gate.weight", c.dim, c.ffn, ternary));
    d.tensors.push_back(matrix(rng, p + "ffn_up.weight", c.dim, c.ffn, ternary));
    d.tensors.push_back(matrix(rng, p + "ffn_down.weight", c.ffn, c.dim, ternary));
  }
  return d;
}

}  // namespace

const std::vector<ModelShape>& known_shapes() {
  static const std::vector<ModelShape> shapes = {
      {"mobilellm-125m", 30, 576, 9, 3, 1536, 32000, 2048},
      {"mobilellm-350m", 32, 960, 15, 5, 2560, 32000, 2048},
      {"bitnet-700m", 24, 1536, 16, 16, 4096, 32002, 2048},
  };
  return shapes;
}

std::optional<ModelShape> find_shape(const std::string& name) {
  for (const auto& s : known_shapes())
    if (s.name == name) return s;
  return std::nullopt;
}

std::string known_shape_names() {
  std::string names;
  for (const auto& s : known_shapes()) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

InMemoryFile::InMemoryFile(const std::string& name) {
  fd_ = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd_ < 0) fail("cannot create an in-memory file: {}", std::strerror(errno));
}
InMemoryFile::~InMemoryFile() {
  if (fd_ >= 0) ::close(fd_);
}
InMemoryFile::InMemoryFile(InMemoryFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
std::string InMemoryFile::path() const { return fmt::format("/proc/self/fd/{}", fd_); }

void SyntheticOptions::validate() const {
  const auto linear = tensor_type_from_name(linear_type);
  const auto embedding = tensor_type_from_name(embedding_type);
  if (!linear) fail("--type '{}' is not a tensor type", linear_type);
  if (!embedding || traits(*embedding).ternary || *embedding == TensorType::Q4_K)
    fail("--embd-type '{}' is not one of f32, f16, bf16, q4_0, q8_0, q6_k", embedding_type);
}

InMemoryFile build_synthetic_model(const ModelShape& shape, const SyntheticOptions& o) {
  o.validate();
  const auto linear_type = tensor_type_from_name(o.linear_type);
  const auto embedding_type = tensor_type_from_name(o.embedding_type);
  const bool ternary = traits(*linear_type).ternary;
  ModelDraft draft = synthetic_draft(shape, ternary, o.seed);
  if (*linear_type == TensorType::TERN2R)  // per-row scales that really differ
    for (auto& t : draft.tensors)
      if (t.is_ternary())
        for (size_t r = 0; r < t.ternary->scales.size(); ++r)
          t.ternary->scales[r] *= 1.0f + static_cast<float>(r % 17) / 64;
  DraftWriteOptions write;
  write.ternary_type = ternary ? *linear_type : TensorType::TERN2;
  write.dense_type = ternary ? TensorType::F32 : *linear_type;
  write.embedding_type = *embedding_type;
  const GgufWriter writer = draft_to_gguf(draft, plan_tensors(draft, write), write);
  InMemoryFile file(shape.name);
  std::ofstream out(file.path(), std::ios::binary);
  writer.write_to(out);
  out.flush();
  if (!out) fail("cannot write the {} model to memory", shape.name);
  return file;
}

std::string cpu_name() { return detect_cpu_features().name; }

}  // namespace tern
