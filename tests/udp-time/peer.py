#!/usr/bin/env python3
"""A Python peer for the udp-time lab, speaking the wire format of the course's Python programs:
one UDP datagram holding the JSON array [request_id, "The time is <datetime.now()>"].

    peer.py server HOST PORT   answers requests; first line "Server listening at IP:PORT"
    peer.py client HOST PORT   sends one request, prints the time (2 s timeout)
"""
import json
import socket
import sys
from datetime import datetime


def serve(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    ip, real_port = sock.getsockname()
    print(f"Server listening at {ip}:{real_port}", flush=True)
    while True:
        data, sender = sock.recvfrom(65535)
        request_id, text = json.loads(data.decode())
        print(f"Request ID: {request_id}. Client request, {text}", flush=True)
        reply = [request_id, f"The time is {datetime.now()}"]
        sock.sendto(json.dumps(reply).encode(), sender)


def ask(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    request_id = 491
    sock.sendto(json.dumps([request_id, f"The time is {datetime.now()}"]).encode(), (host, port))
    data, _ = sock.recvfrom(65535)
    reply_id, text = json.loads(data.decode())
    if reply_id != request_id:
        print(f"wrong id {reply_id}")
        sys.exit(1)
    print(text)


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    serve(host, port) if role == "server" else ask(host, port)
