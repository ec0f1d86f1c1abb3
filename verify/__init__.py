"""verify: exact symbolic derivatives checked against torch autograd, from YAML case files.

The Python API is `check`, `assert_ok` and `run` (see verify.api); `python -m verify` is the
command line. Names load on first use, so `import verify` stays quick.
"""

from typing import TYPE_CHECKING

from verify.errors import CaseError, EngineError, Location, UsageError, VerifyError

if TYPE_CHECKING:
    from verify.api import assert_ok, check, run
    from verify.case import load_file
    from verify.cli import main
    from verify.report import write_reports
    from verify.results import Result
    from verify.run import RunOptions, collect, run_case

__all__ = [
    "CaseError",
    "EngineError",
    "Location",
    "Result",
    "RunOptions",
    "UsageError",
    "VerifyError",
    "assert_ok",
    "check",
    "collect",
    "load_file",
    "main",
    "run",
    "run_case",
    "write_reports",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Public names that pull in numpy, SymPy or pandas load on first use, keeping `import verify` quick.
    if name in ("check", "assert_ok"):
        from verify import api

        return getattr(api, name)
    if name == "run":
        # verify.run is also the runner module: importing it binds the package attribute `run` to the
        # module, which is callable as the API's run (see verify/run.py), in whichever order things import
        import importlib

        return importlib.import_module("verify.run")
    if name in ("RunOptions", "collect", "run_case"):
        from verify import run

        return getattr(run, name)
    if name == "Result":
        from verify.results import Result

        return Result
    if name == "load_file":
        from verify.case import load_file

        return load_file
    if name == "write_reports":
        from verify.report import write_reports

        return write_reports
    if name == "main":
        from verify.cli import main

        return main
    raise AttributeError(f"module 'verify' has no attribute {name!r}")
