"""verify's autograd stage against the same function written by hand in torch, side by side in one run.

Run from the repository root:  python benchmarks/autograd_vs_torch.py [--points 10000 100000] [--repeats 5]

For two functions, float64 on the CPU:
  * the seed chain-rule case (cases/seed/vector_chain_rule.yaml, H = F(G(x, y)), a 2 x 2 Jacobian);
  * a dense layer tanh(W @ x) of width 32 (W a fixed 32 x 32 matrix of 3-decimal numbers written
    into the case, x in R^32: a 32 x 32 Jacobian),
it times, per point, verify's `TorchEngine.evaluate("jacobian", ...)` in modes rev and fwd (the
lowered program already built: its one-time cost is printed apart) and the hand-written
`torch.func.vmap(torch.func.jacrev(f))` / `vmap(jacfwd(f))` of the same function, with the same
vmap chunk size verify uses. The two are run alternately, `--repeats` times each, so that both
see the same load; the table gives min and median microseconds per point and the ratio of the
medians (target: verify / hand-written <= 2). Both results are compared (max abs difference).
It prints markdown and writes nothing under reports/.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import machine  # benchmarks/ is on sys.path when run as a script

from verify.case import Case, load_file
from verify.engines.autograd import TorchEngine
from verify.model import Model, build_model

ROOT = Path(__file__).resolve().parent.parent
CHAIN_CASE = ROOT / "cases" / "seed" / "vector_chain_rule.yaml"
WIDTH = 32


def load_model(path: Path) -> Model:
    [case] = load_file(path)
    if not isinstance(case, Case):
        raise RuntimeError(f"{path} does not load: {case}")
    return build_model(case)


def chain_rule_by_hand(z: Any) -> Any:
    """H = F(G(x, y)) as one would write it in torch: G = (x + y, x**2 - y**2), F = (u**2 + v, u*v)."""
    x, y = z[0], z[1]
    u, v = x + y, x**2 - y**2
    return torch.stack([u**2 + v, u * v])


def dense_layer(width: int, tmp: Path) -> tuple[Path, Callable[[Any], Any]]:
    """A case file for tanh(W @ x) with a fixed W, and the same function by hand."""
    rng = np.random.default_rng(0)
    weights = np.round(rng.uniform(-1, 1, (width, width)), 3)
    rows = ", ".join("[" + ", ".join(f"{w:.3f}" for w in row) + "]" for row in weights)
    path = tmp / f"dense_{width}.yaml"
    path.write_text(f"name: dense-{width}\nvariables:\n  x: {{shape: [{width}], low: -1, high: 1}}\n"
                    f"functions:\n  F: \"tanh([{rows}] @ x)\"\n")
    matrix = torch.tensor(weights, dtype=torch.float64)
    return path, lambda z: torch.tanh(matrix @ z)


def per_point(fn: Callable[[], Any], count: int) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) / count * 1e6, result


def measure(label: str, model: Model, name: str, by_hand: Callable[[Any], Any], counts: list[int],
            repeats: int) -> list[str]:
    function = model.functions[name]
    lows = np.array([a.low for a in function.args for _ in range(max(1, int(np.prod(a.shape))))])
    highs = np.array([a.high for a in function.args for _ in range(max(1, int(np.prod(a.shape))))])
    engine = TorchEngine(model)
    start = time.perf_counter()
    engine.torch_function(function, "float64", "cpu")
    build_ms = (time.perf_counter() - start) * 1e3
    chunk = engine.chunk_for("jacobian", function)
    rows = []
    for count in counts:
        points = np.random.default_rng(1).uniform(lows, highs, (count, len(lows)))
        z = torch.as_tensor(points)
        for mode in ("rev", "fwd"):
            transform = torch.func.jacrev if mode == "rev" else torch.func.jacfwd
            hand = torch.func.vmap(transform(by_hand), chunk_size=chunk)
            engine.evaluate("jacobian", function, points[:64], "float64", "cpu", mode)  # warm-up
            hand(z[:64])
            ours, theirs = [], []

            def run_ours(points: np.ndarray = points, mode: str = mode) -> Any:
                return engine.evaluate("jacobian", function, points, "float64", "cpu", mode)

            def run_theirs(hand: Callable[[Any], Any] = hand, z: Any = z) -> Any:
                return hand(z).numpy()

            for _ in range(repeats):
                seconds, computed = per_point(run_ours, count)
                ours.append(seconds)
                seconds, expected = per_point(run_theirs, count)
                theirs.append(seconds)
            diff = float(np.max(np.abs(computed.values.reshape(expected.shape) - expected)))
            ratio = statistics.median(ours) / statistics.median(theirs)
            rows.append(f"| {label} | {count:,} | {mode} | {min(ours):.3f} / {statistics.median(ours):.3f} | "
                        f"{min(theirs):.3f} / {statistics.median(theirs):.3f} | **{ratio:.2f}** | {diff:.1e} |")
            print(rows[-1], flush=True)
    rows.append(f"| {label}: building the lowered program once | | | {build_ms:.1f} ms | | | |")
    print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("# verify's autograd stage vs hand-written torch (float64, CPU)\n")
    print(f"Command: `python benchmarks/autograd_vs_torch.py --points {' '.join(map(str, args.points))} "
          f"--repeats {args.repeats}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ")
    print(f"Machine: {machine(threads=True)}\n")
    print(f"Microseconds per point, min / median of {args.repeats} alternating repetitions; ratio = verify median / "
          "hand-written median (target <= 2).\n")
    print("| function | points | mode | verify µs/point (min / median) | hand-written torch µs/point "
          "(min / median) | ratio | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        rows = measure("chain rule H = F(G(x, y))", load_model(CHAIN_CASE), "H", chain_rule_by_hand, args.points,
                       args.repeats)
        path, by_hand = dense_layer(WIDTH, Path(tmp))
        rows += measure(f"tanh(W @ x), width {WIDTH}", load_model(path), "F", by_hand, args.points, args.repeats)
    load = ", ".join(f"{v:.2f}" for v in __import__("os").getloadavg())
    print(f"\nLoad average at the end: {load}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
