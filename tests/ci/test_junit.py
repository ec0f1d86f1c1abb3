"""--junit-xml FILE: the XML parses back, with one testcase per record and one outcome each, and
validates against Jenkins' strict junit-10 schema (tests/ci/data/junit-10.xsd)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from verify.junit import to_junit, write_junit
from verify.results import Result

NAME = re.compile(r"^(?P<case>[^:]+)::(?P<check>\w+)\[(?P<function>[^\]]+)\]\[(?P<mode>[^,]+),(?P<dtype>[^,]+),"
                  r"(?P<device>[^\]]+)\](#\d+)?$")
SCHEMA = Path(__file__).parent / "data" / "junit-10.xsd"
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
        assert testcase.findtext("system-out") == f"file: {row['file']}\nline: {row['line']}"
        if row["check"] == "load":  # a file that did not load: a readable name, not load[-][-,-,-]
            assert testcase.get("name") == f"{row['case']}::load error"
            continue
        found = NAME.match(testcase.get("name", ""))
        assert found, testcase.get("name")
        assert found.group("case", "check", "function", "mode", "dtype", "device") == tuple(
            row[k] for k in ("case", "check", "function", "mode", "dtype", "device"))
        children = [c for c in testcase if c.tag != "system-out"]
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


def test_junit_xml_validates_against_the_jenkins_junit_10_schema(corpus, run_cli, tmp_path: Path) -> None:
    schema = xmlschema.XMLSchema(str(SCHEMA))
    target = tmp_path / "junit.xml"
    assert run_cli(corpus, "--junit-xml", str(target))[0] == 1
    schema.validate(str(target))  # raises with the offending element and attribute
    root = ET.parse(target).getroot()
    assert root.get("skipped") is None and root.find("testsuite").get("skipped") is not None  # type: ignore[union-attr]
    assert {c.get("classname") for c in root.iter("testcase")} >= {"cases/c_broken.yaml"}
    # hostile text and every status validate too
    rows = [Result(file="a\u0000.yaml", case=c, check="jacobian", function="F", dtype="float64", device="cpu",
                   mode="rev", status=s, message="<x> & \x1b \"q\"\n" * 3000, line=7)
            for c, s in zip("abcdef", ("pass", "fail", "error", "skip", "xfail", "xpass"))]
    rows.append(Result(file="b.yaml", case="b", check="load", function="-", dtype="-", device="-", mode="-",
                       status="error", message="b.yaml:1:1: invalid YAML"))
    written = write_junit(rows, tmp_path / "hostile.xml", seconds=1234.5)
    schema.validate(str(written))
    names = [t.get("name") for t in ET.parse(written).getroot().iter("testcase")]
    assert names[-1] == "b::load error"


def test_the_schema_rejects_what_the_old_writer_wrote(tmp_path: Path) -> None:
    """The schema file is the strict one: `skipped` on <testsuites> and `file`/`line` on testcases fail."""
    schema = xmlschema.XMLSchema(str(SCHEMA))
    ok = '<testsuites><testsuite name="v" tests="1" failures="0" errors="0"><testcase name="t"/></testsuite></testsuites>'
    assert schema.is_valid(ok)
    assert not schema.is_valid(ok.replace("<testsuites>", '<testsuites skipped="0">'))
    assert not schema.is_valid(ok.replace('<testcase name="t"/>', '<testcase name="t" file="f.yaml" line="3"/>'))


def test_the_run_metadata_is_the_suites_properties(tmp_path) -> None:
    from verify.junit import to_junit
    from verify.report import run_metadata
    from verify.results import Result

    results = [Result(file="a.yaml", case="c", check="value", function="f", dtype="float64", device="cpu",
                      mode="value", status="pass")]
    tree = to_junit(results, 1.0, run_metadata(results, seconds=1.0))
    suite = tree.getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert properties["verify"] and properties["torch"] and "command line" in properties
    # properties come before the testcases, as the junit-10 schema orders them
    assert next(iter(suite)).tag == "properties"
