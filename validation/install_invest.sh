#!/bin/bash
# Copied from /work/shared/tools/invest-bench/install_invest.sh (Qingshan project benchmark
# tooling, "invest-bench: repeatable InVEST 3.20.2 peer benchmark"), unchanged except this
# header. Usage: bash validation/install_invest.sh /work/invest/venv
# Notes from invest-bench/README.md: builds the InVEST venv on Debian 12 + CPython 3.11 (~3.5-4.5
# min with the apt packages, venv ~800 MB); a tested run is logged in /work/invest/install.log
# (rc=0, 3 m 43 s). InVEST is a *validation* tool only, never a runtime dependency of Qingshan.
# It writes build-constraints.txt beside itself (cython<3.2 for pygeoprocessing 2.4.11).
# Reproducible InVEST 3.20.2 install on Debian 12 (bookworm) + CPython 3.11, no conda.
# Observed on a 2-core box: ~4.5 min total, venv ~800 MB.
# Why each step:
#  - natcap-invest has NO Linux wheels on PyPI (only win/mac), so it builds from sdist.
#  - its build deps pull pygeoprocessing (also sdist-only on Linux) which calls gdal-config
#    -> needs libgdal-dev (Debian: GDAL 3.6.2).
#  - PyPI `gdal` has no wheels; `gdal==<libgdal version>` must be built, and with numpy
#    present + --no-build-isolation, otherwise osgeo.gdal_array is silently omitted.
#  - pygeoprocessing 2.4.11 fails to compile with Cython 3.3 ("Cannot assign type
#    'double' to 'int'", routing.pyx:3407) -> constrain cython<3.2 for its build.
#    pip 26 ignores PIP_CONSTRAINT inside build envs; use --build-constraint.
#  - natcap-invest's isolated build env would pull latest GDAL sdist (3.13.x) via
#    pygeoprocessing and fail against libgdal 3.6.2 -> build it --no-build-isolation.
#  - its build runs `pybabel`, so the venv's bin/ must be on PATH.
set -euo pipefail
VENV=${1:-.venv-invest}
HERE=$(cd "$(dirname "$0")" && pwd)
apt-get update -q
apt-get install -y -q libgdal-dev gdal-bin            # ~26 s, GDAL 3.6.2
python3 -m venv "$VENV"
export PATH="$VENV/bin:$PATH"
pip install -q -U pip
pip install numpy 'setuptools>=77' wheel 'setuptools_scm>=8' 'cython>=3,<3.2' babel
pip install --no-build-isolation --no-cache-dir "gdal==$(gdal-config --version)"   # ~30 s build; no cache: a cached numpy-less wheel would lack gdal_array
echo 'cython<3.2' > "$HERE/build-constraints.txt"
pip install --build-constraint "$HERE/build-constraints.txt" pygeoprocessing==2.4.11   # ~2 min build
pip install --no-build-isolation natcap-invest==3.20.2                     # ~55 s build
python -c "from osgeo import gdal_array; import natcap.invest, pygeoprocessing; print('invest', natcap.invest.__version__, 'pgp', pygeoprocessing.__version__)"
