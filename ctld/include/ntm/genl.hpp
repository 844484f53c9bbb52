// SPDX-License-Identifier: GPL-2.0
/*
 * Generic-netlink client for the ntm family, on libnl-genl-3.
 *
 * libnl opens the socket, resolves the family and builds messages; the
 * receive path is ours so that sequence numbers, acks, NLMSG_DONE errors and
 * extended acks (NETLINK_EXT_ACK, NLMSGERR_ATTR_MSG) are all handled and so
 * that dumps are streamed to the caller one message at a time.
 */
#ifndef NTM_GENL_HPP
#define NTM_GENL_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/ntm.h>

#include "ntm/error.hpp"
#include "ntm/handle.hpp"

struct nlmsghdr;

namespace ntm {

/** Error reported by the kernel in an NLMSG_ERROR or NLMSG_DONE. */
class KernelError : public Error {
public:
	KernelError(const std::string &what, int err, std::string extack);
	/** The extended ack message, empty when the kernel sent none. */
	[[nodiscard]] const std::string &extack() const noexcept { return *extack_; }

private:
	/* shared: copying an exception must not throw */
	std::shared_ptr<const std::string> extack_;
};

/** One generic-netlink message of the family. */
struct GenlReply {
	std::uint8_t cmd = 0;
	std::span<const std::uint8_t> attrs; /* after struct genlmsghdr */
};

using ReplyHandler = std::function<void(const GenlReply &)>;

/** The message that names the family when it cannot be resolved. */
inline constexpr std::string_view kFamilyMissing = "ntm: family not found (is ntm.ko loaded? try: modprobe ntm)";

/** A generic-netlink socket with the ntm family resolved. */
class GenlSocket {
public:
	/**
	 * Connects and resolves family (NTM_GENL_NAME by default). Throws
	 * Error(kFamilyMissing, ENOENT) when the family is not registered.
	 */
	explicit GenlSocket(std::string family = NTM_GENL_NAME);
	GenlSocket(const GenlSocket &) = delete;
	GenlSocket &operator=(const GenlSocket &) = delete;
	GenlSocket(GenlSocket &&) noexcept;
	GenlSocket &operator=(GenlSocket &&) noexcept;
	~GenlSocket();

	[[nodiscard]] int family_id() const noexcept { return family_id_; }
	[[nodiscard]] int fd() const noexcept;

	/** A message with nlmsghdr + genlmsghdr for cmd, version NTM_GENL_VERSION. */
	[[nodiscard]] NlMsgPtr new_message(std::uint8_t cmd, int flags) const;

	/**
	 * doit with NLM_F_ACK: sends, waits for the ack, passes every reply of
	 * the family to on_reply. Throws KernelError("<what>: <strerror>...").
	 */
	void request(const NlMsgPtr &msg, std::string_view what, const ReplyHandler &on_reply = {});

	/** NLM_F_DUMP: streams every message to on_reply until NLMSG_DONE. */
	void dump(const NlMsgPtr &msg, std::string_view what, const ReplyHandler &on_reply);

	/** The id of a multicast group of the family; throws Error if unknown. */
	[[nodiscard]] std::uint32_t group_id(const std::string &name);
	void join_group(std::uint32_t group);
	void set_nonblocking();
	/** SO_RCVBUF(FORCE) as large as permitted, for event sockets. */
	void set_rcvbuf(int bytes);

	/** Result of receive_events(). */
	enum class RecvStatus { would_block, overrun };
	/**
	 * Non-blocking read of multicast messages: passes each message of the
	 * family to on_msg, returns when nothing is left (would_block) or when
	 * the kernel dropped messages because the socket buffer overflowed.
	 */
	RecvStatus receive_events(const ReplyHandler &on_msg);

private:
	void transact(const NlMsgPtr &msg, std::string_view what, const ReplyHandler &on_reply, bool dump);
	void reconnect();
	static NlSockPtr open_socket();
	static int resolve_family(nl_sock *sk, const std::string &family);

	NlSockPtr sk_;
	std::string family_;
	int family_id_ = -1;
	bool in_flight_ = false;	 /* a transaction was left unfinished */
	std::vector<std::uint64_t> buf_; /* 8-aligned receive buffer */
};

/** Formats a netlink error: "<strerror>[: <extack>]" plus hints (EPERM...). */
std::string describe_kernel_error(int err, std::string_view extack);

} // namespace ntm

#endif
