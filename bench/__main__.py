"""``python -m bench``: time neurona against PyTorch, workload by workload.

    python -m bench                  all workloads (about a minute), results to bench/results.json
    python -m bench --quick          fewer, shorter rounds (seconds; noisier)
    python -m bench --only matmul    only workloads whose name contains "matmul" (repeatable;
                                     results to bench/results-partial.json)
    python -m bench --list           the workload names
    python -m bench --update-readme  run everything, then rewrite the table in bench/README.md
    python -m bench --device cuda    the GPU-capable workloads on an NVIDIA GPU, against
                                     PyTorch CUDA (results to bench/results-gpu/results.json;
                                     --markdown FILE also writes the table)

Both libraries run in this one process with their default thread settings; the thread
counts are printed and saved with the results.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
PARTIAL = HERE / "results-partial.json"
GPU_RESULTS = HERE / "results-gpu" / "results.json"
README = HERE / "README.md"
BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def gpu_info() -> dict:
    """The GPU both libraries use (``--device cuda``)."""
    import torch
    import neurona
    p = torch.cuda.get_device_properties(0)
    info = {"gpu": torch.cuda.get_device_name(0),
            "gpu_memory_gib": round(p.total_memory / 2**30, 1), "torch_cuda": torch.version.cuda}
    try:
        import cupy
        info["cupy"] = cupy.__version__
        info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
    except Exception as e:      # reported, not fatal: neurona.cuda says more below
        info["cupy"] = f"unavailable ({e})"
    info["neurona_cuda_available"] = neurona.cuda.is_available()
    return info


def _synced(step, sync):
    """step() then wait for the GPU: GPU calls return when queued, not when done."""
    def call():
        step()
        sync()
    return call


def machine_info() -> dict:
    import numpy as np
    import torch
    import neurona
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "neurona": neurona.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        from threadpoolctl import threadpool_info
        info["numpy_blas_threads"] = {p["internal_api"]: p["num_threads"]
                                      for p in threadpool_info() if p["user_api"] == "blas"}
    except ImportError:
        pass   # optional: without threadpoolctl the BLAS thread count is not reported
    return info


def table(results: list[dict]) -> str:
    """A Markdown table of the results."""
    from .harness import format_seconds
    rows = ["| workload | neurona | PyTorch | neurona / PyTorch | GFLOP/s neurona / PyTorch |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        rate = (f"{r['neurona_gflops']:.1f} / {r['torch_gflops']:.1f}"
                if "neurona_gflops" in r else "")
        rows.append(f"| {r['name']} | {format_seconds(r['neurona_s'])} | "
                    f"{format_seconds(r['torch_s'])} | {r['ratio']:.2f} | {rate} |")
    return "\n".join(rows)


def update_readme(report: dict) -> None:
    m = report["machine"]
    threads = f"torch threads {m['torch_threads']}"
    if "numpy_blas_threads" in m:
        threads += ", NumPy BLAS threads " + ", ".join(
            f"{k} {v}" for k, v in m["numpy_blas_threads"].items())
    block = (f"{BEGIN}\n"
             f"{m['cpu']}, {m['cores']} cores ({threads}); Python {m['python']}, "
             f"NumPy {m['numpy']}, PyTorch {m['torch']}, neurona {m['neurona']}; "
             f"{m['date'][:10]}{' (--quick)' if report['quick'] else ''}"
             + (f"; float32 GEMM 1024x1024 in NumPy: {m['numpy_gemm_gflops']:.0f} GFLOP/s"
                if "numpy_gemm_gflops" in m else "") + ".\n\n"
             f"{table(report['results'])}\n{END}")
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README} lacks the markers {BEGIN} ... {END}")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(head + block + tail)
    print(f"updated the table in {README}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only workloads whose name contains NAME (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--update-readme", action="store_true",
                        help="rewrite the results table in bench/README.md")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: the GPU-capable workloads on the GPU, against PyTorch CUDA")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="also write the results table (Markdown) to FILE")
    parser.add_argument("--output", type=Path,
                        help=f"where to write the JSON results (default {RESULTS.name}; "
                             f"with --only {PARTIAL.name}, so a partial run never "
                             f"replaces the full table)")
    args = parser.parse_args(argv)

    try:
        import torch  # noqa: F401
    except ImportError:
        raise SystemExit("bench needs PyTorch: pip install -e '.[test]'") from None
    from .harness import compare, format_seconds
    from .workloads import WORKLOADS, gemm_gflops

    if args.list:
        for w in WORKLOADS:
            print(f"{w.name:24s} {w.description}")
        return 0
    chosen = [w for w in WORKLOADS if w.default or args.device == "cuda"]
    if args.device == "cuda":
        import neurona
        if args.update_readme:
            raise SystemExit("--update-readme rewrites the CPU table: quote GPU numbers from "
                             "--markdown's file instead")
        if not (neurona.cuda.is_available() and torch.cuda.is_available()):
            raise SystemExit(
                "--device cuda needs an NVIDIA GPU seen by both CuPy (neurona.cuda.is_available(): "
                f"{neurona.cuda.is_available()}) and PyTorch (torch.cuda.is_available(): "
                f"{torch.cuda.is_available()}); bench/gpu_check.sh installs both")
        chosen = [w for w in WORKLOADS if w.cuda]
    if args.only:
        if args.update_readme:
            raise SystemExit("--update-readme wants the whole table from one run: drop --only")
        pool = [w for w in WORKLOADS if w.cuda or args.device == "cpu"]
        chosen = [w for w in pool if any(s.lower() in w.name.lower() for s in args.only)]
        if not chosen:
            raise SystemExit(f"no workload matches {args.only}; see python -m bench --list")

    machine = machine_info()
    machine["device"] = args.device
    if args.device == "cuda":
        machine.update(gpu_info())
        print(f"GPU: {machine['gpu']} ({machine['gpu_memory_gib']} GiB), "
              f"CUDA {machine['torch_cuda']}, CuPy {machine['cupy']}")
    print(f"{machine['cpu']}, {machine['cores']} cores; torch threads "
          f"{machine['torch_threads']}, NumPy BLAS threads "
          f"{machine.get('numpy_blas_threads', '(install threadpoolctl to see)')}")
    print(f"Python {machine['python']}, NumPy {machine['numpy']}, PyTorch {machine['torch']}, "
          f"neurona {machine['neurona']}\n")
    rounds, target = (7, 0.005) if args.quick else (25, 0.02)

    print(f"{'workload':24s} {'neurona':>10s} {'PyTorch':>10s} {'ratio':>7s}")
    results = []
    for w in chosen:
        if args.device == "cuda":
            import neurona
            step_nr, step_torch = w.setup(device="cuda")
            step_nr = _synced(step_nr, neurona.cuda.synchronize)
            step_torch = _synced(step_torch, torch.cuda.synchronize)
        else:
            step_nr, step_torch = w.setup()
        t = compare(step_nr, step_torch, name=w.name, rounds=rounds, target=target)
        results.append({"name": w.name, "description": w.description, "device": args.device,
                        "neurona_s": t.a_s, "torch_s": t.b_s, "ratio": t.ratio,
                        "rounds": t.rounds, "calls_per_round": t.inner})
        line = (f"{w.name:24s} {format_seconds(t.a_s):>10s} {format_seconds(t.b_s):>10s} "
                f"{t.ratio:7.2f}")
        if w.flops is not None:
            flops = w.flops()
            results[-1].update(gflop=flops / 1e9, neurona_gflops=flops / t.a_s / 1e9,
                               torch_gflops=flops / t.b_s / 1e9)
            line += (f"   {flops / t.a_s / 1e9:5.1f} vs {flops / t.b_s / 1e9:5.1f} GFLOP/s")
        print(line, flush=True)
    print("\nTimes are the median per call; ratio = neurona / PyTorch (lower is better).")
    if any(w.flops is not None for w in chosen) and args.device == "cpu":
        machine["numpy_gemm_gflops"] = gemm_gflops()
        print(f"GFLOP/s: the conv and linear layers' arithmetic of a training step (3 x the "
              f"forward's 2 x multiply-adds) per second, neurona vs PyTorch; this machine's "
              f"float32 GEMM (1024x1024, NumPy): {machine['numpy_gemm_gflops']:.0f} GFLOP/s.")

    report = {"machine": machine, "quick": args.quick, "results": results}
    if args.output is None:
        args.output = (GPU_RESULTS if args.device == "cuda" else
                       PARTIAL if args.only else RESULTS)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    if args.markdown:
        where = machine.get("gpu", machine["cpu"])
        args.markdown.write_text(f"{where}; {machine['date']}{' (--quick)' if args.quick else ''}"
                                 f"\n\n{table(results)}\n")
        print(f"wrote {args.markdown}")
    if args.update_readme:
        update_readme(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
