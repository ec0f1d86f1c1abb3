"""Property-based tests (Hypothesis): generated expressions and case files against verify's invariants."""
