"""A disk cache of derivations and proof verdicts, keyed by the case file's content.

What the cache trusts, and what it does not:
- Entries are JSON, and expressions are stored as trees of whitelisted SymPy heads, so reading
  a cache file never runs code (no pickle).
- Every entry carries the sha256 of its key, the case's content key and its payload. An entry
  whose checksum, key or format does not match (a truncated file, a hand edit) is ignored and
  recomputed, with a CacheWarning. The checksum is not a signature: someone who can write the
  cache directory can forge entries, so never share a cache directory with untrusted writers
  (CI caches restored from pull requests included); use --no-cache there.
- Forged entries are still caught where it matters: verdicts are typed (a string "false" is
  not a boolean), and the runner spot-checks every cached derivative against central
  differences of the function in ball arithmetic before using it (verify.engines.certified).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from sympy.functions.elementary.piecewise import ExprCondPair

from verify.functions import registry_heads

__all__ = ["DerivationCache", "default_cache_dir", "from_tree", "to_tree"]

_FORMAT = 2

_HEADS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        sympy.Add, sympy.Mul, sympy.Pow, *registry_heads(), sympy.Heaviside, sympy.DiracDelta, sympy.Piecewise,
        ExprCondPair, sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan,
        sympy.Equality, sympy.Unequality, sympy.And, sympy.Or, sympy.Not,
    )
}
_CONSTANTS: dict[str, sympy.Basic] = {"pi": sympy.pi, "E": sympy.E, "true": sympy.true, "false": sympy.false,
                                      "nan": sympy.nan, "zoo": sympy.zoo, "oo": sympy.oo, "-oo": -sympy.oo}


class CacheFormatError(ValueError):
    """A cache entry that does not decode: it is ignored and recomputed."""


class CacheWarning(UserWarning):
    """A cache entry failed validation (checksum, format or spot check): it was ignored and recomputed."""


def _checksum(key: str, content_key: str, payload: Any) -> str:
    text = json.dumps({"key": key, "content": content_key, "payload": payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def to_tree(expr: sympy.Basic) -> Any:
    """A JSON-able tree of `expr`: numbers as strings, symbols by name, heads by class name."""
    if expr.is_Symbol:
        return {"s": expr.name}
    if expr.is_Integer or expr.is_Rational:
        return {"q": str(expr)}
    if expr.is_Float:
        return {"f": str(expr), "p": expr._prec}
    for name, constant in _CONSTANTS.items():
        if expr == constant:
            return {"c": name}
    name = type(expr).__name__
    if name not in _HEADS:
        raise CacheFormatError(f"cannot store {name}")
    return {"h": name, "a": [to_tree(arg) for arg in expr.args]}


def from_tree(tree: Any, symbols: dict[str, sympy.Symbol]) -> sympy.Basic:
    """The expression of `to_tree`, over the case's own symbols; raises CacheFormatError on anything else."""
    if not isinstance(tree, dict):
        raise CacheFormatError("not a tree")
    if "s" in tree:
        if tree["s"] not in symbols:
            raise CacheFormatError(f"unknown symbol {tree['s']!r}")
        return symbols[tree["s"]]
    if "q" in tree:
        return sympy.Rational(str(tree["q"]))
    if "f" in tree:
        return sympy.Float(str(tree["f"]), precision=int(tree.get("p", 53)))
    if "c" in tree:
        if tree["c"] not in _CONSTANTS:
            raise CacheFormatError("unknown constant")
        return _CONSTANTS[tree["c"]]
    head = _HEADS.get(str(tree.get("h")))
    if head is None:
        raise CacheFormatError(f"unknown head {tree.get('h')!r}")
    args = [from_tree(arg, symbols) for arg in tree.get("a", [])]
    if head is ExprCondPair:
        return head(*args)
    try:  # as stored: evaluating again could turn gamma(5/2) into 3*sqrt(pi)/4, another formula to evaluate
        return head(*args, evaluate=False)
    except TypeError:
        return head(*args)


def default_cache_dir() -> Path:
    """$VERIFY_CACHE_DIR, else $XDG_CACHE_HOME/verify, else ~/.cache/verify."""
    if os.environ.get("VERIFY_CACHE_DIR"):
        return Path(os.environ["VERIFY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "verify"


@dataclass(frozen=True)
class DerivationCache:
    """Cached derivations of one case file's content; `directory` None disables caching."""

    directory: Path | None
    content_key: str

    @staticmethod
    def for_text(directory: Path | None, text: str, case_name: str) -> DerivationCache:
        import verify

        digest = hashlib.sha256(f"{_FORMAT}|{verify.__version__}|{sympy.__version__}|{case_name}|".encode()
                                + text.encode()).hexdigest()
        return DerivationCache(directory, digest)

    def _path(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        name = hashlib.sha256(f"{self.content_key}|{key}".encode()).hexdigest()
        return self.directory / name[:2] / f"{name}.json"

    def load_array(self, key: str, symbols: dict[str, sympy.Symbol]) -> np.ndarray | None:
        data = self._read(key)
        if data is None:
            return None
        try:
            flat = [from_tree(tree, symbols) for tree in data["entries"]]
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            return out.reshape(tuple(int(d) for d in data["shape"]))
        except (CacheFormatError, KeyError, TypeError, ValueError, RecursionError):
            return None

    def store_array(self, key: str, array: np.ndarray) -> None:
        try:
            entries = [to_tree(e) for e in array.reshape(-1)]
        except (CacheFormatError, RecursionError):
            return
        self._write(key, {"shape": list(array.shape), "entries": entries})

    def load_json(self, key: str) -> Any:
        data = self._read(key)
        return None if data is None or not isinstance(data, dict) else data.get("value")

    def store_json(self, key: str, value: Any) -> None:
        self._write(key, {"value": value})

    def _read(self, key: str) -> Any:
        """The payload stored under `key`, or None; an entry that fails validation warns and gives None."""
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        problem = _invalid(data, key, self.content_key)
        if problem:
            warn(f"{path}: {problem}")
            return None
        return data["payload"]

    def _write(self, key: str, data: Any) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            entry = {"format": _FORMAT, "key": key, "content": self.content_key, "payload": data,
                     "sha256": _checksum(key, self.content_key, data)}
            temporary.write_text(json.dumps(entry, separators=(",", ":")), encoding="utf-8")
            temporary.replace(path)  # atomic: parallel runs never read half a file
        except OSError:
            return  # a read-only or full disk costs speed, not correctness


def _invalid(data: Any, key: str, content_key: str) -> str:
    """Why a stored entry cannot be used ('' when it can)."""
    if not isinstance(data, dict):
        return "not a cache entry (unreadable JSON)"
    if data.get("format") != _FORMAT:
        return f"cache format {data.get('format')!r}, expected {_FORMAT}"
    if data.get("key") != key or data.get("content") != content_key:
        return "the entry belongs to another key or case"
    if "payload" not in data or data.get("sha256") != _checksum(key, content_key, data["payload"]):
        return "checksum mismatch (the entry was edited or truncated)"
    return ""


def warn(message: str) -> None:
    """A CacheWarning: the entry is ignored and recomputed."""
    import warnings

    warnings.warn(f"{message}: ignored and recomputed", CacheWarning, stacklevel=3)
