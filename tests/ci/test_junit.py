"""--junit-xml FILE: the XML parses back, with one testcase per record and one outcome each."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from verify.junit import to_junit
from verify.run import Result

NAME = re.compile(r"^(?P<case>[^:]+)::(?P<check>\w+)\[(?P<function>[^\]]+)\]\[(?P<mode>[^,]+),(?P<dtype>[^,]+),"
                  r"(?P<device>[^\]]+)\](#\d+)?$")
CHILD = {"pass": None, "fail": "failure", "xpass": "failure", "error": "error", "skip": "skipped", "xfail": "skipped"}


def test_junit_xml_has_one_testcase_per_record_with_its_outcome(corpus, run_cli, records, tmp_path: Path) -> None:
    target = tmp_path / "out" / "junit.xml"
    code, output = run_cli(corpus, "--junit-xml", str(target))
    assert code == 1
    assert str(target) in output
    rows = records(tmp_path / "reports")
    assert {r["status"] for r in rows} == set(CHILD), "the corpus should produce every status"

    root = ET.parse(target).getroot()
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and len(suites) == 1
    suite = suites[0]
    testcases = suite.findall("testcase")
    assert len(testcases) == len(rows) == int(suite.get("tests", "-1"))
    assert int(suite.get("failures", "-1")) == sum(r["status"] in ("fail", "xpass") for r in rows)
    assert int(suite.get("errors", "-1")) == sum(r["status"] == "error" for r in rows)
    assert int(suite.get("skipped", "-1")) == sum(r["status"] in ("skip", "xfail") for r in rows)

    for testcase, row in zip(testcases, rows):
        assert testcase.get("classname") == row["file"]
        found = NAME.match(testcase.get("name", ""))
        assert found, testcase.get("name")
        assert found.group("case", "check", "function", "mode", "dtype", "device") == tuple(
            row[k] for k in ("case", "check", "function", "mode", "dtype", "device"))
        children = list(testcase)
        expected = CHILD[row["status"]]
        assert [c.tag for c in children] == ([expected] if expected else []), (row["status"], children)
        if row["status"] == "xfail":
            assert children[0].get("message", "").startswith("xfail: ")
        if row["status"] == "xpass":
            assert children[0].get("message", "").startswith("xpass: ")
        if row["status"] in ("fail", "error"):
            assert children[0].get("message")
            assert row["message"].splitlines()[0][:100] in children[0].get("message", "")
            assert row["message"] in (children[0].text or "")
        if row["worst_point"] and expected:
            assert f"worst point: {row['worst_point']}" in (children[0].text or "")

    names = [(t.get("classname"), t.get("name")) for t in testcases]
    assert len(set(names)) == len(names), "testcase names must be unique within a class"


def test_junit_xml_survives_control_characters_in_messages() -> None:
    row = Result(file="f.yaml", case="c", check="jacobian", function="F", dtype="float64", device="cpu", mode="rev",
                 status="fail", message="bad \x00 byte \x1b[31m and <tags> & \"quotes\"\nsecond line")
    text = ET.tostring(to_junit([row]).getroot(), encoding="unicode")
    failure = ET.fromstring(text).find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == 'bad  byte [31m and <tags> & "quotes"'
    assert "second line" in (failure.text or "")


def test_no_junit_file_without_the_option(corpus, run_cli, tmp_path: Path) -> None:
    run_cli(corpus, "-k", "good")
    assert not list(tmp_path.rglob("*.xml"))
