// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink reply parsers: the first byte picks the message (0: GET_DEVICE
 * reply, 1: GET_TUNNEL message, otherwise an event with that command byte),
 * the rest is the attribute stream after the genlmsghdr. Whatever parses is
 * also rendered as JSON and text, as ntmctl would.
 */
#include <cstdint>

#include "fuzz_common.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/format.hpp"
#include "ntm/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size == 0)
		return 0;
	// NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic)
	const ntm::AttrBytes attrs(data + 1, size - 1);
	try {
		switch (data[0]) {
		case 0: {
			const auto d = ntm::parse_device(attrs);
			(void)ntm::json_dump(nlohmann::json(d));
			break;
		}
		case 1: {
			(void)ntm::parse_tunnels(attrs,
						 [](ntm::Tunnel &&t) { (void)ntm::json_dump(nlohmann::json(t)); });
			break;
		}
		default: {
			/* 2, 3, 4: the event commands; others are not events */
			const auto cmd =
				data[0] <= 4 ? static_cast<std::uint8_t>(NTM_CMD_EVENT_ACQUIRE + data[0] - 2) : data[0];
			const auto ev = ntm::parse_event(cmd, attrs);
			if (ev) {
				(void)ntm::format_event(*ev, "ntm0");
				(void)ntm::json_dump(ntm::event_to_json(*ev, ""));
			}
			break;
		}
		}
	} catch (const ntm::ProtocolError &) {
	}
	return 0;
}
