"""Independent float64 PyTorch reference for kinema's flow-matching samplers, written from the
papers' formulas (docs/sampling.md):

  schedule   sigma_k = shift(sigma_max * (1 - k/N)), k < N, sigma_N = 0, shift(s) = S s/(1+(S-1)s)
  guidance   v = v_u + cfg (v_c - v_u); rescale (Lin et al. 2023 eq. 15-16) with torch.std per item
  projected  APG (Sadat et al. 2024, arXiv 2410.02416, Alg. 1, no momentum) on the data predictions
             D = x - sigma v, norms over each latent frame's (C, H, W)
  euler      x' = x + (s' - s) v
  heun       Karras et al. 2022 Alg. 1 (Euler onto s' = 0)
  dpm++      DPM-Solver++(2M), Lu et al. 2022 Alg. 2, in lambda = log((1-s)/s)
  unipc      UniPC (Zhao et al. 2023) Alg. for data prediction, B(h) = e^h - 1, UniP-2 with
             a_1 = 1/2 and UniC solving its order conditions with torch.linalg.solve

The analytic model is v = a * x + sigma * c with per-element a and c, one pair per branch.

Usage: sampler_reference.py IN.safetensors OUT.safetensors
IN holds "noise", "a_cond", "c_cond", "a_uncond", "c_uncond" and metadata steps, shift, cfg,
rescale, sigma_max (optional: parallel, norm_cap for projected guidance). OUT receives "sigmas" and "x.<sampler>" for every sampler.
"""
import math
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/models")
from dit_reference import load, save  # noqa: E402  (the references' shared safetensors exchange)


def schedule(steps, shift, sigma_max):
    out = []
    for k in range(steps):
        s = sigma_max * (1.0 - k / steps)
        out.append(shift * s / (1.0 + (shift - 1.0) * s))
    return out + [0.0]


def projected(x, sigma, cond, uncond, cfg, parallel, norm_cap):
    dims = (1, 3, 4)  # one latent frame of one item: [B, C, T, H, W]
    d_cond = x - sigma * cond
    diff = d_cond - (x - sigma * uncond)
    if norm_cap > 0:
        rms = diff.pow(2).mean(dim=dims, keepdim=True).sqrt()
        diff = diff * torch.clamp(norm_cap / rms, max=1.0)
    unit = d_cond / d_cond.pow(2).sum(dim=dims, keepdim=True).sqrt()
    along = (diff * unit).sum(dim=dims, keepdim=True) * unit
    update = (diff - along) + parallel * along
    guided = d_cond + (cfg - 1) * update
    return (x - guided) / sigma


class Guided:
    def __init__(self, T, cfg, rescale, parallel=1.0, norm_cap=0.0):
        self.T, self.cfg, self.rescale = T, cfg, rescale
        self.parallel, self.norm_cap = parallel, norm_cap

    def __call__(self, x, sigma):
        T = self.T
        cond = T["a_cond"] * x + sigma * T["c_cond"]
        if self.cfg == 1.0:
            return cond
        uncond = T["a_uncond"] * x + sigma * T["c_uncond"]
        if self.parallel != 1.0 or self.norm_cap > 0:
            v = projected(x, sigma, cond, uncond, self.cfg, self.parallel, self.norm_cap)
        else:
            v = uncond + self.cfg * (cond - uncond)
        if self.rescale > 0:
            dims = list(range(1, v.dim()))
            std_c = cond.std(dim=dims, keepdim=True)
            std_v = v.std(dim=dims, keepdim=True)
            v = self.rescale * (v * std_c / std_v) + (1 - self.rescale) * v
        return v


def lam(s):
    return math.log((1.0 - s) / s)


def euler(f, x, sig):
    for s, t in zip(sig[:-1], sig[1:]):
        x = x + (t - s) * f(x, s)
    return x


def heun(f, x, sig):
    for s, t in zip(sig[:-1], sig[1:]):
        d = f(x, s)
        xe = x + (t - s) * d
        x = xe if t == 0 else x + (t - s) * 0.5 * (d + f(xe, t))
    return x


def ddim_data(x, s, t, m):
    # exact solution of the data-prediction ODE with m constant: x_t = (s_t/s_s) x + alpha_t (1 - e^{-h}) m
    if t == 0:
        return m
    h = lam(t) - lam(s)
    return (t / s) * x + (1 - t) * (1 - math.exp(-h)) * m


def dpmpp_2m(f, x, sig):
    prev = None
    n = len(sig) - 1
    for i in range(n):
        s, t = sig[i], sig[i + 1]
        m = x - s * f(x, s)
        if prev is None or t == 0:
            x_new = ddim_data(x, s, t, m)
        else:
            sp, mp = prev
            h, hp = lam(t) - lam(s), lam(s) - lam(sp)
            r = hp / h
            x_new = ddim_data(x, s, t, m + 0.5 * (m - mp) / r)
        prev = (s, m)
        x = x_new
    return x


def unipc(f, x, sig):
    """UniPC-2 (bh2) in data prediction, predictor order min(2, available), first order on the
    final step, corrector after every model evaluation but the first."""
    n = len(sig) - 1
    hist = []  # (sigma, m), newest last
    last = None  # (x before the predictor, predictor order)
    for i in range(n):
        s, t = sig[i], sig[i + 1]
        m = x - s * f(x, s)
        if last is not None:
            x_prev, order = last
            s0, m0 = hist[-1]
            x = unic(x_prev, s0, s, m0, m, hist[:-1][-(order - 1):] if order > 1 else [])
        hist = (hist + [(s, m)])[-2:]
        order = 1 if t == 0 else len(hist)
        last = (x, order)
        x = unip(x, s, t, hist[-1][1], hist[:-1] if order == 2 else [])
    return x


def _b_vector(h, p):
    # UniPC B(h) variant bh2 in data prediction: hh = -h, B = e^{hh} - 1,
    # phi_k: h*phi_1 = e^{hh} - 1, phi_{k+1} = phi_k / hh - 1/(k+1)!; b_k = k! phi_{k+1}/B
    hh = -h
    B = math.expm1(hh)
    phi = math.expm1(hh) / hh - 1.0
    b, fact = [], 1.0
    for k in range(1, p + 1):
        b.append(phi * fact / B)
        fact *= k + 1
        phi = phi / hh - 1.0 / fact
    return B, b


def unip(x, s, t, m0, older):
    if t == 0:
        return m0
    h = lam(t) - lam(s)
    B = math.expm1(-h)
    out = (t / s) * x - (1 - t) * B * m0
    for (si, mi) in older:
        r = (lam(si) - lam(s)) / h
        out = out - (1 - t) * B * 0.5 * (mi - m0) / r
    return out


def unic(x, s, t, m0, mt, older):
    h = lam(t) - lam(s)
    p = len(older) + 1
    B, b = _b_vector(h, p)
    rs = [(lam(si) - lam(s)) / h for (si, _) in older] + [1.0]
    Ds = [(mi - m0) / r for (si, mi), r in zip(older, rs)] + [mt - m0]
    if p == 1:
        rho = [0.5]
    else:
        R = torch.tensor([[r ** k for r in rs] for k in range(p)], dtype=torch.float64)
        rho = torch.linalg.solve(R, torch.tensor(b, dtype=torch.float64)).tolist()
    out = (t / s) * x - (1 - t) * B * m0
    for rho_k, D in zip(rho, Ds):
        out = out - (1 - t) * B * rho_k * D
    return out


def main():
    T, meta = load(sys.argv[1])
    steps, shift = int(meta["steps"]), float(meta["shift"])
    cfg, rescale = float(meta["cfg"]), float(meta["rescale"])
    sigma_max = float(meta["sigma_max"])
    sig = schedule(steps, shift, sigma_max)
    # The C++ side computes in float64 and rounds each sigma to float32; so do we, then widen.
    sig = [float(np.float32(s)) for s in sig]
    f = Guided(T, cfg, rescale, float(meta.get("parallel", 1.0)), float(meta.get("norm_cap", 0.0)))
    out = {"sigmas": torch.tensor(sig, dtype=torch.float64)}
    for name, fn in [("euler", euler), ("heun", heun), ("dpm++", dpmpp_2m), ("unipc", unipc)]:
        out["x." + name] = fn(f, T["noise"].clone(), sig)
    save(sys.argv[2], out)


if __name__ == "__main__":
    main()
