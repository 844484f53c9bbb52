// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd configuration: /etc/ntm/ntmd.toml, parsed with toml++. The format is
 * documented in ntmd.toml(5) (Documentation/man/ntmd.toml.5). Every error
 * names the key and the line: "ntmd.toml:12: dc.pool4: expected a prefix
 * like 10.77.0.0/16".
 */
#ifndef NTM_CONFIG_HPP
#define NTM_CONFIG_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/model.hpp"
#include "ntm/sig.hpp"

namespace ntm::config {

/** A configuration error; what() is "<file>:<line>: <key>: <problem>". */
class ConfigError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/** host:port as written ("as.ntm.test:7481", "192.0.2.10:7481", "[2001:db8::1]:7481"). */
struct HostPort {
	std::string host;
	std::uint16_t port = 0;
	friend bool operator==(const HostPort &a, const HostPort &b) noexcept = default;
	[[nodiscard]] std::string to_string() const;
};

/** TLS identity; paths of PEM files. */
struct Tls {
	std::string ca;		 /* trust anchor for peers (required by as, dc; node) */
	std::string server_ca;	 /* trust anchor for AS, DC and RS certificates; default: ca (D78) */
	std::string certificate; /* own chain (required by as, dc; node in certificate mode) */
	std::string private_key;
};

struct Scrypt {
	unsigned n_log2 = 15; /* N = 2^n_log2, 10..20 */
	unsigned r = 8;	      /* 1..32 */
	unsigned p = 1;	      /* 1..16 */
};

struct As {
	std::vector<Endpoint> listen;  /* default 0.0.0.0:7481 and [::]:7481 */
	std::string database;	       /* default <state_dir>/accounts.db */
	std::chrono::seconds key_lifetime{86400};
	Scrypt kdf;
	/* where the DC of a domain is: explicit table, else DNS NS of the domain + dc_port */
	std::vector<std::pair<std::string, HostPort>> dcs; /* [as.dc] "ntm.test" = "dc.ntm.test:7482" */
	std::uint16_t dc_port = sig::kDefaultDcTlsPort;
	/* a DC found through DNS must be one of these names (D78); empty: any the server CA certifies */
	std::vector<std::string> dc_names;
};

struct Dc {
	std::string domain;	      /* required: the node domain this DC manages */
	std::uint16_t port = sig::kDefaultPort; /* UDP, both families */
	std::vector<Endpoint> listen_tls; /* default 0.0.0.0:7482 and [::]:7482 */
	std::string database;	      /* default <state_dir>/registry.db */
	std::optional<sig::Prefix> pool4; /* at least one pool required */
	std::optional<sig::Prefix> pool6;
	std::chrono::seconds keepalive_interval{20};
	std::chrono::seconds registration_lifetime{3600};
	std::vector<std::string> trusted_as; /* certificate DNS names allowed to distribute keys; required */
	std::vector<HostPort> relays; /* Relay Servers' TLS listeners, "rs1.ntm.test:7483"; none: no relaying */
	/* admission limits (D68), per minute, 0: no limit */
	std::uint32_t registration_rate = 30; /* Registrations per key */
	std::uint32_t direction_rate = 120;   /* Direction Requests per key */
	std::uint32_t address_rate = 1200;    /* Registrations + Direction Requests per source address */
	std::uint32_t notice_rate = 12;	      /* NOTICEs per source address (burst: a third) */
	std::uint32_t rate_table_size = 16384; /* entries per limit table and in the unknown-key cache */
};

/** TCP port of a Relay Server's listener for DCs (mutual TLS). */
inline constexpr std::uint16_t kDefaultRsTlsPort = 7483;

/** The Relay Server role (Documentation/protocol/relay.rst). */
struct Rs {
	std::string interface = "ntmrs0";	  /* ntm device carrying the relay sessions; created if missing */
	std::uint16_t port = sig::kDefaultPort; /* UDP, both families: Relay Binds and relayed data */
	std::vector<Endpoint> listen_tls;	  /* default 0.0.0.0:7483 and [::]:7483 */
	std::vector<IpAddress> addresses;	  /* required: what nodes send to (RELAY_EP), one per family at most */
	std::vector<std::string> trusted_dc;	  /* required: certificate DNS names of the DCs it serves */
	std::uint32_t max_sessions = 131072;	  /* relay sessions at once (kernel limit too) */
	std::chrono::seconds session_idle{120};	  /* a session with no packet for this long goes */
	std::uint64_t session_bytes = 0;	  /* per session, both directions together, 0: no limit */
};

enum class AuthMode { password, certificate };

struct Node {
	std::string interface = "ntm0";
	std::uint16_t port = sig::kDefaultPort;
	HostPort as;		/* required */
	AuthMode auth = AuthMode::password;
	std::string account;	/* required in password mode */
	std::string password_file; /* required in password mode; first line, mode 0600 or stricter */
	std::vector<std::uint8_t> ciphers{NTM_CIPHER_CHACHA20_POLY1305, NTM_CIPHER_AES_GCM};
	std::optional<HostPort> dc; /* skip the NS lookup */
	std::vector<Endpoint> dns_listen; /* default 127.0.0.77:53 */
	/* who may query the stub besides loopback; required when a dns_listen address is not loopback */
	std::vector<sig::Prefix> dns_allow;
	std::vector<Endpoint> dns_upstream; /* default: nameservers of /etc/resolv.conf except ours */
	bool dns_upstream_explicit = false; /* dns_upstream is the configuration's: never re-read (D99) */
	std::vector<std::string> ntm_domains; /* default: the domain of the node's FQDN */
	enum class Resolved { automatic, yes, no } resolved = Resolved::automatic;
	std::uint32_t tunnel_lifetime = 0; /* hard lifetime of one key, seconds; 0 = 2 * rekey_after */
	/* liveness and rekeying of data tunnels (tunnel-keys.rst) */
	std::chrono::seconds keepalive{10};   /* probe a peer silent this long; 0 = never */
	std::chrono::seconds dead_after{30};  /* remove a tunnel silent this long; 0 = never */
	std::chrono::seconds rekey_after{600}; /* the opener rekeys; 0 = never */
	std::uint64_t rekey_packets = 1ULL << 31; /* ... or after this many packets; 0 = never */
};

/** An IKE/ESP algorithm proposal, strongSwan syntax ("aes256gcm16-prfsha256-ecp256"). */
struct IkeProposal {
	std::uint16_t encr = 20;	      /* ike::Encr: 20 AES-GCM-16, 28 ChaCha20-Poly1305 */
	std::optional<std::uint16_t> key_bits; /* 128/192/256 for AES-GCM */
	std::uint16_t prf = 5;		      /* ike::Prf: 5/6/7 = HMAC-SHA2-256/384/512; IKE only */
	std::vector<std::uint16_t> dh;	      /* ike::DhGroup 19/31; IKE: at least one; ESP: PFS groups, may be empty */
	std::vector<std::uint16_t> esn;	      /* ESP only: 0 (no), 1 (yes); default {0} */
	friend bool operator==(const IkeProposal &, const IkeProposal &) = default;
};

/** An IKE identity as written: "fqdn:host.example", "ipv4:192.0.2.1", "email:a@b", "dn:CN=x, O=y", "keyid:hex". */
struct IkeId {
	std::uint8_t type = 2;		/* ike::IdType */
	std::vector<std::uint8_t> data; /* wire form; a dn is DER */
	std::string text;		/* as written, for logs */
	friend bool operator==(const IkeId &, const IkeId &) = default;
};

enum class IkeAuth { psk, pubkey };
enum class IkeStart { none, start, trap };

struct IkeConnection {
	std::string name;		     /* required, unique, [A-Za-z0-9_.-]{1,32} */
	std::vector<std::string> remote_addrs; /* hosts/addresses; empty or "%any": responder only */
	std::uint16_t remote_port = 500;
	std::optional<IkeId> local_id;	     /* default: the certificate's subject DN, else the local address */
	std::optional<IkeId> remote_id;	     /* required with remote_auth pubkey; absent = any (psk only) */
	bool remote_id_any = false;	     /* remote_id = "%any": any identity a certificate of ike.ca proves */
	IkeAuth local_auth = IkeAuth::psk;
	IkeAuth remote_auth = IkeAuth::psk;
	std::string psk_file;		     /* required with psk: first line, mode 0600 or stricter */
	std::string certificate;	     /* PEM; default [ike] certificate */
	std::string private_key;	     /* PEM; default [ike] private_key */
	std::vector<IkeProposal> proposals;     /* default aes256gcm16-prfsha256-ecp256, chacha20poly1305-prfsha256-x25519 */
	/* default: aes256gcm16, chacha20poly1305 (no PFS) and both again with x25519 or ecp256 (PFS); no ESN (D64) */
	std::vector<IkeProposal> esp_proposals;
	std::vector<sig::Prefix> local_ts;   /* required, at least one */
	std::vector<sig::Prefix> remote_ts;  /* required, at least one */
	IkeStart start_action = IkeStart::none;
	bool mobike = true;
	bool install_routes = true;	     /* routes to remote_ts through the interface */
	std::chrono::seconds dpd_delay{30};  /* 0: no DPD */
	std::chrono::seconds rekey_time{14400};	/* IKE SA, 0: never */
	std::chrono::seconds child_rekey_time{3600};	/* CHILD SA, 0: never */
	std::chrono::seconds child_life_time{0};	/* hard; default child_rekey_time * 11 / 10 */
	std::uint64_t child_rekey_bytes = 0;	/* soft limit, 0: none */
	std::uint64_t child_rekey_packets = 0;
};

struct Ike {
	std::string interface = "ipsec0"; /* ntm device for the ESP SAs; created if missing */
	std::uint16_t port = 500;	   /* plain IKE, both families */
	std::uint16_t natt_port = 4500;   /* IKE behind the non-ESP marker + ESP-in-UDP, adopted by ntm.ko */
	std::string ca;			   /* trust anchors (PEM, file) for certificate authentication */
	std::string certificate;
	std::string private_key;
	unsigned cookie_threshold = 32;	   /* half-open IKE SAs before COOKIE is required */
	unsigned half_open_max = 4096;	   /* drop IKE_SA_INIT beyond this */
	unsigned half_open_per_source = 16; /* and beyond this many from one address (D65) */
	std::chrono::milliseconds retransmit_timeout{1000}; /* first retransmission */
	double retransmit_base = 1.8;	   /* backoff factor */
	unsigned retransmit_tries = 5;	   /* then the peer is dead */
	std::chrono::seconds nat_keepalive{20};
	std::vector<IkeConnection> connections;
};

/** Default TCP port of [metrics] listen (D97). */
inline constexpr std::uint16_t kDefaultMetricsPort = 9477;

/** ntmd's Prometheus endpoint (D97): off unless [metrics] listen is given. */
struct Metrics {
	std::optional<Endpoint> listen;	 /* "127.0.0.1:9477"; an address that is not loopback needs allow_remote */
	bool allow_remote = false;
	std::uint32_t max_tunnel_series = 1000; /* per-tunnel series per device; the rest summed as peer="other" */
};

struct Config {
	std::string path; /* for messages */
	bool role_node = false;
	bool role_dc = false;
	bool role_as = false;
	bool role_ike = false;
	bool role_rs = false;
	std::string log_level = "info";
	std::string log_target = "auto"; /* auto, console, journal (D97) */
	std::string state_dir = "/var/lib/ntm";
	std::string control_socket = "/run/ntm/ntmd.sock"; /* ntmctl <-> ntmd, JSON lines */
	std::vector<Endpoint> dns_servers; /* resolver for NS/A/AAAA lookups of servers; default resolv.conf */
	Tls tls;
	std::optional<As> as;
	std::optional<Dc> dc;
	std::optional<Node> node;
	std::optional<Ike> ike;
	std::optional<Rs> rs;
	Metrics metrics;
};

/** Where the defaults of dns_servers and node.dns_upstream come from. */
inline constexpr const char *kResolvConf = "/etc/resolv.conf";
/** Files larger than this are refused (load). */
inline constexpr std::size_t kMaxConfigSize = std::size_t{1} << 20;

/** "aes256gcm16-prfsha256-ecp256" (ike = true) or "aes128gcm16-esn" (ESP). Throws std::invalid_argument. */
IkeProposal parse_ike_proposal(std::string_view s, bool ike);
/** "fqdn:x", "ipv4:a", "ipv6:a", "email:x", "dn:CN=..", "keyid:hex"; a bare string is an address or FQDN. Throws std::invalid_argument. */
IkeId parse_ike_id(std::string_view s);

/** Parses the file; throws ConfigError. Reads kResolvConf for the defaults. */
Config load(const std::string &path);
/** Parses text (path is used in messages only); throws ConfigError. Reads kResolvConf for the defaults. */
Config parse(std::string_view text, const std::string &path);
/**
 * As above with the text of resolv.conf given instead of read (tests,
 * fuzzing): its nameservers are the defaults of dns_servers and
 * node.dns_upstream.
 */
Config parse(std::string_view text, const std::string &path, std::string_view resolv_conf);

/** "host:port" / "[v6]:port" / "host" (default_port). Throws std::invalid_argument. */
HostPort parse_host_port(std::string_view s, std::uint16_t default_port);
/** "10.77.0.0/16", host bits must be zero. Throws std::invalid_argument. */
sig::Prefix parse_prefix(std::string_view s);
/** Nameserver lines of a resolv.conf text, port 53. */
std::vector<Endpoint> parse_resolv_conf(std::string_view text);

/**
 * A DNS name as ntmd.toml accepts it: labels of letters, digits and '-'
 * (not first or last), 1..63 bytes each, 253 in all, an optional trailing
 * dot, the last label not all digits.
 */
bool is_dns_name(std::string_view s) noexcept;

} // namespace ntm::config

#endif
