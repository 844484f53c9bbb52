// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include <algorithm>

#include "ntm/error.hpp"
#include "ntm/parse.hpp"
#include "ntm/secret.hpp"

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

std::string dev_name(const std::string &s)
{
	return ntm::parse_ifname(s);
}

} // namespace

Cli::Cli() : app_("ntmctl: configure and inspect ntm (NTMobile) devices", "ntmctl")
{
	app_.add_flag("-j,--json", v_.json, "JSON output");
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

	tunnel_ = app_.add_subcommand("tunnel", "Add, change, delete or show tunnels");
	tunnel_->require_subcommand(1);

	tunnel_add_ = tunnel_->add_subcommand("add", "Add a tunnel");
	tunnel_add_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	tunnel_add_->add_option("--local-index", v_.local_index, "Index peers send to us (1..2^32-1)")
		->type_name("N")
		->required();
	tunnel_add_->add_option("--remote-index", v_.remote_index, "Index we send to the peer (1..2^32-1)")
		->type_name("N")
		->required();
	tunnel_add_->add_option("--endpoint", v_.endpoint, "Peer address: A.B.C.D:PORT or [IPV6]:PORT")
		->type_name("EP")
		->required();
	o_.add_vip4 = tunnel_add_->add_option("--vip4", v_.vip4, "Peer virtual IPv4 address")->type_name("A");
	o_.add_vip6 = tunnel_add_->add_option("--vip6", v_.vip6, "Peer virtual IPv6 address")->type_name("A");
	tunnel_add_->add_option("--cipher", v_.cipher, "aes-gcm or chacha20-poly1305")->type_name("NAME")->required();
	o_.add_key = tunnel_add_->add_option("--key", v_.key, "Key: 32 or 64 hex digits (prefer --key-file)")
			     ->type_name("HEX");
	o_.add_key_file =
		tunnel_add_->add_option("--key-file", v_.key_file, "File holding the hex key")->type_name("PATH");
	o_.add_key->excludes(o_.add_key_file);
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

	tunnel_set_ = tunnel_->add_subcommand("set", "Change a tunnel");
	tunnel_set_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	tunnel_set_->add_option("--local-index", v_.local_index, "The tunnel")->type_name("N")->required();
	o_.set_endpoint = tunnel_set_->add_option("--endpoint", v_.endpoint, "New peer address")->type_name("EP");
	o_.set_lifetime = tunnel_set_->add_option("--lifetime", v_.lifetime, "Seconds from creation (0: never)")
				  ->type_name("SEC");
	o_.set_roaming =
		tunnel_set_->add_option("--roaming", v_.roaming, "Follow the peer when it moves")->type_name("on|off");

	tunnel_del_ = tunnel_->add_subcommand("del", "Delete a tunnel");
	tunnel_del_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	tunnel_del_->add_option("--local-index", v_.local_index, "The tunnel")->type_name("N")->required();

	tunnel_flush_ = tunnel_->add_subcommand("flush", "Delete every tunnel of a device");
	tunnel_flush_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();

	tunnel_show_ = tunnel_->add_subcommand("show", "List the tunnels of a device");
	tunnel_show_->add_option("dev", v_.dev, kDevHelp)->type_name("DEV")->required();
	o_.show_index = tunnel_show_->add_option("--local-index", v_.local_index, "Only this tunnel")->type_name("N");

	monitor_ = app_.add_subcommand("monitor", "Print kernel events (acquire, endpoint, expired)");
	o_.count = monitor_->add_option("--count", v_.count, "Exit after N events")->type_name("N");
	o_.timeout = monitor_->add_option("--timeout", v_.timeout, "Exit after SEC seconds")->type_name("SEC");

	batch_ = app_.add_subcommand("batch", "Run commands from FILE (- for stdin) over one netlink socket");
	batch_->add_option("file", v_.file, "One ntmctl command per line")->required();
	batch_->add_flag("--force", v_.force, "Continue after a failing line");
}

Cli::~Cli()
{
	wipe_secrets();
}

void Cli::wipe_secrets() noexcept
{
	ntm::secure_wipe(v_.key);
	if (o_.add_key == nullptr)
		return;
	/* CLI11 keeps its own copy of the argument */
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
	for (auto &r : const_cast<CLI::results_t &>(o_.add_key->results()))
		ntm::secure_wipe(r);
}

Invocation Cli::parse(std::vector<std::string> args)
{
	v_ = Values{};
	std::ranges::reverse(args); /* CLI11 takes the words in reverse */
	try {
		app_.parse(args);
	} catch (...) {
		for (auto &a : args)
			ntm::secure_wipe(a);
		wipe_secrets();
		throw;
	}
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

Invocation Cli::build() const
{
	Invocation inv;
	inv.json = v_.json;

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
		if (!c.fwmark && !c.acquire_qlen && !c.roaming && !c.acquire)
			throw ntm::UsageError("device set: nothing to change (give --fwmark, --acquire-qlen, --roaming "
					      "or --acquire)");
		inv.cmd = std::move(c);
	} else if (tunnel_add_->parsed()) {
		TunnelAddCmd c;
		c.dev = dev_name(v_.dev);
		auto &t = c.tunnel;
		t.local_index = local_index(v_.local_index);
		t.remote_index = ntm::parse_u32(v_.remote_index, "--remote-index", 1);
		t.endpoint = ntm::parse_endpoint(v_.endpoint);
		if (given(o_.add_vip4))
			t.vip4 = ntm::parse_vip(v_.vip4, AF_INET, "--vip4");
		if (given(o_.add_vip6))
			t.vip6 = ntm::parse_vip(v_.vip6, AF_INET6, "--vip6");
		if (!t.vip4 && !t.vip6)
			throw ntm::UsageError("tunnel add: --vip4 or --vip6 is required");
		t.cipher = ntm::parse_cipher(v_.cipher);
		if (given(o_.add_key))
			t.key = ntm::parse_hex_key(v_.key);
		else if (given(o_.add_key_file))
			t.key = ntm::read_key_file(v_.key_file);
		else
			throw ntm::UsageError("tunnel add: --key or --key-file is required");
		ntm::check_key_length(*t.cipher, t.key.size());
		t.tx_salt = ntm::parse_salt(v_.tx_salt, "--tx-salt");
		t.rx_salt = ntm::parse_salt(v_.rx_salt, "--rx-salt");
		if (*t.tx_salt == *t.rx_salt)
			throw ntm::UsageError("tunnel add: --tx-salt and --rx-salt must differ");
		if (given(o_.add_lifetime))
			t.lifetime = ntm::parse_u32(v_.lifetime, "--lifetime");
		if (given(o_.add_roaming))
			t.flags = ntm::parse_on_off(v_.roaming, "--roaming")
					  ? 0U
					  : static_cast<std::uint32_t>(NTM_TUNNEL_F_NO_ROAMING);
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
		if (!c.tunnel.endpoint && !c.tunnel.lifetime && !c.roaming)
			throw ntm::UsageError(
				"tunnel set: nothing to change (give --endpoint, --lifetime or --roaming)");
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
	} else if (monitor_->parsed()) {
		MonitorCmd c;
		if (given(o_.count))
			c.count = ntm::parse_unsigned(v_.count, "--count", 1, UINT64_MAX);
		if (given(o_.timeout))
			c.timeout_s = ntm::parse_unsigned(v_.timeout, "--timeout", 1, UINT32_MAX);
		inv.cmd = c;
	} else if (batch_->parsed()) {
		inv.cmd = BatchCmd{v_.file, v_.force};
	} else {
		throw ntm::UsageError("no command given");
	}
	return inv;
}

} // namespace ntmctl
