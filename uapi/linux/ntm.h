/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * ntm.h - user-space API of the ntm (NTMobile) kernel module.
 *
 * This is the only header shared by ntm.ko and user space (ntmd, ntmctl).
 *
 * Generic netlink family "ntm", version 1 (NTM_GENL_NAME, NTM_GENL_VERSION).
 * All commands need CAP_NET_ADMIN in the user namespace that owns the
 * network namespace of the device (GENL_UNS_ADMIN_PERM).  A device is named
 * by NTM_A_IFINDEX or NTM_A_IFNAME, looked up in the caller's netns.
 *
 * Commands
 * --------
 * NTM_CMD_GET_DEVICE (doit)
 *   Request: NTM_A_IFINDEX | NTM_A_IFNAME.
 *   Reply:   NTM_A_IFINDEX, NTM_A_IFNAME, NTM_A_FLAGS, NTM_A_FWMARK,
 *            NTM_A_PORT4 / NTM_A_PORT6 (local UDP port of each adopted
 *            socket, absent when none), NTM_A_NUM_TUNNELS,
 *            NTM_A_ACQUIRE_QLEN, NTM_A_STATS (device totals).
 *
 * NTM_CMD_SET_DEVICE (doit)
 *   NTM_A_UDP4_FD / NTM_A_UDP6_FD: a file descriptor, in the caller's
 *   process, of a bound UDP socket (AF_INET, resp. AF_INET6 -- an AF_INET6
 *   socket should set IPV6_V6ONLY: without it, data and ESP packets from
 *   IPv4 sources are dropped, NTM_STAT_A_DROP_MAPPED, D76).  The module
 *   takes a reference and installs its encap_rcv hook: NTM data messages
 *   are consumed, every other datagram
 *   (NTM signalling, the non-ESP marker, anything unknown) is left on the
 *   socket for its owner to read.  The socket stays the owner's: when the
 *   owner closes its last descriptor the module releases the socket.  The
 *   value -1 detaches the current socket.  A socket already used by another
 *   encapsulation is refused with -EBUSY; the socket the device already
 *   uses is accepted as is.  Make before break: every descriptor of the
 *   request is checked and hooked before any is published, so a refused
 *   request leaves both old sockets attached and working; on success the
 *   new socket replaces the old one, the tunnels' cached routes are
 *   dropped (they were computed for the old binding), and the old socket
 *   is released.  A released socket (replaced, detached, or its device
 *   deleted) is a plain UDP socket again: hooks, sk_user_data, multicast
 *   loopback and checksum conversion are restored.  Each adopted socket
 *   holds a reference on the module, so the module cannot be unloaded
 *   while sockets are adopted; deleting the devices or closing or
 *   detaching the sockets releases them (D77).
 *   Once the device has an ESP tunnel, the RFC 3948 rules apply on top: a
 *   one-byte 0xff datagram is a NAT keepalive, consumed and counted in
 *   KEEPALIVE_RX; a first word of NTM_ESP_SPI_MIN or more is an ESP SPI,
 *   consumed (a DROP_NO_TUNNEL when no ESP tunnel has it as LOCAL_INDEX).
 *   The non-ESP marker (first word 0, IKE) is always left to the owner.
 *   NTM_A_FLAGS (enum ntm_device_flags), NTM_A_FWMARK (mark of outer
 *   packets), NTM_A_ACQUIRE_QLEN (packets held for unknown destinations,
 *   0..NTM_ACQUIRE_QLEN_MAX; also 4096 bytes of truesize per packet, and
 *   one destination at most an eighth of both, at least 4 packets).
 *
 * NTM_CMD_NEW_TUNNEL (doit)
 *   NTM_A_IFINDEX | NTM_A_IFNAME, NTM_A_TUNNEL with at least LOCAL_INDEX,
 *   REMOTE_INDEX, ENDPOINT, CIPHER, KEY, TX_SALT, RX_SALT and one of
 *   VIP4/VIP6.  Errors: -EEXIST when the local index or a virtual address is
 *   already used on the device, -EINVAL for a bad key length, salt equal in
 *   both directions, or an endpoint family with no socket adopted
 *   (-EADDRNOTAVAIL).  Packets queued for the new virtual addresses by the
 *   acquire mechanism are sent through the new tunnel at once.
 *   Optional: ENCAP (default NTM_ENCAP_NTM), FLAGS, LIFETIME (hard),
 *   SOFT_LIFETIME, SOFT_BYTES, HARD_BYTES, SOFT_PACKETS, HARD_PACKETS (a
 *   soft limit must be below its hard one), TX_COUNTER (the first counter
 *   to send: NTM 0..NTM_COUNTER_LIMIT-1, default 0; ESP 1..2^32-1, with
 *   ESN 1..NTM_COUNTER_LIMIT-1, default 1 -- for tests and for restoring
 *   state; never reuse a counter under one key).
 *   ESP tunnels (ENCAP = NTM_ENCAP_ESP_UDP) instead need LOCAL_INDEX and
 *   REMOTE_INDEX >= NTM_ESP_SPI_MIN (inbound / outbound SPI), KEY and
 *   RX_KEY (16, 24 or 32 bytes for AES-GCM, 32 for ChaCha20-Poly1305),
 *   TX_SALT and RX_SALT, REMOTE_TS with 1..NTM_TS_MAX prefixes; LOCAL_TS
 *   (0..NTM_TS_MAX) and ESN are optional; VIP4/VIP6 are refused.  The same
 *   key and salt in both directions is refused.  A traffic selector is a
 *   struct ntm_prefix of family AF_INET or AF_INET6 with no host bits set.
 *   ESN, RX_KEY, REMOTE_TS and LOCAL_TS are refused on NTM tunnels.
 *   Packets queued by the acquire mechanism for destinations inside
 *   REMOTE_TS leave through a new ESP tunnel at once.
 *   Make-before-break rekey: REPLACES names the LOCAL_INDEX of an active
 *   tunnel of the device of the same kind, the predecessor; the new tunnel,
 *   the successor, must carry exactly its VIP4/VIP6 set (an ESP successor:
 *   any selectors) and has its own new LOCAL_INDEX and keys.  It receives
 *   on its index at once and is PENDING (sends nothing) until it takes
 *   over: with TAKEOVER = NTM_TAKEOVER_NOW at once, with
 *   NTM_TAKEOVER_ON_RX (default) on its first authenticated
 *   (decrypted, replay-checked) packet.  The takeover replaces the
 *   predecessor in the virtual-address lookup atomically (no packet finds
 *   no tunnel, no acquire) and retires it: a RETIRED tunnel never sends but
 *   still decrypts what arrives under the old key until it is deleted or
 *   its own lifetime ends; it sends no soft expiry any more.  A successor
 *   can be replaced once it is active.  Errors: -ENOENT unknown
 *   predecessor; -EINVAL when one is an ESP tunnel and the other not, the
 *   virtual addresses differ or REPLACES equals LOCAL_INDEX; -EBUSY when the predecessor
 *   already has a pending successor, is pending itself or is retired.
 *   Held new tunnel (NTM tunnels only): TAKEOVER = NTM_TAKEOVER_ON_RX
 *   without REPLACES creates a tunnel that receives at once but is PENDING
 *   until its peer's first authenticated packet (or SET_TUNNEL with
 *   TAKEOVER NOW) confirms it: the responder of a key exchange uses it so
 *   that nothing it sends reaches a peer that has not installed the key
 *   yet.  Its virtual addresses are taken at once; packets sent to them
 *   wait in the acquire queue (NTM_ACQUIRE_QLEN, NTM_ACQUIRE_TIMEOUT_MS, no
 *   ACQUIRE event) and leave through the tunnel when it is confirmed
 *   (NTM_CMD_EVENT_TAKEOVER with REPLACES 0, NTM_STAT_A_CONFIRMED).  A
 *   held tunnel cannot be replaced until it is confirmed.  TAKEOVER NOW
 *   without REPLACES is a plain new tunnel.
 *
 * NTM_CMD_SET_TUNNEL (doit)
 *   NTM_A_TUNNEL with LOCAL_INDEX and any of ENDPOINT (for ESP: MOBIKE,
 *   RFC 4555, moves the SA pair), FLAGS, LIFETIME, SOFT_LIFETIME,
 *   SOFT_BYTES, HARD_BYTES, SOFT_PACKETS, HARD_PACKETS (each replaces its
 *   value, 0 removes the limit; lifetimes count from creation).
 *   Keys are never changed in place: a rekey is a new tunnel (see REPLACES
 *   in NEW_TUNNEL).  REMOTE_INDEX, VIP4/VIP6, CIPHER, KEY, RX_KEY, salts,
 *   ENCAP, ESN, traffic selectors, TX_COUNTER and REPLACES are refused.
 *   TAKEOVER = NTM_TAKEOVER_NOW makes a pending tunnel (a successor, or a
 *   held new tunnel) send at once, as if its peer's first packet had
 *   arrived; on an active tunnel it does nothing.  -EINVAL for
 *   NTM_TAKEOVER_ON_RX or a retired tunnel.
 *
 * NTM_CMD_DEL_TUNNEL (doit)
 *   NTM_A_TUNNEL with LOCAL_INDEX.  -ENOENT when unknown.  Without
 *   NTM_A_TUNNEL, and with NTM_A_FLUSH, every tunnel of the device goes.
 *   Deleting a predecessor whose successor is pending makes the successor
 *   take over at once (NTM_CMD_EVENT_TAKEOVER); deleting a pending
 *   successor leaves its predecessor as it was.  A flush takes everything
 *   away without takeovers.
 *
 * NTM_CMD_GET_TUNNEL (doit or dump)
 *   doit: NTM_A_TUNNEL with LOCAL_INDEX, reply holds one NTM_A_TUNNEL.
 *   dump: every tunnel of the device in ascending LOCAL_INDEX order.  Each
 *   message carries NTM_A_IFINDEX and one or more NTM_A_TUNNEL attributes.
 *   A dump that spans several messages resumes after the last index sent,
 *   so tunnels added or removed meanwhile never cause duplicates.
 *   Keys are never reported.  ESP tunnels also carry ENCAP, ESN (when
 *   set), REMOTE_TS and LOCAL_TS (when given); every tunnel reports
 *   SOFT_LIFETIME and the four byte/packet limits (0: none).  Every tunnel
 *   reports STATE (enum ntm_tunnel_state); a pending successor also
 *   REPLACES, its predecessor's local index.
 *
 * NTM_CMD_NEW_RELAY (doit)
 *   Relay Server fast path (Documentation/protocol/relay-data.rst): a
 *   relay session joins two legs; NTM data messages from one leg go to the
 *   other with only the outer IP/UDP headers rewritten, never decrypted.
 *   NTM_A_IFINDEX | NTM_A_IFNAME, NTM_A_RELAY with ID (u32 != 0, chosen by
 *   user space, unique per device) and exactly two NTM_RELAY_A_LEG nests,
 *   each with ENDPOINT (struct sockaddr_in or _in6, unicast, not IPv6
 *   link-local) and INDEX (u32 != 0: the receiver index that leg's node
 *   chose, i.e. the index the *other* leg puts in its messages); SIDE
 *   (1 or 2) is optional and must then match the position.  The legs may
 *   be of different families (IPv4 leg facing an IPv6 leg); each needs an
 *   adopted socket of its family (-EADDRNOTAVAIL).  Optional: HARD_BYTES,
 *   HARD_PACKETS (UDP payload bytes / datagrams of both directions
 *   together, 0: none) and IDLE_TIMEOUT (seconds without a datagram in
 *   either direction, 0: none).  Forwarding is keyed on (source address,
 *   source port, receiver index): leg 1 = (ep1, idx1), leg 2 = (ep2, idx2)
 *   installs (ep1, idx2) -> ep2 and (ep2, idx1) -> ep1.  Errors: -EEXIST
 *   for a used ID or a key another session already installs, -EINVAL for
 *   two equal keys, -ENOSPC when the device carries NTM_A_MAX_RELAYS
 *   sessions (counted in NTM_STAT_A_RELAY_REFUSED).
 *
 * NTM_CMD_SET_RELAY (doit)
 *   NTM_A_RELAY with ID and any of HARD_BYTES, HARD_PACKETS, IDLE_TIMEOUT
 *   (each replaces its value; 0 removes it) and up to two NTM_RELAY_A_LEG
 *   nests with SIDE and ENDPOINT: the leg moves there (ntmd does this after
 *   it authenticated the node from its new address; the kernel never moves
 *   a leg by itself).  A leg's INDEX never changes: a new index is a new
 *   session.  Counters are kept.
 *
 * NTM_CMD_DEL_RELAY (doit)
 *   NTM_A_RELAY with ID (-ENOENT when unknown), or NTM_A_FLUSH without
 *   NTM_A_RELAY: every relay session of the device goes.  No event.
 *
 * NTM_CMD_GET_RELAY (doit or dump)
 *   doit: NTM_A_RELAY with ID; the reply holds one NTM_A_RELAY.  dump: every
 *   session of the device in ascending ID order, several NTM_A_RELAY per
 *   message, resuming after the last ID sent.  A session reports ID, both
 *   legs (SIDE, ENDPOINT, INDEX, RX_PACKETS, RX_BYTES: what arrived from
 *   that leg and was accepted for forwarding), HARD_BYTES, HARD_PACKETS,
 *   IDLE_TIMEOUT, AGE_S, IDLE_S (seconds since the last datagram, or since
 *   creation), DROP_SRC (always 0: source mismatches are counted per device
 *   in NTM_STAT_A_DROP_RELAY_SRC) and DROP_TX (forwarding failed: no
 *   socket, no route, no memory).
 *
 * NTM_A_MAX_RELAYS (SET_DEVICE, GET_DEVICE) bounds the relay sessions of a
 * device (default NTM_RELAY_MAX_DEFAULT, at most NTM_RELAY_MAX_LIMIT);
 * lowering it below the current number removes nothing.  GET_DEVICE also
 * reports NTM_A_NUM_RELAYS.
 *
 * NTM_A_MAX_TUNNELS (SET_DEVICE, GET_DEVICE) bounds the tunnels of a device
 * (default NTM_TUNNEL_MAX_DEFAULT, at most NTM_TUNNEL_MAX_LIMIT): a
 * NEW_TUNNEL without REPLACES is refused with -ENOSPC once the device
 * carries that many tunnels, a successor (REPLACES) only at twice that
 * many, so that a rekey still works at the limit while the predecessors
 * wait for deletion.  Refusals are counted in NTM_STAT_A_TUNNEL_REFUSED;
 * lowering the limit below the current number removes nothing.
 *
 * Events (multicast group NTM_GENL_MCGRP_EVENTS, same netns as the device)
 * ------
 * NTM_CMD_EVENT_ACQUIRE: a packet for a destination with no tunnel was seen
 *   and queued.  NTM_A_IFINDEX, NTM_A_INNER_DST, NTM_A_INNER_SRC (4 or 16
 *   bytes).  Rate-limited to one per destination per NTM_ACQUIRE_INTERVAL_MS.
 * NTM_CMD_EVENT_ENDPOINT: an authenticated packet arrived from a new outer
 *   source and the endpoint moved there.  NTM_A_IFINDEX, NTM_A_TUNNEL
 *   (LOCAL_INDEX, ENDPOINT).  At most one per tunnel per
 *   NTM_ROAM_EVENT_INTERVAL_MS: a move within the interval is not
 *   reported (counted in NTM_STAT_A_ROAM_EVENT_SUPPRESSED, the endpoint
 *   moves all the same), and the first authenticated packet after the
 *   interval then reports the endpoint of that moment, moved or not.
 * NTM_CMD_EVENT_EXPIRED: a tunnel was removed by the kernel, or (soft
 *   reasons, at most once per tunnel) reached a soft limit and stays.
 *   NTM_A_IFINDEX, NTM_A_TUNNEL (LOCAL_INDEX, REMOTE_INDEX), NTM_A_REASON
 *   (enum ntm_expire_reason).  Byte and packet limits count inner bytes
 *   and packets of each direction separately; reaching one in either
 *   direction triggers it, and the packet that reaches a hard limit is the
 *   last one through.
 * NTM_CMD_EVENT_TAKEOVER: a successor took its predecessor's place and now
 *   sends (TAKEOVER NOW at once, ON_RX on its first authenticated packet,
 *   or because the predecessor was deleted or expired); the predecessor is
 *   retired.  Also sent, with REPLACES 0, when a held new tunnel is
 *   confirmed.  NTM_A_IFINDEX, NTM_A_TUNNEL (LOCAL_INDEX and REMOTE_INDEX of
 *   the successor, REPLACES = the predecessor's local index).  May be sent
 *   from the packet path; an event that cannot be allocated is lost and
 *   counted in NTM_STAT_A_EVENT_NOMEM (any event).
 * NTM_CMD_EVENT_RELAY_EXPIRED: the kernel removed a relay session.
 *   NTM_A_IFINDEX, NTM_A_RELAY (as in a GET_RELAY reply: ID, legs, final
 *   counters), NTM_A_REASON: NTM_EXPIRE_HARD_BYTES, NTM_EXPIRE_HARD_PACKETS
 *   (the datagram that reaches the limit is the last one forwarded) or
 *   NTM_EXPIRE_IDLE (no datagram for IDLE_TIMEOUT seconds; checked every
 *   NTM_RELAY_SCAN_S seconds, so removal comes up to that much later).
 *
 * Wire format (see Documentation/protocol/data-message.rst)
 * -----------
 * struct ntm_data_hdr, then the inner IPv4/IPv6 packet encrypted with the
 * tunnel's AEAD, then a 16-byte tag.  AAD is the 16-byte header; the 12-byte
 * nonce is the direction's 4-byte salt followed by the big-endian counter.
 * ESP tunnels send RFC 4303 tunnel-mode ESP in UDP (RFC 3948); see
 * Documentation/protocol/esp-udp.rst.
 */
#ifndef _UAPI_LINUX_NTM_H
#define _UAPI_LINUX_NTM_H

#include <linux/types.h>

#define NTM_GENL_NAME		"ntm"
#define NTM_GENL_VERSION	1
#define NTM_GENL_MCGRP_EVENTS	"events"

/** NTM_LINK_KIND - rtnetlink link kind: ip link add ntm0 type ntm */
#define NTM_LINK_KIND		"ntm"

/*
 * Message types: the first 32-bit word of every NTM datagram, big endian.
 * Values 1..255 are reserved ESP SPIs (RFC 4303 section 2.1) and 0 is the
 * non-ESP marker (RFC 3948), so NTM, ESP and IKE can share one UDP port.
 */
enum ntm_msg_type {
	NTM_MSG_DATA = 0x01,		/* consumed by the kernel */
	NTM_MSG_SIGNAL_MIN = 0x10,	/* 0x10..0xff: signalling, for ntmd */
	NTM_MSG_TYPE_MAX = 0xff,
};

/**
 * struct ntm_data_hdr - header of an NTM data message
 * @type: NTM_MSG_DATA, big endian 32 bit
 * @receiver: receiver index chosen by the receiving side
 * @counter: per-direction message counter, never repeats for a key
 */
struct ntm_data_hdr {
	__be32 type;
	__be32 receiver;
	__be64 counter;
};

#define NTM_DATA_HDR_LEN	16
#define NTM_AEAD_TAG_LEN	16
#define NTM_SALT_LEN		4
/* Counters at or above this are never sent: the tunnel expires first. */
#define NTM_COUNTER_LIMIT	(~0ULL - 8192ULL)
/* Counters this far behind the highest accepted one are still accepted. */
#define NTM_REPLAY_WINDOW	2048
#define NTM_ACQUIRE_QLEN_DEFAULT	64
#define NTM_ACQUIRE_QLEN_MAX		4096
#define NTM_ACQUIRE_INTERVAL_MS		1000
/*
 * Endpoint events of one tunnel are at least this far apart; the endpoint
 * itself still follows every authenticated packet.
 */
#define NTM_ROAM_EVENT_INTERVAL_MS	1000
/* Packets wait this long for their tunnel before they are dropped. */
#define NTM_ACQUIRE_TIMEOUT_MS		3000
/* Relay sessions per device: default and largest NTM_A_MAX_RELAYS. */
#define NTM_RELAY_MAX_DEFAULT		131072
#define NTM_RELAY_MAX_LIMIT		16777216
/* Tunnels per device: default and largest NTM_A_MAX_TUNNELS. */
#define NTM_TUNNEL_MAX_DEFAULT		131072
#define NTM_TUNNEL_MAX_LIMIT		16777216
/* Largest NTM_RELAY_A_IDLE_TIMEOUT: one week. */
#define NTM_RELAY_IDLE_MAX		604800
/* Idle relay sessions are looked for this often (seconds). */
#define NTM_RELAY_SCAN_S		2

enum ntm_cipher {
	NTM_CIPHER_NONE,
	NTM_CIPHER_AES_GCM,		/* gcm(aes); 16 or 32 byte key */
	NTM_CIPHER_CHACHA20_POLY1305,	/* rfc7539(chacha20,poly1305); 32 */
	__NTM_CIPHER_MAX,
};

/*
 * Encapsulations of a tunnel.  NTM_ENCAP_ESP_UDP is an ESP tunnel-mode SA
 * pair (RFC 4303) in UDP (RFC 3948): LOCAL_INDEX is the inbound SPI and
 * REMOTE_INDEX the outbound SPI (both >= NTM_ESP_SPI_MIN); KEY/TX_SALT are
 * the outbound SA's AEAD key and 4-byte salt, RX_KEY/RX_SALT the inbound
 * SA's.  AES-GCM runs as rfc4106(gcm(aes)) with a 16-byte ICV,
 * ChaCha20-Poly1305 as rfc7539esp(chacha20,poly1305).  Packets go to the
 * peer by longest match of the inner destination on REMOTE_TS (the newest
 * SA wins a tie, so a rekeyed SA takes over as soon as it is added) among
 * the active SAs whose LOCAL_TS (when given) holds the inner source; a
 * packet no SA accepts goes to acquire (NTM_STAT_A_TX_TS_REFUSED counts
 * those refused for their source alone).  An inbound packet's inner source
 * must lie in REMOTE_TS and its inner destination in LOCAL_TS (when given).
 */
enum ntm_encap {
	NTM_ENCAP_NTM,			/* NTM data message (default) */
	NTM_ENCAP_ESP_UDP,		/* ESP tunnel mode in UDP */
	__NTM_ENCAP_MAX,
};

#define NTM_ESP_SPI_MIN		256
/* Traffic selectors per direction and tunnel. */
#define NTM_TS_MAX		8

/**
 * struct ntm_prefix - one traffic selector, as an address prefix
 * @family: AF_INET or AF_INET6
 * @prefixlen: 0..32 or 0..128; host bits of @addr must be zero
 * @reserved: zero
 * @addr: 4 (IPv4, rest zero) or 16 bytes, network order
 */
struct ntm_prefix {
	__u8 family;
	__u8 prefixlen;
	__u8 reserved[2];
	__u8 addr[16];
};

enum ntm_device_flags {
	NTM_DEV_F_NO_ROAMING = 1U << 0,	/* never move endpoints on rx */
	NTM_DEV_F_NO_ACQUIRE = 1U << 1,	/* drop, do not queue or notify */
	__NTM_DEV_F_ALL = NTM_DEV_F_NO_ROAMING | NTM_DEV_F_NO_ACQUIRE,
};

/*
 * When a successor (NTM_TUNNEL_A_REPLACES) takes its predecessor's place
 * in the virtual-address lookup, i.e. starts to transmit; without
 * REPLACES, ON_RX holds a new tunnel until its peer's first packet.
 */
enum ntm_takeover {
	NTM_TAKEOVER_ON_RX = 0,		/* on its first authenticated packet */
	NTM_TAKEOVER_NOW = 1,		/* at once, when it is added */
	__NTM_TAKEOVER_MAX,
};

/* NTM_TUNNEL_A_STATE: where a tunnel is in a make-before-break rekey. */
enum ntm_tunnel_state {
	NTM_TUNNEL_STATE_ACTIVE = 0,	/* transmits and receives */
	NTM_TUNNEL_STATE_PENDING = 1,	/* successor: receives, not yet sends */
	NTM_TUNNEL_STATE_RETIRED = 2,	/* replaced: receives only, until deleted */
	__NTM_TUNNEL_STATE_MAX,
};

enum ntm_tunnel_flags {
	NTM_TUNNEL_F_NO_ROAMING = 1U << 0,
	__NTM_TUNNEL_F_ALL = NTM_TUNNEL_F_NO_ROAMING,
};

/*
 * Hard reasons remove the tunnel; soft ones (>= NTM_EXPIRE_SOFT_TIME) are
 * sent once per tunnel and leave it in place, so ntmd can rekey first.
 */
enum ntm_expire_reason {
	NTM_EXPIRE_LIFETIME = 1,	/* NTM_TUNNEL_A_LIFETIME elapsed */
	NTM_EXPIRE_COUNTER = 2,		/* send counter reached the limit */
	NTM_EXPIRE_HARD_BYTES = 3,	/* NTM_TUNNEL_A_HARD_BYTES reached */
	NTM_EXPIRE_HARD_PACKETS = 4,	/* NTM_TUNNEL_A_HARD_PACKETS reached */
	NTM_EXPIRE_IDLE = 5,		/* relay: NTM_RELAY_A_IDLE_TIMEOUT */
	NTM_EXPIRE_SOFT_TIME = 16,	/* NTM_TUNNEL_A_SOFT_LIFETIME elapsed */
	NTM_EXPIRE_SOFT_BYTES = 17,
	NTM_EXPIRE_SOFT_PACKETS = 18,
};

enum ntm_cmd {
	NTM_CMD_UNSPEC,
	NTM_CMD_GET_DEVICE,
	NTM_CMD_SET_DEVICE,
	NTM_CMD_NEW_TUNNEL,
	NTM_CMD_SET_TUNNEL,
	NTM_CMD_DEL_TUNNEL,
	NTM_CMD_GET_TUNNEL,
	NTM_CMD_EVENT_ACQUIRE,
	NTM_CMD_EVENT_ENDPOINT,
	NTM_CMD_EVENT_EXPIRED,
	NTM_CMD_NEW_RELAY,
	NTM_CMD_SET_RELAY,
	NTM_CMD_DEL_RELAY,
	NTM_CMD_GET_RELAY,
	NTM_CMD_EVENT_RELAY_EXPIRED,
	NTM_CMD_EVENT_TAKEOVER,
	__NTM_CMD_MAX,
};

#define NTM_CMD_MAX (__NTM_CMD_MAX - 1)

enum ntm_attr {
	NTM_A_UNSPEC,
	NTM_A_IFINDEX,		/* u32 */
	NTM_A_IFNAME,		/* NUL-terminated string, < IFNAMSIZ */
	NTM_A_UDP4_FD,		/* s32, -1 detaches */
	NTM_A_UDP6_FD,		/* s32, -1 detaches */
	NTM_A_PORT4,		/* u16, host order, read only */
	NTM_A_PORT6,		/* u16, host order, read only */
	NTM_A_FLAGS,		/* u32, enum ntm_device_flags */
	NTM_A_FWMARK,		/* u32 */
	NTM_A_ACQUIRE_QLEN,	/* u32 */
	NTM_A_NUM_TUNNELS,	/* u32, read only */
	NTM_A_STATS,		/* nest, enum ntm_stat_attr */
	NTM_A_TUNNEL,		/* nest, enum ntm_tunnel_attr; may repeat */
	NTM_A_INNER_DST,	/* binary, 4 or 16 bytes */
	NTM_A_INNER_SRC,	/* binary, 4 or 16 bytes */
	NTM_A_REASON,		/* u32, enum ntm_expire_reason */
	NTM_A_FLUSH,		/* flag */
	NTM_A_PAD,
	NTM_A_RELAY,		/* nest, enum ntm_relay_attr; may repeat */
	NTM_A_MAX_RELAYS,	/* u32, 0..NTM_RELAY_MAX_LIMIT */
	NTM_A_NUM_RELAYS,	/* u32, read only */
	NTM_A_MAX_TUNNELS,	/* u32, 0..NTM_TUNNEL_MAX_LIMIT */
	__NTM_A_MAX,
};

#define NTM_A_MAX (__NTM_A_MAX - 1)

enum ntm_tunnel_attr {
	NTM_TUNNEL_A_UNSPEC,
	NTM_TUNNEL_A_LOCAL_INDEX,	/* u32, != 0: index peers send to us */
	NTM_TUNNEL_A_REMOTE_INDEX,	/* u32, != 0: index we send */
	NTM_TUNNEL_A_ENDPOINT,		/* struct sockaddr_in or _in6 */
	NTM_TUNNEL_A_VIP4,		/* 4 bytes: peer virtual IPv4 */
	NTM_TUNNEL_A_VIP6,		/* 16 bytes: peer virtual IPv6 */
	NTM_TUNNEL_A_CIPHER,		/* u16, enum ntm_cipher */
	NTM_TUNNEL_A_KEY,		/* binary, write only */
	NTM_TUNNEL_A_TX_SALT,		/* 4 bytes, write only */
	NTM_TUNNEL_A_RX_SALT,		/* 4 bytes, write only */
	NTM_TUNNEL_A_LIFETIME,		/* u32 seconds from creation, 0 none */
	NTM_TUNNEL_A_FLAGS,		/* u32, enum ntm_tunnel_flags */
	NTM_TUNNEL_A_TX_COUNTER,	/* u64, next counter to send; create only */
	NTM_TUNNEL_A_RX_COUNTER,	/* u64, highest accepted + 1, 0: none */
	NTM_TUNNEL_A_LAST_RX_NS,	/* u64, CLOCK_BOOTTIME of last rx, 0 */
	NTM_TUNNEL_A_AGE_S,		/* u32, seconds since creation */
	NTM_TUNNEL_A_STATS,		/* nest, the tunnel's ntm_stat_attr */
	NTM_TUNNEL_A_PAD,
	NTM_TUNNEL_A_ENCAP,		/* u8, enum ntm_encap; create only */
	NTM_TUNNEL_A_RX_KEY,		/* binary, write only; ESP inbound key */
	NTM_TUNNEL_A_ESN,		/* flag: 64-bit extended sequence numbers */
	NTM_TUNNEL_A_REMOTE_TS,		/* nest of NTM_TS_A_PREFIX */
	NTM_TUNNEL_A_LOCAL_TS,		/* nest of NTM_TS_A_PREFIX */
	NTM_TUNNEL_A_SOFT_LIFETIME,	/* u32 seconds from creation, 0 none */
	NTM_TUNNEL_A_SOFT_BYTES,	/* u64 inner bytes in either direction */
	NTM_TUNNEL_A_HARD_BYTES,	/* u64, 0: no limit */
	NTM_TUNNEL_A_SOFT_PACKETS,	/* u64 packets in either direction */
	NTM_TUNNEL_A_HARD_PACKETS,	/* u64, 0: no limit */
	NTM_TUNNEL_A_REPLACES,		/* u32: predecessor's LOCAL_INDEX */
	NTM_TUNNEL_A_TAKEOVER,		/* u8, enum ntm_takeover; create only */
	NTM_TUNNEL_A_STATE,		/* u8, enum ntm_tunnel_state; read only */
	__NTM_TUNNEL_A_MAX,
};

#define NTM_TUNNEL_A_MAX (__NTM_TUNNEL_A_MAX - 1)

enum ntm_ts_attr {
	NTM_TS_A_UNSPEC,
	NTM_TS_A_PREFIX,		/* struct ntm_prefix; repeats */
	__NTM_TS_A_MAX,
};

#define NTM_TS_A_MAX (__NTM_TS_A_MAX - 1)

/*
 * A relay session (NTM_A_RELAY).  Counters count UDP payload bytes (the
 * whole NTM message) and datagrams.
 */
enum ntm_relay_attr {
	NTM_RELAY_A_UNSPEC,
	NTM_RELAY_A_ID,			/* u32, != 0, unique per device */
	NTM_RELAY_A_LEG,		/* nest, enum ntm_relay_leg_attr; twice */
	NTM_RELAY_A_HARD_BYTES,		/* u64, both directions, 0: none */
	NTM_RELAY_A_HARD_PACKETS,	/* u64, both directions, 0: none */
	NTM_RELAY_A_IDLE_TIMEOUT,	/* u32 s, 0: none, <= NTM_RELAY_IDLE_MAX */
	NTM_RELAY_A_AGE_S,		/* u32, read only: since creation */
	NTM_RELAY_A_IDLE_S,		/* u32, read only: since last datagram */
	NTM_RELAY_A_DROP_SRC,		/* u64, read only: always 0 */
	NTM_RELAY_A_DROP_TX,		/* u64, read only: forwarding failed */
	NTM_RELAY_A_PAD,
	__NTM_RELAY_A_MAX,
};

#define NTM_RELAY_A_MAX (__NTM_RELAY_A_MAX - 1)

enum ntm_relay_leg_attr {
	NTM_RELAY_LEG_A_UNSPEC,
	NTM_RELAY_LEG_A_SIDE,		/* u8, 1 or 2: which leg */
	NTM_RELAY_LEG_A_ENDPOINT,	/* struct sockaddr_in or _in6 */
	NTM_RELAY_LEG_A_INDEX,		/* u32, != 0: this leg's receiver index */
	NTM_RELAY_LEG_A_RX_PACKETS,	/* u64, read only: from this leg */
	NTM_RELAY_LEG_A_RX_BYTES,	/* u64, read only */
	NTM_RELAY_LEG_A_PAD,
	__NTM_RELAY_LEG_A_MAX,
};

#define NTM_RELAY_LEG_A_MAX (__NTM_RELAY_LEG_A_MAX - 1)

/*
 * Counters, all u64.  Device totals include the per-tunnel ones plus the
 * drops that cannot be charged to a tunnel.
 */
enum ntm_stat_attr {
	NTM_STAT_A_UNSPEC,
	NTM_STAT_A_RX_PACKETS,
	NTM_STAT_A_RX_BYTES,		/* inner bytes */
	NTM_STAT_A_TX_PACKETS,
	NTM_STAT_A_TX_BYTES,		/* inner bytes */
	NTM_STAT_A_DROP_REPLAY,		/* counter seen or left of window */
	NTM_STAT_A_DROP_AUTH,		/* AEAD verification failed */
	NTM_STAT_A_DROP_NO_TUNNEL,	/* unknown receiver index/destination */
	NTM_STAT_A_DROP_MALFORMED,	/* short, bad inner header */
	NTM_STAT_A_DROP_INNER_SRC,	/* inner source is not the peer's VIP */
	NTM_STAT_A_DROP_NOMEM,
	NTM_STAT_A_DROP_TX_ERROR,	/* no route, no socket, send failure */
	NTM_STAT_A_DROP_EXPIRED,	/* tunnel past its lifetime/counter */
	NTM_STAT_A_DROP_ACQUIRE,	/* acquire queue full or timed out */
	NTM_STAT_A_ACQUIRE_QUEUED,
	NTM_STAT_A_PASSED_UP,		/* non-data datagrams left to owner */
	NTM_STAT_A_ROAMED,		/* endpoint updates */
	NTM_STAT_A_KEEPALIVE_RX,	/* empty data messages, 0xff keepalives */
	NTM_STAT_A_PAD,
	/* appended after NTM_STAT_A_PAD, which keeps its value */
	NTM_STAT_A_DROP_TS,		/* ESP: inner address outside the TS */
	NTM_STAT_A_DUMMY_RX,		/* ESP: next header 59 (TFC), discarded */
	/* relay sessions (device totals only) */
	NTM_STAT_A_RELAY_RX_PACKETS,	/* datagrams matched to a relay leg */
	NTM_STAT_A_RELAY_RX_BYTES,	/* their UDP payload bytes */
	NTM_STAT_A_RELAY_TX_PACKETS,	/* datagrams forwarded */
	NTM_STAT_A_RELAY_TX_BYTES,
	NTM_STAT_A_DROP_RELAY_SRC,	/* relay index from a non-leg source */
	NTM_STAT_A_DROP_RELAY_LIMIT,	/* session past a limit, being removed */
	NTM_STAT_A_DROP_RELAY_TX,	/* no socket, no route, no memory */
	NTM_STAT_A_RELAY_REFUSED,	/* NEW_RELAY beyond NTM_A_MAX_RELAYS */
	NTM_STAT_A_RELAY_EXPIRED,	/* sessions removed by limit or idleness */
	/* rekey (device totals only) */
	NTM_STAT_A_TAKEOVER,		/* successors that took their predecessor's place */
	NTM_STAT_A_EVENT_NOMEM,		/* events lost: no memory for the message */
	NTM_STAT_A_CONFIRMED,		/* held new tunnels confirmed (see TAKEOVER) */
	NTM_STAT_A_DROP_ECN,		/* outer CE on a not-ECT inner packet (RFC 6040) */
	NTM_STAT_A_TUNNEL_REFUSED,	/* NEW_TUNNEL beyond NTM_A_MAX_TUNNELS */
	NTM_STAT_A_ROAM_EVENT_SUPPRESSED, /* endpoint moves not reported at once */
	NTM_STAT_A_DROP_MAPPED,		/* IPv4 source on a dual-stack AF_INET6 socket */
	NTM_STAT_A_TX_TS_REFUSED,	/* ESP: destination in a REMOTE_TS, source in no LOCAL_TS */
	/* acquire queue drops by reason; DROP_ACQUIRE stays their total */
	NTM_STAT_A_DROP_ACQUIRE_FULL,	/* device packet or byte bound reached */
	NTM_STAT_A_DROP_ACQUIRE_DST,	/* the destination's share reached */
	NTM_STAT_A_DROP_ACQUIRE_TIMEOUT, /* no tunnel within NTM_ACQUIRE_TIMEOUT_MS */
	__NTM_STAT_A_MAX,
};

#define NTM_STAT_A_MAX (__NTM_STAT_A_MAX - 1)

#endif /* _UAPI_LINUX_NTM_H */
