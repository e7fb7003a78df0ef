#!/usr/bin/env python3
"""scripts/perf_report.py on synthetic klab-bench/1 documents: tables, skipped cases,
and --compare flagging only changes beyond the run-to-run spread. Plots are off so the test
needs nothing beyond the standard library."""
import copy
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import perf_report  # noqa: E402


def case(variant, median, p10, p90, valid=True, **kw):
    c = {"op": "gemv", "variant": variant, "shape": "M=1,N=4096,K=14336", "dtype": "f16",
         "device": "cuda", "dims": {"M": 1, "N": 4096, "K": 14336}, "bytes": 1.2e8, "flops": 1.2e8,
         "bound": "auto", "median_us": median, "min_us": p10, "p10_us": p10, "p90_us": p90,
         "max_us": p90, "mean_us": median, "samples": 50, "reps": 50, "inner": 1,
         "timing": "cuda_events", "gbps": 1.2e8 / median / 1e3 if median else None, "tflops": None,
         "pct_of_ceiling": 80.0, "ceiling_kind": "d2d_copy", "rel_error": 1e-3, "tolerance": 1e-2,
         "valid": valid, "skipped": False, "skip_reason": "", "error": "", "note": ""}
    c.update(kw)
    return c


def doc(cases):
    return {"schema": "klab-bench/1",
            "machine": {"cpu_model": "Test CPU", "cpu_cores": 16, "os": "Linux", "built_with_cuda": True,
                        "gpu": {"name": "NVIDIA H100 80GB HBM3", "cc": "9.0", "sm_count": 132,
                                "l2_bytes": 52428800, "memory_bytes": 85e9, "driver_version": 13000,
                                "runtime_version": 13000, "sm_clock_mhz": 1980, "mem_clock_mhz": 2619},
                        "cublas_version": 130000},
            "ceilings": {"d2d_copy": {"kind": "d2d_copy", "value": 3000.0, "unit": "GB/s", "median_us": 715.0,
                                      "p10_us": 712.0, "p90_us": 720.0, "what": "cudaMemcpyAsync", "note": ""},
                         "gemm_bf16": {"kind": "gemm_bf16", "value": None, "unit": "TFLOP/s", "note": "n/a"}},
            "date": "2026-11-25T10:00:00Z", "command": "klab bench --suite quick", "git_commit": "abc",
            "suite": "quick", "cases": cases}


def write(tmp, name, d):
    p = Path(tmp) / name
    p.write_text(json.dumps(d))
    return str(p)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        before = doc([case("warp_per_row", 100.0, 98.0, 102.0), case("naive", 300.0, 250.0, 350.0),
                      case("cublas", 50.0, 49.0, 51.0),
                      case("vec16", None, None, None, valid=None, skipped=True,
                           skip_reason="GPU case: no CUDA device on this machine")])
        after = copy.deepcopy(before)
        after["cases"][0].update(median_us=90.0, p10_us=89.0, p90_us=91.0)   # -10%, spread 4%: flagged
        after["cases"][1].update(median_us=320.0, p10_us=260.0, p90_us=360.0)  # +7%, spread 33%: noise
        after["cases"][2].update(valid=False, rel_error="inf")                # became invalid
        b, a = write(tmp, "before.json", before), write(tmp, "after.json", after)

        text, flagged = perf_report.compare(perf_report.load(b), perf_report.load(a), 0.0)
        assert flagged == 2, text
        rows = {line.split("|")[2].strip(): line for line in text.splitlines() if line.startswith("| gemv")}
        assert "FASTER" in rows["warp_per_row"], text
        assert rows["naive"].rstrip().endswith("~ |"), text
        assert "NOW-INVALID" in rows["cublas"], text

        out = Path(tmp) / "docs" / "PERFORMANCE.md"
        md = perf_report.render([perf_report.load(a)], out, Path(tmp) / "docs" / "img", plots=False)
        assert "NVIDIA H100 80GB HBM3" in md and "klab bench --suite quick" in md, md
        assert "| d2d_copy | 3,000 GB/s |" in md, md
        assert "**INVALID**" in md and "1 case(s) skipped (GPU case: no CUDA device" in md, md
        assert "No GPU results are committed yet" not in md
        assert "| gemv | f16 | M=1,N=4096,K=14336 | warp_per_row |" in md, md  # fastest valid

        tl = write(tmp, "tl.json", {
            "case": "llama2-7b q4_0 B=1 ctx=512", "gpu": "NVIDIA H100 80GB HBM3", "git_commit": "abc1234",
            "layers": 32, "steps": 30, "span_us": 2059.1, "idle_us": 1.4, "kernels_per_step": 227,
            "rows": [{"kernel": "gemv [688x128]", "launches_per_step": 32, "advance_us": 628.8,
                      "idle_us": 0.0, "busy_us": 667.8, "overlap_us": 39.1}],
            "median_step": []})
        md = perf_report.render([perf_report.load(a)], out, Path(tmp) / "docs" / "img", plots=False,
                                timelines=[perf_report.load_timeline(tl)])
        assert "## Decode step inside the CUDA graph" in md and "--timeline " + tl in md, md
        assert "| `gemv [688x128]` | 32.0 | 628.8 | 19.6 | 667.8 | 39.1 |" in md, md
        # Contents: a line a section, each link to an anchor the document holds.
        run = "run-" + perf_report.slug(Path(a).stem)
        assert "## Contents" in md and "(#timelines)" in md and f"(#{run})" in md, md
        assert '<a id="timelines"></a>' in md and f'<a id="{run}"></a>' in md, md

        # SDPA beside klab: only klab runs of the same card and call count (an H200 run of the
        # same shape, faster, must not stand beside the H100's SDPA numbers).
        def attn_doc(gpu, date, median):
            d = doc([case("split_kv_mma_cluster_spec", median, median, median, op="decode_attention",
                          shape="B=1,S=4096,contiguous", dtype="bf16", gbps=100.0,
                          dims={"B": 1, "S": 4096, "Hq": 32, "Hkv": 8, "D": 128, "page": 0})])
            d["machine"]["gpu"]["name"] = gpu
            d["date"] = date
            return d
        h100 = attn_doc("NVIDIA H100 80GB HBM3", "2026-11-27T08:03:17Z", 10.29)
        h200 = attn_doc("NVIDIA H200", "2026-11-27T08:05:00Z", 9.61)
        old_h100 = attn_doc("NVIDIA H100 80GB HBM3", "2026-11-26T08:03:00Z", 10.0)
        sdpa = {"torch": "2.11", "cudnn": 91900, "gpu": "NVIDIA H100 80GB HBM3",
                "date": "2026-11-27T08:04:10+00:00", "_path": "sdpa.json",
                "cases": [{"op": "decode_attention", "variant": "torch_sdpa_cudnn", "dtype": "bf16",
                           "shape": "B=1,S=4096,Hq=32,Hkv=8,D=128", "gbps": 287.0,
                           "dims": {"B": 1, "S": 4096, "Hq": 32, "Hkv": 8, "D": 128},
                           "time_us": {"median": 58.6}}]}
        section = perf_report.sdpa_section(sdpa, [h100, h200, old_h100])
        assert "split_kv_mma_cluster_spec 10.3 µs" in section, section

        # --plots-newest N: the command line records it, and the older runs' plots (exactly the
        # names make_plots gives them) leave the image folder; the newest runs' stay.
        img = Path(tmp) / "img"
        img.mkdir()
        newest, older = perf_report.load(a), perf_report.load(b)
        keep = perf_report.plot_paths(newest, img, "gemv")["roofline"]
        drop = perf_report.plot_paths(older, img, "gemv")["roofline"]
        stranger = img / "someone-else.png"
        for f in (keep, drop, stranger):
            f.write_bytes(b"png")
        assert perf_report.main([a, b, "--out", str(out), "--img-dir", str(img), "--no-plots",
                                 "--plots-newest", "1"]) == 0
        assert keep.is_file() and stranger.is_file() and not drop.is_file()
        assert f"{a} {b} --plots-newest 1`" in out.read_text(), out.read_text()[:800]

        bad = write(tmp, "bad.json", {"schema": "other"})
        try:
            perf_report.load(bad)
        except SystemExit as e:
            assert "not a klab-bench/1 document" in str(e)
        else:
            raise AssertionError("a foreign document must be rejected")
    print("perf_report_test: ok")


if __name__ == "__main__":
    main()
