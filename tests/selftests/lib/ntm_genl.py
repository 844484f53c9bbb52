#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ntm_genl.py - a minimal raw generic-netlink client for the "ntm" family,
to send the kernel requests that ntmctl would never build.

  ntm_genl.py cases                         names of the battery's cases
  ntm_genl.py check DEV NOSOCKDEV           run the battery, one result per
                                            line: "ok NAME: ..." / "not ok NAME: ..."
  ntm_genl.py getdev DEV                    GET_DEVICE; prints "errno=N" (0 ok)
  ntm_genl.py getdev-index IFINDEX          same, by ifindex

ESP tunnels and state (what ntmctl cannot do yet):
  ntm_genl.py esp-add DEV --local SPI --remote SPI --endpoint ADDR:PORT
        --cipher aes-gcm|chacha20-poly1305 --key HEX --rx-key HEX
        --tx-salt HEX --rx-salt HEX --remote-ts CIDR[,CIDR..]
        [--local-ts CIDR[,..]] [--esn] [--tx-counter N] [--lifetime S]
        [--soft-lifetime S] [--soft-bytes N] [--hard-bytes N]
        [--soft-packets N] [--hard-packets N] [--flags N]
        [--replaces LOCAL] [--takeover rx|now]
                                  NEW_TUNNEL (ENCAP esp-udp); prints "errno=N MSG"
  ntm_genl.py esp-bulk DEV FILE    one esp-add per line of FILE (its options),
                                  pipelined; prints "added=N errors=N seconds=S"
  ntm_genl.py set DEV LOCAL [--endpoint ADDR:PORT] [--takeover now] [--lifetime S] [...limits]
  ntm_genl.py del DEV LOCAL
  ntm_genl.py tunnel DEV LOCAL    GET_TUNNEL as one JSON object (stats by name)
  ntm_genl.py devstats DEV        device counters as one JSON object
  ntm_genl.py monitor [SECONDS]   events group: one JSON object per line
  ntm_genl.py own DEV PORT        create, bind and adopt the device's UDP
                                  sockets (IPv4 and IPv6), then print every
                                  datagram left to the owner: "rx HEX"
  ntm_genl.py esp-inject PCAP IFACE PORT [--mutate none|cipher] [--pick N]
                                  re-send captured ESP-in-UDP frames to PORT
  ntm_genl.py esp-craft --src A --dst B --sport P --dport P --cipher C
        --key HEX --salt HEX --spi N --seq N --inner-src A --inner-dst B
        [--esn-hi N] [--nh N] [--badpad]
                                  seal one ESP packet (ICMP echo inside) with
                                  python3-cryptography and send it raw

Relay sessions (NTM_CMD_*_RELAY):
  ntm_genl.py relay-add DEV ID EP1 IDX1 EP2 IDX2 [--hard-bytes N]
        [--hard-packets N] [--idle S]       NEW_RELAY; prints "errno=N NAME MSG"
  ntm_genl.py relay-set DEV ID [--leg1 EP] [--leg2 EP] [--hard-bytes N]
        [--hard-packets N] [--idle S]       SET_RELAY
  ntm_genl.py relay-del DEV ID|flush        DEL_RELAY
  ntm_genl.py relay DEV ID                  GET_RELAY as one JSON object
  ntm_genl.py relays DEV                    dump: "COUNT DISTINCT ORDERED"
  ntm_genl.py relay-bulk DEV N FIRST_ID     N sessions in pipelined requests
        (legs 10.x.y.z:40000 / 11.x.y.z:40000, indexes repeat); prints
        "added=N errors=N seconds=S"
  ntm_genl.py relay-max DEV N               SET_DEVICE NTM_A_MAX_RELAYS
  ntm_genl.py relay-count DEV               NTM_A_NUM_RELAYS of GET_DEVICE
  ntm_genl.py relay-check DEV NOSOCKDEV     hostile-input battery for the
        relay commands, one "ok/not ok NAME: ..." line each
  ntm_genl.py relay-sport SRC DPORT DST SPORT INDEX [COUNT]
        send COUNT NTM-looking data datagrams (type 1, INDEX, random body)
        from SRC:SPORT to DST:DPORT with a plain UDP socket

DEV must have both sockets adopted (ntmd running) and no tunnels; NOSOCKDEV
is an ntm device without sockets.  Constants mirror uapi/linux/ntm.h.
"""
import errno
import ipaddress
import json
import os
import select
import time
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
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2
NETLINK_ADD_MEMBERSHIP = 1

# uapi/linux/ntm.h
(CMD_GET_DEVICE, CMD_SET_DEVICE, CMD_NEW_TUNNEL, CMD_SET_TUNNEL, CMD_DEL_TUNNEL,
 CMD_GET_TUNNEL) = range(1, 7)
(A_IFINDEX, A_IFNAME, A_UDP4_FD, A_UDP6_FD, A_PORT4, A_PORT6, A_FLAGS, A_FWMARK,
 A_ACQUIRE_QLEN, A_NUM_TUNNELS, A_STATS, A_TUNNEL, A_INNER_DST, A_INNER_SRC, A_REASON,
 A_FLUSH) = range(1, 17)
(T_LOCAL_INDEX, T_REMOTE_INDEX, T_ENDPOINT, T_VIP4, T_VIP6, T_CIPHER, T_KEY, T_TX_SALT,
 T_RX_SALT, T_LIFETIME, T_FLAGS, T_TX_COUNTER, T_RX_COUNTER, T_LAST_RX_NS, T_AGE_S,
 T_STATS) = range(1, 17)
T_PAD = 17
(T_ENCAP, T_RX_KEY, T_ESN, T_REMOTE_TS, T_LOCAL_TS, T_SOFT_LIFETIME, T_SOFT_BYTES,
 T_HARD_BYTES, T_SOFT_PACKETS, T_HARD_PACKETS) = range(18, 28)
TS_A_PREFIX = 1
ENCAP_NTM = 0
ENCAP_ESP_UDP = 1
ESP_SPI_MIN = 256
TS_MAX = 8
CMD_EVENT_ACQUIRE, CMD_EVENT_ENDPOINT, CMD_EVENT_EXPIRED = 7, 8, 9
A_REASON_ = 15
EXPIRE_REASONS = {1: "lifetime", 2: "counter", 3: "hard_bytes", 4: "hard_packets",
                  16: "soft_time", 17: "soft_bytes", 18: "soft_packets"}
# enum ntm_stat_attr: attribute number -> name (18 is the pad)
STAT_NAMES = {1: "rx_packets", 2: "rx_bytes", 3: "tx_packets", 4: "tx_bytes",
              5: "drop_replay", 6: "drop_auth", 7: "drop_no_tunnel", 8: "drop_malformed",
              9: "drop_inner_src", 10: "drop_nomem", 11: "drop_tx_error", 12: "drop_expired",
              13: "drop_acquire", 14: "acquire_queued", 15: "passed_up", 16: "roamed",
              17: "keepalive_rx", 19: "drop_ts", 20: "dummy_rx"}
# relay sessions (appended to the uapi enums)
(CMD_NEW_RELAY, CMD_SET_RELAY, CMD_DEL_RELAY, CMD_GET_RELAY,
 CMD_EVENT_RELAY_EXPIRED) = range(10, 15)
A_RELAY, A_MAX_RELAYS, A_NUM_RELAYS = 18, 19, 20
(R_ID, R_LEG, R_HARD_BYTES, R_HARD_PACKETS, R_IDLE_TIMEOUT, R_AGE_S, R_IDLE_S,
 R_DROP_SRC, R_DROP_TX, R_PAD) = range(1, 11)
(L_SIDE, L_ENDPOINT, L_INDEX, L_RX_PACKETS, L_RX_BYTES, L_PAD) = range(1, 7)
EXPIRE_REASONS[5] = "idle"
STAT_NAMES.update({21: "relay_rx_packets", 22: "relay_rx_bytes", 23: "relay_tx_packets",
                   24: "relay_tx_bytes", 25: "drop_relay_src", 26: "drop_relay_limit",
                   27: "drop_relay_tx", 28: "relay_refused", 29: "relay_expired"})
# make-before-break rekey (appended)
CMD_EVENT_TAKEOVER = 15
T_REPLACES, T_TAKEOVER, T_STATE = 28, 29, 30
TAKEOVER_ON_RX, TAKEOVER_NOW = 0, 1
TUNNEL_STATES = {0: "active", 1: "pending", 2: "retired"}
STAT_NAMES.update({30: "takeover", 31: "event_nomem", 32: "confirmed", 33: "drop_ecn"})
RELAY_MAX_LIMIT = 1 << 24
# tunnel limit per device, endpoint event suppression (appended)
A_MAX_TUNNELS = 21
TUNNEL_MAX_LIMIT = 1 << 24
STAT_NAMES.update({34: "tunnel_refused", 35: "roam_event_suppressed"})
STAT_NAMES.update({36: "drop_mapped", 37: "tx_ts_refused"})
STAT_NAMES.update({38: "drop_acquire_full", 39: "drop_acquire_dst", 40: "drop_acquire_timeout"})
RELAY_IDLE_MAX = 604800
CIPHERS = {"aes-gcm": 1, "chacha20-poly1305": 2}
CIPHER_AES_GCM = 1
CIPHER_CHACHA = 2
ACQUIRE_QLEN_MAX = 4096


def attr(typ, payload):
    hdr = struct.pack("=HH", 4 + len(payload), typ)
    return hdr + payload + b"\0" * ((4 - len(payload) % 4) % 4)


def u32(typ, v):
    return attr(typ, struct.pack("=I", v))


def u64(typ, v):
    return attr(typ, struct.pack("=Q", v))


def u8(typ, v):
    return attr(typ, struct.pack("=B", v))


def prefix(cidr, raw=None):
    """struct ntm_prefix of "ADDR/LEN" (host bits kept as given)."""
    if raw is not None:
        return raw
    addr, _, ln = cidr.partition("/")
    ip = ipaddress.ip_address(addr)
    fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    ln = int(ln) if ln else ip.max_prefixlen
    return struct.pack("=BB2x", fam, ln) + ip.packed.ljust(16, b"\0")


def ts_nest(typ, cidrs):
    return nest(typ, *(attr(TS_A_PREFIX, prefix(c)) for c in cidrs))


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
        fa = parse_attrs(msgs[0])
        self.family = struct.unpack("=H", fa[CTRL_ATTR_FAMILY_ID][0][:2])[0]
        self.groups = {}
        for grp in parse_attrs(fa.get(CTRL_ATTR_MCAST_GROUPS, [b""])[0]).values():
            g = parse_attrs(grp[0])
            if CTRL_ATTR_MCAST_GRP_NAME in g and CTRL_ATTR_MCAST_GRP_ID in g:
                name = g[CTRL_ATTR_MCAST_GRP_NAME][0].rstrip(b"\0").decode()
                self.groups[name] = struct.unpack("=I", g[CTRL_ATTR_MCAST_GRP_ID][0][:4])[0]

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


def esp_tunnel(local=0x10001, remote=0x20001, ep=None, cipher=CIPHER_AES_GCM, key=KEY[:16],
               rx_key=KEY[16:], tx=b"\x01\x02\x03\x04", rx=b"\x05\x06\x07\x08",
               remote_ts=("198.51.100.0/24",), local_ts=None, esn=False, drop=(), extra=b""):
    """The nested NTM_A_TUNNEL of an ESP NEW_TUNNEL request."""
    ep = sockaddr_in("192.0.2.2", 4500) if ep is None else ep
    parts = {
        T_ENCAP: u8(T_ENCAP, ENCAP_ESP_UDP),
        T_LOCAL_INDEX: u32(T_LOCAL_INDEX, local),
        T_REMOTE_INDEX: u32(T_REMOTE_INDEX, remote),
        T_ENDPOINT: attr(T_ENDPOINT, ep),
        T_CIPHER: u16(T_CIPHER, cipher),
        T_KEY: attr(T_KEY, key),
        T_RX_KEY: attr(T_RX_KEY, rx_key),
        T_TX_SALT: attr(T_TX_SALT, tx),
        T_RX_SALT: attr(T_RX_SALT, rx),
        T_REMOTE_TS: nest(T_REMOTE_TS, *(attr(TS_A_PREFIX, prefix(None, c) if isinstance(c, bytes)
                                              else prefix(c)) for c in remote_ts)),
        T_LOCAL_TS: nest(T_LOCAL_TS, *(attr(TS_A_PREFIX, prefix(c)) for c in local_ts))
        if local_ts is not None else b"",
        T_ESN: attr(T_ESN, b"") if esn else b"",
    }
    return nest(A_TUNNEL, *(v for k, v in parts.items() if k not in drop), extra)


def decode_stats(blob):
    out = {}
    for k, v in parse_attrs(blob).items():
        if k in STAT_NAMES:
            out[STAT_NAMES[k]] = struct.unpack("=Q", v[0][:8])[0]
    return out


def decode_sockaddr(b):
    fam = struct.unpack("=H", b[:2])[0]
    port = struct.unpack("!H", b[2:4])[0]
    if fam == socket.AF_INET:
        return "%s:%d" % (socket.inet_ntop(socket.AF_INET, b[4:8]), port)
    return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, b[8:24]), port)


def decode_ts(blob):
    out = []
    for v in parse_attrs(blob).get(TS_A_PREFIX, []):
        fam, ln = struct.unpack("=BB", v[:2])
        if fam == socket.AF_INET:
            out.append("%s/%d" % (socket.inet_ntop(socket.AF_INET, v[4:8]), ln))
        else:
            out.append("%s/%d" % (socket.inet_ntop(socket.AF_INET6, v[4:20]), ln))
    return out


def decode_tunnel(blob):
    """One NTM_A_TUNNEL nest as a dict; every attribute seen is reported."""
    a = parse_attrs(blob)
    t = {"attrs": sorted(a)}
    g32 = lambda k: struct.unpack("=I", a[k][0][:4])[0]
    g64 = lambda k: struct.unpack("=Q", a[k][0][:8])[0]
    for k, n in ((T_LOCAL_INDEX, "local_index"), (T_REMOTE_INDEX, "remote_index"),
                 (T_LIFETIME, "lifetime"), (T_FLAGS, "flags"), (T_AGE_S, "age_s"),
                 (T_SOFT_LIFETIME, "soft_lifetime"), (T_REPLACES, "replaces")):
        if k in a:
            t[n] = g32(k)
    for k, n in ((T_TX_COUNTER, "tx_counter"), (T_RX_COUNTER, "rx_counter"),
                 (T_LAST_RX_NS, "last_rx_ns"), (T_SOFT_BYTES, "soft_bytes"),
                 (T_HARD_BYTES, "hard_bytes"), (T_SOFT_PACKETS, "soft_packets"),
                 (T_HARD_PACKETS, "hard_packets")):
        if k in a:
            t[n] = g64(k)
    if T_ENCAP in a:
        t["encap"] = a[T_ENCAP][0][0]
    if T_CIPHER in a:
        t["cipher"] = struct.unpack("=H", a[T_CIPHER][0][:2])[0]
    if T_STATE in a:
        t["state"] = TUNNEL_STATES.get(a[T_STATE][0][0], a[T_STATE][0][0])
    t["esn"] = T_ESN in a
    if T_ENDPOINT in a:
        t["endpoint"] = decode_sockaddr(a[T_ENDPOINT][0])
    if T_REMOTE_TS in a:
        t["remote_ts"] = decode_ts(a[T_REMOTE_TS][0])
    if T_LOCAL_TS in a:
        t["local_ts"] = decode_ts(a[T_LOCAL_TS][0])
    if T_STATS in a:
        t["stats"] = decode_stats(a[T_STATS][0])
    return t


def parse_opts(args, spec):
    """--name VALUE / --flag options; spec maps name -> default (False: flag)."""
    o = dict(spec)
    i = 0
    while i < len(args):
        k = args[i]
        if not k.startswith("--") or k[2:] not in spec:
            raise ValueError("unknown option " + k)
        if spec[k[2:]] is False:
            o[k[2:]] = True
            i += 1
        else:
            o[k[2:]] = args[i + 1]
            i += 2
    return o


def endpoint(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    if ":" in host:
        return sockaddr_in6(host, int(port))
    return sockaddr_in(host, int(port))


LIMIT_OPTS = (("lifetime", T_LIFETIME, u32), ("soft-lifetime", T_SOFT_LIFETIME, u32),
              ("soft-bytes", T_SOFT_BYTES, u64), ("hard-bytes", T_HARD_BYTES, u64),
              ("soft-packets", T_SOFT_PACKETS, u64), ("hard-packets", T_HARD_PACKETS, u64),
              ("flags", T_FLAGS, u32))


def cmd_esp_add(g, dev, args):
    return g.request(CMD_NEW_TUNNEL, esp_add_attrs(dev, args))


def pipeline(g, bodies, window):
    """Send the request BODIES (genetlink header and attributes) with WINDOW
    of them awaiting their ack; returns (errors, first error as "ENAME (request
    K)", seconds)."""
    t0 = time.time()
    sent = acked = errors = 0
    inflight = {}
    first_err = ""
    it = iter(bodies)
    more = True
    while more or inflight:
        while more and len(inflight) < window:
            body = next(it, None)
            if body is None:
                more = False
                break
            g.seq += 1
            inflight[g.seq] = sent
            g.sock.send(struct.pack("=IHHII", 16 + len(body), g.family, NLM_F_REQUEST | NLM_F_ACK,
                                    g.seq, 0) + body)
            sent += 1
        if not inflight:
            break
        data = g.sock.recv(1 << 20)
        j = 0
        while j + 16 <= len(data):
            ln, typ, _, mseq, _ = struct.unpack("=IHHII", data[j:j + 16])
            if ln < 16:
                break
            if typ == NLMSG_ERROR and mseq in inflight:
                e = -struct.unpack("=i", data[j + 16:j + 20])[0]
                if e:
                    errors += 1
                    first_err = first_err or "%s (request %d)" % (errname(e), inflight[mseq] + 1)
                del inflight[mseq]
                acked += 1
            j += (ln + 3) & ~3
    return errors, first_err, time.time() - t0


def cmd_esp_bulk(g, dev, path):
    """One esp-add per line of PATH (its options), 64 requests in flight."""
    with open(path) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    bodies = (struct.pack("=BBH", CMD_NEW_TUNNEL, 1, 0) + b"".join(esp_add_attrs(dev, ln))
              for ln in lines)
    errors, first_err, secs = pipeline(g, bodies, 64)
    print("added=%d errors=%d seconds=%.1f %s" % (len(lines) - errors, errors, secs, first_err))
    return 1 if errors else 0


def esp_add_attrs(dev, args):
    spec = {"local": None, "remote": None, "endpoint": None, "cipher": "aes-gcm", "key": None,
            "rx-key": None, "tx-salt": None, "rx-salt": None, "remote-ts": None,
            "local-ts": None, "esn": False, "tx-counter": None, "replaces": None, "takeover": None}
    spec.update({n: None for n, _, _ in LIMIT_OPTS})
    o = parse_opts(args, spec)
    parts = [u8(T_ENCAP, ENCAP_ESP_UDP), u32(T_LOCAL_INDEX, int(o["local"], 0)),
             u32(T_REMOTE_INDEX, int(o["remote"], 0)), attr(T_ENDPOINT, endpoint(o["endpoint"])),
             u16(T_CIPHER, CIPHERS[o["cipher"]]), attr(T_KEY, bytes.fromhex(o["key"])),
             attr(T_RX_KEY, bytes.fromhex(o["rx-key"])), attr(T_TX_SALT, bytes.fromhex(o["tx-salt"])),
             attr(T_RX_SALT, bytes.fromhex(o["rx-salt"])),
             ts_nest(T_REMOTE_TS, o["remote-ts"].split(","))]
    if o["local-ts"]:
        parts.append(ts_nest(T_LOCAL_TS, o["local-ts"].split(",")))
    if o["esn"]:
        parts.append(attr(T_ESN, b""))
    if o["tx-counter"] is not None:
        parts.append(u64(T_TX_COUNTER, int(o["tx-counter"], 0)))
    parts += takeover_attrs(o)
    for n, t, f in LIMIT_OPTS:
        if o[n] is not None:
            parts.append(f(t, int(o[n], 0)))
    return [string(A_IFNAME, dev), nest(A_TUNNEL, *parts)]


def takeover_attrs(o):
    """REPLACES (a local index) and TAKEOVER (rx or now) from options."""
    parts = []
    if o.get("replaces") is not None:
        parts.append(u32(T_REPLACES, int(o["replaces"], 0)))
    if o.get("takeover") is not None:
        parts.append(u8(T_TAKEOVER, {"rx": TAKEOVER_ON_RX, "now": TAKEOVER_NOW}[o["takeover"]]))
    return parts


def cmd_set(g, dev, local, args):
    spec = {"endpoint": None, "takeover": None}
    spec.update({n: None for n, _, _ in LIMIT_OPTS})
    o = parse_opts(args, spec)
    parts = [u32(T_LOCAL_INDEX, int(local, 0))]
    if o["endpoint"]:
        parts.append(attr(T_ENDPOINT, endpoint(o["endpoint"])))
    parts += takeover_attrs(o)
    for n, t, f in LIMIT_OPTS:
        if o[n] is not None:
            parts.append(f(t, int(o[n], 0)))
    return g.request(CMD_SET_TUNNEL, [string(A_IFNAME, dev), nest(A_TUNNEL, *parts)])


def cmd_monitor(g, seconds):
    """Print events as JSON lines until SECONDS passed (0: forever)."""
    g.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g.groups["events"])
    print(json.dumps({"event": "ready"}), flush=True)
    end = time.time() + seconds if seconds else None
    names = {CMD_EVENT_ACQUIRE: "acquire", CMD_EVENT_ENDPOINT: "endpoint", CMD_EVENT_EXPIRED: "expired",
             CMD_EVENT_RELAY_EXPIRED: "relay_expired", CMD_EVENT_TAKEOVER: "takeover"}
    while end is None or time.time() < end:
        r, _, _ = select.select([g.sock], [], [], 0.5)
        if not r:
            continue
        data = g.sock.recv(1 << 16)
        i = 0
        while i + 20 <= len(data):
            ln, typ, _, _, _ = struct.unpack("=IHHII", data[i:i + 16])
            cmd = data[i + 16]
            a = parse_attrs(data[i + 20:i + ln])
            i += (ln + 3) & ~3
            ev = {"event": names.get(cmd, cmd)}
            if A_TUNNEL in a:
                ev.update(decode_tunnel(a[A_TUNNEL][0]))
                ev.pop("attrs", None)
                ev.pop("esn", None)
            if A_RELAY in a:
                ev.update(decode_relay(a[A_RELAY][0]))
                ev.pop("attrs", None)
            if A_REASON in a:
                r_ = struct.unpack("=I", a[A_REASON][0][:4])[0]
                ev["reason"] = EXPIRE_REASONS.get(r_, r_)
            print(json.dumps(ev), flush=True)


def cmd_own(dev, port):
    """Be the user-space owner of DEV's sockets and print what is left to us."""
    g = Genl()
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.bind(("0.0.0.0", port))
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.bind(("::", port))
    err, msg, _ = g.request(CMD_SET_DEVICE, [string(A_IFNAME, dev), s32(A_UDP4_FD, s4.fileno()),
                                             s32(A_UDP6_FD, s6.fileno())])
    if err:
        print("errno=%d %s %s" % (err, errname(err), msg), flush=True)
        return 1
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([s4, s6], [], [])
        for sk in r:
            data, peer = sk.recvfrom(65535)
            print("rx %s %s" % (peer[0], data.hex()), flush=True)


def _ntmpkt():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ntmpkt  # noqa: E402 (same directory)
    return ntmpkt


def cmd_esp_inject(args):
    o = parse_opts(args[3:], {"mutate": "none", "pick": "all"})
    pk = _ntmpkt()
    port = int(args[2])
    frames = [f for f in (pk.Frame(r) for r in pk.read_pcap(args[0]))
              if f.ok and f.dport == port and len(f.payload) >= 32 and
              struct.unpack("!I", bytes(f.payload[:4]))[0] >= ESP_SPI_MIN]
    if o["pick"] != "all":
        frames = [frames[int(o["pick"])]]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args[1], 0))
    for f in frames:
        if o["mutate"] == "cipher":
            # a byte in the middle of the ciphertext, after SPI, seq and IV
            f.payload[16 + (len(f.payload) - 32) // 2] ^= 0x5A
        s.send(f.rebuild())
    s.close()
    return len(frames)


def esp_seal(cipher, key, salt, spi, seq, inner, nh, esn_hi=None, badpad=False):
    """An ESP packet (RFC 4303 + RFC 4106/7634), independent of the kernel."""
    pk = _ntmpkt()
    padlen = (4 - (len(inner) + 2) % 4) % 4
    pad = bytes(range(1, padlen + 1))
    if badpad:
        padlen += 4
        pad = bytes(range(1, padlen + 1))[:-1] + b"\xee"
    plain = inner + pad + bytes((padlen, nh))
    iv = struct.pack("!Q", (esn_hi or 0) << 32 | seq)
    hdr = struct.pack("!II", spi, seq & 0xFFFFFFFF)
    aad = hdr if esn_hi is None else struct.pack("!III", spi, esn_hi, seq & 0xFFFFFFFF)
    sealed = pk.aead(cipher, key).encrypt(salt + iv, plain, aad)
    return hdr + iv + sealed


def cmd_esp_craft(args):
    o = parse_opts(args, {"src": None, "dst": None, "sport": "4500", "dport": "4500",
                          "cipher": "aes-gcm", "key": None, "salt": None, "spi": None,
                          "seq": None, "inner-src": None, "inner-dst": None, "esn-hi": None,
                          "nh": None, "badpad": False})
    pk = _ntmpkt()
    inner = pk.icmp_echo(o["inner-src"], o["inner-dst"])
    nh = int(o["nh"]) if o["nh"] is not None else (4 if ":" not in o["inner-src"] else 41)
    esp = esp_seal(o["cipher"], bytes.fromhex(o["key"]), bytes.fromhex(o["salt"]), int(o["spi"], 0),
                   int(o["seq"], 0), inner, nh,
                   int(o["esn-hi"], 0) if o["esn-hi"] is not None else None, o["badpad"])
    s_ip = ipaddress.ip_address(o["src"]).packed
    d_ip = ipaddress.ip_address(o["dst"]).packed
    pk.raw_send(o["src"], o["dst"], pk.build_udp(s_ip, d_ip, int(o["sport"]), int(o["dport"]), esp))
    return 1


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
        # a tunnel reports its traffic and the counters it keeps itself (D106),
        # never the device-wide ones it does not count
        want = {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drop_replay", "drop_auth",
                "drop_malformed", "drop_inner_src", "drop_nomem", "drop_tx_error", "drop_expired",
                "drop_ts", "drop_ecn", "roamed", "roam_event_suppressed", "keepalive_rx", "dummy_rx"}
        got = sorted(STAT_NAMES.get(k, "#%d" % k) for k in parse_attrs(t[T_STATS][0])) if T_STATS in t else []
        self.results.append((set(got) == want and len(got) == len(want),
                             "get_tunnel STATS holds exactly the tunnel's own counters",
                             "missing %s, extra %s" % (sorted(want - set(got)), sorted(set(got) - want))))
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
        E("set_device max_tunnels above the limit", {errno.EINVAL, errno.ERANGE}, CMD_SET_DEVICE,
          [D(), u32(A_MAX_TUNNELS, TUNNEL_MAX_LIMIT + 1)])
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
        self.run_esp()
        return self.results

    def run_esp(self):
        """ESP SAs (NTM_ENCAP_ESP_UDP): the rules of uapi/linux/ntm.h."""
        g, D, E, NT = self.g, self.dev_attr, self.expect, CMD_NEW_TUNNEL
        EI = {errno.EINVAL}
        v4 = lambda a, ln: struct.pack("=BB2x", socket.AF_INET, ln) + socket.inet_aton(a) + b"\0" * 12
        E("esp: encap 2 (unknown)", EI | {errno.ERANGE}, NT,
          [D(), esp_tunnel(drop=(T_ENCAP,), extra=u8(T_ENCAP, 2))])
        for t, nm in ((T_RX_KEY, "rx key"), (T_REMOTE_TS, "remote ts"), (T_RX_SALT, "rx salt")):
            E("esp: missing %s" % nm, EI, NT, [D(), esp_tunnel(drop=(t,))])
        E("esp: inbound SPI below 256", EI, NT, [D(), esp_tunnel(local=255)])
        E("esp: outbound SPI below 256", EI, NT, [D(), esp_tunnel(remote=1)])
        E("esp: with a virtual address", EI, NT, [D(), esp_tunnel(extra=attr(T_VIP4, b"\xc6\x33\x64\x63"))])
        E("esp: aes-gcm key of 20 bytes", EI, NT, [D(), esp_tunnel(key=KEY[:20])])
        E("esp: chacha rx key of 16 bytes", EI, NT,
          [D(), esp_tunnel(cipher=CIPHER_CHACHA, key=KEY, rx_key=KEY[:16])])
        E("esp: same key and salt both directions", EI, NT,
          [D(), esp_tunnel(rx_key=KEY[:16], rx=b"\x01\x02\x03\x04")])
        E("esp: ts prefix longer than 32", EI, NT, [D(), esp_tunnel(remote_ts=(v4("10.0.0.0", 33),))])
        E("esp: ts host bits set", EI, NT, [D(), esp_tunnel(remote_ts=(v4("10.0.0.1", 24),))])
        E("esp: ts family AF_UNIX", EI | {errno.EAFNOSUPPORT}, NT,
          [D(), esp_tunnel(remote_ts=(struct.pack("=BB2x", socket.AF_UNIX, 0) + b"\0" * 16,))])
        E("esp: ts of 19 bytes", EI | {errno.ERANGE}, NT,
          [D(), esp_tunnel(remote_ts=(v4("10.0.0.0", 8)[:19],))])
        E("esp: more than NTM_TS_MAX selectors", EI | {errno.E2BIG}, NT,
          [D(), esp_tunnel(remote_ts=["10.%d.0.0/16" % i for i in range(TS_MAX + 1)])])
        E("esp: empty remote ts", EI, NT, [D(), esp_tunnel(remote_ts=())])
        E("esp: sequence start 2^32 without ESN", EI, NT,
          [D(), esp_tunnel(extra=u64(T_TX_COUNTER, 1 << 32))])
        E("esp: soft packet limit above hard", EI, NT,
          [D(), esp_tunnel(extra=u64(T_SOFT_PACKETS, 10) + u64(T_HARD_PACKETS, 5))])
        E("ntm tunnel with ESN refused", EI, NT, [D(), tunnel(extra=attr(T_ESN, b""))])
        E("ntm tunnel with traffic selectors refused", EI, NT,
          [D(), tunnel(extra=ts_nest(T_REMOTE_TS, ["10.0.0.0/8"]))])
        E("esp: aes-gcm-192 SA with ESN and selectors accepted", {0}, NT,
          [D(), esp_tunnel(key=KEY[:24], rx_key=KEY[8:], esn=True,
                           remote_ts=("10.1.0.0/16", "2001:db8:1::/48"), local_ts=("10.2.0.0/16",))])
        E("esp: duplicate inbound SPI", {errno.EEXIST}, NT, [D(), esp_tunnel(remote=0x20002)])
        err, rep = E("esp: get_tunnel", {0}, CMD_GET_TUNNEL,
                     [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x10001))], False)
        t = decode_tunnel(parse_attrs(rep[0])[A_TUNNEL][0]) if rep else {}
        leaked = [k for k in (T_KEY, T_RX_KEY, T_TX_SALT, T_RX_SALT) if k in t.get("attrs", [])]
        ok = (t.get("encap") == ENCAP_ESP_UDP and t.get("esn") and not leaked and
              t.get("remote_ts") == ["10.1.0.0/16", "2001:db8:1::/48"] and
              t.get("local_ts") == ["10.2.0.0/16"] and t.get("tx_counter") == 1)
        self.results.append((ok, "esp: dump reports encap, ESN, selectors, sequence 1, no keys", str(t)[:300]))
        E("esp: set_tunnel cannot change selectors", EI, CMD_SET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x10001), ts_nest(T_REMOTE_TS, ["10.0.0.0/8"]))])
        E("esp: set_tunnel endpoint and limits", {0}, CMD_SET_TUNNEL,
          [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x10001), attr(T_ENDPOINT, sockaddr_in("192.0.2.9", 4501)),
                     u64(T_SOFT_BYTES, 1000), u64(T_HARD_BYTES, 2000), u32(T_SOFT_LIFETIME, 50),
                     u32(T_LIFETIME, 100))])
        err, _, rep = g.request(CMD_GET_TUNNEL, [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x10001))])
        t = decode_tunnel(parse_attrs(rep[0])[A_TUNNEL][0]) if rep else {}
        ok = (t.get("endpoint") == "192.0.2.9:4501" and t.get("soft_bytes") == 1000 and
              t.get("hard_bytes") == 2000 and t.get("soft_lifetime") == 50 and t.get("lifetime") == 100)
        self.results.append((ok, "esp: set_tunnel took endpoint, lifetimes and limits", str(t)[:300]))
        E("esp: del_tunnel", {0}, CMD_DEL_TUNNEL, [D(), nest(A_TUNNEL, u32(T_LOCAL_INDEX, 0x10001))])


# ---- relay sessions ----------------------------------------------------------

def leg(ep, index=None, side=None, extra=b""):
    parts = []
    if side is not None:
        parts.append(u8(L_SIDE, side))
    if ep is not None:
        parts.append(attr(L_ENDPOINT, endpoint(ep) if isinstance(ep, str) else ep))
    if index is not None:
        parts.append(u32(L_INDEX, index))
    return nest(R_LEG, *parts, extra)


def relay_nest(rid, legs=(), extra=b""):
    parts = [u32(R_ID, rid)] if rid is not None else []
    return nest(A_RELAY, *parts, *legs, extra)


def relay_limits(o):
    out = []
    if o.get("hard-bytes") is not None:
        out.append(u64(R_HARD_BYTES, int(o["hard-bytes"], 0)))
    if o.get("hard-packets") is not None:
        out.append(u64(R_HARD_PACKETS, int(o["hard-packets"], 0)))
    if o.get("idle") is not None:
        out.append(u32(R_IDLE_TIMEOUT, int(o["idle"], 0)))
    return b"".join(out)


def decode_relay(blob):
    a = parse_attrs(blob)
    g32 = lambda d, k: struct.unpack("=I", d[k][0][:4])[0]
    g64 = lambda d, k: struct.unpack("=Q", d[k][0][:8])[0]
    r = {"attrs": sorted(a)}
    for k, n in ((R_ID, "id"), (R_IDLE_TIMEOUT, "idle_timeout"), (R_AGE_S, "age_s"),
                 (R_IDLE_S, "idle_s")):
        if k in a:
            r[n] = g32(a, k)
    for k, n in ((R_HARD_BYTES, "hard_bytes"), (R_HARD_PACKETS, "hard_packets"),
                 (R_DROP_SRC, "drop_src"), (R_DROP_TX, "drop_tx")):
        if k in a:
            r[n] = g64(a, k)
    r["legs"] = []
    for lb in a.get(R_LEG, []):
        la = parse_attrs(lb)
        lg = {}
        if L_SIDE in la:
            lg["side"] = la[L_SIDE][0][0]
        if L_ENDPOINT in la:
            lg["endpoint"] = decode_sockaddr(la[L_ENDPOINT][0])
        if L_INDEX in la:
            lg["index"] = g32(la, L_INDEX)
        if L_RX_PACKETS in la:
            lg["rx_packets"] = g64(la, L_RX_PACKETS)
        if L_RX_BYTES in la:
            lg["rx_bytes"] = g64(la, L_RX_BYTES)
        r["legs"].append(lg)
    return r


def cmd_relay_add(g, dev, args):
    o = parse_opts(args[5:], {"hard-bytes": None, "hard-packets": None, "idle": None})
    return g.request(CMD_NEW_RELAY, [string(A_IFNAME, dev), relay_nest(
        int(args[0], 0), (leg(args[1], int(args[2], 0)), leg(args[3], int(args[4], 0))),
        relay_limits(o))])


def cmd_relay_set(g, dev, args):
    o = parse_opts(args[1:], {"leg1": None, "leg2": None, "hard-bytes": None,
                              "hard-packets": None, "idle": None})
    legs = [leg(o["leg%d" % s], side=s) for s in (1, 2) if o["leg%d" % s]]
    return g.request(CMD_SET_RELAY, [string(A_IFNAME, dev),
                                     relay_nest(int(args[0], 0), legs, relay_limits(o))])


def relay_dump(g, dev):
    err, msg, rep = g.request(CMD_GET_RELAY, [string(A_IFNAME, dev)], flags=NLM_F_DUMP)
    out = []
    for m in rep:
        for blob in parse_attrs(m).get(A_RELAY, []):
            out.append(decode_relay(blob))
    return err, msg, out


def ip_of(base, i):
    return str(ipaddress.ip_address(base) + i)


def cmd_relay_bulk(g, dev, n, first):
    """N NEW_RELAY requests, 128 in flight; every leg a distinct address."""
    bodies = (struct.pack("=BBH", CMD_NEW_RELAY, 1, 0) + string(A_IFNAME, dev) + relay_nest(
        first + i, (leg(sockaddr_in(ip_of("10.0.0.0", i), 40000), 1 + i % 997),
                    leg(sockaddr_in(ip_of("11.0.0.0", i), 40000), 1 + (i * 7) % 991)))
        for i in range(n))
    errors, first_err, secs = pipeline(g, bodies, 128)
    return "added=%d errors=%d seconds=%.1f %s" % (n - errors, errors, secs, first_err)


def cmd_relay_sport(args):
    """Datagrams that look like NTM data messages, from SRC:SPORT."""
    src, dport, dst, sport, index = args[0], int(args[1]), args[2], int(args[3]), int(args[4], 0)
    count = int(args[5]) if len(args) > 5 else 1
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, sport))
    for c in range(count):
        s.sendto(struct.pack("!IIQ", 1, index, c) + os.urandom(48), (dst, dport))
    s.close()
    return count


class RelayBattery(Battery):
    """NTM_CMD_*_RELAY against hostile input: errors, never a change of state."""

    def count(self):
        err, a = self.g.device(self.dev)
        return struct.unpack("=I", a[A_NUM_RELAYS][0][:4])[0] if A_NUM_RELAYS in a else None

    def expect_r(self, name, want, cmd, attrs, flags=NLM_F_ACK, raw=None, changes=False):
        before = self.count()
        err, msg, replies = self.g.request(cmd, attrs, flags=flags, raw=raw)
        after = self.count()
        ok = err in want
        detail = "%s%s" % (errname(err), (" (%s)" % msg) if msg else "")
        if ok and not changes and before != after:
            ok = False
            detail += "; session count changed %s -> %s" % (before, after)
        if not ok:
            detail = "expected %s, got %s" % ("/".join(errname(w) for w in sorted(want)), detail)
        self.results.append((ok, name, detail))
        return err, replies

    def run(self):
        D, E, EI = self.dev_attr, self.expect_r, {errno.EINVAL}
        ep1, ep2 = "192.0.2.71:40001", "[2001:db8::72]:40002"
        good = (leg(ep1, 11), leg(ep2, 22))
        N = CMD_NEW_RELAY
        E("relay: new without device", {errno.EINVAL, errno.ENODEV}, N, [relay_nest(9, good)])
        E("relay: new without relay nest", EI, N, [D()])
        E("relay: new without id", EI, N, [D(), relay_nest(None, good)])
        E("relay: new with id 0", EI | {errno.ERANGE}, N, [D(), relay_nest(0, good)])
        E("relay: new with one leg", EI, N, [D(), relay_nest(9, good[:1])])
        E("relay: new with three legs", EI, N, [D(), relay_nest(9, good + (leg(ep1, 33),))])
        E("relay: leg without endpoint", EI, N, [D(), relay_nest(9, (leg(None, 11), good[1]))])
        E("relay: leg without index", EI, N, [D(), relay_nest(9, (leg(ep1), good[1]))])
        E("relay: leg index 0", EI | {errno.ERANGE}, N, [D(), relay_nest(9, (leg(ep1, 0), good[1]))])
        E("relay: leg side 3", EI | {errno.ERANGE}, N, [D(), relay_nest(9, (leg(ep1, 11, side=3), good[1]))])
        E("relay: leg side not its position", EI, N,
          [D(), relay_nest(9, (leg(ep1, 11, side=2), good[1]))])
        E("relay: endpoint of 10 bytes", EI | {errno.ERANGE}, N,
          [D(), relay_nest(9, (leg(endpoint(ep1)[:10], 11), good[1]))])
        E("relay: endpoint AF_UNIX", EI | {errno.EAFNOSUPPORT}, N,
          [D(), relay_nest(9, (leg(struct.pack("=H", socket.AF_UNIX) + b"\0" * 14, 11), good[1]))])
        E("relay: endpoint port 0", EI, N, [D(), relay_nest(9, (leg("192.0.2.71:0", 11), good[1]))])
        E("relay: multicast endpoint", EI, N, [D(), relay_nest(9, (leg("224.0.0.1:5", 11), good[1]))])
        E("relay: link-local IPv6 endpoint", EI, N, [D(), relay_nest(9, (leg("[fe80::1]:5", 11), good[1]))])
        E("relay: read-only leg counter", EI, N,
          [D(), relay_nest(9, (leg(ep1, 11, extra=u64(L_RX_PACKETS, 1)), good[1]))])
        E("relay: read-only session counter", EI, N, [D(), relay_nest(9, good, u64(R_DROP_SRC, 1))])
        E("relay: idle timeout above a week", EI | {errno.ERANGE}, N,
          [D(), relay_nest(9, good, u32(R_IDLE_TIMEOUT, RELAY_IDLE_MAX + 1))])
        E("relay: unknown relay attribute", EI | {errno.EOPNOTSUPP}, N, [D(), relay_nest(9, good, u32(0x3000, 1))])
        E("relay: unknown leg attribute", EI | {errno.EOPNOTSUPP}, N,
          [D(), relay_nest(9, (leg(ep1, 11, extra=u32(0x3000, 1)), good[1]))])
        E("relay: truncated leg nest", EI | {errno.ERANGE}, N, [],
          raw=D() + struct.pack("=HH", 16, A_RELAY | NLA_F_NESTED) + u32(R_ID, 9) +
          struct.pack("=HH", 12, R_LEG | NLA_F_NESTED))
        E("relay: both legs the same key", EI, N, [D(), relay_nest(9, (leg(ep1, 11), leg(ep1, 11)))])
        E("relay: IPv4 leg on a device without sockets", {errno.EADDRNOTAVAIL}, N,
          [string(A_IFNAME, self.nosock), relay_nest(9, good)])
        E("relay: new ok (IPv4 leg facing an IPv6 leg)", {0}, N, [D(), relay_nest(9, good)], changes=True)
        E("relay: duplicate id", {errno.EEXIST}, N,
          [D(), relay_nest(9, (leg("192.0.2.73:1", 1), leg("192.0.2.74:1", 2)))])
        E("relay: a key another session installs", {errno.EEXIST}, N,
          [D(), relay_nest(10, (leg(ep1, 44), leg(ep2, 22)))])
        E("relay: same indexes, other sources ok", {0}, N,
          [D(), relay_nest(10, (leg("192.0.2.75:40001", 11), leg("192.0.2.76:40002", 22)))], changes=True)
        err, rep = E("relay: get", {0}, CMD_GET_RELAY, [D(), relay_nest(9)])
        r = decode_relay(parse_attrs(rep[0])[A_RELAY][0]) if rep else {}
        ok = [lg.get("endpoint") for lg in r.get("legs", [])] == ["192.0.2.71:40001", "[2001:db8::72]:40002"] \
            and [lg.get("index") for lg in r.get("legs", [])] == [11, 22] and r.get("drop_src") == 0
        self.results.append((ok, "relay: get reports both legs in order", str(r)[:300]))
        E("relay: get unknown id", {errno.ENOENT}, CMD_GET_RELAY, [D(), relay_nest(777)])
        E("relay: set unknown id", {errno.ENOENT}, CMD_SET_RELAY, [D(), relay_nest(777, (), u32(R_IDLE_TIMEOUT, 5))])
        E("relay: set leg without side", EI, CMD_SET_RELAY, [D(), relay_nest(9, (leg(ep1),))])
        E("relay: set leg index", EI, CMD_SET_RELAY, [D(), relay_nest(9, (leg(ep1, 12, side=1),))])
        E("relay: set same leg twice", EI, CMD_SET_RELAY,
          [D(), relay_nest(9, (leg("192.0.2.80:1", side=1), leg("192.0.2.81:1", side=1)))])
        E("relay: set onto another session's key", {errno.EEXIST}, CMD_SET_RELAY,
          [D(), relay_nest(9, (leg("192.0.2.75:40001", side=1),))])
        E("relay: set ok (move leg 1, limits)", {0}, CMD_SET_RELAY,
          [D(), relay_nest(9, (leg("192.0.2.77:40001", side=1),), u64(R_HARD_PACKETS, 1000) + u32(R_IDLE_TIMEOUT, 600))])
        err, _, rep = self.g.request(CMD_GET_RELAY, [D(), relay_nest(9)])
        r = decode_relay(parse_attrs(rep[0])[A_RELAY][0]) if rep else {}
        ok = r.get("legs", [{}])[0].get("endpoint") == "192.0.2.77:40001" and r.get("hard_packets") == 1000 \
            and r.get("idle_timeout") == 600
        self.results.append((ok, "relay: set moved leg 1 and took the limits", str(r)[:300]))
        E("relay: del unknown id", {errno.ENOENT}, CMD_DEL_RELAY, [D(), relay_nest(777)])
        E("relay: del with flush and a nest", EI, CMD_DEL_RELAY, [D(), relay_nest(9), attr(A_FLUSH, b"")])
        E("relay: max_relays above the limit", EI | {errno.ERANGE}, CMD_SET_DEVICE,
          [D(), u32(A_MAX_RELAYS, RELAY_MAX_LIMIT + 1)])
        E("relay: num_relays is read only", EI, CMD_SET_DEVICE, [D(), u32(A_NUM_RELAYS, 1)])
        E("relay: del", {0}, CMD_DEL_RELAY, [D(), relay_nest(9)], changes=True)
        E("relay: flush", {0}, CMD_DEL_RELAY, [D(), attr(A_FLUSH, b"")], changes=True)
        n = self.count()
        self.results.append((n == 0, "relay: flush leaves no session", "num_relays=%s" % n))
        return self.results


def relay_main(argv):
    cmd = argv[1]
    if cmd == "relay-sport":
        print(cmd_relay_sport(argv[2:]))
        return 0
    g = Genl()
    dev = argv[2]
    if cmd == "relay-check":
        bad = 0
        for ok, name, detail in RelayBattery(dev, argv[3], g).run():
            print("%s %s: %s" % ("ok" if ok else "not ok", name, detail))
            bad += not ok
        return 1 if bad else 0
    if cmd == "relay-bulk":
        print(cmd_relay_bulk(g, dev, int(argv[3]), int(argv[4])))
        return 0
    if cmd == "relay-count":
        err, a = g.device(dev)
        print(struct.unpack("=I", a[A_NUM_RELAYS][0][:4])[0] if A_NUM_RELAYS in a else "")
        return 1 if err else 0
    if cmd == "relays":
        err, msg, rs = relay_dump(g, dev)
        ids = [r.get("id") for r in rs]
        print("%d %d %d" % (len(ids), len(set(ids)), int(ids == sorted(ids))) if not err else
              "errno=%d %s %s" % (err, errname(err), msg))
        return 1 if err else 0
    if cmd == "relay":
        err, msg, rep = g.request(CMD_GET_RELAY, [string(A_IFNAME, dev), relay_nest(int(argv[3], 0))])
        if not err and rep:
            r = decode_relay(parse_attrs(rep[0])[A_RELAY][0])
            r.pop("attrs", None)
            print(json.dumps(r))
            return 0
    elif cmd == "relay-add":
        err, msg, _ = cmd_relay_add(g, dev, argv[3:])
    elif cmd == "relay-set":
        err, msg, _ = cmd_relay_set(g, dev, argv[3:])
    elif cmd == "relay-max":
        err, msg, _ = g.request(CMD_SET_DEVICE, [string(A_IFNAME, dev), u32(A_MAX_RELAYS, int(argv[3], 0))])
    else:  # relay-del
        a = attr(A_FLUSH, b"") if argv[3] == "flush" else relay_nest(int(argv[3], 0))
        err, msg, _ = g.request(CMD_DEL_RELAY, [string(A_IFNAME, dev), a])
    print("errno=%d %s %s" % (err, errname(err), msg))
    return 1 if err else 0


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
    if len(argv) >= 3 and argv[1].startswith("relay"):
        return relay_main(argv)
    if len(argv) >= 4 and argv[1] == "own":
        return cmd_own(argv[2], int(argv[3]))
    if len(argv) >= 5 and argv[1] == "esp-inject":
        print(cmd_esp_inject(argv[2:]))
        return 0
    if len(argv) >= 3 and argv[1] == "esp-craft":
        print(cmd_esp_craft(argv[2:]))
        return 0
    if len(argv) >= 4 and argv[1] == "esp-bulk":
        return cmd_esp_bulk(Genl(), argv[2], argv[3])
    if len(argv) >= 3 and argv[1] in ("esp-add", "set", "del", "tunnel", "devstats", "monitor"):
        g = Genl()
        cmd = argv[1]
        if cmd == "monitor":
            cmd_monitor(g, float(argv[2]))
            return 0
        dev = argv[2]
        if cmd == "esp-add":
            err, msg, _ = cmd_esp_add(g, dev, argv[3:])
        elif cmd == "set":
            err, msg, _ = cmd_set(g, dev, argv[3], argv[4:])
        elif cmd == "del":
            err, msg, _ = g.request(CMD_DEL_TUNNEL, [string(A_IFNAME, dev),
                                                     nest(A_TUNNEL, u32(T_LOCAL_INDEX, int(argv[3], 0)))])
        elif cmd == "tunnel":
            err, msg, rep = g.request(CMD_GET_TUNNEL, [string(A_IFNAME, dev),
                                                       nest(A_TUNNEL, u32(T_LOCAL_INDEX, int(argv[3], 0)))])
            if not err and rep:
                t = decode_tunnel(parse_attrs(rep[0])[A_TUNNEL][0])
                t.pop("attrs", None)
                print(json.dumps(t))
                return 0
        else:
            err, a = g.device(dev)
            msg = ""
            if not err:
                print(json.dumps(decode_stats(a[A_STATS][0]) if A_STATS in a else {}))
                return 0
        print("errno=%d %s %s" % (err, errname(err), msg))
        return 1 if err else 0
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
