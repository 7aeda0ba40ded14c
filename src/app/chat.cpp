#include "app/chat.hpp"

#include <csignal>
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "app/llm_setup.hpp"

namespace parley::app {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

bj::object event_json(const llm::StreamEvent& e) {
    using Kind = llm::StreamEvent::Kind;
    switch (e.kind) {
        case Kind::thinking_delta:
            return {{"type", "thinking_delta"}, {"text", e.text}};
        case Kind::text_delta:
            return {{"type", "text_delta"}, {"text", e.text}};
        case Kind::tool_call:
            return {
                {"type", "tool_call"},
                {"id", e.tool_call.id},
                {"name", e.tool_call.name},
                {"arguments", e.tool_call.arguments}};
        case Kind::usage:
            return {
                {"type", "usage"},
                {"input_tokens", e.usage.input_tokens},
                {"output_tokens", e.usage.output_tokens}};
        case Kind::stop:
            return {{"type", "stop"}, {"finish_reason", llm::finish_reason_name(e.finish)}};
        case Kind::error:
            return {
                {"type", "error"},
                {"error", llm::upstream_error_name(e.error)},
                {"message", e.text},
                {"status", e.http_status},
            };
    }
    return {};
}

void print(const bj::object& o) {
    std::cout << bj::serialize(o) << std::endl;  // flushed per event: the stream is observable
}

asio::awaitable<void> wait_signal(asio::signal_set& signals) {
    co_await signals.async_wait(asio::use_awaitable);
}

asio::awaitable<int> converse(
    llm::ModelRouter& router, const llm::ModelInfo& model, llm::ChatRequest request
) {
    const auto sink = [](const llm::StreamEvent& e) {
        print(event_json(e));
    };
    const auto result = co_await router.stream(model, request, sink);
    print(
        {{"type", "result"},
         {"provider", result.provider},
         {"model", result.model},
         {"fallback_used", result.fallback_used},
         {"attempts", result.attempts},
         {"ok", result.ok}}
    );
    co_return result.ok ? 0 : 1;
}

}  // namespace

int run_chat(const Config& config, const ChatCommand& command) {
    // Declared first so that it outlives the HTTP client's pooled connections, which belong to it.
    asio::io_context ctx(1);
    auto layer = make_llm_layer(config);
    if (!layer) {
        std::cerr << "parley: " << layer.error().message << "\n";
        return 2;
    }
    auto model = layer->router->resolve(command.model);
    if (!model) {
        std::cerr << "parley: " << model.error().message << "\n";
        return 2;
    }
    llm::ChatRequest request;
    request.system = command.system;
    request.messages.push_back({"user", command.prompt});
    request.max_tokens = command.max_tokens;
    request.thinking = command.thinking;

    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    int code = 1;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            using namespace asio::experimental::
                awaitable_operators;  // NOLINT(google-build-using-namespace)
            auto outcome =
                co_await (converse(*layer->router, **model, request) || wait_signal(signals));
            if (outcome.index() == 0) {
                code = std::get<0>(outcome);
            } else {
                print({{"type", "cancelled"}});
                code = 130;
            }
        },
        asio::detached
    );
    ctx.run();
    return code;
}

}  // namespace parley::app
