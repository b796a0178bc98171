#include "convert/model_draft.h"

#include <algorithm>
#include <cmath>

namespace tern {

uint64_t DraftTensor::n_elements() const {
  uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

const DraftTensor* ModelDraft::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

DraftTensor* ModelDraft::find(const std::string& name) {
  return const_cast<DraftTensor*>(static_cast<const ModelDraft*>(this)->find(name));
}

std::vector<std::string> ModelDraft::tern_only_features() const {
  std::vector<std::string> features;
  if (config.linear_norm) features.push_back("in-linear norm (mobilellm.linear_norm)");
  if (config.activation != FfnActivation::Silu) features.push_back("relu2 activation");
  for (const auto& t : tensors)
    if (t.name.find("sub_norm") != std::string::npos) {
      features.push_back("BitNet sub-norms");
      break;
    }
  for (int64_t b = 0; b < config.n_blocks; ++b)
    if (!find("blk." + std::to_string(b) + ".attn_norm.weight") ||
        !find("blk." + std::to_string(b) + ".ffn_norm.weight")) {
      features.push_back("blocks without attn_norm/ffn_norm");
      break;
    }
  return features;
}

ModelDraft unshare_blocks(const ModelDraft& draft) {
  ModelDraft out;
  out.config = draft.config;
  out.vocab = draft.vocab;
  out.source = draft.source;
  const int64_t repeat = draft.config.block_repeat;
  out.config.n_blocks = draft.config.n_blocks * repeat;
  out.config.block_repeat = 1;
  for (const auto& t : draft.tensors) {
    if (t.name.rfind("blk.", 0) != 0) {
      out.tensors.push_back(t);
      continue;
    }
    const auto dot = t.name.find('.', 4);
    const int64_t block = std::stoll(t.name.substr(4, dot - 4));
    for (int64_t copy = 0; copy < repeat; ++copy) {
      DraftTensor c = t;
      c.name = "blk." + std::to_string(block * repeat + copy) + t.name.substr(dot);
      out.tensors.push_back(std::move(c));
    }
  }
  return out;
}

TernaryWeights ternarize_absmean(const std::vector<float>& values, int64_t n_in, int64_t n_rows) {
  double total = 0;
  for (float v : values) total += std::fabs(v);
  const float scale = std::max(static_cast<float>(total / static_cast<double>(values.size())), 1e-5f);
  TernaryWeights w;
  w.n_in = n_in;
  w.n_rows = n_rows;
  w.group = n_in;
  w.weights.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    w.weights[i] = static_cast<int8_t>(std::clamp(std::nearbyint(values[i] / scale), -1.0f, 1.0f));
  w.scales.assign(static_cast<size_t>(n_rows), scale);
  return w;
}

}  // namespace tern
