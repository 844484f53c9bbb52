// SPDX-License-Identifier: GPL-2.0
/*
 * ntmctl end to end without a kernel: exit statuses and messages of usage
 * errors and of batch files that fail before anything is sent.
 */
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "commands.hpp"
#include "run_ntmctl.hpp"

namespace {

using ntm_test::Result;

Result run(std::vector<std::string> args)
{
	return ntm_test::run_ntmctl(std::move(args));
}

std::string temp_file(const std::string &content)
{
	std::string path = ::testing::TempDir() + "ntmbatchXXXXXX";
	const int fd = mkstemp(path.data());
	EXPECT_GE(fd, 0);
	::close(fd);
	std::ofstream(path) << content;
	return path;
}

} // namespace

TEST(RunMain, UsageErrorsExit2)
{
	auto r = run({});
	EXPECT_EQ(r.rc, 2);
	EXPECT_EQ(r.err.rfind("ntmctl: ", 0), 0U) << r.err;
	r = run({"frobnicate"});
	EXPECT_EQ(r.rc, 2);
	r = run({"tunnel", "del", "ntm0"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_NE(r.err.find("--local-index is required"), std::string::npos) << r.err;
	r = run({"tunnel", "del", "ntm0", "--local-index", "x"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_NE(r.err.find("invalid --local-index 'x'"), std::string::npos) << r.err;
	r = run({"tunnel", "set", "ntm0", "--local-index", "1", "--endpoint", "1.2.3.4"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_NE(r.err.find("invalid endpoint"), std::string::npos) << r.err;
	EXPECT_TRUE(r.out.empty());
}

TEST(RunMain, Help)
{
	auto r = run({"--help"});
	EXPECT_EQ(r.rc, 0);
	EXPECT_NE(r.out.find("Usage: ntmctl"), std::string::npos);
	EXPECT_TRUE(r.err.empty());
	r = run({"tunnel", "add", "-h"});
	EXPECT_EQ(r.rc, 0);
	EXPECT_NE(r.out.find("--key-file"), std::string::npos);
}

TEST(RunMain, KeysNeverPrinted)
{
	const std::string key(64, 'c');
	auto r = run({"tunnel", "add", "ntm0", "--local-index", "1", "--remote-index", "2", "--endpoint", "1.2.3.4",
		      "--vip4", "10.0.0.1", "--cipher", "aes-gcm", "--key", key, "--tx-salt", "01020304", "--rx-salt",
		      "05060708"});
	EXPECT_EQ(r.rc, 2);
	EXPECT_EQ(r.err.find("cccc"), std::string::npos) << r.err;
}

TEST(RunMain, BatchMissingFile)
{
	const auto r = run({"batch", "/nonexistent/ntm.batch"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_NE(r.err.find("ntmctl: batch /nonexistent/ntm.batch: No such file or directory"), std::string::npos)
		<< r.err;
}

TEST(RunMain, BatchStopsAtFirstBadLine)
{
	const auto path = temp_file("# comment\n\n  tunnel del ntm0\nmonitor\n");
	const auto r = run({"batch", path});
	EXPECT_EQ(r.rc, 1);
	EXPECT_NE(r.err.find("ntmctl: batch line 3: --local-index is required"), std::string::npos) << r.err;
	EXPECT_EQ(r.err.find("line 4"), std::string::npos) << r.err;
	::unlink(path.c_str());
}

TEST(RunMain, BatchForceRunsEveryLine)
{
	const auto path = temp_file("tunnel del ntm0\n'unterminated\nmonitor --count 1\n# ok\n");
	const auto r = run({"batch", path, "--force"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_NE(r.err.find("batch line 1:"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("batch line 2: unterminated single quote"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("batch line 3: batch and monitor cannot run inside a batch"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("ntmctl: batch: 3 of 4 lines failed"), std::string::npos) << r.err;
	::unlink(path.c_str());
}

TEST(RunMain, BatchOfCommentsSucceeds)
{
	const auto path = temp_file("# nothing\n\n   \n# at all");
	const auto r = run({"batch", path});
	EXPECT_EQ(r.rc, 0) << r.err;
	EXPECT_TRUE(r.err.empty());
	::unlink(path.c_str());
}
