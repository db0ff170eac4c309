"""``python -m bench.nvrtc_check``: compile every GPU kernel of neurona with NVRTC.

NVRTC (NVIDIA's runtime compiler, the one CuPy uses) needs no GPU and no driver, so this
check runs on any machine where ``cupy-cuda12x`` and ``nvidia-cuda-nvrtc-cu12`` are
installed: it catches syntax and type errors in the kernel sources of
``neurona/ops/cuda_kernels.py`` (for float32 and float64) before they ever reach a GPU.
What it cannot show is that the kernels compute the right numbers: that is the CUDA
parity suite's job (``tests/test_cuda_kernels.py``, run by ``bench/gpu_check.sh``).

    python -m bench.nvrtc_check [--arch compute_80]

Exit status 0 when every source compiles, 1 otherwise (the NVRTC log is printed).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def compile_all(arch: str = "compute_80") -> list[tuple[str, str, str | None]]:
    """[(kernel, dtype, error or None)] for every kernel source and both float dtypes."""
    from cupy_backends.cuda.libs import nvrtc
    from neurona.ops.cuda_kernels import standalone_sources
    results = []
    for dtype in (np.float32, np.float64):
        for name, src in standalone_sources(dtype).items():
            prog = nvrtc.createProgram(src, f"{name}.cu", [], [])
            try:
                nvrtc.compileProgram(prog, [f"-arch={arch}", "--std=c++14"])
                err = None
            except Exception as e:   # nvrtc.NVRTCError: the log says what is wrong
                err = f"{e}\n{nvrtc.getProgramLog(prog)}"
            finally:
                nvrtc.destroyProgram(prog)
            results.append((name, np.dtype(dtype).name, err))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nvrtc_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="compute_80",
                        help="virtual GPU architecture to compile for (default compute_80)")
    args = parser.parse_args(argv)
    try:
        import cupy_backends.cuda.libs.nvrtc  # noqa: F401
    except ImportError as e:
        print(f"NVRTC is not available ({e}); install it with "
              "pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12", file=sys.stderr)
        return 2
    results = compile_all(args.arch)
    for name, dtype, err in results:
        print(f"{'ok  ' if err is None else 'FAIL'} {name:28s} {dtype}")
        if err:
            print(err)
    bad = sum(err is not None for _, _, err in results)
    print(f"{len(results) - bad}/{len(results)} kernel sources compile with NVRTC "
          f"(-arch={args.arch})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
