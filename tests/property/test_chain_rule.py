"""Property 3: the chain rule. For generated G(x, y) (two outputs) and F(u, v) (one or two outputs),
generated for the range G covers, H = F(G(x, y)): the product of stage Jacobians equals J_H
(decide_equal), and run_case with `chain_rule: H` passes in every row (symbolic, numeric, rev, fwd).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings

from verify.engines.symbolic import SymbolicEngine
from verify.model import build_model
from verify.proof import decide_equal
from verify.run import RunOptions

from .strategies import BOX, GeneratedChain, chain_cases
from .support import problems

OPTIONS = RunOptions()  # the default proof budget: a generated proof rarely needs more than 3 s


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(generated=chain_cases())
def test_chain_product_equals_jacobian(generated: GeneratedChain, run_generated: Callable[..., tuple]) -> None:
    case, rows = run_generated(generated.yaml, OPTIONS)
    model = build_model(case)
    h = model.functions["H"]
    assert h.call_tree is not None, "H = F(G(x, y)) is not seen as a composition"
    engine = SymbolicEngine(model)
    product, jacobian = engine.chain_product(h), engine.jacobian(h)
    assert product.shape == jacobian.shape == (len(generated.outer), 2)
    verdict = decide_equal(product, jacobian, h.flat_symbols, {s: BOX for s in h.flat_symbols})
    assert verdict.equal, f"chain product != J_H: {verdict}"

    assert not problems(rows), "\n".join(problems(rows))
    assert rows and all(r.status == "pass" for r in rows), rows
    modes = {r.mode for r in rows}
    assert {"symbolic", "numeric", "rev", "fwd"} <= modes, modes
