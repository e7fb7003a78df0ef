#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from real files.

  make_seeds.py OUT_DIR [MODEL.gguf]

Writes OUT_DIR/<target>/... for every target:
  gguf, tokenizer_gguf  the GGUF test fixtures, plus (when MODEL.gguf is given) the model's whole
                        metadata (tokenizer included) with one small tensor, and the same with
                        the vocabulary cut to its first 512 tokens so mutations stay fast;
  safetensors           the shards of tests/fixtures/hf (a tiny Llama) and small variants;
  tokenizer_json        tests/fixtures/hf's tokenizer.json and small variants;
  hf_config             tests/fixtures/hf's config.json and variants.
Committed crash reproducers in fuzz/seeds/<target>/ are added by scripts/fuzz.sh.
"""
import json
import pathlib
import shutil
import struct
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType as VT, GGUFWriter

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def copy_model_metadata(model: pathlib.Path, out: pathlib.Path, vocab_limit=None) -> None:
    r = GGUFReader(model)
    arch = r.fields["general.architecture"].contents()
    w = GGUFWriter(out, arch)
    kept = None
    if vocab_limit is not None:
        tokens = r.fields["tokenizer.ggml.tokens"].contents()[:vocab_limit]
        kept = set(tokens)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        main = f.types[0]
        sub = f.types[1] if main == VT.ARRAY and len(f.types) > 1 else None
        value = f.contents()
        if kept is not None and name in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                                         "tokenizer.ggml.scores"):
            value = value[:vocab_limit]
        if kept is not None and name == "tokenizer.ggml.merges":
            value = [m for m in value
                     if all(p in kept for p in m.split(" ", 1)) and m.replace(" ", "", 1) in kept]
        if kept is not None and name.endswith("_token_id") and value >= vocab_limit:
            continue
        w.add_key_value(name, value, main, sub_type=sub)
    w.add_tensor("token_embd.weight", np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def gguf_seeds(out: pathlib.Path, model) -> None:
    for target in ("gguf", "tokenizer_gguf"):
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for f in sorted((FIXTURES / "gguf").glob("*.gguf")):
            shutil.copy(f, d / f.name)
        for f in sorted((FIXTURES / "hf").glob("*.gguf")):
            shutil.copy(f, d / ("hf_" + f.name))
    if model is not None:
        small = out / "gguf" / "model_meta_small.gguf"
        copy_model_metadata(model, small, vocab_limit=512)
        shutil.copy(small, out / "tokenizer_gguf" / small.name)
        copy_model_metadata(model, out / "tokenizer_gguf" / "model_meta.gguf")


def hf_seeds(out: pathlib.Path) -> None:
    hf = FIXTURES / "hf"
    st = out / "safetensors"
    tj = out / "tokenizer_json"
    cj = out / "hf_config"
    for d in (st, tj, cj):
        d.mkdir(parents=True, exist_ok=True)
    for f in sorted(hf.rglob("*.safetensors")):
        shutil.copy(f, st / f"{f.parent.name}_{f.name}")
    f32 = np.arange(6, dtype=np.float32).tobytes()
    (st / "small_f32.safetensors").write_bytes(safetensors_bytes(
        {"__metadata__": {"format": "pt"},
         "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, f32))
    (st / "small_mixed.safetensors").write_bytes(safetensors_bytes(
        {"b": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
         "h": {"dtype": "F16", "shape": [1, 2], "data_offsets": [4, 8]},
         "e": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}}, f32[:8]))
    for f in sorted(hf.rglob("tokenizer.json")):
        shutil.copy(f, tj / f"{f.parent.name}_{f.name}")
        config = f.parent / "tokenizer_config.json"
        if config.exists():  # the target reads an optional tokenizer_config.json after a NUL
            (tj / f"{f.parent.name}_with_config.json").write_bytes(
                f.read_bytes() + b"\0" + config.read_bytes())
    for f in sorted(hf.rglob("config.json")):
        shutil.copy(f, cj / f"{f.parent.name}_{f.name}")
    (tj / "minimal_bytelevel.json").write_text(json.dumps({
        "added_tokens": [{"id": 3, "content": "<s>", "special": True}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3},
                  "merges": ["a b"]}}))
    (tj / "minimal_metaspace.json").write_text(json.dumps({
        "added_tokens": [{"id": 0, "content": "<unk>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace",
             "pattern": {"String": " "}, "content": "\u2581"}]},
        "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}]},
        "model": {"type": "BPE", "byte_fallback": True,
                  "vocab": {"<unk>": 0, "<0x41>": 1, "\u2581": 2, "a": 3, "\u2581a": 4},
                  "merges": [["\u2581", "a"]]}}))
    (cj / "llama3_scaling.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "max_position_embeddings": 128,
        "vocab_size": 300, "tie_word_embeddings": True,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}))


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    model = pathlib.Path(sys.argv[2]) if len(sys.argv) == 3 else None
    gguf_seeds(out, model)
    hf_seeds(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
