#!/usr/bin/env python3
"""Python peers for the xmlrpc lab, built only on the standard library's xmlrpc modules.

    peer.py server HOST PORT USER PASSWORD
        A SimpleXMLRPCServer that serves echo (upper-cased) and system.multicall to callers
        whose HTTP Basic credentials match; others get 401. First line: "... at IP:PORT".
    peer.py client HOST PORT USER PASSWORD
        Calls echo, system.multicall and system.listMethods through ServerProxy with the
        credentials in the URL, then checks that a wrong password is refused with 401.
        Prints one line per result; exits non-zero on any surprise.
"""
import base64
import hmac
import sys
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer


def make_handler(expected):
    """A request handler that answers 401 unless the Authorization header carries `expected`."""

    class BasicAuthHandler(SimpleXMLRPCRequestHandler):
        rpc_paths = ("/", "/RPC2")

        def authorized(self):
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                given = base64.b64decode(token.strip(), validate=True)
            except ValueError:
                return False
            return hmac.compare_digest(given, expected)

        def parse_request(self):
            if not super().parse_request():
                return False
            if self.authorized():
                return True
            self.send_response(401, "Unauthorized")
            self.send_header("WWW-Authenticate", 'Basic realm="python peer"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

    return BasicAuthHandler


def serve(host, port, user, password):
    handler = make_handler(f"{user}:{password}".encode())
    server = SimpleXMLRPCServer((host, port), requestHandler=handler, logRequests=False)
    server.register_function(lambda text: text.upper(), "echo")
    server.register_multicall_functions()
    ip, real_port = server.server_address[:2]
    print(f"Python XML-RPC server at {ip}:{real_port}", flush=True)
    server.serve_forever()


def call(host, port, user, password):
    proxy = xmlrpc.client.ServerProxy(f"http://{user}:{password}@{host}:{port}")
    print("echo:", proxy.echo("hello server..."))
    batch = xmlrpc.client.MultiCall(proxy)
    batch.echo("first")
    batch.echo("second <&>")
    print("multicall:", " | ".join(batch()))
    print("methods:", " ".join(sorted(proxy.system.listMethods())))
    try:
        proxy.no_such_method()
        print("no fault for an unknown method")
        sys.exit(1)
    except xmlrpc.client.Fault as fault:
        print("fault:", fault.faultCode)
    wrong = xmlrpc.client.ServerProxy(f"http://{user}:wrong{password}@{host}:{port}")
    try:
        wrong.echo("x")
        print("a wrong password was accepted")
        sys.exit(1)
    except xmlrpc.client.ProtocolError as error:
        print("wrong password:", error.errcode)


if __name__ == "__main__":
    role, host, port, user, password = sys.argv[1:6]
    (serve if role == "server" else call)(host, int(port), user, password)
