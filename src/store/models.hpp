// The rows the store reads and writes, as plain structs (ARCHITECTURE §5). No SQL, no I/O.
#pragma once

#include <optional>
#include <string>

#include "common/time.hpp"

namespace parley::store {

struct User {
    std::string id;
    std::string email;  // normalised: trimmed, lower-case
    std::string password_hash;
    TimePoint created_at;
};

struct RefreshToken {
    std::string id;
    std::string user_id;
    std::string family_id;  // every token rotated from one login shares it
    std::string token_sha256;
    TimePoint created_at;
    TimePoint expires_at;
    std::optional<TimePoint> revoked_at;
    std::optional<std::string> replaced_by;  // set when rotated: presenting it again is reuse
};

struct ApiKey {
    std::string id;
    std::string user_id;
    std::string name;
    std::string prefix;  // the first characters of the key, for people to recognise it
    std::string key_sha256;
    unsigned scopes = 0;  // bit set of parley::Scope
    TimePoint created_at;
    std::optional<TimePoint> last_used_at;
    std::optional<TimePoint> expires_at;
    std::optional<TimePoint> revoked_at;
};

}  // namespace parley::store
