#include "http/cors.hpp"

#include <algorithm>

namespace parley::http {

CorsPolicy::CorsPolicy(std::vector<std::string> allowed_origins)
    : origins_(std::move(allowed_origins)) {
    // Origins compare without a trailing slash ("https://app.example" is what browsers send).
    for (auto& o : origins_) {
        while (!o.empty() && o.back() == '/') {
            o.pop_back();
        }
    }
}

bool CorsPolicy::allows(std::string_view origin) const noexcept {
    if (origin.empty() || origin == "null") {
        return false;
    }
    return std::any_of(origins_.begin(), origins_.end(), [&](const std::string& o) {
        return o == origin;
    });
}

bool CorsPolicy::allows_websocket(std::string_view origin, std::string_view host) const noexcept {
    if (allows(origin)) {
        return true;
    }
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (origin.size() > scheme.size() && origin.substr(0, scheme.size()) == scheme) {
            const auto authority = origin.substr(scheme.size());
            return !host.empty() && authority.size() == host.size() &&
                   std::equal(authority.begin(), authority.end(), host.begin(), [](char a, char b) {
                       const auto lower = [](char c) {
                           return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
                       };
                       return lower(a) == lower(b);
                   });
        }
    }
    return false;
}

}  // namespace parley::http
