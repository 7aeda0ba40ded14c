// One hiredis asynchronous connection driven by an Asio io_context: the adapter hooks hiredis
// calls (addRead/delRead/addWrite/delWrite/cleanup) become async_waits on a non-owning
// posix::stream_descriptor over hiredis's socket, and a coroutine keeps the connection up,
// reconnecting with back-off. Internal to redis/ (client.cpp); everything here runs on the one
// thread of the io_context, except up() and subscribed(), which any thread may read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/error.hpp"
#include "redis/client.hpp"
#include "redis/reply.hpp"

struct redisAsyncContext;

namespace parley::redis {

class Connection : public std::enable_shared_from_this<Connection> {
public:
    // Called on the io_context's thread after up() or subscribed() changed.
    using StateHandler = std::function<void()>;
    // Called on the io_context's thread for each pmessage.
    using MessageHandler = std::function<
        void(const std::string& pattern, std::string_view channel, std::string_view payload)>;

    // `role` names the connection in log lines ("commands", "subscriber").
    Connection(
        boost::asio::io_context& ctx,
        const ClientOptions& options,
        std::string role,
        StateHandler on_state,
        MessageHandler on_message = {}
    );
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Starts connecting, and keeps the connection up until stop().
    void start();

    // Frees the connection (pending commands fail) and stops reconnecting.
    void stop();

    // As Client::command, on this connection's thread.
    boost::asio::awaitable<Result<Reply>> command(std::vector<std::string> args);

    // Adds a pattern to PSUBSCRIBE now (when up) and after every reconnection.
    void psubscribe(std::string pattern);

    bool up() const noexcept { return up_.load(std::memory_order_acquire); }

    bool subscribed() const noexcept { return subscribed_.load(std::memory_order_acquire); }

    // hiredis's hooks and callbacks (C function pointers) forward to these.
    void on_add_read();
    void on_add_write();

    void on_del_read() noexcept { want_read_ = false; }

    void on_del_write() noexcept { want_write_ = false; }

    void on_cleanup();
    void on_connect(int status);
    void on_pubsub(const void* reply);

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<bool> establish(std::string& why);
    boost::asio::awaitable<Result<Reply>> send_command(std::vector<std::string> args);
    boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline);
    void arm_read();
    void arm_write();
    void drop();
    void issue_psubscribe(const std::string& pattern);
    void set_state(bool up, bool subscribed);
    std::chrono::milliseconds jittered(std::chrono::milliseconds delay);

    boost::asio::io_context& ctx_;
    const ClientOptions& options_;
    std::string role_;
    StateHandler on_state_;
    MessageHandler on_message_;

    redisAsyncContext* ac_ = nullptr;
    std::uint64_t generation_ = 0;  // one per connection attempt; stale waits check it
    boost::asio::posix::stream_descriptor descriptor_;
    boost::asio::steady_timer wake_;  // the run loop's sleep; hooks cancel it to wake it
    bool want_read_ = false;
    bool want_write_ = false;
    bool read_armed_ = false;
    bool write_armed_ = false;
    bool connected_ = false;  // the TCP connection of the current attempt completed
    bool stopping_ = false;
    std::string last_error_;

    std::set<std::string> patterns_;
    std::set<std::string> confirmed_;
    std::atomic<bool> up_{false};
    std::atomic<bool> subscribed_{false};
    std::minstd_rand rng_;
};

}  // namespace parley::redis
