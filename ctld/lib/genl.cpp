// SPDX-License-Identifier: GPL-2.0
#include "ntm/genl.hpp"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <new>

#include <netlink/attr.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/socket.h>

namespace ntm {

namespace {

/*
 * The kernel sizes dump messages after the largest buffer we ever passed to
 * recvmsg() (up to 32 KiB); 64 KiB holds any of them.
 */
constexpr std::size_t kRecvBuf = std::size_t{64} * 1024;
constexpr int kSockBuf = 1 << 20;

std::string family_missing(const std::string &family)
{
	if (family == NTM_GENL_NAME)
		return std::string(kFamilyMissing);
	return family + ": family not found (is its module loaded?)";
}

void set_int_opt(int fd, int level, int opt, int value) noexcept
{
	/* best effort: older kernels lack some of these */
	(void)setsockopt(fd, level, opt, &value, sizeof(value));
}

/* Extended ack attributes that follow the struct nlmsgerr / DONE errno. */
std::string parse_extack(const nlmsghdr *nh, std::size_t tlv_offset)
{
	if ((nh->nlmsg_flags & NLM_F_ACK_TLVS) == 0)
		return {};
	const int datalen = nlmsg_datalen(nh);
	tlv_offset = NLMSG_ALIGN(tlv_offset);
	if (datalen < 0 || tlv_offset >= static_cast<std::size_t>(datalen))
		return {};
	const auto *base = static_cast<const std::uint8_t *>(nlmsg_data(nh));
	std::array<nlattr *, NLMSGERR_ATTR_MAX + 1> tb{};
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast,cppcoreguidelines-pro-type-const-cast)
	auto *head = reinterpret_cast<nlattr *>(const_cast<std::uint8_t *>(base + tlv_offset));
	if (nla_parse(tb.data(), NLMSGERR_ATTR_MAX, head, datalen - static_cast<int>(tlv_offset), nullptr) < 0)
		return {};
	std::string msg;
	if (const nlattr *a = tb[NLMSGERR_ATTR_MSG]; a != nullptr && nla_len(a) > 0) {
		const auto *s = static_cast<const char *>(nla_data(a));
		msg.assign(s, strnlen(s, static_cast<std::size_t>(nla_len(a))));
	}
	if (const nlattr *a = tb[NLMSGERR_ATTR_MISS_TYPE]; a != nullptr && nla_len(a) == 4) {
		if (!msg.empty())
			msg += ", ";
		msg += "missing attribute " + std::to_string(nla_get_u32(a));
	}
	return msg;
}

} // namespace

KernelError::KernelError(const std::string &what, int err, std::string extack)
    : Error(what.empty() ? describe_kernel_error(err, extack) : what + ": " + describe_kernel_error(err, extack), err),
      extack_(std::make_shared<const std::string>(std::move(extack)))
{}

std::string describe_kernel_error(int err, std::string_view extack)
{
	std::string s = errno_string(err);
	if (!extack.empty()) {
		s += ": ";
		s += extack;
	}
	if (err == EPERM || err == EACCES)
		s += " (ntm needs CAP_NET_ADMIN)";
	return s;
}

GenlSocket::GenlSocket(std::string family)
    : sk_(open_socket()), family_(std::move(family)), family_id_(resolve_family(sk_.get(), family_)),
      buf_(kRecvBuf / sizeof(std::uint64_t))
{}

GenlSocket::GenlSocket(GenlSocket &&) noexcept = default;
GenlSocket &GenlSocket::operator=(GenlSocket &&) noexcept = default;
GenlSocket::~GenlSocket() = default;

int GenlSocket::resolve_family(nl_sock *sk, const std::string &family)
{
	const int id = genl_ctrl_resolve(sk, family.c_str());
	if (id == -NLE_OBJ_NOTFOUND)
		throw Error(family_missing(family), ENOENT);
	if (id < 0)
		throw Error("resolve generic netlink family " + family + ": " + nl_geterror(-id));
	return id;
}

void GenlSocket::reconnect()
{
	sk_ = open_socket();
	in_flight_ = false;
}

NlSockPtr GenlSocket::open_socket()
{
	NlSockPtr sk(nl_socket_alloc());
	if (!sk)
		throw std::bad_alloc();
	if (const int rc = genl_connect(sk.get()); rc < 0)
		throw Error(std::string("generic netlink socket: ") + nl_geterror(-rc));
	/* acks are requested per message: a dump must not ask for one */
	nl_socket_disable_auto_ack(sk.get());
	const int fd = nl_socket_get_fd(sk.get());
	set_int_opt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
	/* do not echo requests in errors: shorter, and they may hold keys */
	set_int_opt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
	(void)nl_socket_set_buffer_size(sk.get(), kSockBuf, kSockBuf);
	return sk;
}

int GenlSocket::fd() const noexcept
{
	return nl_socket_get_fd(sk_.get());
}

NlMsgPtr GenlSocket::new_message(std::uint8_t cmd, int flags) const
{
	NlMsgPtr msg = make_nlmsg();
	if (genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_id_, 0, flags, cmd, NTM_GENL_VERSION) == nullptr)
		throw std::bad_alloc();
	return msg;
}

void GenlSocket::request(const NlMsgPtr &msg, std::string_view what, const ReplyHandler &on_reply)
{
	transact(msg, what, on_reply, false);
}

void GenlSocket::dump(const NlMsgPtr &msg, std::string_view what, const ReplyHandler &on_reply)
{
	transact(msg, what, on_reply, true);
}

void GenlSocket::transact(const NlMsgPtr &msg, std::string_view what, const ReplyHandler &on_reply, bool dump)
{
	/*
	 * A previous transaction that ended with an exception from a reply
	 * handler may have left messages queued: start over on a clean socket.
	 */
	if (in_flight_)
		reconnect();

	nlmsghdr *req = nlmsg_hdr(msg.get());
	req->nlmsg_flags |= NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	if (const int rc = nl_send_auto(sk_.get(), msg.get()); rc < 0)
		throw Error(std::string(what) + ": send: " + nl_geterror(-rc));
	in_flight_ = true;
	const std::uint32_t seq = req->nlmsg_seq;
	const std::uint32_t port = nl_socket_get_local_port(sk_.get());
	const std::string what_s(what);

	for (;;) {
		sockaddr_nl from{};
		iovec iov{buf_.data(), buf_.size() * sizeof(std::uint64_t)};
		msghdr mh{};
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		const ssize_t n = recvmsg(fd(), &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			const int err = errno;
			reconnect();
			throw_errno(what_s + ": receive", err);
		}
		if ((mh.msg_flags & MSG_TRUNC) != 0) {
			reconnect();
			throw Error(what_s + ": netlink reply truncated", EMSGSIZE);
		}
		if (from.nl_pid != 0)
			continue; /* not from the kernel */

		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		auto *nh = reinterpret_cast<nlmsghdr *>(buf_.data());
		int rem = static_cast<int>(n);
		for (; nlmsg_ok(nh, rem); nh = nlmsg_next(nh, &rem)) {
			if (nh->nlmsg_seq != seq || nh->nlmsg_pid != port)
				continue; /* stale: an earlier, abandoned request */
			switch (nh->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_OVERRUN:
				reconnect();
				throw Error(what_s + ": netlink overrun", ENOBUFS);
			case NLMSG_ERROR: {
				if (nlmsg_datalen(nh) < static_cast<int>(sizeof(nlmsgerr))) {
					reconnect();
					throw ProtocolError("short NLMSG_ERROR");
				}
				const auto *e = static_cast<const nlmsgerr *>(nlmsg_data(nh));
				in_flight_ = false;
				if (e->error == 0)
					return; /* the ack */
				std::size_t off = sizeof(nlmsgerr);
				if ((nh->nlmsg_flags & NLM_F_CAPPED) == 0 && e->msg.nlmsg_len >= NLMSG_HDRLEN)
					off += e->msg.nlmsg_len - NLMSG_HDRLEN;
				throw KernelError(what_s, -e->error, parse_extack(nh, off));
			}
			case NLMSG_DONE: {
				in_flight_ = false;
				int err = 0;
				if (nlmsg_datalen(nh) >= static_cast<int>(sizeof(int)))
					std::memcpy(&err, nlmsg_data(nh), sizeof(err));
				if (err < 0)
					throw KernelError(what_s, -err, parse_extack(nh, sizeof(int)));
				if (dump)
					return;
				continue;
			}
			default:
				break;
			}
			if (nh->nlmsg_type != family_id_)
				continue;
			if (nlmsg_datalen(nh) < static_cast<int>(GENL_HDRLEN)) {
				reconnect();
				throw ProtocolError("short generic netlink message");
			}
			const auto *gh = static_cast<const genlmsghdr *>(nlmsg_data(nh));
			const int alen = genlmsg_attrlen(gh, 0);
			if (on_reply)
				on_reply(GenlReply{gh->cmd,
						   {static_cast<const std::uint8_t *>(
							    static_cast<const void *>(genlmsg_attrdata(gh, 0))),
						    alen > 0 ? static_cast<std::size_t>(alen) : 0U}});
		}
	}
}

std::uint32_t GenlSocket::group_id(const std::string &name)
{
	const int id = genl_ctrl_resolve_grp(sk_.get(), family_.c_str(), name.c_str());
	if (id < 0)
		throw Error(family_ + ": multicast group " + name + " not found: " + nl_geterror(-id), ENOENT);
	return static_cast<std::uint32_t>(id);
}

void GenlSocket::join_group(std::uint32_t group)
{
	if (const int rc = nl_socket_add_membership(sk_.get(), static_cast<int>(group)); rc < 0)
		throw Error(family_ + ": join multicast group: " + nl_geterror(-rc));
}

void GenlSocket::set_nonblocking()
{
	if (const int rc = nl_socket_set_nonblocking(sk_.get()); rc < 0)
		throw Error(std::string("netlink socket: ") + nl_geterror(-rc));
}

// NOLINTNEXTLINE(readability-make-member-function-const): changes the socket
void GenlSocket::set_rcvbuf(int bytes)
{
	if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

GenlSocket::RecvStatus GenlSocket::receive_events(const ReplyHandler &on_msg)
{
	for (;;) {
		sockaddr_nl from{};
		iovec iov{buf_.data(), buf_.size() * sizeof(std::uint64_t)};
		msghdr mh{};
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		const ssize_t n = recvmsg(fd(), &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return RecvStatus::would_block;
			if (errno == ENOBUFS)
				return RecvStatus::overrun;
			throw_errno("receive events");
		}
		if ((mh.msg_flags & MSG_TRUNC) != 0 || from.nl_pid != 0)
			continue;
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		auto *nh = reinterpret_cast<nlmsghdr *>(buf_.data());
		int rem = static_cast<int>(n);
		for (; nlmsg_ok(nh, rem); nh = nlmsg_next(nh, &rem)) {
			if (nh->nlmsg_type != family_id_ || nlmsg_datalen(nh) < static_cast<int>(GENL_HDRLEN))
				continue;
			const auto *gh = static_cast<const genlmsghdr *>(nlmsg_data(nh));
			const int alen = genlmsg_attrlen(gh, 0);
			on_msg(GenlReply{
				gh->cmd,
				{static_cast<const std::uint8_t *>(static_cast<const void *>(genlmsg_attrdata(gh, 0))),
				 alen > 0 ? static_cast<std::size_t>(alen) : 0U}});
		}
	}
}

} // namespace ntm
