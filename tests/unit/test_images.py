"""`afc images TAG`: the tag knowledge, as data (no Docker)."""
import json

import pytest

from airflow_compose.commands import images
from airflow_compose.errors import UsageError
from airflow_compose.stack import tags
from tests.helpers import run_afc


def test_regular_tag_suits_the_celery_stack_and_lists_every_sibling():
    report = images.describe_tag("2.10.4-python3.11")
    assert (report.airflow_version, report.python, report.variant) == ("2.10.4", "3.11", "regular")
    assert report.python_pinned and not report.python_is_line_default and report.line_default_python == "3.12"
    assert report.suits_stack and report.reason == "" and report.missing_providers == ()
    assert set(tags.STACK_PROVIDERS[2]) <= set(report.providers) and "virtualenv" in report.providers
    assert report.platforms == ("linux/amd64", "linux/arm64")
    assert report.web_component == "webserver" and report.repository == "apache/airflow"
    expected = {"2.10.4", "slim-2.10.4"} | {f"{p}2.10.4-python{v}" for p in ("", "slim-")
                                            for v in ("3.8", "3.9", "3.10", "3.11", "3.12")}
    assert set(report.other_variants) == expected - {"2.10.4-python3.11"}
    assert "2.10.4-python3.11" not in report.other_variants


def test_unpinned_tag_is_the_lines_default_with_advice_to_pin():
    report = images.describe_tag("3.3.2")
    assert report.python == "3.13" and report.python_is_line_default and not report.python_pinned
    assert any("3.3.2-python3.13" in note for note in report.notes)
    assert report.web_component == "api-server" and "virtualenv" not in report.providers
    assert "slim-3.3.2-python3.14" in report.other_variants


def test_slim_does_not_suit_and_says_why_and_the_fix():
    report = images.describe_tag("slim-3.3.2-python3.11")
    assert report.variant == "slim" and report.providers == ()
    assert not report.suits_stack
    assert report.missing_providers == ("celery", "postgres", "redis", "fab")
    assert "no providers" in report.reason and "3.3.2-python3.11" in report.fix and "afc build" in report.fix


def test_slim_with_local_executor_still_misses_postgres_but_not_celery():
    report = images.describe_tag("slim-2.10.4-python3.12", executor="local")
    assert report.missing_providers == ("postgres",)


def test_repo_and_tag_and_latest():
    report = images.describe_tag("registry.local:5000/mirror/airflow:2.11.0-python3.9")
    assert report.repository == "registry.local:5000/mirror/airflow" and report.airflow_version == "2.11.0"
    latest = images.describe_tag("latest")
    assert latest.airflow_version == tags.NEWEST_RELEASE and any("moves with every release" in n for n in latest.notes)
    assert "latest-python3.12" in latest.other_variants and latest.python == "3.13"


@pytest.mark.parametrize("text, words", [("2.10", "not an apache/airflow image tag"),
                                         ("2.10.4-python3.13", "Python 3.13 is not published"),
                                         ("apache/airflow", "has no tag")])
def test_bad_tags_name_the_problem(text, words):
    with pytest.raises(UsageError) as raised:
        images.describe_tag(text)
    assert words in raised.value.message and raised.value.hint


def test_cli_text_and_json(tmp_path):
    done = run_afc("-C", str(tmp_path), "images", "slim-2.11.2")
    assert done.returncode == 0, done.stderr
    assert "does NOT suit" in done.stdout and "2.11.2-python3.12" in done.stdout and "slim-2.11.2-python3.10" in done.stdout and "python3.9" not in done.stdout
    assert "pin it" in done.stderr
    data = json.loads(run_afc("-C", str(tmp_path), "images", "2.11.2", "--json").stdout)
    assert data["airflow_version"] == "2.11.2" and data["suits_stack"] is True
    bad = run_afc("images", "3.3.2-python3.9")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "choose one of Python" in bad.stderr


def test_an_image_published_without_a_needed_provider_does_not_suit():
    report = images.describe_tag("3.1.0-python3.13")
    assert not report.suits_stack and report.missing_providers == ("fab",)
    assert "without the fab provider" in report.reason and "afc build --with fab" in report.fix
