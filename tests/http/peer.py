#!/usr/bin/env python3
"""Python peers for the http lab, built only on the standard library (http.client, urllib,
http.server).

    peer.py clients HOST PORT
        Talks to a webapp with http.client (several requests on one kept-alive connection, HEAD,
        404, 405, 400) and urllib (JSON data, a redirect followed to /index). Prints one line per
        result, `name: value`; exits non-zero on any surprise.
    peer.py chunked HOST PORT
        A server answering every GET with a chunked body (chunks of 1 to 300 bytes, one with an
        extension, a trailer at the end) and keeping the connection open afterwards, whatever
        the client asked. Its body: the numbers 0 to 999, one per line. First line printed:
        "Chunked responder at IP:PORT".
"""
import http.client
import json
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def check(name, value, expected):
    print(f"{name}: {value}")
    if value != expected:
        print(f"{name}: expected {expected!r}", file=sys.stderr)
        sys.exit(1)


def clients(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/")
    first = conn.getresponse()
    check("hello", (first.status, first.read().decode()), (200, "Hello World"))
    sock = conn.sock
    conn.request("GET", "/index/J%C3%BCrgen")
    page = conn.getresponse()
    body = page.read().decode()
    check("index", (page.status, "Jürgen" in body, page.getheader("Content-Type").split(";")[0]),
          (200, True, "text/html"))
    check("same connection", conn.sock is sock and sock is not None, True)
    conn.request("HEAD", "/index")
    head = conn.getresponse()
    check("head", (head.status, head.read(), int(head.getheader("Content-Length")) > 0),
          (200, b"", True))
    conn.request("GET", "/nowhere")
    missing = conn.getresponse()
    missing.read()
    check("missing", missing.status, 404)
    conn.request("POST", "/", body=b"x=1", headers={"Content-Type": "text/plain"})
    post = conn.getresponse()
    post.read()
    check("post", (post.status, post.getheader("Allow")), (405, "GET, HEAD"))
    conn.request("GET", "/data?format=yaml")
    bad = conn.getresponse()
    bad.read()
    check("bad format", bad.status, 400)
    check("still one connection", conn.sock is sock, True)
    conn.close()

    base = f"http://{host}:{port}"
    with urllib.request.urlopen(f"{base}/data?format=json", timeout=5) as reply:
        rows = json.load(reply)
        check("json", (reply.headers.get_content_type(), len(rows) > 0), ("application/json", True))
    with urllib.request.urlopen(f"{base}/home", timeout=5) as reply:
        check("redirect", (reply.status, reply.url.endswith("/index")), (200, True))
    try:
        urllib.request.urlopen(f"{base}/index/a/b", timeout=5)
        check("urllib 404", "no error", "HTTPError 404")
    except urllib.error.HTTPError as error:
        check("urllib 404", error.code, 404)


def chunk_sizes():
    """Chunk sizes cycling through 1 to 300 bytes, some with hex letters in their size."""
    sizes = [1, 26, 300, 7, 171, 15, 255, 48]
    while True:
        yield from sizes


class Chunked(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = "".join(f"{n}\n" for n in range(1000)).encode()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "X-Checksum")
        self.end_headers()
        at, sizes = 0, chunk_sizes()
        while at < len(self.body):
            piece = self.body[at:at + next(sizes)]
            extension = ";note=hi" if at == 0 else ""
            self.wfile.write(f"{len(piece):x}{extension}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
            at += len(piece)
        self.wfile.write(b"0\r\nX-Checksum: none\r\n\r\n")
        self.wfile.flush()
        # Keep the connection open whatever the client asked: the chunks say where the body ends.
        self.close_connection = False

    def log_message(self, *args):
        pass


def chunked(host, port):
    server = ThreadingHTTPServer((host, port), Chunked)
    server.daemon_threads = True
    ip, real_port = server.server_address[:2]
    print(f"Chunked responder at {ip}:{real_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    role, host, port = sys.argv[1:4]
    {"clients": clients, "chunked": chunked}[role](host, int(port))
