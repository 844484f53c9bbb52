// SPDX-License-Identifier: GPL-2.0
/*
 * D97: ntmd's journal priorities, the Prometheus exposition writer, the
 * /metrics page, the HTTP request parser and server (on 127.0.0.1:0), the
 * event stream of the control socket, and the [metrics] configuration.
 */
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <regex>
#include <string>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

#include "control.hpp"
#include "events.hpp"
#include "logging.hpp"
#include "metrics.hpp"
#include "metrics_http.hpp"
#include "ntm/config.hpp"
#include "ntm/error.hpp"

using namespace ntmd;
using asio::awaitable;
using asio::use_awaitable;

namespace {

std::string format_with(LogTarget t, spdlog::level::level_enum lvl, std::string_view text)
{
	const auto f = make_log_formatter(t);
	const spdlog::details::log_msg msg("ntmd", lvl, spdlog::string_view_t(text.data(), text.size()));
	spdlog::memory_buf_t buf;
	f->format(msg, buf);
	return {buf.data(), buf.size()};
}

} // namespace

/* ---- logging ---- */

TEST(Logging, SyslogPriorities)
{
	EXPECT_EQ(syslog_priority(spdlog::level::critical), 2);
	EXPECT_EQ(syslog_priority(spdlog::level::err), 3);
	EXPECT_EQ(syslog_priority(spdlog::level::warn), 4);
	EXPECT_EQ(syslog_priority(spdlog::level::info), 6);
	EXPECT_EQ(syslog_priority(spdlog::level::debug), 7);
	EXPECT_EQ(syslog_priority(spdlog::level::trace), 7);
}

TEST(Logging, JournalFormatHasPriorityAndNoTimestamp)
{
	EXPECT_EQ(format_with(LogTarget::journal, spdlog::level::err, "boom"), "<3>boom\n");
	EXPECT_EQ(format_with(LogTarget::journal, spdlog::level::warn, "hm"), "<4>hm\n");
	EXPECT_EQ(format_with(LogTarget::journal, spdlog::level::info, "ready"), "<6>ready\n");
	EXPECT_EQ(format_with(LogTarget::journal, spdlog::level::debug, "d"), "<7>d\n");
	EXPECT_EQ(format_with(LogTarget::journal, spdlog::level::critical, "c"), "<2>c\n");
}

TEST(Logging, ConsoleFormatKeepsTimestampAndLevelWord)
{
	const auto line = format_with(LogTarget::console, spdlog::level::err, "boom");
	EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ntmd\[\d+\] error: boom\n)")))
		<< line;
	EXPECT_EQ(line.find('<'), std::string::npos);
}

TEST(Logging, JournalStreamMatchesDeviceAndInode)
{
	EXPECT_TRUE(journal_stream_matches("8:12345", 8, 12345));
	EXPECT_FALSE(journal_stream_matches("8:12345", 8, 12346));
	EXPECT_FALSE(journal_stream_matches("9:12345", 8, 12345));
	EXPECT_FALSE(journal_stream_matches(nullptr, 8, 12345));
	EXPECT_FALSE(journal_stream_matches("", 0, 0));
	EXPECT_FALSE(journal_stream_matches("8", 8, 0));
	EXPECT_FALSE(journal_stream_matches("8:", 8, 0));
	EXPECT_FALSE(journal_stream_matches(":1", 0, 1));
	EXPECT_FALSE(journal_stream_matches("8:1x", 8, 1));
	EXPECT_FALSE(journal_stream_matches("-8:1", 8, 1));
}

TEST(Logging, TargetsAndLevels)
{
	EXPECT_EQ(parse_log_target("auto"), LogTarget::automatic);
	EXPECT_EQ(parse_log_target("console"), LogTarget::console);
	EXPECT_EQ(parse_log_target("journal"), LogTarget::journal);
	EXPECT_THROW((void)parse_log_target("syslog"), ntm::UsageError);
	EXPECT_EQ(parse_log_level("warning"), spdlog::level::warn);
	EXPECT_THROW((void)parse_log_level("loud"), ntm::UsageError);
	/* explicit targets are never second-guessed */
	EXPECT_EQ(resolve_log_target(LogTarget::console), LogTarget::console);
	EXPECT_EQ(resolve_log_target(LogTarget::journal), LogTarget::journal);
}

/* ---- the exposition writer ---- */

TEST(Exposition, Escaping)
{
	EXPECT_EQ(Exposition::escape_label(R"(a"b\c)" "\n" "d"), R"(a\"b\\c\nd)");
	EXPECT_EQ(Exposition::escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");
	EXPECT_TRUE(Exposition::valid_name("ntm_x:y_total", false));
	EXPECT_FALSE(Exposition::valid_name("ntm_x:y", true));
	EXPECT_FALSE(Exposition::valid_name("1abc", false));
	EXPECT_FALSE(Exposition::valid_name("", false));
	EXPECT_FALSE(Exposition::valid_name("a-b", false));
}

TEST(Exposition, FamiliesAreContiguousWithHelpAndType)
{
	Exposition ex;
	ex.add("a_total", Exposition::Type::counter, "first\nline", {{"k", "v\"1"}}, std::uint64_t{1});
	ex.add("b", Exposition::Type::gauge, "gauge", {}, 2.5);
	ex.add("a_total", Exposition::Type::counter, "ignored", {{"k", "2"}, {"z", ""}}, std::uint64_t{18446744073709551615ULL});
	EXPECT_EQ(ex.str(), "# HELP a_total first\\nline\n"
			    "# TYPE a_total counter\n"
			    "a_total{k=\"v\\\"1\"} 1\n"
			    "a_total{k=\"2\",z=\"\"} 18446744073709551615\n"
			    "# HELP b gauge\n"
			    "# TYPE b gauge\n"
			    "b 2.5\n");
	EXPECT_THROW(ex.add("bad-name", Exposition::Type::gauge, "", {}, std::uint64_t{0}), std::invalid_argument);
	EXPECT_THROW(ex.add("c", Exposition::Type::gauge, "", {{"__x", "1"}}, std::uint64_t{0}), std::invalid_argument);
}

namespace {

/* every line of a page: a comment of the two kinds or a sample "name{labels} value" */
void expect_valid_page(const std::string &page)
{
	const std::regex comment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
	const std::regex sample(R"re([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+|NaN|[+-]Inf)re");
	std::size_t pos = 0;
	while (pos < page.size()) {
		const auto nl = page.find('\n', pos);
		ASSERT_NE(nl, std::string::npos) << "last line without newline";
		const std::string line = page.substr(pos, nl - pos);
		EXPECT_TRUE(std::regex_match(line, comment) || std::regex_match(line, sample)) << line;
		pos = nl + 1;
	}
}

} // namespace

TEST(Metrics, PageFromStatusAndKernel)
{
	MetricsInput in;
	in.version = "1.2.3";
	in.status = nlohmann::json::parse(R"({"ok":true,"roles":["dc","node","ike"],
		"dc":{"nodes":5,"online":3,"registrations":7,"directions":2,"directions_failed":1,"directions_relayed":0,
		      "keys_received":4,"rx_seq_errors":0,"rx":10,"tx":11,
		      "drops":{"malformed":1,"auth":2,"rate":0},
		      "relays":[{"relay":"rs1.ntm.test:7483","up":true,"sessions":3,"capacity":100,"directions":1}],
		      "limits":{"registration_key":1,"direction_key":0,"request_address":0,"unknown_key_cached":0,
		                "registry_lookups":9,"table_evictions":0}},
		"node":{"interface":"ntm0","registered":true,"nated":false,"tunnels_built":2,"rx":5,"tx":6,
		        "drops":{"replay":1},"peers":[{"fqdn":"b.ntm.test","local_index":7,"path":{"path":"direct"}},
		                                      {"fqdn":"c \"q\".ntm.test","local_index":8,"path":{"path":"relay"}}]},
		"ike":{"interface":"ipsec0","ike_sas":2,"established":1,"half_open":1,"child_sas":1,
		       "counters":{"rx":3,"tx":4,"drop_icv":1,"ike_established":1}}})");
	in.ike_list = nlohmann::json::parse(
		R"({"ok":true,"sas":[{"connection":"psk","children":[{"spi_in":"0x00001000"}]}]})");
	in.events = {{"tunnel_up", 2}};
	in.kernel.ok = true;
	DeviceSnapshot d;
	d.device.name = "ntm0";
	d.device.num_tunnels = 4;
	d.device.stats.set(NTM_STAT_A_RX_PACKETS, 100);
	d.device.stats.set(NTM_STAT_A_DROP_REPLAY, 3);
	ntm::Tunnel t;
	t.local_index = 7;
	t.stats.set(NTM_STAT_A_TX_BYTES, 1500);
	t.stats.set(NTM_STAT_A_DROP_AUTH, 2);
	d.tunnels.push_back(t);
	t.local_index = 8;
	d.tunnels.push_back(t);
	d.other_tunnels = 2;
	d.other.set(NTM_STAT_A_RX_BYTES, 77);
	in.kernel.devices.push_back(d);
	DeviceSnapshot e;
	e.device.name = "ipsec0";
	t.local_index = 0x1000;
	t.encap = NTM_ENCAP_ESP_UDP;
	e.tunnels.push_back(t);
	in.kernel.devices.push_back(e);

	const auto page = render_metrics(in);
	expect_valid_page(page);
	for (const char *want : {
		     "ntm_build_info{version=\"1.2.3\"} 1\n",
		     "ntm_role{role=\"ike\"} 1\n",
		     "ntm_dc_nodes 5\n",
		     "ntm_dc_online 3\n",
		     "ntm_dc_registrations_total 7\n",
		     "ntm_signalling_messages_total{role=\"dc\",direction=\"rx\"} 10\n",
		     "ntm_signalling_drops_total{role=\"dc\",reason=\"auth\"} 2\n",
		     "ntm_signalling_drops_total{role=\"node\",reason=\"replay\"} 1\n",
		     "ntm_dc_admission_refused_total{limit=\"registration_key\"} 1\n",
		     "ntm_dc_relay_up{relay=\"rs1.ntm.test:7483\"} 1\n",
		     "ntm_dc_relays 1\n",
		     "ntm_node_registered 1\n",
		     "ntm_node_peers 2\n",
		     "ntm_node_peers_relayed 1\n",
		     "ntm_ike_sas 2\n",
		     "ntm_ike_sas_established 1\n",
		     "ntm_ike_drops_total{reason=\"icv\"} 1\n",
		     "ntm_ike_messages_total{direction=\"tx\"} 4\n",
		     "ntm_daemon_events_total{event=\"tunnel_up\"} 2\n",
		     "ntm_kernel_up 1\n",
		     "ntm_device_rx_packets_total{dev=\"ntm0\"} 100\n",
		     "ntm_device_drops_total{dev=\"ntm0\",reason=\"replay\"} 3\n",
		     "ntm_device_tunnels{dev=\"ntm0\"} 4\n",
		     "ntm_tunnel_tx_bytes_total{dev=\"ntm0\",index=\"7\",peer=\"b.ntm.test\"} 1500\n",
		     "ntm_tunnel_drops_total{dev=\"ntm0\",index=\"8\",peer=\"c \\\"q\\\".ntm.test\"} 2\n",
		     "ntm_tunnel_rx_bytes_total{dev=\"ntm0\",index=\"other\",peer=\"other\"} 77\n",
		     "ntm_device_tunnel_series_capped{dev=\"ntm0\"} 2\n",
		     "ntm_tunnel_tx_bytes_total{dev=\"ipsec0\",index=\"0x00001000\",peer=\"ike psk\"} 1500\n",
		     "# TYPE ntm_device_drops_total counter\n",
		     "# TYPE ntm_dc_nodes gauge\n",
	     })
		EXPECT_NE(page.find(want), std::string::npos) << "missing: " << want;
	/* one HELP and one TYPE per family */
	EXPECT_EQ(page.find("# TYPE ntm_tunnel_tx_bytes_total"), page.rfind("# TYPE ntm_tunnel_tx_bytes_total"));
}

TEST(Metrics, KernelDownIsAGauge)
{
	MetricsInput in;
	in.kernel.ok = false;
	const auto page = render_metrics(in);
	EXPECT_NE(page.find("ntm_kernel_up 0\n"), std::string::npos);
	EXPECT_EQ(page.find("ntm_device_"), std::string::npos);
}

/* ---- HTTP ---- */

TEST(Http, ParsesRequests)
{
	using R = HttpRequest::Result;
	auto p = parse_http_request("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
	EXPECT_EQ(p.result, R::ok);
	EXPECT_EQ(p.method, "GET");
	EXPECT_EQ(p.target, "/metrics");
	EXPECT_EQ(parse_http_request("GET /metrics?x=1 HTTP/1.0\n\n").target, "/metrics");
	EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\nHost: x\r\n").result, R::incomplete);
	EXPECT_EQ(parse_http_request("").result, R::incomplete);
	EXPECT_EQ(parse_http_request("GET /metrics HTTP/2.0\r\n\r\n").result, R::version);
	EXPECT_EQ(parse_http_request("GET  /metrics HTTP/1.1\r\n\r\n").result, R::bad);
	EXPECT_EQ(parse_http_request("GET metrics HTTP/1.1\r\n\r\n").result, R::bad);
	EXPECT_EQ(parse_http_request("G(T /metrics HTTP/1.1\r\n\r\n").result, R::bad);
	EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\nbad header\r\n\r\n").result, R::bad);
	EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\nA: b\r\n c\r\n\r\n").result, R::bad);
	EXPECT_EQ(parse_http_request(std::string_view("GET /m\0 HTTP/1.1\r\n\r\n", 20)).result, R::bad);
	EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\nX: \x01\r\n\r\n").result, R::bad);
	EXPECT_EQ(parse_http_request(std::string(kMaxHttpHead, 'a')).result, R::too_large);
}

TEST(Http, Answers)
{
	const auto render = [] { return std::string("x 1\n"); };
	HttpRequest r;
	r.result = HttpRequest::Result::ok;
	r.method = "GET";
	r.target = "/metrics";
	EXPECT_EQ(answer_http(r, render).status, 200);
	r.method = "POST";
	EXPECT_EQ(answer_http(r, render).status, 405);
	r.target = "/";
	EXPECT_EQ(answer_http(r, render).status, 404);
	r.result = HttpRequest::Result::too_large;
	EXPECT_EQ(answer_http(r, render).status, 431);
	const auto wire = http_response({405, "no\n"});
	EXPECT_NE(wire.find("HTTP/1.1 405 Method Not Allowed\r\n"), std::string::npos);
	EXPECT_NE(wire.find("Allow: GET\r\n"), std::string::npos);
	EXPECT_NE(wire.find("Content-Length: 3\r\n"), std::string::npos);
	EXPECT_TRUE(wire.ends_with("\r\n\r\nno\n"));
}

namespace {

/* request on a fresh connection to 127.0.0.1:port; everything the server sent until it closed */
awaitable<std::string> http_get(asio::io_context &io, std::uint16_t port, std::string request)
{
	std::string reply;
	asio::ip::tcp::socket s(io);
	co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, use_awaitable);
	co_await asio::async_write(s, asio::buffer(request), use_awaitable);
	asio::error_code ec;
	std::array<char, 4096> buf{};
	for (;;) {
		const auto n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
		if (ec)
			break;
		reply.append(buf.data(), n);
	}
	co_return reply;
}

/* http_get on io, run until it is done */
std::string http_exchange(asio::io_context &io, std::uint16_t port, const std::string &request)
{
	std::string reply;
	asio::co_spawn(
		io,
		[&]() -> awaitable<void> {
			reply = co_await http_get(io, port, request);
			io.stop(); /* the server's accept loop would keep run_for() to its end */
		},
		asio::detached);
	io.restart();
	io.run_for(std::chrono::seconds(5));
	return reply;
}

} // namespace

TEST(Http, ServerScrapedOnLoopback)
{
	asio::io_context io(1);
	unsigned renders = 0;
	MetricsServer srv(io, ntm::Endpoint(ntm::IpAddress::v4(in_addr{htonl(INADDR_LOOPBACK)}), 0),
			  [&]() -> awaitable<std::string> {
				  renders++;
				  co_return std::string("# HELP up up\n# TYPE up gauge\nup 1\n");
			  });
	srv.start();
	ASSERT_NE(srv.port(), 0);
	const auto ok = http_exchange(io, srv.port(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
	EXPECT_TRUE(ok.starts_with("HTTP/1.1 200 OK\r\n")) << ok;
	EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
	EXPECT_NE(ok.find("Connection: close\r\n"), std::string::npos);
	EXPECT_TRUE(ok.ends_with("\r\n\r\n# HELP up up\n# TYPE up gauge\nup 1\n")) << ok;
	EXPECT_EQ(renders, 1U);
	EXPECT_TRUE(http_exchange(io, srv.port(), "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
	EXPECT_TRUE(http_exchange(io, srv.port(), "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
	EXPECT_TRUE(http_exchange(io, srv.port(), "nonsense\r\n\r\n").starts_with("HTTP/1.1 400 "));
	EXPECT_TRUE(http_exchange(io, srv.port(), std::string(kMaxHttpHead + 100, 'A')).starts_with("HTTP/1.1 431 "));
	EXPECT_EQ(renders, 1U);
	EXPECT_EQ(srv.scrapes(), 1U);
	EXPECT_EQ(srv.errors(), 4U);
	srv.stop();
	io.restart();
	io.run_for(std::chrono::milliseconds(200));
}

TEST(Http, AddressInUseIsANamedError)
{
	asio::io_context io(1);
	const auto loopback = ntm::IpAddress::v4(in_addr{htonl(INADDR_LOOPBACK)});
	const auto empty = []() -> awaitable<std::string> { co_return std::string(); };
	MetricsServer first(io, ntm::Endpoint(loopback, 0), empty);
	try {
		MetricsServer second(io, ntm::Endpoint(loopback, first.port()), empty);
		FAIL() << "a second listener on port " << first.port() << " was accepted";
	} catch (const ntm::Error &e) {
		EXPECT_NE(std::string(e.what()).find("metrics: listen on 127.0.0.1:"), std::string::npos) << e.what();
	}
}

/*
 * D112: the kernel read runs on the worker, not on the loop.  The read is
 * held (a future) until the loop has answered another client, which a
 * read on the loop could never let happen: the test would then fail at
 * the future's bound, not hang.  Two scrapes during one read share it.
 */
TEST(Http, KernelReadLeavesTheLoopFree)
{
	asio::io_context io(1);
	std::promise<void> release;
	std::shared_future<void> released = release.get_future().share();
	std::atomic<unsigned> calls{0};
	std::atomic<bool> timed_out{false};
	KernelReader reader(io, [&] {
		calls++;
		if (released.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
			timed_out = true;
		KernelSnapshot s;
		s.ok = true;
		s.error = "read " + std::to_string(calls.load());
		return s;
	});
	std::uint16_t port = 0;
	std::string first;
	std::string second;
	std::string other;
	unsigned done = 0;
	const auto get = [&](std::string *out, std::string request) -> awaitable<void> {
		*out = co_await http_get(io, port, std::move(request));
		if (out == &other)
			release.set_value(); /* the loop answered while the read was held */
		if (++done == 3)
			io.stop();
	};
	unsigned entered = 0;
	MetricsServer srv(io, ntm::Endpoint(ntm::IpAddress::v4(in_addr{htonl(INADDR_LOOPBACK)}), 0),
			  [&]() -> awaitable<std::string> {
				  /* both scrapes are in: now a client the loop must answer meanwhile */
				  if (++entered == 2)
					  asio::co_spawn(io, get(&other, "GET /other HTTP/1.1\r\n\r\n"), asio::detached);
				  const KernelSnapshot s = co_await reader.read();
				  co_return s.error + "\n";
			  });
	srv.start();
	port = srv.port();
	asio::co_spawn(io, get(&first, "GET /metrics HTTP/1.1\r\n\r\n"), asio::detached);
	asio::co_spawn(io, get(&second, "GET /metrics HTTP/1.1\r\n\r\n"), asio::detached);
	io.run_for(std::chrono::seconds(20));
	EXPECT_FALSE(timed_out.load()) << "the loop did not run while the kernel read was held";
	EXPECT_TRUE(other.starts_with("HTTP/1.1 404 ")) << other;
	EXPECT_TRUE(first.ends_with("\r\n\r\nread 1\n")) << first;
	EXPECT_TRUE(second.ends_with("\r\n\r\nread 1\n")) << second;
	EXPECT_EQ(calls.load(), 1U);
	EXPECT_EQ(reader.reads(), 1U);
	EXPECT_EQ(srv.scrapes(), 2U);
	/* a later scrape reads again */
	std::string third;
	done = 2;
	io.restart();
	asio::co_spawn(io, get(&third, "GET /metrics HTTP/1.1\r\n\r\n"), asio::detached);
	io.run_for(std::chrono::seconds(20));
	EXPECT_TRUE(third.ends_with("\r\n\r\nread 2\n")) << third;
	EXPECT_EQ(reader.reads(), 2U);
	srv.stop();
	io.restart();
	io.run_for(std::chrono::milliseconds(200));
}

/* ---- daemon events over the control socket ---- */

TEST(Events, NoBusNoEffect)
{
	ASSERT_EQ(EventBus::current(), nullptr);
	emit_event("node", "registered", {{"fqdn", "a"}}); /* must not crash */
}

TEST(Events, SubscribersGetJsonLines)
{
	asio::io_context io(1);
	EventBus bus;
	const auto dir = std::filesystem::temp_directory_path() / ("ntm-events-" + std::to_string(::getpid()));
	const auto path = (dir / "ctl.sock").string();
	ControlServer ctl(io, path, [](const nlohmann::json &) { return nlohmann::json{{"ok", true}}; }, &bus);
	ctl.start();
	std::vector<std::string> lines;
	asio::co_spawn(
		io,
		[&]() -> awaitable<void> {
			asio::local::stream_protocol::socket s(io);
			co_await s.async_connect(asio::local::stream_protocol::endpoint(path), use_awaitable);
			const std::string req = "{\"cmd\":\"subscribe\"}\n";
			co_await asio::async_write(s, asio::buffer(req), use_awaitable);
			asio::streambuf buf;
			for (int i = 0; i < 3; i++) {
				const auto n = co_await asio::async_read_until(s, buf, '\n', use_awaitable);
				std::string line(asio::buffers_begin(buf.data()),
						 asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n) - 1);
				buf.consume(n);
				lines.push_back(line);
				if (i == 0) {
					EXPECT_EQ(bus.subscribers(), 1U);
					emit_event("node", "tunnel_up", {{"peer", "b.ntm.test"}, {"local_index", 7}, {"role", "not me"}});
					emit_event("dc", "node_registered", {{"fqdn", "a.ntm.test"}});
				}
			}
			io.stop();
		},
		asio::detached);
	io.run_for(std::chrono::seconds(5));
	ASSERT_EQ(lines.size(), 3U);
	EXPECT_EQ(nlohmann::json::parse(lines[0]), (nlohmann::json{{"ok", true}, {"subscribed", true}}));
	const auto ev = nlohmann::json::parse(lines[1]);
	EXPECT_EQ(ev["event"], "tunnel_up");
	EXPECT_EQ(ev["role"], "node");
	EXPECT_EQ(ev["peer"], "b.ntm.test");
	EXPECT_EQ(ev["local_index"], 7);
	EXPECT_TRUE(ev["time_ms"].is_number_integer());
	EXPECT_EQ(nlohmann::json::parse(lines[2])["event"], "node_registered");
	EXPECT_EQ(bus.counts().at("tunnel_up"), 1U);
	/* the client went away: the subscription with it */
	io.restart();
	/* polled, not a fixed 300 ms: a loaded host may not run the loop in that time */
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (bus.subscribers() != 0U && std::chrono::steady_clock::now() < deadline)
		io.run_for(std::chrono::milliseconds(10));
	EXPECT_EQ(bus.subscribers(), 0U);
	ctl.stop();
	io.restart();
	io.run_for(std::chrono::milliseconds(100));
	std::filesystem::remove_all(dir);
}

/* ---- [metrics] and log_target in ntmd.toml ---- */

namespace {

constexpr std::string_view kRs = R"(roles = ["rs"]
[tls]
ca = "/etc/ntm/ca.pem"
certificate = "/etc/ntm/rs.pem"
private_key = "/etc/ntm/rs.key"
[rs]
addresses = ["198.51.100.5"]
trusted_dc = ["dc.ntm.test"]
)";

ntm::config::Config parse_text(const std::string &text)
{
	return ntm::config::parse(text, "t.toml", "nameserver 192.0.2.53\n");
}

std::string error_of(const std::string &text)
{
	try {
		(void)parse_text(text);
	} catch (const ntm::config::ConfigError &e) {
		return e.what();
	}
	return "";
}

} // namespace

TEST(MetricsConfig, OffByDefault)
{
	const auto c = parse_text(std::string(kRs));
	EXPECT_FALSE(c.metrics.listen);
	EXPECT_EQ(c.log_target, "auto");
}

TEST(MetricsConfig, LoopbackAndDefaults)
{
	auto c = parse_text(std::string(kRs) + "[metrics]\nlisten = \"127.0.0.1\"\n");
	ASSERT_TRUE(c.metrics.listen);
	EXPECT_EQ(c.metrics.listen->to_string(), "127.0.0.1:9477");
	EXPECT_EQ(c.metrics.max_tunnel_series, 1000U);
	c = parse_text(std::string(kRs) + "[metrics]\nlisten = \"[::1]:9100\"\nmax_tunnel_series = 10\n");
	EXPECT_EQ(c.metrics.listen->to_string(), "[::1]:9100");
	EXPECT_EQ(c.metrics.max_tunnel_series, 10U);
}

TEST(MetricsConfig, RemoteNeedsAllowRemote)
{
	EXPECT_NE(error_of(std::string(kRs) + "[metrics]\nlisten = \"0.0.0.0:9477\"\n").find("t.toml:10: metrics.listen"),
		  std::string::npos);
	EXPECT_NE(error_of(std::string(kRs) + "[metrics]\nlisten = \"192.0.2.1\"\n").find("allow_remote"),
		  std::string::npos);
	const auto c = parse_text(std::string(kRs) + "[metrics]\nlisten = \"0.0.0.0:9477\"\nallow_remote = true\n");
	EXPECT_EQ(c.metrics.listen->to_string(), "0.0.0.0:9477");
}

TEST(MetricsConfig, Errors)
{
	EXPECT_NE(error_of(std::string(kRs) + "[metrics]\nallow_remote = true\n").find("metrics.listen: required key"),
		  std::string::npos);
	EXPECT_NE(error_of(std::string(kRs) + "[metrics]\nlisten = \"localhost:1\"\n").find("literal IP"),
		  std::string::npos);
	EXPECT_NE(error_of(std::string(kRs) + "[metrics]\nlisten = \"127.0.0.1\"\nlisen = 1\n").find("did you mean listen"),
		  std::string::npos);
	EXPECT_NE(error_of("log_target = \"syslog\"\n" + std::string(kRs)).find("log_target"), std::string::npos);
	EXPECT_EQ(parse_text("log_target = \"journal\"\n" + std::string(kRs)).log_target, "journal");
}
