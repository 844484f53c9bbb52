// SPDX-License-Identifier: GPL-2.0
#include "check_certs.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <ctime>
#include <exception>
#include <memory>
#include <vector>

#include <asio/ssl/context.hpp>

#include "ike_cred.hpp"
#include "tls.hpp"

namespace ntmd::check {

namespace {

struct BioFree {
	void operator()(BIO *b) const noexcept { BIO_free(b); }
};
struct Asn1TimeFree {
	void operator()(ASN1_TIME *t) const noexcept { ASN1_TIME_free(t); }
};

/*
 * A loader's message names its file ("tls.certificate /etc/ntm/c.pem: no
 * start line", "private key /k does not belong to certificate /c"): the
 * file named first is the one the line is about, and what follows its name
 * is the problem.
 */
struct Named {
	std::string file;
	std::string what; /* its configuration key */
};

void report_load_error(Report &r, const std::string &msg, const std::vector<Named> &files)
{
	std::size_t best = std::string::npos;
	const Named *named = nullptr;
	for (const auto &n : files) {
		const auto pos = n.file.empty() ? std::string::npos : msg.find(n.file);
		if (pos < best) {
			best = pos;
			named = &n;
		}
	}
	if (named == nullptr) {
		r.error(files.front().file, files.front().what + ": " + msg);
		return;
	}
	std::string rest = msg.substr(best + named->file.size());
	if (rest.starts_with(": "))
		rest.erase(0, 2);
	else if (rest.starts_with(' '))
		rest.erase(0, 1);
	r.error(named->file, named->what + ": " + rest);
}

std::string subject(X509 *x)
{
	const std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
	if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0)
		return "?";
	char *data = nullptr;
	const long len = BIO_get_mem_data(bio.get(), &data);
	return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string("(empty subject)");
}

std::string date(const ASN1_TIME *t)
{
	std::tm tm{};
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return "?";
	std::array<char, 32> buf{};
	if (std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		return "?";
	return buf.data();
}

void check_store(Report &r, const Options &o, const std::string &file, const std::string &what, X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if (X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i)); x != nullptr)
			check_validity(r, o, file, what, x);
}

void check_eku(Report &r, const ntm::config::Tls &t, X509 *leaf, TlsUses uses)
{
	const bool any = (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) != 0;
	const std::uint32_t xku = X509_get_extended_key_usage(leaf);
	if (uses.server && (!any || (xku & XKU_SSL_SERVER) == 0))
		r.error(t.certificate, "tls.certificate: no extended key usage serverAuth: its clients refuse it (D78)");
	if (uses.client && (!any || (xku & XKU_SSL_CLIENT) == 0))
		r.error(t.certificate, "tls.certificate: no extended key usage clientAuth: the servers it connects to "
				       "refuse it (D78)");
}

} // namespace

void check_validity(Report &r, const Options &o, const std::string &file, const std::string &what, X509 *x)
{
	std::time_t now = o.now;
	const ASN1_TIME *not_before = X509_get0_notBefore(x);
	const ASN1_TIME *not_after = X509_get0_notAfter(x);
	const std::string name = "certificate \"" + subject(x) + "\"";
	if (X509_cmp_time(not_before, &now) > 0) {
		r.error(file, what + ": " + name + " is not valid before " + date(not_before));
		return;
	}
	if (X509_cmp_time(not_after, &now) < 0) {
		r.error(file, what + ": " + name + " expired on " + date(not_after));
		return;
	}
	std::time_t soon = now + static_cast<std::time_t>(o.expiry_warning_days) * 86400;
	if (X509_cmp_time(not_after, &soon) >= 0)
		return;
	int days = 0;
	int secs = 0;
	const std::unique_ptr<ASN1_TIME, Asn1TimeFree> from(ASN1_TIME_set(nullptr, now));
	if (!from || ASN1_TIME_diff(&days, &secs, from.get(), not_after) != 1)
		days = 0;
	r.warning(file, what + ": " + name + " expires on " + date(not_after) + ", in " + std::to_string(days) +
				(days == 1 ? " day" : " days"));
}

void check_tls_ca(Report &r, const Options &o, const char *key, const std::string &file)
{
	try {
		asio::ssl::context ctx(asio::ssl::context::tls);
		tls::load_ca(ctx, key, file);
		check_store(r, o, file, key, SSL_CTX_get_cert_store(ctx.native_handle()));
	} catch (const std::exception &e) {
		ERR_clear_error();
		report_load_error(r, e.what(), {{file, key}});
	}
}

void check_tls_identity(Report &r, const Options &o, const ntm::config::Tls &t, bool cert_opens, bool key_opens,
			TlsUses uses)
{
	asio::ssl::context ctx(asio::ssl::context::tls);
	bool have_cert = false;
	if (cert_opens) {
		try {
			tls::load_certificate(ctx, t);
			have_cert = true;
		} catch (const std::exception &e) {
			ERR_clear_error();
			report_load_error(r, e.what(), {{t.certificate, "tls.certificate"}});
		}
	}
	if (have_cert) {
		SSL_CTX *c = ctx.native_handle();
		X509 *leaf = SSL_CTX_get0_certificate(c);
		check_validity(r, o, t.certificate, "tls.certificate", leaf);
		check_eku(r, t, leaf, uses);
		STACK_OF(X509) *chain = nullptr;
		if (SSL_CTX_get0_chain_certs(c, &chain) == 1 && chain != nullptr)
			for (int i = 0; i < sk_X509_num(chain); i++)
				check_validity(r, o, t.certificate, "tls.certificate", sk_X509_value(chain, i));
	}
	/* a key is parsed even when the certificate did not load; matched against it when it did */
	if (key_opens) {
		try {
			tls::load_private_key(ctx, t);
		} catch (const std::exception &e) {
			ERR_clear_error();
			report_load_error(r, e.what(), {{t.private_key, "tls.private_key"}, {t.certificate, "tls.certificate"}});
		}
	}
}

void check_ike_ca(Report &r, const Options &o, const std::string &file)
{
	try {
		const auto ta = ikecred::load_trust_anchors(file);
		check_store(r, o, file, "ike.ca", ta.store.get());
	} catch (const std::exception &e) {
		ERR_clear_error();
		report_load_error(r, e.what(), {{file, "ike.ca"}});
	}
}

void check_ike_identity(Report &r, const Options &o, const std::string &prefix, const std::string &cert,
			const std::string &key)
{
	try {
		const auto id = ikecred::load_identity(cert, key);
		for (const auto &x : id.chain)
			check_validity(r, o, cert, prefix + "certificate", x.get());
	} catch (const std::exception &e) {
		ERR_clear_error();
		report_load_error(r, e.what(), {{cert, prefix + "certificate"}, {key, prefix + "private_key"}});
	}
}

} // namespace ntmd::check
