// The inbound HTTP/1.1 server: one io_context and one thread per core, each with its own acceptor
// on the same port (SO_REUSEPORT), keep-alive connections handled by coroutines, limits against
// slow or oversized requests, and a graceful drain on SIGTERM/SIGINT. Beast stays inside http/.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/pipeline.hpp"

namespace parley::http {

struct Limits {
    std::size_t max_header_bytes = 16 * 1024;          // larger → 431
    std::size_t max_header_fields = 100;               // more → 431 (Envoy's default)
    std::size_t max_body_bytes = 1024 * 1024;          // larger → 413
    std::chrono::milliseconds header_timeout{10'000};  // first byte to end of headers
    std::chrono::milliseconds body_timeout{30'000};    // end of headers to end of body; and
                                                       // each response write (slow readers)
    std::chrono::milliseconds idle_timeout{75'000};    // keep-alive wait for the next request
    std::size_t json_max_depth = 64;
    std::size_t max_connections = 10'000;            // more → 503 overloaded_error, closed
    std::size_t max_ws_message_bytes = 1024 * 1024;  // a larger WebSocket message → close 1009
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;  // 0: any free port (read it back from listen())
    std::size_t threads = 0;    // 0: one per core
    Limits limits;
    std::chrono::milliseconds shutdown_timeout{15'000};  // bound on the drain
    // Peers whose X-Forwarded-For is believed (a load balancer in front), as IP addresses.
    std::vector<std::string> trusted_proxies;
};

class Server {
public:
    Server(ServerOptions options, Pipeline& pipeline, Metrics& metrics);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Opens the listeners and returns the bound port. Throws std::system_error when the address
    // cannot be bound.
    std::uint16_t listen();

    // Serves until a shutdown completes: SIGTERM/SIGINT (or shutdown()) stops accepting, closes
    // idle connections, lets in-flight requests finish with `Connection: close` for at most
    // shutdown_timeout, then returns. Runs one I/O thread on the caller's thread.
    void run();

    // Starts the drain from any thread.
    void shutdown();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace parley::http
