"""The unit registry: Chinese statistical units, currency, carbon, annual suffixes."""

from __future__ import annotations

import pytest

from qingshan.core.errors import UnitsError
from qingshan.core.units import conversion_factor, is_currency
from qingshan.valuation.value import value_in_cny


@pytest.mark.parametrize(
    ("src", "dst", "factor"),
    [
        ("亿m³", "m3", 1e8),
        ("万t", "t", 1e4),
        ("亿kWh", "kWh", 1e8),
        ("km2", "hm2", 100.0),
        ("万元", "CNY", 1e4),
        ("tC", "tCO2", 44 / 12),
        ("mm*km2", "m3", 1000.0),
        ("m3/a", "m3", 1.0),
    ],
)
def test_conversion_factor(src: str, dst: str, factor: float) -> None:
    assert conversion_factor(src, dst) == pytest.approx(factor, rel=1e-12)


def test_conversion_round_trip() -> None:
    assert conversion_factor("tCO2", "tC") == pytest.approx(12 / 44, rel=1e-12)
    assert conversion_factor("亿m³", "m3") * conversion_factor("m3", "亿m³") == pytest.approx(1.0, rel=1e-12)


def test_unparseable_unit() -> None:
    with pytest.raises(UnitsError) as info:
        conversion_factor("bananas", "t")
    exc = info.value
    assert "bananas" in exc.en
    assert exc.zh
    assert "bananas" in exc.zh
    assert exc.fix


def test_incompatible_units() -> None:
    with pytest.raises(UnitsError) as info:
        conversion_factor("t", "m3")
    exc = info.value
    assert "'t'" in exc.en
    assert "'m3'" in exc.en
    assert exc.zh


def test_is_currency() -> None:
    assert is_currency("万元")
    assert is_currency("亿元")
    assert not is_currency("元/t")
    assert not is_currency("bananas")


def test_value_in_cny() -> None:
    assert value_in_cny(2.45, "亿m³", 6.11, "元/m3") == pytest.approx(14.9695e8, rel=1e-12)


def test_value_in_cny_unit_mismatch() -> None:
    with pytest.raises(UnitsError):
        value_in_cny(1.0, "t", 5.0, "CNY/m3")


def test_threads_asking_at_once_on_a_fresh_machine_share_one_registry(tmp_path) -> None:
    """Found on a fresh machine: the first `qingshan compute soil_retention` died with pint's
    DimensionalityError ('metric_ton * meter ** 2 / hectare' to 'dimensionless') — its two block threads
    built two unit registries at once (nothing remembered yet), and a quantity of one was checked against
    the other's class. A fresh process, an empty cache, eight threads asking at the same moment."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import threading
        import dask  # loaded first, as in the engine
        from qingshan.core.units import conversion_factor
        go = threading.Barrier(8)
        out, errors = [], []
        def ask(i):
            go.wait()
            try:
                out.append(conversion_factor("(t/hm2)*m**2", "t") if i % 2 else conversion_factor("万t", "kg"))
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert sorted(set(out)) == [1e-4, 1e7], out
        print("ok")
    """)
    for attempt in range(3):  # each attempt a fresh cache: the race is at the first question
        env = {**__import__("os").environ, "QINGSHAN_CACHE_DIR": str(tmp_path / f"cache{attempt}")}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
