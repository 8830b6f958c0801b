// The pieces of convolution shared by conv2d/conv3d (conv.cpp) and conv3d_autocast: the
// descriptor of a call and one oneDNN pass (not a public header).
#pragma once
#include "backend/cpu/dnnl_plans.hpp"
#include "kinema/ops.hpp"

namespace kinema {

// Checks x [N, C, (T,) H, W] against weight [O, C/groups, (kT,) kH, kW], bias and options
// (sp = 2 or 3 spatial axes) and describes the call; throws Error naming what does not fit.
ConvDesc describe_conv(const char* op, int sp, const Tensor& x, const Tensor& w, const Tensor& b,
                       const ConvOptions& o);
Shape out_shape(const ConvDesc& d);  // [N, O, (T',) H', W']
// t detached, in dtype dt, contiguous: a pass's operand.
Tensor to_dtype(const Tensor& t, DType dt);

// Runs one pass on oneDNN in in0's dtype (with d.f32_results: f32 outputs), falling back to
// f32 where oneDNN has no fast kernel, or on the reference kernels in f32. Inputs contiguous.
void run_pass(ConvDesc d, ConvPass pass, const Tensor& in0, const Tensor& in1, const Tensor& out0,
              const Tensor& out1, const Tensor& bias);

}  // namespace kinema
