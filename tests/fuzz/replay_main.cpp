// SPDX-License-Identifier: GPL-2.0
/*
 * Replays inputs through a libFuzzer harness without libFuzzer, so the
 * harnesses build and run with any compiler: every argument is a file or a
 * directory of files (not recursive). Exits 1 when there was no input.
 */
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

namespace {

int replay_file(const std::filesystem::path &p)
{
	std::ifstream in(p, std::ios::binary);
	if (!in) {
		std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
		return 1;
	}
	std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	/* a fresh heap copy of the exact size, like libFuzzer: ASan sees overreads */
	std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
	data.shrink_to_fit();
	(void)LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	std::size_t n = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		// NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic)
		const std::filesystem::path arg(argv[i]);
		std::vector<std::filesystem::path> files;
		std::error_code ec;
		if (std::filesystem::is_directory(arg, ec)) {
			for (const auto &e : std::filesystem::directory_iterator(arg, ec))
				if (e.is_regular_file())
					files.push_back(e.path());
			std::sort(files.begin(), files.end());
		} else {
			files.push_back(arg);
		}
		for (const auto &f : files) {
			rc |= replay_file(f);
			n++;
		}
	}
	std::printf("replayed %zu inputs\n", n);
	return (n == 0 || rc != 0) ? 1 : 0;
}
