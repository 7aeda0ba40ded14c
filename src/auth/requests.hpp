// The request bodies of the account routes, decoded from their JSON objects: credentials, a refresh
// token, a new API key. Strict (an unknown field is 422 naming it) and typed. Pure code, apart from
// the routes that call it; fuzzed on its own (fuzz/dto_fuzz.cpp).
#pragma once

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "common/time.hpp"

namespace parley::auth {

struct Credentials {
    std::string email;
    std::string password;
};

struct ApiKeyRequest {
    std::string name;
    unsigned scopes = 0;  // Scope bits; read and write when the body names none
    std::optional<TimePoint> expires_at;
};

// register and login: {"email", "password"}, both strings (checked further by AuthService).
// Errors: unprocessable naming the missing, mistyped or unknown field.
Result<Credentials> credentials_of(const boost::json::object& body);

// refresh and logout: {"refresh_token": 1 to 512 characters}.
// Errors: unprocessable for anything else.
Result<std::string> refresh_token_of(const boost::json::object& body);

// POST /api/v1/auth/api-keys: name, scopes (a non-empty array of read, write, admin), expires_at
// (ISO 8601). Errors: unprocessable naming the bad field.
Result<ApiKeyRequest> api_key_request_of(const boost::json::object& body);

}  // namespace parley::auth
