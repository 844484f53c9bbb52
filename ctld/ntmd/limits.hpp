// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded admission tables for the signalling servers (D68-D71): token
 * buckets keyed by a key id or a source address, a negative cache of
 * unknown key ids, a failed-login throttle and the node's re-login guard.
 * Every table has a fixed maximum size that nobody outside can grow: a new
 * key past the limit evicts the least recently used one. Time is always an
 * argument, so tests drive the clock.
 */
#ifndef NTMD_LIMITS_HPP
#define NTMD_LIMITS_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <utility>

#include "ntm/model.hpp"

namespace ntmd {

using LimitClock = std::chrono::steady_clock;

/** A source address as a table key (the port is not part of it: a sender picks ports freely). */
inline std::string addr_key(const ntm::IpAddress &a)
{
	const auto b = a.bytes();
	return {b.begin(), b.end()};
}

/*
 * A map with a size limit and least-recently-used eviction: what every
 * table below keeps its entries in.
 */
template <class K, class V> class LruMap {
public:
	explicit LruMap(std::size_t max) : max_(std::max<std::size_t>(max, 1)) {}

	/** The entry for k, made with make() (evicting the oldest when full) if missing; marked used. */
	template <class Make> V &get(const K &k, Make make)
	{
		auto it = index_.find(k);
		if (it != index_.end()) {
			order_.splice(order_.end(), order_, it->second);
			return it->second->second;
		}
		if (index_.size() >= max_) {
			index_.erase(order_.front().first);
			order_.pop_front();
			evicted_++;
		}
		order_.emplace_back(k, make());
		index_.emplace(k, std::prev(order_.end()));
		return order_.back().second;
	}
	/** The entry for k or nullptr; not marked used. */
	V *find(const K &k)
	{
		const auto it = index_.find(k);
		return it == index_.end() ? nullptr : &it->second->second;
	}
	void erase(const K &k)
	{
		const auto it = index_.find(k);
		if (it == index_.end())
			return;
		order_.erase(it->second);
		index_.erase(it);
	}
	[[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
	[[nodiscard]] std::size_t max_size() const noexcept { return max_; }
	[[nodiscard]] std::uint64_t evicted() const noexcept { return evicted_; }

private:
	using List = std::list<std::pair<K, V>>;
	std::size_t max_;
	List order_; /* least recently used first */
	std::map<K, typename List::iterator> index_;
	std::uint64_t evicted_ = 0;
};

/** Rate and burst of a token bucket; a rate of 0 admits everything. */
struct RateSpec {
	double per_second = 0;
	double burst = 1;
	/** n per minute, with a burst of a third of a minute's worth (at least 1). */
	static RateSpec per_minute(std::uint32_t n)
	{
		return {static_cast<double>(n) / 60.0, std::max(1.0, static_cast<double>(n) / 3.0)};
	}
};

/* One token bucket per key, in a bounded table. */
template <class K> class TokenBuckets {
public:
	TokenBuckets(RateSpec spec, std::size_t max_entries) : spec_(spec), table_(max_entries) {}

	/** Takes a token of k's bucket; false (and counted) when there is none. */
	bool admit(const K &k, LimitClock::time_point now)
	{
		if (spec_.per_second <= 0)
			return true;
		Bucket &b = table_.get(k, [&] { return Bucket{spec_.burst, now}; });
		const std::chrono::duration<double> dt = now - b.last;
		if (dt.count() > 0) {
			b.tokens = std::min(spec_.burst, b.tokens + dt.count() * spec_.per_second);
			b.last = now;
		}
		if (b.tokens < 1.0) {
			refused_++;
			return false;
		}
		b.tokens -= 1.0;
		return true;
	}
	[[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }
	[[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
	[[nodiscard]] std::uint64_t evicted() const noexcept { return table_.evicted(); }

private:
	struct Bucket {
		double tokens = 0;
		LimitClock::time_point last;
	};
	RateSpec spec_;
	LruMap<K, Bucket> table_;
	std::uint64_t refused_ = 0;
};

/*
 * Keys known not to exist, each for ttl: a hit spares the lookup behind
 * it. add() of a key removes it at once.
 */
template <class K> class NegativeCache {
public:
	NegativeCache(LimitClock::duration ttl, std::size_t max_entries) : ttl_(ttl), table_(max_entries) {}

	/** k was looked up and not found. */
	void remember(const K &k, LimitClock::time_point now)
	{
		table_.get(k, [] { return LimitClock::time_point{}; }) = now + ttl_;
	}
	/** k is known to be missing (counted as a hit). */
	bool missing(const K &k, LimitClock::time_point now)
	{
		const auto *until = table_.find(k);
		if (until == nullptr)
			return false;
		if (*until <= now) {
			table_.erase(k);
			return false;
		}
		hits_++;
		return true;
	}
	/** k exists now. */
	void forget(const K &k) { table_.erase(k); }
	[[nodiscard]] std::uint64_t hits() const noexcept { return hits_; }
	[[nodiscard]] std::size_t size() const noexcept { return table_.size(); }

private:
	LimitClock::duration ttl_;
	LruMap<K, LimitClock::time_point> table_;
	std::uint64_t hits_ = 0;
};

/*
 * Failed attempts per key with exponential back-off: after `free` failures
 * in a row, the next attempt waits base, then 2*base, ... up to max. A
 * success clears the key.
 */
template <class K> class FailureThrottle {
public:
	struct Spec {
		unsigned free = 3;
		LimitClock::duration base = std::chrono::seconds(1);
		LimitClock::duration max = std::chrono::seconds(300);
	};
	FailureThrottle(Spec spec, std::size_t max_entries) : spec_(spec), table_(max_entries) {}

	/** How long k must still wait (zero: it may try). */
	LimitClock::duration wait(const K &k, LimitClock::time_point now)
	{
		const auto *e = table_.find(k);
		if (e == nullptr || e->until <= now)
			return LimitClock::duration::zero();
		return e->until - now;
	}
	void failed(const K &k, LimitClock::time_point now)
	{
		Entry &e = table_.get(k, [] { return Entry{}; });
		e.failures++;
		if (e.failures < spec_.free)
			return;
		const unsigned shift = std::min(e.failures - spec_.free, 20U);
		const auto d = std::min<LimitClock::duration>(spec_.max, spec_.base * (1LL << shift));
		e.until = now + d;
	}
	void succeeded(const K &k) { table_.erase(k); }
	[[nodiscard]] std::size_t size() const noexcept { return table_.size(); }

private:
	struct Entry {
		unsigned failures = 0;
		LimitClock::time_point until{};
	};
	Spec spec_;
	LruMap<K, Entry> table_;
};

/*
 * When the node logs in again (D71): a DC that forgot our key answers no
 * sealed request, so after `unanswered` registrations or keepalives in a
 * row without an answer (or answered UNKNOWN_KEY) the node logs in without
 * waiting for a NOTICE. A NOTICE asks for a login too, but NOTICEs are
 * unauthenticated: at most one NOTICE-triggered login per `notice_gap`,
 * the others are counted and ignored.
 */
class ReloginGuard {
public:
	explicit ReloginGuard(unsigned unanswered = 2, LimitClock::duration notice_gap = std::chrono::seconds(60))
	    : unanswered_(unanswered), notice_gap_(notice_gap)
	{}
	/** A request to the DC went unanswered; true: log in now. */
	bool no_answer() { return ++misses_ >= unanswered_; }
	/** The DC answered (it knows the key). */
	void answered() noexcept { misses_ = 0; }
	/** A login happened (for any reason). */
	void logged_in(LimitClock::time_point now) noexcept
	{
		misses_ = 0;
		last_login_ = now;
		have_login_ = true;
	}
	/** A NOTICE for our key from the DC's address; true: log in now. */
	bool notice(LimitClock::time_point now)
	{
		if (have_login_ && now - last_login_ < notice_gap_) {
			suppressed_++;
			return false;
		}
		return true;
	}
	[[nodiscard]] std::uint64_t suppressed() const noexcept { return suppressed_; }
	[[nodiscard]] unsigned misses() const noexcept { return misses_; }

private:
	unsigned unanswered_;
	LimitClock::duration notice_gap_;
	unsigned misses_ = 0;
	LimitClock::time_point last_login_{};
	bool have_login_ = false;
	std::uint64_t suppressed_ = 0;
};

} // namespace ntmd

#endif
