"""Registry of indicator specs and method profiles."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qingshan.core.errors import ConfigError, UnknownIndicatorError
from qingshan.core.spec import Category, IndicatorSpec
from qingshan.indicators.profile_rules import check_rules

__all__ = ["Profile", "ProfileEntry", "Registry"]


@dataclass(frozen=True)
class ProfileEntry:
    """One indicator of a profile, with the method chosen for it.

    ``optional``: the indicator applies only where its data exist (e.g. coastal protection); a run
    without its data reports it as "not computed: no data" in the QC report instead of failing.
    """

    indicator: str
    method: str | None = None
    certainty: str | None = None  # how sure we are the profile's standard lists it (V, R, ...), when given
    optional: bool = False


@dataclass(frozen=True)
class Profile:
    """A method profile: which indicators are accounted, by which method, with which options."""

    id: str
    name_zh: str
    name_en: str
    status: str
    description: str
    entries: tuple[ProfileEntry, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    rules: tuple[Mapping[str, Any], ...] = ()  # [[rules]] tables, e.g. out_of_region_deduction (engine/rules.py)

    @classmethod
    def from_toml(cls, path: str | Path) -> Profile:
        """Read a profile file (see ``src/qingshan/data/profiles``)."""
        import tomllib

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"Profile {path} is not a UTF-8 text (TOML) file",
                f"方法配置 {path} 不是 UTF-8 文本（TOML）文件",
                file=path,
                field="profile",
                fix="Give a built-in profile id or the path of a profile .toml saved as UTF-8 (see src/qingshan/data/profiles).",
                fix_zh="请给出内置方法配置名称，或以 UTF-8 保存的方法配置 .toml 文件路径（参见 src/qingshan/data/profiles）。",
            ) from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"Cannot read profile {path}: {exc}",
                f"无法读取方法配置 {path}",
                file=path,
                field="profile",
                fix="Check the TOML syntax.",
                fix_zh="请检查 TOML 语法。",
            ) from exc
        indicators = data.get("indicators", [])
        if "id" not in data or not isinstance(indicators, list) or not all(isinstance(e, dict) and "id" in e for e in indicators):
            raise ConfigError(
                f"{path.name} is not a method profile: it needs 'id' and [[indicators]] tables each with an 'id'",
                f"{path.name} 不是方法配置文件：需要 'id' 以及每项都带 'id' 的 [[indicators]] 表",
                file=path,
                field="id" if "id" not in data else "indicators",
                fix="Give a built-in profile id, or a profile file laid out like those in src/qingshan/data/profiles.",
                fix_zh="请给出内置方法配置名称，或按 src/qingshan/data/profiles 中的格式编写方法配置文件。",
            )
        entries = tuple(ProfileEntry(e["id"], e.get("method"), certainty=e.get("certainty"),
                                     optional=bool(e.get("optional", False))) for e in indicators)
        return cls(
            id=data["id"],
            name_zh=data.get("name_zh", ""),
            name_en=data.get("name_en", ""),
            status=data.get("status", ""),
            description=data.get("description", ""),
            entries=entries,
            options=data.get("options", {}),
            rules=tuple(data.get("rules", [])),
        )

    @property
    def indicator_ids(self) -> list[str]:
        """Ids of the profile's indicators, in order."""
        return [e.indicator for e in self.entries]

    def method_of(self, indicator: str) -> str | None:
        """The method the profile selects for ``indicator`` (None = the indicator's default)."""
        for e in self.entries:
            if e.indicator == indicator:
                return e.method
        return None


@dataclass(frozen=True)
class Registry:
    """Immutable mapping of indicator id → spec, plus the built-in profiles."""

    specs: Mapping[str, IndicatorSpec]

    @classmethod
    def from_specs(cls, specs: Iterable[IndicatorSpec]) -> Registry:
        """Build a registry; duplicate ids are a programming error."""
        out: dict[str, IndicatorSpec] = {}
        for s in specs:
            if s.id in out:
                raise ValueError(f"duplicate indicator id {s.id}")
            out[s.id] = s
        return cls(specs=out)

    def __iter__(self) -> Iterator[IndicatorSpec]:
        return iter(self.specs.values())

    def __len__(self) -> int:
        return len(self.specs)

    def get(self, indicator_id: str) -> IndicatorSpec:
        """Spec by id or Chinese name/alias."""
        if indicator_id in self.specs:
            return self.specs[indicator_id]
        for s in self.specs.values():
            if indicator_id == s.name_zh or indicator_id in s.aliases_zh:
                return s
        raise UnknownIndicatorError(
            f"Unknown indicator '{indicator_id}'",
            f"未知指标 '{indicator_id}'",
            field="indicator",
            fix="Run `qingshan indicators` to list the ids.",
            fix_zh="运行 `qingshan indicators` 查看全部指标。",
        )

    def by_category(self, category: Category) -> list[IndicatorSpec]:
        """Specs of one class, in catalogue order."""
        return [s for s in self.specs.values() if s.category == category]

    def profile_ids(self) -> list[str]:
        """Ids of the built-in profiles."""
        # imported here, not at start-up: `qingshan compute` reads no profile
        from importlib import resources

        root = resources.files("qingshan.data") / "profiles"
        return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))

    def profile(self, profile_id: str) -> Profile:
        """A built-in profile by id, or a profile file by path; every entry is checked."""
        from importlib import resources

        path = Path(profile_id)
        if not path.is_file():
            res = resources.files("qingshan.data") / "profiles" / f"{profile_id}.toml"
            if not res.is_file():
                raise UnknownIndicatorError(
                    f"Unknown profile '{profile_id}'",
                    f"未知方法配置 '{profile_id}'",
                    field="profile",
                    fix=f"Built-in profiles: {', '.join(self.profile_ids())}; or give a path to a profile TOML.",
                    fix_zh=f"内置方法配置：{', '.join(self.profile_ids())}；或给出配置文件路径。",
                )
            path = Path(str(res))
        prof = Profile.from_toml(path)
        for e in prof.entries:
            self.get(e.indicator).method(e.method)
        check_rules(prof.rules, prof.indicator_ids, str(path))
        return prof
