"""The distribution is verify-derivatives (`verify` on the package index is another project); the import is verify."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import verify
from verify.cli import main
from verify.report import DISTRIBUTION

REPO = Path(__file__).resolve().parents[2]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_the_distribution_name_is_not_verify() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == DISTRIBUTION == "verify-derivatives"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["verify*"]  # the import package
    assert project["project"]["scripts"] == {"verify": "verify.cli:main"}


def test_version_names_the_distribution_and_the_import_package() -> None:
    out = io.StringIO()
    assert main(["--version"], out) == 0
    text = out.getvalue()
    assert text.startswith(f"verify {verify.__version__} (")
    assert "distribution verify-derivatives" in text  # installed, or "not installed as the distribution ..."
    assert f"import package verify at {Path(verify.__file__).resolve().parent})" in text


def test_readme_and_ci_install_the_same_way() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && python -m verify cases/" in readme
    assert "pip install --quiet -e '.[test]'" in ci
    assert "verify-derivatives" in readme and "unrelated project" in readme
