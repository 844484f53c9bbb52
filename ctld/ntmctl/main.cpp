// SPDX-License-Identifier: GPL-2.0
/* ntmctl - configure and inspect ntm devices. See ntmctl(8). */
#include <cstdio>

#include "commands.hpp"

int main(int argc, char **argv)
{
	return ntmctl::run_main(argc, argv, stdout, stderr);
}
