// The Redis client of the scale-out set-up (REDIS_URL), shared by the rate limiter and the event
// bus. hiredis's asynchronous API drives one connection for commands and, once something listens,
// a second for PSUBSCRIBE; both sit on an io_context that runs on one thread of the client's own,
// so hiredis (not thread-safe) is only ever touched there. Any thread may call `command`: the
// request hops to the client's thread and the reply back to the caller's executor, so no I/O
// thread ever blocks on the network (connecting, and resolving a host name, happen on the
// client's thread too). When the connection drops, commands fail at once (nothing is queued) and
// the client reconnects with exponential back-off and jitter, then re-issues its PSUBSCRIBEs.
// Only <boost/asio/awaitable.hpp> is included, to keep Asio and hiredis out of callers' headers.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "redis/reply.hpp"
#include "redis/url.hpp"

namespace parley::redis {

struct ClientOptions {
    Endpoint endpoint;
    std::string name = "redis";                        // in log lines
    std::chrono::milliseconds connect_timeout{2'000};  // TCP connect, AUTH and SELECT
    std::chrono::milliseconds command_timeout{1'000};  // from sending to the reply
    std::chrono::milliseconds reconnect_min{100};      // first back-off; doubles up to the max
    std::chrono::milliseconds reconnect_max{5'000};
};

class Client {
public:
    // Called on the client's thread for each message on a channel matching the pattern.
    using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;

    // Registered with listen(); destroying (or reset()) unregisters, waiting for a call of the
    // handler in progress on the client's thread to return. Destroy it before the client, and
    // never from within its own handler.
    class Listener {
    public:
        Listener() = default;
        ~Listener();
        Listener(Listener&& other) noexcept = default;
        Listener& operator=(Listener&& other) noexcept;
        Listener(const Listener&) = delete;
        Listener& operator=(const Listener&) = delete;

        void reset();

        struct Slot;

    private:
        friend class Client;

        explicit Listener(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}

        std::shared_ptr<Slot> slot_;
    };

    // Starts the client's thread and begins connecting at once; never fails (an unreachable
    // server is retried in the background).
    explicit Client(ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Closes the connections and joins the client's thread; afterwards commands fail at once.
    // Idempotent. Call it when no coroutine is waiting on a command any more (after the server
    // has drained), never from the client's own thread.
    void close();

    // Sends one command, each argument a binary-safe bulk string, and returns the reply; an error
    // reply of Redis (NOSCRIPT, WRONGTYPE, …) is a Reply, not an Error. Errors (type overloaded):
    // not connected (at once: nothing is queued), the connection dropped before the reply, no
    // reply within command_timeout, the client closed. Callable from any executor; resumes on the
    // caller's. Cancellation abandons the wait (the command may still run).
    boost::asio::awaitable<Result<Reply>> command(std::vector<std::string> args);

    // command() without waiting: `done`, if set, gets the outcome on the client's thread (it must
    // not block). Thread-safe; never blocks.
    void send(std::vector<std::string> args, std::function<void(Result<Reply>)> done = {});

    // Calls `handler` for every message published to a channel matching `pattern` (PSUBSCRIBE
    // syntax), from the next confirmation of the pattern on; after a reconnection the pattern is
    // subscribed again (messages published meanwhile are lost). Opens the subscriber connection
    // on first use. Thread-safe.
    [[nodiscard]] Listener listen(std::string pattern, MessageHandler handler);

    // Whether the command connection is up. Thread-safe.
    bool connected() const noexcept;

    // Whether the subscriber connection is up and has every pattern confirmed. Thread-safe.
    bool listening() const noexcept;

    // Block the calling thread until connected() / listening(), or `timeout`; return the last
    // value. For start-up and tests: never call them from an I/O thread or the client's own.
    bool wait_connected(std::chrono::milliseconds timeout) const;
    bool wait_listening(std::chrono::milliseconds timeout) const;

    const ClientOptions& options() const noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace parley::redis
