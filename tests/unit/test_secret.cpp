// SPDX-License-Identifier: GPL-2.0
/* Key memory (ntm/secret.hpp): the secure heap, its fallback, core dumps off. */
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include "ntm/secret.hpp"

namespace {

TEST(SecureMemory, KeyBuffersLiveInTheSecureHeap)
{
	ASSERT_NE(ntm::init_secure_memory(std::size_t{1} << 16), ntm::SecureMemory::off);
	/* a second call reports the first heap; it does not make another */
	EXPECT_NE(ntm::init_secure_memory(std::size_t{1} << 20), ntm::SecureMemory::off);
	EXPECT_EQ(CRYPTO_secure_malloc_initialized(), 1);

	ntm::SecretBytes key(32);
	EXPECT_EQ(CRYPTO_secure_allocated(key.data()), 1);
	ntm::SecretText text(200, 'x');
	EXPECT_EQ(CRYPTO_secure_allocated(text.data()), 1);
	/* a plain vector is not */
	std::vector<std::uint8_t> plain(32);
	EXPECT_EQ(CRYPTO_secure_allocated(plain.data()), 0);

	/* copies and reallocations stay in the heap */
	ntm::SecretBytes copy = key;
	EXPECT_EQ(CRYPTO_secure_allocated(copy.data()), 1);
	text.resize(5000);
	EXPECT_EQ(CRYPTO_secure_allocated(text.data()), 1);
}

TEST(SecureMemory, AFullHeapFallsBackToTheOrdinaryHeapAndCounts)
{
	ASSERT_NE(ntm::init_secure_memory(std::size_t{1} << 16), ntm::SecureMemory::off);
	const std::uint64_t before = ntm::secure_memory_fallbacks();
	std::vector<ntm::SecretBytes> keys;
	/* 4 KiB buffers: the heap (64 KiB here, whatever a test before took) is full after 16 */
	bool fell_back = false;
	for (int i = 0; i < 64 && !fell_back; i++) {
		keys.emplace_back(4096);
		fell_back = CRYPTO_secure_allocated(keys.back().data()) == 0;
	}
	ASSERT_TRUE(fell_back);
	EXPECT_GT(ntm::secure_memory_fallbacks(), before);
	/* both kinds are usable and freed by the right allocator */
	keys.back().data()[4095] = 1;
	keys.clear();
	ntm::SecretBytes again(4096);
	EXPECT_EQ(CRYPTO_secure_allocated(again.data()), 1);
}

TEST(SecureMemory, CoreDumpsOff)
{
	/* in a child: the flag is per process and gtest's own process keeps it */
	const pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		const bool before = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1;
		const bool ok = ntm::disable_core_dumps();
		const bool after = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
		::_exit(before && ok && after ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

} // namespace
