// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd's /metrics request parser (D97): never crashes; a request it
 * accepts has a token method and an origin-form target, stays accepted
 * with the same method and target whatever follows its head, and its
 * answer carries a Content-Length equal to the body.
 */
#include <algorithm>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "metrics_http.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const auto text = as_text(data, size);
	const auto r = ntmd::parse_http_request(text);
	if (r.result == ntmd::HttpRequest::Result::incomplete)
		FUZZ_CHECK(size < ntmd::kMaxHttpHead);
	const auto a = ntmd::answer_http(r, [] { return std::string("up 1\n"); });
	const auto wire = ntmd::http_response(a);
	FUZZ_CHECK(wire.ends_with("\r\n\r\n" + a.body));
	FUZZ_CHECK(wire.find("Content-Length: " + std::to_string(a.body.size()) + "\r\n") != std::string::npos);
	if (r.result != ntmd::HttpRequest::Result::ok)
		return 0;
	FUZZ_CHECK(!r.method.empty() && !r.target.empty() && r.target.front() == '/');
	FUZZ_CHECK(r.target.find('?') == std::string::npos);
	FUZZ_CHECK(std::ranges::none_of(r.target, [](char c) { return c <= 0x20 || c >= 0x7f; }));
	std::string more(text);
	more += "GET /other HTTP/1.1\r\n\r\n";
	const auto again = ntmd::parse_http_request(more);
	FUZZ_CHECK(again.result == ntmd::HttpRequest::Result::ok || again.result == ntmd::HttpRequest::Result::too_large);
	if (again.result == ntmd::HttpRequest::Result::ok)
		FUZZ_CHECK(again.method == r.method && again.target == r.target);
	return 0;
}
