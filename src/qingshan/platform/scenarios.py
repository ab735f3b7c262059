"""Scenario jobs on the platform: an accountant asks for a scenario of a stored run; a worker runs it.

A request names the base run, the parameters it changes and the raster inputs it replaces. Rasters
are not uploaded with the request: they are files the platform already keeps, named by file name in
``<data dir>/scenario-inputs/`` (placed there by an administrator, e.g. a planned land cover), so a
request can never point at another path of the server. The request is checked at once (base run,
parameter keys, input names and files) and queued as a job of kind ``scenario``;
:func:`qingshan.platform.jobs.execute` runs it with :func:`qingshan.use.scenario.run_scenario`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.core.variables import VARIABLES
from qingshan.platform.accounts import Principal
from qingshan.platform.audit import record
from qingshan.store.artifacts import find_data_dir
from qingshan.store.platform_models import Job

__all__ = ["INPUTS_FOLDER", "execute_scenario", "request_scenario", "scenario_inputs_dir"]

INPUTS_FOLDER = "scenario-inputs"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,120}$")


def scenario_inputs_dir(store_url: str) -> Path | None:
    """``<data dir>/scenario-inputs`` of a store (None when the store has no known data dir)."""
    data_dir = find_data_dir(store_url)
    return None if data_dir is None else data_dir / INPUTS_FOLDER


def _input_path(folder: Path | None, name: str, file_name: str) -> Path:
    if name not in VARIABLES:
        raise InputError(f"Unknown input name '{name}'", f"未知的输入名称 '{name}'", field=f"inputs.{name}",
                         fix=f"Known inputs: {', '.join(sorted(VARIABLES))}.", fix_zh=f"可用输入：{', '.join(sorted(VARIABLES))}。")
    path = None if folder is None or not _PLAIN_NAME.match(file_name) else folder / file_name
    if path is None or not path.is_file():
        raise InputError(
            f"Scenario input '{name}': no file '{file_name}' in the platform's scenario inputs",
            f"情景输入 '{name}'：平台情景输入目录中没有文件 '{file_name}'",
            field=f"inputs.{name}",
            fix=f"Give the plain name of a raster an administrator placed in <data dir>/{INPUTS_FOLDER}/.",
            fix_zh=f"请给出管理员放入 <数据目录>/{INPUTS_FOLDER}/ 的栅格文件名（不含路径）。",
        )
    return path


def request_scenario(factory: sessionmaker[Session], principal: Principal, *, store_url: str, base_run: str,
                     name: str | None, parameters: Mapping[str, float], inputs: Mapping[str, str],
                     recompute: list[str]) -> dict[str, Any]:
    """Check a scenario request and queue it as a job (kind ``scenario``); the job as a dict."""
    from qingshan.platform.jobs import _job_dict, _now
    from qingshan.use.runs import load_run

    run, _, _ = load_run(factory, base_run)  # a succeeded run, else a bilingual InputError
    used = (run.provenance or {}).get("parameters") or {}
    for key in parameters:
        if key not in used:
            raise InputError(f"Parameter '{key}' is not a parameter of base run '{base_run}'",
                             f"参数 '{key}' 不是基准核算 '{base_run}' 使用的参数", field=f"parameters.{key}",
                             fix="Use a key of the base run's parameter table (its provenance lists them).",
                             fix_zh="请使用基准核算参数表中的参数键（见其溯源信息）。")
    folder = scenario_inputs_dir(store_url)
    paths = {n: str(_input_path(folder, n, f)) for n, f in inputs.items()}
    params = {"base_run": base_run, "name": name or f"Scenario of {run.name} 情景", "parameters": dict(parameters),
              "inputs": paths, "input_names": dict(inputs), "recompute": list(recompute)}
    job = Job(id=str(uuid.uuid4()), kind="scenario", status="queued", params=params,
              requested_by=principal.username, progress=0.0, step="queued", created_at=_now())
    with factory.begin() as s:
        s.add(job)
        record(s, principal.actor, "scenario.request", "job", job.id,
               {"base_run": base_run, "parameters": sorted(parameters), "inputs": dict(inputs)})
    return _job_dict(job)


def execute_scenario(factory: sessionmaker[Session], job: Mapping[str, Any], *, store_url: str, workdir: Path,
                     progress: Callable[[str, float], None]) -> str:
    """Run a scenario job; the id of the scenario run."""
    from qingshan.use.scenario import ScenarioSpec, run_scenario

    p = job["params"]
    spec = ScenarioSpec.model_validate({"scenario": {"base": p["base_run"], "name": p["name"], "recompute": p["recompute"]},
                                        "inputs": p["inputs"], "parameters": p["parameters"]})
    return run_scenario(factory, store_url, p["base_run"], spec, output=workdir / "run", progress=progress).run_id
