// SPDX-License-Identifier: GPL-2.0
#include "commands.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ntm/codec.hpp"
#include "ntm/config.hpp"
#include "ntm/format.hpp"
#include "ntm/handle.hpp"
#include "ntm/json.hpp"
#include "ntm/json_stream.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "ntm/secret.hpp"
#include "ntm/store.hpp"
#include "ntm/tokenize.hpp"
#include "control.hpp"
#include "dbowner.hpp"
#include "monitor.hpp"
#include "output.hpp"

namespace ntmctl {

namespace {

using nlohmann::json;
using ntm::DeviceRef;

/* ---- show ---- */

int cmd_show(Context &ctx, const ShowCmd &c, bool as_json, const std::optional<std::string> &cfg_path)
{
	const auto peers = tunnel_peers(cfg_path);
	auto peer_of = [&peers](std::uint32_t local_index) {
		const auto it = peers.find(local_index);
		return it != peers.end() ? it->second : std::string();
	};
	std::vector<DeviceRef> refs;
	if (c.dev) {
		refs.push_back(DeviceRef::by_name(*c.dev));
	} else {
		for (const auto &l : ntm::list_links_of_kind(NTM_LINK_KIND))
			refs.push_back(DeviceRef::by_index(l.ifindex));
	}

	std::FILE *out = ctx.out();
	if (as_json)
		fmt::print(out, "[");
	bool first_dev = true;
	for (const auto &ref : refs) {
		ntm::Device d;
		try {
			d = ntm::get_device(ctx.genl(), ref);
		} catch (const ntm::KernelError &e) {
			/* a device that went away since the link listing */
			if (!c.dev && e.code() == ENODEV)
				continue;
			throw;
		}
		const auto now = boottime_ns();
		const auto dev_ref = DeviceRef::by_index(d.ifindex);
		if (as_json) {
			std::string obj = ntm::json_dump(json(d));
			obj.pop_back(); /* reopen the object to stream "tunnels" */
			fmt::print(out, "{}{},\"tunnels\":[", first_dev ? "" : ",", obj);
			bool first = true;
			DumpWriter w(out);
			ntm::dump_tunnels(ctx.genl(), dev_ref, [&](ntm::Tunnel &&t) {
				if (!first)
					w.buf().push_back(',');
				ntm::append_json(w.buf(), t, peer_of(t.local_index));
				first = false;
				w.commit();
			});
			w.flush();
			fmt::print(out, "]}}");
		} else {
			if (!first_dev)
				fmt::print(out, "\n");
			print_device(out, d);
			ntm::dump_tunnels(ctx.genl(), dev_ref,
					  [&](ntm::Tunnel &&t) { print_tunnel(out, t, now, peer_of(t.local_index)); });
		}
		first_dev = false;
	}
	if (as_json)
		fmt::print(out, "]\n");
	return kExitOk;
}

int cmd_device_show(Context &ctx, const DeviceShowCmd &c, bool as_json)
{
	const auto d = ntm::get_device(ctx.genl(), DeviceRef::by_name(c.dev));
	if (as_json)
		fmt::print(ctx.out(), "{}\n", ntm::json_dump(json(d)));
	else
		print_device(ctx.out(), d);
	return kExitOk;
}

int cmd_device_set(Context &ctx, const DeviceSetCmd &c)
{
	const auto ref = DeviceRef::by_name(c.dev);
	ntm::DeviceSettings s;
	s.fwmark = c.fwmark;
	s.acquire_qlen = c.acquire_qlen;
	s.max_relays = c.max_relays;
	s.max_tunnels = c.max_tunnels;
	if (c.roaming || c.acquire) {
		/* NTM_A_FLAGS replaces the whole word: change only our bits */
		std::uint32_t flags = ntm::get_device(ctx.genl(), ref).flags;
		if (c.roaming)
			flags = ntm::with_flag(flags, NTM_DEV_F_NO_ROAMING, !*c.roaming);
		if (c.acquire)
			flags = ntm::with_flag(flags, NTM_DEV_F_NO_ACQUIRE, !*c.acquire);
		s.flags = flags;
	}
	ntm::set_device(ctx.genl(), ref, s);
	return kExitOk;
}

/* ---- tunnel ---- */

int cmd_tunnel_add(Context &ctx, const TunnelAddCmd &c)
{
	ntm::new_tunnel(ctx.genl(), DeviceRef::by_name(c.dev), c.tunnel);
	return kExitOk;
}

int cmd_tunnel_set(Context &ctx, const TunnelSetCmd &c)
{
	const auto ref = DeviceRef::by_name(c.dev);
	ntm::TunnelSettings s = c.tunnel;
	if (c.roaming) {
		std::uint32_t flags = ntm::get_tunnel(ctx.genl(), ref, s.local_index).flags;
		flags = ntm::with_flag(flags, NTM_TUNNEL_F_NO_ROAMING, !*c.roaming);
		s.flags = flags;
	}
	ntm::set_tunnel(ctx.genl(), ref, s);
	return kExitOk;
}

int cmd_tunnel_show(Context &ctx, const TunnelShowCmd &c, bool as_json)
{
	const auto ref = DeviceRef::by_name(c.dev);
	const auto now = boottime_ns();
	/* no document and no stdio call per tunnel: 100k tunnels in the VM in < 2 s */
	DumpWriter w(ctx.out());
	auto &buf = w.buf();
	bool first = true;
	auto emit = [&](const ntm::Tunnel &t) {
		if (as_json) {
			if (!first)
				buf.append(std::string_view(",\n"));
			ntm::append_json(buf, t);
		} else {
			format_tunnel_row(buf, t, now);
		}
		first = false;
		w.commit();
	};
	auto start = [&] {
		if (as_json)
			buf.push_back('[');
		else
			print_tunnel_header(ctx.out());
	};

	if (c.local_index) {
		const auto t = ntm::get_tunnel(ctx.genl(), ref, *c.local_index);
		start();
		emit(t);
	} else {
		/* stream: 100k tunnels never sit in memory at once */
		bool started = false;
		/* errors before the first tunnel leave stdout untouched; printing
		 * overlaps the kernel's work on the next messages */
		ntm::dump_tunnels_overlapped(ctx.genl(), ref, [&](ntm::Tunnel &&t) {
			if (!started)
				start();
			started = true;
			emit(t);
		});
		if (!started)
			start();
	}
	if (as_json)
		buf.append(std::string_view("]\n"));
	return kExitOk;
}

/* ---- relay ---- */

int cmd_relay_show(Context &ctx, const RelayShowCmd &c, bool as_json)
{
	const auto ref = DeviceRef::by_name(c.dev);
	std::FILE *out = ctx.out();
	bool first = true;
	bool started = false;
	auto start = [&] {
		if (started)
			return;
		started = true;
		if (as_json)
			fmt::print(out, "[");
		else
			print_relay_header(out);
	};
	auto emit = [&](const ntm::Relay &r) {
		start();
		if (as_json)
			fmt::print(out, "{}{}", first ? "" : ",\n", ntm::json_dump(json(r)));
		else
			print_relay_row(out, r);
		first = false;
	};
	if (c.id) {
		emit(ntm::get_relay(ctx.genl(), ref, *c.id));
	} else {
		/* streamed like tunnel show: errors before the first leave stdout untouched */
		ntm::dump_relays(ctx.genl(), ref, [&](ntm::Relay &&r) { emit(r); });
		start();
	}
	if (as_json)
		fmt::print(out, "]\n");
	return kExitOk;
}

/* ---- configuration and databases ---- */

/*
 * The configuration: the file of --config (which must load), or the
 * default one when it exists; nullopt when there is none to read.
 */
} // namespace

std::optional<ntm::config::Config> load_config(const std::optional<std::string> &path)
{
	if (!path) {
		struct stat st {};
		if (::stat(kDefaultConfig, &st) != 0 && errno == ENOENT)
			return std::nullopt;
		return ntm::config::load(kDefaultConfig);
	}
	return ntm::config::load(*path);
}

namespace {

std::string config_name(const std::optional<std::string> &path)
{
	return path ? *path : std::string(kDefaultConfig);
}

std::string account_db(const DbRef &db, const std::optional<ntm::config::Config> &cfg,
		       const std::optional<std::string> &cfg_path)
{
	if (db.path)
		return *db.path;
	if (!cfg)
		throw ntm::Error(config_name(cfg_path) + ": no such file; give --db or --config");
	if (!cfg->as)
		throw ntm::Error(config_name(cfg_path) + ": no [as] section (the AS role); give --db");
	return cfg->as->database;
}

std::string registry_db(const DbRef &db, const std::optional<std::string> &cfg_path)
{
	if (db.path)
		return *db.path;
	const auto cfg = load_config(cfg_path);
	if (!cfg)
		throw ntm::Error(config_name(cfg_path) + ": no such file; give --db or --config");
	if (!cfg->dc)
		throw ntm::Error(config_name(cfg_path) + ": no [dc] section (the DC role); give --db");
	return cfg->dc->database;
}

/* ---- passwords ---- */

constexpr std::size_t kMaxPassword = 4096;

ntm::SecretText read_password_file(const std::string &path)
{
	return ntm::read_password_file(path, kMaxPassword - 2);
}

/* Restores the terminal's echo when it was turned off for a password. */
class EchoOff {
public:
	explicit EchoOff(int fd) : fd_(fd)
	{
		if (::isatty(fd) == 0 || ::tcgetattr(fd, &saved_) != 0)
			return;
		termios t = saved_;
		t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
		active_ = ::tcsetattr(fd, TCSAFLUSH, &t) == 0;
	}
	EchoOff(const EchoOff &) = delete;
	EchoOff &operator=(const EchoOff &) = delete;
	EchoOff(EchoOff &&) = delete;
	EchoOff &operator=(EchoOff &&) = delete;
	~EchoOff()
	{
		if (active_)
			(void)::tcsetattr(fd_, TCSAFLUSH, &saved_);
	}
	[[nodiscard]] bool active() const noexcept { return active_; }

private:
	int fd_;
	termios saved_{};
	bool active_ = false;
};

/* One line from standard input, read byte by byte so nothing after it is consumed. */
ntm::SecretText read_password_stdin(Context &ctx)
{
	const bool tty = ::isatty(STDIN_FILENO) != 0;
	if (tty) {
		fmt::print(ctx.err(), "Password: ");
		(void)std::fflush(ctx.err());
	}
	const EchoOff echo(STDIN_FILENO);
	ntm::SecretText pw;
	pw.reserve(kMaxPassword);
	for (;;) {
		char c = 0;
		const ssize_t n = ::read(STDIN_FILENO, &c, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ntm::throw_errno("password from standard input");
		}
		if (n == 0 || c == '\n')
			break;
		if (pw.size() >= kMaxPassword - 2)
			throw ntm::UsageError("password from standard input: too long");
		pw.push_back(c);
	}
	if (!pw.empty() && pw.back() == '\r')
		pw.pop_back();
	if (tty)
		fmt::print(ctx.err(), "\n");
	return pw;
}

/* ---- account ---- */

int cmd_account_add(Context &ctx, const AccountAddCmd &c, const std::optional<std::string> &cfg_path)
{
	/* the configuration only when it is needed: for the path, or for the KDF when it exists */
	std::optional<ntm::config::Config> cfg;
	if (!c.db.path || !c.kdf_cost || cfg_path)
		cfg = load_config(cfg_path);
	const std::string path = account_db(c.db, cfg, cfg_path);
	ntm::config::Scrypt kdf;
	if (cfg && cfg->as)
		kdf = cfg->as->kdf;
	if (c.kdf_cost)
		kdf.n_log2 = *c.kdf_cost;

	ntm::SecretText pw;
	if (c.password_file)
		pw = read_password_file(*c.password_file);
	else if (c.password_stdin)
		pw = read_password_stdin(ctx);
	if ((c.password_file || c.password_stdin) && pw.empty())
		throw ntm::UsageError("account add: the password is empty");

	const AsDbOwner owner(path); /* root: the files as ntmd's, D98 */
	ntm::store::AccountStore store(path, true);
	ntm::store::Account a;
	a.name = c.name;
	a.fqdn = c.fqdn;
	a.password = !pw.empty();
	a.certificate = c.certificate;
	store.add(a, std::string_view(pw.data(), pw.size()), kdf);
	return kExitOk;
}

int cmd_account_del(const AccountDelCmd &c, const std::optional<std::string> &cfg_path)
{
	const std::string path = account_db(c.db, c.db.path ? std::nullopt : load_config(cfg_path), cfg_path);
	const AsDbOwner owner(path);
	ntm::store::AccountStore store(path, false);
	if (!store.remove(c.name))
		throw ntm::Error("account " + c.name + " does not exist", ENOENT);
	return kExitOk;
}

std::string auth_modes(const ntm::store::Account &a)
{
	if (a.password && a.certificate)
		return "password,certificate";
	if (a.password)
		return "password";
	if (a.certificate)
		return "certificate";
	return "none";
}

json time_json(std::int64_t t)
{
	return t == 0 ? json(nullptr) : json(t);
}

int cmd_account_list(Context &ctx, const AccountListCmd &c, const std::optional<std::string> &cfg_path, bool as_json)
{
	const std::string path = account_db(c.db, c.db.path ? std::nullopt : load_config(cfg_path), cfg_path);
	const AsDbOwner owner(path);
	ntm::store::AccountStore store(path, false);
	const auto accounts = store.list();
	if (as_json) {
		json arr = json::array();
		for (const auto &a : accounts)
			arr.push_back({{"name", a.name},
				       {"fqdn", a.fqdn},
				       {"password", a.password},
				       {"certificate", a.certificate},
				       {"created", a.created},
				       {"last_login", time_json(a.last_login)}});
		fmt::print(ctx.out(), "{}\n", ntm::json_dump(arr));
		return kExitOk;
	}
	std::vector<std::vector<std::string>> rows{{"NAME", "FQDN", "AUTH", "CREATED", "LAST-LOGIN"}};
	for (const auto &a : accounts)
		rows.push_back({a.name, a.fqdn, auth_modes(a), format_time(a.created), format_time(a.last_login)});
	print_table(ctx.out(), rows);
	return kExitOk;
}

/* ---- dc ---- */

json opt_json(const std::optional<ntm::IpAddress> &a)
{
	return a ? json(*a) : json(nullptr);
}

std::string opt_text(const std::optional<ntm::IpAddress> &a)
{
	return a ? a->to_string() : "-";
}

int cmd_dc_nodes(Context &ctx, const DcNodesCmd &c, const std::optional<std::string> &cfg_path, bool as_json)
{
	const std::string path = registry_db(c.db, cfg_path);
	const AsDbOwner owner(path);
	ntm::store::Registry reg(path, std::nullopt, std::nullopt, false);
	const auto nodes = reg.list();
	if (as_json) {
		json arr = json::array();
		for (const auto &n : nodes) {
			json eps = json::array();
			for (const auto &e : n.local_eps)
				eps.push_back(e);
			json ciphers = json::array();
			for (const auto ci : n.ciphers)
				ciphers.push_back(ntm::cipher_name(ci));
			arr.push_back({{"fqdn", n.fqdn},
				       {"vip4", opt_json(n.vip4)},
				       {"vip6", opt_json(n.vip6)},
				       {"external_ep", n.external_ep ? json(*n.external_ep) : json(nullptr)},
				       {"local_eps", eps},
				       {"nated", n.nated},
				       {"online", n.online},
				       {"key_id", n.key_id},
				       {"ciphers", ciphers},
				       {"registered", time_json(n.registered)},
				       {"last_seen", time_json(n.last_seen)}});
		}
		fmt::print(ctx.out(), "{}\n", ntm::json_dump(arr));
		return kExitOk;
	}
	std::vector<std::vector<std::string>> rows{
		{"FQDN", "VIP4", "VIP6", "EXTERNAL", "NATED", "ONLINE", "LAST-SEEN"}};
	for (const auto &n : nodes)
		rows.push_back({n.fqdn, opt_text(n.vip4), opt_text(n.vip6),
				n.external_ep ? n.external_ep->to_string() : "-", n.nated ? "yes" : "no",
				n.online ? "yes" : "no", format_time(n.last_seen)});
	print_table(ctx.out(), rows);
	return kExitOk;
}

int cmd_dc_keys(Context &ctx, const DcKeysCmd &c, const std::optional<std::string> &cfg_path, bool as_json)
{
	const std::string path = registry_db(c.db, cfg_path);
	const AsDbOwner owner(path);
	ntm::store::Registry reg(path, std::nullopt, std::nullopt, false);
	const auto keys = reg.list_keys();
	if (as_json) {
		json arr = json::array();
		for (const auto &k : keys)
			arr.push_back({{"key_id", k.key_id}, {"fqdn", k.fqdn}, {"expires", k.expires}});
		fmt::print(ctx.out(), "{}\n", ntm::json_dump(arr));
		return kExitOk;
	}
	std::vector<std::vector<std::string>> rows{{"KEY-ID", "FQDN", "EXPIRES"}};
	for (const auto &k : keys)
		rows.push_back({fmt::format("{:08x}", k.key_id), k.fqdn, format_time(k.expires)});
	print_table(ctx.out(), rows);
	return kExitOk;
}

/* ---- batch ---- */

struct FileCloser {
	void operator()(std::FILE *f) const noexcept
	{
		(void)std::fclose(f); // NOLINT(cppcoreguidelines-owning-memory): the unique_ptr owns it
	}
};

struct LineBuf {
	char *data = nullptr;
	std::size_t cap = 0;
	LineBuf() = default;
	LineBuf(const LineBuf &) = delete;
	LineBuf &operator=(const LineBuf &) = delete;
	LineBuf(LineBuf &&) = delete;
	LineBuf &operator=(LineBuf &&) = delete;
	~LineBuf()
	{
		ntm::secure_wipe(data, cap); /* lines may hold keys */
		/* getline() allocates with malloc() */
		// NOLINTNEXTLINE(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
		std::free(data);
	}
};

/* Runs one line; returns its status and leaves the error message in msg. */
int run_line(Context &ctx, Cli &cli, std::string_view line, const Invocation &outer, std::string &msg)
{
	try {
		auto words = ntm::tokenize_line(line);
		if (words.empty())
			return kExitOk;
		Invocation inv = cli.parse(std::move(words), Origin::batch_line);
		if (std::holds_alternative<BatchCmd>(inv.cmd) || std::holds_alternative<MonitorCmd>(inv.cmd))
			throw ntm::UsageError("batch and monitor cannot run inside a batch");
		inv.json = inv.json || outer.json;
		if (!inv.config)
			inv.config = outer.config;
		return execute(ctx, cli, inv);
	} catch (const CLI::ParseError &e) {
		if (e.get_exit_code() == 0) {
			fmt::print(ctx.out(), "{}", cli.help());
			return kExitOk;
		}
		msg = e.what();
		return kExitUsage;
	} catch (const ntm::UsageError &e) {
		msg = e.what();
		return kExitUsage;
	} catch (const ntm::Error &e) {
		msg = e.what();
		return kExitFailed;
	} catch (const ntm::config::ConfigError &e) {
		msg = e.what();
		return kExitFailed;
	}
}

int cmd_batch(Context &ctx, Cli &cli, const BatchCmd &c, const Invocation &outer)
{
	std::unique_ptr<std::FILE, FileCloser> owned;
	std::FILE *in = stdin;
	if (c.file != "-") {
		// NOLINTNEXTLINE(cppcoreguidelines-owning-memory): owned now
		owned.reset(std::fopen(c.file.c_str(), "re"));
		if (!owned)
			ntm::throw_errno("batch " + c.file);
		in = owned.get();
	}

	LineBuf buf;
	std::uint64_t line_no = 0;
	std::uint64_t failed = 0;
	for (;;) {
		const ssize_t n = getline(&buf.data, &buf.cap, in);
		if (n < 0)
			break;
		line_no++;
		std::string msg;
		const int rc = run_line(ctx, cli, std::string_view(buf.data, static_cast<std::size_t>(n)), outer, msg);
		ntm::secure_wipe(buf.data, static_cast<std::size_t>(n));
		if (rc == kExitOk)
			continue;
		failed++;
		fmt::print(ctx.err(), "ntmctl: batch line {}: {}\n", line_no, msg.empty() ? "failed" : msg);
		if (!c.force)
			return kExitFailed;
	}
	if (std::ferror(in) != 0)
		ntm::throw_errno("batch " + c.file);
	if (failed != 0) {
		fmt::print(ctx.err(), "ntmctl: batch: {} of {} lines failed\n", failed, line_no);
		return kExitFailed;
	}
	return kExitOk;
}

} // namespace

ntm::GenlSocket &Context::genl()
{
	if (!genl_)
		genl_.emplace();
	return *genl_;
}

int execute(Context &ctx, Cli &cli, const Invocation &inv)
{
	const bool j = inv.json;
	return std::visit(
		[&](const auto &c) -> int {
			using T = std::decay_t<decltype(c)>;
			if constexpr (std::is_same_v<T, ShowCmd>)
				return cmd_show(ctx, c, j, inv.config);
			else if constexpr (std::is_same_v<T, DeviceShowCmd>)
				return cmd_device_show(ctx, c, j);
			else if constexpr (std::is_same_v<T, DeviceSetCmd>)
				return cmd_device_set(ctx, c);
			else if constexpr (std::is_same_v<T, TunnelAddCmd>)
				return cmd_tunnel_add(ctx, c);
			else if constexpr (std::is_same_v<T, TunnelSetCmd>)
				return cmd_tunnel_set(ctx, c);
			else if constexpr (std::is_same_v<T, TunnelDelCmd>) {
				ntm::del_tunnel(ctx.genl(), DeviceRef::by_name(c.dev), c.local_index);
				return kExitOk;
			} else if constexpr (std::is_same_v<T, TunnelFlushCmd>) {
				ntm::flush_tunnels(ctx.genl(), DeviceRef::by_name(c.dev));
				return kExitOk;
			} else if constexpr (std::is_same_v<T, TunnelShowCmd>)
				return cmd_tunnel_show(ctx, c, j);
			else if constexpr (std::is_same_v<T, MonitorCmd>)
				return cmd_monitor(ctx, c, inv.config, j);
			else if constexpr (std::is_same_v<T, BatchCmd>)
				return cmd_batch(ctx, cli, c, inv);
			else if constexpr (std::is_same_v<T, AccountAddCmd>)
				return cmd_account_add(ctx, c, inv.config);
			else if constexpr (std::is_same_v<T, AccountDelCmd>)
				return cmd_account_del(c, inv.config);
			else if constexpr (std::is_same_v<T, AccountListCmd>)
				return cmd_account_list(ctx, c, inv.config, j);
			else if constexpr (std::is_same_v<T, DcNodesCmd>)
				return cmd_dc_nodes(ctx, c, inv.config, j);
			else if constexpr (std::is_same_v<T, DcKeysCmd>)
				return cmd_dc_keys(ctx, c, inv.config, j);
			else if constexpr (std::is_same_v<T, IkeCmd>)
				return cmd_ike(ctx, c, inv.config, j);
			else if constexpr (std::is_same_v<T, RelayAddCmd>) {
				ntm::new_relay(ctx.genl(), DeviceRef::by_name(c.dev), c.relay);
				return kExitOk;
			} else if constexpr (std::is_same_v<T, RelaySetCmd>) {
				ntm::set_relay(ctx.genl(), DeviceRef::by_name(c.dev), c.relay);
				return kExitOk;
			} else if constexpr (std::is_same_v<T, RelayDelCmd>) {
				ntm::del_relay(ctx.genl(), DeviceRef::by_name(c.dev), c.id);
				return kExitOk;
			} else if constexpr (std::is_same_v<T, RelayFlushCmd>) {
				ntm::flush_relays(ctx.genl(), DeviceRef::by_name(c.dev));
				return kExitOk;
			} else if constexpr (std::is_same_v<T, RelayShowCmd>)
				return cmd_relay_show(ctx, c, j);
			else
				return cmd_status(ctx, c, inv.config, j);
		},
		inv.cmd);
}

int run_main(int argc, const char *const *argv, std::FILE *out, std::FILE *err) noexcept
{
	/* messages in the handlers must not throw: plain stdio */
	auto say = [err](const char *what) noexcept {
		(void)std::fputs("ntmctl: ", err);
		(void)std::fputs(what, err);
		(void)std::fputc('\n', err);
	};
	try {
		Cli cli;
		Invocation inv;
		try {
			std::vector<std::string> args;
			for (int i = 1; i < argc; i++)
				// NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic)
				args.emplace_back(argv[i]);
			inv = cli.parse(std::move(args), Origin::command_line);
		} catch (const CLI::CallForVersion &e) {
			fmt::print(out, "{}\n", e.what());
			return kExitOk;
		} catch (const CLI::ParseError &e) {
			if (e.get_exit_code() == 0) {
				fmt::print(out, "{}", cli.help());
				return kExitOk;
			}
			say(e.what());
			(void)std::fputs("Run 'ntmctl --help' for usage.\n", err);
			return kExitUsage;
		}
		Context ctx(out, err);
		const int rc = execute(ctx, cli, inv);
		if (std::fflush(out) != 0) {
			say(("write error: " + ntm::errno_string(errno)).c_str());
			return kExitFailed;
		}
		return rc;
	} catch (const ntm::UsageError &e) {
		say(e.what());
		return kExitUsage;
	} catch (const ntm::Error &e) {
		(void)std::fflush(out);
		say(e.what());
		return kExitFailed;
	} catch (const std::bad_alloc &) {
		say("out of memory");
		return kExitFailed;
	} catch (const std::exception &e) {
		say(e.what());
		return kExitFailed;
	} catch (...) {
		say("unexpected error");
		return kExitFailed;
	}
}

} // namespace ntmctl
