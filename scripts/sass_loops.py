#!/usr/bin/env python3
"""Instruction mix of a kernel's loops, from the SASS of a compiled object (no GPU needed).

Counts the SASS instructions between each backward branch and its target (a loop body, as laid
out) by opcode, and prints the kernel's registers and stack. docs/kernels/gemv.md quotes these
counts ("instructions a chunk-tile"); this makes them reproducible.

Needs cuobjdump: the CUDA toolkit's, or PyPI's (no root, no GPU):
  pip download --no-deps nvidia-cuda-cuobjdump -d /tmp/nvd && unzip -o -q '/tmp/nvd/*.whl' -d /tmp/nvd/x
  export PATH=/tmp/nvd/x/nvidia/cu13/bin:$PATH

Usage:
  scripts/sass_loops.py OBJECT                 # lists the kernels (mangled names) in OBJECT
  scripts/sass_loops.py OBJECT SUBSTRING...    # loops of every kernel whose name holds all of them
e.g. scripts/sass_loops.py build/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma_wide_f16.cu.o \\
       gemv_mma_wide_kernel I6__halfLi4ELb0ELi2E
"""
from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys

INSTR = re.compile(r"\s+/\*([0-9a-f]{4,})\*/\s+(@!?U?P[0-9T] )?([A-Z0-9_]+)(\.[A-Z0-9_.]+)?(.*)")


def cuobjdump(*args: str) -> str:
    if not shutil.which("cuobjdump"):
        sys.exit("sass_loops: cuobjdump not on PATH (see this script's header)")
    return subprocess.run(["cuobjdump", *args], check=True, capture_output=True,
                          text=True).stdout


def kernels(obj: str) -> dict[str, str]:
    """Mangled name -> 'REG:n STACK:n' line of cuobjdump -res-usage."""
    out, name = {}, None
    for line in cuobjdump("-res-usage", obj).splitlines():
        m = re.search(r"Function ([^:\s]+)", line)
        if m:
            name = m.group(1)
        elif name and "REG:" in line:
            out[name] = " ".join(re.findall(r"(?:REG|STACK|SHARED):\d+", line))
            name = None
    return out


def loops(sass: str) -> list[tuple[int, int, collections.Counter]]:
    ins = []
    for line in sass.splitlines():
        m = INSTR.match(line)
        if m:
            ins.append((int(m.group(1), 16), m.group(3), m.group(5)))
    found = []
    for addr, op, rest in ins:
        target = re.search(r"0x([0-9a-f]+)", rest) if op == "BRA" else None
        if target and int(target.group(1), 16) < addr:
            lo = int(target.group(1), 16)
            found.append((lo, addr, collections.Counter(o for a, o, _ in ins if lo <= a <= addr)))
    return found


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    obj, parts = sys.argv[1], sys.argv[2:]
    table = kernels(obj)
    if not parts:
        for name, res in table.items():
            print(f"{res:28s} {name}")
        return
    chosen = [n for n in table if all(p in n for p in parts)]
    if not chosen:
        sys.exit(f"sass_loops: no kernel in {obj} holds {parts}")
    for name in chosen:
        print(f"{name}  [{table[name]}]")
        for lo, hi, count in loops(cuobjdump("-sass", "-fun", name, obj)):
            top = ", ".join(f"{op} {n}" for op, n in count.most_common(16))
            print(f"  loop {lo:#06x}-{hi:#06x}: {sum(count.values())} instructions: {top}")


if __name__ == "__main__":
    main()
