// One HTTP/1.1 connection: read a request within the limits, run it through the pipeline, write the
// response, repeat while keep-alive holds. Internal to http/ (server.cpp and session.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "http/pipeline.hpp"
#include "http/server.hpp"

namespace parley::http {

// A connection the server can ask to close when it is between requests.
class IdleClosable {
public:
    virtual void close_if_idle() = 0;

protected:
    ~IdleClosable() = default;
};

// The connections of one io_context. Touched only from that io_context's thread.
class ConnectionHub {
public:
    void add(IdleClosable* c) { members_.insert(c); }

    void remove(IdleClosable* c) { members_.erase(c); }

    void close_idle() {
        // close_if_idle may not unregister synchronously, but iterate over a copy anyway.
        const auto copy = members_;
        for (auto* c : copy) {
            c->close_if_idle();
        }
    }

private:
    std::unordered_set<IdleClosable*> members_;
};

// What every session of a server shares.
struct SessionShared {
    Pipeline& pipeline;
    const Limits& limits;
    const std::atomic<bool>& draining;
    const std::vector<std::string>& trusted_proxies;
};

// Serves one accepted connection until it closes. Never throws.
boost::asio::awaitable<void> run_session(
    boost::asio::ip::tcp::socket socket, SessionShared& shared, ConnectionHub& hub
);

}  // namespace parley::http
