// SPDX-License-Identifier: GPL-2.0
/*
 * Persistent state of the server roles, in SQLite:
 *   AccountStore - the AS's accounts (scrypt password hashes, FQDNs);
 *   Registry     - the DC's node registry (keys, virtual addresses,
 *                  endpoints) that survives a restart.
 * Both open the database in WAL mode with a busy timeout, so ntmctl can
 * read and change it while ntmd runs. Errors throw ntm::Error with the
 * SQLite message ("accounts.db: UNIQUE constraint failed: ...").
 *
 * One schema (PRAGMA user_version 1) holds the tables of both roles, so
 * either file opens with either class; a database of a newer schema
 * version is refused. New database files are created with mode 0600.
 */
#ifndef NTM_STORE_HPP
#define NTM_STORE_HPP

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ntm/config.hpp"
#include "ntm/model.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace ntm::store {

/** An open SQLite database (RAII). */
class Db {
public:
	/**
	 * Opens (creating when create is true) and applies the schema. A
	 * missing file with create false throws Error(ENOENT) "<path>: no such
	 * database (create it with <create_hint>)".
	 */
	Db(const std::string &path, bool create);
	Db(const std::string &path, bool create, std::string_view create_hint);
	Db(const Db &) = delete;
	Db &operator=(const Db &) = delete;
	Db(Db &&) noexcept;
	Db &operator=(Db &&) noexcept;
	~Db();

	[[nodiscard]] sqlite3 *handle() const noexcept { return db_.get(); }
	[[nodiscard]] const std::string &path() const noexcept { return path_; }
	/** Runs SQL without results (schema, BEGIN/COMMIT). */
	void exec(const char *sql);
	/** PRAGMA user_version. */
	int schema_version();
	/**
	 * The statement for sql prepared once and kept while the database is
	 * open, keyed by sql's address: sql must be a string with static
	 * storage (a literal). The caller resets it after use.
	 */
	sqlite3_stmt *kept(const char *sql) const;

private:
	struct Closer {
		void operator()(sqlite3 *db) const noexcept;
	};
	struct Finalizer {
		void operator()(sqlite3_stmt *s) const noexcept;
	};
	std::unique_ptr<sqlite3, Closer> db_;
	std::string path_;
	/* after db_: finalized before the connection closes */
	mutable std::unordered_map<const char *, std::unique_ptr<sqlite3_stmt, Finalizer>> kept_;
};

/* ---- AS ---- */

struct Account {
	std::string name;	  /* login name, e.g. "alice@ntm.test" */
	std::string fqdn;	  /* node FQDN, e.g. "a.ntm.test"; unique */
	bool password = false;	  /* has a password (else certificate only) */
	bool certificate = false; /* may log in with a certificate whose SAN is fqdn */
	std::int64_t created = 0; /* unix seconds */
	std::int64_t last_login = 0;
};

class AccountStore {
public:
	AccountStore(const std::string &path, bool create);

	/**
	 * Adds an account with a password (non-empty password; a.password is
	 * ignored) and/or certificate login (a.certificate); a.created 0 means
	 * now. Throws ntm::Error "account NAME exists" / "FQDN ... belongs to
	 * account ..." (EEXIST), or EINVAL when it would have no login method.
	 */
	void add(const Account &a, std::string_view password, const config::Scrypt &kdf);
	/** false when there was no such account. */
	bool remove(std::string_view name);
	std::vector<Account> list();
	std::optional<Account> find(std::string_view name);
	std::optional<Account> find_by_fqdn(std::string_view fqdn);
	/**
	 * The account when name exists, has a password and it matches;
	 * nullopt otherwise. Always runs the KDF (also for unknown names,
	 * against a dummy hash), so timing does not reveal which.
	 */
	std::optional<Account> verify(std::string_view name, std::string_view password);
	void touch_login(std::string_view name, std::int64_t when);

private:
	Db db_;
};

/* ---- DC ---- */

struct NodeKey {
	std::uint32_t key_id = 0;
	std::string fqdn;
	SecretBytes key;
	std::int64_t expires = 0; /* unix seconds */
	std::uint64_t rx_seq = 0; /* the highest sequence number the DC accepted with it */
};

struct NodeRecord {
	std::string fqdn;
	std::optional<IpAddress> vip4;
	std::optional<IpAddress> vip6;
	std::optional<Endpoint> external_ep; /* where the DC reaches it */
	std::vector<Endpoint> local_eps;
	bool nated = false;
	bool online = false;
	std::uint32_t key_id = 0; /* key of the last registration */
	std::vector<std::uint8_t> ciphers;
	std::int64_t registered = 0; /* unix seconds of the last registration */
	std::int64_t last_seen = 0;  /* unix seconds of the last keepalive/registration */
};

class Registry {
public:
	/** pools are used for allocation; a stored node keeps its addresses. */
	Registry(const std::string &path, std::optional<sig::Prefix> pool4, std::optional<sig::Prefix> pool6);
	/** create false: a missing file is an error (ntmctl reads the DC's registry). */
	Registry(const std::string &path, std::optional<sig::Prefix> pool4, std::optional<sig::Prefix> pool6,
		 bool create);

	void put_key(const NodeKey &k);
	std::optional<NodeKey> find_key(std::uint32_t key_id);
	/** Deletes keys whose expiry is before now; returns their ids. */
	std::vector<std::uint32_t> purge_keys(std::int64_t now);
	/** Every key by id, without the key bytes (key is empty). */
	std::vector<NodeKey> list_keys();

	/**
	 * Creates or updates the node's record with the given registration
	 * data and returns it with its virtual addresses: the stored ones, or
	 * newly allocated (lowest free address of each pool, skipping the
	 * network and, for IPv4, broadcast address and the first host, which
	 * is the DC's; for IPv6 ::0 and ::1). A stored address outside the
	 * configured pool (the pool changed) is replaced by a new one; without
	 * a pool of a family the node gets no address of it. Throws
	 * Error(ENOSPC) "pool 10.77.0.0/30 exhausted" when a pool is full.
	 * Allocation is amortised O(log n): a per-pool hint in the meta table.
	 */
	NodeRecord register_node(const NodeRecord &r);
	std::optional<NodeRecord> find(std::string_view fqdn);
	std::optional<NodeRecord> find_by_vip(const IpAddress &vip);
	/** Keepalive: external endpoint and last_seen (not online); false when unknown. */
	bool seen(std::string_view fqdn, const Endpoint &external, std::int64_t now);
	void set_online(std::string_view fqdn, bool online);
	/** FQDN and external endpoint of every node marked online (the DC's start, D114). */
	std::vector<std::pair<std::string, Endpoint>> online_nodes();
	/**
	 * Writes back last_seen times kept in memory (D114), in one
	 * transaction; never moves a time backwards, never changes online.
	 */
	void store_last_seen(const std::vector<std::pair<std::string, std::int64_t>> &seen);
	/** Marks nodes offline whose last_seen < cutoff; returns their FQDNs. */
	std::vector<std::string> expire(std::int64_t cutoff);
	std::vector<NodeRecord> list();
	/** Number of registered nodes. */
	std::size_t count();
	/** Number of nodes marked online. */
	std::size_t count_online();

	/**
	 * Reserves a block of n sequence numbers for the DC's envelopes and
	 * returns its first; persisted, so a restart never reuses one.
	 */
	std::uint64_t reserve_seq(std::uint64_t n);

	/**
	 * Stores a new key unless a key with its id exists that has not
	 * expired at now (of any node): then nothing changes and it returns
	 * false. An expired key with the id is replaced (D59).
	 */
	bool add_key(const NodeKey &k, std::int64_t now);

	/**
	 * Raises a key's receive high-water mark to seq (never lowers it), so
	 * that a restarted DC still refuses what it accepted before (D58).
	 * Since D114 the DC keeps its marks in a MarkLog; a registry's marks
	 * of before are still read as a floor.
	 */
	void note_rx_seq(std::uint32_t key_id, std::uint64_t seq);

	/**
	 * Wraps several changes in one transaction (benchmarks, bulk loads);
	 * the methods above then use savepoints inside it. An uncommitted
	 * transaction is rolled back when the Registry is destroyed.
	 */
	void begin();
	void commit();
	/** Rolls back the open transaction, if any. */
	void rollback() noexcept;
	/** A transaction opened with begin() is open. */
	[[nodiscard]] bool in_transaction() const noexcept;

private:
	Db db_;
	std::optional<sig::Prefix> pool4_;
	std::optional<sig::Prefix> pool6_;
};

} // namespace ntm::store

#endif
