#include "auth/access_cache.hpp"

namespace parley::auth {

namespace asio = boost::asio;

AccessCache::AccessCache(store::AdminStore& store, std::chrono::milliseconds ttl, Clock clock)
    : store_(store),
      ttl_(ttl),
      clock_(std::move(clock)) {}

asio::awaitable<Result<std::optional<store::UserAccess>>> AccessCache::get(
    std::string user_id, bool fresh
) {
    const auto now = clock_();
    if (!fresh && ttl_.count() > 0) {
        std::lock_guard lock(mutex_);
        if (const auto it = entries_.find(user_id);
            it != entries_.end() && now - it->second.read_at < ttl_) {
            co_return it->second.access;
        }
    }
    auto read = co_await store_.find_user_access(user_id);
    if (!read) {
        co_return read.error();
    }
    if (ttl_.count() > 0) {
        std::lock_guard lock(mutex_);
        if (entries_.size() >= kMaxEntries) {
            entries_.clear();
        }
        entries_[user_id] = Entry{*read, now};
    }
    co_return std::move(*read);
}

void AccessCache::invalidate(const std::string& user_id) {
    std::lock_guard lock(mutex_);
    entries_.erase(user_id);
}

}  // namespace parley::auth
