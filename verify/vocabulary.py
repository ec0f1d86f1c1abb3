"""The names of the case format, importable without numpy, SymPy or torch (the CLI and pytest plugin need them)."""

from __future__ import annotations

__all__ = ["CHECK_KINDS", "CONSTANT_NAMES", "DEVICES", "DTYPES", "FUNCTION_NAMES", "MODES", "RESERVED"]

DTYPES = ("float64", "float32")
DEVICES = ("cpu", "cuda", "auto")
MODES = ("rev", "fwd")
CHECK_KINDS = ("value", "jacobian", "gradient", "hessian", "chain_rule")

# Every function of the expression language; verify.functions builds each (a test keeps them equal).
FUNCTION_NAMES = (
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "erf", "erfc", "gamma", "lgamma", "digamma",
    "sigmoid", "softplus", "relu", "min", "max", "where", "sum", "dot", "norm", "trace",
)
CONSTANT_NAMES = ("pi", "E")
RESERVED = frozenset((*FUNCTION_NAMES, *CONSTANT_NAMES))
