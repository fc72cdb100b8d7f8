"""``python -m benchmarks.bench _cold_analysis|_cold_umap ...``: the bench's fresh child processes."""
import sys

from benchmarks.bench.cli import _child_main

sys.exit(_child_main(sys.argv[1:]))
