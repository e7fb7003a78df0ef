#!/usr/bin/env bash
# Session 26 c4b (H200), right after c4: the model's second third into /tmp.
set -euo pipefail
test -f /tmp/m.a || { echo COLD; exit 3; }
cp .carry/model.b /tmp/m.b
echo "m.b $(stat -c %s /tmp/m.b) bytes"
