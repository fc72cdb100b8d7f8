"""Benchmarks and the tooling they share with the tests (never imported by the library).

``bench`` is the harness behind ``python -m recsys bench``; ``av_writer`` and ``factories`` make
real media files (generated clips and hostile inputs) for benchmarks and tests alike.
"""
