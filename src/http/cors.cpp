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

}  // namespace parley::http
