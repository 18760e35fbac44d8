"""bench/calibrate.py end to end on a small synthetic project: every measurement line comes out, parsable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_calibrate_prints_every_measurement_for_each_variant(tmp_path):
    cfg = tmp_path / "project.yaml"
    small = "n_videos: 48, duration_s: 7.0, fps: 10, width: 96, height: 64"
    cfg.write_text(
        "datasets:\n"
        f"  - {{name: synth_front, kind: synthetic, synthetic: {{variant: front, {small}, seed: 0}}}}\n"
        f"  - {{name: synth_side, kind: synthetic, synthetic: {{variant: side, {small}, seed: 1}}}}\n"
        "backbones: [pixels]\nsplits: {fractions: [0.5, 0.25, 0.25], seed: 3}\n"
        "features: {workers: 1}\ncampaign: {backbones: [pixels]}\n"
    )
    env = {**os.environ, "ARCHSEARCH_CONFIG": str(cfg), "ARCHSEARCH_HOME": str(tmp_path / "home")}
    args = ["--encoders", "gru", "--poolings", "last", "mean", "--boot", "20", "--workers", "1"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "calibrate.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert all(r["bench"] == "calibrate" for r in rows)
    for dataset in ("synth_front", "synth_side"):
        mine = {r["measure"] for r in rows if r.get("dataset") == dataset}
        assert {"data", "oracle", "oracle_pooled", "probe", "head", "cell", "backbone", "grid"} <= mine, mine
        heads = [r for r in rows if r["measure"] == "head" and r["dataset"] == dataset]
        assert len(heads) == 2 and all(0.0 <= r["map"] <= 1.0 and r["ci95"][0] <= r["ci95"][1] for r in heads)
        grid = next(r for r in rows if r["measure"] == "grid" and r["dataset"] == dataset)
        assert {"val_selected", "val_test_spearman", "best_minus_worst", "architecture_share"} <= set(grid)
    assert rows[-1]["measure"] == "done"
