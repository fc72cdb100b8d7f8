"""Catalogs of analysed clips: building, the per-clip feature cache, the vector index, the SQLite store of ratings and added clips, distributed builds."""
