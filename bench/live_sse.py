#!/usr/bin/env python3
# bench/live_sse.py URL COUNT — a Server-Sent Events client for bench/live.sh:
# reads the worker's /api/workflows/stream until COUNT "watch" messages came,
# printing "delay_ms <ms>" for each (arrival minus the change's "time", one
# host's clock), then "messages <n>".
import socket
import sys
import time
import urllib.parse
from datetime import datetime, timezone

url, want = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlsplit(url)
s = socket.create_connection((u.hostname, u.port))
s.sendall(f"GET {u.path} HTTP/1.0\r\nHost: {u.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode())
f = s.makefile("rb")
while f.readline() not in (b"\r\n", b""):  # response headers
    pass


seconds = {}


def unix(iso):
    # 2026-12-02T20:06:54.2158237Z: the whole seconds parsed once each, the fraction added
    head, frac = iso[:19], iso[20:-1]
    t = seconds.get(head)
    if t is None:
        t = seconds[head] = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return t + int(frac) / 10 ** len(frac)


seen = n = 0
event = None
delays = []
while seen < want:
    line = f.readline()  # HTTP/1.0: the stream comes as it is, not chunked
    if not line:
        break
    line = line.rstrip(b"\r\n")
    if line.startswith(b"event: "):
        event = line[7:].decode()
    elif line.startswith(b"data: ") and event == "watch":
        now = time.time()
        at = line.rindex(b'"time":"') + 8  # the last field of every message
        delays.append((now - unix(line[at:line.index(b'"', at)].decode())) * 1000)
        seen += 1
    if line.startswith(b"data: "):
        n += 1
for d in delays:
    print(f"delay_ms {d:.3f}")
print(f"messages {n}")
