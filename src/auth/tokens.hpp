// Random secrets and their digests for the identity layer: opaque tokens (refresh tokens, email
// links), API keys ("prly_…", stored only as a SHA-256 digest), base64url without padding, and
// constant-time comparison. Everything comes from libsodium; no I/O; safe on any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace parley::auth {

// The prefix every Parley API key starts with, so a leaked key is recognisable (secret scanners).
inline constexpr std::string_view kApiKeyPrefix = "prly_";

// The length of an API key: the prefix and 32 random bytes in unpadded base64url (43 characters).
inline constexpr std::size_t kApiKeyLength = 48;

// How many leading characters of an API key are stored in clear and shown in listings.
inline constexpr std::size_t kApiKeyDisplayPrefixLength = 12;

// Initialises libsodium once; later calls cost one atomic load. Every function in `auth` calls it,
// so callers need not. Throws std::runtime_error if libsodium cannot initialise.
void ensure_sodium();

// `bytes` bytes from the OS CSPRNG (randombytes_buf), as unpadded base64url: 43 characters for
// the default 32 bytes (256 bits).
std::string random_token(std::size_t bytes = 32);

// `bytes` (any binary data) as unpadded base64url (RFC 4648 §5).
std::string base64url_encode(std::string_view bytes);

// Decodes unpadded base64url. nullopt for anything else: padding '=', whitespace, characters
// outside [A-Za-z0-9_-], an impossible length, or non-zero trailing bits (non-canonical text), so
// each byte string has exactly one accepted encoding.
std::optional<std::string> base64url_decode(std::string_view text);

// The SHA-256 digest of `data` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

// Whether `a` and `b` are equal, in time that depends only on their length (sodium_memcmp).
// Different lengths compare unequal at once: lengths are not secret.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

struct NewApiKey {
    std::string key;     // "prly_" + 43 base64url characters: shown to the user once, never stored
    std::string prefix;  // the first 12 characters of `key`, stored and shown in listings
    std::string sha256;  // sha256_hex(key), stored and looked up
};

// A fresh API key with its display prefix and digest.
NewApiKey new_api_key();

// Whether `text` has the shape of an API key: "prly_", then 43 base64url characters. A cheap
// filter before a lookup; it says nothing about whether the key exists.
bool looks_like_api_key(std::string_view text) noexcept;

}  // namespace parley::auth
