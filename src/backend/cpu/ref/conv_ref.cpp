// Reference convolution: seven nested loops, the definition written out.
#include <vector>

#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/kernels.hpp"

namespace kinema {
namespace {

struct Geometry {
  int64_t cpg, opg;  // channels and outputs per group
  int64_t ID, IH, IW, OD, OH, OW, KD, KH, KW;
};

Geometry geometry(const ConvDesc& d) {
  return {d.c / d.groups, d.o / d.groups, d.in[0], d.in[1], d.in[2], d.out[0], d.out[1], d.out[2],
          d.kernel[0], d.kernel[1], d.kernel[2]};
}

// Calls f(x_index, w_index, y_index) for every multiply of the convolution.
template <typename F>
void each_tap(const ConvDesc& d, F f) {
  Geometry g = geometry(d);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t o = 0; o < d.o; ++o) {
      int64_t grp = o / g.opg;
      for (int64_t od = 0; od < g.OD; ++od)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            int64_t yi = (((n * d.o + o) * g.OD + od) * g.OH + oh) * g.OW + ow;
            for (int64_t c = 0; c < g.cpg; ++c)
              for (int64_t kd = 0; kd < g.KD; ++kd) {
                int64_t id = od * d.stride[0] - d.pad_l[0] + kd;
                if (id < 0 || id >= g.ID) continue;
                for (int64_t kh = 0; kh < g.KH; ++kh) {
                  int64_t ih = oh * d.stride[1] - d.pad_l[1] + kh;
                  if (ih < 0 || ih >= g.IH) continue;
                  for (int64_t kw = 0; kw < g.KW; ++kw) {
                    int64_t iw = ow * d.stride[2] - d.pad_l[2] + kw;
                    if (iw < 0 || iw >= g.IW) continue;
                    int64_t ci = grp * g.cpg + c;
                    int64_t xi = (((n * d.c + ci) * g.ID + id) * g.IH + ih) * g.IW + iw;
                    int64_t wi = (((o * g.cpg + c) * g.KD + kd) * g.KH + kh) * g.KW + kw;
                    f(xi, wi, yi);
                  }
                }
              }
          }
    }
}

int64_t count(const int64_t* dims, int64_t a, int64_t b) { return a * b * dims[0] * dims[1] * dims[2]; }

}  // namespace

void conv_forward_f32_ref(const ConvDesc& d, const float* x, const float* w, const float* b, float* y) {
  int64_t ny = count(d.out, d.n, d.o), per = d.out[0] * d.out[1] * d.out[2];
  std::vector<double> acc(size_t(ny), 0.0);
  each_tap(d, [&](int64_t xi, int64_t wi, int64_t yi) { acc[size_t(yi)] += double(x[xi]) * w[wi]; });
  for (int64_t i = 0; i < ny; ++i) y[i] = float(acc[size_t(i)] + (d.bias ? b[(i / per) % d.o] : 0.0));
}

void conv_backward_data_f32_ref(const ConvDesc& d, const float* dy, const float* w, float* dx) {
  std::vector<double> acc(size_t(count(d.in, d.n, d.c)), 0.0);
  each_tap(d, [&](int64_t xi, int64_t wi, int64_t yi) { acc[size_t(xi)] += double(dy[yi]) * w[wi]; });
  for (size_t i = 0; i < acc.size(); ++i) dx[i] = float(acc[i]);
}

void conv_backward_weights_f32_ref(const ConvDesc& d, const float* x, const float* dy, float* dw,
                                   float* db) {
  std::vector<double> acc(size_t(d.o * (d.c / d.groups) * d.kernel[0] * d.kernel[1] * d.kernel[2]), 0.0);
  each_tap(d, [&](int64_t xi, int64_t wi, int64_t yi) { acc[size_t(wi)] += double(x[xi]) * dy[yi]; });
  for (size_t i = 0; i < acc.size(); ++i) dw[i] = float(acc[i]);
  if (!db) return;
  int64_t per = d.out[0] * d.out[1] * d.out[2];
  for (int64_t o = 0; o < d.o; ++o) {
    double s = 0;
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t i = 0; i < per; ++i) s += dy[(n * d.o + o) * per + i];
    db[o] = float(s);
  }
}

}  // namespace kinema
