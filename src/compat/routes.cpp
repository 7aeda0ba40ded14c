#include "compat/routes.hpp"

#include "compat/anthropic.hpp"
#include "compat/openai.hpp"
#include "http/body.hpp"
#include "messages/routes.hpp"
#include "messages/stream_format.hpp"

namespace parley::compat {

namespace asio = boost::asio;
namespace bj = boost::json;

asio::awaitable<http::Response> chat_completions(http::Request& req, CompatService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    auto d = value_or_throw(decode_chat_request(body, svc.router()));
    svc.stamp(d.call, "");
    const std::string model = d.call.model->id;
    if (d.stream) {
        auto turn = value_or_throw(
            co_await svc.start(req.principal(), usage::CallKind::compat_chat, std::move(d.call))
        );
        co_return co_await messages::stream_turn(
            req, std::move(turn), messages::make_openai_encoder(d.include_usage)
        );
    }
    const std::string id = d.call.id;
    const auto created = d.call.created_unix;
    const auto answer = value_or_throw(
        co_await svc.complete(req.principal(), usage::CallKind::compat_chat, std::move(d.call))
    );
    co_return http::json_response(200, chat_completion_json(id, created, model, answer));
}

asio::awaitable<http::Response> create_message(http::Request& req, CompatService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    auto d = value_or_throw(decode_messages_request(body, svc.router(), AnthropicBody::message));
    svc.stamp(d.call, "msg_");
    const std::string model = d.call.model->id;
    if (d.stream) {
        auto turn = value_or_throw(
            co_await svc.start(req.principal(), usage::CallKind::compat_messages, std::move(d.call))
        );
        co_return co_await messages::stream_turn(
            req, std::move(turn), messages::make_anthropic_encoder()
        );
    }
    const std::string id = d.call.id;
    const auto answer = value_or_throw(
        co_await svc.complete(req.principal(), usage::CallKind::compat_messages, std::move(d.call))
    );
    co_return http::json_response(200, message_json(id, model, answer));
}

asio::awaitable<http::Response> count_tokens(http::Request& req, CompatService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    const auto d =
        value_or_throw(decode_messages_request(body, svc.router(), AnthropicBody::count_tokens));
    co_return http::json_response(
        200, bj::object{{"input_tokens", messages::estimate_prompt_tokens(d.call.request)}}
    );
}

asio::awaitable<http::Response> list_models(http::Request& /*req*/, CompatService& svc) {
    co_return http::json_response(200, model_list_json(svc.router()));
}

}  // namespace parley::compat
