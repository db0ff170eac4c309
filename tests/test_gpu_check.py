"""``bench/gpu_check.sh --dry-run``: the GPU check script runs end to end without a GPU.

The real run needs an NVIDIA GPU (CI has none); the dry run goes through the same script,
skipping only the CUDA parts, so a broken step (a typo, a wrong path, a missing option of
``python -m bench``) shows up here and not on the GPU machine, where time is scarce.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                    reason="bench/gpu_check.sh needs bash and coreutils' timeout")
def test_gpu_check_dry_run_writes_every_result_file(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1",
               GPU_CHECK_TESTS="tests/test_cuda_kernels.py")
    env.pop("OUT", None)
    run = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run",
                          "--out", str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    assert "tests rc=0" in summary and "bench rc=0" in summary, summary
    junit = (tmp_path / "junit-cuda.xml").read_text()
    assert "test_cuda_gelu" in junit           # the CUDA cases were collected (and skipped)
    report = json.loads((tmp_path / "bench-gpu.json").read_text())
    assert [r["name"] for r in report["results"]] == ["MLP train step"]
    assert report["results"][0]["neurona_s"] > 0
    assert "| MLP train step |" in (tmp_path / "bench-gpu.md").read_text()


def test_gpu_check_rejects_an_unknown_option(tmp_path):
    run = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--bogus"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "unknown option '--bogus'" in run.stderr


def test_bench_gpu_workloads_and_the_cpu_default_run():
    """The five GPU workloads take ``device``; the GEMM-bound GPT d512 (about 13 s a step
    on a laptop CPU) is left out of the default CPU run."""
    from bench.workloads import WORKLOADS
    gpu = {w.name for w in WORKLOADS if w.cuda}
    assert gpu == {"MLP train step", "LeNet-5 train step", "GPT train step",
                   "char-LSTM step", "GPT d512 b64 train step"}
    assert [w.name for w in WORKLOADS if not w.default] == ["GPT d512 b64 train step"]


def test_bench_device_cuda_without_a_gpu_says_what_is_missing():
    import neurona
    import torch
    if neurona.cuda.is_available() and torch.cuda.is_available():
        pytest.skip("this machine has a GPU: python -m bench --device cuda would run")
    from bench.__main__ import main
    with pytest.raises(SystemExit, match="--device cuda needs an NVIDIA GPU"):
        main(["--device", "cuda", "--quick"])
