"""Several fine-tuning runs at once, chosen by validation: a small hyperparameter sweep.

    python examples/16_finetune_sweep.py [--device cuda] [--workers 8] [--minutes 30]
                                         [--arch full] [--lr 5e-5,8e-5] [--epochs 3]
                                         [--seed 0,1,2,3] [--average 0,3] [--out DIR]

Every combination of the listed values is one run of :func:`neurona.recipes.finetune.train`
(MiniLM on rt-polarity, the same split as examples 8 and 14).  ``--workers`` processes
take the runs in turn (on a GPU they share it: one run does not fill an H100; on a CPU give
each worker its own core).  A worker starts no run after ``--minutes``, and a run it starts
gets only the minutes left (``max_minutes``).  Each result is appended to
``OUT/results.jsonl`` as it comes (a run that fails is recorded with its error and the
sweep goes on); at the end ``OUT/summary.md`` has every run, sorted by
validation accuracy, and the pick: the run with the best validation accuracy.  Every run
validates on the same snippets (``--split-seed``); ``--seed`` varies the initial head,
dropout and batch order.  Its test
accuracy is the sweep's result -- choosing by test accuracy would overstate it.

Measured on one H100 (3 calls, 30 runs on split 0; the table is in
``neurona/recipes/finetune.py``)::

    python examples/16_finetune_sweep.py --device cuda --workers 12 --minutes 2.5 \
        --lr 5e-5,8e-5 --seed 1,2,3,4,5,6 --average 3

A 3-epoch full fine-tuning took 91 s with 8 runs sharing the GPU, 120 s with 12 and
150-180 s with 16.  ``--quick`` (64/32/32 snippets) checks the mechanics in seconds.
"""
import argparse
import itertools
import json
import multiprocessing as mp
import os
import sys
import time

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))


def _values(text, kind):
    return [kind(v) for v in text.split(",")]


def grid(args) -> list[dict]:
    """The runs: every combination of the listed values, in the order given."""
    keys = ("lr", "epochs", "seed", "average")
    lists = (args.lr, args.epochs, args.seed, args.average)
    return [dict(zip(keys, combo), arch=args.arch) for combo in itertools.product(*lists)]


def _quick_texts():
    from neurona.recipes.sentiment import load_data
    d = load_data()
    return {k: (d[k][0][:n], d[k][1][:n]) for k, n in (("train", 64), ("val", 32),
                                                         ("test", 32))}


def _worker(queue, results_path, lock, deadline, device, eval_every, model_path, quick,
            split_seed):
    from neurona.recipes import finetune
    texts = _quick_texts() if quick else None
    while True:
        try:
            cfg = queue.get_nowait()
        except Exception:          # noqa: BLE001 -- queue.Empty: no runs left
            return
        left = (deadline - time.time()) / 60
        if left <= 0.5:
            return
        t0 = time.time()
        row = dict(cfg)
        try:
            r = finetune.train(device=device, quiet=True, plots=False, eval_every=eval_every,
                               max_minutes=left, model_path=model_path, texts=texts,
                               split_seed=split_seed, **cfg)
            m = r["metrics"]
            row.update({k: m[k] for k in ("val_accuracy", "test_accuracy", "steps",
                                          "stopped_by", "best_step", "single_best_step",
                                          "single_best_val_accuracy",
                                          "single_best_test_accuracy") if k in m},
                       val_curve=r["history"]["val_accuracy"],
                       average_val=r["history"].get("average_val_accuracy"))
        except Exception as e:     # noqa: BLE001 -- reported in the results, the sweep goes on
            import traceback
            row["error"] = f"{type(e).__name__}: {e}"
            row["traceback"] = traceback.format_exc()[-3000:]
        row["wall_s"] = round(time.time() - t0, 1)
        with lock, open(results_path, "a") as f:
            f.write(json.dumps(row, default=str) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "traceback"}, default=str),
              flush=True)


def _single(r) -> str:
    if "single_best_test_accuracy" not in r:
        return ""
    return (f"{r['single_best_step']}, {r['single_best_val_accuracy']:.4f}, "
            f"{r['single_best_test_accuracy']:.4f}")


def summarize(rows: list[dict]) -> str:
    """A markdown table of the finished runs, best validation first, and the pick."""
    done = [r for r in rows if "error" not in r]
    done.sort(key=lambda r: -r["val_accuracy"])         # ties: in the grid's order
    lines = ["| lr | epochs | seed | average | val acc | test acc | steps | best step | "
             "single best: step, val, test | s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in done:
        lines.append(f"| {r['lr']:g} | {r['epochs']} | {r['seed']} | {r['average']} | "
                     f"{r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} | {r['steps']} | "
                     f"{r['best_step']} | {_single(r)} | {r['wall_s']:.0f} |")
    if done:
        pick = done[0]
        tests = [r["test_accuracy"] for r in done]
        lines += ["", f"pick (best validation): lr {pick['lr']:g}, {pick['epochs']} epochs, "
                      f"seed {pick['seed']}, average {pick['average']}: validation "
                      f"{pick['val_accuracy']:.4f}, **test {pick['test_accuracy']:.4f}**; "
                      f"all {len(done)} runs: test mean {sum(tests) / len(tests):.4f}, "
                      f"min {min(tests):.4f}, max {max(tests):.4f}"]
    errors = [r for r in rows if "error" in r]
    if errors:
        lines += ["", f"{len(errors)} run(s) failed; first: {errors[0]['error']}"]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--arch", default="full", choices=("full", "lora", "head"))
    ap.add_argument("--lr", type=lambda s: _values(s, float), default=[5e-5])
    ap.add_argument("--epochs", type=lambda s: _values(s, int), default=[3])
    ap.add_argument("--seed", type=lambda s: _values(s, int), default=[0, 1])
    ap.add_argument("--average", type=lambda s: _values(s, int), default=[0])
    ap.add_argument("--eval-every", type=int, default=135)
    ap.add_argument("--split-seed", type=int, default=0, help="which 10%% of the training "
                    "snippets validate, the same for every run (so that picking by "
                    "validation compares runs on the same snippets)")
    ap.add_argument("--model", default=None, help="a BERT checkpoint folder "
                    "(default: the installed all-MiniLM-L6-v2)")
    ap.add_argument("--out", default="runs/finetune-sweep")
    ap.add_argument("--quick", action="store_true", help="64/32/32 snippets: a smoke test")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = os.path.join(args.out, "results.jsonl")
    open(results, "w").close()
    # one BLAS thread per worker: set before the workers start (they import NumPy at once)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ctx = mp.get_context("spawn")
    queue, lock = ctx.Queue(), ctx.Lock()
    runs = grid(args)
    for cfg in runs:
        queue.put(cfg)
    deadline = time.time() + 60 * args.minutes
    print(f"{len(runs)} runs, {args.workers} workers on {args.device}, "
          f"{args.minutes:g} minutes", flush=True)
    procs = [ctx.Process(target=_worker, args=(queue, results, lock, deadline, args.device,
                                               args.eval_every, args.model, args.quick,
                                               args.split_seed))
             for _ in range(args.workers)]
    for p in procs:
        p.start()
        time.sleep(2)           # staggered: the first batches' compilation and loading
    for p in procs:
        p.join()
    with open(results) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    table = summarize(rows)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
