"""Comparing a run with an earlier report.json (`--baseline FILE`): new failures, fixes, slowdowns.

Rows are matched by (file, case, check, function, dtype, device, mode); when a case has the
same check twice, the Nth such row matches the Nth. A row is *not ok* when its status is fail,
error or xpass. New failure: not ok now, ok or absent before. Fixed: ok now, not ok before.
Slower: the total time (symbolic_s + reference_s + autograd_s) grew more than `factor` times
and by at least `min_seconds`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.errors import UsageError

__all__ = ["KEY_FIELDS", "BaselineDiff", "compare", "load_baseline", "save_baseline"]

KEY_FIELDS = ("file", "case", "check", "function", "dtype", "device", "mode")
NOT_OK = ("fail", "error", "xpass")
TIME_FIELDS = ("symbolic_s", "reference_s", "autograd_s")

Record = Mapping[str, Any]
Key = tuple[Any, ...]


@dataclass
class BaselineDiff:
    """What changed since the baseline; each entry is a small JSON-able dict."""

    baseline: str
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    slower: list[dict[str, Any]] = field(default_factory=list)
    compared: int = 0  # rows present in both
    only_now: int = 0  # rows the baseline lacks
    only_before: int = 0  # baseline rows not run now (another shard, -k, a removed case)
    factor: float = 2.0
    min_seconds: float = 0.05

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        """The terminal text: a headline, then one line per new failure, fix and slowdown."""
        out = [f"baseline {self.baseline}: {len(self.new_failures)} new failure(s), {len(self.fixed)} fixed, "
               f"{len(self.slower)} slower (>{self.factor:g}x and +{self.min_seconds:g}s); {self.compared} rows "
               f"compared, {self.only_now} new, {self.only_before} not run"]
        for entry in self.new_failures:
            before = entry["before"] or "absent"
            out.append(f"  NEW FAILURE {_label(entry)}: {before} -> {entry['now']}")
        for entry in self.fixed:
            out.append(f"  FIXED       {_label(entry)}: {entry['before']} -> {entry['now']}")
        for entry in self.slower:
            ratio = f"{entry['ratio']:.1f}x" if entry["ratio"] is not None else "was 0s"
            out.append(f"  SLOWER      {_label(entry)}: {entry['before_s']:.3f}s -> {entry['now_s']:.3f}s ({ratio})")
        return out


def _label(entry: Mapping[str, Any]) -> str:
    return (f"{entry['file']}::{entry['case']} {entry['check']} {entry['function']} "
            f"[{entry['mode']}, {entry['dtype']}, {entry['device']}]")


def _keyed(records: Iterable[Record]) -> dict[Key, Record]:
    seen: Counter[Key] = Counter()
    out: dict[Key, Record] = {}
    for record in records:
        key = tuple(str(record.get(name, "")) for name in KEY_FIELDS)
        seen[key] += 1
        out[(*key, seen[key])] = record
    return out


def _seconds(record: Record) -> float:
    total = 0.0
    for name in TIME_FIELDS:
        value = record.get(name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            total += float(value)
    return total


def compare(before: Sequence[Record], now: Sequence[Record], baseline: str = "", factor: float = 2.0,
            min_seconds: float = 0.05) -> BaselineDiff:
    """The differences between the `before` and `now` records (report.json's format)."""
    old, new = _keyed(before), _keyed(now)
    diff = BaselineDiff(baseline=baseline, factor=factor, min_seconds=min_seconds,
                        only_before=sum(key not in new for key in old))
    for key, record in new.items():
        entry: dict[str, Any] = dict(zip(KEY_FIELDS, key))
        previous = old.get(key)
        if previous is None:
            diff.only_now += 1
        else:
            diff.compared += 1
        status, before_status = record.get("status"), previous.get("status") if previous else None
        entry.update(now=status, before=before_status, line=record.get("line", 0))
        if status in NOT_OK and before_status not in NOT_OK:
            diff.new_failures.append({**entry, "message": record.get("message", "")})
        elif previous is not None and status not in NOT_OK and before_status in NOT_OK:
            diff.fixed.append(entry)
        if previous is not None:
            now_s, before_s = _seconds(record), _seconds(previous)
            if now_s > factor * before_s and now_s - before_s >= min_seconds:
                ratio = now_s / before_s if before_s > 0 else math.inf
                diff.slower.append({**entry, "now_s": now_s, "before_s": before_s,
                                    "ratio": ratio if math.isfinite(ratio) else None})
    return diff


def load_baseline(path: str | Path) -> list[dict[str, Any]]:
    """The records of an earlier report.json; a missing or malformed file is a UsageError."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--baseline {source}: no such file (write one with --update-baseline)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--baseline {source}: not a readable report.json: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UsageError(f"--baseline {source}: expected a JSON list of records, as report.json holds")
    missing = [name for name in (*KEY_FIELDS, "status") if data and name not in data[0]]
    if missing:
        raise UsageError(f"--baseline {source}: records lack the field(s) {', '.join(missing)}")
    return data


def save_baseline(records: Sequence[Record], path: str | Path) -> Path:
    """Writes `records` to `path` in report.json's format (folders created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(list(records), indent=1) + "\n", encoding="utf-8")
    return target
