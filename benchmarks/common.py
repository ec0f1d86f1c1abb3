"""What the benchmark scripts share: the machine line they print, and the large tanh(W @ x) case."""

from __future__ import annotations

import os
import platform


def machine(threads: bool = False) -> str:
    """Platform, CPUs, load average now, and the versions that matter, on one line."""
    import symengine
    import sympy
    import torch

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    torch_text = f"torch {torch.__version__}" + (f" ({torch.get_num_threads()} threads)" if threads else "")
    return (f"{platform.platform()}, {os.cpu_count()} CPUs (load average at start: {load}); Python "
            f"{platform.python_version()}, SymPy {sympy.__version__}, SymEngine {symengine.__version__}, {torch_text}")


def tanh_case_text(size: int) -> str:
    """A case file: the Jacobian of tanh(W @ x) with respect to a size x size matrix W and a vector x."""
    return f"""name: tanh-layer-{size}
description: the Jacobian of tanh(W @ x) w.r.t. W ({size}x{size}) and x ({size})
variables:
  W: {{shape: [{size}, {size}], low: -1, high: 1}}
  x: {{shape: [{size}], low: -1, high: 1}}
functions:
  F: tanh(W @ x)
checks:
  - jacobian: F
"""
