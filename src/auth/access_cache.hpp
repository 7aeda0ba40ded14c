// What the gate needs to know about a credential on every request, read from the store at most
// once per ttl instead of once per request. Thread-safe: shared by every I/O thread.
//
// Accounts (issue 16): the role, whether an admin disabled the account, its own rate limits. JWTs
// are verified without the database, so this is how a disabled account's tokens stop working: each
// instance reads an account's access at most once per `ttl` and keeps it meanwhile.
//
// API keys (issue 14): the record of a key, by the SHA-256 of its secret, kept for at most
// kMaxKeyTtl (1 s) so that a key revoked on another instance stops working within a second; the
// lookup (hash + indexed read) was a database round trip per request.
//
// A change made on this instance is seen at once (invalidate(), forget_api_key()); one made on
// another instance within the ttl.
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
#include "store/store.hpp"

namespace parley::auth {

class AccessCache {
public:
    // The longest an API key's record is kept: the bound on how long a key revoked on another
    // instance keeps working.
    static constexpr std::chrono::milliseconds kMaxKeyTtl{1'000};

    // `ttl` 0 reads the store on every call. API keys are kept for min(ttl, kMaxKeyTtl).
    AccessCache(store::Store& store, std::chrono::milliseconds ttl, Clock clock = system_now);

    // The account's access (nullopt: no such account), from the cache when it is younger than
    // the ttl and `fresh` is false, else from the store. Runs on the caller's executor. Errors:
    // the store's.
    boost::asio::awaitable<Result<std::optional<store::UserAccess>>> get(
        std::string user_id, bool fresh = false
    );

    // Forgets the account, so that the next get() reads the store.
    void invalidate(const std::string& user_id);

    // The API key whose secret hashes to `sha256` (nullopt: no such key), from the cache when it
    // was read less than min(ttl, kMaxKeyTtl) ago. Revoked and expired keys are returned as they
    // are (the caller refuses them); unknown hashes are not kept, so a new key works at once on
    // every instance. Errors: the store's.
    boost::asio::awaitable<Result<std::optional<store::ApiKey>>> api_key(std::string sha256);

    // Forgets the key with id `key_id` (revoked on this instance): the next api_key() reads the
    // store.
    void forget_api_key(const std::string& key_id);

    // Records in the cached copy that the key's use at `when` was written (last_used_at), so that
    // the next requests do not write it again.
    void api_key_used(const std::string& sha256, TimePoint when);

private:
    template <class V>
    struct Entry {
        V value;
        TimePoint read_at;
    };

    template <class V>
    using Entries = std::unordered_map<std::string, Entry<V>>;

    // More entries than this in a map: it is emptied (a bound, not an eviction policy).
    static constexpr std::size_t kMaxEntries = 100'000;

    // The cached value for `key` if it was read less than `ttl` before `now`. Under mutex_.
    template <class V>
    static const V* find_fresh(
        const Entries<V>& entries,
        const std::string& key,
        TimePoint now,
        std::chrono::milliseconds ttl
    );

    // Keeps `value` for `key`, read at `now`. Under mutex_.
    template <class V>
    static void remember(Entries<V>& entries, const std::string& key, V value, TimePoint now);

    store::Store& store_;
    store::AdminStore& admin_;
    std::chrono::milliseconds ttl_;
    std::chrono::milliseconds key_ttl_;
    Clock clock_;
    std::mutex mutex_;
    Entries<std::optional<store::UserAccess>> accounts_;
    Entries<store::ApiKey> keys_;
};

}  // namespace parley::auth
