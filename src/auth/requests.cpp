#include "auth/requests.hpp"

#include <cmath>

#include "common/json.hpp"
#include "common/principal.hpp"

namespace parley::auth {

Result<Credentials> credentials_of(const boost::json::object& body) {
    if (auto known = json::reject_unknown_fields(body, {"email", "password"}); !known) {
        return known.error();
    }
    auto email = json::required_string(body, "email");
    if (!email) {
        return email.error();
    }
    auto password = json::required_string(body, "password");
    if (!password) {
        return password.error();
    }
    return Credentials{std::move(*email), std::move(*password)};
}

Result<std::string> refresh_token_of(const boost::json::object& body) {
    if (auto known = json::reject_unknown_fields(body, {"refresh_token"}); !known) {
        return known.error();
    }
    auto token = json::required_string(body, "refresh_token");
    if (!token) {
        return token.error();
    }
    if (token->empty() || token->size() > 512) {
        return make_error(ErrorType::unprocessable, "`refresh_token` is not a valid token");
    }
    return token;
}

namespace {

// A USD amount field: absent, null, or a number from 0 to a billion, in micro-dollars.
Result<std::optional<std::optional<std::int64_t>>> usd_field(
    const boost::json::object& body, std::string_view key
) {
    const auto* v = body.if_contains(key);
    if (v == nullptr) {
        return std::optional<std::optional<std::int64_t>>{};
    }
    if (v->is_null()) {
        return std::optional<std::optional<std::int64_t>>{std::optional<std::int64_t>{}};
    }
    double usd = -1;
    if (v->is_double()) {
        usd = v->get_double();
    } else if (v->is_int64()) {
        usd = static_cast<double>(v->get_int64());
    } else if (v->is_uint64()) {
        usd = static_cast<double>(v->get_uint64());
    }
    if (!std::isfinite(usd) || usd < 0 || usd > 1e9) {
        return make_error(
            ErrorType::unprocessable,
            "`" + std::string(key) + "` must be a number of US dollars from 0 to 1e9, or null"
        );
    }
    return std::optional<std::optional<std::int64_t>>{
        std::optional<std::int64_t>{static_cast<std::int64_t>(std::llround(usd * 1e6))}};
}

}  // namespace

void BudgetFields::apply_to(
    std::optional<std::int64_t>& max_micros,
    std::optional<std::int64_t>& soft_micros,
    std::string& period
) const {
    if (max_budget_micros) {
        max_micros = *max_budget_micros;
    }
    if (soft_budget_micros) {
        soft_micros = *soft_budget_micros;
    }
    if (budget_period) {
        period = *budget_period;
    }
}

Result<BudgetFields> budget_fields_of(const boost::json::object& body) {
    BudgetFields out;
    auto max = usd_field(body, "max_budget_usd");
    if (!max) {
        return max.error();
    }
    out.max_budget_micros = *max;
    auto soft = usd_field(body, "soft_budget_usd");
    if (!soft) {
        return soft.error();
    }
    out.soft_budget_micros = *soft;
    if (const auto* v = body.if_contains("budget_period"); v != nullptr) {
        const bool known =
            v->is_string() && (v->get_string() == "daily" || v->get_string() == "weekly" ||
                               v->get_string() == "monthly" || v->get_string() == "total");
        if (!known) {
            return make_error(
                ErrorType::unprocessable,
                "`budget_period` must be one of daily, weekly, monthly, total"
            );
        }
        out.budget_period = std::string(v->get_string());
    }
    return out;
}

Result<ApiKeyRequest> api_key_request_of(const boost::json::object& body) {
    if (auto known = json::reject_unknown_fields(
            body,
            {"name", "scopes", "expires_at", "max_budget_usd", "soft_budget_usd", "budget_period"}
        );
        !known) {
        return known.error();
    }
    auto name = json::required_string(body, "name");
    if (!name) {
        return name.error();
    }
    ApiKeyRequest out;
    out.name = std::move(*name);
    out.scopes = static_cast<unsigned>(Scope::read) | static_cast<unsigned>(Scope::write);
    if (const auto* v = body.if_contains("scopes"); v != nullptr && !v->is_null()) {
        if (!v->is_array() || v->as_array().empty()) {
            return make_error(
                ErrorType::unprocessable, "`scopes` must be a non-empty array of read, write, admin"
            );
        }
        out.scopes = 0;
        for (const auto& item : v->as_array()) {
            Scope s{};
            if (!item.is_string() || !parse_scope(item.as_string(), s)) {
                return make_error(
                    ErrorType::unprocessable, "`scopes` may contain only read, write, admin"
                );
            }
            out.scopes |= static_cast<unsigned>(s);
        }
    }
    auto budget = budget_fields_of(body);
    if (!budget) {
        return budget.error();
    }
    out.budget = std::move(*budget);
    auto expires = json::optional_string(body, "expires_at");
    if (!expires) {
        return expires.error();
    }
    if (*expires) {
        out.expires_at = parse_iso8601(**expires);
        if (!out.expires_at) {
            return make_error(
                ErrorType::unprocessable, "`expires_at` must be an ISO 8601 date-time"
            );
        }
    }
    return out;
}

}  // namespace parley::auth
