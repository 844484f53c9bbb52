// SPDX-License-Identifier: GPL-2.0
#include "ike_cred.hpp"

#include <cstdio>
#include <cstring>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ntm/error.hpp"

namespace ntmd::ikecred {

namespace {

struct FileClose {
	void operator()(FILE *f) const noexcept
	{
		(void)std::fclose(f); // NOLINT(cppcoreguidelines-owning-memory): the unique_ptr owns it
	}
};
using FilePtr = std::unique_ptr<FILE, FileClose>;

struct CtxFree {
	void operator()(X509_STORE_CTX *c) const noexcept { X509_STORE_CTX_free(c); }
};
struct StackFree {
	void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
struct NameFree {
	void operator()(X509_NAME *n) const noexcept { X509_NAME_free(n); }
};
using NamePtr = std::unique_ptr<X509_NAME, NameFree>;

FilePtr open_file(const std::string &path, const char *what)
{
	FilePtr f(std::fopen(path.c_str(), "re"));
	if (!f)
		ntm::throw_errno(std::string(what) + " " + path);
	return f;
}

std::string ssl_error()
{
	const unsigned long e = ERR_get_error();
	ERR_clear_error();
	if (e == 0)
		return "unknown OpenSSL error";
	char buf[256];
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

std::vector<X509Ptr> read_certs(const std::string &path, const char *what)
{
	auto f = open_file(path, what);
	std::vector<X509Ptr> out;
	for (;;) {
		X509Ptr x(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
		if (!x)
			break;
		out.push_back(std::move(x));
	}
	ERR_clear_error();
	if (out.empty())
		throw ntm::Error(std::string(what) + " " + path + ": no PEM certificate in it", EINVAL);
	return out;
}

NamePtr decode_dn(const ntm::ike::Bytes &der)
{
	const unsigned char *p = der.data();
	NamePtr n(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
	if (n && p != der.data() + der.size())
		n.reset();
	ERR_clear_error();
	return n;
}

} // namespace

TrustAnchors load_trust_anchors(const std::string &pem_file)
{
	TrustAnchors ta;
	ta.store.reset(X509_STORE_new());
	if (!ta.store)
		throw ntm::Error("X509_STORE_new: " + ssl_error());
	for (auto &x : read_certs(pem_file, "CA file")) {
		if (X509_STORE_add_cert(ta.store.get(), x.get()) != 1)
			throw ntm::Error("CA file " + pem_file + ": " + ssl_error(), EINVAL);
		/* CERTREQ: SHA-1 of the DER SubjectPublicKeyInfo (RFC 7296 section 3.7) */
		unsigned char *der = nullptr;
		const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x.get()), &der);
		if (len <= 0)
			throw ntm::Error("CA file " + pem_file + ": " + ssl_error(), EINVAL);
		unsigned char md[SHA_DIGEST_LENGTH];
		SHA1(der, static_cast<std::size_t>(len), md);
		OPENSSL_free(der);
		ta.certreq.insert(ta.certreq.end(), md, md + SHA_DIGEST_LENGTH);
		ta.count++;
	}
	return ta;
}

ntm::ike::Identity Identity::subject_id() const
{
	ntm::ike::Identity id;
	id.type = ntm::ike::IdType::der_asn1_dn;
	unsigned char *der = nullptr;
	const int len = i2d_X509_NAME(X509_get_subject_name(chain.front().get()), &der);
	if (len <= 0)
		throw ntm::Error("certificate subject: " + ssl_error());
	id.data.assign(der, der + len);
	OPENSSL_free(der);
	return id;
}

Identity load_identity(const std::string &cert_pem, const std::string &key_pem)
{
	Identity id;
	id.chain = read_certs(cert_pem, "certificate");
	auto f = open_file(key_pem, "private key");
	id.key.reset(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
	if (!id.key)
		throw ntm::Error("private key " + key_pem + ": " + ssl_error(), EINVAL);
	const int type = EVP_PKEY_get_base_id(id.key.get());
	if (type != EVP_PKEY_EC && type != EVP_PKEY_ED25519)
		throw ntm::Error("private key " + key_pem + ": only ECDSA and Ed25519 keys are supported", EINVAL);
	if (X509_check_private_key(id.chain.front().get(), id.key.get()) != 1) {
		ERR_clear_error();
		throw ntm::Error("private key " + key_pem + " does not belong to certificate " + cert_pem, EINVAL);
	}
	return id;
}

ntm::ike::Bytes cert_der(X509 *x)
{
	unsigned char *der = nullptr;
	const int len = i2d_X509(x, &der);
	if (len <= 0)
		throw ntm::Error("i2d_X509: " + ssl_error());
	ntm::ike::Bytes out(der, der + len);
	OPENSSL_free(der);
	return out;
}

bool same_identity(const ntm::ike::Identity &a, const ntm::ike::Identity &b)
{
	if (a.type != b.type)
		return false;
	if (a.type == ntm::ike::IdType::der_asn1_dn) {
		auto na = decode_dn(a.data);
		auto nb = decode_dn(b.data);
		return na && nb && X509_NAME_cmp(na.get(), nb.get()) == 0;
	}
	if (a.type == ntm::ike::IdType::fqdn || a.type == ntm::ike::IdType::rfc822_addr) {
		if (a.data.size() != b.data.size())
			return false;
		for (std::size_t i = 0; i < a.data.size(); i++) {
			const auto ca = static_cast<unsigned char>(std::tolower(a.data[i]));
			const auto cb = static_cast<unsigned char>(std::tolower(b.data[i]));
			if (ca != cb)
				return false;
		}
		return true;
	}
	return a.data == b.data;
}

PkeyPtr verify_peer(const std::vector<ntm::ike::Cert> &certs, const TrustAnchors &ta, const ntm::ike::Identity &id,
		    std::string &why)
{
	if (certs.empty()) {
		why = "no CERT payload";
		return {};
	}
	std::vector<X509Ptr> parsed;
	for (const auto &c : certs) {
		if (c.encoding != ntm::ike::CertEncoding::x509_sig) {
			why = "unsupported certificate encoding " + std::to_string(static_cast<int>(c.encoding));
			return {};
		}
		const unsigned char *p = c.data.data();
		X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(c.data.size())));
		if (!x || p != c.data.data() + c.data.size()) {
			ERR_clear_error();
			why = "malformed certificate";
			return {};
		}
		parsed.push_back(std::move(x));
	}
	std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
	if (!untrusted)
		throw ntm::Error("sk_X509_new_null: " + ssl_error());
	for (std::size_t i = 1; i < parsed.size(); i++) {
		if (sk_X509_push(untrusted.get(), parsed[i].get()) == 0)
			throw ntm::Error("sk_X509_push: " + ssl_error());
		(void)parsed[i].release();
	}
	std::unique_ptr<X509_STORE_CTX, CtxFree> ctx(X509_STORE_CTX_new());
	if (!ctx || X509_STORE_CTX_init(ctx.get(), ta.store.get(), parsed[0].get(), untrusted.get()) != 1)
		throw ntm::Error("X509_STORE_CTX: " + ssl_error());
	if (X509_verify_cert(ctx.get()) != 1) {
		why = std::string("certificate not trusted: ") +
		      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
		ERR_clear_error();
		return {};
	}
	X509 *leaf = parsed[0].get();
	bool bound = false;
	const std::string text(id.data.begin(), id.data.end());
	switch (id.type) {
	case ntm::ike::IdType::der_asn1_dn: {
		auto n = decode_dn(id.data);
		bound = n && X509_NAME_cmp(n.get(), X509_get_subject_name(leaf)) == 0;
		break;
	}
	case ntm::ike::IdType::fqdn:
		bound = X509_check_host(leaf, text.data(), text.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
		break;
	case ntm::ike::IdType::rfc822_addr:
		bound = X509_check_email(leaf, text.data(), text.size(), 0) == 1;
		break;
	case ntm::ike::IdType::ipv4_addr:
	case ntm::ike::IdType::ipv6_addr:
		bound = X509_check_ip(leaf, id.data.data(), id.data.size(), 0) == 1;
		break;
	default:
		break;
	}
	ERR_clear_error();
	if (!bound) {
		why = "the certificate does not certify identity " + id.to_string();
		return {};
	}
	PkeyPtr key(X509_get_pubkey(leaf));
	if (!key)
		why = "certificate without a usable public key";
	return key;
}

ntm::SecretBytes load_psk(const std::string &path)
{
	const auto text = ntm::read_password_file(path, 1024);
	ntm::SecretBytes k(text.size());
	std::memcpy(k.data(), text.data(), text.size());
	return k;
}

} // namespace ntmd::ikecred
