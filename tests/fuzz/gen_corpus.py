#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seed corpora of tests/fuzz/corpus/<harness>/ (run from anywhere).

The netlink seeds are attribute streams laid out as ntm.ko sends them
(u64 counters with pad attributes, nests with NLA_F_NESTED), preceded by the
harness's selector byte: 0 GET_DEVICE reply, 1 GET_TUNNEL message,
2/3/4 ACQUIRE/ENDPOINT/EXPIRED event.
"""
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NESTED = 0x8000

# enum values of uapi/linux/ntm.h
A_IFINDEX, A_IFNAME, A_UDP4_FD, A_UDP6_FD, A_PORT4, A_PORT6, A_FLAGS, A_FWMARK, \
    A_ACQUIRE_QLEN, A_NUM_TUNNELS, A_STATS, A_TUNNEL, A_INNER_DST, A_INNER_SRC, \
    A_REASON, A_FLUSH, A_PAD = range(1, 18)
T_LOCAL, T_REMOTE, T_ENDPOINT, T_VIP4, T_VIP6, T_CIPHER, T_KEY, T_TXSALT, T_RXSALT, \
    T_LIFETIME, T_FLAGS, T_TXCTR, T_RXCTR, T_LASTRX, T_AGE, T_STATS, T_PAD, \
    T_ENCAP, T_RXKEY, T_ESN, T_REMOTE_TS, T_LOCAL_TS, T_SOFT_LIFETIME, T_SOFT_BYTES, T_HARD_BYTES, \
    T_SOFT_PACKETS, T_HARD_PACKETS = range(1, 28)
TS_PREFIX = 1
STAT_PAD = 18
STAT_MAX = 20  # NTM_STAT_A_DROP_TS, NTM_STAT_A_DUMMY_RX follow the pad
ENCAP_ESP_UDP = 1


class W:
    def __init__(self, base=20):
        self.b = bytearray()
        self.base = base

    def put(self, t, payload=b""):
        ln = 4 + len(payload)
        self.b += struct.pack("=HH", ln, t) + payload + b"\0" * ((-ln) % 4)
        return self

    def u16(self, t, v):
        return self.put(t, struct.pack("=H", v))

    def u32(self, t, v):
        return self.put(t, struct.pack("=I", v))

    def u64(self, t, v, pad):
        if (self.base + len(self.b) + 4) % 8:
            self.put(pad)
        return self.put(t, struct.pack("=Q", v))

    def nest(self, t, inner):
        return self.put(t | NESTED, bytes(inner.b))


def sin(addr, port):
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_pton(socket.AF_INET, addr) + b"\0" * 8


def sin6(addr, port):
    return (struct.pack("=H", socket.AF_INET6) + struct.pack("!H", port) + b"\0" * 4
            + socket.inet_pton(socket.AF_INET6, addr) + b"\0" * 4)


def stats(base):
    s = W(base=0)
    for i in range(1, STAT_MAX + 1):
        if i != STAT_PAD:
            s.u64(i, 1000 * i, STAT_PAD)
    return s


def prefix(family, addr, plen, reserved=b"\0\0"):
    """struct ntm_prefix"""
    raw = socket.inet_pton(family, addr)
    return struct.pack("=BB", family, plen) + reserved + raw + b"\0" * (16 - len(raw))


def ts(*prefixes):
    n = W(base=0)
    for p in prefixes:
        n.put(TS_PREFIX, p)
    return n


def esp_tunnel(spi):
    t = W(base=0)
    t.u32(T_LOCAL, spi).u32(T_REMOTE, 0xc0de0001).put(T_ENDPOINT, sin("192.0.2.1", 4500))
    t.u16(T_CIPHER, 1).u32(T_LIFETIME, 3600).u32(T_FLAGS, 0)
    t.u64(T_TXCTR, 1 << 33, T_PAD).u64(T_RXCTR, 6, T_PAD).u64(T_LASTRX, 0, T_PAD).u32(T_AGE, 7)
    t.nest(T_STATS, stats(0))
    t.put(T_ENCAP, bytes([ENCAP_ESP_UDP])).put(T_ESN)
    t.nest(T_REMOTE_TS, ts(prefix(socket.AF_INET, "10.2.0.0", 16), prefix(socket.AF_INET6, "fd00:2::", 64)))
    t.nest(T_LOCAL_TS, ts(prefix(socket.AF_INET, "0.0.0.0", 0)))
    t.u32(T_SOFT_LIFETIME, 3000)
    t.u64(T_SOFT_BYTES, 1 << 30, T_PAD).u64(T_HARD_BYTES, 2 << 30, T_PAD)
    t.u64(T_SOFT_PACKETS, 1000, T_PAD).u64(T_HARD_PACKETS, 2000, T_PAD)
    return t


def tunnel(local, ep):
    t = W(base=0)
    t.u32(T_LOCAL, local).u32(T_REMOTE, local + 100).put(T_ENDPOINT, ep)
    t.put(T_VIP4, socket.inet_pton(socket.AF_INET, "10.1.0.2"))
    t.put(T_VIP6, socket.inet_pton(socket.AF_INET6, "fd00::2"))
    t.u16(T_CIPHER, 1).u32(T_LIFETIME, 3600).u32(T_FLAGS, 1)
    t.u64(T_TXCTR, 5, T_PAD).u64(T_RXCTR, 6, T_PAD).u64(T_LASTRX, 123456789, T_PAD).u32(T_AGE, 7)
    t.nest(T_STATS, stats(0))
    return t


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def netlink():
    dev = W().u32(A_IFINDEX, 5).put(A_IFNAME, b"ntm0\0").u32(A_FLAGS, 2).u32(A_FWMARK, 0x10)
    dev.u16(A_PORT4, 4500).u16(A_PORT6, 4500).u32(A_NUM_TUNNELS, 2).u32(A_ACQUIRE_QLEN, 64)
    dev.nest(A_STATS, stats(0))
    write("netlink", "device", b"\0" + dev.b)
    write("netlink", "device-minimal", b"\0" + W().u32(A_IFINDEX, 1).b)
    write("netlink", "device-bad-len", b"\0" + W().u16(A_IFINDEX, 1).b)
    write("netlink", "device-unterminated-name", b"\0" + W().u32(A_IFINDEX, 1).put(A_IFNAME, b"ntm0").b)

    dump = W().u32(A_IFINDEX, 5)
    dump.nest(A_TUNNEL, tunnel(1, sin("192.0.2.1", 4500)))
    dump.nest(A_TUNNEL, tunnel(2, sin6("2001:db8::1", 4501)))
    write("netlink", "tunnels", b"\1" + dump.b)
    write("netlink", "tunnels-truncated", b"\1" + bytes(dump.b[:-7]))
    bad = W().nest(A_TUNNEL, W(0).u32(T_LOCAL, 1).put(T_ENDPOINT, b"\2\0\1\2"))
    write("netlink", "tunnel-bad-endpoint", b"\1" + bad.b)

    acq = W().u32(A_IFINDEX, 5).put(A_INNER_DST, socket.inet_pton(socket.AF_INET, "10.1.0.2"))
    acq.put(A_INNER_SRC, socket.inet_pton(socket.AF_INET, "10.1.0.1"))
    write("netlink", "event-acquire", b"\2" + acq.b)
    acq6 = W().u32(A_IFINDEX, 5).put(A_INNER_DST, socket.inet_pton(socket.AF_INET6, "fd00::2"))
    acq6.put(A_INNER_SRC, socket.inet_pton(socket.AF_INET6, "fd00::1"))
    write("netlink", "event-acquire6", b"\2" + acq6.b)
    ep = W().u32(A_IFINDEX, 5).nest(A_TUNNEL, W(0).u32(T_LOCAL, 7).put(T_ENDPOINT, sin("1.2.3.4", 5)))
    write("netlink", "event-endpoint", b"\3" + ep.b)
    exp = W().u32(A_IFINDEX, 5).nest(A_TUNNEL, W(0).u32(T_LOCAL, 7).u32(T_REMOTE, 9)).u32(A_REASON, 1)
    write("netlink", "event-expired", b"\4" + exp.b)

    # ESP in UDP: SA pairs with traffic selectors and limits, soft expiry
    esp = W().u32(A_IFINDEX, 5)
    esp.nest(A_TUNNEL, esp_tunnel(0x1000)).nest(A_TUNNEL, esp_tunnel(0x1001))
    write("netlink", "tunnels-esp", b"\1" + esp.b)
    bad_ts = W(0).u32(T_LOCAL, 0x1000).put(T_ENCAP, bytes([ENCAP_ESP_UDP]))
    bad_ts.nest(T_REMOTE_TS, ts(prefix(socket.AF_INET, "10.2.0.1", 16)))
    write("netlink", "tunnel-esp-ts-host-bits", b"\1" + W().nest(A_TUNNEL, bad_ts).b)
    short_ts = W(0).u32(T_LOCAL, 0x1000).nest(T_LOCAL_TS, W(0).put(TS_PREFIX, b"\2\x10\0\0\x0a\x02"))
    write("netlink", "tunnel-esp-ts-short", b"\1" + W().nest(A_TUNNEL, short_ts).b)
    soft = W().u32(A_IFINDEX, 5).nest(A_TUNNEL, W(0).u32(T_LOCAL, 0x1000).u32(T_REMOTE, 0x2000))
    soft.u32(A_REASON, 17)
    write("netlink", "event-expired-soft-bytes", b"\4" + soft.b)
    write("netlink", "garbage", b"\0\xff\xff\xff\xff\x04\x00")


def text():
    for i, s in enumerate(["1.2.3.4:5000", "[2001:db8::1]:5000", "[::1]:1", "255.255.255.255:1",
                           "1.2.3.4:65536", "[fe80::1%eth0]:5", "[::ffff:1.2.3.4]:5", "1.2.3.4",
                           "[2001:db8::1]", ":::", "01.2.3.4:5"]):
        write("endpoint", "seed%02d" % i, s)
    for i, s in enumerate(["10.0.0.1", "2001:db8::1", "::", "::ffff:1.2.3.4", "fe80::1%2",
                           "1.2.3", "224.0.0.1", "ff02::1", "1:2:3:4:5:6:7:8"]):
        write("address", "seed%02d" % i, s)
    key_seeds = [
        "\0" + "00112233445566778899aabbccddeeff",
        "\0" + "f" * 64,
        "\0" + "g" * 32,
        "\1" + "a" * 64 + "\n",
        "\1" + "a" * 32 + "\r\n",
        "\2" + "01020304",
        "\2" + "0102030",
        "\3" + "aes-gcm",
        "\3" + "chacha20-poly1305",
        "\4" + "0x1f",
        "\4" + "65536",
        "\5" + "on",
        "\6" + "ntm0",
        "\6" + "a/b",
    ]
    for i, s in enumerate(key_seeds):
        write("key", "seed%02d" % i, s)
    lines = [
        "tunnel add ntm0 --local-index 5 --remote-index 6 --endpoint 1.2.3.4:5 --vip4 10.0.0.2 "
        "--cipher aes-gcm --key 00112233445566778899aabbccddeeff --tx-salt 01020304 --rx-salt 05060708",
        "tunnel set ntm0 --local-index 5 --endpoint [2001:db8::1]:4500 --roaming off",
        "  # comment only",
        "device set ntm0 --fwmark 0x10 --acquire-qlen 8 --roaming on --acquire off",
        "show 'ntm 0' \"x\\\"y\" a\\ b",
        "tunnel show ntm0 --local-index 1 -j",
        "monitor --count 1 --timeout 2",
        "'unterminated",
        "trailing\\",
        "batch - --force",
        "tunnel add ntm0 --encap esp-udp --spi-in 0x1000 --spi-out 0x2000 --endpoint 10.0.0.2:4500 "
        "--cipher aes-gcm --key 00112233445566778899aabbccddeeff --rx-key ffeeddccbbaa99887766554433221100 "
        "--tx-salt 01020304 --rx-salt 05060708 --esn --remote-ts 10.2.0.0/16,fd00:2::/64 "
        "--local-ts 10.1.0.0/16 --soft-lifetime 3000 --lifetime 3600 --soft-bytes 512M --hard-bytes 1G",
        "tunnel set ntm0 --spi-in 0x1000 --soft-packets 1000 --hard-packets 2K --endpoint 10.0.0.3:4500",
        "tunnel add ntm0 --encap esp-udp --spi-in 255 --remote-ts '10.2.0.1/16' --tx-counter 0",
    ]
    for i, s in enumerate(lines):
        write("batch", "seed%02d" % i, s)
        write("cli", "seed%02d" % i, s)


def http():
    """ntmd's /metrics request heads (D97): Prometheus's, bare LF, and the refused kinds."""
    heads = [
        "GET /metrics HTTP/1.1\r\nHost: localhost:9477\r\nUser-Agent: Prometheus/2.42.0\r\n"
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
        "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
        "GET /metrics HTTP/1.0\n\n",
        "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET /metrics?name[]=x HTTP/1.1\r\nHost: [::1]:9477\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "HEAD /metrics HTTP/1.1\r\n\r\n",
    ]
    for i, s in enumerate(heads):
        write("http", "seed%02d" % i, s)


if __name__ == "__main__":
    netlink()
    text()
    http()
