#pragma once
// The model's weights as the forward pass uses them. Float tensors stay in the file's
// read-only map; ternary matrices are repacked once into TernaryMatrix. Shared blocks
// (MobileLLM-LS) are stored once: executed layer l uses blocks[l / block_repeat].
#include <optional>
#include <string>
#include <vector>

#include <memory>

#include "io/gguf_reader.h"
#include "kernels/kernels.h"
#include "kernels/ternary_matrix.h"
#include "tern/model.h"
#include "tern/tokenizer.h"

namespace tern {

// A row-major matrix of a float-like type (F32/F16/BF16/Q8_0) inside the mapped file.
struct DenseMatrix {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;    // row length
  int64_t n_rows = 0;  // rows
  uint64_t row_bytes() const { return tern::row_bytes(type, static_cast<uint64_t>(n_in)); }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes(); }
};

// One linear layer y = W x, either float (dense) or ternary (packed).
struct Linear {
  std::string name;
  int64_t n_in = 0;
  int64_t n_out = 0;
  bool ternary = false;
  DenseMatrix dense;     // when !ternary: [n_out, n_in]
  TernaryMatrix packed;  // when ternary:  [n_out, n_in] codes + scales
};

struct BlockWeights {
  std::vector<float> attn_norm;      // [dim], empty when absent
  Linear attn_q;                     // [n_heads * head_dim, dim]
  Linear attn_k;                     // [n_kv_heads * head_dim, dim]
  Linear attn_v;                     // [n_kv_heads * head_dim, dim]
  std::vector<float> attn_sub_norm;  // [n_heads * head_dim], empty when absent
  Linear attn_output;                // [dim, n_heads * head_dim]
  std::vector<float> ffn_norm;       // [dim], empty when absent
  Linear ffn_gate;                   // [ffn, dim]
  Linear ffn_up;                     // [ffn, dim]
  std::vector<float> ffn_sub_norm;   // [ffn], empty when absent
  Linear ffn_down;                   // [dim, ffn]
};

struct ModelWeights {
  explicit ModelWeights(GgufFile mapped) : file(std::move(mapped)) {}

  GgufFile file;
  ModelConfig config;
  std::optional<Tokenizer> tokenizer;
  DenseMatrix token_embd;          // [n_vocab, dim]
  std::vector<float> output_norm;  // [dim]
  DenseMatrix output;              // [n_vocab, dim]; the token embedding when tied
  // A Q8_0 head repacked for the kernels' row-group product, when they have one; the
  // file's copy of the head is then only read for embedding lookups.
  std::optional<Q8RowGroups> output_groups;
  bool tied_embeddings = true;
  std::vector<BlockWeights> blocks;  // [n_blocks]

  // How the model runs: the kernels of the chosen instruction set, and the number of
  // threads each Context's own pool gets unless it asks for another.
  const KernelTable* kernels = nullptr;
  int threads = 1;

  const BlockWeights& block_of_layer(int64_t layer) const { return blocks[layer / config.block_repeat]; }
};

// True for the names in the tensor table (docs/FORMAT.md 3.2), e.g. "blk.3.ffn_up.weight".
bool is_model_tensor_name(const std::string& name);

// Reads the tensor table (docs/FORMAT.md 3.2) out of a validated GGUF file: checks
// every name, shape and type, repacks ternary matrices, rejects unknown tensors for
// mobilellm. Throws tern::Error naming the file and tensor.
// `threads`: the contexts' default thread count (0: all cores, or 1 for a model too small
// to gain from more); `isa` picks the kernels.
ModelWeights load_weights(GgufFile file, int threads, Isa isa);

}  // namespace tern
