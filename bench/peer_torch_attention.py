#!/usr/bin/env python3
"""The PyTorch peer for bench_attention: softmax(Q K^T / sqrt(d)) V in torch 1.13 (Debian's
python3-torch; it has no fused attention), same shapes, all threads. Prints bench JSON lines."""
import json
import sys
import time

import torch

peak = json.load(open(sys.argv[1])).get("bf16_peak_gflops", 0) if len(sys.argv) > 1 else 0
H = 12
for d in (64, 128):
    for n in (1024, 4096):
        q, k, v = (torch.full((1, H, n, d), x) for x in (0.01, 0.02, 0.5))
        f = lambda: torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, -1) @ v
        f()
        t = []
        for _ in range(3):
            a = time.perf_counter()
            f()
            t.append(time.perf_counter() - a)
        g = 4.0 * n * n * d * H / sorted(t)[1] / 1e9
        print(json.dumps({"bench": "attention", "case": f"peer torch 1.13 fwd N={n} d={d} H=12 f32",
                          "value": round(g, 2), "unit": "GFLOP/s",
                          "fraction_of_peak": round(g / peak, 4) if peak else 0}))
