"""The Dagster instance the CLI, the demo and the study record their runs in.

``$DAGSTER_HOME`` when set (a relative path is taken from the current directory; Dagster itself
refuses one), else ``<repo>/.dagster_home`` -- the instance ``make`` uses and ``make ui`` opens.
A folder without a ``dagster.yaml`` gets ``pipelines/dagster.yaml`` (the ``gpu`` pool limit, run
monitoring), as ``make`` does; an existing one is never touched. The variable is then set for this
process, so run workers and child processes open the same instance.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from archsearch.common import REPO_ROOT

DEFAULT_HOME = REPO_ROOT / ".dagster_home"
SETTINGS = Path(__file__).with_name("dagster.yaml")


def dagster_home() -> Path:
    """The instance folder, created with archsearch's settings file if it has none."""
    env = os.environ.get("DAGSTER_HOME")
    home = Path(env).expanduser().resolve() if env else DEFAULT_HOME
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        tmp = home / f".dagster.yaml.{os.getpid()}.tmp"  # whole or absent: another process may be reading it
        shutil.copyfile(SETTINGS, tmp)
        os.replace(tmp, settings)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def local_instance() -> dg.DagsterInstance:
    """The instance at :func:`dagster_home`."""
    dagster_home()
    return dg.DagsterInstance.get()
