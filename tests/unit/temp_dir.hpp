// SPDX-License-Identifier: GPL-2.0
/* A fresh directory per test (under $TMPDIR), removed with everything in it afterwards. */
#ifndef NTM_TEST_TEMP_DIR_HPP
#define NTM_TEST_TEMP_DIR_HPP

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ntm::test {

class TempDir {
public:
	/** prefix names the directory: $TMPDIR/prefix-XXXXXX */
	explicit TempDir(const std::string &prefix = "ntm-unit")
	{
		std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
		if (::mkdtemp(tmpl.data()) == nullptr)
			throw std::runtime_error("mkdtemp failed");
		path_ = tmpl;
	}
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	TempDir(TempDir &&) = delete;
	TempDir &operator=(TempDir &&) = delete;
	~TempDir()
	{
		std::error_code ec;
		std::filesystem::remove_all(path_, ec);
	}
	[[nodiscard]] const std::string &path() const noexcept { return path_; }
	[[nodiscard]] std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

} // namespace ntm::test

#endif
