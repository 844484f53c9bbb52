// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include <unistd.h>

#include <algorithm>

#include "ntm/error.hpp"
#include "ntm/parse.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"
#include "ntm/version.hpp"
#include "suggest.hpp"

namespace ntmctl {

namespace {

constexpr const char *kDevHelp = "ntm device (interface name)";

bool given(const CLI::Option *o)
{
	return o != nullptr && o->count() > 0;
}

std::uint32_t local_index(const std::string &s)
{
	return ntm::parse_u32(s, "--local-index", 1);
}

/* check_tunnel() with the command in front of its message */
void check_tunnel(const ntm::TunnelSettings &t, ntm::TunnelRequest what, const char *cmd)
{
	try {
		ntm::check_tunnel(t, what);
	} catch (const ntm::UsageError &e) {
		throw ntm::UsageError(std::string(cmd) + ": " + e.what());
	}
}

/* check_relay() with the command in front of its message */
void check_relay(const ntm::RelaySettings &r, ntm::RelayRequest what, const char *cmd)
{
	try {
		ntm::check_relay(r, what);
	} catch (const ntm::UsageError &e) {
		throw ntm::UsageError(std::string(cmd) + ": " + e.what());
	}
}

void wipe_results(const CLI::Option *o) noexcept
{
	if (o == nullptr)
		return;
	/* CLI11 keeps its own copy of the argument */
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
	for (auto &r : const_cast<CLI::results_t &>(o->results()))
		ntm::secure_wipe(r);
}

std::string dev_name(const std::string &s)
{
	return ntm::parse_ifname(s);
}

constexpr std::size_t kMaxAccountName = 255;

/* Login names: 1..255 bytes (the ACCOUNT TLV), no control characters or blanks. */
std::string account_name(const std::string &s)
{
	if (s.empty() || s.size() > kMaxAccountName)
		throw ntm::UsageError("invalid account name: expected 1.." + std::to_string(kMaxAccountName) +
				      " bytes");
	for (const char c : s) {
		const auto u = static_cast<unsigned char>(c);
		if (u <= 0x20 || u == 0x7f)
			throw ntm::UsageError("invalid account name '" + s +
					      "': no blanks or control characters allowed");
	}
	return s;
}

/* A node FQDN as the signalling carries it: lower case, no trailing dot. */
std::string node_fqdn(const std::string &s)
{
	if (!ntm::sig::valid_dns_name(s))
		throw ntm::UsageError("invalid --fqdn '" + s + "': expected a lower-case DNS name like a.ntm.test");
	return s;
}

std::string nonempty_path(const std::string &s, std::string_view what)
{
	if (s.empty())
		throw ntm::UsageError(std::string(what) + ": empty path");
	return s;
}

} // namespace

Cli::Cli() : app_("ntmctl: configure and inspect ntm (NTMobile) devices", "ntmctl")
{
	app_.add_flag("-j,--json", v_.json, "JSON output");
	app_.set_version_flag("--version", std::string("ntmctl ") + ntm::kVersion, "Print the version and exit");
	app_.require_subcommand(1);
	/* -j is accepted after the subcommand too */
	app_.fallthrough();
	app_.footer("Exit status: 0 ok, 1 operation failed, 2 usage error. See ntmctl(8).");

	show_ = app_.add_subcommand("show", "Show every ntm device (or DEV) with its tunnels");
	o_.show_dev = show_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV");

	device_ = app_.add_subcommand("device", "Show or change a device");
	device_->require_subcommand(1);
	device_show_ = device_->add_subcommand("show", "Show a device");
	device_show_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	device_set_ = device_->add_subcommand("set", "Change settings of a device");
	device_set_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	o_.fwmark = device_set_->add_option("--fwmark", v_.fwmark, "Mark of outer packets")->type_name("N");
	o_.acquire_qlen = device_set_
				  ->add_option("--acquire-qlen", v_.acquire_qlen,
					       "Packets held for unknown destinations (0.." +
						       std::to_string(NTM_ACQUIRE_QLEN_MAX) + ")")
				  ->type_name("N");
	o_.dev_roaming = device_set_->add_option("--roaming", v_.roaming, "Move endpoints on authenticated rx")
				 ->type_name("on|off");
	o_.acquire = device_set_->add_option("--acquire", v_.acquire, "Queue and report unknown destinations")
			     ->type_name("on|off");
	o_.max_relays = device_set_
				->add_option("--max-relays", v_.max_relays,
					     "Relay sessions the device accepts at most (0.." +
						     std::to_string(NTM_RELAY_MAX_LIMIT) + ")")
				->type_name("N");
	o_.max_tunnels = device_set_
				 ->add_option("--max-tunnels", v_.max_tunnels,
					      "Tunnels the device accepts at most (0.." +
						      std::to_string(NTM_TUNNEL_MAX_LIMIT) + ")")
				 ->type_name("N");

	tunnel_ = app_.add_subcommand("tunnel", "Add, change, delete or show tunnels");
	tunnel_->require_subcommand(1);

	tunnel_add_ = tunnel_->add_subcommand("add", "Add a tunnel");
	tunnel_add_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	tunnel_add_
		->add_option("--local-index,--spi-in", v_.local_index,
			     "Index peers send to us (1..2^32-1); with esp-udp the inbound SPI (256..2^32-1)")
		->type_name("N")
		->required();
	tunnel_add_
		->add_option("--remote-index,--spi-out", v_.remote_index,
			     "Index we send to the peer (1..2^32-1); with esp-udp the outbound SPI")
		->type_name("N")
		->required();
	o_.add_encap =
		tunnel_add_
			->add_option("--encap", v_.encap, "ntm (default) or esp-udp (an ESP SA pair in UDP, RFC 3948)")
			->type_name("NAME");
	tunnel_add_->add_option("--endpoint", v_.endpoint, "Peer address: A.B.C.D:PORT or [IPV6]:PORT")
		->type_name("EP")
		->required();
	o_.add_vip4 = tunnel_add_->add_option("--vip4", v_.vip4, "Peer virtual IPv4 address")->type_name("A");
	o_.add_vip6 = tunnel_add_->add_option("--vip6", v_.vip6, "Peer virtual IPv6 address")->type_name("A");
	tunnel_add_->add_option("--cipher", v_.cipher, "aes-gcm or chacha20-poly1305")->type_name("NAME")->required();
	o_.add_key =
		tunnel_add_->add_option("--key", v_.key, "- to read the key (32, 48 for esp-udp, or 64 hex digits) from stdin; HEX only in a batch")
			->type_name("-|HEX");
	o_.add_key_file =
		tunnel_add_->add_option("--key-file", v_.key_file, "File holding the hex key")->type_name("PATH");
	o_.add_key->excludes(o_.add_key_file);
	o_.add_rx_key =
		tunnel_add_
			->add_option("--rx-key", v_.rx_key, "esp-udp: inbound key, like --key")
			->type_name("-|HEX");
	o_.add_rx_key_file =
		tunnel_add_->add_option("--rx-key-file", v_.rx_key_file, "esp-udp: file holding the hex inbound key")
			->type_name("PATH");
	o_.add_rx_key->excludes(o_.add_rx_key_file);
	tunnel_add_->add_option("--tx-salt", v_.tx_salt, "Nonce salt we send with: 8 hex digits")
		->type_name("HEX8")
		->required();
	tunnel_add_->add_option("--rx-salt", v_.rx_salt, "Nonce salt of the peer: 8 hex digits")
		->type_name("HEX8")
		->required();
	o_.add_lifetime =
		tunnel_add_->add_option("--lifetime", v_.lifetime, "Seconds until the tunnel expires (0: never)")
			->type_name("SEC");
	o_.add_roaming =
		tunnel_add_->add_option("--roaming", v_.roaming, "Follow the peer when it moves")->type_name("on|off");
	tunnel_add_->add_flag("--esn", v_.esn, "esp-udp: 64-bit extended sequence numbers");
	o_.add_remote_ts = tunnel_add_
				   ->add_option("--remote-ts", v_.remote_ts,
						"esp-udp: peer networks, PREFIX[,PREFIX...], repeatable (at most " +
							std::to_string(NTM_TS_MAX) + ")")
				   ->type_name("PREFIX")
				   ->allow_extra_args(false);
	o_.add_local_ts = tunnel_add_
				  ->add_option("--local-ts", v_.local_ts,
					       "esp-udp: our networks (inbound destinations), like --remote-ts")
				  ->type_name("PREFIX")
				  ->allow_extra_args(false);
	o_.add_limits = add_limit_options(tunnel_add_);
	o_.add_tx_counter = tunnel_add_
				    ->add_option("--tx-counter", v_.tx_counter,
						 "First counter to send (esp-udp: sequence number, default 1)")
				    ->type_name("N");
	o_.add_replaces = tunnel_add_
				  ->add_option("--replaces", v_.replaces,
					       "Rekey: the local index of the tunnel this one replaces (same virtual "
					       "addresses, a new --local-index)")
				  ->type_name("N");
	o_.add_takeover = tunnel_add_
				  ->add_option("--takeover", v_.takeover,
					       "With --replaces: send at once (now, the initiator) or from the first "
					       "authenticated packet received (rx, the responder; default). Without: rx "
					       "holds the new tunnel (what is sent to it waits) until the peer's first "
					       "packet")
				  ->type_name("now|rx");

	tunnel_set_ = tunnel_->add_subcommand("set", "Change a tunnel");
	tunnel_set_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	tunnel_set_->add_option("--local-index,--spi-in", v_.local_index, "The tunnel")->type_name("N")->required();
	o_.set_endpoint = tunnel_set_->add_option("--endpoint", v_.endpoint, "New peer address")->type_name("EP");
	o_.set_lifetime = tunnel_set_->add_option("--lifetime", v_.lifetime, "Seconds from creation (0: never)")
				  ->type_name("SEC");
	o_.set_roaming =
		tunnel_set_->add_option("--roaming", v_.roaming, "Follow the peer when it moves")->type_name("on|off");
	o_.set_limits = add_limit_options(tunnel_set_);
	o_.set_takeover = tunnel_set_
				  ->add_option("--takeover", v_.set_takeover,
					       "now: a pending tunnel (a successor, or one held for its peer) sends at "
					       "once")
				  ->type_name("now");

	tunnel_del_ = tunnel_->add_subcommand("del", "Delete a tunnel");
	tunnel_del_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	tunnel_del_->add_option("--local-index,--spi-in", v_.local_index, "The tunnel")->type_name("N")->required();

	tunnel_flush_ = tunnel_->add_subcommand("flush", "Delete every tunnel of a device");
	tunnel_flush_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();

	tunnel_show_ = tunnel_->add_subcommand("show", "List the tunnels of a device");
	tunnel_show_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	o_.show_index =
		tunnel_show_->add_option("--local-index,--spi-in", v_.local_index, "Only this tunnel")->type_name("N");

	relay_ = app_.add_subcommand("relay", "Add, change, delete or show relay sessions (Relay Server)");
	relay_->require_subcommand(1);
	relay_add_ = relay_->add_subcommand("add", "Add a relay session joining two legs");
	relay_add_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	relay_add_->add_option("--id", v_.relay_id, "Session id (1..2^32-1), unique per device")
		->type_name("N")
		->required();
	o_.relay_add = add_relay_options(relay_add_, true);
	relay_add_->add_option("--index1", v_.index1, "Receiver index the node of leg 1 chose")
		->type_name("N")
		->required();
	relay_add_->add_option("--index2", v_.index2, "Receiver index the node of leg 2 chose")
		->type_name("N")
		->required();

	relay_set_ = relay_->add_subcommand("set", "Move a leg (after the node moved) or change limits");
	relay_set_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	relay_set_->add_option("--id", v_.relay_id, "The session")->type_name("N")->required();
	o_.relay_set = add_relay_options(relay_set_, false);

	relay_del_ = relay_->add_subcommand("del", "Delete a relay session");
	relay_del_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	relay_del_->add_option("--id", v_.relay_id, "The session")->type_name("N")->required();

	relay_flush_ = relay_->add_subcommand("flush", "Delete every relay session of a device");
	relay_flush_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();

	relay_show_ = relay_->add_subcommand("show", "List the relay sessions of a device");
	relay_show_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	o_.relay_show_id = relay_show_->add_option("--id", v_.relay_id, "Only this session")->type_name("N");

	monitor_ = app_.add_subcommand("monitor", "Print kernel events (acquire, endpoint, expired, relay-expired) and "
						  "ntmd's events (registration, tunnels, paths, IKE SAs), timestamped");
	o_.count = monitor_->add_option("--count", v_.count, "Exit after N events")->type_name("N");
	o_.timeout = monitor_->add_option("--timeout", v_.timeout, "Exit after SEC seconds")->type_name("SEC");
	monitor_->add_flag("--no-timestamps", v_.no_timestamps, "Print events without the time they happened");
	monitor_->add_flag("--no-daemon", v_.no_daemon, "Kernel events only: do not subscribe to ntmd's events");
	o_.monitor_socket =
		monitor_->add_option("--socket", v_.socket,
				     "Control socket of ntmd (default: control_socket of the configuration)")
			->type_name("PATH");

	batch_ = app_.add_subcommand("batch", "Run commands from FILE (- for stdin) over one netlink socket");
	batch_->add_option("file", v_.file, "One ntmctl command per line")->required();
	batch_->add_flag("--force", v_.force, "Continue after a failing line");

	/* ---- the server roles' databases and the daemon ---- */
	o_.config = app_.add_option("--config", v_.config,
				    std::string("ntmd configuration, for database and socket paths (default ") +
					    kDefaultConfig + ")")
			    ->type_name("FILE");
	auto add_db = [this](CLI::App *cmd, const char *what) {
		o_.db.push_back(
			cmd->add_option("--db", v_.db,
					std::string("The ") + what + " database (default: from the configuration)")
				->type_name("PATH"));
	};

	account_ = app_.add_subcommand("account", "Manage the accounts of the AS");
	account_->require_subcommand(1);
	account_add_ = account_->add_subcommand("add", "Add an account");
	account_add_->add_option("name", v_.name, "Login name, e.g. alice@ntm.test")->type_name("NAME")->required();
	account_add_->add_option("--fqdn", v_.fqdn, "FQDN of the account's node, e.g. a.ntm.test")
		->type_name("FQDN")
		->required();
	o_.password_file = account_add_
				   ->add_option("--password-file", v_.password_file,
						"File whose first line is the password (mode 0600 or stricter)")
				   ->type_name("FILE");
	auto *pw_stdin = account_add_->add_flag("--password-stdin", v_.password_stdin,
						"Read the password (one line) from standard input");
	o_.password_file->excludes(pw_stdin);
	account_add_->add_flag("--certificate", v_.certificate,
			       "Allow login with a certificate whose DNS name is the FQDN");
	o_.kdf_cost = account_add_
			      ->add_option("--kdf-cost", v_.kdf_cost,
					   "scrypt cost log2(N), 10..20 (default: as.kdf.n_log2 of the configuration)")
			      ->type_name("LN");
	add_db(account_add_, "account");
	account_del_ = account_->add_subcommand("del", "Delete an account");
	account_del_->add_option("name", v_.name, "Login name")->type_name("NAME")->required();
	add_db(account_del_, "account");
	account_list_ = account_->add_subcommand("list", "List the accounts (never password hashes)");
	add_db(account_list_, "account");

	dc_ = app_.add_subcommand("dc", "Inspect the registry of the DC");
	dc_->require_subcommand(1);
	dc_nodes_ = dc_->add_subcommand("nodes", "List the registered nodes");
	add_db(dc_nodes_, "registry");
	dc_keys_ = dc_->add_subcommand("keys", "List the node keys (never key bytes)");
	add_db(dc_keys_, "registry");

	status_ = app_.add_subcommand("status", "Ask the running ntmd for its status");
	o_.socket = status_->add_option("--socket", v_.socket,
					"Control socket of ntmd (default: control_socket of the configuration)")
			    ->type_name("PATH");

	ike_ = app_.add_subcommand("ike", "List, start and stop the IKEv2 SAs of the running ntmd");
	ike_->require_subcommand(1);
	ike_list_ = ike_->add_subcommand("list", "List IKE SAs with their CHILD SAs (state, algorithms, counters)");
	ike_initiate_ = ike_->add_subcommand("initiate", "Start the IKE SA of a configured connection");
	ike_initiate_->add_option("NAME", v_.name, "Connection name ([[ike.connection]] name)")->required();
	ike_initiate_->add_flag("--no-wait", v_.ike_no_wait, "Return once IKE_SA_INIT is sent, not when the SA is up");
	o_.ike_timeout = ike_initiate_->add_option("--timeout", v_.timeout, "Seconds to wait for the SA (default 30)")
				 ->type_name("SEC");
	ike_terminate_ = ike_->add_subcommand("terminate", "Delete the IKE SAs of a connection, or one (#ID)");
	ike_terminate_->add_option("NAME", v_.name, "Connection name, or #ID from ntmctl ike list")->required();
	ike_rekey_ = ike_->add_subcommand("rekey", "Rekey the IKE SAs (or with --child their CHILD SAs) now");
	ike_rekey_->add_option("NAME", v_.name, "Connection name, or #ID from ntmctl ike list")->required();
	ike_rekey_->add_flag("--child", v_.ike_child, "Rekey the CHILD SAs instead of the IKE SA");
	for (CLI::App *c : {ike_list_, ike_initiate_, ike_terminate_, ike_rekey_})
		o_.ike_socket.push_back(
			c->add_option("--socket", v_.socket,
				      "Control socket of ntmd (default: control_socket of the configuration)")
				->type_name("PATH"));
}

Cli::~Cli()
{
	wipe_secrets();
}

Cli::LimitOpts Cli::add_limit_options(CLI::App *cmd)
{
	LimitOpts lo;
	lo.soft_lifetime = cmd->add_option("--soft-lifetime", v_.soft_lifetime,
					   "Seconds from creation until a soft expiry event (rekey), 0: none")
				   ->type_name("SEC");
	lo.soft_bytes = cmd->add_option("--soft-bytes", v_.soft_bytes,
					"Inner bytes (either direction) until a soft expiry event; K/M/G/T suffixes")
				->type_name("N");
	lo.hard_bytes = cmd->add_option("--hard-bytes", v_.hard_bytes, "Inner bytes until the tunnel expires (0: none)")
				->type_name("N");
	lo.soft_packets = cmd->add_option("--soft-packets", v_.soft_packets,
					  "Packets (either direction) until a soft expiry event")
				  ->type_name("N");
	lo.hard_packets =
		cmd->add_option("--hard-packets", v_.hard_packets, "Packets until the tunnel expires (0: none)")
			->type_name("N");
	return lo;
}

void Cli::read_limits(const LimitOpts &lo, ntm::TunnelSettings &t) const
{
	if (given(lo.soft_lifetime))
		t.soft_lifetime = ntm::parse_u32(v_.soft_lifetime, "--soft-lifetime");
	if (given(lo.soft_bytes))
		t.soft_bytes = ntm::parse_amount(v_.soft_bytes, "--soft-bytes");
	if (given(lo.hard_bytes))
		t.hard_bytes = ntm::parse_amount(v_.hard_bytes, "--hard-bytes");
	if (given(lo.soft_packets))
		t.soft_packets = ntm::parse_amount(v_.soft_packets, "--soft-packets");
	if (given(lo.hard_packets))
		t.hard_packets = ntm::parse_amount(v_.hard_packets, "--hard-packets");
}

Cli::RelayOpts Cli::add_relay_options(CLI::App *cmd, bool create)
{
	RelayOpts ro;
	ro.leg1 = cmd->add_option("--leg1", v_.leg1,
				  create ? "Endpoint of leg 1: A.B.C.D:PORT or [IPV6]:PORT"
					 : "New endpoint of leg 1 (the node moved there)")
			  ->type_name("EP");
	ro.leg2 = cmd->add_option("--leg2", v_.leg2, create ? "Endpoint of leg 2" : "New endpoint of leg 2")
			  ->type_name("EP");
	if (create) {
		ro.leg1->required();
		ro.leg2->required();
	}
	ro.hard_bytes = cmd->add_option("--hard-bytes", v_.hard_bytes,
					"Bytes (both directions) until the session is removed (0: none); K/M/G/T")
				->type_name("N");
	ro.hard_packets =
		cmd->add_option("--hard-packets", v_.hard_packets, "Datagrams (both directions) until removal (0: none)")
			->type_name("N");
	ro.idle = cmd->add_option("--idle-timeout", v_.idle_timeout,
				  "Seconds without a datagram until removal (0: none, at most " +
					  std::to_string(NTM_RELAY_IDLE_MAX) + ")")
			  ->type_name("SEC");
	return ro;
}

void Cli::read_relay(const RelayOpts &ro, ntm::RelaySettings &r) const
{
	r.id = ntm::parse_u32(v_.relay_id, "--id", 1);
	if (given(ro.leg1))
		r.legs[0].endpoint = ntm::parse_endpoint(v_.leg1);
	if (given(ro.leg2))
		r.legs[1].endpoint = ntm::parse_endpoint(v_.leg2);
	if (given(ro.hard_bytes))
		r.hard_bytes = ntm::parse_amount(v_.hard_bytes, "--hard-bytes");
	if (given(ro.hard_packets))
		r.hard_packets = ntm::parse_amount(v_.hard_packets, "--hard-packets");
	if (given(ro.idle))
		r.idle_timeout = ntm::parse_u32(v_.idle_timeout, "--idle-timeout", 0, NTM_RELAY_IDLE_MAX);
}

void Cli::wipe_secrets() noexcept
{
	ntm::secure_wipe(v_.key);
	ntm::secure_wipe(v_.rx_key);
	wipe_results(o_.add_key);
	wipe_results(o_.add_rx_key);
}

Invocation Cli::parse(std::vector<std::string> args, Origin origin)
{
	v_ = Values{};
	origin_ = origin;
	/* the words in order, to name an unknown one (a batch line's may hold a key: wiped) */
	std::vector<std::string> words = args;
	std::ranges::reverse(args); /* CLI11 takes the words in reverse */
	try {
		app_.parse(args);
	} catch (const CLI::ParseError &e) {
		for (auto &a : args)
			ntm::secure_wipe(a);
		wipe_secrets();
		std::optional<std::string> why;
		if (e.get_exit_code() != 0)
			why = explain_unknown(app_, words);
		for (auto &w : words)
			ntm::secure_wipe(w);
		if (why)
			throw ntm::UsageError(*why);
		throw;
	} catch (...) {
		for (auto &a : args)
			ntm::secure_wipe(a);
		for (auto &w : words)
			ntm::secure_wipe(w);
		wipe_secrets();
		throw;
	}
	for (auto &w : words)
		ntm::secure_wipe(w);
	try {
		Invocation inv = build();
		wipe_secrets();
		return inv;
	} catch (...) {
		wipe_secrets();
		throw;
	}
}

std::string Cli::help() const
{
	std::string h = app_.help();
	if (!h.ends_with('\n'))
		h += '\n';
	return h;
}

ntm::SecretBytes Cli::key_argument(const std::string &value, const char *option) const
{
	const std::string opt(option);
	if (value == "-") {
		if (origin_ == Origin::batch_line)
			throw ntm::UsageError("tunnel add: " + opt + " -: stdin is not read inside a batch; write the "
					      "key in the batch line or use " + opt + "-file");
		return ntm::read_key_fd(STDIN_FILENO, opt + " - (stdin)");
	}
	if (origin_ == Origin::command_line)
		throw ntm::UsageError("tunnel add: " + opt + ": a key on the command line is readable by every "
				      "user (/proc/PID/cmdline); use " + opt + "-file FILE, or " + opt +
				      " - to read it from stdin");
	return ntm::parse_hex_key(value);
}

Invocation Cli::build() const
{
	Invocation inv;
	inv.json = v_.json;
	if (given(o_.config))
		inv.config = nonempty_path(v_.config, "--config");
	DbRef db;
	for (const auto *o : o_.db)
		if (given(o))
			db.path = nonempty_path(v_.db, "--db");

	if (show_->parsed()) {
		ShowCmd c;
		if (given(o_.show_dev))
			c.dev = dev_name(v_.dev);
		inv.cmd = c;
	} else if (device_show_->parsed()) {
		inv.cmd = DeviceShowCmd{dev_name(v_.dev)};
	} else if (device_set_->parsed()) {
		DeviceSetCmd c;
		c.dev = dev_name(v_.dev);
		if (given(o_.fwmark))
			c.fwmark = ntm::parse_u32(v_.fwmark, "--fwmark");
		if (given(o_.acquire_qlen))
			c.acquire_qlen = ntm::parse_u32(v_.acquire_qlen, "--acquire-qlen", 0, NTM_ACQUIRE_QLEN_MAX);
		if (given(o_.dev_roaming))
			c.roaming = ntm::parse_on_off(v_.roaming, "--roaming");
		if (given(o_.acquire))
			c.acquire = ntm::parse_on_off(v_.acquire, "--acquire");
		if (given(o_.max_relays))
			c.max_relays = ntm::parse_u32(v_.max_relays, "--max-relays", 0, NTM_RELAY_MAX_LIMIT);
		if (given(o_.max_tunnels))
			c.max_tunnels = ntm::parse_u32(v_.max_tunnels, "--max-tunnels", 0, NTM_TUNNEL_MAX_LIMIT);
		if (!c.fwmark && !c.acquire_qlen && !c.roaming && !c.acquire && !c.max_relays && !c.max_tunnels)
			throw ntm::UsageError("device set: nothing to change (give --fwmark, --acquire-qlen, --roaming, "
					      "--acquire, --max-relays or --max-tunnels)");
		inv.cmd = std::move(c);
	} else if (tunnel_add_->parsed()) {
		TunnelAddCmd c;
		c.dev = dev_name(v_.dev);
		auto &t = c.tunnel;
		if (given(o_.add_encap))
			t.encap = ntm::parse_encap(v_.encap);
		const bool esp = t.is_esp();
		t.local_index = local_index(v_.local_index);
		t.remote_index = ntm::parse_u32(v_.remote_index, "--remote-index", 1);
		t.endpoint = ntm::parse_endpoint(v_.endpoint);
		if (given(o_.add_vip4))
			t.vip4 = ntm::parse_vip(v_.vip4, AF_INET, "--vip4");
		if (given(o_.add_vip6))
			t.vip6 = ntm::parse_vip(v_.vip6, AF_INET6, "--vip6");
		if (!esp && !t.vip4 && !t.vip6)
			throw ntm::UsageError("tunnel add: --vip4 or --vip6 is required");
		if (esp && (t.vip4 || t.vip6))
			throw ntm::UsageError("tunnel add: --vip4 and --vip6 do not apply to --encap esp-udp (packets "
					      "are chosen by --remote-ts)");
		t.cipher = ntm::parse_cipher(v_.cipher);
		if (given(o_.add_key) && given(o_.add_rx_key) && v_.key == "-" && v_.rx_key == "-")
			throw ntm::UsageError("tunnel add: --key - and --rx-key - cannot both read stdin (give one "
					      "of them as a file)");
		if (given(o_.add_key))
			t.key = key_argument(v_.key, "--key");
		else if (given(o_.add_key_file))
			t.key = ntm::read_key_file(v_.key_file);
		else
			throw ntm::UsageError("tunnel add: --key or --key-file is required");
		ntm::check_key_length(*t.cipher, t.key.size(), t.encap.value_or(NTM_ENCAP_NTM));
		if (given(o_.add_rx_key) || given(o_.add_rx_key_file)) {
			if (!esp)
				throw ntm::UsageError("tunnel add: --rx-key and --rx-key-file need --encap esp-udp");
			t.rx_key = given(o_.add_rx_key) ? key_argument(v_.rx_key, "--rx-key")
							: ntm::read_key_file(v_.rx_key_file);
		} else if (esp) {
			throw ntm::UsageError("tunnel add: --encap esp-udp needs --rx-key or --rx-key-file");
		}
		t.tx_salt = ntm::parse_salt(v_.tx_salt, "--tx-salt");
		t.rx_salt = ntm::parse_salt(v_.rx_salt, "--rx-salt");
		if (given(o_.add_lifetime))
			t.lifetime = ntm::parse_u32(v_.lifetime, "--lifetime");
		if (given(o_.add_roaming))
			t.flags = ntm::parse_on_off(v_.roaming, "--roaming")
					  ? 0U
					  : static_cast<std::uint32_t>(NTM_TUNNEL_F_NO_ROAMING);
		t.esn = v_.esn;
		if (given(o_.add_tx_counter))
			t.tx_counter = ntm::parse_unsigned(v_.tx_counter, "--tx-counter", 0, UINT64_MAX);
		for (const auto &ts : v_.remote_ts)
			ntm::parse_traffic_selectors(ts, "--remote-ts", t.remote_ts);
		for (const auto &ts : v_.local_ts)
			ntm::parse_traffic_selectors(ts, "--local-ts", t.local_ts);
		read_limits(o_.add_limits, t);
		if (given(o_.add_replaces))
			t.replaces = ntm::parse_u32(v_.replaces, "--replaces", 1);
		if (given(o_.add_takeover)) {
			t.takeover = ntm::parse_takeover(v_.takeover);
		}
		check_tunnel(t, ntm::TunnelRequest::create, "tunnel add");
		inv.cmd = std::move(c);
	} else if (tunnel_set_->parsed()) {
		TunnelSetCmd c;
		c.dev = dev_name(v_.dev);
		c.tunnel.local_index = local_index(v_.local_index);
		if (given(o_.set_endpoint))
			c.tunnel.endpoint = ntm::parse_endpoint(v_.endpoint);
		if (given(o_.set_lifetime))
			c.tunnel.lifetime = ntm::parse_u32(v_.lifetime, "--lifetime");
		if (given(o_.set_roaming))
			c.roaming = ntm::parse_on_off(v_.roaming, "--roaming");
		read_limits(o_.set_limits, c.tunnel);
		if (given(o_.set_takeover))
			c.tunnel.takeover = ntm::parse_takeover(v_.set_takeover);
		const auto &t = c.tunnel;
		if (!t.endpoint && !t.lifetime && !c.roaming && !t.soft_lifetime && !t.soft_bytes && !t.hard_bytes &&
		    !t.soft_packets && !t.hard_packets && !t.takeover)
			throw ntm::UsageError("tunnel set: nothing to change (give --endpoint, --lifetime, --roaming, "
					      "--soft-lifetime, --soft-bytes, --hard-bytes, --soft-packets, "
					      "--hard-packets or --takeover)");
		check_tunnel(t, ntm::TunnelRequest::change, "tunnel set");
		inv.cmd = std::move(c);
	} else if (tunnel_del_->parsed()) {
		inv.cmd = TunnelDelCmd{dev_name(v_.dev), local_index(v_.local_index)};
	} else if (tunnel_flush_->parsed()) {
		inv.cmd = TunnelFlushCmd{dev_name(v_.dev)};
	} else if (tunnel_show_->parsed()) {
		TunnelShowCmd c;
		c.dev = dev_name(v_.dev);
		if (given(o_.show_index))
			c.local_index = local_index(v_.local_index);
		inv.cmd = std::move(c);
	} else if (relay_add_->parsed()) {
		RelayAddCmd c;
		c.dev = dev_name(v_.dev);
		read_relay(o_.relay_add, c.relay);
		c.relay.legs[0].index = ntm::parse_u32(v_.index1, "--index1", 1);
		c.relay.legs[1].index = ntm::parse_u32(v_.index2, "--index2", 1);
		check_relay(c.relay, ntm::RelayRequest::create, "relay add");
		inv.cmd = std::move(c);
	} else if (relay_set_->parsed()) {
		RelaySetCmd c;
		c.dev = dev_name(v_.dev);
		read_relay(o_.relay_set, c.relay);
		check_relay(c.relay, ntm::RelayRequest::change, "relay set");
		inv.cmd = std::move(c);
	} else if (relay_del_->parsed()) {
		inv.cmd = RelayDelCmd{dev_name(v_.dev), ntm::parse_u32(v_.relay_id, "--id", 1)};
	} else if (relay_flush_->parsed()) {
		inv.cmd = RelayFlushCmd{dev_name(v_.dev)};
	} else if (relay_show_->parsed()) {
		RelayShowCmd c;
		c.dev = dev_name(v_.dev);
		if (given(o_.relay_show_id))
			c.id = ntm::parse_u32(v_.relay_id, "--id", 1);
		inv.cmd = std::move(c);
	} else if (monitor_->parsed()) {
		MonitorCmd c;
		if (given(o_.count))
			c.count = ntm::parse_unsigned(v_.count, "--count", 1, UINT64_MAX);
		if (given(o_.timeout))
			c.timeout_s = ntm::parse_unsigned(v_.timeout, "--timeout", 1, UINT32_MAX);
		c.timestamps = !v_.no_timestamps;
		c.daemon = !v_.no_daemon;
		if (given(o_.monitor_socket))
			c.socket = nonempty_path(v_.socket, "--socket");
		inv.cmd = c;
	} else if (batch_->parsed()) {
		inv.cmd = BatchCmd{v_.file, v_.force};
	} else if (account_add_->parsed()) {
		AccountAddCmd c;
		c.db = db;
		c.name = account_name(v_.name);
		c.fqdn = node_fqdn(v_.fqdn);
		if (given(o_.password_file))
			c.password_file = nonempty_path(v_.password_file, "--password-file");
		c.password_stdin = v_.password_stdin;
		c.certificate = v_.certificate;
		if (!c.password_file && !c.password_stdin && !c.certificate)
			throw ntm::UsageError("account add: give --password-file or --password-stdin (or --certificate "
					      "for certificate login only)");
		if (given(o_.kdf_cost))
			c.kdf_cost = ntm::parse_u32(v_.kdf_cost, "--kdf-cost", 10, 20);
		inv.cmd = std::move(c);
	} else if (account_del_->parsed()) {
		inv.cmd = AccountDelCmd{db, account_name(v_.name)};
	} else if (account_list_->parsed()) {
		inv.cmd = AccountListCmd{db};
	} else if (dc_nodes_->parsed()) {
		inv.cmd = DcNodesCmd{db};
	} else if (dc_keys_->parsed()) {
		inv.cmd = DcKeysCmd{db};
	} else if (status_->parsed()) {
		StatusCmd c;
		if (given(o_.socket))
			c.socket = nonempty_path(v_.socket, "--socket");
		inv.cmd = std::move(c);
	} else if (ike_->parsed()) {
		IkeCmd c;
		c.action = ike_initiate_->parsed()    ? IkeCmd::Action::initiate
			   : ike_terminate_->parsed() ? IkeCmd::Action::terminate
			   : ike_rekey_->parsed()     ? IkeCmd::Action::rekey
						      : IkeCmd::Action::list;
		c.child = v_.ike_child;
		c.wait = !v_.ike_no_wait;
		if (given(o_.ike_timeout)) {
			if (!c.wait)
				throw ntm::UsageError("ike initiate: --timeout and --no-wait exclude each other");
			c.timeout_s = ntm::parse_u32(v_.timeout, "--timeout", 1, 3600);
		}
		if (c.action != IkeCmd::Action::list) {
			if (v_.name.empty() || v_.name.size() > 64)
				throw ntm::UsageError("ike: NAME must be 1..64 characters");
			c.name = v_.name;
		}
		for (CLI::Option *o : o_.ike_socket)
			if (given(o))
				c.socket = nonempty_path(v_.socket, "--socket");
		inv.cmd = std::move(c);
	} else {
		throw ntm::UsageError("no command given");
	}
	return inv;
}

} // namespace ntmctl
