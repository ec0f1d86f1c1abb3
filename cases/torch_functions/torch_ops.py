"""torch's own functions, wrapped as impls: each takes one tensor per argument of its case function.

The case files beside this module hold each function's exact definition in the case language;
verify checks torch's values, and its autograd rules in both modes and to second order, against it.
"""

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention

# -- special functions ----------------------------------------------------------------------------


def erfinv(x):
    return torch.erfinv(x)


def ndtr(x):
    return torch.special.ndtr(x)


def log_ndtr(x):
    return torch.special.log_ndtr(x)


def ndtri(p):
    return torch.special.ndtri(p)


def sinc(x):
    return torch.sinc(x)


def i0(x):
    return torch.special.i0(x)


def i0e(x):
    return torch.special.i0e(x)


def i1(x):
    return torch.special.i1(x)


def i1e(x):
    return torch.special.i1e(x)


def trigamma(x):
    return torch.special.polygamma(1, x)


def polygamma2(x):
    return torch.special.polygamma(2, x)


def xlogy(x, y):
    return torch.special.xlogy(x, y)


def xlog1py(x, y):
    return torch.special.xlog1py(x, y)


def logit(p):
    return torch.logit(p)


# -- steps ------------------------------------------------------------------------------------------


def floor_times(x):
    return torch.floor(x) * x


def ceil_times(x):
    return torch.ceil(x) * x


def trunc_times(x):
    return torch.trunc(x) * x


def round_times(x):
    return torch.round(x) * x


def frac(x):
    return torch.frac(x)


def fmod(x, y):
    return torch.fmod(x, y)


def remainder(x, y):
    return torch.remainder(x, y)


# -- the softmax family, reductions, small linear algebra -----------------------------------------


def softmax(v):
    return torch.softmax(v, -1)


def log_softmax(v):
    return torch.log_softmax(v, -1)


def logsumexp(v):
    return torch.logsumexp(v, -1)


def mean_prod(v):
    return torch.stack([torch.mean(v), torch.prod(v)])


def det(a):
    return torch.linalg.det(a)


def inv(a):
    return torch.linalg.inv(a)


def solve(a, b):
    return torch.linalg.solve(a, b)


# -- activations ------------------------------------------------------------------------------------


def gelu(x):
    return F.gelu(x)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def silu(x):
    return F.silu(x)


def mish(x):
    return F.mish(x)


def softplus_beta2(x):
    return F.softplus(x, beta=2.0, threshold=20.0)


def elu(x):
    return F.elu(x, alpha=1.5)


def selu(x):
    return F.selu(x)


def celu(x):
    return F.celu(x, alpha=0.5)


def hardswish(x):
    return F.hardswish(x)


def logsigmoid(x):
    return F.logsigmoid(x)


def softsign(x):
    return F.softsign(x)


# -- normalisation and losses -----------------------------------------------------------------------


def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:])


def cosine_similarity(u, v):
    return F.cosine_similarity(u, v, dim=-1)


def huber(x, t):
    return F.huber_loss(x, t, delta=0.5)


def smooth_l1(x, t):
    return F.smooth_l1_loss(x, t, beta=0.5)


def bce_with_logits(x, t):
    return F.binary_cross_entropy_with_logits(x, t)
