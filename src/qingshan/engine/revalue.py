"""``revalue``: a stored run at new prices, deflator or base year, without recomputing any quantity.

    parent (succeeded, sealed) → its results.csv (SHA-256 checked) → leaf rows → value (the value step of
    ``account``: :func:`qingshan.engine.valuation.value_rows`) → roll up → record a NEW run (``parent_run_id``)
    → sealed artifacts → store

The parent is never changed. The child has its own content hash: SHA-256 of the parent's content hash, the
bytes of the new price / deflator / parameter tables, the base year and year policy, and the code.

Quantities are the parent's, leaf row for leaf row (same order, so ancestors are the same sums). A parameter
that a quantity method of the parent run reads changes quantities: a changed value is refused
(:class:`QuantityParameterError`, run ``qingshan account``). Parameters no method of the run reads are
recorded as such.

Artifacts of the child, sealed at creation: ``results.csv``, ``provenance.json``, ``qc_report.json/.md``; the
parent's per-cell quantity rasters and land-cover inputs are hard links (same bytes, same SHA-256: per-cell
*quantities* do not depend on prices; per-cell *values* are not recomputed — parcel valuation prices the
quantities at the child's regional prices). The workbook and the GeoPackage are written **on demand**
(:data:`ON_DEMAND`, :func:`ensure_export`): the first request builds the file, adds it to the sealed folder
read-only and records its SHA-256 in the manifest; later requests serve that file. Publishing a revalued run
builds all of them first (:func:`complete_exports`): a published run's manifest never grows.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from qingshan import __version__
from qingshan.core.errors import ConfigError, InputError, QingshanError
from qingshan.core.params import ParameterTable, file_sha256
from qingshan.engine.valuation import roll_up_valued, value_rows
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from qingshan.aggregate.regions import RegionSet
    from qingshan.store.run_writer import RunWriter

__all__ = ["ON_DEMAND", "QuantityParameterError", "RevalueOutcome", "complete_exports", "ensure_export", "quantity_parameters", "revalue"]

ON_DEMAND = ("gep_accounts.xlsx", "regions.gpkg", "qc_report.md")
"""Exports of a revalued run written on the first request (:func:`ensure_export`), not at revaluation."""

LINKED = ("rasters/", "inputs/")
"""Parent artifacts a child shares byte for byte (hard links): per-cell quantities and land-cover inputs."""

_LEAF = ["region_code", "year", "indicator", "component", "ecosystem", "quantity", "unit"]


class QuantityParameterError(ConfigError):
    """A parameter that changes physical quantities cannot be applied by revaluation."""

    code = "quantity_parameter"


class ParentNotFoundError(InputError, LookupError):
    """No run of that id in the store (HTTP 404)."""

    code = "run_not_found"


class ParentNotReadyError(InputError):
    """The parent run has not succeeded: it has no results to revalue."""

    code = "run_not_ready"


@dataclass
class RevalueOutcome:
    """What a revaluation produced."""

    run_id: str
    parent_id: str
    results: pd.DataFrame
    provenance: dict[str, Any]
    artifacts_dir: Path
    files: list[Path]
    roots: list[str]


# ----------------------------------------------------------------------------- the parent
def _parent(store: RunWriter, run_id: str) -> Any:
    """The run ``run_id`` (with the attributes of ``models.Run``), succeeded, else a bilingual error."""
    run = store.get_run(run_id)
    if run is None:
        raise ParentNotFoundError(
            f"No run '{run_id}' in the results store", f"结果库中没有核算记录 '{run_id}'", field="run_id",
            fix="List the runs with `qingshan runs` (or GET /api/runs) and give the id of a succeeded run.",
            fix_zh="请用 `qingshan runs`（或 GET /api/runs）查看核算记录，并给出一条已成功核算的编号。")
    if run.status != "succeeded":
        raise ParentNotReadyError(
            f"Run '{run_id}' is {run.status}: only a succeeded run can be revalued",
            f"核算记录 '{run_id}' 的状态为 {run.status}：只有已成功的核算才能重新计价", field="run_id",
            fix="Revalue a succeeded run, or run the accounting again with `qingshan account`.",
            fix_zh="请对已成功的核算重新计价，或用 `qingshan account` 重新核算。")
    return run


@dataclass(frozen=True)
class Hierarchy:
    """A run's regions from the store: code → (name, level, parent). Roll-up and names need no polygons."""

    regions: dict[str, tuple[str, str, str | None]]

    @property
    def leaves(self) -> list[str]:
        """Codes that are nobody's parent."""
        parents = {p for _, _, p in self.regions.values()}
        return [c for c in self.regions if c not in parents]

    def roots(self) -> list[str]:
        """Codes without a parent, sorted."""
        return sorted(c for c, (_, _, p) in self.regions.items() if p is None)

    def ancestors(self, code: str) -> list[str]:
        """Ancestors of ``code``, nearest first (none for a code not in the run)."""
        out: list[str] = []
        parent = self.regions[code][2] if code in self.regions else None
        while parent is not None:
            out.append(parent)
            parent = self.regions[parent][2]
        return out


def _region_set(rows: list[dict[str, Any]]) -> tuple[Hierarchy, list[dict[str, Any]]]:
    """A run's hierarchy and its region rows (:func:`qingshan.store.repo.region_records`, with geometry)."""
    return Hierarchy({str(r["code"]): (str(r["name"]), str(r["level"]), None if r["parent"] is None else str(r["parent"]))
                      for r in rows}), rows


def _leaf_rows(folder: Path, manifest: list[dict[str, Any]], regions: Hierarchy, run_id: str) -> pd.DataFrame:
    """The parent's leaf quantity rows, from its sealed ``results.csv`` (SHA-256 checked against the manifest)."""
    entry = next((e for e in manifest if e["name"] == "results.csv"), None)
    path = folder / "results.csv"
    if entry is None or not path.is_file() or file_sha256(path) != entry["sha256"]:
        raise InputError(
            f"The results table of run '{run_id}' is missing or does not match its recorded SHA-256",
            f"核算记录 '{run_id}' 的结果表缺失或与记录的 SHA-256 不符", field="results.csv",
            fix="Restore the run's data dir (`qingshan restore`), or run the accounting again.",
            fix_zh="请恢复该核算的数据目录（`qingshan restore`），或重新核算。")
    df = pd.read_csv(path, dtype={"region_code": str, "component": str, "ecosystem": str, "unit": str},
                     usecols=_LEAF, encoding="utf-8-sig")
    return df[df["region_code"].isin(set(regions.leaves))].reset_index(drop=True)


# ----------------------------------------------------------------------------- parameters
def quantity_parameters(methods: Mapping[str, str]) -> dict[str, list[str]]:
    """Scalar parameter key → the ``indicator/method`` of the run that read it to compute quantities."""
    reg = registry()
    out: dict[str, list[str]] = {}
    for ind, mid in methods.items():
        for ref in reg.get(ind).method(mid).params:
            if not ref.per_class:
                out.setdefault(ref.key, []).append(f"{ind}/{mid}")
    return out


def _check_params(path: Path | None, parent_prov: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Parameters after revaluation and the keys of the file no quantity method reads; a changed value of a
    quantity parameter is refused."""
    params = {k: dict(v) for k, v in (parent_prov.get("parameters") or {}).items()}
    if path is None:
        return params, []
    table = ParameterTable.from_csv(path)
    used = quantity_parameters(parent_prov.get("methods") or {})
    inert = []
    for key, p in sorted(table.params.items()):
        old = params.get(key)
        if key in used:
            same = old is not None and str(old.get("unit")) == str(p.unit) and float(old["value"]) == float(p.value)
            if not same:
                was = f"{old['value']} {old.get('unit')}" if old else "not set"
                raise QuantityParameterError(
                    f"Parameter '{key}' ({was} → {p.value} {p.unit}) changes physical quantities (read by "
                    f"{', '.join(used[key])}): revaluation cannot apply it",
                    f"参数 '{key}'（{was} → {p.value} {p.unit}）会改变实物量（{'、'.join(used[key])} 使用该参数），"
                    "重新计价不能应用此参数",
                    file=path, field=key,
                    fix="Run the accounting again with `qingshan account` (set the parameter in the config's "
                        "parameter table), or leave it out of --params.",
                    fix_zh="请用 `qingshan account` 重新核算（在配置的参数表中设置该参数），或从 --params 中去掉该参数。")
            continue
        inert.append(key)
        params[key] = {"value": p.value, "unit": p.unit, "source": p.source, "certainty": p.certainty}
    return params, inert


# ----------------------------------------------------------------------------- deflator
def _parent_deflator(parent: Any) -> tuple[Deflator | None, str | None]:
    """The parent's deflator table, read from its recorded path if its bytes still match the recorded SHA-256."""
    path = ((parent.config or {}).get("tables") or {}).get("deflator")
    if not path:
        return None, None
    want = (parent.provenance or {}).get("input_hashes", {}).get(str(path))
    if Path(path).is_file() and (want is None or file_sha256(path) == want):
        return Deflator.from_csv(path), file_sha256(path)
    raise InputError(
        f"Run '{parent.id}' used a deflator table that is no longer available unchanged ({Path(path).name})",
        f"核算记录 '{parent.id}' 使用的价格指数表已不存在或已被修改（{Path(path).name}）", field="deflator",
        fix="Give the deflator table with --deflator (columns year,index,source).",
        fix_zh="请用 --deflator 提供价格指数表（列：year,index,source）。")


# ----------------------------------------------------------------------------- revalue
def _sha(path: Path | None) -> str | None:
    return file_sha256(path) if path is not None else None


def revalue_hash(parent_hash: str | None, prices: Path, deflator_sha: str | None, params: Path | None,
                 base_year: int, year_policy: str) -> str:
    """Content hash of a revaluation: parent hash + new table bytes + base year, policy + code."""
    from qingshan.core.codeversion import code_version

    code = code_version()
    payload = {"parent": parent_hash, "prices": file_sha256(prices), "deflator": deflator_sha,
               "parameters": _sha(params), "base_year": base_year, "year_policy": year_policy,
               "code": [code["version"], code["sources_sha256"]]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def revalue(store_url: str, run_id: str, *, prices: str | Path, deflator: str | Path | None = None,
            params: str | Path | None = None, base_year: int | None = None, data_dir: str | Path | None = None,
            name: str | None = None, output: str | Path | None = None) -> RevalueOutcome:
    """Revalue the stored run ``run_id`` into a new run (see module docstring); ``output``: a writable copy."""
    from qingshan.core.codeversion import code_version
    from qingshan.store import artifacts
    from qingshan.store.lifecycle import LeaseKeeper, lease_expiry
    from qingshan.store.rows import column_values
    from qingshan.store.run_writer import open_run_writer

    t0 = time.time()
    store = open_run_writer(store_url)  # no ORM; for an SQLite store at head, no SQLAlchemy either
    parent = _parent(store, run_id)
    ddir = artifacts.data_dir_for(store_url, data_dir)
    pdir = artifacts.artifact_dir(parent, ddir)
    prov_p = dict(parent.provenance or {})
    prices_p, params_p = Path(prices), Path(params) if params else None
    parameters, inert = _check_params(params_p, prov_p)  # before anything is read or recorded
    if deflator is not None:
        defl: Deflator | None = Deflator.from_csv(deflator)
        defl_sha: str | None = file_sha256(deflator)
    else:
        defl, defl_sha = _parent_deflator(parent)
    policy = str(((parent.config or {}).get("prices") or {}).get("year_policy", "deflate"))
    table = PriceTable.from_csv(prices_p, deflator=defl, policy=policy)  # type: ignore[arg-type]
    from qingshan.valuation.price_bounds import check_price_bounds

    accept = ((parent.config or {}).get("options") or {}).get("price_bounds_accept", [])
    check_price_bounds(table, accept=accept if isinstance(accept, list) else [str(accept)])  # 元/kg as 元/t
    base = int(base_year if base_year is not None else (parent.base_year or min(parent.years)))
    regions, region_rows = _region_set(store.region_records(parent.id, with_geometry=True))
    leaf = _leaf_rows(pdir, list(parent.artifacts or []), regions, parent.id)
    valued, prices_used = value_rows(leaf, prices=table, regions=None, ancestors_of=regions.ancestors,
                                     base_year=base, deflator=defl)
    results = roll_up_valued(valued, regions.ancestors)
    digest = revalue_hash(parent.content_hash, prices_p, defl_sha, params_p, base, policy)

    child = str(uuid.uuid4())
    holder = artifacts.holder()
    request = {"parent_run_id": parent.id, "prices": str(prices_p), "deflator": str(deflator) if deflator else None,
               "parameters": str(params_p) if params_p else None, "base_year": base}
    config = {**(parent.config or {}), "revalue": request}
    store.start_run(run_id=child, name=name or f"{parent.name} · revalued 重新计价", profile=parent.profile,
                    years=list(parent.years), base_year=base, config=config, code_version=__version__,
                    lease_holder=holder, lease_expires_at=lease_expiry(), parent_run_id=parent.id)
    staging: Path | None = None
    sealed: Path | None = None
    try:
        with LeaseKeeper(None, child, holder, renew_with=lambda: store.renew_lease(child, holder, lease_expiry())):
            hashes = {str(prices_p): file_sha256(prices_p)}
            if deflator:
                hashes[str(deflator)] = str(defl_sha)
            if params_p:
                hashes[str(params_p)] = file_sha256(params_p)
            provenance = {
                **{k: v for k, v in prov_p.items() if k not in ("prices", "seconds", "started")},
                "command": "revalue",
                "parent_run_id": parent.id,
                "parent_content_hash": parent.content_hash,
                "revaluation": {
                    "quantities": f"leaf rows of run {parent.id} (results.csv, SHA-256 checked), not recomputed",
                    "per_cell_values": "not recomputed: rasters/ are the parent's per-cell quantities (hard links); "
                                       "parcel valuation prices them at this run's regional prices",
                    "exports_on_demand": list(ON_DEMAND),
                    "parameters_not_affecting_quantities": inert,
                    "input_hashes": hashes,
                },
                "parameters": parameters,
                "prices": prices_used,
                "deflator": defl.source if defl else None,
                "base_year": base,
                "content_hash": digest,
                "code": code_version(),
                "qingshan_version": __version__,
                "started": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
            }
            provenance["qc"] = _qc(prov_p.get("qc"), parent.id, inert, prices_used)
            provenance["seconds"] = round(time.time() - t0, 3)
            staging = artifacts.make_tmp(artifacts.runs_root(ddir))
            values = column_values(results)  # converted once, for results.csv and for the store
            _write_child(staging, results, values, regions, provenance, child, pdir, list(parent.artifacts or []))
            rel, manifest = _seal_child(staging, ddir, child, list(parent.artifacts or []))
            sealed, staging = ddir / rel, None
            files = artifacts.export_copy(sealed, Path(output), manifest) if output else []
            store.finish_run_succeeded(child, results=values, regions=region_rows, provenance=provenance,
                                       output_dir=str(output) if output else None, content_hash=digest,
                                       artifacts_dir=rel, artifacts=manifest)
    except BaseException as exc:
        error = exc.to_dict() if isinstance(exc, QingshanError) else {"error": type(exc).__name__, "message_en": str(exc)}
        if not store.finish_run_failed(child, error) and _committed(store.get_run(child)):
            sealed = None  # the error came after the child was committed succeeded: its files are the run's
        for folder in (staging, sealed):
            if folder is not None:
                artifacts.remove_tree(folder)
        raise
    return RevalueOutcome(child, parent.id, results, provenance, sealed, files, regions.roots())


def _committed(row: Any) -> bool:
    """Whether a run as stored (``RunWriter.get_run``) is ``succeeded``."""
    return row is not None and row.status == "succeeded"


def _unverified_prices(prices_used: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prices used whose source is tagged ``[R]`` (the price part of ``engine.qc.unverified_used``)."""
    out, seen = [], set()
    for pr in prices_used:
        source = str(pr.get("source", "")).strip()
        tag = str(pr.get("certainty") or (source[1:source.index("]")].strip() if source.startswith("[") and "]" in source
                                          else None))
        ident = (str(pr["price_key"]), pr.get("price_year"), pr.get("region"))
        if tag == "R" and ident not in seen:
            seen.add(ident)
            out.append({"kind": "price", "key": pr["price_key"], "value": pr["value"], "unit": pr["unit"],
                        "source": pr["source"], "certainty": tag, "price_year": pr.get("price_year"),
                        "region": pr.get("region")})
    return out


def _qc(parent_qc: Any, parent_id: str, inert: list[str], prices_used: list[dict[str, Any]]) -> dict[str, Any]:
    """The parent's QC report (the quantities and their checks are the parent's) with a revaluation notice; the
    unverified prices are this run's."""
    qc = dict(parent_qc) if isinstance(parent_qc, dict) else {}
    qc["unverified"] = [e for e in qc.get("unverified") or [] if e.get("kind") != "price"] + _unverified_prices(prices_used)
    notes = list(qc.get("notices") or [])
    notes.append({"code": "revalued", "en": f"Revalued from run {parent_id}: quantities and their checks are the "
                  "parent's; prices, deflator and base year (and the unverified prices listed) are this run's.",
                  "zh": f"由核算记录 {parent_id} 重新计价：实物量及其质量检查沿用原核算；价格、价格指数和基年（及所列未核实价格）为本次的。",
                  "file": None, "field": None})
    if inert:
        notes.append({"code": "parameters_unused", "en": f"Parameters given but read by no quantity method of this "
                      f"run (recorded, no effect): {', '.join(inert)}",
                      "zh": f"已提供但本核算的实物量方法均未使用的参数（仅记录，无影响）：{', '.join(inert)}",
                      "file": None, "field": "param_key"})
    qc["notices"] = notes
    return qc


def _named_columns(results: pd.DataFrame, values: dict[str, list[Any]],
                   regions: Hierarchy) -> tuple[list[str], dict[str, list[Any]], dict[str, str]]:
    """The columns of ``account``'s results.csv (``engine.export._with_names``: region name and level, the
    indicator's Chinese name) as column lists (:func:`qingshan.store.rows.column_values`): the columns in
    order, their values and dtype kinds (no second frame is built)."""
    names = {c: r[0] for c, r in regions.regions.items()}
    levels = {c: r[1] for c, r in regions.regions.items()}
    reg = registry()
    zh = {i: reg.get(i).name_zh for i in set(values["indicator"])}
    codes = values["region_code"]
    columns = list(results.columns)
    columns.insert(1, "region_name")
    columns.insert(2, "level")
    columns.insert(4, "indicator_zh")
    added = {"region_name": [names.get(c, "") for c in codes], "level": [levels.get(c, "") for c in codes],
             "indicator_zh": [zh[i] for i in values["indicator"]]}
    kinds = {c: results[c].dtype.kind for c in results.columns} | dict.fromkeys(added, "O")
    return columns, {**values, **added}, kinds


def _write_child(folder: Path, results: pd.DataFrame, values: dict[str, list[Any]], regions: Hierarchy,
                 provenance: dict[str, Any], run_id: str, parent_dir: Path, parent_manifest: list[dict[str, Any]]) -> None:
    """results.csv, provenance.json, qc_report.json (as ``engine.qc.write_report_files`` writes it; the Markdown
    version is on demand) and hard links to the parent's rasters and inputs."""
    write_columns_csv(folder / "results.csv", *_named_columns(results, values, regions))
    (folder / "provenance.json").write_text(json.dumps({**provenance, "run_id": run_id}, ensure_ascii=False,
                                                       indent=2, default=str), encoding="utf-8")
    (folder / "qc_report.json").write_text(json.dumps(provenance["qc"], ensure_ascii=False, indent=2, default=str),
                                           encoding="utf-8")
    for entry in parent_manifest:
        if entry["name"].startswith(LINKED):
            dest = folder / entry["name"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(parent_dir / entry["name"], dest)
            except OSError:  # another file system: a copy (same bytes)
                shutil.copyfile(parent_dir / entry["name"], dest)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_csv(path, index=False, encoding="utf-8-sig")``, the same bytes, several times faster
    (:func:`write_columns_csv`)."""
    from qingshan.store.rows import column_values

    write_columns_csv(path, [str(c) for c in frame.columns], column_values(frame),
                      {str(c): frame[c].dtype.kind for c in frame.columns})


_CHUNK = 8192


def write_columns_csv(path: Path, columns: list[str], values: Mapping[str, list[Any]], kinds: Mapping[str, str]) -> None:
    """A table given as column lists (missing values as ``None``, :func:`qingshan.store.rows.column_values`)
    written as ``DataFrame.to_csv(path, index=False, encoding="utf-8-sig")`` writes it, to the byte.

    pandas formats the floats of every chunk through numpy's string conversion, the largest part of a
    revaluation's writing. Here, chunk by chunk of rows, each column becomes text at C speed (``map``): floats
    by ``repr`` (the shortest text that reads back as the same float, as numpy writes them), integers and
    booleans by ``str``, text through a table of its distinct values, each quoted once as the ``csv`` module
    quotes a cell (pandas' dialect: minimal quoting); missing values are empty. Rows are joined with ``,``
    and ``\n``."""
    import csv

    n = len(values[columns[0]]) if columns else 0
    if len(columns) < 2:  # the csv module quotes the empty cell of a one-column row: leave it that case
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(columns)
            out.writerows(zip(*(_Cells(values[c], kinds[c]).text(0, n) for c in columns), strict=True))
        return
    cells = [_Cells(values[c], kinds[c]) for c in columns]
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        fh.write(",".join(_quoted(c) for c in columns) + "\n")
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            fh.write("\n".join(map(",".join, zip(*(c.text(lo, hi) for c in cells), strict=True))) + "\n")


class _Cells:
    """The CSV cells of one column, made a slice of rows at a time."""

    def __init__(self, values: list[Any], kind: str) -> None:
        self.values, self.kind = values, kind
        self.has_none = None in values  # missing values: empty cells
        self.texts: dict[Any, str] | None = None
        if kind not in "fiub":
            distinct = set(values)
            if all(type(v) is str or v is None for v in distinct):  # else 1, 1.0 and True would share a key
                self.texts = {v: "" if v is None else _quoted(v) for v in distinct}

    def text(self, lo: int, hi: int) -> list[str]:
        vals = self.values[lo:hi]
        if self.texts is not None:
            return list(map(self.texts.__getitem__, vals))
        if self.kind in "fiub":
            fmt = repr if self.kind == "f" else str
            if not self.has_none:
                return list(map(fmt, vals))
            return ["" if v is None else fmt(v) for v in vals]
        return ["" if v is None else _quoted(str(v)) for v in vals]


def _quoted(text: str) -> str:
    """``text`` as the ``csv`` module writes one cell among others (minimal quoting, ``\n`` line ends)."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text, "x"])
    return buf.getvalue()[:-3]  # without ",x\n"


def _seal_child(staging: Path, data_dir: Path, run_id: str,
                parent_manifest: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Seal like :func:`qingshan.store.artifacts.seal`, reusing the parent's SHA-256 of linked files."""
    from qingshan.store import artifacts

    linked = {e["name"]: e for e in parent_manifest if e["name"].startswith(LINKED)}
    rel, manifest = artifacts.seal(staging, data_dir, run_id, known=linked)
    return rel, manifest


# ----------------------------------------------------------------------------- exports on demand
def ensure_export(factory: sessionmaker[Session], run: Any, data_dir: Path | None, name: str) -> Any:
    """Build an on-demand export of a revalued run once (see module docstring); returns the run as stored after.

    Serialised per run by a lock file in ``<data dir>/runs``; the file is written beside, made read-only and
    renamed into the sealed folder, then its SHA-256 is recorded. A run that is not revalued, or an export already
    built, is returned unchanged.
    """
    from qingshan.store import artifacts, repo

    if name not in ON_DEMAND or not getattr(run, "parent_run_id", None) or data_dir is None:
        return run
    if any(e["name"] == name for e in run.artifacts or []):
        return run
    folder = artifacts.artifact_dir(run, data_dir)
    lock = artifacts.runs_root(data_dir) / f".{run.id}.export.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fresh = repo.get_run(factory, run.id)
            if fresh is not None and any(e["name"] == name for e in fresh.artifacts or []):
                return fresh
            entry = _build_export(factory, run, data_dir, folder, name)
            repo.add_artifact(factory, run.id, entry)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return repo.get_run(factory, run.id)


def complete_exports(factory: sessionmaker[Session], run_id: str, data_dir: Path | None) -> None:
    """Every on-demand export of a revalued run (:data:`ON_DEMAND`), built now: called before the run is
    published, so that a published run's manifest is complete and never grows afterwards (found: the first
    download of a published revalued run's workbook — by anyone, the public too — appended a file to the
    manifest a bank had already recorded). Nothing for other runs."""
    from qingshan.store import repo

    run = repo.get_run(factory, run_id)
    if run is None or not getattr(run, "parent_run_id", None) or data_dir is None or run.status != "succeeded":
        return
    for name in ON_DEMAND:
        run = ensure_export(factory, run, data_dir, name)


def _build_export(factory: sessionmaker[Session], run: Any, data_dir: Path, folder: Path, name: str) -> dict[str, Any]:
    """Write ``name`` into a temporary folder, then move it, read-only, into the sealed ``folder``."""
    from qingshan.engine.export import _write_gpkg, _write_xlsx
    from qingshan.engine.workbook import workbook_unit
    from qingshan.store import artifacts

    entry = next((e for e in run.artifacts or [] if e["name"] == "results.csv"), None)
    if entry is None:
        raise artifacts.NoSuchArtifactError(f"Run '{run.id}' has no artifact 'results.csv'",
                                            f"核算记录 '{run.id}' 没有成果文件 'results.csv'", field="name")
    artifacts.check_artifact(run.id, folder, "results.csv", entry)  # never build (and seal) from edited numbers
    tmp = artifacts.make_tmp(artifacts.runs_root(data_dir), stem=f".{run.id}")
    try:
        results = pd.read_csv(folder / "results.csv", dtype={"region_code": str, "level": str}, encoding="utf-8-sig")
        prov = dict(run.provenance or {})
        out = tmp / name
        if name == "qc_report.md":
            from qingshan.engine.qc import report_markdown

            out.write_text(report_markdown(prov.get("qc") or {}, run.id), encoding="utf-8")
        elif name == "gep_accounts.xlsx":
            _write_xlsx(results, out, base_year=int(run.base_year or min(run.years)),
                        provenance={**prov, "run_id": run.id},
                        unit=workbook_unit((prov.get("profile") or {}).get("options") or {}))
        else:
            _write_gpkg(results, _regions_with_polygons(factory, run, data_dir), out)
        os.chmod(out, 0o444)
        entry = {"name": name, "size": out.stat().st_size, "sha256": file_sha256(out)}
        os.chmod(folder, 0o755)
        try:
            os.replace(out, folder / name)
        finally:
            os.chmod(folder, 0o555)
        return entry
    finally:
        artifacts.remove_tree(tmp)


def _regions_with_polygons(factory: sessionmaker[Session], run: Any, data_dir: Path) -> RegionSet:
    """The hierarchy with leaf polygons: from the nearest ancestor run's sealed ``regions.gpkg`` (the boundary
    file's polygons), else the simplified polygons the store keeps."""
    import geopandas as gpd
    from shapely.geometry import shape

    from qingshan.aggregate.regions import Region, RegionSet
    from qingshan.store import artifacts, repo

    hierarchy, rows = _region_set(repo.region_records(factory, run.id, with_geometry=True))
    regions = {c: Region(c, n, lvl, p) for c, (n, lvl, p) in hierarchy.regions.items()}
    leaves = hierarchy.leaves
    leaf_level = regions[leaves[0]].level if leaves else ""
    ancestor = repo.get_run(factory, run.parent_run_id) if run.parent_run_id else None
    while ancestor is not None:
        if any(e["name"] == "regions.gpkg" for e in ancestor.artifacts or []):
            gdf = gpd.read_file(artifacts.artifact_dir(ancestor, data_dir) / "regions.gpkg", layer=leaf_level)
            return RegionSet(regions=regions, leaves=gdf[["code", "name", "geometry"]].astype({"code": str}),
                             source=f"run {run.id}")
        ancestor = repo.get_run(factory, ancestor.parent_run_id) if ancestor.parent_run_id else None
    geo = [r for r in rows if r["code"] in set(leaves) and r["geometry"]]
    gdf = gpd.GeoDataFrame({"code": [r["code"] for r in geo], "name": [r["name"] for r in geo]},
                           geometry=[shape(json.loads(r["geometry"])) for r in geo], crs="EPSG:4326")
    return RegionSet(regions=regions, leaves=gdf, source=f"run {run.id}")
