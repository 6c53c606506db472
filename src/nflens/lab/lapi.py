"""A stand-in for CrowdSec's local API, for the lab's crowdsec-firewall-bouncer (issue 26), used
where Debian's crowdsec (lab/crowdsec.py, the real local API run offline) cannot be fetched.

The bouncer (go-cs-bouncer's stream mode) polls `GET /v1/decisions/stream?startup=true` once,
then `GET /v1/decisions/stream` every update_frequency, and applies `new` and `deleted`
decisions ({duration, id, origin, scenario, scope: Ip, type: ban, value}). This answers the
startup poll with one ban per address given and every later poll with nothing new: what a
LAPI holding those decisions (`cscli decisions add --ip ADDR`) would answer. The API key is
not checked. Run: python3 -m nflens.lab.lapi PORT ADDR... (in the lab host's namespace).
"""

from __future__ import annotations

import http.server
import json
import sys


def decisions(addrs: list[str]) -> dict:
    return {"new": [{"duration": "4h", "id": i, "origin": "cscli", "scenario": "nflens lab ban",
                     "scope": "Ip", "type": "ban", "value": a} for i, a in enumerate(addrs, 1)],
            "deleted": []}


def serve(port: int, addrs: list[str]) -> None:
    startup = json.dumps(decisions(addrs)).encode()
    nothing = json.dumps({"new": [], "deleted": []}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = startup if "startup=true" in self.path else nothing
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            sys.stderr.write(f"{self.path}\n")

    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    sys.stderr.write(f"listening on 127.0.0.1:{port}\n")  # Bouncer.start waits for this
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
