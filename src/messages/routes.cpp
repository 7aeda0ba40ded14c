#include "messages/routes.hpp"

#include "common/json.hpp"
#include "conversations/json.hpp"
#include "http/body.hpp"

namespace parley::messages {

namespace asio = boost::asio;

asio::awaitable<http::Response> send(http::Request& req, MessageService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    // Unknown fields are ignored, as the seed system did: its clients may send more.
    NewMessage message;
    message.content = value_or_throw(json::required_string(body, "content"));
    message.thinking = value_or_throw(json::optional_bool(body, "thinking"));
    message.model = value_or_throw(json::optional_string(body, "model"));
    message.temperature = value_or_throw(json::optional_number(body, "temperature"));
    message.max_tokens = value_or_throw(json::optional_int(body, "max_tokens"));
    const auto reply =
        value_or_throw(co_await svc.send(req.principal(), req.path_param("id"), std::move(message))
        );
    co_return http::success(conversations::message_json(reply));
}

}  // namespace parley::messages
