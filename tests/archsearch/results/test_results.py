"""Results: records round-trip, the store is atomic / concurrent / idempotent, and no test metric can
reach anything built from the agents' view (sentinel values, a poisoned test field, the type itself)."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import time

import polars as pl
import pytest

from archsearch.results import (
    HISTORY_KEYS,
    AgentView,
    ExperimentResult,
    HistoryEntry,
    ResultsStore,
    ResultsStoreError,
    SplitMetrics,
    format_agent_history,
    history_entry,
    to_agent_view,
)

# Distinctive test values: if any of them (or a rounding of it) shows up in agent-facing text, it leaked.
TEST_SENTINELS = (0.123456789, 0.234567891, 0.345678912, 0.567891234)
VAL = SplitMetrics(0.8765, 0.7654, 0.6543, 0.7654, n_windows=90, n_positive=45)
CONFIG = {
    "backbone": "motion",
    "encoder": "gru",
    "pooling": "mean",
    "loss": "bce",
    "lr": 0.001,
    "weight_decay": 0.0001,
    "window_length": 16,
    "epochs": 20,
}


def sentinel_strings() -> list[str]:
    out = []
    for v in TEST_SENTINELS:
        out += [repr(v), f"{v:.3f}", f"{v:.4f}", f"{v:.5f}", f"{v:.6f}", f"{v * 100:.1f}"]
    return out


def make_result(
    config_id: str = "abc123def456",
    *,
    seed: int = 0,
    agent: str = "claude",
    rnd: int = 1,
    campaign: str = "c1",
    val: SplitMetrics = VAL,
    test_values=TEST_SENTINELS,
    **kw,
) -> ExperimentResult:
    test = SplitMetrics(*test_values, n_windows=90, n_positive=45)
    history = [
        history_entry(e, 0.5 / e, {"ap_500": 0.7, "ap_1000": 0.6, "ap_1500": 0.5, "map": 0.6 + e / 100}, 1e-3, 1.5)
        for e in range(1, 4)
    ]
    defaults = dict(
        config_id=config_id,
        config=dict(CONFIG),
        agent=agent,
        round=rnd,
        campaign=campaign,
        seed=seed,
        dataset="synthetic",
        status="ok",
        val=val,
        test=test,
        epochs_run=3,
        best_epoch=3,
        train_seconds=4.5,
        param_count=40961,
        device="cpu",
        threads=1,
        split_hash="0f" * 8,
        feature_key="ab" * 8,
        history=history,
        timings={"total_s": 6.0},
    )
    return ExperimentResult(**{**defaults, **kw})


def failed_result(config_id: str = "fff000fff000", **kw) -> ExperimentResult:
    return ExperimentResult(
        config_id=config_id,
        config=dict(CONFIG),
        agent="gemini",
        round=2,
        campaign="c1",
        seed=0,
        status="failed",
        error_type="HeadConfigError",
        error_message="HeadConfig field 'encoder'",
        **kw,
    )


# ---------------------------------------------------------------------------------------------- records


def test_result_round_trips_through_json():
    r = make_result()
    again = ExperimentResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again == r and again.test.ap_500 == TEST_SENTINELS[0] and again.history[0]["val_map"] == 0.61
    assert r.to_dict()["schema"] == 1


def test_result_validation_names_the_field():
    with pytest.raises(ResultsStoreError, match="status 'ok' needs both val and test"):
        ExperimentResult(config_id="a1", config={}, agent="x", round=0, campaign="c", seed=0, status="ok", val=VAL)
    with pytest.raises(ResultsStoreError, match="status 'failed' needs error_type"):
        ExperimentResult(config_id="a1", config={}, agent="x", round=0, campaign="c", seed=0, status="failed")
    with pytest.raises(ResultsStoreError, match="ExperimentResult.status"):
        make_result(status="done")
    with pytest.raises(ResultsStoreError, match="ExperimentResult.campaign"):
        make_result(campaign="../etc")
    with pytest.raises(ResultsStoreError, match="per-epoch test scores are never recorded"):
        make_result(
            history=[
                {**history_entry(1, 0.1, {"ap_500": 1, "ap_1000": 1, "ap_1500": 1, "map": 1}, 0.1, 1), "test_map": 0.5}
            ]
        )


# ---------------------------------------------------------------------------------------------- leakage


def test_agent_view_type_has_no_test_field_at_all():
    names = [f.name for f in dataclasses.fields(AgentView)]
    assert not [n for n in names if "test" in n.lower()]
    view = to_agent_view(make_result())
    assert not [a for a in dir(view) if "test" in a.lower()]
    assert not hasattr(view, "test") and HistoryEntry is AgentView
    with pytest.raises(TypeError):
        AgentView(**{**view.to_dict(), "test_map": 0.5})  # cannot even be constructed with one
    assert set(HISTORY_KEYS) == {
        "epoch",
        "train_loss",
        "val_ap_500",
        "val_ap_1000",
        "val_ap_1500",
        "val_map",
        "lr",
        "seconds",
    }


def test_no_test_value_reaches_the_agent_view_or_a_prompt():
    results = [make_result(f"{i:012x}", agent=a) for i, a in enumerate(["claude", "gemini"])]
    views = [to_agent_view(r) for r in results]
    text = json.dumps([v.to_dict() for v in views]) + "\n" + format_agent_history(views) + "\n" + repr(views)
    assert "0.8765" in text and "0.7654" in text  # validation scores are there (the check can see numbers)
    for s in sentinel_strings():
        assert s not in text, f"test value {s} leaked into the agent view"
    assert views[0].val_map == VAL.map and views[0].val_map_curve == (0.61, 0.62, 0.63)


def test_to_agent_view_never_reads_the_test_field():
    class Poison:
        def __getattribute__(self, name):
            raise AssertionError(f"to_agent_view read result.test.{name}")

    r = make_result()
    object.__setattr__(r, "test", Poison())  # bypass the frozen dataclass: only a reader would trip it
    view = to_agent_view(r)
    assert view.val_ap_500 == VAL.ap_500


def test_agent_view_from_a_stored_record_never_reads_test():
    class PoisonRecord(dict):
        def __getitem__(self, key):
            assert key != "test", "AgentView.from_record read rec['test']"
            return super().__getitem__(key)

        def get(self, key, default=None):
            assert key != "test", "AgentView.from_record read rec.get('test')"
            return super().get(key, default)

    result = make_result()
    assert AgentView.from_record(PoisonRecord(result.to_dict())) == to_agent_view(result)


def test_store_agent_history_carries_no_test_value(tmp_path):
    store = ResultsStore(tmp_path)
    for i in range(3):
        store.write(make_result(f"{i:012x}", agent=["claude", "gemini", "random"][i]))
    store.write(failed_result())
    views = store.agent_history("c1")
    assert len(views) == 4 and all(isinstance(v, AgentView) for v in views)
    text = json.dumps([v.to_dict() for v in views]) + format_agent_history(views)
    for s in sentinel_strings():
        assert s not in text
    assert [v.agent for v in store.agent_history("c1", agents=["gemini"])] == ["gemini", "gemini"]
    # ...while the analysis table does hold test metrics, in their own columns
    df = store.read("c1")
    assert set(df.filter(pl.col("status") == "ok")["test_ap_500"].to_list()) == {TEST_SENTINELS[0]}


def test_format_agent_history_renders_a_table():
    text = format_agent_history([to_agent_view(make_result()), to_agent_view(failed_result())])
    lines = text.splitlines()
    assert lines[0].startswith("| config_id | backbone | encoder |") and len(lines) == 4
    assert "0.7654" in lines[2] and "failed: HeadConfigError" in lines[3]
    assert format_agent_history([]) == "(no experiments yet)"


# ---------------------------------------------------------------------------------------------- store


def test_store_writes_one_file_per_result_and_reads_a_flat_table(tmp_path):
    store = ResultsStore(tmp_path)
    p = store.write(make_result("aaaaaaaaaaaa", seed=3))
    assert p == tmp_path / "results" / "c1" / "aaaaaaaaaaaa__seed3.json"
    store.write(failed_result())
    df = store.read()
    assert df.height == 2
    for col in (
        "campaign",
        "config_id",
        "seed",
        "agent",
        "round",
        "status",
        "error_type",
        "val_ap_500",
        "val_map",
        "test_ap_1500",
        "test_map",
        "epochs_run",
        "split_hash",
        "feature_key",
        "created_at",
        *CONFIG,
    ):
        assert col in df.columns, col
    ok = df.filter(pl.col("status") == "ok").row(0, named=True)
    assert (ok["encoder"], ok["lr"], ok["window_length"], ok["seed"]) == ("gru", 0.001, 16, 3)
    assert (ok["val_ap_500"], ok["test_map"], ok["total_seconds"]) == (0.8765, TEST_SENTINELS[3], 6.0)
    bad = df.filter(pl.col("status") == "failed").row(0, named=True)
    assert bad["val_map"] is None and bad["test_map"] is None and bad["error_type"] == "HeadConfigError"
    assert store.get("c1", "aaaaaaaaaaaa", 3) == make_result("aaaaaaaaaaaa", seed=3, created_at=ok["created_at"])
    assert store.get("c1", "aaaaaaaaaaaa", 4) is None


def test_empty_store_reads_an_empty_table_with_the_columns(tmp_path):
    df = ResultsStore(tmp_path).read()
    assert df.height == 0 and "val_map" in df.columns and "test_map" in df.columns
    assert ResultsStore(tmp_path).agent_history() == []


def test_rewriting_the_same_config_and_seed_replaces_it(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(make_result("aaaaaaaaaaaa", val=SplitMetrics(0.1, 0.1, 0.1, 0.1)))
    store.write(make_result("aaaaaaaaaaaa", val=SplitMetrics(0.9, 0.9, 0.9, 0.9)))
    store.write(make_result("aaaaaaaaaaaa", seed=1))
    df = store.read()
    assert df.height == 2 and sorted(df["seed"].to_list()) == [0, 1]
    assert df.filter(pl.col("seed") == 0)["val_map"].to_list() == [0.9]
    assert not [p for p in (tmp_path / "results" / "c1").iterdir() if p.name.startswith(".")]  # no temp left


def test_config_keys_that_clash_with_result_columns_are_prefixed(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(make_result(config={**CONFIG, "status": "weird", "seed": 5}))
    row = store.read().row(0, named=True)
    assert (row["status"], row["config_status"], row["seed"], row["config_seed"]) == ("ok", "weird", 0, 5)


def test_temp_files_are_invisible_and_swept(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(make_result())
    tmp = tmp_path / "results" / "c1" / ".x__seed0.json.host-1-abc.tmp"
    tmp.write_text('{"config_id": "torn')
    assert store.read().height == 1
    assert store.sweep_tmp(max_age_s=3600) == []
    old = time.time() - 7200
    os.utime(tmp, (old, old))
    assert store.sweep_tmp(max_age_s=3600) == [tmp] and not tmp.exists()


def test_a_corrupt_result_file_is_named(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(make_result())
    bad = tmp_path / "results" / "c1" / "bbbbbbbbbbbb__seed0.json"
    bad.write_text("{not json")
    with pytest.raises(ResultsStoreError, match="bbbbbbbbbbbb__seed0.json: not valid JSON"):
        store.read()


def test_reads_are_cached_but_see_rewrites(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(make_result(val=SplitMetrics(0.1, 0.1, 0.1, 0.1)))
    assert store.read()["val_map"].to_list() == [0.1]
    ResultsStore(tmp_path).write(make_result(val=SplitMetrics(0.2, 0.2, 0.2, 0.2)))  # another writer
    assert store.read()["val_map"].to_list() == [0.2]


def test_concurrent_writers_lose_nothing_and_never_tear_a_file(tmp_path):
    """4 processes write 120 results; 10 keys are written by every process. Meanwhile this process keeps
    reading: every read parses, and at the end each key holds one writer's complete result."""
    store = ResultsStore(tmp_path)
    jobs = []
    for w in range(4):
        val = SplitMetrics(w / 10, w / 10, w / 10, w / 10, n_windows=w)
        jobs += [make_result(f"{k:012x}", agent=f"w{w}", val=val) for k in range(10)]  # shared keys
        jobs += [make_result(f"{100 * (w + 1) + k:012x}", agent=f"w{w}", val=val) for k in range(20)]  # own keys
    jobs.sort(key=lambda r: r.config_id)  # shared keys side by side, so writers collide on them
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        pending = pool.map_async(store.write, jobs, chunksize=1)
        reads = 0
        while not pending.ready():
            store.read()  # raises on a torn or half-written file
            reads += 1
        paths = pending.get(timeout=120)
    assert len(set(paths)) == 90 and reads >= 1
    df = store.read()
    assert df.height == 90 and df["config_id"].n_unique() == 90
    for row in df.iter_rows(named=True):  # every field from the same writer
        w = int(row["agent"][1:])
        assert (row["val_map"], row["val_n_windows"]) == (w / 10, w)
