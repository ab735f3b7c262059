"""Quantity functions: compute an indicator's per-cell physical quantities with declared units.

A raster quantity function has the signature ``fn(inputs, params, grid) -> {component: array}``:
``inputs`` maps canonical variable names to aligned float arrays (NaN = nodata) and always holds
``lulc``; it returns, per component, the annual quantity *per cell* in the component's unit.
Densities become per-cell totals only through :func:`qingshan.quantities.base.per_cell`, which
checks the units.
"""
