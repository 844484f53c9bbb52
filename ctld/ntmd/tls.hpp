// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 (OpenSSL through asio::ssl) for the AS and the DC: contexts from
 * the [tls] configuration, framed messages (be32 length | body, see
 * Documentation/protocol/signalling.rst), and the name check of a peer's
 * certificate.
 */
#ifndef NTMD_TLS_HPP
#define NTMD_TLS_HPP

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>

#include "ntm/config.hpp"

namespace ntmd::tls {

using Stream = asio::ssl::stream<asio::ip::tcp::socket>;

/** Who connects to a server (D78). */
enum class Clients {
	nodes,	 /* the AS: a client certificate is optional, verified against tls.ca */
	servers, /* the DC (from the AS), the RS (from a DC): required, against tls.server_ca */
};

/**
 * TLS 1.3 only. Server: own certificate and key; verifies client
 * certificates as `clients` says. Client: verifies the server against
 * tls.server_ca, else tls.ca, else (a node without either) the system's
 * trust store (hostname checked by the caller with set_verify_host());
 * with_cert presents the own certificate. A peer's certificate must
 * carry the extended key usage of its side (serverAuth, clientAuth).
 * Throws ntm::Error naming the file on any failure.
 */
asio::ssl::context server_context(const ntm::config::Tls &t, Clients clients);
asio::ssl::context client_context(const ntm::config::Tls &t, bool with_cert);
/*
 * The loaders under the two above, also used by ntmd --check-config (D95):
 * a CA file (key: "tls.ca" or "tls.server_ca"), the own chain, the own
 * private key (checked against the chain when one is loaded). Each throws
 * ntm::Error as "KEY PATH: problem".
 */
void load_ca(asio::ssl::context &ctx, const char *key, const std::string &file);
void load_certificate(asio::ssl::context &ctx, const ntm::config::Tls &t);
void load_private_key(asio::ssl::context &ctx, const ntm::config::Tls &t);

/** SNI + hostname verification of the server certificate: subjectAltName only, never the CN. */
void set_verify_host(Stream &s, const std::string &host);

/** Reads one frame; throws ntm::Error on EOF, error, or length > kMaxFrame. */
asio::awaitable<std::vector<std::uint8_t>> read_frame(Stream &s);
/** Like read_frame(), but nullopt when the peer closed cleanly between frames. */
asio::awaitable<std::optional<std::vector<std::uint8_t>>> read_frame_or_eof(Stream &s);
/** Writes be32 length | body; throws ntm::Error (also for an empty or oversized body). */
asio::awaitable<void> write_frame(Stream &s, std::span<const std::uint8_t> body);

/** DNS names (subjectAltName dNSName) of the verified peer certificate. */
std::vector<std::string> peer_dns_names(Stream &s);

} // namespace ntmd::tls

#endif
