"""`python -m verify accuracy`: ULPs against independent definitions, the atlas's coverage, a tiny
atlas run, and findings that load as cases and xfail."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from verify.accuracy import ATLAS, run_atlas, select, ulp, ulp_error
from verify.accuracy.domains import sample
from verify.accuracy.findings import collect, write_findings

# -- ULPs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1.0, 0.1, 3.0, 1e300, 2.0**-1022, 5e-324, 1e-310, 123456.789])
def test_float64_ulp_is_pythons_math_ulp(x: float) -> None:
    assert ulp(np.array([x]))[0] == math.ulp(x)
    assert ulp(np.array([-x]))[0] == math.ulp(x)


@pytest.mark.parametrize("x", [1.0, 0.1, 3.0, 1e30, 2.0**-126, 1e-40, 1e-45])
def test_float32_ulp_is_numpys_spacing(x: float) -> None:
    x32 = np.float32(x)
    assert ulp(np.array([float(x32)]), dtype="float32")[0] == float(np.spacing(x32))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_adjacent_floats_are_one_ulp_apart(dtype: str) -> None:
    np_dtype = np.float64 if dtype == "float64" else np.float32
    exact = np.array([1.0, 0.7, -2.5, 1e-30, 3e5], dtype=np_dtype)
    above = np.nextafter(exact, np_dtype(np.inf))
    errors = ulp_error(above.astype(np.float64), exact.astype(np.float64), np.zeros(exact.size), dtype)
    assert np.array_equal(errors, np.ones(exact.size))


def test_exact_zero_is_measured_in_subnormals() -> None:
    assert ulp(np.array([0.0]))[0] == 5e-324
    assert ulp_error(np.array([0.0, -0.0, 5e-324, 1e-320]), np.zeros(4), np.zeros(4), "float64").tolist() == [
        0.0, 0.0, 1.0, 1e-320 / 5e-324]
    assert ulp_error(np.array([2.0**-149]), np.zeros(1), np.zeros(1), "float32")[0] == 1.0


def test_the_exact_values_binade_decides_below_a_power_of_two() -> None:
    # x = 1 - 2^-60 lies in [1/2, 1), whose ulp is 2^-53; hi rounds to 1.0 with lo = -2^-60
    hi, lo = np.array([1.0]), np.array([-(2.0**-60)])
    assert ulp(hi, lo)[0] == 2.0**-53
    assert ulp_error(np.array([1.0]), hi, lo, "float64")[0] == pytest.approx(2.0**-60 / 2.0**-53)
    # halfway between two floats: 0.5 ULP from either
    assert ulp_error(np.array([1.0]), np.array([1.0]), np.array([2.0**-53]), "float64")[0] == 0.5


def test_infinities_and_nan() -> None:
    huge = np.array([1e39])  # beyond float32's range: its rounding is inf
    assert ulp_error(np.array([np.inf]), huge, np.zeros(1), "float32")[0] == 0.0
    assert ulp_error(np.array([np.inf]), np.array([np.inf]), np.zeros(1), "float64")[0] == 0.0
    assert ulp_error(np.array([np.nan]), np.array([1.0]), np.zeros(1), "float64")[0] == np.inf
    assert ulp_error(np.array([np.inf]), np.array([1.0]), np.zeros(1), "float64")[0] == np.inf
    assert ulp_error(np.array([1.0]), np.array([np.inf]), np.zeros(1), "float64")[0] == np.inf


# -- the atlas's table -------------------------------------------------------------------------------


def test_every_language_function_is_in_the_atlas() -> None:
    from verify.functions import ROWS

    names = {row.name for row in ROWS if row.name}
    assert names == {f.name for f in ATLAS}


def test_sampling_is_deterministic_and_in_the_dtype() -> None:
    function = select(["asin"])[0]
    first, again = sample(function, 200, "float32"), sample(function, 200, "float32")
    assert np.array_equal(first.points, again.points)
    assert np.all(np.isfinite(first.points))
    assert np.array_equal(first.points.astype(np.float32).astype(np.float64), first.points)
    assert np.any(first.points == float(np.nextafter(np.float32(1), np.float32(0))))  # the float just below 1
    assert not np.any(np.signbit(first.points) & (first.points == 0))  # no -0.0


def test_helper_rows_compute_what_verifys_lowering_computes() -> None:
    torch = pytest.importorskip("torch")
    from verify.accuracy.measure import torch_callable

    autograd = pytest.importorskip("verify.engines.autograd")
    helpers = getattr(autograd, "_HELPERS", None)
    if helpers is None:
        pytest.skip("verify.engines.autograd has no _HELPERS table")
    x = torch.tensor([-2.5, -0.3, 0.2, 1.7, 5.0], dtype=torch.float64)
    p = torch.tensor([1e-10, 0.1, 0.5, 1.2, 1.9], dtype=torch.float64)
    for label, helper, args in (("gamma", "gamma", (x,)), ("softplus", "softplus", (x,)),
                                ("erfcinv", "erfcinv", (p,)), ("min", "minimum", (x, x.flip(0))),
                                ("max", "maximum", (x, x.flip(0)))):
        ours = torch_callable(select([label])[0])(*args)
        assert torch.equal(ours, helpers[helper](*args)), label


def test_unknown_function_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from verify.cli import main

    assert main(["accuracy", "--functions", "exp,nosuch"], io.StringIO()) == 2
    assert "nosuch" in capsys.readouterr().err


# -- a tiny run, and its findings ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The atlas on exp and asin, 48 points each, with its report and findings (a few seconds)."""
    from verify.accuracy import main

    root = tmp_path_factory.mktemp("atlas")
    out = io.StringIO()
    code = main(["--functions", "exp,asin", "--points", "48", "--no-plots", "--report-dir", str(root / "reports"),
                 "--findings-dir", str(root / "findings")], out)
    assert code == 0, out.getvalue()
    return root, out.getvalue()


def test_tiny_atlas_writes_tables_per_dtype(tiny: tuple[Path, str]) -> None:
    root, _ = tiny
    text = (root / "reports" / "ACCURACY.md").read_text()
    for heading in ("## float64, cpu", "## float32, cpu", "## Worst regions", "## Findings", "machine:",
                    "python -m verify accuracy --functions exp,asin"):
        assert heading in text
    assert "| exp | value | - |" in text and "| asin | second | fwd |" in text
    assert "exp (cpu): max" in text  # the sanity anchor


def test_tiny_atlas_measures_exp_to_a_ulp_and_finds_asins_derivative() -> None:
    atlas = run_atlas(select(["exp", "asin"]), dtypes=("float64",), points=48)
    by_key = {(s.label, s.order, s.mode): s for s in atlas.series}
    assert by_key[("exp", 0, "-")].max <= 1.0
    assert by_key[("exp", 1, "rev")].max <= 1.0  # d/dx exp(x) is exp(x) itself
    assert by_key[("asin", 1, "rev")].max > 16  # 1/sqrt(1 - x*x) near 1: found in every run
    findings = collect(atlas.series, atlas.functions)
    assert {(f.function.label, f.order) for f in findings} >= {("asin", 1), ("asin", 2)}
    assert not any(f.function.label == "exp" for f in findings)


def test_findings_are_cases_that_load_and_xfail(tiny: tuple[Path, str], tmp_path: Path) -> None:
    from verify.cli import main

    root, _ = tiny
    files = sorted((root / "findings").glob("*.yaml"))
    assert [f.name for f in files] == ["asin.yaml"]
    assert (root / "findings" / "accuracy_ops.py").exists()
    out = io.StringIO()
    code = main([str(root / "findings"), "--report-dir", str(tmp_path / "reports"), "--no-cache"], out)
    assert code == 0, out.getvalue()
    records = json.loads((tmp_path / "reports" / "report.json").read_text())
    records = records["results"] if isinstance(records, dict) else records
    statuses = {(r["case"], r["check"], r["mode"]): r["status"] for r in records}
    derivative = [s for (case, check, mode), s in statuses.items() if check in ("gradient", "hessian")]
    assert derivative and set(derivative) == {"xfail"}, statuses
    assert any(case == "accuracy-asin-float64-first" for case, _, _ in statuses)


def test_a_finding_below_its_threshold_is_not_written(tmp_path: Path) -> None:
    atlas = run_atlas(select(["exp"]), dtypes=("float64",), points=32)
    lenient = {key: math.inf for key in [(d, o) for d in ("float64", "float32") for o in range(3)]}
    strict = {key: 0.0 for key in lenient}
    assert collect(atlas.series, atlas.functions, lenient) == []
    findings = collect(atlas.series, atlas.functions, strict)
    assert findings  # some point of exp is not exactly right: above a threshold of 0
    written = write_findings(findings, atlas.functions, tmp_path, lambda f: "figure.png", strict)
    assert [p.name for p in written] == ["exp.yaml"]
    write_findings([], atlas.functions, tmp_path, lambda f: "figure.png")
    assert not (tmp_path / "exp.yaml").exists()  # a rerun without findings removes the file


def test_figures_are_drawn(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from verify.accuracy.report import plot_function

    atlas = run_atlas(select(["atan2"]), points=24)
    path = tmp_path / "atan2.png"
    assert plot_function(atlas.functions[0], atlas.series, path)
    assert path.stat().st_size > 1000
