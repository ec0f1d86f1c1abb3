"""--annotate github: one `::error file=...,line=...,title=...::message` line per not-ok record."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from verify.annotate import escape_data, escape_property

COMMAND = re.compile(r"^::error (?P<properties>[^:]*)::(?P<message>.*)$")


def unescape(text: str, prop: bool = False) -> str:
    """As the Actions runner reads a command back (the percent last)."""
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for escaped, raw in pairs:
        text = text.replace(escaped, raw)
    return text.replace("%25", "%")


def parse(output: str) -> list[dict[str, str]]:
    found = []
    for line in output.splitlines():
        if line.startswith("::"):
            match = COMMAND.match(line)
            assert match, f"malformed workflow command: {line!r}"
            properties = dict(item.split("=", 1) for item in match.group("properties").split(","))
            found.append({**{k: unescape(v, prop=True) for k, v in properties.items()},
                          "message": unescape(match.group("message"))})
    return found


def test_github_annotations_point_at_each_not_ok_record(corpus, run_cli, records, tmp_path: Path) -> None:
    code, output = run_cli(corpus, "--annotate", "github")
    assert code == 1
    bad = [r for r in records(tmp_path / "reports") if r["status"] in ("fail", "error", "xpass")]
    found = parse(output)
    assert len(found) == len(bad) >= 5
    for annotation, row in zip(found, bad):
        assert annotation["file"] == row["file"] and annotation["file"].startswith("cases/")
        if row["line"]:
            assert annotation["line"] == str(row["line"])
        assert row["case"] in annotation["title"] and row["status"] in annotation["title"]
        assert annotation["message"].startswith(row["message"])
    # a multi-line message (the bad expression's hint) stays on one output line, escaped
    assert any("\n" in row["message"] and "hint:" in row["message"] for row in bad)
    # the load error of the file that does not parse is annotated at its line
    assert any(a["file"] == "cases/c_broken.yaml" and a.get("line", "0") != "0" for a in found)


def test_no_annotations_when_all_pass_or_without_the_option(corpus, run_cli) -> None:
    code, output = run_cli(corpus, "-k", "good", "--annotate", "github")
    assert code == 0 and "::error" not in output
    code, output = run_cli(corpus)
    assert code == 1 and "::error" not in output


def test_unknown_annotation_format_is_a_usage_error(corpus, run_cli) -> None:
    assert run_cli(corpus, "--annotate", "gitlab")[0] == 2


@pytest.mark.parametrize("text", ["100% done\r\nnext", "a:b,c", "%0A is not a newline", ""])
def test_escaping_round_trips(text: str) -> None:
    assert unescape(escape_data(text)) == text
    assert "\n" not in escape_data(text) and "\r" not in escape_data(text)
    assert unescape(escape_property(text), prop=True) == text
    assert "," not in escape_property(text) and ":" not in escape_property(text)


def test_escaping_matches_the_documented_codes() -> None:
    assert escape_data("50%\r\n") == "50%25%0D%0A"
    assert escape_property("a: b, c") == "a%3A b%2C c"
