#include "auth/verified_tokens.hpp"

namespace parley::auth {

VerifiedTokens::VerifiedTokens(std::size_t capacity, std::chrono::seconds ttl)
    : capacity_(capacity),
      ttl_(ttl) {}

std::optional<Claims> VerifiedTokens::find(
    std::string_view token, TimePoint now, std::chrono::seconds leeway
) {
    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(token);
    if (it == entries_.end()) {
        return std::nullopt;
    }
    const Entry& e = it->second;
    // A clock that went back could make iat or nbf lie in the future again: verify afresh.
    if (now < e.verified_at || now - e.verified_at >= ttl_ ||
        e.claims.exp <= now_s - leeway.count()) {
        entries_.erase(it);
        return std::nullopt;
    }
    return e.claims;
}

void VerifiedTokens::remember(std::string_view token, const Claims& claims, TimePoint now) {
    const std::lock_guard lock(mutex_);
    if (entries_.size() >= capacity_) {
        entries_.clear();
    }
    entries_.insert_or_assign(std::string(token), Entry{claims, now});
}

std::size_t VerifiedTokens::size() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace parley::auth
