// SPDX-License-Identifier: GPL-2.0
#include "ntm/error.hpp"

#include <cerrno>
#include <array>
#include <cstring>
#include <string>

namespace ntm {

ProtocolError::ProtocolError(const std::string &msg) : Error("malformed netlink message: " + msg, EPROTO) {}

std::string errno_string(int err)
{
	std::array<char, 256> buf{};
	/* GNU strerror_r: returns a pointer, maybe not to buf */
	const char *s = strerror_r(err, buf.data(), buf.size());
	return s != nullptr ? std::string(s) : std::string("error ") + std::to_string(err);
}

void throw_errno(std::string_view what)
{
	throw_errno(what, errno);
}

void throw_errno(std::string_view what, int err)
{
	throw Error(std::string(what) + ": " + errno_string(err), err);
}

} // namespace ntm
