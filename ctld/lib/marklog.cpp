// SPDX-License-Identifier: GPL-2.0
/* MarkLog: the DC's receive marks in an append-only file (D114). */
#include "ntm/marklog.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ntm/error.hpp"

namespace ntm::store {

namespace {

constexpr std::array<std::uint8_t, 8> kMagic{'N', 'T', 'M', 'M', 'A', 'R', 'K', '1'};
constexpr std::uint32_t kKindMark = 1;
constexpr std::uint32_t kKindReset = 2;
constexpr std::size_t kReadChunk = std::size_t{64} * 1024; /* a record cut by a chunk is carried over */

[[noreturn]] void fail(const std::string &path, const char *what, int err)
{
	throw Error(path + ": " + what + ": " + errno_string(err), err);
}

void put_le(std::uint8_t *p, std::uint64_t v, std::size_t n)
{
	for (std::size_t i = 0; i < n; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t *p, std::size_t n)
{
	std::uint64_t v = 0;
	for (std::size_t i = 0; i < n; i++)
		v |= std::uint64_t{p[i]} << (8 * i);
	return v;
}

/* FNV-1a (32 bits): detects a torn or zero-filled record, not an attacker */
std::uint32_t check(const std::uint8_t *p, std::size_t n)
{
	std::uint32_t h = 2166136261U;
	for (std::size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return h;
}

void encode(std::uint8_t *p, std::uint32_t key_id, std::uint32_t kind, std::uint64_t seq)
{
	put_le(p, key_id, 4);
	put_le(p + 4, kind, 4);
	put_le(p + 8, seq, 8);
	put_le(p + 16, check(p, 16), 4);
	put_le(p + 20, 0, 4);
}

/* all of buf at off, however many calls it takes */
void pwrite_all(int fd, const std::uint8_t *buf, std::size_t n, std::uint64_t off, const std::string &path)
{
	while (n > 0) {
		const ssize_t w = ::pwrite(fd, buf, n, static_cast<off_t>(off));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fail(path, "write", errno);
		}
		if (w == 0)
			fail(path, "write", EIO);
		buf += w;
		n -= static_cast<std::size_t>(w);
		off += static_cast<std::uint64_t>(w);
	}
}

void sync_fd(int fd, const std::string &path)
{
	while (::fdatasync(fd) != 0) {
		if (errno != EINTR)
			fail(path, "fdatasync", errno);
	}
}

/* makes a new or renamed entry of path's directory durable */
void sync_dir(const std::string &path)
{
	const auto slash = path.rfind('/');
	const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
	const UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (d.get() < 0)
		fail(dir, "open", errno);
	if (::fsync(d.get()) != 0)
		fail(dir, "fsync", errno);
}

} // namespace

MarkLog::MarkLog(std::string path, std::uint64_t compact_bytes)
    : path_(std::move(path)), compact_bytes_(std::max<std::uint64_t>(compact_bytes, 4096))
{
	load();
}

void MarkLog::load()
{
	fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	if (fd_.get() < 0)
		fail(path_, "open", errno);
	struct stat st {};
	if (::fstat(fd_.get(), &st) != 0)
		fail(path_, "stat", errno);
	if (!S_ISREG(st.st_mode))
		throw Error(path_ + ": not a regular file", EINVAL);
	const auto total = static_cast<std::uint64_t>(st.st_size);

	std::vector<std::uint8_t> buf(kReadChunk);
	std::uint64_t off = 0;
	std::size_t have = 0; /* bytes in buf from off */
	const auto fill = [&] {
		/* moves the unread rest to the front and reads after it */
		while (have < buf.size() && off + have < total) {
			const ssize_t r = ::pread(fd_.get(), buf.data() + have, buf.size() - have,
						  static_cast<off_t>(off + have));
			if (r < 0) {
				if (errno == EINTR)
					continue;
				fail(path_, "read", errno);
			}
			if (r == 0)
				break;
			have += static_cast<std::size_t>(r);
		}
	};

	fill();
	if (have < kMagic.size()) {
		/* empty, or torn while it was created: only a prefix of the magic may be there */
		if (!std::equal(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(have), kMagic.begin()))
			throw Error(path_ + ": not a receive-mark log (no magic)", EINVAL);
		pwrite_all(fd_.get(), kMagic.data(), kMagic.size(), 0, path_);
		if (::ftruncate(fd_.get(), static_cast<off_t>(kMagic.size())) != 0)
			fail(path_, "truncate", errno);
		sync_fd(fd_.get(), path_);
		sync_dir(path_);
		size_ = base_ = kMagic.size();
		return;
	}
	if (!std::equal(kMagic.begin(), kMagic.end(), buf.begin()))
		throw Error(path_ + ": not a receive-mark log (wrong magic)", EINVAL);

	std::uint64_t good = kMagic.size();
	std::size_t pos = kMagic.size();
	for (;;) {
		if (have - pos < kRecordBytes) {
			/* the next chunk, keeping a partial record */
			const std::size_t rest = have - pos;
			std::memmove(buf.data(), buf.data() + pos, rest);
			off += pos;
			have = rest;
			pos = 0;
			fill();
			if (have < kRecordBytes)
				break; /* the end, or a torn last record */
		}
		const std::uint8_t *r = buf.data() + pos;
		const auto key_id = static_cast<std::uint32_t>(get_le(r, 4));
		const auto kind = static_cast<std::uint32_t>(get_le(r + 4, 4));
		const std::uint64_t seq = get_le(r + 8, 8);
		if (get_le(r + 16, 4) != check(r, 16) || get_le(r + 20, 4) != 0 ||
		    (kind != kKindMark && kind != kKindReset))
			break;
		if (kind == kKindReset) {
			marks_.erase(key_id);
		} else {
			auto &m = marks_[key_id];
			m = std::max(m, seq);
		}
		pos += kRecordBytes;
		good += kRecordBytes;
	}
	size_ = good;
	base_ = good;
	if (good < total) {
		torn_ = (total - good + kRecordBytes - 1) / kRecordBytes;
		/* the next record must follow the last good one */
		if (::ftruncate(fd_.get(), static_cast<off_t>(good)) != 0)
			fail(path_, "truncate", errno);
		sync_fd(fd_.get(), path_);
	}
}

std::uint64_t MarkLog::get(std::uint32_t key_id) const
{
	const auto it = marks_.find(key_id);
	return it == marks_.end() ? 0 : it->second;
}

void MarkLog::append(std::uint32_t key_id, std::uint32_t kind, std::uint64_t seq)
{
	const std::size_t at = pending_.size();
	pending_.resize(at + kRecordBytes);
	encode(pending_.data() + at, key_id, kind, seq);
}

void MarkLog::note(std::uint32_t key_id, std::uint64_t seq)
{
	auto &m = marks_[key_id];
	if (seq <= m)
		return;
	m = seq;
	append(key_id, kKindMark, seq);
}

void MarkLog::reset(std::uint32_t key_id)
{
	marks_.erase(key_id);
	append(key_id, kKindReset, 0);
	sync();
}

void MarkLog::forget(const std::vector<std::uint32_t> &key_ids)
{
	for (const auto id : key_ids)
		marks_.erase(id);
}

void MarkLog::retain(const std::vector<std::uint32_t> &sorted_ids)
{
	std::erase_if(marks_, [&](const auto &m) { return !std::binary_search(sorted_ids.begin(), sorted_ids.end(), m.first); });
}

void MarkLog::write_pending()
{
	if (pending_.empty())
		return;
	/* at size_, not O_APPEND: a write that failed half-way is overwritten by the retry */
	pwrite_all(fd_.get(), pending_.data(), pending_.size(), size_, path_);
	sync_fd(fd_.get(), path_);
	size_ += pending_.size();
	pending_.clear();
}

void MarkLog::sync()
{
	write_pending();
	/*
	 * A snapshot once the appends since the last one reach the limit, or
	 * the snapshot's own size when that is larger: rewriting the file
	 * costs at most as many bytes as were appended since.
	 */
	if (size_ - base_ < std::max(compact_bytes_, base_))
		return;
	try {
		snapshot();
	} catch (const Error &) {
		/* the marks are durable in the log as it is: the batch stands, the next sync tries again */
		snapshot_errors_++;
	}
}

/*
 * One record per key into a new file, then renamed over the log: a crash
 * leaves either the old log (whole) or the snapshot (whole).
 */
void MarkLog::snapshot()
{
	const std::string tmp = path_ + ".new";
	std::vector<std::uint8_t> out(kMagic.size() + marks_.size() * kRecordBytes);
	std::copy(kMagic.begin(), kMagic.end(), out.begin());
	std::size_t at = kMagic.size();
	for (const auto &[id, seq] : marks_) {
		encode(out.data() + at, id, kKindMark, seq);
		at += kRecordBytes;
	}
	UniqueFd nfd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	if (nfd.get() < 0)
		fail(tmp, "open", errno);
	pwrite_all(nfd.get(), out.data(), out.size(), 0, tmp);
	sync_fd(nfd.get(), tmp);
	if (::rename(tmp.c_str(), path_.c_str()) != 0) {
		const int e = errno;
		(void)::unlink(tmp.c_str());
		fail(path_, "rename", e);
	}
	fd_ = std::move(nfd);
	size_ = base_ = out.size();
	snapshots_++;
	sync_dir(path_);
}

} // namespace ntm::store
