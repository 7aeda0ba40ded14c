// ModelRouter with scripted in-process providers (the wire formats are tested against the fake
// upstream elsewhere): fallback, retries and Retry-After, timeouts, errors mid-answer, model
// resolution, cancellation. Plus the mock provider.
#include "llm/router.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace parley::llm {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

asio::awaitable<void> sleep_ms(int ms) {
    asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}

// One scripted answer: tokens (with a delay before each), tool calls, then a stop; or an error,
// possibly after some tokens and calls; or silence.
struct Script {
    std::vector<std::string> tokens;
    std::vector<ToolCall> calls;  // after the tokens, each after the delay too
    FinishReason finish = FinishReason::stop;
    int delay_ms = 0;
    std::optional<StreamEvent> error;  // sent after the tokens instead of stop
    bool hang = false;                 // silence before the first token
    bool hang_after = false;           // silence after the tokens
    // Cancelled, the provider reports its broken connection before it ends (as the HTTP
    // providers do: the client's read fails when the request is cancelled).
    bool error_when_cancelled = false;
};

class ScriptedProvider final : public Provider {
public:
    ScriptedProvider(std::string name, std::vector<Script> scripts)
        : name_(std::move(name)),
          scripts_(std::move(scripts)) {}

    std::string_view name() const noexcept override { return name_; }

    asio::awaitable<void> stream(const ChatRequest& request, EventSink sink) override {
        calls.push_back({request.model, Clock::now()});
        last_thinking = request.thinking;
        const Script s = scripts_[std::min(calls.size() - 1, scripts_.size() - 1)];
        bool was_cancelled = false;
        try {
            if (s.hang) {
                co_await sleep_ms(60'000);
            }
            for (const auto& t : s.tokens) {
                co_await sleep_ms(s.delay_ms);
                sink(StreamEvent::text_delta(t));
            }
            for (const auto& c : s.calls) {
                co_await sleep_ms(s.delay_ms);
                sink(StreamEvent::tool_call_event(c));
            }
            if (s.hang_after) {
                co_await sleep_ms(60'000);
            }
        } catch (const boost::system::system_error&) {
            cancelled = true;
            was_cancelled = true;
        }
        if (was_cancelled) {
            if (s.error_when_cancelled) {
                // As an HTTP provider's failed read: a turn of the event loop later (after the
                // router's watchdog has seen its own cancellation), then the error.
                co_await asio::this_coro::reset_cancellation_state();
                const auto ex = co_await asio::this_coro::executor;
                co_await asio::post(ex, asio::use_awaitable);
                sink(StreamEvent::failure(UpstreamError::connection, "the request was cancelled"));
            }
            throw boost::system::system_error(asio::error::operation_aborted);
        }
        if (s.error) {
            sink(StreamEvent(*s.error));
            co_return;
        }
        sink(StreamEvent::usage_event({7, static_cast<std::int64_t>(s.tokens.size())}));
        sink(StreamEvent::stop(s.finish));
    }

    asio::awaitable<std::vector<StreamEvent>> complete(ChatRequest) override {
        co_return std::vector<StreamEvent>{};
    }

    struct Call {
        std::string model;
        Clock::time_point at;
    };

    std::vector<Call> calls;
    bool cancelled = false;
    bool last_thinking = false;

private:
    std::string name_;
    std::vector<Script> scripts_;
};

Script answer(std::vector<std::string> tokens, int delay_ms = 0) {
    Script s;
    s.tokens = std::move(tokens);
    s.delay_ms = delay_ms;
    return s;
}

Script fails(StreamEvent error, std::vector<std::string> tokens = {}) {
    Script s;
    s.tokens = std::move(tokens);
    s.error = std::move(error);
    return s;
}

Script hangs() {
    Script s;
    s.hang = true;
    return s;
}

Catalog test_catalog() {
    auto c = Catalog::parse(R"({"models":[
        {"id":"primary-model","provider":"alpha","name":"P","context_window":1000,"max_output":100,"input_per_mtok":1,"output_per_mtok":2},
        {"id":"fallback-model","provider":"beta","name":"F","context_window":1000,"max_output":100,"input_per_mtok":1,"output_per_mtok":2},
        {"id":"unconfigured-model","provider":"gamma","name":"U","context_window":1000,"max_output":100,"input_per_mtok":1,"output_per_mtok":2}
    ]})");
    EXPECT_TRUE(c.has_value());
    return std::move(*c);
}

struct Fixture {
    explicit Fixture(
        std::vector<Script> primary,
        std::vector<Script> fallback = {answer({"fallback answer"})},
        milliseconds first_token = milliseconds(300),
        milliseconds between_tokens = milliseconds(300),
        int max_retries = 2,
        std::string fallback_model = "fallback-model"
    ) {
        auto a = std::make_unique<ScriptedProvider>("alpha", std::move(primary));
        auto b = std::make_unique<ScriptedProvider>("beta", std::move(fallback));
        alpha = a.get();
        beta = b.get();
        std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers;
        providers.emplace("alpha", std::move(a));
        providers.emplace("beta", std::move(b));
        RouterOptions o;
        o.default_model = "primary-model";
        o.fallback_model = std::move(fallback_model);
        o.first_token_timeout = first_token;
        o.between_tokens_timeout = between_tokens;
        o.total_timeout = milliseconds(5000);
        o.max_retries = max_retries;
        o.backoff_base = milliseconds(10);
        o.backoff_max = milliseconds(40);
        o.max_retry_after = milliseconds(3000);
        router = std::make_unique<ModelRouter>(
            catalog,
            std::move(providers),
            std::map<std::string, std::string, std::less<>>{{"gamma", "GAMMA_API_KEY"}},
            o
        );
    }

    // Runs the router on the default model as run() does, cancelled after `ms` (the caller's `||`
    // with a timer); true when the router ended first.
    bool run_cancelled_after(int ms) {
        using namespace asio::experimental::
            awaitable_operators;  // NOLINT(google-build-using-namespace)
        asio::io_context ctx;
        bool router_won = false;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                const auto* model = router->resolve("").value();
                ChatRequest r;
                auto sink = [this](StreamEvent e) {
                    seen.push_back(std::move(e));
                };
                const auto won = co_await (router->stream(*model, r, sink) || sleep_ms(ms));
                router_won = won.index() == 0;
            },
            [](std::exception_ptr e) {
                if (e) {
                    std::rethrow_exception(e);
                }
            }
        );
        ctx.run();
        return router_won;
    }

    // Runs the router on the default model, collecting what the caller sees.
    RouteResult run() {
        asio::io_context ctx;
        RouteResult result;
        asio::co_spawn(
            ctx,
            [this]() -> asio::awaitable<RouteResult> {
                const auto* model = router->resolve("").value();
                ChatRequest r;
                r.messages.push_back({"user", "hi"});
                co_return co_await router->stream(*model, r, [this](StreamEvent e) {
                    seen.push_back(std::move(e));
                });
            },
            [&](std::exception_ptr e, RouteResult r) {
                if (e) {
                    std::rethrow_exception(e);
                }
                result = std::move(r);
            }
        );
        ctx.run();
        return result;
    }

    std::string text() const {
        std::string out;
        for (const auto& e : seen) {
            if (e.kind == StreamEvent::Kind::text_delta) {
                out += e.text;
            }
        }
        return out;
    }

    const StreamEvent& last() const { return seen.back(); }

    Catalog catalog = test_catalog();
    ScriptedProvider* alpha = nullptr;
    ScriptedProvider* beta = nullptr;
    std::unique_ptr<ModelRouter> router;
    std::vector<StreamEvent> seen;
};

StreamEvent http_error(
    UpstreamError type, int status, std::optional<int> retry_after = std::nullopt
) {
    auto e = StreamEvent::failure(type, "upstream said no", status);
    if (retry_after) {
        e.retry_after = std::chrono::seconds(*retry_after);
    }
    return e;
}

TEST(RouterTest, PrimaryAnswers) {
    Fixture f({answer({"Hello", " world"})});
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.fallback_used);
    EXPECT_EQ(r.provider, "alpha");
    EXPECT_EQ(r.model, "primary-model");
    EXPECT_EQ(f.text(), "Hello world");
    ASSERT_GE(f.seen.size(), 2U);
    EXPECT_EQ(f.seen[f.seen.size() - 2].kind, StreamEvent::Kind::usage);
    EXPECT_EQ(f.last().kind, StreamEvent::Kind::stop);
    EXPECT_TRUE(f.beta->calls.empty());
}

TEST(RouterTest, ServerErrorsAreRetriedThenFallBack) {
    Fixture f({fails(http_error(UpstreamError::server, 500))});
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.fallback_used);
    EXPECT_EQ(r.provider, "beta");
    EXPECT_EQ(r.model, "fallback-model");
    EXPECT_EQ(f.alpha->calls.size(), 3U) << "one try and two retries";
    EXPECT_EQ(f.text(), "fallback answer");
    EXPECT_EQ(f.beta->calls.at(0).model, "fallback-model");
}

TEST(RouterTest, RateLimitIsRetriedAfterRetryAfter) {
    Fixture f({fails(http_error(UpstreamError::rate_limit, 429, 1)), answer({"second try"})});
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.fallback_used);
    ASSERT_EQ(f.alpha->calls.size(), 2U);
    EXPECT_GE(f.alpha->calls[1].at - f.alpha->calls[0].at, milliseconds(1000));
    EXPECT_EQ(f.text(), "second try");
}

TEST(RouterTest, TooLongRetryAfterFallsBackAtOnce) {
    Fixture f({fails(http_error(UpstreamError::rate_limit, 429, 60))});
    const auto r = f.run();
    EXPECT_TRUE(r.fallback_used);
    EXPECT_EQ(f.alpha->calls.size(), 1U);
}

TEST(RouterTest, FirstTokenTimeoutFallsBackAndCancelsTheSlowProvider) {
    Fixture f({hangs()});
    const auto start = Clock::now();
    const auto r = f.run();
    EXPECT_TRUE(r.fallback_used);
    EXPECT_TRUE(f.alpha->cancelled);
    EXPECT_EQ(f.alpha->calls.size(), 1U) << "timeouts are not retried";
    EXPECT_LT(Clock::now() - start, milliseconds(2000));
    EXPECT_EQ(f.text(), "fallback answer");
}

TEST(RouterTest, FailureAfterTheFirstTokenIsForwardedWithoutFallback) {
    Fixture f({fails(http_error(UpstreamError::overloaded, 0), {"partial"})});
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.fallback_used);
    EXPECT_EQ(f.text(), "partial");
    EXPECT_EQ(f.last().kind, StreamEvent::Kind::error);
    EXPECT_TRUE(f.beta->calls.empty());
}

TEST(RouterTest, TokensWithinTheTimeoutsAllArrive) {
    Fixture f({answer({"first", "second"}, 200)});  // 200 ms apart: under both 300 ms limits
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(f.text(), "firstsecond");
}

TEST(RouterTest, SlowFirstTokenFallsBack) {
    Fixture f({answer({"late"}, 350)});
    const auto r = f.run();
    EXPECT_TRUE(r.fallback_used);
    EXPECT_EQ(f.text(), "fallback answer");
}

TEST(RouterTest, StallBetweenTokensEndsWithATimeoutError) {
    Script stall = answer({"first"});
    stall.hang_after = true;
    Fixture f({stall});
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.fallback_used) << "a token already reached the caller";
    EXPECT_EQ(f.text(), "first");
    EXPECT_EQ(f.last().kind, StreamEvent::Kind::error);
    EXPECT_EQ(f.last().error, UpstreamError::timeout);
    EXPECT_TRUE(f.alpha->cancelled);
}

// The sink is a plain call: a provider cancelled by the watchdog may still send its connection's
// error on the way out. The caller gets the timeout, not that error.
TEST(RouterTest, AStallStaysATimeoutWhenTheCancelledProviderReportsAnError) {
    Script stall = answer({"first"});
    stall.hang_after = true;
    stall.error_when_cancelled = true;
    Fixture f({stall});
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(f.text(), "first");
    EXPECT_EQ(
        std::count_if(
            f.seen.begin(),
            f.seen.end(),
            [](const StreamEvent& e) { return e.kind == StreamEvent::Kind::error; }
        ),
        1
    );
    EXPECT_EQ(f.last().kind, StreamEvent::Kind::error);
    EXPECT_EQ(f.last().error, UpstreamError::timeout);
    EXPECT_TRUE(f.alpha->cancelled);
}

TEST(RouterTest, BetweenTokenTimeoutShorterThanFirstTokenTimeoutIsEnforced) {
    // First token allowed 2 s, then 200 ms between tokens: a 500 ms gap after the first token must
    // end the answer at about 200 ms, not at the first-token deadline.
    Fixture f(
        {answer({"a", "b", "c"}, 500)}, {answer({"unused"})}, milliseconds(2000), milliseconds(200)
    );
    const auto start = Clock::now();
    const auto r = f.run();
    const auto took = Clock::now() - start;
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(f.text(), "a");
    EXPECT_EQ(f.last().error, UpstreamError::timeout);
    EXPECT_LT(took, milliseconds(1000)) << "first token at ~500 ms, timeout ~200 ms later";
}

TEST(RouterTest, ThinkingIsOnlyAskedOfModelsThatSupportIt) {
    Fixture f({answer({"x"})});
    // The test catalog's models do not support thinking.
    asio::io_context ctx;
    ChatRequest r;
    r.thinking = true;
    r.model = "as-the-caller-set-it";
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            const auto* model = f.router->resolve("").value();
            co_await f.router->stream(*model, r, [](StreamEvent) {});
        },
        asio::detached
    );
    ctx.run();
    ASSERT_EQ(f.alpha->calls.size(), 1U);
    EXPECT_EQ(f.alpha->calls[0].model, "primary-model");
    EXPECT_FALSE(f.alpha->last_thinking);
    // The request is the caller's, not copied: what each attempt changed is put back, so a tool
    // round asks again with thinking on.
    EXPECT_TRUE(r.thinking);
    EXPECT_EQ(r.model, "as-the-caller-set-it");
}

TEST(RouterTest, InvalidRequestIsNotFallenBackFrom) {
    Fixture f({fails(http_error(UpstreamError::invalid_request, 400))});
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(f.last().kind, StreamEvent::Kind::error);
    EXPECT_EQ(f.last().error, UpstreamError::invalid_request);
    EXPECT_EQ(f.alpha->calls.size(), 1U);
    EXPECT_TRUE(f.beta->calls.empty());
}

TEST(RouterTest, EverythingDownIsOverloaded) {
    Fixture f(
        {fails(http_error(UpstreamError::server, 503))},
        {fails(http_error(UpstreamError::connection, 0))}
    );
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(f.last().kind, StreamEvent::Kind::error);
    EXPECT_EQ(f.last().error, UpstreamError::overloaded);
    EXPECT_EQ(f.alpha->calls.size(), 3U);
    EXPECT_EQ(f.beta->calls.size(), 3U);
}

TEST(RouterTest, ABadKeyEverywhereStaysAnAuthenticationError) {
    Fixture f(
        {fails(http_error(UpstreamError::authentication, 401))},
        {fails(http_error(UpstreamError::authentication, 401))}
    );
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(f.last().error, UpstreamError::authentication);
    EXPECT_EQ(f.alpha->calls.size(), 1U) << "not retried";
    EXPECT_EQ(f.beta->calls.size(), 1U);
}

TEST(RouterTest, ResolveNamesUnknownModelsAndMissingKeys) {
    Fixture f({answer({"x"})});
    EXPECT_EQ((*f.router->resolve(""))->id, "primary-model");
    EXPECT_EQ((*f.router->resolve("fallback-model"))->id, "fallback-model");
    const auto unknown = f.router->resolve("gpt-99");
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().type, ErrorType::unprocessable);
    EXPECT_NE(unknown.error().message.find("gpt-99"), std::string::npos);
    const auto unconfigured = f.router->resolve("unconfigured-model");
    ASSERT_FALSE(unconfigured.has_value());
    EXPECT_NE(unconfigured.error().message.find("GAMMA_API_KEY"), std::string::npos)
        << unconfigured.error().message;
}

TEST(RouterTest, CancellingTheCallerCancelsTheProvider) {
    Fixture f({answer({"a", "b", "c", "d", "e"}, 100)});
    EXPECT_FALSE(f.run_cancelled_after(250));
    EXPECT_TRUE(f.alpha->cancelled);
    EXPECT_LT(f.text().size(), 5U);
    EXPECT_TRUE(f.beta->calls.empty());
}

Script calls_tools(std::vector<std::string> tokens, std::vector<ToolCall> calls, int delay_ms = 0) {
    Script s = answer(std::move(tokens), delay_ms);
    s.calls = std::move(calls);
    s.finish = FinishReason::tool_use;
    return s;
}

ToolCall tool_call(std::string id, std::string arguments) {
    return ToolCall{std::move(id), "get_weather", std::move(arguments), std::nullopt};
}

// Each event as "text:…", "tool:id name arguments", "usage", "stop:reason", "error:kind".
std::vector<std::string> kinds(const std::vector<StreamEvent>& events) {
    std::vector<std::string> out;
    for (const StreamEvent& e : events) {
        switch (e.kind) {
            case StreamEvent::Kind::thinking_delta:
                out.push_back("think:" + e.text);
                break;
            case StreamEvent::Kind::text_delta:
                out.push_back("text:" + e.text);
                break;
            case StreamEvent::Kind::tool_call:
                out.push_back(
                    "tool:" + e.tool_call.id + " " + e.tool_call.name + " " + e.tool_call.arguments
                );
                break;
            case StreamEvent::Kind::usage:
                out.emplace_back("usage");
                break;
            case StreamEvent::Kind::stop:
                out.push_back("stop:" + std::string(finish_reason_name(e.finish)));
                break;
            case StreamEvent::Kind::error:
                out.push_back("error:" + std::string(upstream_error_name(e.error)));
                break;
        }
    }
    return out;
}

// Cancelled while waiting for the first token: the watchdog, cancelled as well, must not turn the
// cancellation into a timeout, a fallback or an error event.
TEST(RouterTest, CancellingTheCallerBeforeTheFirstTokenSendsNothing) {
    Script hang;
    hang.hang = true;
    hang.error_when_cancelled = true;
    // One model, no retry (as the chat CLI runs it): after the race nothing else would stop the
    // router before its final error.
    Fixture f({hang}, {}, milliseconds(300), milliseconds(300), 0, "");
    EXPECT_FALSE(f.run_cancelled_after(100));
    EXPECT_TRUE(f.alpha->cancelled);
    EXPECT_TRUE(f.seen.empty()) << "an event after the cancellation";
}

TEST(RouterTest, ToolCallsReachTheCallerInOrderBeforeUsageAndStop) {
    Fixture f({calls_tools(
        {"Checking."},
        {tool_call("call_1", R"({"city":"Paris"})"), tool_call("call_2", R"({"city":"Rome"})")}
    )});
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.fallback_used);
    EXPECT_EQ(
        kinds(f.seen),
        (std::vector<std::string>{
            "text:Checking.",
            R"(tool:call_1 get_weather {"city":"Paris"})",
            R"(tool:call_2 get_weather {"city":"Rome"})",
            "usage",
            "stop:tool_use",
        })
    );
}

TEST(RouterTest, AToolCallAloneIsAnAnswer) {
    ToolCall invalid = tool_call("call_1", "{}");
    invalid.invalid_arguments = "arguments are not valid JSON";
    invalid.signature = "sig";
    Fixture f({calls_tools({}, {invalid})});
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(
        kinds(f.seen),
        (std::vector<std::string>{"tool:call_1 get_weather {}", "usage", "stop:tool_use"})
    );
    // Passed through whole.
    EXPECT_EQ(f.seen[0].tool_call.invalid_arguments, invalid.invalid_arguments);
    EXPECT_EQ(f.seen[0].tool_call.signature, "sig");
    EXPECT_TRUE(f.beta->calls.empty());
}

TEST(RouterTest, FailureAfterAToolCallIsForwardedWithoutFallback) {
    Script s = calls_tools({}, {tool_call("call_1", "{}")});
    s.error = http_error(UpstreamError::overloaded, 0);
    Fixture f({s});
    const auto r = f.run();
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.fallback_used) << "the tool call already reached the caller";
    EXPECT_EQ(
        kinds(f.seen), (std::vector<std::string>{"tool:call_1 get_weather {}", "error:overloaded"})
    );
    EXPECT_EQ(f.alpha->calls.size(), 1U) << "not retried either";
    EXPECT_TRUE(f.beta->calls.empty());
}

TEST(RouterTest, AToolCallMovesTheBetweenTokenDeadline) {
    // 200 ms apart, under the 300 ms limits, but 600 ms in all: only the calls keep it alive.
    Fixture f({calls_tools(
        {}, {tool_call("call_1", "{}"), tool_call("call_2", "{}"), tool_call("call_3", "{}")}, 200
    )});
    const auto r = f.run();
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.fallback_used);
    EXPECT_EQ(kinds(f.seen).size(), 5U);
}

TEST(MockProviderTest, DeterministicStreamWithThinkingAndUsage) {
    auto mock = make_mock_provider({milliseconds(1)});
    ChatRequest r;
    r.messages.push_back({"user", "What is a REST API?"});
    r.thinking = true;
    std::vector<StreamEvent> a;
    std::vector<StreamEvent> b;
    for (auto* out : {&a, &b}) {
        asio::io_context ctx;
        asio::co_spawn(
            ctx,
            mock->stream(r, [out](StreamEvent e) { out->push_back(std::move(e)); }),
            asio::detached
        );
        ctx.run();
    }
    ASSERT_EQ(a.size(), b.size());
    std::string thinking;
    std::string text;
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].text, b[i].text);
        if (a[i].kind == StreamEvent::Kind::thinking_delta) {
            thinking += a[i].text;
            EXPECT_TRUE(text.empty()) << "thinking comes before text";
        } else if (a[i].kind == StreamEvent::Kind::text_delta) {
            text += a[i].text;
        }
    }
    EXPECT_NE(text.find("What is a REST API?"), std::string::npos) << text;
    EXPECT_FALSE(thinking.empty());
    EXPECT_GT(a.size(), 10U) << "streamed piece by piece";
    EXPECT_EQ(a[a.size() - 2].kind, StreamEvent::Kind::usage);
    EXPECT_GT(a[a.size() - 2].usage.input_tokens, 0);
    EXPECT_GT(a[a.size() - 2].usage.output_tokens, 0);
    EXPECT_EQ(a.back().kind, StreamEvent::Kind::stop);
}

TEST(CatalogTest, BuiltinHasTheSeedModelsAndPrices) {
    const auto& c = Catalog::builtin();
    for (const char* id :
         {"llama-3.1-8b-instant",
          "llama-3.1-70b-versatile",
          "llama-3.3-70b-versatile",
          "mixtral-8x7b-32768",
          "gemini-1.5-flash",
          "gemini-1.5-pro",
          "parley-mock"}) {
        EXPECT_NE(c.find(id), nullptr) << id;
    }
    const auto* llama = c.find("llama-3.1-8b-instant");
    EXPECT_EQ(llama->provider, "groq");
    // 1M input tokens at $0.05 and 1M output at $0.08 = $0.13 = 130,000 micro-dollars.
    EXPECT_EQ(llama->cost_micros(1'000'000, 1'000'000), 130'000);
    EXPECT_EQ(llama->cost_micros(0, 0), 0);
}

TEST(CatalogTest, ParseNamesTheBadEntry) {
    const auto bad = Catalog::parse(
        R"({"models":[{"id":"a","provider":"p","name":"n","context_window":10,"max_output":5,"input_per_mtok":1,"output_per_mtok":1},{"id":"b"}]})"
    );
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("models[1]"), std::string::npos) << bad.error().message;
    EXPECT_FALSE(Catalog::parse("[]").has_value());
    EXPECT_FALSE(Catalog::parse(R"({"models":[]})").has_value());
}

TEST(TokenEstimateTest, RoughButMonotonic) {
    EXPECT_EQ(estimate_tokens(""), 0);
    EXPECT_GE(estimate_tokens("hello"), 1);
    EXPECT_GE(estimate_tokens("What is a REST API? Explain in 2 sentences."), 9);
    EXPECT_LT(
        estimate_tokens("short"),
        estimate_tokens("a much longer sentence with many more words in it")
    );
}

}  // namespace
}  // namespace parley::llm
