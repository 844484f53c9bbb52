// SPDX-License-Identifier: GPL-2.0
#include "tls.hpp"

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cerrno>
#include <memory>
#include <system_error>

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"

namespace ntmd::tls {

namespace {

using asio::use_awaitable;

/* "tls.certificate /etc/ntm/host.pem: no such file" before OpenSSL gets to say anything vaguer. */
void check_file(const char *key, const std::string &path)
{
	if (path.empty())
		throw ntm::Error(std::string(key) + ": not configured");
	struct stat st {};
	if (::stat(path.c_str(), &st) < 0) {
		const int err = errno;
		if (err == ENOENT)
			throw ntm::Error(std::string(key) + " " + path + ": no such file", err);
		throw ntm::Error(std::string(key) + " " + path + ": " + ntm::errno_string(err), err);
	}
	if (!S_ISREG(st.st_mode))
		throw ntm::Error(std::string(key) + " " + path + ": not a regular file");
}

[[noreturn]] void throw_load(const char *key, const std::string &path, const std::error_code &ec)
{
	throw ntm::Error(std::string(key) + " " + path + ": " + ec.message());
}

asio::ssl::context base_context(asio::ssl::context::method m)
{
	asio::ssl::context ctx(m);
	SSL_CTX *c = ctx.native_handle();
	if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1)
		throw ntm::Error("TLS: cannot restrict the context to TLS 1.3");
	ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
	/* no session resumption: every connection is long-lived or a one-shot login */
	(void)SSL_CTX_set_num_tickets(c, 0);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	return ctx;
}

} // namespace

void load_ca(asio::ssl::context &ctx, const char *key, const std::string &file)
{
	check_file(key, file);
	std::error_code ec;
	ctx.load_verify_file(file, ec);
	if (ec)
		throw_load(key, file, ec);
}

void load_certificate(asio::ssl::context &ctx, const ntm::config::Tls &t)
{
	check_file("tls.certificate", t.certificate);
	std::error_code ec;
	ctx.use_certificate_chain_file(t.certificate, ec);
	if (ec)
		throw_load("tls.certificate", t.certificate, ec);
}

void load_private_key(asio::ssl::context &ctx, const ntm::config::Tls &t)
{
	check_file("tls.private_key", t.private_key);
	std::error_code ec;
	ctx.use_private_key_file(t.private_key, asio::ssl::context::pem, ec);
	if (ec && ec.category() == asio::error::get_ssl_category() &&
	    ERR_GET_LIB(static_cast<unsigned long>(ec.value())) == ERR_LIB_X509 &&
	    ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH)
		throw ntm::Error("tls.private_key " + t.private_key + ": does not match tls.certificate " +
				 t.certificate);
	if (ec)
		throw_load("tls.private_key", t.private_key, ec);
	if (SSL_CTX_get0_certificate(ctx.native_handle()) != nullptr &&
	    SSL_CTX_check_private_key(ctx.native_handle()) != 1)
		throw ntm::Error("tls.private_key " + t.private_key + ": does not match tls.certificate " +
				 t.certificate);
}

namespace {

void load_identity(asio::ssl::context &ctx, const ntm::config::Tls &t)
{
	load_certificate(ctx, t);
	load_private_key(ctx, t);
}

/* The CA of AS, DC and RS certificates: server_ca, or ca when there is no separate one. */
void load_server_ca(asio::ssl::context &ctx, const ntm::config::Tls &t)
{
	if (!t.server_ca.empty())
		load_ca(ctx, "tls.server_ca", t.server_ca);
	else
		load_ca(ctx, "tls.ca", t.ca);
}

/*
 * The peer's own certificate must name the use it is put to: OpenSSL's
 * purpose check lets a certificate without any extendedKeyUsage act as
 * anything, so a node's certificate could serve as a DC's.  Required here
 * (D78); the chain's other errors are OpenSSL's.
 */
void require_eku(asio::ssl::context &ctx, std::uint32_t xku)
{
	ctx.set_verify_callback([xku](bool preverified, asio::ssl::verify_context &vc) {
		X509_STORE_CTX *sc = vc.native_handle();
		if (!preverified || X509_STORE_CTX_get_error_depth(sc) != 0)
			return preverified;
		X509 *cert = X509_STORE_CTX_get_current_cert(sc);
		if (cert == nullptr || (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 ||
		    (X509_get_extended_key_usage(cert) & xku) == 0) {
			X509_STORE_CTX_set_error(sc, X509_V_ERR_INVALID_PURPOSE);
			return false;
		}
		return true;
	});
}

std::uint32_t be32(const std::array<std::uint8_t, 4> &b) noexcept
{
	return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
	       std::uint32_t{b[3]};
}

bool is_eof(const std::error_code &ec) noexcept
{
	return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

struct GeneralNamesFree {
	void operator()(GENERAL_NAMES *g) const noexcept { GENERAL_NAMES_free(g); }
};

} // namespace

asio::ssl::context server_context(const ntm::config::Tls &t, Clients clients)
{
	asio::ssl::context ctx = base_context(asio::ssl::context::tls_server);
	load_identity(ctx, t);
	if (clients == Clients::servers) {
		load_server_ca(ctx, t);
		ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
	} else {
		load_ca(ctx, "tls.ca", t.ca);
		ctx.set_verify_mode(asio::ssl::verify_peer);
	}
	require_eku(ctx, XKU_SSL_CLIENT);
	return ctx;
}

asio::ssl::context client_context(const ntm::config::Tls &t, bool with_cert)
{
	asio::ssl::context ctx = base_context(asio::ssl::context::tls_client);
	if (t.ca.empty() && t.server_ca.empty()) {
		/* a node without [tls] ca trusts the system's store */
		std::error_code ec;
		ctx.set_default_verify_paths(ec);
		if (ec)
			throw ntm::Error("TLS: cannot load the system's trust store: " + ec.message());
	} else {
		load_server_ca(ctx, t);
	}
	if (with_cert)
		load_identity(ctx, t);
	ctx.set_verify_mode(asio::ssl::verify_peer);
	require_eku(ctx, XKU_SSL_SERVER);
	return ctx;
}

void set_verify_host(Stream &s, const std::string &host)
{
	SSL *ssl = s.native_handle();
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	std::error_code ec;
	(void)asio::ip::make_address(host, ec);
	if (!ec) {
		/* a literal address: match an iPAddress SAN, no SNI (RFC 6066) */
		if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
			throw ntm::Error("TLS: cannot verify address " + host);
		return;
	}
	if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
		throw ntm::Error("TLS: invalid server name " + host);
	/* subjectAltName only: a CN that looks like the name proves nothing (RFC 6125 6.4.4) */
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1)
		throw ntm::Error("TLS: cannot verify host name " + host);
}

asio::awaitable<std::optional<std::vector<std::uint8_t>>> read_frame_or_eof(Stream &s)
{
	std::array<std::uint8_t, 4> hdr{};
	std::error_code ec;
	std::size_t n = co_await asio::async_read(s, asio::buffer(hdr), asio::redirect_error(use_awaitable, ec));
	if (ec) {
		if (is_eof(ec) && n == 0)
			co_return std::nullopt;
		throw ntm::Error(is_eof(ec) ? std::string("connection closed in a frame header")
					    : "read: " + ec.message());
	}
	const std::uint32_t len = be32(hdr);
	if (len == 0 || len > ntm::sig::kMaxFrame)
		throw ntm::Error("invalid frame length " + std::to_string(len));
	std::vector<std::uint8_t> body(len);
	n = co_await asio::async_read(s, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
	if (ec) {
		ntm::secure_wipe(body.data(), n);
		throw ntm::Error(is_eof(ec) ? std::string("connection closed in a frame") : "read: " + ec.message());
	}
	co_return body;
}

asio::awaitable<std::vector<std::uint8_t>> read_frame(Stream &s)
{
	auto body = co_await read_frame_or_eof(s);
	if (!body)
		throw ntm::Error("connection closed by peer");
	co_return std::move(*body);
}

asio::awaitable<void> write_frame(Stream &s, std::span<const std::uint8_t> body)
{
	if (body.empty() || body.size() > ntm::sig::kMaxFrame)
		throw ntm::Error("invalid frame length " + std::to_string(body.size()));
	const auto len = static_cast<std::uint32_t>(body.size());
	const std::array<std::uint8_t, 4> hdr{static_cast<std::uint8_t>(len >> 24),
					      static_cast<std::uint8_t>(len >> 16), static_cast<std::uint8_t>(len >> 8),
					      static_cast<std::uint8_t>(len)};
	const std::array<asio::const_buffer, 2> bufs{asio::buffer(hdr), asio::buffer(body.data(), body.size())};
	std::error_code ec;
	co_await asio::async_write(s, bufs, asio::redirect_error(use_awaitable, ec));
	if (ec)
		throw ntm::Error("write: " + ec.message());
}

std::vector<std::string> peer_dns_names(Stream &s)
{
	std::vector<std::string> names;
	SSL *ssl = s.native_handle();
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK)
		return names;
	const std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> gens(
		static_cast<GENERAL_NAMES *>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
	if (!gens)
		return names;
	const int count = sk_GENERAL_NAME_num(gens.get());
	for (int i = 0; i < count; ++i) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens.get(), i);
		if (g == nullptr || g->type != GEN_DNS)
			continue;
		const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
		const int len = ASN1_STRING_length(g->d.dNSName);
		if (p == nullptr || len <= 0)
			continue;
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		const std::string_view raw(reinterpret_cast<const char *>(p), static_cast<std::size_t>(len));
		if (raw.find('\0') != std::string_view::npos)
			continue; /* embedded NUL: not a name */
		names.push_back(ntm::dns::normalize_name(raw));
	}
	return names;
}

} // namespace ntmd::tls
