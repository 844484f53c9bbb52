// SPDX-License-Identifier: GPL-2.0
#include "ntm/handle.hpp"

#include <unistd.h>

#include <new>

#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "ntm/secret.hpp"

namespace ntm {

void NlSockDeleter::operator()(nl_sock *sk) const noexcept
{
	nl_socket_free(sk);
}

void NlMsgDeleter::operator()(nl_msg *msg) const noexcept
{
	nlmsghdr *h = nlmsg_hdr(msg);
	/* nlmsg_len never exceeds the buffer libnl allocated */
	if (h != nullptr)
		secure_wipe(h, h->nlmsg_len);
	nlmsg_free(msg);
}

void NlCacheDeleter::operator()(nl_cache *c) const noexcept
{
	nl_cache_free(c);
}

void RtnlLinkDeleter::operator()(rtnl_link *l) const noexcept
{
	rtnl_link_put(l);
}

NlMsgPtr make_nlmsg()
{
	NlMsgPtr m(nlmsg_alloc());
	if (!m)
		throw std::bad_alloc();
	return m;
}

void UniqueFd::reset(int fd) noexcept
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

} // namespace ntm
