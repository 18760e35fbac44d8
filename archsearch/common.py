"""Where archsearch keeps its data.

Everything the pipeline writes (videos, manifests, feature caches, results, reports) lives under
one data root so that a user can move, back up or delete a whole campaign in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The data root: ``$ARCHSEARCH_HOME`` if set, else ``<repo>/.archsearch`` (gitignored)."""
    env = os.environ.get("ARCHSEARCH_HOME")
    root = Path(env).expanduser() if env else REPO_ROOT / ".archsearch"
    return root.resolve()


def datasets_dir() -> Path:
    return data_root() / "datasets"


def manifests_dir() -> Path:
    return data_root() / "manifests"


def features_dir() -> Path:
    return data_root() / "features"
