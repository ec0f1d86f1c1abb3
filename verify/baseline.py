"""Comparing a run with an earlier report.json (`--baseline FILE`): new failures, fixes, slowdowns.

Rows are matched by (file, case, check, function, dtype, device, mode); when a case has the
same check twice, the Nth such row matches the Nth. A row is *not ok* when its status is fail,
error or xpass. New failure: not ok now, ok or absent before. Fixed: ok now, not ok before.

Timings (docs/case-format.md, section 13). A record's time is symbolic_s + reference_s +
autograd_s. `--update-baseline` keeps each record's times of the last `REPEATS` updates in its
`repeats_s` field, and the baseline time of a record is their median. Slower: the record's
time now is more than `factor` times its baseline time, scaled by the run's *load* (the median
of now/before over the compared records that took at least 1 ms, when there are at least
`LOAD_MIN_RECORDS` of them, and never below 1: a busy machine slows every record alike),
and it grew by at least the noise margin: `min_seconds`, or 3 x the median absolute deviation
of the record's baseline repeats if larger (one outlying repeat moves neither).

torch's one-time warm-up is paid by `warm_up_torch` before any record is timed, in every
process that runs cases, so it does not move between records when a selection (`-k`, a shard)
or `--jobs` changes which record runs first.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.errors import UsageError

__all__ = ["KEY_FIELDS", "REPEATS", "BaselineDiff", "compare", "load_baseline", "save_baseline", "warm_up_torch"]

KEY_FIELDS = ("file", "case", "check", "function", "dtype", "device", "mode")
NOT_OK = ("fail", "error", "xpass")
TIME_FIELDS = ("symbolic_s", "reference_s", "autograd_s")
REPEATS = 5
"""How many past times of each record a baseline keeps (`repeats_s`)."""
LOAD_MIN_RECORDS = 5
"""The fewest timed records from which a run's load factor is estimated; with fewer it is 1."""
LOAD_FLOOR_SECONDS = 0.001
"""Records faster than this in the baseline are too noisy to estimate the load from."""

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
    load: float = 1.0  # the run's speed relative to the baseline (>= 1); see the module docstring

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def slower_than(self, factor: float) -> list[dict[str, Any]]:
        """The slower records whose time grew more than `factor` times (load-scaled), e.g. for --fail-on-slowdown."""
        return [e for e in self.slower if e["load_ratio"] is None or e["load_ratio"] > factor]

    def lines(self) -> list[str]:
        """The terminal text: a headline, then one line per new failure, fix and slowdown."""
        load = f", load {self.load:.2f}x" if self.load > 1 else ""
        out = [f"baseline {self.baseline}: {len(self.new_failures)} new failure(s), {len(self.fixed)} fixed, "
               f"{len(self.slower)} slower (>{self.factor:g}x and +{self.min_seconds:g}s{load}); {self.compared} rows "
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


def _repeats(record: Record) -> list[float]:
    """A baseline record's past times: its `repeats_s`, or its own time when it has none."""
    values = record.get("repeats_s")
    if isinstance(values, list):
        times = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0]
        if times:
            return times
    return [_seconds(record)]


def _noise(times: Sequence[float]) -> float:
    """A record's timing noise: 3 x the median absolute deviation of its baseline repeats (0 for one repeat)."""
    middle = statistics.median(times)
    return 3 * statistics.median(abs(t - middle) for t in times)


def _load(pairs: Sequence[tuple[float, float]], min_seconds: float) -> float:
    """The median now/before ratio of records that took at least `min_seconds` before; 1 with too few; >= 1."""
    ratios = [now / before for now, before in pairs if before >= LOAD_FLOOR_SECONDS]
    if len(ratios) < LOAD_MIN_RECORDS:
        return 1.0
    return max(1.0, statistics.median(ratios))


def compare(before: Sequence[Record], now: Sequence[Record], baseline: str = "", factor: float = 2.0,
            min_seconds: float = 0.05) -> BaselineDiff:
    """The differences between the `before` and `now` records (report.json's format)."""
    old, new = _keyed(before), _keyed(now)
    diff = BaselineDiff(baseline=baseline, factor=factor, min_seconds=min_seconds,
                        only_before=sum(key not in new for key in old))
    times = {key: (_seconds(record), _repeats(old[key])) for key, record in new.items() if key in old}
    diff.load = load = _load([(now_s, statistics.median(past)) for now_s, past in times.values()], min_seconds)
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
            now_s, past = times[key]
            before_s = statistics.median(past)
            expected = load * before_s
            margin = max(min_seconds, _noise(past))
            if now_s > factor * expected and now_s - expected >= margin:
                ratio = now_s / before_s if before_s > 0 else None
                diff.slower.append({**entry, "now_s": now_s, "before_s": before_s, "ratio": ratio,
                                    "load_ratio": now_s / expected if expected > 0 else None,
                                    "repeats": len(past)})
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


def save_baseline(records: Sequence[Record], path: str | Path, previous: Sequence[Record] | None = None) -> Path:
    """Writes `records` to `path` in report.json's format (folders created); returns the path.

    Each record gets `repeats_s`: the times of the same record in `previous` (an earlier
    baseline), then its own, the last `REPEATS` of them.
    """
    old = _keyed(previous or [])
    out = []
    for key, record in _keyed(records).items():
        past = _repeats(old[key]) if key in old else []
        out.append({**record, "repeats_s": [*past, _seconds(record)][-REPEATS:]})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return target


_warmed = False


def warm_up_torch() -> None:
    """Pays torch's one-time costs (the first vmap, jacrev, jacfwd and Hessian, in float64 and float32, on
    the CPU) before any record is timed; once per process. Without it they land on whichever record
    runs first, which changes with -k, shards and --jobs."""
    global _warmed
    if _warmed:
        return
    _warmed = True
    import torch
    from torch import func

    from verify.engines.autograd import _without_dynamo_import

    def vector(z: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.sin(z[0]) * z[1], z[0] ** 2 + torch.exp(z[1])])

    def scalar(z: torch.Tensor) -> torch.Tensor:
        return torch.sin(z[0]) * z[1] + z[0] ** 2

    with _without_dynamo_import():  # as verify's own transforms run (see verify.engines.autograd)
        _warm(func, torch, vector, scalar)


def _warm(func: Any, torch: Any, vector: Any, scalar: Any) -> None:
    for dtype in (torch.float64, torch.float32):
        points = torch.linspace(0.1, 0.9, 6, dtype=dtype).reshape(3, 2)
        func.vmap(vector)(points)
        func.vmap(func.jacrev(vector))(points)
        func.vmap(func.jacfwd(vector))(points)
        func.vmap(func.jacfwd(func.jacrev(scalar)))(points)
        func.vmap(func.jacrev(func.jacrev(scalar)))(points)
