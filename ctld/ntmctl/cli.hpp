// SPDX-License-Identifier: GPL-2.0
/*
 * ntmctl command line: CLI11 grammar plus strict validation into typed
 * commands. One Cli object parses any number of command lines (batch mode
 * reuses it for every line).
 */
#ifndef NTMCTL_CLI_HPP
#define NTMCTL_CLI_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>

#include "ntm/model.hpp"

namespace ntmctl {

struct ShowCmd {
	std::optional<std::string> dev;
};
struct DeviceShowCmd {
	std::string dev;
};
struct DeviceSetCmd {
	std::string dev;
	std::optional<std::uint32_t> fwmark;
	std::optional<std::uint32_t> acquire_qlen;
	std::optional<bool> roaming;
	std::optional<bool> acquire;
	std::optional<std::uint32_t> max_relays;
	std::optional<std::uint32_t> max_tunnels;
};
struct TunnelAddCmd {
	std::string dev;
	ntm::TunnelSettings tunnel; /* flags set from --roaming; checked by ntm::check_tunnel() */
};
struct TunnelSetCmd {
	std::string dev;
	ntm::TunnelSettings tunnel; /* local_index, endpoint, lifetime, soft/hard limits */
	std::optional<bool> roaming;
};
struct TunnelDelCmd {
	std::string dev;
	std::uint32_t local_index = 0;
};
struct TunnelFlushCmd {
	std::string dev;
};
struct TunnelShowCmd {
	std::string dev;
	std::optional<std::uint32_t> local_index;
};
struct RelayAddCmd {
	std::string dev;
	ntm::RelaySettings relay; /* checked by ntm::check_relay() */
};
struct RelaySetCmd {
	std::string dev;
	ntm::RelaySettings relay;
};
struct RelayDelCmd {
	std::string dev;
	std::uint32_t id = 0;
};
struct RelayFlushCmd {
	std::string dev;
};
struct RelayShowCmd {
	std::string dev;
	std::optional<std::uint32_t> id;
};
struct MonitorCmd {
	std::optional<std::uint64_t> count;
	std::optional<std::uint64_t> timeout_s;
	bool timestamps = true; /* --no-timestamps: off */
	bool daemon = true;	/* --no-daemon: kernel events only */
	std::optional<std::string> socket; /* ntmd's control socket (default: the configuration's) */
};
struct BatchCmd {
	std::string file; /* "-" is stdin */
	bool force = false;
};

/* ---- databases of the server roles and the daemon ---- */

/** Where a command's database is: --db, else the config file's. */
struct DbRef {
	std::optional<std::string> path; /* --db */
};
struct AccountAddCmd {
	DbRef db;
	std::string name;
	std::string fqdn;
	std::optional<std::string> password_file;
	bool password_stdin = false;
	bool certificate = false;
	std::optional<unsigned> kdf_cost; /* --kdf-cost: scrypt log2(N) */
};
struct AccountDelCmd {
	DbRef db;
	std::string name;
};
struct AccountListCmd {
	DbRef db;
};
struct DcNodesCmd {
	DbRef db;
};
struct DcKeysCmd {
	DbRef db;
};
struct StatusCmd {
	std::optional<std::string> socket;
};
/** ntmctl ike list | initiate NAME | terminate NAME|#ID (through ntmd's control socket). */
struct IkeCmd {
	enum class Action { list, initiate, terminate, rekey } action = Action::list;
	std::string name;
	bool child = false; /* rekey: the CHILD SAs instead of the IKE SA */
	bool wait = true; /* initiate: until the SA is up (--no-wait: return at once) */
	std::uint32_t timeout_s = 30; /* initiate --timeout */
	std::optional<std::string> socket;
};

using Command = std::variant<ShowCmd, DeviceShowCmd, DeviceSetCmd, TunnelAddCmd, TunnelSetCmd, TunnelDelCmd,
			     TunnelFlushCmd, TunnelShowCmd, MonitorCmd, BatchCmd, AccountAddCmd, AccountDelCmd,
			     AccountListCmd, DcNodesCmd, DcKeysCmd, StatusCmd, IkeCmd, RelayAddCmd, RelaySetCmd,
			     RelayDelCmd, RelayFlushCmd, RelayShowCmd>;

/** Default of --config. */
inline constexpr const char *kDefaultConfig = "/etc/ntm/ntmd.toml";

struct Invocation {
	bool json = false;
	/** --config FILE; nullopt: kDefaultConfig, which may be absent. */
	std::optional<std::string> config;
	Command cmd;
};

/**
 * Where a command line comes from. Keys may be written out only in batch
 * lines (a file's contents are not visible to other users); on the
 * process's own command line, which every user can read in
 * /proc/PID/cmdline, --key and --rx-key accept only "-" (stdin).
 */
enum class Origin {
	command_line,
	batch_line,
};

class Cli {
public:
	Cli();
	Cli(const Cli &) = delete;
	Cli &operator=(const Cli &) = delete;
	Cli(Cli &&) = delete;
	Cli &operator=(Cli &&) = delete;
	~Cli();

	/**
	 * Parses the words of a command line without the program name.
	 * Throws CLI::ParseError (CLI::CallForHelp for --help) for grammar
	 * errors and ntm::UsageError for invalid values (a key written out on
	 * the command line among them). "--key -" reads stdin, here. Key material read
	 * from the words is wiped from the parser's copies before returning.
	 */
	Invocation parse(std::vector<std::string> args, Origin origin);

	/** Help text of the command the last parse selected (or the top). */
	[[nodiscard]] std::string help() const;
	/** The CLI11 tree (for command_tree(): man page test, completion). */
	[[nodiscard]] const CLI::App &app() const noexcept { return app_; }

private:
	/* The strings CLI11 fills; reset before every parse. */
	struct Values {
		bool json = false;
		std::string dev;
		std::string fwmark, acquire_qlen, roaming, acquire;
		std::string local_index, remote_index, endpoint, vip4, vip6, cipher, key, key_file, tx_salt, rx_salt,
			lifetime;
		std::string encap, rx_key, rx_key_file, tx_counter;
		std::string replaces, takeover, set_takeover;
		bool esn = false;
		std::vector<std::string> remote_ts, local_ts;
		std::string soft_lifetime, soft_bytes, hard_bytes, soft_packets, hard_packets;
		std::string count, timeout;
		std::string file;
		bool force = false;
		std::string config, db, name, fqdn, password_file, kdf_cost, socket;
		bool ike_child = false, ike_no_wait = false;
		bool no_timestamps = false, no_daemon = false;
		bool password_stdin = false, certificate = false;
		std::string max_relays, max_tunnels, relay_id, leg1, leg2, index1, index2, idle_timeout;
	};

	/* --soft-lifetime and the byte and packet limits of tunnel add / set */
	struct LimitOpts {
		CLI::Option *soft_lifetime = nullptr, *soft_bytes = nullptr, *hard_bytes = nullptr,
			    *soft_packets = nullptr, *hard_packets = nullptr;
	};

	Invocation build() const;
	/* --key / --rx-key: "-" reads stdin (command line only), HEX only in a batch line */
	[[nodiscard]] ntm::SecretBytes key_argument(const std::string &value, const char *option) const;
	void wipe_secrets() noexcept;
	LimitOpts add_limit_options(CLI::App *cmd);
	void read_limits(const LimitOpts &lo, ntm::TunnelSettings &t) const;
	/* --hard-bytes, --hard-packets, --idle-timeout of relay add / set */
	struct RelayOpts {
		CLI::Option *leg1 = nullptr, *leg2 = nullptr, *hard_bytes = nullptr, *hard_packets = nullptr,
			    *idle = nullptr;
	};
	RelayOpts add_relay_options(CLI::App *cmd, bool create);
	void read_relay(const RelayOpts &ro, ntm::RelaySettings &r) const;

	CLI::App app_;
	Values v_;
	Origin origin_ = Origin::command_line;
	/* the (sub)commands */
	CLI::App *show_ = nullptr;
	CLI::App *device_ = nullptr, *device_show_ = nullptr, *device_set_ = nullptr;
	CLI::App *tunnel_ = nullptr, *tunnel_add_ = nullptr, *tunnel_set_ = nullptr, *tunnel_del_ = nullptr,
		 *tunnel_flush_ = nullptr, *tunnel_show_ = nullptr;
	CLI::App *monitor_ = nullptr, *batch_ = nullptr;
	CLI::App *relay_ = nullptr, *relay_add_ = nullptr, *relay_set_ = nullptr, *relay_del_ = nullptr,
		 *relay_flush_ = nullptr, *relay_show_ = nullptr;
	CLI::App *account_ = nullptr, *account_add_ = nullptr, *account_del_ = nullptr, *account_list_ = nullptr;
	CLI::App *dc_ = nullptr, *dc_nodes_ = nullptr, *dc_keys_ = nullptr, *status_ = nullptr;
	CLI::App *ike_ = nullptr, *ike_list_ = nullptr, *ike_initiate_ = nullptr, *ike_terminate_ = nullptr,
		 *ike_rekey_ = nullptr;
	/* options whose presence matters (a given empty string is not absent) */
	struct Opts {
		CLI::Option *show_dev = nullptr;
		CLI::Option *fwmark = nullptr, *acquire_qlen = nullptr, *dev_roaming = nullptr, *acquire = nullptr;
		CLI::Option *add_vip4 = nullptr, *add_vip6 = nullptr, *add_key = nullptr, *add_key_file = nullptr,
			    *add_lifetime = nullptr, *add_roaming = nullptr;
		CLI::Option *add_encap = nullptr, *add_rx_key = nullptr, *add_rx_key_file = nullptr,
			    *add_remote_ts = nullptr, *add_local_ts = nullptr, *add_tx_counter = nullptr;
		CLI::Option *add_replaces = nullptr, *add_takeover = nullptr;
		LimitOpts add_limits;
		CLI::Option *set_endpoint = nullptr, *set_lifetime = nullptr, *set_roaming = nullptr,
			    *set_takeover = nullptr;
		LimitOpts set_limits;
		CLI::Option *show_index = nullptr;
		CLI::Option *max_relays = nullptr, *max_tunnels = nullptr, *relay_show_id = nullptr;
		RelayOpts relay_add, relay_set;
		CLI::Option *count = nullptr, *timeout = nullptr, *ike_timeout = nullptr;
		CLI::Option *config = nullptr, *password_file = nullptr, *kdf_cost = nullptr, *socket = nullptr;
		std::vector<CLI::Option *> ike_socket; /* --socket of each ike command */
		CLI::Option *monitor_socket = nullptr;
		std::vector<CLI::Option *> db; /* --db of each command that has it */
	} o_;
};

} // namespace ntmctl

#endif
