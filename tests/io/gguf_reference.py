#!/usr/bin/env python3
"""Reference side of the GGUF interop tests, using the `gguf` PyPI package.

  gguf_reference.py write-all OUT [ALIGNMENT]  write a file with every metadata value type and
                                                a tensor of each common type (fixed content)
  gguf_reference.py dump FILE                   print what gguf-py reads from FILE as JSON

The dump is compared field by field with klab's reader. Strings are hex-encoded (token
strings need not be valid UTF-8); nested arrays are flattened, as gguf-py reads them; tensor
bytes are summarised by their CRC-32.
"""
import json
import sys
import zlib

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFValueType as VT, GGUFWriter

KIND_NAMES = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32",
    VT.INT32: "i32", VT.FLOAT32: "f32", VT.BOOL: "bool", VT.STRING: "string",
    VT.ARRAY: "array", VT.UINT64: "u64", VT.INT64: "i64", VT.FLOAT64: "f64",
}


def write_all(out: str, alignment: int) -> None:
    w = GGUFWriter(out, "llama")
    if alignment != 32:
        w.add_custom_alignment(alignment)
    w.add_uint8("k.u8", 200)
    w.add_int8("k.i8", -100)
    w.add_uint16("k.u16", 60000)
    w.add_int16("k.i16", -30000)
    w.add_uint32("k.u32", 4000000000)
    w.add_int32("k.i32", -2000000000)
    w.add_uint64("k.u64", 2**64 - 1)
    w.add_int64("k.i64", -2**63)
    w.add_float32("k.f32", 0.1)
    w.add_float64("k.f64", -1e300)
    w.add_bool("k.true", True)
    w.add_bool("k.false", False)
    w.add_string("k.str", "h\u00e9llo \U0001F600 \n\t")
    w.add_string("k.empty_str", "")
    w.add_key_value("k.arr_u8", [1, 2, 255], VT.ARRAY, sub_type=VT.UINT8)
    w.add_key_value("k.arr_i16", [-5, 7], VT.ARRAY, sub_type=VT.INT16)
    w.add_key_value("k.arr_f32", [0.5, -2.25], VT.ARRAY, sub_type=VT.FLOAT32)
    w.add_key_value("k.arr_u64", [2**63, 1], VT.ARRAY, sub_type=VT.UINT64)
    w.add_key_value("k.arr_bool", [True, False, True], VT.ARRAY, sub_type=VT.BOOL)
    w.add_array("k.arr_str", ["a", "", "\u2581the"])
    w.add_key_value("k.arr_nested", [[1, 2], [3]], VT.ARRAY, sub_type=VT.ARRAY)

    rng = np.random.default_rng(1234)
    w.add_tensor("t.f32", rng.standard_normal((3, 5), dtype=np.float32))
    w.add_tensor("t.f16", rng.standard_normal((2, 7)).astype(np.float16))
    w.add_tensor("t.f64", rng.standard_normal((4,)))
    w.add_tensor("t.i8", rng.integers(-128, 127, (9,), dtype=np.int8))
    w.add_tensor("t.i16", rng.integers(-999, 999, (2, 2), dtype=np.int16))
    w.add_tensor("t.i32", rng.integers(-999, 999, (3,), dtype=np.int32))
    w.add_tensor("t.i64", rng.integers(-999, 999, (1, 2), dtype=np.int64))
    # Quantized and bf16 tensors are raw bytes, [rows, bytes per row].
    w.add_tensor("t.q8_0", rng.integers(0, 255, (3, 2 * 34), dtype=np.uint8), raw_dtype=QT.Q8_0)
    w.add_tensor("t.q4_1", rng.integers(0, 255, (2, 20), dtype=np.uint8), raw_dtype=QT.Q4_1)
    w.add_tensor("t.q4_0", rng.integers(0, 255, (5, 18), dtype=np.uint8), raw_dtype=QT.Q4_0)
    w.add_tensor("t.bf16", rng.integers(0, 255, (2, 6), dtype=np.uint8), raw_dtype=QT.BF16)
    w.add_tensor("t.q6_k", rng.integers(0, 255, (1, 210), dtype=np.uint8), raw_dtype=QT.Q6_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def dump_field(field) -> dict:
    main = field.types[0]
    out = {"type": KIND_NAMES[main]}
    if main == VT.ARRAY:
        out["elem_type"] = KIND_NAMES[field.types[1]] if len(field.types) > 1 else None
        leaf = field.types[-1]
        parts = [field.parts[i] for i in field.data]
        if leaf == VT.STRING:
            out["flat"] = [bytes(p).hex() for p in parts]
        else:
            out["flat"] = [p.tolist()[0] for p in parts]
    elif main == VT.STRING:
        out["value"] = bytes(field.parts[-1]).hex()
    else:
        out["value"] = field.parts[-1].tolist()[0]
    return out


def dump(path: str) -> None:
    r = GGUFReader(path)
    meta = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue  # header fields gguf-py exposes as pseudo-keys
        meta[name] = dump_field(field)
    tensors = []
    for t in r.tensors:
        data = np.ascontiguousarray(t.data).view(np.uint8)
        tensors.append({
            "name": t.name,
            "type": int(t.tensor_type),
            "shape": [int(d) for d in t.shape],
            "offset": int(t.data_offset) - int(r.data_offset),
            "n_bytes": int(t.n_bytes),
            "crc32": zlib.crc32(data.tobytes()),
        })
    json.dump({
        "version": int(r.fields["GGUF.version"].parts[-1][0]),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "metadata": meta,
        "tensors": tensors,
    }, sys.stdout)


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "write-all":
        write_all(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 32)
    elif len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
