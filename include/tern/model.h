#pragma once
// The public model API: load a GGUF model, look at its configuration, and run it.
//   Model::load(file) -> Model (weights, tokenizer; immutable, shared)
//                     -> Context (KV cache, scratch, threads; one per sequence) -> logits
// A Model is read-only once loaded: any number of Contexts (and Generators,
// BatchRunners, perplexity runs) may use it at the same time from different threads.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tern/kv_type.h"
#include "tern/tokenizer.h"

namespace tern {

enum class FfnActivation { Silu, Relu2 };

struct ModelConfig {
  std::string architecture;  // "mobilellm" or "llama"
  std::string name;
  int64_t dim = 0;           // model width
  int64_t ffn = 0;           // feed-forward width
  int64_t n_blocks = 0;      // stored blocks
  int64_t block_repeat = 1;  // each stored block runs this many times in a row
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t context_length = 0;  // training context
  int64_t n_vocab = 0;
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  FfnActivation activation = FfnActivation::Silu;
  bool linear_norm = false;  // weightless RMSNorm inside each ternary linear
  float linear_norm_eps = 0.0f;
  std::string source_format;  // how the weights were produced (tern.source_format); may be empty

  int64_t n_layers() const { return n_blocks * block_repeat; }  // executed layers
  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// What `tern info` shows about the weights.
struct TensorTypeUsage {
  std::string type;  // GGUF tensor type name: "f32", "q8_0", "tern2", ...
  bool ternary = false;
  std::string ternary_scales;  // ternary types: "one per row", "one per tensor" or "one per 256-weight block"
  uint64_t n_tensors = 0;
  uint64_t n_weights = 0;
  uint64_t n_bytes = 0;
};
struct ModelSummary {
  uint64_t file_bytes = 0;
  uint64_t unique_parameters = 0;     // stored once
  uint64_t effective_parameters = 0;  // counting shared blocks each time they run
  std::vector<TensorTypeUsage> by_type;
};

struct ModelWeights;  // internal (src/model/weights.h): the Model's opaque implementation

struct LoadOptions {
  // Threads of each Context that does not ask for its own number, the caller included;
  // 0 = all cores (1 for a model too small to gain from more).
  int threads = 0;
  std::string isa;  // "scalar", "avx2", "avx512"; empty = TERN_ISA or the best the CPU has
};

class Model {
 public:
  // Maps, validates and prepares the model. Throws tern::Error with a one-line message
  // naming the file and the key or tensor at fault.
  static Model load(const std::filesystem::path& path, const LoadOptions& options = {});
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  ModelSummary summary() const;
  const std::filesystem::path& path() const;
  std::string_view isa() const;  // the kernels in use
  int threads() const;           // the contexts' default thread count

 private:
  friend const ModelWeights& weights_of(const Model& model);  // for the library's own layers
  explicit Model(std::unique_ptr<ModelWeights> weights);
  std::unique_ptr<ModelWeights> weights_;
};

struct ForwardScratch;  // internal (src/model/forward.h): the Context's opaque state

struct ContextParams {
  int64_t n_ctx = 0;             // tokens the KV cache holds (prompt + generation); required
  int64_t max_batch = 32;        // prompt tokens per forward pass
  KvType kv_type = KvType::F32;  // the KV cache's element type (tern/kv_type.h)
  int threads = 0;               // this context's threads, the caller included; 0 = the model's default
};

// One sequence being run: its KV cache, scratch buffers and thread pool, allocated once.
// A Context is used by one thread at a time; different Contexts of one Model run at
// the same time without interfering (each has its own threads).
class Context {
 public:
  static constexpr int64_t kDefaultBatch = 32;  // prompt tokens per forward pass

  // Throws tern::Error when n_ctx or max_batch is not positive.
  Context(const Model& model, const ContextParams& params);
  // kv_type: the element type of the KV cache (tern/kv_type.h).
  Context(const Model& model, int64_t n_ctx, int64_t max_batch = kDefaultBatch, KvType kv_type = KvType::F32);
  ~Context();
  Context(Context&&) noexcept;

  // Runs one token at position n_past() and returns the logits for the next token
  // ([n_vocab], valid until the next call). Throws if the context is full.
  std::span<const float> decode(int32_t token);
  // Runs a whole prompt, max_batch tokens per pass; returns the logits after its last token.
  std::span<const float> prefill(std::span<const int32_t> tokens);
  // Runs up to max_batch tokens and returns the logits after each of them, row by row
  // ([tokens.size(), n_vocab]): what perplexity needs.
  std::span<const float> evaluate(std::span<const int32_t> tokens);
  int64_t max_batch() const { return max_batch_; }
  int threads() const;

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  void reset() { n_past_ = 0; }
  // Forgets everything after the first n tokens (e.g. to rewind an interactive turn).
  void truncate(int64_t n);
  const Model& model() const { return *model_; }

 private:
  const Model* model_;
  int64_t n_ctx_;
  int64_t max_batch_;
  int64_t n_past_ = 0;
  std::unique_ptr<ForwardScratch> scratch_;
};

}  // namespace tern
