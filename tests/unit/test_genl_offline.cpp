// SPDX-License-Identifier: GPL-2.0
/*
 * The generic-netlink client against the kernel's own "nlctrl" family,
 * which every Linux has: requests with acks and replies, errors, dumps,
 * recovery after an abandoned dump, multicast groups. No ntm.ko needed.
 */
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <set>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <netlink/attr.h>

#include "ntm/error.hpp"
#include "ntm/genl.hpp"

namespace {

std::string family_name(const ntm::GenlReply &r)
{
	std::array<nlattr *, CTRL_ATTR_MAX + 1> tb{};
	// NOLINTNEXTLINE
	nla_parse(tb.data(), CTRL_ATTR_MAX, reinterpret_cast<nlattr *>(const_cast<std::uint8_t *>(r.attrs.data())),
		  static_cast<int>(r.attrs.size()), nullptr);
	if (tb[CTRL_ATTR_FAMILY_NAME] == nullptr)
		return {};
	return static_cast<const char *>(nla_data(tb[CTRL_ATTR_FAMILY_NAME]));
}

ntm::NlMsgPtr get_family(ntm::GenlSocket &gs, const char *name)
{
	auto msg = gs.new_message(CTRL_CMD_GETFAMILY, 0);
	nla_put_string(msg.get(), CTRL_ATTR_FAMILY_NAME, name);
	return msg;
}

} // namespace

TEST(GenlOffline, MissingFamily)
{
	try {
		ntm::GenlSocket gs("ntm-no-such-family");
		FAIL();
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ENOENT);
		EXPECT_NE(std::string(e.what()).find("family not found"), std::string::npos);
	}
}

TEST(GenlOffline, MissingNtmMessage)
{
	EXPECT_EQ(ntm::kFamilyMissing, "ntm: family not found (is ntm.ko loaded? try: modprobe ntm)");
}

TEST(GenlOffline, DoitReplyAndAck)
{
	ntm::GenlSocket gs("nlctrl");
	EXPECT_EQ(gs.family_id(), GENL_ID_CTRL);
	for (int i = 0; i < 3; i++) { /* the socket is reusable */
		std::vector<std::string> names;
		gs.request(get_family(gs, "nlctrl"), "get family",
			   [&names](const ntm::GenlReply &r) { names.push_back(family_name(r)); });
		ASSERT_EQ(names.size(), 1U);
		EXPECT_EQ(names[0], "nlctrl");
	}
}

TEST(GenlOffline, KernelError)
{
	ntm::GenlSocket gs("nlctrl");
	try {
		gs.request(get_family(gs, "ntmnosuchfam"), "get family x");
		FAIL();
	} catch (const ntm::KernelError &e) {
		EXPECT_EQ(e.code(), ENOENT);
		EXPECT_EQ(std::string(e.what()).rfind("get family x: No such file or directory", 0), 0U) << e.what();
	}
	/* and the socket still works after an error */
	int n = 0;
	gs.request(get_family(gs, "nlctrl"), "again", [&n](const ntm::GenlReply &) { n++; });
	EXPECT_EQ(n, 1);
}

TEST(GenlOffline, Dump)
{
	ntm::GenlSocket gs("nlctrl");
	std::set<std::string> names;
	gs.dump(gs.new_message(CTRL_CMD_GETFAMILY, NLM_F_DUMP), "dump families", [&names](const ntm::GenlReply &r) {
		EXPECT_EQ(r.cmd, CTRL_CMD_NEWFAMILY);
		names.insert(family_name(r));
	});
	EXPECT_TRUE(names.contains("nlctrl"));
}

TEST(GenlOffline, AbandonedDumpRecovers)
{
	ntm::GenlSocket gs("nlctrl");
	EXPECT_THROW(gs.dump(gs.new_message(CTRL_CMD_GETFAMILY, NLM_F_DUMP), "dump",
			     [](const ntm::GenlReply &) { throw std::runtime_error("stop"); }),
		     std::runtime_error);
	/* leftovers of the dump must not be taken for the next reply */
	std::vector<std::string> names;
	gs.request(get_family(gs, "nlctrl"), "get family",
		   [&names](const ntm::GenlReply &r) { names.push_back(family_name(r)); });
	ASSERT_EQ(names.size(), 1U);
	EXPECT_EQ(names[0], "nlctrl");
}

TEST(GenlOffline, Groups)
{
	ntm::GenlSocket gs("nlctrl");
	const auto id = gs.group_id("notify");
	EXPECT_GT(id, 0U);
	gs.join_group(id);
	gs.set_rcvbuf(1 << 20);
	gs.set_nonblocking();
	EXPECT_EQ(gs.receive_events([](const ntm::GenlReply &) {}), ntm::GenlSocket::RecvStatus::would_block);
	EXPECT_THROW((void)gs.group_id("no-such-group"), ntm::Error);
}

TEST(GenlOffline, DescribeError)
{
	EXPECT_EQ(ntm::describe_kernel_error(EEXIST, ""), "File exists");
	EXPECT_EQ(ntm::describe_kernel_error(EINVAL, "salt equal in both directions"),
		  "Invalid argument: salt equal in both directions");
	EXPECT_EQ(ntm::describe_kernel_error(EPERM, ""), "Operation not permitted (ntm needs CAP_NET_ADMIN)");
	const ntm::KernelError e("add tunnel 5 on ntm0", EEXIST, "local index in use");
	EXPECT_STREQ(e.what(), "add tunnel 5 on ntm0: File exists: local index in use");
	EXPECT_EQ(e.extack(), "local index in use");
	EXPECT_EQ(e.code(), EEXIST);
}

TEST(GenlOffline, ExtendedAck)
{
	/* a name longer than GENL_NAMSIZ fails nlctrl's policy, with an extack message */
	ntm::GenlSocket gs("nlctrl");
	try {
		gs.request(get_family(gs, "a-name-longer-than-genl-namsiz"), "get family");
		FAIL();
	} catch (const ntm::KernelError &e) {
		EXPECT_EQ(e.code(), EINVAL);
		if (e.extack().empty())
			GTEST_SKIP() << "kernel without extended acks";
		EXPECT_NE(std::string(e.what()).find(e.extack()), std::string::npos);
	}
}
