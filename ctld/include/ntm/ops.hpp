// SPDX-License-Identifier: GPL-2.0
/*
 * The commands of the ntm family as functions. Errors are thrown as
 * KernelError with a "<what>: <reason>" message, e.g.
 * "add tunnel 5 on ntm0: File exists".
 */
#ifndef NTM_OPS_HPP
#define NTM_OPS_HPP

#include <cstdint>
#include <functional>

#include "ntm/genl.hpp"
#include "ntm/model.hpp"

namespace ntm {

Device get_device(GenlSocket &gs, const DeviceRef &dev);
void set_device(GenlSocket &gs, const DeviceRef &dev, const DeviceSettings &s);
void new_tunnel(GenlSocket &gs, const DeviceRef &dev, const TunnelSettings &s);
void set_tunnel(GenlSocket &gs, const DeviceRef &dev, const TunnelSettings &s);
void del_tunnel(GenlSocket &gs, const DeviceRef &dev, std::uint32_t local_index);
void flush_tunnels(GenlSocket &gs, const DeviceRef &dev);
Tunnel get_tunnel(GenlSocket &gs, const DeviceRef &dev, std::uint32_t local_index);
/** Streams every tunnel of the device, ascending local index. */
void dump_tunnels(GenlSocket &gs, const DeviceRef &dev, const std::function<void(Tunnel &&)> &sink);
/**
 * The same, with the parsing and the sink on a second thread: the kernel
 * builds the next messages (inside recvmsg(), on this thread) while the
 * previous ones are parsed and printed.  For ntmctl tunnel show of
 * 100 000 tunnels in the test VM the kernel's part (1.5-2 s) and the
 * parsing and printing are of the same order, so on two CPUs they
 * overlap instead of adding up.  The sink sees the tunnels in order and is
 * never called concurrently with itself; the tunnels received before an
 * error reach it, then the error is thrown here (the sink's first).
 */
void dump_tunnels_overlapped(GenlSocket &gs, const DeviceRef &dev, const std::function<void(Tunnel &&)> &sink);

/* Relay sessions (Relay Server role); see uapi/linux/ntm.h NTM_CMD_*_RELAY. */
void new_relay(GenlSocket &gs, const DeviceRef &dev, const RelaySettings &s);
void set_relay(GenlSocket &gs, const DeviceRef &dev, const RelaySettings &s);
void del_relay(GenlSocket &gs, const DeviceRef &dev, std::uint32_t id);
void flush_relays(GenlSocket &gs, const DeviceRef &dev);
Relay get_relay(GenlSocket &gs, const DeviceRef &dev, std::uint32_t id);
/** Streams every relay session of the device, ascending id. */
void dump_relays(GenlSocket &gs, const DeviceRef &dev, const std::function<void(Relay &&)> &sink);

} // namespace ntm

#endif
