#include <map>

#include "kernels/cpu_features.h"
#include "model/forward.h"
#include "model/model_internals.h"
#include "model/weights.h"
#include "tern/error.h"
#include "tern/model.h"

namespace tern {
namespace {

Isa choose_isa(const std::string& name) {
  if (name.empty()) return select_isa();
  for (Isa isa : kAllIsas) {
    if (isa_name(isa) != name) continue;
    if (!isa_supported(isa, detect_cpu_features())) fail("instruction set {} is not supported by this CPU", name);
    return isa;
  }
  fail("unknown instruction set '{}' (expected scalar, avx2, avx512, neon, dotprod or i8mm)", name);
}

// How finely a ternary type scales its weights.
const char* ternary_scale_granularity(TensorType type) {
  if (type == TensorType::TERN2R) return "one per row";
  if (type == TensorType::TERN2 || type == TensorType::I2_S) return "one per tensor";
  return "one per 256-weight block";
}

}  // namespace

Model::Model(std::unique_ptr<ModelWeights> weights) : weights_(std::move(weights)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::load(const std::filesystem::path& path, const LoadOptions& options) {
  const Isa isa = choose_isa(options.isa);
  return Model(std::make_unique<ModelWeights>(load_weights(GgufFile::open(path), options.threads, isa)));
}

const ModelConfig& Model::config() const { return weights_->config; }
const Tokenizer& Model::tokenizer() const { return *weights_->tokenizer; }
const std::filesystem::path& Model::path() const { return weights_->file.path(); }
std::string_view Model::isa() const { return isa_name(weights_->kernels->isa); }
int Model::threads() const { return weights_->threads; }

ModelSummary Model::summary() const {
  const ModelWeights& w = *weights_;
  ModelSummary s;
  s.file_bytes = w.file.file_size();
  std::map<std::string, TensorTypeUsage> usage;
  uint64_t block_params = 0;
  for (const auto& t : w.file.tensors()) {
    auto& u = usage[std::string(tensor_type_name(t.type))];
    u.type = tensor_type_name(t.type);
    u.ternary = traits(t.type).ternary;
    if (u.ternary) u.ternary_scales = ternary_scale_granularity(t.type);
    u.n_tensors += 1;
    u.n_weights += t.n_elements();
    u.n_bytes += t.n_bytes;
    s.unique_parameters += t.n_elements();
    if (t.name.rfind("blk.", 0) == 0) block_params += t.n_elements();
  }
  s.effective_parameters = s.unique_parameters + block_params * static_cast<uint64_t>(w.config.block_repeat - 1);
  for (auto& [name, u] : usage) s.by_type.push_back(u);
  return s;
}

const ModelWeights& weights_of(const Model& model) { return *model.weights_; }

Context::Context(const Model& model, const ContextParams& params)
    : model_(&model), n_ctx_(params.n_ctx), max_batch_(params.max_batch) {
  if (params.n_ctx <= 0) fail("context size must be positive, got {}", params.n_ctx);
  if (params.max_batch <= 0) fail("batch size must be positive, got {}", params.max_batch);
  if (params.threads < 0) fail("thread count must be 0 (the model's default) or positive, got {}", params.threads);
  scratch_ = std::make_unique<ForwardScratch>(weights_of(model), params.n_ctx, params.max_batch, params.kv_type,
                                              params.threads);
}

Context::Context(const Model& model, int64_t n_ctx, int64_t max_batch, KvType kv_type)
    : Context(model, ContextParams{n_ctx, max_batch, kv_type, 0}) {}

int Context::threads() const { return scratch_->pool->size(); }
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;

namespace {

void check_tokens(const ModelWeights& w, std::span<const int32_t> tokens) {
  for (int32_t t : tokens)
    if (t < 0 || t >= w.config.n_vocab) fail("token id {} is outside the vocabulary (0..{})", t, w.config.n_vocab - 1);
}

}  // namespace

std::span<const float> Context::decode(int32_t token) { return prefill(std::span<const int32_t>(&token, 1)); }

std::span<const float> Context::prefill(std::span<const int32_t> tokens) {
  const auto& w = weights_of(*model_);
  if (tokens.empty()) fail("prefill needs at least one token");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    fail("{} more tokens do not fit the context: {} of {} used (raise -c, at most the model's {})", tokens.size(),
         n_past_, n_ctx_, w.config.context_length);
  check_tokens(w, tokens);
  prefill_sequence(w, *scratch_, tokens, n_past_);
  n_past_ += static_cast<int64_t>(tokens.size());
  return {scratch_->logits.get(), static_cast<size_t>(w.config.n_vocab)};
}

std::span<const float> Context::evaluate(std::span<const int32_t> tokens) {
  const auto& w = weights_of(*model_);
  if (tokens.empty() || static_cast<int64_t>(tokens.size()) > max_batch_)
    fail("evaluate takes 1..{} tokens, got {}", max_batch_, tokens.size());
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    fail("{} more tokens do not fit the context: {} of {} used", tokens.size(), n_past_, n_ctx_);
  check_tokens(w, tokens);
  forward_batch(w, *scratch_, tokens, n_past_, Logits::All);
  n_past_ += static_cast<int64_t>(tokens.size());
  return {scratch_->logits.get(), tokens.size() * static_cast<size_t>(w.config.n_vocab)};
}

void Context::truncate(int64_t n) {
  if (n < 0 || n > n_past_) fail("cannot truncate context of {} tokens to {}", n_past_, n);
  n_past_ = n;
}

}  // namespace tern
