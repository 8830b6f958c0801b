// The four steppers. Notation (DPM-Solver++ and UniPC papers, with flow matching's α = 1 − σ):
//   λ(σ) = log(α/σ), h = λ(σ_next) − λ(σ), m = x − σ·v (the data prediction, "x0").
// Exponential-integrator updates in data prediction need e^{−h} − 1, which for α, σ > 0 is
//   e^{−h} − 1 = σ_t·α_s/(σ_s·α_t) − 1,   so   α_t·(e^{−h} − 1) = σ_t·α_s/σ_s − α_t
// and stays finite at the ends: σ_s = 1 (α_s = 0, λ = −∞) and σ_t = 0 (λ = +∞, the update
// returns m exactly). Scalar coefficients are computed in float64, tensors stay f32.
#include <cmath>
#include <deque>
#include <optional>
#include <utility>

#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"

namespace kinema {
namespace {

double lambda_of(double sigma) { return std::log(1.0 - sigma) - std::log(sigma); }

// a·x + b·y
Tensor lincomb(double a, const Tensor& x, double b, const Tensor& y) {
  return add(scale(x, float(a)), scale(y, float(b)));
}

// First-order exponential integrator in data prediction (DDIM; DPM-Solver++ 1):
// x_t = (σ_t/σ_s)·x − α_t·(e^{−h} − 1)·m.
Tensor first_order(const Tensor& x, double s, double t, const Tensor& m) {
  return lincomb(t / s, x, (1.0 - t) - t * (1.0 - s) / s, m);
}

struct Output {
  double sigma;
  Tensor x0;
};

void check_state(bool ok, std::string_view stepper) {
  check(ok, "sampler", "the checkpoint does not hold a ", stepper, " state; resume with the sampler that wrote it");
}

// ---- Euler: x_next = x + (σ_next − σ)·v ----------------------------------------------------------
class Euler final : public Stepper {
 public:
  std::string_view name() const override { return "euler"; }
  Tensor step(const Tensor& x, float sigma, float sigma_next, const Tensor& v,
              const NextVelocityFn&) override {
    return add(x, scale(v, sigma_next - sigma));
  }
  void reset() override {}
};

// ---- Heun (Karras et al. 2022, Alg. 1): trapezoid of v at both ends; Euler onto σ = 0 -------------
class Heun final : public Stepper {
 public:
  std::string_view name() const override { return "heun"; }
  Tensor step(const Tensor& x, float sigma, float sigma_next, const Tensor& v,
              const NextVelocityFn& next_velocity) override {
    const float dt = sigma_next - sigma;
    Tensor x_euler = add(x, scale(v, dt));
    if (sigma_next == 0.0f) return x_euler;
    check(bool(next_velocity), "heun", "needs a second velocity evaluation; none given");
    Tensor v_next = next_velocity(x_euler);
    return add(x, scale(add(v, v_next), 0.5f * dt));
  }
  void reset() override {}
};

// ---- DPM-Solver++(2M) (Lu et al. 2022, Alg. 2), midpoint form ----------------------------------
// With r = h_prev/h and D = (m_0 − m_1)/r:
//   x_t = (σ_t/σ_s)·x − α_t·(e^{−h} − 1)·(m_0 + D/2)
// First order on the first step (no history) and on the final step σ_t = 0 (Wan's defaults).
class DpmSolverPP2M final : public Stepper {
 public:
  std::string_view name() const override { return "dpm++"; }
  Tensor step(const Tensor& x, float sigma, float sigma_next, const Tensor& v,
              const NextVelocityFn&) override {
    const double s = sigma, t = sigma_next;
    Tensor m = velocity_to_x0(x, sigma, v);
    bool second = prev_.has_value() && t > 0;
    Tensor out;
    if (!second) {
      out = first_order(x, s, t, m);
    } else {
      // λ(1) = −∞ makes r infinite and D zero: the history then carries no information.
      Tensor d0 = m;
      if (prev_->sigma < 1.0) {
        double h = lambda_of(t) - lambda_of(s), h_prev = lambda_of(s) - lambda_of(prev_->sigma);
        d0 = add(m, scale(sub(m, prev_->x0), float(0.5 * h / h_prev)));
      }
      out = first_order(x, s, t, d0);
    }
    prev_ = Output{s, m};
    return out;
  }
  void reset() override { prev_.reset(); }
  StepperState save() const override {
    if (!prev_) return {};
    return {{prev_->sigma}, {prev_->x0}};
  }
  void load(const StepperState& st) override {
    check_state(st.scalars.size() == st.tensors.size() && st.scalars.size() <= 1, name());
    prev_.reset();
    if (!st.scalars.empty()) prev_ = Output{st.scalars[0], st.tensors[0]};
  }

 private:
  std::optional<Output> prev_;
};

// ---- UniPC (Zhao et al. 2023) with B(h) = e^{h} − 1 ("bh2"), data prediction, order 2 ------------
// In data prediction the paper's step variable is ĥ = −h, so B = e^{−h} − 1 (the same factor as
// the first-order update). With m_0 the newest output at σ_s, an earlier output m_1 at σ_1,
// r = (λ_1 − λ_s)/h and D = (m_1 − m_0)/r:
//   predictor UniP-2:  x_t = first_order(x, m_0) − α_t·B·½·D          (a_1 = ½, the paper's
//                      choice for order 2, also Wan's)
//   corrector UniC-p:  x_t^c = first_order(x_s, m_0) − α_t·B·(ρ_0·D + ρ_1·(m_t − m_0))
//                      from the *previous* point x_s with the new output m_t (r = 1 for it);
//                      ρ solves [[1, 1], [r, 1]]·ρ = [b_1, b_2], b_k = k!·φ_{k+1}(ĥ)·ĥ/B with
//                      ĥφ_2 = (e^{ĥ} − 1)/ĥ − 1, ĥφ_3 = ĥφ_2/ĥ − ½; UniC-1 uses ρ = ½.
// Each new model output first corrects the point it was evaluated at (without re-evaluating
// the model there), then predicts the next point. The corrector's order is the previous
// predictor's; the predictor's is 2 once two outputs exist, 1 on the final step (σ_t = 0).
class UniPC final : public Stepper {
 public:
  std::string_view name() const override { return "unipc"; }

  Tensor step(const Tensor& x_in, float sigma, float sigma_next, const Tensor& v,
              const NextVelocityFn&) override {
    Tensor m = velocity_to_x0(x_in, sigma, v);
    Tensor x = last_x_.defined() ? correct(m, sigma) : x_in;
    history_.push_back(Output{sigma, m});
    if (history_.size() > 2) history_.pop_front();
    order_ = sigma_next == 0.0f ? 1 : int(history_.size());
    last_x_ = x;
    return predict(x, sigma_next);
  }
  void reset() override {
    history_.clear();
    last_x_ = Tensor();
    order_ = 0;
  }
  // scalars: order, then each history sigma; tensors: each history output, then last_x_.
  StepperState save() const override {
    StepperState st;
    st.scalars.push_back(order_);
    for (const Output& o : history_) st.scalars.push_back(o.sigma), st.tensors.push_back(o.x0);
    if (last_x_.defined()) st.tensors.push_back(last_x_);
    return st;
  }
  void load(const StepperState& st) override {
    const size_t h = st.scalars.empty() ? 0 : st.scalars.size() - 1;
    check_state(!st.scalars.empty() && h <= 2 && (st.tensors.size() == h || st.tensors.size() == h + 1), name());
    reset();
    order_ = int(st.scalars[0]);
    for (size_t i = 0; i < h; ++i) history_.push_back(Output{st.scalars[i + 1], st.tensors[i]});
    if (st.tensors.size() == h + 1) last_x_ = st.tensors[h];
  }

 private:
  // x_t from x at history_.back() (m_0, σ_s) with the last `order_` outputs.
  Tensor predict(const Tensor& x, float sigma_next) const {
    const Output& o0 = history_.back();
    const double s = o0.sigma, t = sigma_next;
    Tensor base = first_order(x, s, t, o0.x0);
    if (order_ < 2) return base;
    const Output& o1 = history_[history_.size() - 2];
    const double h = lambda_of(t) - lambda_of(s), b_h = std::expm1(-h);
    double r = (lambda_of(o1.sigma) - lambda_of(s)) / h;
    if (!std::isfinite(r)) return base;  // σ = 1 in the history: D vanishes
    // − α_t·B·½·(m_1 − m_0)/r
    return add(base, scale(sub(o1.x0, o0.x0), float(-(1.0 - t) * b_h * 0.5 / r)));
  }

  // Corrects last_x_ (the point before the last prediction) to σ_t = sigma with the new output
  // m_t; the prediction used history_ as it is now (before m_t is pushed).
  Tensor correct(const Tensor& m_t, float sigma) const {
    const Output& o0 = history_.back();
    const double s = o0.sigma, t = sigma;
    const double alpha_t = 1.0 - t;
    const double h = lambda_of(t) - lambda_of(s), hh = -h, b_h = std::expm1(hh);
    Tensor x = first_order(last_x_, s, t, o0.x0);
    Tensor d_t = sub(m_t, o0.x0);
    if (order_ < 2) return add(x, scale(d_t, float(-alpha_t * b_h * 0.5)));
    const double h_phi_2 = b_h / hh - 1.0, h_phi_3 = h_phi_2 / hh - 0.5;
    const double b1 = h_phi_2 / b_h, b2 = 2.0 * h_phi_3 / b_h;
    const Output& o1 = history_[history_.size() - 2];
    double r = (lambda_of(o1.sigma) - lambda_of(s)) / h;
    if (!std::isfinite(r)) return add(x, scale(d_t, float(-alpha_t * b_h * b1)));  // ρ → (0, b1)
    const double rho0 = (b1 - b2) / (1.0 - r), rho1 = b1 - rho0;
    Tensor corr = lincomb(rho0 / r, sub(o1.x0, o0.x0), rho1, d_t);  // ρ_0·D + ρ_1·(m_t − m_0)
    return add(x, scale(corr, float(-alpha_t * b_h)));
  }

  std::deque<Output> history_;  // newest last, at most 2
  Tensor last_x_;               // the sample before the last predictor
  int order_ = 0;               // order of the last predictor
};

}  // namespace

void Stepper::load(const StepperState& state) {
  check(state.scalars.empty() && state.tensors.empty(), "sampler", "the ", name(),
        " stepper keeps no state, but the checkpoint holds some; resume with the sampler that wrote it");
}

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = {"euler", "heun", "unipc", "dpm++"};
  return names;
}

std::unique_ptr<Stepper> make_stepper(std::string_view name) {
  if (name == "euler") return std::make_unique<Euler>();
  if (name == "heun") return std::make_unique<Heun>();
  if (name == "unipc") return std::make_unique<UniPC>();
  if (name == "dpm++") return std::make_unique<DpmSolverPP2M>();
  std::string known;
  for (const std::string& n : sampler_names()) known += (known.empty() ? "" : ", ") + n;
  fail("make_stepper", "unknown sampler \"", name, "\"; expected one of ", known);
}

}  // namespace kinema
