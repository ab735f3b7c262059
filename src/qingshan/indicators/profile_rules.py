"""Vocabulary of profile rules (``[[rules]]`` in a profile TOML), checked when a profile is loaded.

The rules are applied by :mod:`qingshan.engine.rules`; see there for their meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qingshan.core.errors import ConfigError

__all__ = ["RULE_IDS", "SHARE_ITEM", "check_rules", "rule_items"]

SHARE_ITEM = "out_of_region_share.{indicator}"
"""Statistics item: share [1] of an indicator's quantity in a region that originates outside it (区域外扣减)."""
RULE_IDS = ("out_of_region_deduction",)
_MISSING = ("notice", "error")


def check_rules(rules: tuple[Mapping[str, Any], ...], indicator_ids: list[str], path: str | None = None) -> None:
    """Reject an unknown rule, an indicator not in the profile, or a bad ``missing`` policy."""
    for r in rules:
        rid = str(r.get("id", ""))
        if rid not in RULE_IDS:
            raise ConfigError(
                f"Unknown profile rule '{rid}'", f"未知的方法配置规则 '{rid}'", file=path, field="rules.id",
                fix=f"Known rules: {', '.join(RULE_IDS)}.", fix_zh=f"可用规则：{', '.join(RULE_IDS)}。",
            )
        unknown = [i for i in r.get("indicators", []) if i not in indicator_ids]
        if unknown or not r.get("indicators"):
            raise ConfigError(
                f"Rule '{rid}' names indicators not in the profile: {unknown or '(none given)'}",
                f"规则 '{rid}' 的指标不在方法配置中：{unknown or '（未给出）'}", file=path, field="rules.indicators",
                fix="List indicators of this profile under indicators = [...].", fix_zh="请列出本方法配置中的指标。",
            )
        if str(r.get("missing", "notice")) not in _MISSING:
            raise ConfigError(
                f"Rule '{rid}': missing = '{r.get('missing')}' is not one of {', '.join(_MISSING)}",
                f"规则 '{rid}'：missing 应为 {', '.join(_MISSING)} 之一", file=path, field="rules.missing",
                fix="Use missing = \"notice\" or \"error\".", fix_zh="请使用 missing = \"notice\" 或 \"error\"。",
            )


def rule_items(rules: tuple[Mapping[str, Any], ...]) -> set[str]:
    """Statistics items the ``rules`` read."""
    return {SHARE_ITEM.format(indicator=i) for r in rules if r.get("id") == "out_of_region_deduction"
            for i in r.get("indicators", [])}
