"""GPU checks: the shipped cases on CUDA agree with the exact reference, and TF32 is off while comparing.

Marked `gpu`: skipped where CUDA is not available (see tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verify.case import Case, load_file
from verify.engines.autograd import TorchEngine
from verify.model import build_model
from verify.run import RunOptions, run_case

pytestmark = pytest.mark.gpu
SEED = Path(__file__).resolve().parents[2] / "cases" / "seed"


def _cases() -> list[Case]:
    return [c for f in sorted(SEED.glob("*.yaml")) for c in load_file(f) if isinstance(c, Case)]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_seed_cases_pass_on_cuda(case: Case) -> None:
    results = run_case(case, RunOptions(devices=("cuda",), dtypes=("float64", "float32")))
    engine_rows = [r for r in results if r.device == "cuda"]
    assert engine_rows, "no row ran on cuda"
    assert all(r.status == "pass" for r in results), [r.message for r in results if r.status != "pass"]


def test_auto_device_picks_cuda() -> None:
    case = _cases()[0]
    results = run_case(case, RunOptions(devices=("auto",)))
    assert {r.device for r in results if r.mode in ("rev", "fwd", "value")} == {"cuda"}


def test_tf32_is_off_during_comparison_and_restored() -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        case = next(c for c in _cases() if c.name == "matrix-product")
        model = build_model(case)
        function = model.functions["C"]
        points = np.random.default_rng(0).uniform(-2, 2, (256, function.n_inputs))
        gpu = TorchEngine(model).evaluate("value", function, points, "float32", "cuda").values
        cpu = TorchEngine(model).evaluate("value", function, points, "float32", "cpu").values
        np.testing.assert_allclose(gpu, cpu, rtol=1e-6, atol=1e-6)
        assert torch.backends.cuda.matmul.allow_tf32 is True  # restored after the comparison
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
