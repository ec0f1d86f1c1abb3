"""torch functions as the accuracy atlas measures them (python -m verify accuracy), as impls.

Generated from verify/accuracy/domains.py; each takes one tensor per argument of its case function.
"""

import math  # noqa: F401 - some wrappers use it

import torch


def torch_sin(x):
    return torch.sin(x)


def torch_cos(x):
    return torch.cos(x)


def torch_tan(x):
    return torch.tan(x)


def torch_asin(x):
    return torch.asin(x)


def torch_acos(x):
    return torch.acos(x)


def torch_atan(x):
    return torch.atan(x)


def torch_atan2(y, x):
    return torch.atan2(y, x)


def torch_sinh(x):
    return torch.sinh(x)


def torch_cosh(x):
    return torch.cosh(x)


def torch_tanh(x):
    return torch.tanh(x)


def torch_asinh(x):
    return torch.asinh(x)


def torch_acosh(x):
    return torch.acosh(x)


def torch_atanh(x):
    return torch.atanh(x)


def torch_exp(x):
    return torch.exp(x)


def torch_log(x):
    return torch.log(x)


def torch_log1p(x):
    return torch.log1p(x)


def torch_expm1(x):
    return torch.expm1(x)


def torch_sqrt(x):
    return torch.sqrt(x)


def torch_abs(x):
    return torch.abs(x)


def torch_sign(x):
    return torch.sign(x)


def torch_erf(x):
    return torch.erf(x)


def torch_erfc(x):
    return torch.erfc(x)


def torch_gamma(x):
    return torch.where((x < 0) & (torch.remainder(torch.floor(x), 2) != 0), -torch.ones_like(x), torch.ones_like(x)) * torch.exp(torch.lgamma(x))


def torch_lgamma(x):
    return torch.lgamma(x)


def torch_digamma(x):
    return torch.special.digamma(x)


def torch_sigmoid(x):
    return torch.sigmoid(x)


def torch_softplus(x):
    return torch.logaddexp(x, torch.zeros_like(x))


def torch_relu(x):
    return torch.relu(x)


def torch_min(a, b):
    return torch.minimum(a, b)


def torch_max(a, b):
    return torch.maximum(a, b)


def torch_erfinv(x):
    return torch.erfinv(x)


def torch_erfcinv(x):
    return -torch.special.ndtri(x / 2) / math.sqrt(2.0)


def torch_ndtr(x):
    return torch.special.ndtr(x)


def torch_log_ndtr(x):
    return torch.special.log_ndtr(x)


def torch_ndtri(x):
    return torch.special.ndtri(x)


def torch_sinc(x):
    return torch.sinc(x)


def torch_i0(x):
    return torch.special.i0(x)


def torch_i1(x):
    return torch.special.i1(x)


def torch_i0e(x):
    return torch.special.i0e(x)


def torch_i1e(x):
    return torch.special.i1e(x)


def torch_polygamma_1_x(x):
    return torch.special.polygamma(1, x)


def torch_polygamma_2_x(x):
    return torch.special.polygamma(2, x)


def torch_polygamma_3_x(x):
    return torch.special.polygamma(3, x)


def torch_xlogy(x, y):
    return torch.special.xlogy(x, y)


def torch_xlog1py(x, y):
    return torch.special.xlog1py(x, y)


def torch_logit(x):
    return torch.logit(x)


def torch_floor(x):
    return torch.floor(x)


def torch_ceil(x):
    return torch.ceil(x)


def torch_trunc(x):
    return torch.trunc(x)


def torch_round(x):
    return torch.round(x)


def torch_frac(x):
    return torch.frac(x)


def torch_fmod(x, y):
    return torch.fmod(x, y)


def torch_remainder(x, y):
    return torch.remainder(x, y)
