// Parley's outbound HTTP/1.1 client, used by the LLM providers: plain http:// (local servers,
// test fakes) and https:// with certificate and host-name verification against the system CA
// store, keep-alive connections reused per host and I/O thread, chunked bodies, and responses
// delivered incrementally as they arrive. Beast stays inside this file's implementation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"

namespace parley::net {

struct ClientRequest {
    std::string method = "POST";
    std::string url;  // http://host[:port]/path?query or https://…
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct ClientResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;

    // The first value of a header (case-insensitive), or empty.
    std::string_view header(std::string_view name) const noexcept;
};

struct ClientOptions {
    std::chrono::milliseconds connect_timeout{10'000};
    // Longest silence while waiting for response bytes; callers race their own, finer timers.
    std::chrono::milliseconds read_timeout{300'000};
    bool verify_tls = true;
    std::string ca_file;  // extra CA bundle (PEM) besides the system store; empty for none
    std::size_t max_idle_per_host = 8;
    std::size_t max_response_bytes = 64 * 1024 * 1024;
};

// Called with the response head and each piece of the body as it arrives; return false to stop
// reading (the connection is then closed, not reused). A plain call, not a coroutine (issue 14:
// a frame per socket read); it must not block: a slow consumer keeps what it is given.
using BodyHandler = std::function<bool(const ClientResponse&, std::string_view)>;

class HttpClient {
public:
    explicit HttpClient(ClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Sends `req` and feeds the body to `on_body` until it ends; returns the head. A kept-alive
    // connection to the same host from this thread is reused (and a fresh one tried if it turns out
    // stale). Errors: upstream with a detail saying what failed (resolve, connect, TLS handshake or
    // verification, write, read, timeout, malformed response). Cancelling the awaiting coroutine
    // closes the connection at once. Runs on the caller's executor.
    boost::asio::awaitable<Result<ClientResponse>> send(ClientRequest req, BodyHandler on_body);

    // Idle pooled connections (for tests and metrics).
    std::size_t idle_connections() const;

    // Closes the idle pooled connections. Call before the io_contexts that opened them are
    // destroyed (a socket must not outlive its io_context).
    void close_idle();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace parley::net
