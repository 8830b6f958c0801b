#!/usr/bin/env python3
"""Independent oracle for kinema's GGUF reader (tests/io/test_gguf.cpp).

Writes, with numpy only and from the GGUF spec (ggml docs/gguf.md, the block_* structs of
ggml-common.h), GGUF files holding one tensor of every type kinema reads, built from random
blocks, and `expected.safetensors` with each tensor's values as f32, computed here with the
spec's formulas. Nothing here shares code with the C++ reader.

usage: gguf_reference.py OUT_DIR [SEED]
  OUT_DIR/v3.gguf          GGUF v3, default alignment (32)
  OUT_DIR/v2_align64.gguf  GGUF v2, general.alignment = 64 (u32)
  OUT_DIR/expected.safetensors
"""
import json
import struct
import sys

import numpy as np

F32 = np.float32

# ggml_type ids
GGML = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
        "q4_K": 12, "q5_K": 13, "q6_K": 14, "bf16": 30}
# (values per block, bytes per block)
BLOCK = {"q4_0": (32, 18), "q4_1": (32, 20), "q5_0": (32, 22), "q5_1": (32, 24),
         "q8_0": (32, 34), "q4_K": (256, 144), "q5_K": (256, 176), "q6_K": (256, 210)}


def half(raw, at):
    return F32(np.frombuffer(raw[at:at + 2].tobytes(), "<f2")[0])


def random_half(rng, n, scale):
    """n f16 values as bytes: finite, so the expected values compare exactly."""
    return (rng.standard_normal(n) * scale).astype("<f2").tobytes()


# ---- block builders: random bytes in the spec's field order ---------------------------------
def make_block(kind, rng):
    rb = lambda n: rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    if kind == "q4_0":
        return random_half(rng, 1, 0.05) + rb(16)
    if kind == "q8_0":
        return random_half(rng, 1, 0.01) + rb(32)
    if kind == "q4_1":
        return random_half(rng, 2, 0.05) + rb(16)
    if kind == "q5_0":
        return random_half(rng, 1, 0.05) + rb(4) + rb(16)
    if kind == "q5_1":
        return random_half(rng, 2, 0.05) + rb(4) + rb(16)
    if kind == "q4_K":
        return random_half(rng, 2, 0.01) + rb(12) + rb(128)
    if kind == "q5_K":
        return random_half(rng, 2, 0.01) + rb(12) + rb(32) + rb(128)
    if kind == "q6_K":
        return rb(128) + rb(64) + rb(16) + random_half(rng, 1, 0.001)
    raise ValueError(kind)


# ---- the spec's formulas, one block at a time (float32 arithmetic, no fused ops) ------------
def nibbles32(qs):
    """16 bytes -> 32 values: element j is byte j's low nibble, element j+16 its high nibble."""
    return np.concatenate([qs & 15, qs >> 4]).astype(np.int32)


def k_scales(s):
    """12 bytes -> (scale, min) of 8 sub-blocks, 6 bits each (ggml's get_scale_min_k4)."""
    s = s.astype(np.int32)
    sc = np.empty(8, np.int32)
    mn = np.empty(8, np.int32)
    sc[:4] = s[0:4] & 63
    mn[:4] = s[4:8] & 63
    sc[4:] = (s[8:12] & 15) | ((s[0:4] >> 6) << 4)
    mn[4:] = (s[8:12] >> 4) | ((s[4:8] >> 6) << 4)
    return sc, mn


def dequant_block(kind, b):
    b = np.frombuffer(b, np.uint8)
    if kind == "q4_0":
        return (nibbles32(b[2:18]) - 8).astype(F32) * half(b, 0)
    if kind == "q8_0":
        return b[2:34].view(np.int8).astype(F32) * half(b, 0)
    if kind == "q4_1":
        return nibbles32(b[4:20]).astype(F32) * half(b, 0) + half(b, 2)
    if kind in ("q5_0", "q5_1"):
        at = 2 if kind == "q5_0" else 4
        qh = int.from_bytes(b[at:at + 4].tobytes(), "little")
        high = np.array([(qh >> i) & 1 for i in range(32)], np.int32)
        q = nibbles32(b[at + 4:at + 20]) | (high << 4)
        if kind == "q5_0":
            return (q - 16).astype(F32) * half(b, 0)
        return q.astype(F32) * half(b, 0) + half(b, 2)
    if kind in ("q4_K", "q5_K"):
        d, dmin = half(b, 0), half(b, 2)
        sc, mn = k_scales(b[4:16])
        qh = b[16:48].astype(np.int32)
        qs = b[48:176] if kind == "q5_K" else b[16:144]
        y = np.empty(256, F32)
        for s in range(8):  # sub-block s: bytes 32*(s//2).. of qs, low nibble if s even
            chunk = qs[32 * (s // 2):32 * (s // 2) + 32].astype(np.int32)
            q = chunk & 15 if s % 2 == 0 else chunk >> 4
            if kind == "q5_K":
                q = q | (((qh >> s) & 1) << 4)
            y[32 * s:32 * s + 32] = (d * F32(sc[s])) * q.astype(F32) - dmin * F32(mn[s])
        return y
    if kind == "q6_K":
        ql, qh = b[0:128].astype(np.int32), b[128:192].astype(np.int32)
        sc = b[192:208].view(np.int8).astype(np.int32)
        d = half(b, 208)
        y = np.empty(256, F32)
        for i in range(256):
            h, r = divmod(i, 128)
            k, l = divmod(r, 32)
            low = ql[64 * h + l + 32 * (k % 2)]
            q = (low & 15 if k < 2 else low >> 4) | (((qh[32 * h + l] >> (2 * k)) & 3) << 4)
            y[i] = (d * F32(sc[8 * h + 2 * k + l // 16])) * F32(q - 32)
        return y
    raise ValueError(kind)


# ---- GGUF writing ---------------------------------------------------------------------------
def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv_bytes(alignment, orig_shapes):
    """One key-value of every GGUF value type (0..12), arrays of arrays and awkward strings,
    and ComfyUI-GGUF's "comfy.gguf.orig_shape.NAME" (i32 array) for reshaped tensors."""
    kvs = [(f"comfy.gguf.orig_shape.{name}", 9, struct.pack("<IQ", 5, len(shape)) +
            struct.pack(f"<{len(shape)}i", *shape)) for name, shape in orig_shapes.items()]
    kvs += [
        ("test.u8", 0, struct.pack("<B", 200)), ("test.i8", 1, struct.pack("<b", -5)),
        ("test.u16", 2, struct.pack("<H", 65535)), ("test.i16", 3, struct.pack("<h", -300)),
        ("test.u32", 4, struct.pack("<I", 4000000000)), ("test.i32", 5, struct.pack("<i", -7)),
        ("test.f32", 6, struct.pack("<f", 0.5)), ("test.bool", 7, struct.pack("<B", 1)),
        ("test.string", 8, gstr('say "hi"\n\u00e9')),
        ("test.array_u32", 9, struct.pack("<IQ", 4, 3) + struct.pack("<3I", 1, 2, 3)),
        ("test.u64", 10, struct.pack("<Q", 2**64 - 1)), ("test.i64", 11, struct.pack("<q", -2**63)),
        ("test.f64", 12, struct.pack("<d", 0.1)),
        ("test.array_str", 9, struct.pack("<IQ", 8, 2) + gstr("a") + gstr('b"c')),
        ("test.array_nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 1, 2) +
         struct.pack("<2b", 1, -2) + struct.pack("<IQ", 1, 1) + struct.pack("<b", 3)),
        ("test.array_f32", 9, struct.pack("<IQ", 6, 2) + struct.pack("<2f", 1.5, float("nan"))),
        ("general.name", 8, gstr("gguf reference")),
    ]
    if alignment != 32:
        kvs.append(("general.alignment", 4, struct.pack("<I", alignment)))
    return b"".join(gstr(k) + struct.pack("<I", t) + v for k, t, v in kvs), len(kvs)


def write_gguf(path, version, alignment, tensors, orig_shapes):
    """tensors: list of (name, ggml type name, shape outermost-first, raw bytes)."""
    kv, n_kv = kv_bytes(alignment, orig_shapes)
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), n_kv) + kv
    infos, offset, data = b"", 0, b""
    for name, kind, shape, raw in tensors:
        dims = list(reversed(shape))  # GGUF lists the innermost dimension first
        infos += gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        infos += struct.pack("<IQ", GGML[kind], offset)
        pad = (-len(raw)) % alignment
        data += raw + b"\0" * pad
        offset += len(raw) + pad
    header = head + infos
    header += b"\0" * ((-len(header)) % alignment)
    with open(path, "wb") as f:
        f.write(header + data)


def write_safetensors(path, arrays):
    header, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        raw = np.ascontiguousarray(a, "<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 8)
    tensors, expected = [], {}
    for kind, shape in [("q4_1", (3, 64)), ("q5_0", (2, 96)), ("q5_1", (4, 32)), ("q4_K", (3, 512)),
                        ("q5_K", (2, 256)), ("q6_K", (2, 2, 256)), ("q8_0", (5, 64)), ("q4_0", (3, 32))]:
        per, _ = BLOCK[kind]
        blocks = [make_block(kind, rng) for _ in range(int(np.prod(shape)) // per)]
        tensors.append((f"w.{kind}", kind, shape, b"".join(blocks)))
        expected[f"w.{kind}"] = np.concatenate([dequant_block(kind, b) for b in blocks]).reshape(shape)
    x = (rng.standard_normal((3, 5)) * 4).astype(F32)
    tensors.append(("w.f32", "f32", (3, 5), x.astype("<f4").tobytes()))
    expected["w.f32"] = x
    h = x.astype("<f2")
    tensors.append(("w.f16", "f16", (15,), h.tobytes()))
    expected["w.f16"] = h.astype(F32).reshape(15)
    bf = (x.view(np.uint32) >> 16).astype("<u2")  # truncation is a valid bf16 value too
    tensors.append(("w.bf16", "bf16", (1, 3, 5), bf.tobytes()))
    expected["w.bf16"] = (bf.astype(np.uint32) << 16).view(F32).reshape(1, 3, 5)
    tensors.append(("w.empty", "f32", (0, 4), b""))
    expected["w.empty"] = np.zeros((0, 4), F32)
    # Stored flat or reshaped, returned in the shape comfy.gguf.orig_shape gives: a 5-D f32, and
    # a q8_0 whose real inner dimension (16) is not a whole block, so it comes back dequantized.
    y = (rng.standard_normal(24) * 2).astype(F32)
    tensors.append(("w.orig.f32", "f32", (24,), y.astype("<f4").tobytes()))
    expected["w.orig.f32"] = y.reshape(2, 3, 1, 2, 2)
    blocks = [make_block("q8_0", rng) for _ in range(2)]
    tensors.append(("w.orig_q8", "q8_0", (2, 32), b"".join(blocks)))
    expected["w.orig_q8"] = np.concatenate([dequant_block("q8_0", b) for b in blocks]).reshape(4, 16)
    orig = {"w.orig.f32": (2, 3, 1, 2, 2), "w.orig_q8": (4, 16)}
    write_gguf(f"{out}/v3.gguf", 3, 32, tensors, orig)
    write_gguf(f"{out}/v2_align64.gguf", 2, 64, tensors, orig)
    write_safetensors(f"{out}/expected.safetensors", expected)


if __name__ == "__main__":
    main()
