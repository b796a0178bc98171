#include "model/weights.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "kernels/cpu_features.h"
#include "kernels/dequantize.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"
#include "model/config.h"
#include "tern/error.h"
#include "tokenizer/gguf_vocab.h"

namespace tern {
namespace {

using Dim = int64_t (*)(const ModelConfig&);
int64_t dim(const ModelConfig& c) { return c.dim; }
int64_t q_dim(const ModelConfig& c) { return c.q_dim(); }
int64_t kv_dim(const ModelConfig& c) { return c.kv_dim(); }
int64_t ffn(const ModelConfig& c) { return c.ffn; }

// The per-block tensor table (docs/FORMAT.md 3.2): name suffix, where it goes, shape.
struct BlockLinearSpec {
  const char* suffix;
  Linear BlockWeights::*member;
  Dim n_in;
  Dim n_out;
};
constexpr BlockLinearSpec kBlockLinears[] = {
    {"attn_q", &BlockWeights::attn_q, dim, q_dim},   {"attn_k", &BlockWeights::attn_k, dim, kv_dim},
    {"attn_v", &BlockWeights::attn_v, dim, kv_dim},  {"attn_output", &BlockWeights::attn_output, q_dim, dim},
    {"ffn_gate", &BlockWeights::ffn_gate, dim, ffn}, {"ffn_up", &BlockWeights::ffn_up, dim, ffn},
    {"ffn_down", &BlockWeights::ffn_down, ffn, dim},
};

struct BlockNormSpec {
  const char* suffix;
  std::vector<float> BlockWeights::*member;
  Dim size;
  bool required_for_llama;
};
constexpr BlockNormSpec kBlockNorms[] = {
    {"attn_norm", &BlockWeights::attn_norm, dim, true},
    {"attn_sub_norm", &BlockWeights::attn_sub_norm, q_dim, false},
    {"ffn_norm", &BlockWeights::ffn_norm, dim, true},
    {"ffn_sub_norm", &BlockWeights::ffn_sub_norm, ffn, false},
};

class TensorTable {
 public:
  // Ternary matrices are repacked into `layout`, the one the chosen kernels read.
  TensorTable(const GgufFile& file, TernaryLayout layout) : file_(file), layout_(layout) {}

  const GgufTensorInfo* optional(const std::string& name) {
    const auto* t = file_.find_tensor(name);
    if (t != nullptr) used_.insert(name);
    return t;
  }

  const GgufTensorInfo& required(const std::string& name) {
    const auto* t = optional(name);
    if (t == nullptr) fail("{}: missing required tensor '{}'", file_.name(), name);
    return *t;
  }

  void check_shape(const GgufTensorInfo& t, std::vector<uint64_t> expected) const {
    if (t.ne != expected) {
      GgufTensorInfo want;
      want.ne = expected;
      fail("{}: tensor '{}' has shape {}, expected {}", file_.name(), t.name, t.shape_string(), want.shape_string());
    }
  }

  std::vector<float> norm(const GgufTensorInfo& t, int64_t size) const {
    check_shape(t, {static_cast<uint64_t>(size)});
    if (t.type != TensorType::F32)
      fail("{}: tensor '{}' has type {}, expected F32", file_.name(), t.name, tensor_type_name(t.type));
    std::vector<float> v(static_cast<size_t>(size));
    dequantize_row(TensorType::F32, t.data.data(), v.data(), size);
    return v;
  }

  DenseMatrix dense(const GgufTensorInfo& t, int64_t n_in, int64_t n_rows) const {
    check_shape(t, {static_cast<uint64_t>(n_in), static_cast<uint64_t>(n_rows)});
    if (traits(t.type).ternary)
      fail("{}: tensor '{}' has ternary type {}, expected F32, F16, BF16, Q4_0, Q8_0, Q4_K or Q6_K", file_.name(),
           t.name, tensor_type_name(t.type));
    require_finite_scales(t);
    return DenseMatrix{t.type, t.data.data(), n_in, n_rows};
  }

  Linear linear(const GgufTensorInfo& t, int64_t n_in, int64_t n_out) const {
    check_shape(t, {static_cast<uint64_t>(n_in), static_cast<uint64_t>(n_out)});
    Linear l;
    l.name = t.name;
    l.n_in = n_in;
    l.n_out = n_out;
    l.ternary = traits(t.type).ternary;
    if (!l.ternary) l.dense = dense(t, n_in, n_out);
    return l;  // a ternary linear is packed later, by pack() (in parallel with the others)
  }

  // A block scale of NaN or Inf would make every product with its row NaN.
  void require_finite_scales(const GgufTensorInfo& t) const {
    if (const auto block = first_non_finite_block_scale(t.type, t.data))
      fail("{}: tensor '{}' block {} has a scale that is not finite (NaN or Inf), expected a finite {} scale",
           file_.name(), t.name, *block, tensor_type_name(t.type));
  }

  // Decodes and repacks a ternary linear into the kernels' layout; the packed copy
  // replaces the file's pages.
  void pack(Linear& l) const {
    const GgufTensorInfo& t = *file_.find_tensor(l.name);
    l.packed = TernaryMatrix::from_weights(decode_ternary(t.type, t.data, l.n_in, l.n_out, t.name), layout_);
    file_.mapped().release(t.data);
  }

  // Tensors nobody asked for: an error for tern's own architecture (a misnamed tensor
  // would otherwise be silently ignored), a warning for llama files (e.g. rope_freqs).
  void check_all_used(bool strict, const std::string& arch) const {
    for (const auto& t : file_.tensors()) {
      if (used_.count(t.name)) continue;
      if (strict) fail("{}: unexpected tensor '{}' (not part of the {} architecture)", file_.name(), t.name, arch);
      spdlog::warn("{}: ignoring unused tensor '{}'", file_.name(), t.name);
    }
  }

 private:
  const GgufFile& file_;
  TernaryLayout layout_;
  std::set<std::string> used_;
};

BlockWeights load_block(TensorTable& table, const ModelConfig& c, int64_t index) {
  BlockWeights b;
  const std::string prefix = fmt::format("blk.{}.", index);
  for (const auto& spec : kBlockNorms) {
    const std::string name = prefix + spec.suffix + ".weight";
    const bool required = spec.required_for_llama && c.architecture == "llama";
    const auto* t = required ? &table.required(name) : table.optional(name);
    if (t != nullptr) b.*spec.member = table.norm(*t, spec.size(c));
  }
  for (const auto& spec : kBlockLinears) {
    const std::string name = prefix + spec.suffix + ".weight";
    b.*spec.member = table.linear(table.required(name), spec.n_in(c), spec.n_out(c));
  }
  return b;
}

// All cores, except for tiny models: below a few million weights per token a matrix
// product takes microseconds and handing work to a second core costs about as much as it
// saves (measured: 3M-parameter models decode faster on one thread).
int default_threads(const ModelWeights& w) {
  constexpr uint64_t kMinWeightsForThreads = 20'000'000;
  uint64_t weights_per_token = 0;
  for (const auto& t : w.file.tensors()) weights_per_token += t.n_elements();
  if (weights_per_token * static_cast<uint64_t>(w.config.block_repeat) < kMinWeightsForThreads) return 1;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// A table whose sums would not stay exact for the model's widest linear input gives way
// to the next one down (AVX-512 -> AVX2 -> scalar), with a log line: slower, never wrong.
const KernelTable& exact_kernels(const KernelTable& chosen, int64_t widest_input, const std::string& file) {
  if (widest_input <= chosen.max_exact_input) return chosen;
  const CpuFeatures cpu = detect_cpu_features();
  for (const Isa isa : {Isa::Avx2, Isa::Scalar}) {
    const KernelTable& fallback = kernel_table(isa);
    if (!isa_supported(isa, cpu) || widest_input > fallback.max_exact_input) continue;
    spdlog::warn("{}: linears with {} inputs are too wide for exact {} sums (at most {}); using the {} kernels", file,
                 widest_input, isa_name(chosen.isa), chosen.max_exact_input, isa_name(isa));
    return fallback;
  }
  fail("{}: linears with {} inputs are too wide for exact sums on any kernel (at most {})", file, widest_input,
       kMaxExactInputInt32);
}

// Decoding and repacking weights for the kernels is most of a load. One job per
// ternary linear, and for a Q8_0 head going into the row-group layout (when the kernels
// have a product for it) one per stretch of its rows; the jobs go to the model's
// threads, largest first, each thread taking the next one left. The head's file pages
// are released as its stretches are done (the peak stays about one copy): generation
// reads the packed copy, embedding lookups fault back in only the rows they see. The
// first error (a malformed tensor) is rethrown on the calling thread once all stopped.
struct PackJob {
  int64_t weights;  // for the order: largest first
  std::function<void()> run;
};

std::vector<PackJob> pack_jobs(const TensorTable& table, ModelWeights& w) {
  std::vector<PackJob> jobs;
  for (BlockWeights& b : w.blocks)
    for (const auto& spec : kBlockLinears)
      if (Linear& l = b.*spec.member; l.ternary) jobs.push_back({l.n_in * l.n_out, [&table, &l] { table.pack(l); }});
  if (w.kernels->matmul_q8_groups != nullptr && w.output.type == TensorType::Q8_0) {
    constexpr int64_t kHeadRowsPerJob = 2048;  // a multiple of the 16-row groups
    const DenseMatrix& head = w.output;
    w.output_groups = Q8RowGroups::allocate(head.n_in, head.n_rows);
    const size_t row_bytes = head.row_bytes();
    for (int64_t first = 0; first < head.n_rows; first += kHeadRowsPerJob) {
      const int64_t end = std::min(head.n_rows, first + kHeadRowsPerJob);
      jobs.push_back({(end - first) * head.n_in, [&w, &head, first, end, row_bytes] {
                        w.output_groups->pack_rows(head.data, first, end);
                        w.file.mapped().release({head.data + first * row_bytes, (end - first) * row_bytes});
                      }});
    }
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const PackJob& a, const PackJob& b) { return a.weights > b.weights; });
  return jobs;
}

// Whether one token's weights (ternary codes and the head) stay in the last-level cache
// between tokens: at most half of it, leaving room for the KV cache, activations and
// other tenants. If they do, the kernels do not fetch ahead (TernaryMatrix::streamed).
void mark_streamed_weights(ModelWeights& w, const CacheSizes& cache) {
  uint64_t bytes = w.output.row_bytes() * static_cast<uint64_t>(w.output.n_rows);
  for (const BlockWeights& b : w.blocks)
    for (const auto& spec : kBlockLinears)
      if (const Linear& l = b.*spec.member; l.ternary) bytes += l.packed.bytes();
  const bool streamed = cache.last_level_bytes == 0 || bytes > static_cast<uint64_t>(cache.last_level_bytes / 2);
  for (BlockWeights& b : w.blocks)
    for (const auto& spec : kBlockLinears)
      if (Linear& l = b.*spec.member; l.ternary) l.packed.streamed = streamed;
  spdlog::debug("{}: {} MB of weights per token, last-level cache {} MB: {}", w.file.name(), bytes / 1000000,
                cache.last_level_bytes / 1000000, streamed ? "streamed (kernels fetch ahead)" : "cache-resident");
}

void pack_for_kernels(const TensorTable& table, ModelWeights& w) {
  const std::vector<PackJob> jobs = pack_jobs(table, w);
  ThreadPool pool(w.threads);  // for the packing only: each Context has its own
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  pool.run([&](int, int) {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        jobs[i].run();
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = jobs.size();
      }
    }
  });
  if (error) std::rethrow_exception(error);
}

// The metadata (a whole vocabulary) has been parsed into our own structures: let the
// kernel drop the file pages before the first tensor from the resident set.
void release_header_pages(const GgufFile& file) {
  const uint8_t* base = file.mapped().bytes().data();
  const uint8_t* first = base + file.file_size();
  for (const auto& t : file.tensors()) first = std::min(first, t.data.data());
  file.mapped().release({base, static_cast<size_t>(first - base)});
}

}  // namespace

bool is_model_tensor_name(const std::string& name) {
  if (name == "token_embd.weight" || name == "output_norm.weight" || name == "output.weight") return true;
  if (name.rfind("blk.", 0) != 0) return false;
  const auto dot = name.find('.', 4);
  if (dot == std::string::npos || dot == 4 || name.find_first_not_of("0123456789", 4) != dot) return false;
  const std::string suffix = name.substr(dot + 1);
  for (const auto& spec : kBlockLinears)
    if (suffix == std::string(spec.suffix) + ".weight") return true;
  for (const auto& spec : kBlockNorms)
    if (suffix == std::string(spec.suffix) + ".weight") return true;
  return false;
}

ModelWeights load_weights(GgufFile file, int threads, Isa isa) {
  ModelWeights w(std::move(file));
  w.config = read_model_config(w.file);
  ModelConfig& c = w.config;
  w.kernels = &exact_kernels(kernel_table(isa), std::max({c.dim, c.q_dim(), c.ffn}), w.file.name());
  TensorTable table(w.file, w.kernels->layout);

  const auto& embd = table.required("token_embd.weight");
  if (embd.ne.size() != 2 || embd.ne[0] != static_cast<uint64_t>(c.dim))
    fail("{}: tensor 'token_embd.weight' has shape {}, expected [{}, n_vocab]", w.file.name(), embd.shape_string(),
         c.dim);
  c.n_vocab = static_cast<int64_t>(embd.ne[1]);
  if (w.file.has(c.architecture + ".vocab_size") && w.file.get_uint(c.architecture + ".vocab_size") != embd.ne[1])
    fail("{}: key '{}.vocab_size' is {}, but token_embd.weight has {} rows", w.file.name(), c.architecture,
         w.file.get_uint(c.architecture + ".vocab_size"), embd.ne[1]);
  w.token_embd = table.dense(embd, c.dim, c.n_vocab);
  w.output_norm = table.norm(table.required("output_norm.weight"), c.dim);
  if (const auto* out = table.optional("output.weight")) {
    w.output = table.dense(*out, c.dim, c.n_vocab);
    w.tied_embeddings = false;
  } else {
    w.output = w.token_embd;
  }
  for (int64_t i = 0; i < c.n_blocks; ++i) w.blocks.push_back(load_block(table, c, i));
  table.check_all_used(c.architecture != "llama", c.architecture);

  w.threads = threads > 0 ? threads : default_threads(w);
  pack_for_kernels(table, w);
  mark_streamed_weights(w, detect_cache_sizes());
  w.tokenizer.emplace(read_gguf_vocab(w.file));
  w.file.drop_array_values("tokenizer.ggml.");  // the tokenizer holds its own copy
  release_header_pages(w.file);
  if (w.tokenizer->n_vocab() != c.n_vocab)
    fail("{}: tokenizer has {} tokens but token_embd.weight has {} rows", w.file.name(), w.tokenizer->n_vocab(),
         c.n_vocab);
  return w;
}

}  // namespace tern
