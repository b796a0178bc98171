#pragma once
// Benchmarking support (the tern::tools library): model shapes with random weights
// built in memory, the batched-decoding benchmark and what the machine is. Energy and
// memory counters are in tern/energy.h. What `tern bench` runs.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tern/kv_type.h"
#include "tern/model.h"

namespace tern {

// ---- shapes with random weights

struct ModelShape {
  std::string name;
  int64_t layers, dim, heads, kv_heads, ffn, vocab, context;
};

const std::vector<ModelShape>& known_shapes();
std::optional<ModelShape> find_shape(const std::string& name);
std::string known_shape_names();  // "a, b, c"

struct SyntheticOptions {
  std::string linear_type = "tern2";    // a ternary type (tern2, tq2_0, tq1_0) or f16 / q8_0 ... for baselines
  std::string embedding_type = "q8_0";  // tied embedding / LM head: f32, f16, bf16, q4_0, q8_0, q6_k
  uint64_t seed = 1;

  // Throws tern::Error naming a type that is not one of those above.
  void validate() const;
};

// An anonymous in-memory file (memfd); path() names it for Model::load.
class InMemoryFile {
 public:
  explicit InMemoryFile(const std::string& name);
  ~InMemoryFile();
  InMemoryFile(InMemoryFile&& other) noexcept;
  InMemoryFile(const InMemoryFile&) = delete;
  InMemoryFile& operator=(const InMemoryFile&) = delete;
  std::string path() const;

 private:
  int fd_ = -1;
};

// Writes a mobilellm GGUF of the given shape with random weights into memory (options
// validated first).
InMemoryFile build_synthetic_model(const ModelShape& shape, const SyntheticOptions& options);

// ---- batched decoding

// Aggregate generation speed of B sequences decoded together, one batched forward pass
// per step (one token of each sequence; every weight read once per step), as `tern
// batch --parallel B` runs them. Like llama-batched-bench's S_TG.
//
// One batch size's state, kept across repetitions the way `tern batch` keeps its slots'
// caches across requests (and llama-bench its context, whose KV buffer is cleared when
// it is created): the scratch and the B caches are allocated and their pages touched
// once, so no timed step pays a first-use page fault.
class BatchDecodeBench {
 public:
  // Room for n_prompt + max_gen positions per sequence, in caches of kv_type, on the
  // model's default number of threads.
  BatchDecodeBench(const Model& model, int batch, int n_prompt, int max_gen, KvType kv_type = KvType::F32);
  ~BatchDecodeBench();
  // Prefills the sequences with n_prompt tokens each (not timed), then times n_gen
  // (<= max_gen) decode steps over all of them with greedy choices; returns
  // batch * n_gen / seconds.
  double tokens_per_second(int n_gen);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- single kernels (tools/microbench)

// One product of one kernel on random data, prepared for timing: run() does the product
// once, weights() and bytes() say how much one run covers. isa: "scalar", "avx2" or
// "avx512". The constructors return nothing when the CPU lacks the instruction set (or
// the kernel does not exist for it).
class KernelProduct {
 public:
  // y = W x for a random n_in x rows ternary matrix in the kernel's layout and `tokens`
  // tokens of prepared int8 activations. min_bytes > 0: the run cycles through enough
  // copies of the matrix (>= min_bytes of codes) that no cache holds them, as a whole
  // model streams its weights from memory. weights() counts weight-tokens.
  static std::optional<KernelProduct> ternary(const std::string& isa, int64_t n_in, int64_t rows, int64_t tokens,
                                              size_t min_bytes);
  // One token through a dense rows x n_in matrix of `type` ("f16" or "q8_0"): an LM head.
  static std::optional<KernelProduct> dense(const std::string& isa, const std::string& type, int64_t n_in,
                                            int64_t rows);
  // `tokens` tokens through a Q8_0 rows x n_in matrix repacked in row groups (AVX-512).
  static std::optional<KernelProduct> q8_row_groups(int64_t n_in, int64_t rows, int64_t tokens);

  KernelProduct(KernelProduct&&) noexcept;
  KernelProduct& operator=(KernelProduct&&) noexcept;
  ~KernelProduct();

  void run();
  double weights() const;
  double bytes() const;

 private:
  struct State;
  explicit KernelProduct(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// ---- the machine

// The CPU's model name (from /proc/cpuinfo; "unknown" where it has none).
std::string cpu_name();

}  // namespace tern
