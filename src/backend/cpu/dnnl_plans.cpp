#include "backend/cpu/dnnl_plans.hpp"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/context_impl.hpp"
#include "core/denormals.hpp"
#include "kinema/error.hpp"
#include "kinema/tensor.hpp"

namespace kinema {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

// A matmul plan's key: every MatmulDesc field that shapes the primitive, as plain integers
// (batch, m, n, k, a strides, b strides, ldc, dtypes and accumulate). Hashing 12 integers per
// call instead of printing them into a string keeps kinema::matmul within a few percent of
// calling oneDNN directly.
using MatmulKey = std::array<int64_t, 12>;
struct MatmulKeyHash {
  size_t operator()(const MatmulKey& k) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the integers
    for (int64_t v : k) h = (h ^ uint64_t(v)) * 1099511628211ull;
    return size_t(h);
  }
};

// A matmul primitive with its memory objects, made once; each call only points them at its
// data (set_data_handle). A context's plans serve one thread at a time.
struct MatmulPlan {
  dnnl::primitive prim;
  memory a, b, c, bias;
  std::unordered_map<int, memory> args;  // the same objects, by oneDNN argument
};

struct DnnlState {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<MatmulKey, MatmulPlan, MatmulKeyHash> matmuls;
  std::unordered_set<MatmulKey, MatmulKeyHash> matmul_unsupported;
  // convolutions run in the blocked layouts oneDNN picks (format any); the plan remembers
  // them so execution can reorder in and out
  struct ConvPlan {
    dnnl::primitive prim;
    memory::desc in0, in1, out0;
    bool pad_time_by_hand = false;  // no primitive: run on an input padded in time (below)
  };
  std::unordered_map<std::string, ConvPlan> conv_plans;
  std::unordered_map<std::string, bool> unsupported;
};

namespace {

DnnlState& state(Context& ctx) {
  auto& impl = ctx.impl();
  if (!impl.dnnl)
    impl.dnnl = std::unique_ptr<DnnlState, void (*)(DnnlState*)>(
        new DnnlState(), +[](DnnlState* s) { delete s; });
  return *impl.dnnl;
}

memory::data_type dt(DType t) {
  switch (t) {
    case DType::f32: return memory::data_type::f32;
    case DType::bf16: return memory::data_type::bf16;
    case DType::f16: return memory::data_type::f16;
    default: fail("dnnl", "dtype ", dtype_name(t), " has no oneDNN equivalent");
  }
}

// oneDNN's "ref:" implementations are naive loops (bf16 on a CPU without AVX512_BF16 lands
// there and runs ~100x slower than f32); treat them as unsupported so callers use f32 instead.
struct SlowImplementation {};
template <typename PD>
const PD& reject_reference(const PD& pd) {
  std::string impl = pd.impl_info_str();
  if (std::getenv("KINEMA_VERBOSE")) std::fprintf(stderr, "[dnnl] new plan: %s\n", impl.c_str());
  if (impl.rfind("ref", 0) == 0) throw SlowImplementation{};
  return pd;
}

void set_threads(Context& ctx) {
  if (omp_get_max_threads() != ctx.threads()) omp_set_num_threads(ctx.threads());
  flush_denormals_in_team(ctx.threads());
}

}  // namespace

bool cpu_has_bf16_dot() {
  static const bool has = __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
  return has;
}

namespace {

MatmulKey matmul_key(const MatmulDesc& d) {
  const int64_t ldc = d.c_ld ? d.c_ld : d.n;
  return {d.batch, d.m, d.n, d.k, d.a_strides[0], d.a_strides[1], d.a_strides[2],
          d.b_strides[0], d.b_strides[1], d.b_strides[2], ldc,
          int64_t(d.ab) | int64_t(d.c) << 8 | int64_t(d.accumulate) << 16 | int64_t(d.bias) << 17};
}

MatmulPlan make_matmul_plan(const MatmulDesc& d, const dnnl::engine& eng) {
  const int64_t ldc = d.c_ld ? d.c_ld : d.n;
  memory::dims ad{d.a_strides[0] ? d.batch : 1, d.m, d.k};
  memory::dims bd{d.b_strides[0] ? d.batch : 1, d.k, d.n};
  memory::dims cd{d.batch, d.m, d.n};
  // A broadcast operand has batch dim 1; give it the dense stride (oneDNN's fast kernels
  // reject a 0 stride even on a size-1 dim).
  auto bstride = [](int64_t s, int64_t rows, int64_t cols) { return s ? s : rows * cols; };
  memory::desc amd(ad, dt(d.ab), memory::dims{bstride(d.a_strides[0], d.m, d.k), d.a_strides[1], d.a_strides[2]});
  memory::desc bmd(bd, dt(d.ab), memory::dims{bstride(d.b_strides[0], d.k, d.n), d.b_strides[1], d.b_strides[2]});
  memory::desc cmd(cd, dt(d.c), memory::dims{d.m * ldc, ldc, 1});
  dnnl::primitive_attr attr;
  if (d.accumulate) {
    dnnl::post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  const memory::desc zmd(memory::dims{1, 1, d.n}, memory::data_type::f32, memory::dims{d.n, d.n, 1});
  dnnl::matmul::primitive_desc pd(d.bias ? dnnl::matmul::desc(amd, bmd, zmd, cmd) : dnnl::matmul::desc(amd, bmd, cmd),
                                  attr, eng);
  MatmulPlan p{dnnl::matmul(reject_reference(pd)), memory(amd, eng, DNNL_MEMORY_NONE),
               memory(bmd, eng, DNNL_MEMORY_NONE), memory(cmd, eng, DNNL_MEMORY_NONE),
               memory(zmd, eng, DNNL_MEMORY_NONE), {}};
  p.args = {{DNNL_ARG_SRC, p.a}, {DNNL_ARG_WEIGHTS, p.b}, {DNNL_ARG_DST, p.c}};
  if (d.bias) p.args.emplace(DNNL_ARG_BIAS, p.bias);
  return p;
}

// The plan for d, built on a miss; null when oneDNN has no fast implementation for it.
MatmulPlan* matmul_plan(Context& ctx, const MatmulDesc& d) {
  DnnlState& s = state(ctx);
  const MatmulKey key = matmul_key(d);
  auto it = s.matmuls.find(key);
  if (it != s.matmuls.end()) {
    ++ctx.impl().plan_hits;
    return &it->second;
  }
  if (s.matmul_unsupported.count(key)) return nullptr;
  ++ctx.impl().plan_misses;
  try {
    return &s.matmuls.emplace(key, make_matmul_plan(d, s.engine)).first->second;
  } catch (const dnnl::error&) {
    // e.g. bf16 on a CPU without it: the caller falls back
  } catch (const SlowImplementation&) {
  }
  s.matmul_unsupported.insert(key);
  return nullptr;
}

}  // namespace

bool dnnl_matmul(const MatmulDesc& d, const void* a, const void* b, void* c, const float* bias) {
  check(d.bias == (bias != nullptr), "matmul", "a bias pointer must come with MatmulDesc::bias");
  Context& ctx = current_context();
  MatmulPlan* p = matmul_plan(ctx, d);
  if (!p) return false;
  DnnlState& s = state(ctx);
  set_threads(ctx);
  p->a.set_data_handle(const_cast<void*>(a));
  p->b.set_data_handle(const_cast<void*>(b));
  p->c.set_data_handle(c);
  if (bias) p->bias.set_data_handle(const_cast<float*>(bias));
  p->prim.execute(s.stream, p->args);
  s.stream.wait();
  return true;
}

namespace {

struct ConvMds {
  memory::desc src, wei, bias, dst;
  memory::dims strides, pad_l, pad_r;
};

// The descriptors of one pass's arguments (with f32_results, what that pass writes is f32).
ConvMds conv_mds(const ConvDesc& d, ConvPass pass) {
  ConvMds m;
  int sp = d.spatial, off = 3 - sp;
  memory::dims src{d.n, d.c}, dst{d.n, d.o}, wei;
  if (d.groups > 1) wei = {d.groups, d.o / d.groups, d.c / d.groups};
  else wei = {d.o, d.c};
  for (int i = 0; i < sp; ++i) {
    src.push_back(d.in[off + i]);
    dst.push_back(d.out[off + i]);
    wei.push_back(d.kernel[off + i]);
    m.strides.push_back(d.stride[off + i]);
    m.pad_l.push_back(d.pad_l[off + i]);
    m.pad_r.push_back(d.pad_r[off + i]);
  }
  tag act = sp == 2 ? tag::nchw : tag::ncdhw;
  tag w = d.groups > 1 ? (sp == 2 ? tag::goihw : tag::goidhw) : (sp == 2 ? tag::oihw : tag::oidhw);
  m.src = memory::desc(src, dt(d.dtype), act);
  m.dst = memory::desc(dst, dt(d.dtype), act);
  m.wei = memory::desc(wei, dt(d.dtype), w);
  m.bias = memory::desc({d.o}, dt(d.dtype), tag::x);
  if (d.f32_results) {
    const auto f32 = memory::data_type::f32;
    if (pass == ConvPass::forward) m.dst = memory::desc(dst, f32, act);
    if (pass == ConvPass::backward_data) m.src = memory::desc(src, f32, act);
    if (pass == ConvPass::backward_weights) m.wei = memory::desc(wei, f32, w);
    m.bias = memory::desc({d.o}, f32, tag::x);
  }
  return m;
}

std::string conv_key(const ConvDesc& d, ConvPass pass) {
  std::ostringstream k;
  k << "conv" << d.spatial << ":" << int(pass) << ":" << d.n << "," << d.c << "," << d.o << ","
    << d.groups << ":" << d.bias << int(d.dtype) << d.f32_results;
  for (int i = 0; i < 3; ++i)
    k << ":" << d.in[i] << "," << d.out[i] << "," << d.kernel[i] << "," << d.stride[i] << ","
      << d.pad_l[i] << "," << d.pad_r[i];
  return k.str();
}

dnnl::convolution_forward::primitive_desc fwd_pd(const ConvDesc& d, const ConvMds& m,
                                                 const dnnl::engine& eng) {
  auto desc = d.bias ? dnnl::convolution_forward::desc(
                           dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                           m.src, m.wei, m.bias, m.dst, m.strides, m.pad_l, m.pad_r)
                     : dnnl::convolution_forward::desc(
                           dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                           m.src, m.wei, m.dst, m.strides, m.pad_l, m.pad_r);
  return dnnl::convolution_forward::primitive_desc(desc, eng);
}

}  // namespace

namespace {

using ConvPlan = DnnlState::ConvPlan;

memory::desc any_layout(const memory::desc& md) {
  return memory::desc(md.dims(), md.data_type(), tag::any);
}

// Builds the primitive for one pass with oneDNN's preferred layouts (the backward passes take
// the forward's primitive as their hint).
ConvPlan make_conv_plan(const ConvDesc& d, ConvPass pass, const ConvMds& m, const dnnl::engine& eng) {
  ConvMds a = m, f = conv_mds(d, ConvPass::forward);
  a.src = any_layout(m.src), a.wei = any_layout(m.wei), a.dst = any_layout(m.dst);
  f.src = any_layout(f.src), f.wei = any_layout(f.wei), f.dst = any_layout(f.dst);
  auto fpd = reject_reference(fwd_pd(d, f, eng));
  if (pass == ConvPass::forward)
    return {dnnl::convolution_forward(fpd), fpd.src_desc(), fpd.weights_desc(), fpd.dst_desc()};
  if (pass == ConvPass::backward_data) {
    dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, a.src, a.wei,
                                             a.dst, a.strides, a.pad_l, a.pad_r);
    auto pd = reject_reference(dnnl::convolution_backward_data::primitive_desc(bd, eng, fpd));
    return {dnnl::convolution_backward_data(pd), pd.diff_dst_desc(), pd.weights_desc(), pd.diff_src_desc()};
  }
  auto bw = d.bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                              a.src, a.wei, a.bias, a.dst,
                                                              a.strides, a.pad_l, a.pad_r)
                   : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                              a.src, a.wei, a.dst, a.strides,
                                                              a.pad_l, a.pad_r);
  auto pd = reject_reference(dnnl::convolution_backward_weights::primitive_desc(bw, eng, fpd));
  // oneDNN 2.7's AVX2 direct kernel refuses unequal time padding (a causal conv's frames in
  // front, none behind) and this falls back to im2col + GEMM at a quarter to a third of its
  // speed (20-39 vs 79-106 GFLOP/s at 16-64 channels on a Zen 3); the input padded by hand
  // gets the direct kernel. AVX-512 kernels take the padding as it is.
  if (d.spatial == 3 && d.pad_l[0] != d.pad_r[0] && std::string(pd.impl_info_str()).find("gemm:") != std::string::npos)
    return {{}, {}, {}, {}, true};
  return {dnnl::convolution_backward_weights(pd), pd.src_desc(), pd.diff_dst_desc(), pd.diff_weights_desc()};
}

// The backward-weights pass of d on x padded in time with zeros: the same dw and db.
bool backward_weights_padded_in_time(const ConvDesc& d, const void* x, const void* dy, void* dw, void* db) {
  ConvDesc q = d;
  const int64_t front = d.pad_l[0], back = d.pad_r[0], T = d.in[0], plane = d.in[1] * d.in[2];
  q.in[0] = front + T + back;
  q.pad_l[0] = q.pad_r[0] = 0;
  const size_t bytes = block_bytes(d.dtype), frame = size_t(plane) * bytes;
  Tensor padded = Tensor::empty({d.n * d.c * q.in[0] * plane}, d.dtype);
  auto* to = reinterpret_cast<char*>(padded.raw_data());
  const auto* from = static_cast<const char*>(x);
  for (int64_t nc = 0; nc < d.n * d.c; ++nc, to += size_t(q.in[0]) * frame, from += size_t(T) * frame) {
    std::memset(to, 0, size_t(front) * frame);  // only the pad frames are zeroed; x fills the rest
    std::memcpy(to + size_t(front) * frame, from, size_t(T) * frame);
    std::memset(to + size_t(front + T) * frame, 0, size_t(back) * frame);
  }
  return dnnl_conv(q, ConvPass::backward_weights, padded.raw_data(), dy, dw, db, nullptr);
}

}  // namespace

bool dnnl_conv(const ConvDesc& d, ConvPass pass, const void* in0, const void* in1, void* out0,
               void* out1, const void* bias) {
  Context& ctx = current_context();
  DnnlState& s = state(ctx);
  ConvMds m = conv_mds(d, pass);
  std::string key = conv_key(d, pass);
  auto it = s.conv_plans.find(key);
  if (it == s.conv_plans.end()) {
    if (s.unsupported.count(key)) return false;
    ++ctx.impl().plan_misses;
    try {
      it = s.conv_plans.emplace(key, make_conv_plan(d, pass, m, s.engine)).first;
    } catch (const dnnl::error&) {
      s.unsupported[key] = true;
      return false;
    } catch (const SlowImplementation&) {
      s.unsupported[key] = true;
      return false;
    }
  } else {
    ++ctx.impl().plan_hits;
  }
  const ConvPlan& p = it->second;
  if (p.pad_time_by_hand) return backward_weights_padded_in_time(d, in0, in1, out0, out1);
  set_threads(ctx);
  // the plain (NC[D]HW / O[G]I[D]HW) descriptors of this pass's arguments
  const memory::desc& plain0 = pass == ConvPass::backward_data ? m.dst : m.src;
  const memory::desc& plain1 = pass == ConvPass::forward ? m.wei : pass == ConvPass::backward_data ? m.wei : m.dst;
  const memory::desc& plain_out = pass == ConvPass::forward ? m.dst : pass == ConvPass::backward_data ? m.src : m.wei;
  auto wrap = [&](const memory::desc& md, const void* ptr) {
    return memory(md, s.engine, const_cast<void*>(ptr));
  };
  // Buffers in oneDNN's layouts come from kinema's pool: oneDNN's own allocation of tens of
  // MB per call went to mmap and back, and clearing the fresh pages was 4-6% of a VAE step.
  std::vector<Tensor> scratch;
  auto pooled = [&](const memory::desc& md) {
    scratch.push_back(Tensor::empty({int64_t((md.get_size() + 3) / 4)}));
    return memory(md, s.engine, scratch.back().raw_data());
  };
  auto in = [&](const memory::desc& plain, const memory::desc& chosen, const void* ptr) {
    memory user = wrap(plain, ptr);
    if (chosen == plain) return user;
    memory packed = pooled(chosen);
    dnnl::reorder(user, packed).execute(s.stream, user, packed);
    return packed;
  };
  memory a0 = in(plain0, p.in0, in0), a1 = in(plain1, p.in1, in1);
  memory user_out = wrap(plain_out, out0);
  memory o = p.out0 == plain_out ? user_out : pooled(p.out0);
  std::unordered_map<int, memory> args;
  switch (pass) {
    case ConvPass::forward:
      args = {{DNNL_ARG_SRC, a0}, {DNNL_ARG_WEIGHTS, a1}, {DNNL_ARG_DST, o}};
      if (d.bias) args.insert({DNNL_ARG_BIAS, wrap(m.bias, bias)});
      break;
    case ConvPass::backward_data:
      args = {{DNNL_ARG_DIFF_DST, a0}, {DNNL_ARG_WEIGHTS, a1}, {DNNL_ARG_DIFF_SRC, o}};
      break;
    case ConvPass::backward_weights:
      args = {{DNNL_ARG_SRC, a0}, {DNNL_ARG_DIFF_DST, a1}, {DNNL_ARG_DIFF_WEIGHTS, o}};
      if (d.bias) args.insert({DNNL_ARG_DIFF_BIAS, wrap(m.bias, out1)});
      break;
  }
  p.prim.execute(s.stream, args);
  if (!(p.out0 == plain_out)) dnnl::reorder(o, user_out).execute(s.stream, o, user_out);
  s.stream.wait();
  return true;
}

}  // namespace kinema
