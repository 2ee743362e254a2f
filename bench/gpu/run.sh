#!/usr/bin/env bash
# The one call to make on a lent GPU machine (the `device` tool runs it in the repository's root, with
# $OUT for the files that come back): the PyTorch eager reference of bench/gpu/pytorch_reference.py,
# and what the GPU is. About two minutes; nothing is downloaded (torch and transformers are on its image).
#   run: bash bench/gpu/run.sh      timeout_s: 420
set -euo pipefail
out="${OUT:-bench/gpu/out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.csv"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' | tee "$out/versions.txt"
python3 bench/gpu/pytorch_reference.py --out "$out/pytorch.json" 2>&1 | tee "$out/pytorch.log"
