#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/exec.hpp"
#include "core/strided.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"

namespace kinema {

DType promote(DType a, DType b) {
  if (a == b && !is_quantized(a)) return a;
  return DType::f32;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    KINEMA_CHECK(da == db || da == 1 || db == 1, op, "shapes ", shape_str(a), " and ", shape_str(b),
          " do not broadcast (axis ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape st(shape.size(), 0);
  size_t lead = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i)
    st[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

namespace {

// Merges adjacent axes that every operand walks contiguously, so most ops become one long row.
void collapse(Shape& shape, std::vector<Shape>& strides) {
  if (shape.empty()) return;
  Shape s{shape[0]};
  std::vector<Shape> st(strides.size());
  for (size_t k = 0; k < strides.size(); ++k) st[k] = {strides[k][0]};
  for (size_t d = 1; d < shape.size(); ++d) {
    bool mergeable = true;
    for (size_t k = 0; k < strides.size(); ++k)
      mergeable = mergeable && st[k].back() == strides[k][d] * shape[d];
    if (mergeable) {
      s.back() *= shape[d];
      for (size_t k = 0; k < strides.size(); ++k) st[k].back() = strides[k][d];
    } else {
      s.push_back(shape[d]);
      for (size_t k = 0; k < strides.size(); ++k) st[k].push_back(strides[k][d]);
    }
  }
  shape = s;
  strides = st;
}

// Calls fn(offsets, n) for runs of at most `block` elements along the innermost axis,
// covering elements [begin, end) of the collapsed iteration space.
template <typename F>
void walk(const Shape& shape, const std::vector<Shape>& strides, int64_t begin, int64_t end,
          int64_t block, F fn) {
  int nd = int(shape.size());
  int64_t inner = nd ? shape.back() : 1;
  int64_t off[4];
  for (int64_t e = begin; e < end;) {
    int64_t row = e / inner, col = e % inner;
    for (size_t k = 0; k < strides.size(); ++k) {
      int64_t o = 0, r = row;
      for (int d = nd - 2; d >= 0; --d) {
        o += (r % shape[d]) * strides[k][d];
        r /= shape[d];
      }
      off[k] = o + (nd ? col * strides[k].back() : 0);
    }
    int64_t n = std::min({inner - col, end - e, block});
    fn(off, n);
    e += n;
  }
}

constexpr int64_t kBlock = 2048;  // f32 row buffers live on the stack of each thread

}  // namespace

Tensor run_binary(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  KINEMA_CHECK(!is_quantized(a.dtype()) && !is_quantized(b.dtype()), name,
        "quantized inputs are weights for matmul only; got ", dtype_name(a.dtype()), " and ",
        dtype_name(b.dtype()));
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, promote(a.dtype(), b.dtype()));
  if (out.numel() == 0) return out;
  std::vector<Shape> st{broadcast_strides(a, shape), broadcast_strides(b, shape), out.strides()};
  collapse(shape, st);
  auto kernel = current_context().reference_kernels() ? binary_f32_ref : binary_f32;
  bool all_f32 = a.dtype() == DType::f32 && b.dtype() == DType::f32 && out.dtype() == DType::f32;
  const uint8_t *pa = a.raw_data(), *pb = b.raw_data();
  uint8_t* po = out.raw_data();
  size_t ea = dtype_size(a.dtype()), eb = dtype_size(b.dtype()), eo = dtype_size(out.dtype());
  int64_t sa = st[0].empty() ? 0 : st[0].back(), sb = st[1].empty() ? 0 : st[1].back();
  parallel_for(out.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    alignas(64) float ba[kBlock], bb[kBlock], bo[kBlock];
    walk(shape, st, begin, end, all_f32 ? INT64_MAX : kBlock, [&](const int64_t* off, int64_t n) {
      if (all_f32) {
        kernel(op, reinterpret_cast<const float*>(pa) + off[0], sa,
               reinterpret_cast<const float*>(pb) + off[1], sb,
               reinterpret_cast<float*>(po) + off[2], n);
        return;
      }
      load_f32_row(pa + off[0] * ea, a.dtype(), sa, ba, sa == 0 ? 1 : n);
      load_f32_row(pb + off[1] * eb, b.dtype(), sb, bb, sb == 0 ? 1 : n);
      kernel(op, ba, sa == 0 ? 0 : 1, bb, sb == 0 ? 0 : 1, bo, n);
      store_f32_row(bo, po + off[2] * eo, out.dtype(), n);
    });
  });
  return out;
}

Tensor run_unary(UnaryOp op, const Tensor& x, float p) {
  KINEMA_CHECK(!is_quantized(x.dtype()), "unary", "quantized tensors are weights for matmul only");
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (out.numel() == 0) return out;
  Shape shape = x.shape();
  std::vector<Shape> st{x.strides(), out.strides()};
  collapse(shape, st);
  auto kernel = current_context().reference_kernels() ? unary_f32_ref : unary_f32;
  int64_t sx = st[0].empty() ? 1 : st[0].back();
  bool direct = x.dtype() == DType::f32 && sx == 1;
  const uint8_t* px = x.raw_data();
  uint8_t* po = out.raw_data();
  size_t es = dtype_size(x.dtype());
  parallel_for(out.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    alignas(64) float bx[kBlock], bo[kBlock];
    walk(shape, st, begin, end, direct ? INT64_MAX : kBlock, [&](const int64_t* off, int64_t n) {
      if (direct) {
        kernel(op, reinterpret_cast<const float*>(px) + off[0],
               reinterpret_cast<float*>(po) + off[1], n, p);
        return;
      }
      load_f32_row(px + off[0] * es, x.dtype(), sx, bx, n);
      kernel(op, bx, bo, n, p);
      store_f32_row(bo, po + off[1] * es, out.dtype(), n);
    });
  });
  return out;
}

namespace {

// The axis, other than the last, along which src is contiguous (a transposed view); -1 if
// none or if the last axis is itself contiguous.
int transposed_axis(const Shape& shape, const std::vector<Shape>& st) {
  const int nd = int(shape.size());
  if (nd < 2 || st[0].back() == 1 || st[1].back() != 1 || shape.back() == 1) return -1;
  for (int d = nd - 2; d >= 0; --d)
    if (st[0][size_t(d)] == 1 && shape[size_t(d)] > 1) return d;
  return -1;
}

// copy_into for a transposed source: square tiles read along src's contiguous axis t and
// written along dst's last axis. The row walk instead gathered one element per cache line
// (a whole row's stride apart): casts of transposed operands were 6-11% of a DiT training step.
void copy_transposed(const Shape& shape, const std::vector<Shape>& st, int t, const Tensor& src,
                     const Tensor& dst) {
  // tiles of kI (along t) x kJ (along the last axis): dst rows are written kJ values at a time,
  // long enough runs for the prefetchers; the tile (16 KiB) stays in L1
  constexpr int64_t kI = 32, kJ = 128;
  const int nd = int(shape.size());
  const int64_t R = shape[size_t(t)], C = shape.back(), ss = st[0].back(), ds = st[1][size_t(t)];
  const int64_t row_tiles = (R + kI - 1) / kI, outer = shape_numel(shape) / (R * C);
  const uint8_t* ps = src.raw_data();
  uint8_t* pd = dst.raw_data();
  const size_t es = dtype_size(src.dtype()), ed = dtype_size(dst.dtype());
  parallel_for(outer * row_tiles, 1, [&](int64_t begin, int64_t end) {
    alignas(64) float tile[kJ * kI], row[kJ];
    for (int64_t task = begin; task < end; ++task) {
      int64_t o = task / row_tiles, i0 = task % row_tiles * kI, so = 0, dof = 0;
      for (int d = nd - 2; d >= 0; --d) {  // unravel the outer index over the other axes
        if (d == t) continue;
        so += o % shape[size_t(d)] * st[0][size_t(d)];
        dof += o % shape[size_t(d)] * st[1][size_t(d)];
        o /= shape[size_t(d)];
      }
      const int64_t ti = std::min(kI, R - i0);
      for (int64_t j0 = 0; j0 < C; j0 += kJ) {
        const int64_t tj = std::min(kJ, C - j0);
        for (int64_t j = 0; j < tj; ++j)  // src column j0 + j: rows i0.. are contiguous
          load_f32_row(ps + (so + i0 + (j0 + j) * ss) * int64_t(es), src.dtype(), 1, tile + j * kI, ti);
        for (int64_t i = 0; i < ti; ++i) {
          for (int64_t j = 0; j < tj; ++j) row[j] = tile[j * kI + i];
          store_f32_row(row, pd + (dof + (i0 + i) * ds + j0) * int64_t(ed), dst.dtype(), tj);
        }
      }
    }
  });
}

}  // namespace

void copy_into(const Tensor& src, const Tensor& dst) {
  Shape shape = src.shape();
  if (shape_numel(shape) == 0) return;
  std::vector<Shape> st{src.strides(), dst.strides()};
  collapse(shape, st);
  if (int t = transposed_axis(shape, st); t >= 0) return copy_transposed(shape, st, t, src, dst);
  int64_t ss = st[0].empty() ? 1 : st[0].back();
  const uint8_t* ps = src.raw_data();
  uint8_t* pd = dst.raw_data();
  size_t es = dtype_size(src.dtype()), ed = dtype_size(dst.dtype());
  bool same = src.dtype() == dst.dtype();
  parallel_for(src.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    alignas(64) float buf[kBlock];
    walk(shape, st, begin, end, kBlock, [&](const int64_t* off, int64_t n) {
      if (same && ss == 1) {
        std::memcpy(pd + off[1] * ed, ps + off[0] * es, size_t(n) * es);
        return;
      }
      load_f32_row(ps + off[0] * es, src.dtype(), ss, buf, n);
      store_f32_row(buf, pd + off[1] * ed, dst.dtype(), n);
    });
  });
}

}  // namespace kinema
