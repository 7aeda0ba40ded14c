// Access tokens verified recently (issue 14): checking an HS256 token costs two base64url decodes,
// two JSON parses and an HMAC (about 12% of an authenticated list of 20 conversations), and a
// client presents the same token on every request for up to its lifetime. A token is immutable
// and Parley revokes no access token before its expiry (logout revokes the refresh family), so a
// token that verified once verifies again until its `exp`; only that time check is repeated. No
// I/O; thread-safe (one mutex; held for a hash lookup).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/jwt.hpp"
#include "common/string_map.hpp"
#include "common/time.hpp"

namespace parley::auth {

class VerifiedTokens {
public:
    // At most `capacity` tokens (past it the map is emptied and refills: only tokens that
    // verified are kept, so nobody can fill it with junk), each for at most `ttl`.
    explicit VerifiedTokens(
        std::size_t capacity = 4096, std::chrono::seconds ttl = std::chrono::seconds(60)
    );

    // The claims `token` verified with, when it was remembered at or before `now`, less than
    // `ttl` ago, and its exp is still after `now - leeway` (Jwt::verify's expiry rule); nullopt
    // otherwise (then verify it again).
    std::optional<Claims> find(std::string_view token, TimePoint now, std::chrono::seconds leeway);

    // Remembers that `token` verified at `now` with `claims`.
    void remember(std::string_view token, const Claims& claims, TimePoint now);

    std::size_t size() const;

private:
    struct Entry {
        Claims claims;
        TimePoint verified_at;
    };

    std::size_t capacity_;
    std::chrono::seconds ttl_;
    mutable std::mutex mutex_;
    StringMap<Entry> entries_;
};

}  // namespace parley::auth
