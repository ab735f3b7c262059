"""Core: errors, units, specs, grids and parameter tables shared by every layer."""
