"""`python -m verify new NAME`: a commented template case that passes as written, never over an existing file."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from verify._yaml import Y, load_documents
from verify.case import TOP_KEYS, Case, load_file
from verify.cli import main
from verify.vocabulary import CHECK_KINDS


def new(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["new", *args], out)
    return code, out.getvalue()


def test_the_template_runs_and_passes(tmp_path: Path, run_cli: Callable[..., tuple[int, str]]) -> None:
    code, text = new("first_case", "--dir", str(tmp_path / "cases"))
    path = tmp_path / "cases" / "first_case.yaml"
    assert code == 0 and str(path) in text
    code, output = run_cli(str(path))
    assert code == 0, output
    assert "first_case.yaml::first_case" in output
    assert re.search(r"\b([1-9]\d*) passed, 0 failed", output), output
    report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    assert {r["check"] for r in report} >= set(CHECK_KINDS)  # the example uses every kind of check
    assert {r["status"] for r in report} <= {"pass", "skip"}


def test_the_template_explains_every_key_and_is_valid_under_the_schema(tmp_path: Path) -> None:
    assert new("explained", "--dir", str(tmp_path))[0] == 0
    text = (tmp_path / "explained.yaml").read_text(encoding="utf-8")
    for key in TOP_KEYS:
        assert re.search(rf"^# {key}\b.*:", text, re.M), f"no comment explains {key}"
    for word in (*CHECK_KINDS, "expect", "at", "xfail", "tolerance", "impl", "args", "shape", "low", "high"):
        assert re.search(rf"^#.*\b{word}\b", text, re.M), f"no comment mentions {word}"
    schema_text = io.StringIO()
    assert main(["schema"], schema_text) == 0
    validator = jsonschema.Draft202012Validator(json.loads(schema_text.getvalue()))
    (case,) = load_file(tmp_path / "explained.yaml")
    assert isinstance(case, Case) and case.name == "explained"
    (document,) = load_documents("explained.yaml", text)
    assert isinstance(document, Y)
    assert validator.is_valid(document.plain()), list(validator.iter_errors(document.plain()))


def test_it_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "mine.yaml"
    existing.write_text("variables: [x]\nfunctions: {f: x}\n", encoding="utf-8")
    code, text = new("mine", "--dir", str(tmp_path))
    assert code == 1 and text == ""
    assert "exists already" in capsys.readouterr().err
    assert existing.read_text(encoding="utf-8") == "variables: [x]\nfunctions: {f: x}\n"


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "with space", "semi;colon", "x" * 101, "a::b"])
def test_names_that_are_not_file_stems_are_refused(name: str, tmp_path: Path) -> None:
    assert new(name, "--dir", str(tmp_path / "here"))[0] == 2
    assert not list(tmp_path.rglob("*.yaml"))


@pytest.mark.parametrize(("name", "stem"), [("given.yaml", "given"), ("1e5", "1e5"), ("true", "true"),
                                            ("v1.2-final", "v1.2-final"), ("_private", "_private")])
def test_a_name_is_the_stem_and_stays_a_string(name: str, stem: str, tmp_path: Path) -> None:
    assert new(name, "--dir", str(tmp_path))[0] == 0
    (case,) = load_file(tmp_path / f"{stem}.yaml")
    assert isinstance(case, Case), case
    assert case.name == stem
