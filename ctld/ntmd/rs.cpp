// SPDX-License-Identifier: GPL-2.0
#include "rs.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <linux/ntm.h>

#include "addr.hpp"
#include "kdev.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/genl.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "relay_engine.hpp"
#include "tls_conn.hpp"
#include "udp.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
namespace sig = ntm::sig;
using namespace std::chrono_literals;

constexpr std::size_t kMaxDatagram = 65536;
constexpr auto kTick = 1s;
/* kernel sessions: the communications plus the ones a rekey retires after a grace */
constexpr std::uint32_t kKernelSessionsPerComm = 2;

/* RelayKernel over genetlink, with the [rs] limits on every session. */
class GenlRelayKernel : public RelayKernel {
public:
	GenlRelayKernel(ntm::GenlSocket &genl, std::uint32_t ifindex, const ntm::config::Rs &rs)
	    : genl_(genl), ifindex_(ifindex), idle_(static_cast<std::uint32_t>(rs.session_idle.count())),
	      bytes_(rs.session_bytes)
	{}

	void add(std::uint32_t id, const RelayLeg &a, const RelayLeg &b) override
	{
		ntm::RelaySettings s;
		s.id = id;
		s.legs[0].endpoint = a.endpoint;
		s.legs[0].index = a.index;
		s.legs[1].endpoint = b.endpoint;
		s.legs[1].index = b.index;
		s.idle_timeout = idle_;
		if (bytes_ != 0)
			s.hard_bytes = bytes_;
		ntm::new_relay(genl_, dev(), s);
	}

	void move(std::uint32_t id, unsigned leg, const ntm::Endpoint &to) override
	{
		ntm::RelaySettings s;
		s.id = id;
		s.legs.at(leg).endpoint = to;
		ntm::set_relay(genl_, dev(), s);
	}

	void remove(std::uint32_t id) noexcept override
	{
		try {
			ntm::del_relay(genl_, dev(), id);
		} catch (const std::exception &e) {
			/* the kernel may have removed it already (idle): not an error */
			spdlog::debug("rs: remove session {}: {}", id, e.what());
		}
	}

private:
	[[nodiscard]] ntm::DeviceRef dev() const { return ntm::DeviceRef::by_index(ifindex_); }

	ntm::GenlSocket &genl_;
	std::uint32_t ifindex_;
	std::uint32_t idle_;
	std::uint64_t bytes_;
};

std::vector<ntm::Endpoint> relay_endpoints(const ntm::config::Rs &rs)
{
	std::vector<ntm::Endpoint> out;
	out.reserve(rs.addresses.size());
	for (const auto &a : rs.addresses)
		out.emplace_back(a, rs.port);
	return out;
}

} // namespace

struct RsRole::Impl : std::enable_shared_from_this<RsRole::Impl> {
	Impl(asio::io_context &io_, const ntm::config::Config &c)
	    : io(io_), rs(c.rs ? *c.rs : throw ntm::Error("rs: the role is not configured")), sock4(io_),
	      sock6(io_), evdesc(io_), tick(io_), ctx(tls::server_context(c.tls, tls::Clients::servers)),
	      acceptors(tls::open_acceptors(io_, rs.listen_tls, "rs.listen_tls"))
	{
		for (const std::string &n : rs.trusted_dc)
			trusted.push_back(ntm::dns::normalize_name(n));
		link = open_ntm_link(rs.interface, "rs");
		try {
			(void)clear_stale_state(genl, link, rs.interface, "rs", true);
			setup_kernel();
			watch_kernel_events(events, evdesc);
		} catch (...) {
			teardown();
			throw;
		}
		kernel = std::make_unique<GenlRelayKernel>(genl, link.ifindex, rs);
		engine = std::make_unique<RelayEngine>(
			*kernel, [this](const ntm::Endpoint &to, std::span<const std::uint8_t> d) { send(to, d); },
			relay_endpoints(rs), rs.max_sessions);
	}
	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;
	Impl(Impl &&) = delete;
	Impl &operator=(Impl &&) = delete;
	~Impl() { teardown(); }

	asio::io_context &io;
	ntm::config::Rs rs;
	ntm::GenlSocket genl;
	ntm::GenlSocket events;
	NtmLink link;
	bool attached = false;
	asio::ip::udp::socket sock4;
	asio::ip::udp::socket sock6;
	asio::posix::stream_descriptor evdesc;
	asio::steady_timer tick;
	std::unique_ptr<GenlRelayKernel> kernel;
	std::unique_ptr<RelayEngine> engine;
	/* the DCs' listener */
	asio::ssl::context ctx;
	std::vector<tcp::acceptor> acceptors;
	tls::ConnSet conns;
	std::vector<std::string> trusted;
	bool started = false;
	bool stopped = false;
	std::uint64_t tx_errors = 0;
	std::uint64_t dc_orders = 0;

	[[nodiscard]] ntm::DeviceRef dev() const { return ntm::DeviceRef::by_index(link.ifindex); }

	void setup_kernel()
	{
		const bool want4 = std::ranges::any_of(rs.addresses, [](const ntm::IpAddress &a) { return a.is_v4(); });
		const bool want6 = std::ranges::any_of(rs.addresses, [](const ntm::IpAddress &a) { return a.is_v6(); });
		ntm::DeviceSettings s;
		if (want4) {
			sock4 = open_asio_udp_socket(io, AF_INET, rs.port);
			s.udp4_fd = sock4.native_handle();
		}
		if (want6) {
			sock6 = open_asio_udp_socket(io, AF_INET6, rs.port);
			s.udp6_fd = sock6.native_handle();
		}
		s.max_relays = std::min<std::uint64_t>(std::uint64_t{rs.max_sessions} * kKernelSessionsPerComm,
						       NTM_RELAY_MAX_LIMIT);
		/* a relay's own tunnels never roam and never acquire: it has none */
		s.flags = NTM_DEV_F_NO_ACQUIRE;
		ntm::flush_relays(genl, dev());
		ntm::set_device(genl, dev(), s);
		attached = true;
		ntm::set_link_up(link.ifindex);
	}

	void teardown() noexcept
	{
		asio::error_code ignored;
		if (engine)
			engine->clear();
		if (link.ifindex != 0) {
			try {
				ntm::flush_relays(genl, dev());
			} catch (const std::exception &e) {
				spdlog::debug("rs: flush relays: {}", e.what());
			}
		}
		if (attached) {
			try {
				ntm::DeviceSettings s;
				if (sock4.is_open())
					s.udp4_fd = -1;
				if (sock6.is_open())
					s.udp6_fd = -1;
				ntm::set_device(genl, dev(), s);
			} catch (const std::exception &e) {
				spdlog::debug("rs: detach: {}", e.what());
			}
			attached = false;
		}
		sock4.close(ignored);
		sock6.close(ignored);
		evdesc.close(ignored);
		close_ntm_link(genl, link, rs.interface, "rs");
	}

	void send(const ntm::Endpoint &to, std::span<const std::uint8_t> d)
	{
		auto &s = to.family() == AF_INET ? sock4 : sock6;
		asio::error_code ec;
		if (s.is_open())
			s.send_to(asio::buffer(d.data(), d.size()), to_asio<asio::ip::udp>(to), 0, ec);
		else
			ec = asio::error::address_family_not_supported;
		if (ec) {
			tx_errors++;
			spdlog::debug("rs: send to {}: {}", to.to_string(), ec.message());
		}
	}

	awaitable<void> receive_loop(asio::ip::udp::socket &sock)
	{
		const auto self = shared_from_this();
		std::vector<std::uint8_t> buf(kMaxDatagram);
		while (!stopped) {
			asio::ip::udp::endpoint from;
			asio::error_code ec;
			const std::size_t n = co_await sock.async_receive_from(asio::buffer(buf), from,
									       asio::redirect_error(use_awaitable, ec));
			if (stopped || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
				break;
			if (ec)
				continue; /* ICMP errors of earlier sends surface here */
			engine->on_datagram(std::span(buf).first(n), to_ntm(from), RelayEngine::Clock::now());
		}
	}

	void on_event(const ntm::Event &e)
	{
		if (const auto *r = std::get_if<ntm::RelayExpiredEvent>(&e)) {
			if (r->ifindex != link.ifindex)
				return;
			spdlog::info("rs: kernel removed session {} ({}, {} + {} packets)", r->relay.id,
				     ntm::expire_reason_name(r->reason), r->relay.legs[0].rx_packets,
				     r->relay.legs[1].rx_packets);
			engine->kernel_session_gone(r->relay.id, r->reason == NTM_EXPIRE_IDLE);
		}
	}

	void arm_tick()
	{
		tick.expires_after(kTick);
		tick.async_wait([w = weak_from_this()](const asio::error_code &ec) {
			const auto self = w.lock();
			if (ec || !self || self->stopped)
				return;
			self->engine->expire(RelayEngine::Clock::now());
			self->arm_tick();
		});
	}

	/* ---- orders from DCs ---- */

	awaitable<void> session(tcp::socket sock)
	{
		const auto self = shared_from_this();
		const std::string peer = tls::peer_of(sock);
		auto s = std::make_shared<tls::Stream>(std::move(sock), ctx);
		const tls::ConnEntry entry(conns, s);
		co_await tls::serve_trusted(
			s, peer, trusted, "rs", "DC",
			[this](std::span<const std::uint8_t> body, const std::string &dc) { return handle(body, dc); },
			stopped);
	}

	std::optional<sig::Message> handle(std::span<const std::uint8_t> body, const std::string &dc)
	{
		sig::Message req;
		try {
			req = sig::decode(body);
			sig::validate(req);
		} catch (const sig::ParseError &e) {
			spdlog::warn("rs: malformed message from DC {}: {}", dc, e.what());
			const auto bh = sig::peek_body(body);
			if (!bh || bh->response)
				return std::nullopt;
			for (const auto t : {sig::MsgType::key_sharing, sig::MsgType::relay_direction,
					     sig::MsgType::relay_release})
				if (bh->type == static_cast<std::uint8_t>(t)) {
					auto hdr = tls::request_header(body, t);
					if (hdr)
						return sig::make_response(*hdr, e.status(), tls::clip(e.what()));
				}
			return std::nullopt;
		}
		if (req.response) {
			spdlog::warn("rs: unexpected {} from DC {}", sig::message_name(req.type, true), dc);
			return std::nullopt;
		}
		dc_orders++;
		switch (req.type) {
		case sig::MsgType::key_sharing:
			return engine->key_sharing_ack(req);
		case sig::MsgType::relay_direction:
			return engine->on_relay_direction(req, RelayEngine::Clock::now());
		case sig::MsgType::relay_release:
			return engine->on_relay_release(req);
		default:
			spdlog::warn("rs: unexpected {} from DC {}", sig::message_name(req.type, false), dc);
			return sig::make_response(req, sig::Status::malformed, "not a request a relay takes");
		}
	}

	void start()
	{
		if (started || stopped)
			return;
		started = true;
		const auto self = shared_from_this();
		for (auto *s : {&sock4, &sock6})
			if (s->is_open())
				asio::co_spawn(io, receive_loop(*s), asio::detached);
		asio::co_spawn(io,
			       kernel_event_loop(evdesc, events, stopped, [this](const ntm::Event &e) { on_event(e); },
						 "rs"),
			       asio::detached);
		tls::start_listening(self, "rs", "DC listener");
		arm_tick();
		spdlog::info("rs: relaying on {} port {} for {} sessions ({})", rs.interface, rs.port, rs.max_sessions,
			     tls::join([&] {
				     std::vector<std::string> v;
				     for (const auto &e : relay_endpoints(rs))
					     v.push_back(e.to_string());
				     return v;
			     }()));
	}

	void stop() noexcept
	{
		if (stopped)
			return;
		stopped = true;
		tls::close_acceptors(acceptors);
		conns.close_all();
		tls::cancel_timer(tick);
		asio::error_code ignored;
		sock4.cancel(ignored);
		sock6.cancel(ignored);
		evdesc.cancel(ignored);
		teardown();
	}
};

RsRole::RsRole(asio::io_context &io, const ntm::config::Config &cfg) : impl_(std::make_shared<Impl>(io, cfg)) {}

RsRole::~RsRole()
{
	stop();
}

void RsRole::start()
{
	impl_->start();
}

void RsRole::stop()
{
	if (impl_)
		impl_->stop();
}

nlohmann::json RsRole::status() const
{
	auto j = impl_->engine->status();
	j["interface"] = impl_->rs.interface;
	j["port"] = impl_->rs.port;
	j["dc_orders"] = impl_->dc_orders;
	j["tx_errors"] = impl_->tx_errors;
	j["dc_connections"] = impl_->conns.size();
	return j;
}

} // namespace ntmd
