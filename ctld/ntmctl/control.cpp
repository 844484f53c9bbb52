// SPDX-License-Identifier: GPL-2.0
/* ntmctl status, ike and show's peer names: requests to ntmd's control socket. */
#include "control.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ntm/handle.hpp"
#include "ntm/ops.hpp"
#include "output.hpp"

namespace ntmctl {

namespace {

using ntm::DeviceRef;

/* ---- status ---- */

constexpr std::size_t kMaxReply = 16 << 20;
constexpr int kReplyTimeoutMs = 10000;

std::string control_socket(const StatusCmd &c, const std::optional<std::string> &cfg_path)
{
	if (c.socket)
		return *c.socket;
	const auto cfg = load_config(cfg_path);
	return cfg ? cfg->control_socket : ntm::config::Config{}.control_socket;
}

/* One request line to ntmd's control socket, one reply line back. */
std::string control_request(const std::string &path, std::string_view request)
{
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	if (path.size() >= sizeof(sa.sun_path))
		throw ntm::UsageError("control socket path too long: " + path);
	std::memcpy(static_cast<char *>(sa.sun_path), path.data(), path.size());
	const ntm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		ntm::throw_errno("control socket");
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0) {
		const int err = errno;
		if (err == EACCES || err == EPERM)
			throw ntm::Error("permission denied on " + path + " (are you in the ntm group / root?)", err);
		throw ntm::Error("ntmd is not running (connect " + path + ": " + ntm::errno_string(err) + ")", err);
	}
	std::size_t sent = 0;
	while (sent < request.size()) {
		const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ntm::throw_errno("control socket " + path + ": send");
		}
		sent += static_cast<std::size_t>(n);
	}
	std::string reply;
	std::array<char, 4096> buf{};
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
	for (;;) {
		const auto nl = reply.find('\n');
		if (nl != std::string::npos) {
			reply.resize(nl);
			return reply;
		}
		const auto left =
			std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
				.count();
		if (left <= 0)
			throw ntm::Error("control socket " + path + ": no reply from ntmd", ETIMEDOUT);
		pollfd pfd{fd.get(), POLLIN, 0};
		const int rc = ::poll(&pfd, 1, static_cast<int>(left));
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			ntm::throw_errno("control socket " + path + ": poll");
		}
		if (rc == 0)
			continue;
		const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ntm::throw_errno("control socket " + path + ": receive");
		}
		if (n == 0) {
			if (reply.empty())
				throw ntm::Error("control socket " + path + ": ntmd closed the connection", ECONNRESET);
			return reply; /* a last line without newline */
		}
		reply.append(buf.data(), static_cast<std::size_t>(n));
		if (reply.size() > kMaxReply)
			throw ntm::Error("control socket " + path + ": reply too large", EMSGSIZE);
	}
}

/* One request, its reply parsed; {"ok":false} becomes ntm::Error with ntmd's message. */
nlohmann::ordered_json control_call(const std::string &path, const nlohmann::json &request, std::string &line)
{
	line = control_request(path, request.dump() + "\n");
	auto reply = nlohmann::ordered_json::parse(line, nullptr, false);
	if (reply.is_discarded())
		throw ntm::Error("control socket " + path + ": ntmd sent a reply that is not JSON", EPROTO);
	if (reply.is_object()) {
		const auto ok = reply.find("ok");
		if (ok != reply.end() && ok->is_boolean() && !ok->get<bool>()) {
			const auto err = reply.find("error");
			const std::string msg = err != reply.end() && err->is_string() ? err->get<std::string>()
										       : std::string("request failed");
			throw ntm::Error("ntmd: " + msg);
		}
	}
	return reply;
}

std::string jstr(const nlohmann::ordered_json &j, const char *k)
{
	const auto it = j.find(k);
	return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string jlist(const nlohmann::ordered_json &j, const char *k)
{
	std::string out;
	const auto it = j.find(k);
	if (it == j.end() || !it->is_array())
		return out;
	for (const auto &v : *it)
		if (v.is_string())
			out += (out.empty() ? "" : ",") + v.get<std::string>();
	return out;
}

std::uint64_t jnum(const nlohmann::ordered_json &j, const char *k)
{
	const auto it = j.find(k);
	return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

void print_ike_sas(std::FILE *out, const nlohmann::ordered_json &reply)
{
	const auto sas = reply.find("sas");
	if (sas == reply.end() || !sas->is_array() || sas->empty()) {
		fmt::print(out, "no IKE SAs\n");
		return;
	}
	for (const auto &sa : *sas) {
		const bool init = sa.value("initiator", false);
		fmt::print(out, "{}[#{}]: {}, {} initiated, {} === {}\n", jstr(sa, "connection"), jnum(sa, "id"),
			   jstr(sa, "state"), init ? "we" : "peer", jstr(sa, "local").empty() ? "%any" : jstr(sa, "local"),
			   jstr(sa, "remote"));
		fmt::print(out, "  identities: {} === {}\n", jstr(sa, "local_id"), jstr(sa, "remote_id"));
		std::string flags;
		if (sa.value("nat_local", false))
			flags += ", we are behind a NAT";
		if (sa.value("mobike", false))
			flags += ", MOBIKE";
		if (!jstr(sa, "encr").empty())
			fmt::print(out, "  IKE: {}, SPIs {}_i {}_r, established {} s ago{}\n", jstr(sa, "encr"), jstr(sa, "spi_i"),
				   jstr(sa, "spi_r"), jnum(sa, "established_s"), flags);
		const auto ch = sa.find("children");
		if (ch == sa.end() || !ch->is_array())
			continue;
		for (const auto &c : *ch) {
			fmt::print(out, "  CHILD #{}: {}, SPIs {}_i {}_o, {}, {} === {}, age {} s\n", jnum(c, "id"), jstr(c, "state"),
				   jstr(c, "spi_in"), jstr(c, "spi_out"), jstr(c, "encr"), jlist(c, "local_ts"),
				   jlist(c, "remote_ts"), jnum(c, "age_s"));
			if (c.contains("rx_packets"))
				fmt::print(out, "    in {} B ({} packets), out {} B ({} packets), {} drops\n", jnum(c, "rx_bytes"),
					   jnum(c, "rx_packets"), jnum(c, "tx_bytes"), jnum(c, "tx_packets"), jnum(c, "drops"));
		}
	}
}

/*
 * Who each tunnel leads to, by local index, from a running ntmd: the node
 * role's peers (FQDN) and the ike role's CHILD SAs (connection name, by
 * inbound SPI). Empty when no daemon answers: show works without one.
 */
} // namespace

std::map<std::uint32_t, std::string> tunnel_peers(const std::optional<std::string> &cfg_path) noexcept
{
	std::map<std::uint32_t, std::string> out;
	try {
		const std::string path = control_socket(StatusCmd{}, cfg_path);
		struct stat st{};
		if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
			return out;
		std::string line;
		const auto status = control_call(path, {{"cmd", "status"}}, line);
		if (const auto node = status.find("node"); node != status.end() && node->is_object())
			if (const auto ps = node->find("peers"); ps != node->end() && ps->is_array())
				for (const auto &p : *ps)
					if (p.contains("local_index") && p["local_index"].is_number_unsigned())
						out[p["local_index"].get<std::uint32_t>()] = jstr(p, "fqdn");
		if (status.contains("ike")) {
			const auto list = control_call(path, {{"cmd", "ike-list"}}, line);
			if (const auto sas = list.find("sas"); sas != list.end() && sas->is_array())
				for (const auto &sa : *sas)
					if (const auto ch = sa.find("children"); ch != sa.end() && ch->is_array())
						for (const auto &child : *ch) {
							const auto spi = jstr(child, "spi_in");
							if (!spi.empty())
								out[static_cast<std::uint32_t>(std::stoul(spi, nullptr, 16))] =
									"ike " + jstr(sa, "connection");
						}
		}
	} catch (...) {
		out.clear();
	}
	return out;
}

namespace {

constexpr auto kIkePoll = std::chrono::milliseconds(250);

/*
 * ike initiate without --no-wait: polls ike-list until IKE SA #id is
 * established (0), gone (1: it failed, ntmd logged why) or --timeout passed
 * (1). A progress line on standard error when that is a terminal.
 */
int wait_ike_up(Context &ctx, const IkeCmd &c, const std::string &path, std::uint64_t id, bool as_json)
{
	const bool tty = ::isatty(::fileno(ctx.err())) != 0;
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(c.timeout_s);
	std::string state = "initiated";
	for (;;) {
		if (tty)
			fmt::print(ctx.err(), "\r\033[Kinitiating {} (IKE SA #{}): {}", c.name, id, state);
		std::string line;
		const auto list = control_call(path, {{"cmd", "ike-list"}}, line);
		const nlohmann::ordered_json *sa = nullptr;
		if (const auto sas = list.find("sas"); sas != list.end() && sas->is_array())
			for (const auto &s : *sas)
				if (jnum(s, "id") == id)
					sa = &s;
		if (sa == nullptr) {
			if (tty)
				fmt::print(ctx.err(), "\n");
			/* ntmd remembers why its latest SAs failed (D93); an older ntmd does not */
			if (const auto f = list.find("failed"); f != list.end() && f->is_array())
				for (const auto &e : *f)
					if (jnum(e, "id") == id)
						throw ntm::Error(fmt::format("{}: IKE SA #{} failed: {}", c.name, id,
									     jstr(e, "error")));
			throw ntm::Error(fmt::format("{}: IKE SA #{} failed (last state: {}); ntmd's log says why", c.name,
						     id, state));
		}
		state = jstr(*sa, "state");
		if (state == "established" || state == "rekeyed") {
			if (tty)
				fmt::print(ctx.err(), "\r\033[K");
			const auto ch = sa->find("children");
			const std::size_t children = ch != sa->end() && ch->is_array() ? ch->size() : 0;
			if (as_json)
				fmt::print(ctx.out(), "{}\n", sa->dump());
			else
				fmt::print(ctx.out(), "{}: IKE SA #{} established with {} ({} CHILD SA{})\n", c.name, id,
					   jstr(*sa, "remote"), children, children == 1 ? "" : "s");
			return kExitOk;
		}
		if (std::chrono::steady_clock::now() >= deadline) {
			if (tty)
				fmt::print(ctx.err(), "\n");
			throw ntm::Error(fmt::format("{}: IKE SA #{} not up after {} s (state: {}); ntmd keeps trying, "
						     "see ntmctl ike list",
						     c.name, id, c.timeout_s, state));
		}
		std::this_thread::sleep_for(kIkePoll);
	}
}

} // namespace

int cmd_ike(Context &ctx, const IkeCmd &c, const std::optional<std::string> &cfg_path, bool as_json)
{
	const std::string path = control_socket(StatusCmd{c.socket}, cfg_path);
	nlohmann::json req;
	switch (c.action) {
	case IkeCmd::Action::list:
		req = {{"cmd", "ike-list"}};
		break;
	case IkeCmd::Action::initiate:
		req = {{"cmd", "ike-initiate"}, {"name", c.name}};
		break;
	case IkeCmd::Action::terminate:
		req = {{"cmd", "ike-terminate"}, {"name", c.name}};
		break;
	case IkeCmd::Action::rekey:
		req = {{"cmd", "ike-rekey"}, {"name", c.name}, {"child", c.child}};
		break;
	}
	std::string line;
	const auto reply = control_call(path, req, line);
	if (c.action == IkeCmd::Action::initiate && c.wait)
		return wait_ike_up(ctx, c, path, jnum(reply, "id"), as_json);
	if (as_json) {
		fmt::print(ctx.out(), "{}\n", line);
		return kExitOk;
	}
	if (c.action == IkeCmd::Action::list)
		print_ike_sas(ctx.out(), reply);
	else if (c.action == IkeCmd::Action::initiate)
		fmt::print(ctx.out(), "initiating {} (IKE SA #{})\n", c.name, jnum(reply, "id"));
	else if (c.action == IkeCmd::Action::rekey)
		fmt::print(ctx.out(), "rekeying {} {} SA(s) of {}\n", jnum(reply, "rekeying"), c.child ? "CHILD" : "IKE",
			   c.name);
	else
		fmt::print(ctx.out(), "deleting {} IKE SA(s) of {}\n", jnum(reply, "terminated"), c.name);
	return kExitOk;
}

int cmd_status(Context &ctx, const StatusCmd &c, const std::optional<std::string> &cfg_path, bool as_json)
{
	std::string line;
	const auto reply = control_call(control_socket(c, cfg_path), {{"cmd", "status"}}, line);
	if (as_json) {
		fmt::print(ctx.out(), "{}\n", line);
		return kExitOk;
	}
	auto shown = reply;
	if (shown.is_object())
		shown.erase("ok");
	const auto node = shown.is_object() ? shown.find("node") : shown.end();
	if (node != shown.end() && node->is_object()) {
		/* the peer table first (tailscale status style), transfer from the kernel when it lets us */
		std::map<std::uint32_t, Traffic> traffic;
		const std::string iface = jstr(*node, "interface");
		if (!iface.empty()) {
			try {
				ntm::dump_tunnels(ctx.genl(), DeviceRef::by_name(iface), [&](ntm::Tunnel &&t) {
					traffic[t.local_index] = {t.stats.get(NTM_STAT_A_RX_BYTES),
								  t.stats.get(NTM_STAT_A_TX_BYTES)};
				});
			} catch (const std::exception &) {
				/* not root, or no module: the table says "-" */
			}
		}
		print_table(ctx.out(), peer_table(*node, traffic));
		fmt::print(ctx.out(), "\n");
	}
	print_json_text(ctx.out(), shown);
	return kExitOk;
}

} // namespace ntmctl
