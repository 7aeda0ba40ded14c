// Identifiers: UUIDv7 (RFC 9562; time-ordered, so new rows append to B-tree indexes) for stored
// rows, and request ids for correlation. No I/O; safe on any thread.
#pragma once

#include <string>
#include <string_view>

namespace parley {

// A new UUIDv7 in canonical lower-case form (36 characters). Randomness comes from a per-thread
// generator seeded from the OS, which is unpredictable enough for ids (never for secrets).
std::string new_uuid_v7();

// Whether `text` is a canonical UUID (8-4-4-4-12 hex digits, either case).
bool is_uuid(std::string_view text) noexcept;

// A name-based id: the first 128 bits of a hex digest (at least 32 hex digits) shaped as a UUIDv8
// (RFC 9562), so the same name gives the same id on every instance without a lookup table.
std::string uuid_v8_from_hex(std::string hex);

// A request id for a request that did not bring a sane one.
std::string new_request_id();

// Whether an incoming X-Request-ID may be trusted and echoed: 1 to 128 characters from
// [A-Za-z0-9._:-], so it cannot break a header or a log line.
bool is_sane_request_id(std::string_view id) noexcept;

}  // namespace parley
