"""Volumes: what the database volume holds (which PostgreSQL major, which layout)."""
from __future__ import annotations

import re
from dataclasses import dataclass

# The server major of the image, then each PG_VERSION found at the volume's root (postgres up to 17) or
# under <major>/docker (postgres 18+), with the folder it is in.
PG_DATA_PROBE = ('postgres --version; for f in /v/PG_VERSION /v/*/docker/PG_VERSION; do '
                  '[ -f "$f" ] && echo "data $(dirname "$f") $(cat "$f")"; done; true')


@dataclass(frozen=True)
class PostgresData:
    volume: str
    server_major: int | None     # the image's PostgreSQL major
    data_major: int | None       # the cluster's major in the volume (None: no cluster yet)
    data_dir: str                # where in the volume: "" (its root, up to 17) or "<major>/docker" (18+)


def parse_postgres_data(volume: str, output: str) -> PostgresData:
    server = re.search(r"\(PostgreSQL\)\s+(\d+)", output)
    data = re.search(r"^data /v/?(\S*) (\d+)", output, re.MULTILINE)
    return PostgresData(volume, int(server[1]) if server else None, int(data[2]) if data else None,
                        data[1] if data else "")
