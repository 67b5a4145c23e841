"""Source backends. Each module is the only importer of its third-party library."""
