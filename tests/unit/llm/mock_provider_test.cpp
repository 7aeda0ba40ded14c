// The mock provider's tool use: offered fetch_internal_knowledge and asked "What is X?", it calls
// the tool; given the tool's result, it answers from it, word by word; deterministically.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "llm/provider.hpp"

namespace parley::llm {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;
using std::chrono::milliseconds;

std::vector<StreamEvent> stream(Provider& provider, const ChatRequest& r) {
    std::vector<StreamEvent> out;
    asio::io_context ctx;
    asio::co_spawn(
        ctx,
        provider.stream(r, [&out](StreamEvent e) { out.push_back(std::move(e)); }),
        [](std::exception_ptr e) {
            if (e) {
                std::rethrow_exception(e);
            }
        }
    );
    ctx.run();
    return out;
}

std::vector<StreamEvent> complete(Provider& provider, const ChatRequest& r) {
    std::vector<StreamEvent> out;
    asio::io_context ctx;
    asio::co_spawn(ctx, provider.complete(r), [&out](std::exception_ptr e, auto events) {
        if (e) {
            std::rethrow_exception(e);
        }
        out = std::move(events);
    });
    ctx.run();
    return out;
}

ToolSpec knowledge_tool() {
    return {
        "fetch_internal_knowledge",
        "Looks a topic up in the knowledge base",
        R"({"type":"object","properties":{"topic":{"type":"string"}},"required":["topic"]})",
    };
}

ChatRequest asking(std::string question, bool with_tool = true) {
    ChatRequest r;
    r.model = "parley-mock";
    if (with_tool) {
        r.tools = {{"calculator", "Arithmetic", "{}"}, knowledge_tool()};
    }
    r.messages.push_back({"user", std::move(question)});
    return r;
}

std::vector<StreamEvent> of_kind(const std::vector<StreamEvent>& events, StreamEvent::Kind kind) {
    std::vector<StreamEvent> out;
    for (const StreamEvent& e : events) {
        if (e.kind == kind) {
            out.push_back(e);
        }
    }
    return out;
}

std::string text_of(const std::vector<StreamEvent>& events) {
    std::string out;
    for (const StreamEvent& e : of_kind(events, StreamEvent::Kind::text_delta)) {
        out += e.text;
    }
    return out;
}

TEST(MockToolsTest, AQuestionCallsTheKnowledgeTool) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"What is Python?", "python"},
        {"what are WebSockets?", "websockets"},
        {"What's asyncio", "asyncio"},
        {"  Tell me about the async model.  ", "async model"},
        {"Look up LLM", "llm"},
        {"EXPLAIN   an API gateway!!", "api gateway"},
        {"What is Node.js? I need it for work.", "node.js"},
        {"What is a \"REST API\"?", "rest api"},
        {"Tell me about C++ templates\nand more", "c++ templates"},
    };
    auto mock = make_mock_provider({milliseconds(0)});
    for (const auto& [question, topic] : cases) {
        const auto events = stream(*mock, asking(question));
        ASSERT_EQ(events.size(), 3U) << question;
        ASSERT_EQ(events[0].kind, StreamEvent::Kind::tool_call) << question;
        const ToolCall& call = events[0].tool_call;
        EXPECT_EQ(call.id, "call_mock_1");
        EXPECT_EQ(call.name, "fetch_internal_knowledge");
        EXPECT_EQ(bj::parse(call.arguments), (bj::object{{"topic", topic}})) << question;
        EXPECT_FALSE(call.invalid_arguments);
        EXPECT_EQ(events[1].kind, StreamEvent::Kind::usage);
        EXPECT_GT(events[1].usage.input_tokens, 0);
        EXPECT_GT(events[1].usage.output_tokens, 0);
        EXPECT_EQ(events[2].kind, StreamEvent::Kind::stop);
        EXPECT_EQ(events[2].finish, FinishReason::tool_use) << question;
    }
}

TEST(MockToolsTest, NoToolCallWithoutTheToolOrTheQuestion) {
    auto mock = make_mock_provider({milliseconds(0)});
    ChatRequest other_tool = asking("What is Python?", false);
    other_tool.tools = {{"calculator", "Arithmetic", "{}"}};
    for (const ChatRequest& r :
         {asking("What is Python?", false),
          other_tool,
          asking("Hello there"),
          asking("What is"),
          asking("What is ?!"),
          asking("Whatever is fine"),
          asking("Please explain monads"),
          asking("What is the"),
          asking("")}) {
        const auto events = stream(*mock, r);
        EXPECT_TRUE(of_kind(events, StreamEvent::Kind::tool_call).empty())
            << r.messages.back().content;
        EXPECT_FALSE(text_of(events).empty());
        EXPECT_EQ(events.back().finish, FinishReason::stop);
    }
}

TEST(MockToolsTest, ThinkingComesFirstAndNoText) {
    auto mock = make_mock_provider({milliseconds(0)});
    ChatRequest r = asking("What is Python?");
    r.thinking = true;
    const auto events = stream(*mock, r);
    ASSERT_GE(events.size(), 4U);
    std::size_t i = 0;
    std::string thinking;
    while (events[i].kind == StreamEvent::Kind::thinking_delta) {
        thinking += events[i].text;
        ++i;
    }
    EXPECT_NE(thinking.find("python"), std::string::npos) << thinking;
    ASSERT_EQ(events.size(), i + 3);
    EXPECT_EQ(events[i].kind, StreamEvent::Kind::tool_call);
    EXPECT_EQ(events[i + 1].kind, StreamEvent::Kind::usage);
    EXPECT_EQ(events[i + 2].finish, FinishReason::tool_use);
    EXPECT_TRUE(text_of(events).empty());
}

TEST(MockToolsTest, IdsCountTheConversationsEarlierCalls) {
    auto mock = make_mock_provider({milliseconds(0)});
    ChatRequest r = asking("What is Python?");
    ToolCall a{"call_mock_1", "fetch_internal_knowledge", R"({"topic":"a"})", std::nullopt};
    ToolCall b{"call_mock_2", "fetch_internal_knowledge", R"({"topic":"b"})", std::nullopt};
    r.messages = {
        {"user", "What is a?"},
        {"assistant", "", {a, b}},
        {"tool", "A.", {}, "call_mock_1", "fetch_internal_knowledge"},
        {"tool", "B.", {}, "call_mock_2", "fetch_internal_knowledge"},
        {"assistant", "According to the knowledge base: B."},
        {"user", "What is Python?"},
    };
    const auto calls = of_kind(stream(*mock, r), StreamEvent::Kind::tool_call);
    ASSERT_EQ(calls.size(), 1U);
    EXPECT_EQ(calls[0].tool_call.id, "call_mock_3");
}

TEST(MockToolsTest, AnswersFromTheToolResultWordByWord) {
    struct Case {
        std::string tool;
        std::string content;
        std::string answer;
    };

    const std::vector<Case> cases = {
        {"fetch_internal_knowledge",
         R"({"topic":"python","content":"Python is a programming language.","source":"kb"})",
         "According to the knowledge base: Python is a programming language."},
        {"fetch_internal_knowledge",
         R"({"summary":"Async code waits without blocking."})",
         "According to the knowledge base: Async code waits without blocking."},
        {"fetch_internal_knowledge",
         "WebSockets are full-duplex.\nOver one TCP connection.",
         "According to the knowledge base: WebSockets are full-duplex. Over one TCP connection."},
        {"fetch_internal_knowledge",
         R"({"error":"no entry for \"cobol\""})",
         "I could not get an answer from fetch_internal_knowledge: no entry for \"cobol\""},
        {"calculator", R"({"result":"4"})", "The calculator tool says: 4"},
    };
    auto mock = make_mock_provider({milliseconds(0)});
    for (const Case& c : cases) {
        ChatRequest r = asking("What is Python?");
        r.messages.push_back(
            {"assistant", "", {{"call_mock_1", c.tool, R"({"topic":"python"})", std::nullopt}}}
        );
        r.messages.push_back({"tool", c.content, {}, "call_mock_1", c.tool});
        const auto events = stream(*mock, r);
        EXPECT_EQ(text_of(events), c.answer);
        EXPECT_GT(of_kind(events, StreamEvent::Kind::text_delta).size(), 3U) << "word by word";
        EXPECT_TRUE(of_kind(events, StreamEvent::Kind::tool_call).empty());
        EXPECT_EQ(events[events.size() - 2].kind, StreamEvent::Kind::usage);
        EXPECT_EQ(events.back().kind, StreamEvent::Kind::stop);
        EXPECT_EQ(events.back().finish, FinishReason::stop);
    }
}

TEST(MockToolsTest, TheAnswerIsPacedByTheTokenDelay) {
    auto mock = make_mock_provider({milliseconds(10)});
    ChatRequest r = asking("What is Python?");
    r.messages.push_back({"assistant", "", {{"call_mock_1", "fetch_internal_knowledge", "{}", {}}}}
    );
    r.messages.push_back({"tool", "one two three four five", {}, "call_mock_1", ""});
    const auto start = std::chrono::steady_clock::now();
    const auto events = stream(*mock, r);
    const auto pieces = of_kind(events, StreamEvent::Kind::text_delta).size();
    EXPECT_EQ(pieces, 10U);  // "According to the knowledge base:" and the five words
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(10) * pieces);
}

TEST(MockToolsTest, AWholeToolTurnIsDeterministic) {
    auto mock = make_mock_provider({milliseconds(0)});
    std::vector<std::string> runs;
    for (int run = 0; run < 2; ++run) {
        ChatRequest r = asking("Tell me about WebSocket");
        const auto first = stream(*mock, r);
        ASSERT_EQ(first.front().kind, StreamEvent::Kind::tool_call);
        const ToolCall call = first.front().tool_call;
        r.messages.push_back({"assistant", "", {call}});
        r.messages.push_back(
            {"tool", R"({"content":"A protocol for two-way messages."})", {}, call.id, call.name}
        );
        const auto second = stream(*mock, r);
        runs.push_back(call.id + " " + call.arguments + " " + text_of(second));
    }
    EXPECT_EQ(runs[0], runs[1]);
    EXPECT_EQ(
        runs[0],
        R"(call_mock_1 {"topic":"websocket"} According to the knowledge base: A protocol for two-way messages.)"
    );
}

TEST(MockToolsTest, CompleteGivesWhatTheStreamGives) {
    auto mock = make_mock_provider({milliseconds(0)});
    const auto called = complete(*mock, asking("Look up python"));
    ASSERT_EQ(called.size(), 3U);
    EXPECT_EQ(called[0].kind, StreamEvent::Kind::tool_call);
    EXPECT_EQ(called[0].tool_call.arguments, R"({"topic":"python"})");
    EXPECT_EQ(called[1].kind, StreamEvent::Kind::usage);
    EXPECT_EQ(called[2].finish, FinishReason::tool_use);

    ChatRequest r = asking("Look up python");
    r.messages.push_back({"assistant", "", {called[0].tool_call}});
    r.messages.push_back({"tool", "Snakes.", {}, "call_mock_1", "fetch_internal_knowledge"});
    const auto answered = complete(*mock, r);
    EXPECT_EQ(text_of(answered), "According to the knowledge base: Snakes.");
    EXPECT_EQ(answered.back().finish, FinishReason::stop);
    EXPECT_EQ(text_of(answered), text_of(stream(*mock, r)));
}

// The estimate as first written, byte by byte: the eight-bytes-at-a-time one must agree with it
// on every text (word boundaries across blocks, the tail, bytes ≥ 0x80, NUL, every space kind).
std::int64_t estimate_by_bytes(std::string_view text) {
    std::int64_t words = 0;
    bool in_word = false;
    for (const char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
        if (!space && !in_word) {
            ++words;
        }
        in_word = !space;
    }
    return std::max(words, static_cast<std::int64_t>((text.size() + 3) / 4));
}

TEST(TokenEstimateTest, SameAsByteByByteOnRandomTexts) {
    std::mt19937 rng(14);
    const std::string alphabet{" \n\t\rab\0\x80\xff\x0b\x0c\x20\x09\x8a\x8d\xa0", 15};
    for (std::size_t length = 0; length < 70; ++length) {
        for (int round = 0; round < 200; ++round) {
            std::string text(length, ' ');
            // Mostly words (few spaces) in some rounds, mostly spaces in others.
            const std::size_t spaces = 1 + static_cast<std::size_t>(round % 6);
            for (auto& c : text) {
                const std::size_t k = rng() % (spaces + 11);
                c = k < spaces ? alphabet[rng() % 4] : alphabet[4 + (k - spaces)];
            }
            ASSERT_EQ(estimate_tokens(text), estimate_by_bytes(text)) << length << ": " << text;
        }
    }
    const std::string words =
        "What is a REST API? Explain in 2 sentences.\n\nSure:\ta b c d e f g h";
    for (std::size_t from = 0; from < words.size(); ++from) {
        const std::string_view part = std::string_view(words).substr(from);
        EXPECT_EQ(estimate_tokens(part), estimate_by_bytes(part)) << from;
    }
    // Long texts: a word in every other byte at most, past the 255 blocks of sixteen bytes whose
    // per-byte counters the vector loop sums before they overflow.
    for (const std::size_t length : {4'079U, 4'080U, 4'097U, 12'345U}) {
        std::string dense;
        std::string mixed;
        for (std::size_t k = 0; k < length; ++k) {
            dense.push_back(k % 2 == 0 ? 'a' : ' ');
            mixed.push_back(rng() % 5 == 0 ? alphabet[rng() % 4] : alphabet[4 + rng() % 11]);
        }
        EXPECT_EQ(estimate_tokens(dense), estimate_by_bytes(dense)) << length;
        EXPECT_EQ(estimate_tokens(dense), static_cast<std::int64_t>((length + 1) / 2)) << length;
        EXPECT_EQ(estimate_tokens(mixed), estimate_by_bytes(mixed)) << length;
    }
    EXPECT_EQ(estimate_tokens("a b c d e f g h i j k l"), 12);
    EXPECT_EQ(estimate_tokens("        x"), 3);  // by characters: 9 / 4, rounded up
    EXPECT_EQ(estimate_tokens("aaaaaaaa bbbbbbbb"), 5);
}

}  // namespace
}  // namespace parley::llm
