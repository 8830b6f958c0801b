#!/usr/bin/env python3
"""Writes the PyTorch checkpoints test_pth.cpp reads, and what kinema must make of them.

Usage: pth_reference.py OUT_DIR

Valid checkpoints (saved by the installed PyTorch's torch.save, zip format):
  NAME.pth with NAME.expected.safetensors beside it: the tensors kinema must return (contiguous,
  f64 rounded to f32 by torch itself) and, in __metadata__, the metadata strings it must return.
Hostile files, hostile/NAME.pth, listed in hostile.json as {NAME: a phrase the Error must contain}.
The hostile pickles are assembled here byte by byte; nothing in them is ever unpickled.
"""
import collections
import json
import os
import struct
import sys
import zipfile
import zlib

import torch

OUT = sys.argv[1]
os.makedirs(os.path.join(OUT, "hostile"), exist_ok=True)
torch.manual_seed(8)

ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata):
    """A safetensors file written by hand (no dependency on the safetensors package)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.float64:
            t = t.to(torch.float32)  # what kinema returns for f64: torch's round to nearest
        as_int = {2: torch.int16, 4: torch.int32}[t.element_size()]  # numpy has no bfloat16
        raw = t.view(as_int).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def save_case(name, obj, expected, metadata, **save_args):
    torch.save(obj, os.path.join(OUT, name + ".pth"), **save_args)
    write_safetensors(os.path.join(OUT, name + ".expected.safetensors"), expected, metadata)


# 1. Every float dtype, views sharing one storage (transpose, slices with offsets, steps,
#    stride 0), scalars, empty tensors, a Parameter, an integer tensor (skipped), metadata.
base = torch.randn(6, 8)
half = torch.randn(4, 5).to(torch.float16)
bf = torch.randn(3, 7).to(torch.bfloat16)
dbl = torch.randn(5, 3, dtype=torch.float64) * 1e3 + 1e-9
tensors = {
    "f32": base,
    "f32.t": base.t(),                      # same storage, strides (1, 8)
    "f32.slice": base[2:5, 1:7],            # offset 17, strides (8, 1)
    "f32.step": base[::2, 1::3],            # strides (16, 3)
    "f32.col": base[:, 3],                  # one column: stride 8
    "f32.expand": base[1, :1].expand(4, 3),  # stride 0
    "f32.perm": base.view(2, 3, 8).permute(2, 0, 1),
    "f16": half,
    "f16.t": half.t(),
    "bf16": bf,
    "bf16.slice": bf[1:, 2:5],
    "f64": dbl,
    "f64.t": dbl.t(),
    "scalar": torch.tensor(3.25),
    "empty": torch.zeros(0, 4),
    "param": torch.nn.Parameter(torch.randn(2, 3)),
}
ckpt = dict(tensors)
ckpt["ids"] = torch.arange(7)  # int64: skipped with a note
ckpt["epoch"] = 12
ckpt["lr"] = 0.1
ckpt["name"] = "wan-tiny"
ckpt["ema"] = True
ckpt["betas"] = (0.9, 0.999)
ckpt["dtype"] = torch.float16
ckpt["nothing"] = None
meta = {"epoch": "12", "lr": "0.1", "name": "wan-tiny", "ema": "true", "betas": "[0.9, 0.999]",
        "dtype": "torch.float16",
        "pth.skipped.ids": "int64 [7]: kinema has no integer/bool/complex dtype"}
save_case("views", ckpt, {k: v.detach() for k, v in tensors.items()}, meta)
# The same with pickle protocol 4 (SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, FRAME).
save_case("protocol4", ckpt, {k: v.detach() for k, v in tensors.items()}, meta, pickle_protocol=4)


# 2. nn.Module state dicts nested under the wrappers, plus other nested dicts and lists.
class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = torch.nn.Linear(4, 6)
        self.norm = torch.nn.LayerNorm(6)
        self.bn = torch.nn.BatchNorm1d(6)  # num_batches_tracked: int64, skipped


net = torch.nn.Sequential(Block(), torch.nn.Linear(6, 2))
sd = net.state_dict()
ema = {k: v.clone() * 0.5 for k, v in sd.items() if v.is_floating_point()}
nested = {"model": sd, "ema": ema, "step": 100, "history": [torch.ones(2), {"w": torch.zeros(3)}]}
expected = {k: v for k, v in sd.items() if v.is_floating_point()}
expected.update({"ema." + k: v for k, v in ema.items()})
expected["history.0"] = torch.ones(2)
expected["history.1.w"] = torch.zeros(3)
meta = {"step": "100",
        "pth.skipped.0.bn.num_batches_tracked": "int64 []: kinema has no integer/bool/complex dtype"}
save_case("nested_model", nested, expected, meta)
save_case("nested_state_dict", {"state_dict": net.state_dict(), "epoch": 3},
          {k: v for k, v in sd.items() if v.is_floating_point()},
          {"epoch": "3", "pth.skipped.0.bn.num_batches_tracked": meta["pth.skipped.0.bn.num_batches_tracked"]})
# DeepSpeed's {"module": ...} inside {"model_state": ...}: both unwrap.
save_case("nested_module", {"model_state": {"module": {"w": base[:2]}}}, {"w": base[:2]}, {})
# A whole Module's parameters as Parameters (torch._utils._rebuild_parameter).
save_case("parameters", {n: p for n, p in net.named_parameters()},
          {n: p.detach() for n, p in net.named_parameters()}, {})
# A bare tensor, saved with the default (zip) serialization spelled out.
save_case("bare_tensor", base[1:3], {"tensor": base[1:3]}, {}, _use_new_zipfile_serialization=True)
# The old (pre-1.6) format: refused with advice.
torch.save({"w": base}, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)


def copy_zip(src, dst, transform=lambda name, data: data, compression=zipfile.ZIP_STORED, extra=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, transform(info.filename, zin.read(info.filename)))
        for name, data in (extra or {}).items():
            if name not in zin.namelist():
                zout.writestr(name, data)


# 3. Big-endian storages (a "byteorder" entry saying "big"): f32 and f16 only, byte-swapped.
be = {"a": torch.randn(3, 4), "b": torch.randn(5).to(torch.float16)}
torch.save(be, os.path.join(OUT, "be_src.pth"))
with zipfile.ZipFile(os.path.join(OUT, "be_src.pth")) as z:
    prefix = [n for n in z.namelist() if n.endswith("/data.pkl")][0][:-len("data.pkl")]
sizes = {}  # storage key -> element size, from the tensors we saved (keys in insertion order)
for key, t in zip(("0", "1"), be.values()):
    sizes[key] = t.element_size()


def to_big(name, data):
    if name == prefix + "byteorder":
        return b"big"
    if name.startswith(prefix + "data/"):
        es = sizes[name[len(prefix + "data/"):]]
        return b"".join(data[i:i + es][::-1] for i in range(0, len(data), es))
    return data


copy_zip(os.path.join(OUT, "be_src.pth"), os.path.join(OUT, "big_endian.pth"), to_big,
         extra={prefix + "byteorder": b"big"})
os.remove(os.path.join(OUT, "be_src.pth"))
write_safetensors(os.path.join(OUT, "big_endian.expected.safetensors"), be, {})


# 4. Hand-assembled pickles (never unpickled here).
def u(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def i64(n):
    return b"\x8a\x08" + struct.pack("<q", n)


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tup(*xs):
    return b"(" + b"".join(xs) + b"t"


def storage(stype, key, numel):
    return tup(u("storage"), glob("torch", stype), u(key), u("cpu"), i64(numel)) + b"Q"


def tensor(stype, key, numel, offset, size, stride):
    return (glob("torch._utils", "_rebuild_tensor_v2") +
            tup(storage(stype, key, numel), i64(offset), tup(*map(i64, size)), tup(*map(i64, stride)),
                b"\x89", glob("collections", "OrderedDict") + b")R") + b"R")


def state(**kv):
    return b"\x80\x02}(" + b"".join(u(k) + v for k, v in kv.items()) + b"u."


def write_zip(path, pkl, storages, prefix="archive/"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "data.pkl", pkl)
        z.writestr(prefix + "version", b"3\n")
        for key, data in storages.items():
            z.writestr(prefix + "data/" + key, data)


def write_zip64(path, entries):
    """A zip whose every record is zip64 (sizes and offsets in the zip64 extra field), as torch
    writes for entries past 4 GiB."""
    out, central = bytearray(), bytearray()
    for name, data in entries.items():
        nb = name.encode()
        local = len(out)
        crc = zlib.crc32(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(nb), 20) + nb + struct.pack("<HHQQ", 1, 16, len(data), len(data)) + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), local)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + extra
    cd_offset = len(out)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                       len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


# Overlapping strides (size 3x3, stride 1x1 over 5 elements) and a zip64-everything archive.
store = torch.arange(5, dtype=torch.float32) * 1.5
raw = store.numpy().tobytes()
pkl = state(w=tensor("FloatStorage", "0", 5, 0, (3, 3), (1, 1)), v=tensor("FloatStorage", "0", 5, 2, (3,), (1,)))
write_zip(os.path.join(OUT, "overlap.pth"), pkl, {"0": raw})
overlap = {"w": torch.as_strided(store, (3, 3), (1, 1)), "v": store[2:]}
write_safetensors(os.path.join(OUT, "overlap.expected.safetensors"), overlap, {})
write_zip64(os.path.join(OUT, "zip64.pth"), {"z/data.pkl": pkl, "z/version": b"3\n", "z/data/0": raw})
write_safetensors(os.path.join(OUT, "zip64.expected.safetensors"), overlap, {})

hostile = {}


def bad(name, phrase, pkl=None, storages=None, path_bytes=None):
    path = os.path.join(OUT, "hostile", name + ".pth")
    if path_bytes is not None:
        with open(path, "wb") as f:
            f.write(path_bytes)
    else:
        write_zip(path, pkl, storages or {})
    hostile[name] = phrase


call = lambda m, n: b"\x80\x02" + glob(m, n) + u("echo pwned") + b"\x85R."
bad("os_system", "refuses to import os.system", call("os", "system"))
bad("posix_system", "refuses to import posix.system", call("posix", "system"))
bad("builtins_eval", "refuses to import builtins.eval", call("builtins", "eval"))
bad("subprocess_popen", "refuses to import subprocess.Popen",
    b"\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x0asubprocess\x94\x8c\x05Popen\x94\x93\x94"
    + u("ls") + b"\x85R.")
bad("torch_load", "refuses to import torch.load", call("torch", "load"))
bad("inst", "refuses INST of os.system", b"\x80\x02(" + u("ls") + b"ios\nsystem\n.")
bad("newobj", "refuses to instantiate collections.OrderedDict",
    b"\x80\x02" + glob("collections", "OrderedDict") + b")\x81.")
bad("ext", "extension-registry", b"\x80\x02\x82\x01)R.")
bad("call_storage", "refuses to call torch.FloatStorage", b"\x80\x02" + glob("torch", "FloatStorage") + b")R.")
bad("build_tensor", "BUILD",
    state(w=tensor("FloatStorage", "0", 5, 0, (5,), (1,)) + b"}b"), {"0": raw})
bad("unknown_opcode", "unknown opcode 0xff", b"\x80\x02\xff.")
bad("no_stop", "without a STOP", b"\x80\x02}")
bad("truncated_pickle", "truncated", state(w=tensor("FloatStorage", "0", 5, 0, (5,), (1,)))[:60], {"0": raw})
bad("memo_missing", "never stored", b"\x80\x02h\x07.")
bad("stack_underflow", "empty stack", b"\x80\x02R.")
bad("deep_nesting", "deeper than 64", b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b".")
bad("self_cycle", "deeper than 64", b"\x80\x02]q\x00h\x00a.")
# 40 lists, each holding the one before twice: 2^40 paths to walk from 41 objects.
bad("shared_blowup", "names and metadata exceed",
    b"\x80\x02]q\x00" + b"".join(b"](h%ch%ceq%c" % (k, k, k + 1) for k in range(40)) + b".")
# A 1 MiB string as a key: a name no checkpoint has.
bad("long_name", "expected at most 4096", b"\x80\x02}" + u("k" * (1 << 20)) + b"K\x01s.")
bad("huge_string", "truncated", b"\x80\x02X\xff\xff\xff\x7f.")
bad("huge_long", "kinema reads up to 64 bits", b"\x80\x02\x8b\x00\x00\x00\x10" + b"\x01" * 64 + b".")
bad("storage_short", "holds 20 bytes but data.pkl says 100 elements",
    state(w=tensor("FloatStorage", "0", 100, 0, (100,), (1,))), {"0": raw})
bad("extent_past_storage", "reads storage elements up to 12",
    state(w=tensor("FloatStorage", "0", 5, 2, (10,), (1,))), {"0": raw})
bad("stride_past_storage", "reads storage elements up to",
    state(w=tensor("FloatStorage", "0", 5, 0, (2, 2), (4, 1))), {"0": raw})
bad("shape_overflow", "impossible view",
    state(w=tensor("FloatStorage", "0", 5, 0, (1 << 62, 1 << 62), (1, 1))), {"0": raw})
bad("stride_overflow", "impossible view",
    state(w=tensor("FloatStorage", "0", 5, 0, (3,), (1 << 62,))), {"0": raw})
bad("negative_stride", "impossible view",
    state(w=tensor("FloatStorage", "0", 5, 4, (3,), (-1,))), {"0": raw})
bad("negative_offset", "impossible view",
    state(w=tensor("FloatStorage", "0", 5, -1, (3,), (1,))), {"0": raw})
bad("expand_huge", "repeats its storage",
    state(w=tensor("FloatStorage", "0", 5, 0, (1 << 20, 1 << 20), (0, 0))), {"0": raw})
bad("missing_storage", "has no entry archive/data/7",
    state(w=tensor("FloatStorage", "7", 5, 0, (5,), (1,))), {"0": raw})
bad("size_stride_mismatch", "2 sizes but 1 strides",
    state(w=tensor("FloatStorage", "0", 5, 0, (2, 2), (1,))), {"0": raw})
bad("duplicate_name", "two tensors are named 'w'",
    b"\x80\x02}(" + u("model") + b"}(" + u("w") + tensor("FloatStorage", "0", 5, 0, (5,), (1,)) +
    b"u" + u("w") + tensor("FloatStorage", "0", 5, 0, (5,), (1,)) + b"u.", {"0": raw})
bad("not_a_dict", "expected a state dict", b"\x80\x02" + u("hello") + b".")
bad("two_archives", "holds 2", state(), {})
with zipfile.ZipFile(os.path.join(OUT, "hostile", "two_archives.pth"), "a") as z:
    z.writestr("other/data.pkl", state())
bad("torchscript", "TorchScript", state(), {})
with zipfile.ZipFile(os.path.join(OUT, "hostile", "torchscript.pth"), "a") as z:
    z.writestr("archive/constants.pkl", state())
bad("bad_byteorder", "byteorder entry says 'middle'", state(), {})
with zipfile.ZipFile(os.path.join(OUT, "hostile", "bad_byteorder.pth"), "a") as z:
    z.writestr("archive/byteorder", b"middle")
copy_zip(os.path.join(OUT, "views.pth"), os.path.join(OUT, "hostile", "deflated.pth"),
         compression=zipfile.ZIP_DEFLATED)
hostile["deflated"] = "is compressed (method 8, deflate)"
bad("legacy_pickle", "legacy (pre-1.6)", path_bytes=open(os.path.join(OUT, "legacy.pth"), "rb").read())
bad("not_zip", "not a PyTorch zip checkpoint", path_bytes=b"GGUF\x03\x00\x00\x00")
bad("empty_file", "not a PyTorch zip checkpoint", path_bytes=b"")

with open(os.path.join(OUT, "hostile.json"), "w") as f:
    json.dump(hostile, f, indent=1)
print("wrote", len(hostile), "hostile files")
