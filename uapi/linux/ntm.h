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
 *   socket should set IPV6_V6ONLY).  The module takes a reference and installs
 *   its encap_rcv hook: NTM data messages are consumed, every other datagram
 *   (NTM signalling, the non-ESP marker, anything unknown) is left on the
 *   socket for its owner to read.  The socket stays the owner's: when the
 *   owner closes its last descriptor the module releases the socket.  The
 *   value -1 detaches the current socket.  A socket already used by another
 *   encapsulation is refused with -EBUSY.
 *   NTM_A_FLAGS (enum ntm_device_flags), NTM_A_FWMARK (mark of outer
 *   packets), NTM_A_ACQUIRE_QLEN (packets held for unknown destinations,
 *   0..NTM_ACQUIRE_QLEN_MAX).
 *
 * NTM_CMD_NEW_TUNNEL (doit)
 *   NTM_A_IFINDEX | NTM_A_IFNAME, NTM_A_TUNNEL with at least LOCAL_INDEX,
 *   REMOTE_INDEX, ENDPOINT, CIPHER, KEY, TX_SALT, RX_SALT and one of
 *   VIP4/VIP6.  Errors: -EEXIST when the local index or a virtual address is
 *   already used on the device, -EINVAL for a bad key length, salt equal in
 *   both directions, or an endpoint family with no socket adopted
 *   (-EADDRNOTAVAIL).  Packets queued for the new virtual addresses by the
 *   acquire mechanism are sent through the new tunnel at once.
 *
 * NTM_CMD_SET_TUNNEL (doit)
 *   NTM_A_TUNNEL with LOCAL_INDEX and any of ENDPOINT, FLAGS, LIFETIME.
 *   Keys are never changed in place: a rekey is a new tunnel.
 *
 * NTM_CMD_DEL_TUNNEL (doit)
 *   NTM_A_TUNNEL with LOCAL_INDEX.  -ENOENT when unknown.  Without
 *   NTM_A_TUNNEL, and with NTM_A_FLUSH, every tunnel of the device goes.
 *
 * NTM_CMD_GET_TUNNEL (doit or dump)
 *   doit: NTM_A_TUNNEL with LOCAL_INDEX, reply holds one NTM_A_TUNNEL.
 *   dump: every tunnel of the device in ascending LOCAL_INDEX order.  Each
 *   message carries NTM_A_IFINDEX and one or more NTM_A_TUNNEL attributes.
 *   A dump that spans several messages resumes after the last index sent,
 *   so tunnels added or removed meanwhile never cause duplicates.
 *   Keys are never reported.
 *
 * Events (multicast group NTM_GENL_MCGRP_EVENTS, same netns as the device)
 * ------
 * NTM_CMD_EVENT_ACQUIRE: a packet for a destination with no tunnel was seen
 *   and queued.  NTM_A_IFINDEX, NTM_A_INNER_DST, NTM_A_INNER_SRC (4 or 16
 *   bytes).  Rate-limited to one per destination per NTM_ACQUIRE_INTERVAL_MS.
 * NTM_CMD_EVENT_ENDPOINT: an authenticated packet arrived from a new outer
 *   source and the endpoint moved there.  NTM_A_IFINDEX, NTM_A_TUNNEL
 *   (LOCAL_INDEX, ENDPOINT).
 * NTM_CMD_EVENT_EXPIRED: a tunnel was removed by the kernel.  NTM_A_IFINDEX,
 *   NTM_A_TUNNEL (LOCAL_INDEX, REMOTE_INDEX), NTM_A_REASON
 *   (enum ntm_expire_reason).
 *
 * Wire format (see Documentation/protocol/data-message.rst)
 * -----------
 * struct ntm_data_hdr, then the inner IPv4/IPv6 packet encrypted with the
 * tunnel's AEAD, then a 16-byte tag.  AAD is the 16-byte header; the 12-byte
 * nonce is the direction's 4-byte salt followed by the big-endian counter.
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
/* Packets wait this long for their tunnel before they are dropped. */
#define NTM_ACQUIRE_TIMEOUT_MS		3000

enum ntm_cipher {
	NTM_CIPHER_NONE,
	NTM_CIPHER_AES_GCM,		/* gcm(aes); 16 or 32 byte key */
	NTM_CIPHER_CHACHA20_POLY1305,	/* rfc7539(chacha20,poly1305); 32 */
	__NTM_CIPHER_MAX,
};

enum ntm_device_flags {
	NTM_DEV_F_NO_ROAMING = 1U << 0,	/* never move endpoints on rx */
	NTM_DEV_F_NO_ACQUIRE = 1U << 1,	/* drop, do not queue or notify */
	__NTM_DEV_F_ALL = NTM_DEV_F_NO_ROAMING | NTM_DEV_F_NO_ACQUIRE,
};

enum ntm_tunnel_flags {
	NTM_TUNNEL_F_NO_ROAMING = 1U << 0,
	__NTM_TUNNEL_F_ALL = NTM_TUNNEL_F_NO_ROAMING,
};

enum ntm_expire_reason {
	NTM_EXPIRE_LIFETIME = 1,	/* NTM_TUNNEL_A_LIFETIME elapsed */
	NTM_EXPIRE_COUNTER = 2,		/* send counter reached the limit */
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
	NTM_TUNNEL_A_TX_COUNTER,	/* u64, next counter to send */
	NTM_TUNNEL_A_RX_COUNTER,	/* u64, highest accepted + 1, 0: none */
	NTM_TUNNEL_A_LAST_RX_NS,	/* u64, CLOCK_BOOTTIME of last rx, 0 */
	NTM_TUNNEL_A_AGE_S,		/* u32, seconds since creation */
	NTM_TUNNEL_A_STATS,		/* nest, enum ntm_stat_attr */
	NTM_TUNNEL_A_PAD,
	__NTM_TUNNEL_A_MAX,
};

#define NTM_TUNNEL_A_MAX (__NTM_TUNNEL_A_MAX - 1)

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
	NTM_STAT_A_KEEPALIVE_RX,	/* empty data messages */
	NTM_STAT_A_PAD,
	__NTM_STAT_A_MAX,
};

#define NTM_STAT_A_MAX (__NTM_STAT_A_MAX - 1)

#endif /* _UAPI_LINUX_NTM_H */
