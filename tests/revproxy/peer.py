#!/usr/bin/env python3
"""Peers for tests/revproxy/main.rs, written the way the course's students wrote theirs:
one json.dumps object per send(), no newline, one recv(1024) to read a message, a new connection
per message. Each kind reproduces one of the ways their programs disagree (REFERENCE.md):

  proxy polyid   reads the policy of a setup only as `privPolyId`, answers the setup with
                 {"Status": ...}, forwards numbers; unknown policy: {"Error": ...}
  proxy poliid   reads the policy only as `privPoliId`, sends no acknowledgement (closes),
                 forwards every id as a string, and reads a server's reply until it closes
  server ack     setup with `privPolyId`, then blocks until the proxy's acknowledgement
  server noack   setup with `privPoliId` and ids as strings, closes at once, never waits
  server copysize  as `ack`, but its reply copies the request's payloadsize (32 for a 40-digit
                 hash), as a real student's server does: the proxy relays it, the client judges
                 the hash
  client         sends a packet file's message, one recv(1024), checks the SHA-1

    peer.py proxy polyid|poliid
    peer.py server ack|noack|copysize ID POLICY PROXY_PORT
    peer.py client ID PROXY_PORT PACKET_FILE

Servers print their listening address as the last word of their first line; everything binds
127.0.0.1, and every socket has a timeout.
"""

import hashlib
import json
import socket
import sys
import threading

TIMEOUT = 10


def listen():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def recv_until_close(conn):
    chunks = []
    while True:
        data = conn.recv(1024)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def proxy(kind):
    table = {}  # policy -> [list of [id, host, port], next index]
    lock = threading.Lock()
    sock = listen()
    print("Running the reverse proxy at %s:%d" % sock.getsockname(), flush=True)

    def handle(conn, addr):
        with conn:
            conn.settimeout(TIMEOUT)
            msg = json.loads(conn.recv(1024).decode())
            if int(msg["type"]) == 1:
                policy = msg["privPolyId"] if kind == "polyid" else msg["privPoliId"]
                with lock:
                    entry = table.setdefault(policy, [[], 0])
                    entry[0].append([msg["id"], addr[0], int(msg["listenport"])])
                print("Receiving setup message from server id %s privacy policy %s port %s"
                      % (msg["id"], policy, msg["listenport"]), flush=True)
                if kind == "polyid":
                    conn.send(json.dumps({"Status": "Successfully setup with reverse proxy"}).encode())
                return
            policy = msg["privPoliId"]
            with lock:
                entry = table.get(policy)
                if entry:
                    servers, turn = entry
                    server = servers[turn % len(servers)]
                    entry[1] = turn + 1
            if not entry:
                conn.send(json.dumps({"Error": "No server currently serving this privacy policy"}).encode())
                return
            out = dict(msg)
            if kind == "poliid":
                out = {k: str(v) for k, v in msg.items()}
            with socket.create_connection((server[1], server[2]), timeout=TIMEOUT) as up:
                up.send(json.dumps(out).encode())
                reply = recv_until_close(up) if kind == "poliid" else up.recv(1024)
            reply = json.loads(reply.decode())
            if kind == "poliid":
                reply = {k: str(v) for k, v in reply.items()}
            conn.send(json.dumps(reply).encode())

    while True:
        conn, addr = sock.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


def server(kind, ident, policy, proxy_port):
    sock = listen()
    port = sock.getsockname()[1]
    print("Server running with id %s at 127.0.0.1:%d" % (ident, port), flush=True)
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=TIMEOUT) as setup:
        if kind in ("ack", "copysize"):
            setup.send(json.dumps({"type": 1, "id": int(ident), "privPolyId": policy, "listenport": port}).encode())
            print(setup.recv(1024).decode(), flush=True)
        else:
            setup.send(json.dumps({"type": "1", "id": ident, "privPoliId": policy, "listenport": str(port)}).encode())
            print("Setup sent", flush=True)
    while True:
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            msg = json.loads(conn.recv(1024).decode())
            digest = hashlib.sha1(msg["payload"].encode()).hexdigest()
            print("Received a message from client %s payload: %s" % (msg["srcid"], msg["payload"]), flush=True)
            size = msg["payloadsize"] if kind == "copysize" else len(digest)
            conn.send(json.dumps({"type": 2, "srcid": int(ident), "destid": int(msg["srcid"]),
                                  "payloadsize": size, "payload": digest}).encode())


def client(ident, proxy_port, packet_file):
    with open(packet_file) as f:
        msg = json.load(f)
    msg["srcid"] = int(ident)
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=TIMEOUT) as sock:
        sock.send(json.dumps(msg).encode())
        reply = json.loads(sock.recv(1024).decode())
    if "Error" in reply or "error" in reply:
        print("Error:", reply.get("Error", reply.get("error")))
        return 1
    print("Receiving a response from the server %s payload: %s" % (reply["srcid"], reply["payload"]))
    if reply["payload"] == hashlib.sha1(msg["payload"].encode()).hexdigest():
        print("Hash matched.")
        return 0
    print("Hash mismatch")
    return 1


def main(argv):
    role = argv[1]
    if role == "proxy":
        proxy(argv[2])
    elif role == "server":
        server(argv[2], argv[3], argv[4], int(argv[5]))
    elif role == "client":
        return client(argv[2], int(argv[3]), argv[4])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
