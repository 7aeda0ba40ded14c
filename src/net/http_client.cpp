#include "net/http_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include "common/release.hpp"
#include "common/strings.hpp"
#include "net/http_client_impl.hpp"

namespace parley::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using client::BodyReader;
using client::Connection;
using client::ReadBody;
using client::ReadDeadline;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Target {
    bool tls = false;
    std::string host;
    std::string port;
    std::string path;  // path and query
    std::string key;   // scheme://host:port, the pool key
};

bool is_token(std::string_view s) noexcept {
    constexpr std::string_view kMarks = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [kMarks](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               kMarks.find(c) != std::string_view::npos;
    });
}

bool is_field_value(std::string_view s) noexcept {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The request as it goes on the wire, in one string: the request line, Host, User-Agent, the
// caller's headers (but its framing ones), Content-Length when there is a body or the method
// takes one (as Beast's prepare_payload() did), then the body. A caller's header replaces ours of
// the same name, and a later one an earlier one, as Beast's set() did. Written here, not by Beast's
// serializer (issue 14: ~20k instructions a stream's request, its buffer sequence walked piece by
// piece). An error when a method or a header would break the framing (not a token, a line break or
// NUL in a value).
Result<std::string> request_bytes(const ClientRequest& req, const Target& t) {
    if (!is_token(req.method)) {
        return make_error(ErrorType::upstream, "invalid upstream request", "method " + req.method);
    }
    const auto later = [&req](std::size_t i, std::string_view name) {
        for (std::size_t j = i; j < req.headers.size(); ++j) {
            if (iequals(req.headers[j].first, name)) {
                return true;
            }
        }
        return false;
    };
    std::string out;
    out.reserve(256 + t.path.size() + req.body.size());
    out.append(req.method).append(" ").append(t.path).append(" HTTP/1.1\r\n");
    if (!later(0, "Host")) {
        // Host carries the port unless it is the scheme's default (RFC 9110 §7.2).
        const bool default_port = t.port == (t.tls ? "443" : "80");
        const bool v6 = t.host.find(':') != std::string::npos;
        out.append("Host: ").append(v6 ? "[" : "").append(t.host).append(v6 ? "]" : "");
        if (!default_port) {
            out.append(":").append(t.port);
        }
        out.append("\r\n");
    }
    if (!later(0, "User-Agent")) {
        out.append("User-Agent: parley/" PARLEY_VERSION "\r\n");
    }
    for (std::size_t i = 0; i < req.headers.size(); ++i) {
        const auto& [name, value] = req.headers[i];
        if (!is_token(name) || !is_field_value(value)) {
            return make_error(ErrorType::upstream, "invalid upstream request", "header " + name);
        }
        if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
            iequals(name, "Connection") || later(i + 1, name)) {
            // The framing and the connection's reuse are the client's: the body goes with its
            // length, the connection is kept alive (as Beast's prepare_payload() and
            // keep_alive(true) made them). A later header of a name replaces this one.
            continue;
        }
        out.append(name).append(": ").append(value).append("\r\n");
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" ||
        req.method == "OPTIONS") {
        out.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
    }
    out.append("\r\n").append(req.body);
    return out;
}

Result<Target> parse_target(std::string_view url) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return make_error(ErrorType::upstream, "invalid upstream URL", std::string(url));
    }
    Target t;
    const auto scheme = parsed->scheme();
    if (scheme == "https") {
        t.tls = true;
    } else if (scheme != "http") {
        return make_error(
            ErrorType::upstream, "upstream URL must be http or https", std::string(url)
        );
    }
    t.host = std::string(parsed->host_address());
    if (t.host.empty()) {
        return make_error(ErrorType::upstream, "upstream URL has no host", std::string(url));
    }
    t.port = parsed->has_port() ? std::string(parsed->port()) : (t.tls ? "443" : "80");
    t.path = std::string(parsed->encoded_path());
    if (t.path.empty()) {
        t.path = "/";
    }
    if (parsed->has_query()) {
        t.path += "?" + std::string(parsed->encoded_query());
    }
    t.key = std::string(scheme) + "://" + t.host + ":" + t.port;
    return t;
}

Error failure(std::string_view what, const boost::system::error_code& ec) {
    return make_error(
        ErrorType::upstream, "upstream request failed", std::string(what) + ": " + ec.message()
    );
}

// What one send() works with, on the heap: its coroutines hold a pointer to it, and their results
// are written here (issue 14: g++ 12 gives each local and each awaited result of a coroutine a
// slot of its frame for the frame's whole life, here a stream's whole answer, and a
// Result<ClientResponse> is ~130 bytes).
struct Call {
    Target target;
    std::string request;  // the bytes, made once: a retry on a new connection sends the same
    BodyHandler on_body;
    ClientResponse head;
    Error error;  // what failed, when a step returns false or null
};

asio::awaitable<Result<ClientResponse>> refused(Error error) {
    co_return error;
}

}  // namespace

std::string_view ClientResponse::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return {};
}

struct HttpClient::Impl {
    explicit Impl(ClientOptions o) : options(std::move(o)), tls_context(ssl::context::tls_client) {
        tls_context.set_default_verify_paths();
        if (!options.ca_file.empty()) {
            tls_context.load_verify_file(options.ca_file);
        }
        tls_context.set_verify_mode(options.verify_tls ? ssl::verify_peer : ssl::verify_none);
    }

    std::unique_ptr<Connection> take_idle(const std::string& key, const asio::any_io_executor& ex) {
        const std::lock_guard lock(mutex);
        for (auto it = idle.begin(); it != idle.end(); ++it) {
            if ((*it)->key == key && (*it)->executor == ex) {
                auto c = std::move(*it);
                idle.erase(it);
                return c;
            }
        }
        return nullptr;
    }

    void put_idle(std::unique_ptr<Connection> c) {
        const std::lock_guard lock(mutex);
        std::size_t same = 0;
        for (const auto& i : idle) {
            same += i->key == c->key ? 1 : 0;
        }
        if (same < options.max_idle_per_host) {
            idle.push_back(std::move(c));
        }
    }

    // A new connection to `call.target`; null when it failed (call.error says why).
    asio::awaitable<std::unique_ptr<Connection>> connect(Call& call) {
        const Target& t = call.target;
        auto ex = co_await asio::this_coro::executor;
        auto c = std::make_unique<Connection>();
        c->key = t.key;
        c->executor = ex;
        tcp::resolver resolver(ex);
        // An address needs no lookup: it is read where it stands (getaddrinfo with
        // AI_NUMERICHOST), not sent to Asio's one resolver thread, where every new connection
        // of a burst would wait its turn. A name is looked up there, as before.
        boost::system::error_code rec;
        tcp::resolver::results_type endpoints;
        boost::system::error_code not_ip;
        asio::ip::make_address(t.host, not_ip);
        const bool ip_literal = !not_ip;
        if (ip_literal) {
            endpoints = resolver.resolve(
                t.host, t.port, tcp::resolver::numeric_host | tcp::resolver::numeric_service, rec
            );
        } else {
            std::tie(rec, endpoints) = co_await resolver.async_resolve(t.host, t.port, kTuple);
        }
        if (rec) {
            call.error = failure("resolve " + t.host, rec);
            co_return nullptr;
        }
        if (t.tls) {
            c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, tls_context);
        } else {
            c->plain = std::make_unique<beast::tcp_stream>(ex);
        }
        c->lowest().expires_after(options.connect_timeout);
        auto [cec, endpoint] = co_await c->lowest().async_connect(endpoints, kTuple);
        if (cec) {
            call.error = failure("connect " + t.key, cec);
            co_return nullptr;
        }
        c->lowest().socket().set_option(tcp::no_delay(true));
        if (t.tls) {
            // SNI for names only (RFC 6066 forbids IP literals); verify the name or IP either way.
            // (SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.)
            if (!ip_literal && SSL_ctrl(
                                   c->tls->native_handle(),
                                   SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                   TLSEXT_NAMETYPE_host_name,
                                   const_cast<char*>(t.host.c_str())
                               ) != 1) {
                call.error = make_error(
                    ErrorType::upstream, "upstream request failed", "TLS SNI setup failed"
                );
                co_return nullptr;
            }
            if (options.verify_tls) {
                c->tls->set_verify_callback(ssl::host_name_verification(t.host));
            }
            auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, kTuple);
            if (hec) {
                call.error = failure("TLS handshake with " + t.key, hec);
                co_return nullptr;
            }
        }
        c->lowest().expires_never();
        co_return c;
    }

    // One request/response on an open connection: true with the head in call.head, or false
    // with call.error. `reusable` says whether it may be pooled after; `nothing_received`
    // whether the failure happened before any response byte (a stale keep-alive connection, safe
    // to retry).
    template <class Stream>
    asio::awaitable<bool> exchange(
        Stream& stream, Connection& c, Call& call, bool& reusable, bool& nothing_received
    ) {
        const Target& t = call.target;
        std::string& request = call.request;
        reusable = false;
        nothing_received = true;
        c.lowest().expires_after(options.read_timeout);
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), kTuple);
        if (wec) {
            call.error = failure("write to " + t.key, wec);
            co_return false;
        }

        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(options.max_response_bytes);
        auto [hec, hn] = co_await bhttp::async_read_header(stream, c.buffer, parser, kTuple);
        if (hec) {
            call.error = failure("read from " + t.key, hec);
            co_return false;
        }
        nothing_received = false;
        // A response began: the request is not sent again (see send), and goes now, not when the
        // response ends (issue 14: a stream's request would otherwise be held for the answer's
        // whole length).
        release(request);
        ClientResponse& head = call.head;
        head.status = static_cast<int>(parser.get().result_int());
        head.headers.reserve(
            static_cast<std::size_t>(std::distance(parser.get().begin(), parser.get().end()))
        );
        for (const auto& field : parser.get()) {
            head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        // The fields are in `head` now; the parser's own copy would live as long as the body (a
        // stream's whole answer; a provider sends a dozen or more). The chunked body is parsed
        // without them; trailers, if any, are added afresh.
        const bool keep_alive = parser.get().keep_alive();
        parser.get().clear();
        // The body is parsed as far as each read allows in one put (issue 14: a streamed event's
        // chunk took two, its size line and then its bytes).
        parser.eager(true);

        c.lowest().expires_never();
        if (!c.deadline) {
            c.deadline = std::make_unique<ReadDeadline>(c.executor, c.lowest().socket());
        }
        const asio::cancellation_state cancellation = co_await asio::this_coro::cancellation_state;
        const bool throws = co_await asio::this_coro::throw_if_cancelled();
        BodyReader<Stream> body(
            stream,
            c,
            parser,
            call.on_body,
            head,
            keep_alive,
            options.read_timeout,
            cancellation,
            throws
        );
        if (body.advance()) {
            const ReadBody<Stream> read{&body};
            co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
                read, asio::use_awaitable
            );
        }
        c.deadline->stop();
        if (body.thrown()) {
            std::rethrow_exception(body.thrown());  // on_body's, from a read's completion
        }
        if (body.error()) {
            call.error = failure("read from " + t.key, body.error());
            co_return false;
        }
        reusable = body.reusable();
        co_return true;
    }

    // send() once its request is made: connects (or takes a pooled connection) and exchanges.
    asio::awaitable<Result<ClientResponse>> run(std::unique_ptr<Call> call);

    ClientOptions options;
    ssl::context tls_context;
    mutable std::mutex mutex;
    std::vector<std::unique_ptr<Connection>> idle;
};

HttpClient::HttpClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

std::size_t HttpClient::idle_connections() const {
    const std::lock_guard lock(impl_->mutex);
    return impl_->idle.size();
}

void HttpClient::close_idle() {
    std::vector<std::unique_ptr<Connection>> closing;
    {
        const std::lock_guard lock(impl_->mutex);
        closing.swap(impl_->idle);
    }
}

// Not a coroutine: the request is checked and made into bytes here, and only the Call goes on
// (see Call).
asio::awaitable<Result<ClientResponse>> HttpClient::send(ClientRequest req, BodyHandler on_body) {
    auto target = parse_target(req.url);
    if (!target) {
        return refused(std::move(target.error()));
    }
    // Made (and checked) once, before any connection is taken: a refused request costs none.
    auto request = request_bytes(req, *target);
    if (!request) {
        return refused(std::move(request.error()));
    }
    auto call = std::make_unique<Call>();
    call->target = std::move(*target);
    call->request = std::move(*request);
    call->on_body = std::move(on_body);
    return impl_->run(std::move(call));
}

asio::awaitable<Result<ClientResponse>> HttpClient::Impl::run(std::unique_ptr<Call> call) {
    const auto ex = co_await asio::this_coro::executor;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto connection = attempt == 0 ? take_idle(call->target.key, ex) : nullptr;
        const bool reused = connection != nullptr;
        if (!connection) {
            connection = co_await connect(*call);
            if (!connection) {
                co_return std::move(call->error);
            }
        }
        bool reusable = false;
        bool nothing_received = true;
        // (No co_await inside ?: — g++ 12 miscompiles it; see STYLE.md.)
        bool ok = false;
        if (connection->tls) {
            ok =
                co_await exchange(*connection->tls, *connection, *call, reusable, nothing_received);
        } else {
            ok = co_await exchange(
                *connection->plain, *connection, *call, reusable, nothing_received
            );
        }
        if (!ok && reused && nothing_received) {
            continue;  // the pooled connection had gone stale: once more on a new one
        }
        if (!ok) {
            co_return std::move(call->error);
        }
        if (reusable) {
            put_idle(std::move(connection));
        }
        co_return std::move(call->head);
    }
    co_return make_error(ErrorType::upstream, "upstream request failed", "no usable connection");
}

}  // namespace parley::net
