#!/usr/bin/python3
"""A small HTTP server for the tests and the benchmark: serves the files of DIR
on 127.0.0.1 with Range requests (206), HEAD, an ETag from size and mtime, and
If-Match (412). It also answers as a path-style S3 server without
authentication (every request is accepted): `/BUCKET/KEY` is DIR/BUCKET/KEY,
and `GET /BUCKET?...` lists the bucket (ListObjects v1 and v2, with prefix,
delimiter, max-keys and pages: at most --page N entries, 1000 by default), so
that S3 clients (h5fs, s3fs-fuse) read the same files.

Usage: range_server.py DIR [--no-ranges] [--latency MS] [--rate MIB] [--page N]
                       [--tls CERT KEY]
Prints its base URL (http://127.0.0.1:PORT) on the first line, then serves until
killed. With --no-ranges it ignores Range headers and sends whole files (200),
as servers without range support do. With --tls it answers HTTPS with the
certificate chain CERT and key KEY (PEM files), and prints an https:// URL.

For the benchmark, every answer can be made to cost what it would cost from
object storage: --latency MS before the first byte of each answer, and bodies
sent at no more than --rate MiB/s each (a single stream's bandwidth; answers in
parallel each get it). Files are sent with sendfile(2), so a range costs only
its bytes. Control: POST /__server/plan {"latency_ms": L, "rate_mib": R} sets
both and zeroes the counts; GET /__server/stats gives
{"requests": N, "bytes": N, "lists": N, "by_method": {...}} (lists: listing
pages answered).
"""
import email.utils
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape


def etag_of(st):
    return '"%x-%x"' % (st.st_size, st.st_mtime_ns)


class Counts:
    lock = threading.Lock()
    requests = 0
    bytes = 0
    by_method = {}
    latency = 0.0
    rate = 0.0  # bytes per second; 0: unlimited
    page = 1000  # entries of a listing page, at most
    lists = 0

    @classmethod
    def count(cls, method):
        with cls.lock:
            cls.requests += 1
            cls.by_method[method] = cls.by_method.get(method, 0) + 1

    @classmethod
    def sent(cls, n):
        with cls.lock:
            cls.bytes += n


SLICE = 256 << 10


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle and
    # delayed ACKs hold each answer back by some 40 ms.
    disable_nagle_algorithm = True
    root = "."
    ranges = True
    tls = False

    def log_message(self, *args):
        pass

    def split(self):
        path, _, query = self.path.partition("?")
        return urllib.parse.unquote(path).lstrip("/"), urllib.parse.parse_qs(query, True)

    def target(self, name):
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(os.path.realpath(self.root) + os.sep) or not os.path.isfile(path):
            return None
        return path

    def send_body(self, code, body, ctype="application/xml"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_empty(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def bucket(self, name, query):
        """A bucket: HEAD, ?location, or a listing."""
        if self.command == "HEAD":
            return self.send_empty(200)
        if "location" in query:
            return self.send_body(200, b'<?xml version="1.0" encoding="UTF-8"?>'
                                  b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/'
                                  b'2006-03-01/"/>')
        top = os.path.join(self.root, name)
        prefix = query.get("prefix", [""])[0]
        delim = query.get("delimiter", [""])[0]
        keys, prefixes = [], set()
        # Only the directory the prefix is in, and with "/" as delimiter only
        # its own level.
        parent = prefix.rpartition("/")[0]
        base = os.path.join(top, parent)
        lead = parent + "/" if parent else ""
        if not os.path.realpath(base).startswith(os.path.realpath(top)):
            return self.send_empty(400)
        if delim == "/":
            d, dirs, files = next(os.walk(base), (base, [], []))
            walk = [(d, [], files)]
            prefixes.update(lead + x + "/" for x in dirs if (lead + x + "/").startswith(prefix))
        else:
            walk = os.walk(base)
        for d, _, files in walk:
            for f in files:
                key = os.path.relpath(os.path.join(d, f), top).replace(os.sep, "/")
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix):]
                if delim and delim in rest:
                    prefixes.add(prefix + rest.split(delim, 1)[0] + delim)
                else:
                    keys.append((key, os.stat(os.path.join(d, f))))
        # Keys and prefixes in one order, as S3 pages them; a page starts
        # after the marker (v1), the continuation token or start-after (v2).
        v2 = query.get("list-type", [""])[0] == "2"
        after = (query.get("continuation-token") or query.get("start-after")
                 or query.get("marker") or [""])[0]
        entries = sorted([(key, st) for key, st in keys] + [(p, None) for p in prefixes],
                         key=lambda e: e[0])
        entries = [e for e in entries if e[0] > after]
        most = min(int(query.get("max-keys", ["1000"])[0]), Counts.page)
        page = entries[:most]
        truncated = bool(page) and len(entries) > most
        with Counts.lock:
            Counts.lists += 1
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys>"
               % (escape(name), escape(prefix), most),
               "<KeyCount>%d</KeyCount>" % len(page),
               "<Delimiter>%s</Delimiter>" % escape(delim) if delim else "",
               "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if truncated:
            out.append(("<NextContinuationToken>%s</NextContinuationToken>" if v2
                        else "<NextMarker>%s</NextMarker>") % escape(page[-1][0]))
        for key, st in page:
            if st is None:
                out.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % escape(key))
                continue
            when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(st.st_mtime))
            out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified>"
                       "<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass>"
                       "</Contents>" % (escape(key), when, escape(etag_of(st)), st.st_size))
        out.append("</ListBucketResult>")
        self.send_body(200, "".join(out).encode())

    def control(self):
        if self.command == "POST":
            plan = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with Counts.lock:
                Counts.latency = plan.get("latency_ms", 0) / 1000
                Counts.rate = plan.get("rate_mib", 0) * 2**20
                Counts.requests, Counts.bytes, Counts.by_method = 0, 0, {}
                Counts.lists = 0
        with Counts.lock:
            stats = {"requests": Counts.requests, "bytes": Counts.bytes,
                     "lists": Counts.lists, "by_method": dict(Counts.by_method)}
        self.send_body(200, json.dumps(stats).encode(), "application/json")

    def answer(self):
        name, query = self.split()
        if name.startswith("__server/"):
            return self.control()
        Counts.count(self.command)
        if Counts.latency:
            time.sleep(Counts.latency)
        if os.path.isdir(os.path.join(self.root, name.rstrip("/"))) and "/" not in name.rstrip("/"):
            return self.bucket(name.rstrip("/"), query)
        path = self.target(name)
        if path is None:
            return self.send_empty(404)
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            size = st.st_size
            tag = etag_of(st)
            want = self.headers.get("If-Match")
            if want and want.strip() not in (tag, "*"):
                return self.send_empty(412)
            start, end, code = 0, size, 200
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if m and self.ranges:
                start = int(m.group(1))
                end = min(size, int(m.group(2)) + 1 if m.group(2) else size)
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                code = 206
            self.send_response(code)
            self.send_header("ETag", tag)
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            if self.ranges:
                self.send_header("Accept-Ranges", "bytes")
            if code == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size))
            self.send_header("Content-Length", str(end - start))
            self.end_headers()
            if self.command == "GET":
                self.send_file(f, start, end)

    def send_file(self, f, start, end):
        """Bytes start..end of f, at no more than the rate set."""
        began, at = time.monotonic(), start
        while at < end:
            try:
                if Handler.tls:
                    # sendfile(2) would go around the encryption.
                    n = self.connection.send(os.pread(f.fileno(), min(SLICE, end - at), at))
                else:
                    n = os.sendfile(self.connection.fileno(), f.fileno(), at,
                                    min(SLICE, end - at))
            except (BrokenPipeError, ConnectionResetError):
                # The client went away (it stopped reading, or gave up).
                self.close_connection = True
                return
            if n == 0:
                break
            at += n
            Counts.sent(n)
            if Counts.rate:
                ahead = began + (at - start) / Counts.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    do_GET = do_HEAD = do_POST = answer


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client closing its connections (at unmount, or giving up on an
        # answer) is no error of the server's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    Handler.root = sys.argv[1]
    args = sys.argv[2:]
    Handler.ranges = "--no-ranges" not in args
    for flag, setter in (("--latency", lambda v: setattr(Counts, "latency", v / 1000)),
                         ("--rate", lambda v: setattr(Counts, "rate", v * 2**20)),
                         ("--page", lambda v: setattr(Counts, "page", int(v)))):
        if flag in args:
            setter(float(args[args.index(flag) + 1]))
    server = Server(("127.0.0.1", 0), Handler)
    scheme = "http"
    if "--tls" in args:
        import ssl
        at = args.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[at + 1], args[at + 2])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        Handler.tls, scheme = True, "https"
    print("%s://127.0.0.1:%d" % (scheme, server.server_address[1]), flush=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    t.join()


if __name__ == "__main__":
    main()
