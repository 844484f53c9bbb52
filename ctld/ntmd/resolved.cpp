// SPDX-License-Identifier: GPL-2.0
#include "resolved.hpp"

#include <cerrno>
#include <cstdint>
#include <string_view>

#include <spdlog/spdlog.h>
#include <systemd/sd-bus.h>

#include "ntm/error.hpp"

namespace ntmd {

namespace {

constexpr const char *kService = "org.freedesktop.resolve1";
constexpr const char *kPath = "/org/freedesktop/resolve1";
constexpr const char *kManager = "org.freedesktop.resolve1.Manager";
/* every call at start or stop blocks the event loop at most this long */
constexpr std::uint64_t kCallTimeoutUsec = 3'000'000;
/* a restarted resolved that does not know the link yet: once a second */
constexpr unsigned kReapplyTries = 30;

std::string errtext(int r)
{
	return std::error_code(-r, std::generic_category()).message();
}

/* Frees an sd_bus_error / unrefs a message at scope exit. */
struct Error {
	/* = SD_BUS_ERROR_NULL (all zero); the macro is a C compound literal, refused by clang -Wpedantic */
	sd_bus_error e{};
	Error() = default;
	Error(const Error &) = delete;
	Error &operator=(const Error &) = delete;
	Error(Error &&) = delete;
	Error &operator=(Error &&) = delete;
	~Error() { sd_bus_error_free(&e); }
	[[nodiscard]] std::string text(int r) const
	{
		if (sd_bus_error_is_set(&e))
			return std::string(e.name) + (e.message != nullptr ? std::string(": ") + e.message : "");
		return errtext(r);
	}
};

struct Msg {
	sd_bus_message *m = nullptr;
	Msg() = default;
	Msg(const Msg &) = delete;
	Msg &operator=(const Msg &) = delete;
	Msg(Msg &&) = delete;
	Msg &operator=(Msg &&) = delete;
	~Msg() { sd_bus_message_unref(m); }
};

/*
 * resolved's refusal (no root, no polkit grant) comes back as AccessDenied
 * or, without the interactive flag, InteractiveAuthorizationRequired: both
 * EACCES, whatever errno sd-bus maps them to.
 */
int code_of(const Error &err, int r)
{
	if (sd_bus_error_has_names(&err.e, SD_BUS_ERROR_ACCESS_DENIED,
				   SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) != 0)
		return EACCES;
	return -r;
}

void check(int r, const std::string &what)
{
	if (r < 0)
		throw ntm::Error("systemd-resolved: " + what + ": " + errtext(r), -r);
}

/* Sends m, waits at most kCallTimeoutUsec for the reply. */
void call(sd_bus *bus, sd_bus_message *m, const std::string &what)
{
	Error err;
	Msg reply;
	const int r = sd_bus_call(bus, m, kCallTimeoutUsec, &err.e, &reply.m);
	if (r < 0)
		throw ntm::Error("systemd-resolved: " + what + ": " + err.text(r), code_of(err, r));
}

} // namespace

void ResolvedLink::BusDeleter::operator()(sd_bus *b) const noexcept
{
	sd_bus_flush_close_unref(b);
}

bool ResolvedLink::available() noexcept
{
	sd_bus *raw = nullptr;
	if (sd_bus_open_system(&raw) < 0)
		return false;
	const std::unique_ptr<sd_bus, BusDeleter> bus(raw);
	(void)sd_bus_set_method_call_timeout(raw, kCallTimeoutUsec);
	Error err;
	Msg reply;
	if (sd_bus_call_method(raw, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
			       "NameHasOwner", &err.e, &reply.m, "s", kService) < 0)
		return false;
	int has = 0;
	if (sd_bus_message_read(reply.m, "b", &has) < 0)
		return false;
	return has != 0;
}

ResolvedLink::ResolvedLink(int ifindex, std::string ifname) : ifindex_(ifindex), ifname_(std::move(ifname))
{
	sd_bus *raw = nullptr;
	check(sd_bus_open_system(&raw), "cannot connect to the system bus");
	bus_.reset(raw);
	(void)sd_bus_set_method_call_timeout(raw, kCallTimeoutUsec);
}

ResolvedLink::~ResolvedLink()
{
	(void)revert();
	if (fd_) {
		/* sd-bus owns the fd: the pending wait ends with operation_aborted */
		(void)fd_->release();
	}
}

void ResolvedLink::SlotDeleter::operator()(sd_bus_slot *s) const noexcept
{
	sd_bus_slot_unref(s);
}

void ResolvedLink::follow(asio::io_context &io)
{
	if (fd_)
		return;
	sd_bus_slot *slot = nullptr;
	/*
	 * arg0 in the rule: the bus sends us the changes of resolved's name
	 * only, not every client's connect and disconnect
	 */
	check(sd_bus_add_match(bus_.get(), &slot,
			       "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
			       "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
			       "arg0='org.freedesktop.resolve1'",
			       &ResolvedLink::on_owner_changed, this),
	      "cannot watch for restarts (NameOwnerChanged)");
	match_.reset(slot);
	const int fd = sd_bus_get_fd(bus_.get());
	check(fd, "sd_bus_get_fd");
	fd_ = std::make_unique<asio::posix::stream_descriptor>(io, fd);
	retry_ = std::make_unique<asio::steady_timer>(io);
	drain();
	arm_bus();
}

/* NameOwnerChanged(name, old_owner, new_owner) */
int ResolvedLink::on_owner_changed(sd_bus_message *m, void *self, sd_bus_error * /*err*/)
{
	const char *name = nullptr;
	const char *old_owner = nullptr;
	const char *new_owner = nullptr;
	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
		return 0;
	if (std::string_view(name) != kService || *new_owner == '\0')
		return 0;
	auto *link = static_cast<ResolvedLink *>(self);
	link->owner_changed_ = true;
	return 0;
}

/*
 * Runs what sd-bus has read (also what it queued while a synchronous call
 * waited for its reply, which leaves the fd quiet), then acts on a restart
 * of resolved from the event loop.
 */
void ResolvedLink::drain() noexcept
{
	for (int i = 0; i < 64; i++) {
		const int r = sd_bus_process(bus_.get(), nullptr);
		if (r == 0)
			break;
		if (r < 0) {
			spdlog::warn("dns: systemd-resolved: the system bus connection failed ({}): a restart of "
				     "resolved will not be noticed",
				     errtext(r));
			break;
		}
	}
	if (owner_changed_ && retry_) {
		owner_changed_ = false;
		retries_ = 0;
		try {
			schedule(std::chrono::milliseconds(0));
		} catch (const std::exception &e) {
			spdlog::warn("dns: systemd-resolved restarted, {} is not set again: {}", ifname_, e.what());
		}
	}
}

void ResolvedLink::schedule(std::chrono::milliseconds after)
{
	retry_->expires_after(after); /* cancels a pending retry */
	retry_->async_wait([this](const std::error_code &ec) {
		if (!ec)
			reapply(); /* aborted: this may be gone */
	});
}

void ResolvedLink::arm_bus()
{
	fd_->async_wait(asio::posix::descriptor_base::wait_read, [this](const std::error_code &ec) {
		if (ec)
			return; /* aborted: this may be gone */
		drain();
		if (sd_bus_is_open(bus_.get()) > 0)
			arm_bus();
	});
}

/*
 * A new resolved has none of our settings: nothing to revert, apply again.
 * It may own its name before it has enumerated the links ("Link not
 * known"): retry every second for up to kReapplyTries seconds.
 */
void ResolvedLink::reapply()
{
	if (!have_settings_)
		return;
	applied_ = false;
	try {
		apply(servers_, domains_);
		reapplied_++;
		spdlog::info("dns: systemd-resolved restarted: {} has its DNS settings again", ifname_);
	} catch (const std::exception &e) {
		if (++retries_ >= kReapplyTries) {
			spdlog::warn("dns: systemd-resolved restarted, and {} could not be set again: {}", ifname_,
				     e.what());
			return;
		}
		spdlog::debug("dns: systemd-resolved restarted: {} (retrying)", e.what());
		schedule(std::chrono::seconds(1));
	}
}

void ResolvedLink::apply(const std::vector<ntm::IpAddress> &servers, const std::vector<std::string> &domains)
{
	sd_bus *bus = bus_.get();
	{
		Msg m;
		check(sd_bus_message_new_method_call(bus, &m.m, kService, kPath, kManager, "SetLinkDNS"), "SetLinkDNS");
		check(sd_bus_message_append(m.m, "i", ifindex_), "SetLinkDNS");
		check(sd_bus_message_open_container(m.m, 'a', "(iay)"), "SetLinkDNS");
		for (const auto &a : servers) {
			check(sd_bus_message_open_container(m.m, 'r', "iay"), "SetLinkDNS");
			check(sd_bus_message_append(m.m, "i", a.family()), "SetLinkDNS");
			const auto b = a.bytes();
			check(sd_bus_message_append_array(m.m, 'y', b.data(), b.size()), "SetLinkDNS");
			check(sd_bus_message_close_container(m.m), "SetLinkDNS");
		}
		check(sd_bus_message_close_container(m.m), "SetLinkDNS");
		call(bus, m.m, "SetLinkDNS on " + ifname_);
	}
	applied_ = true; /* from here on, revert */
	{
		Msg m;
		check(sd_bus_message_new_method_call(bus, &m.m, kService, kPath, kManager, "SetLinkDomains"),
		      "SetLinkDomains");
		check(sd_bus_message_append(m.m, "i", ifindex_), "SetLinkDomains");
		check(sd_bus_message_open_container(m.m, 'a', "(sb)"), "SetLinkDomains");
		for (const auto &d : domains)
			check(sd_bus_message_append(m.m, "(sb)", d.c_str(), 1), "SetLinkDomains");
		check(sd_bus_message_close_container(m.m), "SetLinkDomains");
		call(bus, m.m, "SetLinkDomains on " + ifname_);
	}
	{
		Error err;
		Msg reply;
		const int r = sd_bus_call_method(bus, kService, kPath, kManager, "SetLinkDefaultRoute", &err.e, &reply.m,
						 "ib", ifindex_, 0);
		if (r < 0)
			throw ntm::Error("systemd-resolved: SetLinkDefaultRoute on " + ifname_ + ": " + err.text(r),
					 code_of(err, r));
	}
	std::string ds;
	for (const auto &d : domains)
		ds += (ds.empty() ? "~" : " ~") + d;
	std::string ss;
	for (const auto &s : servers)
		ss += (ss.empty() ? "" : " ") + s.to_string();
	spdlog::info("dns: systemd-resolved: {} has DNS {} for {} (DefaultRoute=no)", ifname_, ss, ds);
	if (&servers != &servers_) {
		servers_ = servers;
		domains_ = domains;
	}
	have_settings_ = true;
	if (fd_)
		drain();
}

bool ResolvedLink::revert() noexcept
{
	have_settings_ = false; /* a later restart of resolved must not bring them back */
	if (retry_) {
		try {
			retry_->cancel();
		} catch (const std::exception &) {
			/* nothing pending to cancel then */
		}
	}
	if (!applied_ || !bus_)
		return true;
	applied_ = false;
	Error err;
	Msg reply;
	const int r = sd_bus_call_method(bus_.get(), kService, kPath, kManager, "RevertLink", &err.e, &reply.m, "i",
					 ifindex_);
	if (r < 0) {
		/* the link is gone already (deleted before us): resolved forgot it itself */
		spdlog::log(r == -ENXIO ? spdlog::level::debug : spdlog::level::warn, "dns: systemd-resolved: RevertLink {}: {}",
			    ifname_, err.text(r));
		return false;
	}
	spdlog::info("dns: systemd-resolved: {} reverted", ifname_);
	return true;
}

} // namespace ntmd
