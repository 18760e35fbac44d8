"""The `leaderboard` asset: every result in one polars table, attributed per agent, in proposal order.

Thin: the table is `archsearch.analysis.table.leaderboard_frame`; this module writes it to
`<root>/leaderboard/leaderboard.parquet` and shows the top 10 (validation mAP only) and the counts.
"""

import io

import dagster as dg

from archsearch.common import write_bytes_atomic
from assets.resources import ArchsearchResource


def _counts_markdown(counts: dict) -> str:
    lines = ["| agent | ok | failed | total |", "|---|---|---|---|"]
    lines += [f"| {a} | {c['ok']} | {c['failed']} | {c['total']} |" for a, c in counts.items()]
    return "\n".join(lines)


@dg.asset(
    name="leaderboard",
    deps=[dg.AssetDep("experiments", partition_mapping=dg.AllPartitionMapping())],
    group_name="analysis",
    kinds={"polars"},
    description="All experiment results as one table (per agent, proposal order); top 10 by validation mAP.",
)
def leaderboard(context: dg.AssetExecutionContext, archsearch: ArchsearchResource) -> dg.MaterializeResult:
    from archsearch.analysis.table import leaderboard_frame, space_dims, status_counts, top_markdown
    from archsearch.campaign.proposals import ProposalStore
    from archsearch.results import ResultsStore

    root = archsearch.root()
    frame = leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list())
    path = archsearch.layout().leaderboard
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    write_bytes_atomic(path, buffer.getvalue())  # readers see the old table or the new one, never half of one

    arch, train = space_dims(archsearch.search_space_or_none(context.log), frame.columns)
    counts = status_counts(frame)
    n_ok = sum(c["ok"] for c in counts.values())
    context.log.info(f"leaderboard: {frame.height} results ({n_ok} ok) from {len(counts)} agent(s) -> {path}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "path": dg.MetadataValue.path(str(path)),
            "top_10": dg.MetadataValue.md(top_markdown(frame, 10, dims=[*arch, *train])),
            "by_agent": dg.MetadataValue.md(_counts_markdown(counts) if counts else "_no results yet_"),
            "ok": n_ok,
            "failed": frame.height - n_ok,
            "agents": len(counts),
            "campaigns": frame["campaign"].n_unique() if frame.height else 0,
        }
    )
