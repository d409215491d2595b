#!/usr/bin/python3
"""A small HTTP server for the tests: serves the files of DIR on 127.0.0.1 with
Range requests (206), HEAD, an ETag from size and mtime, and If-Match (412).

Usage: range_server.py DIR [--no-ranges]
Prints its base URL (http://127.0.0.1:PORT) on the first line, then serves until
killed. With --no-ranges it ignores Range headers and sends whole files (200),
as servers without range support do.
"""
import email.utils
import http.server
import os
import re
import sys
import threading


def etag_of(st):
    return '"%x-%x"' % (st.st_size, st.st_mtime_ns)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle and
    # delayed ACKs hold each answer back by some 40 ms.
    disable_nagle_algorithm = True
    root = "."
    ranges = True

    def log_message(self, *args):
        pass

    def target(self):
        name = self.path.split("?", 1)[0].lstrip("/")
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(os.path.realpath(self.root) + os.sep) or not os.path.isfile(path):
            return None
        return path

    def send_empty(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def answer(self, body):
        path = self.target()
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
            if body:
                # Only the bytes asked for are read: a range costs what its bytes cost.
                self.wfile.write(os.pread(f.fileno(), end - start, start))

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)


def main():
    Handler.root = sys.argv[1]
    Handler.ranges = "--no-ranges" not in sys.argv[2:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    t.join()


if __name__ == "__main__":
    main()
