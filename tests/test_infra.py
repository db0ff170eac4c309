"""The project's own machinery: README, the `neurona demo` command, the bench harness."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_quick_start_has_the_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the Quick start section should have a ```sh block"
    assert block.group(1).split("\n")[:-1] == ["make demo", "make test"]


def test_readme_examples_run():
    """Every ```python block of the README, run in order in one namespace."""
    namespace = {}
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", README, re.S)):
        exec(compile(block, f"README.md python block {i}", "exec"), namespace)


def test_neurona_demo_runs_and_the_loss_falls():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "neurona.cli", "demo"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    losses = [float(v) for v in re.findall(r"^epoch\s+\d+\s+loss ([\d.]+)", out.stdout, re.M)]
    assert len(losses) >= 3, out.stdout
    assert losses[-1] < losses[0], out.stdout
    accuracy = float(re.search(r"accuracy ([\d.]+)%", out.stdout).group(1))
    assert accuracy > 90, out.stdout


def test_cli_help_lists_demo():
    from neurona.cli import build_parser
    assert "demo" in build_parser().format_help()


def test_bench_harness_gives_a_ratio():
    sys.path.insert(0, str(ROOT))
    from bench.harness import compare, format_seconds
    t = compare(lambda: sum(range(50)), lambda: sum(range(100)), name="trivial",
                rounds=3, target=0.001, warmup=1)
    assert t.a_s > 0 and t.b_s > 0
    assert math.isfinite(t.ratio) and t.ratio > 0
    assert t.to_dict()["ratio"] == pytest.approx(t.ratio)
    assert format_seconds(1.5e-5) == "15 us"
