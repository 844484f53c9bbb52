// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: the message window of an IKE SA (RFC 7296 sections 2.1-2.3):
 * requests we send go out one at a time with retransmission and back-off;
 * the peer's requests are checked for order and authenticity, dispatched
 * to their exchange, and answered; a retransmitted request gets the cached
 * answer again, only if it is byte for byte the request answered (D56).
 */
#include "ike_impl.hpp"

#include <openssl/evp.h>

namespace ntmd {

namespace {

/* SHA-256 of a message: a retransmission must be the request we answered, byte for byte */
std::array<std::uint8_t, 32> message_digest(ike::ByteView d)
{
	std::array<std::uint8_t, 32> md{};
	unsigned int len = 0;
	if (EVP_Digest(d.data(), d.size(), md.data(), &len, EVP_sha256(), nullptr) != 1 || len != md.size())
		throw ntm::Error("SHA-256 failed");
	return md;
}

} // namespace

/* ---- requests we send: window of one, retransmission with back-off ---- */

ike::Header IkeRole::Impl::header_for(const Sa &sa, ike::Exchange ex, std::uint32_t msgid, bool response) const
{
	ike::Header h;
	h.spi_i = sa.spi_i;
	h.spi_r = sa.spi_r;
	h.exchange = ex;
	h.msgid = msgid;
	h.flags = static_cast<std::uint8_t>((sa.initiator ? ike::kFlagInitiator : 0) |
					    (response ? ike::kFlagResponse : 0));
	return h;
}

void IkeRole::Impl::queue_request(const SaPtr &sa, Request r)
{
	if (sa->state == State::dead)
		return;
	sa->queue.push_back(std::move(r));
	pump(sa);
}

void IkeRole::Impl::pump(const SaPtr &sa)
{
	if (sa->inflight || sa->queue.empty() || sa->state == State::dead)
		return;
	sa->inflight = std::move(sa->queue.front());
	sa->queue.pop_front();
	sa->inflight_msgid = sa->next_msgid++;
	const auto h = header_for(*sa, sa->inflight->exchange, sa->inflight_msgid, false);
	sa->inflight_wire = ike::encode_encrypted(h, sa->inflight->payloads, sa->send_key(), sa->iv++);
	sa->tries = 0;
	send_msg(sa->path, sa->inflight_wire);
	arm_retransmit(sa);
}

std::chrono::milliseconds IkeRole::Impl::backoff(unsigned tries) const
{
	auto ms = static_cast<double>(icfg.retransmit_timeout.count());
	for (unsigned i = 0; i < tries; i++)
		ms *= icfg.retransmit_base;
	return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

void IkeRole::Impl::arm_retransmit(const SaPtr &sa)
{
	sa->retransmit.expires_after(backoff(sa->tries));
	sa->retransmit.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
		auto s = w.lock();
		if (ec || !s || stopped || s->state == State::dead)
			return;
		on_retransmit(s);
	});
}

void IkeRole::Impl::on_retransmit(const SaPtr &sa)
{
	const bool init = sa->state == State::init_sent;
	if (!init && !sa->inflight)
		return;
	if (++sa->tries > icfg.retransmit_tries) {
		ctr.dead_peers++;
		spdlog::warn("ike: {}: no answer from {} after {} retransmissions: peer is dead", sa->name(),
			     sa->path.remote.to_string(), icfg.retransmit_tries);
		note_failure(sa, "no answer from " + sa->path.remote.to_string() + " after " +
					 std::to_string(icfg.retransmit_tries) + " retransmissions");
		destroy(sa, false);
		return;
	}
	ctr.retransmits++;
	spdlog::debug("ike: {}: retransmission {} to {}", sa->name(), sa->tries, sa->path.remote.to_string());
	if (init)
		send_msg(sa->path, sa->init_req);
	else
		send_msg(sa->path, sa->inflight_wire);
	arm_retransmit(sa);
}

/* The response to the head request: decrypt, check, hand to its handler. */
void IkeRole::Impl::on_response(const SaPtr &sa, const Path &p, const ike::Header &h, ByteView d)
{
	if (h.exchange == ike::Exchange::ike_sa_init) {
		if (sa->state != State::init_sent || h.msgid != 0) {
			ctr.drop_msgid++;
			spdlog::debug("ike: {}: IKE_SA_INIT response (message ID {}) not expected now: dropped", sa->name(),
				      h.msgid);
			return;
		}
		ike::Header hh;
		ike::Payloads pl;
		try {
			pl = ike::parse_plain(d, hh);
		} catch (const ike::ParseError &e) {
			ctr.drop_malformed++;
			spdlog::debug("ike: {}: IKE_SA_INIT response: {}", sa->name(), e.what());
			return;
		}
		on_init_response(sa, p, hh, pl, d);
		return;
	}
	if (!sa->inflight || h.msgid != sa->inflight_msgid) {
		ctr.drop_msgid++;
		spdlog::debug("ike: {}: response with message ID {}, {}: dropped", sa->name(), h.msgid,
			      sa->inflight ? "expected " + std::to_string(sa->inflight_msgid) : std::string("none pending"));
		return;
	}
	ike::Header hh;
	ike::Payloads pl;
	try {
		pl = ike::parse_encrypted(d, sa->recv_key(), hh);
	} catch (const ike::ParseError &e) {
		if (e.notify())
			ctr.drop_malformed++;
		else
			ctr.drop_icv++;
		spdlog::debug("ike: {}: response {}: {}", sa->name(), h.msgid, e.what());
		return;
	}
	if (hh.exchange != sa->inflight->exchange) {
		ctr.drop_malformed++;
		spdlog::debug("ike: {}: response {} is {}, the request was {}: dropped", sa->name(), h.msgid,
			      ike::exchange_name(static_cast<std::uint8_t>(hh.exchange)),
			      ike::exchange_name(static_cast<std::uint8_t>(sa->inflight->exchange)));
		return;
	}
	sa->retransmit.cancel();
	sa->last_rx = Clock::now();
	auto req = std::move(*sa->inflight);
	sa->inflight.reset();
	sa->inflight_wire.clear();
	if (req.on_response)
		req.on_response(hh, pl);
	pump(sa);
}

/* A request from the peer: retransmission, order, decryption, dispatch, cached answer. */
void IkeRole::Impl::on_request(const SaPtr &sa, const Path &p, const ike::Header &h, ByteView d)
{
	if (sa->state == State::init_sent || sa->state == State::dead) {
		ctr.drop_msgid++;
		spdlog::debug("ike: {}: request {} before our IKE_SA_INIT completed: dropped", sa->name(), h.msgid);
		return;
	}
	if (sa->have_last_response && h.msgid + 1 == sa->expect_msgid) {
		/*
		 * A retransmission gets the same answer, never a second execution,
		 * and only if it is byte for byte the request we answered, and only
		 * where that answer went: a copy from elsewhere or a forged header
		 * must not make us send kilobytes to a victim (decisions.rst D56).
		 */
		if (message_digest(d) != sa->last_request_digest) {
			ctr.drop_not_resent++;
			spdlog::debug("ike: {}: request {} from {} repeats the message ID but not the request: dropped",
				      sa->name(), h.msgid, p.remote.to_string());
			return;
		}
		ctr.responses_resent++;
		send_msg(sa->last_response_path, sa->last_response);
		return;
	}
	if (h.msgid != sa->expect_msgid) {
		ctr.drop_msgid++;
		spdlog::debug("ike: {}: request with message ID {}, expected {}: dropped", sa->name(), h.msgid,
			      sa->expect_msgid);
		return;
	}
	/* before the peer authenticated (IKE_AUTH), IKE_AUTH is the only request there is */
	const bool authenticated = sa->state == State::established || sa->state == State::rekeyed ||
				   sa->state == State::deleting;
	if (!authenticated && h.exchange != ike::Exchange::ike_auth) {
		ctr.drop_unauth++;
		spdlog::debug("ike: {}: {} request before IKE_AUTH from {}: dropped", sa->name(),
			      ike::exchange_name(static_cast<std::uint8_t>(h.exchange)), p.remote.to_string());
		return;
	}
	ike::Header hh;
	ike::Payloads pl;
	try {
		pl = ike::parse_encrypted(d, sa->recv_key(), hh);
	} catch (const ike::ParseError &e) {
		if (!e.notify()) {
			ctr.drop_icv++;
			spdlog::debug("ike: {}: request {}: {}", sa->name(), h.msgid, e.what());
			return;
		}
		/* authentic but malformed: answer with the notify (RFC 7296 section 2.21.2) */
		ctr.drop_malformed++;
		ike::Payloads err;
		err.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(*e.notify()), e.notify_data()});
		answer(sa, p, h, d, err);
		return;
	}
	sa->last_rx = Clock::now();
	ike::Payloads resp;
	bool destroy_after = false;
	switch (hh.exchange) {
	case ike::Exchange::ike_auth:
		if (sa->initiator || sa->state != State::init_done) {
			ctr.drop_malformed++;
			spdlog::debug("ike: {}: IKE_AUTH request in state {}: dropped", sa->name(), state_name(sa->state));
			return;
		}
		destroy_after = !responder_auth(sa, p, pl, resp);
		break;
	case ike::Exchange::create_child_sa:
		if (sa->state != State::established && sa->state != State::rekeyed) {
			resp.notifies.push_back({ike::Protocol::none, {},
						 static_cast<std::uint16_t>(ike::NotifyType::temporary_failure), {}});
			break;
		}
		on_create_child(sa, pl, resp);
		break;
	case ike::Exchange::informational:
		destroy_after = on_informational(sa, p, pl, resp);
		break;
	default:
		ctr.drop_malformed++;
		spdlog::debug("ike: {}: request {} of exchange type {}: dropped", sa->name(), h.msgid,
			      ike::exchange_name(static_cast<std::uint8_t>(hh.exchange)));
		return;
	}
	answer(sa, p, h, d, resp);
	if (destroy_after)
		destroy(sa, false);
}

void IkeRole::Impl::answer(const SaPtr &sa, const Path &p, const ike::Header &req, ByteView raw, const ike::Payloads &resp)
{
	const auto h = header_for(*sa, req.exchange, req.msgid, true);
	sa->last_response = ike::encode_encrypted(h, resp, sa->send_key(), sa->iv++);
	sa->have_last_response = true;
	sa->last_request_digest = message_digest(raw);
	sa->last_response_path = p;
	sa->expect_msgid = req.msgid + 1;
	send_msg(p, sa->last_response);
}

} // namespace ntmd
