#include <map>

#include "model/forward.h"
#include "model/weights.h"
#include "tern/error.h"
#include "tern/model.h"

namespace tern {

Model::Model(std::unique_ptr<ModelWeights> weights) : weights_(std::move(weights)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::load(const std::filesystem::path& path) {
  return Model(std::make_unique<ModelWeights>(load_weights(GgufFile::open(path))));
}

const ModelConfig& Model::config() const { return weights_->config; }
const Tokenizer& Model::tokenizer() const { return *weights_->tokenizer; }
const std::filesystem::path& Model::path() const { return weights_->file.path(); }

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

Context::Context(const Model& model, int64_t n_ctx)
    : model_(&model), n_ctx_(n_ctx) {
  if (n_ctx <= 0) fail("context size must be positive, got {}", n_ctx);
  scratch_ = std::make_unique<ForwardScratch>(model.weights(), n_ctx);
}
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;

std::span<const float> Context::decode(int32_t token) {
  const auto& w = model_->weights();
  if (n_past_ >= n_ctx_) fail("context is full: {} tokens (raise -c, at most the model's {})", n_ctx_, w.config.context_length);
  if (token < 0 || token >= w.config.n_vocab) fail("token id {} is outside the vocabulary (0..{})", token, w.config.n_vocab - 1);
  forward_token(w, *scratch_, token, n_past_, true);
  ++n_past_;
  return scratch_->logits;
}

std::span<const float> Context::prefill(std::span<const int32_t> tokens) {
  if (tokens.empty()) fail("prefill needs at least one token");
  const auto& w = model_->weights();
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    fail("prompt of {} tokens does not fit the context ({} used of {})", tokens.size(), n_past_, n_ctx_);
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= w.config.n_vocab) fail("token id {} is outside the vocabulary", tokens[i]);
    forward_token(w, *scratch_, tokens[i], n_past_, false);
    ++n_past_;
  }
  return decode(tokens.back());
}

void Context::truncate(int64_t n) {
  if (n < 0 || n > n_past_) fail("cannot truncate context of {} tokens to {}", n_past_, n);
  n_past_ = n;
}

}  // namespace tern
