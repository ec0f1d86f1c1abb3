"""The study notes' claim: a 10,000 x 10,000 float32 matrix product, NumPy vs torch CPU vs torch GPU.

Run: python benchmarks/matmul.py [--size 10000] [--repeats 3]
GPU timings are synchronised, include (and separately exclude) the transfers the notes timed,
and run with TF32 off, so the GPU computes the same float32 product as the CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch


def timed(run: Callable[[], object], repeats: int, synchronize: Callable[[], None] = lambda: None) -> float:
    run()  # warm-up: first calls load kernels and allocate
    synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronize()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    rows = []
    numpy_s = timed(lambda: a @ b, args.repeats)
    rows.append(("NumPy (CPU)", numpy_s))
    a_t, b_t = torch.from_numpy(a), torch.from_numpy(b)
    cpu_s = timed(lambda: a_t @ b_t, args.repeats)
    rows.append((f"torch CPU ({torch.get_num_threads()} threads)", cpu_s))
    reference = a_t @ b_t
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        sync = torch.cuda.synchronize
        a_g, b_g = a_t.cuda(), b_t.cuda()
        rows.append(("torch GPU, product only", timed(lambda: a_g @ b_g, args.repeats, sync)))
        rows.append(("torch GPU, with transfers (as the notes timed)",
                     timed(lambda: (a_t.cuda() @ b_t.cuda()).cpu(), args.repeats, sync)))
        gpu_result = (a_g @ b_g).cpu()
        agree = torch.allclose(gpu_result, reference, rtol=1e-4, atol=1e-2)
        device = torch.cuda.get_device_name()
    else:
        agree = None
        device = "none"
    flops = 2 * n**3
    print(f"# {n} x {n} float32 matrix product; median of {args.repeats} after a warm-up")
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs; GPU: {device}; "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print("| how | seconds | GFLOP/s | speed-up vs NumPy |")
    print("|---|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} | {flops / seconds / 1e9:.0f} | {numpy_s / seconds:.1f}x |")
    if agree is not None:
        print(f"GPU result equals the CPU result (allclose rtol 1e-4): {agree}")


if __name__ == "__main__":
    main()
