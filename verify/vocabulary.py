"""The names of the case format, importable without numpy, SymPy or torch (the CLI and pytest plugin need them)."""

from __future__ import annotations

__all__ = [
    "CHECK_KINDS", "CONSTANT_NAMES", "DEVICES", "DTYPES", "FUNCTION_KEYS", "FUNCTION_NAMES", "MODES", "PROBE_KINDS",
    "RESERVED",
]

DTYPES = ("float64", "float32")
DEVICES = ("cpu", "cuda", "auto")
MODES = ("rev", "fwd")
CHECK_KINDS = ("value", "jacobian", "gradient", "hessian", "chain_rule", "jvp", "vjp", "hvp")
PROBE_KINDS = ("jvp", "vjp", "hvp")
FUNCTION_KEYS = ("args", "let", "expr", "impl")

# Every function of the expression language; verify.functions builds each (a test keeps them equal).
FUNCTION_NAMES = (
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "erf", "erfc", "gamma", "lgamma", "digamma",
    "sigmoid", "softplus", "relu", "min", "max", "erfinv", "erfcinv", "ndtr", "log_ndtr", "ndtri", "sinc", "i0",
    "i1", "i0e", "i1e", "polygamma", "xlogy", "xlog1py", "logit", "floor", "ceil", "trunc", "round", "frac", "fmod",
    "remainder", "where", "sum", "dot", "norm", "trace", "mean", "prod", "softmax", "log_softmax", "logsumexp",
    "det", "inv", "solve",
)
CONSTANT_NAMES = ("pi", "E")
RESERVED = frozenset((*FUNCTION_NAMES, *CONSTANT_NAMES))
