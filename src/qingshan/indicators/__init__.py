"""The indicator catalogue (declarations only) and the method profiles that select from it.

>>> from qingshan.indicators import registry
>>> registry().get("water_conservation").name_zh
'水源涵养'
"""

from __future__ import annotations

from functools import lru_cache

from qingshan.indicators.registry import Profile, Registry

__all__ = ["Profile", "Registry", "registry"]


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The default registry: every built-in indicator and profile (built once, immutable)."""
    from qingshan.indicators import cultural, provisioning, regulating

    return Registry.from_specs([*provisioning.SPECS, *regulating.SPECS, *cultural.SPECS])
