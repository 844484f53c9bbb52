// SPDX-License-Identifier: GPL-2.0
#include "check_config.hpp"

#include <sys/stat.h>

#include <exception>
#include <filesystem>
#include <map>
#include <utility>

#include "as.hpp"
#include "check_certs.hpp"
#include "ike_cred.hpp"

namespace ntmd::check {

namespace {

using ntm::config::Config;

class Walker {
public:
	Walker(Report &r, const Options &o) : r_(r), o_(o) {}

	/* check_file() once per file and use: a file named twice is reported once */
	bool file(const std::string &path, const std::string &what, Kind kind)
	{
		const auto key = std::make_pair(path, kind);
		if (const auto it = seen_.find(key); it != seen_.end())
			return it->second;
		const bool ok = check_file(r_, o_, path, what, kind);
		seen_.emplace(key, ok);
		return ok;
	}

	/* a secret that opened and is 0600: its loader would not refuse it for its mode (already reported) */
	bool secret_usable(const std::string &path, const std::string &what)
	{
		if (!file(path, what, Kind::secret))
			return false;
		struct stat st {};
		return ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) == 0;
	}

	/* a secret's loader: what it finds wrong in the content */
	template <typename Load>
	void load_secret(const std::string &path, const std::string &what, Load load)
	{
		if (!secret_usable(path, what))
			return;
		try {
			(void)load(path);
		} catch (const std::exception &e) {
			std::string msg = e.what();
			if (const auto pos = msg.find(path + ": "); pos != std::string::npos)
				msg.erase(0, pos + path.size() + 2);
			r_.error(path, what + ": " + msg);
		}
	}

	void database(const std::string &path, const std::string &what)
	{
		const auto dir = std::filesystem::path(path).parent_path();
		if (!dir.empty())
			check_write_dir(r_, o_, dir.string(), what + "'s directory");
		check_state_file(r_, o_, path, what);
	}

	void tls(const Config &cfg)
	{
		const auto &t = cfg.tls;
		if (!t.ca.empty() && file(t.ca, "tls.ca", Kind::public_file))
			check_tls_ca(r_, o_, "tls.ca", t.ca);
		if (!t.server_ca.empty() && file(t.server_ca, "tls.server_ca", Kind::public_file))
			check_tls_ca(r_, o_, "tls.server_ca", t.server_ca);
		if (t.certificate.empty() && t.private_key.empty())
			return;
		const bool cert = !t.certificate.empty() && file(t.certificate, "tls.certificate", Kind::public_file);
		const bool key = !t.private_key.empty() && file(t.private_key, "tls.private_key", Kind::secret);
		TlsUses uses;
		uses.server = cfg.role_as || cfg.role_dc || cfg.role_rs;
		uses.client = cfg.role_as || (cfg.role_dc && !cfg.dc->relays.empty()) ||
			      (cfg.role_node && cfg.node->auth == ntm::config::AuthMode::certificate);
		if (cert || key)
			check_tls_identity(r_, o_, t, cert, key, uses);
	}

	void ike_identity(const std::string &prefix, const std::string &cert, const std::string &key)
	{
		if (cert.empty() || key.empty() || !identities_.emplace(cert, key).second)
			return;
		const bool c = file(cert, prefix + "certificate", Kind::public_file);
		const bool k = file(key, prefix + "private_key", Kind::secret);
		if (c && k)
			check_ike_identity(r_, o_, prefix, cert, key);
	}

	void ike(const ntm::config::Ike &k)
	{
		if (!k.ca.empty() && file(k.ca, "ike.ca", Kind::public_file))
			check_ike_ca(r_, o_, k.ca);
		ike_identity("ike.", k.certificate, k.private_key);
		for (std::size_t i = 0; i < k.connections.size(); i++) {
			const auto &c = k.connections[i];
			const std::string prefix = "ike.connection[" + std::to_string(i) + "].";
			if (!c.psk_file.empty())
				load_secret(c.psk_file, prefix + "psk_file", ikecred::load_psk);
			ike_identity(prefix, c.certificate, c.private_key);
		}
	}

	void control_socket(const std::string &path)
	{
		const auto dir = std::filesystem::path(path).parent_path();
		if (!dir.empty())
			check_write_dir(r_, o_, dir.string(), "control_socket's directory");
		struct stat st {};
		if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
			r_.error(path, "control_socket: exists and is not a socket; ntmd will not replace it");
	}

private:
	Report &r_;
	const Options &o_;
	std::map<std::pair<std::string, Kind>, bool> seen_;
	std::map<std::string, std::string> identities_; /* IKE certificate -> key, loaded once as ike.cpp does */
};

} // namespace

Report check_config(const Config &cfg, const Options &o)
{
	Report r;
	Walker w(r, o);
	if (!cfg.path.empty())
		(void)w.file(cfg.path, "configuration", Kind::config);
	if (cfg.role_node || cfg.role_as || cfg.role_dc || cfg.role_rs)
		w.tls(cfg);
	if (cfg.role_node && cfg.node && cfg.node->auth == ntm::config::AuthMode::password)
		w.load_secret(cfg.node->password_file, "node.password_file", read_node_password);
	if (cfg.role_as && cfg.as)
		w.database(cfg.as->database, "as.database");
	if (cfg.role_dc && cfg.dc)
		w.database(cfg.dc->database, "dc.database");
	if (cfg.role_ike && cfg.ike)
		w.ike(*cfg.ike);
	w.control_socket(cfg.control_socket);
	return r;
}

} // namespace ntmd::check
