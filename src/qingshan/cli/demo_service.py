"""After the demo run: publish it and create demo accounts, so `qingshan serve` shows it at once."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DEMO_ACCOUNTS", "DemoAccount", "load_into_service"]

DEMO_PASSWORD = "qingshan-demo-2019"  # printed by `make demo`; a local demo store only


@dataclass(frozen=True)
class DemoAccount:
    """A demo login with its role and scope."""

    username: str
    role: str
    regions: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()


DEMO_ACCOUNTS = (
    DemoAccount("demo-admin", "admin"),
    DemoAccount("demo-accountant", "accountant"),
    DemoAccount("demo-reviewer", "reviewer"),
    DemoAccount("demo-submitter", "submitter", regions=("360000",), forms=("products", "water", "emissions", "reservoirs", "tourism", "rasters")),
)


def load_into_service(factory: sessionmaker[Session], run_id: str) -> list[DemoAccount]:
    """Approve and publish ``run_id`` and create the demo accounts that do not exist yet.

    The demo run is a CLI run (no job, so no requester): the loader approves and publishes it as the
    system actor ``demo`` and acknowledges its QC report on the operator's behalf (the documented
    system path; web approvals need a second person and an explicit acknowledgement).
    """
    from qingshan.platform.accounts import create_user, list_users
    from qingshan.platform.audit import Actor
    from qingshan.platform.errors import ConflictError
    from qingshan.platform.forms import form_groups
    from qingshan.platform.jobs import publish_run

    actor = Actor(None, "demo")
    publish_run(factory, actor, run_id, acknowledge_qc=True)
    existing = {u.username for u in list_users(factory)}
    groups = set(form_groups())
    for acc in DEMO_ACCOUNTS:
        if acc.username not in existing:
            forms = [f for f in acc.forms if f in groups] or (sorted(groups) if acc.role == "submitter" else [])
            with suppress(ConflictError):  # another `qingshan demo` into this store made it meanwhile: as if it existed
                create_user(factory, acc.username, DEMO_PASSWORD, acc.role, regions=acc.regions, forms=forms,
                            actor=actor)
    return list(DEMO_ACCOUNTS)
