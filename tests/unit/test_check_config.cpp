// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd --check-config (D95): every file and directory the configuration
 * names, with certificates and keys made here through the OpenSSL API. The
 * daemon's uid is the test's own (Options::daemon), so nothing needs root.
 */
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check_config.hpp"
#include "check_files.hpp"
#include "check_report.hpp"
#include "ntm/config.hpp"

namespace {

namespace fs = std::filesystem;
using ntm::config::AuthMode;
using ntm::config::Config;
using ntmd::check::Options;
using ntmd::check::Report;
using ntmd::check::Severity;

constexpr long kDay = 86400;

struct PkeyFree {
	void operator()(EVP_PKEY *k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Free {
	void operator()(X509 *x) const noexcept { X509_free(x); }
};
struct BioFree {
	void operator()(BIO *b) const noexcept { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

Pkey ec_key()
{
	Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
	if (!k)
		throw std::runtime_error("EVP_PKEY_Q_keygen");
	return k;
}

/* A self-signed certificate valid from now+from to now+to seconds; eku like "serverAuth,clientAuth" or "". */
X509Ptr make_cert(EVP_PKEY *key, const char *cn, long from, long to, const char *eku = "serverAuth,clientAuth")
{
	X509Ptr x(X509_new());
	if (!x || X509_set_version(x.get(), 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x.get()), from) == nullptr ||
	    X509_gmtime_adj(X509_getm_notAfter(x.get()), to) == nullptr || X509_set_pubkey(x.get(), key) != 1)
		throw std::runtime_error("X509 setup");
	X509_NAME *name = X509_get_subject_name(x.get());
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes bytes
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char *>(cn), -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(x.get(), name) != 1)
		throw std::runtime_error("X509 name");
	if (*eku != '\0') {
		X509V3_CTX ctx{};
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_ext_key_usage, eku);
		if (ext == nullptr || X509_add_ext(x.get(), ext, -1) != 1)
			throw std::runtime_error("X509 extension");
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x.get(), key, EVP_sha256()) == 0)
		throw std::runtime_error("X509_sign");
	return x;
}

void set_mode(const fs::path &p, mode_t mode)
{
	if (::chmod(p.c_str(), mode) != 0)
		throw std::runtime_error("chmod " + p.string());
}

void write_text(const fs::path &p, const std::string &text, mode_t mode)
{
	std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
	set_mode(p, mode);
}

void write_cert(const fs::path &p, X509 *x, mode_t mode = 0644)
{
	{
		const std::unique_ptr<BIO, BioFree> b(BIO_new_file(p.c_str(), "w"));
		if (!b || PEM_write_bio_X509(b.get(), x) != 1)
			throw std::runtime_error("PEM_write_bio_X509");
	}
	set_mode(p, mode);
}

void write_key(const fs::path &p, EVP_PKEY *k, mode_t mode = 0600)
{
	{
		const std::unique_ptr<BIO, BioFree> b(BIO_new_file(p.c_str(), "w"));
		if (!b || PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
			throw std::runtime_error("PEM_write_bio_PrivateKey");
	}
	set_mode(p, mode);
}

class CheckConfig : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string tmpl = (fs::path(::testing::TempDir()) / "ntm-check.XXXXXX").string();
		ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
		dir = tmpl;
		opt.daemon = {{::getuid()}, {::getgid()}, "the tester", "tester", {}};
		opt.now = std::time(nullptr);
		cfg.path = (dir / "ntmd.toml").string();
		write_text(cfg.path, "# not read again by the check\n", 0644);
		cfg.control_socket = (dir / "run" / "ntmd.sock").string();
		cfg.state_dir = (dir / "state").string();
	}
	void TearDown() override
	{
		std::error_code ec;
		/* the tests take permissions away: give them back before removing */
		for (const auto &e : fs::recursive_directory_iterator(dir, ec))
			if (e.is_directory(ec))
				fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
		fs::remove_all(dir, ec);
	}

	/* a DC with a valid CA, certificate and key (all 0600/0644 as they should be) */
	void dc_config()
	{
		cfg.role_dc = true;
		cfg.dc.emplace();
		cfg.dc->database = (dir / "state" / "registry.db").string();
		ca_key = ec_key();
		write_cert(dir / "ca.pem", make_cert(ca_key.get(), "test CA", -kDay, 365 * kDay).get());
		key = ec_key();
		write_cert(dir / "dc.pem", make_cert(key.get(), "dc.ntm.test", -kDay, 365 * kDay).get());
		write_key(dir / "dc.key", key.get());
		cfg.tls.ca = (dir / "ca.pem").string();
		cfg.tls.certificate = (dir / "dc.pem").string();
		cfg.tls.private_key = (dir / "dc.key").string();
	}

	void node_config()
	{
		cfg.role_node = true;
		cfg.node.emplace();
		cfg.node->auth = AuthMode::password;
		cfg.node->password_file = (dir / "password").string();
		write_text(cfg.node->password_file, "correct horse\n", 0600);
		ca_key = ec_key();
		write_cert(dir / "ca.pem", make_cert(ca_key.get(), "test CA", -kDay, 365 * kDay).get());
		cfg.tls.ca = (dir / "ca.pem").string();
	}

	Report run() const { return ntmd::check::check_config(cfg, opt); }

	/* every line of the report, for the failure message */
	static std::string dump(const Report &r)
	{
		std::string s;
		for (const auto &p : r.problems())
			s += Report::line(p) + "\n";
		return s;
	}

	/* whether a problem of that severity names file and contains text */
	static bool has(const Report &r, Severity sev, const fs::path &file, const std::string &text)
	{
		return std::ranges::any_of(r.problems(), [&](const ntmd::check::Problem &p) {
			return p.severity == sev && p.file == file.string() && p.text.find(text) != std::string::npos;
		});
	}

	fs::path dir;
	Options opt;
	Config cfg;
	Pkey ca_key;
	Pkey key;
};

TEST_F(CheckConfig, AGoodDcHasNoProblem)
{
	dc_config();
	const auto r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
	EXPECT_EQ(r.exit_status(), 0);
}

TEST_F(CheckConfig, AGoodNodeHasNoProblem)
{
	node_config();
	const auto r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
	EXPECT_EQ(r.exit_status(), 0);
}

TEST_F(CheckConfig, MissingFileIsAnError)
{
	dc_config();
	fs::remove(dir / "ca.pem");
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "ca.pem", "tls.ca: no such file")) << dump(r);
	EXPECT_EQ(r.errors(), 1U) << dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, UnreadableFilesAreErrors)
{
	dc_config();
	set_mode(dir / "dc.pem", 0200);
	set_mode(dir / "dc.key", 0200);
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.pem", "tls.certificate: ntmd (the tester, without "
							   "CAP_DAC_OVERRIDE) cannot read it"))
		<< dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "tls.private_key: mode 0200: its owner cannot read it"))
		<< dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, KeyMode0644IsAnError)
{
	dc_config();
	set_mode(dir / "dc.key", 0644);
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key",
			"tls.private_key: mode 0644 gives group or others access to a secret (chmod 600 "))
		<< dump(r);
	EXPECT_EQ(r.errors(), 1U) << dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, KeyMode0640IsAnError)
{
	dc_config();
	set_mode(dir / "dc.key", 0640);
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "mode 0640 gives group or others access")) << dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, KeyMode0600And0400AreFine)
{
	dc_config();
	for (const mode_t m : {mode_t{0600}, mode_t{0400}}) {
		set_mode(dir / "dc.key", m);
		const auto r = run();
		EXPECT_TRUE(r.problems().empty()) << std::oct << m << ": " << dump(r);
	}
}

TEST_F(CheckConfig, PasswordFileModeIsAnErrorAndItsContentIsChecked)
{
	node_config();
	set_mode(cfg.node->password_file, 0604);
	auto r = run();
	EXPECT_TRUE(has(r, Severity::error, cfg.node->password_file,
			"node.password_file: mode 0604 gives group or others access"))
		<< dump(r);
	EXPECT_EQ(r.errors(), 1U) << dump(r);
	/* the loader ntmd logs in with: an empty first line */
	write_text(cfg.node->password_file, "\nsecond\n", 0600);
	r = run();
	EXPECT_TRUE(has(r, Severity::error, cfg.node->password_file, "node.password_file: empty first line"))
		<< dump(r);
}

TEST_F(CheckConfig, WrongOwner)
{
	dc_config();
	opt.daemon.uids = {::getuid() + 1};
	opt.daemon.gids = {};
	const auto r = run();
	/* a secret of another user is an error, a certificate of another user a warning */
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "tls.private_key: owned by ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", ", not by the tester (chown tester ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::warning, dir / "dc.pem", "tls.certificate: owned by ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::warning, dir / "dc.pem", ", who can change it")) << dump(r);
	/* the directory above is the tester's, 0700: the other uid cannot enter it */
	EXPECT_TRUE(has(r, Severity::error, dir, "cannot enter this directory")) << dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, WorldWritableDirectoryIsAnError)
{
	dc_config();
	const fs::path sub = dir / "keys";
	fs::create_directory(sub);
	fs::rename(dir / "dc.key", sub / "dc.key");
	cfg.tls.private_key = (sub / "dc.key").string();
	set_mode(sub, 0777);
	auto r = run();
	EXPECT_TRUE(has(r, Severity::error, sub, "directory writable by others: anyone can replace what is in it")) << dump(r);
	EXPECT_EQ(r.errors(), 1U) << dump(r);
	/* sticky, like /tmp: others cannot replace a file they do not own */
	set_mode(sub, 01777);
	r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
}

TEST_F(CheckConfig, WorldWritableConfigurationIsAnError)
{
	dc_config();
	set_mode(cfg.path, 0666);
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, cfg.path, "configuration: writable by others (chmod o-w ")) << dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, BadPem)
{
	dc_config();
	write_text(dir / "dc.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", 0644);
	write_text(dir / "dc.key", "garbage\n", 0600);
	write_text(dir / "ca.pem", "", 0644);
	const auto r = run();
	EXPECT_EQ(r.errors(), 3U) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.pem", "tls.certificate: ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "tls.private_key: ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "ca.pem", "tls.ca: ")) << dump(r);
}

TEST_F(CheckConfig, KeyOfAnotherCertificate)
{
	dc_config();
	write_key(dir / "dc.key", ec_key().get());
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "tls.private_key: does not match tls.certificate ")) << dump(r);
	EXPECT_EQ(r.errors(), 1U) << dump(r);
}

TEST_F(CheckConfig, ExpiredAndNotYetValidCertificatesAreErrors)
{
	dc_config();
	write_cert(dir / "dc.pem", make_cert(key.get(), "dc.ntm.test", -10 * kDay, -kDay).get());
	write_cert(dir / "ca.pem", make_cert(ca_key.get(), "test CA", 2 * kDay, 365 * kDay).get());
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.pem", "tls.certificate: certificate \"CN=dc.ntm.test\" expired on "))
		<< dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "ca.pem", "tls.ca: certificate \"CN=test CA\" is not valid before "))
		<< dump(r);
	EXPECT_EQ(r.errors(), 2U) << dump(r);
}

TEST_F(CheckConfig, ACertificateEndingSoonIsAWarningAndExits0)
{
	dc_config();
	write_cert(dir / "dc.pem", make_cert(key.get(), "dc.ntm.test", -kDay, 10 * kDay + 3600).get());
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::warning, dir / "dc.pem", "expires on ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::warning, dir / "dc.pem", ", in 10 days")) << dump(r);
	EXPECT_EQ(r.errors(), 0U) << dump(r);
	EXPECT_EQ(r.warnings(), 1U) << dump(r);
	EXPECT_EQ(r.exit_status(), 0);
}

TEST_F(CheckConfig, ServerCertificateNeedsServerAuth)
{
	dc_config();
	write_cert(dir / "dc.pem", make_cert(key.get(), "dc.ntm.test", -kDay, 365 * kDay, "clientAuth").get());
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.pem", "tls.certificate: no extended key usage serverAuth"))
		<< dump(r);
	EXPECT_EQ(r.errors(), 1U) << dump(r);
}

TEST_F(CheckConfig, AllProblemsAreReported)
{
	dc_config();
	cfg.role_node = true;
	cfg.node.emplace();
	cfg.node->password_file = (dir / "password").string();
	write_text(cfg.node->password_file, "pw\n", 0644);
	fs::remove(dir / "ca.pem");
	set_mode(dir / "dc.key", 0640);
	write_cert(dir / "dc.pem", make_cert(key.get(), "dc.ntm.test", -10 * kDay, -kDay).get());
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "ca.pem", "no such file")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "mode 0640")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.pem", "expired on")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, cfg.node->password_file, "mode 0644")) << dump(r);
	EXPECT_EQ(r.errors(), 4U) << dump(r);
	EXPECT_EQ(r.exit_status(), 2);
}

TEST_F(CheckConfig, DatabaseAndItsDirectory)
{
	dc_config();
	/* missing: ntmd creates it, and its directory */
	auto r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
	/* a directory ntmd cannot write in */
	fs::create_directory(dir / "state");
	set_mode(dir / "state", 0500);
	r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "state", "dc.database's directory: ntmd (the tester, without "
							   "CAP_DAC_OVERRIDE) cannot create files in it"))
		<< dump(r);
	set_mode(dir / "state", 0700);
	/* an existing database is a secret */
	write_text(cfg.dc->database, "", 0644);
	r = run();
	EXPECT_TRUE(has(r, Severity::error, cfg.dc->database, "dc.database: mode 0644 gives group or others access"))
		<< dump(r);
	set_mode(cfg.dc->database, 0400);
	r = run();
	EXPECT_TRUE(has(r, Severity::error, cfg.dc->database, "dc.database: mode 0400: ntmd cannot write to it"))
		<< dump(r);
	set_mode(cfg.dc->database, 0600);
	r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
	/* a directory that cannot be created */
	cfg.dc->database = (dir / "ro" / "sub" / "registry.db").string();
	fs::create_directory(dir / "ro");
	set_mode(dir / "ro", 0500);
	r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "ro" / "sub", "dc.database's directory: does not exist, and ")) << dump(r);
}

TEST_F(CheckConfig, ControlSocketThatIsNotASocket)
{
	node_config();
	fs::create_directory(dir / "run");
	write_text(cfg.control_socket, "", 0600);
	auto r = run();
	EXPECT_TRUE(has(r, Severity::error, cfg.control_socket, "control_socket: exists and is not a socket")) << dump(r);
	/* a socket (left by a crashed ntmd) is fine: ntmd replaces it */
	fs::remove(cfg.control_socket);
	const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	ASSERT_LT(cfg.control_socket.size(), sizeof(sa.sun_path));
	std::copy(cfg.control_socket.begin(), cfg.control_socket.end(), std::begin(sa.sun_path));
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
	ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)), 0);
	(void)::close(fd);
	r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
}

TEST_F(CheckConfig, IkeFiles)
{
	cfg.role_ike = true;
	cfg.ike.emplace();
	ca_key = ec_key();
	key = ec_key();
	write_cert(dir / "ike-ca.pem", make_cert(ca_key.get(), "IKE CA", -kDay, 365 * kDay).get());
	write_cert(dir / "ike.pem", make_cert(key.get(), "gw", -kDay, 365 * kDay, "").get());
	write_key(dir / "ike.key", key.get());
	write_text(dir / "psk", "a long enough secret\n", 0600);
	cfg.ike->ca = (dir / "ike-ca.pem").string();
	cfg.ike->certificate = (dir / "ike.pem").string();
	cfg.ike->private_key = (dir / "ike.key").string();
	ntm::config::IkeConnection a;
	a.name = "a";
	a.local_auth = ntm::config::IkeAuth::pubkey;
	a.certificate = cfg.ike->certificate; /* the parser fills in the [ike] default */
	a.private_key = cfg.ike->private_key;
	ntm::config::IkeConnection b;
	b.name = "b";
	b.psk_file = (dir / "psk").string();
	cfg.ike->connections = {a, b};
	auto r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);

	write_key(dir / "ike.key", ec_key().get());
	set_mode(dir / "psk", 0640);
	write_cert(dir / "ike-ca.pem", make_cert(ca_key.get(), "IKE CA", -10 * kDay, -kDay).get());
	r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "ike.key", "ike.private_key: does not belong to certificate ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "psk", "ike.connection[1].psk_file: mode 0640")) << dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "ike-ca.pem", "ike.ca: certificate \"CN=IKE CA\" expired on")) << dump(r);
	EXPECT_EQ(r.errors(), 3U) << dump(r);

	set_mode(dir / "psk", 0600);
	write_text(dir / "psk", "\n", 0600);
	r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "psk", "ike.connection[1].psk_file: empty first line")) << dump(r);
}

TEST_F(CheckConfig, RolesNotEnabledAreNotChecked)
{
	/* [tls] and [ike] written but only ike's role off and no TLS role: nothing to read */
	cfg.tls.ca = (dir / "nowhere.pem").string();
	cfg.ike.emplace();
	cfg.ike->ca = (dir / "nowhere-either.pem").string();
	const auto r = run();
	EXPECT_TRUE(r.problems().empty()) << dump(r);
}

TEST_F(CheckConfig, SandboxOfTheUnit)
{
	node_config();
	opt.hidden_prefixes = {dir.string()};
	opt.writable_prefixes = {"/var/lib/ntm", "/run/ntm"};
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::warning, cfg.node->password_file, "ntmd.service cannot see files below ")) << dump(r);
	EXPECT_TRUE(has(r, Severity::warning, dir / "run",
			"ntmd.service may write only below /var/lib/ntm and /run/ntm (ProtectSystem=strict): add "
			"ReadWritePaths="))
		<< dump(r);
	EXPECT_EQ(r.errors(), 0U) << dump(r);
	EXPECT_EQ(r.exit_status(), 0);
}

/* D98: /run/ntm and /var/lib/ntm are made by systemd for the user ntm; missing before the first start is fine */
TEST_F(CheckConfig, DirectoriesTheUnitCreates)
{
	node_config();
	cfg.control_socket = (dir / "unitrun" / "ntmd.sock").string();
	opt.daemon.uids = {::getuid() + 1};
	opt.daemon.gids = {};
	::chmod(dir.c_str(), 0755);
	auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "unitrun", "does not exist, and ntmd")) << dump(r);
	opt.unit_dirs = {(dir / "unitrun").string()};
	r = run();
	EXPECT_FALSE(has(r, Severity::error, dir / "unitrun", "")) << dump(r);
}

TEST(CheckReport, LinesSummaryAndOneLinePerProblem)
{
	Report r;
	EXPECT_EQ(r.summary(), "0 errors, 0 warnings");
	r.error("/etc/ntm/k.pem", "tls.private_key: mode 0644");
	r.error("/etc/ntm/k.pem", "tls.private_key: mode 0644");
	r.warning("/etc/ntm/c.pem", "tls.certificate: expires");
	ASSERT_EQ(r.problems().size(), 2U);
	EXPECT_EQ(Report::line(r.problems()[0]), "ntmd: /etc/ntm/k.pem: error: tls.private_key: mode 0644");
	EXPECT_EQ(Report::line(r.problems()[1]), "ntmd: /etc/ntm/c.pem: warning: tls.certificate: expires");
	EXPECT_EQ(r.summary(), "1 error, 1 warning");
	EXPECT_EQ(r.exit_status(), 2);
	Report w;
	w.warning("/x", "y");
	w.warning("/x", "z");
	EXPECT_EQ(w.summary(), "0 errors, 2 warnings");
	EXPECT_EQ(w.exit_status(), 0);
}

/* D98: the user ntm alone when it exists (ntmd.service runs as it), else root alone */
TEST(CheckFiles, TheDaemonIsNtmOrRootNotBoth)
{
	const auto p = ntmd::check::daemon_principal();
	ASSERT_EQ(p.uids.size(), 1U);
	const passwd *ntm = ::getpwnam("ntm");
	if (ntm != nullptr && ntm->pw_uid != 0) {
		EXPECT_EQ(p.uids.front(), ntm->pw_uid);
		EXPECT_EQ(p.gids, std::vector<gid_t>{ntm->pw_gid});
		EXPECT_EQ(p.names, "ntm");
		EXPECT_EQ(p.chown_to, "ntm:ntm");
		EXPECT_EQ(p.trusted, std::vector<uid_t>{0}); /* root may own the configuration and certificates */
	} else {
		EXPECT_EQ(p.uids.front(), 0U);
		EXPECT_EQ(p.names, "root");
		EXPECT_EQ(p.chown_to, "root");
	}
	EXPECT_EQ(ntmd::check::mode_string(0100640), "0640");
}

/* D98: with the daemon as ntm, a root:ntm 0640 key is refused (the group is the status readers'), root-owned certificates are fine */
TEST_F(CheckConfig, SecretsAreTheDaemonsAloneRootMayOwnCertificates)
{
	dc_config();
	opt.daemon.uids = {::getuid() + 1};
	opt.daemon.gids = {::getgid()};
	opt.daemon.names = "ntm";
	opt.daemon.chown_to = "ntm:ntm";
	opt.daemon.trusted = {::getuid()};
	::chmod(dir.c_str(), 0755);
	::chmod((dir / "dc.key").c_str(), 0640);
	::chmod((dir / "dc.pem").c_str(), 0644);
	::chmod((dir / "ca.pem").c_str(), 0644);
	const auto r = run();
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", "tls.private_key: mode 0640 gives group or others access"))
		<< dump(r);
	EXPECT_TRUE(has(r, Severity::error, dir / "dc.key", ", not by ntm (chown ntm:ntm ")) << dump(r);
	EXPECT_FALSE(has(r, Severity::warning, dir / "dc.pem", "who can change it")) << dump(r);
	EXPECT_FALSE(has(r, Severity::error, dir / "dc.pem", "")) << dump(r);
}

} // namespace
