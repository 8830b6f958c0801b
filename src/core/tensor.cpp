#include "kinema/tensor.hpp"

#include <cstring>
#include <limits>

#include "core/context_impl.hpp"
#include "core/quant.hpp"
#include "core/strided.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"

namespace kinema {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    KINEMA_CHECK(d >= 0, "shape", "negative dimension in ", shape_str(s));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      fail("shape", "element count overflows in ", shape_str(s));
    n *= d;
  }
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int i = int(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i] ? s[i] : 1;
  }
  return st;
}

Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  pool_ = current_context().impl().pool;
  data_ = pool_->allocate(nbytes, &rounded_);
}
Storage::Storage(uint8_t* data, size_t nbytes, std::shared_ptr<const void> owner)
    : data_(data), nbytes_(nbytes), owner_(std::move(owner)) {}
Storage::~Storage() {
  if (pool_) pool_->release(data_, rounded_);
}

static size_t storage_bytes(const Shape& shape, DType dtype) {
  int64_t n = shape_numel(shape);
  if (is_quantized(dtype))
    KINEMA_CHECK(!shape.empty() && shape.back() % kQuantBlock == 0, "tensor", dtype_name(dtype),
          " needs the last dimension to be a multiple of 32; got ", shape_str(shape));
  constexpr int64_t kMaxBytes = int64_t(1) << 46;  // 64 TiB: anything larger is a size bug
  int64_t bytes = n / block_elems(dtype) * int64_t(block_bytes(dtype));
  KINEMA_CHECK(n <= kMaxBytes / 4 && bytes <= kMaxBytes, "tensor", "size ", shape_str(shape),
        " is too large to allocate");
  return size_t(bytes);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(storage_bytes(shape, dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.storage()->nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, DType dtype) {
  KINEMA_CHECK(!is_quantized(dtype), "full", "cannot fill a quantized tensor; fill f32 and convert");
  Tensor t = empty(shape, dtype);
  int64_t n = t.numel();
  uint8_t* p = t.raw_data();
  if (dtype == DType::f32) {
    for (int64_t i = 0; i < n; ++i) reinterpret_cast<float*>(p)[i] = value;
  } else {
    uint16_t bits = dtype == DType::bf16 ? f32_to_bf16(value).bits : f32_to_f16(value).bits;
    for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(p)[i] = bits;
  }
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype) {
  int64_t n = shape_numel(shape);
  KINEMA_CHECK(int64_t(values.size()) == n, "from_vector", "got ", values.size(), " values for shape ",
        shape_str(shape), " (", n, " elements)");
  Tensor t = empty(shape, dtype);
  if (is_quantized(dtype)) {
    quantize_row(values.data(), t.raw_data(), n, int(dtype));
  } else {
    store_f32_row(values.data(), t.raw_data(), dtype, n);
  }
  return t;
}

const Shape& Tensor::shape() const { return impl_->shape; }
const Shape& Tensor::strides() const { return impl_->strides; }
DType Tensor::dtype() const { return impl_->dtype; }
int64_t Tensor::offset() const { return impl_->offset; }
const std::shared_ptr<Storage>& Tensor::storage() const { return impl_->storage; }
int64_t Tensor::numel() const { return shape_numel(impl_->shape); }

int64_t Tensor::size(int axis) const {
  int nd = ndim();
  KINEMA_CHECK(axis >= -nd && axis < nd, "size", "axis ", axis, " out of range for shape ",
        shape_str(shape()));
  return shape()[axis < 0 ? axis + nd : axis];
}

bool Tensor::is_contiguous() const {
  const Shape& sh = shape();
  const Shape& st = strides();
  int64_t acc = 1;
  for (int i = int(sh.size()) - 1; i >= 0; --i) {
    if (sh[i] != 1 && st[i] != acc) return false;
    acc *= sh[i];
  }
  return true;
}

uint8_t* Tensor::raw_data() const {
  DType t = dtype();
  return impl_->storage->data() + impl_->offset / block_elems(t) * int64_t(block_bytes(t));
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  if (is_quantized(dtype())) {
    KINEMA_CHECK(is_contiguous(), "to_vector", "quantized tensors must be contiguous");
    dequantize_row(raw_data(), out.data(), numel(), int(dtype()));
    return out;
  }
  gather_to_f32(*this, out.data());
  return out;
}

float Tensor::item() const {
  KINEMA_CHECK(numel() == 1, "item", "needs a one-element tensor; got shape ", shape_str(shape()));
  return to_vector()[0];
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
Tensor& Tensor::set_requires_grad(bool on) {
  impl_->requires_grad = on;
  return *this;
}
Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) const { impl_->grad = g.impl_; }
void Tensor::zero_grad() const { impl_->grad.reset(); }
Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) const {
  impl_->grad_fn = std::move(node);
  impl_->requires_grad = impl_->grad_fn != nullptr;
}

}  // namespace kinema
