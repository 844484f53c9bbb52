// SPDX-License-Identifier: GPL-2.0
/*
 * MarkLog: the DC's receive marks (D58) in an append-only file (D114).
 *
 * A mark is the highest sequence number the DC accepted with a node's
 * key; a restarted DC treats everything up to it as seen.  Writing it as
 * a SQLite UPDATE per message cost a B-tree page per key in every group
 * commit; here a batch's marks are 24-byte records appended with one
 * write and one fdatasync, and the file is rewritten as a snapshot (one
 * record per key) when it has grown past a limit.
 *
 * File: an 8-byte magic, then records of 24 bytes, little-endian:
 *   u32 key_id, u32 kind (1 mark, 2 reset), u64 seq, u32 check, u32 zero
 * check is FNV-1a over the first 16 bytes.  Reading stops at the first
 * short or damaged record (a write torn by a crash: its batch was never
 * answered, so nothing it held was acted on) and the file is cut there
 * before anything is appended.  A file without the magic is refused.
 *
 * Not thread-safe: the DC's event loop owns it.
 */
#ifndef NTM_MARKLOG_HPP
#define NTM_MARKLOG_HPP

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "ntm/handle.hpp"

namespace ntm::store {

class MarkLog {
public:
	static constexpr std::size_t kRecordBytes = 24;
	/* appends (bytes, about 350 000 records) after which the file is rewritten as a snapshot */
	static constexpr std::uint64_t kDefaultCompactBytes = std::uint64_t{8} << 20;

	/**
	 * Opens (creating, mode 0600) and reads path. Throws Error naming the
	 * file when it cannot be read or is not a mark log.
	 */
	explicit MarkLog(std::string path, std::uint64_t compact_bytes = kDefaultCompactBytes);
	MarkLog(const MarkLog &) = delete;
	MarkLog &operator=(const MarkLog &) = delete;
	MarkLog(MarkLog &&) = delete;
	MarkLog &operator=(MarkLog &&) = delete;
	~MarkLog() = default;

	/** The mark of key_id (0 when none): what a restored window treats as seen. */
	[[nodiscard]] std::uint64_t get(std::uint32_t key_id) const;
	/** Raises key_id's mark to seq (never lowers it); durable after the next sync(). */
	void note(std::uint32_t key_id, std::uint64_t seq);
	/**
	 * Forgets key_id's mark, for a new key under an id an expired key had
	 * (D59); written and synced at once.
	 */
	void reset(std::uint32_t key_id);
	/** Forgets the marks of keys that no longer exist (in the next snapshot). */
	void forget(const std::vector<std::uint32_t> &key_ids);
	/** Forgets every mark of a key not in sorted_ids (at start: keys purged before a restart). */
	void retain(const std::vector<std::uint32_t> &sorted_ids);
	/**
	 * Makes every mark noted so far durable: one write and one fdatasync
	 * when there is anything to write. Throws Error on failure; the marks
	 * stay pending and the next call writes them again at the same
	 * offset. Then, when the appends since the last snapshot reach the
	 * limit (or the snapshot's size, if larger), a new snapshot; a failed
	 * snapshot is only counted (snapshot_errors()): the log stays whole.
	 */
	void sync();

	[[nodiscard]] std::size_t keys() const noexcept { return marks_.size(); }
	[[nodiscard]] std::size_t pending() const noexcept { return pending_.size() / kRecordBytes; }
	[[nodiscard]] std::uint64_t file_bytes() const noexcept { return size_; }
	/** Records dropped at open: a torn or damaged tail. */
	[[nodiscard]] std::uint64_t torn_records() const noexcept { return torn_; }
	[[nodiscard]] std::uint64_t snapshots() const noexcept { return snapshots_; }
	[[nodiscard]] std::uint64_t snapshot_errors() const noexcept { return snapshot_errors_; }
	[[nodiscard]] const std::string &path() const noexcept { return path_; }

private:
	void load();
	void append(std::uint32_t key_id, std::uint32_t kind, std::uint64_t seq);
	void write_pending();
	void snapshot();

	std::string path_;
	std::uint64_t compact_bytes_;
	UniqueFd fd_;
	std::uint64_t size_ = 0; /* bytes known durable: the next write goes here */
	std::uint64_t base_ = 0; /* the file's size after the last snapshot (or at open) */
	std::unordered_map<std::uint32_t, std::uint64_t> marks_;
	std::vector<std::uint8_t> pending_;
	std::uint64_t torn_ = 0;
	std::uint64_t snapshots_ = 0;
	std::uint64_t snapshot_errors_ = 0;
};

} // namespace ntm::store

#endif
