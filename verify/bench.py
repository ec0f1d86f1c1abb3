"""`python -m verify bench modes`: how forward and reverse accumulation scale with inputs and outputs."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["ModeTiming", "main", "time_modes"]


@dataclass(frozen=True)
class ModeTiming:
    """Median seconds of one batched Jacobian of a map R^n -> R^m, in one AD mode."""

    n: int
    m: int
    mode: str
    seconds: float


def _synchronize(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_modes(sizes: Sequence[int], batch: int = 64, repeats: int = 5, device: str = "cpu",
               depth: int = 3, width: int = 64) -> list[ModeTiming]:
    """Times vmap(jacfwd) and vmap(jacrev) of a tanh network R^n -> R^m for every (n, m).

    The hidden width is fixed, so the cost of one evaluation changes little with n and m, and
    what grows is the number of tangents (jacfwd: n) or cotangents (jacrev: m) pushed through it.
    """
    import torch
    from torch.func import jacfwd, jacrev, vmap

    generator = torch.Generator().manual_seed(0)
    out = []
    for n in sizes:
        for m in sizes:
            shapes = [(width, n)] + [(width, width)] * (depth - 2) + [(m, width)]
            weights = [(torch.randn(s, generator=generator, dtype=torch.float64) / s[1] ** 0.5).to(device)
                       for s in shapes]

            def f(x: Any, weights: list[Any] = weights) -> Any:
                for w in weights:
                    x = torch.tanh(w @ x)
                return x

            points = torch.randn(batch, n, generator=generator, dtype=torch.float64).to(device)
            for mode, transform in (("fwd", jacfwd), ("rev", jacrev)):
                batched = vmap(transform(f))
                batched(points)  # warm-up
                _synchronize(torch, device)
                samples = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    batched(points)
                    _synchronize(torch, device)
                    samples.append(time.perf_counter() - start)
                out.append(ModeTiming(n, m, mode, statistics.median(samples)))
    return out


def _table(timings: Sequence[ModeTiming]) -> str:
    by_key = {(t.n, t.m, t.mode): t.seconds for t in timings}
    pairs = sorted({(t.n, t.m) for t in timings})
    lines = ["| n (inputs) | m (outputs) | jacfwd ms | jacrev ms | fwd / rev | cheaper |", "|---|---|---|---|---|---|"]
    for n, m in pairs:
        fwd, rev = by_key[(n, m, "fwd")], by_key[(n, m, "rev")]
        cheaper = "fwd" if fwd < rev else "rev"
        lines.append(f"| {n} | {m} | {fwd * 1e3:.3f} | {rev * 1e3:.3f} | {fwd / rev:.2f} | {cheaper} |")
    return "\n".join(lines)


def _plot(timings: Sequence[ModeTiming], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    sizes = sorted({t.n for t in timings})
    small, large = sizes[0], sizes[-1]
    by_key = {(t.n, t.m, t.mode): t.seconds * 1e3 for t in timings}
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for mode, style in (("fwd", "o-"), ("rev", "s--")):
        left.loglog(sizes, [by_key[(n, small, mode)] for n in sizes], style, label=f"jac{mode}, m = {small}")
        right.loglog(sizes, [by_key[(small, m, mode)] for m in sizes], style, label=f"jac{mode}, n = {small}")
        left.loglog(sizes, [by_key[(n, large, mode)] for n in sizes], style, alpha=0.45,
                    label=f"jac{mode}, m = {large}")
        right.loglog(sizes, [by_key[(large, m, mode)] for m in sizes], style, alpha=0.45,
                     label=f"jac{mode}, n = {large}")
    left.set_xlabel("inputs n")
    right.set_xlabel("outputs m")
    left.set_ylabel("ms per batched Jacobian")
    left.set_title("cost as inputs grow")
    right.set_title("cost as outputs grow")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    """Runs a benchmark named in argv[0]; only `modes` exists."""
    parser = argparse.ArgumentParser(prog="python -m verify bench",
                                     description="Measure how jacfwd and jacrev scale with inputs and outputs.")
    parser.add_argument("what", choices=["modes"], help="the study to run")
    parser.add_argument("--sizes", default="1,4,16,64,256", help="comma-separated n and m values")
    parser.add_argument("--batch", type=int, default=64, help="points per batched Jacobian")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (median reported)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--plot", default="reports/figures/forward_vs_reverse.png", help="where the PNG goes")
    args = parser.parse_args(list(argv))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    import platform

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        out.write("cuda is not available here\n")
        return 2
    start = time.perf_counter()
    timings = time_modes(sizes, args.batch, args.repeats, args.device)
    machine = torch.cuda.get_device_name() if args.device.startswith("cuda") else (platform.processor() or
                                                                                    platform.machine())
    title = (f"vmap(jacfwd) vs vmap(jacrev), tanh net R^n -> 64 -> 64 -> R^m, batch {args.batch}, float64, "
             f"{args.device} ({machine}), torch {torch.__version__}")
    out.write(f"{title}\n\n{_table(timings)}\n\n")
    plotted = _plot(timings, Path(args.plot), title)
    out.write(f"plot: {args.plot}\n" if plotted else "plot skipped: matplotlib is not installed\n")
    out.write(f"measured in {time.perf_counter() - start:.1f}s\n")
    return 0
