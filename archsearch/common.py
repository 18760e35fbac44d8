"""Rules every part of archsearch shares: where data lives, which names are safe, how files are written.

Each rule is written once here so that the stores, the campaign and the Dagster layer cannot drift
apart: a campaign name the config accepts is a name the results store accepts, a file the feature
store publishes is written the way a proposal is, and the data root has one layout.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Names that become parts of paths and partition keys (datasets, campaigns, video ids, agents):
# letters, digits, `_`, `.` and `-`, starting with a letter or digit, at most 128 characters.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SAFE_NAME_RULE = "letters, digits, '_', '.' or '-', starting with a letter or digit, at most 128 characters"


def is_safe_name(value: object) -> bool:
    """True when ``value`` is a string that may be used as a path component and partition key part."""
    return isinstance(value, str) and SAFE_NAME.fullmatch(value) is not None


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds: the timestamp every store records."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def data_root() -> Path:
    """The data root: ``$ARCHSEARCH_HOME`` if set, else ``<repo>/.archsearch`` (gitignored)."""
    env = os.environ.get("ARCHSEARCH_HOME")
    return local_folder(env, "ARCHSEARCH_HOME") if env else (REPO_ROOT / ".archsearch").resolve()


def local_folder(text: str, source: str) -> Path:
    """``text`` as an absolute local path (``file://`` URLs too); another URL (``s3://``, ``gs://``...) is refused,
    naming ``source``: the stores publish by atomic rename, which object stores do not have."""
    if text.lower().startswith("file://"):
        from urllib.parse import unquote, urlsplit

        text = unquote(urlsplit(text).path)
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", text):
        raise ValueError(
            f"{source}={text!r}: expected a local or mounted folder (the stores publish by atomic rename, "
            "which object stores lack); mount it, e.g. over NFS, and give the mount point"
        )
    return Path(text).expanduser().resolve()


@dataclass(frozen=True)
class DataLayout:
    """The folders and files under one data root; every store finds its place here."""

    root: Path

    @classmethod
    def default(cls) -> DataLayout:
        return cls(data_root())

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def manifest(self) -> Path:
        return self.root / "manifests" / "manifest.parquet"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def proposals(self) -> Path:
        return self.root / "proposals"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def agent_log(self) -> Path:
        return self.root / "agent_log"

    @property
    def campaigns(self) -> Path:
        return self.root / "campaigns"

    @property
    def leaderboard(self) -> Path:
        return self.root / "leaderboard" / "leaderboard.parquet"

    @property
    def reports(self) -> Path:
        return self.root / "reports"


def write_text_atomic(
    path: str | os.PathLike[str], text: str, staging_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``text`` to a temp file, fsync it, then rename it over ``path``: readers see old or new, never half.

    The temp file lives beside ``path`` (or in ``staging_dir``, which must be on the same
    filesystem: the feature store stages in its own swept tmp folder so a killed writer leaves no
    stray file among its groups), so the rename never crosses filesystems; its name carries host and
    pid so concurrent writers (several workers on a shared disk) never collide.
    """
    return write_bytes_atomic(path, text.encode("utf-8"), staging_dir)


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, staging_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Like :func:`write_text_atomic`, for bytes (parquet files, PNGs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent if staging_dir is None else Path(staging_dir)
    tmp = folder / f".{path.name}.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def staging_path(path: str | os.PathLike[str]) -> Path:
    """A unique temp name beside ``path`` for writers that must produce the file themselves (then ``os.replace``)."""
    path = Path(path)
    return path.parent / f".{path.name}.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a process we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


SWITCH_ON = ("on", "1", "true", "yes")
SWITCH_OFF = ("off", "0", "false", "no")


def env_switch(name: str, default: bool, env: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """An on/off environment variable: on/1/true/yes or off/0/false/no (any case); unset or empty -> ``default``.

    Any other value is an error naming the variable, so a typo never silently flips a switch.
    """
    raw = (os.environ if env is None else env).get(name, "")
    value = raw.strip().lower()
    if not value:
        return default
    if value in SWITCH_ON:
        return True
    if value in SWITCH_OFF:
        return False
    raise ValueError(f"{name}={raw!r}: expected one of {', '.join(SWITCH_ON)} or {', '.join(SWITCH_OFF)}")


def did_you_mean(word: object, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options`` to ``word`` (difflib), else ``""``.

    Appended to "unknown key/name" errors so a typo (``skip_bad_row``, ``zipformr``) names its fix.
    """
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (Unix time), from ``/proc``; None where that cannot be read.

    A pid alone does not identify a process: after one dies its pid may be reused. A recorded pid
    still belongs to the recorded process only if the live process started no later than the record.
    """
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time in clock ticks


@contextmanager
def name_os_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Re-raise an ``OSError`` that names no file (ENOSPC on write, EIO on fsync) as one naming ``path``.

    ``open`` names its file, but ``write`` and ``fsync`` do not: "No space left on device" alone
    does not say which store or disk filled up.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None  # the same error, now naming the file
