#!/usr/bin/env python3
"""The chat server and client of seed 003 (the course's lab 3) as they are on the wire, for the
kit's tests of `--wire seed`: no newline on any message, one recv(1024) taken as one message;
the server takes a client's first message as its name, sends everyone `!` + json.dumps of the
map name -> IP on every change, and relays `NAME: text ` (with a trailing space) to all but the
sender; clients chat peer-to-peer over UDP. Written for the kit from the course's protocol.
Loopback stand-ins for the course's hosts: the client binds its TCP and UDP sockets to IP.

    seed.py server IP
        listens on IP, on a port the OS picks; its first line is `listening at IP:PORT`
    seed.py client HOST PORT NAME IP UDP_PORT
        registers NAME; stdin lines: `#ls`, `@NAME: text` (UDP), or text for the room
"""
import json
import os
import socket
import sys
import threading


def serve(ip):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((ip, 0))
    server.listen(5)
    print("listening at %s:%d" % server.getsockname(), flush=True)
    active_users, sockets = {}, {}
    lock = threading.Lock()

    def broadcast_active_users():
        with lock:
            data = ("!" + json.dumps(active_users)).encode("utf-8")
            targets = list(sockets)
        for target in targets:
            try:
                target.send(data)
            except OSError:
                pass

    def broadcast_msg(sender, msg):
        with lock:
            targets = [s for s in sockets if s is not sender]
        for target in targets:
            try:
                target.send(msg.encode("utf-8"))
            except OSError:
                pass

    def handle_client(client):
        while True:
            try:
                msg = client.recv(1024).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                msg = ""
            if len(msg) == 0:
                client.close()
                with lock:
                    del active_users[sockets.pop(client)]
                broadcast_active_users()
                return
            broadcast_msg(client, f"{sockets[client]}: {msg} ")

    while True:
        client, address = server.accept()
        name = client.recv(1024).decode("utf-8")
        with lock:
            sockets[client] = name
            active_users[name] = address[0]
        print(f"{name} with IP address:{address[0]}, has connected", flush=True)
        broadcast_active_users()
        threading.Thread(target=handle_client, args=(client,), daemon=True).start()


def chat(host, port, name, ip, udp_port):
    users = {}
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind((ip, 0))
    tcp.settimeout(10)
    tcp.connect((host, port))
    tcp.settimeout(None)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind((ip, udp_port))
    tcp.send(name.encode("utf-8"))

    def receive_tcp():
        while True:
            try:
                msg = tcp.recv(1024).decode("utf-8")
            except OSError:
                msg = ""
            if not msg:
                print("disconnected", flush=True)
                os._exit(0)
            if msg[0] == "!":
                try:
                    users.clear()
                    users.update(json.loads(msg[1:]))
                except ValueError:  # two messages stuck together: the seed's thread would die here
                    print(f"unreadable user list: {msg}", file=sys.stderr, flush=True)
            else:
                print(f"incoming msg from chatserver ({msg})", flush=True)

    def receive_udp():
        while True:
            msg, address = udp.recvfrom(1024)
            names = [n for n, a in users.items() if a == address[0]]
            sender = names[0] if names else "Non-registered"
            print(f"Incoming msg (P2P) from {sender}:{msg.decode('utf-8')}", flush=True)

    threading.Thread(target=receive_tcp, daemon=True).start()
    threading.Thread(target=receive_udp, daemon=True).start()
    for line in sys.stdin:
        usr_input = line.rstrip("\n")
        if usr_input == "#ls":
            print(json.dumps(users), flush=True)
        elif usr_input.startswith("@"):
            parts = usr_input.split(":")
            receiver = parts[0][1:].strip()
            if receiver in users:
                udp.sendto(":".join(parts[1:]).encode("utf-8"), (users[receiver], udp_port))
            else:
                print(f"{receiver} is not registered", flush=True)
        elif usr_input:
            tcp.send(usr_input.encode("utf-8"))
    tcp.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"] and len(sys.argv) == 3:
        serve(sys.argv[2])
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 7:
        chat(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        sys.exit(__doc__)
