"""Any search log as a leaderboard frame, so another system's search gets archsearch's report.

A search log is a CSV (or TSV) or Parquet table with one row per proposed experiment. Columns, by
role (the default column name in brackets; `columns={role: name}` maps other names):

* `order` [order], required: the proposal order within a campaign, a number (e.g. a step index)
  or an ISO 8601 timestamp; other text is refused (it would sort "10" before "9"). It must be
  unique within a campaign. The order a worker
  *finished* in is not the order the agent *asked* in; give the latter.
* `agent` [agent], `campaign` [campaign], required: who searched, and which independent run of
  the search (a seed) a row belongs to. Best-at-N intervals are over campaigns.
* `val` [val_score], required: the validation score the search optimised (higher is better).
  Empty or NaN means the experiment failed: it spent budget and scored nothing.
* `test` [test_score], optional: a held-out score, shown only for the val-selected best.
* `status` [status], optional: `ok` or `failed`; without it, a row is ok when its val is a number.
* `dataset` [dataset], optional: one report section per dataset (default: one unnamed dataset).
* `config_id` [config_id], optional: an experiment's identity (default: a hash of its config).

Every other column is a config column. `architecture=[...]` names the ones that define an
architecture (the ANOVA cells, entropy and JSD); default: backbone, encoder, pooling where
present. `training=[...]` names the rest that matter (default: every remaining column).

A missing or unusable column is an error naming the file, the column and, for a bad value, the
row: a report on misread data would print numbers that do not mean what they say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from archsearch.analysis.dataset_analysis import Settings
from archsearch.analysis.report import build_report
from archsearch.analysis.report_files import Report, write_report
from archsearch.analysis.table import ARCHITECTURE_FALLBACK

DEFAULT_COLUMNS = {
    "order": "order",
    "agent": "agent",
    "campaign": "campaign",
    "val": "val_score",
    "test": "test_score",
    "status": "status",
    "dataset": "dataset",
    "config_id": "config_id",
}
REQUIRED = ("order", "agent", "campaign", "val")
FRAME_COLUMNS = (
    "campaign",
    "agent",
    "dataset",
    "status",
    "config_id",
    "val_map",
    "test_map",
    "order_time",
    "order",
    "agent_order",
)  # what the analyses read; config columns come after these
STATUSES = ("ok", "failed")


@dataclass(frozen=True)
class LogSpace:
    """Which config columns are architecture and which training: what a search space tells the report."""

    architecture: tuple[str, ...]
    training: tuple[str, ...]

    def group_dims(self, group: str) -> tuple[str, ...]:
        return {"architecture": self.architecture, "training": self.training}[group]


@dataclass(frozen=True)
class SearchLog:
    """A search log read into the leaderboard frame's shape, with its dimensions and where it came from."""

    path: Path
    frame: pl.DataFrame
    space: LogSpace
    columns: dict[str, str] = field(default_factory=dict)  # role -> the log's column name used

    @property
    def source(self) -> str:
        mapped = ", ".join(f"{role} = `{name}`" for role, name in self.columns.items())
        return (
            f"search log `{self.path}` ({mapped}; architecture: {', '.join(self.space.architecture)}; training: "
            f"{', '.join(self.space.training) or '-'})"
        )


def _read_table(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"search log {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return pl.read_csv(path, separator="\t" if suffix == ".tsv" else ",", infer_schema_length=None)
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path)
    raise ValueError(f"search log {path}: expected a .csv, .tsv or .parquet file, got '{suffix}'")


def _row_of(path: Path, index: int) -> str:
    """How a user finds row `index` (0-based) of the table: CSV lines count the header."""
    return f"row {index + 1}" + (f" (line {index + 2})" if path.suffix.lower() in (".csv", ".tsv") else "")


def _numbers(path: Path, raw: pl.DataFrame, column: str, role: str) -> pl.Series:
    """`column` as floats (null/NaN kept); a value that is not a number is an error naming its row."""
    s = raw[column]
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    as_float = s.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    bad = s.is_not_null() & (s.cast(pl.String).str.strip_chars() != "") & as_float.is_null()
    if bad.any():
        i = int(bad.arg_max())
        raise ValueError(
            f"search log {path}: column '{column}' ({role} score) must hold numbers; {_row_of(path, i)} holds {s[i]!r}"
        )
    return as_float


def _labels(path: Path, raw: pl.DataFrame, column: str, role: str) -> pl.Series:
    s = raw[column].cast(pl.String)
    if s.null_count():
        where = _row_of(path, int(s.is_null().arg_max()))
        raise ValueError(f"search log {path}: column '{column}' ({role}) is empty at {where}")
    return s


def _status(path: Path, raw: pl.DataFrame, column: str | None, val: pl.Series) -> pl.Series:
    scored = val.is_not_null() & val.is_finite()
    if column is None:
        return pl.Series("status", ["ok" if x else "failed" for x in scored.to_list()], dtype=pl.String)
    s = raw[column].cast(pl.String).str.strip_chars().str.to_lowercase()
    for i, (v, ok) in enumerate(zip(s.to_list(), scored.to_list(), strict=True)):
        if v not in STATUSES:
            raise ValueError(
                f"search log {path}: column '{column}' (status) must be one of {STATUSES}; "
                f"{_row_of(path, i)} holds {raw[column][i]!r}"
            )
        if v == "ok" and not ok:
            raise ValueError(f"search log {path}: {_row_of(path, i)} has status 'ok' but no validation score")
    return s


def _order_key(path: Path, raw: pl.DataFrame, column: str) -> pl.Series:
    """The proposal order as something that sorts right: numbers and times as they are, text parsed as ISO 8601.

    Text that is not a timestamp is refused rather than sorted as text ("10" < "9").
    """
    s = raw[column]
    if s.null_count():
        raise ValueError(
            f"search log {path}: column '{column}' (order) is empty at {_row_of(path, int(s.is_null().arg_max()))}"
        )
    if s.dtype.is_numeric() or s.dtype.is_temporal():
        return s
    text = s.cast(pl.String).str.strip_chars()
    try:
        parsed = text.str.to_datetime(strict=False)
    except pl.exceptions.ComputeError:  # no timestamp format fits any value
        parsed = pl.Series(column, [None] * s.len(), dtype=pl.Datetime)
    if parsed.null_count():
        i = int(parsed.is_null().arg_max())
        raise ValueError(
            f"search log {path}: column '{column}' (order) must hold numbers or ISO 8601 timestamps; "
            f"{_row_of(path, i)} holds {s[i]!r}"
        )
    return parsed


def _config_ids(raw: pl.DataFrame, dims: Sequence[str]) -> pl.Series:
    """A short stable hash of each row's config values (the id a log without one gets)."""
    rows = raw.select(dims).cast(pl.String).rows() if dims else [()] * raw.height
    ids = [hashlib.sha1(json.dumps(list(zip(dims, r, strict=True))).encode()).hexdigest()[:12] for r in rows]
    return pl.Series("config_id", ids, dtype=pl.String)


def _resolve(path: Path, raw: pl.DataFrame, columns: Mapping[str, str] | None) -> dict[str, str]:
    """role -> column name for the roles the log has; a missing required column is an error."""
    unknown = sorted(set(columns or {}) - set(DEFAULT_COLUMNS))
    if unknown:
        raise ValueError(f"search log {path}: unknown column role(s) {unknown}; roles are {list(DEFAULT_COLUMNS)}")
    names = {**DEFAULT_COLUMNS, **(columns or {})}
    for role in REQUIRED:
        if names[role] not in raw.columns:
            how = "mapped" if columns and role in columns else "default name"
            raise ValueError(
                f"search log {path}: missing the {role} column '{names[role]}' ({how}; map another with "
                f"columns={{'{role}': NAME}}); columns present: {raw.columns}"
            )
    return {role: name for role, name in names.items() if name in raw.columns}


def _dimensions(
    path: Path, config: list[str], architecture: Sequence[str] | None, training: Sequence[str] | None
) -> LogSpace:
    arch = tuple(architecture) if architecture is not None else tuple(d for d in ARCHITECTURE_FALLBACK if d in config)
    if not arch:
        raise ValueError(
            f"search log {path}: no architecture columns; pass architecture=[...] naming the config "
            f"columns that define an architecture; config columns: {config}"
        )
    train = tuple(training) if training is not None else tuple(c for c in config if c not in arch)
    missing = [d for d in (*arch, *train) if d not in config]
    if missing:
        raise ValueError(
            f"search log {path}: config column(s) {missing} not found (or used for a role); config columns: {config}"
        )
    return LogSpace(arch, train)


def read_search_log(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    architecture: Sequence[str] | None = None,
    training: Sequence[str] | None = None,
) -> SearchLog:
    """Read a search log (module docstring: columns, defaults, errors) into the leaderboard frame's shape."""
    path = Path(path)
    raw = _read_table(path)
    roles = _resolve(path, raw, columns)
    config = [c for c in raw.columns if c not in roles.values()]
    space = _dimensions(path, config, architecture, training)
    dims = [*space.architecture, *space.training]
    clash = sorted(set(dims) & set(FRAME_COLUMNS))
    if clash:
        raise ValueError(
            f"search log {path}: config column(s) {clash} clash with the report's own columns; rename them"
        )
    val = _numbers(path, raw, roles["val"], "val")
    order = _order_key(path, raw, roles["order"])
    frame = pl.DataFrame(
        [
            _labels(path, raw, roles["campaign"], "campaign").alias("campaign"),
            _labels(path, raw, roles["agent"], "agent").alias("agent"),
            (
                raw[roles["dataset"]].cast(pl.String).fill_null("")
                if "dataset" in roles
                else pl.Series("dataset", [""] * raw.height, dtype=pl.String)
            ).alias("dataset"),
            _status(path, raw, roles.get("status"), val).alias("status"),
            (raw[roles["config_id"]].cast(pl.String) if "config_id" in roles else _config_ids(raw, dims)).alias(
                "config_id"
            ),
            val.alias("val_map"),
            (
                _numbers(path, raw, roles["test"], "test")
                if "test" in roles
                else pl.Series("test_map", [None] * raw.height, dtype=pl.Float64)
            ).alias("test_map"),
            order.alias("order_time"),
            *(raw[d] for d in dims),
        ]
    )
    dup = frame.filter(pl.struct("campaign", "order_time").is_duplicated())
    if dup.height:
        r = dup.row(0, named=True)
        raise ValueError(
            f"search log {path}: column '{roles['order']}' (order) repeats {r['order_time']!r} in "
            f"campaign {r['campaign']!r}; the proposal order must be unique within a campaign"
        )
    frame = frame.sort(["campaign", "order_time"]).with_columns(
        pl.int_range(1, pl.len() + 1).over("campaign").cast(pl.Int64).alias("order"),
        pl.int_range(1, pl.len() + 1).over(["campaign", "agent"]).cast(pl.Int64).alias("agent_order"),
    )
    return SearchLog(path=path, frame=frame.select([*FRAME_COLUMNS, *dims]), space=space, columns=roles)


def log_report(log: SearchLog, settings: Settings | None = None, *, generated_at: str = "") -> Report:
    """The analysis report of a search log: the same builder as the `analysis_report` asset."""
    return build_report(
        log.frame,
        log.space,
        settings,
        generated_at=generated_at,
        source=log.source,
        metric=f"the log's validation score `{log.columns['val']}` (called 'val mAP' below)",
    )


def analyze_log(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    architecture: Sequence[str] | None = None,
    training: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> Path:
    """Read a search log, build its report and write it to `<out_dir>/reports/latest/report.md` (plus PNGs).

    `out_dir` defaults to `<log folder>/<log name>-analysis`. Returns the report's path.
    """
    log = read_search_log(path, columns=columns, architecture=architecture, training=training)
    now = dt.datetime.now(dt.UTC)
    report = log_report(log, settings, generated_at=now.isoformat(timespec="seconds"))
    root = Path(out_dir) if out_dir is not None else log.path.with_name(f"{log.path.stem}-analysis")
    return write_report(report, root, now.strftime("%Y%m%dT%H%M%SZ"))
