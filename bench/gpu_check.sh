#!/usr/bin/env bash
# bench/gpu_check.sh: the one-shot check of neurona on an NVIDIA GPU (issue 8).
#
#   bench/gpu_check.sh              on a machine with an NVIDIA GPU and driver
#   bench/gpu_check.sh --dry-run    anywhere: every step except the CUDA ones (tests it)
#   make gpu-check
#
# Steps, each under its own time limit (`timeout`), about 8 minutes at most in all:
#   1. setup     (240 s)  python3 as it is when it has PyTorch CUDA, CuPy, pytest and
#                         hypothesis (a GPU image: nothing to download; or $PYTHON); else a
#                         venv (.venv-gpu, or $GPU_VENV) with neurona[test,cuda] (CuPy for
#                         CUDA 12) and a CUDA build of PyTorch when the one there has none
#   2. nvrtc     (60 s)   every kernel source of neurona/ops/cuda_kernels.py compiles (NVRTC)
#   3. tests     (150 s)  the CUDA parity tests (pytest -k cuda): junit-cuda.xml, tests.txt
#   4. bench     (200 s)  python -m bench --device cuda --quick: the GPU workloads against
#                         PyTorch CUDA: bench-gpu.json, bench-gpu.md
# Results go to $OUT when it is set (the device runner's folder), else bench/results-gpu/;
# summary.txt there has one line per step: name, exit status, seconds.  The script's exit
# status is 0 only when every step passed.
#
# --dry-run: no install (uses the current python, or .venv's), the CUDA-only steps run in
# their no-GPU form: the NVRTC step compiles only where CuPy's NVRTC is installed, the tests
# run with their CUDA cases skipped, and the bench runs one CPU workload (--device cpu).
set -uo pipefail

cd "$(dirname "$0")/.."
DRY=0
RESULTS="${OUT:-bench/results-gpu}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) RESULTS="$2"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
SUMMARY="$RESULTS/summary.txt"
: > "$SUMMARY"
FAILED=0

# step NAME SECONDS CMD...: run CMD under `timeout`, log to NAME.log, record the result.
step() {
  local name="$1" limit="$2"; shift 2
  local t0 rc
  t0=$(date +%s)
  echo "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" > "$RESULTS/$name.log" 2>&1
  rc=$?
  tail -n 15 "$RESULTS/$name.log"
  echo "$name rc=$rc seconds=$(( $(date +%s) - t0 ))" | tee -a "$SUMMARY"
  [ "$rc" -eq 0 ] || FAILED=1
  return "$rc"
}

if [ "$DRY" -eq 1 ]; then
  PY="${PYTHON:-}"
  [ -n "$PY" ] || { [ -x .venv/bin/python ] && PY=.venv/bin/python || PY=python3; }
  echo "dry run: python $PY, results in $RESULTS" | tee -a "$SUMMARY"
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$RESULTS/gpu.txt" 2>&1 \
    || echo "nvidia-smi failed: no NVIDIA GPU or driver here? (--dry-run runs without one)"
  cat "$RESULTS/gpu.txt"
  # A python that already has everything (a GPU image with PyTorch CUDA, CuPy, pytest and
  # hypothesis) is used as it is, neurona from this checkout (PYTHONPATH): nothing to
  # download.  Otherwise a venv gets neurona[test,cuda] and, if needed, PyTorch for CUDA.
  READY='import sys, torch, cupy, pytest, hypothesis, safetensors, tqdm
sys.exit(0 if torch.cuda.is_available() and cupy.cuda.runtime.getDeviceCount() > 0 else 1)'
  if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
  elif python3 -c "$READY" 2>/dev/null; then PY=python3
  else
    VENV="${GPU_VENV:-.venv-gpu}"
    PY="$VENV/bin/python"
    setup() {
      [ -x "$PY" ] || python3 -m venv "$VENV" || return 1
      "$PY" -m pip install -q --disable-pip-version-check -e '.[test,cuda]' || return 1
      # PyTorch is the oracle and the rival: it must see the GPU too.
      "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
        || "$PY" -m pip install -q --disable-pip-version-check --force-reinstall torch \
             --index-url https://download.pytorch.org/whl/cu126
    }
    step setup 240 bash -c "$(declare -f setup); PY='$PY' VENV='$VENV' setup" \
      || { echo "setup failed: see $RESULTS/setup.log"; exit 1; }
  fi
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  step versions 60 "$PY" -c 'import sys, numpy, torch, cupy, neurona
print("python", sys.version.split()[0], "numpy", numpy.__version__, "cupy", cupy.__version__)
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())
print("neurona.cuda", neurona.cuda.is_available(), neurona.cuda.device_count())
sys.exit(0 if torch.cuda.is_available() and neurona.cuda.is_available() else 1)' \
    || { echo "CUDA is not usable from $PY: see $RESULTS/versions.log"; exit 1; }
fi

# 2. NVRTC: compile every kernel (needs no GPU; in a dry run only where NVRTC is installed)
if [ "$DRY" -eq 0 ] || "$PY" -c 'import cupy_backends.cuda.libs.nvrtc' 2>/dev/null; then
  step nvrtc 60 "$PY" -m bench.nvrtc_check
else
  echo "nvrtc skipped: CuPy's NVRTC is not installed here" | tee -a "$SUMMARY"
fi

# 3. the CUDA parity tests: every test with "cuda" in its name or id, in the test files that
#    mention CUDA or take the conftest's `device` fixture (device=device: the [cuda] cases;
#    others may import what a GPU image lacks: playwright, uvicorn...);
#    GPU_CHECK_TESTS names the files instead, as tests/test_gpu_check.py does.
TEST_FILES="${GPU_CHECK_TESTS:-$(grep -l -E 'cuda|DEVICES|device=device' tests/test_*.py | tr '\n' ' ')}"
echo "CUDA test files: $TEST_FILES"
step tests 150 env OMP_NUM_THREADS=1 "$PY" -m pytest -q -rs -p no:cacheprovider -k cuda \
  --junitxml="$RESULTS/junit-cuda.xml" $TEST_FILES
cp "$RESULTS/tests.log" "$RESULTS/tests.txt"

# 4. the bench workloads on the GPU against PyTorch CUDA
if [ "$DRY" -eq 0 ]; then
  step bench 200 "$PY" -m bench --device cuda --quick \
    --output "$RESULTS/bench-gpu.json" --markdown "$RESULTS/bench-gpu.md"
else
  step bench 120 "$PY" -m bench --device cpu --quick --only "MLP train step" \
    --output "$RESULTS/bench-gpu.json" --markdown "$RESULTS/bench-gpu.md"
fi
[ -f "$RESULTS/bench-gpu.md" ] && cat "$RESULTS/bench-gpu.md"

echo "== summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"
