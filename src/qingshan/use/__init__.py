"""Uses of stored runs (推动结果应用): change analysis, eco-compensation, reports.

A layer above the engine: it reads finished runs through :mod:`qingshan.store.repo` (or takes their
result cubes as DataFrames) and never computes a physical quantity itself; the CLI and the API are
thin over it.
"""
