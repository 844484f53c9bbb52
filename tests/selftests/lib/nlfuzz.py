#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""nlfuzz.py - a structure-aware fuzzer for the "ntm" generic netlink family.

  nlfuzz.py run DEV NOSOCKDEV --count N --seed S [--addr4 A --addr6 A]
        N requests built from the family's attribute grammar (mostly valid
        shapes with wrong values, some byte-level damage), interleaved with
        socket adoption churn and abandoned dumps.  Every request must get
        an answer (ack, error or dump end) within 5 s.  Prints one JSON line:
        counts per command and errno, successes that prove the grammar
        reached the deep paths (tunnels, ESP SAs, relays created), hangs.
  nlfuzz.py unpriv DEV --count N --seed S
        the same generator without CAP_NET_ADMIN: every request that
        changes state must fail with EPERM; prints one JSON line.
  nlfuzz.py dumps DEV --count N --seed S
        start dumps of tunnels and relays, read one part, then change the
        tables (flush, delete, add) and either read on or close the socket.

DEV has its UDP sockets adopted by this process (run); NOSOCKDEV has none.
The grammar mirrors uapi/linux/ntm.h through ntm_genl.py's constants.
"""
import errno
import json
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ntm_genl as G  # noqa: E402

NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = G.NLM_F_REQUEST, G.NLM_F_ACK, G.NLM_F_DUMP

# ---- grammar ---------------------------------------------------------------
# type names: u8 u16 u32 u64 s32 fd str flag bin4 bin16 key salt sa prefix
# ("nest", SET) for nested sets; "pad" is never sent on purpose.
DEV_SET = {
    G.A_IFINDEX: "ifindex", G.A_IFNAME: "ifname", G.A_UDP4_FD: "fd", G.A_UDP6_FD: "fd",
    G.A_PORT4: "u16", G.A_PORT6: "u16", G.A_FLAGS: "u32", G.A_FWMARK: "u32",
    G.A_ACQUIRE_QLEN: "qlen", G.A_NUM_TUNNELS: "u32", G.A_STATS: ("nest", "stat"),
    G.A_TUNNEL: ("nest", "tunnel"), G.A_INNER_DST: "addr", G.A_INNER_SRC: "addr",
    G.A_REASON: "u32", G.A_FLUSH: "flag", G.A_RELAY: ("nest", "relay"),
    G.A_MAX_RELAYS: "limit", G.A_NUM_RELAYS: "u32", G.A_MAX_TUNNELS: "limit",
}
TUNNEL_SET = {
    G.T_LOCAL_INDEX: "index", G.T_REMOTE_INDEX: "index", G.T_ENDPOINT: "sa",
    G.T_VIP4: "vip4", G.T_VIP6: "vip6", G.T_CIPHER: "cipher", G.T_KEY: "key",
    G.T_TX_SALT: "salt", G.T_RX_SALT: "salt", G.T_LIFETIME: "u32", G.T_FLAGS: "u32",
    G.T_TX_COUNTER: "u64", G.T_RX_COUNTER: "u64", G.T_LAST_RX_NS: "u64", G.T_AGE_S: "u32",
    G.T_STATS: ("nest", "stat"), G.T_ENCAP: "encap", G.T_RX_KEY: "key", G.T_ESN: "flag",
    G.T_REMOTE_TS: ("nest", "ts"), G.T_LOCAL_TS: ("nest", "ts"), G.T_SOFT_LIFETIME: "u32",
    G.T_SOFT_BYTES: "u64", G.T_HARD_BYTES: "u64", G.T_SOFT_PACKETS: "u64",
    G.T_HARD_PACKETS: "u64", G.T_REPLACES: "index", G.T_TAKEOVER: "u8", G.T_STATE: "u8",
}
TS_SET = {G.TS_A_PREFIX: "prefix"}
RELAY_SET = {
    G.R_ID: "index", G.R_LEG: ("nest", "leg"), G.R_HARD_BYTES: "u64",
    G.R_HARD_PACKETS: "u64", G.R_IDLE_TIMEOUT: "u32", G.R_AGE_S: "u32", G.R_IDLE_S: "u32",
    G.R_DROP_SRC: "u64", G.R_DROP_TX: "u64",
}
LEG_SET = {G.L_SIDE: "side", G.L_ENDPOINT: "sa", G.L_INDEX: "index",
           G.L_RX_PACKETS: "u64", G.L_RX_BYTES: "u64"}
STAT_SET = {k: "u64" for k in range(1, 40)}
SETS = {"dev": DEV_SET, "tunnel": TUNNEL_SET, "ts": TS_SET, "relay": RELAY_SET,
        "leg": LEG_SET, "stat": STAT_SET}

# commands that change state (must be refused without CAP_NET_ADMIN)
WRITE_CMDS = {G.CMD_SET_DEVICE, G.CMD_NEW_TUNNEL, G.CMD_SET_TUNNEL, G.CMD_DEL_TUNNEL,
              G.CMD_NEW_RELAY, G.CMD_SET_RELAY, G.CMD_DEL_RELAY}
ALL_CMDS = list(range(0, G.CMD_EVENT_TAKEOVER + 4))


class Gen:
    """Random values and messages; all randomness from one seeded PRNG."""

    def __init__(self, rnd, ctx):
        self.r = rnd
        self.ctx = ctx      # ifindexes, names, fds, addresses

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def num(self, bits):
        r = self.r.random()
        top = (1 << bits) - 1
        if r < 0.3:
            return self.pick([0, 1, 2, 3, top, top - 1, 1 << (bits - 1)])
        if r < 0.6:
            return self.r.randrange(0, 64)
        return self.r.getrandbits(bits)

    def addr4(self):
        return socket.inet_pton(socket.AF_INET, self.pick(self.ctx["addr4"]))

    def addr6(self):
        return socket.inet_pton(socket.AF_INET6, self.pick(self.ctx["addr6"]))

    def sockaddr(self):
        r = self.r.random()
        port = self.pick([self.ctx["port"], 0, 1, 65535, self.r.randrange(65536)])
        if r < 0.45:
            return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + \
                self.addr4() + b"\0" * 8
        if r < 0.8:
            return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + \
                self.addr6() + struct.pack("=I", self.pick([0, 1, 0xffffffff]))
        if r < 0.88:    # v4-mapped IPv6
            return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + \
                b"\0" * 10 + b"\xff\xff" + self.addr4() + b"\0" * 4
        if r < 0.94:    # wrong family, right length
            return struct.pack("=H", self.pick([0, 1, 17, 0xffff])) + os.urandom(14)
        return os.urandom(self.pick([0, 2, 8, 15, 16, 27, 28, 29, 64]))

    def prefix(self):
        fam = self.pick([socket.AF_INET, socket.AF_INET6, socket.AF_INET, 0, 99])
        ln = self.pick([0, 1, 8, 16, 24, 32, 33, 64, 127, 128, 129, 255])
        body = self.addr4().ljust(16, b"\0") if fam == socket.AF_INET else self.addr6()
        if self.r.random() < 0.2:
            body = os.urandom(16)
        raw = struct.pack("=BB2x", fam, ln) + body
        if self.r.random() < 0.1:
            raw = raw[:self.r.randrange(len(raw) + 1)] + os.urandom(self.r.randrange(3))
        return raw

    def value(self, typ):
        """Payload bytes for an attribute of type @typ."""
        r = self.r.random()
        if r < 0.06:    # any type, wrong size
            return os.urandom(self.pick([0, 1, 2, 3, 5, 7, 9, 17, 33, 300]))
        if isinstance(typ, tuple):
            return b"".join(self.attrs(typ[1], self.r.randrange(0, 6)))
        if typ == "u8":
            return struct.pack("=B", self.num(8))
        if typ in ("u16",):
            return struct.pack("=H", self.num(16))
        if typ == "u32":
            return struct.pack("=I", self.num(32))
        if typ == "u64":
            return struct.pack("=Q", self.num(64))
        if typ == "ifindex":
            return struct.pack("=I", self.pick(self.ctx["ifindexes"] + [0, 1, 99999]))
        if typ == "ifname":
            name = self.pick(self.ctx["names"] + ["lo", "nosuch", "x" * 15, "x" * 40])
            return name.encode() + (b"\0" if self.r.random() < 0.9 else b"")
        if typ == "fd":
            return struct.pack("=i", self.pick(self.ctx["fds"]()))
        if typ == "qlen":
            return struct.pack("=I", self.pick([0, 1, 64, 4096, 4097, self.num(32)]))
        if typ == "limit":
            return struct.pack("=I", self.pick([0, 1, 8, 64, 1 << 24, (1 << 24) + 1,
                                                self.num(32)]))
        if typ == "addr":
            return self.pick([self.addr4, self.addr6])()
        if typ == "flag":
            return b"" if self.r.random() < 0.9 else os.urandom(4)
        if typ == "index":
            return struct.pack("=I", self.pick([0, 1, 0xffffffff] + list(range(256, 300))
                                               if self.r.random() < 0.3 else
                                               list(range(1, 48)) + list(range(256, 272))))
        if typ == "vip4":
            return socket.inet_pton(socket.AF_INET, "198.18.%d.%d" %
                                    (self.r.randrange(2), self.r.randrange(1, 40)))
        if typ == "vip6":
            return socket.inet_pton(socket.AF_INET6, "fd77::%x" % self.r.randrange(1, 40))
        if typ == "cipher":
            return struct.pack("=H", self.pick([1, 2, 1, 2, 0, 3, 0xffff]))
        if typ == "encap":
            return struct.pack("=B", self.pick([0, 1, 1, 2, 255]))
        if typ == "key":
            return os.urandom(self.pick([32, 32, 16, 0, 15, 31, 33, 64, 200]))
        if typ == "salt":
            return os.urandom(self.pick([4, 4, 4, 0, 3, 5]))
        if typ == "sa":
            return self.sockaddr()
        if typ == "prefix":
            return self.prefix()
        if typ == "side":
            return struct.pack("=B", self.pick([1, 2, 1, 2, 0, 3, 255]))
        return os.urandom(self.r.randrange(0, 24))

    def attr(self, set_name, typ_id=None):
        grammar = SETS[set_name]
        if typ_id is None:
            typ_id = self.pick(list(grammar)) if self.r.random() < 0.93 else self.r.randrange(0, 80)
        typ = grammar.get(typ_id, "junk")
        payload = self.value(typ)
        flags = G.NLA_F_NESTED if isinstance(typ, tuple) else 0
        if self.r.random() < 0.04:
            flags ^= G.NLA_F_NESTED
        return G.attr(typ_id | flags, payload)

    def attrs(self, set_name, n):
        return [self.attr(set_name) for _ in range(n)]

    # ---- shaped messages: valid skeletons that random values then damage ----
    def tunnel_skeleton(self):
        esp = self.r.random() < 0.35
        ids = [G.T_LOCAL_INDEX, G.T_REMOTE_INDEX, G.T_ENDPOINT, G.T_CIPHER, G.T_KEY,
               G.T_TX_SALT, G.T_RX_SALT]
        ids += [G.T_ENCAP, G.T_RX_KEY, G.T_REMOTE_TS] if esp else [G.T_VIP4, G.T_VIP6]
        ids += [i for i in (G.T_LIFETIME, G.T_SOFT_LIFETIME, G.T_HARD_BYTES, G.T_LOCAL_TS,
                            G.T_REPLACES, G.T_TAKEOVER, G.T_ESN, G.T_TX_COUNTER, G.T_FLAGS)
                if self.r.random() < 0.12]
        parts = []
        for i in ids:
            if i == G.T_ENCAP:
                parts.append(G.u8(i, 1))
            elif i == G.T_CIPHER:
                parts.append(G.u16(i, self.pick([1, 2])))
            elif i == G.T_KEY or i == G.T_RX_KEY:
                parts.append(G.attr(i, os.urandom(self.pick([16, 32]) if esp else 32)))
            elif i == G.T_TX_SALT:
                parts.append(G.attr(i, b"\1\2\3\4"))
            elif i == G.T_RX_SALT:
                parts.append(G.attr(i, b"\5\6\7\x08"))
            elif i == G.T_REMOTE_TS or i == G.T_LOCAL_TS:
                n = self.r.randrange(1, 4)
                parts.append(G.nest(i, *(G.attr(G.TS_A_PREFIX, G.prefix(
                    "198.18.%d.0/%d" % (self.r.randrange(8), self.pick([24, 32, 16]))))
                    for _ in range(n))))
            elif i in (G.T_LOCAL_INDEX, G.T_REMOTE_INDEX) and esp:
                parts.append(G.u32(i, self.r.randrange(256, 300)))
            elif i == G.T_ENDPOINT:
                parts.append(G.attr(i, self.sockaddr() if self.r.random() < 0.3 else
                                    G.sockaddr_in(self.pick(self.ctx["addr4"]), self.ctx["port"])))
            else:
                parts.append(self.attr("tunnel", i))
        return self.damage(parts, "tunnel")

    def relay_skeleton(self):
        legs = []
        for side in (1, 2):
            legs.append(G.nest(G.R_LEG, G.u8(G.L_SIDE, side),
                               G.attr(G.L_ENDPOINT, G.sockaddr_in(self.pick(self.ctx["addr4"]),
                                                                  40000 + side)),
                               G.u32(G.L_INDEX, self.r.randrange(1, 48))))
        parts = [G.u32(G.R_ID, self.r.randrange(1, 48))] + legs
        if self.r.random() < 0.3:
            parts.append(self.attr("relay"))
        return self.damage(parts, "relay")

    def damage(self, parts, set_name):
        """Structural mutations of a list of encoded attributes."""
        if self.r.random() < 0.55:
            return parts
        for _ in range(self.r.randrange(1, 4)):
            op = self.r.randrange(5)
            if op == 0 and parts:
                del parts[self.r.randrange(len(parts))]
            elif op == 1 and parts:
                parts.insert(self.r.randrange(len(parts) + 1), self.pick(parts))
            elif op == 2 and parts:
                parts[self.r.randrange(len(parts))] = self.attr(set_name)
            else:
                parts.insert(self.r.randrange(len(parts) + 1), self.attr(set_name))
        return parts

    def dev_selector(self):
        r = self.r.random()
        if r < 0.5:
            return [G.u32(G.A_IFINDEX, self.pick(self.ctx["ifindexes"]))]
        if r < 0.85:
            return [G.string(G.A_IFNAME, self.pick(self.ctx["names"]))]
        if r < 0.93:
            return [G.u32(G.A_IFINDEX, self.pick(self.ctx["ifindexes"])),
                    G.string(G.A_IFNAME, self.pick(self.ctx["names"]))]
        return []

    def message(self):
        """(cmd, flags, payload bytes after the genl header)."""
        r = self.r.random()
        flags = NLM_F_ACK
        if r < 0.3:
            cmd = G.CMD_NEW_TUNNEL
            body = self.dev_selector() + [G.nest(G.A_TUNNEL, *self.tunnel_skeleton())]
        elif r < 0.42:
            cmd = self.pick([G.CMD_SET_TUNNEL, G.CMD_DEL_TUNNEL, G.CMD_GET_TUNNEL])
            inner = [G.u32(G.T_LOCAL_INDEX, self.pick(list(range(1, 48)) + list(range(256, 272))))]
            inner += self.attrs("tunnel", self.r.randrange(0, 4))
            body = self.dev_selector() + [G.nest(G.A_TUNNEL, *inner)]
            if cmd == G.CMD_DEL_TUNNEL and self.r.random() < 0.05:
                body = self.dev_selector() + [G.attr(G.A_FLUSH, b"")]
        elif r < 0.55:
            cmd = G.CMD_NEW_RELAY
            body = self.dev_selector() + [G.nest(G.A_RELAY, *self.relay_skeleton())]
        elif r < 0.62:
            cmd = self.pick([G.CMD_SET_RELAY, G.CMD_DEL_RELAY, G.CMD_GET_RELAY])
            body = self.dev_selector() + [G.nest(G.A_RELAY, *self.relay_skeleton())]
        elif r < 0.72:
            cmd = G.CMD_SET_DEVICE
            body = self.dev_selector() + self.attrs("dev", self.r.randrange(1, 4))
        elif r < 0.8:
            cmd = self.pick([G.CMD_GET_DEVICE, G.CMD_GET_TUNNEL, G.CMD_GET_RELAY])
            flags |= NLM_F_DUMP if self.r.random() < 0.6 else 0
            body = self.dev_selector() + self.attrs("dev", self.r.randrange(0, 3))
        else:
            cmd = self.pick(ALL_CMDS)
            if self.r.random() < 0.3:
                flags |= NLM_F_DUMP
            body = self.dev_selector() + self.attrs("dev", self.r.randrange(0, 6))
        payload = b"".join(body)
        if self.r.random() < 0.12:
            payload = self.bytes_damage(payload)
        return cmd, flags, payload

    def bytes_damage(self, b):
        b = bytearray(b)
        for _ in range(self.r.randrange(1, 6)):
            if not b:
                b += os.urandom(self.r.randrange(1, 16))
                continue
            op = self.r.randrange(4)
            i = self.r.randrange(len(b))
            if op == 0:
                b[i] ^= 1 << self.r.randrange(8)
            elif op == 1:
                del b[i:]
            elif op == 2 and len(b) >= 2:       # an nla_len that lies
                j = min(i - i % 4, len(b) - 2)
                struct.pack_into("=H", b, j, self.pick([0, 1, 3, 4, 5, 0xffff, len(b) + 4]))
            else:
                b[i:i] = os.urandom(self.r.randrange(1, 9))
        return bytes(b)


# ---- transport ---------------------------------------------------------------
class Chan:
    """One genetlink socket with a receive timeout: a request always ends."""

    def __init__(self):
        self.g = G.Genl()
        self.g.sock.settimeout(5.0)

    def send(self, cmd, flags, payload, version=1):
        try:
            err, _msg, _rep = self.g.request(cmd, [], flags=flags, raw=payload, version=version)
            return err
        except socket.timeout:
            return "hang"
        except OSError as e:
            return "os-%d" % e.errno


def adopt_socks(g, dev, addr4, addr6, port):
    """Fresh bound UDP sockets adopted by @dev; returns them (they must stay open)."""
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        s4.bind((addr4, port))
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind((addr6, port))
    except OSError as e:
        s4.close()
        s6.close()
        return e.errno, "bind", []
    err, msg, _ = g.request(G.CMD_SET_DEVICE, [G.string(G.A_IFNAME, dev),
                                               G.s32(G.A_UDP4_FD, s4.fileno()),
                                               G.s32(G.A_UDP6_FD, s6.fileno())])
    return err, msg, [s4, s6]


DEFAULT_MAX = 131072    # NTM_TUNNEL_MAX_DEFAULT, NTM_RELAY_MAX_DEFAULT


def reset_limits(g, dev):
    """The fuzzers set tunnel and relay limits as low as 0: undo that, or
    whether later requests reach the deep paths depends on the seed."""
    g.request(G.CMD_SET_DEVICE, [G.string(G.A_IFNAME, dev),
                                 G.u32(G.A_MAX_TUNNELS, DEFAULT_MAX),
                                 G.u32(G.A_MAX_RELAYS, DEFAULT_MAX)])


def fd_pool(addr4, addr6):
    """Descriptors of every kind the device must either adopt or refuse."""
    keep = []

    def fresh():
        kinds = []
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((addr4, 0))
            kinds.append(u)
            u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            u6.bind((addr6, 0))
            kinds.append(u6)
            kinds.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))      # unbound
            kinds.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))     # TCP
            kinds.append(socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP))
            kinds.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        except OSError:
            pass
        r, w = os.pipe()
        keep.extend(kinds)
        keep.extend([r, w])
        while len(keep) > 64:           # bounded: close the oldest
            old = keep.pop(0)
            if isinstance(old, int):
                os.close(old)
            else:
                old.close()
        return [k.fileno() if not isinstance(k, int) else k for k in kinds] + [r, -1, 9999]
    return fresh


def cmd_run(argv):
    o = G.parse_opts(argv[2:], {"count": "2000", "seed": "1", "addr4": "10.99.0.1",
                                "addr6": "fd99::1", "peer4": "10.99.0.2", "peer6": "fd99::2",
                                "port": "47000"})
    dev, nosock = argv[0], argv[1]
    rnd = random.Random(int(o["seed"]))
    chan = Chan()
    g = chan.g
    port = int(o["port"])
    keep = []
    err, msg, socks = adopt_socks(g, dev, o["addr4"], o["addr6"], port)
    if err:
        print(json.dumps({"error": "adopt: %s %s" % (os.strerror(err), msg)}))
        return 1
    keep += socks
    ifx = [socket.if_nametoindex(dev), socket.if_nametoindex(nosock)]
    fresh = fd_pool(o["addr4"], o["addr6"])
    ctx = {"ifindexes": ifx, "names": [dev, nosock], "fds": fresh,
           "addr4": [o["peer4"], o["peer4"], "10.99.0.9", "127.0.0.1", "0.0.0.0",
                     "255.255.255.255", "224.0.0.1"],
           "addr6": [o["peer6"], o["peer6"], "fd99::9", "::1", "::", "ff02::1"],
           "port": port}
    gen = Gen(rnd, ctx)
    stats = {"sent": 0, "hangs": 0, "by_cmd": {}, "errno": {}, "ok": {}}
    t0 = time.time()
    for i in range(int(o["count"])):
        if i % 200 == 199:          # adoption churn on the main device
            for d in (dev, nosock):
                reset_limits(g, d)
            err, _, socks = adopt_socks(g, dev, o["addr4"], o["addr6"], 0)
            if not err:
                for s in keep:
                    s.close()
                keep = socks
            else:
                for s in socks:
                    s.close()
        cmd, flags, payload = gen.message()
        version = 1 if rnd.random() < 0.97 else rnd.randrange(256)
        res = chan.send(cmd, flags, payload, version)
        stats["sent"] += 1
        key = G.errname(res) if isinstance(res, int) else res
        stats["errno"][key] = stats["errno"].get(key, 0) + 1
        stats["by_cmd"][str(cmd)] = stats["by_cmd"].get(str(cmd), 0) + 1
        if res == "hang":
            stats["hangs"] += 1
            chan = Chan()
            g = chan.g
        elif res == 0:
            stats["ok"][str(cmd)] = stats["ok"].get(str(cmd), 0) + 1
    stats["seconds"] = round(time.time() - t0, 1)
    # what the grammar built: proof that the deep paths were reached
    stats["tunnels_created"] = stats["ok"].get(str(G.CMD_NEW_TUNNEL), 0)
    stats["relays_created"] = stats["ok"].get(str(G.CMD_NEW_RELAY), 0)
    print(json.dumps(stats, sort_keys=True))
    return 0


def cmd_unpriv(argv):
    o = G.parse_opts(argv[1:], {"count": "500", "seed": "1"})
    dev = argv[0]
    rnd = random.Random(int(o["seed"]))
    chan = Chan()
    ctx = {"ifindexes": [socket.if_nametoindex(dev)], "names": [dev],
           "fds": lambda: [0, 1, 2, -1], "addr4": ["10.99.0.2"], "addr6": ["fd99::2"],
           "port": 47000}
    gen = Gen(rnd, ctx)
    out = {"sent": 0, "write_not_eperm": 0, "hangs": 0, "read_ok": 0, "examples": []}
    for _ in range(int(o["count"])):
        cmd, flags, payload = gen.message()
        res = chan.send(cmd, flags, payload)
        out["sent"] += 1
        if res == "hang":
            out["hangs"] += 1
            chan = Chan()
            continue
        if cmd in WRITE_CMDS and res != errno.EPERM:
            out["write_not_eperm"] += 1
            if len(out["examples"]) < 5:
                out["examples"].append([cmd, res])
        elif cmd not in WRITE_CMDS and res == 0:
            out["read_ok"] += 1
    print(json.dumps(out, sort_keys=True))
    return 0


def dump_ended(data, out):
    """Whether a dump's datagram holds its end (NLMSG_DONE or an error)."""
    j = 0
    while j + 16 <= len(data):
        ln, typ = struct.unpack("=IH", data[j:j + 6])
        if typ == G.NLMSG_DONE:
            return True
        if typ == G.NLMSG_ERROR:
            e = -struct.unpack("=i", data[j + 16:j + 20])[0]
            if e:
                out["errors"][G.errname(e)] = out["errors"].get(G.errname(e), 0) + 1
            return True
        j += max((ln + 3) & ~3, 16)
    return False


def cmd_dumps(argv):
    """Interrupted dumps: read one part, change the tables, read on or close."""
    o = G.parse_opts(argv[1:], {"count": "100", "seed": "1"})
    dev = argv[0]
    rnd = random.Random(int(o["seed"]))
    ctl = Chan().g
    err, msg, socks = adopt_socks(ctl, dev, "10.99.0.1", "fd99::1", 0)
    if err:
        print(json.dumps({"error": "adopt: %s %s" % (os.strerror(err), msg)}))
        return 1
    reset_limits(ctl, dev)
    out = {"dumps": 0, "closed_early": 0, "read_through": 0, "short": 0, "errors": {},
           "hangs": 0}
    for i in range(int(o["count"])):
        # refill: tunnels and relays enough for a multi-part dump
        for k in range(rnd.randrange(40, 100)):
            idx = 1000 + (i * 131 + k) % 4000
            ctl.request(G.CMD_NEW_TUNNEL, [G.string(G.A_IFNAME, dev), G.tunnel(
                local=idx, remote=idx, ep=G.sockaddr_in("10.99.0.2", 47000),
                vip4=socket.inet_pton(socket.AF_INET, "198.19.%d.%d" % (idx // 250, idx % 250 + 1)))])
            if k % 4 == 0:
                ctl.request(G.CMD_NEW_RELAY, [G.string(G.A_IFNAME, dev), G.relay_nest(
                    idx, [G.leg(G.sockaddr_in("10.99.0.2", 41000 + k % 7), idx, 1),
                          G.leg(G.sockaddr_in("10.99.0.3", 42000 + k % 7), idx + 50000, 2)])])
        d = G.Genl()
        d.sock.settimeout(5.0)
        cmd = rnd.choice([G.CMD_GET_TUNNEL, G.CMD_GET_RELAY])
        payload = struct.pack("=BBH", cmd, 1, 0) + G.string(G.A_IFNAME, dev)
        msg = struct.pack("=IHHII", 16 + len(payload), d.family,
                          NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK, 7, 0) + payload
        d.sock.send(msg)
        out["dumps"] += 1
        try:
            first = d.sock.recv(rnd.choice([256, 4096, 16384]))     # a part, maybe truncated
        except socket.timeout:
            out["hangs"] += 1
            first = b""
        if dump_ended(first, out):
            out["short"] += 1
            d.sock.close()
            continue
        # change the tables under the open dump
        what = rnd.randrange(3)
        if what == 0:
            ctl.request(G.CMD_DEL_TUNNEL, [G.string(G.A_IFNAME, dev), G.attr(G.A_FLUSH, b"")])
        elif what == 1:
            ctl.request(G.CMD_DEL_RELAY, [G.string(G.A_IFNAME, dev), G.attr(G.A_FLUSH, b"")])
        else:
            for k in range(0, 40, 3):
                ctl.request(G.CMD_DEL_TUNNEL, [G.string(G.A_IFNAME, dev),
                                               G.nest(G.A_TUNNEL, G.u32(G.T_LOCAL_INDEX,
                                                                        1000 + (i * 131 + k) % 4000))])
        if rnd.random() < 0.5:
            d.sock.close()
            out["closed_early"] += 1
            continue
        try:
            while not dump_ended(d.sock.recv(1 << 16), out):
                pass
            out["read_through"] += 1
        except socket.timeout:
            out["hangs"] += 1
        d.sock.close()
    ctl.request(G.CMD_DEL_TUNNEL, [G.string(G.A_IFNAME, dev), G.attr(G.A_FLUSH, b"")])
    ctl.request(G.CMD_DEL_RELAY, [G.string(G.A_IFNAME, dev), G.attr(G.A_FLUSH, b"")])
    for s in socks:
        s.close()
    print(json.dumps(out, sort_keys=True))
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    verb = sys.argv[1]
    if verb == "run":
        return cmd_run(sys.argv[2:])
    if verb == "unpriv":
        return cmd_unpriv(sys.argv[2:])
    if verb == "dumps":
        return cmd_dumps(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
