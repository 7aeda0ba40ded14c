// Password hashing and the validation of sign-up credentials. Hashes are Argon2id (libsodium's
// PHC string, "$argon2id$v=19$m=19456,t=2,p=1$…") with the OWASP minimum parameters, 19 MiB and
// two passes: tens of milliseconds of one core each (about 80 ms on the development machine), so
// callers run hash_password and verify_password on the blocking pool (async::offload), never on
// an I/O thread. No I/O of their own; safe on any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace parley::auth {

// Argon2id cost: OWASP's first recommended configuration (m = 19 MiB, t = 2, p = 1).
inline constexpr std::size_t kPasswordMemLimit = 19U * 1024U * 1024U;
inline constexpr unsigned long long kPasswordOpsLimit = 2;

// Accepted password length, in Unicode code points.
inline constexpr std::size_t kPasswordMinChars = 8;
inline constexpr std::size_t kPasswordMaxChars = 128;

// Longest accepted email address, in bytes (RFC 5321's path limit less the angle brackets).
inline constexpr std::size_t kEmailMaxBytes = 254;

// An Argon2id hash of `password` with a fresh random salt, as a PHC string to store whole.
// CPU- and memory-heavy: call it on the blocking pool. Throws std::runtime_error only if the
// 19 MiB cannot be allocated.
std::string hash_password(std::string_view password);

// Whether `password` matches `stored_hash`, comparing digests in constant time. False
// for a wrong password and for anything that is not an Argon2id hash string, including an empty
// one; never throws. As slow as hash_password: call it on the blocking pool.
bool verify_password(std::string_view password, std::string_view stored_hash) noexcept;

// A valid hash of a random password nobody knows, computed on first use (thread-safe). Verify
// against it when the email is unknown, so that answer takes as long as a wrong password and does
// not reveal which emails have accounts. The first call costs one hash: warm it at start-up.
const std::string& dummy_password_hash();

// Checks a new password: valid UTF-8 of 8 to 128 code points. Nothing else is imposed (NIST SP
// 800-63B: length, not composition rules).
// Errors: unprocessable ("password must be valid UTF-8", "password must be at least 8
// characters", "password must be at most 128 characters").
Result<void> validate_password(std::string_view password);

// The canonical form of an email address: surrounding whitespace trimmed, ASCII lower-cased.
// Accepted: at most 254 bytes; exactly one '@'; a local part of 1-64 printable ASCII characters
// without spaces, quotes, brackets, commas or the other RFC 5322 specials, and no leading,
// trailing or doubled dot; a domain of at least two dot-separated labels of 1-63 characters from
// [a-z0-9-], none starting or ending with '-'. Internationalised domains must arrive in punycode.
// Errors: unprocessable ("email is longer than 254 bytes", "email is not a valid address").
Result<std::string> normalize_email(std::string_view email);

}  // namespace parley::auth
