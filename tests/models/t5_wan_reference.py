"""Optional golden check: runs the official Wan2.1 T5Encoder (wan/modules/t5.py) with the same
interface as t5_reference.py, so kinema's text encoder can be compared with Wan's own code.
Wan's code is not part of kinema; fetch it outside the repository, e.g.

    git clone https://github.com/Wan-Video/Wan2.1 /tmp/Wan2.1
    KINEMA_T5_REFERENCE=tests/models/t5_wan_reference.py WAN_DIR=/tmp/Wan2.1 \
        build/tests/models/test_text --gtest_filter='TextEncoderParity.*'

Only wan/modules/t5.py is loaded (not the wan package, whose imports need CUDA, transformers
and more); its tokenizer import is stubbed. Wan's T5RelativeEmbedding always uses T5's
max_dist 128; it is set from the file's "max_distance" metadata so every test config runs.
The module runs in float32, Wan's inference dtype being a cast of the same code.
"""
import importlib.util
import os
import sys
import types

import torch

from dit_reference import load, save  # the DiT parity test's safetensors exchange


def wan_t5():
    root = os.path.join(os.environ.get("WAN_DIR", "/tmp/Wan2.1"), "wan", "modules")
    pkg = types.ModuleType("wan_modules")
    pkg.__path__ = [root]
    tok = types.ModuleType("wan_modules.tokenizers")
    tok.HuggingfaceTokenizer = object
    sys.modules.update({"wan_modules": pkg, "wan_modules.tokenizers": tok})
    torch.cuda.current_device = lambda: "cpu"  # some versions evaluate it as a default argument
    spec = importlib.util.spec_from_file_location("wan_modules.t5", os.path.join(root, "t5.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(inp, outp):
    W, meta = load(inp)
    ids = W.pop("input.ids").long()
    mask = W.pop("input.mask").long()
    emb = W["token_embedding.weight"]
    shared = "pos_embedding.embedding.weight" in W
    layers = 1 + max(int(k.split(".")[1]) for k in W if k.startswith("blocks."))
    pos = W["pos_embedding.embedding.weight" if shared else "blocks.0.pos_embedding.embedding.weight"]
    m = wan_t5().T5Encoder(emb.shape[0], emb.shape[1], W["blocks.0.attn.q.weight"].shape[0],
                           W["blocks.0.ffn.gate.0.weight"].shape[0], pos.shape[1], layers,
                           pos.shape[0], shared_pos=shared, dropout=0.0).eval()
    for mod in m.modules():
        if hasattr(mod, "max_dist"):
            mod.max_dist = int(meta.get("max_distance", 128))
    m.load_state_dict({k: v.float() for k, v in W.items()}, strict=True)  # same keys, all of them
    acts = {}
    with torch.no_grad():
        x = m.token_embedding(ids)
        acts["token_embedding"] = x
        e = m.pos_embedding(x.size(1), x.size(1)) if shared else None
        for i, b in enumerate(m.blocks):
            x = b(x, mask, pos_bias=e)
            acts[f"blocks.{i}"] = x
        acts["norm"] = m.norm(x)
        assert torch.equal(acts["norm"], m(ids, mask))
        rel = m.pos_embedding if shared else m.blocks[0].pos_embedding
        acts["buckets"] = rel._relative_position_bucket(torch.arange(-300, 301))
    save(outp, {k: v.double() for k, v in acts.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
