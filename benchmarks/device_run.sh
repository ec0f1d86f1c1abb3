#!/usr/bin/env bash
# The one prepared script for a lent GPU machine: GPU tests, the shipped cases on CUDA, and the
# GPU benchmarks. Every figure lands under $OUT (default: ./device-out). Run from the repo root:
#   OUT=/some/dir bash benchmarks/device_run.sh
set -uo pipefail
OUT="${OUT:-device-out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
log="$OUT/device_log.txt"
{
  echo "== machine"; date -u; nvidia-smi -L; nproc
  python3 -c "import torch, sympy, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(), '| sympy', sympy.__version__, '| numpy', numpy.__version__)"
  python3 -c "import symengine; print('symengine', symengine.__version__)" 2>/dev/null || echo "symengine: not installed (SymPy fallback)"
  echo "== GPU tests"; timeout 150 python3 -m pytest -q -p no:cacheprovider tests/gpu
  echo "== shipped cases on cuda"; timeout 120 python3 -m verify cases/ --device cuda --no-cache --report-dir "$OUT/cuda_reports" -q
  echo "== matmul (study notes' claim)"; timeout 120 python3 benchmarks/matmul.py --size 10000 --repeats 3
  echo "== autograd batch, cuda"; timeout 60 python3 benchmarks/autograd_batch.py --device cuda --points 10000 --loop-points 200
  echo "== autograd batch, cpu (same machine)"; timeout 60 python3 benchmarks/autograd_batch.py --device cpu --points 10000 --loop-points 200
  echo "== forward vs reverse, cuda"; timeout 120 python3 -m verify bench modes --device cuda --repeats 5 --plot "$OUT/forward_vs_reverse_cuda.png"
} 2>&1 | tee "$log"
