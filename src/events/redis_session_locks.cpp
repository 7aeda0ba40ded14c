#include <utility>
#include <vector>

#include "common/log.hpp"
#include "events/session_locks.hpp"
#include "redis/client.hpp"

namespace parley::events {

namespace {

// KEYS[1] the lease, ARGV[1] the owner, ARGV[2] the time to live in ms. 1: held by the owner now.
constexpr const char* kAcquire = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// KEYS[1] the lease, ARGV[1] the owner: deleted only when the owner holds it.
constexpr const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

class RedisSessionLocks final : public SessionLocks {
public:
    RedisSessionLocks(redis::Client& client, std::string prefix)
        : client_(client),
          prefix_(std::move(prefix)) {}

    boost::asio::awaitable<bool> acquire(
        std::string name, std::string owner, std::chrono::milliseconds ttl
    ) override {
        std::vector<std::string> args{
            "EVAL", kAcquire, "1", prefix_ + name, std::move(owner), std::to_string(ttl.count())};
        auto reply = co_await client_.command(std::move(args));
        if (!reply || reply->type != redis::Reply::Type::integer) {
            log::warn(
                "session lease not checked: Redis did not answer; the session is allowed",
                {{"session", name},
                 {"detail", reply ? reply->str : reply.error().message}}
            );
            co_return true;
        }
        co_return reply->integer == 1;
    }

    void release(std::string name, std::string owner) override {
        client_.send({"EVAL", kRelease, "1", prefix_ + name, std::move(owner)});
    }

private:
    redis::Client& client_;
    std::string prefix_;
};

}  // namespace

std::unique_ptr<SessionLocks> make_redis_session_locks(redis::Client& client, std::string prefix) {
    return std::make_unique<RedisSessionLocks>(client, std::move(prefix));
}

}  // namespace parley::events
