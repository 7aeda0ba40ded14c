// Leases on names shared by every Parley instance: what lets one WebSocket own a seed session
// (issue 12) when the instances share a database. A lease is held by an owner (a random token per
// claim) for a time to live and renewed by it while it needs it; a crashed instance's leases lapse
// by themselves. Without REDIS_URL there is one instance and no SessionLocks (a process-local set
// is enough, see messages/sessions.hpp).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace parley::redis {
class Client;
}

namespace parley::events {

class SessionLocks {
public:
    virtual ~SessionLocks() = default;

    // Takes the lease on `name` for `owner` for `ttl`, or renews it when `owner` holds it
    // already. True when `owner` holds it now; false while another owner does. When the lease
    // cannot be checked (Redis down) it answers true: sessions fail open, as rate limits do.
    virtual boost::asio::awaitable<bool> acquire(
        std::string name, std::string owner, std::chrono::milliseconds ttl
    ) = 0;

    // Gives the lease up if `owner` holds it (never another owner's). Does not wait.
    virtual void release(std::string name, std::string owner) = 0;
};

// Leases as Redis keys `<prefix><name>` holding the owner, with a PX expiry, taken and renewed by
// one script (atomic), released by another that deletes only the owner's key. `client` must
// outlive the locks.
std::unique_ptr<SessionLocks> make_redis_session_locks(
    redis::Client& client, std::string prefix = "parley:session:"
);

}  // namespace parley::events
