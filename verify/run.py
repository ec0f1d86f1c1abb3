"""The only module that knows every stage: case files -> results, one failure never stopping the run."""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from verify.case import Case, CheckSpec, LoadFailure, Tolerance, load_file
from verify.compare import Agreement, agree
from verify.engines.certified import CAP_BITS, ArbProgram, Certified, exclusion_text
from verify.errors import CaseError, VerifyError
from verify.model import CompiledFunction, Model, build_model, derivative_shape
from verify.options import RunOptions
from verify.points import Sample, sample_points
from verify.proof import Counterexample, Verdict
from verify.results import STATUSES, Result, exit_code
from verify.vocabulary import PROBE_KINDS

__all__ = ["STATUSES", "Result", "RunOptions", "collect", "exit_code", "run_case", "run_paths"]

_TORCH_KIND = {"gradient": "jacobian", "chain_rule": "jacobian"}  # what torch computes for a check kind
FLOAT64 = Tolerance(rtol=1e-9, atol=1e-12)  # exact vs exact: both certified, rounded to float64


def _entry_label(function: CompiledFunction, kind: str, entry: tuple[int, ...]) -> str:
    if kind == "value":
        return function.output_labels()[int(np.ravel_multi_index(entry, function.out_shape))] if entry else function.name
    inputs = function.input_labels()
    if kind == "hessian":
        *output, i, j = entry
        name = function.output_labels()[output[0]] if output else function.name
        return f"d2 {name} / d{inputs[i]} d{inputs[j]}"
    if kind == "gradient":
        return f"d {function.name} / d {inputs[entry[0]]}"
    i, j = entry
    return f"d {function.output_labels()[i]} / d {inputs[j]}"


def _entry_text(entry: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, entry)) + "]"


class _CaseRun:
    """Runs the checks of one compiled case; holds the per-case caches."""

    def __init__(self, model: Model, options: RunOptions, progress: _Progress | None = None) -> None:
        from verify.engines.autograd import TorchEngine
        from verify.engines.symbolic import SymbolicEngine

        self.model = model
        self.case = model.case
        self.options = options
        self.progress = progress or _Progress()
        from verify.cache import DerivationCache

        self.disk = (DerivationCache.for_text(options.cache_dir, model.case.digest, model.case.name)
                     if options.cache_dir is not None and model.case.digest else None)
        self.symbolic = SymbolicEngine(model, self.disk, self.validate_cached)
        self.torch = TorchEngine(model, chunk_size=options.chunk_size)
        self._samples: dict[str, Sample] = {}
        self._values_checked: set[str] = {c.target for c in model.checks if c.kind == "value"}
        self._references: dict[tuple[str, str, str, float, float], tuple[Certified, float]] = {}
        self._programs: dict[tuple[str, str], ArbProgram] = {}
        self._errors: dict[tuple[str, str, str, str, str], float] = {}  # torch's max rel error, for diagnoses

    # -- shared pieces ---------------------------------------------------------------------
    def base(self, check: CheckSpec, **fields: Any) -> Result:
        return Result(file=self.case.file, case=self.case.name, check=check.kind, function=check.target,
                      line=check.where.line, seed=self.case.seed, tags=",".join(self.case.tags),
                      description=self.case.description, constants=_constants_text(self.case), **fields)

    def sample(self, function: CompiledFunction) -> Sample:
        if function.name not in self._samples:
            self._samples[function.name] = sample_points(self.case, function.args, function.input_labels())
        return self._samples[function.name]

    def derived(self, kind: str, function: CompiledFunction) -> np.ndarray:
        if kind == "value":
            return function.entries.reshape(function.out_shape)
        if kind == "hessian":
            return self.symbolic.hessian(function)
        if kind == "gradient":
            return self.symbolic.gradient(function)
        return self.symbolic.jacobian(function)

    def program(self, key: str, entries: np.ndarray, function: CompiledFunction) -> ArbProgram:
        """The certified evaluator of `entries`, compiled once per function and kind (not per dtype).

        Derivatives are evaluated taking both sides of a branch boundary, with the function's
        value (and its gradient, for Hessians) as guards: see verify.engines.certified.
        """
        cache_key = (function.name, key)
        if cache_key not in self._programs:
            from verify.engines.certified import compile_arb

            if key == "value":
                self._programs[cache_key] = compile_arb(entries, function.flat_symbols)
            else:
                guards = [function.entries]
                if key == "hessian":
                    guards.append(self.symbolic.gradient(function))
                self._programs[cache_key] = compile_arb(entries, function.flat_symbols, guards, hull=True)
        return self._programs[cache_key]

    def reference(self, key: str, entries: np.ndarray, function: CompiledFunction, dtype: str,
                  tolerance: Tolerance) -> tuple[Certified, float]:
        """Certified exact `entries` at the function's points, rounded to `dtype`, and the seconds it took.

        A reference shared by several rows is computed once; later rows report 0 s for it.
        """
        cache_key = (function.name, key, dtype, tolerance.rtol, tolerance.atol)
        if cache_key in self._references:
            return self._references[cache_key][0], 0.0
        self.progress.stage = f"evaluating the certified exact {key} of {function.name} at the points ({dtype})"
        start = time.perf_counter()
        program = self.program(key, entries, function)
        certified = program(self.sample(function).rounded(dtype), dtype, tolerance.rtol, tolerance.atol)
        self._references[cache_key] = (certified, time.perf_counter() - start)
        return self._references[cache_key]

    def modes_for(self, function: CompiledFunction) -> tuple[str, ...]:
        """The AD modes to run: the case's, the command line's, or with `cheaper` the one that costs less.

        jacfwd pushes one tangent per input and jacrev one cotangent per output (see `verify bench
        modes`), so forward mode is cheaper exactly when there are fewer inputs than outputs.
        """
        modes = self.options.modes or self.case.modes
        if modes == ("cheaper",):
            return ("fwd",) if function.n_inputs < function.n_outputs else ("rev",)
        return modes

    def verdict(self, key: str, decide: Callable[[float], Verdict]) -> Verdict:
        """A proof verdict (`decide(budget)`), from the disk cache when this case's content was judged before.

        A cached verdict is used only when every field has its type (a string "false" is not a
        boolean), and a cached "equal" only when the cheap evidence, decided again with no time
        for proofs (exact or certified evaluation at the points), agrees: the cache saves proof
        time, it never supplies the evidence. Anything else is ignored, with a CacheWarning.
        """
        cache_key = f"verdict|{key}|{self.options.proof_budget_s}"
        if self.disk is not None:
            stored = self.disk.load_json(cache_key)
            if stored is not None:
                from verify.cache import warn

                cached = _stored_verdict(stored)
                if cached is not None and cached.equal:
                    if decide(0.0).equal:
                        return replace(cached, evidence=cached.evidence.replace(
                            "(cached)", "(cached; evidence at the points re-checked)"))
                    warn(f"cached verdict {key!r} of {self.case.name} says equal, but the points disagree")
                elif cached is not None:
                    return cached
                else:
                    warn(f"cached verdict {key!r} of {self.case.name} is malformed")
        verdict = decide(self.options.proof_budget_s)
        if self.disk is not None:
            self.disk.store_json(cache_key, dataclasses.asdict(verdict))
        return verdict

    def validate_cached(self, name: str, kind: str, derivative: np.ndarray) -> bool | None:
        """Whether a derivative read from the disk cache matches central differences of the function
        (None: no sample point could decide it)."""
        from verify.engines.certified import spot_check

        function = self.model.functions[name]
        values = self.symbolic.gradient(function) if kind == "hessian" else function.entries
        points = self.sample(function).rounded("float64")
        return spot_check(values, derivative, function.flat_symbols, points)

    def domains(self, function: CompiledFunction) -> dict[Any, tuple[float, float]]:
        return {s: (a.low, a.high) for a, block in zip(function.args, function.symbols) for s in block.reshape(-1)}

    def mismatch_message(self, what: str, function: CompiledFunction, kind: str, agreement: Agreement,
                         sample: Sample, dtype: str, tolerance: Tolerance) -> str:
        head = (f"{what}: Mismatched entries: {agreement.mismatched} / {agreement.entries} "
                f"(at {agreement.mismatched_points} / {agreement.points} points)")
        if agreement.worst_point is None or agreement.worst_entry is None:
            return head
        entry = agreement.worst_entry
        label = _entry_label(function, kind, entry)
        got = agreement.worst_actual
        expected = agreement.worst_reference
        detail = (f"worst at {sample.describe(agreement.worst_point, dtype)}, entry {_entry_text(entry)} ({label}): "
                  f"expected {expected:.10g}, got {got:.10g}")
        if np.isfinite(got):
            detail += f" (abs err {abs(got - expected):.3g}; allowed {tolerance.atol:g} + {tolerance.rtol:g}*|expected|)"
        else:
            detail += (" - torch gives a non-finite value where the exact result is finite"
                       + (" (torch.where passes nan/inf from the branch not taken into gradients)"
                          if "Piecewise" in str(self.derived(kind, function)) or "Piecewise" in str(function.entries)
                          else ""))
        return f"{head}; {detail}"

    # -- checks ----------------------------------------------------------------------------
    def run_check(self, index: int, check: CheckSpec) -> list[Result]:
        function = self.model.functions[check.target]
        if check.kind == "chain_rule" and check.probed:
            from verify.probe_run import chain_probe_rows

            return chain_probe_rows(self, index, check, function)
        if check.kind in PROBE_KINDS or function.large:
            return self.probe_check(index, check, function)
        kind = "jacobian" if check.kind == "chain_rule" else check.kind
        self.progress.stage = f"deriving the exact {kind} of {function.name}"
        start = time.perf_counter()
        derived = self.derived(kind, function)
        symbolic_s = time.perf_counter() - start
        results: list[Result] = []
        if index in self.model.expects:
            results.append(self.expect_row(index, check, function, kind, derived, self.model.expects[index]))
        if kind != "value" and (function.impl or function.impl_calls) and function.name not in self._values_checked:
            # an implementation's values are checked (once) before its derivatives
            self._values_checked.add(function.name)
            results.extend(self.engine_rows(replace(check, kind="value"), function, "value",
                                            self.derived("value", function), 0.0))
        if check.kind == "chain_rule":
            results.extend(self.chain_rows(check, function, derived, symbolic_s))
            symbolic_s = 0.0  # charged to the symbolic row
        results.extend(self.engine_rows(check, function, kind, derived, symbolic_s))
        return results

    def probe_check(self, index: int, check: CheckSpec, function: CompiledFunction) -> list[Result]:
        """Probe checks (and values of large functions): directional derivatives, never a dense Jacobian."""
        from verify.probe_run import probe_rows

        results: list[Result] = []
        if check.kind != "value" and (function.impl or function.impl_calls) and function.name not in self._values_checked:
            self._values_checked.add(function.name)  # an implementation's values are checked (once) first
            value_check = replace(check, kind="value")
            results.extend(probe_rows(self, index, value_check, function) if function.large else
                           self.engine_rows(value_check, function, "value", self.derived("value", function), 0.0))
        results.extend(probe_rows(self, index, check, function))
        return results

    def expect_row(self, index: int, check: CheckSpec, function: CompiledFunction, kind: str, derived: np.ndarray,
                   claim: np.ndarray) -> Result:
        from verify.proof import decide_at_points, decide_equal

        self.progress.stage = f"judging the expect claim on the {check.kind} of {function.name}"
        start = time.perf_counter()
        shaped = derived.reshape(derivative_shape(kind, function))
        if index in self.model.expect_points:
            verdict = self.verdict(f"expect|{index}", lambda budget: decide_at_points(
                shaped, claim, self.model.expect_points[index]))
        else:
            verdict = self.verdict(f"expect|{index}", lambda budget: decide_equal(
                shaped, claim, function.flat_symbols, self.domains(function), budget, seed=self.case.seed))
        elapsed = time.perf_counter() - start
        message = ""
        if not verdict.equal and verdict.counterexample is not None:
            c = verdict.counterexample
            message = (f"expect of {check.kind} {function.name} is false at entry {_entry_text(c.entry)} "
                       f"({_entry_label(function, kind, c.entry)}): derived {c.left_expr}, claimed {c.right_expr}; "
                       f"at {c.point_text()} they are {c.left_value} and {c.right_value}")
        elif not verdict.equal:
            message = f"expect of {check.kind} {function.name} could not be decided: {verdict.evidence}"
        return self.base(check, dtype="exact", device="-", mode="expect",
                         status="pass" if verdict.equal else "fail", evidence=verdict.evidence,
                         message=message, symbolic_s=elapsed)

    def chain_rows(self, check: CheckSpec, function: CompiledFunction, jacobian: np.ndarray,
                   jacobian_s: float) -> list[Result]:
        from verify.proof import decide_equal

        self.progress.stage = f"deriving the chain-rule product of {function.name}"
        start = time.perf_counter()
        product = self.symbolic.chain_product(function)
        product_s = time.perf_counter() - start
        self.progress.stage = f"proving the chain rule for {function.name}"
        start = time.perf_counter()
        verdict = self.verdict(f"chain|{function.name}", lambda budget: decide_equal(
            product, jacobian, function.flat_symbols, self.domains(function), budget, seed=self.case.seed))
        message = ""
        if verdict.counterexample is not None:
            c = verdict.counterexample
            message = (f"chain rule fails at entry {_entry_text(c.entry)}: product of stage Jacobians "
                       f"{c.left_expr} vs J_{function.name} {c.right_expr}; at {c.point_text()}: "
                       f"{c.left_value} vs {c.right_value}")
        rows = [self.base(check, dtype="exact", device="-", mode="symbolic",
                          status="pass" if verdict.equal else "fail", evidence=verdict.evidence, message=message,
                          symbolic_s=product_s + jacobian_s + time.perf_counter() - start)]
        reference_product, product_ref_s = self.reference("chain_product", product, function, "float64", FLOAT64)
        reference_jacobian, jacobian_ref_s = self.reference("jacobian", jacobian, function, "float64", FLOAT64)
        defined = reference_product.defined & reference_jacobian.defined
        agreement = agree(reference_product.values, reference_jacobian.values, FLOAT64, defined)
        sample = self.sample(function)
        bits = min(reference_product.reference_bits(), reference_jacobian.reference_bits())
        certainty = "exact" if np.isinf(bits) else f"at least {bits:.0f} bits"
        evidence = f"certified product and Jacobian ({certainty}) rounded to float64 at every point"
        if agreement.excluded:
            evidence = f"{evidence}; {agreement.excluded} point(s) excluded: {exclusion_text(reference_jacobian)}"
        rows.append(self.base(
            check, dtype="float64", device="-", mode="numeric", status="pass" if agreement.ok else "fail",
            points=agreement.points, excluded=agreement.excluded, mismatched=agreement.mismatched,
            max_abs_err=agreement.max_abs_err, max_rel_err=agreement.max_rel_err,
            worst_point=sample.describe(agreement.worst_point) if agreement.worst_point is not None else "",
            evidence=evidence, rtol=FLOAT64.rtol, atol=FLOAT64.atol, reference_bits=_bits(bits),
            tolerance_ratio=agreement.max_ratio,
            message="" if agreement.ok else self.mismatch_message(
                "chain-rule product vs Jacobian", function, "jacobian", agreement, sample, "float64", FLOAT64),
            reference_s=product_ref_s + jacobian_ref_s))
        return rows

    def engine_rows(self, check: CheckSpec, function: CompiledFunction, kind: str, derived: np.ndarray,
                    symbolic_s: float) -> list[Result]:
        from verify.engines.autograd import ModeUnsupportedError, resolve_device

        torch_kind = _TORCH_KIND.get(kind, kind)
        if kind == "value":
            modes: tuple[str, ...] = ("value",)
        elif kind == "hessian":
            # both: a backward that is not itself differentiable shows only in rev-over-rev
            outer = self.modes_for(function)
            modes = tuple(f"{m}-over-rev" for m in ("fwd", "rev") if m in outer)
        else:
            modes = self.modes_for(function)
        sample = self.sample(function)
        rows: list[Result] = []
        for dtype in self.options.dtypes or self.case.dtypes:
            tolerance = self.case.tolerance_for(dtype, check)
            certified, reference_s = self.reference(kind, derived, function, dtype, tolerance)
            reference = certified.values
            devices = self.options.devices or self.case.devices
            resolved_devices = [(d, resolve_device(d)) for d in devices]
            # `auto` and the device it resolves to are one device: one set of records
            unique = [(d, r) for i, (d, r) in enumerate(resolved_devices)
                      if r is None or r not in [q for _, q in resolved_devices[:i]]]
            for device, resolved in unique:
                for mode in modes:
                    fields = dict(dtype=dtype, device=resolved or device, mode=mode)
                    if resolved is None:
                        rows.append(self.base(check, status="skip", **fields,
                                              message=f"device {device!r} is not available on this machine"))
                        continue
                    self.progress.stage = f"computing the {kind} of {function.name} with torch ({mode}, {dtype})"
                    start = time.perf_counter()
                    try:
                        computed = self.torch.evaluate(torch_kind, function, sample.flat, dtype, resolved,
                                                       "fwd" if mode.startswith("fwd") else "rev")
                    except ModeUnsupportedError as exc:
                        rows.append(self.base(check, status="skip", **fields, message=f"{function.name}: {exc}"))
                        continue
                    except VerifyError as exc:
                        rows.append(self.base(check, status="error", **fields,
                                              message=f"{check.kind} of {function.name} [{mode}, {dtype}]: {exc}"))
                        continue
                    autograd_s = time.perf_counter() - start
                    agreement = computed.agree(reference, tolerance, certified.defined)
                    self._errors[(function.name, kind, dtype, resolved, mode)] = agreement.max_rel_err
                    notes = [] if computed.strategy == "vmap" else [computed.strategy]
                    if (function.name, {"gradient": "jacobian"}.get(kind, kind)) in self.symbolic.from_disk:
                        notes.append("derivation read from the cache (checksum and spot check passed)")
                    if agreement.excluded:
                        notes.insert(0, f"{agreement.excluded} point(s) excluded: {exclusion_text(certified)}")
                    what = f"{check.kind} of {function.name} [{mode}, {dtype}, {resolved}]"
                    status = "pass" if agreement.ok else "fail"
                    message = "" if agreement.ok else self.mismatch_message(
                        what, function, kind, agreement, sample, dtype, tolerance)
                    if agreement.points == 0:  # nothing was compared: never a silent pass
                        status = "error"
                        message = (f"{check.where}: {what}: no point to compare: all {agreement.excluded} points "
                                   f"are excluded ({exclusion_text(certified)}); choose variable domains where "
                                   f"{function.name} is defined and smooth")
                    rows.append(self.base(
                        check, status=status, **fields,
                        points=agreement.points, excluded=agreement.excluded, mismatched=agreement.mismatched,
                        max_abs_err=agreement.max_abs_err, max_rel_err=agreement.max_rel_err,
                        worst_point=sample.describe(agreement.worst_point, dtype)
                        if agreement.worst_point is not None else "",
                        evidence="; ".join(notes), message=message, rtol=tolerance.rtol, atol=tolerance.atol,
                        reference_bits=_bits(certified.reference_bits()), tolerance_ratio=agreement.max_ratio,
                        symbolic_s=symbolic_s, reference_s=reference_s, autograd_s=autograd_s))
                    symbolic_s = reference_s = 0.0  # shared costs are charged to the first row only
        return [replace(r, message=f"{r.message}; {self.diagnosis(check, function, kind, derived, r)}")
                if r.status == "fail" and kind != "value" else r for r in rows]

    def torch_error(self, check: CheckSpec, function: CompiledFunction, kind: str, derived: np.ndarray, dtype: str,
                    device: str, mode: str) -> float | None:
        """torch's largest relative error for this check in `dtype` (computed if no row has it), or None."""
        key = (function.name, kind, dtype, device, mode)
        if key not in self._errors:
            from verify.engines.autograd import ModeUnsupportedError

            torch_kind = _TORCH_KIND.get(kind, kind)
            tolerance = self.case.tolerance_for(dtype, check)
            try:
                certified, _ = self.reference(kind, derived, function, dtype, tolerance)
                computed = self.torch.evaluate(torch_kind, function, self.sample(function).flat, dtype, device,
                                               "fwd" if mode.startswith("fwd") else "rev")
            except (ModeUnsupportedError, VerifyError):
                return None
            agreement = computed.agree(certified.values, tolerance, certified.defined)
            self._errors[key] = agreement.max_rel_err
        return self._errors[key]

    def diagnosis(self, check: CheckSpec, function: CompiledFunction, kind: str, derived: np.ndarray,
                  row: Result) -> str:
        """Whether a failure looks like lost accuracy or a wrong rule: the same check in the other precision.

        Rounding error scales with the dtype's unit roundoff (2^-24 vs 2^-53); a wrong formula
        gives the same relative error in both.
        """
        other = "float32" if row.dtype == "float64" else "float64"
        self.progress.stage = f"comparing the {kind} of {function.name} in {other} to diagnose a failure"
        here = self.torch_error(check, function, kind, derived, row.dtype, row.device, row.mode)
        there = self.torch_error(check, function, kind, derived, other, row.device, row.mode)
        if here is None or there is None or not np.isfinite(here) or not np.isfinite(there):
            return "no diagnosis (the other precision could not be compared)"
        err64, err32 = (here, there) if row.dtype == "float64" else (there, here)
        figures = f"max rel err float64 {err64:.3g}, float32 {err32:.3g}"
        if err32 > 0 and err64 <= err32 * 1e-4:
            return f"error scales with precision ({figures}): inaccurate here, not a wrong rule"
        if err64 >= err32 * 1e-2:
            return f"error does not scale with precision ({figures}): looks like a wrong rule"
        return f"error partly scales with precision ({figures})"


def _stored_verdict(stored: object) -> Verdict | None:
    """A Verdict from its cached JSON form, or None unless every field has the right type."""
    if not isinstance(stored, dict) or not isinstance(stored.get("equal"), bool) \
            or not isinstance(stored.get("evidence"), str):
        return None
    example = stored.get("counterexample")
    counterexample = None
    if example is not None:
        texts = ("left_expr", "right_expr", "left_value", "right_value")
        if not (isinstance(example, dict) and isinstance(example.get("entry"), list)
                and all(isinstance(i, int) and not isinstance(i, bool) for i in example["entry"])
                and isinstance(example.get("point"), dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in example["point"].items())
                and all(isinstance(example.get(k), str) for k in texts)):
            return None
        counterexample = Counterexample(tuple(example["entry"]), dict(example["point"]),
                                        *(str(example[k]) for k in texts))
    if not stored["equal"] and counterexample is None and not stored["evidence"].startswith("undecided"):
        return None
    return Verdict(stored["equal"], f"{stored['evidence']} (cached)", counterexample)


def _constants_text(case: Case) -> str:
    return ", ".join(f"{c.name}={c.value!r}" for c in case.constants)


def _bits(bits: float) -> float:
    """Certified bits for reports: exact entries count as 4096 (the precision cap), nan stays nan."""
    return float(min(bits, CAP_BITS)) if not np.isnan(bits) else float("nan")


def _apply_xfail(rows: list[Result], reason: str) -> list[Result]:
    if any(r.status == "fail" for r in rows):
        return [replace(r, status="xfail", message=f"expected failure ({reason}): {r.message}")
                if r.status == "fail" else r for r in rows]
    return [replace(r, status="xpass", message=f"expected to fail ({reason}) but passed")
            if r.status == "pass" else r for r in rows]


def _error_row(case: Case | LoadFailure, check: str, message: str, line: int, function: str = "-") -> Result:
    tags = ",".join(case.tags)
    return Result(file=case.file, case=case.name, check=check, function=function, dtype="-", device="-",
                  mode="-", status="error", message=message, line=line, tags=tags,
                  seed=case.seed if isinstance(case, Case) else 0,
                  description=case.description if isinstance(case, Case) else "")


_DEFAULTS = RunOptions()  # a bare call: no cache, no time limit, impls run


class CaseRuns:
    """The compiled model and engines of the latest case, kept between calls of `run_case`.

    The pytest plugin runs one check per test item: with this, a case's checks share its
    compilation, derivations, certified programs and torch programs instead of each paying them.
    One case is kept at a time (items of a case run one after another), so memory stays bounded.
    """

    def __init__(self) -> None:
        self._case: Case | None = None
        self._options: RunOptions | None = None
        self._run: _CaseRun | None = None

    def get(self, case: Case, options: RunOptions) -> _CaseRun | None:
        return self._run if case is self._case and options == self._options else None

    def keep(self, case: Case, options: RunOptions, run: _CaseRun) -> None:
        self._case, self._options, self._run = case, options, run


def run_case(case: Case | LoadFailure, options: RunOptions = _DEFAULTS,
             checks: Sequence[int] | None = None, runs: CaseRuns | None = None) -> list[Result]:
    """Every result of one case (or of its `checks`, by index); errors become `error` records, never exceptions.

    The indexes are those of `checks_of(case)`: the case's own checks, or the default ones.
    `runs` keeps the compiled case for the next call with the same case and options. With
    `options.timeout_s`, a case that runs out of time gets an `error` record naming the stage
    that was running, and keeps the results it had. Whatever user code (an impl) raises,
    SystemExit and KeyboardInterrupt included, is an `error` record; only a real Ctrl-C
    (KeyboardInterrupt from SIGINT) propagates.
    """
    if isinstance(case, LoadFailure):
        return [_error_row(case, "load", case.error.render(), case.error.where.line if case.error.where else 0)]
    from verify.budget import BudgetExceededError, time_budget
    from verify.impl import from_user_code, recording_interrupts

    results: list[Result] = []
    progress = _Progress()
    try:
        with recording_interrupts(), time_budget(options.timeout_s or 0.0):
            _run_checks(case, options, checks, results, progress, runs)
    except BudgetExceededError:
        check = progress.check
        where = check.where if check is not None else case.where
        results.append(_error_row(
            case, check.kind if check is not None else "load",
            f"{where}: the case ran out of its {options.timeout_s:g} s time budget while {progress.stage}; "
            f"its remaining checks were not run (raise it with --timeout)",
            where.line, check.target if check is not None else "-"))
    except BaseException as exc:  # noqa: BLE001 - SystemExit and the like from user code, outside any check
        if not from_user_code(exc):
            raise
        results.append(_crash_row(case, progress, exc))
    return results


def _crash_row(case: Case, progress: _Progress, exc: BaseException) -> Result:
    """The error record of an exception that escaped the per-check handling."""
    from verify.impl import describe_exception

    check = progress.check
    where = check.where if check is not None else case.where
    return _error_row(case, check.kind if check is not None else "load",
                      f"{where}: the case stopped while {progress.stage}: {describe_exception(exc)}",
                      where.line, check.target if check is not None else "-")


@dataclass
class _Progress:
    """What a case is doing now, so a timeout can name the stage that ran out."""

    stage: str = "compiling the case"
    check: CheckSpec | None = None


def _impl_skip(case: Case, model: Model, check: CheckSpec) -> Result | None:
    """With --no-impl: the skip record of a check whose function is (or calls) an impl; None for other checks."""
    function = model.functions[check.target]
    names = ([function.name] if function.impl else []) + list(dict.fromkeys(c.function for c in function.impl_calls))
    if not names:
        return None
    specs = ", ".join(f"{name} ({model.functions[name].impl}, {model.functions[name].spec.impl_where})"
                      for name in names)
    return Result(file=case.file, case=case.name, check=check.kind, function=check.target, dtype="-", device="-",
                  mode="-", status="skip", line=check.where.line, seed=case.seed, tags=",".join(case.tags),
                  description=case.description,
                  message=f"{check.where}: {check.kind} of {check.target} not run: it is computed from the impl of "
                          f"{specs}, and impls are not run (--no-impl or VERIFY_NO_IMPL=1)")


def _run_checks(case: Case, options: RunOptions, checks: Sequence[int] | None, results: list[Result],
                progress: _Progress, runs: CaseRuns | None = None) -> None:
    from verify.impl import from_user_code

    try:
        kept = runs.get(case, options) if runs is not None else None
        if kept is not None:
            runner, model = kept, kept.model
            runner.progress = progress
        else:
            model = build_model(case)
            runner = _CaseRun(model, options, progress)
            if runs is not None:
                runs.keep(case, options, runner)
    except CaseError as exc:
        results.append(_error_row(case, "load", exc.render(), exc.where.line if exc.where else 0))
        return
    except (RecursionError, MemoryError) as exc:
        results.append(_error_row(case, "load", f"{case.where}: the case is too large or too deeply nested to "
                                  f"compile ({type(exc).__name__}); split it or simplify its expressions",
                                  case.where.line))
        return
    case_level: list[int] = []  # rows that the case's own xfail governs
    for index, check in enumerate(model.checks):
        if checks is not None and index not in checks:
            continue
        progress.check = check
        skipped = _impl_skip(case, model, check) if options.no_impl else None
        try:
            rows = [skipped] if skipped is not None else runner.run_check(index, check)
        except CaseError as exc:
            rows = [_error_row(case, check.kind, exc.render(), check.where.line, check.target)]
        except BaseException as exc:  # noqa: BLE001 - one broken check must not stop the run, sys.exit() included
            if not from_user_code(exc):
                raise
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            rows = [_error_row(case, check.kind, f"{check.where}: {check.kind} of {check.target} "
                               f"could not run: {detail}", check.where.line, check.target)]
        if check.xfail:
            rows = _apply_xfail(rows, check.xfail)
        else:
            case_level.extend(range(len(results), len(results) + len(rows)))
        results.extend(rows)
    if case.xfail and case_level:
        governed = _apply_xfail([results[i] for i in case_level], case.xfail)
        for i, row in zip(case_level, governed):
            results[i] = row


@dataclass
class Collected:
    """The cases found under the paths, in order, the paths that did not exist, and the YAML files skipped
    because they do not look like cases (see `verify.case.find_cases`)."""

    cases: list[Case | LoadFailure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def collect(paths: Sequence[str], keyword: str | None = None, timeout_s: float | None = None) -> Collected:
    """Loads every case under `paths`; `keyword` selects cases as pytest's -k does.

    Each file is loaded within `timeout_s` (the case budget): a file that takes longer, or
    fails to load in any way, becomes a `load` failure, never an exception.
    """
    from verify.case import find_cases
    from verify.keyword import matches

    found = find_cases(list(paths))
    out = Collected(missing=found.missing, skipped=[_display_path(p) for p in found.skipped])
    for file in found.files:
        display = _display_path(file)
        for case in _load_within(file, display, timeout_s):
            if keyword is None or matches(keyword, [case.id, *case.tags]):
                out.cases.append(case)
    return out


def _load_within(file: Path, display: str, timeout_s: float | None) -> list[Case | LoadFailure]:
    from verify.budget import BudgetExceededError, time_budget
    from verify.errors import Location

    try:
        with time_budget(timeout_s or 0.0):
            return load_file(file, display)
    except BudgetExceededError:
        message = (f"loading the file took more than its {timeout_s:g} s time budget",
                   "case files are small; split the file (or raise --timeout)")
    except (RecursionError, MemoryError) as exc:
        message = (f"the file is too large or nests too deeply to load ({type(exc).__name__})",
                   "case files are small and nest a few levels")
    return [LoadFailure(display, file.stem, CaseError(Location(display, 1), *message))]


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


OnCase = Callable[[Case | LoadFailure, list[Result], float], None]
OnStart = Callable[[Case | LoadFailure], None]


def run_paths(cases: Sequence[Case | LoadFailure], options: RunOptions = _DEFAULTS,
              on_case: OnCase | None = None, on_start: OnStart | None = None) -> Iterator[Result]:
    """Runs `cases` in order, calling `on_start` before and `on_case` after each; yields every result."""
    for case in cases:
        if on_start is not None:
            on_start(case)
        start = time.perf_counter()
        results = run_case(case, options)
        if on_case is not None:
            on_case(case, results, time.perf_counter() - start)
        yield from results


class _CallableModule(types.ModuleType):
    """This module, callable: `verify.run(paths, **options)` is the Python API's `run` (see verify.api).

    The package exports a function `run`, and `import verify.run` binds the package attribute
    `run` to this submodule; making the submodule callable keeps both working in any import order.
    """

    def __call__(self, paths: Any, **options: Any) -> Any:
        from verify.api import run

        return run(paths, **options)


sys.modules[__name__].__class__ = _CallableModule
