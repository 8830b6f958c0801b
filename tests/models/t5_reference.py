"""Independent PyTorch reference for kinema's text encoder, written from the T5 / umT5 encoder
description (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer"; T5 v1.1's gated-GELU feed-forward; umT5's per-layer relative
position bias), with the parameter names of Wan2.1's T5Encoder checkpoint. Float64 throughout,
except T5's bucket function, whose log is float32 in every T5 implementation (the bucket of a
boundary distance depends on it).

Usage: t5_reference.py IN.safetensors OUT.safetensors
IN holds the weights (Wan checkpoint keys; metadata max_distance) and "input.ids" [B, L],
"input.mask" [B, L] (1 = token, 0 = padding), both stored as F32. OUT receives
"token_embedding", "blocks.N" and "norm" (each [B, L, dim]), and "buckets" [601]: the bucket of
every relative position -300..300 under the checkpoint's num_buckets and max_distance.
"""
import math
import sys

import torch

from dit_reference import load, save  # the DiT parity test's safetensors exchange

EPS = 1e-6


def bucket(rel, num_buckets, max_distance):
    """Bidirectional T5 bucket of relative positions rel = key - query (a long tensor)."""
    half = num_buckets // 2
    out = torch.where(rel > 0, half, 0)
    dist = rel.abs()
    exact = half // 2
    # log-spaced buckets for exact <= dist, computed in float32 as T5 does
    scaled = torch.log(dist.float() / exact) / math.log(max_distance / exact) * (half - exact)
    far = (exact + scaled.long()).clamp(max=half - 1)
    return out + torch.where(dist < exact, dist, far)


def t5_norm(x, w):
    """T5LayerNorm: scale by the root mean square, no centring, no bias."""
    return w * (x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + EPS))


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def position_bias(table, L, max_distance):
    """table [num_buckets, heads] -> [1, heads, L, L] for query i (rows), key j (columns)."""
    pos = torch.arange(L)
    rel = pos.view(1, L) - pos.view(L, 1)  # [L, L]: j - i
    b = bucket(rel, table.shape[0], max_distance)
    return table[b].permute(2, 0, 1).unsqueeze(0)


def block(W, p, x, bias):
    B, L, _ = x.shape
    heads = bias.shape[1]
    h = t5_norm(x, W[p + ".norm1.weight"])
    q, k, v = (torch.einsum("bld,ed->ble", h, W[f"{p}.attn.{n}.weight"]).view(B, L, heads, -1)
               for n in "qkv")
    scores = torch.einsum("bihc,bjhc->bhij", q, k) + bias  # T5: no 1/sqrt(d)
    a = torch.einsum("bhij,bjhc->bihc", torch.softmax(scores, dim=-1), v).reshape(B, L, -1)
    x = x + a @ W[p + ".attn.o.weight"].T
    h = t5_norm(x, W[p + ".norm2.weight"])
    g = gelu_tanh(h @ W[p + ".ffn.gate.0.weight"].T)
    return x + ((h @ W[p + ".ffn.fc1.weight"].T) * g) @ W[p + ".ffn.fc2.weight"].T


def main(inp, outp):
    W, meta = load(inp)
    grad_mode = "input.g_out" in W
    if grad_mode:  # backward of sum(norm output * g_out): "grad.<key>" for every weight
        for k, v in W.items():
            if not k.startswith("input."):
                v.requires_grad_()
    max_distance = int(meta.get("max_distance", 128))
    ids = W["input.ids"].long()
    mask = W["input.mask"]
    B, L = ids.shape
    layers = 1 + max([int(k.split(".")[1]) for k in W if k.startswith("blocks.")] + [-1])
    padding = torch.zeros(B, 1, 1, L, dtype=torch.float64)
    padding.masked_fill_(mask.view(B, 1, 1, L) == 0, torch.finfo(torch.float64).min)
    shared = "pos_embedding.embedding.weight" in W
    acts = {}
    x = W["token_embedding.weight"][ids]
    acts["token_embedding"] = x
    for i in range(layers):
        p = f"blocks.{i}"
        table = W["pos_embedding.embedding.weight" if shared else p + ".pos_embedding.embedding.weight"]
        x = block(W, p, x, position_bias(table, L, max_distance) + padding)
        acts[p] = x
    acts["norm"] = t5_norm(x, W["norm.weight"])
    if grad_mode:
        (acts["norm"] * W["input.g_out"]).sum().backward()
        save(outp, {"grad." + k: v.grad for k, v in W.items() if not k.startswith("input.")})
        return
    nb = (W["pos_embedding.embedding.weight"] if shared else W["blocks.0.pos_embedding.embedding.weight"]).shape[0]
    acts["buckets"] = bucket(torch.arange(-300, 301), nb, max_distance).double()
    save(outp, acts)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
