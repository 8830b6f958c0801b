#!/usr/bin/python3
"""Helpers for bench/wan_vs_sdcpp.sh: kinema against stable-diffusion.cpp on Wan2.1-T2V-1.3B.

  weights DIR [--dit-layers N --umt5-layers N --seed S] --tokenizer SPIECE
                           random-weight Wan2.1 T2V 1.3B files (DiT, VAE, umT5-XXL encoder),
                           in Wan's names (kinema's release directory; sd.cpp reads the same DiT
                           and VAE files) and the umT5 again, same values, in names sd.cpp reads
  sdcpp-vocab SRC TOKMODEL
                           stand-ins for the tokenizer headers the stable-diffusion.cpp snapshot
                           lacks (src/tokenizers/vocab/*.hpp): umT5's is kinema's TOKMODEL
                           (sentencepiece) as a Hugging Face Unigram tokenizer.json, so both
                           programs tokenize the prompt alike; the others are empty
  report RUNS OUT.json OUT.md
                           the markdown table and JSON from the runs' logs

Runs with Debian's python3-torch (/usr/bin/python3); nothing else is needed.
"""
import json
import os
import re
import struct
import sys

# ---------------------------------------------------------------------------------------------
# sentencepiece model -> Hugging Face Unigram tokenizer.json (for sd.cpp's T5UniGramTokenizer)


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _proto_fields(b):
    """(field number, value) of a protobuf message; enough of the wire format for ModelProto."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = struct.unpack("<f", b[i:i + 4])[0], i + 4
        else:
            raise ValueError(f"[sdcpp-vocab] unsupported protobuf wire type {wire}")
        yield field, v


def sentencepiece_pieces(path):
    """[(piece, score, type)] in id order: ModelProto field 1 is the repeated SentencePiece
    {1: piece, 2: score, 3: type (2 = unknown)} (sentencepiece_model.proto)."""
    pieces = []
    for field, v in _proto_fields(open(path, "rb").read()):
        if field == 1:
            p = dict(_proto_fields(v))
            pieces.append((p.get(1, b"").decode("utf-8"), float(p.get(2, 0.0)), p.get(3, 1)))
    if not pieces:
        raise ValueError(f"[sdcpp-vocab] {path} holds no sentencepiece pieces")
    return pieces


def _c_array(name, data):
    body = ",".join(f"0x{c:02x}" for c in data)
    return f"static const unsigned char {name}[] = {{\n{body}\n}};\n"


def sdcpp_vocab(src, tokmodel):
    """Writes the vocab headers stable-diffusion.cpp's vocab.cpp includes but the snapshot lacks.
    Only umT5's is used by a Wan run; the rest are one-byte placeholders (their models fail to
    tokenize, which this benchmark never asks for)."""
    pieces = sentencepiece_pieces(tokmodel)
    unk = next((i for i, p in enumerate(pieces) if p[2] == 2), 2)
    tok = {"model": {"type": "Unigram", "unk_id": unk, "vocab": [[p, float(s)] for p, s, _ in pieces]},
           "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}}
    umt5 = json.dumps(tok, ensure_ascii=False).encode("utf-8")
    vocab = os.path.join(src, "src", "tokenizers", "vocab")
    headers = {
        "umt5.hpp": [("umt5_tokenizer_json_str", umt5)],
        "t5.hpp": [("t5_tokenizer_json_str", b"{}")],
        "qwen_merges.hpp": [("qwen2_merges_utf8_c_str", b"\n")],
        "mistral_merges.hpp": [("mistral_merges_utf8_c_str", b"\n")],
        "mistral_vocab.hpp": [("mistral_vocab_json_utf8_c_str", b"{}")],
        "gemma_merges.hpp": [("gemma_merges_utf8_c_str", b"\n")],
        "gemma_vocab.hpp": [("gemma_vocab_json_utf8_c_str", b"{}")],
        "gemma2_merges.hpp": [("gemma2_merges_utf8_c_str", b"\n")],
        "gemma2_vocab.hpp": [("gemma2_vocab_json_utf8_c_str", b"{}")],
        "gpt_oss_merges.hpp": [("gpt_oss_merges_utf8_c_str", b"\n")],
        "gpt_oss_vocab.hpp": [("gpt_oss_vocab_json_utf8_c_str", b"{}")],
    }
    for name, arrays in headers.items():
        path = os.path.join(vocab, name)
        if os.path.exists(path) and name != "umt5.hpp":
            continue  # a real header from the snapshot wins
        with open(path, "w") as f:
            f.write("// stand-in written by kinema's bench/wan_vs_sdcpp.py (the snapshot lacked it)\n")
            for sym, data in arrays:
                f.write(_c_array(sym, data))
    print(f"sdcpp-vocab: umT5 tokenizer of {len(pieces)} pieces (unk {unk}) from {tokmodel}")

# ---------------------------------------------------------------------------------------------
# Random-weight Wan2.1-T2V-1.3B checkpoints. Names and shapes follow github:Wan-Video/Wan2.1
# (wan/modules/model.py WanModel, vae.py WanVAE_ via _video_vae, t5.py T5Encoder for umt5_xxl).
# sd.cpp's umT5 gets llama.cpp's GGUF names for T5 (enc.blk.N.attn_q.weight, ..., as the
# published umt5-xxl-encoder GGUFs have them), which sd.cpp maps to Hugging Face's keys
# (src/name_conversion.cpp t5_name_map); Hugging Face's own names would not fit GGUF's 63 bytes
# (encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight is 68). Values are seeded
# per tensor name, so every run writes the same files.

DIT = dict(dim=1536, ffn_dim=8960, freq_dim=256, num_heads=12, num_layers=30, in_dim=16, out_dim=16,
           text_dim=4096, text_len=512, patch=(1, 2, 2))
UMT5 = dict(vocab=256384, dim=4096, ffn_dim=10240, num_heads=64, num_layers=24, num_buckets=32)
VAE = dict(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, temperal_downsample=[False, True, True])


def dit_tensors(c):
    """[(name, shape, init)] of WanModel (t2v; qk_norm, cross_attn_norm as Wan2.1 ships).
    init: ("normal", std) | ("ones",) | ("zeros",)."""
    d, f, t = c["dim"], c["ffn_dim"], c["text_dim"]
    pt, ph, pw = c["patch"]
    lin = lambda name, o, i: [(name + ".weight", [o, i], ("normal", i ** -0.5)), (name + ".bias", [o], ("zeros",))]
    out = [("patch_embedding.weight", [d, c["in_dim"], pt, ph, pw], ("normal", (c["in_dim"] * pt * ph * pw) ** -0.5)),
           ("patch_embedding.bias", [d], ("zeros",))]
    out += lin("text_embedding.0", d, t) + lin("text_embedding.2", d, d)
    out += lin("time_embedding.0", d, c["freq_dim"]) + lin("time_embedding.2", d, d)
    out += lin("time_projection.1", 6 * d, d)
    for i in range(c["num_layers"]):
        b = f"blocks.{i}."
        out.append((b + "modulation", [1, 6, d], ("normal", d ** -0.5)))
        for a in ("self_attn", "cross_attn"):
            for p in "qkvo":
                out += lin(f"{b}{a}.{p}", d, d)
            out += [(f"{b}{a}.norm_q.weight", [d], ("ones",)), (f"{b}{a}.norm_k.weight", [d], ("ones",))]
            if a == "self_attn":
                out += [(b + "norm3.weight", [d], ("ones",)), (b + "norm3.bias", [d], ("zeros",))]
        out += lin(b + "ffn.0", f, d) + lin(b + "ffn.2", d, f)
    out += lin("head.head", c["out_dim"] * pt * ph * pw, d)
    out.append(("head.modulation", [1, 2, d], ("normal", d ** -0.5)))
    return out


def vae_tensors(c):
    """[(name, shape, init)] of WanVAE_(dim 96, z_dim 16): Encoder3d, conv1, conv2, Decoder3d."""
    out = []

    def conv(name, o, i, k):
        k = list(k)
        fan = i
        for s in k:
            fan *= s
        out.extend([(name + ".weight", [o, i] + k, ("normal", fan ** -0.5)), (name + ".bias", [o], ("zeros",))])

    def norm(name, d, images):
        out.append((name + ".gamma", [d, 1, 1] if images else [d, 1, 1, 1], ("ones",)))

    def res(name, i, o):
        norm(name + ".residual.0", i, False)
        conv(name + ".residual.2", o, i, (3, 3, 3))
        norm(name + ".residual.3", o, False)
        conv(name + ".residual.6", o, o, (3, 3, 3))
        if i != o:
            conv(name + ".shortcut", o, i, (1, 1, 1))

    def attn(name, d):
        norm(name + ".norm", d, True)
        conv(name + ".to_qkv", 3 * d, d, (1, 1))
        conv(name + ".proj", d, d, (1, 1))

    def resample(name, d, mode):
        conv(name + ".resample.1", d // 2 if mode.startswith("up") else d, d, (3, 3))
        if mode == "upsample3d":
            conv(name + ".time_conv", 2 * d, d, (3, 1, 1))
        if mode == "downsample3d":
            conv(name + ".time_conv", d, d, (3, 1, 1))

    dim, z, mult, nres = c["dim"], c["z_dim"], c["dim_mult"], c["num_res_blocks"]
    # Encoder3d(dim, z * 2, ...)
    dims = [dim * u for u in [1] + mult]
    conv("encoder.conv1", dims[0], 3, (3, 3, 3))
    k = 0
    for i, (di, do) in enumerate(zip(dims[:-1], dims[1:])):
        for _ in range(nres):
            res(f"encoder.downsamples.{k}", di, do)
            di, k = do, k + 1
        if i != len(mult) - 1:
            resample(f"encoder.downsamples.{k}", do, "downsample3d" if c["temperal_downsample"][i] else "downsample2d")
            k += 1
    res("encoder.middle.0", dims[-1], dims[-1])
    attn("encoder.middle.1", dims[-1])
    res("encoder.middle.2", dims[-1], dims[-1])
    norm("encoder.head.0", dims[-1], False)
    conv("encoder.head.2", 2 * z, dims[-1], (3, 3, 3))
    conv("conv1", 2 * z, 2 * z, (1, 1, 1))
    conv("conv2", z, z, (1, 1, 1))
    # Decoder3d(dim, z, ..., temperal_upsample = temperal_downsample reversed)
    up = c["temperal_downsample"][::-1]
    dims = [dim * u for u in [mult[-1]] + mult[::-1]]
    conv("decoder.conv1", dims[0], z, (3, 3, 3))
    res("decoder.middle.0", dims[0], dims[0])
    attn("decoder.middle.1", dims[0])
    res("decoder.middle.2", dims[0], dims[0])
    k = 0
    for i, (di, do) in enumerate(zip(dims[:-1], dims[1:])):
        if i in (1, 2, 3):
            di //= 2
        for _ in range(nres + 1):
            res(f"decoder.upsamples.{k}", di, do)
            di, k = do, k + 1
        if i != len(mult) - 1:
            resample(f"decoder.upsamples.{k}", do, "upsample3d" if up[i] else "upsample2d")
            k += 1
    norm("decoder.head.0", dims[-1], False)
    conv("decoder.head.2", 3, dims[-1], (3, 3, 3))
    return out


def umt5_tensors(c):
    """[(wan name, gguf name, shape, init)] of umT5-XXL's encoder: Wan's T5Encoder keys (kinema)
    and llama.cpp's (sd.cpp; Hugging Face's UMT5EncoderModel key in the comments). Per-block
    relative position bias (umT5: not shared). Init as T5's (Mesh TensorFlow): the std of each
    projection by its fan-in."""
    d, f, h, nb = c["dim"], c["ffn_dim"], c["num_heads"], c["num_buckets"]
    out = [("token_embedding.weight", "token_embd.weight", [c["vocab"], d], ("normal", 1.0))]  # shared
    for i in range(c["num_layers"]):
        w, g = f"blocks.{i}.", f"enc.blk.{i}."  # encoder.block.{i}.
        out.append((w + "norm1.weight", g + "attn_norm.weight", [d], ("ones",)))  # layer.0.layer_norm
        for p, o in zip("qkvo", ("q", "k", "v", "o")):  # layer.0.SelfAttention.{q,k,v,o}
            std = (d * d) ** -0.5 if p == "q" else d ** -0.5
            out.append((f"{w}attn.{p}.weight", f"{g}attn_{o}.weight", [d, d], ("normal", std)))
        out.append((w + "pos_embedding.embedding.weight", g + "attn_rel_b.weight",  # relative_attention_bias
                    [nb, h], ("normal", (2 * nb * h) ** -0.5)))
        out.append((w + "norm2.weight", g + "ffn_norm.weight", [d], ("ones",)))  # layer.1.layer_norm
        out.append((w + "ffn.gate.0.weight", g + "ffn_gate.weight", [f, d], ("normal", d ** -0.5)))  # wi_0
        out.append((w + "ffn.fc1.weight", g + "ffn_up.weight", [f, d], ("normal", d ** -0.5)))  # wi_1
        out.append((w + "ffn.fc2.weight", g + "ffn_down.weight", [d, f], ("normal", f ** -0.5)))  # wo
    out.append(("norm.weight", "enc.output_norm.weight", [d], ("ones",)))  # encoder.final_layer_norm
    return out


class SafetensorsWriter:
    """Streams one safetensors file: the header (all shapes known up front), then each tensor's
    bytes in the header's order."""
    SIZES = {"BF16": 2, "F32": 4}

    def __init__(self, path, entries, dtype, metadata=None):
        header, off = {}, 0
        for name, shape in entries:
            n = self.SIZES[dtype]
            for s in shape:
                n *= s
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
            off += n
        if metadata:
            header["__metadata__"] = metadata
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        self.f = open(path, "wb")
        self.f.write(struct.pack("<Q", len(h)) + h)
        self.total = off

    def write(self, data):
        self.f.write(data)

    def close(self):
        self.f.close()


def generate(name, shape, init, dtype, seed, sinks):
    """Writes one tensor's values, row block by row block, to every sink."""
    import torch
    import zlib
    n = 1
    for s in shape:
        n *= s
    g = torch.Generator().manual_seed((seed * 1000003 + zlib.crc32(name.encode())) & 0x7FFFFFFFFFFFFFFF)
    tdt = torch.bfloat16 if dtype == "BF16" else torch.float32
    block = 1 << 24
    for start in range(0, n, block):
        m = min(block, n - start)
        if init[0] == "normal":
            x = torch.randn(m, generator=g).mul_(init[1])
        else:
            x = torch.full((m,), 1.0 if init[0] == "ones" else 0.0)
        x = x.to(tdt)
        data = (x.view(torch.int16) if tdt == torch.bfloat16 else x).numpy().tobytes()
        for s in sinks:
            s.write(data)


def write_weights(out, layers_dit, layers_umt5, seed, tokmodel):
    """OUT/Wan2.1-T2V-1.3B: a Wan2.1 release directory for `kinema generate --model` (the .pth
    names hold safetensors: kinema reads weights by content, docs/weights.md); OUT/sdcpp: what
    `sd-cli` takes (the DiT and VAE are links to the same files; the umT5 is the same values under
    llama.cpp's names)."""
    import shutil
    dit_c, t5_c = dict(DIT, num_layers=layers_dit), dict(UMT5, num_layers=layers_umt5)
    wan, sd = os.path.join(out, "Wan2.1-T2V-1.3B"), os.path.join(out, "sdcpp")
    os.makedirs(os.path.join(wan, "google", "umt5-xxl"), exist_ok=True)
    os.makedirs(sd, exist_ok=True)
    shutil.copyfile(tokmodel, os.path.join(wan, "google", "umt5-xxl", "spiece.model"))
    cfg = {"_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "t2v", "dim": dit_c["dim"],
           "eps": 1e-06, "ffn_dim": dit_c["ffn_dim"], "freq_dim": dit_c["freq_dim"], "in_dim": dit_c["in_dim"],
           "num_heads": dit_c["num_heads"], "num_layers": layers_dit, "out_dim": dit_c["out_dim"],
           "text_len": dit_c["text_len"]}
    with open(os.path.join(wan, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    meta = {"kinema_bench": f"random weights, seed {seed}: Wan2.1-T2V-1.3B shapes"}
    jobs = [("DiT", "diffusion_pytorch_model.safetensors", dit_tensors(dit_c), "BF16"),
            ("VAE", "Wan2.1_VAE.pth", vae_tensors(VAE), "F32")]
    for what, fname, tensors, dtype in jobs:
        w = SafetensorsWriter(os.path.join(wan, fname), [(n, s) for n, s, _ in tensors], dtype, meta)
        for n, s, init in tensors:
            generate(n, s, init, dtype, seed, [w])
        w.close()
        print(f"weights: {what} {len(tensors)} tensors, {w.total / 2**30:.2f} GiB {dtype} -> {wan}/{fname}", flush=True)
    t5 = umt5_tensors(t5_c)
    a = SafetensorsWriter(os.path.join(wan, "models_t5_umt5-xxl-enc-bf16.pth"), [(w, s) for w, _, s, _ in t5], "BF16", meta)
    b = SafetensorsWriter(os.path.join(sd, "umt5-xxl-encoder-bf16.safetensors"), [(h, s) for _, h, s, _ in t5], "BF16", meta)
    for wname, _, s, init in t5:
        generate(wname, s, init, "BF16", seed, [a, b])
    a.close(), b.close()
    print(f"weights: umT5-XXL encoder {len(t5)} tensors, {a.total / 2**30:.2f} GiB BF16, twice (Wan and llama.cpp names)", flush=True)
    for link, target in (("wan2.1_t2v_1.3B_bf16.safetensors", "diffusion_pytorch_model.safetensors"),
                         ("wan_2.1_vae.safetensors", "Wan2.1_VAE.pth")):
        p = os.path.join(sd, link)
        if os.path.lexists(p):
            os.remove(p)
        os.symlink(os.path.join("..", "Wan2.1-T2V-1.3B", target), p)
    with open(os.path.join(out, "weights.json"), "w") as f:
        json.dump({"seed": seed, "dit_layers": layers_dit, "umt5_layers": layers_umt5, "dit": dit_c, "umt5": t5_c,
                   "vae": VAE}, f, indent=2)

# ---------------------------------------------------------------------------------------------
# Report: parse each run's log and /usr/bin/time -v output.


def dit_forward_flops(c, tokens, text_len):
    """FLOPs of one DiT forward (multiply-add = 2), as bench/bench_common.hpp's dit_forward_flops:
    per layer the self-attention q, k, v, o and the cross-attention q, o projections and the MLP
    over the video tokens, cross k, v over the text, QK^T and PV of both attentions; outside the
    layers the patch embedding and head and the text embedding. Norms, modulation, RoPE and
    softmax are left out (under 1%)."""
    d, f, n, l = c["dim"], c["ffn_dim"], tokens, text_len
    pv = c["patch"][0] * c["patch"][1] * c["patch"][2]
    per_layer = n * (4 * d * d + 2 * d * d + 2 * d * f) + l * 2 * d * d + 2 * n * n * d + 2 * n * l * d
    outside = n * c["in_dim"] * pv * d + n * d * c["out_dim"] * pv + l * (c["text_dim"] * d + d * d)
    return 2.0 * (c["num_layers"] * per_layer + outside)


def _num(pattern, text, last=True):
    m = re.findall(pattern, text)
    return float(m[-1] if last else m[0]) if m else None


def parse_time_v(text):
    """Wall seconds, peak RSS (bytes) and exit status from GNU time -v."""
    wall = None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    if m:
        parts = [float(p) for p in m.group(1).split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = _num(r"Maximum resident set size \(kbytes\): (\d+)", text)
    status = _num(r"Exit status: (\d+)", text)
    return {"wall_s": wall, "peak_rss_bytes": rss * 1024 if rss is not None else None,
            "exit_status": int(status) if status is not None else None}


def parse_kinema(text):
    """`kinema generate` ends with "wrote OUT (N frames; text T s, sampling S s, decode D s)"."""
    m = re.search(r"text ([\d.]+) s, sampling ([\d.]+) s, decode ([\d.]+) s", text)
    if not m:
        return {}
    return {"text_s": float(m.group(1)), "sampling_s": float(m.group(2)), "decode_s": float(m.group(3)), "step_s": []}


def parse_sdcpp(text):
    """sd-cli's INFO lines: "get_learned_condition completed, taking T s", "sampling completed,
    ...", "decode_first_stage completed, ..."; "loading tensors completed, taking L s" each time
    it reads a model's weights, which by default happens on first use, inside those phases (so
    the umT5's, the DiT's and the VAE's loads are told apart by where the line falls); and its
    progress bar, "|===| 2/4 - 12.34s/it" per step (it/s when faster than one a second)."""
    out = {"loads_s": {}}
    phase = "text"
    for line in text.replace("\r", "\n").splitlines():
        m = re.search(r"loading tensors completed, taking ([\d.]+)s", line)
        if m:
            out["loads_s"][phase] = out["loads_s"].get(phase, 0.0) + float(m.group(1))
        for key, pat, nxt in (("text_s", r"get_learned_condition completed, taking ([\d.]+)s", "sampling"),
                              ("sampling_s", r"- sampling completed, taking ([\d.]+)s", "decode"),
                              ("decode_s", r"decode_first_stage completed, taking ([\d.]+)s", "done"),
                              ("generate_s", r"generate_video completed in ([\d.]+)s", "done")):
            m = re.search(pat, line)
            if m:
                out[key], phase = float(m.group(1)), nxt
    steps = {}
    for step, total, v, unit in re.findall(r"(\d+)/(\d+) - ([\d.]+)(s/it|it/s)", text):
        steps[int(step)] = float(v) if unit == "s/it" else 1.0 / float(v)
    out["step_s"] = [steps[k] for k in sorted(steps)]
    return out


def report(runs, out_json, out_md):
    s = json.load(open(os.path.join(runs, "settings.json")))
    w = json.load(open(os.path.join(s["weights_dir"], "weights.json")))
    dit = dict(w["dit"], patch=tuple(w["dit"]["patch"]))
    tokens = ((s["frames"] - 1) // 4 + 1) * (s["height"] // 16) * (s["width"] // 16)
    fwd = dit_forward_flops(dit, tokens, dit["text_len"])
    step_flops = fwd * (2 if s["cfg"] != 1 else 1)
    peak = s["peak_bf16_gflops"]
    rows = []
    for mode in s["modes"]:
        for engine in s["engines"]:
            base = os.path.join(runs, f"{engine}-{mode}")
            if not os.path.exists(base + ".log"):
                continue
            log, tv = open(base + ".log", errors="replace").read(), ""
            if os.path.exists(base + ".time"):
                tv = open(base + ".time", errors="replace").read()
            r = {"engine": engine, "mode": mode}
            r.update(parse_time_v(tv))
            r.update(parse_kinema(log) if engine == "kinema" else parse_sdcpp(log))
            if r.get("sampling_s"):
                r["step_mean_s"] = r["sampling_s"] / s["steps"]
                # sd.cpp reads (and for q8_0 converts) the DiT on first use, inside its first step
                # by default: its load time, which it logs, is taken out of the step
                load = r.get("loads_s", {}).get("sampling", 0.0)
                r["step_s_used"] = (r["sampling_s"] - load) / s["steps"]
                r["dit_gflops"] = step_flops / r["step_s_used"] / 1e9
                r["fraction_of_bf16_peak"] = r["dit_gflops"] / peak
            loads = r.get("loads_s", {})
            for key, phase in (("text_s", "text"), ("decode_s", "decode")):
                if key in r:  # the umT5's and the VAE's compute, without sd.cpp's first-use load
                    r[key.replace("_s", "_compute_s")] = r[key] - loads.get(phase, 0.0)
            r["weights_load_s"] = sum(loads.values()) if loads else None
            r["ok"] = r.get("exit_status") == 0 and "sampling_s" in r
            rows.append(r)
    res = {"settings": s, "dit_tokens": tokens, "dit_forward_gflop": fwd / 1e9, "dit_step_gflop": step_flops / 1e9,
           "runs": rows, "comparison": {}}
    for mode in s["modes"]:
        k = next((r for r in rows if r["mode"] == mode and r["engine"] == "kinema" and r["ok"]), None)
        p = next((r for r in rows if r["mode"] == mode and r["engine"] == "sdcpp" and r["ok"]), None)
        if k and p:
            res["comparison"][mode] = {
                "dit_step_speedup": p["step_s_used"] / k["step_s_used"],
                "peak_rss_ratio": k["peak_rss_bytes"] / p["peak_rss_bytes"] if k.get("peak_rss_bytes") and p.get("peak_rss_bytes") else None,
                "umt5_speedup": p["text_compute_s"] / k["text_compute_s"] if k.get("text_compute_s") and p.get("text_compute_s") else None,
                "vae_decode_speedup": p["decode_compute_s"] / k["decode_compute_s"] if k.get("decode_compute_s") and p.get("decode_compute_s") else None}
    json.dump(res, open(out_json, "w"), indent=2)

    f = lambda v, fmt="%.2f": (fmt % v) if isinstance(v, (int, float)) else "-"
    lines = [f"Wan2.1-T2V-1.3B architecture, random weights; {s['width']}x{s['height']}, {s['frames']} frames "
             f"({tokens} DiT tokens), {s['steps']} {s['sampler']} steps, CFG {s['cfg']} (2 DiT forwards a step), "
             f"{s['threads']} threads, seed {s['seed']}; DiT {w['dit_layers']} layers, umT5 {w['umt5_layers']} layers. "
             f"DiT step = {step_flops / 1e9:.0f} GFLOP; bf16 peak {peak:.0f} GFLOP/s ({s['peak_source']}).",
             "",
             "| mode | engine | DiT step s | DiT GFLOP/s | of bf16 peak | umT5 s | VAE decode s | weights read on first use s | wall s | peak RSS GiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = "kinema" if r["engine"] == "kinema" else "stable-diffusion.cpp"
        lines.append(f"| {r['mode']} | {name}{'' if r['ok'] else ' (failed)'} | {f(r.get('step_s_used'))} | "
                     f"{f(r.get('dit_gflops'), '%.1f')} | {f(100 * r['fraction_of_bf16_peak'] if 'fraction_of_bf16_peak' in r else None, '%.1f%%')} | "
                     f"{f(r.get('text_compute_s'))} | {f(r.get('decode_compute_s'))} | {f(r.get('weights_load_s'))} | {f(r.get('wall_s'), '%.1f')} | "
                     f"{f(r['peak_rss_bytes'] / 2**30 if r.get('peak_rss_bytes') else None)} |")
    lines.append("")
    for mode, c in res["comparison"].items():
        lines.append(f"- {mode}: kinema's DiT step {c['dit_step_speedup']:.2f}x as fast as sd.cpp's, umT5 "
                     f"{f(c['umt5_speedup'])}x, VAE decode {f(c['vae_decode_speedup'])}x; kinema's peak RSS "
                     f"{f(c['peak_rss_ratio'])}x sd.cpp's (target: step >= 2x at <= 1x memory)")
    md = "\n".join(lines) + "\n"
    open(out_md, "w").write(md)
    print(md, end="")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("weights")
    a.add_argument("out")
    a.add_argument("--dit-layers", type=int, default=DIT["num_layers"])
    a.add_argument("--umt5-layers", type=int, default=UMT5["num_layers"])
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--tokenizer", required=True, help="sentencepiece model for google/umt5-xxl/spiece.model")
    a = sub.add_parser("sdcpp-vocab")
    a.add_argument("src")
    a.add_argument("tokenizer")
    a = sub.add_parser("report")
    a.add_argument("runs")
    a.add_argument("out_json")
    a.add_argument("out_md")
    args = ap.parse_args()
    if args.cmd == "weights":
        write_weights(args.out, args.dit_layers, args.umt5_layers, args.seed, args.tokenizer)
    elif args.cmd == "sdcpp-vocab":
        sdcpp_vocab(args.src, args.tokenizer)
    else:
        report(args.runs, args.out_json, args.out_md)
