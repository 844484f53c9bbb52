// SPDX-License-Identifier: GPL-2.0
#include "ntm/ops.hpp"

#include <linux/netlink.h>
#include <net/if.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ntm/codec.hpp"

namespace ntm {

namespace {

std::string on(const DeviceRef &dev)
{
	return " on " + dev.to_string();
}

NlMsgPtr device_message(GenlSocket &gs, std::uint8_t cmd, const DeviceRef &dev, int flags = 0)
{
	NlMsgPtr msg = gs.new_message(cmd, flags);
	put_device_ref(msg.get(), dev);
	return msg;
}

/*
 * The kernel answers ENODEV (or EOPNOTSUPP) both for a missing device and
 * for a device of another kind: tell the two apart for the user.
 */
[[noreturn]] void rethrow_device_error(const KernelError &e, const DeviceRef &dev)
{
	const int err = e.code();
	if ((err == ENODEV || err == EOPNOTSUPP || err == EINVAL) && dev.ifindex == 0 && !dev.name.empty() &&
	    if_nametoindex(dev.name.c_str()) != 0 && e.extack().empty())
		throw KernelError(dev.name + ": not an ntm device", err, {});
	throw; /* the KernelError being handled */
}

} // namespace

Device get_device(GenlSocket &gs, const DeviceRef &dev)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_GET_DEVICE, dev);
	std::optional<Device> d;
	try {
		gs.request(msg, dev.to_string(), [&d](const GenlReply &r) {
			if (r.cmd == NTM_CMD_GET_DEVICE || !d)
				d = parse_device(r.attrs);
		});
	} catch (const KernelError &e) {
		rethrow_device_error(e, dev);
	}
	if (!d)
		throw ProtocolError("no reply to NTM_CMD_GET_DEVICE");
	return *d;
}

void set_device(GenlSocket &gs, const DeviceRef &dev, const DeviceSettings &s)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_SET_DEVICE, dev);
	put_device_settings(msg.get(), s);
	try {
		gs.request(msg, "set device " + dev.to_string());
	} catch (const KernelError &e) {
		rethrow_device_error(e, dev);
	}
}

void new_tunnel(GenlSocket &gs, const DeviceRef &dev, const TunnelSettings &s)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_NEW_TUNNEL, dev);
	put_tunnel(msg.get(), s);
	gs.request(msg, "add tunnel " + std::to_string(s.local_index) + on(dev));
}

void set_tunnel(GenlSocket &gs, const DeviceRef &dev, const TunnelSettings &s)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_SET_TUNNEL, dev);
	put_tunnel(msg.get(), s);
	gs.request(msg, "set tunnel " + std::to_string(s.local_index) + on(dev));
}

void del_tunnel(GenlSocket &gs, const DeviceRef &dev, std::uint32_t local_index)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_DEL_TUNNEL, dev);
	put_tunnel_index(msg.get(), local_index);
	gs.request(msg, "delete tunnel " + std::to_string(local_index) + on(dev));
}

void flush_tunnels(GenlSocket &gs, const DeviceRef &dev)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_DEL_TUNNEL, dev);
	put_flag(msg.get(), NTM_A_FLUSH);
	gs.request(msg, "flush tunnels" + on(dev));
}

Tunnel get_tunnel(GenlSocket &gs, const DeviceRef &dev, std::uint32_t local_index)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_GET_TUNNEL, dev);
	put_tunnel_index(msg.get(), local_index);
	std::optional<Tunnel> t;
	gs.request(msg, "get tunnel " + std::to_string(local_index) + on(dev), [&t](const GenlReply &r) {
		(void)parse_tunnels(r.attrs, [&t](Tunnel &&x) {
			if (!t)
				t = x;
		});
	});
	if (!t)
		throw ProtocolError("no NTM_A_TUNNEL in the reply to NTM_CMD_GET_TUNNEL");
	return *t;
}

void dump_tunnels(GenlSocket &gs, const DeviceRef &dev, const std::function<void(Tunnel &&)> &sink)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_GET_TUNNEL, dev, NLM_F_DUMP);
	gs.dump(msg, "dump tunnels" + on(dev), [&sink](const GenlReply &r) { (void)parse_tunnels(r.attrs, sink); });
}

namespace {

/* Dump messages from the thread that receives them to the one that parses them. */
class MessageQueue {
public:
	/* false once the consumer has stopped: the producer stops too */
	bool push(std::vector<std::uint8_t> m)
	{
		std::unique_lock lk(mu_);
		not_full_.wait(lk, [this] { return q_.size() < kMax || stopped_; });
		if (stopped_)
			return false;
		q_.push_back(std::move(m));
		not_empty_.notify_one();
		return true;
	}
	/* the next message; nullopt once closed and drained */
	std::optional<std::vector<std::uint8_t>> pop()
	{
		std::unique_lock lk(mu_);
		not_empty_.wait(lk, [this] { return !q_.empty() || closed_; });
		if (q_.empty())
			return std::nullopt;
		auto m = std::move(q_.front());
		q_.pop_front();
		not_full_.notify_one();
		return m;
	}
	/* producer: no more messages */
	void close()
	{
		const std::lock_guard lk(mu_);
		closed_ = true;
		not_empty_.notify_all();
	}
	/* consumer: failed, take no more */
	void stop()
	{
		const std::lock_guard lk(mu_);
		stopped_ = true;
		q_.clear();
		not_full_.notify_all();
	}

private:
	/* 64 messages of at most 32 KiB: the memory of a dump stays bounded */
	static constexpr std::size_t kMax = 64;
	std::mutex mu_;
	std::condition_variable not_empty_;
	std::condition_variable not_full_;
	std::deque<std::vector<std::uint8_t>> q_;
	bool closed_ = false;
	bool stopped_ = false;
};

/* thrown through GenlSocket::dump when the consumer has failed */
struct ConsumerStopped {};

} // namespace

void dump_tunnels_overlapped(GenlSocket &gs, const DeviceRef &dev, const std::function<void(Tunnel &&)> &sink)
{
	MessageQueue q;
	std::exception_ptr consumer_error;
	std::thread consumer;
	try {
		consumer = std::thread([&q, &sink, &consumer_error] {
			try {
				while (auto m = q.pop())
					(void)parse_tunnels({m->data(), m->size()}, sink);
			} catch (...) {
				consumer_error = std::current_exception();
				q.stop();
			}
		});
	} catch (const std::system_error &) {
		dump_tunnels(gs, dev, sink); /* no thread to be had: one after the other */
		return;
	}
	std::exception_ptr producer_error;
	try {
		const NlMsgPtr msg = device_message(gs, NTM_CMD_GET_TUNNEL, dev, NLM_F_DUMP);
		gs.dump(msg, "dump tunnels" + on(dev), [&q](const GenlReply &r) {
			if (!q.push({r.attrs.begin(), r.attrs.end()}))
				throw ConsumerStopped{};
		});
	} catch (...) {
		/* GenlSocket reconnects before its next request: a dump cut short is harmless */
		producer_error = std::current_exception();
	}
	q.close();
	consumer.join();
	if (consumer_error)
		std::rethrow_exception(consumer_error);
	if (producer_error)
		std::rethrow_exception(producer_error);
}

void new_relay(GenlSocket &gs, const DeviceRef &dev, const RelaySettings &s)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_NEW_RELAY, dev);
	put_relay(msg.get(), s);
	gs.request(msg, "add relay " + std::to_string(s.id) + on(dev));
}

void set_relay(GenlSocket &gs, const DeviceRef &dev, const RelaySettings &s)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_SET_RELAY, dev);
	put_relay(msg.get(), s);
	gs.request(msg, "set relay " + std::to_string(s.id) + on(dev));
}

void del_relay(GenlSocket &gs, const DeviceRef &dev, std::uint32_t id)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_DEL_RELAY, dev);
	put_relay_id(msg.get(), id);
	gs.request(msg, "delete relay " + std::to_string(id) + on(dev));
}

void flush_relays(GenlSocket &gs, const DeviceRef &dev)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_DEL_RELAY, dev);
	put_flag(msg.get(), NTM_A_FLUSH);
	gs.request(msg, "flush relays" + on(dev));
}

Relay get_relay(GenlSocket &gs, const DeviceRef &dev, std::uint32_t id)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_GET_RELAY, dev);
	put_relay_id(msg.get(), id);
	std::optional<Relay> r;
	gs.request(msg, "get relay " + std::to_string(id) + on(dev), [&r](const GenlReply &rep) {
		(void)parse_relays(rep.attrs, [&r](Relay &&x) {
			if (!r)
				r = x;
		});
	});
	if (!r)
		throw ProtocolError("no NTM_A_RELAY in the reply to NTM_CMD_GET_RELAY");
	return *r;
}

void dump_relays(GenlSocket &gs, const DeviceRef &dev, const std::function<void(Relay &&)> &sink)
{
	const NlMsgPtr msg = device_message(gs, NTM_CMD_GET_RELAY, dev, NLM_F_DUMP);
	gs.dump(msg, "dump relays" + on(dev), [&sink](const GenlReply &r) { (void)parse_relays(r.attrs, sink); });
}

} // namespace ntm
