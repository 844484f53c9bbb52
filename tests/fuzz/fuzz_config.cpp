// SPDX-License-Identifier: GPL-2.0
/*
 * config::parse() on arbitrary text either returns a consistent Config or
 * throws ConfigError with a "<path>:<line>: " message. Anything else that
 * escapes (another exception type, a sanitizer report) is a bug: only
 * ConfigError is caught, so it crashes and the fuzzer keeps the input.
 */
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "ntm/config.hpp"

namespace {

constexpr std::string_view kPath = "fuzz.toml";
constexpr std::string_view kResolv = "nameserver 192.0.2.53\nnameserver 127.0.0.77\nnameserver fe80::1%eth0\n";

/* "fuzz.toml:<digits>: " */
bool well_formed(std::string_view msg)
{
	if (!msg.starts_with(kPath) || msg.size() <= kPath.size() + 1 || msg[kPath.size()] != ':')
		return false;
	std::size_t i = kPath.size() + 1;
	const std::size_t digits = i;
	while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9')
		i++;
	return i > digits && msg[digits] != '0' && msg.substr(i).starts_with(": ");
}

void check_host_port(const ntm::config::HostPort &hp)
{
	FUZZ_CHECK(hp.port != 0);
	const auto again = ntm::config::parse_host_port(hp.to_string(), 1);
	FUZZ_CHECK(again == hp);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace ntm::config;
	try {
		const Config c = parse(as_text(data, size), std::string(kPath), kResolv);
		FUZZ_CHECK(c.role_node || c.role_dc || c.role_as || c.role_ike);
		FUZZ_CHECK(c.role_node == c.node.has_value());
		FUZZ_CHECK(c.role_ike == c.ike.has_value());
		FUZZ_CHECK(c.role_dc == c.dc.has_value());
		FUZZ_CHECK(c.role_as == c.as.has_value());
		if (c.as) {
			FUZZ_CHECK(!c.as->listen.empty());
			FUZZ_CHECK(!c.tls.ca.empty() && !c.tls.certificate.empty() && !c.tls.private_key.empty());
			for (const auto &[domain, hp] : c.as->dcs) {
				FUZZ_CHECK(is_dns_name(domain));
				check_host_port(hp);
			}
		}
		if (c.dc) {
			FUZZ_CHECK(c.dc->pool4 || c.dc->pool6);
			FUZZ_CHECK(!c.dc->trusted_as.empty());
			FUZZ_CHECK(c.dc->registration_lifetime >= 3 * c.dc->keepalive_interval);
			FUZZ_CHECK(is_dns_name(c.dc->domain));
		}
		if (c.node) {
			FUZZ_CHECK(!c.node->ciphers.empty());
			FUZZ_CHECK(!c.node->dns_listen.empty());
			FUZZ_CHECK(!c.tls.ca.empty());
			check_host_port(c.node->as);
			if (c.node->dc)
				check_host_port(*c.node->dc);
			if (c.node->auth == AuthMode::password)
				FUZZ_CHECK(!c.node->account.empty() && !c.node->password_file.empty());
		}
		if (c.ike) {
			FUZZ_CHECK(c.ike->port != c.ike->natt_port);
			FUZZ_CHECK(c.ike->cookie_threshold <= c.ike->half_open_max);
			FUZZ_CHECK(!c.ike->connections.empty());
			for (const auto &k : c.ike->connections) {
				FUZZ_CHECK(!k.name.empty() && !k.local_ts.empty() && !k.remote_ts.empty());
				FUZZ_CHECK(!k.proposals.empty() && !k.esp_proposals.empty());
				for (const auto &p : k.proposals)
					FUZZ_CHECK(!p.dh.empty() && p.esn.empty());
				for (const auto &p : k.esp_proposals)
					FUZZ_CHECK(!p.esn.empty());
				if (k.local_auth == IkeAuth::pubkey)
					FUZZ_CHECK(!k.certificate.empty() && !k.private_key.empty());
				if (k.remote_auth == IkeAuth::pubkey)
					FUZZ_CHECK(!c.ike->ca.empty());
				if (k.local_auth == IkeAuth::psk || k.remote_auth == IkeAuth::psk)
					FUZZ_CHECK(!k.psk_file.empty());
				if (k.start_action != IkeStart::none)
					FUZZ_CHECK(!k.remote_addrs.empty());
				for (const auto *id : {&k.local_id, &k.remote_id})
					if (*id)
						FUZZ_CHECK(parse_ike_id((*id)->text) == **id);
			}
		}
	} catch (const ConfigError &e) {
		FUZZ_CHECK(well_formed(e.what()));
	}
	return 0;
}
