// CORS decisions from an explicit origin allowlist (exact match, no wildcard). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::http {

class CorsPolicy {
public:
    explicit CorsPolicy(std::vector<std::string> allowed_origins);

    // Whether a browser page from `origin` may read responses.
    bool allows(std::string_view origin) const noexcept;

    static constexpr std::string_view kAllowMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
    static constexpr std::string_view kAllowHeaders =
        "Authorization, Content-Type, X-API-Key, X-Request-ID";
    static constexpr std::string_view kExposeHeaders =
        "X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After";
    static constexpr std::string_view kMaxAge = "600";

private:
    std::vector<std::string> origins_;
};

}  // namespace parley::http
