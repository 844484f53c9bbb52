// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the harnesses. */
#ifndef NTM_FUZZ_COMMON_HPP
#define NTM_FUZZ_COMMON_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

/* A property the harness checks failed: crash so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                              \
	do {                                                                                          \
		if (!(cond)) {                                                                        \
			std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			std::abort();                                                                 \
		}                                                                                     \
	} while (0)

inline std::string_view as_text(const unsigned char *data, std::size_t size)
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	return {reinterpret_cast<const char *>(data), size};
}

#endif
