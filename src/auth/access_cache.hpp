// What the gate needs to know about an account on every request (issue 16): its role, whether an
// admin disabled it, its own rate limits. JWTs are verified without the database, so this is how a
// disabled account's tokens stop working: each instance reads an account's access from the store
// at most once per `ttl` and keeps it meanwhile. A change made on this instance is seen at once
// (invalidate()); one made on another instance within `ttl`. Thread-safe: shared by every I/O
// thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/time.hpp"
#include "store/admin_store.hpp"

namespace parley::auth {

class AccessCache {
public:
    // `ttl` 0 reads the store on every call.
    AccessCache(store::AdminStore& store, std::chrono::milliseconds ttl, Clock clock = system_now);

    // The account's access (nullopt: no such account), from the cache when it is younger than
    // the ttl and `fresh` is false, else from the store. Runs on the caller's executor. Errors:
    // the store's.
    boost::asio::awaitable<Result<std::optional<store::UserAccess>>> get(
        std::string user_id, bool fresh = false
    );

    // Forgets the account, so that the next get() reads the store.
    void invalidate(const std::string& user_id);

private:
    struct Entry {
        std::optional<store::UserAccess> access;
        TimePoint read_at;
    };

    // More accounts than this in the cache: it is emptied (a bound, not an eviction policy).
    static constexpr std::size_t kMaxEntries = 100'000;

    store::AdminStore& store_;
    std::chrono::milliseconds ttl_;
    Clock clock_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace parley::auth
