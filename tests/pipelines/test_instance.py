"""Where the CLI, the demo and the study record runs when DAGSTER_HOME is not set: the instance `make ui` opens."""

from __future__ import annotations

import os

import pytest

from pipelines import cli, instance
from pipelines.instance import SETTINGS, dagster_home, local_instance


@pytest.fixture
def no_home(monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", "unset")  # records the caller's value, restored after the test
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.setattr(instance, "DEFAULT_HOME", tmp_path / "repo" / ".dagster_home")
    return tmp_path / "repo" / ".dagster_home"


def test_without_dagster_home_the_repositorys_instance_is_created_with_archsearchs_settings(no_home, capsys):
    assert cli.main(["doctor"]) == 0  # Dagster alone refuses: DagsterHomeNotSetError
    assert "no stuck runs" in capsys.readouterr().out.lower()
    assert (no_home / "dagster.yaml").read_text() == SETTINGS.read_text()
    assert os.environ["DAGSTER_HOME"] == str(no_home), "run workers and child processes open the same instance"
    with local_instance() as inst:
        assert inst.run_monitoring_enabled, "the settings file was read"


def test_an_existing_settings_file_is_kept(no_home):
    no_home.mkdir(parents=True)
    (no_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert dagster_home() == no_home
    assert (no_home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_a_relative_dagster_home_is_taken_from_the_current_directory(monkeypatch, tmp_path):
    """A folder the user names gets the settings too when it has none (as `make` does), and keeps its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "inst")
    assert dagster_home() == tmp_path / "inst"
    assert os.environ["DAGSTER_HOME"] == str(tmp_path / "inst")
    assert (tmp_path / "inst" / "dagster.yaml").read_text() == SETTINGS.read_text()
    assert [p.name for p in (tmp_path / "inst").iterdir()] == ["dagster.yaml"], "no temporary file left"
