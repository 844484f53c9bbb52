// SPDX-License-Identifier: GPL-2.0
/*
 * Error types of libntm.
 *
 * UsageError: the user's input is wrong (ntmctl exits 2).
 * Error:      an operation failed (ntmctl exits 1); code() is an errno value
 *             when one is known, 0 otherwise.
 * ProtocolError: the kernel sent something libntm cannot parse.
 */
#ifndef NTM_ERROR_HPP
#define NTM_ERROR_HPP

#include <stdexcept>
#include <string>
#include <string_view>

namespace ntm {

class UsageError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

class Error : public std::runtime_error {
public:
	explicit Error(const std::string &msg, int code = 0) : std::runtime_error(msg), code_(code) {}
	/** errno value of the failure, 0 when there is none */
	[[nodiscard]] int code() const noexcept { return code_; }

private:
	int code_;
};

class ProtocolError : public Error {
public:
	explicit ProtocolError(const std::string &msg);
};

/** strerror_r() as a std::string (thread safe). */
std::string errno_string(int err);

/** Error from the current errno: "<what>: <strerror>". */
[[noreturn]] void throw_errno(std::string_view what);
[[noreturn]] void throw_errno(std::string_view what, int err);

} // namespace ntm

#endif
