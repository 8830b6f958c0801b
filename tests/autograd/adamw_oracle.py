#!/usr/bin/env python3
"""torch.optim.AdamW on the loss sum((p - t)^2 * c) for STEPS steps; prints the final p."""
import sys

import torch

p = torch.tensor([float(x) for x in sys.argv[1].split(",")], dtype=torch.float64, requires_grad=True)
t = torch.tensor([float(x) for x in sys.argv[2].split(",")], dtype=torch.float64)
c = torch.tensor([float(x) for x in sys.argv[3].split(",")], dtype=torch.float64)
lr, wd, steps = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
opt = torch.optim.AdamW([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
for _ in range(steps):
    opt.zero_grad()
    ((p - t) ** 2 * c).sum().backward()
    opt.step()
print(",".join(repr(float(x)) for x in p.detach()))
