// SPDX-License-Identifier: GPL-2.0
/* The SQLite stores (ntm/store.hpp): accounts, the DC registry, schema versioning. */
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "ntm/config.hpp"
#include "ntm/error.hpp"
#include "ntm/kdf.hpp"
#include "ntm/parse.hpp"
#include "ntm/store.hpp"
#include "temp_dir.hpp"

namespace {

using ntm::IpAddress;
using ntm::store::Account;
using ntm::store::AccountStore;
using ntm::store::Db;
using ntm::store::NodeKey;
using ntm::store::NodeRecord;
using ntm::store::Registry;

constexpr ntm::config::Scrypt kFast{10, 8, 1};

using ntm::test::TempDir;

ntm::sig::Prefix prefix(const char *s)
{
	return ntm::config::parse_prefix(s);
}

IpAddress ip(const char *s)
{
	return ntm::parse_address(s);
}

NodeRecord node(const std::string &fqdn)
{
	NodeRecord r;
	r.fqdn = fqdn;
	r.external_ep = ntm::parse_endpoint("192.0.2.7:7480");
	r.local_eps = {ntm::parse_endpoint("10.0.0.5:7480"), ntm::parse_endpoint("[2001:db8::5]:7480")};
	r.nated = true;
	r.online = true;
	r.key_id = 42;
	r.ciphers = {NTM_CIPHER_CHACHA20_POLY1305, NTM_CIPHER_AES_GCM};
	r.registered = 1000;
	r.last_seen = 1000;
	return r;
}

std::string v4(const NodeRecord &r)
{
	return r.vip4 ? r.vip4->to_string() : "-";
}

std::string v6(const NodeRecord &r)
{
	return r.vip6 ? r.vip6->to_string() : "-";
}

/* ---- Db ---- */

TEST(StoreDb, MissingFileWithoutCreate)
{
	TempDir d;
	const auto path = d.file("none.db");
	try {
		Db db(path, false);
		FAIL() << "opened a missing database";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ENOENT);
		EXPECT_TRUE(std::string(e.what()).starts_with(path + ": no such database (create it with "))
			<< e.what();
	}
	EXPECT_FALSE(std::filesystem::exists(path));
	try {
		AccountStore s(path, false);
		FAIL();
	} catch (const ntm::Error &e) {
		EXPECT_NE(std::string(e.what()).find("ntmctl account add"), std::string::npos) << e.what();
	}
	EXPECT_THROW(Registry(path, std::nullopt, std::nullopt, false), ntm::Error);
}

TEST(StoreDb, CreatesSchemaV2PrivateWal)
{
	TempDir d;
	const auto path = d.file("a.db");
	{
		Db db(path, true);
		EXPECT_EQ(db.schema_version(), 2);
		EXPECT_EQ(db.path(), path);
	}
	struct stat st {};
	ASSERT_EQ(::stat(path.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600U);
	/* reopening an existing one without create works and keeps the version */
	Db db(path, false);
	EXPECT_EQ(db.schema_version(), 2);
	sqlite3_stmt *s = nullptr;
	ASSERT_EQ(sqlite3_prepare_v2(db.handle(), "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	EXPECT_STREQ(reinterpret_cast<const char *>(sqlite3_column_text(s, 0)), "wal");
	sqlite3_finalize(s);
}

TEST(StoreDb, RefusesNewerSchema)
{
	TempDir d;
	const auto path = d.file("a.db");
	{
		Db db(path, true);
		db.exec("PRAGMA user_version = 3");
	}
	try {
		Db db(path, false);
		FAIL() << "opened a newer schema";
	} catch (const ntm::Error &e) {
		EXPECT_NE(std::string(e.what()).find("schema version 3 is newer"), std::string::npos) << e.what();
	}
}

/* A registry written by an ntm of schema 1 gains rx_seq and keeps its keys. */
TEST(StoreDb, MigratesV1)
{
	TempDir d;
	const auto path = d.file("registry.db");
	{
		sqlite3 *raw = nullptr;
		ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
		const char *v1 = "CREATE TABLE accounts (name TEXT PRIMARY KEY NOT NULL, fqdn TEXT NOT NULL UNIQUE,"
				 " pw_hash TEXT, cert_ok INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
				 " last_login INTEGER NOT NULL DEFAULT 0);"
				 "CREATE TABLE keys (key_id INTEGER PRIMARY KEY NOT NULL, fqdn TEXT NOT NULL,"
				 " key BLOB NOT NULL, expires INTEGER NOT NULL);"
				 "CREATE TABLE nodes (fqdn TEXT PRIMARY KEY NOT NULL, vip4 BLOB UNIQUE, vip6 BLOB UNIQUE,"
				 " external_ep TEXT, local_eps TEXT NOT NULL DEFAULT '', nated INTEGER NOT NULL DEFAULT 0,"
				 " online INTEGER NOT NULL DEFAULT 0, key_id INTEGER NOT NULL DEFAULT 0, ciphers BLOB,"
				 " registered INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0);"
				 "CREATE TABLE meta (k TEXT PRIMARY KEY NOT NULL, v);"
				 "INSERT INTO keys VALUES (7, 'a.ntm.test', x'0001020304050607080910111213141516171819202122232425262728293031', 2000);"
				 "PRAGMA user_version = 1;";
		ASSERT_EQ(sqlite3_exec(raw, v1, nullptr, nullptr, nullptr), SQLITE_OK);
		sqlite3_close(raw);
	}
	Registry reg(path, std::nullopt, std::nullopt);
	const auto k = reg.find_key(7);
	ASSERT_TRUE(k);
	EXPECT_EQ(k->fqdn, "a.ntm.test");
	EXPECT_EQ(k->rx_seq, 0U);
	reg.note_rx_seq(7, 42);
	EXPECT_EQ(reg.find_key(7)->rx_seq, 42U);
	Db db(path, false);
	EXPECT_EQ(db.schema_version(), 2);
}

TEST(StoreDb, NotADatabase)
{
	TempDir d;
	const auto path = d.file("junk.db");
	{
		std::FILE *f = std::fopen(path.c_str(), "w");
		ASSERT_NE(f, nullptr);
		std::fputs("this is not an SQLite database, just some text that is long enough\n", f);
		std::fclose(f);
	}
	EXPECT_THROW(Db(path, false), ntm::Error);
	EXPECT_THROW(Db(d.file("no/such/dir.db"), true), ntm::Error);
}

/* ---- AccountStore ---- */

TEST(StoreAccounts, AddFindListRemove)
{
	TempDir d;
	AccountStore s(d.file("accounts.db"), true);
	EXPECT_TRUE(s.list().empty());

	Account a;
	a.name = "alice@ntm.test";
	a.fqdn = "a.ntm.test";
	s.add(a, "alice-pw", kFast);
	Account b;
	b.name = "bob@ntm.test";
	b.fqdn = "b.ntm.test";
	b.certificate = true;
	b.created = 12345;
	s.add(b, "", kFast);

	const auto all = s.list();
	ASSERT_EQ(all.size(), 2U);
	EXPECT_EQ(all[0].name, "alice@ntm.test");
	EXPECT_TRUE(all[0].password);
	EXPECT_FALSE(all[0].certificate);
	EXPECT_GT(all[0].created, 1600000000);
	EXPECT_EQ(all[0].last_login, 0);
	EXPECT_EQ(all[1].name, "bob@ntm.test");
	EXPECT_FALSE(all[1].password);
	EXPECT_TRUE(all[1].certificate);
	EXPECT_EQ(all[1].created, 12345);

	ASSERT_TRUE(s.find("bob@ntm.test"));
	EXPECT_EQ(s.find_by_fqdn("a.ntm.test")->name, "alice@ntm.test");
	EXPECT_FALSE(s.find("carol@ntm.test"));
	EXPECT_FALSE(s.find_by_fqdn("c.ntm.test"));

	s.touch_login("alice@ntm.test", 777);
	EXPECT_EQ(s.find("alice@ntm.test")->last_login, 777);

	EXPECT_TRUE(s.remove("alice@ntm.test"));
	EXPECT_FALSE(s.remove("alice@ntm.test"));
	EXPECT_EQ(s.list().size(), 1U);
	/* the FQDN is free again */
	a.name = "alice2@ntm.test";
	EXPECT_NO_THROW(s.add(a, "pw", kFast));
}

TEST(StoreAccounts, Duplicates)
{
	TempDir d;
	AccountStore s(d.file("accounts.db"), true);
	Account a{"alice@ntm.test", "a.ntm.test", false, false, 0, 0};
	s.add(a, "pw", kFast);
	try {
		s.add(a, "pw", kFast);
		FAIL();
	} catch (const ntm::Error &e) {
		EXPECT_STREQ(e.what(), "account alice@ntm.test exists");
		EXPECT_EQ(e.code(), EEXIST);
	}
	Account other{"mallory@ntm.test", "a.ntm.test", false, true, 0, 0};
	try {
		s.add(other, "", kFast);
		FAIL();
	} catch (const ntm::Error &e) {
		EXPECT_STREQ(e.what(), "FQDN a.ntm.test belongs to account alice@ntm.test");
	}
	/* no login method at all */
	Account none{"nobody@ntm.test", "n.ntm.test", false, false, 0, 0};
	EXPECT_THROW(s.add(none, "", kFast), ntm::Error);
	EXPECT_EQ(s.list().size(), 1U);
}

TEST(StoreAccounts, Verify)
{
	TempDir d;
	const auto path = d.file("accounts.db");
	AccountStore s(path, true);
	s.add(Account{"alice@ntm.test", "a.ntm.test", false, false, 0, 0}, "secret", kFast);
	s.add(Account{"cert@ntm.test", "c.ntm.test", false, true, 0, 0}, "", kFast);
	s.add(Account{"both@ntm.test", "b.ntm.test", false, true, 0, 0}, "both-pw", kFast);

	const auto ok = s.verify("alice@ntm.test", "secret");
	ASSERT_TRUE(ok);
	EXPECT_EQ(ok->fqdn, "a.ntm.test");
	EXPECT_FALSE(s.verify("alice@ntm.test", "Secret"));
	EXPECT_FALSE(s.verify("alice@ntm.test", ""));
	EXPECT_FALSE(s.verify("unknown@ntm.test", "secret"));
	EXPECT_FALSE(s.verify("", ""));
	/* certificate-only accounts never log in with a password, not even an empty one */
	EXPECT_FALSE(s.verify("cert@ntm.test", ""));
	EXPECT_FALSE(s.verify("cert@ntm.test", "secret"));
	EXPECT_TRUE(s.verify("both@ntm.test", "both-pw"));

	/* survives reopening; a second handle sees the same rows */
	AccountStore again(path, false);
	EXPECT_TRUE(again.verify("alice@ntm.test", "secret"));
}

TEST(StoreAccounts, CorruptHashDoesNotVerify)
{
	TempDir d;
	const auto path = d.file("accounts.db");
	AccountStore s(path, true);
	s.add(Account{"alice@ntm.test", "a.ntm.test", false, false, 0, 0}, "secret", kFast);
	{
		Db db(path, false);
		db.exec("UPDATE accounts SET pw_hash = '$scrypt$ln=30,r=32,p=16$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA'");
	}
	EXPECT_FALSE(s.verify("alice@ntm.test", "secret"));
	EXPECT_FALSE(s.verify("unknown@ntm.test", "secret")); /* dummy falls back to the defaults */
}

TEST(StoreAccounts, NamesAreBoundNotInterpolated)
{
	TempDir d;
	AccountStore s(d.file("accounts.db"), true);
	const std::string evil = "x'); DROP TABLE accounts; --";
	s.add(Account{evil, "e.ntm.test", false, true, 0, 0}, "", kFast);
	EXPECT_TRUE(s.find(evil));
	EXPECT_EQ(s.list().size(), 1U);
	EXPECT_TRUE(s.remove(evil));
}

/* ---- Registry: keys ---- */

TEST(StoreRegistry, Keys)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.0/16"), std::nullopt);
	NodeKey k;
	k.key_id = 0xdeadbeef;
	k.fqdn = "a.ntm.test";
	k.key = ntm::SecretBytes(32);
	for (std::size_t i = 0; i < 32; i++)
		k.key.data()[i] = static_cast<std::uint8_t>(i);
	k.expires = 2000;
	reg.put_key(k);
	NodeKey k2 = k;
	k2.key_id = 7;
	k2.expires = 1000;
	reg.put_key(k2);

	const auto got = reg.find_key(0xdeadbeef);
	ASSERT_TRUE(got);
	EXPECT_EQ(got->fqdn, "a.ntm.test");
	EXPECT_EQ(got->key, k.key);
	EXPECT_EQ(got->expires, 2000);
	EXPECT_FALSE(reg.find_key(8));

	const auto keys = reg.list_keys();
	ASSERT_EQ(keys.size(), 2U);
	EXPECT_EQ(keys[0].key_id, 7U);
	EXPECT_TRUE(keys[0].key.empty()); /* never key bytes */

	/* replacing a key id */
	k2.fqdn = "b.ntm.test";
	reg.put_key(k2);
	EXPECT_EQ(reg.find_key(7)->fqdn, "b.ntm.test");

	EXPECT_TRUE(reg.purge_keys(1000).empty()); /* expires < now only */
	EXPECT_EQ(reg.purge_keys(1001), std::vector<std::uint32_t>{7}) << "the ids go to the mark log (D114)";
	EXPECT_FALSE(reg.find_key(7));
	EXPECT_TRUE(reg.find_key(0xdeadbeef));
	EXPECT_EQ(reg.purge_keys(5000), std::vector<std::uint32_t>{0xdeadbeef});
	EXPECT_TRUE(reg.list_keys().empty());
}

/* A live KEY_ID is never replaced, of any node; an expired one is (D59). */
TEST(StoreRegistry, AddKeyRefusesALiveId)
{
	TempDir d;
	Registry reg(d.file("registry.db"), std::nullopt, std::nullopt);
	NodeKey a;
	a.key_id = 77;
	a.fqdn = "a.ntm.test";
	a.key = ntm::SecretBytes(32);
	a.key.data()[0] = 1;
	a.expires = 2000;
	EXPECT_TRUE(reg.add_key(a, 1000));
	reg.note_rx_seq(77, 5);
	NodeKey b = a;
	b.fqdn = "b.ntm.test";
	b.key.data()[0] = 2;
	b.expires = 3000;
	EXPECT_FALSE(reg.add_key(b, 1000)); /* a's key is live until 2000 */
	EXPECT_FALSE(reg.add_key(b, 2000));
	auto got = reg.find_key(77);
	ASSERT_TRUE(got);
	EXPECT_EQ(got->fqdn, "a.ntm.test");
	EXPECT_EQ(got->key, a.key);
	EXPECT_EQ(got->rx_seq, 5U); /* nothing changed */
	EXPECT_TRUE(reg.add_key(b, 2001)); /* expired: the id is free again */
	got = reg.find_key(77);
	EXPECT_EQ(got->fqdn, "b.ntm.test");
	EXPECT_EQ(got->rx_seq, 0U); /* a new key starts a new window */
}

/* The receive high-water mark only rises, and survives a reopen (D58). */
TEST(StoreRegistry, RxSeqSurvivesReopen)
{
	TempDir d;
	const auto path = d.file("registry.db");
	{
		Registry reg(path, std::nullopt, std::nullopt);
		NodeKey k;
		k.key_id = 9;
		k.fqdn = "a.ntm.test";
		k.key = ntm::SecretBytes(32);
		k.expires = 2000;
		reg.put_key(k);
		EXPECT_EQ(reg.find_key(9)->rx_seq, 0U);
		reg.note_rx_seq(9, 100);
		reg.note_rx_seq(9, 90); /* never lowered */
		EXPECT_EQ(reg.find_key(9)->rx_seq, 100U);
		reg.note_rx_seq(9, UINT64_MAX); /* capped at the signed maximum, not wrapped */
		EXPECT_EQ(reg.find_key(9)->rx_seq, static_cast<std::uint64_t>(INT64_MAX));
		reg.note_rx_seq(12345, 5); /* an unknown key: nothing */
		EXPECT_FALSE(reg.find_key(12345));
	}
	Registry reg(path, std::nullopt, std::nullopt);
	EXPECT_EQ(reg.find_key(9)->rx_seq, static_cast<std::uint64_t>(INT64_MAX));
}

/* ---- Registry: nodes and addresses ---- */

TEST(StoreRegistry, AllocationOrderAndSkipRules)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.0/24"), prefix("fd00:77::/64"));
	const auto a = reg.register_node(node("a.ntm.test"));
	const auto b = reg.register_node(node("b.ntm.test"));
	const auto c = reg.register_node(node("c.ntm.test"));
	/* .0 network, .1 the DC; ::0 anycast, ::1 the DC */
	EXPECT_EQ(v4(a), "10.77.0.2");
	EXPECT_EQ(v4(b), "10.77.0.3");
	EXPECT_EQ(v4(c), "10.77.0.4");
	EXPECT_EQ(v6(a), "fd00:77::2");
	EXPECT_EQ(v6(b), "fd00:77::3");
	EXPECT_EQ(v6(c), "fd00:77::4");
	EXPECT_EQ(reg.count(), 3U);

	/* the record round-trips */
	const auto f = reg.find("a.ntm.test");
	ASSERT_TRUE(f);
	EXPECT_EQ(v4(*f), "10.77.0.2");
	EXPECT_EQ(f->external_ep->to_string(), "192.0.2.7:7480");
	ASSERT_EQ(f->local_eps.size(), 2U);
	EXPECT_EQ(f->local_eps[1].to_string(), "[2001:db8::5]:7480");
	EXPECT_TRUE(f->nated);
	EXPECT_TRUE(f->online);
	EXPECT_EQ(f->key_id, 42U);
	EXPECT_EQ(f->ciphers, (std::vector<std::uint8_t>{NTM_CIPHER_CHACHA20_POLY1305, NTM_CIPHER_AES_GCM}));
	EXPECT_EQ(f->registered, 1000);
	EXPECT_FALSE(reg.find("z.ntm.test"));
}

TEST(StoreRegistry, StableAcrossReregistrationAndReopen)
{
	TempDir d;
	const auto path = d.file("registry.db");
	std::string a4, a6;
	{
		Registry reg(path, prefix("10.77.0.0/16"), prefix("fd00:77::/64"));
		const auto a = reg.register_node(node("a.ntm.test"));
		(void)reg.register_node(node("b.ntm.test"));
		a4 = v4(a);
		a6 = v6(a);
		auto again = node("a.ntm.test");
		again.external_ep = ntm::parse_endpoint("198.51.100.1:9999");
		again.local_eps.clear();
		again.nated = false;
		again.registered = 2000;
		const auto a2 = reg.register_node(again);
		EXPECT_EQ(v4(a2), a4);
		EXPECT_EQ(v6(a2), a6);
		EXPECT_EQ(reg.find("a.ntm.test")->external_ep->to_string(), "198.51.100.1:9999");
		EXPECT_TRUE(reg.find("a.ntm.test")->local_eps.empty());
		EXPECT_EQ(reg.count(), 2U);
	}
	Registry reg(path, prefix("10.77.0.0/16"), prefix("fd00:77::/64"));
	EXPECT_EQ(v4(reg.register_node(node("a.ntm.test"))), a4);
	EXPECT_EQ(v6(reg.register_node(node("a.ntm.test"))), a6);
	EXPECT_EQ(v4(reg.register_node(node("c.ntm.test"))), "10.77.0.4");
}

TEST(StoreRegistry, PoolChange)
{
	TempDir d;
	const auto path = d.file("registry.db");
	{
		Registry reg(path, prefix("10.77.0.0/16"), std::nullopt);
		(void)reg.register_node(node("a.ntm.test"));
		(void)reg.register_node(node("b.ntm.test"));
		EXPECT_EQ(v6(*reg.find("a.ntm.test")), "-");
	}
	{
		/* a narrower pool that still holds the addresses: kept; a v6 pool added: allocated */
		Registry reg(path, prefix("10.77.0.0/24"), prefix("fd00::/120"));
		const auto a = reg.register_node(node("a.ntm.test"));
		EXPECT_EQ(v4(a), "10.77.0.2");
		EXPECT_EQ(v6(a), "fd00::2");
	}
	{
		/* a different pool: new addresses from it, the old ones are released */
		Registry reg(path, prefix("10.88.0.0/24"), std::nullopt);
		const auto b = reg.register_node(node("b.ntm.test"));
		EXPECT_EQ(v4(b), "10.88.0.2");
		EXPECT_EQ(v6(b), "-");
		EXPECT_EQ(v4(reg.register_node(node("a.ntm.test"))), "10.88.0.3");
		EXPECT_EQ(v6(*reg.find("a.ntm.test")), "-");
	}
	{
		/* back to the first pool: b's old address was released, so the lowest is .2 again */
		Registry reg(path, prefix("10.77.0.0/16"), std::nullopt);
		EXPECT_EQ(v4(reg.register_node(node("b.ntm.test"))), "10.77.0.2");
		EXPECT_EQ(v4(reg.register_node(node("a.ntm.test"))), "10.77.0.3");
	}
}

TEST(StoreRegistry, ExhaustionOfA29)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.8/29"), std::nullopt);
	/* .8 network, .9 DC, .15 broadcast: .10 .. .14 */
	std::vector<std::string> got;
	for (int i = 0; i < 5; i++)
		got.push_back(v4(reg.register_node(node("n" + std::to_string(i) + ".ntm.test"))));
	EXPECT_EQ(got,
		  (std::vector<std::string>{"10.77.0.10", "10.77.0.11", "10.77.0.12", "10.77.0.13", "10.77.0.14"}));
	try {
		(void)reg.register_node(node("full.ntm.test"));
		FAIL() << "allocated from a full pool";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ENOSPC);
		EXPECT_STREQ(e.what(), "pool 10.77.0.8/29 exhausted");
	}
	EXPECT_FALSE(reg.find("full.ntm.test")); /* rolled back */
	EXPECT_EQ(reg.count(), 5U);
	/* an existing node still re-registers */
	EXPECT_EQ(v4(reg.register_node(node("n3.ntm.test"))), "10.77.0.13");
}

TEST(StoreRegistry, TinyPools)
{
	TempDir d;
	{
		Registry reg(d.file("a.db"), prefix("10.77.0.0/30"), std::nullopt);
		EXPECT_EQ(v4(reg.register_node(node("a.ntm.test"))), "10.77.0.2");
		try {
			(void)reg.register_node(node("b.ntm.test"));
			FAIL();
		} catch (const ntm::Error &e) {
			EXPECT_STREQ(e.what(), "pool 10.77.0.0/30 exhausted");
		}
	}
	{
		Registry reg(d.file("b.db"), prefix("10.77.0.0/31"), std::nullopt);
		EXPECT_THROW((void)reg.register_node(node("a.ntm.test")), ntm::Error);
	}
	{
		Registry reg(d.file("c.db"), std::nullopt, prefix("fd00::/126"));
		EXPECT_EQ(v6(reg.register_node(node("a.ntm.test"))), "fd00::2");
		EXPECT_EQ(v6(reg.register_node(node("b.ntm.test"))), "fd00::3"); /* no broadcast in IPv6 */
		EXPECT_THROW((void)reg.register_node(node("c.ntm.test")), ntm::Error);
	}
	/* pools of the wrong family are refused */
	EXPECT_THROW(Registry(d.file("d.db"), prefix("fd00::/64"), std::nullopt), ntm::Error);
}

TEST(StoreRegistry, CarryAcrossBytes)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.0/23"), prefix("fd00::/64"));
	reg.begin();
	NodeRecord last;
	for (int i = 0; i < 300; i++)
		last = reg.register_node(node("n" + std::to_string(i) + ".ntm.test"));
	reg.commit();
	EXPECT_EQ(v4(last), "10.77.1.45"); /* 2 + 299 = 301 = 256 + 45 */
	EXPECT_EQ(v6(last), "fd00::12d");
}

TEST(StoreRegistry, FindByVip)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.0/16"), prefix("fd00:77::/64"));
	(void)reg.register_node(node("a.ntm.test"));
	(void)reg.register_node(node("b.ntm.test"));
	EXPECT_EQ(reg.find_by_vip(ip("10.77.0.3"))->fqdn, "b.ntm.test");
	EXPECT_EQ(reg.find_by_vip(ip("fd00:77::2"))->fqdn, "a.ntm.test");
	EXPECT_FALSE(reg.find_by_vip(ip("10.77.0.4")));
	EXPECT_FALSE(reg.find_by_vip(ip("fd00:77::4")));
	EXPECT_FALSE(reg.find_by_vip(IpAddress{}));
	/* an IPv4 address whose bytes begin an IPv6 VIP does not match it */
	EXPECT_FALSE(reg.find_by_vip(ip("253.0.0.119")));
}

TEST(StoreRegistry, FreedAddressIsReused)
{
	TempDir d;
	const auto path = d.file("registry.db");
	Registry reg(path, prefix("10.77.0.0/24"), std::nullopt);
	for (const char *n : {"a.ntm.test", "b.ntm.test", "c.ntm.test"})
		(void)reg.register_node(node(n));
	{
		/* an operator removes c with sqlite3(1): its address is free again */
		Db db(path, false);
		db.exec("DELETE FROM nodes WHERE fqdn = 'c.ntm.test'");
	}
	EXPECT_EQ(v4(reg.register_node(node("d.ntm.test"))), "10.77.0.4");
}

TEST(StoreRegistry, SeenOnlineExpire)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.0/16"), std::nullopt);
	auto a = node("a.ntm.test");
	a.last_seen = 100;
	auto b = node("b.ntm.test");
	b.last_seen = 200;
	(void)reg.register_node(a);
	(void)reg.register_node(b);

	EXPECT_TRUE(reg.seen("a.ntm.test", ntm::parse_endpoint("[2001:db8::9]:1234"), 300));
	EXPECT_FALSE(reg.seen("x.ntm.test", ntm::parse_endpoint("192.0.2.1:1"), 300));
	const auto fa = reg.find("a.ntm.test");
	EXPECT_EQ(fa->last_seen, 300);
	EXPECT_EQ(fa->external_ep->to_string(), "[2001:db8::9]:1234");

	EXPECT_EQ(reg.expire(250), std::vector<std::string>{"b.ntm.test"});
	EXPECT_FALSE(reg.find("b.ntm.test")->online);
	EXPECT_TRUE(reg.find("a.ntm.test")->online);
	EXPECT_TRUE(reg.expire(250).empty()); /* already offline */
	EXPECT_EQ(reg.expire(1000), std::vector<std::string>{"a.ntm.test"});

	reg.set_online("b.ntm.test", true);
	EXPECT_TRUE(reg.find("b.ntm.test")->online);
	EXPECT_EQ(reg.count_online(), 1U);
	/* a keepalive from a node marked offline brings it back */
	EXPECT_TRUE(reg.seen("a.ntm.test", ntm::parse_endpoint("192.0.2.7:7480"), 1100));
	EXPECT_TRUE(reg.find("a.ntm.test")->online);
	EXPECT_EQ(reg.count_online(), 2U);
	/* expired nodes keep their records and addresses */
	EXPECT_EQ(reg.count(), 2U);
	EXPECT_EQ(v4(*reg.find("a.ntm.test")), "10.77.0.2");
}

/* What the DC keeps in memory (D114): the online nodes at start, last_seen written back. */
TEST(StoreRegistry, OnlineNodesAndLastSeenWriteBack)
{
	TempDir d;
	Registry reg(d.file("registry.db"), prefix("10.77.0.0/16"), std::nullopt);
	auto a = node("a.ntm.test");
	a.last_seen = 100;
	auto b = node("b.ntm.test");
	b.last_seen = 100;
	(void)reg.register_node(a);
	(void)reg.register_node(b);
	EXPECT_TRUE(reg.seen("a.ntm.test", ntm::parse_endpoint("192.0.2.7:7480"), 150));
	reg.set_online("b.ntm.test", false);
	const auto on = reg.online_nodes();
	ASSERT_EQ(on.size(), 1U);
	EXPECT_EQ(on[0].first, "a.ntm.test");
	EXPECT_EQ(on[0].second.to_string(), "192.0.2.7:7480");

	reg.store_last_seen({{"a.ntm.test", 400}, {"b.ntm.test", 90}, {"x.ntm.test", 500}});
	EXPECT_EQ(reg.find("a.ntm.test")->last_seen, 400);
	EXPECT_EQ(reg.find("b.ntm.test")->last_seen, 100) << "never backwards";
	EXPECT_FALSE(reg.find("b.ntm.test")->online) << "online is not touched";
	EXPECT_FALSE(reg.find("x.ntm.test")) << "no row is made";
	reg.store_last_seen({});
	/* inside a batch's transaction it is part of it */
	reg.begin();
	reg.store_last_seen({{"a.ntm.test", 450}});
	reg.rollback();
	EXPECT_EQ(reg.find("a.ntm.test")->last_seen, 400);
}

TEST(StoreRegistry, ReserveSeqNeverRepeats)
{
	TempDir d;
	const auto path = d.file("registry.db");
	std::set<std::uint64_t> seen;
	auto take = [&](Registry &reg, std::uint64_t n) {
		const auto first = reg.reserve_seq(n);
		for (std::uint64_t i = 0; i < n; i++)
			EXPECT_TRUE(seen.insert(first + i).second) << "sequence " << first + i << " twice";
		return first;
	};
	{
		Registry reg(path, std::nullopt, std::nullopt);
		EXPECT_EQ(take(reg, 10), 1U);
		EXPECT_EQ(take(reg, 1), 11U);
		EXPECT_EQ(take(reg, 1000), 12U);
	}
	{
		Registry reg(path, prefix("10.77.0.0/16"), std::nullopt);
		EXPECT_EQ(take(reg, 5), 1012U);
		/* a second handle on the same file (another process) */
		Registry other(path, std::nullopt, std::nullopt);
		EXPECT_EQ(take(other, 5), 1017U);
		EXPECT_EQ(take(reg, 1), 1022U);
	}
	Registry reg(path, std::nullopt, std::nullopt);
	EXPECT_EQ(take(reg, 1), 1023U);
	EXPECT_THROW((void)reg.reserve_seq(0), ntm::Error);
	EXPECT_THROW((void)reg.reserve_seq(UINT64_MAX), ntm::Error);
	EXPECT_EQ(take(reg, 1), 1024U); /* a refused request reserved nothing */
}

TEST(StoreRegistry, TenThousandNodes)
{
	TempDir d;
	const auto path = d.file("registry.db");
	constexpr int kNodes = 10000;
	const auto t0 = std::chrono::steady_clock::now();
	{
		Registry reg(path, prefix("10.77.0.0/16"), prefix("fd00:77::/64"));
		reg.begin();
		for (int i = 0; i < kNodes; i++)
			(void)reg.register_node(node("n" + std::to_string(i) + ".ntm.test"));
		reg.commit();
		EXPECT_EQ(reg.count(), static_cast<std::size_t>(kNodes));
	}
	Registry reg(path, prefix("10.77.0.0/16"), prefix("fd00:77::/64"));
	/* 10000 nodes from .0.2: the next is 10002 = 39 * 256 + 18 */
	const auto next = reg.register_node(node("next.ntm.test"));
	EXPECT_EQ(v4(next), "10.77.39.18");
	EXPECT_EQ(v6(next), "fd00:77::2712");
	EXPECT_EQ(reg.find_by_vip(ip("10.77.39.17"))->fqdn, "n9999.ntm.test");
	const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	EXPECT_LT(secs, 60.0) << "allocation is not efficient";
}

} // namespace
