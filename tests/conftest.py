"""Shared pytest configuration.

Hypothesis profiles
-------------------
* ``ci`` (the default): ``derandomize=True`` so every run -- on a laptop or in CI -- draws
  the same examples and a failure always reproduces; no example database; no deadline
  (the first call of an op imports and warms up NumPy/PyTorch kernels, which would trip
  a per-example time limit); a moderate number of examples per test so each test file
  stays well under a minute on two cores.
* ``dev``: many more random examples, for hunting bugs locally::

      HYPOTHESIS_PROFILE=dev python -m pytest tests/test_pointwise.py

Real data
---------
The ``shared_data`` fixture is the shared data folder, ``../shared/data`` next to the
repository (MNIST, the CIFAR-10 JPEG copy...).  Tests that use it FAIL, not skip, when the
folder (or the sub-folder they name with ``shared_data_dir(...)``) is missing: a skipped
real-data test would hide that nothing was tested.

Helpers that test files share (strategies, ``check_parity``, ``gradcheck64``) live in
``tests/helpers.py``: ``from helpers import check_parity``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `import neurona` from the checkout, and `import helpers` from this folder, whatever the
# current directory is.
_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.dirname(_HERE), _HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


REPO = Path(_HERE).parent


def shared_data_dir(*parts) -> Path:
    """The shared data folder (``../shared/data`` relative to the repository root), or a
    sub-folder of it; fails the test when it is missing."""
    path = (REPO.parent / "shared" / "data").resolve().joinpath(*parts)
    if not path.exists():
        pytest.fail(f"the shared data folder {path} is missing; the real-data tests need it "
                    "(it lives next to the repository, in ../shared/data)")
    return path


@pytest.fixture(scope="session", params=__import__("helpers").DEVICES)
def device(request) -> str:
    """``"cpu"``, then ``"cuda"`` (skipped with a visible reason where CuPy sees no GPU or
    PyTorch has no CUDA): a test that takes ``device`` runs once per device.  Session-
    scoped so that Hypothesis tests may use it; ``helpers.DEVICES`` is the same list for
    ``@pytest.mark.parametrize("device", DEVICES)``."""
    return request.param


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder ``../shared/data``; the test fails when it is missing (check
    a sub-folder with ``shared_data_dir("mnist")``)."""
    return shared_data_dir()
