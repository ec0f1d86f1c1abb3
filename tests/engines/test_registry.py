"""The registry of language functions: one row per function, every table built from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

from verify.engines.autograd import LOWERING
from verify.engines.certified import compile_arb
from verify.functions import ELEMENTWISE, ROWS, arb_table, registry_heads, torch_table

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "case-format.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("row", [r for r in ROWS if r.name], ids=lambda r: r.name)
def test_every_language_function_is_one_complete_row(row) -> None:
    assert row.name in ELEMENTWISE
    assert f"`{row.name}" in DOCS or f" {row.name} " in DOCS or f"{row.name}(" in DOCS, f"{row.name} is not documented"
    for head in row.heads:
        assert head in LOWERING, f"{row.name}: no torch lowering for {head}"
        assert head in {h for h, _ in arb_table().values()}, f"{row.name}: no certified evaluation for {head}"
    assert row.torch and callable(row.arb)


def test_the_torch_lowering_and_the_reference_are_separate_implementations() -> None:
    # the same head maps to a torch name in one table and to an Arb callable in the other
    torch_names = torch_table()
    arb_fns = {head: fn for head, fn in arb_table().values()}
    assert set(arb_fns) == set(registry_heads())
    # every head but those only derivatives produce (torch differentiates, it never lowers a derivative)
    assert set(torch_names) == set(registry_heads()) - {row_head for row in ROWS if not row.torch
                                                       for row_head in row.heads}
    assert all(isinstance(name, str) and name for name in torch_names.values())


@pytest.mark.parametrize("row", [r for r in ROWS if r.name and r.arities[0] == 1 and r.build], ids=lambda r: r.name)
def test_each_unary_row_evaluates_where_scipy_says(row) -> None:
    from scipy import special

    x = sympy.Symbol("x", real=True)
    reference = {"sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
                 "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
                 "acosh": np.arccosh, "atanh": np.arctanh, "exp": np.exp, "log": np.log, "log1p": np.log1p,
                 "expm1": np.expm1, "sqrt": np.sqrt, "abs": np.abs, "sign": np.sign, "erf": special.erf,
                 "erfc": special.erfc, "gamma": special.gamma, "lgamma": special.gammaln, "digamma": special.digamma,
                 "sigmoid": special.expit, "softplus": lambda t: np.logaddexp(t, 0), "relu": lambda t: np.maximum(t, 0),
                 "erfinv": special.erfinv, "erfcinv": special.erfcinv, "ndtr": special.ndtr,
                 "log_ndtr": special.log_ndtr, "ndtri": special.ndtri, "sinc": np.sinc, "i0": special.i0,
                 "i1": special.i1, "i0e": special.i0e, "i1e": special.i1e, "logit": special.logit,
                 "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "round": np.round, "frac": lambda t: t - np.trunc(t)}
    points = {"acosh": [1.3, 2.0, 3.5], "erfinv": [0.3, 0.7, -0.5], "ndtri": [0.3, 0.7, 0.05], "logit": [0.3, 0.7, 0.05],
              }.get(row.name, [0.3, 0.7, 1.5])
    points = np.array(points).reshape(-1, 1)
    got = compile_arb(np.array([row.build(x)], dtype=object), [x])(points).values[:, 0]
    np.testing.assert_allclose(got, reference[row.name](points[:, 0]), rtol=1e-13)
