// SPDX-License-Identifier: GPL-2.0
/* ntmctl - configure and inspect ntm devices. See ntmctl(8). */
#include <cstddef>
#include <cstdio>

#include "commands.hpp"
#include "ntm/secret.hpp"

int main(int argc, char **argv)
{
	/*
	 * ntmctl reads keys (tunnel add, batch): keep them out of core dumps.
	 * Best effort and silent: a failure changes nothing ntmctl does.
	 */
	(void)ntm::disable_core_dumps();
	(void)ntm::init_secure_memory(std::size_t{1} << 18);
	return ntmctl::run_main(argc, argv, stdout, stderr);
}
