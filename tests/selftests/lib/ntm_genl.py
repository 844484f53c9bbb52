#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ntm_genl.py - a minimal raw generic-netlink client for the "ntm" family,
to send the kernel requests that ntmctl would never build.

  ntm_genl.py cases                         names of the battery's cases
  ntm_genl.py check DEV NOSOCKDEV           run the battery, one result per
                                            line: "ok NAME: ..." / "not ok NAME: ..."
  ntm_genl.py getdev DEV                    GET_DEVICE; prints "errno=N" (0 ok)
  ntm_genl.py getdev-index IFINDEX          same, by ifindex

DEV must have both sockets adopted (ntmd running) and no tunnels; NOSOCKDEV
is an ntm device without sockets.  Constants mirror uapi/linux/ntm.h.
"""
import errno
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NETLINK_CAP_ACK = 10
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
NLA_F_NESTED = 0x8000
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2

# uapi/linux/ntm.h
(CMD_GET_DEVICE, CMD_SET_DEVICE, CMD_NEW_TUNNEL, CMD_SET_TUNNEL, CMD_DEL_TUNNEL,
 CMD_GET_TUNNEL) = range(1, 7)
(A_IFINDEX, A_IFNAME, A_UDP4_FD, A_UDP6_FD, A_PORT4, A_PORT6, A_FLAGS, A_FWMARK,
 A_ACQUIRE_QLEN, A_NUM_TUNNELS, A_STATS, A_TUNNEL, A_INNER_DST, A_INNER_SRC, A_REASON,
 A_FLUSH) = range(1, 17)
(T_LOCAL_INDEX, T_REMOTE_INDEX, T_ENDPOINT, T_VIP4, T_VIP6, T_CIPHER, T_KEY, T_TX_SALT,
 T_RX_SALT, T_LIFETIME, T_FLAGS, T_TX_COUNTER, T_RX_COUNTER, T_LAST_RX_NS, T_AGE_S,
 T_STATS) = range(1, 17)
CIPHER_AES_GCM = 1
CIPHER_CHACHA = 2
ACQUIRE_QLEN_MAX = 4096


def attr(typ, payload):
    hdr = struct.pack("=HH", 4 + len(payload), typ)
    return hdr + payload + b"\0" * ((4 - len(payload) % 4) % 4)


def u32(typ, v):
    return attr(typ, struct.pack("=I", v))


def u16(typ, v):
    return attr(typ, struct.pack("=H", v))


def s32(typ, v):
    return attr(typ, struct.pack("=i", v))


def string(typ, s):
    return attr(typ, s.encode() + b"\0")


def nest(typ, *attrs):
    return attr(typ | NLA_F_NESTED, b"".join(attrs))


def parse_attrs(data):
    out = {}
    i = 0
    while i + 4 <= len(data):
        ln, typ = struct.unpack("=HH", data[i:i + 4])
        if ln < 4:
            break
        out.setdefault(typ & 0x3FFF, []).append(data[i + 4:i + ln])
        i += (ln + 3) & ~3
    return out


def sockaddr_in(addr, port):
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + \
        socket.inet_pton(socket.AF_INET, addr) + b"\0" * 8


def sockaddr_in6(addr, port):
    return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + \
        socket.inet_pton(socket.AF_INET6, addr) + struct.pack("=I", 0)


class Genl:
    def __init__(self, family="ntm"):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        try:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        except OSError:
            pass
        self.seq = 1
        self.family = GENL_ID_CTRL
        err, _, msgs = self.request(CTRL_CMD_GETFAMILY, [string(CTRL_ATTR_FAMILY_NAME, family)],
                                    version=1)
        if err:
            raise OSError(err, "genl family %s: %s" % (family, os.strerror(err)))
        fid = parse_attrs(msgs[0])[CTRL_ATTR_FAMILY_ID][0]
        self.family = struct.unpack("=H", fid[:2])[0]

    def request(self, cmd, attrs, flags=NLM_F_ACK, version=1, family=None, raw=None):
        """Send one request; returns (errno, extack message, [reply attr blobs])."""
        fam = self.family if family is None else family
        payload = struct.pack("=BBH", cmd, version, 0) + (raw if raw is not None else b"".join(attrs))
        self.seq += 1
        seq = self.seq
        msg = struct.pack("=IHHII", 16 + len(payload), fam, NLM_F_REQUEST | flags, seq, 0) + payload
        self.sock.send(msg)
        replies = []
        while True:
            data = self.sock.recv(1 << 20)
            i = 0
            while i + 16 <= len(data):
                ln, typ, mflags, mseq, _ = struct.unpack("=IHHII", data[i:i + 16])
                if ln < 16:
                    return errno.EPROTO, "bad netlink message", replies
                body = data[i + 16:i + ln]
                i += (ln + 3) & ~3
                if mseq != seq:
                    continue
                if typ == NLMSG_ERROR:
                    err = -struct.unpack("=i", body[:4])[0]
                    msgtxt = ""
                    if mflags & NLM_F_ACK_TLVS:
                        # With NETLINK_CAP_ACK only the request header follows.
                        orig_len = 16
                        if not (mflags & 0x100):  # NLM_F_CAPPED
                            orig_len = struct.unpack("=I", body[4:8])[0]
                        tlv = parse_attrs(body[4 + ((orig_len + 3) & ~3):])
                        if NLMSGERR_ATTR_MSG in tlv:
                            msgtxt = tlv[NLMSGERR_ATTR_MSG][0].rstrip(b"\0").decode(errors="replace")
                    return err, msgtxt, replies
                if typ == NLMSG_DONE:
                    return 0, "", replies
                replies.append(body[4:])  # skip the genl header
                if not (flags & NLM_F_DUMP) and not (flags & NLM_F_ACK):
                    return 0, "", replies

    def num_tunnels(self, dev):
        err, _, msgs = self.request(CMD_GET_DEVICE, [string(A_IFNAME, dev)])
        if err or not msgs:
            return None
        a = parse_attrs(msgs[0])
        return struct.unpack("=I", a[A_NUM_TUNNELS][0][:4])[0] if A_NUM_TUNNELS in a else None

    def device(self, dev):
        err, _, msgs = self.request(CMD_GET_DEVICE, [string(A_IFNAME, dev)])
        return err, (parse_attrs(msgs[0]) if msgs else {})


KEY = bytes(range(32))


def tunnel(local=0x7001, remote=0x8001, ep=None, vip4=b"\xc6\x33\x64\x63", vip6=None,
           cipher=CIPHER_CHACHA, key=KEY, tx=b"\x01\x02\x03\x04", rx=b"\x05\x06\x07\x08",
           drop=(), extra=b""):
    """The nested NTM_A_TUNNEL of a NEW_TUNNEL request; drop lists attrs to leave out."""
    ep = sockaddr_in("192.0.2.2", 51820) if ep is None else ep
    parts = {
        T_LOCAL_INDEX: u32(T_LOCAL_INDEX, local) if isinstance(local, int) else attr(T_LOCAL_INDEX, local),
        T_REMOTE_INDEX: u32(T_REMOTE_INDEX, remote),
        T_ENDPOINT: attr(T_ENDPOINT, ep),
        T_VIP4: attr(T_VIP4, vip4) if vip4 is not None else b"",
        T_VIP6: attr(T_VIP6, vip6) if vip6 is not None else b"",
        T_CIPHER: u16(T_CIPHER, cipher),
        T_KEY: attr(T_KEY, key),
        T_TX_SALT: attr(T_TX_SALT, tx),
        T_RX_SALT: attr(T_RX_SALT, rx),
    }
    return nest(A_TUNNEL, *(v for k, v in parts.items() if k not in drop), extra)


def errname(e):
    return errno.errorcode.get(e, str(e)) if e else "success"


class FakeGenl:
    """Answers everything with EINVAL: lets "cases" count the battery."""

    def request(self, *a, **k):
        return errno.EINVAL, "", []

    def num_tunnels(self, dev):
        return None

    def device(self, dev):
        return errno.EINVAL, {}


class Battery:
    def __init__(self, dev, nosock, genl=None):
        self.g = genl or Genl()
        self.dev = dev
        self.nosock = nosock
        self.results = []

    def dev_attr(self, dev=None):
        return string(A_IFNAME, dev or self.dev)

    def expect(self, name, want, cmd, attrs, check_state=True, flags=NLM_F_ACK, raw=None):
        """want: a set of errno values (0 = success)."""
        before = self.g.num_tunnels(self.dev) if check_state else None
        err, msg, replies = self.g.request(cmd, attrs, flags=flags, raw=raw)
        after = self.g.num_tunnels(self.dev) if check_state else None
        ok = err in want
        detail = "%s%s" % (errname(err), (" (%s)" % msg) if msg else "")
        if ok and check_state and 0 not in want and before != after:
            ok = False
            detail += "; tunnel count changed %s -> %s" % (before, after)
        if not ok:
            detail = "expected %s, got %s" % ("/".join(errname(w) for w in sorted(want)), detail)
        self.results.append((ok, name, detail))
        return err, replies

    def run(self):
        g, D = self.g, self.dev_attr
        E = self.expect
        dev_ep4 = sockaddr_in("192.0.2.2", 51820)

        # device lookups
        E("get_device without ifindex/ifname", {errno.EINVAL, errno.ENODEV}, CMD_GET_DEVICE, [], False)
        E("get_device unknown name", {errno.ENODEV}, CMD_GET_DEVICE, [string(A_IFNAME, "nosuchntm9")], False)
        E("get_device on a non-ntm device (lo)", {errno.ENODEV, errno.EINVAL, errno.EOPNOTSUPP},
          CMD_GET_DEVICE, [string(A_IFNAME, "lo")], False)
        E("get_device unknown ifindex", {errno.ENODEV}, CMD_GET_DEVICE, [u32(A_IFINDEX, 0x7ffffff0)], False)
        E("get_device ifname not NUL-terminated/too long", {errno.EINVAL, errno.ERANGE, errno.ENODEV},
          CMD_GET_DEVICE, [attr(A_IFNAME, b"x" * 40)], False)
        err, rep = E("get_device ok", {0}, CMD_GET_DEVICE, [D()], False)
        a = parse_attrs(rep[0]) if rep else {}
        ok = A_PORT4 in a and A_PORT6 in a and A_NUM_TUNNELS in a and A_STATS in a
        self.results.append((ok, "get_device reports ports, tunnel count and stats",
                             "attributes %s" % sorted(a)))
        E("unknown command", {errno.EOPNOTSUPP, errno.EINVAL}, 0x7f, [D()], False)
        E("unknown top-level attribute", {errno.EINVAL, errno.EOPNOTSUPP}, CMD_GET_DEVICE,
          [D(), u32(0x3000, 1)], False)

        # new tunnel: missing or malformed attributes
        NT = CMD_NEW_TUNNEL
        E("new_tunnel without device", {errno.EINVAL, errno.ENODEV}, NT, [tunnel()])
        E("new_tunnel without tunnel nest", {errno.EINVAL}, NT, [D()])
        for t, nm in ((T_LOCAL_INDEX, "local index"), (T_REMOTE_INDEX, "remote index"),
                      (T_ENDPOINT, "endpoint"), (T_CIPHER, "cipher"), (T_KEY, "key"),
                      (T_TX_SALT, "tx salt"), (T_RX_SALT, "rx salt")):
            E("new_tunnel missing %s" % nm, {errno.EINVAL}, NT, [D(), tunnel(drop=(t,))])
        E("new_tunnel missing both virtual addresses", {errno.EINVAL}, NT,
          [D(), tunnel(drop=(T_VIP4, T_VIP6))])
        E("new_tunnel local index 0", {errno.EINVAL, errno.ERANGE}, NT, [D(), tunnel(local=0)])
        E("new_tunnel remote index 0", {errno.EINVAL, errno.ERANGE}, NT, [D(), tunnel(remote=0)])
        E("new_tunnel local index as u16", {errno.EINVAL, errno.ERANGE}, NT,
          [D(), tunnel(local=struct.pack("=H", 0x7001))])
        E("new_tunnel chacha key of 20 bytes", {errno.EINVAL}, NT, [D(), tunnel(key=KEY[:20])])
        E("new_tunnel chacha key of 16 bytes", {errno.EINVAL}, NT, [D(), tunnel(key=KEY[:16])])
        E("new_tunnel aes-gcm key of 24 bytes", {errno.EINVAL}, NT,
          [D(), tunnel(cipher=CIPHER_AES_GCM, key=KEY[:24])])
        E("new_tunnel empty key", {errno.EINVAL, errno.ERANGE}, NT, [D(), tunnel(key=b"")])
        E("new_tunnel cipher none", {errno.EINVAL, errno.EOPNOTSUPP, errno.ERANGE}, NT, [D(), tunnel(cipher=0)])
        E("new_tunnel cipher 99", {errno.EINVAL, errno.EOPNOTSUPP, errno.ERANGE}, NT,
          [D(), tunnel(cipher=99)])
        E("new_tunnel salt of 3 bytes", {errno.EINVAL, errno.ERANGE}, NT, [D(), tunnel(tx=b"abc")])
        E("new_tunnel same salt both directions", {errno.EINVAL}, NT,
          [D(), tunnel(tx=b"\x01\x02\x03\x04", rx=b"\x01\x02\x03\x04")])
        E("new_tunnel endpoint of 10 bytes", {errno.EINVAL, errno.ERANGE}, NT,
          [D(), tunnel(ep=dev_ep4[:10])])
        E("new_tunnel endpoint family AF_UNIX", {errno.EINVAL, errno.EAFNOSUPPORT}, NT,
          [D(), tunnel(ep=struct.pack("=H", socket.AF_UNIX) + b"\0" * 14)])
        E("new_tunnel endpoint port 0", {errno.EINVAL}, NT,
          [D(), tunnel(ep=sockaddr_in("192.0.2.2", 0))])
        E("new_tunnel vip4 of 3 bytes", {errno.EINVAL, errno.ERANGE}, NT, [D(), tunnel(vip4=b"\1\2\3")])
        E("new_tunnel vip6 of 4 bytes", {errno.EINVAL, errno.ERANGE}, NT,
          [D(), tunnel(vip4=None, vip6=b"\1\2\3\4")])
        E("new_tunnel unknown tunnel attribute", {errno.EINVAL, errno.EOPNOTSUPP}, NT,
          [D(), tunnel(extra=u32(0x3000, 1))])
        E("new_tunnel truncated nested attribute", {errno.EINVAL, errno.ERANGE}, NT,
          [], raw=D() + struct.pack("=HH", 12, A_TUNNEL | NLA_F_NESTED) + struct.pack("=HH", 8, T_LOCAL_INDEX) + b"\1\0\0\0")
        E("new_tunnel ipv4 endpoint without an ipv4 socket", {errno.EADDRNOTAVAIL}, NT,
          [string(A_IFNAME, self.nosock), tunnel()], check_state=False)
        E("new_tunnel ipv6 endpoint without an ipv6 socket", {errno.EADDRNOTAVAIL}, NT,
          [string(A_IFNAME, self.nosock), tunnel(ep=sockaddr_in6("2001:db8::2", 51820))],
          check_state=False)

        # a good tunnel, then duplicates
        E("new_tunnel aes-gcm 16-byte key accepted", {0}, NT,
          [D(), tunnel(local=0x7002, cipher=CIPHER_AES_GCM, key=KEY[:16], vip4=b"\xc6\x33\x64\x62")])
        E("new_tunnel ok", {0}, NT, [D(), tunnel(vip6=socket.inet_pton(socket.AF_INET6, "fd00:99::1"))])
        E("new_tunnel duplicate local index", {errno.EEXIST}, NT,
          [D(), tunnel(vip4=b"\xc6\x33\x64\x64")])
        E("new_tunnel duplicate vip4", {errno.EEXIST}, NT, [D(), tunnel(local=0x7003)])
        E("new_tunnel duplicate vip6", {errno.EEXIST}, NT,
          [D(), tunnel(local=0x7003, vip4=None, vip6=socket.inet_pton(socket.AF_INET6, "fd00:99::1"))])
        n = g.num_tunnels(self.dev)
        self.results.append((n == 2, "device counts 2 tunnels after the failed requests", "num_tunnels=%s" % n))

        # get / set / del
        err, rep = E("get_tunnel ok", {0}, CMD_GET_TUNNEL, [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7001))], False)
        t = {}
        if rep:
            a = parse_attrs(rep[0])
            if A_TUNNEL in a:
                t = parse_attrs(a[A_TUNNEL][0])
        leaked = [k for k in (T_KEY, T_TX_SALT, T_RX_SALT) if k in t]
        self.results.append((bool(t) and not leaked, "get_tunnel never reports key or salts",
                             "attributes %s" % sorted(t)))
        E("get_tunnel unknown index", {errno.ENOENT}, CMD_GET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7777))], False)
        E("set_tunnel unknown index", {errno.ENOENT}, CMD_SET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7777), u32(T_LIFETIME, 100))])
        E("set_tunnel endpoint of wrong length", {errno.EINVAL, errno.ERANGE}, CMD_SET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7001), attr(T_ENDPOINT, b"\2\0\1"))])
        E("set_tunnel unknown flag", {errno.EINVAL, errno.EOPNOTSUPP}, CMD_SET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7001), u32(T_FLAGS, 0x80))])
        E("set_tunnel ok", {0}, CMD_SET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7001), u32(T_LIFETIME, 3600))])
        E("del_tunnel unknown index", {errno.ENOENT}, CMD_DEL_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x7777))])
        E("del_tunnel without index", {errno.EINVAL}, CMD_DEL_TUNNEL, [D(), nest(A_TUNNEL)])
        E("dump on unknown device", {errno.ENODEV}, CMD_GET_TUNNEL, [string(A_IFNAME, "nosuchntm9")],
          False, flags=NLM_F_DUMP)

        # device settings
        E("set_device bad fd", {errno.EBADF}, CMD_SET_DEVICE, [D(), s32(A_UDP4_FD, 9999)], False)
        fd = os.open("/dev/null", os.O_RDONLY)
        E("set_device fd that is not a socket", {errno.ENOTSOCK, errno.EINVAL}, CMD_SET_DEVICE,
          [D(), s32(A_UDP4_FD, fd)], False)
        os.close(fd)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        E("set_device TCP socket as udp4", {errno.EINVAL, errno.EPROTONOSUPPORT, errno.EOPNOTSUPP,
                                            errno.ESOCKTNOSUPPORT, errno.EPROTOTYPE},
          CMD_SET_DEVICE, [D(), s32(A_UDP4_FD, tcp.fileno())], False)
        tcp.close()
        u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u6.bind(("::", 0))
        E("set_device AF_INET6 socket as udp4", {errno.EINVAL, errno.EAFNOSUPPORT, errno.EPROTOTYPE}, CMD_SET_DEVICE,
          [D(), s32(A_UDP4_FD, u6.fileno())], False)
        u6.close()
        E("set_device acquire_qlen above max", {errno.EINVAL, errno.ERANGE}, CMD_SET_DEVICE,
          [D(), u32(A_ACQUIRE_QLEN, ACQUIRE_QLEN_MAX + 1)], False)
        E("set_device unknown flag", {errno.EINVAL, errno.EOPNOTSUPP}, CMD_SET_DEVICE,
          [D(), u32(A_FLAGS, 0x80)], False)
        err, a = g.device(self.dev)
        ok = err == 0 and A_PORT4 in a and A_PORT6 in a and \
            struct.unpack("=I", a.get(A_ACQUIRE_QLEN, [b"\0\0\0\0"])[0][:4])[0] <= ACQUIRE_QLEN_MAX
        self.results.append((ok, "device keeps its sockets and settings after bad requests",
                             "attributes %s" % sorted(a)))

        # clean up: flush
        E("del_tunnel with flush", {0}, CMD_DEL_TUNNEL, [D(), attr(A_FLUSH, b"")])
        n = g.num_tunnels(self.dev)
        self.results.append((n == 0, "flush leaves no tunnel", "num_tunnels=%s" % n))
        return self.results


def main(argv):
    if len(argv) >= 2 and argv[1] == "cases":
        # Count without a kernel: run against a fake that fails everything.
        print(len(Battery("x", "y", FakeGenl()).run()))
        return 0
    if len(argv) >= 4 and argv[1] == "check":
        try:
            res = Battery(argv[2], argv[3]).run()
        except OSError as e:
            print("not ok genl battery: %s" % e)
            return 1
        bad = 0
        for ok, name, detail in res:
            print("%s %s: %s" % ("ok" if ok else "not ok", name, detail))
            bad += not ok
        return 1 if bad else 0
    if len(argv) >= 3 and argv[1] in ("getdev", "getdev-index"):
        try:
            g = Genl()
        except OSError as e:
            print("errno=%d" % e.errno)
            return 0
        a = string(A_IFNAME, argv[2]) if argv[1] == "getdev" else u32(A_IFINDEX, int(argv[2]))
        err, msg, _ = g.request(CMD_GET_DEVICE, [a])
        print("errno=%d %s %s" % (err, errname(err), msg))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
