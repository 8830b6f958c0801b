"""Golden tensors from Wan2.1's own model code (issue 8: parity with the reference).

Usage: /usr/bin/python3 make_goldens.py WAN_REPO OUT_DIR

WAN_REPO is a checkout of github:Wan-Video/Wan2.1 (never committed here). This script imports
its wan/modules/model.py (WanModel), vae.py (WanVAE_), t5.py (T5Encoder), clip.py
(VisionTransformer) and wan/utils/fm_solvers_unipc.py
(FlowUniPCMultistepScheduler, driven as wan/text2video.py drives it) unchanged, builds tiny configurations
with random weights, runs them on CPU and writes, per model, one safetensors file with the
weights (Wan's own state_dict keys), the inputs and the named intermediates kinema traces.

What had to be stood in for, because it is not installable here (no PyPI) or needs CUDA:
- diffusers' ConfigMixin / ModelMixin / register_to_config / SchedulerMixin / SchedulerOutput /
  deprecate / is_scipy_available: ModelMixin = nn.Module, register_to_config records the
  constructor's arguments in self.config, the rest are empty or no-ops;
- einops.rearrange: a small implementation of the patterns vae.py uses (split/merge axes);
- wan.modules.attention.flash_attention (CUDA only, and it casts q, k, v to bf16): exact
  softmax attention in float64 honouring k_lens, so the golden is the architecture's exact
  function rather than flash-attn's bf16 rounding;
- torch.nn.functional.scaled_dot_product_attention (the VAE's middle attention; torch >= 2.0,
  Debian has 1.13): the same exact attention.
Everything else is Wan's code. The safetensors package is absent: files are written by hand.
"""
import inspect
import json
import math
import struct
import sys
import types

import numpy as np
import torch


def install_stubs():
    diffusers = types.ModuleType("diffusers")
    cu = types.ModuleType("diffusers.configuration_utils")

    class ConfigMixin:
        def register_to_config(self, **kw):
            self.config.__dict__.update(kw)

    def register_to_config(init):  # records the constructor's arguments in self.config
        def wrapped(self, *args, **kw):
            bound = inspect.signature(init).bind(self, *args, **kw)
            bound.apply_defaults()
            init(self, *args, **kw)
            self.config = types.SimpleNamespace(**{k: v for k, v in bound.arguments.items() if k != "self"})
        return wrapped

    cu.ConfigMixin, cu.register_to_config = ConfigMixin, register_to_config
    models = types.ModuleType("diffusers.models")
    mu = types.ModuleType("diffusers.models.modeling_utils")
    mu.ModelMixin = torch.nn.Module
    su = types.ModuleType("diffusers.schedulers.scheduling_utils")
    su.KarrasDiffusionSchedulers, su.SchedulerMixin = [], type("SchedulerMixin", (), {})
    su.SchedulerOutput = lambda prev_sample: (prev_sample,)
    du = types.ModuleType("diffusers.utils")
    du.deprecate, du.is_scipy_available = (lambda *a, **k: None), (lambda: False)
    for name, mod in {"diffusers": diffusers, "diffusers.configuration_utils": cu,
                      "diffusers.models": models, "diffusers.models.modeling_utils": mu,
                      "diffusers.schedulers": types.ModuleType("diffusers.schedulers"),
                      "diffusers.schedulers.scheduling_utils": su, "diffusers.utils": du}.items():
        sys.modules[name] = mod
    torch.nn.functional.scaled_dot_product_attention = lambda q, k, v, **kw: exact_sdpa(q, k, v)
    einops = types.ModuleType("einops")
    einops.rearrange = rearrange
    sys.modules["einops"] = einops


def parse_side(side):
    groups, i, tokens = [], 0, side.replace("(", " ( ").replace(")", " ) ").split()
    while i < len(tokens):
        if tokens[i] == "(":
            j = tokens.index(")", i)
            groups.append(tokens[i + 1:j])
            i = j + 1
        else:
            groups.append([tokens[i]])
            i += 1
    return groups


def rearrange(x, pattern, **sizes):
    """einops.rearrange for permutations with split and merged axes (no ellipsis, no 1s)."""
    left, right = (parse_side(s) for s in pattern.split("->"))
    known = dict(sizes)
    for group, n in zip(left, x.shape):
        unknown = [a for a in group if a not in known]
        prod = math.prod(known[a] for a in group if a in known)
        if len(unknown) == 1:
            known[unknown[0]] = n // prod
        elif not unknown:
            assert prod == n, (pattern, group, n)
    flat = [a for g in left for a in g]
    x = x.reshape([known[a] for a in flat])
    order = [flat.index(a) for g in right for a in g]
    x = x.permute(order)
    return x.reshape([math.prod(known[a] for a in g) for g in right])


def exact_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0., softmax_scale=None, q_scale=None,
                    causal=False, window_size=(-1, -1), deterministic=False, dtype=None, version=None):
    # q [B, Lq, N, C], k/v [B, Lk, N, C] -> [B, Lq, N, C]
    out_dtype = q.dtype
    q, k, v = (t.double().transpose(1, 2) for t in (q, k, v))
    scale = softmax_scale or 1.0 / math.sqrt(q.size(-1))
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if k_lens is not None:
        mask = torch.arange(k.size(2))[None, :] >= k_lens[:, None]
        s = s.masked_fill(mask[:, None, None, :], float("-inf"))
    o = torch.matmul(torch.softmax(s, dim=-1), v)
    return o.transpose(1, 2).to(out_dtype)


def exact_sdpa(q, k, v):  # [..., L, C], no mask
    s = torch.matmul(q.double(), k.double().transpose(-1, -2)) / math.sqrt(q.size(-1))
    return torch.matmul(torch.softmax(s, dim=-1), v.double()).to(q.dtype)


def save(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        a = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def randomize(module, seed, std=0.2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) * std)
            if p.dim() == 1 and p.numel() > 1:  # norm gains near 1
                p.add_(1.0)


DIT_CONFIG = dict(model_type="t2v", patch_size=(1, 2, 2), text_len=16, in_dim=4, dim=32, ffn_dim=64,
                  freq_dim=32, text_dim=32, out_dim=4, num_heads=2, num_layers=2, qk_norm=True,
                  cross_attn_norm=True, eps=1e-6)


def tiny_dit():
    from wan.modules import attention, model as wan_model
    attention.flash_attention = wan_model.flash_attention = exact_attention
    m = wan_model.WanModel(**DIT_CONFIG).eval()
    randomize(m, 1)
    return m


def formula(n, k, amplitude=0.1):
    """Deterministic values kinema recomputes in C++ (test_wan_official_parity.cpp), so the
    image-branch goldens need not carry img_emb's 1280 x 1280 weights or the CLIP features."""
    i = torch.arange(n, dtype=torch.float64)
    return amplitude * torch.sin(0.37 * i + 1.3 * k + 0.1)


def formula_weights(module):
    with torch.no_grad():
        for k, (name, p) in enumerate(sorted(module.state_dict().items())):
            w = formula(p.numel(), k) + (1.0 if p.dim() == 1 else 0.0)
            p.copy_(w.reshape(p.shape).to(p.dtype))


def image_dit_golden(out_dir, model_type):
    """Wan I2V / FLF2V: CLIP tokens through img_emb and k_img/v_img beside the text (which Wan
    requires to be padded to its 512 tokens), frame conditioning y concatenated to x."""
    from wan.modules import attention, model as wan_model
    attention.flash_attention = wan_model.flash_attention = exact_attention
    cfg = dict(DIT_CONFIG, model_type=model_type, text_len=512, in_dim=12)
    m = wan_model.WanModel(**cfg).eval()
    formula_weights(m)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(4, 3, 6, 8, generator=g)
    y = torch.randn(8, 3, 6, 8, generator=g)        # 4 mask + 4 latent channels
    t = torch.tensor([412.0])
    ctx = torch.randn(9, 32, generator=g)
    images = 2 if model_type == "flf2v" else 1
    clip = formula(images * 257 * 1280, -1, amplitude=0.5).float().reshape(images, 257, 1280)
    traced = {}
    hooks = [m.img_emb.register_forward_hook(lambda mod, i, o: traced.__setitem__("img_emb", o))]
    for n, b in enumerate(m.blocks):
        hooks.append(b.register_forward_hook(lambda mod, i, o, n=n: traced.__setitem__(f"blocks.{n}", o)))
    with torch.no_grad():
        out = m([x], t, [ctx], seq_len=36, clip_fea=clip, y=[y])[0]
    padded = torch.cat([ctx, ctx.new_zeros(512 - 9, 32)])
    tensors = {"input.x": x[None], "input.condition": y[None], "input.t": t, "input.context": padded[None],
               "output": out[None]}
    tensors.update({"trace." + k: v for k, v in traced.items()})
    save(f"{out_dir}/wan21_dit_{model_type}.safetensors", tensors,
         {"num_heads": str(cfg["num_heads"]), "model_type": model_type, "image_tokens": str(images * 257)})


def dit_golden(out_dir):
    cfg = DIT_CONFIG
    m = tiny_dit()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, 6, 8, generator=g)            # [C, F, H, W]: 3 x 3 x 4 = 36 tokens
    t = torch.tensor([731.0])
    ctx = torch.randn(7, 32, generator=g)               # 7 of text_len 16 tokens; Wan pads with zeros
    traced = {}
    hooks = [m.patch_embedding.register_forward_hook(
                 lambda mod, i, o: traced.__setitem__("patch_embedding", o.flatten(2).transpose(1, 2))),
             m.text_embedding.register_forward_hook(lambda mod, i, o: traced.__setitem__("text_embedding", o)),
             m.time_embedding.register_forward_hook(lambda mod, i, o: traced.__setitem__("time_embedding", o)),
             m.time_projection.register_forward_hook(
                 lambda mod, i, o: traced.__setitem__("time_projection", o.unflatten(1, (6, cfg["dim"])))),
             m.head.register_forward_hook(lambda mod, i, o: traced.__setitem__("head", o))]
    for n, b in enumerate(m.blocks):
        hooks.append(b.register_forward_hook(lambda mod, i, o, n=n: traced.__setitem__(f"blocks.{n}", o)))
    with torch.no_grad():
        out = m([x], t, [ctx], seq_len=36)[0]
    tensors = {k: v for k, v in m.state_dict().items() if k != "freqs"}
    padded = torch.cat([ctx, ctx.new_zeros(16 - 7, 32)])
    tensors.update({"input.x": x[None], "input.t": t, "input.context": padded[None], "output": out[None]})
    tensors.update({"trace." + k: v for k, v in traced.items()})
    save(f"{out_dir}/wan21_dit_t2v.safetensors", tensors,
         {"num_heads": "2", "config": json.dumps({k: v for k, v in cfg.items() if k != "patch_size"})})


def sampling_golden(out_dir):
    """wan/text2video.py's loop (UniPC, 4 steps, shift 3, guide 5) on the tiny DiT of dit_golden."""
    from wan.utils.fm_solvers_unipc import FlowUniPCMultistepScheduler
    m = tiny_dit()
    g = torch.Generator().manual_seed(5)
    noise = torch.randn(4, 3, 6, 8, generator=g)
    ctx, ctx_null = torch.randn(7, 32, generator=g), torch.randn(5, 32, generator=g)
    sched = FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    sched.set_timesteps(4, device="cpu", shift=3.0)
    latents = [noise]
    with torch.no_grad():
        for t in sched.timesteps:
            timestep = torch.stack([t])
            cond = m(latents, t=timestep, context=[ctx], seq_len=36)[0]
            uncond = m(latents, t=timestep, context=[ctx_null], seq_len=36)[0]
            pred = uncond + 5.0 * (cond - uncond)
            latents = [sched.step(pred.unsqueeze(0), t, latents[0].unsqueeze(0), return_dict=False)[0].squeeze(0)]
    pad = lambda c: torch.cat([c, c.new_zeros(16 - c.size(0), 32)])[None]
    save(f"{out_dir}/wan21_unipc_sampling.safetensors",
         {"input.noise": noise[None], "input.context": pad(ctx), "input.context_null": pad(ctx_null),
          "timesteps": sched.timesteps.float(), "sigmas": sched.sigmas.float(), "output.latents": latents[0][None]},
         {"steps": "4", "shift": "3", "guide_scale": "5", "solver": "unipc"})


def umt5_golden(out_dir):
    """Wan's T5Encoder with umT5's per-block position biases (shared_pos=False), on two
    sequences padded to 10 tokens with masks, as T5EncoderModel feeds it."""
    from wan.modules import t5 as wan_t5
    m = wan_t5.T5Encoder(vocab=64, dim=32, dim_attn=32, dim_ffn=64, num_heads=4, num_layers=2,
                         num_buckets=8, shared_pos=False, dropout=0.0).eval()
    randomize(m, 6)
    g = torch.Generator().manual_seed(7)
    lengths = [10, 6]
    ids = torch.randint(1, 64, (2, 10), generator=g)
    mask = torch.zeros(2, 10, dtype=torch.long)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0
    with torch.no_grad():
        out = m(ids, mask)
    tensors = dict(m.state_dict())
    tensors.update({"input.ids": ids.float(), "input.mask": mask.float(), "output": out})
    save(f"{out_dir}/wan21_umt5.safetensors", tensors, {"num_heads": "4", "num_buckets": "8"})


def clip_golden(out_dir):
    """clip.py's VisionTransformer as Wan builds its ViT-H/14 (pool 'token', pre-norm, exact GELU,
    no block post-norm), tiny: 28x28 images of 14x14 patches, width 32, 3 blocks; the tokens after
    the penultimate block, which is what Wan's CLIPModel.visual returns (use_31_block)."""
    from wan.modules import clip as wan_clip
    wan_clip.flash_attention = exact_attention
    m = wan_clip.VisionTransformer(image_size=28, patch_size=14, dim=32, mlp_ratio=4, out_dim=16, num_heads=2,
                                   num_layers=3, pool_type="token", pre_norm=True, post_norm=False,
                                   activation="gelu").eval()
    randomize(m, 9)
    g = torch.Generator().manual_seed(10)
    images = torch.randn(2, 3, 28, 28, generator=g)
    with torch.no_grad():
        out = m(images, use_31_block=True)
    tensors = {"visual." + k: v for k, v in m.state_dict().items()}
    tensors.update({"input.images": images, "output": out})
    save(f"{out_dir}/wan21_clip_vision.safetensors", tensors, {"num_heads": "2"})


def vae_golden(out_dir):
    from wan.modules import vae as wan_vae
    m = wan_vae.WanVAE_(dim=4, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
                        temperal_downsample=[False, True, True], dropout=0.0).eval()
    randomize(m, 3, std=0.15)
    g = torch.Generator().manual_seed(4)
    video = torch.rand(1, 3, 9, 16, 16, generator=g) * 2 - 1   # 1 + 2 x 4 frames
    scale = [torch.zeros(4), torch.ones(4)]
    with torch.no_grad():
        mu = m.encode(video, scale)
        z = torch.randn(mu.shape, generator=g)
        decoded = m.decode(z, scale)
    tensors = dict(m.state_dict())
    tensors.update({"input.video": video, "output.mu": mu, "input.z": z, "output.decoded": decoded})
    save(f"{out_dir}/wan21_vae.safetensors", tensors, {"z_dim": "4"})


if __name__ == "__main__":
    repo, out_dir = sys.argv[1], sys.argv[2]
    # The packages' __init__ files import everything (configs, tokenizers, distributed): bind
    # the package names to their folders so only the modules used here are imported.
    for name, folder in (("wan", "wan"), ("wan.modules", "wan/modules"), ("wan.utils", "wan/utils")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [f"{repo}/{folder}"]
        sys.modules[name] = pkg
    install_stubs()
    # t5.py evaluates torch.cuda.current_device() in a default argument at import.
    torch.cuda.current_device = lambda: "cpu"
    tok = types.ModuleType("wan.modules.tokenizers")  # needs transformers; the encoder does not
    tok.HuggingfaceTokenizer = object
    sys.modules["wan.modules.tokenizers"] = tok
    # clip.py imports torchvision (for its preprocessing transforms) and XLM-Roberta (its text
    # tower); the vision tower needs neither.
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")
    sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tv.transforms
    xlm = types.ModuleType("wan.modules.xlm_roberta")
    xlm.XLMRoberta = torch.nn.Module
    sys.modules["wan.modules.xlm_roberta"] = xlm
    torch.manual_seed(0)
    dit_golden(out_dir)
    image_dit_golden(out_dir, "i2v")
    image_dit_golden(out_dir, "flf2v")
    sampling_golden(out_dir)
    umt5_golden(out_dir)
    clip_golden(out_dir)
    vae_golden(out_dir)
    print("wrote", out_dir)
