// SPDX-License-Identifier: GPL-2.0
/*
 * The -j form of a tunnel written straight into a buffer, for dumps: the
 * same text as json_dump(nlohmann::json(t)) (keys in the same sorted order,
 * compact), without building a document per tunnel.  ntmctl -j tunnel show
 * of 100 000 tunnels spent 22 of its 27 s in nlohmann's per-tunnel DOM
 * (map nodes, key strings) under the test VM; natively the writer takes
 * 0.15 s where the DOM took 1.2 s.
 * json.cpp's to_json stays the reference: a unit test checks that both
 * agree for every field.
 */
#ifndef NTM_JSON_STREAM_HPP
#define NTM_JSON_STREAM_HPP

#include <string_view>

#include <fmt/format.h>

#include "ntm/model.hpp"

namespace ntm {

/** Appends the JSON object of s ({"acquire_queued":0,...}). */
void append_json(fmt::memory_buffer &out, const Stats &s);

/**
 * Appends the JSON object of t; a non-empty peer adds "peer" (ntmctl show)
 * in its sorted place.
 */
void append_json(fmt::memory_buffer &out, const Tunnel &t, std::string_view peer = {});

/** Appends s as a JSON string (escaped as json_dump does). */
void append_json_string(fmt::memory_buffer &out, std::string_view s);

} // namespace ntm

#endif
