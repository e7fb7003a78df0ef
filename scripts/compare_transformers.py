#!/usr/bin/env python3
"""Compares klab's logits with HF transformers' on the same GGUF and the same token windows.

klab writes the windows and its logits with
    klab perplexity -m MODEL.gguf -f TEXT --ctx 512 --chunks N --dump-logits PREFIX
(PREFIX.tokens.i32: [windows, ctx] int32; PREFIX.logits.f32: [windows * ctx, vocab] float32).
This script runs transformers (which dequantizes the GGUF to float32) on the same windows and
prints: max |delta logit|, teacher-forced top-1 agreement, and both perplexities.
Run where transformers, torch and the `gguf` package are installed (the GPU machine).
"""
import argparse
import json
import math
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--dump", required=True, help="PREFIX given to --dump-logits")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--json", help="write the metrics here")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    tokens = np.fromfile(args.dump + ".tokens.i32", dtype=np.int32).reshape(-1, args.ctx)
    windows = tokens.shape[0]
    ours = np.memmap(args.dump + ".logits.f32", dtype=np.float32, mode="r")
    vocab = ours.size // (windows * args.ctx)
    ours = ours.reshape(windows, args.ctx, vocab)

    d, f = os.path.split(os.path.abspath(args.gguf))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model = model.to(args.device).eval()

    max_abs = 0.0
    sq_err = sq_ref = 0.0
    agree = total = 0
    nll_ours = nll_ref = 0.0
    for w in range(windows):
        ids = torch.from_numpy(tokens[w].astype(np.int64))[None].to(args.device)
        with torch.no_grad():
            ref = model(ids).logits[0].float()
        o = torch.from_numpy(np.array(ours[w])).to(args.device)
        diff = (o - ref).abs()
        max_abs = max(max_abs, diff.max().item())
        sq_err += (diff ** 2).sum().item()
        sq_ref += (ref ** 2).sum().item()
        # Predictions of tokens 1..ctx-1 (as klab perplexity scores them).
        agree += (o[:-1].argmax(-1) == ref[:-1].argmax(-1)).sum().item()
        total += args.ctx - 1
        tgt = ids[0, 1:]
        nll_ours += torch.nn.functional.cross_entropy(o[:-1], tgt, reduction="sum").item()
        nll_ref += torch.nn.functional.cross_entropy(ref[:-1], tgt, reduction="sum").item()

    ppl_ours = math.exp(nll_ours / total)
    ppl_ref = math.exp(nll_ref / total)
    metrics = {
        "gguf": os.path.basename(args.gguf),
        "windows": windows,
        "ctx": args.ctx,
        "positions": total,
        "max_abs_logit_diff": max_abs,
        "rel_l2_logit_diff": math.sqrt(sq_err / sq_ref),
        "top1_agreement": agree / total,
        "ppl_klab": ppl_ours,
        "ppl_transformers": ppl_ref,
        "ppl_rel_diff": abs(ppl_ours - ppl_ref) / ppl_ref,
        "transformers_device": args.device,
    }
    for k, v in metrics.items():
        print(f"{k}: {v}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(metrics, fh, indent=2)
    ok = metrics["top1_agreement"] >= 0.99 and metrics["ppl_rel_diff"] <= 0.01
    print("PASS" if ok else "FAIL", "(top-1 >= 99%, perplexity within 1%)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
