"""airflow_settings.yaml: Astro CLI's shape validated completely before anything is sent, and exported back.

The template entries (all fields empty) are Astro CLI's own template, airflow/include/settingsyml.go in
github.com/astronomer/astro-cli: `airflow: {connections: [{conn_id, conn_type, conn_host, conn_schema, conn_login,
conn_password, conn_port, conn_extra}], pools: [{pool_name, pool_slot, pool_description}], variables:
[{variable_name, variable_value}]}`."""
import json

import pytest
import yaml

from airflow_compose.commands import seeds
from airflow_compose.errors import ProjectError

ASTRO_TEMPLATE = """
airflow:
  connections:
    - conn_id:
      conn_type:
      conn_host:
      conn_schema:
      conn_login:
      conn_password:
      conn_port:
      conn_extra:
  pools:
    - pool_name:
      pool_slot:
      pool_description:
  variables:
    - variable_name:
      variable_value:
"""

FULL = """
airflow:
  connections:
    - conn_id: warehouse
      conn_type: postgres
      conn_host: db.example.com
      conn_schema: sales
      conn_login: reader
      conn_password: s3cret
      conn_port: 5432
      conn_extra:
        sslmode: require
    - conn_id: api
      conn_type: http
      conn_host: https://api.example.com
      conn_extra: '{"timeout": 5}'
  pools:
    - pool_name: warehouse_pool
      pool_slot: 3
      pool_description: at most three queries
  variables:
    - variable_name: environment
      variable_value: dev
    - variable_name: limits
      variable_value: {rows: 10}
    - variable_name: retries
      variable_value: 2
"""


def test_astro_template_entries_are_skipped():
    assert seeds.parse(yaml.safe_load(ASTRO_TEMPLATE)).empty


def test_a_full_file_converts_to_airflow_fields():
    parsed = seeds.parse(yaml.safe_load(FULL))
    warehouse, api = parsed.connections
    assert warehouse == {"conn_id": "warehouse", "conn_type": "postgres", "host": "db.example.com", "schema": "sales",
                         "login": "reader", "password": "s3cret", "port": 5432, "extra": '{"sslmode": "require"}'}
    assert api == {"conn_id": "api", "conn_type": "http", "host": "https://api.example.com", "extra": '{"timeout": 5}'}
    assert parsed.pools == [{"pool": "warehouse_pool", "slots": 3, "description": "at most three queries"}]
    assert parsed.variables == [{"key": "environment", "value": "dev"}, {"key": "limits", "value": '{"rows": 10}'},
                                {"key": "retries", "value": "2"}]
    assert parsed.has_secrets


def test_a_field_left_out_is_not_sent_so_the_stack_keeps_it():
    parsed = seeds.parse({"airflow": {"connections": [{"conn_id": "a", "conn_type": "http"}],
                                      "variables": [{"variable_name": "x"}]}})
    assert parsed.connections == [{"conn_id": "a", "conn_type": "http"}]
    assert parsed.variables == [{"key": "x"}] and not parsed.has_secrets


@pytest.mark.parametrize("entry, message", [
    ({"connections": [{"conn_id": "a", "conn_type": "http", "conn_port": "http"}]},
     "connections[0] (conn_id 'a'): conn_port 'http' is not a port number"),
    ({"connections": [{"conn_id": "a", "conn_type": "http", "conn_port": 70000}]}, "conn_port 70000"),
    ({"connections": [{"conn_id": "a"}]}, "connections[0] (conn_id 'a'): conn_type is missing"),
    ({"connections": [{"conn_type": "http", "conn_host": "h"}]}, "connections[0]: conn_id is missing"),
    ({"connections": [{"conn_id": "a", "conn_type": "http", "conn_hots": "h"}]}, "unknown field 'conn_hots'"),
    ({"connections": [{"conn_id": "a", "conn_type": "http", "conn_extra": "{not json"}]}, "conn_extra is not valid JSON"),
    ({"connections": [{"conn_id": "a b", "conn_type": "http"}]}, "may only hold letters"),
    ({"pools": [{"pool_name": "p", "pool_slot": "many"}]}, "pools[0] (pool_name 'p'): pool_slot 'many' is not a whole"),
    ({"pools": [{"pool_name": "p"}]}, "pool_slot is missing"),
    ({"variables": [{"variable_name": "v", "variable_value": 1}, {"variable_name": "v", "variable_value": 2}]},
     "variables[1] (variable_name 'v'): variable_name 'v' appears twice"),
    ({"connectons": []}, "airflow.connectons: unknown section"),
])
def test_a_bad_entry_is_refused_naming_entry_and_field(entry, message):
    with pytest.raises(ProjectError) as caught:
        seeds.parse({"airflow": entry})
    assert message in caught.value.message and "nothing was applied" in caught.value.message


def test_every_bad_entry_is_named_at_once():
    with pytest.raises(ProjectError) as caught:
        seeds.parse({"airflow": {"pools": [{"pool_name": "a", "pool_slot": "x"}, {"pool_name": "b", "pool_slot": -5}]}})
    assert "2 bad entries" in caught.value.message and "pools[1]" in caught.value.message


def test_not_a_settings_file():
    with pytest.raises(ProjectError, match="one mapping `airflow:`"):
        seeds.parse(["a"])


def test_load_names_the_yaml_line(tmp_path):
    (tmp_path / seeds.FILE).write_text("airflow:\n  pools:\n    - pool_name: [unclosed\n")
    with pytest.raises(ProjectError, match="not valid YAML at line"):
        seeds.load(tmp_path)
    assert seeds.load(tmp_path / "nowhere") is None


STACK = {"connections": [{"conn_id": "warehouse", "conn_type": "postgres", "host": "db", "schema": None,
                          "login": "reader", "password": "s3cret", "port": 5432, "extra": '{"sslmode": "require"}'}],
         "pools": [{"pool": "default_pool", "slots": 128, "description": "Default pool"}],
         "variables": [{"key": "api_token", "value": "abc"}, {"key": "environment", "value": "dev"}]}


def test_export_leaves_secrets_out_and_applies_back_without_wiping_them():
    document = seeds.export_document(STACK, show_secrets=False)
    conn = document["airflow"]["connections"][0]
    assert "conn_password" not in conn and "conn_extra" not in conn and conn["conn_port"] == 5432
    assert document["airflow"]["variables"] == [{"variable_name": "api_token"},
                                                {"variable_name": "environment", "variable_value": "dev"}]
    back = seeds.parse(yaml.safe_load(seeds.export_text(document, False)))
    assert "password" not in back.connections[0] and back.variables[0] == {"key": "api_token"}


def test_export_with_secrets_round_trips():
    text = seeds.export_text(seeds.export_document(STACK, show_secrets=True), True)
    assert "keep it out of version control" in text
    back = seeds.parse(yaml.safe_load(text))
    assert back.connections[0]["password"] == "s3cret"
    assert json.loads(back.connections[0]["extra"]) == {"sslmode": "require"}
    assert back.pools == [{"pool": "default_pool", "slots": 128, "description": "Default pool"}]


def test_gitignore_gets_the_file_once(tmp_path):
    (tmp_path / ".gitignore").write_text("logs/")
    assert seeds.ensure_gitignored(tmp_path, seeds.FILE)
    assert not seeds.ensure_gitignored(tmp_path, seeds.FILE)
    assert (tmp_path / ".gitignore").read_text() == "logs/\nairflow_settings.yaml\n"
