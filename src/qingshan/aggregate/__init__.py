"""Administrative regions and exact zonal aggregation (coverage-fraction weights)."""
