// embedding: row gather; its vjp scatter-adds the cotangent rows back (repeated ids add up).
#include <cassert>
#include <cstring>

#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor embedding(const Tensor& weight, const std::vector<int32_t>& ids, const Shape& ids_shape) {
  KINEMA_CHECK(weight.ndim() == 2, "embedding", "weight must be [vocab, dim]; got ",
        shape_str(weight.shape()));
  KINEMA_CHECK(shape_numel(ids_shape) == int64_t(ids.size()), "embedding", "ids shape ",
        shape_str(ids_shape), " does not hold ", ids.size(), " ids");
  int64_t V = weight.size(0), D = weight.size(1);
  for (size_t i = 0; i < ids.size(); ++i)
    KINEMA_CHECK(ids[i] >= 0 && ids[i] < V, "embedding", "id ", ids[i], " at position ", i,
          " is outside the vocabulary [0, ", V, ")");
  // A quantized table is gathered in its own blocks (a row is D / 32 whole blocks: kinema
  // quantizes only such matrices) and only the gathered rows are dequantized: casting the whole
  // table first made a 4 GiB f32 copy of a q8_0 umT5-XXL's 256384 x 4096 embedding per prompt.
  const bool quantized = is_quantized(weight.dtype());
  assert(!quantized || D % block_elems(weight.dtype()) == 0);
  Tensor w = contiguous(weight.detach());
  Shape out_shape = ids_shape;
  out_shape.push_back(D);
  Tensor out = Tensor::empty(quantized ? Shape{int64_t(ids.size()), D} : out_shape, w.dtype());
  const size_t row = size_t(D / block_elems(w.dtype())) * block_bytes(w.dtype());
  for (size_t i = 0; i < ids.size(); ++i)
    std::memcpy(out.raw_data() + i * row, w.raw_data() + size_t(ids[i]) * row, row);
  if (quantized) out = reshape(cast(out, DType::f32), out_shape);  // [..., D]
  return record(out, "embedding", {weight}, [ids, V, D, wt = weight.dtype()](const Tensor& g) {
    Tensor gf = as_f32_contiguous(g);
    Tensor gw = Tensor::zeros({V, D});
    float* pw = gw.data<float>();
    const float* pg = gf.data<float>();
    for (size_t i = 0; i < ids.size(); ++i)
      for (int64_t j = 0; j < D; ++j) pw[ids[i] * D + j] += pg[int64_t(i) * D + j];
    return std::vector<Tensor>{cast(gw, wt)};
  });
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target) {
  KINEMA_CHECK(prediction.shape() == target.shape(), "mse_loss", "prediction ",
        shape_str(prediction.shape()), " and target ", shape_str(target.shape()), " differ");
  return mean(square(sub(prediction, target)));
}

Tensor cross_entropy(const Tensor& logits, const std::vector<int32_t>& targets) {
  KINEMA_CHECK(logits.ndim() == 2, "cross_entropy", "logits must be [N, C]; got ",
        shape_str(logits.shape()));
  int64_t N = logits.size(0), C = logits.size(1);
  KINEMA_CHECK(int64_t(targets.size()) == N, "cross_entropy", targets.size(), " targets for ", N, " rows");
  std::vector<float> onehot(size_t(N * C), 0.f);
  for (int64_t i = 0; i < N; ++i) {
    KINEMA_CHECK(targets[size_t(i)] >= 0 && targets[size_t(i)] < C, "cross_entropy", "target ",
          targets[size_t(i)], " outside [0, ", C, ")");
    onehot[size_t(i * C + targets[size_t(i)])] = -1.f / float(N);
  }
  // mean over rows of -log_softmax[target]
  return sum(mul(log_softmax(logits, -1), Tensor::from_vector(onehot, {N, C})));
}

namespace {

std::vector<OpCase> embedding_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor w = test_input({11, 8}, t, 1000);
    std::vector<int32_t> ids{3, 0, 10, 3, 7, 3};
    OpCase c;
    c.repro = "embedding(w=" + describe(w) + ", ids=[2,3] with repeats)";
    c.inputs = {w};
    c.run = [ids](const std::vector<Tensor>& in) { return embedding(in[0], ids, {2, 3}); };
    c.torch = "lambda w: F.embedding(torch.tensor([[3, 0, 10], [3, 7, 3]]), w)";
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> mse_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor p = test_input({4, 33}, t, 1010, Layout::strided), q = test_input({4, 33}, t, 1011);
    OpCase c;
    c.repro = "mse_loss(p=" + describe(p) + ", t=" + describe(q) + ")";
    c.inputs = {p, q};
    c.run = [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); };
    c.torch = "lambda p, t: F.mse_loss(p, t)";
    c.reduction = 132;
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> cross_entropy_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = test_input({5, 9}, t, 1020, Layout::strided, -3.f, 3.f);
    std::vector<int32_t> y{0, 8, 3, 3, 5};
    OpCase c;
    c.repro = "cross_entropy(logits=" + describe(x) + ")";
    c.inputs = {x};
    c.run = [y](const std::vector<Tensor>& in) { return cross_entropy(in[0], y); };
    c.torch = "lambda x: F.cross_entropy(x, torch.tensor([0, 8, 3, 3, 5]))";
    c.reduction = 45;
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

extern const OpDef kOpEmbedding{"embedding", embedding_cases};
extern const OpDef kOpMseLoss{"mse_loss", mse_cases};
extern const OpDef kOpCrossEntropy{"cross_entropy", cross_entropy_cases};

}  // namespace kinema
