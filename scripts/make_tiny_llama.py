#!/usr/bin/env python3
"""A tiny random Llama checkpoint in Hugging Face format, and numpy reference logits.

  make_tiny_llama.py OUT_DIR [--reference REF.json] [options]

OUT_DIR gets config.json, model.safetensors (or --shards N shards plus
model.safetensors.index.json), tokenizer.json (a small byte-level BPE with Llama-3's
pre-tokenizer, trained here with `tokenizers`), tokenizer_config.json and generation_config.json.

--reference writes {"text", "ids", "vocab", "logits"}: the ids of `text` from the `tokenizers`
package (with BOS) and the logits of every position from this script's own forward pass, written
from the transformers Llama semantics (RMSNorm, half-split RoPE with optional llama3 scaling, GQA,
causal softmax attention, SwiGLU), in float64 on the stored (possibly rounded) weights.

Only numpy, safetensors and tokenizers are needed (scripts/requirements-test.txt).
"""
import argparse
import json
import math
import pathlib
import struct
import sys

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! Kernel lab runs tiny llamas on CPUs and GPUs.",
    "Quantization keeps 4 or 8 bits per weight, in groups of 32, 64 or 128.",
    "It's 2024: we're testing what they'll see, and you'd think it works.",
    "Numbers like 1234567 and 3.14159 are split into groups of three digits.",
    "Caf\u00e9, na\u00efve, \u00fcber, \u65e5\u672c\u8a9e and emoji \U0001F600 are bytes too.",
    "def main():\n    return 0  # code has indentation\n",
] * 4
TEXT = "Hello world! The lazy fox runs 1234 tests, caf\u00e9 \U0001F600."


def train_tokenizer(vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    bos = tok.token_to_id(SPECIALS[0])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SPECIALS[0]} $A", pair=f"{SPECIALS[0]} $A {SPECIALS[0]} $B",
        special_tokens=[(SPECIALS[0], bos)])
    return tok


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even
    return u.astype(np.uint16)


def from_bf16_bits(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def stored(x: np.ndarray, dtype: str):
    """(bytes as stored, float64 values the file holds)."""
    if dtype == "F32":
        a = x.astype(np.float32)
        return a.tobytes(), a.astype(np.float64)
    if dtype == "F16":
        a = x.astype(np.float16)
        return a.tobytes(), a.astype(np.float64)
    b = to_bf16_bits(x)
    return b.tobytes(), from_bf16_bits(b).astype(np.float64)


def write_safetensors(path: pathlib.Path, tensors: dict) -> None:
    """tensors: name -> (dtype, shape, bytes). Header padded to 8 bytes, as the Rust crate does."""
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_weights(cfg: dict, rng: np.random.Generator) -> dict:
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd

    def mat(rows, cols):
        return rng.standard_normal((rows, cols)) / math.sqrt(cols)

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    w = {"model.embed_tokens.weight": rng.standard_normal((v, h)), "model.norm.weight": norm(h)}
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = mat(v, h)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "self_attn.q_proj.weight"] = mat(q, h)
        w[p + "self_attn.k_proj.weight"] = mat(kv, h)
        w[p + "self_attn.v_proj.weight"] = mat(kv, h)
        w[p + "self_attn.o_proj.weight"] = mat(h, q)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        w[p + "mlp.gate_proj.weight"] = mat(f, h)
        w[p + "mlp.up_proj.weight"] = mat(f, h)
        w[p + "mlp.down_proj.weight"] = mat(h, f)
    return w


# ---- the reference forward pass (transformers' LlamaForCausalLM semantics) -------------------

def inv_freq(cfg: dict) -> np.ndarray:
    d = cfg["head_dim"]
    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, d, 2, dtype=np.float64) / d))
    s = cfg.get("rope_scaling")
    if s and s.get("rope_type") == "llama3":
        old = s["original_max_position_embeddings"]
        low_wl, high_wl = old / s["low_freq_factor"], old / s["high_freq_factor"]
        wl = 2 * math.pi / inv
        scaled = np.where(wl > low_wl, inv / s["factor"], inv)
        smooth = (old / wl - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
        mid = (1 - smooth) * scaled / s["factor"] + smooth * scaled
        is_mid = (wl >= high_wl) & (wl <= low_wl)
        inv = np.where(is_mid, mid, scaled)
    return inv.astype(np.float32)  # the angle is an f32 product, as HF computes it


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, inv):
    """x: [T, H, D], half-split pairs (i, i + D/2)."""
    ang = (pos.astype(np.float32)[:, None] * inv[None, :]).astype(np.float64)  # [T, D/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def forward(cfg: dict, w: dict, ids: list) -> np.ndarray:
    t = len(ids)
    hq, hkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    pos = np.arange(t)
    inv = inv_freq(cfg)
    x = w["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rmsnorm(x, w[p + "input_layernorm.weight"], eps)
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).reshape(t, hq, hd), pos, inv)
        k = rope((h @ w[p + "self_attn.k_proj.weight"].T).reshape(t, hkv, hd), pos, inv)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(t, hkv, hd)
        rep = hq // hkv
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)  # query head j reads j // rep
        scores = np.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        attn = np.einsum("hts,shd->thd", probs, v).reshape(t, hq * hd)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rmsnorm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return h @ head.T


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--reference")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=384, help="tokenizer size (config vocab adds 8 padding rows)")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--tie", action="store_true", help="tie_word_embeddings (no lm_head)")
    ap.add_argument("--llama3-rope", action="store_true", help="add llama3 rope_scaling")
    args = ap.parse_args()

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    tok = train_tokenizer(args.vocab)
    tok.save(str(out / "tokenizer.json"))
    n_tok = tok.get_vocab_size()
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": args.hidden, "intermediate_size": args.ffn,
        "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads, "head_dim": args.hidden // args.heads,
        "max_position_embeddings": 256, "vocab_size": n_tok + 8,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": args.tie,
        "attention_bias": False, "hidden_act": "silu",
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[args.dtype],
        "bos_token_id": tok.token_to_id(SPECIALS[0]), "eos_token_id": tok.token_to_id(SPECIALS[1]),
    }
    if args.llama3_rope:
        cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": SPECIALS[0], "eos_token": SPECIALS[1], "add_bos_token": True,
        "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}",
    }, indent=2))
    (out / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": cfg["bos_token_id"], "eos_token_id": [cfg["eos_token_id"], tok.token_to_id("<|im_end|>")]}))

    weights = make_weights(cfg, rng)
    files, values = {}, {}
    names = list(weights)
    for i, name in enumerate(names):
        data, values[name] = stored(weights[name], args.dtype)
        shard = i * args.shards // len(names)
        files.setdefault(shard, {})[name] = (args.dtype, weights[name].shape, data)
    if args.shards == 1:
        write_safetensors(out / "model.safetensors", files[0])
    else:
        weight_map = {}
        for shard, tensors in files.items():
            fname = f"model-{shard + 1:05d}-of-{args.shards:05d}.safetensors"
            write_safetensors(out / fname, tensors)
            weight_map.update({n: fname for n in tensors})
        (out / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {"total_size": sum(len(d) for t in files.values() for _, _, d in t.values())},
             "weight_map": weight_map}, indent=2))
    if args.dtype != "BF16" and args.shards == 1:  # cross-check our writer with the safetensors package
        from safetensors.numpy import load_file
        loaded = load_file(str(out / "model.safetensors"))
        assert all(np.array_equal(loaded[n].astype(np.float64), values[n]) for n in names)

    if args.reference:
        ids = tok.encode(TEXT).ids
        logits = forward(cfg, values, ids)
        pathlib.Path(args.reference).write_text(json.dumps({
            "text": TEXT, "ids": ids, "vocab": cfg["vocab_size"],
            "logits": [float(x) for x in logits.reshape(-1)]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
