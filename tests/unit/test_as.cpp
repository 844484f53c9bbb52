// SPDX-License-Identifier: GPL-2.0
/*
 * The Account Server, the DC's key listener and the node's login, over real
 * TLS 1.3 on 127.0.0.1 with a throwaway CA made by the openssl CLI.
 */
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "as.hpp"
#include "ntm/error.hpp"
#include "ntm/store.hpp"
#include "resolver.hpp"
#include "temp_dir.hpp"
#include "tls.hpp"

namespace {

namespace fs = std::filesystem;
using asio::awaitable;
using ntm::sig::Status;
using namespace std::chrono_literals;

const char *const kPassword = "correct horse battery";

std::string quote(const fs::path &p)
{
	return "'" + p.string() + "'";
}

void sh(const std::string &cmd)
{
	// NOLINTNEXTLINE(cert-env33-c,concurrency-mt-unsafe): test setup, fixed commands
	const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
	if (rc != 0)
		throw std::runtime_error("command failed: " + cmd);
}

void write_file(const fs::path &p, const std::string &text, mode_t mode)
{
	{
		std::ofstream f(p, std::ios::trunc);
		f << text;
	}
	::chmod(p.c_str(), mode);
}

/* CA and leaf certificates (ECDSA P-256), shared by all tests. */
class Pki {
	ntm::test::TempDir tmp_{"ntm-as-test"}; /* first: dir names it */

public:
	Pki()
	{
		write_file(dir / "ca.cnf",
			   "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ntm test CA\n"
			   "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
			   "subjectKeyIdentifier = hash\n",
			   0644);
		sh("openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -config " +
		   quote(dir / "ca.cnf") + " -extensions ca -keyout " + quote(dir / "ca.key") + " -out " +
		   quote(dir / "ca.pem"));
		leaf("as", "DNS:as.test.local,IP:127.0.0.1");
		leaf("dc", "DNS:dc.test.local,IP:127.0.0.1");
		leaf("rogue", "DNS:rogue.test.local");
		leaf("nodea", "DNS:a.ntm.test");
		leaf("nodec", "DNS:c.ntm.test");
		leaf("nodeb", "DNS:b.ntm.test");
		leaf("noded", "DNS:d.ntm.test");
		/* D78: no CN fallback, EKUs, a separate server CA */
		leaf("cnonly", "", "serverAuth,clientAuth", "as.test.local");
		leaf("clientonly", "DNS:as.test.local,IP:127.0.0.1", "clientAuth");
		leaf("noeku", "DNS:as.test.local,IP:127.0.0.1", "");
		leaf("serveronly", "DNS:as.test.local,IP:127.0.0.1", "serverAuth");
		sh("openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -config " +
		   quote(dir / "ca.cnf") + " -extensions ca -subj /CN=ntm-server-CA -keyout " +
		   quote(dir / "srvca.key") + " -out " + quote(dir / "srvca.pem"));
		leaf("srvas", "DNS:as.test.local,IP:127.0.0.1", "serverAuth,clientAuth", "", "srvca");
		leaf("srvdc", "DNS:dc.test.local,IP:127.0.0.1", "serverAuth,clientAuth", "", "srvca");
	}
	[[nodiscard]] ntm::config::Tls tls(const std::string &name) const
	{
		ntm::config::Tls t;
		t.ca = (dir / "ca.pem").string();
		t.certificate = (dir / (name + ".pem")).string();
		t.private_key = (dir / (name + ".key")).string();
		return t;
	}

	const fs::path dir{tmp_.path()};

private:
	/* san or eku "": the extension is left out; cn "": the name; ca: the issuer's file stem */
	void leaf(const std::string &name, const std::string &san, const std::string &eku = "serverAuth,clientAuth",
		  const std::string &cn = "", const std::string &ca = "ca")
	{
		const fs::path ext = dir / (name + ".ext");
		write_file(ext,
			   "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n" +
				   (eku.empty() ? std::string() : "extendedKeyUsage = " + eku + "\n") +
				   (san.empty() ? std::string() : "subjectAltName = " + san + "\n"),
			   0644);
		write_file(dir / (name + ".cnf"),
			   "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = " + (cn.empty() ? name : cn) + "\n",
			   0644);
		sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config " +
		   quote(dir / (name + ".cnf")) + " -keyout " + quote(dir / (name + ".key")) + " -out " +
		   quote(dir / (name + ".csr")));
		sh("openssl x509 -req -days 2 -set_serial " + std::to_string(++serial_) + " -in " +
		   quote(dir / (name + ".csr")) + " -CA " + quote(dir / (ca + ".pem")) + " -CAkey " +
		   quote(dir / (ca + ".key")) +
		   " -extfile " + quote(ext) + " -out " + quote(dir / (name + ".pem")));
	}
	int serial_ = 1;
};

struct Outcome {
	std::optional<ntmd::LoginResult> result;
	std::optional<Status> status; /* LoginError */
	std::string error;	      /* what() of any failure */
};

awaitable<Outcome> attempt(asio::io_context &io, const ntm::config::Config &cfg, ntmd::Resolver &r)
{
	Outcome o;
	try {
		o.result = co_await ntmd::login(io, cfg, r);
	} catch (const ntmd::LoginError &e) {
		o.status = e.status();
		o.error = e.what();
	} catch (const std::exception &e) {
		o.error = e.what();
	}
	co_return o;
}

class AsTest : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		pki_ = std::make_unique<Pki>();
		level_ = spdlog::get_level();
		spdlog::set_level(spdlog::level::warn);
	}
	static void TearDownTestSuite()
	{
		pki_.reset();
		spdlog::set_level(level_);
	}

	void SetUp() override
	{
		const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
		db_ = pki_->dir / (std::string(info->name()) + ".db");
		kdf_.n_log2 = 10;
		ntm::store::AccountStore store(db_.string(), true);
		ntm::store::Account a;
		a.name = "alice@ntm.test";
		a.fqdn = "a.ntm.test";
		a.password = true;
		store.add(a, kPassword, kdf_);
		ntm::store::Account c;
		c.name = "carol@ntm.test";
		c.fqdn = "c.ntm.test";
		c.certificate = true;
		store.add(c, "", kdf_);
		ntm::store::Account b; /* password only: a certificate for b.ntm.test is not bound */
		b.name = "bob@ntm.test";
		b.fqdn = "b.ntm.test";
		b.password = true;
		store.add(b, "bobs secret", kdf_);

		pwfile_ = pki_->dir / (std::string(info->name()) + ".pw");
		write_file(pwfile_, std::string(kPassword) + "\n", 0600);
	}

	[[nodiscard]] ntm::config::Config dc_config(std::uint16_t port = 0,
						    std::vector<std::string> trusted = {"as.test.local"}) const
	{
		ntm::config::Config c;
		c.role_dc = true;
		c.tls = pki_->tls("dc");
		ntm::config::Dc dc;
		dc.domain = "ntm.test";
		dc.listen_tls = {ntm::Endpoint(loopback(), port)};
		dc.trusted_as = std::move(trusted);
		c.dc = dc;
		return c;
	}

	[[nodiscard]] ntm::config::Config as_config(std::uint16_t dc_port) const
	{
		ntm::config::Config c;
		c.role_as = true;
		c.tls = pki_->tls("as");
		ntm::config::As as;
		as.listen = {ntm::Endpoint(loopback(), 0)};
		as.database = db_.string();
		as.key_lifetime = 3600s;
		as.kdf = kdf_;
		as.dcs = {{"ntm.test", ntm::config::HostPort{"127.0.0.1", dc_port}}};
		c.as = as;
		return c;
	}

	[[nodiscard]] ntm::config::Config node_config(std::uint16_t as_port, const std::string &account) const
	{
		ntm::config::Config c;
		c.role_node = true;
		c.tls.ca = (pki_->dir / "ca.pem").string();
		ntm::config::Node n;
		n.as = ntm::config::HostPort{"127.0.0.1", as_port};
		n.auth = ntm::config::AuthMode::password;
		n.account = account;
		n.password_file = pwfile_.string();
		c.node = n;
		return c;
	}

	[[nodiscard]] ntm::config::Config cert_node_config(std::uint16_t as_port, const std::string &cert) const
	{
		ntm::config::Config c;
		c.role_node = true;
		c.tls = pki_->tls(cert);
		ntm::config::Node n;
		n.as = ntm::config::HostPort{"127.0.0.1", as_port};
		n.auth = ntm::config::AuthMode::certificate;
		c.node = n;
		return c;
	}

	static ntm::IpAddress loopback()
	{
		const std::array<std::uint8_t, 4> b{127, 0, 0, 1};
		return *ntm::IpAddress::from_bytes(b);
	}

	static std::uint16_t port_of(const std::vector<ntm::Endpoint> &eps)
	{
		if (eps.empty())
			throw std::runtime_error("not listening");
		return eps.front().port();
	}

	/* Runs body on io, then stop; rethrows what body threw. */
	template <class F> static void run(asio::io_context &io, F body, const std::function<void()> &stop)
	{
		std::exception_ptr err;
		bool done = false;
		asio::co_spawn(io, std::move(body), [&](const std::exception_ptr &e) {
			err = e;
			done = true;
			stop();
		});
		io.run_for(60s);
		EXPECT_TRUE(done) << "test coroutine did not finish";
		if (err)
			std::rethrow_exception(err);
	}

	/* A TLS handshake with an AS presenting as_cert, from a client with client_tls, checking host. */
	std::error_code handshake(const std::string &as_cert, const ntm::config::Tls &client_tls,
				  const std::string &host = "as.test.local");

	static std::unique_ptr<Pki> pki_;
	static spdlog::level::level_enum level_;
	fs::path db_;
	fs::path pwfile_;
	ntm::config::Scrypt kdf_;
};

std::unique_ptr<Pki> AsTest::pki_;
spdlog::level::level_enum AsTest::level_ = spdlog::level::info;

/* A DC key listener recording what it gets, plus an AS pointing at it. */
struct Servers {
	Servers(asio::io_context &io, const ntm::config::Config &dc_cfg,
		const std::function<ntm::config::Config(std::uint16_t)> &as_cfg, ntmd::Resolver &r,
		std::function<Status(std::size_t)> answer = nullptr)
	    : keys(std::make_shared<std::vector<ntm::store::NodeKey>>()),
	      dc(std::make_unique<ntmd::KeyListener>(io, dc_cfg, recorder(keys, std::move(answer)))),
	      as(io, as_cfg(dc_port_of(dc->local_endpoints())), r)
	{
		dc->start();
		as.start();
	}
	/* answer(n): what the DC says to the n-th key (from 1); default OK */
	static ntmd::KeyHandler recorder(const std::shared_ptr<std::vector<ntm::store::NodeKey>> &keys,
					 std::function<Status(std::size_t)> answer = nullptr)
	{
		return [keys, answer = std::move(answer)](const ntm::store::NodeKey &k) {
			keys->push_back(k);
			return answer ? answer(keys->size()) : Status::ok;
		};
	}
	static std::uint16_t dc_port_of(const std::vector<ntm::Endpoint> &eps) { return eps.at(0).port(); }
	[[nodiscard]] std::uint16_t as_port() const { return as.local_endpoints().at(0).port(); }
	void stop()
	{
		as.stop();
		dc->stop();
	}

	std::shared_ptr<std::vector<ntm::store::NodeKey>> keys;
	std::unique_ptr<ntmd::KeyListener> dc;
	ntmd::AsRole as;
};

std::error_code AsTest::handshake(const std::string &as_cert, const ntm::config::Tls &client_tls,
			  const std::string &host)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	auto as_cfg = [&](std::uint16_t p) {
		auto c = as_config(p);
		c.tls = pki_->tls(as_cert);
		return c;
	};
	Servers s(io, dc_config(), as_cfg, resolver);
	asio::ssl::context ctx = ntmd::tls::client_context(client_tls, false);
	std::error_code ec;
	run(
		io,
		[&]() -> awaitable<void> {
			ntmd::tls::Stream st(io, ctx);
			co_await st.lowest_layer().async_connect(
				asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.as_port()),
				asio::use_awaitable);
			ntmd::tls::set_verify_host(st, host);
			co_await st.async_handshake(asio::ssl::stream_base::client,
						    asio::redirect_error(asio::use_awaitable, ec));
		},
		[&] { s.stop(); });
	return ec;
}

TEST_F(AsTest, AsPasswordLoginDeliversKey)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	ASSERT_TRUE(o.result) << o.error;
	EXPECT_EQ(o.result->fqdn, "a.ntm.test");
	EXPECT_NE(o.result->key_id, 0U);
	EXPECT_EQ(o.result->key.size(), ntm::sig::kKeyLen);
	EXPECT_EQ(o.result->lifetime, 3600s);
	ASSERT_EQ(s.keys->size(), 1U);
	const ntm::store::NodeKey &k = s.keys->front();
	EXPECT_EQ(k.key_id, o.result->key_id);
	EXPECT_TRUE(k.key == o.result->key);
	EXPECT_EQ(k.fqdn, "a.ntm.test");
	const auto now = static_cast<std::int64_t>(std::time(nullptr));
	EXPECT_GE(k.expires, now + 3590);
	EXPECT_LE(k.expires, now + 3610);
	EXPECT_EQ(s.as.counters().logins_ok, 1U);
	EXPECT_EQ(s.as.counters().logins_failed, 0U);

	ntm::store::AccountStore store(db_.string(), false);
	EXPECT_GT(store.find("alice@ntm.test")->last_login, 0);
}

/* The DC holds the first two KEY_IDs already: the AS draws new ones (D59). */
TEST_F(AsTest, AsDrawsAnotherKeyIdWhenTheDcHoldsIt)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver,
		[](std::size_t n) { return n <= 2 ? Status::key_id_in_use : Status::ok; });
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	ASSERT_TRUE(o.result) << o.error;
	ASSERT_EQ(s.keys->size(), 3U);
	const auto &k = *s.keys;
	EXPECT_NE(k[0].key_id, k[1].key_id);
	EXPECT_NE(k[1].key_id, k[2].key_id);
	EXPECT_NE(k[0].key_id, k[2].key_id);
	EXPECT_FALSE(k[0].key == k[2].key); /* a new key with the new id */
	EXPECT_EQ(o.result->key_id, k[2].key_id);
	EXPECT_TRUE(o.result->key == k[2].key);
	EXPECT_EQ(s.as.counters().key_id_retries, 2U);
	EXPECT_EQ(s.as.counters().logins_ok, 1U);
}

/* A DC that refuses every KEY_ID: four attempts, then the node hears why. */
TEST_F(AsTest, AsGivesUpAfterFourKeyIds)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver,
		[](std::size_t) { return Status::key_id_in_use; });
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	EXPECT_FALSE(o.result);
	ASSERT_TRUE(o.status) << o.error;
	EXPECT_EQ(*o.status, Status::dc_unreachable);
	EXPECT_NE(o.error.find("KEY_ID_IN_USE"), std::string::npos) << o.error;
	EXPECT_EQ(s.keys->size(), 4U);
	EXPECT_EQ(s.as.counters().key_id_retries, 3U);
	EXPECT_EQ(s.as.counters().dc_failures, 1U);
}

TEST_F(AsTest, AsWrongPasswordRefused)
{
	write_file(pwfile_, "not the password\n", 0600);
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	const auto t0 = std::chrono::steady_clock::now();
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	EXPECT_FALSE(o.result);
	ASSERT_TRUE(o.status) << o.error;
	EXPECT_EQ(*o.status, Status::auth_failed);
	EXPECT_NE(o.error.find("login refused by 127.0.0.1"), std::string::npos) << o.error;
	EXPECT_NE(o.error.find("wrong account or password"), std::string::npos) << o.error;
	EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms); /* the AS waits before it says no */
	EXPECT_TRUE(s.keys->empty());
	EXPECT_EQ(s.as.counters().logins_failed, 1U);
}

/*
 * Five wrong passwords for an account: the sixth attempt is refused at once,
 * without the password check, with a status a node retries (not AUTH_FAILED,
 * which it takes as fatal); the right password then waits too (D70).
 * Without the throttle the sixth attempt is checked and AUTH_FAILED.
 */
TEST_F(AsTest, AsThrottlesAnAccountAfterFailedLogins)
{
	write_file(pwfile_, "not the password\n", 0600);
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	std::vector<Outcome> o;
	run(
		io,
		[&]() -> awaitable<void> {
			for (int i = 0; i < 6; i++)
				o.push_back(co_await attempt(io, node, resolver));
			write_file(pwfile_, std::string(kPassword) + "\n", 0600);
			o.push_back(co_await attempt(io, node, resolver));
		},
		[&] { s.stop(); });

	ASSERT_EQ(o.size(), 7U);
	for (std::size_t i = 0; i < 5; i++) {
		ASSERT_TRUE(o[i].status) << o[i].error;
		EXPECT_EQ(*o[i].status, Status::auth_failed) << i;
	}
	for (std::size_t i = 5; i < 7; i++) {
		ASSERT_TRUE(o[i].status) << o[i].error;
		EXPECT_EQ(*o[i].status, Status::internal) << i;
		EXPECT_NE(o[i].error.find("too many failed logins"), std::string::npos) << o[i].error;
	}
	EXPECT_EQ(s.as.counters().logins_failed, 5U);
	EXPECT_EQ(s.as.counters().logins_throttled, 2U);
	EXPECT_TRUE(s.keys->empty());
}

/*
 * Idle connections from one address (no TLS handshake) take at most 8
 * slots: the next connection from it is closed at once and counted; when
 * they go, logins work again (D70).
 */
TEST_F(AsTest, AsCapsConnectionsPerAddress)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	std::vector<asio::ip::tcp::socket> idle;
	Outcome refused;
	Outcome ok;
	run(
		io,
		[&]() -> awaitable<void> {
			const asio::ip::tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), s.as_port());
			for (int i = 0; i < 8; i++) {
				idle.emplace_back(io);
				co_await idle.back().async_connect(ep, asio::use_awaitable);
			}
			asio::steady_timer t(io, 200ms);
			co_await t.async_wait(asio::use_awaitable);
			refused = co_await attempt(io, node, resolver);
			for (auto &c : idle)
				c.close();
			t.expires_after(200ms);
			co_await t.async_wait(asio::use_awaitable);
			ok = co_await attempt(io, node, resolver);
		},
		[&] { s.stop(); });

	EXPECT_FALSE(refused.result);
	EXPECT_EQ(s.as.counters().connections_refused, 1U);
	EXPECT_TRUE(ok.result) << ok.error;
	EXPECT_EQ(s.as.counters().logins_ok, 1U);
}

TEST_F(AsTest, AsUnknownAccountRefused)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "mallory@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	ASSERT_TRUE(o.status) << o.error;
	EXPECT_EQ(*o.status, Status::auth_failed);
	EXPECT_NE(o.error.find("wrong account or password"), std::string::npos) << o.error;
	EXPECT_TRUE(s.keys->empty());
}

TEST_F(AsTest, AsCertificateLogin)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = cert_node_config(s.as_port(), "nodec");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	ASSERT_TRUE(o.result) << o.error;
	EXPECT_EQ(o.result->fqdn, "c.ntm.test");
	ASSERT_EQ(s.keys->size(), 1U);
	EXPECT_EQ(s.keys->front().fqdn, "c.ntm.test");
	EXPECT_EQ(s.keys->front().key_id, o.result->key_id);
}

TEST_F(AsTest, AsCertificateOfUnboundNameRefused)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	/* b.ntm.test has an account without certificate login, d.ntm.test none at all */
	const auto node_b = cert_node_config(s.as_port(), "nodeb");
	const auto node_d = cert_node_config(s.as_port(), "noded");
	Outcome ob;
	Outcome od;
	run(
		io,
		[&]() -> awaitable<void> {
			ob = co_await attempt(io, node_b, resolver);
			od = co_await attempt(io, node_d, resolver);
		},
		[&] { s.stop(); });

	for (const Outcome *o : {&ob, &od}) {
		ASSERT_TRUE(o->status) << o->error;
		EXPECT_EQ(*o->status, Status::auth_failed);
		EXPECT_NE(o->error.find("certificate not bound to an account"), std::string::npos) << o->error;
	}
	EXPECT_TRUE(s.keys->empty());
	EXPECT_EQ(s.as.counters().logins_failed, 2U);
}

TEST_F(AsTest, AsUntrustedAsCertificateGivesDcUnreachable)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(0, {"other-as.test.local"}), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	ASSERT_TRUE(o.status) << o.error;
	EXPECT_EQ(*o.status, Status::dc_unreachable);
	EXPECT_TRUE(s.keys->empty());
	EXPECT_EQ(s.as.counters().dc_failures, 1U);
}

TEST_F(AsTest, AsDcDownGivesDcUnreachable)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	s.dc->stop();
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });

	ASSERT_TRUE(o.status) << o.error;
	EXPECT_EQ(*o.status, Status::dc_unreachable);
	EXPECT_NE(o.error.find("key distribution"), std::string::npos) << o.error;
}

TEST_F(AsTest, AsReconnectsAfterDcRestart)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const std::uint16_t dc_port = s.dc->local_endpoints().at(0).port();
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	auto keys2 = std::make_shared<std::vector<ntm::store::NodeKey>>();
	Outcome o1;
	Outcome o2;
	Outcome o3;
	run(
		io,
		[&]() -> awaitable<void> {
			o1 = co_await attempt(io, node, resolver);
			o2 = co_await attempt(io, node, resolver); /* same DC connection */
			/* the DC restarts: its end of the AS's connection goes away */
			s.dc->stop();
			s.dc = std::make_unique<ntmd::KeyListener>(io, dc_config(dc_port), Servers::recorder(keys2));
			s.dc->start();
			o3 = co_await attempt(io, node, resolver);
		},
		[&] { s.stop(); });

	ASSERT_TRUE(o1.result) << o1.error;
	ASSERT_TRUE(o2.result) << o2.error;
	ASSERT_TRUE(o3.result) << o3.error;
	EXPECT_NE(o1.result->key_id, o2.result->key_id);
	EXPECT_EQ(s.keys->size(), 2U);
	ASSERT_EQ(keys2->size(), 1U);
	EXPECT_EQ(keys2->front().key_id, o3.result->key_id);
	EXPECT_EQ(s.as.counters().logins_ok, 3U);
	EXPECT_EQ(s.as.counters().dc_failures, 0U);
}

TEST_F(AsTest, AsConcurrentLoginsShareTheDcConnection)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	constexpr std::size_t kN = 6;
	std::vector<Outcome> out(kN);
	std::size_t finished = 0;
	for (std::size_t i = 0; i < kN; ++i)
		asio::co_spawn(io, attempt(io, node, resolver), [&, i](const std::exception_ptr &, Outcome o) {
			out[i] = std::move(o);
			if (++finished == kN)
				s.stop();
		});
	io.run_for(60s);
	ASSERT_EQ(finished, kN);
	std::vector<std::uint32_t> ids;
	for (const Outcome &o : out) {
		ASSERT_TRUE(o.result) << o.error;
		ids.push_back(o.result->key_id);
	}
	std::sort(ids.begin(), ids.end());
	EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
	EXPECT_EQ(s.keys->size(), kN);
}

TEST_F(AsTest, AsPasswordFileReadableByOthersRefused)
{
	write_file(pwfile_, std::string(kPassword) + "\n", 0640);
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	const auto node = node_config(1, "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [] {});
	EXPECT_FALSE(o.result);
	EXPECT_FALSE(o.status);
	EXPECT_NE(o.error.find("accessible by group or others (chmod 600"), std::string::npos) << o.error;
}

TEST_F(AsTest, AsMalformedRequestAnswered)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const std::uint16_t port = s.as_port();
	asio::ssl::context ctx = ntmd::tls::client_context(pki_->tls("nodea"), false);
	std::optional<ntm::sig::Message> resp;
	run(
		io,
		[&]() -> awaitable<void> {
			ntmd::tls::Stream st(io, ctx);
			co_await st.lowest_layer().async_connect(
				asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
				asio::use_awaitable);
			ntmd::tls::set_verify_host(st, "as.test.local");
			co_await st.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
			/* login request, txid 0x01020304, one TLV that runs past the end */
			const std::vector<std::uint8_t> bad{1, 1, 0, 0, 1, 2, 3, 4, 0, 3, 0, 9, 'x'};
			co_await ntmd::tls::write_frame(st, bad);
			const auto body = co_await ntmd::tls::read_frame(st);
			resp = ntm::sig::decode(body);
		},
		[&] { s.stop(); });
	ASSERT_TRUE(resp);
	EXPECT_TRUE(resp->response);
	EXPECT_EQ(resp->type, ntm::sig::MsgType::login);
	EXPECT_EQ(resp->txid, 0x01020304U);
	EXPECT_EQ(resp->status, Status::malformed);
	EXPECT_EQ(s.as.counters().malformed, 1U);
}

TEST_F(AsTest, AsTlsChecksTheServerName)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	Servers s(
		io, dc_config(), [&](std::uint16_t p) { return as_config(p); }, resolver);
	const std::uint16_t port = s.as_port();
	asio::ssl::context ctx = ntmd::tls::client_context(pki_->tls("nodea"), false);
	std::error_code good;
	std::error_code bad;
	run(
		io,
		[&]() -> awaitable<void> {
			for (const char *host : {"as.test.local", "wrong.test.local"}) {
				ntmd::tls::Stream st(io, ctx);
				co_await st.lowest_layer().async_connect(
					asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
					asio::use_awaitable);
				ntmd::tls::set_verify_host(st, host);
				std::error_code ec;
				co_await st.async_handshake(asio::ssl::stream_base::client,
							    asio::redirect_error(asio::use_awaitable, ec));
				(std::string(host) == "as.test.local" ? good : bad) = ec;
			}
		},
		[&] { s.stop(); });
	EXPECT_FALSE(good) << good.message();
	EXPECT_TRUE(bad);
}

/* D78: the name is checked against the subjectAltName only, never the CN */
TEST_F(AsTest, AsTlsNeverFallsBackToTheCommonName)
{
	const auto node = pki_->tls("nodea");
	EXPECT_FALSE(handshake("as", node)) << "control: the SAN names as.test.local";
	EXPECT_TRUE(handshake("cnonly", node)) << "CN = as.test.local, no subjectAltName: must not verify";
}

/* D78: a server's certificate must carry serverAuth; one without any EKU is refused too */
TEST_F(AsTest, AsTlsRequiresTheServerAuthEku)
{
	const auto node = pki_->tls("nodea");
	EXPECT_FALSE(handshake("serveronly", node));
	EXPECT_TRUE(handshake("clientonly", node));
	EXPECT_TRUE(handshake("noeku", node));
}

/* D78: a client certificate (the AS at the DC) must carry clientAuth */
TEST_F(AsTest, DcRefusesAnAsCertificateWithoutClientAuth)
{
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	auto as_cfg = [&](std::uint16_t p) {
		auto c = as_config(p);
		c.tls = pki_->tls("serveronly"); /* names as.test.local, the DC's trusted_as */
		return c;
	};
	Servers s(io, dc_config(), as_cfg, resolver);
	const auto node = node_config(s.as_port(), "alice@ntm.test");
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, node, resolver); }, [&] { s.stop(); });
	ASSERT_TRUE(o.status) << o.error;
	EXPECT_EQ(*o.status, Status::dc_unreachable);
	EXPECT_TRUE(s.keys->empty());
}

/* D78: servers (AS, DC) certified by their own CA, nodes by another */
TEST_F(AsTest, SeparateServerAndNodeCas)
{
	auto node = pki_->tls("nodea");
	node.server_ca = (pki_->dir / "srvca.pem").string();
	EXPECT_TRUE(handshake("as", node)) << "an AS certificate from the node CA is not a server's";
	EXPECT_FALSE(handshake("srvas", node));

	/* a whole certificate login: the AS checks the node against ca, the DC checks the AS against server_ca */
	asio::io_context io;
	ntmd::Resolver resolver(io, {});
	auto dc = dc_config();
	dc.tls = pki_->tls("srvdc");
	dc.tls.ca = (pki_->dir / "ca.pem").string();
	dc.tls.server_ca = (pki_->dir / "srvca.pem").string();
	auto as_cfg = [&](std::uint16_t p) {
		auto c = as_config(p);
		c.tls = pki_->tls("srvas");
		c.tls.server_ca = (pki_->dir / "srvca.pem").string();
		return c;
	};
	Servers s(io, dc, as_cfg, resolver);
	auto cn = cert_node_config(s.as_port(), "nodec");
	cn.tls.server_ca = (pki_->dir / "srvca.pem").string();
	Outcome o;
	run(
		io, [&]() -> awaitable<void> { o = co_await attempt(io, cn, resolver); }, [&] { s.stop(); });
	ASSERT_TRUE(o.result) << o.error;
	EXPECT_EQ(o.result->fqdn, "c.ntm.test");
	EXPECT_EQ(s.keys->size(), 1U);
}

/* D78: a DC found through DNS must be pinned when as.dc_names is set */
TEST(AsPin, DcNamesPinTheDcsDnsMayName)
{
	EXPECT_NO_THROW(ntmd::require_pinned_dc({}, "anything.example", "ntm.test"));
	const std::vector<std::string> pins{"dc.infra.test", "dc2.infra.test"};
	EXPECT_NO_THROW(ntmd::require_pinned_dc(pins, "dc.infra.test", "ntm.test"));
	EXPECT_NO_THROW(ntmd::require_pinned_dc(pins, "DC2.Infra.Test.", "ntm.test"));
	try {
		ntmd::require_pinned_dc(pins, "evil.example", "ntm.test");
		ADD_FAILURE() << "no exception";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(std::string(e.what()), "DNS names evil.example as the DC of ntm.test, which is not one of "
						 "as.dc_names");
	}
	EXPECT_THROW(ntmd::require_pinned_dc(pins, "x.dc.infra.test", "ntm.test"), ntm::Error);
}

TEST_F(AsTest, AsTlsMissingFileIsNamed)
{
	ntm::config::Tls t = pki_->tls("as");
	t.certificate = (pki_->dir / "missing.pem").string();
	try {
		(void)ntmd::tls::server_context(t, ntmd::tls::Clients::nodes);
		FAIL() << "no error";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(std::string(e.what()), "tls.certificate " + t.certificate + ": no such file");
	}
	t = pki_->tls("as");
	t.private_key = (pki_->dir / "dc.key").string();
	try {
		(void)ntmd::tls::server_context(t, ntmd::tls::Clients::nodes);
		FAIL() << "no error";
	} catch (const ntm::Error &e) {
		EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
	}
}

} // namespace
