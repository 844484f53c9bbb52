// SPDX-License-Identifier: GPL-2.0
/* Human-readable text for ntmctl and the ntmd log. */
#ifndef NTM_FORMAT_HPP
#define NTM_FORMAT_HPP

#include <cstdint>
#include <string>

#include "ntm/model.hpp"

namespace ntm {

/** 512 B, 1.50 KiB, 3.20 MiB, ... (like wg show). */
std::string format_bytes(std::uint64_t n);
/** "1 second", "5 seconds", "1 minute, 2 seconds", ... */
std::string format_duration(std::uint64_t seconds);
/**
 * One line per event, the monitor format:
 *   acquire dev ntm0 dst 10.1.0.2 src 10.1.0.1
 *   endpoint dev ntm0 local-index 7 endpoint 1.2.3.4:5
 *   expired dev ntm0 local-index 7 remote-index 9 reason lifetime
 *   relay-expired dev ntm0 id 5 reason idle leg1 1.2.3.4:5 leg2 [2001:db8::1]:6
 * ifname is the device name (the ifindex is printed when it is empty).
 */
std::string format_event(const Event &ev, const std::string &ifname);
/** if_indextoname() or "" */
std::string ifname_of(std::uint32_t ifindex);

} // namespace ntm

#endif
