// SPDX-License-Identifier: GPL-2.0
/*
 * replay.c - anti-replay window shared by the NTM and ESP data paths.
 *
 * RFC 6479: the window is a ring of 64-bit blocks.  Sliding forward clears
 * whole blocks instead of shifting a long bitmap, so the cost of accepting a
 * packet does not grow with the window.  One block is kept as slack, so the
 * usable window is NTM_REPLAY_WINDOW_SIZE counters behind the highest one.
 *
 * Positions are counter + 1 so that "top == 0" means nothing was accepted.
 * ntm_replay_check() is a cheap early test done before decryption, without
 * the lock; ntm_replay_update() is the authoritative test-and-set done after
 * the packet authenticated, under the lock.
 *
 * Ordering for the lockless reader: when top moves forward, the blocks it
 * enters are cleared first and top is published after them with
 * smp_store_release(); ntm_replay_check() reads top with smp_load_acquire()
 * before it looks at a block.  A reader that sees the new top therefore
 * sees the cleared blocks, never the bits a block held one lap of the ring
 * earlier (which would drop a fresh packet as a replay before it was even
 * decrypted).  A reader that still sees the old top judges the packet
 * against the old window, which is what it would have done a moment
 * earlier; either way ntm_replay_update() decides under the lock.  x86
 * keeps stores in order anyway; arm64 and other weakly ordered CPUs do not.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "ntm.h"

void ntm_replay_init(struct ntm_replay *r)
{
	spin_lock_init(&r->lock);
	r->top = 0;
	memset(r->bitmap, 0, sizeof(r->bitmap));
}

static bool ntm_replay_seen(const struct ntm_replay *r, u64 pos)
{
	u64 block = (pos >> 6) % NTM_REPLAY_BLOCKS;

	return READ_ONCE(r->bitmap[block]) & BIT_ULL(pos & 63);
}

bool ntm_replay_check(struct ntm_replay *r, u64 counter)
{
	/* pairs with smp_store_release() in ntm_replay_update() */
	u64 top = smp_load_acquire(&r->top);
	u64 pos;

	if (counter >= NTM_COUNTER_LIMIT)
		return false;
	pos = counter + 1;
	if (pos > top)
		return true;
	if (pos + NTM_REPLAY_WINDOW_SIZE < top)
		return false;
	return !ntm_replay_seen(r, pos);
}

bool ntm_replay_update(struct ntm_replay *r, u64 counter)
{
	u64 pos, block, cur, steps, i;
	bool fresh;

	if (counter >= NTM_COUNTER_LIMIT)
		return false;
	pos = counter + 1;

	spin_lock_bh(&r->lock);
	if (pos + NTM_REPLAY_WINDOW_SIZE < r->top) {
		spin_unlock_bh(&r->lock);
		return false;
	}
	block = pos >> 6;
	if (pos > r->top) {
		cur = r->top >> 6;
		steps = min_t(u64, block - cur, NTM_REPLAY_BLOCKS);
		for (i = 1; i <= steps; i++)
			WRITE_ONCE(r->bitmap[(cur + i) % NTM_REPLAY_BLOCKS], 0);
		/* the cleared blocks before the top that exposes them */
		smp_store_release(&r->top, pos);
	}
	block %= NTM_REPLAY_BLOCKS;
	fresh = !(r->bitmap[block] & BIT_ULL(pos & 63));
	WRITE_ONCE(r->bitmap[block], r->bitmap[block] | BIT_ULL(pos & 63));
	spin_unlock_bh(&r->lock);
	return fresh;
}

/* Highest counter accepted + 1, i.e. 0 before the first packet. */
u64 ntm_replay_top(struct ntm_replay *r)
{
	return READ_ONCE(r->top);
}
