"""Batched autograd Jacobians vs a per-point loop and vs gradcheck, on the seed chain-rule case.

Run: python benchmarks/autograd_batch.py [--points 10000] [--device cpu|cuda]
verify computes J_H at every point with vmap(jacrev) / vmap(jacfwd) over the whole batch; the
baselines run on H written by hand in torch (not on verify's generated program): the same
vmap(jacrev) / vmap(jacfwd), a Python loop of torch.autograd.functional.jacobian, and
torch.autograd.gradcheck (default settings), per point. Batched figures are min / median of
--repeats runs; the per-point loops are one run over --loop-points points each.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autograd_vs_torch import chain_rule_by_hand  # noqa: E402
from common import machine  # noqa: E402

from verify.case import load_file
from verify.engines.autograd import TorchEngine
from verify.model import build_model

CASE = Path(__file__).resolve().parent.parent / "cases" / "seed" / "vector_chain_rule.yaml"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--loop-points", type=int, default=1_000, help="points timed for the per-point baselines")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = args.device
    model = build_model(next(c for c in load_file(CASE) if not hasattr(c, "error")))
    function = model.functions["H"]
    engine = TorchEngine(model)
    points = np.random.default_rng(0).uniform(-2, 2, (args.points, 2))
    rows: list[tuple[str, float, float]] = []
    z_all = torch.as_tensor(points, dtype=torch.float64, device=device)
    for mode in ("rev", "fwd"):
        transform = torch.func.jacrev if mode == "rev" else torch.func.jacfwd
        by_hand = torch.func.vmap(transform(chain_rule_by_hand), chunk_size=engine.chunk_for("jacobian", function))
        engine.evaluate("jacobian", function, points[:64], "float64", device, mode)  # warm-up
        by_hand(z_all[:64])
        ours, theirs = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            batched = engine.evaluate("jacobian", function, points, "float64", device, mode)
            sync(device)
            ours.append((time.perf_counter() - start) / args.points)
            start = time.perf_counter()
            by_hand(z_all)
            sync(device)
            theirs.append((time.perf_counter() - start) / args.points)
        rows.append((f"verify: vmap(jac{mode}) over all points", min(ours), statistics.median(ours)))
        rows.append((f"hand-written H: vmap(jac{mode}) over all points", min(theirs), statistics.median(theirs)))
    torch_function = chain_rule_by_hand
    z = torch.as_tensor(points[: args.loop_points], dtype=torch.float64, device=device)
    start = time.perf_counter()
    looped = [torch.autograd.functional.jacobian(torch_function, z[i]) for i in range(z.shape[0])]
    sync(device)
    loop_s = (time.perf_counter() - start) / args.loop_points
    rows.append(("hand-written H: per-point torch.autograd.functional.jacobian loop", loop_s, loop_s))
    start = time.perf_counter()
    for i in range(z.shape[0]):
        torch.autograd.gradcheck(torch_function, (z[i].clone().requires_grad_(True),))
    sync(device)
    gradcheck_s = (time.perf_counter() - start) / args.loop_points
    rows.append(("hand-written H: per-point torch.autograd.gradcheck (defaults)", gradcheck_s, gradcheck_s))
    agree = np.allclose(torch.stack(looped).cpu().numpy(), batched.values[: args.loop_points], rtol=1e-12, atol=1e-12)
    name = torch.cuda.get_device_name() if device == "cuda" else (platform.processor() or platform.machine())
    best = min(median for label, _, median in rows if label.startswith("verify"))
    print(f"# Jacobian of H = F(G(x, y)), float64, {args.points} points batched "
          f"(loops timed on {args.loop_points} points), device {device} ({name}), torch {torch.__version__}")
    print(f"Machine: {machine()}\n")
    print(f"Batched rows: min / median of {args.repeats} alternating runs; loop rows: one run.\n")
    print("| how | microseconds per point (min / median) | median / verify's best median |")
    print("|---|---|---|")
    for label, low, median in rows:
        print(f"| {label} | {low * 1e6:.2f} / {median * 1e6:.2f} | {median / best:.2f}x |")
    print(f"batched and looped Jacobians agree to 1e-12: {agree}")


if __name__ == "__main__":
    main()
