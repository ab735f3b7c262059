"""Qingshan 青山 — Gross Ecosystem Product (GEP, 生态产品总值) accounting.

The public API is small: :func:`qingshan.indicators.registry` lists the indicator catalogue,
:func:`qingshan.engine.run.account` runs an accounting from a config, and
:func:`qingshan.engine.value.value_quantities` values externally computed physical quantities.
Nothing heavy is imported here.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
