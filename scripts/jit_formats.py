"""Regenerate armjit/jitlog/jit_formats.json: the JIT's log formats of the versions mine knows.

    python scripts/jit_formats.py --sdist cinderx-2026.11.2.0.tar.gz [--tree DIR=ID=DESCRIPTION ...]

``--sdist`` is the PyPI sdist of the released version (``pip download --no-deps --no-binary :all:
--ignore-requires-python cinderx==V``); ``--tree`` adds a checkout (e.g. upstream main at a
commit). Versions are listed oldest first; ``mine`` uses the last one unless it is given a tree.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from armjit.jitlog.formats import formats_from_sources, table_to_json
from armjit.seams.jit_source import sdist_sources, tree_sources

OUT = Path(__file__).resolve().parents[1] / "armjit" / "jitlog" / "jit_formats.json"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sdist", type=Path, action="append", default=[])
    parser.add_argument("--tree", action="append", default=[], help="DIR=ID=DESCRIPTION")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    tables = []
    for sdist in args.sdist:
        m = re.match(r"cinderx-(.+)\.tar\.gz$", sdist.name)
        if not m:
            parser.error(f"{sdist}: not a cinderx-V.tar.gz sdist")
        tables.append((m[1], f"cinderx {m[1]} (PyPI sdist)", formats_from_sources(sdist_sources(sdist))))
    for spec in args.tree:
        root, vid, desc = spec.split("=", 2)
        tables.append((vid, desc, formats_from_sources(tree_sources(Path(root)))))
    if not tables:
        parser.error("give at least one --sdist or --tree")
    args.out.write_text(table_to_json(tables), encoding="utf-8")
    print(f"{args.out}: " + ", ".join(f"{vid} {len(fs)} formats" for vid, _d, fs in tables))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
