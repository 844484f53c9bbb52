// SPDX-License-Identifier: GPL-2.0
/*
 * RAII owners for the C handles libntm uses: libnl sockets and messages,
 * file descriptors.
 */
#ifndef NTM_HANDLE_HPP
#define NTM_HANDLE_HPP

#include <memory>
#include <utility>

struct nl_sock;
struct nl_msg;
struct nl_cache;
struct rtnl_link;

namespace ntm {

struct NlSockDeleter {
	void operator()(nl_sock *sk) const noexcept;
};
/** Frees the message after wiping it: requests may carry keys. */
struct NlMsgDeleter {
	void operator()(nl_msg *msg) const noexcept;
};
struct NlCacheDeleter {
	void operator()(nl_cache *c) const noexcept;
};
struct RtnlLinkDeleter {
	void operator()(rtnl_link *l) const noexcept;
};

using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlMsgPtr = std::unique_ptr<nl_msg, NlMsgDeleter>;
using NlCachePtr = std::unique_ptr<nl_cache, NlCacheDeleter>;
using RtnlLinkPtr = std::unique_ptr<rtnl_link, RtnlLinkDeleter>;

/** A new message with the default size; throws std::bad_alloc. */
NlMsgPtr make_nlmsg();

/** An owned file descriptor. */
class UniqueFd {
public:
	UniqueFd() noexcept = default;
	explicit UniqueFd(int fd) noexcept : fd_(fd) {}
	UniqueFd(const UniqueFd &) = delete;
	UniqueFd &operator=(const UniqueFd &) = delete;
	UniqueFd(UniqueFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	UniqueFd &operator=(UniqueFd &&o) noexcept
	{
		if (this != &o)
			reset(std::exchange(o.fd_, -1));
		return *this;
	}
	~UniqueFd() { reset(); }

	[[nodiscard]] int get() const noexcept { return fd_; }
	[[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
	explicit operator bool() const noexcept { return valid(); }
	/** Gives up ownership. */
	[[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept;

private:
	int fd_ = -1;
};

} // namespace ntm

#endif
