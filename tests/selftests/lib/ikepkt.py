#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ikepkt.py - a hostile IKEv2 initiator for the selftests.

Builds IKE_SA_INIT requests from RFC 7296 directly (independent of
libntm's codec), sends them to a responder and reports what comes back.

  ikepkt.py flood HOST N        N well-formed IKE_SA_INIT requests from N
                                SPIs; prints "answered=A cookies=C"
  ikepkt.py cookie HOST         one request, and if the answer is a COOKIE,
                                the same request with the cookie; prints
                                "first=<notify|SA> second=<notify|SA>"
  ikepkt.py flood-cookie HOST N N requests from N SPIs, each sent again with
                                the COOKIE when one is demanded; prints
                                "sa=S cookies=C silent=Q" (Q: no answer)
  ikepkt.py changed HOST        a request, another with the same SPI (new
                                nonce), the first again; prints
                                "first=<..> changed=<..> again=<..>"
  ikepkt.py garbage HOST        malformed datagrams of many kinds to 500 and
                                4500 (with the non-ESP marker); prints the
                                number sent

  --bind ADDR (first) sends from ADDR.
"""
import os
import socket
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import ec

PT_SA, PT_KE, PT_NONCE, PT_NOTIFY = 33, 34, 40, 41
N_COOKIE = 16390
IKE_SA_INIT = 34


def payload(next_type, body, critical=False):
    return struct.pack("!BBH", next_type, 0x80 if critical else 0, 4 + len(body)) + body


def chain(items):
    """items: [(type, body)] -> (first type, bytes)"""
    out = b""
    for i, (t, body) in enumerate(items):
        nxt = items[i + 1][0] if i + 1 < len(items) else 0
        out += payload(nxt, body)
    return (items[0][0] if items else 0), out


def sa_body():
    def transform(last, ttype, tid, keylen=None):
        attrs = struct.pack("!HH", 0x800E, keylen) if keylen else b""
        return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs

    ts = transform(False, 1, 20, 256) + transform(False, 2, 5) + transform(True, 4, 19)
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(ts), 1, 1, 0, 3) + ts
    return prop


def ke_body():
    k = ec.generate_private_key(ec.SECP256R1())
    n = k.public_key().public_numbers()
    return struct.pack("!HH", 19, 0) + n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")


def init_request(spi_i, cookie=None, ke=None, nonce=None):
    items = []
    if cookie is not None:
        items.append((PT_NOTIFY, struct.pack("!BBH", 0, 0, N_COOKIE) + cookie))
    items += [(PT_SA, sa_body()), (PT_KE, ke or ke_body()), (PT_NONCE, nonce or os.urandom(32))]
    first, body = chain(items)
    hdr = struct.pack("!QQBBBBII", spi_i, 0, first, 0x20, IKE_SA_INIT, 0x08, 0, 28 + len(body))
    return hdr + body


def notifies(msg):
    """notify types and data of an unencrypted answer, or None"""
    if len(msg) < 28:
        return None
    nxt = msg[16]
    off = 28
    found = []
    while nxt and off + 4 <= len(msg):
        t = nxt
        nxt, _, ln = struct.unpack("!BBH", msg[off:off + 4])
        if ln < 4 or off + ln > len(msg):
            return found
        if t == PT_NOTIFY and ln >= 8:
            spisz = msg[off + 5]
            ntype = struct.unpack("!H", msg[off + 6:off + 8])[0]
            found.append((ntype, msg[off + 8 + spisz:off + ln]))
        if t == PT_SA:
            found.append(("SA", b""))
        off += ln
    return found


def ask(sock, host, msg, port=500, timeout=3.0):
    sock.settimeout(timeout)
    sock.sendto(msg, (host, port))
    try:
        data, _ = sock.recvfrom(65535)
        return data
    except socket.timeout:
        return None


def main():
    args = sys.argv[1:]
    src = "0.0.0.0"
    if args[:1] == ["--bind"]:
        src, args = args[1], args[2:]
    cmd, host = args[0], args[1]
    sys.argv = [sys.argv[0]] + args
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    if cmd == "flood":
        n = int(sys.argv[3])
        answered = cookies = 0
        for _ in range(n):
            r = ask(s, host, init_request(struct.unpack("!Q", os.urandom(8))[0] | 1))
            if r is None:
                continue
            answered += 1
            if any(t == N_COOKIE for t, _ in (notifies(r) or [])):
                cookies += 1
        print("answered=%d cookies=%d" % (answered, cookies))
    elif cmd == "flood-cookie":
        n = int(sys.argv[3])
        sa = cookies = silent = 0
        for _ in range(n):
            spi = struct.unpack("!Q", os.urandom(8))[0] | 1
            ke, nonce = ke_body(), os.urandom(32)
            r = ask(s, host, init_request(spi, ke=ke, nonce=nonce), timeout=1.0)
            found = notifies(r) if r else None
            if found and any(t == N_COOKIE for t, _ in found):
                cookies += 1
                cookie = [d for t, d in found if t == N_COOKIE][0]
                r = ask(s, host, init_request(spi, cookie=cookie, ke=ke, nonce=nonce), timeout=1.0)
                found = notifies(r) if r else None
            if found is None:
                silent += 1
            elif any(t == "SA" for t, _ in found):
                sa += 1
        print("sa=%d cookies=%d silent=%d" % (sa, cookies, silent))
    elif cmd == "changed":
        def what(r):
            n = notifies(r) if r else None
            if n is None:
                return "none"
            if any(t == "SA" for t, _ in n):
                return "SA"
            return "cookie" if any(t == N_COOKIE for t, _ in n) else str(n)
        spi = struct.unpack("!Q", os.urandom(8))[0] | 1
        first = init_request(spi)
        a = what(ask(s, host, first, timeout=2.0))
        b = what(ask(s, host, init_request(spi), timeout=2.0))
        c = what(ask(s, host, first, timeout=2.0))
        print("first=%s changed=%s again=%s" % (a, b, c))
    elif cmd == "cookie":
        spi = struct.unpack("!Q", os.urandom(8))[0] | 1
        ke, nonce = ke_body(), os.urandom(32)
        r1 = ask(s, host, init_request(spi, ke=ke, nonce=nonce))
        n1 = notifies(r1) if r1 else None
        first = "none" if n1 is None else ("cookie" if any(t == N_COOKIE for t, _ in n1) else
                                             "SA" if any(t == "SA" for t, _ in n1) else str(n1))
        second = "skipped"
        if first == "cookie":
            # RFC 7296 2.6: the same request, the cookie in front
            cookie = [d for t, d in n1 if t == N_COOKIE][0]
            r2 = ask(s, host, init_request(spi, cookie=cookie, ke=ke, nonce=nonce))
            n2 = notifies(r2) if r2 else None
            second = "none" if n2 is None else ("SA" if any(t == "SA" for t, _ in n2) else str(n2))
        print("first=%s second=%s" % (first, second))
    elif cmd == "garbage":
        sent = 0
        good = init_request(0x1234)
        cases = [
            b"", b"\x00", os.urandom(27), os.urandom(300),
            good[:20],                                        # truncated header
            good[:24] + struct.pack("!I", 100000) + good[28:],  # length beyond datagram
            good[:17] + b"\x30" + good[18:],                  # major version 3
            good[:28] + b"\x00\x80\x00\x02",                  # payload length < 4, critical
            init_request(0x2345, ke=struct.pack("!HH", 19, 0) + b"\x01" * 64),  # point not on curve
            init_request(0x3456, ke=struct.pack("!HH", 19, 0) + b"\x00" * 10),  # short KE
            good[:16] + b"\x63" + good[17:],                  # unknown first payload type 99
            good[:8] + struct.pack("!Q", 77) + good[16:],     # IKE_SA_INIT with SPIr set
        ]
        # an unknown critical payload in front of the SA
        crit = payload(PT_SA, b"junk", critical=True)
        cases.append(good[:16] + bytes([99]) + good[17:24] + struct.pack("!I", len(good) + len(crit)) + crit + good[28:])
        for c in cases:
            for port, pre in ((500, b""), (4500, b"\x00\x00\x00\x00")):
                s.sendto(pre + c, (host, port))
                sent += 1
        for _ in range(200):
            s.sendto(os.urandom(1 + os.urandom(1)[0]), (host, 500))
            s.sendto(b"\x00\x00\x00\x00" + os.urandom(40 + os.urandom(1)[0]), (host, 4500))
            sent += 2
        print("sent=%d" % sent)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
