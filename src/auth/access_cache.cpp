#include "auth/access_cache.hpp"

#include <algorithm>

namespace parley::auth {

namespace asio = boost::asio;

AccessCache::AccessCache(store::Store& store, std::chrono::milliseconds ttl, Clock clock)
    : store_(store),
      admin_(store::admin_store(store)),
      ttl_(ttl),
      key_ttl_(std::min(ttl, kMaxKeyTtl)),
      clock_(std::move(clock)) {}

template <class V>
const V* AccessCache::find_fresh(
    const Entries<V>& entries, const std::string& key, TimePoint now, std::chrono::milliseconds ttl
) {
    if (ttl.count() <= 0) {
        return nullptr;
    }
    const auto it = entries.find(key);
    if (it == entries.end() || now - it->second.read_at >= ttl) {
        return nullptr;
    }
    return &it->second.value;
}

template <class V>
void AccessCache::remember(Entries<V>& entries, const std::string& key, V value, TimePoint now) {
    if (entries.size() >= kMaxEntries) {
        entries.clear();
    }
    entries.insert_or_assign(key, Entry<V>{std::move(value), now});
}

asio::awaitable<Result<std::optional<store::UserAccess>>> AccessCache::get(
    std::string user_id, bool fresh
) {
    const auto now = clock_();
    if (!fresh) {
        std::lock_guard lock(mutex_);
        if (const auto* cached = find_fresh(accounts_, user_id, now, ttl_)) {
            co_return *cached;
        }
    }
    auto read = co_await admin_.find_user_access(user_id);
    if (!read) {
        co_return read.error();
    }
    if (ttl_.count() > 0) {
        std::lock_guard lock(mutex_);
        remember(accounts_, user_id, *read, now);
    }
    co_return std::move(*read);
}

void AccessCache::invalidate(const std::string& user_id) {
    std::lock_guard lock(mutex_);
    accounts_.erase(user_id);
}

asio::awaitable<Result<std::optional<store::ApiKey>>> AccessCache::api_key(std::string sha256) {
    const auto now = clock_();
    {
        std::lock_guard lock(mutex_);
        if (const auto* cached = find_fresh(keys_, sha256, now, key_ttl_)) {
            co_return std::optional<store::ApiKey>{*cached};
        }
    }
    auto read = co_await store_.find_api_key(sha256);
    if (!read) {
        co_return read.error();
    }
    if (*read && key_ttl_.count() > 0) {
        std::lock_guard lock(mutex_);
        remember(keys_, sha256, **read, now);
    }
    co_return std::move(*read);
}

void AccessCache::forget_api_key(const std::string& key_id) {
    // Revocations are rare and the map is bounded: a scan is simpler than an index by id.
    std::lock_guard lock(mutex_);
    std::erase_if(keys_, [&key_id](const auto& entry) { return entry.second.value.id == key_id; });
}

void AccessCache::api_key_used(const std::string& sha256, TimePoint when) {
    std::lock_guard lock(mutex_);
    if (const auto it = keys_.find(sha256); it != keys_.end()) {
        it->second.value.last_used_at = when;
    }
}

}  // namespace parley::auth
