"""The worker's health check (compose/stack.yaml's `queue_check`) against a real Celery worker and a real Redis, on
the stand-in Airflow images' Celery: it passes only while this node answers through the broker and consumes the
default queue (apache/airflow#63580: a worker can answer pings while consuming nothing), and says why it fails."""
from __future__ import annotations

import uuid

import pytest

from airflow_compose.stack.render import blocks
from tests.helpers import docker, wait_for

REDIS = "afc-standin/redis:7.2"
# a plain Celery worker, no Airflow: the check asks Celery's control channel, whatever the app runs
WORKER = ("import socket; from celery import Celery; Celery(broker='redis://redis:6379/0').worker_main(["
          "'worker', '--pool', 'solo', '--without-mingle', '--loglevel', 'INFO', '--queues', 'default,extra', "
          "'--hostname', 'celery@' + socket.gethostname()])")


@pytest.fixture(scope="module", params=["2.10.4", "3.3.2"])
def worker(request):
    """A network with Redis and a Celery worker consuming `default` and `extra`; yields the worker's name."""
    suffix = uuid.uuid4().hex[:8]
    network, redis, worker = f"afc-qc-{suffix}", f"afc-qc-redis-{suffix}", f"afc-qc-worker-{suffix}"
    docker("network", "create", network)
    try:
        docker("run", "-d", "--name", redis, "--network", network, "--network-alias", "redis", REDIS)
        docker("run", "-d", "--name", worker, "--network", network, "--user", "50000:0",
               "--env", "AIRFLOW__CELERY__BROKER_URL=redis://redis:6379/0", "--entrypoint", "python",
               f"afc-standin/airflow:{request.param}-python3.11", "-c", WORKER)
        wait_for("the Celery worker to be ready", lambda: "ready." in logs(worker), timeout=120, every=1)
        yield worker
    finally:
        docker("rm", "--force", "--volumes", redis, worker, check=False)
        docker("network", "rm", network, check=False)


def logs(name: str) -> str:
    done = docker("logs", name, check=False)
    return done.stdout + done.stderr


def check(worker: str, *env: str):
    return docker("exec", *[a for e in env for a in ("--env", e)], worker, "python", "-c", blocks()["queue_check"],
                  check=False)


def test_passes_while_the_node_consumes_its_queue(worker):
    done = check(worker)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "consumes: default, extra" in done.stdout or "consumes: extra, default" in done.stdout
    assert check(worker, "AIRFLOW__OPERATORS__DEFAULT_QUEUE=extra").returncode == 0


def test_fails_when_the_node_does_not_consume_the_default_queue(worker):
    done = check(worker, "AIRFLOW__OPERATORS__DEFAULT_QUEUE=airflow_default")
    assert done.returncode == 1 and "consumes: default" in done.stdout + done.stderr


def test_fails_when_another_node_is_asked(worker):
    done = check(worker, "HOSTNAME=elsewhere")
    assert done.returncode == 1 and "celery@elsewhere consumes: nothing" in done.stdout


def test_fails_in_one_line_without_a_broker(worker):
    done = check(worker, "AIRFLOW__CELERY__BROKER_URL=redis://nowhere.invalid:6379/0")
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 1 and "cannot ask through the broker" in said and "Traceback" not in said, said
