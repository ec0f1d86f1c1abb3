"""Batched autograd Jacobians vs a per-point loop and vs gradcheck, on the seed chain-rule case.

Run: python benchmarks/autograd_batch.py [--points 10000] [--device cpu|cuda]
verify computes J_H at every point with vmap(jacrev) / vmap(jacfwd) over the whole batch; the
baselines are a Python loop of torch.autograd.functional.jacobian, and torch.autograd.gradcheck
(default settings), per point.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

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
    args = parser.parse_args()
    device = args.device
    model = build_model(next(c for c in load_file(CASE) if not hasattr(c, "error")))
    function = model.functions["H"]
    engine = TorchEngine(model)
    points = np.random.default_rng(0).uniform(-2, 2, (args.points, 2))
    rows = []
    for mode in ("rev", "fwd"):
        engine.evaluate("jacobian", function, points[:64], "float64", device, mode)  # warm-up
        start = time.perf_counter()
        batched = engine.evaluate("jacobian", function, points, "float64", device, mode)
        sync(device)
        rows.append((f"verify: vmap(jac{mode}) over all points", (time.perf_counter() - start) / args.points))
    torch_function = engine.torch_function(function, "float64", device)
    z = torch.as_tensor(points[: args.loop_points], dtype=torch.float64, device=device)
    start = time.perf_counter()
    looped = [torch.autograd.functional.jacobian(torch_function, z[i]) for i in range(z.shape[0])]
    sync(device)
    loop_s = (time.perf_counter() - start) / args.loop_points
    rows.append(("per-point torch.autograd.functional.jacobian loop", loop_s))
    start = time.perf_counter()
    for i in range(z.shape[0]):
        torch.autograd.gradcheck(torch_function, (z[i].clone().requires_grad_(True),))
    sync(device)
    gradcheck_s = (time.perf_counter() - start) / args.loop_points
    rows.append(("per-point torch.autograd.gradcheck (defaults)", gradcheck_s))
    agree = np.allclose(torch.stack(looped).cpu().numpy(), batched.values[: args.loop_points], rtol=1e-12, atol=1e-12)
    name = torch.cuda.get_device_name() if device == "cuda" else (platform.processor() or platform.machine())
    best = min(s for label, s in rows if label.startswith("verify"))
    print(f"# Jacobian of H = F(G(x, y)), float64, {args.points} points batched "
          f"(baselines timed on {args.loop_points} points), device {device} ({name}), torch {torch.__version__}")
    print("| how | microseconds per point | verify is faster by |")
    print("|---|---|---|")
    for label, seconds in rows:
        ratio = "" if label.startswith("verify") else f"{seconds / best:.0f}x"
        print(f"| {label} | {seconds * 1e6:.2f} | {ratio} |")
    print(f"batched and looped Jacobians agree to 1e-12: {agree}")


if __name__ == "__main__":
    main()
