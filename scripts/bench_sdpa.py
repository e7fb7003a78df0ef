#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention peers for `klab bench decode-attn / prefill-attn`.

Times torch.nn.functional.scaled_dot_product_attention with the FLASH_ATTENTION and
CUDNN_ATTENTION backends on the shapes of the klab attention benchmarks (32 query heads, 8 KV
heads, head dim 128 by default) and writes a JSON next to klab's, with the same counting:
decode bytes = K + V read once + q + out; prefill FLOPs = 4 * S^2 * D per head, halved when
causal. Run it on the GPU machine in the same call as klab's benchmark so the two compare.

Tooling only (never part of the runtime). Needs torch with CUDA.

  python3 scripts/bench_sdpa.py --out bench/results/sdpa.json
"""

import argparse
import os
import datetime
import json
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}


def time_us(fn, warmup=10, reps=100):
    """Median time of fn() in microseconds, timed with CUDA events per call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e3)
    return statistics.median(samples), min(samples)


def attention(backend, q, k, v, causal):
    """SDPA on one backend; GQA natively when the backend takes it, else K/V expanded."""
    group = q.shape[1] // k.shape[1]
    with sdpa_kernel([BACKENDS[backend]]):
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=group > 1)
        except RuntimeError:
            if group == 1:
                raise
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def check(out, q, k, v, causal):
    group = q.shape[1] // k.shape[1]
    ref = F.scaled_dot_product_attention(
        q.float(), k.float().repeat_interleave(group, 1), v.float().repeat_interleave(group, 1),
        is_causal=causal)
    return (torch.linalg.norm(out.float() - ref) / torch.linalg.norm(ref)).item()


def run_case(backend, kind, shape, dtype, causal, rotate_sets):
    b, s, hq, hkv, d = shape
    esz = torch.finfo(dtype).bits // 8
    q_len = 1 if kind == "decode" else s
    sets = []
    for _ in range(rotate_sets):
        q = torch.rand(b, hq, q_len, d, device="cuda", dtype=dtype) * 4 - 2
        k = torch.rand(b, hkv, s, d, device="cuda", dtype=dtype) * 2 - 1
        v = torch.rand(b, hkv, s, d, device="cuda", dtype=dtype) * 2 - 1
        sets.append((q, k, v))
    is_causal = causal and kind == "prefill"
    result = {
        "op": "decode_attention" if kind == "decode" else "prefill_attention",
        "variant": "torch_sdpa_" + backend,
        "dtype": "bf16" if dtype == torch.bfloat16 else "f16",
        "shape": f"B={b},S={s},Hq={hq},Hkv={hkv},D={d}" + (
            "" if kind == "decode" else (",causal" if is_causal else ",full")),
        "dims": {"B": b, "S": s, "Hq": hq, "Hkv": hkv, "D": d, "causal": int(is_causal)},
    }
    try:
        err = check(attention(backend, *sets[0], is_causal), *sets[0], is_causal) \
            if kind == "decode" or s <= 4096 else None
        i = [0]

        def step():
            q, k, v = sets[i[0] % len(sets)]
            i[0] += 1
            attention(backend, q, k, v, is_causal)

        med, best = time_us(step)
    except RuntimeError as e:  # backend does not support this shape / dtype / GPU
        result["error"] = str(e).splitlines()[0][:200]
        return result
    result["time_us"] = {"median": med, "min": best}
    if err is not None:
        result["rel_error"] = err
    if kind == "decode":
        nbytes = esz * (2 * b * s * hkv * d + 2 * b * hq * d)
        result["bytes"] = nbytes
        result["gbps"] = nbytes / (med * 1e-6) / 1e9
    else:
        flops = 4.0 * b * hq * s * s * d * (0.5 if is_causal else 1.0)
        result["flops"] = flops
        result["tflops"] = flops / (med * 1e-6) / 1e12
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/<date>-sdpa.json)")
    ap.add_argument("--hq", type=int, default=32)
    ap.add_argument("--hkv", type=int, default=8)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f16"])
    ap.add_argument("--decode", default="1:4096,1:16384,8:4096,16:4096,32:4096",
                    help="decode batch:len list")
    ap.add_argument("--prefill", default="8192", help="prefill length list")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_sdpa.py: no CUDA device")
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 50 << 20)
    results = []
    for item in filter(None, args.decode.split(",")):
        b, s = (int(x) for x in item.split(":"))
        kv_bytes = 2 * b * s * args.hkv * args.dim * 2
        sets = max(1, min(16, -(-3 * l2 // kv_bytes)))
        for backend in BACKENDS:
            results.append(run_case(backend, "decode", (b, s, args.hq, args.hkv, args.dim), dtype,
                                    False, sets))
    for s in (int(x) for x in filter(None, args.prefill.split(","))):
        for causal in (True, False):
            for backend in BACKENDS:
                results.append(run_case(backend, "prefill", (1, s, args.hq, args.hkv, args.dim),
                                        dtype, causal, 1))
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "cases": results,
    }
    out = args.out or f"bench/results/{datetime.date.today().isoformat()}-sdpa.json"

    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    for r in results:
        rate = (f"{r['gbps']:8.0f} GB/s" if "gbps" in r else
                f"{r['tflops']:8.1f} TFLOP/s" if "tflops" in r else r.get("error", ""))
        t = f"{r['time_us']['median']:10.1f} us" if "time_us" in r else " " * 13
        print(f"{r['op']:18s} {r['variant']:18s} {r['shape']:40s} {t} {rate}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
