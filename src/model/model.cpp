#include <map>

#include "kernels/cpu_features.h"
#include "model/forward.h"
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
int Model::threads() const { return weights_->pool->size(); }

ModelSummary Model::summary() const {
  const ModelWeights& w = *weights_;
  ModelSummary s;
  s.file_bytes = w.file.file_size();
  std::map<std::string, TensorTypeUsage> usage;
  uint64_t block_params = 0;
  for (const auto& t : w.file.tensors()) {
    auto& u = usage[std::string(tensor_type_name(t.type))];
    u.type = tensor_type_name(t.type);
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

Context::Context(const Model& model, int64_t n_ctx, int64_t max_batch, KvType kv_type)
    : model_(&model), n_ctx_(n_ctx), max_batch_(max_batch) {
  if (n_ctx <= 0) fail("context size must be positive, got {}", n_ctx);
  if (max_batch <= 0) fail("batch size must be positive, got {}", max_batch);
  scratch_ = std::make_unique<ForwardScratch>(model.weights(), n_ctx, max_batch, kv_type);
}
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
  const auto& w = model_->weights();
  if (tokens.empty()) fail("prefill needs at least one token");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    fail("{} more tokens do not fit the context: {} of {} used (raise -c, at most the model's {})", tokens.size(),
         n_past_, n_ctx_, w.config.context_length);
  check_tokens(w, tokens);
  for (size_t begin = 0; begin < tokens.size(); begin += static_cast<size_t>(max_batch_)) {
    const auto batch = tokens.subspan(begin, std::min<size_t>(static_cast<size_t>(max_batch_), tokens.size() - begin));
    const bool last = begin + batch.size() == tokens.size();
    forward_batch(w, *scratch_, batch, n_past_, last ? Logits::Last : Logits::None);
    n_past_ += static_cast<int64_t>(batch.size());
  }
  return {scratch_->logits.get(), static_cast<size_t>(w.config.n_vocab)};
}

std::span<const float> Context::evaluate(std::span<const int32_t> tokens) {
  const auto& w = model_->weights();
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
