// Single kernel products for the micro-benchmarks (tern/bench.h): random matrices and
// activations in the kernels' own formats, behind an opaque handle.
#include <functional>
#include <random>
#include <vector>

#include "io/tensor_type.h"
#include "kernels/aligned_buffer.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/q8_row_groups.h"
#include "kernels/ternary_matrix.h"
#include "tern/bench.h"

namespace tern {

struct KernelProduct::State {
  std::function<void()> run;
  double weights = 0;
  double bytes = 0;
};

KernelProduct::KernelProduct(std::unique_ptr<State> state) : state_(std::move(state)) {}
KernelProduct::KernelProduct(KernelProduct&&) noexcept = default;
KernelProduct& KernelProduct::operator=(KernelProduct&&) noexcept = default;
KernelProduct::~KernelProduct() = default;

void KernelProduct::run() { state_->run(); }
double KernelProduct::weights() const { return state_->weights; }
double KernelProduct::bytes() const { return state_->bytes; }

namespace {

// The kernels of `name` when this CPU runs them.
const KernelTable* supported_kernels(const std::string& name) {
  for (Isa isa : kAllIsas)
    if (isa_name(isa) == name) return isa_supported(isa, detect_cpu_features()) ? &kernel_table(isa) : nullptr;
  return nullptr;
}

TernaryMatrix random_matrix(int64_t n_in, int64_t rows, TernaryLayout layout) {
  std::mt19937 rng(7);
  TernaryWeights w;
  w.n_in = n_in;
  w.n_rows = rows;
  w.group = n_in;
  w.weights.resize(static_cast<size_t>(n_in * rows));
  for (auto& x : w.weights) x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  w.scales.assign(static_cast<size_t>(rows), 0.01f);
  return TernaryMatrix::from_weights(w, layout);
}

struct Activations {
  AlignedBuffer<int8_t> q, prepared;
  std::vector<float> scale;
  PreparedActivations view;
};

std::shared_ptr<Activations> random_activations(const KernelTable& k, int64_t n_in, int64_t n_tok) {
  std::mt19937 rng(3);
  auto a = std::make_shared<Activations>();
  const int64_t n_in_padded = padded_to_chunks(n_in), stride = k.prepared_bytes(n_in);
  a->q.assign(static_cast<size_t>(n_in_padded * n_tok));
  a->prepared.assign(static_cast<size_t>(stride * n_tok));
  a->scale.assign(static_cast<size_t>(n_tok), 0.02f);
  for (size_t i = 0; i < a->q.size(); ++i) a->q[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  for (int64_t t = 0; t < n_tok; ++t)
    k.prepare_ternary(a->q.data() + t * n_in_padded, n_in, a->prepared.data() + t * stride);
  a->view = {a->prepared.data(), a->scale.data(), stride, n_tok};
  return a;
}

}  // namespace

std::optional<KernelProduct> KernelProduct::ternary(const std::string& isa, int64_t n_in, int64_t rows, int64_t tokens,
                                                    size_t min_bytes) {
  const KernelTable* k = supported_kernels(isa);
  if (!k) return std::nullopt;
  auto copies = std::make_shared<std::vector<TernaryMatrix>>(1, random_matrix(n_in, rows, k->layout));
  while (copies->size() * (*copies)[0].codes.size() < min_bytes) copies->push_back((*copies)[0]);
  auto activations = random_activations(*k, n_in, tokens);
  auto y = std::make_shared<std::vector<float>>(static_cast<size_t>(rows * tokens));
  auto state = std::make_unique<State>();
  state->run = [k, copies, activations, y, next = size_t{0}]() mutable {
    const TernaryMatrix& w = (*copies)[next];
    next = (next + 1) % copies->size();
    k->matmul_ternary(w, activations->view, 0, w.n_rows, y->data(), w.n_rows);
  };
  state->weights = static_cast<double>(n_in * rows * tokens);
  state->bytes = static_cast<double>((*copies)[0].codes.size());
  return KernelProduct(std::move(state));
}

std::optional<KernelProduct> KernelProduct::dense(const std::string& isa, const std::string& type_name, int64_t n_in,
                                                  int64_t rows) {
  const KernelTable* k = supported_kernels(isa);
  const auto type = tensor_type_from_name(type_name);
  if (!k || !type) return std::nullopt;
  auto data = std::make_shared<std::vector<uint8_t>>(row_bytes(*type, n_in) * rows, 0);
  auto x = std::make_shared<std::vector<float>>(static_cast<size_t>(n_in), 0.5f);
  auto y = std::make_shared<std::vector<float>>(static_cast<size_t>(rows));
  auto state = std::make_unique<State>();
  state->run = [k, type = *type, data, x, y, n_in, rows] {
    k->matmul_dense(type, data->data(), n_in, x->data(), n_in, 1, 0, rows, y->data(), rows);
  };
  state->weights = static_cast<double>(n_in * rows);
  state->bytes = static_cast<double>(data->size());
  return KernelProduct(std::move(state));
}

std::optional<KernelProduct> KernelProduct::q8_row_groups(int64_t n_in, int64_t rows, int64_t tokens) {
  const KernelTable* k = supported_kernels("avx512");
  if (!k || k->matmul_q8_groups == nullptr) return std::nullopt;
  std::vector<uint8_t> data(row_bytes(TensorType::Q8_0, n_in) * rows);
  std::mt19937 rng(5);
  for (auto& b : data) b = static_cast<uint8_t>(rng() & 0x3f);  // small scales, any weights
  auto w = std::make_shared<Q8RowGroups>(Q8RowGroups::from_q8_0(data.data(), n_in, rows));
  auto x = std::make_shared<std::vector<float>>(static_cast<size_t>(n_in * tokens), 0.5f);
  auto y = std::make_shared<std::vector<float>>(static_cast<size_t>(rows * tokens));
  auto state = std::make_unique<State>();
  state->run = [k, w, x, y, n_in, rows, tokens] {
    k->matmul_q8_groups(*w, x->data(), n_in, tokens, 0, rows, y->data(), rows);
  };
  state->weights = static_cast<double>(n_in * rows * tokens);
  state->bytes = static_cast<double>(data.size());
  return KernelProduct(std::move(state));
}

}  // namespace tern
