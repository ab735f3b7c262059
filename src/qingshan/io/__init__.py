"""Input/output: rasters, boundary files and tables. Called by the engine and the CLI only."""

import os

GDAL_CACHE_MB = 256
"""GDAL's raster block cache [MB] when the environment does not set ``GDAL_CACHEMAX``.

GDAL's default, 5 % of the RAM (1.2 GB on a 24 GB machine), fills with the blocks of every per-cell layer being
written and converted: at 10 000² the water-yield command (five layers) peaked at 1.6–2.0 GB; with 256 MB at
0.58–0.65 GB, in the same time within the run-to-run spread (docs/benchmarks.md, "Where issue 11 stands, third
pass"). Memory then stays bounded by the block size, not by the raster's. Set ``GDAL_CACHEMAX`` to choose another size.
"""

os.environ.setdefault("GDAL_CACHEMAX", str(GDAL_CACHE_MB))  # read by GDAL when it first uses its block cache

