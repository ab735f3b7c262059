"""The sources hash that runs record and that workers are compared by covers the code and its built-in data."""

from __future__ import annotations

from pathlib import Path

import qingshan
from qingshan.core import codeversion


def test_the_sources_hash_covers_code_and_built_in_data_not_the_example_inputs() -> None:
    pkg = Path(qingshan.__file__).parent
    files = {p.relative_to(pkg).as_posix() for p in codeversion._source_files()}
    assert {"core/codeversion.py", "data/seea/services_map.csv", "data/tables/prices_default.csv",
            "data/profiles/jiangxi-db36-2021.toml"} <= files  # data/seea was in neither hash before
    assert not any(f.startswith("data/examples/") for f in files)
    assert codeversion.code_identity() == (qingshan.__version__, codeversion.sources_sha256())
    assert len(codeversion.sources_sha256()) == 64
