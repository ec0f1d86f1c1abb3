"""Plain torch operations used by the seed cases, so torch itself (not verify's lowering) is checked."""

import torch


def add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b with torch's own broadcasting."""
    return a + b
