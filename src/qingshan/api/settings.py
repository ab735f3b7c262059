"""Settings of the web service: a frozen, typed object read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from qingshan.core.limits import Limits

__all__ = ["DEFAULT_STORE_URL", "Settings"]

DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"


class Settings(BaseModel):
    """Configuration of :func:`qingshan.api.app.create_app`.

    Read from the environment with :meth:`from_env` (``QINGSHAN_STORE_URL``,
    ``QINGSHAN_BASE_CONFIG``: the run configs accountings may name as their base, separated by
    ``os.pathsep``; ``QINGSHAN_SECURE_COOKIES``, ``QINGSHAN_SESSION_IDLE_MINUTES``,
    ``QINGSHAN_SESSION_HOURS``, ``QINGSHAN_TRUSTED_ORIGINS``); tests build it
    directly, e.g. ``Settings(store_url="sqlite:////tmp/test.sqlite")``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_url: str = Field(DEFAULT_STORE_URL, description="SQLAlchemy URL of the results store")
    title: str = Field("Qingshan 青山 GEP results", description="Title of the OpenAPI document")
    base_config: str | None = Field(None, description="Run config (TOML) whose boundaries the reporting forms list "
                                    "(default: the embedded Jiangxi example); the first of base_configs")
    base_configs: tuple[str, ...] = Field((), description="Run configs (TOML) an accounting may name as its base "
                                          "(`config:<file stem>` or the path), besides `example:jiangxi-2019`")
    secure_cookies: bool = Field(False, description="Send the session cookie only over HTTPS")
    published_cache_seconds: float = Field(1.0, ge=0, description="How long a worker process trusts its copy of "
                                           "the set of published runs (a withdrawal made by another process "
                                           "reaches it within this time; 0: check every request); see "
                                           "qingshan.api.cache")
    session_idle_minutes: float = Field(60, gt=0, description="A session unused this long ends (minutes)")
    session_absolute_hours: float = Field(12, gt=0, description="A session ends this long after login (hours)")
    trusted_origins: tuple[str, ...] = Field((), description="Origins besides the served host allowed to send "
                                             "cookie-authenticated unsafe requests (e.g. https://gep.example.gov.cn "
                                             "behind a proxy that rewrites Host)")
    limits: Limits = Field(default_factory=Limits.from_env, description="Size limits of requests and uploads "
                           "(qingshan.core.limits; QINGSHAN_LIMIT_* variables)")
    parcel_max_km2: float = Field(10_000.0, gt=0, description="Largest parcel valued on request [km2] "
                                  "(QINGSHAN_PARCEL_MAX_KM2)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``QINGSHAN_STORE_URL`` (default ``sqlite:///out/qingshan.sqlite``)."""
        env = os.environ if environ is None else environ
        bases = tuple(p for p in env.get("QINGSHAN_BASE_CONFIG", "").split(os.pathsep) if p)
        return cls(store_url=env.get("QINGSHAN_STORE_URL", DEFAULT_STORE_URL),
                   base_config=bases[0] if bases else None, base_configs=bases,
                   secure_cookies=env.get("QINGSHAN_SECURE_COOKIES", "") in {"1", "true", "yes"},
                   limits=Limits.from_env(env),
                   parcel_max_km2=float(env.get("QINGSHAN_PARCEL_MAX_KM2") or 10_000.0),
                   published_cache_seconds=float(env.get("QINGSHAN_PUBLISHED_CACHE_SECONDS") or 1.0),
                   **_session_env(env))


def _session_env(env: Mapping[str, str]) -> dict[str, object]:
    """Session lifetimes and trusted origins from ``QINGSHAN_SESSION_IDLE_MINUTES``,
    ``QINGSHAN_SESSION_HOURS`` and ``QINGSHAN_TRUSTED_ORIGINS`` (comma-separated), when set."""
    out: dict[str, object] = {}
    if env.get("QINGSHAN_SESSION_IDLE_MINUTES"):
        out["session_idle_minutes"] = float(env["QINGSHAN_SESSION_IDLE_MINUTES"])
    if env.get("QINGSHAN_SESSION_HOURS"):
        out["session_absolute_hours"] = float(env["QINGSHAN_SESSION_HOURS"])
    if env.get("QINGSHAN_TRUSTED_ORIGINS"):
        out["trusted_origins"] = tuple(o.strip().rstrip("/") for o in env["QINGSHAN_TRUSTED_ORIGINS"].split(",")
                                       if o.strip())
    return out
