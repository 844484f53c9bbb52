// SPDX-License-Identifier: GPL-2.0
/*
 * SigIo's group commit (D109): the datagrams one event-loop turn finds
 * queued on a socket are fed as one batch. While a batch runs, what it
 * would send is held and the requests that need the asynchronous handler
 * wait; the commit hook then makes the batch's state (the DC's receive
 * marks, registrations) durable in one transaction, and only after that
 * are the held datagrams sent and the waiting requests handled. A failed
 * commit sends nothing: the peers retransmit.
 */
#include "sigio.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include <poll.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

namespace ntmd {

namespace {

/* Waits until fd can take a datagram: asio keeps its sockets non-blocking underneath. */
bool wait_writable(int fd)
{
	pollfd p{fd, POLLOUT, 0};
	for (;;) {
		const int r = ::poll(&p, 1, -1);
		if (r > 0)
			return true;
		if (r < 0 && errno == EINTR)
			continue;
		return false;
	}
}

std::string errno_text(int e)
{
	return std::error_code(e, std::system_category()).message();
}

} // namespace

void SigIo::feed_batch(asio::ip::udp::socket &sock, RecvSlots &slots, std::span<const std::uint8_t> first,
		       const ntm::Endpoint &from)
{
	holding_ = static_cast<bool>(batch_commit_);
	if (batch_begin_)
		batch_begin_();
	/* a throw from feed must not leave the batch open: commit what is there, then rethrow */
	struct End {
		SigIo &io;
		bool done = false;
		explicit End(SigIo &s) : io(s) {}
		End(const End &) = delete;
		End &operator=(const End &) = delete;
		End(End &&) = delete;
		End &operator=(End &&) = delete;
		~End()
		{
			if (!done)
				io.end_batch(false);
		}
	} end(*this);
	feed(first, from);
	/*
	 * The rest of what is queued, kMmsg datagrams per recvmmsg, without
	 * blocking (MSG_DONTWAIT): the sends stay blocking, a full send
	 * buffer waits.
	 */
	const int fd = sock.native_handle();
	std::size_t fed = 1;
	while (fed < batch_max_ && !stopped_) {
		const std::size_t want = std::min(kMmsg, batch_max_ - fed);
		for (std::size_t i = 0; i < want; i++) {
			slots.iov[i] = {slots.data.get() + i * RecvSlots::kSlotBytes, RecvSlots::kSlotBytes};
			slots.msgs[i] = {};
			slots.msgs[i].msg_hdr.msg_name = slots.names[i].data();
			slots.msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(slots.names[i].size());
			slots.msgs[i].msg_hdr.msg_iov = &slots.iov[i];
			slots.msgs[i].msg_hdr.msg_iovlen = 1;
		}
		const int r = ::recvmmsg(fd, slots.msgs.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
		if (r < 0) {
			const int e = errno;
			/* ICMP errors (ECONNREFUSED) surface once each; anything else ends the batch */
			if (e == EINTR || e == ECONNREFUSED)
				continue;
			if (e != EAGAIN && e != EWOULDBLOCK)
				spdlog::debug("signalling: receive: {}", errno_text(e));
			break;
		}
		const auto got = static_cast<std::size_t>(r);
		for (std::size_t i = 0; i < got && !stopped_; i++) {
			const auto &h = slots.msgs[i].msg_hdr;
			const auto ep = ntm::Endpoint::from_sockaddr({slots.names[i].data(), h.msg_namelen});
			if (!ep)
				continue;
			feed({slots.data.get() + i * RecvSlots::kSlotBytes, slots.msgs[i].msg_len}, *ep);
		}
		fed += got;
		if (got < want)
			break; /* the queue is empty: no call just to hear EAGAIN */
	}
	end.done = true;
	end_batch(true);
}

void SigIo::send_held(const std::vector<Held> &held)
{
	std::array<mmsghdr, kMmsg> msgs{};
	std::array<iovec, kMmsg> iov{};
	std::array<std::array<std::uint8_t, sizeof(sockaddr_in6)>, kMmsg> names{};
	for (const int family : {AF_INET, AF_INET6}) {
		auto *sock = family == AF_INET6 ? sock6_ : sock4_;
		std::size_t next = 0;
		for (;;) {
			/* the next up to kMmsg datagrams of this family */
			std::array<const Held *, kMmsg> out{};
			std::size_t n = 0;
			for (; next < held.size() && n < kMmsg; next++)
				if (held[next].to.family() == family)
					out[n++] = &held[next];
			if (n == 0)
				break;
			if (sock == nullptr || !sock->is_open()) {
				spdlog::debug("signalling: no IPv{} socket for {} datagrams", family == AF_INET6 ? 6 : 4, n);
				continue;
			}
			for (std::size_t i = 0; i < n; i++) {
				const auto name = out[i]->to.sockaddr_bytes();
				std::copy(name.begin(), name.end(), names[i].begin());
				/* sendmsg does not write through msg_iov: the bytes stay const */
				iov[i] = {const_cast<std::uint8_t *>(out[i]->bytes.data()), // NOLINT(cppcoreguidelines-pro-type-const-cast)
					  out[i]->bytes.size()};
				msgs[i] = {};
				msgs[i].msg_hdr.msg_name = names[i].data();
				msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(name.size());
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			const int fd = sock->native_handle();
			std::size_t off = 0;
			while (off < n) {
				const int r = ::sendmmsg(fd, msgs.data() + off, static_cast<unsigned>(n - off), 0);
				if (r > 0) {
					tx_ += static_cast<std::size_t>(r);
					off += static_cast<std::size_t>(r);
					continue;
				}
				const int e = errno;
				if (r < 0 && e == EINTR)
					continue;
				if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK) && wait_writable(fd))
					continue;
				/* this datagram failed (as send_now: logged, not counted); the rest go on */
				spdlog::debug("signalling: send to {}: {}", out[off]->to.to_string(), errno_text(e));
				off++;
			}
		}
	}
}

void SigIo::end_batch(bool ok)
{
	if (!holding_)
		return;
	holding_ = false;
	/* after a throw the transaction still ends; what it held is dropped all the same */
	try {
		ok = batch_commit_() && ok;
	} catch (const std::exception &e) {
		spdlog::error("signalling: committing a batch: {}", e.what());
		ok = false;
	}
	auto held = std::move(held_);
	auto deferred = std::move(deferred_);
	auto keys = std::move(batch_keys_);
	held_.clear();
	deferred_.clear();
	batch_keys_.clear();
	if (!ok) {
		/* nothing was acted on: retransmissions are processed anew */
		batches_failed_++;
		batch_drops_ += held.size();
		for (const auto &k : keys)
			cache_.erase(k);
		return;
	}
	send_held(held);
	for (auto &in : deferred)
		spawn_request(std::move(in));
}

} // namespace ntmd
