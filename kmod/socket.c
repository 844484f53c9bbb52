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
 * Two paths can drop the borrowed reference: an explicit detach (netlink,
 * device teardown) and the owner closing the socket (encap_destroy).  Both
 * run under lock_sock(), and the one that clears nd->skN owns the put.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
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

/* Clear the encap hooks; caller holds lock_sock(sk). */
static void ntm_sock_unhook(struct sock *sk)
{
	struct udp_sock *up = udp_sk(sk);

	WRITE_ONCE(up->encap_rcv, NULL);
	WRITE_ONCE(up->encap_destroy, NULL);
	WRITE_ONCE(up->encap_err_lookup, NULL);
	WRITE_ONCE(up->encap_type, 0);
	rcu_assign_sk_user_data(sk, NULL);
}

/* The owner closed its socket. */
static void ntm_encap_destroy(struct sock *sk)
{
	struct ntm_dev *nd;
	bool owned = false;

	lock_sock(sk);
	nd = rcu_dereference_protected(__sk_user_data(sk),
				       lockdep_sock_is_held(sk));
	if (nd) {
		int family = sk->sk_family;
		struct sock __rcu **slot = ntm_sock_slot(nd, family);

		ntm_sock_unhook(sk);
		spin_lock_bh(&nd->sock_lock);
		if (rcu_access_pointer(*slot) == sk) {
			RCU_INIT_POINTER(*slot, NULL);
			owned = true;
		}
		spin_unlock_bh(&nd->sock_lock);
	}
	release_sock(sk);
	if (owned) {
		synchronize_net();
		sock_put(sk);
	}
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
	if (!sk)
		return;

	lock_sock(sk);
	if (rcu_access_pointer(__sk_user_data(sk)) == nd)
		ntm_sock_unhook(sk);
	release_sock(sk);
	/* readers that found sk before the swap finish first */
	synchronize_net();
	sock_put(sk);
}

int ntm_socket_attach(struct ntm_dev *nd, int family, int fd)
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

	sock = sockfd_lookup(fd, &err);
	if (!sock)
		return err;
	sk = sock->sk;
	if (sk->sk_type != SOCK_DGRAM || sk->sk_protocol != IPPROTO_UDP ||
	    sk->sk_family != family) {
		err = -EPROTOTYPE;
		goto out;
	}

	/*
	 * Drop the old socket first, then hook the new one and publish it
	 * under one lock_sock(), so a concurrent close of the new socket
	 * sees either nothing or a fully published attachment.
	 */
	ntm_socket_detach(nd, family);
	lock_sock(sk);
	if (!inet_sk(sk)->inet_num) {
		err = -EDESTADDRREQ;	/* must be bound to a port */
	} else if (udp_sk(sk)->encap_type ||
		   rcu_access_pointer(__sk_user_data(sk))) {
		err = -EBUSY;
	} else {
		err = 0;
		sock_hold(sk);
		setup_udp_tunnel_sock(sock_net(sk), sock, &cfg);
		spin_lock_bh(&nd->sock_lock);
		rcu_assign_pointer(*ntm_sock_slot(nd, family), sk);
		spin_unlock_bh(&nd->sock_lock);
	}
	release_sock(sk);
out:
	sockfd_put(sock);
	return err;
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
