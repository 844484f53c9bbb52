// SPDX-License-Identifier: GPL-2.0
/*
 * D98: who may run which command on ntmd's control socket. The policy
 * (which commands only read), the refusal answered to a client that is
 * neither root nor ntmd's uid (SO_PEERCRED), and ntmctl printing it. The
 * test's own uid is made a non-admin with set_admins(), so no second user
 * and no root are needed.
 */
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "run_ntmctl.hpp"
#include "control.hpp"

using namespace ntmd;

namespace {

using ntm_test::Result;
using ntm_test::run_ntmctl;

/* A control socket on its own loop thread; the handler records the commands that reach it. */
class Server {
public:
	explicit Server(const std::string &name)
	    : dir_(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))),
	      path_((dir_ / "ctl.sock").string()),
	      ctl_(io_, path_,
		   [this](const nlohmann::json &req) {
			   reached_.push_back(req["cmd"].get<std::string>());
			   if (req["cmd"] == "status")
				   return nlohmann::json{{"ok", true}, {"roles", nlohmann::json::array()}};
			   if (req["cmd"] == "ike-initiate")
				   return nlohmann::json{{"ok", true}, {"id", 7}};
			   return nlohmann::json{{"ok", false}, {"error", "unknown command"}};
		   })
	{}
	Server(const Server &) = delete;
	Server &operator=(const Server &) = delete;
	Server(Server &&) = delete;
	Server &operator=(Server &&) = delete;
	~Server()
	{
		if (thread_.joinable()) {
			/* no io_.stop(): the connections (closed by ntmctl) must end before ctl_ goes */
			asio::post(io_, [this] { ctl_.stop(); });
			work_.reset();
			thread_.join();
		}
		std::error_code ec;
		std::filesystem::remove_all(dir_, ec);
	}
	void start(std::vector<uid_t> admins)
	{
		ctl_.set_admins(std::move(admins));
		ctl_.start();
		thread_ = std::thread([this] { io_.run(); });
	}
	[[nodiscard]] const std::string &path() const { return path_; }
	/* read after the server stopped, or between requests (ntmctl waits for each answer) */
	[[nodiscard]] const std::vector<std::string> &reached() const { return reached_; }

private:
	asio::io_context io_{1};
	asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
	std::filesystem::path dir_;
	std::string path_;
	std::vector<std::string> reached_;
	ControlServer ctl_;
	std::thread thread_;
};

} // namespace

TEST(ControlAccess, OnlyReadsAreOpenToTheGroup)
{
	EXPECT_EQ(command_access("status"), Access::read);
	EXPECT_EQ(command_access("ike-list"), Access::read);
	EXPECT_EQ(command_access("subscribe"), Access::read);
	for (const char *cmd : {"ike-initiate", "ike-terminate", "ike-rekey", "refresh"})
		EXPECT_EQ(command_access(cmd), Access::admin) << cmd;
	/* unknown (future) commands are closed until someone classifies them */
	EXPECT_EQ(command_access("bogus"), Access::admin);
	EXPECT_EQ(command_access(""), Access::admin);
	EXPECT_EQ(command_access("Status"), Access::admin);
}

TEST(ControlAccess, RefusalText)
{
	EXPECT_EQ(refusal("ike-rekey"),
		  (nlohmann::json{{"ok", false}, {"error", "permission denied: ike-rekey needs root"}}));
}

TEST(ControlAccess, RootAndTheDaemonAreAdmins)
{
	const auto a = default_admins();
	ASSERT_FALSE(a.empty());
	EXPECT_EQ(a.front(), 0U);
	EXPECT_NE(std::ranges::find(a, ::geteuid()), a.end());
}

TEST(ControlAccess, GroupMemberMayReadButNotChange)
{
	Server s("ntm-ctl-group");
	s.start({::geteuid() + 1}); /* this process is "a member of the group", not an admin */
	const auto status = run_ntmctl({"status", "--socket", s.path(), "--json"});
	EXPECT_EQ(status.rc, 0) << status.err;
	EXPECT_NE(status.out.find("\"ok\":true"), std::string::npos) << status.out;

	const auto init = run_ntmctl({"ike", "initiate", "moon", "--no-wait", "--socket", s.path()});
	EXPECT_EQ(init.rc, 1);
	EXPECT_NE(init.err.find("permission denied: ike-initiate needs root"), std::string::npos) << init.err;
	EXPECT_EQ(init.out, "");
	const auto rekey = run_ntmctl({"ike", "rekey", "moon", "--socket", s.path()});
	EXPECT_EQ(rekey.rc, 1);
	EXPECT_NE(rekey.err.find("permission denied: ike-rekey needs root"), std::string::npos) << rekey.err;
	/* the refused commands never reached the handler */
	EXPECT_EQ(s.reached(), (std::vector<std::string>{"status"}));
}

TEST(ControlAccess, AdminMayChange)
{
	Server s("ntm-ctl-admin");
	s.start({::geteuid()});
	const auto init = run_ntmctl({"ike", "initiate", "moon", "--no-wait", "--socket", s.path()});
	EXPECT_EQ(init.rc, 0) << init.err;
	EXPECT_NE(init.out.find("IKE SA #7"), std::string::npos) << init.out;
	EXPECT_EQ(s.reached(), (std::vector<std::string>{"ike-initiate"}));
}
