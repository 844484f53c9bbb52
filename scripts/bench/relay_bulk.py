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

    # One request built by ntm_genl.py's encoders, with marker values; each
    # session patches its id, endpoints and indexes into a copy (encoding
    # every request from scratch costs more than the kernel's work under
    # software emulation).
    body = struct.pack("=BBH", g.CMD_NEW_RELAY, 1, 0) + g.string(g.A_IFNAME, dev) + g.relay_nest(
        0xA1A2A3A4, (g.leg(g.sockaddr_in("1.2.3.4", 0x1234), 0xB1B2B3B4),
                     g.leg(g.sockaddr_in("5.6.7.8", 0x5678), 0xC1C2C3C4)))
    tmpl = bytearray(struct.pack("=IHHII", 16 + len(body), gl.family, g.NLM_F_REQUEST | g.NLM_F_ACK, 0, 0) + body)

    def at(marker):
        o = bytes(tmpl).find(marker)
        if o < 0 or bytes(tmpl).find(marker, o + 1) >= 0:
            raise SystemExit("relay_bulk.py: marker %s not found once in the request" % marker.hex())
        return o

    o_id = at(struct.pack("=I", 0xA1A2A3A4))
    o_ep = (at(bytes([0x12, 0x34, 1, 2, 3, 4])), at(bytes([0x56, 0x78, 5, 6, 7, 8])))
    o_ix = (at(struct.pack("=I", 0xB1B2B3B4)), at(struct.pack("=I", 0xC1C2C3C4)))
    base = (a0, b0)

    t0 = time.time()
    sent = acked = errors = 0
    inflight = set()
    window = 256
    first_err = ""
    while acked < n:
        while sent < n and len(inflight) < window:
            i = sent + 1
            gl.seq += 1
            struct.pack_into("=I", tmpl, 8, gl.seq)
            struct.pack_into("=I", tmpl, o_id, i)
            for s in (0, 1):
                struct.pack_into("!HI", tmpl, o_ep[s], 1024 + rnd.randrange(60000), base[s] + i)
                struct.pack_into("=I", tmpl, o_ix[s], rnd.randrange(1, 1 << 32))
            inflight.add(gl.seq)
            gl.sock.send(tmpl)
            sent += 1
        data = gl.sock.recv(1 << 20)
        j = 0
        while j + 16 <= len(data):
            ln, typ, _, mseq, _ = struct.unpack_from("=IHHII", data, j)
            if ln < 16:
                break
            if typ == g.NLMSG_ERROR and mseq in inflight:
                e = -struct.unpack_from("=i", data, j + 16)[0]
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
