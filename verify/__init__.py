"""verify: exact symbolic derivatives checked against torch autograd, from YAML case files."""

from verify.errors import CaseError, EngineError, Location, UsageError, VerifyError

__all__ = [
    "CaseError",
    "EngineError",
    "Location",
    "Result",
    "RunOptions",
    "UsageError",
    "VerifyError",
    "collect",
    "load_file",
    "main",
    "run_case",
    "write_reports",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Public names that pull in numpy, SymPy or pandas load on first use, keeping `import verify` quick.
    if name in ("Result", "RunOptions", "collect", "run_case"):
        from verify import run

        return getattr(run, name)
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
