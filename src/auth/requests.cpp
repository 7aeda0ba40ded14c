#include "auth/requests.hpp"

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

Result<ApiKeyRequest> api_key_request_of(const boost::json::object& body) {
    if (auto known = json::reject_unknown_fields(body, {"name", "scopes", "expires_at"}); !known) {
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
