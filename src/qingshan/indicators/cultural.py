"""Cultural services (文化服务): declarations only."""

from __future__ import annotations

from qingshan.core.spec import IndicatorSpec

__all__ = ["SPECS"]

SPECS: tuple[IndicatorSpec, ...] = ()
