"""The leaderboard frame: every result, attributed to its agent, in the order it was proposed.

Search analyses (best-at-N, power law, entropy, specialization) are about *when* an agent asked
for an experiment, not when a worker happened to finish it: with several experiments in flight,
finish order shuffles proposals. So the order key is the proposal's `created_at` (then round,
then config_id, then seed, so ties break the same way every time); a result with no stored
proposal (written by hand or by a test) falls back to its own `created_at`.

`order` numbers the results of a campaign 1, 2, ...; `agent_order` numbers each agent's results
within the campaign, which is "N experiments spent" for that agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from archsearch.campaign.proposals import Proposal

ARCHITECTURE_FALLBACK = ("backbone", "encoder", "pooling")
TRAINING_FALLBACK = ("loss", "lr", "weight_decay", "window_length", "epochs")


def space_dims(space=None, columns: Sequence[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(architecture dims, training dims): from the space when known, else the paper's names.

    With `columns`, dims missing from the table are dropped (an old store may lack a new dimension).
    """
    if space is not None:
        arch, train = space.group_dims("architecture"), space.group_dims("training")
    else:
        arch, train = ARCHITECTURE_FALLBACK, TRAINING_FALLBACK
    if columns is not None:
        arch = tuple(d for d in arch if d in columns)
        train = tuple(d for d in train if d in columns)
    return tuple(arch), tuple(train)


def leaderboard_frame(results: pl.DataFrame, proposals: Iterable[Proposal] = ()) -> pl.DataFrame:
    """`ResultsStore.read()` plus `proposed_at`, `order_time`, `order` and `agent_order` (both 1-based).

    Rows come out sorted by campaign, then proposal order.
    """
    prop = pl.DataFrame(
        [{"campaign": p.campaign, "config_id": p.config_id, "proposed_at": p.created_at} for p in proposals],
        schema={"campaign": pl.String, "config_id": pl.String, "proposed_at": pl.String},
    ).unique(subset=["campaign", "config_id"], keep="first")
    df = results.drop([c for c in ("proposed_at", "order_time", "order", "agent_order") if c in results.columns])
    df = df.join(prop, on=["campaign", "config_id"], how="left")
    df = df.with_columns(pl.coalesce("proposed_at", "created_at").alias("order_time"))
    df = df.sort(["campaign", "order_time", "round", "config_id", "seed"], nulls_last=True)
    return df.with_columns(
        pl.int_range(1, pl.len() + 1).over("campaign").cast(pl.Int64).alias("order"),
        pl.int_range(1, pl.len() + 1).over(["campaign", "agent"]).cast(pl.Int64).alias("agent_order"),
    )


def ok_rows(frame: pl.DataFrame, metric: str = "val_map") -> pl.DataFrame:
    """Finished runs with a finite `metric` (failed runs have no score to analyse)."""
    return frame.filter((pl.col("status") == "ok") & pl.col(metric).is_not_null() & pl.col(metric).is_finite())


def top_markdown(frame: pl.DataFrame, k: int = 10, *, dims: Sequence[str] = ()) -> str:
    """The best `k` ok runs by validation mAP as a markdown table.

    Validation only: the leaderboard ranks configs, and showing test scores next to a ranking
    invites picking by test. The test mAP of the validation-selected best is in the report.
    """
    ok = ok_rows(frame)
    if ok.height == 0:
        return "_no finished experiments yet_"
    dims = [d for d in dims if d in ok.columns]
    top = ok.sort(["val_map", "order_time", "config_id"], descending=[True, False, False]).head(k)
    cols = ["rank", "val mAP", "agent", "campaign", "dataset", "config_id", *dims]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for i, r in enumerate(top.iter_rows(named=True), start=1):
        cells = [
            i,
            f"{r['val_map']:.4f}",
            r["agent"],
            r["campaign"],
            r["dataset"] or "-",
            r["config_id"],
            *(r[d] for d in dims),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def status_counts(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    """{agent: {"ok": n, "failed": n, "total": n}} with agents sorted by name."""
    out: dict[str, dict[str, int]] = {}
    for agent in sorted(frame["agent"].unique().to_list(), key=str):
        sub = frame.filter(pl.col("agent") == agent)
        ok = sub.filter(pl.col("status") == "ok").height
        out[str(agent)] = {"ok": ok, "failed": sub.height - ok, "total": sub.height}
    return out


def cell_labels(frame: pl.DataFrame, dims: Sequence[str]) -> list[str]:
    """One label per row naming its cell over `dims`, e.g. 'motion×gru' (the ANOVA groups)."""
    if not dims:
        raise ValueError("cell_labels: expected at least one dimension")
    missing = [d for d in dims if d not in frame.columns]
    if missing:
        raise KeyError(f"cell_labels: the results table has no column(s) {missing}; columns: {frame.columns}")
    cols = [frame[d].cast(pl.String).fill_null("?").to_list() for d in dims]
    return ["×".join(parts) for parts in zip(*cols, strict=True)]
