#!/usr/bin/env python3
"""Summarise an `ncu --csv --metrics gpu__time_duration.sum` log: time per kernel name over
the last N launches (one decode step when N is the step's kernel count), and the ordered list.

Usage: ncu_summary.py LOG.csv [--last N]
"""
import argparse
import csv
import collections
import sys


def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        if r.get("Metric Name") == "gpu__time_duration.sum":
            yield r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--last", type=int, default=0)
    a = ap.parse_args()
    launches = list(rows(a.log))
    if a.last:
        launches = launches[-a.last:]
    unit_ns = {"nsecond": 1, "ns": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6}
    per = collections.OrderedDict()
    total = 0.0
    for r in launches:
        ns = float(r["Metric Value"].replace(",", "")) * unit_ns.get(r["Metric Unit"], 1)
        name = r["Kernel Name"][:90]
        key = (name, r.get("Grid Size", ""), r.get("Block Size", ""))
        c = per.setdefault(key, [0, 0.0])
        c[0] += 1
        c[1] += ns
        total += ns
    print(f"{len(launches)} launches, {total / 1e3:.1f} us of kernel time")
    for (name, grid, block), (n, ns) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"{ns / 1e3:9.1f} us {100 * ns / total:5.1f}%  n={n:4d}  avg {ns / n / 1e3:7.2f} us"
              f"  grid {grid:>16} block {block:>12}  {name}")


if __name__ == "__main__":
    sys.exit(main())
