/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ntm.h - internal declarations shared by the files of ntm.ko.
 *
 * Object lifetimes in one place, because every file depends on them:
 *
 *  - struct ntm_dev lives in netdev_priv() of an "ntm" link.  Packets in
 *    flight through asynchronous crypto hold a reference on the net_device,
 *    so unregister_netdevice() waits for them and the module cannot go away
 *    under a pending completion.
 *  - struct ntm_tunnel is reference counted.  The device's tables own one
 *    reference; every packet in flight owns one.  Readers find tunnels under
 *    RCU and take a reference with refcount_inc_not_zero().  The last put
 *    frees the tunnel after a grace period, from a workqueue, because
 *    freeing a crypto transform is not allowed in every context.
 *  - Sockets belong to user space.  The device holds a sock reference and
 *    the encap hooks; whoever clears the device's pointer (detach, or the
 *    owner closing the socket) drops that reference.
 */
#ifndef _NTM_INTERNAL_H
#define _NTM_INTERNAL_H

#include <linux/netdevice.h>
#include <linux/rhashtable.h>
#include <linux/rbtree.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/u64_stats_sync.h>
#include <linux/in6.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/dsfield.h>
#include <net/gro_cells.h>
#include <net/sock.h>
#include <crypto/aead.h>

#include <linux/ntm.h>

/*
 * For the helpers documented "under RCU" that look in RCU-protected tables
 * and take references from what they find: lockdep (CONFIG_PROVE_RCU) says
 * so when a caller is outside a read-side section.  The transmit path
 * holds rcu_read_lock_bh(), the receive path and the acquire release
 * rcu_read_lock().
 */
#define ntm_assert_rcu()						\
	RCU_LOCKDEP_WARN(!rcu_read_lock_held() && !rcu_read_lock_bh_held(), \
			 "ntm: table lookup outside an RCU read-side section")

/*
 * Counters, indexed from 0; the netlink attribute is index + 1.  The slot
 * of NTM_STAT_A_PAD (counters were appended after it) is never used.
 */
enum {
	NTM_STAT_NR = __NTM_STAT_A_MAX - 1,
};

#define NTM_STAT(x)	(NTM_STAT_A_##x - 1)

/*
 * The counters a tunnel keeps of its own besides its traffic (receive and
 * transmit packets and bytes): what its packets can meet.  Every other
 * counter is a device total (no tunnel yet, relay, rekey, netlink), so a
 * tunnel neither stores nor dumps it (D106).  ntm_tunnel_count() maps a
 * counter to its slot.
 */
enum {
	NTM_TSTAT_DROP_REPLAY,
	NTM_TSTAT_DROP_AUTH,
	NTM_TSTAT_DROP_MALFORMED,
	NTM_TSTAT_DROP_INNER_SRC,
	NTM_TSTAT_DROP_NOMEM,
	NTM_TSTAT_DROP_TX_ERROR,
	NTM_TSTAT_DROP_EXPIRED,
	NTM_TSTAT_DROP_TS,
	NTM_TSTAT_DROP_ECN,
	NTM_TSTAT_ROAMED,
	NTM_TSTAT_ROAM_EVENT_SUPPRESSED,
	NTM_TSTAT_KEEPALIVE_RX,
	NTM_TSTAT_DUMMY_RX,
	NTM_TSTAT_NR
};

/*
 * The closest reason of the kernel's enum skb_drop_reason (6.1: modules
 * cannot add their own) for a packet dropped and counted in @stat; the
 * counter says more, the reason is what drop monitors and tracepoints see.
 * The acquire queue is treated like a neighbour's queue of packets waiting
 * for resolution.  NO_TUNNEL has no reason of its own: the transmit path
 * passes IP_OUTNOROUTES itself.
 */
static inline enum skb_drop_reason ntm_drop_reason(unsigned int stat)
{
	switch (stat) {
	case NTM_STAT(DROP_NOMEM):
		return SKB_DROP_REASON_NOMEM;
	case NTM_STAT(DROP_MALFORMED):
		return SKB_DROP_REASON_PKT_TOO_SMALL;
	case NTM_STAT(DROP_INNER_SRC):
	case NTM_STAT(DROP_TS):
		return SKB_DROP_REASON_XFRM_POLICY;
	case NTM_STAT(DROP_ACQUIRE_FULL):
	case NTM_STAT(DROP_ACQUIRE_DST):
		return SKB_DROP_REASON_NEIGH_QUEUEFULL;
	case NTM_STAT(DROP_ACQUIRE_TIMEOUT):
		return SKB_DROP_REASON_NEIGH_FAILED;
	case NTM_STAT(DROP_ACQUIRE):
		return SKB_DROP_REASON_NEIGH_DEAD;
	default:
		/* REPLAY, AUTH, EXPIRED, ECN, MAPPED, TX_ERROR, RELAY_* */
		return SKB_DROP_REASON_NOT_SPECIFIED;
	}
}

/* UDP + NTM header before the inner packet, tag after it. */
#define NTM_ENCAP_OVERHEAD	(sizeof(struct udphdr) + NTM_DATA_HDR_LEN + \
				 NTM_AEAD_TAG_LEN)
#define NTM_OVERHEAD_V4		(sizeof(struct iphdr) + NTM_ENCAP_OVERHEAD)
#define NTM_OVERHEAD_V6		(sizeof(struct ipv6hdr) + NTM_ENCAP_OVERHEAD)
#define NTM_NONCE_LEN		12
/* the key a tunnel sealed by the ChaCha20-Poly1305 library keeps */
#define NTM_LIB_KEY_LEN		32

/*
 * ESP in UDP: SPI + sequence number, 8-byte IV, then payload, 0..3 bytes
 * of padding, pad length and next header, 16-byte ICV.  The worst case
 * (3 bytes of padding) is what the path MTU check assumes.
 */
#define NTM_ESP_HDR_LEN		8
#define NTM_ESP_IV_LEN		8
#define NTM_ESP_ICV_LEN		16
#define NTM_ESP_TRAILER_MAX	(3 + 2 + NTM_ESP_ICV_LEN)
#define NTM_ESP_ENCAP_OVERHEAD	(sizeof(struct udphdr) + NTM_ESP_HDR_LEN + \
				 NTM_ESP_IV_LEN + NTM_ESP_TRAILER_MAX)
#define NTM_ESP_OVERHEAD_V4	(sizeof(struct iphdr) + NTM_ESP_ENCAP_OVERHEAD)
#define NTM_ESP_OVERHEAD_V6	(sizeof(struct ipv6hdr) + NTM_ESP_ENCAP_OVERHEAD)
/* Without ESN a sequence number never exceeds 32 bits. */
#define NTM_ESP_SEQ_MAX		U32_MAX

/*
 * RFC 6479 window: a ring of 64-bit blocks, one block kept as slack.  33
 * blocks give a 2048-counter window in 264 bytes; the ring index is taken
 * modulo a constant, which the compiler turns into a multiplication.
 */
#define NTM_REPLAY_BLOCKS	33
#define NTM_REPLAY_BITS		(NTM_REPLAY_BLOCKS * 64)
#define NTM_REPLAY_WINDOW_SIZE	(NTM_REPLAY_BITS - 64)
static_assert(NTM_REPLAY_WINDOW_SIZE == NTM_REPLAY_WINDOW);

struct ntm_replay {
	spinlock_t lock;		/* writers of top and bitmap */
	u64 top;		/* highest counter accepted + 1, 0: none */
	u64 bitmap[NTM_REPLAY_BLOCKS];
};

struct ntm_dev_stats {
	u64 c[NTM_STAT_NR];
	struct u64_stats_sync syncp;
};

union ntm_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

struct ntm_dev;

/* One traffic selector: an address prefix of one family. */
struct ntm_ts {
	u8 family;
	u8 prefixlen;
	union {
		__be32 a4;
		struct in6_addr a6;
	};
};

struct ntm_ts_list {
	unsigned int n;
	struct ntm_ts ts[NTM_TS_MAX];
};

/* Key of the transmit selector table: a masked prefix (selector.c). */
struct ntm_sel_key {
	__be32 addr[4];			/* IPv4 in addr[0], rest 0 */
	u8 family;
	u8 prefixlen;
	u8 pad[2];
};

/* One REMOTE_TS prefix of an ESP SA in nd->sel_ht. */
struct ntm_sel {
	struct rhlist_head node;	/* same key: newest SA first */
	struct ntm_sel_key key;
	struct ntm_esp *e;
};

/*
 * What only ESP tunnels need, allocated for them alone so that NTM tunnels
 * (100k of them on a relay) stay small.  Fixed after creation, except the
 * selector table linkage (nd->lock).
 */
struct ntm_esp {
	struct ntm_tunnel *t;		/* back pointer, for table walkers */
	struct crypto_aead *rx_aead;	/* inbound SA; t->aead is outbound */
	bool esn;
	struct ntm_ts_list remote_ts;
	struct ntm_ts_list local_ts;	/* n == 0: any destination */
	unsigned int nsel;		/* entries of sel[] in nd->sel_ht */
	struct ntm_sel sel[];		/* one per REMOTE_TS prefix */
};

/* Byte and packet limits; all 0: none. */
struct ntm_limits {
	u64 soft_bytes;
	u64 hard_bytes;
	u64 soft_packets;
	u64 hard_packets;
};

enum { NTM_DIR_RX, NTM_DIR_TX, NTM_DIR_NR };

/*
 * Limit state, allocated when a tunnel first gets a byte or packet limit
 * and kept until the tunnel is freed, so most tunnels carry one pointer.
 */
struct ntm_lim {
	struct ntm_limits limits;	/* written under nd->lock, READ_ONCE */
	atomic64_t bytes[NTM_DIR_NR];	/* inner bytes per direction */
	atomic64_t packets[NTM_DIR_NR];
};

/*
 * Bit numbers in the ntm_tunnel state words (set_bit()/test_bit()), one
 * word per bit so that each is set and cleared by its own path.
 */
enum ntm_tunnel_bits {
	NTM_T_EXPIRE_QUEUED,	/* @expire_state: expiry queued, reported once */
	NTM_T_SOFT_REPORTED,	/* @soft_state: soft expiry reported */
	NTM_T_ROAM_SUPPRESSED,	/* @roam_state: an endpoint event held back */
};

struct ntm_tunnel {
	struct rhash_head index_node;
	struct rhash_head vip4_node;
	struct rhash_head vip6_node;
	struct rb_node rb;		/* by local_index, under nd->lock */
	struct ntm_dev *nd;
	refcount_t ref;

	u32 local_index;
	__be32 remote_index;
	u8 encap;			/* enum ntm_encap */
	struct ntm_esp *esp;		/* ESP tunnels only */
	__be32 vip4;
	struct in6_addr vip6;
	bool has_vip4;
	bool has_vip6;
	u8 cipher;
	u32 flags;
	/* set once, under nd->lock, when the tunnel left the tables */
	bool unlinked;
	/*
	 * Make-before-break rekey, under nd->tbl_lock: a pending successor
	 * points to its predecessor (@pred) and the predecessor back to it
	 * (@succ).  @state (enum ntm_tunnel_state) is also read locklessly
	 * (READ_ONCE) by the receive path; ACTIVE is the only state in which
	 * the tunnel is in the virtual-address tables, except a @held one.
	 */
	u8 state;
	/*
	 * A new tunnel held until the peer confirms it (NEW_TUNNEL with
	 * TAKEOVER ON_RX and no REPLACES): PENDING but in the
	 * virtual-address tables, so that what is sent to it waits in the
	 * acquire queue instead of reaching a peer that may not have the
	 * key yet.  Cleared under nd->tbl_lock, read with READ_ONCE.
	 */
	bool held;
	struct ntm_tunnel *pred;
	struct ntm_tunnel *succ;
	/* NTM_T_EXPIRE_QUEUED: on nd->expire_list, expiry reported */
	unsigned long expire_state;
	u32 expire_reason;

	seqlock_t ep_lock;		/* protects ep and route_key */
	union ntm_sockaddr ep;
	/* this tunnel's entry in the route cache (route.c), redrawn on moves */
	u64 route_key;
	/*
	 * Endpoint events: at most one per NTM_ROAM_EVENT_INTERVAL_MS.
	 * @roam_ev_ns is when the last one went (boottime, 0: never),
	 * claimed with cmpxchg; NTM_T_ROAM_SUPPRESSED in @roam_state: one
	 * was suppressed, so the next packet after the interval reports the
	 * endpoint then.
	 */
	u64 roam_ev_ns;
	unsigned long roam_state;

	/* NULL: ChaCha20-Poly1305 through the library, with @key (D106) */
	struct crypto_aead *aead;
	u8 key[NTM_LIB_KEY_LEN];
	u8 tx_salt[NTM_SALT_LEN];
	u8 rx_salt[NTM_SALT_LEN];
	/*
	 * Traffic counters, fixed size whatever the number of CPUs (D82):
	 * the transmit ones beside the counter every sent packet increments
	 * anyway, the receive ones beside the replay lock every received
	 * packet takes, so they add no cache line that was not shared yet.
	 */
	atomic64_t tx_counter;
	atomic64_t tx_packets;
	atomic64_t tx_bytes;
	atomic64_t rx_packets;
	atomic64_t rx_bytes;
	struct ntm_replay replay;

	u32 lifetime;			/* seconds, 0: none */
	u32 soft_lifetime;		/* seconds, 0: none */
	u64 created_ns;			/* ktime_get_boottime_ns() */
	u64 last_rx_ns;
	/* one timer for the soft and the hard lifetime, whichever is next */
	struct timer_list lifetime_timer;
	/* NTM_T_SOFT_REPORTED: soft expiry reported */
	unsigned long soft_state;
	/*
	 * Published once (release), then the packet path counts bytes and
	 * packets against it; NULL costs one load per packet.
	 */
	struct ntm_lim *lim;
	struct list_head expire_list;	/* under nd->expire_lock */

	atomic64_t drops[NTM_TSTAT_NR];	/* NTM_TSTAT_*, rare */

	struct rcu_work free_work;
};

/*
 * A destination that waits for its tunnel: when its last event went and
 * what it holds in the queue.  A slot with packets is never reused, so a
 * queued packet's slot index stays valid until it leaves the queue.
 */
struct ntm_acquire_slot {
	unsigned long when;		/* jiffies of the last event */
	u32 qlen;			/* packets queued for it */
	u32 bytes;			/* their truesize */
	u8 family;			/* 0: free */
	bool notified;			/* @when is valid */
	union {
		__be32 a4;
		struct in6_addr a6;
	};
};

/* destinations that can wait at once (D82) */
#define NTM_ACQUIRE_SLOTS	64
/* the byte bound is acquire_qlen times this (sum of skb->truesize) */
#define NTM_ACQUIRE_BYTES_PER_PKT	4096
/* one destination holds at most 1/SHARE of either bound, at least MIN */
#define NTM_ACQUIRE_DST_SHARE	8
#define NTM_ACQUIRE_DST_MIN	4

struct ntm_acquire {
	spinlock_t lock;		/* everything below */
	struct sk_buff_head queue;
	u32 bytes;			/* truesize of what is queued */
	struct timer_list timer;
	/* events for destinations that find no free slot */
	unsigned long overflow_when;
	bool overflow_sent;
	struct ntm_acquire_slot dst[NTM_ACQUIRE_SLOTS];
};

struct ntm_dev {
	struct net_device *dev;
	struct mutex lock;		/* configuration, tables, sockets */
	bool dead;			/* set in ndo_uninit, under lock */

	spinlock_t sock_lock;		/* pointer swaps of sk4/sk6 */
	struct sock __rcu *sk4;
	struct sock __rcu *sk6;
	/* the owners' IP_MULTICAST_LOOP before adoption, under lock */
	bool mc_loop4;
	bool mc_loop6;

	struct rhashtable index_ht;
	/*
	 * Writers of the virtual-address tables and of the rekey links of
	 * the tunnels hold nd->lock and tbl_lock; the receive path (a
	 * successor's takeover) holds tbl_lock alone.  Taken with BH off.
	 */
	spinlock_t tbl_lock;
	struct rhashtable vip4_ht;
	struct rhashtable vip6_ht;
	struct rb_root by_index;
	u32 num_tunnels;
	u32 max_tunnels;		/* NTM_A_MAX_TUNNELS, written under lock */
	/*
	 * ESP transmit lookup (selector.c): every REMOTE_TS prefix of every
	 * ESP SA, keyed by masked address and length; which lengths are in
	 * use per family (bitmaps read by the packet path, counts under lock).
	 */
	struct rhltable sel_ht;
	unsigned long sel_lens4[BITS_TO_LONGS(33)];
	unsigned long sel_lens6[BITS_TO_LONGS(129)];
	u32 sel_refs4[33];
	u32 sel_refs6[129];
	u32 num_esp;			/* RFC 3948 demux only when > 0 */

	u32 flags;
	u32 fwmark;
	u32 acquire_qlen;
	struct ntm_acquire acq;

	spinlock_t expire_lock;		/* expire_list, dead for expiry */
	struct list_head expire_list;
	struct work_struct expire_work;

	struct gro_cells gro_cells;
	struct ntm_dev_stats __percpu *stats;
	struct ntm_rtc __percpu *rtc;	/* outer route cache (route.c) */

	/*
	 * Relay sessions (relay.c): forwarding keys by (source, index),
	 * sessions by id for the control plane.  Writers hold nd->lock; the packet path uses RCU.
	 */
	struct rhashtable relay_ht;
	struct rb_root relay_by_id;
	u32 num_relays;			/* relay lookups only when > 0 */
	u32 max_relays;
	u32 relay_idle_n;		/* sessions with an idle timeout */
	struct delayed_work relay_work;	/* idle scan and limit removal */
};

extern struct workqueue_struct *ntm_wq;
extern struct rtnl_link_ops ntm_link_ops;

/* device.c */
int ntm_device_init(void);
void ntm_device_exit(void);
void ntm_dev_count(struct ntm_dev *nd, unsigned int stat, u64 n);
void ntm_dev_stats_read(struct ntm_dev *nd, u64 *out);
struct ntm_dev *ntm_dev_get_by_ifindex(struct net *net, int ifindex);
struct ntm_dev *ntm_dev_get_by_name(struct net *net, const char *name);

/* socket.c */
struct ntm_sock_adopt {		/* a socket prepared for adoption */
	struct socket *sock;	/* with a file reference; NULL: none */
	int family;
	bool same;		/* the socket the device already uses */
	bool mc_loop;		/* its owner's multicast loopback setting */
};

int ntm_socket_prepare(struct ntm_dev *nd, int family, int fd,
		       struct ntm_sock_adopt *a);
void ntm_socket_abort(struct ntm_dev *nd, struct ntm_sock_adopt *a);
void ntm_socket_commit(struct ntm_dev *nd, struct ntm_sock_adopt *a);
void ntm_socket_detach(struct ntm_dev *nd, int family);
u16 ntm_socket_port(struct ntm_dev *nd, int family);

/* tunnel.c */
struct ntm_tunnel_params {
	u32 local_index;
	u32 remote_index;
	union ntm_sockaddr ep;
	bool has_vip4;
	bool has_vip6;
	__be32 vip4;
	struct in6_addr vip6;
	u8 cipher;
	const u8 *key;
	unsigned int key_len;
	u8 tx_salt[NTM_SALT_LEN];
	u8 rx_salt[NTM_SALT_LEN];
	u32 lifetime;
	u32 flags;
	u8 encap;
	u64 tx_counter;			/* first counter to send */
	u32 soft_lifetime;
	struct ntm_limits limits;
	/* ESP */
	const u8 *rx_key;
	unsigned int rx_key_len;
	bool esn;
	struct ntm_ts_list remote_ts;
	struct ntm_ts_list local_ts;
	/* rekey: the ACTIVE tunnel this one replaces, and when it sends */
	struct ntm_tunnel *pred;
	u8 takeover;			/* enum ntm_takeover */
	/* new tunnel, no pred: held until the peer's first packet */
	bool hold;
};

int ntm_tunnel_cache_init(void);
void ntm_tunnel_cache_exit(void);
int ntm_tables_init(struct ntm_dev *nd);
void ntm_tables_destroy(struct ntm_dev *nd);
int ntm_tunnel_create(struct ntm_dev *nd, const struct ntm_tunnel_params *p,
		      struct ntm_tunnel **out);
void ntm_tunnel_remove(struct ntm_tunnel *t);
void ntm_tunnel_remove_all(struct ntm_dev *nd);
struct ntm_tunnel *ntm_tunnel_find_index(struct ntm_dev *nd, u32 index);
struct ntm_tunnel *ntm_tunnel_find_index_locked(struct ntm_dev *nd, u32 idx);
struct ntm_tunnel *ntm_tunnel_find_vip4(struct ntm_dev *nd, __be32 addr);
struct ntm_tunnel *ntm_tunnel_find_vip6(struct ntm_dev *nd,
					const struct in6_addr *addr);
struct ntm_tunnel *ntm_tunnel_next_locked(struct ntm_dev *nd, u32 after);
bool ntm_tunnel_index_used(struct ntm_dev *nd, u32 index);
void ntm_tunnel_put(struct ntm_tunnel *t);
void ntm_tunnel_count(struct ntm_tunnel *t, unsigned int stat);
bool ntm_tunnel_stat_kept(unsigned int stat);
void ntm_tunnel_stats_read(struct ntm_tunnel *t, u64 *out);
void ntm_tunnel_set_endpoint(struct ntm_tunnel *t,
			     const union ntm_sockaddr *ep);
void ntm_tunnel_get_endpoint(struct ntm_tunnel *t, union ntm_sockaddr *ep);
void ntm_tunnel_set_lifetime(struct ntm_tunnel *t, u32 lifetime);
void ntm_tunnel_set_soft_lifetime(struct ntm_tunnel *t, u32 lifetime);
int ntm_tunnel_set_limits(struct ntm_tunnel *t, const struct ntm_limits *l);
void ntm_tunnel_get_limits(struct ntm_tunnel *t, struct ntm_limits *l);
void ntm_tunnel_charge(struct ntm_tunnel *t, struct ntm_lim *lim, int dir,
		       unsigned int bytes);
void ntm_tunnel_soft_expire(struct ntm_tunnel *t, u32 reason);
void ntm_tunnel_expire(struct ntm_tunnel *t, u32 reason);
void ntm_expire_work(struct work_struct *work);
bool ntm_tunnel_activate(struct ntm_tunnel *t);

/* A consistent view of a tunnel's place in a rekey. */
struct ntm_rekey_info {
	u8 state;			/* enum ntm_tunnel_state */
	bool has_succ;			/* a pending successor replaces it */
	u32 replaces;			/* pending: the predecessor's index */
};

void ntm_tunnel_rekey_info(struct ntm_tunnel *t, struct ntm_rekey_info *i);

/* crypto.c */
int ntm_crypto_check(u8 cipher, unsigned int key_len);
bool ntm_crypto_use_lib(u8 cipher);
void ntm_crypto_warm(void);

/* chachapoly.c */
int ntm_chachapoly_crypt(struct scatterlist *sg, unsigned int adlen,
			 unsigned int cryptlen, const u8 *key, const u8 *nonce,
			 bool encrypt);
int ntm_chachapoly_selftest(void);
struct crypto_aead *ntm_aead_alloc(u8 cipher, const u8 *key,
				   unsigned int key_len);
int ntm_esp_crypto_check(u8 cipher, unsigned int key_len);
struct crypto_aead *ntm_esp_aead_alloc(u8 cipher, const u8 *key,
				       unsigned int key_len, const u8 *salt);

/* replay.c */
void ntm_replay_init(struct ntm_replay *r);
bool ntm_replay_check(struct ntm_replay *r, u64 counter);
bool ntm_replay_update(struct ntm_replay *r, u64 counter);
u64 ntm_replay_top(struct ntm_replay *r);

/* ntm_encap.c: shared by the NTM and ESP data paths */
union ntm_inaddr {
	__be32 a4;
	struct in6_addr a6;
};

struct ntm_route {
	struct dst_entry *dst;
	struct sock *sk;
	union ntm_inaddr saddr, daddr;
	__be16 sport;
	__be16 dport;
	sa_family_t family;
};

/* route.c: the outer route cache, per device and CPU */
u64 ntm_route_key_next(void);
int ntm_route_cache_init(struct ntm_dev *nd);
void ntm_route_cache_destroy(struct ntm_dev *nd);
struct dst_entry *ntm_route_cache_get(struct ntm_dev *nd, u64 key,
				      union ntm_inaddr *saddr);
void ntm_route_cache_set(struct ntm_dev *nd, u64 key, struct dst_entry *dst,
			 const union ntm_inaddr *saddr, sa_family_t family);

/*
 * Everything the second half of an AEAD request needs; it holds a tunnel
 * and a device reference (and on transmit a route and a socket).
 */
struct ntm_crypt {
	void (*finish)(struct ntm_crypt *c, int err);
	struct sk_buff *skb;
	struct ntm_tunnel *t;
	/* held while the request is in flight (it may complete later) */
	struct net_device *dev;
	netdevice_tracker dev_tracker;
	u64 counter;
	unsigned int inner_len;
	bool xnet;
	/*
	 * Outer DS field: on transmit the inner packet's ECN bits (RFC 6040
	 * normal mode; the DSCP is not copied), on receive the outer header's.
	 */
	u8 ds;
	struct ntm_route route;		/* transmit */
	union ntm_sockaddr src;		/* receive: outer source */
	/* what the ChaCha20-Poly1305 library (no request) works on */
	struct scatterlist *sg;
	const u8 *iv;
	unsigned int cryptlen;
	/* then: iv, aead_request + its context (crypto API), scatterlist[] */
};

netdev_tx_t ntm_xmit_tunnel(struct ntm_tunnel *t, struct sk_buff *skb);
int ntm_udp_encap_recv(struct sock *sk, struct sk_buff *skb);
struct ntm_crypt *ntm_crypt_alloc(struct crypto_aead *aead, int nfrags,
				  u8 **iv, struct aead_request **req,
				  struct scatterlist **sg);
int ntm_crypt_bind(struct ntm_crypt *c, struct ntm_tunnel *t,
		   struct sk_buff *skb, struct aead_request *req,
		   struct crypto_aead *aead, struct scatterlist *sg, int nfrags,
		   void (*finish)(struct ntm_crypt *c, int err));
void ntm_crypt_free(struct ntm_crypt *c);
void ntm_encrypt_finish(struct ntm_crypt *c, int err);
void ntm_tx_drop(struct ntm_tunnel *t, struct sk_buff *skb, unsigned int stat);
void ntm_rx_drop(struct ntm_tunnel *t, struct sk_buff *skb, unsigned int stat);
void ntm_roam(struct ntm_tunnel *t, const union ntm_sockaddr *src);
void ntm_outer_source(struct sk_buff *skb, union ntm_sockaddr *src);
__be16 ntm_inner_parse(struct sk_buff *skb);
void ntm_deliver(struct ntm_tunnel *t, struct sk_buff *skb, __be16 proto,
		 bool xnet, u8 outer_ds);
u8 ntm_inner_ecn(const struct sk_buff *skb);

/*
 * Steps both encapsulations take per packet, inline so that each data path
 * stays as it was: no extra calls, and a @finish passed as a constant
 * becomes a direct call (only an asynchronous completion goes through
 * c->finish).
 */

/*
 * Take the next transmit counter of @t, below @limit.  At the limit the
 * tunnel expires instead: a counter never wraps under one key.
 */
static inline bool ntm_tx_counter(struct ntm_tunnel *t, u64 limit,
				  u64 *counter)
{
	u64 n = atomic64_inc_return(&t->tx_counter) - 1;

	if (unlikely(n >= limit)) {
		atomic64_set(&t->tx_counter, limit);
		ntm_tunnel_expire(t, NTM_EXPIRE_COUNTER);
		return false;
	}
	*counter = n;
	return true;
}

/*
 * Whether @t may carry no more packets: expiring already, or past its hard
 * lifetime.  Checked per packet in both directions on CLOCK_BOOTTIME,
 * because the lifetime timer counts jiffies, which stand still while the
 * system is suspended: after a resume the timer fires late, this check
 * does not, so a suspended machine never extends a key's life.  A soft
 * lifetime that is due is reported here too.  Any context.
 */
static inline bool ntm_tunnel_expired(struct ntm_tunnel *t)
{
	u32 hard = READ_ONCE(t->lifetime), soft = READ_ONCE(t->soft_lifetime);
	u64 now;

	if (unlikely(test_bit(NTM_T_EXPIRE_QUEUED, &t->expire_state)))
		return true;
	if (likely(!hard && !soft))
		return false;
	now = ktime_get_coarse_boottime_ns();
	if (soft && !test_bit(NTM_T_SOFT_REPORTED, &t->soft_state) &&
	    now >= t->created_ns + (u64)soft * NSEC_PER_SEC)
		ntm_tunnel_soft_expire(t, NTM_EXPIRE_SOFT_TIME);
	if (hard && now >= t->created_ns + (u64)hard * NSEC_PER_SEC) {
		ntm_tunnel_expire(t, NTM_EXPIRE_LIFETIME);
		return true;
	}
	return false;
}

/*
 * Make @skb writable for in-place encryption, with room for outer IP, UDP
 * and @hdrlen bytes of header in front and @tailen bytes after it.
 * Checksums are finished first: the payload is about to be sealed.
 * Returns the scatterlist entries the request needs, or < 0.
 */
static inline int ntm_tx_cow(struct sk_buff *skb, const struct ntm_route *r,
			     unsigned int hdrlen, unsigned int tailen,
			     struct sk_buff **trailer)
{
	int nfrags;

	if (skb->ip_summed == CHECKSUM_PARTIAL && skb_checksum_help(skb))
		return -ENOMEM;
	nfrags = skb_cow_data(skb, tailen, trailer);
	if (unlikely(nfrags < 0))
		return nfrags;
	if (unlikely(skb_cow_head(skb, LL_RESERVED_SPACE(r->dst->dev) +
				  sizeof(struct ipv6hdr) +
				  sizeof(struct udphdr) + hdrlen)))
		return -ENOMEM;
	return nfrags;
}

/*
 * Run the bound encryption request: @c takes its own references on @r's
 * route and socket, and completes with @finish now, or later from
 * ntm_crypt_done().
 */
static __always_inline void
ntm_encrypt_submit(struct ntm_crypt *c, struct aead_request *req,
		   const struct ntm_route *r,
		   void (*finish)(struct ntm_crypt *c, int err))
{
	int err;

	c->route = *r;
	dst_hold(c->route.dst);
	sock_hold(c->route.sk);
	c->xnet = !net_eq(sock_net(r->sk), dev_net(c->dev));

	if (req)
		err = crypto_aead_encrypt(req);
	else
		err = ntm_chachapoly_crypt(c->sg, NTM_DATA_HDR_LEN, c->cryptlen,
					   c->t->key, c->iv, true);
	if (err != -EINPROGRESS)
		finish(c, err);
}

/*
 * The tunnel, held, that local index @index names, if it is of the
 * encapsulation the datagram came in (@esp): an ESP SA is no NTM tunnel
 * and the other way round.  NULL, counted, otherwise.
 */
static inline struct ntm_tunnel *ntm_rx_tunnel(struct ntm_dev *nd, u32 index,
					       bool esp)
{
	struct ntm_tunnel *t = ntm_tunnel_find_index(nd, index);

	if (likely(t && !t->esp == !esp))
		return t;
	if (t)
		ntm_tunnel_put(t);
	ntm_dev_count(nd, NTM_STAT(DROP_NO_TUNNEL), 1);
	return NULL;
}

/*
 * Checks of a datagram for @t before decryption (replay window, expiry),
 * its outer source while the headers are at hand, and a writable @skb for
 * in-place decryption.  Returns the scatterlist entries the request needs,
 * or < 0 with *@stat set.
 */
static inline int ntm_rx_prepare(struct ntm_tunnel *t, struct sk_buff *skb,
				 u64 counter, union ntm_sockaddr *src,
				 struct sk_buff **trailer, unsigned int *stat)
{
	int nfrags;

	if (unlikely(!ntm_replay_check(&t->replay, counter))) {
		*stat = NTM_STAT(DROP_REPLAY);
		return -EINVAL;
	}
	if (unlikely(ntm_tunnel_expired(t))) {
		*stat = NTM_STAT(DROP_EXPIRED);
		return -EINVAL;
	}
	ntm_outer_source(skb, src);
	nfrags = skb_cow_data(skb, 0, trailer);
	if (unlikely(nfrags < 0)) {
		*stat = NTM_STAT(DROP_NOMEM);
	} else if (unlikely(nfrags > MAX_SKB_FRAGS + 8)) {
		/* the scatterlist is GFP_ATOMIC and the sender unproven yet */
		*stat = NTM_STAT(DROP_MALFORMED);
		nfrags = -EMSGSIZE;
	}
	return nfrags;
}

/*
 * Run the bound decryption request, as ntm_encrypt_submit().  Without a
 * request (@req NULL) the library opens in place: ESP always has one.
 */
static __always_inline void
ntm_decrypt_submit(struct ntm_crypt *c, struct aead_request *req,
		   struct sock *sk, const union ntm_sockaddr *src,
		   void (*finish)(struct ntm_crypt *c, int err))
{
	int err;

	c->src = *src;
	c->xnet = !net_eq(sock_net(sk), dev_net(c->dev));
	c->route.dst = NULL;
	/* the network header is still the outer one */
	c->ds = ip_hdr(c->skb)->version == 4 ? ip_hdr(c->skb)->tos :
		ipv6_get_dsfield(ipv6_hdr(c->skb));

	if (req)
		err = crypto_aead_decrypt(req);
	else	/* the crypto API's cryptlen counts the tag, as ESP's */
		err = ntm_chachapoly_crypt(c->sg, NTM_DATA_HDR_LEN,
					   c->cryptlen - NTM_AEAD_TAG_LEN,
					   c->t->key, c->iv, false);
	if (err != -EINPROGRESS)
		finish(c, err);
}

/*
 * First step of a decryption's completion: an authentic packet moves the
 * replay window, the receive time and (roaming) the endpoint.  False with
 * *@stat set when the packet is to be dropped.
 */
static inline bool ntm_rx_accept(struct ntm_crypt *c, int err,
				 unsigned int *stat)
{
	struct ntm_tunnel *t = c->t;

	if (unlikely(err)) {
		*stat = err == -EBADMSG ? NTM_STAT(DROP_AUTH) :
					  NTM_STAT(DROP_NOMEM);
		return false;
	}
	/* authentic: now the counter may move the window */
	if (unlikely(!ntm_replay_update(&t->replay, c->counter))) {
		*stat = NTM_STAT(DROP_REPLAY);
		return false;
	}
	WRITE_ONCE(t->last_rx_ns, ktime_get_coarse_boottime_ns());
	ntm_roam(t, &c->src);
	/*
	 * The peer sends under this key: a successor takes over, a held new
	 * tunnel may send.
	 */
	if (unlikely(READ_ONCE(t->state) == NTM_TUNNEL_STATE_PENDING))
		ntm_tunnel_activate(t);
	return true;
}

/* selector.c */
bool ntm_ts_match(const struct ntm_ts_list *l, int family, const void *addr);
int ntm_sel_init(struct ntm_dev *nd);
void ntm_sel_destroy(struct ntm_dev *nd);
int ntm_sel_insert(struct ntm_dev *nd, struct ntm_esp *e);
void ntm_sel_remove(struct ntm_dev *nd, struct ntm_esp *e);
struct ntm_tunnel *ntm_tunnel_find_ts(struct ntm_dev *nd, int family,
				      const void *daddr, const void *saddr);
struct ntm_tunnel *ntm_tunnel_peek_ts(struct ntm_dev *nd, int family,
				      const void *daddr, const void *saddr);

/* esp.c */
void ntm_esp_encrypt_one(struct ntm_tunnel *t, struct sk_buff *skb,
			 const struct ntm_route *r);
int ntm_esp_recv(struct ntm_dev *nd, struct sock *sk, struct sk_buff *skb);

/* relay.c: the Relay Server fast path */
struct ntm_relay;

struct ntm_relay_params {
	u32 id;
	/* NEW: both legs; SET: the legs whose endpoint moves */
	bool has_ep[2];
	union ntm_sockaddr ep[2];
	u32 index[2];
	bool has_hard_bytes, has_hard_packets, has_idle;
	u64 hard_bytes;
	u64 hard_packets;
	u32 idle_timeout;
};

/* A consistent copy of a session for netlink replies and events. */
struct ntm_relay_info {
	u32 id;
	union ntm_sockaddr ep[2];
	u32 index[2];
	u64 rx_packets[2];		/* from leg i */
	u64 rx_bytes[2];
	u64 hard_bytes;
	u64 hard_packets;
	u32 idle_timeout;
	u32 age_s;
	u32 idle_s;
	u64 drop_src;
	u64 drop_tx;
};

int ntm_relay_cache_init(void);
void ntm_relay_cache_exit(void);
int ntm_relay_init(struct ntm_dev *nd);
void ntm_relay_destroy(struct ntm_dev *nd);
void ntm_relay_stop(struct ntm_dev *nd);
int ntm_relay_create(struct ntm_dev *nd, const struct ntm_relay_params *p,
		     u32 *conflict);
int ntm_relay_change(struct ntm_dev *nd, struct ntm_relay *r,
		     const struct ntm_relay_params *p, u32 *conflict);
struct ntm_relay *ntm_relay_find_locked(struct ntm_dev *nd, u32 id);
struct ntm_relay *ntm_relay_next_locked(struct ntm_dev *nd, u32 after);
u32 ntm_relay_id(const struct ntm_relay *r);
void ntm_relay_get_info(const struct ntm_relay *r, struct ntm_relay_info *i);
void ntm_relay_remove(struct ntm_dev *nd, struct ntm_relay *r);
void ntm_relay_remove_all(struct ntm_dev *nd);
int ntm_relay_recv(struct ntm_dev *nd, struct sock *sk, struct sk_buff *skb);

/* acquire.c */
void ntm_acquire_init(struct ntm_dev *nd);
void ntm_acquire_destroy(struct ntm_dev *nd);
void ntm_acquire_packet(struct ntm_dev *nd, struct sk_buff *skb);
bool ntm_acquire_hold(struct ntm_dev *nd, struct ntm_tunnel *t,
		      struct sk_buff *skb);
void ntm_acquire_release(struct ntm_dev *nd, struct ntm_tunnel *t);

/* netlink.c */
int ntm_genl_init(void);
void ntm_genl_exit(void);
/* the multicast events: ntm_events.h */

#endif /* _NTM_INTERNAL_H */
