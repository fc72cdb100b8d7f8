"""The command line: ``python -m recsys {analyze,build,recommend,personas,evaluate,bench}``."""
