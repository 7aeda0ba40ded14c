#include "http/server.hpp"

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/ids.hpp"
#include "common/log.hpp"
#include "http/session.hpp"
#include "http/wire.hpp"

namespace parley::http {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Answers a connection past MAX_CONNECTIONS without holding it: a 503 overloaded_error the client
// can read, then close. The response fits the new socket's empty send buffer, so one non-blocking
// write takes it. What the client already sent is read and dropped first, so that the close sends
// a FIN rather than a reset (which could destroy the 503 before the client reads it).
void refuse(tcp::socket socket) {
    Error error = make_error(
        ErrorType::overloaded, "the server has too many open connections; retry shortly"
    );
    error.retry_after_s = 1;
    const auto request_id = new_request_id();
    Response res = error_response(error, request_id);
    res.set_header("X-Request-ID", request_id);
    const auto bytes = serialize_response(res, WireOptions{false, false, false});
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    std::array<char, 4096> sink{};
    std::size_t dropped = 0;  // bounded: this runs on the accepting thread
    while (!ec && dropped < 64 * 1024) {
        dropped += socket.read_some(asio::buffer(sink), ec);
    }
    socket.write_some(asio::buffer(bytes), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
}

}  // namespace

struct Server::Impl {
    Impl(ServerOptions opts, Pipeline& p, Metrics& m)
        : options(std::move(opts)),
          pipeline(p),
          metrics(m),
          shared{pipeline, options.limits, draining, options.trusted_proxies} {
        std::size_t n = options.threads;
        if (n == 0) {
            n = std::max(1U, std::thread::hardware_concurrency());
        }
        for (std::size_t i = 0; i < n; ++i) {
            // One thread runs each context, and every socket and timer of a context is only ever
            // touched on that thread (work from other threads is posted to it: the blocking
            // pool's results, Redis deliveries, the drain; a resumed stream's reader polls). So the
            // reactor's per-descriptor locks guard nothing: UNSAFE_IO drops them (about 100
            // instructions a streamed delta) and keeps the scheduler's and the registration's,
            // which other threads do use.
            contexts.push_back(
                std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)
            );
            guards.emplace_back(contexts.back()->get_executor());
            hubs.push_back(std::make_unique<ConnectionHub>());
        }
        metrics.describe_counter(
            "parley_http_connections_refused_total",
            "Connections answered 503 and closed at once because MAX_CONNECTIONS were open."
        );
        metrics.add_gauge("parley_http_connections_active", "Open client connections.", [this] {
            return static_cast<double>(active.load(std::memory_order_relaxed));
        });
    }

    // Counts a new connection if one more fits. Every I/O thread accepts, so the check and the
    // count are one step: a load followed by an add let two threads both take the last slot.
    bool reserve_slot() {
        auto open = active.load(std::memory_order_relaxed);
        while (open < options.limits.max_connections) {
            if (active.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) {
                return true;
            }
        }
        return false;
    }

    asio::awaitable<void> accept_loop(std::size_t i) {
        auto& acceptor = *acceptors[i];
        auto& hub = *hubs[i];
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(kTuple);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            if (ec) {
                // Typically EMFILE: back off briefly instead of spinning.
                log::warn("accept failed", {{"error", ec.message()}});
                asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
                co_await pause.async_wait(kTuple);
                continue;
            }
            if (!reserve_slot()) {
                refuse(std::move(socket));
                metrics.add_counter("parley_http_connections_refused_total", "", 1);
                continue;
            }
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            asio::co_spawn(
                acceptor.get_executor(),
                run_session(std::move(socket), shared, hub),
                [this](const std::exception_ptr&) {
                    active.fetch_sub(1, std::memory_order_relaxed);
                }
            );
        }
    }

    void begin_drain() {
        if (draining.exchange(true)) {
            return;
        }
        log::info("shutting down", {{"open_connections", active.load()}});
        for (std::size_t i = 0; i < contexts.size(); ++i) {
            asio::post(*contexts[i], [this, i] {
                boost::system::error_code ignored;
                if (i < acceptors.size()) {
                    acceptors[i]->close(ignored);
                }
                hubs[i]->close_idle();
            });
        }
        asio::co_spawn(*contexts[0], watch_drain(), asio::detached);
    }

    // Polls until every connection has closed or the drain deadline passes, then stops the loops.
    asio::awaitable<void> watch_drain() {
        const auto deadline = std::chrono::steady_clock::now() + options.shutdown_timeout;
        asio::steady_timer tick(*contexts[0]);
        while (active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
            // Connections that finished a request since the last pass may now be idle.
            for (std::size_t i = 0; i < contexts.size(); ++i) {
                asio::post(*contexts[i], [this, i] { hubs[i]->close_idle(); });
            }
            tick.expires_after(std::chrono::milliseconds(20));
            co_await tick.async_wait(kTuple);
        }
        const auto left = active.load();
        if (left > 0) {
            log::warn(
                "drain deadline passed; closing remaining connections", {{"open_connections", left}}
            );
        } else {
            log::info("drained");
        }
        for (auto& g : guards) {
            g.reset();
        }
        for (auto& c : contexts) {
            c->stop();
        }
    }

    ServerOptions options;
    Pipeline& pipeline;
    Metrics& metrics;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> active{0};
    SessionShared shared;
    // Declared before the contexts so that they outlive them: destroying an io_context destroys the
    // sessions still suspended on it, and a session unregisters from its hub as it goes.
    std::vector<std::unique_ptr<ConnectionHub>> hubs;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
};

Server::Server(ServerOptions options, Pipeline& pipeline, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), pipeline, metrics)) {}

Server::~Server() = default;

std::uint16_t Server::listen() {
    auto& impl = *impl_;
    tcp::resolver resolver(*impl.contexts[0]);
    const auto results = resolver.resolve(impl.options.host, std::to_string(impl.options.port));
    tcp::endpoint endpoint = results.begin()->endpoint();
    for (std::size_t i = 0; i < impl.contexts.size(); ++i) {
        auto acceptor = std::make_unique<tcp::acceptor>(*impl.contexts[i]);
        acceptor->open(endpoint.protocol());
        acceptor->set_option(asio::socket_base::reuse_address(true));
        acceptor->set_option(ReusePort(true));
        acceptor->bind(endpoint);
        acceptor->listen(asio::socket_base::max_listen_connections);
        if (i == 0) {
            endpoint = acceptor->local_endpoint();  // the real port when 0 was asked for
        }
        impl.acceptors.push_back(std::move(acceptor));
    }
    return endpoint.port();
}

void Server::run() {
    auto& impl = *impl_;
    asio::signal_set signals(*impl.contexts[0], SIGINT, SIGTERM);
    signals.async_wait([&impl](const boost::system::error_code& ec, int signal) {
        if (!ec) {
            log::info("signal received", {{"signal", signal}});
            impl.begin_drain();
        }
    });
    for (std::size_t i = 0; i < impl.acceptors.size(); ++i) {
        asio::co_spawn(*impl.contexts[i], impl.accept_loop(i), asio::detached);
    }
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < impl.contexts.size(); ++i) {
        threads.emplace_back([&impl, i] { impl.contexts[i]->run(); });
    }
    impl.contexts[0]->run();
    for (auto& t : threads) {
        t.join();
    }
}

void Server::shutdown() {
    asio::post(*impl_->contexts[0], [impl = impl_.get()] { impl->begin_drain(); });
}

}  // namespace parley::http
