// SPDX-License-Identifier: GPL-2.0
/* The DC's receive-mark log and in-memory liveness (D114). */
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dc_live.hpp"
#include "ntm/error.hpp"
#include "ntm/marklog.hpp"
#include "ntm/parse.hpp"
#include "ntm/sig.hpp"
#include "temp_dir.hpp"

using ntm::store::MarkLog;
using ntm::test::TempDir;

namespace {

std::uint64_t file_size(const std::string &p)
{
	return std::filesystem::file_size(p);
}

void append_bytes(const std::string &p, const std::vector<char> &b)
{
	std::ofstream f(p, std::ios::binary | std::ios::app);
	f.write(b.data(), static_cast<std::streamsize>(b.size()));
}

void write_file(const std::string &p, const std::string &b)
{
	std::ofstream f(p, std::ios::binary | std::ios::trunc);
	f << b;
}

/* flips one byte of the file at off */
void flip(const std::string &p, std::uint64_t off)
{
	std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
	f.seekg(static_cast<std::streamoff>(off));
	char c = 0;
	f.read(&c, 1);
	c = static_cast<char>(c ^ 0x5a);
	f.seekp(static_cast<std::streamoff>(off));
	f.write(&c, 1);
}

} // namespace

TEST(MarkLog, MarksSurviveAReopenOnlyOnceSynced)
{
	TempDir dir;
	const auto p = dir.file("r.db-marks");
	{
		MarkLog m(p);
		EXPECT_EQ(file_size(p), 8U) << "a new log is its magic alone";
		m.note(1, 10);
		m.note(1, 5); /* never lowers */
		m.note(2, 7);
		EXPECT_EQ(m.get(1), 10U);
		EXPECT_EQ(m.pending(), 2U) << "a lower mark writes nothing";
		m.sync();
		EXPECT_EQ(m.pending(), 0U);
		m.note(3, 99); /* noted, never synced: lost with the process */
	}
	EXPECT_EQ(file_size(p), 8U + 2 * MarkLog::kRecordBytes);
	MarkLog m(p);
	EXPECT_EQ(m.get(1), 10U);
	EXPECT_EQ(m.get(2), 7U);
	EXPECT_EQ(m.get(3), 0U);
	EXPECT_EQ(m.keys(), 2U);
	EXPECT_EQ(m.torn_records(), 0U);
}

/*
 * A crash in the middle of a batch's write: the records before it were
 * synced (their answers went out) and must still refuse their replays;
 * the torn one is dropped and the next record follows the last good one.
 */
TEST(MarkLog, ATornTailIsCutAndTheMarksBeforeItStillRefuseReplays)
{
	TempDir dir;
	const auto p = dir.file("r.db-marks");
	{
		MarkLog m(p);
		m.note(0x1234, 41);
		m.note(0x9999, 5);
		m.sync();
	}
	append_bytes(p, std::vector<char>(10, '\x07')); /* 10 of a record's 24 bytes */
	{
		MarkLog m(p);
		EXPECT_EQ(m.torn_records(), 1U);
		EXPECT_EQ(file_size(p), 8U + 2 * MarkLog::kRecordBytes) << "cut back to the last good record";
		ntm::sig::ReplayWindow w;
		w.restore(m.get(0x1234));
		EXPECT_FALSE(w.check(41)) << "accepted before the crash: refused after it";
		EXPECT_FALSE(w.check(3));
		EXPECT_TRUE(w.check(42));
		m.note(0x1234, 42);
		m.sync();
	}
	MarkLog m(p);
	EXPECT_EQ(m.torn_records(), 0U);
	EXPECT_EQ(m.get(0x1234), 42U);
	EXPECT_EQ(m.get(0x9999), 5U);
}

TEST(MarkLog, ADamagedRecordEndsTheLog)
{
	TempDir dir;
	const auto p = dir.file("m");
	{
		MarkLog m(p);
		m.note(1, 1);
		m.sync();
		m.note(2, 2);
		m.sync();
		m.note(3, 3);
		m.sync();
	}
	flip(p, 8 + MarkLog::kRecordBytes + 9); /* the second record's sequence number */
	MarkLog m(p);
	EXPECT_EQ(m.get(1), 1U);
	EXPECT_EQ(m.get(2), 0U);
	EXPECT_EQ(m.get(3), 0U) << "nothing after damage is trusted";
	EXPECT_EQ(m.torn_records(), 2U);
}

TEST(MarkLog, ZerosWhereRecordsShouldBeAreNotMarks)
{
	TempDir dir;
	const auto p = dir.file("m");
	{
		MarkLog m(p);
		m.note(1, 1);
		m.sync();
	}
	/* a crash after the size grew, before the data reached the disk */
	append_bytes(p, std::vector<char>(3 * MarkLog::kRecordBytes, '\0'));
	MarkLog m(p);
	EXPECT_EQ(m.get(1), 1U);
	EXPECT_EQ(m.get(0), 0U);
	EXPECT_EQ(m.keys(), 1U);
	EXPECT_EQ(m.torn_records(), 3U);
}

TEST(MarkLog, AnotherFileIsRefusedWithItsName)
{
	TempDir dir;
	const auto p = dir.file("registry.db");
	write_file(p, "SQLite format 3");
	try {
		MarkLog m(p);
		FAIL() << "expected a refusal";
	} catch (const ntm::Error &e) {
		EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("not a receive-mark log"), std::string::npos) << e.what();
	}
	EXPECT_EQ(file_size(p), 15U) << "left as it was";
	/* a log torn while it was created (a prefix of the magic) starts afresh */
	const auto q = dir.file("new-marks");
	write_file(q, "NTMM");
	MarkLog m(q);
	EXPECT_EQ(m.keys(), 0U);
	EXPECT_EQ(file_size(q), 8U);
}

TEST(MarkLog, ResetForgetsAKeysMarkDurably)
{
	TempDir dir;
	const auto p = dir.file("m");
	{
		MarkLog m(p);
		m.note(5, 100);
		m.sync();
		m.reset(5); /* written at once */
		EXPECT_EQ(m.get(5), 0U);
	}
	{
		MarkLog m(p);
		EXPECT_EQ(m.get(5), 0U) << "the reset follows the mark in the log";
		m.note(5, 3);
		m.sync();
	}
	MarkLog m(p);
	EXPECT_EQ(m.get(5), 3U);
}

TEST(MarkLog, SnapshotsBoundTheFileAndKeepEveryMark)
{
	TempDir dir;
	const auto p = dir.file("m");
	constexpr std::uint32_t kKeys = 100;
	{
		MarkLog m(p, 4096);
		for (std::uint64_t round = 1; round <= 30; round++) {
			for (std::uint32_t k = 1; k <= kKeys; k++)
				m.note(k, round * 10 + k % 7);
			m.sync();
		}
		EXPECT_GE(m.snapshots(), 3U);
		EXPECT_EQ(m.snapshot_errors(), 0U);
		/* 30 rounds of 100 records appended; the file holds far fewer */
		EXPECT_LT(file_size(p), 8U + 3 * kKeys * MarkLog::kRecordBytes + 4096);
		m.forget({7, 8});
		for (int i = 0; i < 3; i++) { /* enough appends for the next snapshot */
			for (std::uint32_t k = 1; k <= kKeys; k++)
				m.note(k, 1000 + static_cast<std::uint64_t>(i));
			m.sync();
		}
		EXPECT_FALSE(std::filesystem::exists(p + ".new"));
	}
	MarkLog m(p);
	EXPECT_EQ(m.get(1), 1002U);
	EXPECT_EQ(m.get(kKeys), 1002U);
	EXPECT_EQ(m.keys(), kKeys);
}

TEST(MarkLog, AForgottenKeyLeavesWithTheNextSnapshot)
{
	TempDir dir;
	const auto p = dir.file("m");
	{
		MarkLog m(p, 4096);
		m.note(1, 50);
		m.note(2, 60);
		m.sync();
		m.forget({1});
		EXPECT_EQ(m.get(1), 0U);
		/* appends of key 2 until a snapshot is written */
		std::uint64_t s = 61;
		while (m.snapshots() == 0) {
			m.note(2, s++);
			m.sync();
		}
	}
	MarkLog m(p);
	EXPECT_EQ(m.get(1), 0U);
	EXPECT_GT(m.get(2), 60U);
}

TEST(MarkLog, RetainKeepsOnlyTheListedKeys)
{
	TempDir dir;
	MarkLog m(dir.file("m"));
	for (std::uint32_t k = 1; k <= 5; k++)
		m.note(k, 10 * k);
	m.retain({2, 4, 9});
	EXPECT_EQ(m.keys(), 2U);
	EXPECT_EQ(m.get(1), 0U);
	EXPECT_EQ(m.get(2), 20U);
	EXPECT_EQ(m.get(4), 40U);
	EXPECT_EQ(m.get(9), 0U);
}

TEST(LiveNodes, OnlyAChangedEndpointNeedsTheRegistry)
{
	ntmd::LiveNodes live;
	const ntm::Endpoint a(ntm::parse_address("192.0.2.1"), 1000);
	const ntm::Endpoint b(ntm::parse_address("192.0.2.1"), 1001);
	EXPECT_FALSE(live.refresh("a.ntm.test", a, 100)) << "unknown: the registry decides";
	live.stored("a.ntm.test", a, 100);
	EXPECT_TRUE(live.refresh("a.ntm.test", a, 120));
	EXPECT_FALSE(live.refresh("a.ntm.test", b, 140)) << "a new endpoint is written at once";
	live.stored("a.ntm.test", b, 140);
	EXPECT_TRUE(live.refresh("a.ntm.test", b, 160));
	EXPECT_EQ(live.refreshed(), 2U);
	live.erase("a.ntm.test");
	EXPECT_FALSE(live.refresh("a.ntm.test", b, 180));
	EXPECT_EQ(live.size(), 0U);
}

TEST(LiveNodes, ExpiryUsesTheTimesInMemory)
{
	ntmd::LiveNodes live;
	const ntm::Endpoint e(ntm::parse_address("192.0.2.1"), 1000);
	live.stored("c.ntm.test", e, 100);
	live.stored("a.ntm.test", e, 100);
	live.stored("b.ntm.test", e, 100);
	EXPECT_TRUE(live.refresh("b.ntm.test", e, 200));
	EXPECT_EQ(live.expire(150), (std::vector<std::string>{"a.ntm.test", "c.ntm.test"}));
	EXPECT_EQ(live.size(), 1U);
	EXPECT_TRUE(live.expire(150).empty());
}

TEST(LiveNodes, LastSeenIsWrittenBackOncePerPeriod)
{
	ntmd::LiveNodes live;
	const ntm::Endpoint e(ntm::parse_address("192.0.2.1"), 1000);
	live.stored("a.ntm.test", e, 1000);
	for (std::int64_t t = 1020; t <= 1280; t += 20)
		EXPECT_TRUE(live.refresh("a.ntm.test", e, t));
	EXPECT_TRUE(live.due(300).empty()) << "280 s behind: not yet";
	EXPECT_TRUE(live.refresh("a.ntm.test", e, 1300));
	using Due = std::vector<std::pair<std::string, std::int64_t>>;
	const auto d = live.due(300);
	EXPECT_EQ(d, (Due{{"a.ntm.test", 1300}}));
	EXPECT_TRUE(live.due(300).empty()) << "counted as written";
	live.unstore(d); /* the write failed */
	EXPECT_EQ(live.due(300), (Due{{"a.ntm.test", 1300}}));
	EXPECT_TRUE(live.refresh("a.ntm.test", e, 1320));
	EXPECT_EQ(live.due(0), (Due{{"a.ntm.test", 1320}})) << "at stop: every change";
	EXPECT_TRUE(live.due(0).empty());
}
