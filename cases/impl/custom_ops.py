"""Custom autograd Functions with hand-written derivative rules, checked by cases/impl/*.yaml.

They stand for the code a project verifies in its CI: each has a backward (reverse mode) and a
jvp (forward mode) written by hand, and verify checks both against the exact derivative of the
mathematical definition given as `expr` in the case file.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class StableSoftplus(torch.autograd.Function):
    """log(1 + exp(x)) without overflow; derivative sigmoid(x)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.sigmoid(x)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * torch.sigmoid(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class FusedGeluTanh(torch.autograd.Function):
    """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), one fused rule."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + torch.tanh(inner))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def _derivative(x: torch.Tensor) -> torch.Tensor:
        t = torch.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * FusedGeluTanh._derivative(x)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * FusedGeluTanh._derivative(x)


class LogSumExp(torch.autograd.Function):
    """log(sum(exp(v))) over a vector, shifted by max(v); gradient softmax(v)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(v: torch.Tensor) -> torch.Tensor:
        shift = v.max()
        return shift + torch.log(torch.exp(v - shift).sum())

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        (v,) = inputs
        ctx.save_for_backward(v)
        ctx.save_for_forward(v)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (v,) = ctx.saved_tensors
        return grad * torch.softmax(v, dim=-1)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (v,) = ctx.saved_tensors
        return (torch.softmax(v, dim=-1) * tangent).sum(dim=-1)


def stable_softplus(x: torch.Tensor) -> torch.Tensor:
    return StableSoftplus.apply(x)  # type: ignore[no-any-return]


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return FusedGeluTanh.apply(x)  # type: ignore[no-any-return]


def logsumexp(v: torch.Tensor) -> torch.Tensor:
    return LogSumExp.apply(v)  # type: ignore[no-any-return]


def torch_softplus(x: torch.Tensor) -> torch.Tensor:
    """torch's own softplus (default threshold=20, beyond which it returns x itself)."""
    return torch.nn.functional.softplus(x)


def rotate_scale(theta: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """A 2x2 rotation by theta applied to p, then scaled by |p|: a matrix-vector op."""
    c, s = torch.cos(theta), torch.sin(theta)
    rotation = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    return (rotation @ p) * torch.linalg.vector_norm(p)
