"""`afc images` in a project: the real engine's view of the stand-in images (no stack is started)."""
import json

from tests.helpers import afc, docker, standin_flags


def test_project_images_from_the_engine(tmp_path):
    project = tmp_path / "up-images"
    afc("init", str(project), *standin_flags("2.11.2"), "--port", "18498", check=True)
    # Redis points at an image nobody has: reported as absent, not an error.
    env = (project / ".env").read_text().replace("AFC_REDIS_IMAGE=afc-standin/redis:7.2",
                                                 "AFC_REDIS_IMAGE=afc-standin/redis:0.0-absent")
    (project / ".env").write_text(env)
    data = json.loads(afc("images", "--json", project=project, check=True).stdout)
    by_role = {image["role"]: image for image in data["images"]}
    assert set(by_role) == {"airflow", "postgres", "redis"} and data["all_present"] is False
    airflow = by_role["airflow"]
    expected_id = docker("image", "inspect", "-f", "{{.Id}}", "afc-standin/airflow:2.11.2-python3.11").stdout.strip()
    expected_size = int(docker("image", "inspect", "-f", "{{.Size}}", "afc-standin/airflow:2.11.2-python3.11").stdout)
    arch = docker("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "afc-standin/airflow:2.11.2-python3.11").stdout.strip()
    assert airflow["present"] and airflow["id"] == expected_id and airflow["size"] == expected_size
    assert airflow["platform"] == arch and airflow["created"].startswith("20") and airflow["note"] == ""
    assert by_role["postgres"]["present"] and by_role["postgres"]["reference"] == "afc-standin/postgres:16"
    assert by_role["redis"] == {**by_role["redis"], "present": False, "id": "", "size": 0}
    assert data["airflow_tag"]["airflow_version"] == "2.11.2"

    text = afc("images", project=project, check=True)
    assert expected_id.split(":")[1][:12] in text.stdout and "not present locally" in text.stdout
    assert "afc-standin/redis:0.0-absent" in text.stderr  # the warning naming what to do
