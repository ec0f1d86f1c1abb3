"""Engines compute values and derivatives at points: `reference` exactly from SymPy, `autograd` with torch.

Both answer the same question, `evaluate(quantity, points)`, and return arrays of shape
(points, *quantity shape), so the comparator never needs to know which engine it is reading.
"""
