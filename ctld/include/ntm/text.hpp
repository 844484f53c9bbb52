// SPDX-License-Identifier: GPL-2.0
/* Text helpers shared by the configuration reader and ntmctl's "did you mean". */
#ifndef NTM_TEXT_HPP
#define NTM_TEXT_HPP

#include <cstddef>
#include <string_view>

namespace ntm {

/** Levenshtein distance (insert, delete, substitute: 1 each). */
std::size_t edit_distance(std::string_view a, std::string_view b);

} // namespace ntm

#endif
