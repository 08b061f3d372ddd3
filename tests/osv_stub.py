"""A local stand-in of the OSV API (`POST /v1/query`) serving recorded advisories from tests/data: pip-audit
queries it through `--osv-url` where api.osv.dev cannot be reached. A package version is affected when the
record lists it, as OSV answers."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).parent / "data"


def records() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(DATA.glob("osv-*.json"))]


class OsvStub:
    """`with OsvStub() as url:` runs the stub on a free loopback port; `queries` counts the questions asked."""

    def __init__(self) -> None:
        self.queries = 0
        known = records()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.queries += 1
                name = body["package"]["name"].lower()
                vulns = [r for r in known for a in r["affected"]
                         if a["package"]["name"].lower() == name and body.get("version") in a.get("versions", [])]
                answer = json.dumps({"vulns": vulns} if vulns else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/query"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
