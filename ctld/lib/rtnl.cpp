// SPDX-License-Identifier: GPL-2.0
#include "ntm/rtnl.hpp"

#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <linux/if_addr.h>
#include <net/if.h>

#include <netlink/addr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "ntm/error.hpp"
#include "ntm/handle.hpp"

namespace ntm {

namespace {

NlSockPtr route_socket()
{
	NlSockPtr sk(nl_socket_alloc());
	if (!sk)
		throw std::bad_alloc();
	if (const int rc = nl_connect(sk.get(), NETLINK_ROUTE); rc < 0)
		throw Error(std::string("rtnetlink socket: ") + nl_geterror(-rc));
	return sk;
}

LinkInfo to_info(rtnl_link *link)
{
	LinkInfo li;
	li.ifindex = static_cast<std::uint32_t>(rtnl_link_get_ifindex(link));
	if (const char *n = rtnl_link_get_name(link))
		li.name = n;
	if (const char *k = rtnl_link_get_type(link))
		li.kind = k;
	return li;
}

/* libnl error codes back to errno, for the ones callers care about */
int to_errno(int nlerr)
{
	switch (nlerr) {
	case NLE_PERM:
		return EPERM;
	case NLE_EXIST:
		return EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return ENODEV;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_INVAL:
		return EINVAL;
	case NLE_NOMEM:
		return ENOMEM;
	default:
		return EIO;
	}
}

} // namespace

std::vector<LinkInfo> list_links()
{
	const NlSockPtr sk = route_socket();
	nl_cache *raw = nullptr;
	if (const int rc = rtnl_link_alloc_cache(sk.get(), AF_UNSPEC, &raw); rc < 0)
		throw Error(std::string("list links: ") + nl_geterror(-rc), to_errno(-rc));
	const NlCachePtr cache(raw);
	std::vector<LinkInfo> out;
	for (nl_object *o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o))
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		out.push_back(to_info(reinterpret_cast<rtnl_link *>(o)));
	std::ranges::sort(out, {}, &LinkInfo::ifindex);
	return out;
}

std::vector<LinkInfo> list_links_of_kind(const std::string &kind)
{
	auto all = list_links();
	std::erase_if(all, [&kind](const LinkInfo &l) { return l.kind != kind; });
	return all;
}

std::optional<LinkInfo> find_link(const std::string &name)
{
	const NlSockPtr sk = route_socket();
	rtnl_link *raw = nullptr;
	const int rc = rtnl_link_get_kernel(sk.get(), 0, name.c_str(), &raw);
	if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV)
		return std::nullopt;
	if (rc < 0)
		throw Error("look up link " + name + ": " + nl_geterror(-rc), to_errno(-rc));
	const RtnlLinkPtr link(raw);
	return to_info(link.get());
}

void create_link(const std::string &name, const std::string &kind)
{
	const NlSockPtr sk = route_socket();
	const RtnlLinkPtr link(rtnl_link_alloc());
	if (!link)
		throw std::bad_alloc();
	rtnl_link_set_name(link.get(), name.c_str());
	if (const int rc = rtnl_link_set_type(link.get(), kind.c_str()); rc < 0)
		throw Error("create link " + name + ": " + nl_geterror(-rc), to_errno(-rc));
	const int rc = rtnl_link_add(sk.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
	if (rc == -NLE_OPNOTSUPP)
		throw Error("create link " + name + ": link kind '" + kind + "' unknown (is " + kind +
				    ".ko loaded? try: modprobe " + kind + ")",
			    EOPNOTSUPP);
	if (rc < 0)
		throw Error("create link " + name + ": " + nl_geterror(-rc), to_errno(-rc));
}

void delete_link(std::uint32_t ifindex)
{
	const NlSockPtr sk = route_socket();
	const RtnlLinkPtr link(rtnl_link_alloc());
	if (!link)
		throw std::bad_alloc();
	rtnl_link_set_ifindex(link.get(), static_cast<int>(ifindex));
	if (const int rc = rtnl_link_delete(sk.get(), link.get()); rc < 0)
		throw Error("delete link " + std::to_string(ifindex) + ": " + nl_geterror(-rc), to_errno(-rc));
}

namespace {

struct NlAddrDeleter {
	void operator()(nl_addr *a) const noexcept { nl_addr_put(a); }
};
struct RtnlAddrDeleter {
	void operator()(rtnl_addr *a) const noexcept { rtnl_addr_put(a); }
};
struct RtnlRouteDeleter {
	void operator()(rtnl_route *r) const noexcept { rtnl_route_put(r); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;

NlAddrPtr to_nl_addr(const IpAddress &a, unsigned prefixlen)
{
	const auto b = a.bytes();
	NlAddrPtr na(nl_addr_build(a.family(), b.data(), b.size()));
	if (!na)
		throw std::bad_alloc();
	nl_addr_set_prefixlen(na.get(), static_cast<int>(prefixlen));
	return na;
}

} // namespace

void set_link_up(std::uint32_t ifindex)
{
	const NlSockPtr sk = route_socket();
	const RtnlLinkPtr orig(rtnl_link_alloc());
	const RtnlLinkPtr change(rtnl_link_alloc());
	if (!orig || !change)
		throw std::bad_alloc();
	rtnl_link_set_ifindex(orig.get(), static_cast<int>(ifindex));
	rtnl_link_set_flags(change.get(), IFF_UP);
	if (const int rc = rtnl_link_change(sk.get(), orig.get(), change.get(), 0); rc < 0)
		throw Error("set link " + std::to_string(ifindex) + " up: " + nl_geterror(-rc), to_errno(-rc));
}

void add_address(std::uint32_t ifindex, const IpAddress &addr, unsigned prefixlen)
{
	const NlSockPtr sk = route_socket();
	const std::unique_ptr<rtnl_addr, RtnlAddrDeleter> a(rtnl_addr_alloc());
	if (!a)
		throw std::bad_alloc();
	rtnl_addr_set_ifindex(a.get(), static_cast<int>(ifindex));
	rtnl_addr_set_family(a.get(), addr.family());
	const auto local = to_nl_addr(addr, prefixlen);
	if (const int rc = rtnl_addr_set_local(a.get(), local.get()); rc < 0)
		throw Error("address " + addr.to_string() + ": " + nl_geterror(-rc), to_errno(-rc));
	rtnl_addr_set_prefixlen(a.get(), static_cast<int>(prefixlen));
	if (addr.is_v6())
		rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
	if (const int rc = rtnl_addr_add(sk.get(), a.get(), NLM_F_REPLACE); rc < 0 && rc != -NLE_EXIST)
		throw Error("add address " + addr.to_string() + "/" + std::to_string(prefixlen) + ": " +
				    nl_geterror(-rc),
			    to_errno(-rc));
}

void replace_route(std::uint32_t ifindex, const IpAddress &addr, unsigned prefixlen)
{
	const NlSockPtr sk = route_socket();
	const std::unique_ptr<rtnl_route, RtnlRouteDeleter> r(rtnl_route_alloc());
	if (!r)
		throw std::bad_alloc();
	rtnl_route_set_family(r.get(), static_cast<std::uint8_t>(addr.family()));
	const auto dst = to_nl_addr(addr, prefixlen);
	if (const int rc = rtnl_route_set_dst(r.get(), dst.get()); rc < 0)
		throw Error("route " + addr.to_string() + ": " + nl_geterror(-rc), to_errno(-rc));
	rtnl_route_set_scope(r.get(), RT_SCOPE_LINK);
	rtnl_route_set_protocol(r.get(), RTPROT_STATIC);
	rtnl_nexthop *nh = rtnl_route_nh_alloc();
	if (nh == nullptr)
		throw std::bad_alloc();
	rtnl_route_nh_set_ifindex(nh, static_cast<int>(ifindex));
	rtnl_route_add_nexthop(r.get(), nh); /* the route owns nh now */
	if (const int rc = rtnl_route_add(sk.get(), r.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0)
		throw Error("add route " + addr.to_string() + "/" + std::to_string(prefixlen) + ": " +
				    nl_geterror(-rc),
			    to_errno(-rc));
}

} // namespace ntm
