#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""relay_bulk.py DEV N [SEED] - N relay sessions on DEV, fast.

NEW_RELAY requests through tests/selftests/lib/ntm_genl.py's netlink code,
WINDOW (256) in flight on one socket -- the same requests `ntmctl relay
add` sends, without a round trip each.  Session ids 1..N; every leg a
distinct IPv4 address (10.x and 11.x) with a random port, and a random
32-bit receiver index as nodes choose them, so both hash tables of the
relay hold 2N distinct keys.  Prints "added=A errors=E seconds=S FIRST_ERR".
"""
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "selftests", "lib"))
import ntm_genl as g  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    dev, n = argv[1], int(argv[2])
    rnd = random.Random(int(argv[3]) if len(argv) > 3 else 20261124)
    gl = g.Genl()
    a0 = struct.unpack("!I", bytes([10, 0, 0, 0]))[0]
    b0 = struct.unpack("!I", bytes([11, 0, 0, 0]))[0]

    def ip(v):
        return ".".join(str(b) for b in struct.pack("!I", v))

    t0 = time.time()
    sent = acked = errors = 0
    inflight = set()
    window = 256
    first_err = ""
    while acked < n:
        while sent < n and len(inflight) < window:
            i = sent + 1
            body = struct.pack("=BBH", g.CMD_NEW_RELAY, 1, 0) + g.string(g.A_IFNAME, dev) + g.relay_nest(
                i, (g.leg(g.sockaddr_in(ip(a0 + i), 1024 + rnd.randrange(60000)), rnd.randrange(1, 1 << 32)),
                    g.leg(g.sockaddr_in(ip(b0 + i), 1024 + rnd.randrange(60000)), rnd.randrange(1, 1 << 32))))
            gl.seq += 1
            inflight.add(gl.seq)
            gl.sock.send(struct.pack("=IHHII", 16 + len(body), gl.family, g.NLM_F_REQUEST | g.NLM_F_ACK,
                                     gl.seq, 0) + body)
            sent += 1
        data = gl.sock.recv(1 << 20)
        j = 0
        while j + 16 <= len(data):
            ln, typ, _, mseq, _ = struct.unpack("=IHHII", data[j:j + 16])
            if ln < 16:
                break
            if typ == g.NLMSG_ERROR and mseq in inflight:
                e = -struct.unpack("=i", data[j + 16:j + 20])[0]
                if e:
                    errors += 1
                    first_err = first_err or g.errname(e)
                inflight.discard(mseq)
                acked += 1
            j += (ln + 3) & ~3
    print("added=%d errors=%d seconds=%.2f %s" % (n - errors, errors, time.time() - t0, first_err))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
