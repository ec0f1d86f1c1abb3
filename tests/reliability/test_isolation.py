"""Every case runs isolated: whatever a case file or its impl does costs that case one `error` record.

The impls here exit, raise KeyboardInterrupt, hang, crash the interpreter (a segfault, os._exit) and
ask for impossible amounts of memory (safely: the allocations fail at once). `--jobs 1` runs cases in
the verify process, where a native crash cannot be contained; `--jobs 2` and `--jobs 1 --isolate`
run them in worker processes, where a dead worker costs only the case it ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

TIMINGS = {"symbolic_s", "reference_s", "autograd_s", "repeats_s"}

IMPLS = '''
import faulthandler
import os
import sys
import time

import torch


def double(x):
    return 2 * x


def leave(x):
    sys.exit(3)


def interrupt(x):
    raise KeyboardInterrupt


def fail(x):
    raise ValueError("the impl is broken")


def hang(x):
    while True:
        time.sleep(0.05)


def segfault(x):
    faulthandler._sigsegv()


def hard_exit(x):
    os._exit(9)


def out_of_memory(x):
    raise MemoryError("asked for too much")


def allocate(x):
    return torch.empty(2**60, dtype=x.dtype).sum() + x  # 4 EiB: refused at once, never touched


def widen(x):
    return (2 * x).double()
'''

IMPORT_EXIT = "import sys\nsys.exit(4)\n"


def case(name: str, impl: str) -> str:
    """A case with one value check of `f = 2x` computed by `impl`: exactly one record."""
    return textwrap.dedent(f"""
        name: {name}
        variables: [x]
        functions:
          f: {{args: [x], expr: 2*x, impl: "{impl}"}}
        checks:
          - value: f
        points: {{random: 3}}
        dtypes: [float32]
        """).lstrip()


GOOD = """
name: good
variables: [x, y]
functions:
  f: x**2 + x*y
checks:
  - gradient: f
    expect: [2*x + y, x]
points: {random: 4}
modes: [rev]
"""

HOSTILE = {
    "h_recursive_alias.yaml": "variables: &a [x, *a]\nfunctions: {f: x}\n",
    "h_deep_nesting.yaml": "variables: [x]\nfunctions: {f: x}\npoints: " + "[" * 1000 + "]" * 1000 + "\n",
    "h_python_tag.yaml": "variables: [x]\nfunctions: !!python/object/apply:os.system ['echo pwned']\n",
    "h_bad_utf8.yaml": b"variables: [x]\nfunctions: {f: x\xff}\n",
}


def write_corpus(root: Path, module: str, impls: dict[str, str], *, hostile: bool = True) -> Path:
    """Good cases, hostile files and one file per impl under root/cases; returns the folder."""
    (root / f"{module}.py").write_text(IMPLS, encoding="utf-8")
    (root / f"{module}_import_exit.py").write_text(IMPORT_EXIT, encoding="utf-8")
    cases = root / "cases"
    cases.mkdir(exist_ok=True)
    (cases / "a_good.yaml").write_text(GOOD.lstrip(), encoding="utf-8")
    (cases / "z_good.yaml").write_text(case("also-good", f"{module}:double"), encoding="utf-8")
    (cases / "docker-compose.yml").write_text("services:\n  web: {image: nginx}\n", encoding="utf-8")
    for name, impl in impls.items():
        (cases / f"i_{name}.yaml").write_text(case(name, impl.format(module=module)), encoding="utf-8")
    if hostile:
        for name, text in HOSTILE.items():
            target = cases / name
            if isinstance(text, bytes):
                target.write_bytes(text)
            else:
                target.write_text(text, encoding="utf-8")
    return cases


def records(directory: Path) -> list[dict[str, Any]]:
    rows = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


def by_file(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(Path(row["file"]).name, []).append(row)
    return out


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path / "verify-cache"))
    monkeypatch.delenv("VERIFY_NO_IMPL", raising=False)
    monkeypatch.chdir(tmp_path)


def assert_one_error_each(rows: list[dict[str, Any]], bad: list[str], good: list[str]) -> None:
    files = by_file(rows)
    for name in bad:
        assert len(files[name]) == 1, (name, files[name])
        (row,) = files[name]
        assert row["status"] == "error", row
        assert name in row["message"], row["message"]  # names its file
    for name in good:
        assert files[name] and {r["status"] for r in files[name]} == {"pass"}, files[name]


def test_an_impl_that_exits_or_interrupts_is_an_error_record_and_the_run_goes_on(run_cli, tmp_path: Path) -> None:
    # before: sys.exit in an impl ended the whole run with exit 2 ("bad usage") and no report
    impls = {"exits": "sys:exit", "exits-in-code": "{module}:leave", "interrupts": "{module}:interrupt",
             "exits-on-import": "{module}_import_exit:anything"}
    write_corpus(tmp_path, "exiting_impls", impls, hostile=False)
    code_1, output_1 = run_cli("cases", "--no-cache", "--report-dir", str(tmp_path / "one"))
    code_2, output_2 = run_cli("cases", "--no-cache", "--jobs", "2", "--report-dir", str(tmp_path / "two"))
    assert code_1 == code_2 == 1, output_1 + output_2
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    assert one == two
    assert_one_error_each(one, [f"i_{name}.yaml" for name in impls], ["a_good.yaml", "z_good.yaml"])
    messages = {Path(r["file"]).name: r["message"] for r in one}
    assert "SystemExit" in messages["i_exits.yaml"] and "KeyboardInterrupt" in messages["i_interrupts.yaml"]
    assert "cannot import" in messages["i_exits-on-import.yaml"] and "sys.exit(4)" in messages["i_exits-on-import.yaml"]


def test_a_dead_worker_costs_only_the_case_it_was_running(run_cli, tmp_path: Path) -> None:
    # before: one segfault turned every case of the pool into "worker process failed: BrokenProcessPool"
    impls = {"segfault": "{module}:segfault", "hard-exit": "{module}:hard_exit"}
    write_corpus(tmp_path, "dying_impls", impls, hostile=False)
    for n in range(4):  # more good cases than workers, so that some wait in the queue behind the crashes
        (tmp_path / "cases" / f"m_good_{n}.yaml").write_text(case(f"good-{n}", "dying_impls:double"), encoding="utf-8")
    code, output = run_cli("cases", "--no-cache", "--jobs", "2", "--report-dir", str(tmp_path / "two"))
    assert code == 1, output
    rows = records(tmp_path / "two")
    good = ["a_good.yaml", "z_good.yaml", *(f"m_good_{n}.yaml" for n in range(4))]
    assert_one_error_each(rows, ["i_segfault.yaml", "i_hard-exit.yaml"], good)
    messages = {Path(r["file"]).name: r["message"] for r in rows}
    assert "SIGSEGV" in messages["i_segfault.yaml"]
    assert "exited with status 9" in messages["i_hard-exit.yaml"]


CHAOS = {"exits": "sys:exit", "interrupts": "{module}:interrupt", "raises": "{module}:fail",
         "hangs": "{module}:hang", "memory-error": "{module}:out_of_memory", "allocates": "{module}:allocate",
         "exits-on-import": "{module}_import_exit:anything", "wrong-dtype": "{module}:widen"}
CRASHES = {"segfault": "{module}:segfault", "hard-exit": "{module}:hard_exit"}


@pytest.mark.slow
def test_chaos_corpus_gives_the_same_records_with_one_and_two_jobs(run_cli, tmp_path: Path) -> None:
    """Good cases pass; each bad file is exactly one error record naming it; --jobs 1 and 2 agree.

    A segfault or os._exit cannot be contained inside the verify process, so the in-process
    --jobs 1 run leaves those two files out; --jobs 1 --isolate runs the whole corpus.
    """
    cases = write_corpus(tmp_path, "chaos_impls", {**CHAOS, **CRASHES})
    args = ("--no-cache", "--timeout", "3")
    code_2, output_2 = run_cli("cases", *args, "--jobs", "2", "--report-dir", str(tmp_path / "two"))
    code_i, output_i = run_cli("cases", *args, "--jobs", "1", "--isolate", "--report-dir", str(tmp_path / "iso"))
    contained = [str(p) for p in sorted(cases.iterdir())
                 if p.name not in {f"i_{name}.yaml" for name in CRASHES} and p.name != "docker-compose.yml"]
    code_1, output_1 = run_cli(*contained, *args, "--jobs", "1", "--report-dir", str(tmp_path / "one"))
    assert code_1 == code_2 == code_i == 1, output_1 + output_2 + output_i
    two, iso, one = records(tmp_path / "two"), records(tmp_path / "iso"), records(tmp_path / "one")
    assert iso == two
    in_process = {Path(p).name for p in contained}
    assert one == [r for r in two if Path(r["file"]).name in in_process]
    bad = [f"i_{name}.yaml" for name in (*CHAOS, *CRASHES)] + list(HOSTILE)
    assert_one_error_each(two, bad, ["a_good.yaml", "z_good.yaml"])
    assert "docker-compose.yml" not in by_file(two)
    assert "skipped 1 YAML file(s) that are not cases" in output_2 and "docker-compose.yml" in output_2
    messages = {Path(r["file"]).name: r["message"] for r in two}
    assert "time budget" in messages["i_hangs.yaml"]
    assert "float64" in messages["i_wrong-dtype.yaml"] and "float32" in messages["i_wrong-dtype.yaml"]
    assert "recursive" in messages["h_recursive_alias.yaml"]
    assert "deeper than" in messages["h_deep_nesting.yaml"]


INTERRUPTED = textwrap.dedent("""
    import json, signal, subprocess, sys, time
    proc = subprocess.Popen([sys.executable, "-m", "verify", "cases/a_good.yaml", "cases/i_hangs.yaml",
                             "--no-cache", "--timeout", "120", "--report-dir", "reports", *sys.argv[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    while True:
        line = proc.stdout.readline()
        seen.append(line)
        if not line or "a_good.yaml::good" in line:
            break
    time.sleep(2.0)  # the hanging case is running now
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    print(json.dumps({"code": proc.returncode, "out": "".join(seen) + out, "err": err}))
""")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_writes_the_finished_records_marked_partial_and_exits_130(tmp_path: Path, jobs: str) -> None:
    # before: Ctrl-C printed "interrupted" and lost every finished record (no report at all)
    write_corpus(tmp_path, "interrupted_impls", {"hangs": "{module}:hang"}, hostile=False)
    (tmp_path / "driver.py").write_text(INTERRUPTED, encoding="utf-8")
    env = {**os.environ, "VERIFY_CACHE_DIR": str(tmp_path / "verify-cache")}
    env.pop("VERIFY_NO_IMPL", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "driver.py", "--jobs", jobs], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    assert time.perf_counter() - started < 100  # not the hanging case's 120 s budget
    result = json.loads(done.stdout)
    assert result["code"] == 130, result
    assert "Traceback" not in result["err"], result["err"]
    assert "interrupted" in result["err"] and "partial" in result["err"]
    rows = records(tmp_path / "reports")
    assert rows and {r["case"] for r in rows} == {"good"} and {r["status"] for r in rows} == {"pass"}
    markdown = (tmp_path / "reports" / "report.md").read_text(encoding="utf-8")
    assert "partial" in markdown.split("## Results")[0]
    meta = json.loads((tmp_path / "reports" / "report.meta.json").read_text(encoding="utf-8"))
    assert meta["partial"] is True and (meta["cases_finished"], meta["cases_total"]) == (1, 2)


def test_a_real_ctrl_c_is_told_apart_from_an_impl_raising_keyboard_interrupt() -> None:
    from verify.impl import from_user_code, recording_interrupts

    before = signal.getsignal(signal.SIGINT)
    with recording_interrupts():
        try:
            raise KeyboardInterrupt  # raised by code, no signal: the user's failure
        except KeyboardInterrupt as exc:
            assert from_user_code(exc)
        try:
            signal.raise_signal(signal.SIGINT)  # a Ctrl-C: stops the run
        except KeyboardInterrupt as exc:
            assert not from_user_code(exc)
        else:
            raise AssertionError("SIGINT raised nothing")
    assert signal.getsignal(signal.SIGINT) is before
