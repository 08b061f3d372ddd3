import pytest

from airflow_compose.errors import UsageError
from airflow_compose.stack import tags


@pytest.mark.parametrize("text, version, python, slim, pinned", [
    ("2.10.4", "2.10.4", "3.12", False, False),
    ("2.10.4-python3.11", "2.10.4", "3.11", False, True),
    ("slim-2.10.4", "2.10.4", "3.12", True, False),
    ("slim-2.10.4-python3.8", "2.10.4", "3.8", True, True),
    ("3.3.2-python3.14", "3.3.2", "3.14", False, True),
    ("latest", tags.NEWEST_RELEASE, "3.13", False, False),
    ("3.3.2", "3.3.2", "3.13", False, False),
    ("3.1.7", "3.1.7", "3.12", False, False),
    ("2.11.0-python3.9", "2.11.0", "3.9", False, True),
    ("latest-python3.10", tags.NEWEST_RELEASE, "3.10", False, True),
    ("slim-latest", tags.NEWEST_RELEASE, "3.13", True, False),
    ("2.7.0", "2.7.0", "3.8", False, False),
    ("2.8.4", "2.8.4", "3.8", False, False),
])
def test_parses_the_tag_scheme(text, version, python, slim, pinned):
    tag = tags.parse_tag(text)
    assert (tag.version, tag.python, tag.slim, tag.python_pinned) == (version, python, slim, pinned)


@pytest.mark.parametrize("text, words", [
    ("2.10", "is not an apache/airflow image tag"),
    ("v2.10.4", "is not an apache/airflow image tag"),
    ("2.10.4-py3.11", "is not an apache/airflow image tag"),
    ("latest-slim", "is not an apache/airflow image tag"),
    ("", "is not an apache/airflow image tag"),
    ("2.10.4-python3.13", "Python 3.13 is not published for Airflow 2.10"),
    ("3.3.2-python3.9", "Python 3.9 is not published for Airflow 3.3"),
    ("2.11.1-python3.9", "Python 3.9 is not published for Airflow 2.11.1"),
    ("slim-2.11.2-python3.9", "there is no such image"),
    ("2.6.3", "older than afc supports"),
    ("1.10.15", "older than afc supports"),
    ("4.0.0", "major version afc does not know"),
])
def test_rejects_bad_tags_naming_the_value_and_a_fix(text, words):
    with pytest.raises(UsageError) as caught:
        tags.parse_tag(text)
    assert words in caught.value.message
    assert caught.value.hint, "every rejection carries a fix"


def test_warns_for_unpinned_python_and_latest():
    assert "pin it with '2.10.4-python3.12'" in tags.parse_tag("2.10.4").warnings()[0]
    assert "moves with every release" in tags.parse_tag("latest").warnings()[0]
    assert tags.parse_tag("2.10.4-python3.12").warnings() == []


def test_default_tag_is_pinned_and_valid():
    tag = tags.parse_tag(tags.DEFAULT_TAG)
    assert tag.python_pinned and tag.major == 3 and not tag.warnings()


def test_slim_variant_has_no_providers_and_regular_has_the_stacks():
    assert tags.parse_tag("slim-3.3.2").providers == ()
    regular = tags.parse_tag("3.3.2").providers
    assert set(tags.STACK_PROVIDERS[3]) <= set(regular)


@pytest.mark.parametrize("ref, repo, tag", [
    ("apache/airflow:2.10.4", "apache/airflow", "2.10.4"),
    ("registry.local:5000/mirror/airflow:3.3.2-python3.12", "registry.local:5000/mirror/airflow", "3.3.2-python3.12"),
    ("afc-standin/airflow:3.3.2-python3.11", "afc-standin/airflow", "3.3.2-python3.11"),
])
def test_split_image(ref, repo, tag):
    assert tags.split_image(ref) == tags.ImageRef(repo, tag)


@pytest.mark.parametrize("ref", ["apache/airflow", "registry:5000/airflow", "apache/airflow@sha256:abc", "Apache/Airflow:2.10.4"])
def test_split_image_rejects(ref):
    with pytest.raises(UsageError):
        tags.split_image(ref)


def test_a_missing_python_names_the_pythons_that_exist():
    with pytest.raises(UsageError) as caught:
        tags.parse_tag("2.11.2-python3.9")
    assert "3.10, 3.11, 3.12" in caught.value.hint and "3.9," not in caught.value.hint


def test_3_1_0_python_3_13_images_lack_fab_and_the_stack_refuses_them():
    from airflow_compose.stack.spec import EngineFacts
    from tests.helpers import values

    assert "fab" not in tags.parse_tag("3.1.0-python3.13").providers
    assert "fab" in tags.parse_tag("3.1.0-python3.12").providers
    assert "fab" in tags.parse_tag("3.1.1-python3.13").providers
    from airflow_compose.stack.spec import build_spec

    with pytest.raises(UsageError) as caught:
        build_spec(values(AIRFLOW_IMAGE_NAME="apache/airflow:3.1.0-python3.13"), EngineFacts("amd64", True))
    assert "without the fab provider" in caught.value.message
    assert "3.1.0-python3.12" in caught.value.hint and "afc build --with fab" in caught.value.hint
