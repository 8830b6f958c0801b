// Tensor: a typed, strided view of a reference-counted buffer: 64-byte aligned from the
// allocator, or a range of a memory-mapped weights file (element-aligned only; see Storage).
// Shapes are listed outermost first, as in PyTorch, so they match checkpoints: [B, N, D].
// Strides are in elements. Quantized tensors (q8_0, q4_0) are always contiguous and blocked
// along the last dimension, which must be a multiple of 32.
// Autograd state (requires_grad, the node that produced the tensor, the accumulated grad)
// lives beside the data; see kinema/autograd.hpp.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kinema/dtype.hpp"

namespace kinema {

using Shape = std::vector<int64_t>;
class Pool;

std::string shape_str(const Shape& s);  // "[2, 77, 4096]"
int64_t shape_numel(const Shape& s);    // throws Error on negative dims or overflow
Shape contiguous_strides(const Shape& s);

// A buffer from the context's allocator; freed blocks go back to its pool for reuse. Or memory
// owned elsewhere: weights loaded from a memory-mapped file (kinema/tensor_file.hpp) point into
// the mapping, which `owner` keeps alive; such storage is aligned to its elements only (kernels
// read with unaligned loads), and writing to it copies the page, never touching the file.
class Storage {
 public:
  explicit Storage(size_t nbytes);
  Storage(uint8_t* data, size_t nbytes, std::shared_ptr<const void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  uint8_t* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool is_mapped() const { return owner_ != nullptr; }  // memory owned elsewhere (a mapped file)

 private:
  uint8_t* data_ = nullptr;
  size_t nbytes_ = 0, rounded_ = 0;
  std::shared_ptr<Pool> pool_;          // keeps the pool alive for release
  std::shared_ptr<const void> owner_;   // or keeps the mapping alive
};

struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Memory is uninitialised for empty().
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, float value, DType dtype = DType::f32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            DType dtype = DType::f32);
  static Tensor scalar(float value, DType dtype = DType::f32) { return full({}, value, dtype); }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t size(int axis) const;  // negative axes count from the end
  int ndim() const { return int(shape().size()); }
  int64_t numel() const;
  DType dtype() const;
  bool is_contiguous() const;
  int64_t offset() const;  // in elements from the start of storage
  const std::shared_ptr<Storage>& storage() const;

  // Typed access to the first element of this view (not for quantized tensors).
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(raw_data());
  }
  uint8_t* raw_data() const;  // first byte of this view

  std::vector<float> to_vector() const;  // any dtype, any layout -> f32, row-major
  float item() const;                    // the value of a one-element tensor

  // A new view of the same storage with different shape/strides (no checks; used by view ops).
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // Autograd (see kinema/autograd.hpp).
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const;  // accumulated gradient of a leaf; undefined before the first backward
  void set_grad(const Tensor& g) const;
  void zero_grad() const;
  Tensor detach() const;  // same data, no autograd history
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node) const;
  const TensorImpl* id() const { return impl_.get(); }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  Shape shape, strides;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
};

}  // namespace kinema
