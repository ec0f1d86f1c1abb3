"""Loading limits (recursion, nesting, time) and case discovery: which files of a folder are cases.

A recursive alias or 1,000 nested brackets are limits like any other: a located `load` error, never
a traceback. Folders yield only the YAML files that look like cases (a document mapping with
`variables` and `functions`), judged without building any value; files named explicitly are always
loaded. `verify.toml` or `[tool.verify]` in pyproject.toml may name the paths to run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verify.case import LoadFailure, find_cases, is_case_file, load_file

DEEP = "variables: [x]\nfunctions: {f: x}\npoints: " + "[" * 1000 + "]" * 1000 + "\n"
RECURSIVE = "variables: &a [x, *a]\nfunctions: {f: x}\n"
RECURSIVE_MAP = "name: loop\nvariables: [x]\nfunctions: &f {f: x, g: *f}\n"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path / "verify-cache"))


@pytest.mark.parametrize(("text", "line", "words"), [
    (RECURSIVE, 1, "recursive YAML alias"),
    (RECURSIVE_MAP, 3, "recursive YAML alias"),
    (DEEP, 3, "nests deeper than 64"),
    ("variables: [x]\nfunctions: {f: x}\n---\n" + "x: " + "{a: " * 500 + "1" + "}" * 500 + "\n", 4, "nests deeper"),
])
def test_recursion_and_nesting_are_located_load_errors(write_case, text: str, line: int, words: str) -> None:
    # before: RecursionError out of load_file (a traceback before any case ran, exit 1, no report)
    loaded = load_file(write_case(text, "hostile.yaml"))
    failures = [c for c in loaded if isinstance(c, LoadFailure)]
    assert len(failures) == 1
    error = failures[0].error
    assert words in error.what and error.where.line == line and error.where.file.endswith("hostile.yaml")
    assert error.hint


def test_a_hostile_file_is_one_load_record_and_the_run_goes_on(write_case, run_cli, tmp_path: Path) -> None:
    write_case(RECURSIVE, "cases/a_recursive.yaml")
    write_case(DEEP, "cases/b_deep.yaml")
    write_case("variables: [x]\nfunctions: {f: x**2}\npoints: {random: 4}\nmodes: [rev]\n", "cases/c_good.yaml")
    code, output = run_cli(str(tmp_path / "cases"), "--no-cache")
    assert code == 1, output
    rows = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    loads = {Path(r["file"]).name: r for r in rows if r["check"] == "load"}
    assert set(loads) == {"a_recursive.yaml", "b_deep.yaml"}
    assert all(r["status"] == "error" and r["line"] > 0 for r in loads.values())
    assert {r["status"] for r in rows if Path(r["file"]).name == "c_good.yaml"} == {"pass"}


def test_loading_is_inside_the_case_time_budget(write_case, monkeypatch: pytest.MonkeyPatch) -> None:
    import verify.run as run
    from verify.budget import BudgetExceededError

    def slow(*args: object, **kwargs: object) -> list[object]:
        raise BudgetExceededError("ran out")  # what the alarm raises when a load takes too long

    path = write_case("variables: [x]\nfunctions: {f: x}\n")
    monkeypatch.setattr(run, "load_file", slow)
    (failure,) = run.collect([str(path)], timeout_s=2.0).cases
    assert isinstance(failure, LoadFailure) and "2 s time budget" in failure.error.what


# -- discovery -------------------------------------------------------------------------------------

CASE = "variables: [x]\nfunctions: {f: x**2}\npoints: {random: 4}\nmodes: [rev]\n"
NOT_CASES = {
    "docker-compose.yml": "services:\n  web: {image: nginx, ports: ['80:80']}\n",
    "config.yaml": "variables: {debug: true}\nlogging: {level: info}\n",  # one of the keys only
    "nested.yaml": "settings:\n  variables: [x]\n  functions: {f: x}\n",  # not at the top
    "list.yaml": "- variables\n- functions\n",
    "tagged.yaml": "a: !!python/object/apply:os.system ['touch pwned']\n",
}
CASES = {
    "plain.yaml": CASE,
    "flow.yaml": "{variables: [x], functions: {f: x}}\n",
    "stream.yaml": "variables: [x]\nfunctions: {f: x}\n---\nname: two\nvariables: [y]\nfunctions: {g: y}\n",
    "second_document.yaml": "note: a header document\n---\nvariables: [x]\nfunctions: {f: x}\n",
    "broken.yaml": "name: broken\nvariables: [x\n",  # YAML error, a top-level case key: reported, not skipped
    "quoted.yaml": "'variables': [x]\n\"functions\": {f: x}\n",
}


@pytest.mark.parametrize(("name", "text"), [*NOT_CASES.items(), *CASES.items()])
def test_is_case_file_judges_by_the_top_level_keys_without_running_anything(tmp_path: Path, name: str,
                                                                            text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert is_case_file(path) == (name in CASES)
    assert not (tmp_path / "pwned").exists()


def test_a_folder_yields_only_case_files_and_lists_the_skipped_ones(tmp_path: Path) -> None:
    for name, text in {**NOT_CASES, **CASES}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = find_cases([str(tmp_path), str(tmp_path / "config.yaml")])  # named: always loaded
    assert sorted(p.name for p in found.files) == sorted([*CASES, "config.yaml"])
    assert sorted(p.name for p in found.skipped) == sorted(set(NOT_CASES) - {"config.yaml"})


def test_the_cli_skips_non_case_yaml_with_a_note_and_loads_named_files(write_case, run_cli, tmp_path: Path) -> None:
    # before: every YAML file of the folder was a case, so docker-compose.yml became a load error
    write_case(CASE, "project/cases/square.yaml")
    write_case(NOT_CASES["docker-compose.yml"], "project/docker-compose.yml")
    write_case(NOT_CASES["config.yaml"], "project/config.yaml")
    code, output = run_cli(str(tmp_path / "project"), "--no-cache")
    assert code == 0, output
    assert "skipped 2 YAML file(s) that are not cases" in output and "docker-compose.yml" in output
    rows = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    assert {Path(r["file"]).name for r in rows} == {"square.yaml"}
    code, output = run_cli(str(tmp_path / "project" / "config.yaml"), "--no-cache")
    assert code == 1 and "ERROR" in output  # named explicitly: loaded, and it is not a valid case


def test_the_cli_and_the_plugin_share_the_rule() -> None:
    import verify.pytest_plugin as plugin

    assert plugin.is_case_file is is_case_file


@pytest.mark.parametrize("config", ["verify.toml", "pyproject.toml"])
def test_paths_from_verify_toml_or_tool_verify(tmp_path: Path, config: str) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "square.yaml").write_text(CASE, encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "broken.yaml").write_text("variables: [x\n", encoding="utf-8")
    section = ('paths = ["checks"]\n' if config == "verify.toml"
               else '[project]\nname = "x"\n\n[tool.verify]\npaths = ["checks"]\n')
    (tmp_path / config).write_text(section, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "verify", "--no-cache", "--mode", "rev"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checks/square.yaml::square" in done.stdout and "broken" not in done.stdout


def test_no_path_and_no_config_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "verify"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2
    assert "usage:" in done.stderr and "verify.toml" in done.stderr
