"""Independent PyTorch reference for kinema's causal video VAE, written from Wan2.1's VAE
architecture (WanVAE_ in wan/modules/vae.py): causal Conv3d with front-only time padding,
RMS_norm as F.normalize over channels * sqrt(C) * gamma, residual blocks, per-frame
single-head attention, stride-2 downsampling (ZeroPad2d then Conv2d) with a stride-2 time conv
in temporal stages, nearest upsampling + Conv2d(C -> C/2) with a C -> 2C time conv whose halves
become two frames. Encode runs frame 0, then chunks of 4 frames; decode runs one latent frame
at a time; a list of per-conv caches carries the last frames between chunks, as Wan's
feat_cache does. Everything runs in float64.

Usage: vae_reference.py IN.safetensors OUT.safetensors
IN holds the weights (Wan VAE checkpoint keys) and "input.video" [B, 3, T, H, W] and
"input.z" [B, z, T', H', W']. OUT receives the named intermediates of encode (encoder.conv1,
encoder.downsamples.N, encoder.middle, encoder.head, mu, logvar) and decode (conv2,
decoder.conv1, decoder.middle, decoder.upsamples.N, decoder.head), each concatenated over chunks.
"""
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from dit_reference import load, save  # noqa: E402  (hand-written safetensors I/O)

CACHE = 2  # frames a 3-tap causal time conv needs from before its chunk


class Cache:
    """One entry per time-mixing conv, visited in the same order every chunk."""

    def __init__(self):
        self.items, self.i = [], 0

    def start_chunk(self):
        self.i = 0

    def get(self):
        if self.i == len(self.items):
            self.items.append(None)
        return self.i

    def advance(self):
        self.i += 1


def causal_conv(W, p, x, cache):
    w, b = W[p + ".weight"], W[p + ".bias"]
    kt, k = w.shape[2], w.shape[3]
    if kt == 1:
        return F.conv3d(x, w, b)
    idx = cache.get()
    prev = cache.items[idx]
    keep = x[:, :, -CACHE:]
    if keep.shape[2] < CACHE and prev is not None:  # a one-frame chunk: keep one older frame
        keep = torch.cat([prev[:, :, -1:], keep], 2)
    front = 2 * (kt // 2)
    if prev is not None:
        x = torch.cat([prev, x], 2)
        front -= prev.shape[2]
    x = F.pad(x, (k // 2, k // 2, k // 2, k // 2, front, 0))
    cache.items[idx] = keep
    cache.advance()
    return F.conv3d(x, w, b)


def rms(W, key, x):
    g = W[key]
    g = g.reshape(g.shape[0], *([1] * (x.dim() - 2)))
    return F.normalize(x, dim=1) * x.shape[1] ** 0.5 * g


def residual(W, p, x, cache):
    h = F.conv3d(x, W[p + ".shortcut.weight"], W[p + ".shortcut.bias"]) if p + ".shortcut.weight" in W else x
    y = causal_conv(W, p + ".residual.2", F.silu(rms(W, p + ".residual.0.gamma", x)), cache)
    y = causal_conv(W, p + ".residual.6", F.silu(rms(W, p + ".residual.3.gamma", y)), cache)
    return y + h


def attention(W, p, x):
    b, c, t, h, w = x.shape
    f = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # frames into the batch
    f = rms(W, p + ".norm.gamma", f)
    qkv = F.conv2d(f, W[p + ".to_qkv.weight"], W[p + ".to_qkv.bias"])  # [bt, 3c, h, w]
    qkv = qkv.reshape(b * t, 3 * c, h * w).transpose(1, 2)  # [bt, hw, 3c]
    q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    a = torch.softmax(q @ k.transpose(1, 2) / c ** 0.5, dim=-1) @ v  # [bt, hw, c]
    a = a.transpose(1, 2).reshape(b * t, c, h, w)
    a = F.conv2d(a, W[p + ".proj.weight"], W[p + ".proj.bias"])
    return a.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4) + x


def per_frame(fn, x):
    b, c, t, h, w = x.shape
    y = fn(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
    return y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)


def downsample(W, p, x, cache):
    x = per_frame(lambda f: F.conv2d(F.pad(f, (0, 1, 0, 1)), W[p + ".resample.1.weight"],
                                     W[p + ".resample.1.bias"], stride=2), x)
    if p + ".time_conv.weight" not in W:
        return x
    idx = cache.get()
    prev = cache.items[idx]
    cache.items[idx] = x[:, :, -1:]
    cache.advance()
    if prev is None:  # frame 0 (the first chunk) passes alone
        return x
    return F.conv3d(torch.cat([prev[:, :, -1:], x], 2), W[p + ".time_conv.weight"],
                    W[p + ".time_conv.bias"], stride=(2, 1, 1))


def upsample(W, p, x, cache):
    if p + ".time_conv.weight" in W:
        idx = cache.get()
        prev = cache.items[idx]
        if prev is None:  # frame 0 passes alone; the conv then starts from zero padding
            cache.items[idx] = "first"
            cache.advance()
        else:
            keep = x[:, :, -CACHE:]
            if keep.shape[2] < CACHE:
                older = torch.zeros_like(keep) if prev == "first" else prev[:, :, -1:]
                keep = torch.cat([older, keep], 2)
            y = x if prev == "first" else torch.cat([prev, x], 2)
            front = 2 if prev == "first" else 0
            y = F.conv3d(F.pad(y, (0, 0, 0, 0, front, 0)), W[p + ".time_conv.weight"], W[p + ".time_conv.bias"])
            cache.items[idx] = keep
            cache.advance()
            b, c2, t, h, w = y.shape
            c = c2 // 2
            y = y.reshape(b, 2, c, t, h, w)
            x = torch.stack([y[:, 0], y[:, 1]], 3).reshape(b, c, 2 * t, h, w)
    return per_frame(lambda f: F.conv2d(F.interpolate(f, scale_factor=2.0, mode="nearest"),
                                        W[p + ".resample.1.weight"], W[p + ".resample.1.bias"], padding=1), x)


def entries(W, prefix):
    n = 0
    while any(k.startswith(f"{prefix}.{n}.") for k in W):
        n += 1
    return n


def module(W, p, x, cache, resample):
    if p + ".resample.1.weight" in W:
        return resample(W, p, x, cache)
    return residual(W, p, x, cache)


def middle(W, p, x, cache):
    x = residual(W, p + ".0", x, cache)
    x = attention(W, p + ".1", x)
    return residual(W, p + ".2", x, cache)


def encoder(W, x, cache, acts):
    x = causal_conv(W, "encoder.conv1", x, cache)
    acts.setdefault("encoder.conv1", []).append(x)
    for i in range(entries(W, "encoder.downsamples")):
        p = f"encoder.downsamples.{i}"
        x = module(W, p, x, cache, downsample)
        acts.setdefault(p, []).append(x)
    x = middle(W, "encoder.middle", x, cache)
    acts.setdefault("encoder.middle", []).append(x)
    x = causal_conv(W, "encoder.head.2", F.silu(rms(W, "encoder.head.0.gamma", x)), cache)
    acts.setdefault("encoder.head", []).append(x)
    return x


def decoder(W, x, cache, acts):
    x = causal_conv(W, "decoder.conv1", x, cache)
    acts.setdefault("decoder.conv1", []).append(x)
    x = middle(W, "decoder.middle", x, cache)
    acts.setdefault("decoder.middle", []).append(x)
    for i in range(entries(W, "decoder.upsamples")):
        p = f"decoder.upsamples.{i}"
        x = module(W, p, x, cache, upsample)
        acts.setdefault(p, []).append(x)
    x = causal_conv(W, "decoder.head.2", F.silu(rms(W, "decoder.head.0.gamma", x)), cache)
    acts.setdefault("decoder.head", []).append(x)
    return x


def gradients(W, outp):
    """Backward of sum(decoded * g_video) + sum(mu * g_mu) + sum(logvar * g_logvar) through the
    chunked schedule (autograd follows the cached frames across chunks, so this is the gradient
    of the whole-clip function kinema trains); saves "grad.<key>" for every weight."""
    weights = {k: v.requires_grad_() for k, v in W.items() if not k.startswith("input.")}
    m = encode_chunked(W, W["input.video"], {})
    z = m.shape[1] // 2
    mu, logvar = m[:, :z], m[:, z:]
    x = F.conv3d(W["input.z"], W["conv2.weight"], W["conv2.bias"])
    cache, frames = Cache(), []
    for i in range(x.shape[2]):
        cache.start_chunk()
        frames.append(decoder(W, x[:, :, i:i + 1], cache, {}))
    decoded = torch.cat(frames, 2)
    loss = (decoded * W["input.g_video"]).sum() + (mu * W["input.g_mu"]).sum() + (logvar * W["input.g_logvar"]).sum()
    loss.backward()
    save(outp, {"grad." + k: v.grad for k, v in weights.items()})


def main(inp, outp):
    W, _ = load(inp)
    if "input.g_video" in W:
        return gradients(W, outp)
    acts = {}
    m = encode_chunked(W, W["input.video"], acts)
    z = m.shape[1] // 2
    acts["mu"], acts["logvar"] = [m[:, :z]], [m[:, z:]]
    if "input.z" in W:
        x = F.conv3d(W["input.z"], W["conv2.weight"], W["conv2.bias"])
        acts["conv2"] = [x]
        cache = Cache()
        for i in range(x.shape[2]):
            cache.start_chunk()
            decoder(W, x[:, :, i:i + 1], cache, acts)
    save(outp, {k: torch.cat(v, 2) for k, v in acts.items()})


def encode_chunked(W, video, acts):
    """Frame 0, then chunks of the temporal compression; returns conv1's output (mu | logvar)."""
    tc = 2 ** sum(1 for k in W if k.startswith("encoder.downsamples.") and k.endswith("time_conv.weight"))
    cache = Cache()
    outs = []
    start = 0
    while start < video.shape[2]:  # frame 0, then chunks of tc frames
        end = 1 if start == 0 else start + tc
        cache.start_chunk()
        outs.append(encoder(W, video[:, :, start:end], cache, acts))
        start = end
    return F.conv3d(torch.cat(outs, 2), W["conv1.weight"], W["conv1.bias"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
