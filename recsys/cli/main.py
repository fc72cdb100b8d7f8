"""Command line: ``python -m recsys {analyze,build,recommend,personas,evaluate,bench} ...``.

With ``--json`` a command prints only JSON on stdout. Errors a user can cause print one line on
stderr and exit non-zero, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from recsys.errors import RecsysError

EXIT_USAGE, EXIT_PARTIAL = 1, 2


def _emit(obj, as_json: bool, text: str | None = None) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    elif text is not None:
        print(text, flush=True)


def _error(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


# --- analyze ---------------------------------------------------------------------------------

def cmd_analyze(args) -> int:
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer, ClipMetadata

    analyzer = Analyzer(AnalysisConfig(transcribe=args.transcribe, device=args.device))
    failed = 0
    for path in args.files:
        meta = ClipMetadata(title=args.title or "", description=args.description or "",
                            tags=tuple(t.strip() for t in (args.tags or "").split(",") if t.strip()))
        try:
            result = analyzer.analyze(path, metadata=meta)
        except RecsysError as err:
            failed += 1
            _emit({"path": path, "error": str(err)}, args.json)
            if not args.json:
                _error(str(err))
            continue
        _emit(result.to_dict(include_embedding=not args.no_embedding), args.json, format_analysis(result))
    return EXIT_PARTIAL if failed else 0


def format_analysis(a) -> str:
    """A readable multi-line summary of a :class:`~recsys.analysis.analyzer.ClipAnalysis`."""
    u = a.understanding
    lines = [f"{a.path}  ({a.kind}, {a.duration_s:.1f} s)"]
    for facet in ("themes", "emotions", "styles"):
        top = getattr(u, facet)[:3]
        lines.append(f"  {facet:9s} " + ", ".join(f"{s.label} {s.score:.2f}" for s in top))
        if top and top[0].evidence:
            lines.append(f"  {'':9s}   why {top[0].label}: {'; '.join(top[0].evidence)}")
    lines.append(f"  valence {u.valence:+.2f}  arousal {u.arousal:+.2f}")
    if a.audio:
        lines.append(f"  sound     {a.audio.summary()}")
    if a.visual:
        lines.append(f"  picture   {a.visual.summary()}")
    if a.top_audio:
        lines.append("  AudioSet  " + ", ".join(f"{n} {p:.2f}" for n, p in a.top_audio[:3]))
    if a.top_image:
        lines.append("  ImageNet  " + ", ".join(f"{n} {p:.2f}" for n, p in a.top_image[:3]))
    if a.transcript:
        lines.append(f"  transcript \"{a.transcript[:120]}\"")
    lines.append("  timings   " + ", ".join(f"{k} {v:.0f} ms" for k, v in a.timings_ms.items()))
    return "\n".join(lines)


# --- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recsys", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="analyse clips: themes, emotions, styles, descriptors, embedding")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout, one object per file")
    p.add_argument("--title", help="title used as text input (default: the file name)")
    p.add_argument("--description")
    p.add_argument("--tags", help="comma-separated tags")
    p.add_argument("--transcribe", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--no-embedding", action="store_true", help="leave the embedding out of the JSON")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.set_defaults(func=cmd_analyze)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    """Commands defined in their own modules (each adds a sub-parser with ``func`` set)."""
    from recsys.cli import commands as cli_commands

    return cli_commands.REGISTER


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RecsysError as err:
        _error(str(err))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # `python -m recsys analyze ... | head`: stdout closed early is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

