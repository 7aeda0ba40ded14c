#include "ratelimit/limiter.hpp"

namespace parley::ratelimit {

std::vector<std::pair<std::string, std::string>> rate_limit_headers(const Decision& decision) {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.reserve(4);
    headers.emplace_back("X-RateLimit-Limit", std::to_string(decision.limit));
    headers.emplace_back("X-RateLimit-Remaining", std::to_string(decision.remaining));
    headers.emplace_back("X-RateLimit-Reset", std::to_string(decision.reset_s));
    if (!decision.allowed) {
        headers.emplace_back("Retry-After", std::to_string(decision.retry_after_s));
    }
    return headers;
}

}  // namespace parley::ratelimit
