#!/usr/bin/env python3
"""Where a kernel's warps wait, by SASS instruction, from Nsight Compute's source page.

Input: the CSV of `ncu -i REPORT --page source --csv --print-source sass` (a report taken with
`--set full --import-source yes`). Prints the total warp-state samples, the stall reasons over
the whole kernel, the instructions holding the most samples (each with its top reasons and its
index in the listing, so neighbours can be read in the CSV), and the samples by opcode.

A stall is charged to the instruction that waits: a long-scoreboard stall on the first
instruction that reads a loaded register is the wait for that load (docs/kernels/gemv.md,
session 18, reads the 4-bit mma_wide kernels this way).

Usage: ncu_stalls.py SASS.csv [--top N]
"""
from __future__ import annotations

import argparse
import collections
import csv


def load(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    # Row 0 names the kernel; row 1 is the header.
    header = rows[1]
    return header, [r for r in rows[2:] if len(r) == len(header)]


def number(text: str) -> float:
    return float(text.replace(",", "")) if text.strip() else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    header, rows = load(a.csv)
    src = header.index("Source")
    samples = header.index("Warp Stall Sampling (All Samples)")
    reasons = [i for i, n in enumerate(header) if n.startswith("stall_") and "(Not Issued)" not in n]
    total = sum(number(r[samples]) for r in rows)
    print(f"{total:.0f} samples over {len(rows)} instructions")
    by_reason = collections.Counter()
    for r in rows:
        for i in reasons:
            by_reason[header[i][len("stall_"):]] += number(r[i])
    print("reasons: " + ", ".join(f"{k} {v / total:.1%}" for k, v in by_reason.most_common(8)))
    order = sorted(range(len(rows)), key=lambda k: -number(rows[k][samples]))
    for k in order[: a.top]:
        r = rows[k]
        top = sorted(((number(r[i]), header[i][len("stall_"):]) for i in reasons), reverse=True)[:2]
        why = ", ".join(f"{n} {v:.0f}" for v, n in top if v)
        print(f"{number(r[samples]):7.0f} {number(r[samples]) / total:6.1%}  [{k:4d}] "
              f"{r[src].strip()[:58]:58s} {why}")
    by_op = collections.Counter()
    for r in rows:
        words = r[src].split()
        if words:
            op = words[1] if words[0].startswith("@") and len(words) > 1 else words[0]
            by_op[op.split(".")[0]] += number(r[samples])
    print("by opcode: " + ", ".join(f"{k} {v / total:.1%}" for k, v in by_op.most_common(10)))


if __name__ == "__main__":
    main()
