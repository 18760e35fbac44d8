"""Entry point of a synthetic-render worker process: ``python -m archsearch.data.synth.worker OUT SPEC 3,5,7``.

A module of its own so the package (which imports the writer) is fully imported before
``__main__`` runs; each finished video prints one line, which the parent counts for progress.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archsearch.data.synth.spec import SyntheticSpec
from archsearch.data.synth.writer import write_video


def main(argv: list[str]) -> None:
    """Render the listed video indices of the spec into OUT (one line on stdout per video)."""
    out, spec_json, indices = argv
    spec = SyntheticSpec(**json.loads(spec_json))
    for i in (int(x) for x in indices.split(",") if x):
        write_video(spec, i, Path(out))
        print(i, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
