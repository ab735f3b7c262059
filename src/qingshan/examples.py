"""Locating the embedded examples that ship with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["example_config"]


def example_config(name: str = "jiangxi") -> Path:
    """Path of the run config of an embedded example."""
    return Path(str(resources.files("qingshan.data") / "examples" / name / f"{name}-2019.toml"))
