#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ntmpkt.py - capture replay, tampering, crafting and fuzzing of NTM data
messages for the selftests.  Run it inside the sending namespace.

Plain sockets only (AF_PACKET, raw IP, UDP): importing scapy takes ~20 s
under TCG, this takes ~1 s.  The AEAD code (python3-cryptography) is
imported only by "craft".

  count PCAP [PORT]
      number of NTM data messages (UDP to PORT, type 1) in a pcap file
  info PCAP [PORT]
      receiver index and counter of each data message, one per line
  inject PCAP IFACE [--pick N|all] [--mutate MODE] [--port PORT] [--fragment N]
      resend captured Ethernet frames holding NTM data messages on IFACE.
      MODE: none, cipher (flip a ciphertext byte), tag (flip a tag byte),
      receiver=N, counter=+N or counter=N, type=N, truncate=N (keep N bytes
      of UDP payload).  --fragment N: as IPv4 fragments of N bytes (a
      multiple of 8) of the UDP datagram each
  craft --src IP --dst IP [--sport P] --dport P --cipher C --key HEX
        --salt HEX --receiver N --counter N[,N...] [--inner KIND]
        [--inner-src IP --inner-dst IP] [--mutate MODE]
      build valid data messages with our own AEAD and send them from
      SRC:SPORT through a raw socket.  KIND: icmp (echo request, default),
      keepalive (empty payload), garbage (not an IP packet)
  fuzz --dst IP --port P --kind KIND --count N [--seed S] [--receiver N]
      KIND: random (random bytes, type != 1), zero (empty UDP payload),
      short (type 1, < 16 bytes), noindex (type 1, unknown receiver),
      shortct (type 1, valid receiver, < 16-byte tag), badtag (type 1,
      valid receiver, random ciphertext), jumbo (random bytes up to 65507),
      jumbodata (type 1, unknown receiver, up to 65507 bytes)
  serve
      read commands like the above from stdin, one per line; answer each
      with one line "ok OUTPUT" or "err MESSAGE" (saves interpreter start-ups)
"""
import ipaddress
import os
import random
import shlex
import socket
import struct
import sys

NTM_DATA = 1
HDR = struct.Struct("!IIQ")
TAG_LEN = 16
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def udp_checksum(src, dst, udp):
    """src/dst: packed addresses (4 or 16 bytes); udp: header+payload."""
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(udp), 17)
    c = csum(pseudo + udp)
    return c or 0xFFFF


def build_udp(src, dst, sport, dport, payload, length=None):
    ulen = 8 + len(payload) if length is None else length
    udp = struct.pack("!HHHH", sport, dport, ulen & 0xFFFF, 0) + payload
    if length is None:
        c = udp_checksum(src, dst, udp)
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return udp


def build_ip(src, dst, proto, l4, ident=None):
    """An IPv4 or IPv6 header in front of l4 (src/dst packed)."""
    if len(src) == 4:
        ident = random.randrange(65536) if ident is None else ident
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0, 64, proto, 0, src, dst)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return hdr + l4
    return struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, src, dst) + l4


def icmp_echo(src, dst, ident=0x4e54, seq=1, size=56):
    """Inner ICMP/ICMPv6 echo request from src to dst (text addresses)."""
    s = ipaddress.ip_address(src).packed
    d = ipaddress.ip_address(dst).packed
    data = bytes((i & 0xFF) for i in range(size))
    if len(s) == 4:
        icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        return build_ip(s, d, 1, icmp)
    icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data
    pseudo = s + d + struct.pack("!IxxxB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", csum(pseudo + icmp)) + icmp[4:]
    return build_ip(s, d, 58, icmp)


# ------------------------------------------------------------------ pcap
def read_pcap(path):
    """Yield raw link-layer frames (Ethernet assumed) from a pcap file."""
    with open(path, "rb") as f:
        gh = f.read(24)
        if len(gh) < 24:
            return
        magic = struct.unpack("<I", gh[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise ValueError("not a pcap file (pcapng is not supported)")
        linktype = struct.unpack(endian + "I", gh[20:24])[0]
        if linktype != 1:
            raise ValueError("link type %d, need Ethernet" % linktype)
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            _, _, incl, _ = struct.unpack(endian + "IIII", rh)
            frame = f.read(incl)
            if len(frame) < incl:
                return
            yield frame


class Frame:
    """An Ethernet frame carrying IPv4/IPv6 + UDP, split into its parts."""

    def __init__(self, raw):
        self.raw = raw
        self.ok = False
        if len(raw) < 14:
            return
        self.eth = raw[:14]
        etype = struct.unpack("!H", raw[12:14])[0]
        ip = raw[14:]
        if etype == ETH_P_IP and len(ip) >= 20:
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 17 or len(ip) < ihl + 8:
                return
            frag = struct.unpack("!H", ip[6:8])[0]
            if frag & 0x3FFF:
                return  # fragments: not handled
            self.v = 4
            self.src, self.dst = ip[12:16], ip[16:20]
            self.iphdr = ip[:ihl]
            udp = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
        elif etype == ETH_P_IPV6 and len(ip) >= 48:
            if ip[6] != 17:
                return
            self.v = 6
            self.src, self.dst = ip[8:24], ip[24:40]
            self.iphdr = ip[:40]
            udp = ip[40:40 + struct.unpack("!H", ip[4:6])[0]]
        else:
            return
        self.sport, self.dport = struct.unpack("!HH", udp[:4])
        self.payload = bytearray(udp[8:])
        self.ok = True

    def is_data(self, port):
        return (self.ok and self.dport == port and len(self.payload) >= 16 and
                struct.unpack("!I", self.payload[:4])[0] == NTM_DATA)

    def header(self):
        return HDR.unpack(bytes(self.payload[:16]))

    def rebuild(self):
        udp = build_udp(self.src, self.dst, self.sport, self.dport, bytes(self.payload))
        if self.v == 4:
            ihl = len(self.iphdr)
            h = bytearray(self.iphdr)
            h[2:4] = struct.pack("!H", ihl + len(udp))
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", csum(bytes(h)))
            ip = bytes(h) + udp
        else:
            h = bytearray(self.iphdr)
            h[4:6] = struct.pack("!H", len(udp))
            ip = bytes(h) + udp
        return self.eth + ip

    def fragments(self, size):
        """rebuild() as IPv4 fragments carrying SIZE bytes (a multiple of 8)
        of the UDP datagram each, in order."""
        frame = self.rebuild()
        if self.v != 4 or size <= 0 or size % 8:
            raise ValueError("--fragment: IPv4 only, a positive multiple of 8")
        ihl = len(self.iphdr)
        ip = frame[14:]
        hdr, data = bytearray(ip[:ihl]), ip[ihl:]
        out = []
        for off in range(0, len(data), size):
            part = data[off:off + size]
            h = bytearray(hdr)
            more = 0x2000 if off + size < len(data) else 0
            h[2:4] = struct.pack("!H", ihl + len(part))
            h[6:8] = struct.pack("!H", more | (off // 8))
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", csum(bytes(h)))
            out.append(self.eth + bytes(h) + part)
        return out


def mutate(payload, mode):
    """Apply a MODE (see the module doc) to a data message (bytearray)."""
    if mode in (None, "", "none"):
        return payload
    if mode == "cipher":
        if len(payload) <= 16 + TAG_LEN:
            raise ValueError("no ciphertext to flip")
        payload[16 + (len(payload) - 16 - TAG_LEN) // 2] ^= 0x5A
    elif mode == "tag":
        payload[-1] ^= 0x01
    elif mode.startswith("receiver="):
        payload[4:8] = struct.pack("!I", int(mode.split("=", 1)[1], 0))
    elif mode.startswith("counter="):
        v = mode.split("=", 1)[1]
        cur = struct.unpack("!Q", payload[8:16])[0]
        new = cur + int(v[1:], 0) if v.startswith("+") else int(v, 0)
        payload[8:16] = struct.pack("!Q", new & (2 ** 64 - 1))
    elif mode.startswith("type="):
        payload[0:4] = struct.pack("!I", int(mode.split("=", 1)[1], 0))
    elif mode.startswith("truncate="):
        del payload[int(mode.split("=", 1)[1], 0):]
    else:
        raise ValueError("unknown mutation " + mode)
    return payload


def data_frames(path, port):
    return [f for f in (Frame(r) for r in read_pcap(path)) if f.is_data(port)]


def cmd_count(args):
    port = int(args[1]) if len(args) > 1 else 51820
    return str(len(data_frames(args[0], port)))


def cmd_info(args):
    port = int(args[1]) if len(args) > 1 else 51820
    out = []
    for f in data_frames(args[0], port):
        _, rcv, ctr = f.header()
        out.append("%d %d %d" % (rcv, ctr, len(f.payload)))
    return "\n".join(out)


def opts(args, spec):
    """Tiny --key value parser; spec maps names to defaults."""
    res = dict(spec)
    pos = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            k = a[2:].replace("-", "_")
            if k not in spec:
                raise ValueError("unknown option " + a)
            if i + 1 >= len(args):
                raise ValueError("missing value for " + a)
            res[k] = args[i + 1]
            i += 2
        else:
            pos.append(a)
            i += 1
    return res, pos


def cmd_inject(args):
    o, pos = opts(args, {"pick": "all", "mutate": "none", "port": "51820", "fragment": "0"})
    path, ifname = pos[0], pos[1]
    frag = int(o["fragment"])
    frames = data_frames(path, int(o["port"]))
    if o["pick"] != "all":
        idx = int(o["pick"])
        if idx >= len(frames):
            raise ValueError("only %d data messages in %s" % (len(frames), path))
        frames = [frames[idx]]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    sent = []
    for f in frames:
        mutate(f.payload, o["mutate"])
        for piece in (f.fragments(frag) if frag else [f.rebuild()]):
            s.send(piece)
        if len(f.payload) >= 16:
            sent.append("%d:%d" % f.header()[1:])
    s.close()
    return "%d %s" % (len(sent), " ".join(sent))


def raw_send(src, dst, l4_udp):
    """Send UDP (header included) with our own IP header through a raw socket."""
    s_ip = ipaddress.ip_address(src)
    d_ip = ipaddress.ip_address(dst)
    if s_ip.version == 4:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        pkt = build_ip(s_ip.packed, d_ip.packed, 17, l4_udp)
        s.sendto(pkt, (dst, 0))
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        pkt = build_ip(s_ip.packed, d_ip.packed, 17, l4_udp)
        s.sendto(pkt, (dst, 0))
    s.close()


def aead(cipher, key):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    if cipher in ("chacha20-poly1305", "chacha20poly1305", "chacha"):
        return ChaCha20Poly1305(key)
    if cipher in ("aes-gcm", "gcm"):
        return AESGCM(key)
    raise ValueError("unknown cipher " + cipher)


def seal(cipher, key, salt, receiver, counter, inner):
    hdr = HDR.pack(NTM_DATA, receiver, counter)
    nonce = salt + struct.pack("!Q", counter)
    return bytearray(hdr + aead(cipher, key).encrypt(nonce, inner, hdr))


def cmd_craft(args):
    o, _ = opts(args, {"src": None, "dst": None, "sport": "51820", "dport": "51820",
                       "cipher": None, "key": None, "salt": None, "receiver": None,
                       "counter": None, "inner": "icmp", "inner_src": None,
                       "inner_dst": None, "mutate": "none", "size": "56"})
    for k in ("src", "dst", "cipher", "key", "salt", "receiver", "counter"):
        if o[k] is None:
            raise ValueError("--%s is required" % k.replace("_", "-"))
    key = bytes.fromhex(o["key"])
    salt = bytes.fromhex(o["salt"])
    sent = []
    for n, ctr in enumerate(int(c, 0) for c in o["counter"].split(",")):
        if o["inner"] == "icmp":
            inner = icmp_echo(o["inner_src"], o["inner_dst"], seq=(ctr & 0xFFFF),
                              size=int(o["size"]))
        elif o["inner"] == "keepalive":
            inner = b""
        elif o["inner"] == "garbage":
            inner = b"\x00" * 8 + os.urandom(24)
        else:
            raise ValueError("unknown inner kind " + o["inner"])
        msg = seal(o["cipher"], key, salt, int(o["receiver"], 0), ctr, inner)
        mutate(msg, o["mutate"])
        s = ipaddress.ip_address(o["src"]).packed
        d = ipaddress.ip_address(o["dst"]).packed
        raw_send(o["src"], o["dst"], build_udp(s, d, int(o["sport"]), int(o["dport"]), bytes(msg)))
        sent.append(str(ctr))
    return "%d %s" % (len(sent), " ".join(sent))


def cmd_fuzz(args):
    o, _ = opts(args, {"dst": None, "port": "51820", "kind": "random", "count": "10",
                       "seed": None, "receiver": "1"})
    rnd = random.Random(int(o["seed"]) if o["seed"] else None)
    dst = o["dst"]
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    n = int(o["count"])
    kind = o["kind"]
    known = int(o["receiver"], 0)
    sent = 0
    maxlen = 65507 if fam == socket.AF_INET else 65527
    for _ in range(n):
        if kind == "random":
            ln = rnd.randrange(1, 1400)
            p = bytearray(rnd.randbytes(ln))
            if ln >= 4 and struct.unpack("!I", p[:4])[0] == NTM_DATA:
                p[3] = 2
            if ln < 4 and ln >= 1:
                p[0] = 0xFF if ln == 1 else p[0]
        elif kind == "zero":
            p = b""
        elif kind == "short":
            p = struct.pack("!I", NTM_DATA) + rnd.randbytes(rnd.randrange(0, 12))
        elif kind == "noindex":
            r = rnd.randrange(1, 2 ** 32)
            while r == known:
                r = rnd.randrange(1, 2 ** 32)
            p = HDR.pack(NTM_DATA, r, rnd.randrange(2 ** 64)) + rnd.randbytes(rnd.randrange(16, 1400))
        elif kind == "shortct":
            p = HDR.pack(NTM_DATA, known, rnd.randrange(1, 2 ** 32)) + rnd.randbytes(rnd.randrange(0, TAG_LEN))
        elif kind == "badtag":
            p = HDR.pack(NTM_DATA, known, rnd.randrange(1, 2 ** 32)) + rnd.randbytes(rnd.randrange(TAG_LEN + 20, 1400))
        elif kind == "jumbo":
            ln = rnd.choice([maxlen, rnd.randrange(1500, maxlen)])
            p = bytearray(rnd.randbytes(ln))
            p[0:4] = struct.pack("!I", rnd.choice([0, 0x10, 0x20, 0x12345678]))
        elif kind == "jumbodata":
            ln = rnd.choice([maxlen, rnd.randrange(1500, maxlen)])
            r = rnd.randrange(1, 2 ** 32)
            while r == known:
                r = rnd.randrange(1, 2 ** 32)
            p = HDR.pack(NTM_DATA, r, rnd.randrange(2 ** 64)) + rnd.randbytes(ln - 16)
        else:
            raise ValueError("unknown fuzz kind " + kind)
        s.sendto(bytes(p), (dst, int(o["port"])))
        sent += 1
    s.close()
    return str(sent)


def cmd_badudp(args):
    """Malformed UDP/IP: UDP length larger or smaller than the datagram."""
    o, _ = opts(args, {"src": None, "dst": None, "port": "51820", "count": "4"})
    s = ipaddress.ip_address(o["src"]).packed
    d = ipaddress.ip_address(o["dst"]).packed
    n = 0
    for i in range(int(o["count"])):
        payload = HDR.pack(NTM_DATA, 7, i) + os.urandom(40)
        for ln in (8 + len(payload) + 100, 4, 8 + 10):
            raw_send(o["src"], o["dst"], build_udp(s, d, 40000 + i, int(o["port"]), payload, length=ln))
            n += 1
    return str(n)


COMMANDS = {"count": cmd_count, "info": cmd_info, "inject": cmd_inject, "craft": cmd_craft,
            "fuzz": cmd_fuzz, "badudp": cmd_badudp}


def run(argv):
    if not argv or argv[0] not in COMMANDS:
        raise ValueError("unknown command; see ntmpkt.py --help")
    return COMMANDS[argv[0]](argv[1:])


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    if args[0] == "serve":
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                out = run(shlex.split(line))
                print("ok " + out.replace("\n", " | "), flush=True)
            except Exception as e:  # report, keep serving
                print("err %s: %s" % (type(e).__name__, e), flush=True)
        return 0
    try:
        print(run(args))
    except Exception as e:
        print("ntmpkt: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
