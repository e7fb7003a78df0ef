#!/usr/bin/env python3
"""Reads a GGUF written by `klab quantize` with the `gguf` PyPI package (gguf-py).

  quantize_gguf_py_dump.py FILE.gguf OUT_DIR

Writes OUT_DIR/summary.json (architecture, block count, token count, and per tensor: type name,
shape in GGUF order) and OUT_DIR/<tensor>.f32: every tensor dequantized by gguf-py, raw
little-endian float32. The C++ test compares those values with klab's own decoding, bit for bit.
Exit status 77 when gguf or numpy is missing.
"""
import json
import pathlib
import sys

try:
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize
except ImportError:
    sys.exit(77)


def main() -> int:
    reader = GGUFReader(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    arch = reader.fields["general.architecture"].contents()
    summary = {
        "arch": arch,
        "block_count": int(reader.fields[f"{arch}.block_count"].contents()),
        "tokens": len(reader.fields["tokenizer.ggml.tokens"].contents()),
        "tensors": {},
    }
    for t in reader.tensors:
        values = dequantize(t.data, t.tensor_type).astype(np.float32)
        summary["tensors"][t.name] = {"type": t.tensor_type.name,
                                      "shape": [int(d) for d in t.shape]}
        (out / f"{t.name}.f32").write_bytes(values.reshape(-1).tobytes())
    (out / "summary.json").write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
