// SPDX-License-Identifier: GPL-2.0
/*
 * Liveness and rekey decisions of a node's data tunnel (node_tunnel.hpp).
 */
#include "node_tunnel.hpp"

namespace ntmd {

namespace {

double secs(std::chrono::seconds s)
{
	return static_cast<double>(s.count());
}

} // namespace

TunnelDue tunnel_due(const TunnelPolicy &p, const TunnelObservation &o) noexcept
{
	if (p.dead_after.count() != 0 && o.silent_s >= secs(p.dead_after))
		return TunnelDue::dead;
	if (o.opener && !o.changing_key && o.since_rekey_try_s >= secs(TunnelPolicy::kRekeyRetry)) {
		const bool old = p.rekey_after.count() != 0 && o.key_age_s >= secs(p.rekey_after);
		const bool worn = p.rekey_packets != 0 && o.packets >= p.rekey_packets;
		if (old || worn)
			return TunnelDue::rekey;
	}
	if (p.keepalive.count() != 0 && o.silent_s >= secs(p.keepalive) && o.since_probe_s >= secs(p.probe_every()))
		return TunnelDue::probe;
	return TunnelDue::nothing;
}

KeyChangeDue key_change_due(KeyChange &k, bool opener, bool successor_rx, KeyChange::Clock::time_point now)
{
	if (k.retire_at)
		return now >= *k.retire_at ? KeyChangeDue::retire_old : KeyChangeDue::nothing;
	if (successor_rx) {
		/* the peer sends under the new key: it has it, the old one is drained after the grace */
		k.switched = true;
		k.retire_at = now + TunnelPolicy::kRetireGrace;
		return KeyChangeDue::nothing;
	}
	if (now - k.started < TunnelPolicy::kTakeoverWait)
		return KeyChangeDue::nothing;
	/* nothing came under the new key for a long time */
	if (opener) {
		/* we send under it already (the peer has confirmed it by answering); retire */
		return KeyChangeDue::retire_old;
	}
	/* the opener never used it nor confirmed it: keep the old key */
	return KeyChangeDue::abort_new;
}

} // namespace ntmd
