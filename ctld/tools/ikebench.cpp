// SPDX-License-Identifier: GPL-2.0
/*
 * ntm-ikebench - IKEv2 handshake load generator (Documentation/benchmarks.rst,
 * section "IKEv2 handshakes").
 *
 *   ntm-ikebench --target ADDR --psk-file FILE --id ID [--peer-id ID]
 *		  [--concurrency N] [--duration S] [--group 19|31] ...
 *
 * Plays an IKEv2 initiator with --concurrency handshakes in flight for
 * --duration seconds: IKE_SA_INIT to ADDR:--port, IKE_AUTH (PSK, one CHILD SA
 * proposal with traffic selectors) to ADDR:--natt-port behind the non-ESP
 * marker, a check of the responder's AUTH, then an INFORMATIONAL with a
 * Delete of the IKE SA so the responder does not accumulate SAs (unless
 * --no-delete). Our NAT_DETECTION_SOURCE_IP never matches, so the responder
 * believes we are behind a NAT and installs a UDP-encapsulated CHILD SA
 * (ntmd always does; charon would otherwise install plain ESP).
 *
 * --hostile SPOOF_ADDR plays one handshake as an attacker who also holds its
 * keys would (the tests of decisions.rst D56): before IKE_AUTH it sends a
 * CREATE_CHILD_SA and an INFORMATIONAL Delete (a responder must answer
 * neither), and once IKE_AUTH is done it sends a copy of the IKE_AUTH request
 * with one byte changed, three exact copies from a second socket bound to
 * SPOOF_ADDR (a forged source), and one exact copy from its own socket; the
 * JSON says what came back and where ("hostile").
 *
 * Everything runs in one thread on two non-blocking UDP sockets (one for
 * each responder port); the SAs are multiplexed by our SPI. COOKIE and
 * INVALID_KE_PAYLOAD answers are followed; an exchange unanswered after
 * --retries retransmissions is a lost handshake. Only libntm's IKE codec
 * and crypto are used, not ntmd's state machine.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ntm/config.hpp"
#include "ntm/error.hpp"
#include "ntm/ike.hpp"
#include "ntm/ike_crypto.hpp"
#include "ntm/model.hpp"
#include "ntm/parse.hpp"
#include "ntm/secret.hpp"

namespace {

namespace ike = ntm::ike;
using ike::ByteView;
using ike::Bytes;
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kSocketBuffer = 4 << 20;
constexpr std::size_t kNonceLen = 32;
constexpr unsigned kMaxRounds = 3; /* COOKIE / INVALID_KE_PAYLOAD answers followed per handshake */

struct Options {
	std::string target;
	std::uint16_t port = ike::kPortIke;
	std::uint16_t natt_port = ike::kPortNatT;
	std::string bind;
	std::string psk_file;
	std::string id = "fqdn:ikebench.test";
	std::string peer_id;
	unsigned concurrency = 16;
	double duration = 10;
	double warmup = 0;
	unsigned group = 0; /* 0: the first group of --proposal */
	std::string proposal = "aes256gcm16-prfsha256-ecp256";
	std::string esp_proposal = "aes256gcm16";
	std::string ts_local = "10.1.0.0/16";
	std::string ts_remote = "10.2.0.0/24";
	bool ts_whole = false;
	unsigned rto_ms = 2000;
	unsigned retries = 2;
	unsigned dh_pool = 0;
	bool no_delete = false;
	std::string hostile; /* the forged source address, empty: not hostile */
	std::string label;
	bool json = false;
};

/* What the options become once checked. */
struct Setup {
	ntm::Endpoint ike_ep;  /* target:port */
	ntm::Endpoint natt_ep; /* target:natt_port */
	ntm::SecretBytes psk;
	ike::Identity idi;
	std::optional<ike::Identity> idr;
	ike::Proposal ike_prop;
	ike::IkeSuite suite;
	ike::Proposal esp_prop;
	ike::DhGroup group = ike::DhGroup::ecp256;
	ntm::Prefix ts_local;
	ntm::Prefix ts_remote;
};

double round3(double v)
{
	return std::round(v * 1000.0) / 1000.0;
}

ike::Proposal to_proposal(const ntm::config::IkeProposal &p, ike::Protocol proto)
{
	ike::Proposal r;
	r.num = 1;
	r.protocol = proto;
	r.transforms.push_back({ike::TransformType::encr, p.encr, p.key_bits});
	if (proto == ike::Protocol::ike)
		r.transforms.push_back({ike::TransformType::prf, p.prf, std::nullopt});
	for (const auto g : p.dh)
		r.transforms.push_back({ike::TransformType::dh, g, std::nullopt});
	if (proto == ike::Protocol::esp)
		for (const auto e : p.esn)
			r.transforms.push_back({ike::TransformType::esn, e, std::nullopt});
	return r;
}

ike::Identity to_identity(const ntm::config::IkeId &id)
{
	return {static_cast<ike::IdType>(id.type), id.data};
}

ntm::SecretBytes read_psk(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw ntm::UsageError("--psk-file " + path + ": cannot be read");
	std::string line;
	std::getline(in, line);
	while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
		line.pop_back();
	if (line.empty())
		throw ntm::UsageError("--psk-file " + path + ": the first line is empty");
	ntm::SecretBytes r(line.size());
	std::copy(line.begin(), line.end(), r.data());
	std::fill(line.begin(), line.end(), '\0');
	return r;
}

Setup check_options(const Options &o)
{
	Setup s;
	ntm::IpAddress addr;
	try {
		addr = ntm::parse_address(o.target);
	} catch (const std::exception &e) {
		throw ntm::UsageError(std::string("--target: ") + e.what());
	}
	if (o.port == 0 || o.natt_port == 0)
		throw ntm::UsageError("--port and --natt-port must be 1..65535");
	s.ike_ep = ntm::Endpoint(addr, o.port);
	s.natt_ep = ntm::Endpoint(addr, o.natt_port);
	if (o.concurrency == 0 || o.concurrency > 65536)
		throw ntm::UsageError("--concurrency must be 1..65536");
	if (!(o.duration > 0) || o.duration > 86400)
		throw ntm::UsageError("--duration must be more than 0 and at most 86400 seconds");
	if (o.warmup < 0 || o.warmup >= o.duration)
		throw ntm::UsageError("--warmup must be at least 0 and less than --duration");
	if (o.rto_ms < 10 || o.rto_ms > 60000)
		throw ntm::UsageError("--rto-ms must be 10..60000");
	if (o.retries > 20)
		throw ntm::UsageError("--retries must be 0..20");
	if (o.dh_pool > 100000)
		throw ntm::UsageError("--dh-pool must be 0..100000");
	s.psk = read_psk(o.psk_file);
	try {
		s.idi = to_identity(ntm::config::parse_ike_id(o.id));
	} catch (const std::exception &e) {
		throw ntm::UsageError(std::string("--id: ") + e.what());
	}
	if (!o.peer_id.empty()) {
		try {
			s.idr = to_identity(ntm::config::parse_ike_id(o.peer_id));
		} catch (const std::exception &e) {
			throw ntm::UsageError(std::string("--peer-id: ") + e.what());
		}
	}
	ntm::config::IkeProposal ip;
	ntm::config::IkeProposal ep;
	try {
		ip = ntm::config::parse_ike_proposal(o.proposal, true);
	} catch (const std::exception &e) {
		throw ntm::UsageError(std::string("--proposal: ") + e.what());
	}
	try {
		ep = ntm::config::parse_ike_proposal(o.esp_proposal, false);
	} catch (const std::exception &e) {
		throw ntm::UsageError(std::string("--esp-proposal: ") + e.what());
	}
	if (!ep.dh.empty())
		throw ntm::UsageError("--esp-proposal: no DH groups in the IKE_AUTH CHILD SA");
	if (ip.dh.empty())
		throw ntm::UsageError("--proposal: no DH group");
	if (o.group != 0) {
		if (o.group != 19 && o.group != 31)
			throw ntm::UsageError("--group must be 19 (ecp256) or 31 (x25519)");
		if (std::ranges::find(ip.dh, static_cast<std::uint16_t>(o.group)) == ip.dh.end())
			throw ntm::UsageError(fmt::format("--group {} is not a group of --proposal {}", o.group, o.proposal));
		s.group = static_cast<ike::DhGroup>(o.group);
	} else {
		s.group = static_cast<ike::DhGroup>(ip.dh.front());
	}
	if (!ike::supported(s.group))
		throw ntm::UsageError("--group: not supported by libntm");
	s.ike_prop = to_proposal(ip, ike::Protocol::ike);
	s.esp_prop = to_proposal(ep, ike::Protocol::esp);
	s.suite = {static_cast<ike::Encr>(ip.encr), ip.key_bits, static_cast<ike::Prf>(ip.prf), s.group};
	try {
		s.ts_local = ntm::parse_traffic_selector(o.ts_local, "--ts-local");
		s.ts_remote = ntm::parse_traffic_selector(o.ts_remote, "--ts-remote");
	} catch (const std::exception &e) {
		throw ntm::UsageError(e.what());
	}
	return s;
}

/* ---- sockets ---- */

std::string errno_text()
{
	return std::error_code(errno, std::generic_category()).message();
}

/* Endpoint::sockaddr_bytes() is a sockaddr_in or sockaddr_in6. */
const sockaddr *as_sockaddr(std::span<const std::uint8_t> b)
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	return reinterpret_cast<const sockaddr *>(b.data());
}

class Socket {
public:
	Socket(int family, const std::string &bind) : fd_(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0))
	{
		if (fd_ < 0)
			throw ntm::Error(fmt::format("socket: {}", errno_text()), errno);
		const int buf = kSocketBuffer;
		(void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		(void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		ntm::IpAddress local;
		if (!bind.empty())
			local = ntm::parse_address(bind);
		else if (family == AF_INET)
			local = ntm::IpAddress::v4(in_addr{INADDR_ANY});
		else
			local = ntm::IpAddress::v6(in6addr_any);
		if (local.family() != family)
			throw ntm::UsageError("--bind: not of the family of --target");
		const ntm::Endpoint ep(local, 0);
		const auto sa = ep.sockaddr_bytes();
		if (::bind(fd_, as_sockaddr(sa), static_cast<socklen_t>(sa.size())) < 0) {
			const int e = errno;
			::close(fd_);
			throw ntm::Error(fmt::format("bind {}: {}", ep.to_string(), errno_text()), e);
		}
	}
	Socket(const Socket &) = delete;
	Socket &operator=(const Socket &) = delete;
	Socket(Socket &&) = delete;
	Socket &operator=(Socket &&) = delete;
	~Socket()
	{
		if (fd_ >= 0)
			::close(fd_);
	}
	[[nodiscard]] int fd() const noexcept { return fd_; }

private:
	int fd_ = -1;
};

/* ---- one handshake ---- */

enum class Phase : std::uint8_t { idle, init, auth, del };

struct Hs {
	Phase phase = Phase::idle;
	std::uint32_t gen = 0; /* invalidates stale timer entries */
	std::uint64_t spi_i = 0;
	std::uint64_t spi_r = 0;
	ike::DhGroup group = ike::DhGroup::ecp256;
	std::optional<ike::DhKey> own_dh; /* when not from the pool */
	const ike::DhKey *dh = nullptr;
	Bytes ni;
	Bytes nr;
	Bytes cookie;
	Bytes init_req;
	Bytes init_resp;
	ike::IkeKeys keys;
	Bytes wire; /* the request on the wire, for retransmission (marker included) */
	bool natt = false;
	unsigned tries = 0;
	unsigned rounds = 0; /* IKE_SA_INIT sent again after COOKIE or INVALID_KE_PAYLOAD */
	Clock::time_point started;
	std::uint32_t ts_host = 0;
};

struct Stats {
	std::uint64_t started = 0;
	std::uint64_t ok = 0;	     /* IKE_AUTH completed, AUTH verified, CHILD SA created */
	std::uint64_t ok_window = 0; /* of those, completed inside the measuring window */
	std::uint64_t failed = 0;
	std::uint64_t lost = 0;
	std::uint64_t unfinished = 0;
	std::uint64_t cookies = 0;
	std::uint64_t invalid_ke = 0;
	std::uint64_t retransmissions = 0;
	std::uint64_t deletes_ok = 0;
	std::uint64_t deletes_lost = 0;
	std::uint64_t datagrams_sent = 0;
	std::uint64_t datagrams_received = 0;
	std::uint64_t send_errors = 0;
	std::uint64_t dropped = 0; /* unknown SPI, stale, malformed */
	/* --hostile */
	std::uint64_t preauth_answered = 0; /* answers to CREATE_CHILD_SA / INFORMATIONAL before IKE_AUTH */
	std::uint64_t auth_resent = 0;	    /* IKE_AUTH answers after the first, at our own socket */
	std::uint64_t reflected = 0;	    /* anything at the forged source's socket */
	std::map<std::string, std::uint64_t> failures;
	std::vector<double> latency_ms; /* of the handshakes completed in the window */
};

class Bench {
public:
	Bench(const Options &o, Setup s)
	    : o_(o), s_(std::move(s)), sock_ike_(s_.ike_ep.family(), o.bind), sock_natt_(s_.ike_ep.family(), o.bind),
	      hs_(o.hostile.empty() ? o.concurrency : 1U)
	{
		if (!o_.hostile.empty())
			sock_spoof_ = std::make_unique<Socket>(s_.ike_ep.family(), o_.hostile);
		for (unsigned i = 0; i < o_.dh_pool; i++)
			pool_.push_back(ike::DhKey::generate(s_.group));
		const auto host_bits = (s_.ts_local.addr.is_v4() ? 32U : 128U) - s_.ts_local.len;
		ts_hosts_ = host_bits >= 31 ? 0x7fffffffU : (1U << host_bits);
	}

	void run()
	{
		t0_ = Clock::now();
		window_start_ = t0_ + to_dur(o_.warmup);
		end_ = t0_ + to_dur(o_.duration);
		for (std::size_t i = 0; i < hs_.size(); i++)
			start(i);
		std::array<pollfd, 3> fds{};
		fds[0] = {sock_ike_.fd(), POLLIN, 0};
		fds[1] = {sock_natt_.fd(), POLLIN, 0};
		fds[2] = {sock_spoof_ ? sock_spoof_->fd() : -1, POLLIN, 0};
		while (true) {
			const auto now = Clock::now();
			if (now >= end_ && !draining_) {
				draining_ = true;
				drain_deadline_ = now + std::chrono::milliseconds(o_.rto_ms) * (2 * (o_.retries + 1));
			}
			if (draining_ && (active_ == 0 || now >= drain_deadline_))
				break;
			if (!o_.hostile.empty() && active_ == 0)
				break; /* the one handshake is over */
			fire_timers(now);
			auto wait = end_ - now;
			if (draining_)
				wait = drain_deadline_ - now;
			if (!timers_.empty())
				wait = std::min<Clock::duration>(wait, std::get<0>(timers_.top()) - now);
			const int ms = static_cast<int>(std::clamp<std::int64_t>(
				std::chrono::ceil<std::chrono::milliseconds>(wait).count(), 0, 1000));
			const int n = ::poll(fds.data(), fds.size(), ms);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				throw ntm::Error(fmt::format("poll: {}", errno_text()), errno);
			}
			if ((fds[0].revents & POLLIN) != 0)
				receive(sock_ike_, false);
			if ((fds[1].revents & POLLIN) != 0)
				receive(sock_natt_, true);
			if ((fds[2].revents & POLLIN) != 0)
				drain_spoof();
		}
		seconds_ = std::chrono::duration<double>(std::min(Clock::now(), end_) - window_start_).count();
		for (const auto &h : hs_)
			if (h.phase == Phase::init || h.phase == Phase::auth)
				st_.unfinished++;
	}

	[[nodiscard]] json to_json() const
	{
		json lat = json::object();
		if (!st_.latency_ms.empty()) {
			auto v = st_.latency_ms;
			std::sort(v.begin(), v.end());
			auto pct = [&v](double p) {
				const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
				return round3(v[std::clamp<std::size_t>(rank, 1, v.size()) - 1]);
			};
			double sum = 0;
			for (const double x : v)
				sum += x;
			lat = {{"mean", round3(sum / static_cast<double>(v.size()))},
			       {"p50", pct(50)},
			       {"p90", pct(90)},
			       {"p99", pct(99)},
			       {"max", round3(v.back())}};
		}
		rusage ru{};
		(void)::getrusage(RUSAGE_SELF, &ru);
		const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
				   static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		return {{"label", o_.label},
			{"target", s_.ike_ep.address().to_string()},
			{"port", o_.port},
			{"natt_port", o_.natt_port},
			{"proposal", o_.proposal},
			{"esp_proposal", o_.esp_proposal},
			{"group", static_cast<unsigned>(s_.group)},
			{"concurrency", o_.concurrency},
			{"duration", o_.duration},
			{"warmup", o_.warmup},
			{"delete", !o_.no_delete},
			{"dh_pool", o_.dh_pool},
			{"seconds", round3(seconds_)},
			{"started", st_.started},
			{"handshakes", st_.ok_window},
			{"handshakes_total", st_.ok},
			{"per_second", seconds_ > 0 ? round3(static_cast<double>(st_.ok_window) / seconds_) : 0.0},
			{"failed", st_.failed},
			{"lost", st_.lost},
			{"unfinished", st_.unfinished},
			{"failures", st_.failures},
			{"cookies", st_.cookies},
			{"invalid_ke", st_.invalid_ke},
			{"retransmissions", st_.retransmissions},
			{"deletes_ok", st_.deletes_ok},
			{"deletes_lost", st_.deletes_lost},
			{"datagrams_sent", st_.datagrams_sent},
			{"datagrams_received", st_.datagrams_received},
			{"send_errors", st_.send_errors},
			{"dropped", st_.dropped},
			{"hostile",
			 o_.hostile.empty() ? json(nullptr)
					    : json{{"preauth_answered", st_.preauth_answered},
						   {"auth_resent", st_.auth_resent},
						   {"reflected", st_.reflected}}},
			{"latency_ms", lat},
			{"cpu_seconds", round3(cpu)}};
	}

private:
	using Timer = std::tuple<Clock::time_point, std::size_t, std::uint32_t>;

	static Clock::duration to_dur(double s)
	{
		return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
	}

	void fail(std::size_t i, const std::string &kind)
	{
		st_.failed++;
		st_.failures[kind]++;
		finish(i);
	}

	/* The handshake in slot i is over: start the next one, or idle while draining. */
	void finish(std::size_t i)
	{
		auto &h = hs_[i];
		by_spi_.erase(h.spi_i);
		h.phase = Phase::idle;
		h.gen++;
		h.own_dh.reset();
		h.keys = {};
		active_--;
		if (!draining_ && Clock::now() < end_ && o_.hostile.empty())
			start(i);
	}

	std::uint64_t new_spi()
	{
		std::uint64_t spi = 0;
		while (spi == 0 || by_spi_.contains(spi))
			spi = ike::random_u64();
		return spi;
	}

	const ike::DhKey &key_for(Hs &h)
	{
		if (!pool_.empty() && h.group == s_.group) {
			const auto &k = pool_[next_pool_++ % pool_.size()];
			return k;
		}
		h.own_dh = ike::DhKey::generate(h.group);
		return *h.own_dh;
	}

	void start(std::size_t i)
	{
		auto &h = hs_[i];
		const auto gen = h.gen + 1;
		h = Hs{};
		h.gen = gen;
		h.group = s_.group;
		h.spi_i = new_spi();
		h.ni = ike::random_bytes(kNonceLen);
		h.ts_host = ts_hosts_ > 2 ? 1 + static_cast<std::uint32_t>(next_ts_++ % (ts_hosts_ - 2)) : 0;
		h.started = Clock::now();
		by_spi_[h.spi_i] = i;
		active_++;
		st_.started++;
		send_init(i);
	}

	void send_init(std::size_t i)
	{
		auto &h = hs_[i];
		h.dh = &key_for(h);
		ike::Payloads p;
		auto prop = s_.ike_prop;
		p.has_sa = true;
		p.sa = {prop};
		p.ke = ike::KeyExchange{h.group, h.dh->public_value()};
		p.nonce = h.ni;
		if (!h.cookie.empty())
			p.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::cookie), h.cookie});
		/* a source hash that never matches: the responder sees us behind a NAT */
		p.notifies.push_back({ike::Protocol::none,
				      {},
				      static_cast<std::uint16_t>(ike::NotifyType::nat_detection_source_ip),
				      ike::random_bytes(20)});
		p.notifies.push_back({ike::Protocol::none,
				      {},
				      static_cast<std::uint16_t>(ike::NotifyType::nat_detection_destination_ip),
				      ike::nat_detection_hash(h.spi_i, 0, s_.ike_ep)});
		ike::Header hdr;
		hdr.spi_i = h.spi_i;
		hdr.exchange = ike::Exchange::ike_sa_init;
		hdr.flags = ike::kFlagInitiator;
		hdr.msgid = 0;
		h.init_req = ike::encode_plain(hdr, p);
		h.wire = h.init_req;
		h.natt = false;
		h.phase = Phase::init;
		transmit(i, true);
	}

	void transmit(std::size_t i, bool first)
	{
		auto &h = hs_[i];
		if (first)
			h.tries = 0;
		else
			st_.retransmissions++;
		const auto &sock = h.natt ? sock_natt_ : sock_ike_;
		const auto &ep = h.natt ? s_.natt_ep : s_.ike_ep;
		const auto sa = ep.sockaddr_bytes();
		if (::sendto(sock.fd(), h.wire.data(), h.wire.size(), 0, as_sockaddr(sa),
			     static_cast<socklen_t>(sa.size())) < 0)
			st_.send_errors++;
		else
			st_.datagrams_sent++;
		timers_.emplace(Clock::now() + std::chrono::milliseconds(o_.rto_ms), i, h.gen);
	}

	void fire_timers(Clock::time_point now)
	{
		while (!timers_.empty() && std::get<0>(timers_.top()) <= now) {
			const auto [t, i, gen] = timers_.top();
			timers_.pop();
			auto &h = hs_[i];
			if (h.gen != gen || h.phase == Phase::idle)
				continue;
			if (h.tries < o_.retries) {
				h.tries++;
				transmit(i, false);
				continue;
			}
			if (h.phase == Phase::del) {
				st_.deletes_lost++;
				finish(i);
				continue;
			}
			st_.lost++;
			fail(i, h.phase == Phase::init ? "timeout IKE_SA_INIT" : "timeout IKE_AUTH");
		}
	}

	/* Sends an encrypted request and makes it the one being retransmitted. */
	void send_encrypted(std::size_t i, ike::Exchange ex, std::uint32_t msgid, const ike::Payloads &p)
	{
		auto &h = hs_[i];
		ike::Header hdr;
		hdr.spi_i = h.spi_i;
		hdr.spi_r = h.spi_r;
		hdr.exchange = ex;
		hdr.flags = ike::kFlagInitiator;
		hdr.msgid = msgid;
		const auto msg = ike::encode_encrypted(hdr, p, h.keys.sk_ei, msgid);
		h.natt = true;
		h.wire.assign(ike::kNonEspMarkerLen, 0);
		h.wire.insert(h.wire.end(), msg.begin(), msg.end());
		h.gen++; /* the previous exchange's timer is void */
		transmit(i, true);
	}

	void receive(const Socket &sock, bool natt)
	{
		std::array<std::uint8_t, 65536> buf{};
		for (int n = 0; n < 256; n++) {
			const auto len = ::recv(sock.fd(), buf.data(), buf.size(), 0);
			if (len < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					st_.dropped++; /* ICMP errors show up here: ECONNREFUSED */
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				continue;
			}
			st_.datagrams_received++;
			ByteView d(buf.data(), static_cast<std::size_t>(len));
			if (natt) {
				if (d.size() < ike::kNonEspMarkerLen + ike::kHeaderLen || d[0] != 0 || d[1] != 0 || d[2] != 0 ||
				    d[3] != 0) {
					st_.dropped++; /* NAT keepalive or ESP */
					continue;
				}
				d = d.subspan(ike::kNonEspMarkerLen);
			}
			on_message(d);
		}
	}

	void on_message(ByteView d)
	{
		ike::Header hdr;
		try {
			hdr = ike::parse_header(d);
		} catch (const ike::ParseError &) {
			st_.dropped++;
			return;
		}
		const auto it = by_spi_.find(hdr.spi_i);
		if (it == by_spi_.end() || !hdr.is_response() || hdr.from_initiator()) {
			st_.dropped++;
			return;
		}
		const std::size_t i = it->second;
		auto &h = hs_[i];
		if (!o_.hostile.empty() && hdr.msgid == 1 &&
		    (hdr.exchange == ike::Exchange::create_child_sa || hdr.exchange == ike::Exchange::informational)) {
			st_.preauth_answered++;
			return;
		}
		if (!o_.hostile.empty() && h.phase == Phase::del && hdr.exchange == ike::Exchange::ike_auth) {
			st_.auth_resent++;
			return;
		}
		try {
			if (h.phase == Phase::init && hdr.exchange == ike::Exchange::ike_sa_init && hdr.msgid == 0)
				on_init_resp(i, d);
			else if (h.phase == Phase::auth && hdr.exchange == ike::Exchange::ike_auth && hdr.msgid == 1 &&
				 hdr.spi_r == h.spi_r)
				on_auth_resp(i, d);
			else if (h.phase == Phase::del && hdr.exchange == ike::Exchange::informational && hdr.msgid == 2 &&
				 hdr.spi_r == h.spi_r)
				on_delete_resp(i, d);
			else
				st_.dropped++; /* a late answer to a retransmission */
		} catch (const ike::ParseError &e) {
			if (!e.notify()) {
				st_.dropped++; /* failed integrity: wait for a good one */
				return;
			}
			fail(i, std::string("malformed response: ") + e.what());
		} catch (const ike::CryptoError &e) {
			fail(i, std::string("crypto: ") + e.what());
		}
	}

	void on_init_resp(std::size_t i, ByteView d)
	{
		auto &h = hs_[i];
		ike::Header hdr;
		const auto p = ike::parse_plain(d, hdr);
		if (const auto *n = p.find(ike::NotifyType::cookie)) {
			if (n->data.empty() || n->data.size() > 64 || ++h.rounds > kMaxRounds) {
				fail(i, "COOKIE refused or repeated");
				return;
			}
			st_.cookies++;
			h.cookie = n->data;
			h.gen++;
			send_init(i);
			return;
		}
		if (const auto *n = p.find(ike::NotifyType::invalid_ke_payload)) {
			std::uint16_t g = 0;
			if (n->data.size() == 2)
				g = static_cast<std::uint16_t>((n->data[0] << 8) | n->data[1]);
			const auto want = static_cast<ike::DhGroup>(g);
			const auto &dh_list = s_.ike_prop.transforms;
			const bool offered = std::ranges::any_of(dh_list, [g](const ike::Transform &t) {
				return t.type == ike::TransformType::dh && t.id == g;
			});
			if (!offered || !ike::supported(want) || want == h.group || ++h.rounds > kMaxRounds) {
				fail(i, fmt::format("INVALID_KE_PAYLOAD({})", g));
				return;
			}
			st_.invalid_ke++;
			h.group = want;
			h.gen++;
			send_init(i);
			return;
		}
		if (const auto *n = p.first_error()) {
			fail(i, ike::notify_name(n->type));
			return;
		}
		if (hdr.spi_r == 0 || !p.has_sa || p.sa.size() != 1 || !p.ke || !p.nonce) {
			fail(i, "IKE_SA_INIT response without SPIr, SA, KE or Nonce");
			return;
		}
		if (p.ke->group != h.group) {
			fail(i, "IKE_SA_INIT response: KE of another group");
			return;
		}
		for (const auto &t : p.sa.front().transforms) {
			if (std::ranges::find(s_.ike_prop.transforms, t) == s_.ike_prop.transforms.end()) {
				fail(i, "IKE_SA_INIT response: a transform we did not offer");
				return;
			}
		}
		h.spi_r = hdr.spi_r;
		h.nr = *p.nonce;
		h.init_resp.assign(d.begin(), d.end());
		auto suite = s_.suite;
		suite.dh = h.group;
		const auto shared = h.dh->shared(p.ke->data);
		h.keys = ike::derive_ike_keys(suite, shared.span(), h.ni, h.nr, h.spi_i, h.spi_r);

		ike::Payloads a;
		a.idi = s_.idi;
		a.idr = s_.idr;
		const auto octets = ike::auth_octets(suite.prf, h.init_req, h.nr, h.keys.sk_pi.span(), s_.idi);
		const auto mac = ike::psk_auth(suite.prf, s_.psk.span(), octets);
		a.auth = ike::Auth{ike::AuthMethod::psk, Bytes(mac.span().begin(), mac.span().end())};
		auto esp = s_.esp_prop;
		esp.spi = ike::esp_spi_bytes(0x100U + static_cast<std::uint32_t>(ike::random_u64() % 0xfffffe00U));
		a.has_sa = true;
		a.sa = {esp};
		if (o_.ts_whole || h.ts_host == 0) {
			a.tsi = std::vector{ike::TrafficSelector::from_prefix(s_.ts_local.addr, s_.ts_local.len)};
		} else {
			a.tsi = std::vector{ike::TrafficSelector::from_prefix(host_in(s_.ts_local, h.ts_host),
									       s_.ts_local.addr.is_v4() ? 32U : 128U)};
		}
		a.tsr = std::vector{ike::TrafficSelector::from_prefix(s_.ts_remote.addr, s_.ts_remote.len)};
		h.phase = Phase::auth;
		if (!o_.hostile.empty())
			preauth_probes(i, a);
		send_encrypted(i, ike::Exchange::ike_auth, 1, a);
	}

	/* --hostile: one datagram, not retransmitted, from sock (our NAT-T socket by default) */
	void send_once(const Bytes &wire, const Socket *sock = nullptr)
	{
		const auto sa = s_.natt_ep.sockaddr_bytes();
		const int fd = sock != nullptr ? sock->fd() : sock_natt_.fd();
		if (::sendto(fd, wire.data(), wire.size(), 0, as_sockaddr(sa), static_cast<socklen_t>(sa.size())) < 0)
			st_.send_errors++;
		else
			st_.datagrams_sent++;
	}

	Bytes wire_of(const Hs &h, ike::Exchange ex, std::uint32_t msgid, const ike::Payloads &p) const
	{
		ike::Header hdr;
		hdr.spi_i = h.spi_i;
		hdr.spi_r = h.spi_r;
		hdr.exchange = ex;
		hdr.flags = ike::kFlagInitiator;
		hdr.msgid = msgid;
		const auto msg = ike::encode_encrypted(hdr, p, h.keys.sk_ei, msgid);
		Bytes w(ike::kNonEspMarkerLen, 0);
		w.insert(w.end(), msg.begin(), msg.end());
		return w;
	}

	/* --hostile, before IKE_AUTH: requests a responder must not act on or answer yet */
	void preauth_probes(std::size_t i, const ike::Payloads &auth)
	{
		const auto &h = hs_[i];
		ike::Payloads child;
		child.has_sa = true;
		child.sa = auth.sa;
		child.nonce = ike::random_bytes(kNonceLen);
		child.tsi = auth.tsi;
		child.tsr = auth.tsr;
		send_once(wire_of(h, ike::Exchange::create_child_sa, 1, child));
		ike::Payloads del;
		del.deletes.push_back({ike::Protocol::ike, {}});
		send_once(wire_of(h, ike::Exchange::informational, 1, del));
	}

	/* --hostile, IKE_AUTH done: copies of its request; only the exact one from us may be answered */
	void replay_probes(std::size_t i)
	{
		const auto &h = hs_[i];
		auto changed = h.wire;
		changed.back() ^= 0x01;
		send_once(changed);
		for (int k = 0; k < 3; k++)
			send_once(h.wire, sock_spoof_.get());
		send_once(h.wire);
	}

	void drain_spoof()
	{
		std::array<std::uint8_t, 65536> buf{};
		while (::recv(sock_spoof_->fd(), buf.data(), buf.size(), MSG_DONTWAIT) >= 0)
			st_.reflected++;
	}

	/* The n-th address of a prefix (n < 2^31). */
	static ntm::IpAddress host_in(const ntm::Prefix &pfx, std::uint32_t n)
	{
		const auto b = pfx.addr.bytes();
		Bytes a(b.begin(), b.end());
		std::uint64_t carry = n;
		for (std::size_t k = a.size(); k-- > 0 && carry != 0;) {
			carry += a[k];
			a[k] = static_cast<std::uint8_t>(carry & 0xff);
			carry >>= 8;
		}
		return *ntm::IpAddress::from_bytes(a);
	}

	void on_auth_resp(std::size_t i, ByteView d)
	{
		auto &h = hs_[i];
		ike::Header hdr;
		const auto p = ike::parse_encrypted(d, h.keys.sk_er, hdr);
		if (p.find(ike::NotifyType::authentication_failed) != nullptr) {
			fail(i, "AUTHENTICATION_FAILED");
			return;
		}
		if (!p.auth || !p.idr) {
			const auto *n = p.first_error();
			fail(i, n != nullptr ? ike::notify_name(n->type) : "IKE_AUTH response without IDr or AUTH");
			return;
		}
		if (s_.idr && !(*p.idr == *s_.idr)) {
			fail(i, "responder identity mismatch");
			return;
		}
		const auto octets = ike::auth_octets(s_.suite.prf, h.init_resp, h.ni, h.keys.sk_pr.span(), *p.idr);
		if (p.auth->method != ike::AuthMethod::psk ||
		    !ike::psk_auth_matches(s_.suite.prf, s_.psk.span(), octets, p.auth->data)) {
			fail(i, "responder AUTH does not verify");
			return;
		}
		/* the IKE SA is up from here on: failed or not, the CHILD SA is followed by the Delete */
		if (const auto *n = p.first_error()) {
			st_.failed++;
			st_.failures["CHILD SA: " + ike::notify_name(n->type)]++;
		} else if (!p.has_sa || p.sa.size() != 1 || !p.tsi || !p.tsr ||
			   !ike::esp_spi_value(p.sa.front().spi).has_value()) {
			st_.failed++;
			st_.failures["CHILD SA: no SA, SPI or TS in the response"]++;
		} else {
			const auto now = Clock::now();
			st_.ok++;
			if (now >= window_start_ && now <= end_) {
				st_.ok_window++;
				st_.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - h.started).count());
			}
		}
		if (o_.no_delete) {
			finish(i);
			return;
		}
		if (!o_.hostile.empty())
			replay_probes(i);
		ike::Payloads del;
		del.deletes.push_back({ike::Protocol::ike, {}});
		h.phase = Phase::del;
		send_encrypted(i, ike::Exchange::informational, 2, del);
	}

	void on_delete_resp(std::size_t i, ByteView d)
	{
		auto &h = hs_[i];
		ike::Header hdr;
		(void)ike::parse_encrypted(d, h.keys.sk_er, hdr);
		st_.deletes_ok++;
		finish(i);
	}

	const Options &o_;
	Setup s_;
	Socket sock_ike_;
	Socket sock_natt_;
	std::unique_ptr<Socket> sock_spoof_; /* --hostile */
	std::vector<Hs> hs_;
	std::vector<ike::DhKey> pool_;
	std::size_t next_pool_ = 0;
	std::uint64_t next_ts_ = 0;
	std::uint32_t ts_hosts_ = 0;
	std::unordered_map<std::uint64_t, std::size_t> by_spi_;
	std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
	std::size_t active_ = 0;
	bool draining_ = false;
	Clock::time_point t0_;
	Clock::time_point window_start_;
	Clock::time_point end_;
	Clock::time_point drain_deadline_;
	double seconds_ = 0;
	Stats st_;
};

void print_text(const json &j)
{
	fmt::print("{} handshakes in {} s against {} (concurrency {}, group {}): {} /s\n",
		   j["handshakes"].get<std::uint64_t>(), j["seconds"].get<double>(), j["target"].get<std::string>(),
		   j["concurrency"].get<unsigned>(), j["group"].get<unsigned>(), j["per_second"].get<double>());
	const auto &l = j["latency_ms"];
	if (!l.empty())
		fmt::print("latency ms: p50 {} p90 {} p99 {} max {}\n", l["p50"].get<double>(), l["p90"].get<double>(),
			   l["p99"].get<double>(), l["max"].get<double>());
	fmt::print("failed {} (lost {}), unfinished {}, retransmissions {}, cookies {}, INVALID_KE {}, "
		   "deletes {} ok / {} lost, generator CPU {} s\n",
		   j["failed"].get<std::uint64_t>(), j["lost"].get<std::uint64_t>(), j["unfinished"].get<std::uint64_t>(),
		   j["retransmissions"].get<std::uint64_t>(), j["cookies"].get<std::uint64_t>(),
		   j["invalid_ke"].get<std::uint64_t>(), j["deletes_ok"].get<std::uint64_t>(),
		   j["deletes_lost"].get<std::uint64_t>(), j["cpu_seconds"].get<double>());
	if (!j["failures"].empty())
		fmt::print("failures: {}\n", j["failures"].dump());
}

int run(int argc, char **argv)
{
	CLI::App app("ntm-ikebench: IKEv2 handshake load generator (initiator, PSK)", "ntm-ikebench");
	Options o;
	app.add_option("--target", o.target, "The responder's address (IPv4 or IPv6)")->required()->type_name("ADDR");
	app.add_option("--port", o.port, "The responder's IKE port (IKE_SA_INIT)")->capture_default_str();
	app.add_option("--natt-port", o.natt_port, "The responder's NAT-T port (IKE_AUTH and Delete, non-ESP marker)")
		->capture_default_str();
	app.add_option("--bind", o.bind, "Local address of the two sockets")->type_name("ADDR");
	app.add_option("--psk-file", o.psk_file, "The pre-shared key: first line of FILE")->required()->type_name("FILE");
	app.add_option("--id", o.id, "Our identity (IDi): fqdn:NAME, ipv4:A, email:X, ...")->capture_default_str();
	app.add_option("--peer-id", o.peer_id, "The responder's identity: sent as IDr and checked in the answer")
		->type_name("ID");
	app.add_option("--concurrency,-c", o.concurrency, "Handshakes in flight")->capture_default_str();
	app.add_option("--duration,-d", o.duration, "Seconds of load (then in-flight handshakes finish)")
		->capture_default_str();
	app.add_option("--warmup", o.warmup, "Seconds at the start not counted in the rate")->capture_default_str();
	app.add_option("--group", o.group, "DH group of the first KE payload: 19 (ecp256) or 31 (x25519); "
					   "default: the first group of --proposal")
		->type_name("19|31");
	app.add_option("--proposal", o.proposal, "IKE proposal (strongSwan syntax)")->capture_default_str();
	app.add_option("--esp-proposal", o.esp_proposal, "CHILD SA proposal")->capture_default_str();
	app.add_option("--ts-local", o.ts_local, "TSi: one host address of this prefix per handshake")
		->capture_default_str();
	app.add_option("--ts-remote", o.ts_remote, "TSr")->capture_default_str();
	app.add_flag("--ts-whole", o.ts_whole, "TSi is the whole --ts-local prefix, the same for every handshake");
	app.add_option("--rto-ms", o.rto_ms, "Retransmission timeout of each request")->capture_default_str();
	app.add_option("--retries", o.retries, "Retransmissions before a handshake counts as lost")->capture_default_str();
	app.add_option("--dh-pool", o.dh_pool,
		       "Reuse N DH key pairs made before the run (RFC 7296 2.12), 0: a fresh pair per handshake")
		->capture_default_str();
	app.add_flag("--no-delete", o.no_delete, "Leave the IKE SAs at the responder (no INFORMATIONAL Delete)");
	app.add_option("--hostile", o.hostile,
		       "One handshake with requests a responder must ignore, and copies of IKE_AUTH, some from a "
		       "socket bound to SPOOF_ADDR")
		->type_name("SPOOF_ADDR");
	app.add_option("--label", o.label, "A name copied into the JSON output");
	app.add_flag("--json,-j", o.json, "Print one JSON object");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}
	Bench b(o, check_options(o));
	b.run();
	const json r = b.to_json();
	if (o.json)
		fmt::print("{}\n", r.dump());
	else
		print_text(r);
	return r["handshakes"].get<std::uint64_t>() > 0 ? 0 : kExitFailed;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const ntm::UsageError &e) {
		(void)std::fprintf(stderr, "ntm-ikebench: %s\n", e.what());
		return kExitUsage;
	} catch (const std::exception &e) {
		(void)std::fprintf(stderr, "ntm-ikebench: %s\n", e.what());
		return kExitFailed;
	}
}
