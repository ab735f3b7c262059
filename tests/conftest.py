"""Shared pytest configuration.

Its presence also puts ``tests/`` on ``sys.path`` (pytest's default ``prepend`` import mode), so
test modules can import plain helper modules such as ``helpers_science``.
"""
