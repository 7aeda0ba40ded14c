#include "stream_generator.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sys/resource.h>

#include "stream_decode.hpp"

namespace parley::bench {

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

void log_exception(const std::exception_ptr& e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::cerr << "stream_load: " << ex.what() << '\n';
    }
}

struct Url {
    std::string host;
    std::string port;
    std::string target;
};

std::optional<Url> parse_url(std::string_view url) {
    constexpr std::string_view kScheme = "http://";
    if (!url.starts_with(kScheme)) {
        return std::nullopt;
    }
    url.remove_prefix(kScheme.size());
    const auto slash = url.find('/');
    const std::string_view authority = url.substr(0, slash);
    Url out;
    out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    out.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
    if (out.host.empty() || out.port.empty()) {
        return std::nullopt;
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

enum class Failure { none, connect, write, status, read, timeout, truncated, short_stream, event };

constexpr const char* failure_name(Failure f) {
    switch (f) {
        case Failure::none:
            return "none";
        case Failure::connect:
            return "connect";
        case Failure::write:
            return "write";
        case Failure::status:
            return "status";
        case Failure::read:
            return "read";
        case Failure::timeout:
            return "timeout";
        case Failure::truncated:
            return "truncated";
        case Failure::short_stream:
            return "short";
        case Failure::event:
            return "error_event";
    }
    return "?";
}

constexpr int kFailureKinds = 9;

// One client connection. The watchdog closes the socket when `deadline` passes while busy.
struct Connection {
    explicit Connection(asio::io_context& io) : socket(io) {}

    tcp::socket socket;
    std::vector<char> in = std::vector<char>(16384);
    Clock::time_point deadline{};
    bool busy = false;
    bool timed_out = false;
};

class Loader {
public:
    Loader(
        asio::io_context& io,
        LoadOptions opts,
        std::vector<std::string> requests,
        tcp::resolver::results_type endpoints
    )
        : io_(io),
          opts_(std::move(opts)),
          requests_(std::move(requests)),
          endpoints_(std::move(endpoints)) {
        gaps_.reserve(
            static_cast<std::size_t>(opts_.streams) *
            static_cast<std::size_t>(std::max(opts_.expect_deltas, 64))
        );
        ttfts_.reserve(static_cast<std::size_t>(opts_.streams));
    }

    void start() {
        running_ = opts_.concurrency;
        for (int i = 0; i < opts_.concurrency; ++i) {
            connections_.push_back(std::make_unique<Connection>(io_));
        }
        started_ = Clock::now();
        for (int i = 0; i < opts_.concurrency; ++i) {
            asio::co_spawn(io_, run_connection(i), log_exception);
        }
        asio::co_spawn(io_, watchdog(), log_exception);
    }

    void print_summary() {
        const double elapsed = std::chrono::duration<double>(finished_ - started_).count();
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        const double cpu =
            static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
        std::int64_t errors = 0;
        std::string kinds;
        for (int k = 1; k < kFailureKinds; ++k) {
            errors += failures_[static_cast<std::size_t>(k)];
            if (failures_[static_cast<std::size_t>(k)] > 0) {
                kinds += std::string(kinds.empty() ? "" : ",") + "\"" +
                         failure_name(static_cast<Failure>(k)) +
                         "\":" + std::to_string(failures_[static_cast<std::size_t>(k)]);
            }
        }
        std::printf(
            "{\"streams\":%lld,\"ok\":%lld,\"errors\":%lld,\"error_kinds\":{%s},\"stalls\":%lld,"
            "\"deltas\":%lld,\"ttft_p50\":%.3f,\"ttft_p99\":%.3f,\"gap_p50\":%.3f,"
            "\"gap_p99\":%.3f,\"max_gap\":%.3f,\"concurrency\":%d,\"elapsed_s\":%.3f,"
            "\"deltas_per_s\":%.0f,\"cpu_s\":%.3f}\n",
            static_cast<long long>(done_),
            static_cast<long long>(failures_[0]),
            static_cast<long long>(errors),
            kinds.c_str(),
            static_cast<long long>(stalls_),
            static_cast<long long>(deltas_),
            percentile_ms(ttfts_, 0.50),
            percentile_ms(ttfts_, 0.99),
            percentile_ms(gaps_, 0.50),
            percentile_ms(gaps_, 0.99),
            static_cast<double>(max_gap_ns_) / 1e6,
            opts_.concurrency,
            elapsed,
            static_cast<double>(deltas_) / elapsed,
            cpu
        );
        std::fflush(stdout);
        if (!opts_.ttfts_file.empty()) {
            std::ofstream out(opts_.ttfts_file);
            for (const auto ns : ttfts_) {
                out << static_cast<double>(ns) / 1e6 << '\n';
            }
        }
        if (!first_error_.empty()) {
            std::cerr << "first error: " << first_error_ << '\n';
        }
    }

private:
    // Nearest-rank percentile in milliseconds; -1 when there are no samples.
    static double percentile_ms(std::vector<std::int64_t>& v, double p) {
        if (v.empty()) {
            return -1;
        }
        auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
        rank = std::clamp<std::size_t>(rank, 1, v.size()) - 1;
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank), v.end());
        return static_cast<double>(v[rank]) / 1e6;
    }

    void fail(Failure kind, const std::string& detail) {
        ++failures_[static_cast<std::size_t>(kind)];
        if (first_error_.empty()) {
            first_error_ = std::string(failure_name(kind)) + ": " + detail;
        }
    }

    void arm(Connection& c) const {
        c.deadline = Clock::now() + std::chrono::seconds(opts_.timeout_s);
        c.busy = true;
        c.timed_out = false;
    }

    awaitable<void> run_connection(int index) {
        Connection& c = *connections_[static_cast<std::size_t>(index)];
        asio::steady_timer timer(io_);
        if (opts_.ramp_ms > 0 && opts_.concurrency > 1) {
            timer.expires_at(
                started_ +
                std::chrono::microseconds(
                    static_cast<std::int64_t>(opts_.ramp_ms) * 1000 * index / opts_.concurrency
                )
            );
            co_await timer.async_wait(kTok);
        }
        while (claimed_ < opts_.streams) {
            ++claimed_;
            if (!c.socket.is_open()) {
                arm(c);
                auto [ec, ep] = co_await asio::async_connect(c.socket, endpoints_, kTok);
                c.busy = false;
                if (ec) {
                    boost::system::error_code ignored;
                    c.socket.close(ignored);
                    fail(Failure::connect, ec.message());
                    ++done_;
                    timer.expires_after(std::chrono::milliseconds(50));
                    co_await timer.async_wait(kTok);
                    continue;
                }
                boost::system::error_code ignored;
                c.socket.set_option(tcp::no_delay(true), ignored);
            }
            // Connection i always uses target i (mod their number): with at least as many targets
            // as connections, no two open streams share a conversation.
            const Failure f = co_await run_stream(
                c, requests_[static_cast<std::size_t>(index) % requests_.size()]
            );
            if (f == Failure::none) {
                ++failures_[0];
            }
            ++done_;
            if (f != Failure::none) {
                boost::system::error_code ignored;
                c.socket.close(ignored);
            }
        }
        if (--running_ == 0) {
            finished_ = Clock::now();
        }
    }

    // Sends one request and reads its stream to the end. Leaves the socket open only when the
    // connection can carry the next request.
    awaitable<Failure> run_stream(Connection& c, const std::string& request) {
        arm(c);
        const auto sent = Clock::now();
        if (auto [ec, n] = co_await asio::async_write(c.socket, asio::buffer(request), kTok); ec) {
            c.busy = false;
            co_return finish_failed(c, Failure::write, ec);
        }
        ResponseDecoder response;
        SseScanner scan(sent, std::chrono::milliseconds(opts_.stall_ms), gaps_);
        std::string error_body;
        boost::system::error_code read_error;
        while (!response.done() && !response.malformed()) {
            auto [ec, n] = co_await c.socket.async_read_some(asio::buffer(c.in), kTok);
            if (ec == asio::error::eof) {
                response.on_eof();
                break;
            }
            if (ec) {
                read_error = ec;
                break;
            }
            const auto now = Clock::now();
            response.feed(std::string_view(c.in.data(), n), [&](std::string_view body) {
                if (response.status() == 200) {
                    scan.feed(body, now);
                } else if (error_body.size() < 300) {
                    error_body.append(body.substr(0, 300));
                }
            });
            c.deadline = now + std::chrono::seconds(opts_.timeout_s);
        }
        c.busy = false;
        if (scan.deltas() > 0) {
            ttfts_.push_back(scan.ttft_ns());
        }
        deltas_ += scan.deltas();
        max_gap_ns_ = std::max(max_gap_ns_, scan.max_gap_ns());
        if (scan.stalled()) {
            ++stalls_;
        }
        Failure f = Failure::none;
        std::string detail;
        if (read_error) {
            co_return finish_failed(c, Failure::read, read_error);
        } else if (response.malformed()) {
            f = Failure::read;
            detail = "malformed HTTP response";
        } else if (!response.done()) {
            f = Failure::truncated;
            detail = "connection closed before the end of the response";
        } else if (response.status() != 200) {
            f = Failure::status;
            detail = std::to_string(response.status()) + " " + error_body;
        } else if (scan.failed()) {
            f = Failure::event;
            detail = "error event in the stream";
        } else if (!scan.finished()) {
            f = Failure::truncated;
            detail = "stream ended without [DONE] / message_stop";
        } else if (opts_.expect_deltas > 0 && scan.deltas() < opts_.expect_deltas) {
            f = Failure::short_stream;
            detail = std::to_string(scan.deltas()) + " deltas";
        }
        if (f != Failure::none) {
            fail(f, detail);
        } else if (!response.keep_alive()) {
            boost::system::error_code ignored;
            c.socket.close(ignored);
        }
        co_return f;
    }

    Failure finish_failed(Connection& c, Failure kind, const boost::system::error_code& ec) {
        if (c.timed_out) {
            kind = Failure::timeout;
        }
        fail(kind, ec.message());
        return kind;
    }

    // Closes connections that have been busy past their deadline (connect, or silence while
    // reading); the pending operation then fails with operation_aborted.
    awaitable<void> watchdog() {
        asio::steady_timer timer(io_);
        while (running_ > 0) {
            timer.expires_after(std::chrono::milliseconds(100));
            co_await timer.async_wait(kTok);
            const auto now = Clock::now();
            for (auto& c : connections_) {
                if (c->busy && now > c->deadline && c->socket.is_open()) {
                    c->timed_out = true;
                    boost::system::error_code ignored;
                    c->socket.close(ignored);
                }
            }
        }
    }

    asio::io_context& io_;
    LoadOptions opts_;
    std::vector<std::string> requests_;
    tcp::resolver::results_type endpoints_;
    std::vector<std::unique_ptr<Connection>> connections_;
    Clock::time_point started_{};
    Clock::time_point finished_{};
    int running_ = 0;
    int claimed_ = 0;
    std::int64_t done_ = 0;
    std::array<std::int64_t, kFailureKinds> failures_{};  // [0]: streams that succeeded
    std::int64_t stalls_ = 0;
    std::int64_t deltas_ = 0;
    std::int64_t max_gap_ns_ = 0;
    std::vector<std::int64_t> ttfts_;
    std::vector<std::int64_t> gaps_;
    std::string first_error_;
};

std::vector<std::string> build_requests(const LoadOptions& opts, const Url& url) {
    std::string body = opts.body;
    if (!opts.body_file.empty()) {
        body = read_file(opts.body_file);
    }
    if (body.empty()) {
        body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],)"
               R"("stream":true,"stream_options":{"include_usage":true}})";
    }
    std::vector<std::string> targets;
    if (!opts.targets_file.empty()) {
        std::istringstream lines(read_file(opts.targets_file));
        for (std::string line; std::getline(lines, line);) {
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (!line.empty()) {
                targets.push_back(line);
            }
        }
        if (targets.empty()) {
            throw std::runtime_error(opts.targets_file + " lists no paths");
        }
    } else {
        targets.push_back(url.target);
    }
    std::string fixed = "Host: " + url.host + ":" + url.port +
                        "\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\n";
    for (const auto& h : opts.headers) {
        fixed += h + "\r\n";
    }
    fixed += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::vector<std::string> requests;
    requests.reserve(targets.size());
    for (const auto& t : targets) {
        std::string request = "POST ";
        request.append(t).append(" HTTP/1.1\r\n").append(fixed);
        requests.push_back(std::move(request));
    }
    return requests;
}

}  // namespace

int run_load(const LoadOptions& opts) {
    const auto url = parse_url(opts.url);
    if (!url) {
        std::cerr << "load: --url must be http://host:port/path\n";
        return 2;
    }
    asio::io_context io(1);
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(url->host, url->port);
    Loader loader(io, opts, build_requests(opts, *url), std::move(endpoints));
    loader.start();
    io.run();
    loader.print_summary();
    return 0;
}

}  // namespace parley::bench
