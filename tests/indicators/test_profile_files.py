"""A profile or config path to a file that is not a (UTF-8) TOML profile: a bilingual error, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qingshan.core.errors import ConfigError
from qingshan.indicators import registry

BINARY = bytes(range(256)) * 4  # not UTF-8 (0x80 and up are invalid start bytes)


def test_binary_profile_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "profile.xlsx"
    bad.write_bytes(BINARY)
    with pytest.raises(ConfigError) as info:
        registry().profile(str(bad))
    exc = info.value
    assert Path(str(exc.file)).name == "profile.xlsx"
    assert "UTF-8" in exc.en and exc.zh and exc.fix_zh


def test_toml_that_is_not_a_profile(tmp_path: Path) -> None:
    bad = tmp_path / "run.toml"
    bad.write_text('[run]\nyears = [2019]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        registry().profile(str(bad))
    assert info.value.field == "id"
    assert "not a method profile" in info.value.en


def test_cli_value_with_binary_profile(tmp_path: Path) -> None:
    from qingshan.cli import app

    bad = tmp_path / "profile.bin"
    bad.write_bytes(BINARY)
    golden = Path(__file__).resolve().parents[1] / "golden" / "baiyangdian_2011"
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["value", str(golden / "quantities.csv"), "--prices", str(golden / "prices.csv"),
                                      "--profile", str(bad), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "UnicodeDecodeError" not in result.output
    assert "profile.bin" in result.output and "UTF-8" in result.output and "修正方法" in result.output
    assert not out.exists()


def test_cli_account_with_binary_config(tmp_path: Path) -> None:
    from qingshan.cli import app

    bad = tmp_path / "config.toml"
    bad.write_bytes(BINARY)
    result = CliRunner().invoke(app, ["account", str(bad)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "UnicodeDecodeError" not in result.output
    assert "config.toml" in result.output and "UTF-8" in result.output and "修正方法" in result.output
