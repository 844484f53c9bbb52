#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""socktest.py - socket adoption by ntm.ko (D76, D77), driven from a raw
genetlink client that owns the sockets itself (no ntmd).

  socktest.py recv ADDR PORT LOG      (peer side) append "src ADDR PORT" to
                                      LOG for every datagram to ADDR:PORT
  socktest.py case DEV DEV2 LOG PEER PORT VIP ADDR1 ADDR2
                                      the checks, one "ok NAME: detail" /
                                      "not ok NAME: detail" line each
  socktest.py cases                   how many lines "case" prints
  socktest.py mapped DEVX DEVY ADDR4 ADDR6 PEERVIP
                                      DEVX (IPv4 socket) sends to DEVY's
                                      dual-stack IPv6 socket: no roaming to the
                                      IPv4 source, drop_mapped counts (D76)
  socktest.py closerace DEV FILE      adopt a v4 and a v6 socket on DEV, print
                                      "ready", close both as soon as FILE exists

DEV has no sockets and no tunnels; DEV2 is a second ntm device.  The tunnel
of DEV sends to PEER:PORT, where "recv" logs the outer source; VIP is the
peer's inner IPv4 address routed into DEV; ADDR1 and ADDR2 are two local
addresses on the underlay.
"""
import errno
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ntm_genl as G  # noqa: E402 (same directory)

NCASES = 15
NTM_MSG_DATA = 1


def refcnt():
    try:
        with open("/sys/module/ntm/refcnt") as f:
            return int(f.read())
    except OSError:
        return -1


def mc_loop(s):
    return s.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP)


def udp4(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    return s


class Case:
    def __init__(self, dev, dev2, log, peer, port, vip, a1, a2):
        self.g = G.Genl()
        self.dev, self.dev2, self.log = dev, dev2, log
        self.peer, self.port, self.vip, self.a1, self.a2 = peer, port, vip, a1, a2
        self.n = 0

    def res(self, ok, name, detail):
        self.n += 1
        print("%s %s: %s" % ("ok" if ok else "not ok", name, detail), flush=True)

    def setfd(self, dev, fd4=None, fd6=None):
        a = [G.string(G.A_IFNAME, dev)]
        if fd4 is not None:
            a.append(G.s32(G.A_UDP4_FD, fd4))
        if fd6 is not None:
            a.append(G.s32(G.A_UDP6_FD, fd6))
        err, msg, _ = self.g.request(G.CMD_SET_DEVICE, a)
        return err, msg

    def port4(self, dev):
        err, a = self.g.device(dev)
        if err or G.A_PORT4 not in a:
            return 0
        return struct.unpack("=H", a[G.A_PORT4][0][:2])[0]

    def probe(self):
        """Send one inner datagram into the tunnel; the outer source seen."""
        try:
            before = os.path.getsize(self.log)
        except OSError:
            before = 0
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        end = time.time() + 4
        while time.time() < end:
            try:
                s.sendto(b"probe", (self.vip, 9))
            except OSError:
                pass
            time.sleep(0.3)
            with open(self.log) as f:
                f.seek(before)
                lines = [ln.split() for ln in f.read().splitlines()]
            if lines:
                s.close()
                return "%s:%s" % (lines[-1][1], lines[-1][2])
        s.close()
        return "none"

    def unchanged(self, name, err, want, p1):
        got = self.port4(self.dev)
        src = self.probe()
        ok = err == want and got == p1 and src == "%s:%d" % (self.a1, p1)
        self.res(ok, name, "errno=%d (want %d), port4=%d (want %d), outer source %s"
                 % (err, want, got, p1, src))

    def run(self):
        # dst_cache is per CPU: send every probe from one CPU, so the route
        # cached by the first probe is the one a later probe would reuse
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        r0 = refcnt()
        s1 = udp4(self.a1, 40001)
        loop0 = mc_loop(s1)
        err, msg = self.setfd(self.dev, s1.fileno())
        tun = G.tunnel(local=1001, remote=2002, ep=G.sockaddr_in(self.peer, self.port),
                       vip4=socket.inet_pton(socket.AF_INET, self.vip))
        terr, tmsg, _ = self.g.request(G.CMD_NEW_TUNNEL, [G.string(G.A_IFNAME, self.dev), tun])
        src = self.probe()
        self.res(err == 0 and terr == 0 and src == "%s:40001" % self.a1,
                 "adopted socket carries the tunnel's data",
                 "set errno=%d %s, tunnel errno=%d %s, outer source %s" % (err, msg, terr, tmsg, src))
        r1 = refcnt()
        self.res(r1 == r0 + 1, "an adopted socket holds one module reference",
                 "refcnt %d before, %d after" % (r0, r1))

        # refused requests leave the old socket attached and working (D76)
        sx = udp4(self.a1, 40009)
        e2, m2 = self.setfd(self.dev2, sx.fileno())
        err, _ = self.setfd(self.dev, sx.fileno())
        self.unchanged("socket of another device refused, old one kept (set on %s: %d %s)"
                       % (self.dev2, e2, m2), err, errno.EBUSY, 40001)
        su = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        err, _ = self.setfd(self.dev, su.fileno())
        self.unchanged("unbound socket refused, old one kept", err, errno.EDESTADDRREQ, 40001)
        su.close()
        err, _ = self.setfd(self.dev, 9999)
        self.unchanged("bad fd refused, old one kept", err, errno.EBADF, 40001)
        u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u6.bind(("::", 0))
        err, _ = self.setfd(self.dev, u6.fileno())
        self.unchanged("IPv6 socket as udp4 refused, old one kept", err, errno.EPROTOTYPE, 40001)
        s2 = udp4(self.a2, 40002)
        err, _ = self.setfd(self.dev, s2.fileno(), 9999)
        self.unchanged("request with a good udp4 and a bad udp6 fd changes nothing", err,
                       errno.EBADF, 40001)
        self.res(mc_loop(s2) == 1 and refcnt() == r0 + 2,
                 "the refused new socket is left as it was",
                 "IP_MULTICAST_LOOP=%d, refcnt %d (want %d)" % (mc_loop(s2), refcnt(), r0 + 2))
        err, _ = self.setfd(self.dev, s1.fileno())
        self.res(err == 0 and self.port4(self.dev) == 40001, "the adopted socket again: no-op",
                 "errno=%d port4=%d" % (err, self.port4(self.dev)))

        # a new socket bound elsewhere: no route of the old binding stays
        err, msg = self.setfd(self.dev, s2.fileno())
        src = self.probe()
        self.res(err == 0 and src == "%s:40002" % self.a2,
                 "after the swap the outer source is the new socket's address",
                 "errno=%d %s, outer source %s (want %s:40002)" % (err, msg, src, self.a2))

        # the old socket is a plain UDP socket again
        self.res(mc_loop(s1) == loop0 and refcnt() == r0 + 2,
                 "the released socket has its multicast loopback back",
                 "IP_MULTICAST_LOOP %d before adoption, %d now; refcnt %d (want %d)"
                 % (loop0, mc_loop(s1), refcnt(), r0 + 2))
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        data = struct.pack("!IIQ", NTM_MSG_DATA, 1001, 7) + bytes(32)
        c.sendto(data, (self.a1, 40001))
        s1.settimeout(3)
        try:
            got, _ = s1.recvfrom(2048)
        except OSError:
            got = b""
        self.res(got == data, "a data-looking datagram reaches the released socket's owner",
                 "received %d of %d bytes" % (len(got), len(data)))
        s1.settimeout(None)

        # the released socket can be adopted again; deleting the device
        # releases it as well
        sx_loop = mc_loop(sx)
        os.system("ip link del %s" % self.dev2)
        time.sleep(0.5)
        err, msg = self.setfd(self.dev, s1.fileno())
        self.res(err == 0 and self.port4(self.dev) == 40001 and refcnt() == r0 + 1 and sx_loop == 0
                 and mc_loop(sx) == 1,
                 "device deletion releases its socket, a released socket can be adopted again",
                 "errno=%d %s, port4=%d, refcnt %d (want %d), %s's socket IP_MULTICAST_LOOP %d->%d"
                 % (err, msg, self.port4(self.dev), refcnt(), r0 + 1, self.dev2, sx_loop,
                    mc_loop(sx)))
        err, _ = self.setfd(self.dev, -1)
        self.res(err == 0 and self.port4(self.dev) == 0 and refcnt() == r0 and mc_loop(s1) == 1,
                 "detach (-1) releases the socket and its module reference",
                 "errno=%d port4=%d refcnt %d (want %d) IP_MULTICAST_LOOP=%d"
                 % (err, self.port4(self.dev), refcnt(), r0, mc_loop(s1)))
        # the owner closing an adopted socket drops the reference too
        err, _ = self.setfd(self.dev, s2.fileno())
        s2.close()
        time.sleep(0.5)
        self.res(err == 0 and self.port4(self.dev) == 0 and refcnt() == r0,
                 "closing an adopted socket detaches it and drops its reference",
                 "errno=%d port4=%d refcnt %d (want %d)" % (err, self.port4(self.dev), refcnt(), r0))
        return self.n


NMAPPED = 3


def cmd_mapped(devx, devy, a4, a6, vip):
    """DEVX's tunnel reaches DEVY's dual-stack AF_INET6 socket over IPv4."""
    g = G.Genl()
    n = 0

    def res(ok, name, detail):
        nonlocal n
        n += 1
        print("%s %s: %s" % ("ok" if ok else "not ok", name, detail), flush=True)

    sx = udp4(a4, 40601)
    sy = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sy.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sy.bind(("::", 40602))
    e1, m1, _ = g.request(G.CMD_SET_DEVICE, [G.string(G.A_IFNAME, devx), G.s32(G.A_UDP4_FD, sx.fileno())])
    e2, m2, _ = g.request(G.CMD_SET_DEVICE, [G.string(G.A_IFNAME, devy), G.s32(G.A_UDP6_FD, sy.fileno())])
    tx = G.tunnel(local=3001, remote=4001, ep=G.sockaddr_in(a4, 40602),
                  vip4=socket.inet_pton(socket.AF_INET, vip), tx=b"\x11\x11\x11\x11", rx=b"\x22\x22\x22\x22")
    ty = G.tunnel(local=4001, remote=3001, ep=G.sockaddr_in6(a6, 40601),
                  vip4=socket.inet_pton(socket.AF_INET, "203.0.113.11"), tx=b"\x22\x22\x22\x22",
                  rx=b"\x11\x11\x11\x11")
    e3, m3, _ = g.request(G.CMD_NEW_TUNNEL, [G.string(G.A_IFNAME, devx), tx])
    e4, m4, _ = g.request(G.CMD_NEW_TUNNEL, [G.string(G.A_IFNAME, devy), ty])
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        c.sendto(b"mapped", (vip, 9))
        time.sleep(0.2)
    time.sleep(0.5)
    err, _, rep = g.request(G.CMD_GET_TUNNEL, [G.string(G.A_IFNAME, devy),
                                               G.nest(G.A_TUNNEL, G.u32(G.T_LOCAL_INDEX, 4001))])
    ep = G.decode_tunnel(G.parse_attrs(rep[0])[G.A_TUNNEL][0]).get("endpoint") if not err and rep else None
    want = "[%s]:40601" % a6
    res(e1 == 0 and e2 == 0 and e3 == 0 and e4 == 0 and str(ep) == want,
        "an IPv4 source on a dual-stack IPv6 socket does not move the endpoint",
        "setup errno %d %d %d %d (%s%s%s%s), endpoint %s (want %s)"
        % (e1, e2, e3, e4, m1, m2, m3, m4, ep, want))
    err, a = g.device(devy)
    st = G.decode_stats(a[G.A_STATS][0]) if not err and G.A_STATS in a else {}
    res(st.get("drop_mapped", 0) >= 5, "those data messages are dropped and counted",
        "drop_mapped=%s of 5 sent, rx_packets=%s" % (st.get("drop_mapped"), st.get("rx_packets")))
    sig = struct.pack("!I", 2) + b"signalling"
    c.sendto(sig, (a4, 40602))
    sy.settimeout(3)
    try:
        got, src = sy.recvfrom(2048)
    except OSError:
        got, src = b"", None
    res(got == sig, "other datagrams from an IPv4 source still reach the owner",
        "received %d of %d bytes from %s" % (len(got), len(sig), src))
    return n


def cmd_recv(addr, port, log):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    while True:
        _, src = s.recvfrom(65535)
        with open(log, "a") as f:
            f.write("src %s %d\n" % (src[0], src[1]))


def cmd_closerace(dev, trigger):
    g = G.Genl()
    s4 = udp4("0.0.0.0", 0)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.bind(("::", 0))
    err, msg, _ = g.request(G.CMD_SET_DEVICE, [G.string(G.A_IFNAME, dev), G.s32(G.A_UDP4_FD, s4.fileno()),
                                               G.s32(G.A_UDP6_FD, s6.fileno())])
    print("ready errno=%d %s" % (err, msg), flush=True)
    while not os.path.exists(trigger):
        time.sleep(0.01)
    s4.close()
    s6.close()
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "cases":
        print(NCASES + NMAPPED)
        return 0
    if len(argv) >= 5 and argv[1] == "recv":
        return cmd_recv(argv[2], int(argv[3]), argv[4])
    if len(argv) >= 7 and argv[1] == "mapped":
        return 0 if cmd_mapped(*argv[2:7]) == NMAPPED else 1
    if len(argv) >= 4 and argv[1] == "closerace":
        return cmd_closerace(argv[2], argv[3])
    if len(argv) >= 10 and argv[1] == "case":
        c = Case(argv[2], argv[3], argv[4], argv[5], int(argv[6]), argv[7], argv[8], argv[9])
        n = c.run()
        return 0 if n == NCASES else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
