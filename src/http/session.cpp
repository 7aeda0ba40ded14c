#include "http/session.hpp"

#include "http/session_impl.hpp"

namespace parley::http {

asio::awaitable<void> run_session(
    asio::ip::tcp::socket socket, SessionShared& shared, ConnectionHub& hub
) {
    co_await serve_connection(beast::tcp_stream(std::move(socket)), shared, hub);
}

}  // namespace parley::http
