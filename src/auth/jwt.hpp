// HS256 JSON Web Tokens (RFC 7519) for Parley's short-lived access tokens, following the RFC 8725
// best practices: the algorithm is pinned to HS256 and never read from the token, a "crit" header
// is refused, the signature is checked in constant time before the claims are looked at, and exp,
// iss, aud and sub are required. Tokens are compact JWS with a header of exactly
// {"alg":"HS256","typ":"JWT"}. No I/O; a Jwt is immutable after construction and safe to share
// between threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <sodium/crypto_auth_hmacsha256.h>

#include "common/error.hpp"

namespace parley::auth {

struct JwtConfig {
    std::string secret;  // HMAC key, used whole; at least 32 bytes
    std::string issuer = "parley";
    std::string audience = "parley-api";
    std::chrono::seconds lifetime{1800};
    std::chrono::seconds leeway{30};  // clock skew tolerated on exp, iat and nbf
};

// The claims Parley reads from a verified token. Times are seconds since the Unix epoch.
struct Claims {
    std::string sub;
    std::string jti;       // empty if the token has none
    std::int64_t iat = 0;  // 0 if the token has none
    std::int64_t exp = 0;
};

// Tokens longer than this are refused before any decoding (ours are a few hundred bytes).
inline constexpr std::size_t kMaxJwtBytes = 8192;

class Jwt {
public:
    // Keys HMAC-SHA256 with the whole of `config.secret`. Throws std::invalid_argument if the
    // secret is shorter than 32 bytes (RFC 8725 §3.5: an HMAC key must have enough entropy), and
    // std::runtime_error if libsodium cannot initialise.
    explicit Jwt(JwtConfig config);

    // A signed token for `subject`, issued at `now`: header {"alg":"HS256","typ":"JWT"}; claims
    // sub, iat = now, exp = now + lifetime, jti (128 random bits, base64url), iss, aud. An empty
    // `subject` gives a token that verify() refuses.
    std::string issue(std::string_view subject, std::chrono::system_clock::time_point now) const;

    // Verifies `token` at time `now` and returns its claims.
    // Errors: authentication (401), with a short client-safe message and the precise reason in
    // `detail`, when the token is over kMaxJwtBytes, is not three base64url segments (no padding,
    // no whitespace), has a header that is not a JSON object with "alg" exactly "HS256", has a
    // "crit" header, has a wrong signature, has a payload that is not a JSON object, lacks an
    // integer exp or has exp <= now - leeway, has iat or nbf later than now + leeway (or not an
    // integer), has iss != issuer, has aud that is neither the audience nor an array containing
    // it, has a missing, empty or non-string sub, or has a non-string jti.
    Result<Claims> verify(std::string_view token, std::chrono::system_clock::time_point now) const;

    const JwtConfig& config() const noexcept { return config_; }

private:
    // Signs `signing_input` (header "." payload) into `mac`.
    void sign(std::string_view signing_input, unsigned char* mac) const noexcept;

    JwtConfig config_;
    // HMAC state after absorbing the key: each signature copies it rather than rehashing the
    // secret (a secret over 64 bytes would otherwise be hashed again on every request).
    crypto_auth_hmacsha256_state keyed_;
};

}  // namespace parley::auth
