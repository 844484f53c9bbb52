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

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace ntmd {

void SigIo::feed_batch(asio::ip::udp::socket &sock, std::vector<std::uint8_t> &buf, std::span<const std::uint8_t> first,
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
	{
		/* non-blocking only while draining: the sends stay blocking, a full send buffer waits */
		const bool was_nb = sock.non_blocking();
		if (!was_nb) {
			asio::error_code ec;
			sock.non_blocking(true, ec);
		}
		struct Restore {
			asio::ip::udp::socket &s;
			bool nb;
			Restore(asio::ip::udp::socket &so, bool n) : s(so), nb(n) {}
			Restore(const Restore &) = delete;
			Restore &operator=(const Restore &) = delete;
			Restore(Restore &&) = delete;
			Restore &operator=(Restore &&) = delete;
			~Restore()
			{
				asio::error_code ec;
				if (!nb)
					s.non_blocking(false, ec);
			}
		} restore(sock, was_nb);
		asio::ip::udp::endpoint ep;
		for (std::size_t i = 1; i < batch_max_ && !stopped_; i++) {
			asio::error_code ec;
			const std::size_t n = sock.receive_from(asio::buffer(buf), ep, 0, ec);
			if (ec == asio::error::would_block || ec == asio::error::try_again)
				break;
			if (ec) {
				/* ICMP errors (ECONNREFUSED) surface per datagram; anything else ends the batch */
				if (ec == asio::error::connection_refused)
					continue;
				spdlog::debug("signalling: receive: {}", ec.message());
				break;
			}
			feed({buf.data(), n}, to_ntm(ep));
		}
	}
	end.done = true;
	end_batch(true);
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
	for (const auto &h : held)
		send_now(h.to, h.bytes);
	for (auto &in : deferred)
		spawn_request(std::move(in));
}

} // namespace ntmd
