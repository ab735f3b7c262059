"""Valuation: price tables, deflators, and quantity × price with unit checks."""
