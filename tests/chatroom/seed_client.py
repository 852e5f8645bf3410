#!/usr/bin/env python3
"""Clients for the chatroom lab written from the seed's Python client (002), with the one change
the lab makes to the wire format: every message ends in "\\n". Two of them, amy and ben, join the
hub at HOST PORT; ben sends a chat line and a private message to amy; amy checks what arrives.

    seed_client.py HOST PORT     prints "ok" and exits 0, or prints what went wrong
"""
import socket
import sys


def join(host, port, nickname):
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(3)
    client.connect((host, port))
    lines = client.makefile("r", encoding="utf-8", newline="\n")
    # As the seed's receive(): answer NICKNAME with the nickname, print anything else.
    while True:
        message = lines.readline().rstrip("\n")
        if message == "NICKNAME":
            client.sendall((nickname + "\n").encode("utf-8"))
        elif message == "Connected to server!":
            return client, lines
        elif message == "":
            raise SystemExit(f"{nickname}: the server closed the connection")


def write(client, nickname, text):
    # As the seed's write(): the client puts its nickname in front.
    client.sendall("{}: {}\n".format(nickname, text).encode("utf-8"))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    amy, amy_lines = join(host, port, "amy")
    ben, ben_lines = join(host, port, "ben")
    write(ben, "ben", "hello from the seed's client, café")
    write(ben, "ben", "@amy just for you")
    want = ["ben joined!", "ben: hello from the seed's client, café", "ben: @amy just for you"]
    got = [amy_lines.readline().rstrip("\n") for _ in want]
    ben_lines.close()  # the socket really closes once its file is closed too
    ben.close()
    got.append(amy_lines.readline().rstrip("\n"))
    want.append("ben left!")
    if got != want:
        print(f"amy expected {want}, got {got}")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
