#include "http/websocket_session.hpp"

#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "common/log.hpp"

namespace parley::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxQueuedMessages = 64;

class Connection final : public WebSocket {
public:
    Connection(beast::tcp_stream stream, async::Event& shutdown)
        : ws_(std::move(stream)),
          shutdown_(shutdown),
          inbox_ready_(ws_.get_executor()),
          closed_(ws_.get_executor()) {}

    asio::awaitable<std::optional<std::string>> receive() override {
        using namespace asio::experimental::awaitable_operators;  // NOLINT
        while (inbox_.empty() && reason_ == CloseReason::none) {
            co_await (inbox_ready_.wait() || closed_.wait());
        }
        if (inbox_.empty() || reason_ != CloseReason::none) {
            co_return std::nullopt;
        }
        std::string next = std::move(inbox_.front());
        inbox_.pop_front();
        co_return next;
    }

    asio::awaitable<bool> send(std::string text) override {
        if (reason_ == CloseReason::client_left || broken_) {
            co_return false;
        }
        ws_.text(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(text), kTuple);
        if (ec) {
            broken_ = true;
            mark_closed(CloseReason::client_left);
        }
        co_return !ec;
    }

    asio::awaitable<CloseReason> closed() override {
        co_await closed_.wait();
        co_return reason_;
    }

    CloseReason close_reason() const noexcept override { return reason_; }

    void on_close(std::function<void(CloseReason)> sink) override { on_close_ = std::move(sink); }

    asio::awaitable<void> run(
        beast::http::request<beast::http::string_body> upgrade,
        const Response& res,
        const Limits& limits
    ) {
        using namespace asio::experimental::awaitable_operators;  // NOLINT
        ws::stream_base::timeout timeout{};
        timeout.handshake_timeout = limits.header_timeout;
        timeout.idle_timeout = std::chrono::seconds(60);  // a ping after 30 s of silence
        timeout.keep_alive_pings = true;
        ws_.set_option(timeout);
        ws_.read_message_max(limits.max_ws_message_bytes);  // a larger one: close 1009
        ws_.set_option(ws::stream_base::decorator([&res](ws::response_type& r) {
            for (const auto& [name, value] : res.headers) {
                r.set(name, value);
            }
        }));
        auto [ec] = co_await ws_.async_accept(upgrade, kTuple);
        if (ec) {
            co_return;
        }
        co_await (serve(res) && read_loop() && watch_shutdown());
    }

private:
    void mark_closed(CloseReason reason) {
        if (reason_ == CloseReason::none) {
            reason_ = reason;
            closed_.set();
            if (on_close_) {
                on_close_(reason);
            }
        }
    }

    asio::awaitable<void> serve(const Response& res) {
        try {
            co_await res.websocket(*this);
        } catch (const std::exception& e) {
            log::error("websocket handler failed", {{"what", e.what()}});
        }
        mark_closed(CloseReason::client_left);  // ends the shutdown watch
        if (!broken_) {
            const auto code =
                shutdown_.is_set() ? ws::close_code::going_away : ws::close_code::normal;
            co_await ws_.async_close(code, kTuple);  // the read loop ends with the handshake
        }
    }

    asio::awaitable<void> read_loop() {
        for (;;) {
            beast::flat_buffer buffer;
            auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
            if (ec) {
                broken_ = broken_ || ec != ws::error::closed;
                mark_closed(CloseReason::client_left);
                co_return;
            }
            if (!ws_.got_text()) {
                continue;  // binary frames are not part of the protocol
            }
            if (inbox_.size() >= kMaxQueuedMessages) {
                continue;  // a client flooding the connection loses messages, not memory
            }
            inbox_.push_back(beast::buffers_to_string(buffer.data()));
            inbox_ready_.notify();
        }
    }

    asio::awaitable<void> watch_shutdown() {
        using namespace asio::experimental::awaitable_operators;  // NOLINT
        const auto first = co_await (shutdown_.wait() || closed_.wait());
        if (first.index() == 0) {
            mark_closed(CloseReason::shutdown);
        }
    }

    ws::stream<beast::tcp_stream> ws_;
    async::Event& shutdown_;
    std::deque<std::string> inbox_;
    async::Notifier inbox_ready_;
    async::Event closed_;
    CloseReason reason_ = CloseReason::none;
    bool broken_ = false;
    std::function<void(CloseReason)> on_close_;
};

}  // namespace

asio::awaitable<void> run_websocket(
    beast::tcp_stream stream,
    beast::http::request<beast::http::string_body> upgrade,
    const Response& res,
    const Limits& limits,
    async::Event& shutdown
) {
    try {
        stream.expires_never();
        Connection connection(std::move(stream), shutdown);
        co_await connection.run(std::move(upgrade), res, limits);
    } catch (const std::exception& e) {
        log::warn("websocket failed", {{"what", e.what()}});
    }
}

}  // namespace parley::http
