"""Golden tensors from Wan2.2's own model code (issue 8, the Wan2.2 family).

Usage: /usr/bin/python3 make_goldens_wan22.py WAN22_REPO OUT_DIR

WAN22_REPO is a checkout of github:Wan-Video/Wan2.2 (never committed here). Like make_goldens.py
(whose stand-ins this script imports: diffusers' mixins, einops.rearrange, exact float64
attention for flash-attn and scaled_dot_product_attention, the hand-written safetensors writer),
it runs Wan's modules unchanged on tiny configurations, on CPU, and writes one safetensors file
per case:

- wan22_vae.safetensors: wan/modules/vae2_2.py's WanVAE_ (2x2 pixel patchify, Down/Up residual
  stages with the AvgDown3D / DupUp3D shortcuts, decoder width != encoder width), encode and
  decode in Wan's chunked causal schedule, with every stage's output traced (hooks fire once
  per chunk; the chunks are concatenated over time as kinema's trace does);
- wan22_dit_ti2v.safetensors: wan/modules/model.py's WanModel (model_type ti2v) with per-token
  timesteps built as wan/textimage2video.py builds them for image-to-video (the first latent
  frame's tokens at t = 0, masks_like(zero=True));
- wan22_dit_i2v.safetensors: WanModel model_type i2v as Wan2.2 I2V-A14B runs it (y = mask +
  image latent concatenated to x, no CLIP branch);
- wan22_ti2v_sampling.safetensors: textimage2video.py's image-to-video loop (UniPC) on the tiny
  TI2V DiT, the image latent put back at latent frame 0 after every step;
- wan_dpmpp_sampling.safetensors: FlowDPMSolverMultistepScheduler (wan/utils/fm_solvers.py)
  driven as wan/text2video.py drives it with sample_solver='dpm++' (get_sampling_sigmas +
  retrieve_timesteps), 4 steps, shift 3, guidance 5, on make_goldens.py's tiny T2V DiT (the
  weights are those of wan21_dit_t2v.safetensors, checked here, so they are not stored twice).

The two DiT goldens carry no weights: they are make_goldens.formula() of each tensor's index in
the sorted state_dict, which the C++ test recomputes.
"""
import json
import os
import struct
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_goldens as mg  # noqa: E402


def load(path):
    """The hand-written reader matching mg.save (F32 only)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").copy()).reshape(v["shape"])
    return out


def chunk_tracer(traced):
    """A forward hook factory whose outputs are concatenated over time (one call per chunk)."""
    def make(name):
        return lambda mod, i, o: traced.setdefault(name, []).append(o)
    return make


def vae_golden(out_dir):
    from wan.modules import vae2_2
    m = vae2_2.WanVAE_(dim=4, dec_dim=3, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=2, attn_scales=[],
                       temperal_downsample=[False, True, True], dropout=0.0).eval()
    mg.randomize(m, 11, std=0.15)
    g = torch.Generator().manual_seed(12)
    video = torch.rand(1, 3, 9, 16, 32, generator=g) * 2 - 1   # 1 + 2 x 4 frames; latent 1 x 2
    scale = [torch.zeros(4), torch.ones(4)]
    traced, hook = {}, chunk_tracer({})
    enc, dec = {}, {}
    te, td = chunk_tracer(enc), chunk_tracer(dec)
    m.encoder.conv1.register_forward_hook(te("encoder.conv1"))
    for i, stage in enumerate(m.encoder.downsamples):
        stage.register_forward_hook(te(f"encoder.downsamples.{i}"))
    m.encoder.middle[2].register_forward_hook(te("encoder.middle"))
    m.encoder.head[2].register_forward_hook(te("encoder.head"))
    m.decoder.conv1.register_forward_hook(td("decoder.conv1"))
    m.decoder.middle[2].register_forward_hook(td("decoder.middle"))
    for i, stage in enumerate(m.decoder.upsamples):
        stage.register_forward_hook(td(f"decoder.upsamples.{i}"))
    m.decoder.head[2].register_forward_hook(td("decoder.head"))
    m.conv2.register_forward_hook(td("conv2"))
    with torch.no_grad():
        mu = m.encode(video, scale)
        z = torch.randn(mu.shape, generator=g)
        decoded = m.decode(z, scale)
    for part in (enc, dec):
        traced.update({k: torch.cat(v, 2) for k, v in part.items()})
    tensors = dict(m.state_dict())
    tensors.update({"input.video": video, "output.mu": mu, "input.z": z, "output.decoded": decoded})
    tensors.update({"trace." + k: v for k, v in traced.items()})
    save_checked(f"{out_dir}/wan22_vae.safetensors", tensors, {"z_dim": "4"})


def dit_hooks(m, dim, traced):
    m.patch_embedding.register_forward_hook(
        lambda mod, i, o: traced.__setitem__("patch_embedding", o.flatten(2).transpose(1, 2)))
    m.text_embedding.register_forward_hook(lambda mod, i, o: traced.__setitem__("text_embedding", o))
    m.time_embedding.register_forward_hook(lambda mod, i, o: traced.__setitem__("time_embedding", o))
    m.time_projection.register_forward_hook(
        lambda mod, i, o: traced.__setitem__("time_projection", o.unflatten(-1, (6, dim))))
    m.head.register_forward_hook(lambda mod, i, o: traced.__setitem__("head", o))
    for n, b in enumerate(m.blocks):
        b.register_forward_hook(lambda mod, i, o, n=n: traced.__setitem__(f"blocks.{n}", o))


def wan22_dit(**overrides):
    from wan.modules import attention, model as wan_model
    attention.flash_attention = wan_model.flash_attention = mg.exact_attention
    cfg = dict(mg.DIT_CONFIG, **overrides)
    m = wan_model.WanModel(**cfg).eval()
    mg.formula_weights(m)
    return m, cfg


def ti2v_dit_golden(out_dir):
    """TI2V image-to-video: per-token timesteps, the first latent frame's tokens at 0."""
    from wan.utils.utils import masks_like
    m, cfg = wan22_dit(model_type="ti2v", in_dim=6, out_dim=6)
    g = torch.Generator().manual_seed(13)
    x = torch.randn(6, 3, 6, 8, generator=g)             # [C, F, H, W]: 3 x 3 x 4 = 36 tokens
    ctx = torch.randn(7, 32, generator=g)
    _, mask2 = masks_like([x], zero=True)
    timestep = torch.tensor([731.0])
    t = (mask2[0][0][:, ::2, ::2] * timestep).flatten()[None]   # [1, 36], as textimage2video.py
    traced = {}
    dit_hooks(m, cfg["dim"], traced)
    with torch.no_grad():
        out = m([x], t, [ctx], seq_len=36)[0]
    padded = torch.cat([ctx, ctx.new_zeros(16 - 7, 32)])
    tensors = {"input.x": x[None], "input.t": t, "input.context": padded[None], "output": out[None]}
    tensors.update({"trace." + k: v for k, v in traced.items()})
    save_checked(f"{out_dir}/wan22_dit_ti2v.safetensors", tensors, {"num_heads": "2", "model_type": "ti2v"})


def i2v_dit_golden(out_dir):
    """I2V-A14B's expert shape: in_dim = noise + 4 mask + image latent, no CLIP image branch."""
    m, cfg = wan22_dit(model_type="i2v", in_dim=12)
    g = torch.Generator().manual_seed(14)
    x = torch.randn(4, 3, 6, 8, generator=g)
    y = torch.randn(8, 3, 6, 8, generator=g)
    t = torch.tensor([903.0])
    ctx = torch.randn(9, 32, generator=g)
    traced = {}
    dit_hooks(m, cfg["dim"], traced)
    with torch.no_grad():
        out = m([x], t, [ctx], seq_len=36, y=[y])[0]
    padded = torch.cat([ctx, ctx.new_zeros(16 - 9, 32)])
    tensors = {"input.x": x[None], "input.condition": y[None], "input.t": t, "input.context": padded[None],
               "output": out[None]}
    tensors.update({"trace." + k: v for k, v in traced.items()})
    save_checked(f"{out_dir}/wan22_dit_i2v.safetensors", tensors, {"num_heads": "2", "model_type": "i2v"})


def dpmpp_golden(out_dir):
    """wan/text2video.py's dpm++ branch: get_sampling_sigmas, retrieve_timesteps, CFG 5."""
    from wan.utils.fm_solvers import FlowDPMSolverMultistepScheduler, get_sampling_sigmas, retrieve_timesteps
    m = mg.tiny_dit()
    stored = load(f"{out_dir}/wan21_dit_t2v.safetensors")
    for k, v in m.state_dict().items():
        assert torch.equal(v.float(), stored[k]), f"{k} differs from wan21_dit_t2v.safetensors"
    g = torch.Generator().manual_seed(15)
    noise = torch.randn(4, 3, 6, 8, generator=g)
    ctx, ctx_null = torch.randn(7, 32, generator=g), torch.randn(5, 32, generator=g)
    sched = FlowDPMSolverMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    timesteps, _ = retrieve_timesteps(sched, device="cpu", sigmas=get_sampling_sigmas(4, 3.0))
    latents = [noise]
    with torch.no_grad():
        for t in timesteps:
            timestep = torch.stack([t])
            cond = m(latents, t=timestep, context=[ctx], seq_len=36)[0]
            uncond = m(latents, t=timestep, context=[ctx_null], seq_len=36)[0]
            pred = uncond + 5.0 * (cond - uncond)
            latents = [sched.step(pred.unsqueeze(0), t, latents[0].unsqueeze(0), return_dict=False)[0].squeeze(0)]
    pad = lambda c: torch.cat([c, c.new_zeros(16 - c.size(0), 32)])[None]
    save_checked(f"{out_dir}/wan_dpmpp_sampling.safetensors",
                 {"input.noise": noise[None], "input.context": pad(ctx), "input.context_null": pad(ctx_null),
                  "timesteps": timesteps.float(), "sigmas": sched.sigmas.float(), "output.latents": latents[0][None]},
                 {"steps": "4", "shift": "3", "guide_scale": "5", "solver": "dpm++"})


def ti2v_sampling_golden(out_dir):
    """wan/textimage2video.py's i2v loop (UniPC, 4 steps, shift 3, guide 5) on the tiny TI2V
    DiT: latent frame 0 is the image latent z before the loop and after every step, and its
    tokens see timestep 0."""
    from wan.utils.fm_solvers_unipc import FlowUniPCMultistepScheduler
    from wan.utils.utils import masks_like
    m, _ = wan22_dit(model_type="ti2v", in_dim=6, out_dim=6)
    g = torch.Generator().manual_seed(16)
    noise = torch.randn(6, 3, 6, 8, generator=g)
    z = torch.randn(6, 1, 6, 8, generator=g)             # the image's latent, one frame
    ctx, ctx_null = torch.randn(7, 32, generator=g), torch.randn(5, 32, generator=g)
    sched = FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    sched.set_timesteps(4, device="cpu", shift=3.0)
    _, mask2 = masks_like([noise], zero=True)
    latent = (1. - mask2[0]) * z + mask2[0] * noise
    with torch.no_grad():
        for t in sched.timesteps:
            timestep = (mask2[0][0][:, ::2, ::2] * torch.stack([t])).flatten()[None]   # [1, 36]
            cond = m([latent], t=timestep, context=[ctx], seq_len=36)[0]
            uncond = m([latent], t=timestep, context=[ctx_null], seq_len=36)[0]
            pred = uncond + 5.0 * (cond - uncond)
            latent = sched.step(pred.unsqueeze(0), t, latent.unsqueeze(0), return_dict=False)[0].squeeze(0)
            latent = (1. - mask2[0]) * z + mask2[0] * latent
    pad = lambda c: torch.cat([c, c.new_zeros(16 - c.size(0), 32)])[None]
    save_checked(f"{out_dir}/wan22_ti2v_sampling.safetensors",
                 {"input.noise": noise[None], "input.first": z[None], "input.context": pad(ctx),
                  "input.context_null": pad(ctx_null), "output.latents": latent[None]},
                 {"steps": "4", "shift": "3", "guide_scale": "5", "solver": "unipc"})


def save_checked(path, tensors, metadata):
    for k, v in tensors.items():
        assert torch.isfinite(v).all(), f"{path}: {k} is not finite"
    mg.save(path, tensors, metadata)
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    repo, out_dir = sys.argv[1], sys.argv[2]
    # Bind the package names to their folders so only the modules used here are imported (the
    # packages' __init__ files import every pipeline, tokenizer and distributed helper).
    for name, folder in (("wan", "wan"), ("wan.modules", "wan/modules"), ("wan.utils", "wan/utils")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [f"{repo}/{folder}"]
        sys.modules[name] = pkg
    mg.install_stubs()
    tu = types.ModuleType("diffusers.utils.torch_utils")  # fm_solvers imports it; the ODE solver never calls it
    tu.randn_tensor = None
    sys.modules["diffusers.utils.torch_utils"] = tu
    # wan/utils/utils.py (masks_like) imports imageio and torchvision for its video writers.
    for name in ("imageio", "torchvision"):
        sys.modules.setdefault(name, types.ModuleType(name))
    torch.manual_seed(0)
    vae_golden(out_dir)
    ti2v_dit_golden(out_dir)
    i2v_dit_golden(out_dir)
    dpmpp_golden(out_dir)
    ti2v_sampling_golden(out_dir)
    print("wrote", out_dir)
