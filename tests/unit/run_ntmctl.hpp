// SPDX-License-Identifier: GPL-2.0
/* ntmctl's main in-process, its output captured: for the unit tests that drive the CLI. */
#ifndef NTM_TEST_RUN_NTMCTL_HPP
#define NTM_TEST_RUN_NTMCTL_HPP

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.hpp"

namespace ntm_test {

struct Result {
	int rc;
	std::string out;
	std::string err;
};

/** ntmctl ARGS...: exit status, stdout and stderr */
inline Result run_ntmctl(std::vector<std::string> args)
{
	args.insert(args.begin(), "ntmctl");
	std::vector<const char *> argv;
	argv.reserve(args.size());
	for (const auto &a : args)
		argv.push_back(a.c_str());
	char *obuf = nullptr;
	char *ebuf = nullptr;
	std::size_t olen = 0;
	std::size_t elen = 0;
	std::FILE *out = open_memstream(&obuf, &olen);
	std::FILE *err = open_memstream(&ebuf, &elen);
	const int rc = ntmctl::run_main(static_cast<int>(argv.size()), argv.data(), out, err);
	std::fclose(out);
	std::fclose(err);
	Result r{rc, std::string(obuf, olen), std::string(ebuf, elen)};
	std::free(obuf);
	std::free(ebuf);
	return r;
}

} // namespace ntm_test

#endif
