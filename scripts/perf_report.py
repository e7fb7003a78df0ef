#!/usr/bin/env python3
"""Turns `klab bench` result JSON (schema klab-bench/1) into docs/PERFORMANCE.md, and
compares two result files.

  scripts/perf_report.py bench/results/A.json [B.json ...]       # writes docs/PERFORMANCE.md
  scripts/perf_report.py --compare before.json after.json         # prints changes

Plots (PNG, docs/img/) need matplotlib (scripts/requirements-report.txt); without it the
tables are still written and the plots are skipped with a warning. Tooling only: the
runtime never runs Python.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import sys
from collections import OrderedDict, defaultdict
from pathlib import Path

SCHEMA = "klab-bench/1"
# dims keys that mean "context length" for the decode-attention plot, in preference order.
CONTEXT_KEYS = ("kv_len", "ctx", "context", "S", "seq_len")


# ---- loading -------------------------------------------------------------------------------
def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SystemExit(f"perf_report: {path}: not a {SCHEMA} document")
    for key in ("machine", "ceilings", "date", "command", "git_commit", "cases"):
        if key not in doc:
            raise SystemExit(f"perf_report: {path}: missing '{key}'")
    doc["_path"] = path
    return doc


def num(v):
    """JSON number, or the strings 'inf'/'nan' the harness writes for non-finite values."""
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("inf", "-inf", "nan"):
        return float(v)
    return None


def card(doc: dict) -> str:
    gpu = doc["machine"].get("gpu")
    if gpu:
        return f'{gpu["name"]} (cc {gpu["cc"]}, {gpu["sm_count"]} SMs)'
    return f'CPU only: {doc["machine"]["cpu_model"]}'


def status(c: dict) -> str:
    if c.get("skipped"):
        return "skipped"
    if c.get("error"):
        return "error"
    if c.get("valid") is True:
        return "valid"
    if c.get("valid") is False:
        return "**INVALID**"
    return "not validated"


def key(c: dict) -> tuple:
    return (c["op"], c["variant"], c["shape"], c["dtype"])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


# ---- formatting ----------------------------------------------------------------------------
def fmt(v, digits=3) -> str:
    v = num(v)
    if v is None:
        return "–"
    if math.isinf(v) or math.isnan(v):
        return str(v)
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1000:
        return f"{v:,.0f}"
    if mag >= 1:
        return f"{v:.{max(digits - 1 - int(math.log10(mag)), 0)}f}"
    if mag >= 1e-3:
        return f"{v:.{digits}g}"
    return f"{v:.1e}"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def machine_section(doc: dict) -> str:
    m = doc["machine"]
    rows = [["CPU", f'{m["cpu_model"]} ({m["cpu_cores"]} logical CPUs)'], ["OS", m.get("os", "")]]
    gpu = m.get("gpu")
    if gpu:
        rows += [
            ["GPU", f'{gpu["name"]}, cc {gpu["cc"]}, {gpu["sm_count"]} SMs'],
            ["GPU memory / L2", f'{gpu["memory_bytes"] / 2**30:.1f} GiB / {gpu["l2_bytes"] / 2**20:.0f} MiB'],
            ["max clocks", f'SM {gpu["sm_clock_mhz"]} MHz, memory {gpu["mem_clock_mhz"]} MHz'],
            ["driver / runtime", f'{gpu["driver_version"]} / {gpu["runtime_version"]}'],
        ]
        if m.get("cublas_version"):
            rows.append(["cuBLAS", str(m["cublas_version"])])
    else:
        rows.append(["GPU", "none (built with CUDA)" if m.get("built_with_cuda") else "none (CPU build)"])
    rows += [["date", doc["date"]], ["command", f'`{doc["command"]}`'], ["git commit", doc["git_commit"]],
             ["result file", f'`{doc["_path"]}`']]
    return md_table(["", ""], rows)


def ceilings_section(doc: dict) -> str:
    rows = []
    for kind, c in doc["ceilings"].items():
        value = num(c.get("value"))
        spread = ""
        if c.get("p10_us") is not None:
            spread = f'{fmt(c["p10_us"])}–{fmt(c["p90_us"])}'
        rows.append([kind, f'{fmt(value)} {c["unit"]}' if value is not None else "–",
                     fmt(c.get("median_us")), spread, c.get("what") or c.get("note", "")])
    return md_table(["ceiling", "value", "median µs", "p10–p90 µs", "how"], rows)


def op_sections(doc: dict) -> str:
    by_op: dict[str, list] = OrderedDict()
    for c in doc["cases"]:
        by_op.setdefault(c["op"], []).append(c)
    parts = []
    for op, all_cases in by_op.items():
        cases = [c for c in all_cases if not c.get("skipped")]
        skipped = [c for c in all_cases if c.get("skipped")]
        section = f"### {op}\n\n"
        if skipped:
            reasons = sorted({c.get("skip_reason", "") for c in skipped})
            variants = sorted({c["variant"] for c in skipped})
            section += (f"{len(skipped)} case(s) skipped ({'; '.join(reasons)}): variants "
                        f"{', '.join(variants)}.\n\n")
        if not cases:
            parts.append(section.rstrip())
            continue
        rows = []
        for c in sorted(cases, key=lambda c: (c["dtype"], sorted(c.get("dims", {}).items()), c["shape"], c["variant"])):
            spread = f'{fmt(c["p10_us"])}–{fmt(c["p90_us"])}' if c.get("p10_us") is not None else "–"
            pct = num(c.get("pct_of_ceiling"))
            ceiling = f'{fmt(pct)}% {c.get("ceiling_kind") or ""}' if pct is not None else "–"
            detail = c.get("skip_reason") or c.get("error") or c.get("note") or ""
            rows.append([c["shape"], c["dtype"], c["variant"], fmt(c.get("median_us")), spread,
                         fmt(c.get("gbps")), fmt(c.get("tflops")), ceiling, fmt(c.get("rel_error"), 2),
                         status(c), detail])
        parts.append(section + md_table(
            ["shape", "dtype", "variant", "median µs", "p10–p90 µs", "GB/s", "TFLOP/s", "% of ceiling",
             "rel. error", "status", "note"], rows))
    return "\n\n".join(parts)


def best_section(doc: dict) -> str:
    """Fastest valid variant per (op, dtype, shape), with cuBLAS alongside when measured."""
    groups = defaultdict(list)
    for c in doc["cases"]:
        if num(c.get("median_us")) is not None and c.get("valid") is not False and not c.get("error"):
            groups[(c["op"], c["dtype"], c["shape"])].append(c)
    rows = []
    for (op, dtype, shape), cases in sorted(groups.items()):
        best = min(cases, key=lambda c: c["median_us"])
        rows.append([op, dtype, shape, best["variant"], fmt(best["median_us"]),
                     fmt(num(best.get("pct_of_ceiling"))) + ("%" if best.get("pct_of_ceiling") is not None else ""),
                     str(len(cases))])
    if not rows:
        return "_No timed cases in this run._"
    return md_table(["op", "dtype", "shape", "fastest variant", "median µs", "% of ceiling", "variants timed"], rows)


# ---- PyTorch SDPA peers (scripts/bench_sdpa.py) ---------------------------------------------
def load_sdpa(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or "cases" not in doc or "torch" not in doc:
        raise SystemExit(f"perf_report: {path}: not a scripts/bench_sdpa.py document")
    doc["_path"] = path
    return doc


def sdpa_key(c: dict):
    """(kind, B, S, Hq, Hkv, D, dtype, causal) of a bench_sdpa.py case."""
    d = c.get("dims", {})
    kind = {"decode_attention": "decode", "prefill_attention": "prefill"}.get(c["op"], c["op"])
    return (kind, d.get("B"), d.get("S"), d.get("Hq"), d.get("Hkv"), d.get("D"), c.get("dtype"),
            bool(d.get("causal", 0)))


def klab_attention_best(docs: list[dict]) -> dict:
    """Fastest valid klab attention variant per sdpa_key (contiguous caches only)."""
    best = {}
    for doc in docs:
        for c in doc["cases"]:
            op = {"decode_attention": "decode", "prefill_attention": "prefill"}.get(c["op"])
            d = c.get("dims", {})
            if not op or d.get("page", 0) or c.get("valid") is False or c.get("error"):
                continue
            if num(c.get("median_us")) is None:
                continue
            k = (op, d.get("B"), d.get("S"), d.get("Hq"), d.get("Hkv"), d.get("D"), c["dtype"],
                 bool(d.get("causal", 0)))
            if k not in best or c["median_us"] < best[k]["median_us"]:
                best[k] = c
    return best


def parse_when(date: str):
    return datetime.datetime.fromisoformat(date.replace("Z", "+00:00"))


def same_call(doc: dict, sdpa: dict, within_s: float = 1800.0) -> bool:
    """A klab run on the SDPA run's card, within half an hour of it (one device call)."""
    gpu = ((doc.get("machine") or {}).get("gpu") or {}).get("name")
    try:
        near = abs((parse_when(doc["date"]) - parse_when(sdpa["date"])).total_seconds()) <= within_s
    except (KeyError, ValueError):
        return False
    return gpu == sdpa.get("gpu") and near


def sdpa_section(sdpa: dict, docs: list[dict]) -> str:
    # Only klab runs of the same call: the fastest over every file would mix cards and kernels.
    best = klab_attention_best([d for d in docs if same_call(d, sdpa)])
    rows = []
    for c in sdpa["cases"]:
        k = sdpa_key(c)
        field = "gbps" if k[0] == "decode" else "tflops"
        rate = lambda x: (f'{x[field]:.0f} GB/s' if field == "gbps" else f'{x[field]:.1f} TFLOP/s') \
            if x.get(field) else ""
        t = c.get("time_us", {}).get("median")
        mine = best.get(k)
        rows.append([k[0], c["shape"], c["variant"], fmt(t) if t else c.get("error", "")[:60], rate(c),
                     f'{mine["variant"]} {fmt(mine["median_us"])} µs' if mine else "—",
                     rate(mine) if mine else ""])
    head = (f'PyTorch {sdpa["torch"]} (cuDNN {sdpa.get("cudnn")}) on {sdpa["gpu"]}, {sdpa["date"][:10]}, '
            f'`python3 scripts/bench_sdpa.py` ({sdpa["_path"]}), run in the same device call as the klab '
            "run(s) above; klab's column is its fastest valid variant on the same shape (contiguous cache) in that call.")
    return head + "\n\n" + md_table(["kind", "shape", "PyTorch backend", "median µs", "rate",
                                     "klab fastest", "klab rate"], rows)


# ---- plots ---------------------------------------------------------------------------------
# ---- in-graph decode-step timelines (klab bench e2e --timeline) ---------------------------
def load_timeline(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if "rows" not in d or "span_us" not in d or "case" not in d:
        raise SystemExit(f"perf_report: {path}: not a `klab bench e2e --timeline` document")
    d["_path"] = path
    return d


def timeline_section(t: dict) -> str:
    layers = max(int(t.get("layers", 1)), 1)
    head = (f'**{t["case"]}** on {t.get("gpu", "?")}, commit {t.get("git_commit", "?")} '
            f'({t["_path"]}): {fmt(t["span_us"], 4)} µs a step on the GPU (median of {t["steps"]} '
            f'traced steps), {fmt(t["kernels_per_step"], 3)} kernels a step, '
            f'{fmt(t["idle_us"], 3)} µs with no kernel running. Per step, averaged over the steps; '
            '"advance" is how far the kernel\'s ends moved the step\'s end (the column sums to the '
            'span), "busy" its end - start (a PDL launch\'s wait included), "overlap" the time it '
            'ran beside an earlier kernel.')
    rows = [[f'`{r["kernel"]}`', fmt(r["launches_per_step"], 3), fmt(r["advance_us"], 4),
             fmt(r["advance_us"] / layers, 3), fmt(r["busy_us"], 4), fmt(r["overlap_us"], 3)]
            for r in t["rows"]]
    table = md_table(["kernel [blocks x threads, cluster]", "launches", "advance µs",
                      f"advance µs / layer ({layers})", "busy µs", "overlap µs"], rows)
    return head + "\n\n" + table


def try_matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt
    except ImportError:
        print("perf_report: matplotlib not installed (pip install -r scripts/requirements-report.txt); "
              "skipping plots", file=sys.stderr)
        return None


def plot_roofline(plt, doc: dict, op: str, cases: list, path: Path) -> bool:
    timed = [c for c in cases if num(c.get("pct_of_ceiling")) is not None]
    if not timed:
        return False
    shapes = list(OrderedDict.fromkeys(f'{c["shape"]}\n{c["dtype"]}' for c in timed))
    variants = list(OrderedDict.fromkeys(c["variant"] for c in timed))
    width = 0.8 / max(len(variants), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(shapes) * max(1, len(variants)) * 0.45 + 2), 4.2))
    for i, v in enumerate(variants):
        xs, ys = [], []
        for j, s in enumerate(shapes):
            for c in timed:
                if c["variant"] == v and f'{c["shape"]}\n{c["dtype"]}' == s:
                    xs.append(j + (i - (len(variants) - 1) / 2) * width)
                    ys.append(num(c["pct_of_ceiling"]))
        ax.bar(xs, ys, width, label=v)
    ax.axhline(100, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(shapes)))
    ax.set_xticklabels(shapes, fontsize=7)
    ax.set_ylabel("% of measured ceiling (roofline)")
    ax.set_title(f"{op} on {card(doc)}", fontsize=9)
    ax.legend(fontsize=7, ncol=min(len(variants), 4))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def context_key(c: dict):
    for k in CONTEXT_KEYS:
        if k in c.get("dims", {}):
            return k
    return None


def plot_decode_attention(plt, doc: dict, cases: list, path: Path) -> bool:
    series = defaultdict(list)
    for c in cases:
        k = context_key(c)
        gbps = num(c.get("gbps"))
        if k is None or gbps is None:
            continue
        other = ",".join(f"{d}={v}" for d, v in sorted(c["dims"].items()) if d != k)
        series[(c["variant"], c["dtype"], other)].append((c["dims"][k], gbps))
    if not series:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (variant, dtype, other), pts in sorted(series.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{variant} {dtype} {other}")
    copy = num(doc["ceilings"].get("d2d_copy", {}).get("value"))
    if copy:
        ax.axhline(copy, color="black", linestyle="--", linewidth=0.8, label="D2D copy ceiling")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length")
    ax.set_ylabel("GB/s")
    ax.set_title(f"decode attention on {card(doc)}", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_e2e(plt, doc: dict, cases: list, path: Path) -> bool:
    """Tokens/s of end-to-end decode cases (op e2e_decode: bytes = bytes read per step,
    dims.batch = sequences per step) against the bandwidth bound copy_GBps / bytes."""
    copy = num(doc["ceilings"].get("d2d_copy", {}).get("value"))
    pts = []
    for c in cases:
        t = num(c.get("median_us"))
        if t is None or not c.get("bytes"):
            continue
        batch = c.get("dims", {}).get("batch", 1)
        bound = copy * 1e9 / c["bytes"] * batch if copy else None
        pts.append((f'{c["variant"]}\n{c["shape"]}', batch * 1e6 / t, bound))
    if not pts:
        return False
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(pts)), 4.2))
    xs = range(len(pts))
    ax.bar([x - 0.2 for x in xs], [p[1] for p in pts], 0.4, label="measured tokens/s")
    ax.bar([x + 0.2 for x in xs], [p[2] or 0 for p in pts], 0.4, label="bandwidth bound")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([p[0] for p in pts], fontsize=7)
    ax.set_ylabel("tokens/s")
    ax.set_title(f"end-to-end decode on {card(doc)}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def cases_by_op(doc: dict) -> OrderedDict:
    by_op = OrderedDict()
    for c in doc["cases"]:
        by_op.setdefault(c["op"], []).append(c)
    return by_op


def plot_paths(doc: dict, img_dir: Path, op: str) -> dict[str, Path]:
    """The files make_plots may write for one op of a run, by kind."""
    base = f"{slug(Path(doc['_path']).stem)}-{slug(op)}"
    paths = {"roofline": img_dir / f"{base}-roofline.png"}
    if "decode_attention" in op:
        paths["context"] = img_dir / f"{base}-gbps-vs-context.png"
    if op.startswith("e2e"):
        paths["tokens"] = img_dir / f"{base}-tokens.png"
    return paths


def prune_plots(docs: list[dict], img_dir: Path) -> int:
    """Deletes the plots these runs' documents would have (exact names, nothing else)."""
    removed = 0
    for doc in docs:
        for op in cases_by_op(doc):
            for p in plot_paths(doc, img_dir, op).values():
                if p.is_file():
                    p.unlink()
                    removed += 1
    return removed


def make_plots(doc: dict, img_dir: Path, md_dir: Path, plt) -> list[str]:
    if plt is None:
        return []
    img_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    rel = lambda p: os.path.relpath(p, md_dir)
    for op, cases in cases_by_op(doc).items():
        paths = plot_paths(doc, img_dir, op)
        if plot_roofline(plt, doc, op, cases, paths["roofline"]):
            lines.append(f"![{op}: % of roofline]({rel(paths['roofline'])})")
        if "context" in paths and plot_decode_attention(plt, doc, cases, paths["context"]):
            lines.append(f"![{op}: GB/s vs context length]({rel(paths['context'])})")
        if "tokens" in paths and plot_e2e(plt, doc, cases, paths["tokens"]):
            lines.append(f"![{op}: tokens/s vs bandwidth bound]({rel(paths['tokens'])})")
    return lines


# ---- document ------------------------------------------------------------------------------
def run_anchor(doc: dict) -> str:
    return "run-" + slug(Path(doc["_path"]).stem)


def peer_anchor(peer: dict) -> str:
    return "sdpa-" + slug(Path(peer["_path"]).stem)


def contents_section(docs: list[dict], timelines: list[dict] | None, sdpa: list[dict] | None) -> list[str]:
    """One line a section, newest first as rendered, so a reader finds a run by its file name."""
    lines = []
    if timelines:
        lines.append(f"- [Decode step inside the CUDA graph: {len(timelines)} kernel timelines](#timelines)")
    for doc in docs:
        lines.append(f"- [{doc['date'][:10]} · {card(doc)} · {doc.get('suite', '')} · "
                     f"`{Path(doc['_path']).name}`](#{run_anchor(doc)})")
    for peer in sdpa or []:
        lines.append(f"- [PyTorch SDPA · `{Path(peer['_path']).name}`](#{peer_anchor(peer)})")
    return ["## Contents", ""] + lines + [""] if len(lines) > 1 else []


def render(docs: list[dict], out: Path, img_dir: Path, plots: bool, note: str = "",
           sdpa: list[dict] | None = None, timelines: list[dict] | None = None,
           plots_newest: int | None = None) -> str:
    plt = try_matplotlib() if plots else None
    parts = ["# Performance", "",
             "<!-- Generated by scripts/perf_report.py from committed bench/results/*.json; do not edit by hand. -->",
             "",
             "Every number below was measured by `klab bench` in the run named with it; the ceilings "
             "(host and device-to-device copy, cuBLAS GEMM) were measured in that same run. "
             "\"% of ceiling\" is the roofline fraction: max(bytes / copy GB/s, FLOPs / GEMM FLOP/s) "
             "over the measured median time. Bytes count each input read once and each output "
             "written once (weights + scales + x + y for matmuls). Regenerate with "
             f"`python3 scripts/perf_report.py {' '.join(d['_path'] for d in docs)}"
             f"{' --sdpa ' + ' '.join(p['_path'] for p in sdpa) if sdpa else ''}"
             f"{' --timeline ' + ' '.join(t['_path'] for t in timelines) if timelines else ''}"
             f"{f' --plots-newest {plots_newest}' if plots_newest is not None else ''}` "
             "(plus the `--note` below)."
             + (f" Plots are drawn for the first {plots_newest} result files listed (the newest "
                "runs); the older runs keep their tables." if plots_newest is not None else ""), ""]
    if note:
        parts += [f"> {note}", ""]
    parts += contents_section(docs, timelines, sdpa)
    if timelines:
        parts += ['<a id="timelines"></a>', "",
                  "## Decode step inside the CUDA graph (kernel timelines)", "",
                  "`klab bench e2e --timeline PREFIX` (CUPTI concurrent-kernel records of the replayed "
                  "decode graph); where the step's time goes, kernel by kernel.", ""]
        for t in timelines:
            parts += [timeline_section(t), ""]
    if not any(d["machine"].get("gpu") for d in docs):
        parts += ["> **No GPU results are committed yet.** The run below was made on a development "
                  "machine without a GPU: it shows the host ceilings and CPU cases, and lists every GPU "
                  "case as skipped. The H100 numbers arrive with the first committed GPU result "
                  "(`scripts/gpu-check.sh` writes it).", ""]
    for rank, doc in enumerate(docs):
        parts += [f'<a id="{run_anchor(doc)}"></a>', "",
                  f"## {card(doc)} — {doc['date'][:10]} ({doc.get('suite', '')})", "",
                  machine_section(doc), "", "### Ceilings (same run)", "", ceilings_section(doc), "",
                  "### Fastest valid variant per shape", "", best_section(doc), ""]
        drawn = plots_newest is None or rank < plots_newest
        images = make_plots(doc, img_dir, out.parent, plt) if drawn else []
        if images:
            parts += ["### Plots", ""] + [i + "\n" for i in images]
        n = len(doc["cases"])
        skipped = sum(1 for c in doc["cases"] if c.get("skipped"))
        parts += [f"### All cases ({n}, {skipped} skipped)", "", op_sections(doc), ""]
    for peer in sdpa or []:
        parts += [f'<a id="{peer_anchor(peer)}"></a>', "",
                  "## Attention peers: PyTorch scaled_dot_product_attention", "", sdpa_section(peer, docs), ""]
    return "\n".join(parts).rstrip() + "\n"


# ---- compare -------------------------------------------------------------------------------
def spread(c: dict) -> float:
    """Run-to-run spread of one result as a fraction of its median: (p90 - p10) / median."""
    m = num(c.get("median_us"))
    if not m:
        return 0.0
    return (num(c["p90_us"]) - num(c["p10_us"])) / m


def compare(before: dict, after: dict, min_change: float) -> tuple[str, int]:
    b = {key(c): c for c in before["cases"]}
    a = {key(c): c for c in after["cases"]}
    rows, flagged = [], 0
    for k in [k for k in a if k in b]:
        cb, ca = b[k], a[k]
        tb, ta = num(cb.get("median_us")), num(ca.get("median_us"))
        if tb is None or ta is None:
            continue
        change = ta / tb - 1.0
        noise = max(spread(cb), spread(ca), min_change)
        flag = ""
        if abs(change) > noise:
            flag = "FASTER" if change < 0 else "SLOWER"
        if cb.get("valid") is not False and ca.get("valid") is False:
            flag = (flag + " NOW-INVALID").strip()
        flagged += bool(flag)
        rows.append([*k[:3], k[3], fmt(tb), fmt(ta), f"{change * 100:+.1f}%", f"{noise * 100:.1f}%", flag or "~"])
    only_b = [k for k in b if k not in a]
    only_a = [k for k in a if k not in b]
    text = [f"before: {before['_path']} ({card(before)}, {before['date']}, {before['git_commit']})",
            f"after:  {after['_path']} ({card(after)}, {after['date']}, {after['git_commit']})"]
    if card(before) != card(after):
        text.append("WARNING: different machines; timings are not comparable")
    text += ["", md_table(["op", "variant", "shape", "dtype", "before µs", "after µs", "change",
                           "spread (p10–p90)", "flag"], rows), "",
             f"{flagged} case(s) changed beyond the run-to-run spread; "
             f"{len(only_b)} only in before, {len(only_a)} only in after."]
    return "\n".join(text), flagged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="*", help="klab bench result JSON files")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="compare two result files")
    ap.add_argument("--min-change", type=float, default=0.0,
                    help="ignore changes below this fraction even when the spread is tighter (default 0)")
    ap.add_argument("--out", default="docs/PERFORMANCE.md")
    ap.add_argument("--img-dir", default="docs/img")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--plots-newest", type=int, default=None, metavar="N",
                    help="draw plots for the first N result files only (list the newest first) and "
                         "delete the older runs' plots from --img-dir: the repository carries ~30 "
                         "PNGs a session otherwise")
    ap.add_argument("--note", default="", help="a remark printed under the header (e.g. machine state)")
    ap.add_argument("--sdpa", nargs="*", default=[], help="scripts/bench_sdpa.py JSON files to show alongside")
    ap.add_argument("--timeline", nargs="*", default=[],
                    help="`klab bench e2e --timeline` JSON files (decode-step kernel timelines)")
    args = ap.parse_args(argv)
    if args.compare:
        text, _ = compare(load(args.compare[0]), load(args.compare[1]), args.min_change)
        print(text)
        return 0
    if not args.results:
        ap.error("give result JSON files, or --compare BEFORE AFTER")
    docs = [load(p) for p in args.results]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.plots_newest is not None and args.plots_newest < 0:
        ap.error("--plots-newest takes a count >= 0")
    out.write_text(render(docs, out, Path(args.img_dir), not args.no_plots, args.note,
                          [load_sdpa(p) for p in args.sdpa],
                          [load_timeline(p) for p in args.timeline], args.plots_newest),
                   encoding="utf-8")
    print(f"perf_report: wrote {out}")
    if args.plots_newest is not None:
        removed = prune_plots(docs[args.plots_newest:], Path(args.img_dir))
        print(f"perf_report: removed {removed} plot(s) of the older runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
