#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""udp_blast.py SRC:SPORT DST:DPORT INDEX SECONDS - NTM-shaped datagrams, fast.

64-byte UDP payloads that look like NTM data messages (type 1, receiver
index INDEX, a counter, 48 bytes of noise: what a relay forwards without
looking further), sent from SRC:SPORT to DST:DPORT as fast as the kernel
takes them for SECONDS: sendmmsg(2) through ctypes, 256 datagrams per call,
so the sender costs little more than the kernel's UDP send path.  Prints
"sent=N seconds=S".
"""
import ctypes
import os
import socket
import struct
import sys
import time

BATCH = 256


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(IoVec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]


def ep(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst, index, secs = ep(argv[1]), ep(argv[2]), int(argv[3], 0), float(argv[4])
    libc = ctypes.CDLL(None, use_errno=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(src)
    s.connect(dst)
    noise = os.urandom(48)
    bufs = [ctypes.create_string_buffer(struct.pack("!IIQ", 1, index, i) + noise, 64) for i in range(BATCH)]
    iovs = (IoVec * BATCH)(*[IoVec(ctypes.cast(b, ctypes.c_void_p), 64) for b in bufs])
    msgs = (MMsgHdr * BATCH)()
    for i in range(BATCH):
        msgs[i].hdr.iov = ctypes.pointer(iovs[i])
        msgs[i].hdr.iovlen = 1
    sent = 0
    t0 = time.monotonic()
    end = t0 + secs
    fd = s.fileno()
    while time.monotonic() < end:
        n = libc.sendmmsg(fd, msgs, BATCH, 0)
        if n < 0:
            e = ctypes.get_errno()
            if e in (11, 105, 111):  # EAGAIN, ENOBUFS, ECONNREFUSED (an ICMP error): go on
                continue
            raise OSError(e, os.strerror(e))
        sent += n
    print("sent=%d seconds=%.3f" % (sent, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
