#!/usr/bin/env python3
"""The seed's Flask app, with the routes the webapp serves, on Flask's development server (the
reference point of tests/http/bench.rs).

    flask_app.py HOST PORT
        Serves /, /index, /index/<name>, /data?format=json|csv|html and /home with Werkzeug's
        development server (threaded, as `flask run` and `app.run()` are by default). Port 0
        picks a free port; the first line printed is "Flask development server at IP:PORT".
"""
import sys

from flask import Flask, Response, abort, jsonify, redirect, request
from markupsafe import escape
from werkzeug.serving import make_server

app = Flask(__name__)

TABLE = [("http", 80, "tcp"), ("https", 443, "tcp"), ("dns", 53, "udp"), ("ssh", 22, "tcp")]


@app.route("/")
def hello():
    return Response("Hello World", mimetype="text/plain")


@app.route("/index")
@app.route("/index/<name>")
def index(name="World"):
    return f"<!DOCTYPE html>\n<html><body><h1>Hello, {escape(name)}!</h1></body></html>\n"


@app.route("/data")
def data():
    fmt = request.args.get("format", "json")
    if fmt == "json":
        return jsonify([{"service": s, "port": p, "transport": t} for s, p, t in TABLE])
    if fmt == "csv":
        rows = "".join(f"{s},{p},{t}\r\n" for s, p, t in TABLE)
        return Response("service,port,transport\r\n" + rows, mimetype="text/csv")
    if fmt == "html":
        rows = "".join(f"<tr><td>{s}</td><td>{p}</td><td>{t}</td></tr>" for s, p, t in TABLE)
        return f"<table>{rows}</table>"
    abort(400, f"unknown format {fmt!r}: ask for json, csv or html")


@app.route("/home")
def home():
    return redirect("/index", code=301)


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    server = make_server(host, port, app, threaded=True)
    print(f"Flask development server at {host}:{server.port}", flush=True)
    server.serve_forever()
