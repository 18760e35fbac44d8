"""The code location loads fast and exposes the expected graph."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg


def test_definitions_load_with_expected_assets():
    from pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"videos", "features", "proposals", "experiments", "leaderboard", "analysis_report"}
    for job in ("refresh_videos_job", "features_job", "proposals_job", "experiments_job", "report_job"):
        assert defs.resolve_job_def(job) is not None
    assert {s.name for s in defs.sensors} == {"agent_sensor", "features_for_new_videos"}
    assert {s.name for s in defs.schedules} == {"hourly_new_videos", "daily_analysis_report"}
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert "videos_decode_and_disjoint" in checks


def test_loading_the_code_location_does_not_import_torch():
    code = "import sys, pipelines.definitions; print('torch' in sys.modules)"
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "heavy imports belong where they are used"
    assert time.perf_counter() - t0 < 30
