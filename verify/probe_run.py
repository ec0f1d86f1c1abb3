"""Runs probe checks (jvp, vjp, hvp) and the value checks of large-tensor functions.

At each point, `probes` seeded standard-normal directions are drawn (shaped like the function's
inputs for jvp and hvp, like its output for vjp); torch's `torch.func.jvp`, `vjp` and
forward-over-reverse Hessian-vector product of the function (its impl, or its expression lowered
to torch) are compared with the exact directional derivative, certified in ball arithmetic.

Each entry is judged by |a - r| <= atol + rtol * m, where m is the same contraction taken with
absolute values (|J| |u|): the size of the rounding error a correct computation can reach.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from verify.errors import VerifyError
from verify.results import Result
from verify.tensor import Graph, Node, Tangent, jvp, vjp

if TYPE_CHECKING:
    from verify.case import CheckSpec
    from verify.model import CompiledFunction
    from verify.run import _CaseRun

__all__ = ["probe_rows"]

_MANTISSA = {"float64": 53, "float32": 24}
_COTANGENT = "__cotangent"


@dataclass(frozen=True)
class _Derivative:
    """The exact graph of a probe check and its absolute-value twin (the tolerance scale)."""

    exact: list[Node]  # one node per output block (jvp: the output; vjp, hvp: one per input)
    scale: list[Node]
    labels: list[str]


def _derivative(graph: Graph, kind: str, function: CompiledFunction) -> _Derivative:
    if kind == "value":
        return _Derivative([graph.output], [_abs(graph.output)], function.output_labels())
    if kind == "jvp":
        forward, forward_abs = jvp(graph), jvp(graph, absolute_mode=True)
        return _Derivative([_or_zero(forward, graph.output)], [_or_zero(forward_abs, graph.output)],
                           function.output_labels())
    cotangent = Tangent(graph.output.shape, _COTANGENT)
    pulled, pulled_abs = vjp(graph, cotangent), vjp(graph, cotangent, absolute_mode=True)
    names = [name for name, _ in graph.inputs]
    shapes = dict(graph.inputs)
    if kind == "vjp":
        return _Derivative([_or_zero(pulled.get(n), _shape_node(shapes[n])) for n in names],
                           [_or_zero(pulled_abs.get(n), _shape_node(shapes[n])) for n in names],
                           function.input_labels())
    exact: list[Node] = []
    scale: list[Node] = []
    for name in names:
        gradient = pulled.get(name)
        exact.append(_or_zero(jvp(Graph(gradient, graph.inputs), output=gradient) if gradient is not None else None,
                              _shape_node(shapes[name])))
        gradient_abs = pulled_abs.get(name)
        scale.append(_or_zero(jvp(Graph(gradient_abs, graph.inputs), absolute_mode=True, output=gradient_abs)
                              if gradient_abs is not None else None, _shape_node(shapes[name])))
    return _Derivative(exact, scale, function.input_labels())


def _abs(node: Node) -> Node:
    from verify.tensor import absolute

    return absolute(node)


def _shape_node(shape: tuple[int, ...]) -> Node:
    from verify.tensor import Const

    return Const(shape)


def _or_zero(node: Node | None, like: Node) -> Node:
    from verify.tensor import Const

    return node if node is not None else Const(like.shape)


@dataclass
class _Tally:
    """Entry-by-entry agreement over a record's points and probes: counts, largest errors, worst entry.

    An entry agrees when |a - r| <= allowed; a non-finite `a` never does. The worst entry has the
    largest error relative to what was allowed (point, probe, entry, got, expected).
    """

    compared: int = 0
    mismatched: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst: tuple[float, int, int, int, float, float] | None = None

    def add(self, got: np.ndarray, reference: np.ndarray, allowed: np.ndarray, point: int, probe: int) -> None:
        with np.errstate(all="ignore"):
            error = np.abs(got - reference)
            finite = np.isfinite(got)
            bad = ~finite | ~(error <= allowed)
            excess = np.where(finite, error / np.where(allowed > 0, allowed, np.finfo(float).tiny), np.inf)
            rel = np.where(reference != 0, error / np.abs(reference), np.where(error == 0, 0, np.inf))
        self.compared += 1
        self.mismatched += int(bad.sum())
        self.max_abs = max(self.max_abs, float(np.where(finite, error, np.inf).max(initial=0.0)))
        self.max_rel = max(self.max_rel, float(np.where(finite, rel, np.inf).max(initial=0.0)))
        entry = int(np.argmax(np.nan_to_num(excess, nan=np.inf, posinf=np.finfo(float).max)))
        if self.worst is None or excess[entry] > self.worst[0]:
            self.worst = (float(excess[entry]), point, probe, entry, float(got[entry]), float(reference[entry]))


def _probe(seed: int, check_index: int, point: int, probe: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng([seed, check_index, point, probe, zlib.crc32(b"probe")])
    return rng.standard_normal(shape)


def _torch_function(run: _CaseRun, function: CompiledFunction, graph: Graph) -> Callable[..., Any]:
    """The torch function under test: the impl, or the expression lowered to torch tensors."""
    if function.impl:
        impls = run.torch.impls_for(function)
        return impls[function.name]
    from verify.engines.probes import torch_values

    names = [name for name, _ in graph.inputs]

    def lowered(*args: Any) -> Any:
        return torch_values([graph.output], dict(zip(names, args)), {})[0]

    return lowered


def _torch_result(kind: str, fn: Callable[..., Any], primals: list[Any], directions: list[Any],
                  cotangent: Any) -> list[Any]:
    import torch

    from verify.engines.autograd import _torch_warnings_quiet

    with _torch_warnings_quiet():
        if kind == "value":
            with torch.no_grad():
                return [fn(*primals)]
        if kind == "jvp":
            return [torch.func.jvp(fn, tuple(primals), tuple(directions))[1]]
        if kind == "vjp":
            pull = torch.func.vjp(fn, *primals)[1]
            return list(pull(cotangent))
        gradient = torch.func.grad(fn, argnums=tuple(range(len(primals))))
        return list(torch.func.jvp(gradient, tuple(primals), tuple(directions))[1])


def _tensor(value: np.ndarray, dtype: Any, device: str) -> Any:
    import torch

    return torch.as_tensor(value, dtype=dtype, device=device)


def probe_rows(run: _CaseRun, index: int, check: CheckSpec, function: CompiledFunction) -> list[Result]:
    """The records of a probe check (or of a large function's value check), one per dtype, device and mode."""
    import torch

    from verify.engines.autograd import ModeUnsupportedError, resolve_device
    from verify.engines.probes import exact_values, new_formulas, torch_values
    from verify.tensor import function_graph

    kind = check.kind
    start = time.perf_counter()
    graph = function.graph if function.graph is not None else function_graph(run.case, function.name)
    derivative = _derivative(graph, kind, function)
    symbolic_s = time.perf_counter() - start
    sample = run.sample(function)
    names = [name for name, _ in graph.inputs]
    shapes = [shape for _, shape in graph.inputs]
    sizes = [math.prod(s) for s in shapes]
    probes = 1 if kind == "value" else check.probes
    formulas = new_formulas()
    fn = _torch_function(run, function, graph)
    rows: list[Result] = []
    for dtype in run.options.dtypes or run.case.dtypes:
        tolerance = run.case.tolerance_for(dtype, check)
        points = sample.rounded(dtype)
        for device in run.options.devices or run.case.devices:
            resolved = resolve_device(device)
            fields = dict(dtype=dtype, device=resolved or device, mode=kind)
            if resolved is None:
                rows.append(run.base(check, status="skip", **fields,
                                     message=f"device {device!r} is not available on this machine"))
                continue
            torch_dtype = getattr(torch, dtype)
            tally = _Tally()
            excluded = 0
            notes: set[str] = set()
            bits = math.inf
            reference_s = autograd_s = 0.0
            status_error = ""
            for b in range(points.shape[0]):
                row = points[b]
                parts = np.split(row, np.cumsum(sizes)[:-1]) if sizes else []
                values = {n: p.reshape(s) for n, p, s in zip(names, parts, shapes)}
                point_excluded = False
                for k in range(probes):
                    directions = {n: _probe(run.case.seed, index, b, k, s).astype(dtype).astype(np.float64)
                                  for n, s in zip(names, shapes)}
                    cotangent = (np.array(1.0) if kind == "hvp" else  # a Hessian-vector product: the gradient's JVP
                                 _probe(run.case.seed, index, b, k, graph.output.shape).astype(dtype).astype(np.float64))
                    tangents = {**directions, _COTANGENT: cotangent}
                    run.progress.stage = (f"computing the {kind} of {function.name} with torch (point {b + 1}, "
                                          f"probe {k + 1}, {dtype})")
                    t0 = time.perf_counter()
                    try:
                        actual = _torch_result(kind, fn, [_tensor(values[n], torch_dtype, resolved) for n in names],
                                               [_tensor(directions[n], torch_dtype, resolved) for n in names],
                                               _tensor(cotangent, torch_dtype, resolved))
                    except ModeUnsupportedError as exc:
                        status_error = f"skip:{exc}"
                        break
                    except VerifyError as exc:
                        status_error = f"error:{exc}"
                        break
                    except Exception as exc:  # noqa: BLE001 - torch or the impl failed: this record's error
                        text = f"{type(exc).__name__}: {exc}"
                        if kind == "jvp" and ("forward" in text.lower() or "jvp" in text.lower()):
                            status_error = f"skip:{function.name}: no forward-mode AD ({text[:300]})"
                        else:
                            status_error = f"error:{kind} of {function.name} [{dtype}]: {text[:500]}"
                        break
                    autograd_s += time.perf_counter() - t0
                    got = np.concatenate([np.asarray(a.detach().to(torch_dtype).cpu().double()).reshape(-1)
                                          for a in actual])
                    t0 = time.perf_counter()
                    run.progress.stage = f"certifying the exact {kind} of {function.name} (point {b + 1}, probe {k + 1})"
                    scale_tensors = torch_values(derivative.scale,
                                                 {n: torch.as_tensor(values[n], dtype=torch.float64) for n in names},
                                                 {n: torch.as_tensor(v, dtype=torch.float64)
                                                  for n, v in tangents.items()})
                    scale = np.concatenate([np.abs(t.numpy()).reshape(-1) for t in scale_tensors])
                    allowed = tolerance.atol + tolerance.rtol * scale
                    exact_parts = []
                    offset = 0
                    boundary = ""
                    certified_all = True
                    for node in derivative.exact:
                        size = max(1, math.prod(node.shape))
                        result = exact_values(node, values, tangents, allowed[offset:offset + size], formulas,
                                              _MANTISSA.get(dtype, 53))
                        offset += size
                        exact_parts.append(result.values.reshape(-1))
                        bits = min(bits, result.bits)
                        boundary = boundary or result.boundary
                        certified_all = certified_all and bool(result.certified.all())
                    reference_s += time.perf_counter() - t0
                    reference = np.concatenate(exact_parts) if exact_parts else np.zeros(0)
                    if dtype == "float32":
                        reference = reference.astype(np.float32).astype(np.float64)
                    if boundary or not certified_all or not np.isfinite(reference).all():
                        point_excluded = True
                        notes.add(f"on a branch boundary of {boundary}" if boundary else
                                  "the exact value is undefined or not certified")
                        break
                    tally.add(got, reference, allowed, b, k)
                if status_error:
                    break
                if point_excluded:
                    excluded += 1
            if status_error:
                state, _, message = status_error.partition(":")
                rows.append(run.base(check, status=state, **fields, message=message))
                continue
            labels = derivative.labels
            what = f"{kind} of {function.name} [{dtype}, {resolved}]"
            message = ""
            worst_point = ""
            if tally.worst is not None:
                _, b, k, entry, got_value, expected = tally.worst
                worst_point = sample.describe(b, dtype)
                if tally.mismatched:
                    label = labels[entry] if entry < len(labels) else f"entry {entry}"
                    unit = "point" if kind == "value" else "probe"
                    message = (f"{what}: Mismatched entries: {tally.mismatched} (over {tally.compared} {unit}s of "
                               f"{len(labels)} entries); worst at point {b + 1}" +
                               (f", probe {k + 1}" if kind != "value" else "") +
                               f", entry {entry} ({label}): expected {expected:.10g}, got {got_value:.10g} "
                               f"(allowed {tolerance.atol:g} + {tolerance.rtol:g}*m, m = the contraction with "
                               "absolute values)")
            status = "pass" if tally.mismatched == 0 else "fail"
            if tally.compared == 0:
                status, message = "error", (f"{check.where}: {what}: nothing to compare: every point was excluded "
                                            f"({'; '.join(sorted(notes))})")
            evidence = []
            if excluded:
                evidence.append(f"{excluded} point(s) excluded: {'; '.join(sorted(notes))}")
            if kind != "value":
                evidence.append(f"{probes} probe(s) per point")
            rows.append(run.base(
                check, status=status, **fields,
                points=tally.compared if kind == "value" else points.shape[0] - excluded, excluded=excluded,
                mismatched=tally.mismatched, max_abs_err=tally.max_abs, max_rel_err=tally.max_rel,
                worst_point=worst_point, evidence="; ".join(evidence), message=message, rtol=tolerance.rtol,
                atol=tolerance.atol, reference_bits=float(min(bits, 4096)) if tally.compared else math.nan,
                symbolic_s=symbolic_s, reference_s=reference_s, autograd_s=autograd_s))
            symbolic_s = 0.0
    return rows


def chain_probe_rows(run: _CaseRun, index: int, check: CheckSpec, function: CompiledFunction) -> list[Result]:
    """chain_rule with probes: J_F(G(x)) (J_G(x) u), stage by stage, against J_H(x) u, then torch's jvp of H.

    Both sides are exact (certified); they are compared with rtol 1e-9 of the contraction with
    absolute values (m = |J_H| |u|) and atol 1e-12.
    """
    import torch

    from verify.engines.probes import chain_product, torch_values
    from verify.tensor import composition, jvp

    start = time.perf_counter()
    stage, graph = composition(run.case, function.name)
    scale_node = jvp(graph, absolute_mode=True)
    symbolic_s = time.perf_counter() - start
    sample = run.sample(function)
    points = sample.rounded("float64")
    names = [name for name, _ in graph.inputs]
    shapes = [shape for _, shape in graph.inputs]
    sizes = [math.prod(s) for s in shapes]
    rtol, atol = 1e-9, 1e-12
    tally = _Tally()
    bits = math.inf
    reference_s = 0.0
    for b in range(points.shape[0]):
        parts = np.split(points[b], np.cumsum(sizes)[:-1]) if sizes else []
        values = {n: p.reshape(s) for n, p, s in zip(names, parts, shapes)}
        for k in range(check.probes):
            run.progress.stage = f"certifying the chain-rule product of {function.name} (point {b + 1}, probe {k + 1})"
            directions = {n: _probe(run.case.seed, index, b, k, s) for n, s in zip(names, shapes)}
            t0 = time.perf_counter()
            if scale_node is not None:
                (scale_tensor,) = torch_values([scale_node], {n: torch.as_tensor(v) for n, v in values.items()},
                                               {n: torch.as_tensor(v) for n, v in directions.items()})
                scale = np.abs(scale_tensor.numpy()).reshape(-1)
            else:
                scale = np.zeros(max(1, math.prod(graph.output.shape)))
            allowed = atol + rtol * scale
            product, direct, certified_bits = chain_product(stage, graph, values, directions, allowed)
            reference_s += time.perf_counter() - t0
            bits = min(bits, certified_bits)
            tally.add(product, direct, allowed, b, k)
    message = ""
    worst = tally.worst
    if tally.mismatched and worst is not None:
        _, b, k, entry, got, expected = worst
        label = function.output_labels()[entry] if entry < function.n_outputs else f"entry {entry}"
        message = (f"chain rule fails along probes: Mismatched entries: {tally.mismatched}; worst at point {b + 1}, "
                   f"probe {k + 1}, entry {entry} ({label}): J_F(G(x)) (J_G(x) u) = {got:.10g}, "
                   f"J_{function.name} u = {expected:.10g}")
    rows = [run.base(check, dtype="float64", device="-", mode="numeric", status="fail" if tally.mismatched else "pass",
                     points=points.shape[0], mismatched=tally.mismatched, max_abs_err=tally.max_abs,
                     max_rel_err=tally.max_rel,
                     worst_point=sample.describe(worst[1]) if worst is not None else "",
                     evidence=f"certified stage products along {check.probes} probe(s) per point", message=message,
                     rtol=rtol, atol=atol, reference_bits=float(min(bits, 4096)), symbolic_s=symbolic_s,
                     reference_s=reference_s)]
    from dataclasses import replace

    rows.extend(probe_rows(run, index, replace(check, kind="jvp"), function))
    return [replace(r, check="chain_rule") for r in rows]
