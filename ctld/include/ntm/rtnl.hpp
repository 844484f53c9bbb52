// SPDX-License-Identifier: GPL-2.0
/* rtnetlink helpers (libnl-route-3): find, create and delete links. */
#ifndef NTM_RTNL_HPP
#define NTM_RTNL_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ntm/model.hpp"

namespace ntm {

struct LinkInfo {
	std::uint32_t ifindex = 0;
	std::string name;
	std::string kind; /* IFLA_INFO_KIND, empty for plain devices */
};

/** Every link of the network namespace. */
std::vector<LinkInfo> list_links();
/** The links of one kind ("ntm"), ordered by ifindex. */
std::vector<LinkInfo> list_links_of_kind(const std::string &kind);
/** nullopt when no link has that name. */
std::optional<LinkInfo> find_link(const std::string &name);
/**
 * ip link add NAME type KIND. Throws Error; for an unknown kind the message
 * says to load the module.
 */
void create_link(const std::string &name, const std::string &kind);
/** ip link del; throws Error (code ENODEV when it is already gone). */
void delete_link(std::uint32_t ifindex);
/** Sets IFF_UP. */
void set_link_up(std::uint32_t ifindex);
/** Adds addr/prefixlen to the link (replacing an equal one; IPv6 without DAD). */
void add_address(std::uint32_t ifindex, const IpAddress &addr, unsigned prefixlen);
/** Adds or replaces the route to addr/prefixlen through the link (no gateway). */
void replace_route(std::uint32_t ifindex, const IpAddress &addr, unsigned prefixlen);

} // namespace ntm

#endif
