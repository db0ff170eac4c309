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

Helpers that test files share (strategies, ``check_parity``, ``gradcheck64``) live in
``tests/helpers.py``: ``from helpers import check_parity``.
"""
from __future__ import annotations

import os
import sys

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
