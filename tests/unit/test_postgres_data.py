"""Postgres by major: the data mount follows the image's major; a volume the image would not use is refused."""
import pytest

from airflow_compose.commands.lifecycle import postgres_data_conflict
from airflow_compose.engine.volumes import PostgresData, parse_postgres_data
from airflow_compose.stack.render import render
from airflow_compose.stack.spec import EngineFacts, build_spec
from tests.helpers import values


def spec_with(image):
    return build_spec(values(AIRFLOW_IMAGE_NAME="apache/airflow:3.3.2-python3.12", AFC_POSTGRES_IMAGE=image),
                      EngineFacts("amd64", False))


@pytest.mark.parametrize("image, major, mount", [
    ("postgres:16", 16, "/var/lib/postgresql/data"),
    ("postgres:17.2-bookworm", 17, "/var/lib/postgresql/data"),
    ("registry.local:5000/library/postgres:13", 13, "/var/lib/postgresql/data"),
    ("postgres:18", 18, "/var/lib/postgresql"),
    ("postgres:18-alpine@sha256:" + "a" * 64, 18, "/var/lib/postgresql"),
    ("postgres:latest", None, "/var/lib/postgresql"),
    ("afc-standin/postgres:18", 18, "/var/lib/postgresql"),
])
def test_the_data_mount_follows_the_major(image, major, mount):
    spec = spec_with(image)
    assert spec.postgres_major == major and spec.postgres_data_mount == mount
    assert render(spec, EngineFacts("amd64", False))["services"]["postgres"]["volumes"] == [f"postgres-data:{mount}"]


def test_the_probe_output_is_read():
    output = "postgres (PostgreSQL) 18.1 (Debian 18.1-1.pgdg12+1)\ndata /v/18/docker 18\n"
    assert parse_postgres_data("p_postgres-data", output) == PostgresData("p_postgres-data", 18, 18, "18/docker")
    assert parse_postgres_data("v", "postgres (PostgreSQL) 16.4\ndata /v 16\n") == PostgresData("v", 16, 16, "")
    assert parse_postgres_data("v", "postgres (PostgreSQL) 16.4\n").data_major is None


@pytest.mark.parametrize("image, data, refused", [
    ("postgres:16", None, False),                                           # no volume yet
    ("postgres:16", PostgresData("v", 16, None, ""), False),                # an empty volume
    ("postgres:16", PostgresData("v", 16, 16, ""), False),
    ("postgres:17", PostgresData("v", 17, 16, ""), True),                   # another major
    ("postgres:18", PostgresData("v", 18, 16, ""), True),                   # old layout under an 18 image
    ("postgres:18", PostgresData("v", 18, 18, "18/docker"), False),
    ("postgres:16", PostgresData("v", 16, 18, "18/docker"), True),          # going back from 18
    ("afc-standin/postgres:16", PostgresData("v", 15, 15, ""), False),      # the tag names a role, not the server
    ("afc-standin/postgres:18", PostgresData("v", 15, 15, ""), True),       # same server, other layout
])
def test_a_volume_the_image_would_not_use_is_refused_with_the_way_out(image, data, refused):
    conflict = postgres_data_conflict(spec_with(image), data)
    assert (conflict is not None) == refused
    if conflict:
        assert conflict.exit_code == 3 and "afc backup" in conflict.hint and "afc restore" in conflict.hint
        assert f"PostgreSQL {data.data_major} data" in conflict.message
