"""Numerical edges: where the exact function is undefined, its derivatives are not judged either."""

from __future__ import annotations

from verify.case import load_file
from verify.run import RunOptions, run_case


def test_derivatives_are_not_judged_where_the_function_is_undefined(write_case) -> None:
    # d log(x)/dx = 1/x is finite for x < 0, but log(x) is not defined there
    case = load_file(write_case("""
        name: log-edge
        variables: {x: {low: -2, high: 2}}
        functions:
          f: log(x)
        checks:
          - gradient: f
        points: {random: 40, at: [{x: -1}, {x: 1}]}
    """))[0]
    rows = [r for r in run_case(case, RunOptions()) if r.mode in ("rev", "fwd")]
    assert rows and all(r.status == "pass" for r in rows)
    for row in rows:
        assert row.excluded >= 1 and row.points + row.excluded == 42
        assert "excluded" in row.evidence
