#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ntmsig.py - an independent implementation of the NTMobile signalling
codec (Documentation/protocol/signalling.rst), for the selftests.

It is written from the specification alone, not from ctld/lib/sig.cpp, so
that it doubles as evidence that the specification can be implemented, and
so that the tests talk to ntmd in a second dialect.

  ntmsig.py selftest
      known vectors: RFC 8439 AEAD, RFC 5869 HKDF, RFC 7748 X25519, a body
      encoded by hand from the spec, the sealed envelope, NOTICE, and the
      tunnel key exchange (tunnel-keys.rst): a whole exchange between an
      opener and a waiter played here, its known-answer vector (the same
      inputs as the C++ unit test), and every refusal the spec requires
  ntmsig.py send --to ADDR:PORT --key-id N --key HEX --seq N --msg NAME
                 [--dir node|dc|opener|waiter] [--kind 0x10] [--txid N]
                 [--fqdn NAME] [--peer-fqdn NAME] [--local-ep EP]...
                 [--ciphers 2,1] [--repeat N] [--wait SEC] [--bind ADDR:PORT]
      seal one request and send it (--repeat sends the same datagram again:
      a replay); with --wait, print every answer (NOTICE or sealed)
  ntmsig.py tunnel-request --to ADDR:PORT --comm-id N --k-tun HEX --k-tmp HEX
                 --fqdn NAME [--vip4 A] [--vip6 A] --peer-fqdn NAME
                 [--peer-vip4 A] [--peer-vip6 A] [--cipher 2] [--seq N]
                 [--generation G]... [--txid N] [--private HEX] [--index N]
                 [--dir opener|waiter] [--wait SEC] [--bind ADDR:PORT]
      play the opener of an exchange (tunnel-keys.rst) on a communication
      whose K_tun and K_tmp are known: one Tunnel Request per --generation
      (default 0), in order, with AUTH under K_auth and a fresh EPHEMERAL
      (--private fixes the key pair, --txid the transaction id: the same
      body again, a retransmission), sequence numbers from --seq on; after
      each, print what came back within --wait seconds (default 2):
      "gen=G seq=S txid=T answers=N status=NAME kx=ok|bad|- eph=HEX|-
      text=..." (status none: nothing came back; notice:NAME: a NOTICE;
      unopened: a datagram that does not open with K_tun); kx=ok when an
      OK response verifies (AUTH_resp, CONFIRM, salts)
  ntmsig.py garbage --to ADDR:PORT --kind short|trunc|KIND [--count N]
                    [--len N]
      malformed datagrams: "short" (1..15 bytes, no room for the header),
      "trunc" (a kind 0x10 header with less than a tag behind it), or a
      16-byte header of KIND with a random key id and LEN random bytes
  ntmsig.py expect-notice --to ADDR:PORT [--key-id N] [--timeout SEC]
      send a registration sealed with a random key, wait for a NOTICE and
      print its status name (unknown_key, key_expired); exit 1 without one
  ntmsig.py pcap FILE [--dst ADDR:PORT] [--src ADDR:PORT] [--kind K]
      the UDP payloads in a pcap file, one hex line each (oldest first)
  ntmsig.py replay FILE --to ADDR:PORT [--dst ...] [--kind K] [--index -1]
                        [--count 1] [--bind ADDR:PORT]
      send a datagram captured in FILE again, unchanged
  ntmsig.py summary FILE [--port 7480] [--all] [--name ADDR=LABEL]...
      one line per signalling datagram in a pcap: time, source,
      destination, key (kind), key id, sequence, length
  ntmsig.py decode HEX [--key HEX --dir NAME]
      show an envelope (and open it when the key is given)

Exit status 0 on success, 1 on a failed check or missing answer, 2 on a
usage error.
"""
import argparse
from hmac import compare_digest as hmac_compare
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    HAVE_CRYPTO = True
except ImportError:  # pragma: no cover - the tests skip in this case
    HAVE_CRYPTO = False

VERSION = 1
FLAG_R = 0x01
MAX_BODY = 1200
MAX_TLV_VALUE = 255
HEADER_LEN = 16
TAG_LEN = 16

KIND_DC = 0x10       # sealed with K_ntmdc
KIND_TUN = 0x11      # sealed with K_tun
KIND_NOTICE = 0x12   # unauthenticated

DIRECTIONS = {"node": 1, "dc": 2, "opener": 3, "waiter": 4}

MSG_TYPES = {
    "login": 1,
    "key_distribution": 2,
    "registration": 3,
    "keepalive": 4,
    "direction": 5,
    "route_direction": 6,
    "tunnel": 7,
    "deregistration": 8,
}
MSG_NAMES = {v: k for k, v in MSG_TYPES.items()}

STATUS_NAMES = [
    "ok", "malformed", "unsupported_version", "unsupported_tlv",
    "auth_failed", "unknown_key", "key_expired", "not_found",
    "peer_offline", "no_route", "pool_exhausted", "dc_unreachable",
    "not_registered", "internal", "fqdn_mismatch", "key_id_in_use",
]
STATUS = {n: i for i, n in enumerate(STATUS_NAMES)}


def status_name(code):
    if 0 <= code < len(STATUS_NAMES):
        return STATUS_NAMES[code]
    return "status_%d" % code


class Malformed(ValueError):
    """The body or envelope breaks a rule of the specification."""


class UnsupportedTlv(ValueError):
    """An unknown TLV with the critical bit set."""


# --- value codecs ------------------------------------------------------------
# Each TLV type has a value codec: (encode(python value) -> bytes,
# decode(bytes) -> python value); decode raises Malformed.

def _fixed(n):
    def check(b):
        if len(b) != n:
            raise Malformed("length %d, expected %d" % (len(b), n))
        return b
    return check


def _uint(size, fmt, nonzero=False):
    def enc(v):
        if nonzero and v == 0:
            raise ValueError("value must not be 0")
        return struct.pack("!" + fmt, v)

    def dec(b):
        _fixed(size)(b)
        v = struct.unpack("!" + fmt, b)[0]
        if nonzero and v == 0:
            raise Malformed("zero value")
        return v
    return enc, dec


def _text():
    def enc(s):
        b = s.encode("utf-8")
        if not 1 <= len(b) <= MAX_TLV_VALUE:
            raise ValueError("text length %d" % len(b))
        return b

    def dec(b):
        if not 1 <= len(b) <= MAX_TLV_VALUE:
            raise Malformed("text length %d" % len(b))
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed("not UTF-8") from e
    return enc, dec


def valid_dns_name(s):
    if not 1 <= len(s) <= 253 or s.endswith(".") or s != s.lower():
        return False
    for label in s.split("."):
        if not 1 <= len(label) <= 63:
            return False
        if any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in label):
            return False
    return True


def _dnsname():
    tenc, tdec = _text()

    def enc(s):
        if not valid_dns_name(s):
            raise ValueError("not a DNS name in the spec's form: %r" % s)
        return tenc(s)

    def dec(b):
        s = tdec(b)
        if not valid_dns_name(s):
            raise Malformed("bad DNS name %r" % s)
        return s
    return enc, dec


def _bytes(n):
    def enc(v):
        if len(v) != n:
            raise ValueError("need %d bytes" % n)
        return bytes(v)
    return enc, (lambda b: bytes(_fixed(n)(b)))


def _addr(version):
    n = 4 if version == 4 else 16

    def enc(v):
        a = ipaddress.ip_address(v)
        if a.version != version:
            raise ValueError("not an IPv%d address: %s" % (version, v))
        return a.packed

    def dec(b):
        return str(ipaddress.ip_address(bytes(_fixed(n)(b))))
    return enc, dec


def _prefix(version):
    n = 4 if version == 4 else 16

    def enc(v):
        net = ipaddress.ip_network(v, strict=True)
        if net.version != version:
            raise ValueError("not an IPv%d prefix: %s" % (version, v))
        return net.network_address.packed + bytes([net.prefixlen])

    def dec(b):
        _fixed(n + 1)(b)
        plen = b[n]
        if plen > n * 8:
            raise Malformed("prefix length %d" % plen)
        try:
            return str(ipaddress.ip_network((bytes(b[:n]), plen), strict=True))
        except ValueError as e:
            raise Malformed(str(e)) from e
    return enc, dec


def parse_ep(s):
    """"192.0.2.1:7480" or "[2001:db8::1]:7480" -> (ip_address, port)."""
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    return ipaddress.ip_address(host), int(port)


def format_ep(addr, port):
    a = ipaddress.ip_address(addr)
    return ("[%s]:%d" if a.version == 6 else "%s:%d") % (a, port)


def _endpoint():
    def enc(v):
        addr, port = parse_ep(v) if isinstance(v, str) else v
        if not 0 < port < 65536:
            raise ValueError("port %d" % port)
        return bytes([addr.version]) + addr.packed + struct.pack("!H", port)

    def dec(b):
        if len(b) == 7 and b[0] == 4:
            addr = ipaddress.IPv4Address(bytes(b[1:5]))
        elif len(b) == 19 and b[0] == 6:
            addr = ipaddress.IPv6Address(bytes(b[1:17]))
        else:
            raise Malformed("bad endpoint (%d bytes, family %d)" % (len(b), b[0] if b else -1))
        return format_ep(addr, struct.unpack("!H", b[-2:])[0])
    return enc, dec


def _u8list():
    def enc(v):
        if not 1 <= len(v) <= 8:
            raise ValueError("1..8 entries")
        return bytes(v)

    def dec(b):
        if not 1 <= len(b) <= 8:
            raise Malformed("cipher list of %d" % len(b))
        return list(b)
    return enc, dec


# name: (type, codec, repeatable)
TLVS = {
    "status": (1, _uint(2, "H"), False),
    "error_text": (2, _text(), False),
    "account": (3, _text(), False),
    "password": (4, _text(), False),
    "fqdn": (5, _dnsname(), False),
    "key_id": (6, _uint(4, "I", nonzero=True), False),
    "key": (7, _bytes(32), False),
    "lifetime": (8, _uint(4, "I"), False),
    "peer_fqdn": (9, _dnsname(), False),
    "vip4": (10, _addr(4), False),
    "vip6": (11, _addr(6), False),
    "pool4": (12, _prefix(4), False),
    "pool6": (13, _prefix(6), False),
    "local_ep": (14, _endpoint(), True),
    "external_ep": (15, _endpoint(), False),
    "interval": (16, _uint(2, "H"), False),
    "comm_id": (17, _uint(4, "I", nonzero=True), False),
    "k_tun": (18, _bytes(32), False),
    "k_tmp": (19, _bytes(32), False),
    "action": (20, _uint(1, "B"), False),
    "peer_ep": (21, _endpoint(), False),
    "peer_vip4": (22, _addr(4), False),
    "peer_vip6": (23, _addr(6), False),
    "ciphers": (24, _u8list(), False),
    "cipher": (25, _uint(1, "B"), False),
    # 26 was SEALED_KEY: reserved, an unknown TLV to a receiver
    "index": (27, _uint(4, "I", nonzero=True), False),
    "confirm": (28, _bytes(32), False),
    "nated": (29, _uint(1, "B"), False),
    "ephemeral": (30, _bytes(32), False),
    "auth": (31, _bytes(32), False),
    "generation": (32, _uint(4, "I"), False),
}
TLV_BY_TYPE = {t: (name, codec, rep) for name, (t, codec, rep) in TLVS.items()}


# --- the body ------------------------------------------------------------------

def encode_tlv(type_, value, critical=False):
    if len(value) > MAX_TLV_VALUE:
        raise ValueError("TLV value of %d bytes" % len(value))
    word = (type_ & 0x7FFF) | (0x8000 if critical else 0)
    return struct.pack("!HH", word, len(value)) + value


def encode_body(msg, txid, tlvs=(), response=False, version=VERSION):
    """tlvs: list of (name, value) in order; repeatable TLVs appear once per
    entry.  Returns the body bytes."""
    if isinstance(msg, str):
        msg = MSG_TYPES[msg]
    if txid == 0:
        raise ValueError("transaction id 0")
    out = bytearray(struct.pack("!BBBBI", version, msg, FLAG_R if response else 0, 0, txid))
    for name, value in tlvs:
        type_, (enc, _dec), _rep = TLVS[name]
        out += encode_tlv(type_, enc(value))
    if len(out) > MAX_BODY:
        raise ValueError("body of %d bytes" % len(out))
    return bytes(out)


def decode_body(b):
    """Returns dict(version, msg, response, txid, tlvs={name: value or
    [values]}, unknown=[types]).  Raises Malformed / UnsupportedTlv."""
    if len(b) < 8:
        raise Malformed("body of %d bytes" % len(b))
    if len(b) > MAX_BODY:
        raise Malformed("body of %d bytes" % len(b))
    version, msg, flags, _res, txid = struct.unpack("!BBBBI", b[:8])
    out = {"version": version, "msg": msg, "response": bool(flags & FLAG_R),
           "txid": txid, "tlvs": {}, "unknown": []}
    if version != VERSION:
        return out  # the caller answers UNSUPPORTED_VERSION
    if txid == 0:
        raise Malformed("transaction id 0")
    off = 8
    while off < len(b):
        if off + 4 > len(b):
            raise Malformed("TLV header runs past the end")
        word, length = struct.unpack("!HH", b[off:off + 4])
        off += 4
        if length > MAX_TLV_VALUE:
            raise Malformed("TLV value of %d bytes" % length)
        if off + length > len(b):
            raise Malformed("TLV value runs past the end")
        value = b[off:off + length]
        off += length
        type_, critical = word & 0x7FFF, bool(word & 0x8000)
        if type_ not in TLV_BY_TYPE:
            if critical:
                raise UnsupportedTlv("critical TLV %d" % type_)
            out["unknown"].append(type_)
            continue
        name, (_enc, dec), rep = TLV_BY_TYPE[type_]
        try:
            v = dec(value)
        except Malformed as e:
            raise Malformed("%s: %s" % (name, e)) from e
        if rep:
            out["tlvs"].setdefault(name, []).append(v)
        elif name in out["tlvs"]:
            raise Malformed("%s twice" % name)
        else:
            out["tlvs"][name] = v
    return out


# --- the envelope -----------------------------------------------------------------

def header(kind, key_id, seq):
    return struct.pack("!IIQ", kind, key_id, seq)


def nonce(direction, seq):
    return struct.pack("!IQ", direction, seq)


def seal(kind, key_id, seq, direction, key, body):
    h = header(kind, key_id, seq)
    return h + ChaCha20Poly1305(bytes(key)).encrypt(nonce(direction, seq), body, h)


def parse_header(d):
    if len(d) < HEADER_LEN:
        raise Malformed("datagram of %d bytes" % len(d))
    kind, key_id, seq = struct.unpack("!IIQ", d[:HEADER_LEN])
    return kind, key_id, seq


def open_envelope(d, direction, key):
    """Returns (kind, key_id, seq, body); raises Malformed or InvalidTag."""
    kind, key_id, seq = parse_header(d)
    if kind not in (KIND_DC, KIND_TUN):
        raise Malformed("kind 0x%x is not sealed" % kind)
    if len(d) < HEADER_LEN + TAG_LEN:
        raise Malformed("no room for the tag")
    body = ChaCha20Poly1305(bytes(key)).decrypt(nonce(direction, seq), d[HEADER_LEN:], d[:HEADER_LEN])
    return kind, key_id, seq, body


def notice(key_id, status):
    return header(KIND_NOTICE, key_id, 0) + struct.pack("!H", status)


def parse_notice(d):
    kind, key_id, seq = parse_header(d)
    if kind != KIND_NOTICE or len(d) != HEADER_LEN + 2 or seq != 0:
        raise Malformed("not a NOTICE")
    return key_id, struct.unpack("!H", d[HEADER_LEN:])[0]


# --- the tunnel key exchange (Documentation/protocol/tunnel-keys.rst) --------------

KX_LABEL_REQUEST = b"ntm tunnel request"
KX_LABEL_RESPONSE = b"ntm tunnel response"
KX_LABEL_CONFIRM = b"ntm tunnel confirm"
KX_INFO_AUTH = b"ntm tunnel auth"
KX_INFO = {"data_key": (b"ntm data key", 32), "opener_tx_salt": (b"ntm opener salt", 4),
           "waiter_tx_salt": (b"ntm waiter salt", 4), "confirm_key": (b"ntm confirm key", 32)}


class KxRefused(ValueError):
    """The exchange fails: status is the code a waiter answers with."""

    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


def _sha256(data):
    h = hashes.Hash(hashes.SHA256())
    h.update(bytes(data))
    return h.finalize()


def hmac_sha256(key, data):
    mac = hmac.HMAC(bytes(key), hashes.SHA256())
    mac.update(bytes(data))
    return mac.finalize()


def _hkdf(ikm, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(bytes(ikm))


def hkdf_extract(salt, ikm):
    """RFC 5869 section 2.2, written out: PRK = HMAC-Hash(salt, IKM)."""
    return hmac_sha256(salt, ikm)


def hkdf_expand(prk, info, length):
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=info).derive(bytes(prk))


def _lv(b):
    if len(b) > 255:
        raise ValueError("field of %d bytes" % len(b))
    return bytes([len(b)]) + bytes(b)


def _tvip(addr, version):
    if addr is None:
        return b"\0"
    a = ipaddress.ip_address(addr)
    if a.version != version:
        raise ValueError("not an IPv%d address: %s" % (version, addr))
    return _lv(a.packed)


def request_transcript(comm_id, generation, opener, waiter, opener_index, cipher, opener_eph):
    """opener, waiter: dict(fqdn=, vip4=, vip6=) (a missing address is None)."""
    if len(opener_eph) != 32:
        raise ValueError("EPHEMERAL of %d bytes" % len(opener_eph))
    return (KX_LABEL_REQUEST + struct.pack("!II", comm_id, generation) +
            _lv(opener["fqdn"].encode()) + _lv(waiter["fqdn"].encode()) +
            struct.pack("!IB", opener_index, cipher) +
            _tvip(opener.get("vip4"), 4) + _tvip(opener.get("vip6"), 6) +
            _tvip(waiter.get("vip4"), 4) + _tvip(waiter.get("vip6"), 6) + bytes(opener_eph))


def response_transcript(t_req, waiter_index, waiter_eph):
    if len(waiter_eph) != 32:
        raise ValueError("EPHEMERAL of %d bytes" % len(waiter_eph))
    return KX_LABEL_RESPONSE + _sha256(t_req) + struct.pack("!I", waiter_index) + bytes(waiter_eph)


def transcript_hash(t_req, t_resp):
    return _sha256(t_req + t_resp)


def auth_key(k_tmp, comm_id):
    return _hkdf(k_tmp, struct.pack("!I", comm_id), KX_INFO_AUTH, 32)


def kx_keys(shared, th):
    """-> dict(data_key, opener_tx_salt, waiter_tx_salt, confirm_key)."""
    prk = hkdf_extract(th, shared)
    return {name: hkdf_expand(prk, info, n) for name, (info, n) in KX_INFO.items()}


def kx_confirm(keys, th):
    return hmac_sha256(keys["confirm_key"], KX_LABEL_CONFIRM + th)


def x25519_keypair(private=None):
    k = X25519PrivateKey.from_private_bytes(bytes(private)) if private else X25519PrivateKey.generate()
    return k, k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519(private_key, peer_public):
    try:
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
    except ValueError as e:  # some versions refuse the all-zero result themselves
        raise KxRefused(STATUS["malformed"], "low-order peer key: %s" % e) from e
    if shared == bytes(32):
        raise KxRefused(STATUS["malformed"], "low-order peer key (all-zero X25519 result)")
    return shared


def _party(tl, prefix=""):
    return {"fqdn": tl[prefix + "fqdn"], "vip4": tl.get(prefix + "vip4"), "vip6": tl.get(prefix + "vip6")}


class KxOpener:
    """The opener of one exchange: request_tlvs() for the Tunnel Request,
    finish(response tlvs) -> keys (raises KxRefused)."""

    def __init__(self, comm_id, opener, waiter, cipher, k_tmp, index, generation=0, private=None):
        self.key, self.public = x25519_keypair(private)
        self.k_auth = auth_key(k_tmp, comm_id)
        self.opener, self.index, self.cipher, self.generation = opener, index, cipher, generation
        self.t_req = request_transcript(comm_id, generation, opener, waiter, index, cipher, self.public)

    def request_tlvs(self):
        tl = [("fqdn", self.opener["fqdn"]), ("index", self.index), ("cipher", self.cipher)]
        tl += [(n, self.opener[n]) for n in ("vip4", "vip6") if self.opener.get(n)]
        return tl + [("generation", self.generation), ("ephemeral", self.public),
                     ("auth", hmac_sha256(self.k_auth, self.t_req))]

    def finish(self, tl):
        for n in ("index", "ephemeral", "auth", "confirm"):
            if n not in tl:
                raise KxRefused(STATUS["malformed"], "response without %s" % n)
        t_resp = response_transcript(self.t_req, tl["index"], tl["ephemeral"])
        if not _ct_equal(hmac_sha256(self.k_auth, t_resp), tl["auth"]):
            raise KxRefused(STATUS["auth_failed"], "response AUTH does not verify")
        th = transcript_hash(self.t_req, t_resp)
        keys = kx_keys(x25519(self.key, tl["ephemeral"]), th)
        if not _ct_equal(kx_confirm(keys, th), tl["confirm"]):
            raise KxRefused(STATUS["auth_failed"], "CONFIRM does not verify")
        if keys["opener_tx_salt"] == keys["waiter_tx_salt"]:
            raise KxRefused(STATUS["auth_failed"], "equal salts")
        return keys


def _ct_equal(a, b):
    return hmac_compare(bytes(a), bytes(b))


def kx_waiter(tl, comm_id, waiter, k_tmp, index, expect=None, private=None):
    """The waiter's side of a Tunnel Request (decoded TLVs): AUTH first,
    then the Route Direction's view (expect: dict(fqdn, vip4, vip6, cipher)),
    then X25519.  -> (response TLVs, keys); raises KxRefused."""
    for n in ("fqdn", "index", "cipher", "generation", "ephemeral", "auth"):
        if n not in tl:
            raise KxRefused(STATUS["malformed"], "request without %s" % n)
    opener = _party(tl)
    k_auth = auth_key(k_tmp, comm_id)
    t_req = request_transcript(comm_id, tl["generation"], opener, waiter, tl["index"], tl["cipher"],
                               tl["ephemeral"])
    if not _ct_equal(hmac_sha256(k_auth, t_req), tl["auth"]):
        raise KxRefused(STATUS["auth_failed"], "request AUTH does not verify")
    if expect is not None and (opener["fqdn"] != expect["fqdn"] or opener["vip4"] != expect.get("vip4") or
                               opener["vip6"] != expect.get("vip6") or tl["cipher"] != expect["cipher"]):
        raise KxRefused(STATUS["auth_failed"], "does not match the route direction")
    for _attempt in range(4):
        key, public = x25519_keypair(private)
        shared = x25519(key, tl["ephemeral"])
        t_resp = response_transcript(t_req, index, public)
        th = transcript_hash(t_req, t_resp)
        keys = kx_keys(shared, th)
        if keys["opener_tx_salt"] != keys["waiter_tx_salt"]:
            return [("status", 0), ("index", index), ("ephemeral", public), ("auth", hmac_sha256(k_auth, t_resp)),
                    ("confirm", kx_confirm(keys, th))], keys
        if private:
            break
    raise KxRefused(STATUS["internal"], "equal salts")


# --- the data message (data-message.rst) ---------------------------------------------

def open_data(d, key, salt, cipher):
    """Opens an NTM data message (type 1) with a 32-byte key and the sender's
    4-byte salt: AEAD (cipher 1 AES-256-GCM, 2 ChaCha20-Poly1305), nonce =
    salt | counter, AAD = the 16-byte header.  -> plaintext; raises
    InvalidTag (or ValueError for a bad key or message)."""
    if len(d) < 32 or struct.unpack("!I", d[:4])[0] != 1:
        raise ValueError("not an NTM data message")
    aead = AESGCM(bytes(key)) if cipher == 1 else ChaCha20Poly1305(bytes(key))
    return aead.decrypt(bytes(salt) + d[8:16], d[16:], d[:16])


# --- pcap (classic libpcap format, read by hand) ----------------------------------

def pcap_udp(path):
    """Yields (time, src_ep, dst_ep, payload) for every UDP datagram over
    IPv4 or IPv6 in a classic pcap file (Ethernet, Linux cooked v1/v2, raw IP)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        t = sec + frac / (1e9 if nano else 1e6)
        if linktype == 1:  # Ethernet
            eth, l3 = struct.unpack("!H", pkt[12:14])[0], 14
            while eth in (0x8100, 0x88A8) and len(pkt) >= l3 + 4:
                eth, l3 = struct.unpack("!H", pkt[l3 + 2:l3 + 4])[0], l3 + 4
        elif linktype == 113:  # Linux cooked v1
            eth, l3 = struct.unpack("!H", pkt[14:16])[0], 16
        elif linktype == 276:  # Linux cooked v2
            eth, l3 = struct.unpack("!H", pkt[0:2])[0], 20
        elif linktype in (101, 12, 14):  # raw IP
            eth = 0x0800 if pkt and pkt[0] >> 4 == 4 else 0x86DD
            l3 = 0
        else:
            continue
        ip = pkt[l3:]
        if eth == 0x0800 and len(ip) >= 20:
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 17:
                continue
            src, dst, udp = ipaddress.IPv4Address(ip[12:16]), ipaddress.IPv4Address(ip[16:20]), ip[ihl:]
        elif eth == 0x86DD and len(ip) >= 40:
            if ip[6] != 17:  # no extension headers in the testbed
                continue
            src, dst, udp = ipaddress.IPv6Address(ip[8:24]), ipaddress.IPv6Address(ip[24:40]), ip[40:]
        else:
            continue
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        payload = udp[8:ulen] if 8 <= ulen <= len(udp) else udp[8:]
        yield t, format_ep(src, sport), format_ep(dst, dport), bytes(payload)


# --- sockets -------------------------------------------------------------------------

def udp_socket(to, bind=None):
    addr, port = parse_ep(to)
    fam = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if bind:
        baddr, bport = parse_ep(bind)
        s.bind((str(baddr), bport))
    return s, (str(addr), port)


def receive(s, timeout):
    """Datagrams that arrive within timeout seconds (stops after the first
    pause of timeout)."""
    out = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        d, src = s.recvfrom(65535)
        out.append((d, src))
    return out


def describe(d, key=None, direction="dc"):
    """One line about a received datagram."""
    try:
        kind, key_id, seq = parse_header(d)
    except Malformed as e:
        return "undecodable: %s" % e
    if kind == KIND_NOTICE:
        try:
            kid, st = parse_notice(d)
            return "notice key_id=%d status=%s" % (kid, status_name(st))
        except Malformed as e:
            return "bad notice: %s" % e
    line = "kind=0x%x key_id=%d seq=%d len=%d" % (kind, key_id, seq, len(d))
    if key is not None and kind in (KIND_DC, KIND_TUN):
        try:
            _k, _i, _s, body = open_envelope(d, DIRECTIONS[direction], key)
            m = decode_body(body)
            tl = m["tlvs"]
            line += " msg=%s%s txid=%d" % (MSG_NAMES.get(m["msg"], m["msg"]), " (response)" if m["response"] else "",
                                           m["txid"])
            if "status" in tl:
                line += " status=%s" % status_name(tl["status"])
            for k in sorted(tl):
                if k in ("status", "key", "k_tun", "k_tmp", "password"):
                    continue
                line += " %s=%s" % (k, tl[k])
        except InvalidTag:
            line += " (does not open with this key)"
        except (Malformed, UnsupportedTlv) as e:
            line += " (malformed body: %s)" % e
    return line


# --- commands ------------------------------------------------------------------------

def build_tlvs(a):
    tlvs = []
    if a.fqdn:
        tlvs.append(("fqdn", a.fqdn))
    if a.peer_fqdn:
        tlvs.append(("peer_fqdn", a.peer_fqdn))
    for ep in a.local_ep or []:
        tlvs.append(("local_ep", ep))
    if a.ciphers:
        tlvs.append(("ciphers", [int(x) for x in a.ciphers.split(",")]))
    return tlvs


def cmd_send(a):
    key = bytes.fromhex(a.key) if a.key else os.urandom(32)
    key_id = a.key_id if a.key_id else random.randint(1, 0xFFFFFFFF)
    txid = a.txid if a.txid else random.randint(1, 0xFFFFFFFF)
    body = encode_body(a.msg, txid, build_tlvs(a))
    d = seal(int(a.kind, 0), key_id, a.seq, DIRECTIONS[a.dir], key, body)
    s, dst = udp_socket(a.to, a.bind)
    for _ in range(a.repeat):
        s.sendto(d, dst)
    print("sent %d x %s key_id=%d seq=%d txid=%d (%d bytes) to %s" % (a.repeat, a.msg, key_id, a.seq, txid, len(d), a.to))
    if a.wait:
        answers = receive(s, a.wait)
        for r, src in answers:
            print("answer from %s: %s" % (format_ep(src[0], src[1]), describe(r, key, "dc")))
        if not answers:
            print("no answer")
            return 1
    return 0


def cmd_flood(a):
    """COUNT sealed requests under one key, each with its own sequence
    number (from --seq) and txid, as fast as they go; then counts what
    came back within --wait: sealed answers by status, and NOTICEs."""
    key = bytes.fromhex(a.key) if a.key else os.urandom(32)
    key_id = a.key_id if a.key_id else random.randint(1, 0xFFFFFFFF)
    s, dst = udp_socket(a.to, a.bind)
    for i in range(a.count):
        body = encode_body(a.msg, random.randint(1, 0xFFFFFFFF), build_tlvs(a))
        s.sendto(seal(int(a.kind, 0), key_id, a.seq + i, DIRECTIONS[a.dir], key, body), dst)
    answered, notices, statuses = 0, 0, {}
    for r, _src in receive(s, a.wait):
        try:
            kind, _kid, _seq = parse_header(r)
            if kind == KIND_NOTICE:
                notices += 1
                continue
            _k, _i, _s, body = open_envelope(r, DIRECTIONS["dc"], key)
            m = decode_body(body)
        except (Malformed, UnsupportedTlv, InvalidTag):
            continue
        answered += 1
        st = status_name(m["tlvs"].get("status", -1))
        statuses[st] = statuses.get(st, 0) + 1
    print("sent=%d answered=%d notices=%d statuses=%s" %
          (a.count, answered, notices, ",".join("%s:%d" % kv for kv in sorted(statuses.items())) or "-"))
    return 0


def cmd_tunnel_request(a):
    """Tunnel Requests as an opener holding K_tun and K_tmp (a rekey when
    GENERATION > 0); one result line per request."""
    k_tun, k_tmp = bytes.fromhex(a.k_tun), bytes.fromhex(a.k_tmp)
    opener = {"fqdn": a.fqdn, "vip4": a.vip4, "vip6": a.vip6}
    waiter = {"fqdn": a.peer_fqdn, "vip4": a.peer_vip4, "vip6": a.peer_vip6}
    answer_dir = DIRECTIONS["waiter" if a.dir == "opener" else "opener"]
    s, dst = udp_socket(a.to, a.bind)
    seq = a.seq
    for gen in a.generation or [0]:
        index = a.index if a.index else random.randint(1, 0xFFFFFFFF)
        private = bytes.fromhex(a.private) if a.private else None
        kx = KxOpener(a.comm_id, opener, waiter, a.cipher, k_tmp, index, gen, private)
        txid = a.txid if a.txid else random.randint(1, 0xFFFFFFFF)
        s.sendto(seal(KIND_TUN, a.comm_id, seq, DIRECTIONS[a.dir], k_tun,
                      encode_body("tunnel", txid, kx.request_tlvs())), dst)
        answers = receive(s, a.wait)
        st, res, eph, text = "none", "-", "-", ""
        for r, _src in answers:
            try:
                kind, _kid, _seq = parse_header(r)
                if kind == KIND_NOTICE:
                    st = "notice:%s" % status_name(parse_notice(r)[1])
                    continue
                _k, _i, _s, body = open_envelope(r, answer_dir, k_tun)
                m = decode_body(body)
            except (Malformed, UnsupportedTlv, InvalidTag):
                st = "unopened"
                continue
            tl = m["tlvs"]
            if not m["response"] or m["txid"] != txid or "status" not in tl:
                st = "unexpected"
                continue
            st, text = status_name(tl["status"]), tl.get("error_text", "")
            if tl["status"] == 0:
                eph = bytes(tl.get("ephemeral", b"")).hex() or "-"
                try:
                    kx.finish(tl)
                    res = "ok"
                except KxRefused as e:
                    res, text = "bad", str(e)
        print("gen=%d seq=%d txid=%d answers=%d status=%s kx=%s eph=%s text=%s" %
              (gen, seq, txid, len(answers), st, res, eph, text.replace(" ", "_") or "-"))
        seq += 1
    return 0


def cmd_garbage(a):
    s, dst = udp_socket(a.to, a.bind)
    rnd = random.Random(a.seed)
    for i in range(a.count):
        if a.kind == "short":
            d = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 15)))
        elif a.kind == "trunc":
            n = rnd.randint(0, 15)
            d = header(KIND_DC, rnd.randint(1, 0xFFFFFFFF), rnd.randint(1, 1 << 40)) + \
                bytes(rnd.getrandbits(8) for _ in range(n))
        else:
            kind = int(a.kind, 0)
            n = a.len if a.len is not None else rnd.randint(16, 200)
            d = header(kind, rnd.randint(1, 0xFFFFFFFF), rnd.randint(1, 1 << 40)) + \
                bytes(rnd.getrandbits(8) for _ in range(n))
        s.sendto(d, dst)
        if a.interval:
            time.sleep(a.interval)
    print("sent %d %s datagram(s) to %s" % (a.count, a.kind, a.to))
    return 0


def cmd_expect_notice(a):
    key_id = a.key_id if a.key_id else random.randint(1, 0xFFFFFFFF)
    body = encode_body("registration", random.randint(1, 0xFFFFFFFF), [("fqdn", a.fqdn)])
    s, dst = udp_socket(a.to, a.bind)
    end = time.monotonic() + a.timeout
    seq = 1
    while time.monotonic() < end:
        s.sendto(seal(KIND_DC, key_id, seq, DIRECTIONS["node"], os.urandom(32), body), dst)
        seq += 1
        for r, _src in receive(s, min(1.0, max(0.05, end - time.monotonic()))):
            try:
                kid, st = parse_notice(r)
            except Malformed:
                continue
            if kid == key_id:
                print(status_name(st))
                return 0
    print("no notice for key id %d within %g s" % (key_id, a.timeout), file=sys.stderr)
    return 1


def _select(a):
    out = []
    for t, src, dst, p in pcap_udp(a.file):
        if a.dst and dst != a.dst:
            continue
        if a.src and src != a.src:
            continue
        if a.kind is not None:
            if len(p) < HEADER_LEN or struct.unpack("!I", p[:4])[0] != int(a.kind, 0):
                continue
        out.append((t, src, dst, p))
    return out


def cmd_pcap(a):
    for _t, _src, _dst, p in _select(a):
        print(p.hex())
    return 0


def cmd_replay(a):
    sel = _select(a)
    if not sel:
        print("replay: no matching datagram in %s" % a.file, file=sys.stderr)
        return 1
    _t, src, dst, p = sel[a.index]
    s, to = udp_socket(a.to, a.bind)
    for _ in range(a.count):
        s.sendto(p, to)
    kind, key_id, seq = parse_header(p)
    print("replayed %d x datagram %s -> %s kind=0x%x key_id=%d seq=%d (%d bytes)" %
          (a.count, src, dst, kind, key_id, seq, len(p)))
    return 0


def cmd_summary(a):
    """Signalling datagrams of a capture, one line each; the same datagram
    seen twice (a capture on several bridge ports) is shown once."""
    t0 = None
    seen = set()
    names = dict(x.split("=", 1) for x in a.name or [])
    for t, src, dst, p in pcap_udp(a.file):
        if a.port and not (src.endswith(":%d" % a.port) or dst.endswith(":%d" % a.port)):
            continue
        if len(p) < 4 or (src, dst, p) in seen:
            continue
        seen.add((src, dst, p))
        word = struct.unpack("!I", p[:4])[0]
        if not 0x10 <= word <= 0xFF:
            if not a.all:
                continue
            what, kid, seq = ("data" if word < 0x10 else "other"), "-", "-"
        else:
            what = {KIND_DC: "K_ntmdc", KIND_TUN: "K_tun", KIND_NOTICE: "NOTICE"}.get(word, "0x%x" % word)
            _k, kid, seq = parse_header(p) if len(p) >= HEADER_LEN else (0, "-", "-")
            if word == KIND_NOTICE and len(p) == HEADER_LEN + 2:
                what += "(%s)" % status_name(struct.unpack("!H", p[16:18])[0])
        t0 = t if t0 is None else t0

        def name(ep):
            host = ep.rsplit(":", 1)[0].strip("[]")
            return "%s %s" % (names[host], ep) if host in names else ep
        print("%7.3f  %-28s -> %-28s %-8s id=%-10s seq=%-5s %4d B" % (t - t0, name(src), name(dst), what, kid, seq,
                                                                       len(p)))
    return 0


def cmd_decode(a):
    d = bytes.fromhex(a.hex)
    print(describe(d, bytes.fromhex(a.key) if a.key else None, a.dir))
    return 0


# --- selftest ------------------------------------------------------------------------

def selftest():
    fails = []

    def check(name, cond):
        print("%s %s" % ("ok  " if cond else "FAIL", name))
        if not cond:
            fails.append(name)

    # 1. The AEAD itself: RFC 8439 section 2.8.2.
    key = bytes(range(0x80, 0xA0))
    n = bytes.fromhex("070000004041424344454647")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
          b"the future, sunscreen would be it.")
    ct = ChaCha20Poly1305(key).encrypt(n, pt, aad)
    check("RFC 8439 2.8.2: ciphertext", ct[:16].hex() == "d31a8d34648e60db7b86afbc53ef7ec2")
    check("RFC 8439 2.8.2: tag", ct[-16:].hex() == "1ae10b594f09e26a7e902ecbd0600691")

    # 2. A Registration Request body, written down by hand from the spec:
    # version 1, type 3, flags 0, reserved 0, txid 0x11223344;
    # FQDN (5) "a.ntm.test"; LOCAL_EP (14) family 4, 192.0.2.1, port 7480.
    want = ("01030000" "11223344"
            "0005000a" + b"a.ntm.test".hex() +
            "000e0007" "04" "c0000201" "1d38")
    body = encode_body("registration", 0x11223344, [("fqdn", "a.ntm.test"), ("local_ep", "192.0.2.1:7480")])
    check("registration body encodes as written by hand", body.hex() == want)
    m = decode_body(body)
    check("registration body decodes", m["msg"] == 3 and not m["response"] and m["txid"] == 0x11223344 and
          m["tlvs"] == {"fqdn": "a.ntm.test", "local_ep": ["192.0.2.1:7480"]})

    # A Registration Response with every field the spec requires.
    resp = encode_body("registration", 0x11223344, [
        ("status", 0), ("vip4", "10.77.0.1"), ("vip6", "fd00:77::1"), ("pool4", "10.77.0.0/16"),
        ("pool6", "fd00:77::/64"), ("external_ep", "[2001:db8::1]:7480"), ("nated", 0), ("interval", 20),
        ("lifetime", 3600)], response=True)
    m = decode_body(resp)
    check("registration response round trip", m["response"] and m["tlvs"]["vip6"] == "fd00:77::1" and
          m["tlvs"]["pool4"] == "10.77.0.0/16" and m["tlvs"]["external_ep"] == "[2001:db8::1]:7480")

    # Malformed bodies.
    def rejects(b, exc=Malformed):
        try:
            decode_body(b)
        except exc:
            return True
        return False
    check("short body rejected", rejects(b"\x01\x03\x00"))
    check("TLV past the end rejected", rejects(body[:-1]))
    check("duplicate FQDN rejected", rejects(body + bytes.fromhex("00050001") + b"b"))
    check("KEY_ID of wrong length rejected", rejects(body + bytes.fromhex("0006000300000001")[:7]))
    check("txid 0 rejected", rejects(bytes.fromhex("0103000000000000")))
    check("unknown critical TLV rejected", rejects(body + bytes.fromhex("ffff0000"), UnsupportedTlv))
    m = decode_body(body + bytes.fromhex("7fff0001aa"))
    check("unknown non-critical TLV ignored", m["unknown"] == [0x7FFF] and m["tlvs"]["fqdn"] == "a.ntm.test")
    check("other version reported, not parsed", decode_body(bytes.fromhex("02030000000000010000")).get("version") == 2)

    # 3. The sealed envelope: kind 0x10, key id 0x01020304, sequence 1,
    # direction 1 (node), key 00 01 .. 1f.
    k = bytes(range(32))
    d = seal(KIND_DC, 0x01020304, 1, 1, k, body)
    check("envelope header", d[:16].hex() == "00000010" "01020304" "0000000000000001")
    check("envelope length = 16 + body + 16", len(d) == 16 + len(body) + 16)
    check("nonce = u32 direction | u64 sequence", nonce(1, 1).hex() == "00000001" "0000000000000001")
    check("sealed with the spec's AEAD inputs",
          d[16:] == ChaCha20Poly1305(k).encrypt(bytes.fromhex("000000010000000000000001"), body, d[:16]))
    check("known vector (kind 0x10, key 00..1f, seq 1, dir 1)", d.hex() == KNOWN_ENVELOPE)
    kind, kid, seq, b = open_envelope(d, 1, k)
    check("envelope opens", (kind, kid, seq, b) == (KIND_DC, 0x01020304, 1, body))

    def fails_open(dd, direction=1, kk=k):
        try:
            open_envelope(dd, direction, kk)
        except (InvalidTag, Malformed):
            return True
        return False
    check("tampered header (sequence) rejected", fails_open(d[:15] + b"\x02" + d[16:]))
    check("tampered ciphertext rejected", fails_open(d[:20] + bytes([d[20] ^ 1]) + d[21:]))
    check("wrong direction rejected", fails_open(d, 2))
    check("wrong key rejected", fails_open(d, 1, bytes(32)))
    check("datagram without room for a tag rejected", fails_open(d[:31]))

    # 4. NOTICE.
    nt = notice(0x01020304, STATUS["unknown_key"])
    check("NOTICE bytes", nt.hex() == "00000012" "01020304" "0000000000000000" "0005")
    check("NOTICE parses", parse_notice(nt) == (0x01020304, 5))

    # 5. The tunnel key exchange.  Primitives first: RFC 5869 test case 1
    # (extract written out as HMAC, expand), RFC 7748 section 6.1 (X25519).
    okm = _hkdf(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    check("RFC 5869 test case 1", okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c"
                                               "5db02d56ecc4c5bf34007208d5b887185865")
    prk = hkdf_extract(bytes(range(13)), bytes([0x0B] * 22))
    check("RFC 5869 test case 1: PRK", prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
    check("RFC 5869 test case 1: expand", hkdf_expand(prk, bytes(range(0xF0, 0xFA)), 42) == okm)
    ka, pa = x25519_keypair(KX_VECTOR["opener_private"])
    kb, pb = x25519_keypair(KX_VECTOR["waiter_private"])
    check("RFC 7748 6.1: public keys", pa.hex() == KX_VECTOR["opener_public"] and pb.hex() == KX_VECTOR["waiter_public"])
    check("RFC 7748 6.1: shared secret", x25519(ka, pb) == x25519(kb, pa) and
          x25519(ka, pb).hex() == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")

    # The known-answer exchange (the C++ unit test TunnelKx.KnownAnswer uses these inputs).
    k_tmp = bytes(range(0x40, 0x60))
    comm = 0xA1B2C3D4
    opener = {"fqdn": "b.ntm.test", "vip4": "10.77.0.2", "vip6": "fd00:77::2"}
    waiter = {"fqdn": "a.ntm.test", "vip4": "10.77.0.1", "vip6": "fd00:77::1"}
    expect = dict(opener, cipher=2)
    o = KxOpener(comm, opener, waiter, 2, k_tmp, 0x11111111, private=KX_VECTOR["opener_private"])
    req = dict(o.request_tlvs())
    check("known vector: T_req", o.t_req.hex() == KX_VECTOR["t_req"])
    check("known vector: K_auth", auth_key(k_tmp, comm).hex() == KX_VECTOR["k_auth"])
    check("known vector: request AUTH", req["auth"].hex() == KX_VECTOR["auth_req"])
    # through the codec and the envelope, as the waiter receives it
    treq = encode_body("tunnel", 77, o.request_tlvs())
    _k, _i, _s, b2 = open_envelope(seal(KIND_TUN, comm, 1, DIRECTIONS["opener"], bytes([9] * 32), treq),
                                   DIRECTIONS["opener"], bytes([9] * 32))
    rtl = decode_body(b2)["tlvs"]
    check("tunnel request round trip", rtl == req)
    resp, wkeys = kx_waiter(rtl, comm, waiter, k_tmp, 0x22222222, expect, private=KX_VECTOR["waiter_private"])
    rsp = dict(resp)
    t_resp = response_transcript(o.t_req, 0x22222222, rsp["ephemeral"])
    check("known vector: T_resp", t_resp.hex() == KX_VECTOR["t_resp"])
    check("known vector: transcript hash", transcript_hash(o.t_req, t_resp).hex() == KX_VECTOR["th"])
    check("known vector: response AUTH and CONFIRM", rsp["auth"].hex() == KX_VECTOR["auth_resp"] and
          rsp["confirm"].hex() == KX_VECTOR["confirm"])
    check("known vector: keys", {n: v.hex() for n, v in wkeys.items()} == KX_VECTOR["keys"])
    okeys = o.finish(decode_body(encode_body("tunnel", 77, resp, response=True))["tlvs"])
    check("opener and waiter agree", okeys == wkeys)

    def refused(fn, status):
        try:
            fn()
        except KxRefused as e:
            return e.status == STATUS[status]
        return False
    # every request field of the transcript, changed: AUTH fails
    for name, val in (("fqdn", "c.ntm.test"), ("index", 0x11111112), ("cipher", 1), ("vip4", "10.77.0.3"),
                      ("vip6", "fd00:77::3"), ("generation", 1), ("ephemeral", bytes(31) + b"\x01"),
                      ("auth", bytes(32))):
        bad = dict(req, **{name: val})
        check("request with another %s: AUTH fails" % name,
              refused(lambda b=bad: kx_waiter(b, comm, waiter, k_tmp, 5), "auth_failed"))
    check("waiter with another view of itself: AUTH fails",
          refused(lambda: kx_waiter(req, comm, dict(waiter, vip6=None), k_tmp, 5), "auth_failed"))
    check("another K_tmp: AUTH fails", refused(lambda: kx_waiter(req, comm, waiter, bytes(32), 5), "auth_failed"))
    for name in ("index", "ephemeral", "auth", "confirm"):
        v = rsp[name]
        bad = dict(rsp, **{name: v ^ 1 if name == "index" else bytes([v[0] ^ 1]) + v[1:]})
        check("response with another %s: refused" % name, refused(lambda b=bad: o.finish(b), "auth_failed"))
    # a low-order opener key with a valid AUTH: refused after AUTH; with a bad AUTH: AUTH first
    low = dict(req, ephemeral=bytes(32))
    low["auth"] = hmac_sha256(auth_key(k_tmp, comm), request_transcript(comm, 0, opener, waiter, 0x11111111, 2,
                                                                        bytes(32)))
    check("low-order opener key refused", refused(lambda: kx_waiter(low, comm, waiter, k_tmp, 5), "malformed"))
    check("bad AUTH is found before the X25519 work",
          refused(lambda: kx_waiter(dict(low, auth=bytes(32)), comm, waiter, k_tmp, 5), "auth_failed"))
    check("route direction mismatch refused",
          refused(lambda: kx_waiter(req, comm, waiter, k_tmp, 5, dict(expect, cipher=1)), "auth_failed"))
    # fresh exchanges: random keys, the same keys on both sides, fresh ephemerals
    eph, check_ok = set(), True
    for _ in range(5):
        o2 = KxOpener(comm, opener, waiter, 2, k_tmp, 7)
        r2, k2 = kx_waiter(dict(o2.request_tlvs()), comm, waiter, k_tmp, 8, expect)
        check_ok = check_ok and o2.finish(dict(r2)) == k2 and k2["opener_tx_salt"] != k2["waiter_tx_salt"]
        eph.update([o2.public, dict(r2)["ephemeral"]])
    check("random exchanges agree; a fresh key pair each time", check_ok and len(eph) == 10)
    # the old SEALED_KEY number is an unknown TLV now
    m = decode_body(treq + encode_tlv(26, bytes(60)))
    check("TLV 26 (was SEALED_KEY) ignored", m["unknown"] == [26] and m["tlvs"] == req)

    # 6. A data message with the known-answer keys (data-message.rst)
    hdr = struct.pack("!IIQ", 1, 0x22222222, 5)
    pt = b"\x45" + bytes(27)
    dm = hdr + ChaCha20Poly1305(okeys["data_key"]).encrypt(okeys["opener_tx_salt"] + struct.pack("!Q", 5), pt, hdr)
    check("data message opens with the opener's key and salt", open_data(dm, okeys["data_key"],
                                                                        okeys["opener_tx_salt"], 2) == pt)

    print("vector: envelope (kind 0x10, key id 0x01020304, seq 1, direction 1, key 000102..1f) = %s" % d.hex())
    print("vector: tunnel keys (tunnel-keys.rst known answer): data key %s, salts %s/%s, confirm %s" %
          (wkeys["data_key"].hex(), wkeys["opener_tx_salt"].hex(), wkeys["waiter_tx_salt"].hex(), rsp["confirm"].hex()))
    print("selftest: %s (%d failed)" % ("FAIL" if fails else "PASS", len(fails)))
    return 1 if fails else 0


# The body of section 2 sealed as in section 3.  The first 16 bytes are the
# header; the rest is RFC 8439 output for those inputs (checked above
# against a fresh seal with the spec's nonce and AAD).
KNOWN_ENVELOPE = ("00000010010203040000000000000001"
                  "e009e50feef6444039caa366c5cee667528314d91fc42f39ce5bdc81c3259f3c"
                  "de8facea9c6204db227ceadd7f13f4f621")
# The tunnel key exchange with fixed private keys (RFC 7748 section 6.1's
# Alice as the opener, Bob as the waiter), COMM_ID 0xa1b2c3d4, GENERATION 0,
# opener b.ntm.test 10.77.0.2 fd00:77::2 INDEX 0x11111111, waiter a.ntm.test
# 10.77.0.1 fd00:77::1 INDEX 0x22222222, CIPHER 2, K_tmp 40 41 .. 5f.
# Computed by this file from the specification; the C++ unit test
# TunnelKx.KnownAnswer expects the same values.
KX_VECTOR = {
    "opener_private": bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    "waiter_private": bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
    "opener_public": "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    "waiter_public": "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    "t_req": ("6e746d2074756e6e656c2072657175657374a1b2c3d4000000000a622e6e746d2e746573740a612e6e746d2e7465"
              "73741111111102040a4d000210fd000077000000000000000000000002040a4d000110fd00007700000000000000"
              "00000000018520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
    "k_auth": "8b7fa35e75bd2742abcf7eb230c6710a7c167b9845ee33ba514bc7f403a396b6",
    "auth_req": "0033ed9ba19578de0c3747f870438e880b10f81f6d1c7f2d3ddddde46f0a48a2",
    "t_resp": ("6e746d2074756e6e656c20726573706f6e7365662df764e40ce035146f825815df960236653de13d1696697723"
               "1d2d630b88c622222222de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
    "th": "9c746f3e9bbf0a2cdb7435b4d0b40257e384446243e839a1e2f610064f8d47b4",
    "auth_resp": "7936a8227a7b9c5ee0661da70666d9512896460c9bf27e577d3365541c3fea3c",
    "confirm": "cca3d354fdd492a3ca16838cd0929903820eb5e82129389e4368d9737624714b",
    "keys": {
        "data_key": "c4dd37cd1ab879a53b54d4890a60325028f984c9e57a796ec9e0dea01e3fba7a",
        "opener_tx_salt": "ad5785f3",
        "waiter_tx_salt": "ab95f37d",
        "confirm_key": "7037bcf3f54eaaf0c771b5dd42479a9adaee7b20014a8d59661dda9ea63be54d",
    },
}


def main(argv=None):
    p = argparse.ArgumentParser(prog="ntmsig.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("selftest")

    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--bind")
    s.add_argument("--key-id", type=lambda x: int(x, 0), default=0)
    s.add_argument("--key", help="64 hex digits (default: random)")
    s.add_argument("--seq", type=int, default=1)
    s.add_argument("--dir", choices=sorted(DIRECTIONS), default="node")
    s.add_argument("--kind", default="0x10")
    s.add_argument("--msg", choices=sorted(MSG_TYPES), default="registration")
    s.add_argument("--txid", type=lambda x: int(x, 0), default=0)
    s.add_argument("--fqdn")
    s.add_argument("--peer-fqdn")
    s.add_argument("--local-ep", action="append")
    s.add_argument("--ciphers")
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--wait", type=float, default=0)

    f = sub.add_parser("flood")
    f.add_argument("--to", required=True)
    f.add_argument("--bind")
    f.add_argument("--key-id", type=lambda x: int(x, 0), default=0)
    f.add_argument("--key", help="64 hex digits (default: random)")
    f.add_argument("--seq", type=int, default=1)
    f.add_argument("--dir", choices=sorted(DIRECTIONS), default="node")
    f.add_argument("--kind", default="0x10")
    f.add_argument("--msg", choices=sorted(MSG_TYPES), default="registration")
    f.add_argument("--fqdn")
    f.add_argument("--peer-fqdn")
    f.add_argument("--local-ep", action="append")
    f.add_argument("--ciphers")
    f.add_argument("--count", type=int, default=100)
    f.add_argument("--wait", type=float, default=2.0)

    t = sub.add_parser("tunnel-request")
    t.add_argument("--to", required=True)
    t.add_argument("--bind")
    t.add_argument("--comm-id", type=lambda x: int(x, 0), required=True)
    t.add_argument("--k-tun", required=True)
    t.add_argument("--k-tmp", required=True)
    t.add_argument("--fqdn", required=True)
    t.add_argument("--vip4")
    t.add_argument("--vip6")
    t.add_argument("--peer-fqdn", required=True)
    t.add_argument("--peer-vip4")
    t.add_argument("--peer-vip6")
    t.add_argument("--cipher", type=int, default=2)
    t.add_argument("--seq", type=int, default=1)
    t.add_argument("--generation", type=lambda x: int(x, 0), action="append")
    t.add_argument("--txid", type=lambda x: int(x, 0), default=0)
    t.add_argument("--private", help="the opener's X25519 private key, 64 hex digits")
    t.add_argument("--index", type=lambda x: int(x, 0), default=0)
    t.add_argument("--dir", choices=("opener", "waiter"), default="opener")
    t.add_argument("--wait", type=float, default=2.0)

    g = sub.add_parser("garbage")
    g.add_argument("--to", required=True)
    g.add_argument("--bind")
    g.add_argument("--kind", default="short")
    g.add_argument("--count", type=int, default=10)
    g.add_argument("--len", type=int)
    g.add_argument("--seed", type=int)
    g.add_argument("--interval", type=float, default=0.0)

    e = sub.add_parser("expect-notice")
    e.add_argument("--to", required=True)
    e.add_argument("--bind")
    e.add_argument("--key-id", type=lambda x: int(x, 0), default=0)
    e.add_argument("--fqdn", default="nobody.ntm.test")
    e.add_argument("--timeout", type=float, default=10)

    for name in ("pcap", "replay"):
        c = sub.add_parser(name)
        c.add_argument("file")
        c.add_argument("--dst")
        c.add_argument("--src")
        c.add_argument("--kind")
        if name == "replay":
            c.add_argument("--to", required=True)
            c.add_argument("--bind")
            c.add_argument("--index", type=int, default=-1)
            c.add_argument("--count", type=int, default=1)

    c = sub.add_parser("summary")
    c.add_argument("file")
    c.add_argument("--port", type=int, default=7480)
    c.add_argument("--all", action="store_true", help="data messages too")
    c.add_argument("--name", action="append", help="ADDR=LABEL, e.g. 192.0.2.20=DC")

    c = sub.add_parser("decode")
    c.add_argument("hex")
    c.add_argument("--key")
    c.add_argument("--dir", choices=sorted(DIRECTIONS), default="dc")

    a = p.parse_args(argv)
    if not HAVE_CRYPTO and a.cmd not in ("pcap", "summary"):
        print("ntmsig.py: python3-cryptography is missing", file=sys.stderr)
        return 2
    try:
        return {"selftest": lambda _a: selftest(), "send": cmd_send, "flood": cmd_flood,
                "tunnel-request": cmd_tunnel_request,
                "garbage": cmd_garbage,
                "expect-notice": cmd_expect_notice, "pcap": cmd_pcap, "replay": cmd_replay,
                "summary": cmd_summary, "decode": cmd_decode}[a.cmd](a)
    except (ValueError, OSError) as ex:
        print("ntmsig.py %s: %s" % (a.cmd, ex), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
