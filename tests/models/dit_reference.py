"""Independent PyTorch reference for kinema's DiT, written from Wan2.1's WanModel architecture
(wan/modules/model.py): patch_embedding Conv3d, sinusoidal time embedding, adaLN-modulated
blocks with RMSNorm q/k, 3D RoPE as a complex rotation, cross-attention, GELU(tanh) MLP, a
modulated head and unpatchify. Everything runs in float64.

Usage: dit_reference.py IN.safetensors OUT.safetensors
IN holds the model's weights (Wan checkpoint keys, metadata num_heads) and the inputs
"input.x" [B, C, T, H, W], "input.t" [B], "input.context" [B, L, text_dim], optionally
"input.condition" [B, C', T, H, W] and "input.context_lens" [B]. OUT receives the named
intermediates (patch_embedding, time_embedding, time_projection, text_embedding, blocks.N,
head) and "output". The safetensors package is not installed: files are read and written by
hand (8-byte little-endian header length, JSON header, raw little-endian data).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-6


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for key, v in header.items():
        if key == "__metadata__":
            continue
        assert v["dtype"] == "F32", (key, v["dtype"])
        s, e = v["data_offsets"]
        a = np.frombuffer(data[base + s:base + e], dtype="<f4").reshape(v["shape"])
        tensors[key] = torch.from_numpy(a.astype(np.float64))
    return tensors, header.get("__metadata__", {})


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for key, t in tensors.items():
        b = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def linear(W, prefix, x):
    return x @ W[prefix + ".weight"].T + W[prefix + ".bias"]


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def layer_norm(x, w=None, b=None):
    return F.layer_norm(x, (x.shape[-1],), w, b, EPS)


def sinusoidal(dim, t):
    half = dim // 2
    s = torch.outer(t, torch.pow(10000.0, -torch.arange(half, dtype=torch.float64) / half))
    return torch.cat([torch.cos(s), torch.sin(s)], dim=1)


def rope_table(head_dim, max_len=1024, theta=10000.0):
    def params(d):  # complex e^{i * pos * theta^(-2j/d)}, j < d/2
        angles = torch.outer(torch.arange(max_len, dtype=torch.float64),
                             1.0 / torch.pow(theta, torch.arange(0, d, 2, dtype=torch.float64) / d))
        return torch.polar(torch.ones_like(angles), angles)
    d6 = head_dim // 6
    return torch.cat([params(head_dim - 4 * d6), params(2 * d6), params(2 * d6)], dim=1)


def rope(x, grid, table):
    """x [B, N, h, hd]; adjacent pairs (2j, 2j+1) are one complex number."""
    B, N, h, hd = x.shape
    c = hd // 2
    f, hh, ww = grid
    ft, fh, fw = table.split([c - 2 * (c // 3), c // 3, c // 3], dim=1)
    freqs = torch.cat([ft[:f].view(f, 1, 1, -1).expand(f, hh, ww, -1),
                       fh[:hh].view(1, hh, 1, -1).expand(f, hh, ww, -1),
                       fw[:ww].view(1, 1, ww, -1).expand(f, hh, ww, -1)], dim=-1).reshape(N, 1, c)
    xc = torch.view_as_complex(x.contiguous().reshape(B, N, h, c, 2))
    return torch.view_as_real(xc * freqs).reshape(B, N, h, hd)


def attention(q, k, v, mask):
    """q [B, Nq, h, d], k/v [B, Nk, h, d] -> [B, Nq, h*d]; softmax(q k^T / sqrt(d)) v"""
    q, k, v = (a.transpose(1, 2) for a in (q, k, v))
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    o = torch.softmax(s, dim=-1) @ v
    return o.transpose(1, 2).flatten(2)


def attn(W, p, x, ctx, heads, grid, table, mask):
    B, N, D = x.shape
    q = rms_norm(linear(W, p + ".q", x), W[p + ".norm_q.weight"]).view(B, N, heads, -1)
    k = rms_norm(linear(W, p + ".k", ctx), W[p + ".norm_k.weight"]).view(B, ctx.shape[1], heads, -1)
    v = linear(W, p + ".v", ctx).view(B, ctx.shape[1], heads, -1)
    if grid is not None:
        q, k = rope(q, grid, table), rope(k, grid, table)
    return linear(W, p + ".o", attention(q, k, v, mask))


def main(inp, outp):
    W, meta = load(inp)
    heads = int(meta["num_heads"])
    x, t, context = W["input.x"], W["input.t"], W["input.context"]
    if "input.condition" in W:  # Wan I2V: torch.cat([x, y], dim=0) per sample
        x = torch.cat([x, W["input.condition"]], dim=1)
    mask = None
    if "input.context_lens" in W:
        lens = W["input.context_lens"].long()
        mask = (torch.arange(context.shape[1])[None, :] < lens[:, None])[:, None, None, :]
    pe = W["patch_embedding.weight"]
    dim, patch = pe.shape[0], tuple(pe.shape[2:])
    out_ch = W["head.head.weight"].shape[0] // math.prod(patch)
    layers = 1 + max([int(k.split(".")[1]) for k in W if k.startswith("blocks.")] + [-1])
    table = rope_table(dim // heads)
    acts = {}

    y = F.conv3d(x, pe, W["patch_embedding.bias"], stride=patch)  # [B, D, T', H', W']
    grid = tuple(y.shape[2:])
    y = y.flatten(2).transpose(1, 2)  # [B, N, D]
    acts["patch_embedding"] = y
    e = linear(W, "time_embedding.0", sinusoidal(W["time_embedding.0.weight"].shape[1], t))
    e = linear(W, "time_embedding.2", F.silu(e))
    e0 = linear(W, "time_projection.1", F.silu(e)).unflatten(1, (6, dim))
    acts["time_embedding"], acts["time_projection"] = e, e0
    ctx = linear(W, "text_embedding.2", F.gelu(linear(W, "text_embedding.0", context), approximate="tanh"))
    acts["text_embedding"] = ctx
    for i in range(layers):
        b = f"blocks.{i}"
        m = (W[b + ".modulation"] + e0).chunk(6, dim=1)
        h = layer_norm(y) * (1 + m[1]) + m[0]
        y = y + attn(W, b + ".self_attn", h, h, heads, grid, table, None) * m[2]
        h = layer_norm(y, W[b + ".norm3.weight"], W[b + ".norm3.bias"])
        y = y + attn(W, b + ".cross_attn", h, ctx, heads, None, table, mask)
        h = layer_norm(y) * (1 + m[4]) + m[3]
        f = linear(W, b + ".ffn.2", F.gelu(linear(W, b + ".ffn.0", h), approximate="tanh"))
        y = y + f * m[5]
        acts[b] = y
    m = (W["head.modulation"] + e.unsqueeze(1)).chunk(2, dim=1)
    y = linear(W, "head.head", layer_norm(y) * (1 + m[1]) + m[0])
    acts["head"] = y
    # unpatchify: tokens (f, h, w) x patch (p, q, r) x channels c -> [B, c, f*p, h*q, w*r]
    B = y.shape[0]
    u = y.view(B, *grid, *patch, out_ch)
    u = torch.einsum("bfhwpqrc->bcfphqwr", u)
    acts["output"] = u.reshape(B, out_ch, *[g * p for g, p in zip(grid, patch)])
    save(outp, acts)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
