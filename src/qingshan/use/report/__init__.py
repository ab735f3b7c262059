"""Reports of stored runs: the GEP accounting report (DOCX, PDF) and the parcel valuation report."""
