#!/usr/bin/python3
"""An HTTP/1.1 forwarding proxy for the tests and benchmarks: passes every
request to UPSTREAM unchanged (method, path and query, headers including Host,
so S3 signatures stay valid, and body), and can add latency and faults.

Usage: fault_proxy.py UPSTREAM [--latency MS]
UPSTREAM is a plain http base URL (http://127.0.0.1:PORT). Prints its own base
URL (http://127.0.0.1:PORT) on the first line, then serves until killed.
--latency MS sleeps MS milliseconds before each proxied request (faults too).

Proxied requests are numbered 1, 2, 3... in arrival order; a plan picks a
fault per number. Faults: "500" or "503" (that status with a short body, not
forwarded), "reset" (close the connection at once, no answer), "truncate"
(forward, then send status and headers with the full Content-Length but only
the first half of the body, and close), "stall:SECONDS" (wait, then close with
no answer), "ok" (forward normally; overrides "from" and "every").

Control requests, neither forwarded nor counted, answer JSON:
  POST /__proxy/plan  body: a plan (all keys optional; {} or an empty body
      clears it). Replaces the plan, resets the numbering and the stats.
      {"at": {"3": "500", "4": "reset"},   request number -> fault
       "from": 10, "from_fault": "503",     requests >= 10 (0: off)
       "every": 4, "every_fault": "reset",  requests 4, 8, 12... (0: off)
       "latency_ms": 50}                    new latency (absent: unchanged)
      "at" wins over "from", which wins over "every"; faults default to "500".
      Answers {"plan": ..., "latency_ms": ...}, or 400 {"error": ...}.
  GET /__proxy/stats  {"requests": N, "forwarded": N, "faults": N,
      "bytes": N, "by_method": {"GET": N, "HEAD": N, ...}}
      requests = forwarded + faults; bytes counts the response body bytes sent
      for proxied requests (fault bodies and truncated halves included).
An unreachable upstream gives 502 (counted as forwarded).
"""
import http.client
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


def end_to_end(headers):
    """The (name, value) pairs of headers, minus hop-by-hop ones."""
    named = set(HOP_BY_HOP)
    for name, value in headers:
        if name.lower() == "connection":
            named |= {v.strip().lower() for v in value.split(",")}
    return [(name, value) for name, value in headers if name.lower() not in named]


def check_fault(f):
    if f in ("500", "503", "reset", "truncate", "ok"):
        return f
    if isinstance(f, str) and f.startswith("stall:"):
        float(f[6:])
        return f
    raise ValueError("unknown fault %r" % (f,))


def parse_plan(raw):
    """The plan of a JSON object, checked; ValueError if it is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("the plan must be a JSON object")
    return {"at": {int(n): check_fault(f) for n, f in raw.get("at", {}).items()},
            "from": int(raw.get("from", 0)),
            "from_fault": check_fault(raw.get("from_fault", "500")),
            "every": int(raw.get("every", 0)),
            "every_fault": check_fault(raw.get("every_fault", "500"))}


def fault_for(plan, n):
    if n in plan["at"]:
        return plan["at"][n]
    if plan["from"] and n >= plan["from"]:
        return plan["from_fault"]
    if plan["every"] and n % plan["every"] == 0:
        return plan["every_fault"]
    return "ok"


class State:
    def __init__(self, latency_ms):
        self.lock = threading.Lock()
        self.latency_ms = latency_ms
        self.set_plan({})

    def set_plan(self, raw):
        plan = parse_plan(raw)
        latency = raw.get("latency_ms")
        latency = self.latency_ms if latency is None else float(latency)
        with self.lock:
            self.plan, self.count, self.latency_ms = plan, 0, latency
            self.stats = {"requests": 0, "forwarded": 0, "faults": 0, "bytes": 0, "by_method": {}}
        return plan

    def next_request(self, method):
        """Number the request; its fault and the latency to apply."""
        with self.lock:
            self.count += 1
            s = self.stats
            s["requests"] += 1
            s["by_method"][method] = s["by_method"].get(method, 0) + 1
            fault = fault_for(self.plan, self.count)
            s["forwarded" if fault == "ok" else "faults"] += 1
            return fault, self.latency_ms

    def sent(self, nbytes):
        with self.lock:
            self.stats["bytes"] += nbytes


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle and
    # delayed ACKs hold each answer back by some 40 ms.
    disable_nagle_algorithm = True
    upstream = None  # urllib.parse.SplitResult
    state = None

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except DISCONNECTS:
            self.close_connection = True

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fail(self, code, text):
        msg = ("fault_proxy: %s\n" % text).encode()
        self.state.sent(len(msg))
        self.reply(code, msg, "text/plain")

    def drop(self):
        """Close the client connection at once, answering nothing."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def control(self, body):
        if self.command == "POST" and self.path == "/__proxy/plan":
            try:
                raw = json.loads(body or b"{}")
                plan = self.state.set_plan(raw)
            except (ValueError, TypeError, AttributeError) as e:
                return self.reply(400, json.dumps({"error": str(e)}).encode())
            shown = dict(plan, at={str(n): f for n, f in plan["at"].items()})
            out = {"plan": shown, "latency_ms": self.state.latency_ms}
            return self.reply(200, json.dumps(out).encode())
        if self.command == "GET" and self.path == "/__proxy/stats":
            with self.state.lock:
                out = json.dumps(self.state.stats)
            return self.reply(200, out.encode())
        self.reply(404, b'{"error": "unknown control request"}')

    def forward(self, body):
        """Status, reason, headers and body of the upstream's answer."""
        up = self.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=30)
        try:
            conn.putrequest(self.command, up.path.rstrip("/") + self.path,
                            skip_host=True, skip_accept_encoding=True)
            for name, value in end_to_end(self.headers.items()):
                conn.putheader(name, value)
            if body and "Content-Length" not in self.headers:  # was chunked
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def proxy(self):
        body = self.read_body()
        if self.path.startswith("/__proxy/"):
            return self.control(body)
        fault, latency_ms = self.state.next_request(self.command)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        if fault == "reset":
            return self.drop()
        if fault.startswith("stall:"):
            time.sleep(float(fault[6:]))
            return self.drop()
        if fault in ("500", "503"):
            return self.fail(int(fault), "injected " + fault)
        try:
            status, reason, headers, data = self.forward(body)
        except (OSError, http.client.HTTPException) as e:
            return self.fail(502, "upstream failed: %s" % e)
        self.send_response_only(status, reason)
        length = None
        for name, value in end_to_end(headers):
            if name.lower() == "content-length":
                length = value
            else:
                self.send_header(name, value)
        # HEAD, 1xx, 204 and 304 have no body: keep the upstream's length.
        if self.command != "HEAD" and status >= 200 and status not in (204, 304):
            length = str(len(data))
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if fault == "truncate":
            data = data[:len(data) // 2]
        self.wfile.write(data)
        self.state.sent(len(data))
        if fault == "truncate":
            self.drop()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = proxy


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv):
    up = urllib.parse.urlsplit(argv[0] if argv else "")
    if up.scheme != "http" or not up.hostname:
        sys.exit("usage: fault_proxy.py http://HOST:PORT [--latency MS]")
    latency = float(argv[argv.index("--latency") + 1]) if "--latency" in argv else 0.0
    Handler.upstream = up
    Handler.state = State(latency)
    server = Server(("127.0.0.1", 0), Handler)
    print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    t.join()


if __name__ == "__main__":
    main(sys.argv[1:])
