"""The container's health check (HEALTHCHECK in the Dockerfile): GET /healthz from the server
in this container; exit 0 when it answers 200, 1 otherwise.

Haven answers only to the names in HAVEN_ALLOWED_HOSTS, so the request names the first of them.
"""

import http.client
import os
import sys


def main() -> int:
    names = [n.strip() for n in os.environ.get("HAVEN_ALLOWED_HOSTS", "").split(",") if n.strip()]
    # ".example.org" allows example.org and its subdomains; "*" allows any name.
    host = names[0].lstrip(".") if names and names[0] != "*" else "localhost"
    port = int(os.environ.get("HAVEN_HEALTHCHECK_PORT", "8000"))
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=8)
        connection.request("GET", "/healthz", headers={"Host": host})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"/healthz: {exc}")
        return 1
    print(f"/healthz: {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
