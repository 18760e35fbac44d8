"""The data root: a local or mounted folder; object-store URLs are refused, naming where they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsearch.common import data_root, local_folder
from assets.resources import ArchsearchResource


@pytest.mark.parametrize("url", ["s3://bucket/archsearch", "gs://b/x", "hdfs://nn:8020/x"])
def test_an_object_store_url_is_refused_naming_the_variable(monkeypatch, url):
    monkeypatch.setenv("ARCHSEARCH_HOME", url)
    with pytest.raises(ValueError, match=r"ARCHSEARCH_HOME='.+': expected a local or mounted folder .*atomic rename"):
        data_root()
    with pytest.raises(ValueError, match=r"ArchsearchResource.data_root="):
        ArchsearchResource(data_root=url).root()


def test_local_paths_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARCHSEARCH_HOME", "data")
    assert data_root() == tmp_path / "data"
    assert local_folder("./a:b", "X") == tmp_path / "a:b", "a colon alone is not a URL"
    assert local_folder("file:///mnt/shared%20store/x", "X") == Path("/mnt/shared store/x"), "a file URL is a path"


def test_the_cli_prints_one_line_naming_the_variable(monkeypatch, capsys, tmp_path):
    from pipelines import cli

    monkeypatch.setenv("ARCHSEARCH_HOME", "s3://bucket/archsearch")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert cli.main(["campaign", "status"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ARCHSEARCH_HOME='s3://bucket/archsearch'" in err and "Traceback" not in err
