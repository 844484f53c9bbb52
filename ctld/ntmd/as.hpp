// SPDX-License-Identifier: GPL-2.0
/*
 * The Account Server role and its two TLS counterparts:
 *   AsRole      - node login over TLS 1.3 (password or certificate),
 *                 Key Distribution to the DC of the node's domain over one
 *                 long-lived mutual-TLS connection per DC;
 *   KeyListener - the DC's mutual-TLS listener that accepts Key
 *                 Distribution from trusted AS certificates;
 *   login()     - the node's side of Login.
 * Message formats: Documentation/protocol/signalling.rst.
 */
#ifndef NTMD_AS_HPP
#define NTMD_AS_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "ntm/config.hpp"
#include "ntm/model.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"
#include "ntm/store.hpp"
#include "resolver.hpp"

namespace ntmd {

struct AsCounters {
	std::uint64_t logins_ok = 0;
	std::uint64_t logins_failed = 0;
	std::uint64_t malformed = 0;
	std::uint64_t dc_failures = 0;
	std::uint64_t key_id_retries = 0; /* KEY_IDs drawn again because the DC held them (D59) */
	std::uint64_t logins_throttled = 0;	/* refused unverified: too many failures of the account or address (D70) */
	std::uint64_t connections_refused = 0; /* over the per-address connection cap (D70) */
	std::uint64_t dc_unpinned = 0;	       /* a DC named by DNS that as.dc_names does not list (D78) */
};

/**
 * A DC that DNS names (the NS record of a node's FQDN) is used only when
 * as.dc_names lists it, or lists nothing (D78): DNS answers are not
 * authenticated.  Throws ntm::Error naming the domain and the name.
 */
void require_pinned_dc(const std::vector<std::string> &dc_names, const std::string &ns, const std::string &domain);

class AsRole {
public:
	/** Opens the account database and binds the listeners; throws ntm::Error. */
	AsRole(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver);
	AsRole(const AsRole &) = delete;
	AsRole &operator=(const AsRole &) = delete;
	AsRole(AsRole &&) = delete;
	AsRole &operator=(AsRole &&) = delete;
	~AsRole();
	void start();
	void stop();
	[[nodiscard]] const AsCounters &counters() const noexcept;
	/** The bound listening addresses (the actual port when 0 was configured). */
	[[nodiscard]] std::vector<ntm::Endpoint> local_endpoints() const;

private:
	struct Impl;
	/* shared with the connection coroutines, which may outlive stop() by one resumption */
	std::shared_ptr<Impl> impl_;
};

/** Stores a distributed key; returns the NTM ACK status. */
using KeyHandler = std::function<ntm::sig::Status(const ntm::store::NodeKey &)>;

class KeyListener {
public:
	/** Binds cfg.dc->listen_tls; throws ntm::Error. */
	KeyListener(asio::io_context &io, const ntm::config::Config &cfg, KeyHandler handler);
	KeyListener(const KeyListener &) = delete;
	KeyListener &operator=(const KeyListener &) = delete;
	KeyListener(KeyListener &&) = delete;
	KeyListener &operator=(KeyListener &&) = delete;
	~KeyListener();
	void start();
	void stop();
	/** The bound listening addresses (the actual port when 0 was configured). */
	[[nodiscard]] std::vector<ntm::Endpoint> local_endpoints() const;

private:
	struct Impl;
	std::shared_ptr<Impl> impl_;
};

/** A refused or failed login: status() from the AS, what() for the user. */
class LoginError : public std::runtime_error {
public:
	LoginError(ntm::sig::Status s, const std::string &msg) : std::runtime_error(msg), status_(s) {}
	[[nodiscard]] ntm::sig::Status status() const noexcept { return status_; }

private:
	ntm::sig::Status status_;
};

struct LoginResult {
	std::uint32_t key_id = 0;
	ntm::SecretBytes key;
	std::chrono::seconds lifetime{0};
	std::string fqdn;
};

/**
 * Logs in at cfg.node->as (password from cfg.node->password_file, or the
 * [tls] certificate). Throws LoginError (refused: "login refused by
 * as.ntm.test: wrong account or password") or ntm::Error (network, TLS).
 */
asio::awaitable<LoginResult> login(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver);

/**
 * The first line of node.password_file, as login() reads it (also
 * ntmd --check-config); refuses files group or others may access.
 * Throws ntm::Error.
 */
ntm::SecretText read_node_password(const std::string &path);

} // namespace ntmd

#endif
