// SPDX-License-Identifier: GPL-2.0
#include "ntm/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <utility>

#include "ntm/error.hpp"
#include "ntm/handle.hpp"
#include "ntm/kdf.hpp"
#include "ntm/parse.hpp"

namespace ntm::store {

namespace {

constexpr int kSchemaVersion = 2;
constexpr int kBusyTimeoutMs = 5000;

/*
 * Schema version 1. One schema for both roles: an AS database has empty
 * node tables and a DC database an empty accounts table, so a host with
 * both roles may even share the file.
 */
constexpr const char *kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS accounts (
	name       TEXT PRIMARY KEY NOT NULL,
	fqdn       TEXT NOT NULL UNIQUE,
	pw_hash    TEXT,
	cert_ok    INTEGER NOT NULL DEFAULT 0,
	created    INTEGER NOT NULL,
	last_login INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS keys (
	key_id  INTEGER PRIMARY KEY NOT NULL,
	fqdn    TEXT NOT NULL,
	key     BLOB NOT NULL,
	expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_expires ON keys (expires);
CREATE TABLE IF NOT EXISTS nodes (
	fqdn        TEXT PRIMARY KEY NOT NULL,
	vip4        BLOB UNIQUE CHECK (vip4 IS NULL OR length(vip4) = 4),
	vip6        BLOB UNIQUE CHECK (vip6 IS NULL OR length(vip6) = 16),
	external_ep TEXT,
	local_eps   TEXT NOT NULL DEFAULT '',
	nated       INTEGER NOT NULL DEFAULT 0,
	online      INTEGER NOT NULL DEFAULT 0,
	key_id      INTEGER NOT NULL DEFAULT 0,
	ciphers     BLOB,
	registered  INTEGER NOT NULL DEFAULT 0,
	last_seen   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS nodes_online_seen ON nodes (online, last_seen);
CREATE TABLE IF NOT EXISTS meta (
	k TEXT PRIMARY KEY NOT NULL,
	v
);
PRAGMA user_version = 1;
)sql";

/* Version 2: the DC's receive high-water mark per key survives restarts (D58). */
constexpr const char *kSchemaV2 = R"sql(
ALTER TABLE keys ADD COLUMN rx_seq INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 2;
)sql";

int errno_of(int sqlite_rc) noexcept
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_CONSTRAINT:
		return EEXIST;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	case SQLITE_IOERR:
		return EIO;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_CANTOPEN:
		return ENOENT;
	default:
		return 0;
	}
}

[[noreturn]] void throw_sqlite(const Db &db, int rc)
{
	const char *msg = db.handle() != nullptr ? sqlite3_errmsg(db.handle()) : sqlite3_errstr(rc);
	throw Error(db.path() + ": " + msg, errno_of(rc));
}

std::int64_t to_i64(std::uint64_t v, const char *what)
{
	if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
		throw Error(std::string(what) + " out of range");
	return static_cast<std::int64_t>(v);
}

/* Stmt(db, sql, kKeep): a statement of the hot paths, prepared once (Db::kept) */
struct Keep {};
constexpr Keep kKeep{};

/* Stmt's deleter: finalizes its own statement, resets a kept one for its next use */
struct StmtRelease {
	bool owned = true;
	void operator()(sqlite3_stmt *s) const noexcept
	{
		if (owned) {
			(void)sqlite3_finalize(s);
			return;
		}
		(void)sqlite3_reset(s);
		(void)sqlite3_clear_bindings(s);
	}
};

/** A prepared statement (RAII) with bound parameters only. */
class Stmt {
public:
	Stmt(const Db &db, const char *sql) : db_(db)
	{
		sqlite3_stmt *s = nullptr;
		const int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &s, nullptr);
		if (rc != SQLITE_OK)
			throw_sqlite(db, rc);
		stmt_.reset(s);
	}
	/* sql: a literal; one that is in use already (a nested call) is prepared anew */
	Stmt(const Db &db, const char *sql, Keep /*unused*/) : db_(db)
	{
		sqlite3_stmt *k = db.kept(sql);
		if (sqlite3_stmt_busy(k) != 0) {
			sqlite3_stmt *s = nullptr;
			const int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &s, nullptr);
			if (rc != SQLITE_OK)
				throw_sqlite(db, rc);
			stmt_.reset(s);
			return;
		}
		stmt_ = std::unique_ptr<sqlite3_stmt, Finalizer>(k, Finalizer{false});
	}

	Stmt &bind(int i, std::int64_t v)
	{
		check(sqlite3_bind_int64(stmt_.get(), i, v));
		return *this;
	}
	Stmt &bind(int i, std::string_view v)
	{
		check(sqlite3_bind_text64(stmt_.get(), i, v.empty() ? "" : v.data(), v.size(), SQLITE_TRANSIENT,
					  SQLITE_UTF8));
		return *this;
	}
	Stmt &bind_blob(int i, std::span<const std::uint8_t> v)
	{
		static const std::uint8_t kNone = 0;
		check(sqlite3_bind_blob64(stmt_.get(), i, v.empty() ? &kNone : v.data(), v.size(), SQLITE_TRANSIENT));
		return *this;
	}
	Stmt &bind_null(int i)
	{
		check(sqlite3_bind_null(stmt_.get(), i));
		return *this;
	}

	/** true: a row is ready; false: done. */
	bool step()
	{
		const int rc = sqlite3_step(stmt_.get());
		if (rc == SQLITE_ROW)
			return true;
		if (rc == SQLITE_DONE)
			return false;
		throw_sqlite(db_, rc);
	}
	/** Steps to the end (statements without results). */
	void run()
	{
		while (step()) {
		}
	}
	void reset() noexcept
	{
		(void)sqlite3_reset(stmt_.get());
		(void)sqlite3_clear_bindings(stmt_.get());
	}

	[[nodiscard]] bool is_null(int c) const noexcept { return sqlite3_column_type(stmt_.get(), c) == SQLITE_NULL; }
	[[nodiscard]] std::int64_t i64(int c) const noexcept { return sqlite3_column_int64(stmt_.get(), c); }
	[[nodiscard]] std::string text(int c) const
	{
		const auto *p = sqlite3_column_text(stmt_.get(), c);
		const int n = sqlite3_column_bytes(stmt_.get(), c);
		if (p == nullptr || n <= 0)
			return {};
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's text is unsigned char
		return {reinterpret_cast<const char *>(p), static_cast<std::size_t>(n)};
	}
	[[nodiscard]] std::span<const std::uint8_t> blob(int c) const noexcept
	{
		const void *p = sqlite3_column_blob(stmt_.get(), c);
		const int n = sqlite3_column_bytes(stmt_.get(), c);
		if (p == nullptr || n <= 0)
			return {};
		return {static_cast<const std::uint8_t *>(p), static_cast<std::size_t>(n)};
	}

private:
	using Finalizer = StmtRelease;
	void check(int rc) const
	{
		if (rc != SQLITE_OK)
			throw_sqlite(db_, rc);
	}

	const Db &db_;
	std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

/**
 * A write transaction: BEGIN IMMEDIATE (the write lock at once, so two
 * writers never deadlock on an upgrade), or a savepoint when the caller
 * already opened one with Registry::begin(). Rolled back unless committed.
 */
class Tx {
public:
	explicit Tx(Db &db) : db_(db), nested_(sqlite3_get_autocommit(db.handle()) == 0)
	{
		if (nested_)
			Stmt(db_, "SAVEPOINT ntm_tx", kKeep).run(); /* the hot path: inside a group commit (D109) */
		else
			db_.exec("BEGIN IMMEDIATE");
	}
	Tx(const Tx &) = delete;
	Tx &operator=(const Tx &) = delete;
	Tx(Tx &&) = delete;
	Tx &operator=(Tx &&) = delete;
	~Tx()
	{
		if (done_)
			return;
		(void)sqlite3_exec(db_.handle(), nested_ ? "ROLLBACK TO ntm_tx; RELEASE ntm_tx" : "ROLLBACK", nullptr,
				   nullptr, nullptr);
	}
	void commit()
	{
		if (nested_)
			Stmt(db_, "RELEASE ntm_tx", kKeep).run();
		else
			db_.exec("COMMIT");
		done_ = true;
	}

private:
	Db &db_;
	bool nested_;
	bool done_ = false;
};

bool file_exists(const std::string &path)
{
	struct stat st {};
	if (::stat(path.c_str(), &st) == 0)
		return true;
	if (errno == ENOENT)
		return false;
	throw_errno(path);
}

/* Creates an empty file readable by its owner only (the database may hold hashes and keys). */
void create_private_file(const std::string &path)
{
	const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!fd && errno != EEXIST)
		throw_errno(path + ": cannot create the database");
}

std::int64_t now_s() noexcept
{
	return static_cast<std::int64_t>(std::time(nullptr));
}

/* ---- addresses as big-endian byte strings ---- */

struct Addr {
	std::array<std::uint8_t, 16> b{};
	std::size_t len = 0; /* 4 or 16 */

	[[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {b.data(), len}; }
	friend bool operator==(const Addr &x, const Addr &y) noexcept = default;
	/* numeric order: both big-endian and of one length */
	// NOLINTNEXTLINE(modernize-use-nullptr): the defaulted comparison, not a pointer
	friend auto operator<=>(const Addr &x, const Addr &y) noexcept = default;
};

Addr addr_of(const IpAddress &a) noexcept
{
	Addr r;
	const auto bytes = a.bytes();
	r.len = bytes.size();
	std::ranges::copy(bytes, r.b.begin());
	return r;
}

IpAddress ip_of(const Addr &a)
{
	auto ip = IpAddress::from_bytes(a.bytes());
	if (!ip)
		throw Error("internal error: bad address length");
	return *ip;
}

/* a + k (no overflow past the all-ones address: callers stay inside a pool) */
Addr add(Addr a, unsigned k) noexcept
{
	unsigned carry = k;
	for (std::size_t i = a.len; i-- > 0 && carry != 0;) {
		const unsigned v = a.b.at(i) + carry;
		a.b.at(i) = static_cast<std::uint8_t>(v & 0xffU);
		carry = v >> 8;
	}
	return a;
}

Addr sub1(Addr a) noexcept
{
	for (std::size_t i = a.len; i-- > 0;) {
		if (a.b.at(i)-- != 0)
			break;
	}
	return a;
}

std::string prefix_text(const sig::Prefix &p)
{
	return p.addr.to_string() + "/" + std::to_string(p.len);
}

/** The addresses of a pool nodes may get: [first, last]. nullopt when there are none. */
struct Range {
	Addr first;
	Addr last;
};

std::optional<Range> allocatable(const sig::Prefix &p)
{
	Addr net = addr_of(p.addr);
	const std::size_t bits = net.len * 8;
	if (net.len == 0 || p.len > bits)
		return std::nullopt;
	Addr top = net;
	for (std::size_t i = 0; i < net.len; i++) {
		const std::size_t bit = i * 8;
		std::uint8_t host = 0;
		if (bit >= p.len)
			host = 0xff;
		else if (p.len - bit < 8)
			host = static_cast<std::uint8_t>(0xffU >> (p.len - bit));
		net.b.at(i) = static_cast<std::uint8_t>(net.b.at(i) & ~host);
		top.b.at(i) = static_cast<std::uint8_t>(net.b.at(i) | host);
	}
	/* IPv4: network, the DC's first host, broadcast; IPv6: subnet-router anycast and ::1 (the DC's) */
	if (bits - p.len < 2)
		return std::nullopt;
	Range r{add(net, 2), net.len == 4 ? sub1(top) : top};
	if (r.first > r.last)
		return std::nullopt;
	return r;
}

bool in_range(const Range &r, const IpAddress &a) noexcept
{
	const Addr x = addr_of(a);
	return x.len == r.first.len && x >= r.first && x <= r.last;
}

/* ---- node rows ---- */

constexpr const char *kNodeColumns =
	"fqdn, vip4, vip6, external_ep, local_eps, nated, online, key_id, ciphers, registered, last_seen";

std::optional<Endpoint> endpoint_of(std::string_view s) noexcept
{
	try {
		return parse_endpoint(s);
	} catch (...) {
		return std::nullopt; /* written by an older or foreign version: leave it out */
	}
}

NodeRecord read_node(const Stmt &s)
{
	NodeRecord n;
	n.fqdn = s.text(0);
	if (!s.is_null(1))
		n.vip4 = IpAddress::from_bytes(s.blob(1));
	if (!s.is_null(2))
		n.vip6 = IpAddress::from_bytes(s.blob(2));
	if (!s.is_null(3))
		n.external_ep = endpoint_of(s.text(3));
	const std::string eps = s.text(4);
	std::string_view rest = eps;
	while (!rest.empty()) {
		const auto sp = rest.find(' ');
		const auto word = rest.substr(0, sp);
		rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
		if (word.empty())
			continue;
		if (auto e = endpoint_of(word))
			n.local_eps.push_back(*e);
	}
	n.nated = s.i64(5) != 0;
	n.online = s.i64(6) != 0;
	n.key_id = static_cast<std::uint32_t>(s.i64(7));
	const auto c = s.blob(8);
	n.ciphers.assign(c.begin(), c.end());
	n.registered = s.i64(9);
	n.last_seen = s.i64(10);
	return n;
}

std::string join_endpoints(const std::vector<Endpoint> &eps)
{
	std::string out;
	for (const auto &e : eps) {
		if (!out.empty())
			out += ' ';
		out += e.to_string();
	}
	return out;
}

/* ---- account rows ---- */

constexpr const char *kAccountColumns = "name, fqdn, pw_hash IS NOT NULL, cert_ok, created, last_login";

Account read_account(const Stmt &s)
{
	Account a;
	a.name = s.text(0);
	a.fqdn = s.text(1);
	a.password = s.i64(2) != 0;
	a.certificate = s.i64(3) != 0;
	a.created = s.i64(4);
	a.last_login = s.i64(5);
	return a;
}

std::string account_sql(const char *where)
{
	return std::string("SELECT ") + kAccountColumns + " FROM accounts " + where;
}

std::string node_sql(const char *where)
{
	return std::string("SELECT ") + kNodeColumns + " FROM nodes " + where;
}

} // namespace

/* ---- Db ---- */

void Db::Closer::operator()(sqlite3 *db) const noexcept
{
	(void)sqlite3_close_v2(db);
}

Db::Db(const std::string &path, bool create) : Db(path, create, "ntmctl account add, or start ntmd") {}

Db::Db(const std::string &path, bool create, std::string_view create_hint) : path_(path)
{
	if (path.empty())
		throw Error("database path is empty", EINVAL);
	if (!file_exists(path)) {
		if (!create)
			throw Error(path + ": no such database (create it with " + std::string(create_hint) + ")",
				    ENOENT);
		create_private_file(path);
	}
	sqlite3 *raw = nullptr;
	const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
	db_.reset(raw); /* also on failure: the handle holds the message */
	if (rc != SQLITE_OK)
		throw_sqlite(*this, rc);
	(void)sqlite3_extended_result_codes(raw, 1);
	(void)sqlite3_busy_timeout(raw, kBusyTimeoutMs);
	exec("PRAGMA foreign_keys = ON");
	exec("PRAGMA secure_delete = ON"); /* deleted keys do not linger in free pages */

	auto version = [this] {
		Stmt s(*this, "PRAGMA user_version");
		return s.step() ? s.i64(0) : 0;
	};
	auto check_version = [this](std::int64_t v) {
		if (v > kSchemaVersion)
			throw Error(path_ + ": database schema version " + std::to_string(v) +
					    " is newer than this ntm supports (" + std::to_string(kSchemaVersion) +
					    "); use a newer ntm",
				    EPROTO);
		if (v < 0)
			throw Error(path_ + ": invalid database schema version " + std::to_string(v), EPROTO);
	};
	const auto v = version();
	check_version(v);
	/* WAL: ntmctl reads (and the AS's accounts change) while ntmd runs */
	exec("PRAGMA journal_mode = WAL");
	if (v < kSchemaVersion) {
		Tx tx(*this);
		const auto again = version(); /* another process may have won the race */
		check_version(again);
		if (again == 0)
			exec(kSchemaV1);
		if (again < 2)
			exec(kSchemaV2);
		tx.commit();
	}
}

Db::Db(Db &&) noexcept = default;
Db &Db::operator=(Db &&) noexcept = default;
Db::~Db() = default;

void Db::Finalizer::operator()(sqlite3_stmt *s) const noexcept
{
	(void)sqlite3_finalize(s);
}

sqlite3_stmt *Db::kept(const char *sql) const
{
	auto &slot = kept_[sql];
	if (!slot) {
		sqlite3_stmt *s = nullptr;
		const int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
		if (rc != SQLITE_OK) {
			kept_.erase(sql);
			throw_sqlite(*this, rc);
		}
		slot.reset(s);
	}
	return slot.get();
}

void Db::exec(const char *sql)
{
	char *err = nullptr;
	const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
	if (rc == SQLITE_OK)
		return;
	std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
	sqlite3_free(err);
	throw Error(path_ + ": " + msg, errno_of(rc));
}

int Db::schema_version()
{
	Stmt s(*this, "PRAGMA user_version");
	return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

/* ---- AccountStore ---- */

AccountStore::AccountStore(const std::string &path, bool create) : db_(path, create, "ntmctl account add") {}

void AccountStore::add(const Account &a, std::string_view password, const config::Scrypt &kdf)
{
	if (a.name.empty())
		throw Error("account name is empty", EINVAL);
	if (a.fqdn.empty())
		throw Error("account " + a.name + ": FQDN is empty", EINVAL);
	if (password.empty() && !a.certificate)
		throw Error("account " + a.name + ": needs a password or certificate login", EINVAL);
	auto check_free = [&] {
		if (find(a.name))
			throw Error("account " + a.name + " exists", EEXIST);
		if (const auto other = find_by_fqdn(a.fqdn))
			throw Error("FQDN " + a.fqdn + " belongs to account " + other->name, EEXIST);
	};
	check_free(); /* before the slow KDF */
	std::string hash;
	if (!password.empty())
		hash = kdf::hash_password(password, kdf);

	Tx tx(db_);
	check_free(); /* again under the write lock */
	Stmt s(db_,
	       "INSERT INTO accounts (name, fqdn, pw_hash, cert_ok, created, last_login) VALUES (?, ?, ?, ?, ?, 0)");
	s.bind(1, a.name).bind(2, a.fqdn);
	if (hash.empty())
		s.bind_null(3);
	else
		s.bind(3, hash);
	s.bind(4, std::int64_t{a.certificate ? 1 : 0}).bind(5, a.created != 0 ? a.created : now_s());
	s.run();
	tx.commit();
}

bool AccountStore::remove(std::string_view name)
{
	Stmt s(db_, "DELETE FROM accounts WHERE name = ?");
	s.bind(1, name).run();
	return sqlite3_changes(db_.handle()) > 0;
}

std::vector<Account> AccountStore::list()
{
	Stmt s(db_, account_sql("ORDER BY name").c_str());
	std::vector<Account> out;
	while (s.step())
		out.push_back(read_account(s));
	return out;
}

std::optional<Account> AccountStore::find(std::string_view name)
{
	Stmt s(db_, account_sql("WHERE name = ?").c_str());
	s.bind(1, name);
	if (!s.step())
		return std::nullopt;
	return read_account(s);
}

std::optional<Account> AccountStore::find_by_fqdn(std::string_view fqdn)
{
	Stmt s(db_, account_sql("WHERE fqdn = ?").c_str());
	s.bind(1, fqdn);
	if (!s.step())
		return std::nullopt;
	return read_account(s);
}

std::optional<Account> AccountStore::verify(std::string_view name, std::string_view password)
{
	std::optional<Account> acc;
	std::string stored;
	{
		const std::string sql =
			std::string("SELECT ") + kAccountColumns + ", pw_hash FROM accounts WHERE name = ?";
		Stmt s(db_, sql.c_str());
		s.bind(1, name);
		if (s.step()) {
			acc = read_account(s);
			if (!s.is_null(6))
				stored = s.text(6);
		}
	}
	const bool real = !stored.empty();
	if (!real) {
		/* the cost of a real account: the parameters of any stored hash, else the defaults */
		config::Scrypt params;
		Stmt s(db_, "SELECT pw_hash FROM accounts WHERE pw_hash IS NOT NULL LIMIT 1");
		if (s.step()) {
			if (const auto p = kdf::parse_params(s.text(0)))
				params = *p;
		}
		stored = kdf::dummy_hash(params);
	}
	const bool ok = kdf::verify_password(password, stored);
	secure_wipe(stored);
	if (!ok || !real)
		return std::nullopt;
	return acc;
}

void AccountStore::touch_login(std::string_view name, std::int64_t when)
{
	Stmt s(db_, "UPDATE accounts SET last_login = ? WHERE name = ?");
	s.bind(1, when).bind(2, name).run();
}

/* ---- Registry ---- */

Registry::Registry(const std::string &path, std::optional<sig::Prefix> pool4, std::optional<sig::Prefix> pool6)
    : Registry(path, pool4, pool6, true)
{}

Registry::Registry(const std::string &path, std::optional<sig::Prefix> pool4, std::optional<sig::Prefix> pool6,
		   bool create)
    : db_(path, create, "ntmd, role dc"), pool4_(pool4), pool6_(pool6)
{
	if (pool4_ && !pool4_->addr.is_v4())
		throw Error("pool4 " + prefix_text(*pool4_) + " is not an IPv4 network", EINVAL);
	if (pool6_ && !pool6_->addr.is_v6())
		throw Error("pool6 " + prefix_text(*pool6_) + " is not an IPv6 network", EINVAL);
}

void Registry::put_key(const NodeKey &k)
{
	Stmt s(db_, "INSERT OR REPLACE INTO keys (key_id, fqdn, key, expires) VALUES (?, ?, ?, ?)");
	s.bind(1, std::int64_t{k.key_id}).bind(2, k.fqdn).bind_blob(3, k.key.span()).bind(4, k.expires).run();
}

std::optional<NodeKey> Registry::find_key(std::uint32_t key_id)
{
	Stmt s(db_, "SELECT key_id, fqdn, key, expires, rx_seq FROM keys WHERE key_id = ?", kKeep);
	s.bind(1, std::int64_t{key_id});
	if (!s.step())
		return std::nullopt;
	NodeKey k;
	k.key_id = static_cast<std::uint32_t>(s.i64(0));
	k.fqdn = s.text(1);
	k.key = SecretBytes(s.blob(2));
	k.expires = s.i64(3);
	k.rx_seq = static_cast<std::uint64_t>(std::max<std::int64_t>(s.i64(4), 0));
	return k;
}

std::vector<std::uint32_t> Registry::purge_keys(std::int64_t now)
{
	Stmt s(db_, "DELETE FROM keys WHERE expires < ? RETURNING key_id");
	s.bind(1, now);
	std::vector<std::uint32_t> out;
	while (s.step())
		out.push_back(static_cast<std::uint32_t>(s.i64(0)));
	return out;
}

std::vector<NodeKey> Registry::list_keys()
{
	Stmt s(db_, "SELECT key_id, fqdn, expires FROM keys ORDER BY key_id");
	std::vector<NodeKey> out;
	while (s.step()) {
		NodeKey k;
		k.key_id = static_cast<std::uint32_t>(s.i64(0));
		k.fqdn = s.text(1);
		k.expires = s.i64(2);
		out.push_back(std::move(k));
	}
	return out;
}

/*
 * The lowest free address of pool in column col ("vip4" / "vip6").
 * Addresses are stored as big-endian blobs, whose order (memcmp) is the
 * numeric one, so the UNIQUE index answers range scans. meta holds a hint
 * per pool, "hint4 10.77.0.0/16": every allocatable address below it is
 * taken, so the scan starts there and allocation stays O(1) amortised.
 * Hints are dropped whenever an address is released.
 */
namespace {

IpAddress allocate(Db &db, const sig::Prefix &pool, bool v4)
{
	const auto range = allocatable(pool);
	const std::string pool_s = prefix_text(pool);
	if (!range)
		throw Error("pool " + pool_s + " exhausted", ENOSPC);
	const std::string hint_key = std::string(v4 ? "hint4 " : "hint6 ") + pool_s;

	Addr cand = range->first;
	{
		Stmt h(db, "SELECT v FROM meta WHERE k = ?", kKeep);
		h.bind(1, hint_key);
		if (h.step()) {
			const auto b = h.blob(0);
			if (b.size() == range->first.len) {
				Addr hint;
				hint.len = b.size();
				std::ranges::copy(b, hint.b.begin());
				if (hint > cand && hint <= range->last)
					cand = hint;
			}
		}
	}

	constexpr std::int64_t kBatch = 256;
	Stmt s(db, v4 ? "SELECT vip4 FROM nodes WHERE vip4 >= ? AND vip4 <= ? ORDER BY vip4 LIMIT ?"
		      : "SELECT vip6 FROM nodes WHERE vip6 >= ? AND vip6 <= ? ORDER BY vip6 LIMIT ?",
	       kKeep);
	bool found = false;
	while (!found) {
		s.reset();
		s.bind_blob(1, cand.bytes()).bind_blob(2, range->last.bytes()).bind(3, kBatch);
		std::int64_t rows = 0;
		while (s.step()) {
			rows++;
			const auto b = s.blob(0);
			if (b.size() != cand.len || !std::ranges::equal(b, cand.bytes())) {
				found = true; /* a gap before this row */
				break;
			}
			if (cand == range->last)
				throw Error("pool " + pool_s + " exhausted", ENOSPC);
			cand = add(cand, 1);
		}
		if (rows < kBatch)
			found = true;
	}
	s.reset();

	Stmt u(db, "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", kKeep);
	u.bind(1, hint_key).bind_blob(2, cand.bytes()).run();
	return ip_of(cand);
}

} // namespace

NodeRecord Registry::register_node(const NodeRecord &r)
{
	if (r.fqdn.empty())
		throw Error("register: empty FQDN", EINVAL);
	Tx tx(db_);
	const auto old = find(r.fqdn);
	NodeRecord out = r;
	bool released = false;

	auto decide = [&](const std::optional<sig::Prefix> &pool,
			  const std::optional<IpAddress> &stored) -> std::optional<IpAddress> {
		const auto range = pool ? allocatable(*pool) : std::nullopt;
		if (stored && range && in_range(*range, *stored))
			return stored;
		if (stored)
			released = true;
		return std::nullopt;
	};
	out.vip4 = decide(pool4_, old ? old->vip4 : std::nullopt);
	out.vip6 = decide(pool6_, old ? old->vip6 : std::nullopt);
	if (released) {
		/* free the old addresses first, so they count as free and the hints stay true */
		Stmt c(db_, "UPDATE nodes SET vip4 = ?, vip6 = ? WHERE fqdn = ?");
		if (out.vip4)
			c.bind_blob(1, out.vip4->bytes());
		else
			c.bind_null(1);
		if (out.vip6)
			c.bind_blob(2, out.vip6->bytes());
		else
			c.bind_null(2);
		c.bind(3, r.fqdn).run();
		Stmt d(db_, "DELETE FROM meta WHERE k LIKE 'hint%'");
		d.run();
	}
	if (pool4_ && !out.vip4)
		out.vip4 = allocate(db_, *pool4_, true);
	if (pool6_ && !out.vip6)
		out.vip6 = allocate(db_, *pool6_, false);

	Stmt s(db_, "INSERT INTO nodes (fqdn, vip4, vip6, external_ep, local_eps, nated, online, key_id, ciphers, "
		    "registered, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		    "ON CONFLICT (fqdn) DO UPDATE SET vip4 = excluded.vip4, vip6 = excluded.vip6, "
		    "external_ep = excluded.external_ep, local_eps = excluded.local_eps, nated = excluded.nated, "
		    "online = excluded.online, key_id = excluded.key_id, ciphers = excluded.ciphers, "
		    "registered = excluded.registered, last_seen = excluded.last_seen",
	       kKeep);
	s.bind(1, r.fqdn);
	if (out.vip4)
		s.bind_blob(2, out.vip4->bytes());
	else
		s.bind_null(2);
	if (out.vip6)
		s.bind_blob(3, out.vip6->bytes());
	else
		s.bind_null(3);
	if (r.external_ep)
		s.bind(4, r.external_ep->to_string());
	else
		s.bind_null(4);
	s.bind(5, join_endpoints(r.local_eps));
	s.bind(6, std::int64_t{r.nated ? 1 : 0}).bind(7, std::int64_t{r.online ? 1 : 0});
	s.bind(8, std::int64_t{r.key_id});
	s.bind_blob(9, r.ciphers);
	s.bind(10, r.registered).bind(11, r.last_seen);
	s.run();
	tx.commit();
	return out;
}

std::optional<NodeRecord> Registry::find(std::string_view fqdn)
{
	static const std::string sql = node_sql("WHERE fqdn = ?"); /* one address: kept */
	Stmt s(db_, sql.c_str(), kKeep);
	s.bind(1, fqdn);
	if (!s.step())
		return std::nullopt;
	return read_node(s);
}

std::optional<NodeRecord> Registry::find_by_vip(const IpAddress &vip)
{
	if (!vip.is_v4() && !vip.is_v6())
		return std::nullopt;
	Stmt s(db_, node_sql(vip.is_v4() ? "WHERE vip4 = ?" : "WHERE vip6 = ?").c_str());
	s.bind_blob(1, vip.bytes());
	if (!s.step())
		return std::nullopt;
	return read_node(s);
}

bool Registry::seen(std::string_view fqdn, const Endpoint &external, std::int64_t now)
{
	/* a keepalive also brings back a node marked offline: one write */
	Stmt s(db_, "UPDATE nodes SET external_ep = ?, last_seen = ?, online = 1 WHERE fqdn = ?", kKeep);
	s.bind(1, external.to_string()).bind(2, now).bind(3, fqdn).run();
	return sqlite3_changes(db_.handle()) > 0;
}

std::vector<std::pair<std::string, Endpoint>> Registry::online_nodes()
{
	Stmt s(db_, "SELECT fqdn, external_ep FROM nodes WHERE online = 1 ORDER BY fqdn");
	std::vector<std::pair<std::string, Endpoint>> out;
	while (s.step()) {
		auto ep = endpoint_of(s.text(1));
		if (ep)
			out.emplace_back(s.text(0), *ep);
	}
	return out;
}

void Registry::store_last_seen(const std::vector<std::pair<std::string, std::int64_t>> &seen)
{
	if (seen.empty())
		return;
	Tx tx(db_);
	Stmt s(db_, "UPDATE nodes SET last_seen = ? WHERE fqdn = ? AND last_seen < ?", kKeep);
	for (const auto &[fqdn, at] : seen) {
		s.bind(1, at).bind(2, fqdn).bind(3, at).run();
		s.reset();
	}
	tx.commit();
}

void Registry::set_online(std::string_view fqdn, bool online)
{
	Stmt s(db_, "UPDATE nodes SET online = ? WHERE fqdn = ?");
	s.bind(1, std::int64_t{online ? 1 : 0}).bind(2, fqdn).run();
}

std::vector<std::string> Registry::expire(std::int64_t cutoff)
{
	Stmt s(db_, "UPDATE nodes SET online = 0 WHERE online = 1 AND last_seen < ? RETURNING fqdn");
	s.bind(1, cutoff);
	std::vector<std::string> out;
	while (s.step())
		out.push_back(s.text(0));
	std::ranges::sort(out);
	return out;
}

std::vector<NodeRecord> Registry::list()
{
	Stmt s(db_, node_sql("ORDER BY fqdn").c_str());
	std::vector<NodeRecord> out;
	while (s.step())
		out.push_back(read_node(s));
	return out;
}

std::size_t Registry::count()
{
	Stmt s(db_, "SELECT COUNT(*) FROM nodes");
	return s.step() ? static_cast<std::size_t>(s.i64(0)) : 0;
}

std::size_t Registry::count_online()
{
	Stmt s(db_, "SELECT COUNT(*) FROM nodes WHERE online = 1");
	return s.step() ? static_cast<std::size_t>(s.i64(0)) : 0;
}

bool Registry::add_key(const NodeKey &k, std::int64_t now)
{
	Tx tx(db_);
	{
		Stmt s(db_, "SELECT expires FROM keys WHERE key_id = ?");
		s.bind(1, std::int64_t{k.key_id});
		if (s.step() && s.i64(0) >= now)
			return false; /* tx rolls back: nothing was written */
	}
	Stmt s(db_, "INSERT OR REPLACE INTO keys (key_id, fqdn, key, expires) VALUES (?, ?, ?, ?)");
	s.bind(1, std::int64_t{k.key_id}).bind(2, k.fqdn).bind_blob(3, k.key.span()).bind(4, k.expires).run();
	tx.commit();
	return true;
}

void Registry::note_rx_seq(std::uint32_t key_id, std::uint64_t seq)
{
	/* SQLite integers are signed: a node would need 2^63 messages to reach the cap */
	const auto v = static_cast<std::int64_t>(std::min<std::uint64_t>(seq, std::numeric_limits<std::int64_t>::max()));
	Stmt s(db_, "UPDATE keys SET rx_seq = ? WHERE key_id = ? AND rx_seq < ?", kKeep);
	s.bind(1, v).bind(2, std::int64_t{key_id}).bind(3, v).run();
}

std::uint64_t Registry::reserve_seq(std::uint64_t n)
{
	if (n == 0)
		throw Error("reserve_seq: empty block", EINVAL);
	const std::int64_t block = to_i64(n, "sequence block");
	Tx tx(db_);
	std::int64_t next = 1;
	{
		Stmt s(db_, "SELECT v FROM meta WHERE k = 'seq'", kKeep);
		if (s.step())
			next = s.i64(0);
	}
	if (next < 1 || next > std::numeric_limits<std::int64_t>::max() - block)
		throw Error(db_.path() + ": sequence numbers exhausted", EOVERFLOW);
	Stmt u(db_, "INSERT OR REPLACE INTO meta (k, v) VALUES ('seq', ?)", kKeep);
	u.bind(1, next + block).run();
	tx.commit();
	return static_cast<std::uint64_t>(next);
}

void Registry::begin()
{
	db_.exec("BEGIN IMMEDIATE");
}

void Registry::commit()
{
	db_.exec("COMMIT");
}

void Registry::rollback() noexcept
{
	if (in_transaction())
		(void)sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

bool Registry::in_transaction() const noexcept
{
	return sqlite3_get_autocommit(db_.handle()) == 0;
}

} // namespace ntm::store
