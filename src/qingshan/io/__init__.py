"""Input/output: rasters, boundary files and tables. Called by the engine and the CLI only."""
