// SPDX-License-Identifier: GPL-2.0
/*
 * socket.c - UDP sockets adopted from user space.
 *
 * ntmd creates, binds and owns the sockets; the module borrows them (like
 * GTP): it takes a sock reference and installs encap_rcv, so data messages
 * are consumed in softirq context while everything else -- NTM signalling,
 * IKE behind the non-ESP marker -- stays on the socket for ntmd to read.
 * Signalling and data therefore share one port and one NAT mapping.
 *
 * Adoption is make-before-break (D76): the new socket is validated and
 * hooked first, then published in place of the old one, and only then is
 * the old one released, so a refused request leaves the device as it was.
 * Releasing a socket restores what hooking it changed (multicast loopback,
 * checksum conversion, the encap hooks, sk_user_data), so the owner can go
 * on using it as a plain UDP socket.
 *
 * Every hooked socket holds a reference on this module (D77): the owner's
 * close calls ntm_encap_destroy() through a pointer that udp_destroy_sock()
 * loads without any lock this module could wait for.  Exactly one party
 * drops that reference: whoever removes the hooks from a live socket
 * (detach, under lock_sock() before udp_destroy_sock() marked it
 * SOCK_DEAD, after which it no longer calls encap_destroy), or else
 * ntm_encap_destroy() itself.
 *
 * Two paths can drop the borrowed sock reference: an explicit detach
 * (netlink, device teardown) and the owner closing the socket
 * (encap_destroy).  Both run under lock_sock(), and the one that clears
 * nd->skN owns the put.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/module.h>
#include <linux/net.h>
#include <net/sock.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>
#include <net/inet_sock.h>
#include "ntm.h"

/* encap_type values are private to each tunnel driver; 0 means none. */
#define NTM_UDP_ENCAP_TYPE 7

static struct sock __rcu **ntm_sock_slot(struct ntm_dev *nd, int family)
{
	return family == AF_INET ? &nd->sk4 : &nd->sk6;
}

static bool *ntm_sock_mc_loop(struct ntm_dev *nd, int family)
{
	return family == AF_INET ? &nd->mc_loop4 : &nd->mc_loop6;
}

/* Clear the encap hooks; caller holds lock_sock(sk). */
static void ntm_sock_clear(struct sock *sk)
{
	struct udp_sock *up = udp_sk(sk);

	WRITE_ONCE(up->encap_rcv, NULL);
	WRITE_ONCE(up->encap_destroy, NULL);
	WRITE_ONCE(up->encap_err_lookup, NULL);
	WRITE_ONCE(up->encap_type, 0);
	rcu_assign_sk_user_data(sk, NULL);
}

/*
 * Give @sk back to its owner as the plain UDP socket it was; caller holds
 * lock_sock(sk).  Returns true when it did, and then the caller drops the
 * hook's module reference.  A socket already being destroyed keeps its
 * hooks (only sk_user_data goes, so @nd is not touched again):
 * udp_destroy_sock() calls ntm_encap_destroy(), which drops the reference.
 * What stays: the socket's UDP_ENCAP_ENABLED flag, whose static-key count
 * udp_destroy_sock() balances; with encap_type 0 it changes nothing.
 */
static bool ntm_sock_unhook(struct sock *sk, struct ntm_dev *nd, bool mc_loop)
{
	if (rcu_access_pointer(__sk_user_data(sk)) != nd)
		return false;
	if (sock_flag(sk, SOCK_DEAD)) {
		rcu_assign_sk_user_data(sk, NULL);
		return false;
	}
	ntm_sock_clear(sk);
	inet_sk(sk)->mc_loop = mc_loop;
	inet_dec_convert_csum(sk);
	return true;
}

/* The owner closed its socket. */
static void ntm_encap_destroy(struct sock *sk)
{
	struct ntm_dev *nd;
	bool owned = false, hooked;

	lock_sock(sk);
	hooked = udp_sk(sk)->encap_type == NTM_UDP_ENCAP_TYPE;
	nd = rcu_dereference_protected(__sk_user_data(sk),
				       lockdep_sock_is_held(sk));
	if (nd) {
		int family = sk->sk_family;
		struct sock __rcu **slot = ntm_sock_slot(nd, family);

		spin_lock_bh(&nd->sock_lock);
		if (rcu_access_pointer(*slot) == sk) {
			RCU_INIT_POINTER(*slot, NULL);
			owned = true;
		}
		spin_unlock_bh(&nd->sock_lock);
	}
	if (hooked)
		ntm_sock_clear(sk);
	release_sock(sk);
	if (owned) {
		synchronize_net();
		sock_put(sk);
	}
	/* last: only the return to udp_destroy_sock() follows */
	if (hooked)
		module_put(THIS_MODULE);
}

/* Drop a socket taken out of its slot (or never published). */
static void ntm_sock_release(struct ntm_dev *nd, struct sock *sk,
			     bool mc_loop)
{
	bool put;

	lock_sock(sk);
	put = ntm_sock_unhook(sk, nd, mc_loop);
	release_sock(sk);
	/* readers that found sk before the swap finish first */
	synchronize_net();
	sock_put(sk);
	if (put)
		module_put(THIS_MODULE);
}

void ntm_socket_detach(struct ntm_dev *nd, int family)
{
	struct sock __rcu **slot = ntm_sock_slot(nd, family);
	struct sock *sk;

	spin_lock_bh(&nd->sock_lock);
	sk = rcu_dereference_protected(*slot,
				       lockdep_is_held(&nd->sock_lock));
	RCU_INIT_POINTER(*slot, NULL);
	spin_unlock_bh(&nd->sock_lock);
	if (sk)
		ntm_sock_release(nd, sk, *ntm_sock_mc_loop(nd, family));
}

/*
 * First half of an adoption: look @fd up, check it fully and hook it for
 * @nd, without publishing it.  The file reference taken here keeps the
 * owner's close from destroying the socket until ntm_socket_commit() or
 * ntm_socket_abort().  The socket @nd already uses is accepted as is
 * (a->same).
 */
int ntm_socket_prepare(struct ntm_dev *nd, int family, int fd,
		       struct ntm_sock_adopt *a)
{
	struct udp_tunnel_sock_cfg cfg = {
		.sk_user_data = nd,
		.encap_type = NTM_UDP_ENCAP_TYPE,
		.encap_rcv = ntm_udp_encap_recv,
		.encap_destroy = ntm_encap_destroy,
	};
	struct socket *sock;
	struct sock *sk;
	int err;

	memset(a, 0, sizeof(*a));
	sock = sockfd_lookup(fd, &err);
	if (!sock)
		return err;
	sk = sock->sk;
	if (sk->sk_type != SOCK_DGRAM || sk->sk_protocol != IPPROTO_UDP ||
	    sk->sk_family != family) {
		err = -EPROTOTYPE;
		goto out;
	}

	lock_sock(sk);
	if (!inet_sk(sk)->inet_num) {
		err = -EDESTADDRREQ;	/* must be bound to a port */
	} else if (rcu_access_pointer(*ntm_sock_slot(nd, family)) == sk) {
		err = 0;
		a->same = true;
	} else if (udp_sk(sk)->encap_type ||
		   rcu_access_pointer(__sk_user_data(sk))) {
		err = -EBUSY;
	} else if (!try_module_get(THIS_MODULE)) {
		err = -ENODEV;
	} else {
		err = 0;
		a->mc_loop = inet_sk(sk)->mc_loop;
		sock_hold(sk);
		setup_udp_tunnel_sock(sock_net(sk), sock, &cfg);
	}
	release_sock(sk);
	if (!err) {
		a->sock = sock;
		a->family = family;
		return 0;
	}
out:
	sockfd_put(sock);
	return err;
}

/* Undo ntm_socket_prepare(). */
void ntm_socket_abort(struct ntm_dev *nd, struct ntm_sock_adopt *a)
{
	if (!a->sock)
		return;
	if (!a->same)
		ntm_sock_release(nd, a->sock->sk, a->mc_loop);
	sockfd_put(a->sock);
	a->sock = NULL;
}

/*
 * Second half: publish the prepared socket in place of the old one, then
 * release the old one.  The caller resets the tunnels' route caches.
 */
void ntm_socket_commit(struct ntm_dev *nd, struct ntm_sock_adopt *a)
{
	struct sock __rcu **slot = ntm_sock_slot(nd, a->family);
	bool *saved = ntm_sock_mc_loop(nd, a->family);
	struct sock *old;
	bool old_mc_loop;

	if (!a->sock)
		return;
	if (a->same)
		goto out;
	old_mc_loop = *saved;
	spin_lock_bh(&nd->sock_lock);
	old = rcu_dereference_protected(*slot,
					lockdep_is_held(&nd->sock_lock));
	rcu_assign_pointer(*slot, a->sock->sk);
	spin_unlock_bh(&nd->sock_lock);
	*saved = a->mc_loop;
	if (old)
		ntm_sock_release(nd, old, old_mc_loop);
out:
	sockfd_put(a->sock);
	a->sock = NULL;
}

u16 ntm_socket_port(struct ntm_dev *nd, int family)
{
	struct sock *sk;
	u16 port = 0;

	rcu_read_lock();
	sk = rcu_dereference(*ntm_sock_slot(nd, family));
	if (sk)
		port = ntohs(inet_sk(sk)->inet_sport);
	rcu_read_unlock();
	return port;
}
