# SPDX-License-Identifier: GPL-2.0
"""handover_tcp.py - the long-lived TCP connection of scripts/bench/handover.sh.

    handover_tcp.py server ADDR PORT
    handover_tcp.py client ADDR PORT SECONDS [INTERVAL_MS]

The server echoes every byte back on each connection (one thread each).  The
client connects once, writes a 16-byte record (sequence number, send time)
every INTERVAL_MS (20) for SECONDS, reads the echoes as they come, and prints
one JSON object: whether the connection survived (lost: it was reset, timed
out or the last echo came more than 2 s before the end while records were
outstanding), records sent and echoed, and the echo receive times (ns,
CLOCK_REALTIME, so they compare with `date +%s%N` in the guest) from which
handover.sh computes the stall around the move.
"""
import json
import select
import socket
import struct
import sys
import threading
import time

REC = struct.Struct("!QQ")


def serve(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)

    def echo(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def client(addr, port, seconds, interval_ms):
    res = {"connected": False, "lost": False, "error": "", "sent": 0, "echoed": 0, "rx_ns": []}
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((addr, port))
    except OSError as e:
        res["error"] = "connect: %s" % e
        res["lost"] = True
        return res
    res["connected"] = True
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    start = time.monotonic()
    end = start + seconds
    nxt = start
    buf = b""
    out = b""
    seq = 0
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if now >= nxt:
                out += REC.pack(seq, time.time_ns())
                seq += 1
                nxt += interval_ms / 1000.0
                if nxt < now:  # the scheduler was late: no burst to catch up
                    nxt = now + interval_ms / 1000.0
            if out:
                try:
                    n = s.send(out)
                    out = out[n:]
                except BlockingIOError:
                    pass
            r, _, _ = select.select([s], [], [], max(0.0, min(nxt, end) - time.monotonic()))
            if r:
                d = s.recv(65536)
                if not d:
                    raise ConnectionError("closed by the peer")
                t = time.time_ns()
                buf += d
                while len(buf) >= REC.size:
                    buf = buf[REC.size:]
                    res["echoed"] += 1
                    res["rx_ns"].append(t)
    except OSError as e:
        res["error"] = str(e)
        res["lost"] = True
    res["sent"] = seq
    if not res["lost"] and res["rx_ns"] and time.time_ns() - res["rx_ns"][-1] > 2e9:
        res["lost"] = True
        res["error"] = "no echo in the last 2 s"
    if not res["rx_ns"]:
        res["lost"] = True
        res["error"] = res["error"] or "no echo at all"
    s.close()
    return res


def main(argv):
    if len(argv) == 4 and argv[1] == "server":
        serve(argv[2], int(argv[3]))
        return 0
    if len(argv) in (5, 6) and argv[1] == "client":
        r = client(argv[2], int(argv[3]), float(argv[4]), float(argv[5]) if len(argv) == 6 else 20.0)
        json.dump(r, sys.stdout)
        print()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
