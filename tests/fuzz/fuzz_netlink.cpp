// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink reply parsers: the first byte picks the message (0: GET_DEVICE
 * reply, 1: GET_TUNNEL message, otherwise an event with that command byte),
 * the rest is the attribute stream after the genlmsghdr. Whatever parses is
 * also rendered as JSON and text, as ntmctl would (tunnel show and show,
 * ESP tunnels with their SPIs, traffic selectors and limits included).
 */
#include <cstdint>
#include <cstdio>

#include "fuzz_common.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/format.hpp"
#include "ntm/json.hpp"
#include "output.hpp"

namespace {

/* where the text forms go: rendered, never read */
std::FILE *sink()
{
	/* open for the life of the process */
	// NOLINTNEXTLINE(cppcoreguidelines-owning-memory)
	static std::FILE *const f = std::fopen("/dev/null", "w");
	return f;
}

} // namespace

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
			(void)ntm::parse_tunnels(attrs, [](ntm::Tunnel &&t) {
				(void)ntm::json_dump(nlohmann::json(t));
				if (std::FILE *f = sink()) {
					ntmctl::print_tunnel(f, t, 1);
					ntmctl::print_tunnel_row(f, t, 1);
				}
			});
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
