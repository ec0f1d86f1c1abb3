"""Torch implementations for the detection-power benchmark: seeded derivative bugs and correct variants.

Every callable takes one tensor per argument (0-d for a scalar) and returns a tensor. The exact
mathematics of each one is its `expr` in `cases/<name>.yaml`; `run.py` checks them with verify and
with torch.autograd.gradcheck.

Mutants (each bug of a different kind):
  dropped_term      (a) backward drops a product-rule term
  tanh_bad_jvp      (b) forward-mode rule wrong, backward right
  log1p_sq_region   (c) derivative wrong only for x > 1.5 (an "asymptotic fast path")
  gelu_truncated    (d) GELU-tanh backward with sqrt(2/pi) truncated to 0.797885
  transposed_jac    (e) 2-in 2-out backward that applies J^T instead of J
  sqrt_where_nan    (f) where(x > 0, sqrt(x), 0): nan gradient for x < 0, exact derivative 0
  cube_detached     (g) backward from detached tensors: second derivatives vanish
  cube_no_grad      (g') backward under torch.no_grad: second derivatives vanish in reverse-over-reverse only
  stage_bad         (h) the inner stage G of H = F(G(x, y)) has a wrong backward (F is a plain expr)

Correct, differently written:
  softplus_stable, logsumexp3, x_sin_x, gelu_fused, matvec2, stage_ok
"""

from __future__ import annotations

import math
from typing import Any

import torch

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # 0.7978845608028654
SQRT_2_OVER_PI_TRUNCATED = 0.797885  # (d): six significant digits, relative error 5.5e-7
GELU_K = 0.044715


# ---------------------------------------------------------------------------------------------
# (a) dropped term: f(x, y) = x*y*exp(x); d/dx = y*exp(x)*(1 + x), the backward keeps only x*y*exp(x)
class _DroppedTerm(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x * y * torch.exp(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = ctx.saved_tensors
        e = torch.exp(x)
        return grad * x * y * e, grad * x * e  # BUG: d/dx misses the y*exp(x) term

    generate_vmap_rule = True


def dropped_term(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _DroppedTerm.apply(x, y)


# ---------------------------------------------------------------------------------------------
# (b) wrong forward-mode rule only: tanh, jvp uses 1 - tanh(x) instead of 1 - tanh(x)**2
class _TanhBadJvp(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (t,) = ctx.saved_tensors
        return grad * (1 - t * t)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (t,) = ctx.saved_tensors
        return tangent * (1 - t)  # BUG: should be 1 - t**2

    generate_vmap_rule = True


def tanh_bad_jvp(x: torch.Tensor) -> torch.Tensor:
    return _TanhBadJvp.apply(x)


# ---------------------------------------------------------------------------------------------
# (c) bug in part of the domain: f(x) = log(1 + x**2), f' = 2x/(1 + x**2); a "fast path" uses the
# large-|x| asymptote 2/x for x > 1.5, which is only right as x -> oo (33% too large at x = 1.5)
def _log1p_sq_derivative(x: torch.Tensor) -> torch.Tensor:
    exact = 2 * x / (1 + x * x)
    asymptote = 2 / torch.where(x > 1.5, x, torch.ones_like(x))
    return torch.where(x > 1.5, asymptote, exact)  # BUG for x > 1.5


class _Log1pSquareRegion(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x * x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * _log1p_sq_derivative(x)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * _log1p_sq_derivative(x)

    generate_vmap_rule = True


def log1p_sq_region(x: torch.Tensor) -> torch.Tensor:
    return _Log1pSquareRegion.apply(x)


# ---------------------------------------------------------------------------------------------
# (d) GELU-tanh, fused: forward exact, backward with sqrt(2/pi) truncated to 6 digits
def _gelu_forward(x: torch.Tensor, c: float) -> torch.Tensor:
    return 0.5 * x * (1 + torch.tanh(c * (x + GELU_K * x * x * x)))


def _gelu_derivative(x: torch.Tensor, c: float) -> torch.Tensor:
    t = torch.tanh(c * (x + GELU_K * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * GELU_K * x * x)


class _GeluTruncated(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return _gelu_forward(x, SQRT_2_OVER_PI)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * _gelu_derivative(x, SQRT_2_OVER_PI_TRUNCATED)  # BUG: 0.797885, not sqrt(2/pi)

    generate_vmap_rule = True


def gelu_truncated(x: torch.Tensor) -> torch.Tensor:
    return _GeluTruncated.apply(x)


# ---------------------------------------------------------------------------------------------
# (e) transposed Jacobian: f(x, y) = [x**2*y, sin(x) + y], J = [[2xy, x**2], [cos x, 1]];
# the backward computes J @ g instead of J^T @ g (the forward-mode rule is right)
class _TransposedJacobian(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([x * x * y, torch.sin(x) + y])

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = ctx.saved_tensors
        g0, g1 = grad[0], grad[1]
        # BUG: rows of J instead of columns (right: g0*2xy + g1*cos x, g0*x**2 + g1)
        return g0 * 2 * x * y + g1 * x * x, g0 * torch.cos(x) + g1

    @staticmethod
    def jvp(ctx: Any, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
        x, y = ctx.saved_tensors
        return torch.stack([2 * x * y * tx + x * x * ty, torch.cos(x) * tx + ty])

    generate_vmap_rule = True


def transposed_jac(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _TransposedJacobian.apply(x, y)


# ---------------------------------------------------------------------------------------------
# (f) nan through torch.where: the untaken sqrt branch has a nan derivative for x < 0, and
# 0 * nan = nan reaches the gradient although the exact derivative is 0 there
def sqrt_where_nan(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, torch.sqrt(x), torch.zeros_like(x))  # BUG (reverse mode) for x < 0


# ---------------------------------------------------------------------------------------------
# (g) f(x, y) = x**3*y: first derivatives right, but the backward is built from detached
# tensors, so every second derivative through it is 0
class _CubeDetached(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x * x * x * y

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, y = inputs
        ctx.save_for_backward(x.detach(), y.detach())  # BUG: cuts the backward off the graph
        ctx.save_for_forward(x, y)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = ctx.saved_tensors
        return grad * 3 * x * x * y, grad * x * x * x

    @staticmethod
    def jvp(ctx: Any, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
        x, y = ctx.saved_tensors
        return 3 * x * x * y * tx + x * x * x * ty

    generate_vmap_rule = True


def cube_detached(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _CubeDetached.apply(x, y)


# (g') the same function, the backward computed under torch.no_grad: double backward
# (create_graph=True, reverse-over-reverse) sees a constant gradient and gives zero second
# derivatives, while forward-over-reverse still gets them right (no_grad does not stop forward AD)
class _CubeNoGrad(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x * x * x * y

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = ctx.saved_tensors
        with torch.no_grad():  # BUG: the gradient is not differentiable in reverse mode
            return grad * 3 * x * x * y, grad * x * x * x

    @staticmethod
    def jvp(ctx: Any, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
        x, y = ctx.saved_tensors
        return 3 * x * x * y * tx + x * x * x * ty

    generate_vmap_rule = True


def cube_no_grad(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _CubeNoGrad.apply(x, y)


# ---------------------------------------------------------------------------------------------
# (h) the stage G(x, y) = [x*y, x**2 + y] of H = F(G(x, y)); F is a plain expression in the case
class _StageBad(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([x * y, x * x + y])

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = ctx.saved_tensors
        # BUG: d(x*y)/dy taken as y (copy of the d/dx line); right: grad[0]*x + grad[1]
        return grad[0] * y + grad[1] * 2 * x, grad[0] * y + grad[1]

    generate_vmap_rule = True


def stage_bad(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _StageBad.apply(x, y)


# =============================================================================================
# Correct implementations
# =============================================================================================

# softplus(x) = log(1 + exp(x)), stable: max(x, 0) + log1p(exp(-|x|)); both rules: sigmoid(x)
class _SoftplusStable(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.sigmoid(x)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * torch.sigmoid(x)

    generate_vmap_rule = True


def softplus_stable(x: torch.Tensor) -> torch.Tensor:
    return _SoftplusStable.apply(x)


# logsumexp of a vector of 3, shifted by its (detached) maximum: exact to every order, since
# m + log(sum(exp(v - m))) does not depend on m
def logsumexp3(v: torch.Tensor) -> torch.Tensor:
    m = torch.amax(v).detach()
    return m + torch.log(torch.sum(torch.exp(v - m)))


# x*sin(x) with both rules
class _XSinX(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x * torch.sin(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (torch.sin(x) + x * torch.cos(x))

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * (torch.sin(x) + x * torch.cos(x))

    generate_vmap_rule = True


def x_sin_x(x: torch.Tensor) -> torch.Tensor:
    return _XSinX.apply(x)


# fused GELU-tanh with the exact constant, both rules
class _GeluFused(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return _gelu_forward(x, SQRT_2_OVER_PI)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * _gelu_derivative(x, SQRT_2_OVER_PI)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * _gelu_derivative(x, SQRT_2_OVER_PI)

    generate_vmap_rule = True


def gelu_fused(x: torch.Tensor) -> torch.Tensor:
    return _GeluFused.apply(x)


# 2x2 matrix times vector, written as an einsum
def matvec2(A: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # noqa: N803 - the case's argument name
    return torch.einsum("ij,j->i", A, v)


# the stage G of H = F(G(x, y)), right this time, both rules
class _StageOk(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([x * y, x * x + y])

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = ctx.saved_tensors
        return grad[0] * y + grad[1] * 2 * x, grad[0] * x + grad[1]

    @staticmethod
    def jvp(ctx: Any, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
        x, y = ctx.saved_tensors
        return torch.stack([y * tx + x * ty, 2 * x * tx + ty])

    generate_vmap_rule = True


def stage_ok(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _StageOk.apply(x, y)
