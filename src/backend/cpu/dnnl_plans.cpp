#include "backend/cpu/dnnl_plans.hpp"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unordered_map>

#include "core/context_impl.hpp"
#include "kinema/error.hpp"

namespace kinema {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

struct DnnlState {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<std::string, dnnl::primitive> plans;
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

// Looks a plan up by key, building it with make() on a miss; counts hits and misses.
template <typename Make>
dnnl::primitive* plan(Context& ctx, const std::string& key, Make make) {
  DnnlState& s = state(ctx);
  auto it = s.plans.find(key);
  if (it != s.plans.end()) {
    ++ctx.impl().plan_hits;
    return &it->second;
  }
  if (s.unsupported.count(key)) return nullptr;
  ++ctx.impl().plan_misses;
  try {
    return &s.plans.emplace(key, make(s.engine)).first->second;
  } catch (const dnnl::error&) {
    s.unsupported[key] = true;  // e.g. bf16 on a CPU without it: the caller falls back
    return nullptr;
  } catch (const SlowImplementation&) {
    s.unsupported[key] = true;
    return nullptr;
  }
}

void set_threads(Context& ctx) {
  if (omp_get_max_threads() != ctx.threads()) omp_set_num_threads(ctx.threads());
}

}  // namespace

bool cpu_has_bf16_dot() {
  static const bool has = __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
  return has;
}

bool dnnl_matmul(const MatmulDesc& d, const void* a, const void* b, void* c) {
  Context& ctx = current_context();
  std::ostringstream key;
  key << "mm:" << d.batch << "," << d.m << "," << d.n << "," << d.k;
  for (int i = 0; i < 3; ++i) key << ":" << d.a_strides[i] << "," << d.b_strides[i];
  key << ":" << int(d.ab) << int(d.c) << d.accumulate;
  memory::dims ad{d.a_strides[0] ? d.batch : 1, d.m, d.k};
  memory::dims bd{d.b_strides[0] ? d.batch : 1, d.k, d.n};
  memory::dims cd{d.batch, d.m, d.n};
  // A broadcast operand has batch dim 1; give it the dense stride (oneDNN's fast kernels
  // reject a 0 stride even on a size-1 dim).
  auto bstride = [](int64_t s, int64_t rows, int64_t cols) { return s ? s : rows * cols; };
  memory::desc amd(ad, dt(d.ab), memory::dims{bstride(d.a_strides[0], d.m, d.k), d.a_strides[1], d.a_strides[2]});
  memory::desc bmd(bd, dt(d.ab), memory::dims{bstride(d.b_strides[0], d.k, d.n), d.b_strides[1], d.b_strides[2]});
  memory::desc cmd(cd, dt(d.c), memory::dims{d.m * d.n, d.n, 1});
  dnnl::primitive* p = plan(ctx, key.str(), [&](const dnnl::engine& eng) {
    dnnl::primitive_attr attr;
    if (d.accumulate) {
      dnnl::post_ops po;
      po.append_sum(1.f);
      attr.set_post_ops(po);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(amd, bmd, cmd), attr, eng);
    return dnnl::primitive(dnnl::matmul(reject_reference(pd)));
  });
  if (!p) return false;
  DnnlState& s = state(ctx);
  set_threads(ctx);
  memory am(amd, s.engine, const_cast<void*>(a)), bm(bmd, s.engine, const_cast<void*>(b)),
      cm(cmd, s.engine, c);
  p->execute(s.stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  s.stream.wait();
  return true;
}

namespace {

struct ConvMds {
  memory::desc src, wei, bias, dst;
  memory::dims strides, pad_l, pad_r;
};

ConvMds conv_mds(const ConvDesc& d) {
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
  return m;
}

std::string conv_key(const ConvDesc& d, ConvPass pass) {
  std::ostringstream k;
  k << "conv" << d.spatial << ":" << int(pass) << ":" << d.n << "," << d.c << "," << d.o << ","
    << d.groups << ":" << d.bias << int(d.dtype);
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

bool dnnl_conv(const ConvDesc& d, ConvPass pass, const void* in0, const void* in1, void* out0,
               void* out1, const void* bias) {
  Context& ctx = current_context();
  ConvMds m = conv_mds(d);
  dnnl::primitive* p = plan(ctx, conv_key(d, pass), [&](const dnnl::engine& eng) {
    auto fpd = fwd_pd(d, m, eng);
    if (pass == ConvPass::forward) return dnnl::primitive(dnnl::convolution_forward(reject_reference(fpd)));
    if (pass == ConvPass::backward_data) {
      dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, m.src, m.wei,
                                               m.dst, m.strides, m.pad_l, m.pad_r);
      return dnnl::primitive(dnnl::convolution_backward_data(
          reject_reference(dnnl::convolution_backward_data::primitive_desc(bd, eng, fpd))));
    }
    auto bw = d.bias ? dnnl::convolution_backward_weights::desc(
                           dnnl::algorithm::convolution_direct, m.src, m.wei, m.bias, m.dst,
                           m.strides, m.pad_l, m.pad_r)
                     : dnnl::convolution_backward_weights::desc(
                           dnnl::algorithm::convolution_direct, m.src, m.wei, m.dst, m.strides,
                           m.pad_l, m.pad_r);
    return dnnl::primitive(dnnl::convolution_backward_weights(
        reject_reference(dnnl::convolution_backward_weights::primitive_desc(bw, eng, fpd))));
  });
  if (!p) return false;
  DnnlState& s = state(ctx);
  set_threads(ctx);
  auto mem = [&](const memory::desc& md, const void* ptr) {
    return memory(md, s.engine, const_cast<void*>(ptr));
  };
  switch (pass) {
    case ConvPass::forward: {
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, mem(m.src, in0)},
                                           {DNNL_ARG_WEIGHTS, mem(m.wei, in1)},
                                           {DNNL_ARG_DST, mem(m.dst, out0)}};
      if (d.bias) args.insert({DNNL_ARG_BIAS, mem(m.bias, bias)});
      p->execute(s.stream, args);
      break;
    }
    case ConvPass::backward_data:
      p->execute(s.stream, {{DNNL_ARG_DIFF_DST, mem(m.dst, in0)},
                            {DNNL_ARG_WEIGHTS, mem(m.wei, in1)},
                            {DNNL_ARG_DIFF_SRC, mem(m.src, out0)}});
      break;
    case ConvPass::backward_weights: {
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, mem(m.src, in0)},
                                           {DNNL_ARG_DIFF_DST, mem(m.dst, in1)},
                                           {DNNL_ARG_DIFF_WEIGHTS, mem(m.wei, out0)}};
      if (d.bias) args.insert({DNNL_ARG_DIFF_BIAS, mem(m.bias, out1)});
      p->execute(s.stream, args);
      break;
    }
  }
  s.stream.wait();
  return true;
}

}  // namespace kinema
