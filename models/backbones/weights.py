"""Where transformers weights come from, and their content digest (torch-free).

Order: the `weights_dir` argument (a model folder, or a folder holding `<name>/`), then
`$ARCHSEARCH_WEIGHTS_DIR/<name>`, then the Hugging Face cache for the default repo id (offline:
`local_files_only=True`). Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .base import MissingWeightsError

ENV_VAR = "ARCHSEARCH_WEIGHTS_DIR"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pth", "*.pt")
_DIGESTS: dict[tuple, str] = {}


def _has_config(p: Path) -> bool:
    return (p / "config.json").is_file()


def hf_cache_root() -> str:
    """The hub cache folder, read from the environment at call time (tests and users may change it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    try:
        from huggingface_hub import constants

        return constants.HF_HUB_CACHE  # also honours XDG_CACHE_HOME and legacy variables
    except ImportError:
        return os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")


def _hf_cache_dir(repo_id: str) -> tuple[Path | None, str]:
    """The cached snapshot folder of repo_id, or None and why not."""
    root = hf_cache_root()
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id, cache_dir=root, local_files_only=True))
    except Exception as e:  # noqa: BLE001 - LocalEntryNotFoundError, a missing hub package, ...: all mean 'not here'
        return None, f"not in {root} ({type(e).__name__})"
    return (path, "") if _has_config(path) else (None, f"{path} has no config.json")


def how_to_provide(name: str, repo_id: str) -> str:
    return (
        f"To provide them: on a machine with internet run `hf download {repo_id}` (or "
        f"`AutoModel.from_pretrained('{repo_id}').save_pretrained(DIR)` plus the image processor) and "
        f"copy the files here; then pass weights_dir=DIR, or set {ENV_VAR}=ROOT with the model in "
        f"ROOT/{name}/ (config.json + *.safetensors), or copy the HF cache into $HF_HOME."
    )


def resolve_weights(name: str, repo_id: str, weights_dir: str | os.PathLike | None) -> Path:
    """Folder holding config.json + weights for backbone `name`; MissingWeightsError lists what was searched."""
    searched: list[str] = []
    if weights_dir is not None:
        root = Path(weights_dir).expanduser()
        for cand in (root, root / name):
            if _has_config(cand):
                return cand
        raise MissingWeightsError(
            f"backbone {name!r}: weights_dir={root} holds no config.json (looked in {root} and {root / name}). "
            + how_to_provide(name, repo_id)
        )
    searched.append("weights_dir argument: not given")
    env = os.environ.get(ENV_VAR)
    if env:
        cand = Path(env).expanduser() / name
        if _has_config(cand):
            return cand
        searched.append(f"${ENV_VAR}/{name} = {cand}: no config.json")
    else:
        searched.append(f"${ENV_VAR}: not set")
    path, why = _hf_cache_dir(repo_id)
    if path is not None:
        return path
    searched.append(f"HF cache for {repo_id}: {why}")
    raise MissingWeightsError(
        f"backbone {name!r}: no weights found. Searched: " + "; ".join(searched) + ". " + how_to_provide(name, repo_id)
    )


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a model folder (sorted), MissingWeightsError when there are none."""
    files = sorted({f for pat in WEIGHT_PATTERNS for f in folder.glob(pat) if f.is_file()})
    if not files:
        raise MissingWeightsError(
            f"{folder}: has config.json but no weight files ({', '.join(WEIGHT_PATTERNS)}); "
            "the download or copy looks incomplete"
        )
    return files


def sha256_files(paths: list[Path], chunk: int = 1 << 22) -> str:
    """sha256 over the bytes of the files in the given order (names do not enter the hash)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    return h.hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 over the weight files' bytes and config.json, cached per (path, size, mtime) of each file."""
    files = weight_files(folder) + [folder / "config.json"]
    key = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_files(files)
    return _DIGESTS[key]
