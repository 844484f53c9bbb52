// SPDX-License-Identifier: GPL-2.0
#include "sigio.hpp"

#include <cerrno>
#include <ctime>
#include <exception>
#include <tuple>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ntm/error.hpp"

namespace ntmd {

using asio::awaitable;
using asio::use_awaitable;
namespace sig = ntm::sig;

namespace {

constexpr auto kCacheLifetime = std::chrono::seconds(30);
constexpr unsigned kNoticesPerSecond = 10;
constexpr std::size_t kMaxDatagram = 65536;

} // namespace

nlohmann::json SigDrops::to_json() const
{
	return {{"malformed", malformed}, {"auth", auth},	      {"replay", replay}, {"unknown_key", unknown_key},
		{"expired_key", expired_key}, {"unexpected", unexpected}, {"rate", rate},
		{"rate_request", rate_request}};
}

std::string hex_id(std::uint32_t v)
{
	return fmt::format("{:#010x}", v);
}

std::int64_t unix_now() noexcept
{
	return static_cast<std::int64_t>(std::time(nullptr));
}

SigIo::SigIo(asio::io_context &io, asio::ip::udp::socket *sock4, asio::ip::udp::socket *sock6)
    : io_(io), sock4_(sock4), sock6_(sock6)
{}

void SigIo::start()
{
	for (auto *s : {sock4_, sock6_}) {
		if (s == nullptr || !s->is_open())
			continue;
		asio::co_spawn(io_, receive_loop(*s), [](const std::exception_ptr &e) {
			if (!e)
				return;
			try {
				std::rethrow_exception(e);
			} catch (const std::exception &ex) {
				spdlog::error("signalling receive loop: {}", ex.what());
			}
		});
	}
}

void SigIo::stop()
{
	stopped_ = true;
	for (auto &[k, p] : pending_)
		if (p->timer != nullptr)
			p->timer->cancel();
}

std::size_t SigIo::abandon(sig::Kind kind, std::uint32_t key_id)
{
	return for_each_pending(kind, key_id, [](Pending &p) {
		p.abandoned = true;
		if (p.timer != nullptr)
			p.timer->cancel();
		return true;
	});
}

std::size_t SigIo::hurry(sig::Kind kind, std::uint32_t key_id)
{
	return for_each_pending(kind, key_id, [](Pending &p) {
		if (p.hurried)
			return true; /* counts once, resends once */
		if (p.hurries_left == 0)
			return false;
		p.hurries_left--;
		p.hurried = true;
		if (p.timer != nullptr)
			p.timer->cancel();
		return true;
	});
}

awaitable<void> SigIo::receive_loop(asio::ip::udp::socket &sock)
{
	std::vector<std::uint8_t> buf(kMaxDatagram);
	auto slots = std::make_unique<RecvSlots>();
	for (;;) {
		asio::error_code ec;
		asio::ip::udp::endpoint from;
		const std::size_t n = co_await sock.async_receive_from(asio::buffer(buf), from,
								       asio::redirect_error(use_awaitable, ec));
		if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor || stopped_)
			co_return;
		if (ec) {
			/* ICMP errors surface here (ECONNREFUSED): per datagram */
			spdlog::debug("signalling: receive: {}", ec.message());
			continue;
		}
		feed_batch(sock, *slots, {buf.data(), n}, to_ntm(from));
	}
}

void SigIo::feed(std::span<const std::uint8_t> datagram, const ntm::Endpoint &from)
{
	const auto hdr = sig::peek_header(datagram);
	if (!hdr) {
		/* a NAT keepalive (RFC 3948: the one byte 0xff) is not a drop; anything else is */
		if (datagram.size() != 1 || datagram[0] != 0xff)
			drops_.malformed++;
		return;
	}
	if (hdr->kind == sig::Kind::notice) {
		const auto n = sig::decode_notice(datagram);
		if (!n) {
			drops_.malformed++;
			return;
		}
		if (on_notice_)
			on_notice_(*n, from);
		else
			drops_.unexpected++;
		return;
	}
	if (!lookup_) {
		drops_.unknown_key++;
		return;
	}
	auto [state, session] = lookup_(hdr->kind, hdr->key_id);
	if (state == KeyState::expired) {
		drops_.expired_key++;
		if (hdr->kind == sig::Kind::dc)
			maybe_notice(from, hdr->key_id, sig::Status::key_expired);
		return;
	}
	if (state == KeyState::unknown || !session) {
		drops_.unknown_key++;
		if (hdr->kind == sig::Kind::dc)
			maybe_notice(from, hdr->key_id, sig::Status::unknown_key);
		return;
	}
	/* the peer's direction, or (relayed) the Relay Server's: each has its own window */
	sig::ReplayWindow *window = &session->rx;
	auto body = sig::open(datagram, session->peer_dir, session->key.span());
	if (!body && session->relay_dir) {
		body = sig::open(datagram, *session->relay_dir, session->key.span());
		window = &session->relay_rx;
	}
	/* the plaintext may carry keys: wiped on every way out */
	struct WipeBody {
		std::optional<std::vector<std::uint8_t>> &b;
		explicit WipeBody(std::optional<std::vector<std::uint8_t>> &body) : b(body) {}
		WipeBody(const WipeBody &) = delete;
		WipeBody &operator=(const WipeBody &) = delete;
		WipeBody(WipeBody &&) = delete;
		WipeBody &operator=(WipeBody &&) = delete;
		~WipeBody()
		{
			if (b)
				ntm::secure_wipe(b->data(), b->size());
		}
	} wipe_body(body);
	if (!body) {
		drops_.auth++;
		return;
	}
	if (!window->check(hdr->seq)) {
		drops_.replay++;
		return;
	}
	const bool higher = hdr->seq > window->highest();
	window->update(hdr->seq);
	/* persisted before anything acts on it: a restart must not reopen the window (D58) */
	if (higher && window == &session->rx && rx_hook_)
		rx_hook_(*session, hdr->seq);

	sig::Message msg;
	try {
		msg = sig::decode(*body);
		sig::validate(msg);
	} catch (const sig::ParseError &e) {
		drops_.malformed++;
		spdlog::debug("signalling from {}: {}", from.to_string(), e.what());
		/* authenticated but malformed request: say so, it is a bug on the other side */
		const auto bh = sig::peek_body(*body);
		if (bh && !bh->response) {
			try {
				sig::Message r;
				r.type = static_cast<sig::MsgType>(bh->type);
				r.response = true;
				r.txid = bh->txid;
				r.status = e.status();
				r.error_text = e.what();
				if (r.error_text.size() > sig::kMaxTlvValue)
					r.error_text.resize(sig::kMaxTlvValue);
				send_sealed(*session, from, sig::encode(r));
			} catch (const std::exception &) {
				/* an unknown type cannot be answered: dropped and counted */
			}
		}
		return;
	}
	rx_++;
	const TxKey key{static_cast<std::uint32_t>(hdr->kind), hdr->key_id, msg.txid};
	if (msg.response) {
		const auto it = pending_.find(key);
		if (it == pending_.end() || it->second->result) {
			drops_.unexpected++;
			return;
		}
		it->second->result = std::move(msg);
		it->second->from = from;
		if (it->second->timer != nullptr)
			it->second->timer->cancel();
		return;
	}

	/* a request: retransmission of one we answered or are answering? */
	expire_cache();
	const auto c = cache_.find(key);
	if (c != cache_.end()) {
		if (!c->second.body.empty())
			send_sealed(*session, from, c->second.body);
		return;
	}
	if (!on_request_) {
		drops_.unexpected++;
		return;
	}
	Inbound in{std::move(session), std::move(msg), from};
	/* refused before it is remembered: a retransmission later gets another chance */
	if (admit_ && !admit_(in)) {
		drops_.rate_request++;
		return;
	}
	remember(key, {});
	if (sync_handler_ && sync_handler_(in))
		return;
	spawn_request(std::move(in));
}

void SigIo::spawn_request(Inbound in)
{
	/* in a batch: handed over once the batch is committed (D109) */
	if (holding_) {
		deferred_.push_back(std::move(in));
		return;
	}
	asio::co_spawn(io_, on_request_(std::move(in)), [](const std::exception_ptr &e) {
		if (!e)
			return;
		try {
			std::rethrow_exception(e);
		} catch (const std::exception &ex) {
			spdlog::warn("signalling request handler: {}", ex.what());
		}
	});
}

void SigIo::respond(const Inbound &in, const sig::Message &resp)
{
	const ntm::WipedBytes body(sig::encode(resp));
	const TxKey key{static_cast<std::uint32_t>(in.session->kind), in.session->key_id, in.msg.txid};
	remember(key, body.v);
	send_sealed(*in.session, in.from, body.v);
}

awaitable<sig::Message> SigIo::request(std::shared_ptr<SigSession> s, ntm::Endpoint to, sig::Message req,
				       std::optional<unsigned> retries, ntm::Endpoint *from)
{
	if (stopped_)
		throw ntm::Error("signalling stopped", ECANCELED);
	if (req.txid == 0)
		req.txid = sig::random_u32_nonzero();
	req.response = false;
	const ntm::WipedBytes body(sig::encode(req));
	const TxKey key{static_cast<std::uint32_t>(s->kind), s->key_id, req.txid};

	asio::steady_timer timer(io_);
	Pending p;
	p.timer = &timer;
	pending_[key] = &p;
	struct Unregister {
		std::map<TxKey, Pending *> &m;
		TxKey k;
		Unregister(std::map<TxKey, Pending *> &m_, TxKey k_) : m(m_), k(std::move(k_)) {}
		Unregister(const Unregister &) = delete;
		Unregister &operator=(const Unregister &) = delete;
		Unregister(Unregister &&) = delete;
		Unregister &operator=(Unregister &&) = delete;
		~Unregister() { m.erase(k); }
	} unregister{pending_, key};

	auto rto = rto_;
	const unsigned max_retries = retries.value_or(retries_);
	p.hurries_left = max_retries + 1;
	for (unsigned attempt = 0; attempt <= max_retries;) {
		send_sealed(*s, to, body.v);
		timer.expires_after(rto);
		asio::error_code ec;
		co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
		if (p.result) {
			if (p.result->type != req.type) {
				drops_.unexpected++;
				throw ntm::Error(sig::message_name(req.type, false) + " to " + to.to_string() +
							 ": answered with a " +
							 sig::message_name(p.result->type, true),
						 EPROTO);
			}
			if (from != nullptr)
				*from = p.from;
			co_return std::move(*p.result);
		}
		if (stopped_)
			throw ntm::Error("signalling stopped", ECANCELED);
		if (p.abandoned)
			throw ntm::Error(sig::message_name(req.type, false) + " to " + to.to_string() +
						 ": abandoned, the key was refused",
					 EKEYREJECTED);
		if (p.hurried) {
			p.hurried = false;
			continue;
		}
		rto *= 2;
		attempt++;
	}
	throw ntm::Error(sig::message_name(req.type, false) + " to " + to.to_string() + ": no answer", ETIMEDOUT);
}

std::uint64_t SigIo::next_seq(SigSession &s)
{
	if (s.my_dir == sig::Direction::dc && seq_source_)
		return seq_source_();
	return ++s.tx_seq;
}

void SigIo::send_sealed(SigSession &s, const ntm::Endpoint &to, std::span<const std::uint8_t> body)
{
	const sig::EnvelopeHeader h{s.kind, s.key_id, next_seq(s)};
	const auto d = sig::seal(h, s.my_dir, s.key.span(), body);
	send_raw(to, d);
}

void SigIo::send_raw(const ntm::Endpoint &to, std::span<const std::uint8_t> bytes)
{
	if (holding_) {
		held_.push_back({to, {bytes.begin(), bytes.end()}});
		return;
	}
	send_now(to, bytes);
}

void SigIo::send_now(const ntm::Endpoint &to, std::span<const std::uint8_t> bytes)
{
	auto *sock = to.family() == AF_INET6 ? sock6_ : sock4_;
	if (sock == nullptr || !sock->is_open()) {
		spdlog::debug("signalling: no IPv{} socket for {}", to.family() == AF_INET6 ? 6 : 4, to.to_string());
		return;
	}
	asio::error_code ec;
	(void)sock->send_to(asio::buffer(bytes.data(), bytes.size()), to_asio<asio::ip::udp>(to), 0, ec);
	if (ec)
		spdlog::debug("signalling: send to {}: {}", to.to_string(), ec.message());
	else
		tx_++;
}

void SigIo::maybe_notice(const ntm::Endpoint &to, std::uint32_t key_id, sig::Status st)
{
	if (!send_notices_)
		return;
	const auto now = std::chrono::steady_clock::now();
	if (now - notice_window_ >= std::chrono::seconds(1)) {
		notice_window_ = now;
		notices_in_window_ = 0;
	}
	/* the address first: one flooding source does not use up everyone's share */
	if ((notice_limit_ && !notice_limit_->admit(addr_key(to.address()), now)) ||
	    notices_in_window_ >= kNoticesPerSecond) {
		drops_.rate++;
		return;
	}
	notices_in_window_++;
	send_raw(to, sig::encode_notice(key_id, st));
}

void SigIo::remember(const TxKey &key, std::vector<std::uint8_t> body)
{
	const auto expires = std::chrono::steady_clock::now() + kCacheLifetime;
	cache_.insert_or_assign(key, Cached(std::move(body), expires));
	if (holding_)
		batch_keys_.push_back(key);
	cache_order_.emplace_back(key, expires);
}

void SigIo::expire_cache()
{
	/* every entry lives kCacheLifetime, so insertion order is expiry order */
	const auto now = std::chrono::steady_clock::now();
	while (!cache_order_.empty() && cache_order_.front().second < now) {
		const auto it = cache_.find(cache_order_.front().first);
		if (it != cache_.end() && it->second.expires <= cache_order_.front().second)
			cache_.erase(it);
		cache_order_.pop_front();
	}
}

} // namespace ntmd
