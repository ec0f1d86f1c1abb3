"""Reports hold hostile case text safely and numbers exactly.

report.csv: text cells a spreadsheet would run as a formula are prefixed with `'`, numeric
columns stay numeric. report.md: Markdown and HTML from case files are inert, and the table of
all records has every documented column. Descriptions and messages are capped per record.
report.json: floats round-trip exactly; infinities are "inf"/"-inf"; null means not applicable.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from verify.report import DESCRIPTION_CHARS, MESSAGE_CHARS, write_reports
from verify.results import Result

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3+4", "@SUM(A1)", "\tx", "\rx"]


def result(**fields: object) -> Result:
    base: dict[str, object] = dict(file="f.yaml", case="c", check="jacobian", function="F", dtype="float64",
                                   device="cpu", mode="rev", status="pass")
    base.update(fields)
    return Result(**base)  # type: ignore[arg-type]


def read_json(directory: Path) -> list[dict]:
    def reject(name: str) -> None:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads((directory / "report.json").read_text(encoding="utf-8"), parse_constant=reject)


# -- report.csv -------------------------------------------------------------------------------------

def test_csv_cells_that_start_a_formula_are_prefixed(tmp_path: Path) -> None:
    rows = [result(case=text, description=text, tags=text, message=text, worst_point=text, evidence=text,
                   points=4, max_abs_err=-1.5, max_rel_err=2.5e-300, line=3, seed=-7) for text in FORMULAS]
    rows.append(result(function="-", dtype="-", device="-", mode="-", status="error", message="-"))
    write_reports(rows, tmp_path)
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    for row, text in zip(read, FORMULAS):
        for column in ("case", "description", "tags", "message", "worst_point", "evidence"):
            assert row[column] == "'" + text, (column, row[column])
        assert row["file"] == "f.yaml" and row["mode"] == "rev"
    assert read[-1]["function"] == read[-1]["mode"] == "-"  # a lone "-" is no formula: left as it is
    frame = pd.read_csv(tmp_path / "report.csv")
    for column in ("points", "line", "seed", "max_abs_err", "max_rel_err", "symbolic_s"):
        assert pd.api.types.is_numeric_dtype(frame[column]), column
    assert frame["max_abs_err"].iloc[0] == -1.5 and frame["seed"].iloc[0] == -7


# -- report.md --------------------------------------------------------------------------------------

MD_COLUMNS = ["case", "check", "function", "dtype", "device", "mode", "status", "points", "excluded",
              "max_abs_err", "max_rel_err", "symbolic_s", "reference_s", "autograd_s"]
"""The documented columns of report.md's table of all records (docs/case-format.md, section 13)."""


def _table(text: str, heading: str) -> list[list[str]]:
    """The Markdown table that starts at the first line beginning with `heading`, as lists of cells."""
    lines = text.splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith(heading)):]
    table = []
    for line in lines[:lines.index("") if "" in lines else len(lines)]:
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        table.append([c.strip() for c in cells])
    return table


def test_markdown_results_table_has_every_column_with_each_records_values(tmp_path: Path) -> None:
    rows = [result(case="a", status="pass", points=16, excluded=2, max_abs_err=1.5e-9, max_rel_err=3e-8,
                   symbolic_s=0.25, reference_s=0.5, autograd_s=0.125),
            result(case="b", check="hessian", function="G", dtype="float32", mode="fwd-over-rev", status="fail",
                   points=8, excluded=0, max_abs_err=math.inf, max_rel_err=2.0, message="wrong")]
    write_reports(rows, tmp_path)
    table = _table((tmp_path / "report.md").read_text(encoding="utf-8"), "| case | check")
    header, rule, *body = table
    assert header == MD_COLUMNS
    assert len(rule) == len(MD_COLUMNS) and all(set(c) == {"-"} for c in rule)
    assert len(body) == len(rows)
    for cells, r in zip(body, rows):
        assert len(cells) == len(MD_COLUMNS)
        got = dict(zip(MD_COLUMNS, cells))
        assert got["case"] == f"f.yaml::{r.case}"
        for name in ("check", "dtype", "device", "status"):
            assert got[name] == getattr(r, name)
        assert got["mode"] == r.mode.replace("_", "\\_") and got["function"] == r.function
        assert int(got["points"]) == r.points and int(got["excluded"]) == r.excluded
        for name in ("max_abs_err", "max_rel_err", "symbolic_s", "reference_s", "autograd_s"):
            assert float(got[name]) == pytest.approx(getattr(r, name), rel=1e-2), name


HOSTILE_MD = "3*x**2 <script>alert(1)</script> _under_ `code` [link](http://x) ~~gone~~ $x$ a|b &amp;"


def test_markdown_escapes_case_text(tmp_path: Path) -> None:
    rows = [result(case="c", description=HOSTILE_MD, status="fail", message=HOSTILE_MD + "\nsecond line")]
    write_reports(rows, tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "3\\*x\\*\\*2" in text and "3*x**2" not in text  # no italics
    assert "\\_under\\_" in text and "\\`code\\`" in text and "\\[link\\]" in text and "\\~\\~gone" in text
    assert "\\$x\\$" in text and "a\\|b" in text and "&amp;amp;" in text
    # every table row still has its four cells: the pipe in the description did not split one
    cases = _table(text, "| case | description")
    assert len(cases) == 3 and all(len(row) == 4 for row in cases)
    assert "second line" in text and "\nsecond line" not in text  # a message stays in its list item


# -- caps ---------------------------------------------------------------------------------------------

def test_descriptions_and_messages_are_capped_per_record(tmp_path: Path) -> None:
    description, message = "d" * 1_000_000, "m" * 50_000
    rows = [result(case=f"c{i}", description=description, message=message, status="fail") for i in range(20)]
    written = write_reports(rows, tmp_path, html=True)
    for path in written:
        assert path.stat().st_size < 20 * (DESCRIPTION_CHARS + MESSAGE_CHARS) * 2 + 100_000, path.name
    for record in read_json(tmp_path):
        assert record["description"].startswith("d" * DESCRIPTION_CHARS)
        assert len(record["description"]) < DESCRIPTION_CHARS + 100
        assert "cut at 1,000 of 1,000,000 characters" in record["description"]
        assert len(record["message"]) < MESSAGE_CHARS + 100 and "cut at 4,000 of 50,000" in record["message"]


def test_short_text_is_not_changed(tmp_path: Path) -> None:
    text = "x" * DESCRIPTION_CHARS
    write_reports([result(description=text, message="y" * MESSAGE_CHARS)], tmp_path)
    [record] = read_json(tmp_path)
    assert record["description"] == text and record["message"] == "y" * MESSAGE_CHARS


# -- report.json --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1.137e-13, 1.164e-10, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, 123456.789012345])
def test_json_floats_round_trip_exactly(tmp_path: Path, value: float) -> None:
    write_reports([result(points=4, max_abs_err=value, max_rel_err=value, symbolic_s=value, rtol=value)], tmp_path)
    [record] = read_json(tmp_path)
    for name in ("max_abs_err", "max_rel_err", "symbolic_s", "rtol"):
        assert record[name] == value and type(record[name]) is float, name


def test_json_writes_infinity_apart_from_not_applicable(tmp_path: Path) -> None:
    rows = [result(points=4, max_abs_err=math.inf, max_rel_err=-math.inf, rtol=1e-7, atol=0.0, reference_bits=53.0),
            result(mode="expect", dtype="exact", device="-")]  # a symbolic record: no numeric comparison
    write_reports(rows, tmp_path)
    measured, symbolic = read_json(tmp_path)
    assert measured["max_abs_err"] == "inf" and measured["max_rel_err"] == "-inf"
    assert (measured["rtol"], measured["atol"], measured["reference_bits"]) == (1e-7, 0.0, 53.0)
    for name in ("max_abs_err", "max_rel_err", "rtol", "atol", "reference_bits"):
        assert symbolic[name] is None, name
    # a NaN error of a record that did compare points is not "not applicable"
    write_reports([result(points=4, max_abs_err=math.nan)], tmp_path)
    assert read_json(tmp_path)[0]["max_abs_err"] == "nan"
