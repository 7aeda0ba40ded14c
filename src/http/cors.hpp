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

    // Whether a browser page from `origin` may open a WebSocket to this server, whose Host header
    // is `host`: an allowed origin, or the server's own (a page it served). Browsers send Origin
    // on every WebSocket handshake and the handshake is not subject to CORS, so this check is what
    // stops a page on another site from riding the user's credentials (cross-site WebSocket
    // hijacking). Requests without Origin (not from a browser) are not its concern.
    bool allows_websocket(std::string_view origin, std::string_view host) const noexcept;

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
