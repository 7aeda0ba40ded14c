// The registry: lookup, specs for a conversation's tools, and run(), which must turn every failure
// (unknown tool, invalid arguments, time-out, exception, cancellation) into an error result and
// never throw.
#include "tools/registry.hpp"

#include <chrono>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"

namespace parley::tools {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::run_awaitable;

// A tool whose behaviour the test picks.
class FakeTool final : public Tool {
public:
    enum class Mode { echo, slow, throws, needs_text };

    FakeTool(std::string name, Mode mode) : mode_(mode) {
        spec_.name = std::move(name);
        spec_.description = "a fake";
        spec_.parameters = R"({"type":"object"})";
    }

    const llm::ToolSpec& spec() const noexcept override { return spec_; }

    asio::awaitable<ToolResult> run(const ToolContext& ctx, const boost::json::object& arguments)
        const override {
        switch (mode_) {
            case Mode::echo: {
                boost::json::object body = arguments;
                body["conversation"] = ctx.conversation_id;
                co_return ToolResult::success(body);
            }
            case Mode::slow: {
                asio::steady_timer t(co_await asio::this_coro::executor, 10s);
                co_await t.async_wait(asio::use_awaitable);
                co_return ToolResult::success({{"late", true}});
            }
            case Mode::throws:
                throw std::runtime_error("secret internal detail");
            case Mode::needs_text: {
                const auto text = string_argument(arguments, "text", 10);
                if (!text) {
                    co_return ToolResult::failure(text.error().message);
                }
                co_return ToolResult::success({{"text", *text}});
            }
        }
        co_return ToolResult::failure("unreachable");
    }

private:
    Mode mode_;
    llm::ToolSpec spec_;
};

Registry fakes() {
    Registry r;
    r.add(std::make_unique<FakeTool>("echo", FakeTool::Mode::echo));
    r.add(std::make_unique<FakeTool>("slow", FakeTool::Mode::slow));
    r.add(std::make_unique<FakeTool>("throws", FakeTool::Mode::throws));
    r.add(std::make_unique<FakeTool>("needs_text", FakeTool::Mode::needs_text));
    return r;
}

llm::ToolCall call(std::string name, std::string arguments) {
    return llm::ToolCall{"call_1", std::move(name), std::move(arguments), std::nullopt};
}

boost::json::object body(const ToolResult& r) {
    return boost::json::parse(r.content).as_object();
}

std::string error_of(const ToolResult& r) {
    EXPECT_FALSE(r.ok) << r.content;
    const auto b = body(r);
    return b.contains("error") ? std::string(b.at("error").as_string()) : "";
}

ToolResult run_call(const Registry& r, llm::ToolCall c, std::chrono::milliseconds timeout = 5s) {
    const ToolContext ctx{Principal{"user-1", "", kAllScopes}, "conv-1", nullptr};
    return run_awaitable(r.run(c, ctx, timeout));
}

TEST(RegistryTest, FindNamesAndSpecs) {
    const auto r = fakes();
    EXPECT_NE(r.find("echo"), nullptr);
    EXPECT_EQ(r.find("nope"), nullptr);
    EXPECT_EQ(r.names(), (std::vector<std::string>{"echo", "needs_text", "slow", "throws"}));
    // In the conversation's order; unknown names and repeats left out.
    const auto specs = r.specs({"slow", "unknown", "echo", "slow"});
    ASSERT_EQ(specs.size(), 2U);
    EXPECT_EQ(specs[0].name, "slow");
    EXPECT_EQ(specs[1].name, "echo");
    EXPECT_TRUE(r.specs({}).empty());
}

TEST(RegistryTest, AddRefusesDuplicatesAndBadNames) {
    Registry r;
    r.add(std::make_unique<FakeTool>("ok-name_1", FakeTool::Mode::echo));
    EXPECT_THROW(
        r.add(std::make_unique<FakeTool>("ok-name_1", FakeTool::Mode::echo)), std::invalid_argument
    );
    EXPECT_THROW(
        r.add(std::make_unique<FakeTool>("has space", FakeTool::Mode::echo)), std::invalid_argument
    );
    EXPECT_THROW(
        r.add(std::make_unique<FakeTool>("", FakeTool::Mode::echo)), std::invalid_argument
    );
    EXPECT_THROW(
        r.add(std::make_unique<FakeTool>(std::string(65, 'a'), FakeTool::Mode::echo)),
        std::invalid_argument
    );
    EXPECT_THROW(r.add(nullptr), std::invalid_argument);
}

TEST(RegistryTest, RunsATool) {
    const auto r = fakes();
    const auto result = run_call(r, call("echo", R"({"x": 1})"));
    ASSERT_TRUE(result.ok) << result.content;
    EXPECT_EQ(body(result).at("x").as_int64(), 1);
    EXPECT_EQ(body(result).at("conversation").as_string(), "conv-1");
}

TEST(RegistryTest, UnknownTool) {
    const auto r = fakes();
    EXPECT_EQ(error_of(run_call(r, call("rm_rf", "{}"))), "there is no tool named \"rm_rf\"");
}

TEST(RegistryTest, InvalidArgumentsFromTheCodec) {
    const auto r = fakes();
    auto c = call("echo", "{}");
    c.invalid_arguments = "expected a JSON object, got `{\"x\": `";
    const auto e = error_of(run_call(r, c));
    EXPECT_NE(e.find("invalid arguments for `echo`"), std::string::npos) << e;
    EXPECT_NE(e.find("expected a JSON object"), std::string::npos) << e;
}

TEST(RegistryTest, ArgumentsThatAreNotAnObject) {
    const auto r = fakes();
    EXPECT_NE(
        error_of(run_call(r, call("echo", "[1, 2]"))).find("must be a JSON object"),
        std::string::npos
    );
    EXPECT_NE(
        error_of(run_call(r, call("echo", "{\"x\":"))).find("malformed JSON"), std::string::npos
    );
    EXPECT_NE(error_of(run_call(r, call("echo", ""))).find("invalid arguments"), std::string::npos);
}

TEST(RegistryTest, ToolValidatesItsArguments) {
    const auto r = fakes();
    EXPECT_EQ(error_of(run_call(r, call("needs_text", "{}"))), "`text` is required");
    EXPECT_EQ(error_of(run_call(r, call("needs_text", R"({"text": "  "})"))), "`text` is required");
    EXPECT_EQ(
        error_of(run_call(r, call("needs_text", R"({"text": 5})"))), "`text` must be a string"
    );
    EXPECT_EQ(
        error_of(run_call(r, call("needs_text", R"({"text": "far too long here"})"))),
        "`text` is longer than 10 characters"
    );
    const auto ok = run_call(r, call("needs_text", R"({"text": " trimmed ", "extra": 1})"));
    ASSERT_TRUE(ok.ok);
    EXPECT_EQ(body(ok).at("text").as_string(), "trimmed");
}

TEST(RegistryTest, TimeoutStopsASlowTool) {
    const auto r = fakes();
    const auto start = std::chrono::steady_clock::now();
    const auto result = run_call(r, call("slow", "{}"), 50ms);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(error_of(result), "`slow` did not finish within 50 ms and was stopped");
    EXPECT_LT(elapsed, 5s);
}

TEST(RegistryTest, TimeoutInSeconds) {
    const auto r = fakes();
    // A fast tool under a long limit: the limit's timer does not keep run() waiting.
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(run_call(r, call("echo", "{}"), 30s).ok);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(RegistryTest, ExceptionBecomesAnErrorWithoutItsText) {
    const auto r = fakes();
    const auto result = run_call(r, call("throws", "{}"));
    EXPECT_EQ(error_of(result), "`throws` failed unexpectedly");
    EXPECT_EQ(result.content.find("secret"), std::string::npos);
}

// Races run() against a 20 ms timer: which finished first.
asio::awaitable<std::size_t> race_with_timer(
    const Registry& r, const llm::ToolCall& c, const ToolContext& ctx
) {
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
    const auto outcome =
        co_await (r.run(c, ctx, 10s) || t.async_wait(asio::as_tuple(asio::use_awaitable)));
    co_return outcome.index();
}

TEST(RegistryTest, CancellingTheCallerStopsTheTool) {
    const auto r = fakes();
    const ToolContext ctx{Principal{"user-1", "", kAllScopes}, "conv-1", nullptr};
    const auto slow = call("slow", "{}");
    const auto start = std::chrono::steady_clock::now();
    // The timer wins; run() is cancelled and must end at once (as an error result, not an
    // exception, which run_awaitable would rethrow), not after the tool's 10 s.
    EXPECT_EQ(run_awaitable(race_with_timer(r, slow, ctx)), 1U);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(RegistryTest, BuiltinRegistry) {
    const auto without_store = make_builtin_registry({});
    EXPECT_EQ(
        without_store.names(),
        (std::vector<std::string>{
            "calculator", "current_time", "fetch_internal_knowledge", "lookup_contextual_data"})
    );
    std::vector<std::string> seed;
    for (const auto name : kSeedTools) {
        seed.emplace_back(name);
    }
    const auto specs = without_store.specs(seed);
    ASSERT_EQ(specs.size(), 2U);
    for (const auto& s : specs) {
        EXPECT_FALSE(s.description.empty());
        // The schema is a JSON object of type "object".
        const auto schema = boost::json::parse(s.parameters).as_object();
        EXPECT_EQ(schema.at("type").as_string(), "object") << s.name;
    }
    for (const auto& name : without_store.names()) {
        const auto schema = boost::json::parse(without_store.find(name)->spec().parameters);
        EXPECT_TRUE(schema.is_object()) << name;
    }
}

}  // namespace
}  // namespace parley::tools
