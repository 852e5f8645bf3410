#!/usr/bin/env python3
"""The chat-room hub and client of seed 002 as the seed has them on the wire, for the kit's
tests of `--wire seed`: no newline on any message, one message per send(), and one recv(1024)
taken as one message. Written for the kit from the seed's protocol; two repairs, both marked:
a hub thread whose client has gone stops (the seed's spins on recv() returning b""), and a
client stops when the hub closes.

    seed.py server
        a hub on 127.0.0.1, on a port the OS picks; its first line is `listening at IP:PORT`
    seed.py client HOST PORT NICKNAME
        joins; each line on stdin is sent as `NICKNAME: line`, and every message received is
        printed as it came, on a line of its own
"""
import os
import socket
import sys
import threading


def serve():
    hub = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hub.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hub.bind(("127.0.0.1", 0))
    hub.listen(5)
    print("listening at %s:%d" % hub.getsockname(), flush=True)
    clients, nicknames, by_name = [], [], {}
    lock = threading.Lock()

    def broadcast(data):
        with lock:
            members = list(clients)
        for member in members:
            try:
                member.send(data)
            except OSError:
                pass

    def private(data):
        text = data.decode("ascii", "replace")
        wanted = text[text.index("@") + 1:]
        with lock:
            names = list(nicknames)
        for name in names:
            if wanted.startswith(name):
                by_name[name].send(data)

    def handle(client):
        while True:
            try:
                data = client.recv(1024)
            except OSError:
                data = b""
            if not data:  # repair: the client has gone, so it leaves the room
                with lock:
                    i = clients.index(client)
                    clients.pop(i)
                    name = nicknames.pop(i)
                    by_name.pop(name, None)
                client.close()
                broadcast("{} left!".format(name).encode("ascii"))
                return
            text = data.decode("ascii", "replace")
            print(text, flush=True)
            if "@" in text:
                private(data)
            else:
                broadcast(data)

    while True:
        client, address = hub.accept()
        print("Connected with {}".format(address), flush=True)
        client.send("NICKNAME".encode("ascii"))
        nickname = client.recv(1024).decode("ascii")
        with lock:
            nicknames.append(nickname)
            clients.append(client)
            by_name[nickname] = client
        print("Client name is {}".format(nickname), flush=True)
        broadcast("{} joined!".format(nickname).encode("ascii"))
        client.send("Connected to server!".encode("ascii"))
        threading.Thread(target=handle, args=(client,), daemon=True).start()


def join(host, port, nickname):
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect((host, port))
    client.settimeout(None)

    def receive():
        while True:
            try:
                message = client.recv(1024).decode("ascii")
            except OSError:
                message = ""
            if message == "":  # repair: the hub closed the connection
                print("An error occured!", flush=True)
                os._exit(0)
            if message == "NICKNAME":
                client.send(nickname.encode("ascii"))
            else:
                print(message, flush=True)

    threading.Thread(target=receive, daemon=True).start()
    for line in sys.stdin:
        message = "{}: {}".format(nickname, line.rstrip("\n"))
        client.send(message.encode("ascii"))
    client.shutdown(socket.SHUT_WR)
    threading.Event().wait(3)


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        serve()
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 5:
        join(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
