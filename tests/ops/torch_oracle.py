#!/usr/bin/env python3
"""PyTorch oracle for kinema's op harness.

Reads DIR/manifest.txt (written by op_oracle.cpp), evaluates every case's torch expression
in float64 on the given inputs, back-propagates the given cotangent, and writes
<id>_out.f64 and <id>_grad<i>.f64 (or <id>.err with the exception text).
"""
import sys
import traceback

import numpy as np
import torch

torch.set_grad_enabled(True)


def rope3d(x, grid, offset, theta):
    """3D RoPE written from the RoFormer / Wan formulation, independently of kinema:
    split the D/2 complex pairs into (t, h, w) groups, Ph = Pw = (D/2)//3, Pt = rest;
    pair j of a group with P pairs rotates by pos * theta**(-j/P)."""
    B, N, H, D = x.shape
    pairs = D // 2
    ph = pairs // 3
    dims = [pairs - 2 * ph, ph, ph]
    T, Hh, W = grid
    n = torch.arange(N, dtype=torch.float64)
    pos = [n.div(Hh * W, rounding_mode="floor") + offset[0],
           (n.div(W, rounding_mode="floor") % Hh) + offset[1],
           (n % W) + offset[2]]
    angles = torch.cat([pos[k][:, None] * theta ** (-torch.arange(dims[k], dtype=torch.float64) / dims[k])
                        for k in range(3)], dim=1)  # [N, pairs]
    rot = torch.polar(torch.ones_like(angles), angles)[None, :, None, :]
    xc = torch.view_as_complex(x.reshape(B, N, H, pairs, 2).contiguous())
    return torch.view_as_real(xc * rot).reshape(B, N, H, D)


def sdpa(q, k, v, mask=None, causal=False):
    """softmax(q k^T / sqrt(d) + mask) v, the definition (PyTorch 1.13 has no fused SDPA)."""
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        s = s + mask
    if causal:
        n, m = s.shape[-2], s.shape[-1]
        s = s.masked_fill(torch.ones(n, m, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v


def shape_of(text):
    return () if text == "-" else tuple(int(x) for x in text.split(","))


def main(folder):
    cases, cur = [], None
    with open(f"{folder}/manifest.txt") as f:
        for line in f:
            line = line.rstrip("\n")
            key, _, rest = line.partition(" ")
            if key == "case":
                cur = {"id": rest, "inputs": []}
            elif key == "torch":
                cur["torch"] = rest
            elif key == "input":
                file, shape, grad = rest.split(" ")
                cur["inputs"].append((file, shape_of(shape), grad == "1"))
            elif key == "cot":
                file, shape = rest.split(" ")
                cur["cot"] = (file, shape_of(shape))
            elif key == "end":
                cases.append(cur)
    for c in cases:
        try:
            xs = []
            for file, shape, grad in c["inputs"]:
                a = np.fromfile(f"{folder}/{file}", dtype=np.float32).astype(np.float64)
                t = torch.from_numpy(a.reshape(shape)).requires_grad_(grad)
                xs.append(t)
            fn = eval(c["torch"], {"torch": torch, "F": torch.nn.functional, "rope3d": rope3d, "sdpa": sdpa})
            y = fn(*xs)
            y.detach().numpy().astype(np.float64).tofile(f"{folder}/{c['id']}_out.f64")
            cfile, cshape = c["cot"]
            g = np.fromfile(f"{folder}/{cfile}", dtype=np.float32).astype(np.float64)
            want = [x for x in xs if x.requires_grad]
            if want and y.requires_grad:
                grads = torch.autograd.grad(y, want, torch.from_numpy(g.reshape(cshape)),
                                            allow_unused=True)
                it = iter(grads)
                for i, x in enumerate(xs):
                    if x.requires_grad:
                        gr = next(it)
                        gr = torch.zeros_like(x) if gr is None else gr
                        gr.detach().numpy().astype(np.float64).tofile(
                            f"{folder}/{c['id']}_grad{i}.f64")
        except Exception:  # reported per case; the harness fails that case
            with open(f"{folder}/{c['id']}.err", "w") as f:
                f.write(traceback.format_exc())


if __name__ == "__main__":
    main(sys.argv[1])
