"""`make demo`: run the main job on the embedded default, recorded in the persistent instance.

Runs go through the same Dagster instance `make ui` opens (``$DAGSTER_HOME``), so every step of
the demo can be inspected in the UI afterwards.
"""

from __future__ import annotations

import sys
import time

import dagster as dg


def main() -> int:
    from pipelines.definitions import defs

    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def("main_job")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    if not result.success:
        print("demo: the main job failed; see the run log in `make ui`", file=sys.stderr)
        return 1
    from archsearch.data.datasets import read_manifest
    from pipelines.resources import ArchsearchResource

    res = ArchsearchResource()
    manifest = read_manifest(res.manifest_path())
    print(
        f"demo: {manifest.height} videos in {manifest['dataset'].n_unique()} dataset(s), "
        f"manifest {res.manifest_path()} ({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
