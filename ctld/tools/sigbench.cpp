// SPDX-License-Identifier: GPL-2.0
/*
 * ntm-sigbench - load generator for the Direction Coordinator
 * (Documentation/benchmarks.rst, section "Signalling").
 *
 *   ntm-sigbench seed --db REGISTRY.db --nodes N [--domain D]
 *	Before the DC starts: N node keys (key ids FIRST..FIRST+N-1, FQDNs
 *	n<id>.<domain>, random 32-byte keys) go into the DC's registry in one
 *	transaction, as if the AS had distributed them. The DC loads keys
 *	from there lazily, when a datagram names an id it has not seen.
 *
 *   ntm-sigbench register --dc ADDR:PORT --db REGISTRY.db --nodes N
 *	Reads those keys back and plays N nodes: one Registration Request
 *	per node, then one Keepalive per node, from a pool of UDP sockets
 *	(the DC sees one endpoint per socket) with --window requests in
 *	flight. Requests go through ntmd's SigIo (sealing, retransmission,
 *	replay window), so the DC sees what real nodes send. Reports time,
 *	rate, latency percentiles and failures per pass; with --dc-pid also
 *	the DC's resident memory before and after each pass.
 */
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "ntm/error.hpp"
#include "ntm/parse.hpp"
#include "ntm/sig.hpp"
#include "ntm/store.hpp"
#include "sigio.hpp"

namespace {

namespace sig = ntm::sig;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json; /* keys in the order written */

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kSocketBuffer = 1 << 20;

struct Options {
	std::string db;
	std::string dc;
	std::string domain = "ntm.test";
	std::string bind;
	std::uint32_t nodes = 10000;
	std::uint32_t first_id = 1;
	std::uint32_t lifetime = 86400;
	unsigned window = 256;
	unsigned sockets = 64;
	unsigned rto_ms = 500;
	unsigned retries = 5;
	std::vector<std::string> passes{"registration", "keepalive"};
	int dc_pid = 0;
	bool json = false;
};

std::int64_t unix_now()
{
	return static_cast<std::int64_t>(std::time(nullptr));
}

double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

double round3(double v)
{
	return std::round(v * 1000.0) / 1000.0;
}

std::string node_fqdn(const Options &o, std::uint32_t id)
{
	return "n" + std::to_string(id) + "." + o.domain;
}

void check_ids(const Options &o)
{
	if (o.nodes == 0)
		throw ntm::UsageError("--nodes must be at least 1");
	if (o.first_id == 0 || std::uint64_t{o.first_id} + o.nodes - 1 > std::numeric_limits<std::uint32_t>::max())
		throw ntm::UsageError("--first-id and --nodes leave the key id range 1..4294967295");
	if (!sig::valid_dns_name(node_fqdn(o, o.first_id + o.nodes - 1)))
		throw ntm::UsageError("--domain '" + o.domain + "' does not make valid node names");
}

/* Size of a file, 0 when it does not exist. */
std::uint64_t file_size(const std::string &path)
{
	std::error_code ec;
	const auto n = std::filesystem::file_size(path, ec);
	return ec ? 0 : static_cast<std::uint64_t>(n);
}

/* VmRSS of a process in bytes, nullopt when it cannot be read. */
std::optional<std::uint64_t> rss_bytes(int pid)
{
	if (pid <= 0)
		return std::nullopt;
	std::ifstream in("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(in, line)) {
		if (!line.starts_with("VmRSS:"))
			continue;
		std::istringstream fields(line.substr(6));
		std::uint64_t kb = 0;
		if (fields >> kb)
			return kb * 1024;
		return std::nullopt;
	}
	return std::nullopt;
}

json rss_json(int pid)
{
	const auto v = rss_bytes(pid);
	return v ? json(*v) : json(nullptr);
}

/* ---- seed ---- */

json seed(const Options &o)
{
	check_ids(o);
	const auto t0 = Clock::now();
	ntm::store::Registry reg(o.db, std::nullopt, std::nullopt);
	const std::int64_t expires = unix_now() + o.lifetime;
	reg.begin();
	for (std::uint32_t i = 0; i < o.nodes; i++) {
		ntm::store::NodeKey k;
		k.key_id = o.first_id + i;
		k.fqdn = node_fqdn(o, k.key_id);
		k.key = sig::random_key();
		k.expires = expires;
		reg.put_key(k);
	}
	reg.commit();
	const double secs = seconds_since(t0);
	return {{"command", "seed"},
		{"nodes", o.nodes},
		{"first_id", o.first_id},
		{"domain", o.domain},
		{"seconds", round3(secs)},
		{"keys_per_second", secs > 0 ? std::round(o.nodes / secs) : 0.0},
		{"db_bytes", file_size(o.db)},
		{"db_wal_bytes", file_size(o.db + "-wal")}};
}

/* ---- register ---- */

struct PassResult {
	std::string name;
	std::uint64_t requests = 0;
	std::uint64_t ok = 0;
	std::uint64_t failed = 0;
	std::uint64_t timeouts = 0;
	std::map<std::string, std::uint64_t> failures; /* status name or error text -> count */
	std::uint64_t datagrams = 0;
	double seconds = 0;
	std::vector<double> latency_ms; /* of the successful requests */
	std::optional<std::uint64_t> dc_rss_after;

	[[nodiscard]] json to_json() const
	{
		json lat = json::object();
		if (!latency_ms.empty()) {
			auto v = latency_ms;
			std::sort(v.begin(), v.end());
			/* nearest rank */
			auto pct = [&v](double p) {
				const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
				return round3(v[std::clamp<std::size_t>(rank, 1, v.size()) - 1]);
			};
			double sum = 0;
			for (double x : v)
				sum += x;
			lat = {{"mean", round3(sum / static_cast<double>(v.size()))},
			       {"p50", pct(50)},
			       {"p90", pct(90)},
			       {"p99", pct(99)},
			       {"max", round3(v.back())}};
		}
		return {{"requests", requests},
			{"ok", ok},
			{"failed", failed},
			{"timeouts", timeouts},
			{"failures", failures},
			{"seconds", round3(seconds)},
			{"per_second", seconds > 0 ? std::round(static_cast<double>(ok) / seconds) : 0.0},
			{"datagrams_sent", datagrams},
			{"retransmissions", datagrams >= requests ? datagrams - requests : 0},
			{"latency_ms", lat},
			{"dc_rss_bytes_after", dc_rss_after ? json(*dc_rss_after) : json(nullptr)}};
	}
};

class Bench {
public:
	Bench(asio::io_context &io, const Options &o, const ntm::Endpoint &dc,
	      std::vector<std::shared_ptr<ntmd::SigSession>> sessions)
	    : io_(io), o_(o), dc_(dc), sessions_(std::move(sessions))
	{
		for (const auto &s : sessions_)
			by_id_.emplace(s->key_id, s);
		const auto dc_asio = ntmd::to_asio<asio::ip::udp>(dc_);
		asio::ip::address local;
		if (o_.bind.empty()) {
			/* the address the kernel picks towards the DC: what LOCAL_EP must say */
			asio::ip::udp::socket probe(io_, dc_asio.protocol());
			probe.connect(dc_asio);
			local = probe.local_endpoint().address();
		} else {
			local = asio::ip::make_address(o_.bind);
		}
		const bool v6 = dc_asio.address().is_v6();
		for (unsigned i = 0; i < o_.sockets; i++) {
			auto sock = std::make_unique<asio::ip::udp::socket>(io_, asio::ip::udp::endpoint(local, 0));
			asio::error_code ignored;
			sock->set_option(asio::socket_base::receive_buffer_size(kSocketBuffer), ignored);
			sock->set_option(asio::socket_base::send_buffer_size(kSocketBuffer), ignored);
			local_eps_.push_back(ntmd::to_ntm(sock->local_endpoint()));
			auto io_obj = std::make_unique<ntmd::SigIo>(io_, v6 ? nullptr : sock.get(), v6 ? sock.get() : nullptr);
			io_obj->set_rto(std::chrono::milliseconds(o_.rto_ms), o_.retries);
			io_obj->set_key_lookup([this](sig::Kind kind, std::uint32_t id) {
				using R = std::pair<ntmd::KeyState, std::shared_ptr<ntmd::SigSession>>;
				const auto it = by_id_.find(id);
				if (kind != sig::Kind::dc || it == by_id_.end())
					return R{ntmd::KeyState::unknown, nullptr};
				return R{ntmd::KeyState::ok, it->second};
			});
			io_obj->set_notice_handler([this](const sig::Notice &n, const ntm::Endpoint &) {
				notices_[std::string(sig::status_name(n.status))]++;
			});
			socks_.push_back(std::move(sock));
			sigios_.push_back(std::move(io_obj));
		}
	}

	/** Runs every pass, then stops the sockets so that io.run() returns. */
	awaitable<void> run()
	{
		rss_start_ = rss_json(o_.dc_pid);
		for (const auto &p : o_.passes) {
			const auto type = p == "registration" ? sig::MsgType::registration : sig::MsgType::keepalive;
			results_.push_back(co_await run_pass(p, type));
		}
		for (auto &s : sigios_)
			s->stop();
		asio::error_code ignored;
		for (auto &s : socks_)
			s->close(ignored);
	}

	void start()
	{
		for (auto &s : sigios_)
			s->start();
	}

	[[nodiscard]] json to_json(double load_seconds) const
	{
		json passes = json::object();
		for (const auto &r : results_)
			passes[r.name] = r.to_json();
		ntmd::SigDrops d;
		for (const auto &s : sigios_) {
			const auto &x = s->drops();
			d.malformed += x.malformed;
			d.auth += x.auth;
			d.replay += x.replay;
			d.unknown_key += x.unknown_key;
			d.expired_key += x.expired_key;
			d.unexpected += x.unexpected;
			d.rate += x.rate;
		}
		return {{"command", "register"},
			{"dc", dc_.to_string()},
			{"nodes", o_.nodes},
			{"first_id", o_.first_id},
			{"window", o_.window},
			{"sockets", o_.sockets},
			{"rto_ms", o_.rto_ms},
			{"retries", o_.retries},
			{"keys_load_seconds", round3(load_seconds)},
			{"dc_rss_bytes_start", rss_start_},
			{"passes", passes},
			{"notices", notices_},
			{"client_drops", d.to_json()}};
	}

private:
	struct PassState {
		sig::MsgType type;
		std::size_t next = 0;
		std::size_t active = 0;
		PassResult res;
		asio::steady_timer done;
		PassState(asio::io_context &io, sig::MsgType t) : type(t), done(io) {}
	};

	awaitable<PassResult> run_pass(const std::string &name, sig::MsgType type)
	{
		PassState st(io_, type);
		st.res.name = name;
		std::uint64_t tx0 = 0;
		for (const auto &s : sigios_)
			tx0 += s->tx_messages();
		const auto t0 = Clock::now();
		const std::size_t workers = std::min<std::size_t>(std::max(o_.window, 1U), sessions_.size());
		st.active = workers;
		st.done.expires_at(Clock::time_point::max());
		for (std::size_t w = 0; w < workers; w++)
			asio::co_spawn(io_, worker(st), asio::detached);
		if (st.active > 0) {
			asio::error_code ec;
			co_await st.done.async_wait(asio::redirect_error(use_awaitable, ec));
		}
		st.res.seconds = seconds_since(t0);
		std::uint64_t tx1 = 0;
		for (const auto &s : sigios_)
			tx1 += s->tx_messages();
		st.res.datagrams = tx1 - tx0;
		st.res.dc_rss_after = rss_bytes(o_.dc_pid);
		co_return std::move(st.res);
	}

	awaitable<void> worker(PassState &st)
	{
		while (st.next < sessions_.size()) {
			const std::size_t i = st.next++;
			const std::size_t sock = i % sigios_.size();
			auto session = sessions_[i];
			sig::Message req;
			req.type = st.type;
			if (st.type == sig::MsgType::registration) {
				req.fqdn = session->fqdn;
				req.local_eps.push_back(local_eps_[sock]);
				req.ciphers = {NTM_CIPHER_CHACHA20_POLY1305, NTM_CIPHER_AES_GCM};
			}
			st.res.requests++;
			const auto t0 = Clock::now();
			try {
				const auto resp = co_await sigios_[sock]->request(session, dc_, std::move(req));
				if (resp.status == sig::Status::ok) {
					st.res.ok++;
					st.res.latency_ms.push_back(seconds_since(t0) * 1000.0);
				} else {
					st.res.failed++;
					st.res.failures[std::string(sig::status_name(resp.status.value_or(sig::Status::ok)))]++;
				}
			} catch (const ntm::Error &e) {
				st.res.failed++;
				if (e.code() == ETIMEDOUT) {
					st.res.timeouts++;
					st.res.failures["timeout"]++;
				} else {
					st.res.failures[e.what()]++;
				}
			} catch (const std::exception &e) {
				st.res.failed++;
				st.res.failures[e.what()]++;
			}
		}
		if (--st.active == 0)
			st.done.cancel();
	}

	asio::io_context &io_;
	const Options &o_;
	ntm::Endpoint dc_;
	std::vector<std::shared_ptr<ntmd::SigSession>> sessions_;
	std::unordered_map<std::uint32_t, std::shared_ptr<ntmd::SigSession>> by_id_;
	std::vector<std::unique_ptr<asio::ip::udp::socket>> socks_;
	std::vector<ntm::Endpoint> local_eps_;
	std::vector<std::unique_ptr<ntmd::SigIo>> sigios_;
	std::map<std::string, std::uint64_t> notices_;
	std::vector<PassResult> results_;
	json rss_start_;
};

json register_nodes(const Options &o)
{
	check_ids(o);
	if (o.sockets == 0)
		throw ntm::UsageError("--sockets must be at least 1");
	const ntm::Endpoint dc = ntm::parse_endpoint(o.dc);

	/*
	 * A node starts its sequence numbers at 1 after each login; we start
	 * high and time-based instead, so that a second run against the same
	 * DC (which keeps its replay windows) is not dropped as a replay.
	 */
	const auto seq_base = static_cast<std::uint64_t>(unix_now()) << 20;
	const auto t0 = Clock::now();
	std::vector<std::shared_ptr<ntmd::SigSession>> sessions;
	sessions.reserve(o.nodes);
	{
		ntm::store::Registry reg(o.db, std::nullopt, std::nullopt, false);
		for (std::uint32_t i = 0; i < o.nodes; i++) {
			const std::uint32_t id = o.first_id + i;
			auto k = reg.find_key(id);
			if (!k)
				throw ntm::Error(fmt::format("{}: no key {} (run ntm-sigbench seed first)", o.db, id),
						 ENOENT);
			auto s = std::make_shared<ntmd::SigSession>();
			s->kind = sig::Kind::dc;
			s->key_id = id;
			s->key = std::move(k->key);
			s->my_dir = sig::Direction::node;
			s->peer_dir = sig::Direction::dc;
			s->tx_seq = seq_base;
			s->fqdn = k->fqdn;
			sessions.push_back(std::move(s));
		}
	}
	const double load_seconds = seconds_since(t0);

	asio::io_context io(1);
	Bench bench(io, o, dc, std::move(sessions));
	bench.start();
	std::exception_ptr failure;
	asio::co_spawn(io, bench.run(), [&failure](const std::exception_ptr &e) { failure = e; });
	io.run();
	if (failure)
		std::rethrow_exception(failure);
	return bench.to_json(load_seconds);
}

/* ---- output ---- */

void print_text(const json &j)
{
	if (j["command"] == "seed") {
		fmt::print("seeded {} keys (ids {}..) in {} s: {} keys/s; database {} B (+ WAL {} B)\n",
			   j["nodes"].get<std::uint64_t>(), j["first_id"].get<std::uint64_t>(),
			   j["seconds"].get<double>(), j["keys_per_second"].get<double>(),
			   j["db_bytes"].get<std::uint64_t>(), j["db_wal_bytes"].get<std::uint64_t>());
		return;
	}
	fmt::print("{} nodes against {} ({} sockets, window {}), keys loaded in {} s\n",
		   j["nodes"].get<std::uint64_t>(), j["dc"].get<std::string>(), j["sockets"].get<unsigned>(),
		   j["window"].get<unsigned>(), j["keys_load_seconds"].get<double>());
	for (const auto &[name, p] : j["passes"].items()) {
		fmt::print("{:<13} {:>6} ok {:>5} failed in {:>8.3f} s: {:>7} /s", name, p["ok"].get<std::uint64_t>(),
			   p["failed"].get<std::uint64_t>(), p["seconds"].get<double>(),
			   p["per_second"].get<double>());
		const auto &l = p["latency_ms"];
		if (!l.empty())
			fmt::print("; latency ms p50 {} p90 {} p99 {} max {}", l["p50"].get<double>(),
				   l["p90"].get<double>(), l["p99"].get<double>(), l["max"].get<double>());
		fmt::print("; {} retransmissions\n", p["retransmissions"].get<std::uint64_t>());
		if (!p["failures"].empty())
			fmt::print("  failures: {}\n", p["failures"].dump());
		if (!p["dc_rss_bytes_after"].is_null())
			fmt::print("  DC VmRSS after: {} B\n", p["dc_rss_bytes_after"].get<std::uint64_t>());
	}
	if (!j["dc_rss_bytes_start"].is_null())
		fmt::print("DC VmRSS at start: {} B\n", j["dc_rss_bytes_start"].get<std::uint64_t>());
	if (!j["notices"].empty())
		fmt::print("NOTICEs from the DC: {}\n", j["notices"].dump());
}

int run(int argc, char **argv)
{
	CLI::App app("ntm-sigbench: load generator for the NTM Direction Coordinator", "ntm-sigbench");
	app.require_subcommand(1);
	Options o;

	auto common = [&o](CLI::App *c) {
		c->add_option("--db", o.db, "The DC's registry database (dc.database)")
			->required()
			->type_name("FILE");
		c->add_option("--nodes", o.nodes, "Number of nodes")->capture_default_str();
		c->add_option("--first-id", o.first_id, "Key id of the first node")->capture_default_str();
		c->add_option("--domain", o.domain, "Node domain: FQDNs are n<id>.<domain>")->capture_default_str();
		c->add_flag("--json", o.json, "Print one JSON object");
	};

	auto *seed_cmd = app.add_subcommand("seed", "Store node keys in the registry (before the DC starts)");
	common(seed_cmd);
	seed_cmd->add_option("--lifetime", o.lifetime, "Key lifetime in seconds")->capture_default_str();

	auto *reg_cmd = app.add_subcommand("register", "Register every seeded node, then send one keepalive each");
	common(reg_cmd);
	reg_cmd->add_option("--dc", o.dc, "The DC's UDP endpoint (ADDR:PORT, [ADDR6]:PORT)")
		->required()
		->type_name("ENDPOINT");
	reg_cmd->add_option("--window", o.window, "Requests in flight")->capture_default_str();
	reg_cmd->add_option("--sockets", o.sockets, "UDP sockets (distinct source ports)")->capture_default_str();
	reg_cmd->add_option("--bind", o.bind, "Local address of the sockets (default: the route's source)")
		->type_name("ADDR");
	reg_cmd->add_option("--rto-ms", o.rto_ms, "First retransmission timeout")->capture_default_str();
	reg_cmd->add_option("--retries", o.retries, "Retransmissions per request")->capture_default_str();
	reg_cmd->add_option("--passes", o.passes, "Passes in order: registration, keepalive")
		->check(CLI::IsMember({"registration", "keepalive"}))
		->delimiter(',')
		->capture_default_str();
	reg_cmd->add_option("--dc-pid", o.dc_pid, "Record the VmRSS of this process (the DC) around each pass")
		->type_name("PID");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}

	auto logger = spdlog::stderr_logger_st("ntm-sigbench");
	logger->set_level(spdlog::level::warn);
	spdlog::set_default_logger(logger);

	const json result = seed_cmd->parsed() ? seed(o) : register_nodes(o);
	if (o.json)
		fmt::print("{}\n", result.dump());
	else
		print_text(result);
	if (reg_cmd->parsed()) {
		for (const auto &[name, p] : result["passes"].items())
			if (p["ok"].get<std::uint64_t>() == 0)
				return kExitFailed;
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const ntm::UsageError &e) {
		(void)std::fprintf(stderr, "ntm-sigbench: %s\n", e.what());
		return kExitUsage;
	} catch (const std::exception &e) {
		(void)std::fprintf(stderr, "ntm-sigbench: %s\n", e.what());
		return kExitFailed;
	}
}
