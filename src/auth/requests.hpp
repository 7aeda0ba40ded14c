// The request bodies of the account routes, decoded from their JSON objects: credentials, a refresh
// token, a new API key. Strict (an unknown field is 422 naming it) and typed. Pure code, apart from
// the routes that call it; fuzzed on its own (fuzz/dto_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "common/time.hpp"

namespace parley::auth {

struct Credentials {
    std::string email;
    std::string password;
};

// The budget fields of a body (PATCH /api/v1/admin/users/{id}, creating or changing an API
// key's budget): each absent (nullopt: unchanged), or null (removed) or a value.
struct BudgetFields {
    std::optional<std::optional<std::int64_t>> max_budget_micros;   // max_budget_usd
    std::optional<std::optional<std::int64_t>> soft_budget_micros;  // soft_budget_usd
    std::optional<std::string> budget_period;  // "daily", "weekly", "monthly" or "total"

    bool any() const noexcept { return max_budget_micros || soft_budget_micros || budget_period; }

    // Applies the fields present to a cap.
    void apply_to(
        std::optional<std::int64_t>& max_micros,
        std::optional<std::int64_t>& soft_micros,
        std::string& period
    ) const;
};

// max_budget_usd and soft_budget_usd (a number of US dollars from 0 to 1e9, or null), and
// budget_period; other fields are not looked at. Errors: unprocessable naming the bad field.
Result<BudgetFields> budget_fields_of(const boost::json::object& body);

struct ApiKeyRequest {
    std::string name;
    unsigned scopes = 0;  // Scope bits; read and write when the body names none
    std::optional<TimePoint> expires_at;
    BudgetFields budget{};
};

// register and login: {"email", "password"}, both strings (checked further by AuthService).
// Errors: unprocessable naming the missing, mistyped or unknown field.
Result<Credentials> credentials_of(const boost::json::object& body);

// refresh and logout: {"refresh_token": 1 to 512 characters}.
// Errors: unprocessable for anything else.
Result<std::string> refresh_token_of(const boost::json::object& body);

// POST /api/v1/api-keys: name, scopes (a non-empty array of read, write, admin), expires_at
// (ISO 8601), and the budget fields. Errors: unprocessable naming the bad field.
Result<ApiKeyRequest> api_key_request_of(const boost::json::object& body);

}  // namespace parley::auth
