// SPDX-License-Identifier: GPL-2.0
/*
 * ResolvedLink against a stand-in for systemd-resolved on a private
 * dbus-daemon (DBUS_SYSTEM_BUS_ADDRESS): the per-link calls, and the
 * settings applied again when resolved restarts (D102), retried while the
 * new instance does not know the link yet, and not after revert().
 */
#include <arpa/inet.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <gtest/gtest.h>
#include <systemd/sd-bus.h>

#include "resolved.hpp"

extern char **environ; // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kIfindex = 7;

ntm::IpAddress v4(const char *s)
{
	in_addr a{};
	EXPECT_EQ(inet_pton(AF_INET, s, &a), 1);
	return ntm::IpAddress::v4(a);
}

/* A dbus-daemon of our own, with a policy that lets anyone own any name. */
class PrivateBus {
public:
	PrivateBus()
	{
		std::string tmpl = (fs::temp_directory_path() / "ntm-bus-XXXXXX").string();
		if (::mkdtemp(tmpl.data()) == nullptr)
			return;
		dir_ = tmpl;
		const auto sock = dir_ / "bus";
		const auto conf = dir_ / "bus.conf";
		std::ofstream(conf) << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
				       " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
				       "<busconfig><type>system</type><listen>unix:path="
				    << sock.string()
				    << "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
				       "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>"
				       "<allow own=\"*\"/><allow user=\"*\"/></policy></busconfig>\n";
		const std::string arg = "--config-file=" + conf.string();
		std::vector<char *> argv{const_cast<char *>("dbus-daemon"), const_cast<char *>(arg.c_str()),
					 const_cast<char *>("--nofork"), const_cast<char *>("--nopidfile"), nullptr};
		if (::posix_spawnp(&pid_, "dbus-daemon", nullptr, nullptr, argv.data(), environ) != 0) {
			pid_ = -1;
			return;
		}
		for (int i = 0; i < 200 && !fs::exists(sock); i++)
			std::this_thread::sleep_for(25ms);
		address_ = "unix:path=" + sock.string();
	}
	PrivateBus(const PrivateBus &) = delete;
	PrivateBus &operator=(const PrivateBus &) = delete;
	PrivateBus(PrivateBus &&) = delete;
	PrivateBus &operator=(PrivateBus &&) = delete;
	~PrivateBus()
	{
		if (pid_ > 0) {
			::kill(pid_, SIGTERM);
			::waitpid(pid_, nullptr, 0);
		}
		std::error_code ec;
		if (!dir_.empty())
			fs::remove_all(dir_, ec);
	}
	[[nodiscard]] bool up() const { return pid_ > 0 && fs::exists(dir_ / "bus"); }
	[[nodiscard]] const std::string &address() const { return address_; }

private:
	fs::path dir_;
	pid_t pid_ = -1;
	std::string address_;
};

/*
 * org.freedesktop.resolve1 on that bus, in a thread of its own, recording
 * the calls; the first fail_first calls answer "link not known", as a
 * resolved that has not enumerated the links yet.
 */
class FakeResolved {
public:
	FakeResolved(const std::string &address, int fail_first = 0) : fail_left_(fail_first)
	{
		sd_bus *b = nullptr;
		if (sd_bus_new(&b) < 0)
			return;
		bus_ = b;
		if (sd_bus_set_address(b, address.c_str()) < 0 || sd_bus_set_bus_client(b, 1) < 0 ||
		    sd_bus_start(b) < 0)
			return;
		if (sd_bus_add_object_vtable(b, nullptr, "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager",
					     kVtable, this) < 0)
			return;
		/* queued behind an instance the bus has not seen go yet */
		if (sd_bus_request_name(b, "org.freedesktop.resolve1", SD_BUS_NAME_QUEUE) < 0)
			return;
		ok_ = true;
		thread_ = std::thread([this] {
			while (!stop_) {
				const int r = sd_bus_process(bus_, nullptr);
				if (r < 0)
					break;
				if (r == 0)
					(void)sd_bus_wait(bus_, 50'000);
			}
		});
	}
	FakeResolved(const FakeResolved &) = delete;
	FakeResolved &operator=(const FakeResolved &) = delete;
	FakeResolved(FakeResolved &&) = delete;
	FakeResolved &operator=(FakeResolved &&) = delete;
	/* the connection closes: the bus says NameOwnerChanged(name, us, "") */
	~FakeResolved()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
		sd_bus_flush_close_unref(bus_);
	}
	[[nodiscard]] bool ok() const { return ok_; }
	[[nodiscard]] std::vector<std::string> calls()
	{
		const std::lock_guard<std::mutex> l(mu_);
		return calls_;
	}

private:
	static int set_dns(sd_bus_message *m, void *self, sd_bus_error *err)
	{
		auto *f = static_cast<FakeResolved *>(self);
		int ifindex = 0;
		if (sd_bus_message_read(m, "i", &ifindex) < 0 || sd_bus_message_enter_container(m, 'a', "(iay)") < 0)
			return -EINVAL;
		std::string s = "SetLinkDNS " + std::to_string(ifindex);
		while (sd_bus_message_enter_container(m, 'r', "iay") > 0) {
			int family = 0;
			const void *p = nullptr;
			size_t n = 0;
			if (sd_bus_message_read(m, "i", &family) < 0 || sd_bus_message_read_array(m, 'y', &p, &n) < 0)
				return -EINVAL;
			std::array<char, INET6_ADDRSTRLEN> buf{};
			if (::inet_ntop(family, p, buf.data(), buf.size()) != nullptr)
				s += std::string(" ") + buf.data();
			(void)sd_bus_message_exit_container(m);
		}
		return f->record(m, err, ifindex, s);
	}
	static int set_domains(sd_bus_message *m, void *self, sd_bus_error *err)
	{
		auto *f = static_cast<FakeResolved *>(self);
		int ifindex = 0;
		if (sd_bus_message_read(m, "i", &ifindex) < 0 || sd_bus_message_enter_container(m, 'a', "(sb)") < 0)
			return -EINVAL;
		std::string s = "SetLinkDomains " + std::to_string(ifindex);
		const char *d = nullptr;
		int route_only = 0;
		while (sd_bus_message_read(m, "(sb)", &d, &route_only) > 0)
			s += std::string(" ") + (route_only != 0 ? "~" : "") + d;
		return f->record(m, err, ifindex, s);
	}
	static int set_default_route(sd_bus_message *m, void *self, sd_bus_error *err)
	{
		int ifindex = 0;
		int on = 0;
		if (sd_bus_message_read(m, "ib", &ifindex, &on) < 0)
			return -EINVAL;
		return static_cast<FakeResolved *>(self)->record(
			m, err, ifindex, "SetLinkDefaultRoute " + std::to_string(ifindex) + (on != 0 ? " yes" : " no"));
	}
	static int revert(sd_bus_message *m, void *self, sd_bus_error *err)
	{
		int ifindex = 0;
		if (sd_bus_message_read(m, "i", &ifindex) < 0)
			return -EINVAL;
		return static_cast<FakeResolved *>(self)->record(m, err, ifindex, "RevertLink " + std::to_string(ifindex));
	}
	int record(sd_bus_message *m, sd_bus_error *err, int ifindex, const std::string &what)
	{
		if (fail_left_ > 0) {
			fail_left_--;
			return sd_bus_error_setf(err, "org.freedesktop.resolve1.NoSuchLink", "Link %i not known", ifindex);
		}
		{
			const std::lock_guard<std::mutex> l(mu_);
			calls_.push_back(what);
		}
		return sd_bus_reply_method_return(m, "");
	}

	static constexpr sd_bus_vtable kVtable[] = {
		SD_BUS_VTABLE_START(0),
		SD_BUS_METHOD("SetLinkDNS", "ia(iay)", "", &FakeResolved::set_dns, SD_BUS_VTABLE_UNPRIVILEGED),
		SD_BUS_METHOD("SetLinkDomains", "ia(sb)", "", &FakeResolved::set_domains, SD_BUS_VTABLE_UNPRIVILEGED),
		SD_BUS_METHOD("SetLinkDefaultRoute", "ib", "", &FakeResolved::set_default_route,
			      SD_BUS_VTABLE_UNPRIVILEGED),
		SD_BUS_METHOD("RevertLink", "i", "", &FakeResolved::revert, SD_BUS_VTABLE_UNPRIVILEGED),
		SD_BUS_VTABLE_END,
	};

	sd_bus *bus_ = nullptr;
	bool ok_ = false;
	std::atomic<bool> stop_{false};
	std::thread thread_;
	std::mutex mu_;
	std::vector<std::string> calls_;
	int fail_left_; /* touched by the bus thread only */
};

class ResolvedRestart : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!bus.up())
			GTEST_SKIP() << "dbus-daemon did not start (package dbus-daemon)";
		ASSERT_EQ(::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1), 0);
	}
	/* runs io until pred holds or `limit` passes */
	template <typename Pred> bool run_until(Pred pred, std::chrono::milliseconds limit)
	{
		const auto end = std::chrono::steady_clock::now() + limit;
		while (!pred() && std::chrono::steady_clock::now() < end) {
			io.restart();
			io.run_for(20ms);
		}
		return pred();
	}
	static bool has(const std::vector<std::string> &calls, const std::string &c)
	{
		return std::find(calls.begin(), calls.end(), c) != calls.end();
	}

	PrivateBus bus;
	asio::io_context io;
};

TEST_F(ResolvedRestart, AppliesTheLinkSettings)
{
	FakeResolved r(bus.address());
	ASSERT_TRUE(r.ok());
	EXPECT_TRUE(ntmd::ResolvedLink::available());
	ntmd::ResolvedLink link(kIfindex, "ntm0");
	link.apply({v4("10.77.0.3")}, {"ntm.test", "other.test"});
	EXPECT_TRUE(link.applied());
	const auto c = r.calls();
	EXPECT_TRUE(has(c, "SetLinkDNS 7 10.77.0.3"));
	EXPECT_TRUE(has(c, "SetLinkDomains 7 ~ntm.test ~other.test"));
	EXPECT_TRUE(has(c, "SetLinkDefaultRoute 7 no"));
	EXPECT_TRUE(link.revert());
	EXPECT_TRUE(has(r.calls(), "RevertLink 7"));
}

TEST_F(ResolvedRestart, AppliesAgainAfterRestart)
{
	auto first = std::make_unique<FakeResolved>(bus.address());
	ASSERT_TRUE(first->ok());
	ntmd::ResolvedLink link(kIfindex, "ntm0");
	link.follow(io);
	link.apply({v4("10.77.0.3")}, {"ntm.test"});
	first.reset(); /* resolved stops */
	/* the new instance does not know the link for its first two calls */
	FakeResolved second(bus.address(), 2);
	ASSERT_TRUE(second.ok());
	EXPECT_TRUE(run_until([&] { return link.reapplied() == 1; }, 10s)) << "settings not applied again";
	const auto c = second.calls();
	EXPECT_TRUE(has(c, "SetLinkDNS 7 10.77.0.3"));
	EXPECT_TRUE(has(c, "SetLinkDomains 7 ~ntm.test"));
	EXPECT_TRUE(has(c, "SetLinkDefaultRoute 7 no"));
	EXPECT_TRUE(link.applied());
}

TEST_F(ResolvedRestart, NotAfterRevert)
{
	auto first = std::make_unique<FakeResolved>(bus.address());
	ASSERT_TRUE(first->ok());
	ntmd::ResolvedLink link(kIfindex, "ntm0");
	link.follow(io);
	link.apply({v4("10.77.0.3")}, {"ntm.test"});
	EXPECT_TRUE(link.revert());
	first.reset();
	FakeResolved second(bus.address());
	ASSERT_TRUE(second.ok());
	(void)run_until([] { return false; }, 1500ms);
	EXPECT_TRUE(second.calls().empty());
	EXPECT_EQ(link.reapplied(), 0U);
}

/* without follow(), a restarted resolved never hears of the link again */
TEST_F(ResolvedRestart, NothingWithoutFollow)
{
	auto first = std::make_unique<FakeResolved>(bus.address());
	ASSERT_TRUE(first->ok());
	ntmd::ResolvedLink link(kIfindex, "ntm0");
	link.apply({v4("10.77.0.3")}, {"ntm.test"});
	first.reset();
	FakeResolved second(bus.address());
	ASSERT_TRUE(second.ok());
	(void)run_until([] { return false; }, 1000ms);
	EXPECT_TRUE(second.calls().empty());
}

} // namespace
