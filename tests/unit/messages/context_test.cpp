// The context a model is given: the newest messages that fit, whole, oldest first; an answer's
// tool calls and results replayed before its text when the request offers tools.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llm/provider.hpp"
#include "messages/service.hpp"

namespace parley::messages {
namespace {

store::Message row(std::string role, std::string content, std::string metadata = "{}") {
    store::Message m;
    m.role = std::move(role);
    m.content = std::move(content);
    m.metadata = std::move(metadata);
    return m;
}

// A branch's message as the store hands it out: shared.
store::SharedMessage message(std::string role, std::string content, std::string metadata = "{}") {
    return std::make_shared<const store::Message>(
        row(std::move(role), std::move(content), std::move(metadata))
    );
}

const std::string kToolMetadata =
    R"({"tool_calls":[{"id":"call_1","name":"fetch_internal_knowledge","arguments":{"topic":"python"},)"
    R"("signature":"sig-abc"}],)"
    R"("tool_results":[{"tool_use_id":"call_1","name":"fetch_internal_knowledge",)"
    R"("result":{"topic":"python","content":"Python is a language."},"is_error":false}],"tool_rounds":1})";

TEST(FitContextTest, ReplaysToolCallsAndResultsBeforeTheAnswerWhenToolsAreOffered) {
    const std::vector<store::SharedMessage> newest_first = {
        message("user", "thanks"),
        message(
            "assistant", "According to the knowledge base: Python is a language.", kToolMetadata
        ),
        message("user", "What is Python?"),
    };
    const auto with = fit_context(newest_first, 10'000, true);
    ASSERT_EQ(with.size(), 5U);
    EXPECT_EQ(with[0].role, "user");
    EXPECT_EQ(with[1].role, "assistant");
    ASSERT_EQ(with[1].tool_calls.size(), 1U);
    EXPECT_EQ(with[1].tool_calls[0].id, "call_1");
    EXPECT_EQ(with[1].tool_calls[0].name, "fetch_internal_knowledge");
    EXPECT_EQ(with[1].tool_calls[0].arguments, R"({"topic":"python"})");
    EXPECT_EQ(with[1].tool_calls[0].signature, "sig-abc") << "Gemini's thought signature replays";
    EXPECT_EQ(with[2].role, "tool");
    EXPECT_EQ(with[2].tool_call_id, "call_1");
    EXPECT_EQ(with[2].tool_name, "fetch_internal_knowledge");
    EXPECT_NE(with[2].content.view().find("Python is a language."), std::string::npos);
    EXPECT_EQ(with[3].content, "According to the knowledge base: Python is a language.");
    EXPECT_EQ(with[4].content, "thanks");

    const auto without = fit_context(newest_first, 10'000, false);
    ASSERT_EQ(without.size(), 3U);
    for (const auto& m : without) {
        EXPECT_TRUE(m.tool_calls.empty());
        EXPECT_NE(m.role, "tool");
    }
}

TEST(FitContextTest, AReplayedErrorResultIsStillMarkedAnError) {
    const std::string metadata =
        R"({"tool_calls":[{"id":"c1","name":"calculator","arguments":{"expression":"1/0"}},)"
        R"({"id":"c2","name":"calculator","arguments":{"expression":"1+1"}}],)"
        R"("tool_results":[{"tool_use_id":"c1","name":"calculator","result":{"error":"division by zero"},)"
        R"("is_error":true},{"tool_use_id":"c2","name":"calculator","result":{"result":2},)"
        R"("is_error":false}]})";
    const auto fitted = fit_context({message("assistant", "", metadata)}, 10'000, true);
    ASSERT_EQ(fitted.size(), 3U);
    EXPECT_TRUE(fitted[1].tool_error);
    EXPECT_FALSE(fitted[2].tool_error);
}

TEST(FitContextTest, RepeatedCallIdsEachReplayTheirOwnResult) {
    // Two rounds of one Gemini turn: the API gave no ids, so both calls are call_0.
    const std::string metadata =
        R"({"tool_calls":[{"id":"call_0","name":"calculator","arguments":{"expression":"1+1"}},)"
        R"({"id":"call_0","name":"calculator","arguments":{"expression":"20*2"}}],)"
        R"("tool_results":[{"tool_use_id":"call_0","name":"calculator","result":{"result":2},)"
        R"("is_error":false},{"tool_use_id":"call_0","name":"calculator","result":{"result":40},)"
        R"("is_error":false}]})";
    const auto fitted = fit_context({message("assistant", "", metadata)}, 10'000, true);
    ASSERT_EQ(fitted.size(), 3U);
    EXPECT_EQ(fitted[1].content, R"({"result":2})");
    EXPECT_EQ(fitted[2].content, R"({"result":40})");
}

TEST(FitContextTest, DropsOlderTurnsWholeAndSkipsErrors) {
    auto failed = row("assistant", "broken");
    failed.status = "error";
    const std::vector<store::SharedMessage> newest_first = {
        message("user", std::string(40, 'a')),
        std::make_shared<const store::Message>(failed),
        message("assistant", std::string(400, 'b')),
        message("user", "old"),
    };
    const auto fitted = fit_context(newest_first, 30);
    ASSERT_EQ(fitted.size(), 1U);
    EXPECT_EQ(fitted[0].content, std::string(40, 'a'));
}

// A send takes its prompt estimate from the fitting (each message estimated once): the messages are
// fit_context's, and `tokens` is what they were estimated at, at the budget's edge too.
TEST(FitContextTest, CountedGivesTheSameMessagesAndTheirEstimate) {
    const std::vector<store::SharedMessage> newest_first = {
        message("user", "What is a REST API? Explain in 2 sentences."),
        message(
            "assistant", "According to the knowledge base: Python is a language.", kToolMetadata
        ),
        message("user", "What is Python?"),
        message("assistant", std::string(90, 'b')),
        message("user", "old question, long ago"),
    };
    for (const bool tools : {false, true}) {
        for (std::int64_t budget = 0; budget < 120; ++budget) {
            const auto plain = fit_context(newest_first, budget, tools);
            const auto counted = fit_context_counted(newest_first, budget, tools);
            ASSERT_EQ(counted.messages.size(), plain.size()) << budget;
            std::int64_t tokens = 0;
            for (std::size_t i = 0; i < plain.size(); ++i) {
                EXPECT_EQ(counted.messages[i].role, plain[i].role);
                EXPECT_EQ(counted.messages[i].content, plain[i].content);
                EXPECT_EQ(counted.messages[i].tool_calls.size(), plain[i].tool_calls.size());
                tokens += llm::estimate_tokens(plain[i].content) + 4;
            }
            EXPECT_EQ(counted.tokens, tokens) << budget << (tools ? " with tools" : "");
        }
    }
    // Everything fits: five messages (seven with the replayed call and result).
    EXPECT_EQ(fit_context_counted(newest_first, 10'000).messages.size(), 5U);
    EXPECT_EQ(fit_context_counted(newest_first, 10'000, true).messages.size(), 7U);
    EXPECT_EQ(fit_context_counted({}, 10'000).tokens, 0);
}

// The fitting against a plain reading of its rule, without tools: newest first, an errored
// message or one neither the user's nor the assistant's left out, an empty one skipped, each
// other costing its estimate + 4 until the next would pass the budget; the kept ones oldest first.
TEST(FitContextTest, KeepsTheNewestMessagesThatFitAtEveryBudget) {
    std::vector<store::SharedMessage> newest_first = {
        message("user", "and now?"),
        message("assistant", std::string(33, 'x')),
        message("assistant", "an answer that failed half way"),
        message("system", "a system note, never replayed"),
        message("user", "one two three four five six seven"),
        message("assistant", ""),
        message("user", "first question of all"),
    };
    auto failed = row("assistant", "an answer that failed half way");
    failed.status = "error";
    newest_first[2] = std::make_shared<const store::Message>(failed);
    for (std::int64_t budget = 0; budget < 80; ++budget) {
        std::vector<std::string> expected;
        std::int64_t used = 0;
        for (const auto& m : newest_first) {
            if (m->status == "error" || m->role == "system" || m->content.empty()) {
                continue;
            }
            const std::int64_t cost = llm::estimate_tokens(m->content) + 4;
            if (used + cost > budget) {
                break;
            }
            used += cost;
            expected.insert(expected.begin(), m->content);
        }
        const auto fitted = fit_context_counted(newest_first, budget);
        std::vector<std::string> got;
        for (const auto& m : fitted.messages) {
            got.push_back(m.content.str());
        }
        EXPECT_EQ(got, expected) << budget;
        EXPECT_EQ(fitted.tokens, used) << budget;
    }
    // The edges, worked out by hand: 6 + 13 + 13 + 10 tokens, the newest first.
    EXPECT_EQ(fit_context_counted(newest_first, 42).messages.size(), 4U);
    EXPECT_EQ(fit_context_counted(newest_first, 41).messages.size(), 3U);
    EXPECT_EQ(fit_context_counted(newest_first, 6).messages.size(), 1U);
    EXPECT_TRUE(fit_context_counted(newest_first, 5).messages.empty());
}

// A stored row is shared between turns (and remembered between reads): its estimate is worked out
// by the first fitting and then taken from the row, not made again for every turn; a copy of the
// row, which may be changed, is estimated anew.
TEST(FitContextTest, AStoredRowIsEstimatedOnceAndACopyAnew) {
    const auto stored = message("user", "What is a REST API? Explain in 2 sentences.");
    EXPECT_LT(stored->content_tokens.get(), 0);
    const auto first = fit_context_counted({stored}, 10'000);
    EXPECT_EQ(stored->content_tokens.get(), llm::estimate_tokens(stored->content));
    EXPECT_EQ(first.tokens, llm::estimate_tokens(stored->content) + 4);

    // The next turn takes the row's figure: one too large for the budget leaves the row out.
    stored->content_tokens.set(20'000);
    EXPECT_TRUE(fit_context_counted({stored}, 10'000).messages.empty());

    store::Message copy = *stored;
    EXPECT_LT(copy.content_tokens.get(), 0);
    copy.content = "short";
    const auto fitted = fit_context_counted({}, 10'000, false, &copy);
    ASSERT_EQ(fitted.messages.size(), 1U);
    EXPECT_EQ(fitted.tokens, llm::estimate_tokens("short") + 4);
    store::Message assigned;
    assigned.content_tokens.set(7);
    assigned = *stored;
    EXPECT_LT(assigned.content_tokens.get(), 0);
}

// A send passes its own message apart (not inserted in front of a branch of hundreds): the same
// messages and estimate as with it in front, at every budget, and the message is left as it was.
TEST(FitContextTest, TheTurnsOwnMessageApartFitsAsInFront) {
    const std::vector<store::SharedMessage> branch = {
        message(
            "assistant", "According to the knowledge base: Python is a language.", kToolMetadata
        ),
        message("user", "What is Python?"),
        message("assistant", std::string(90, 'b')),
        message("user", "old question, long ago"),
    };
    const store::Message own = row("user", "What is a REST API? Explain in 2 sentences.");
    std::vector<store::SharedMessage> in_front = branch;
    in_front.insert(in_front.begin(), std::make_shared<const store::Message>(own));
    for (const bool tools : {false, true}) {
        for (std::int64_t budget = 0; budget < 120; ++budget) {
            const auto expected = fit_context_counted(in_front, budget, tools);
            const auto apart = fit_context_counted(branch, budget, tools, &own);
            ASSERT_EQ(apart.messages.size(), expected.messages.size()) << budget;
            for (std::size_t i = 0; i < expected.messages.size(); ++i) {
                EXPECT_EQ(apart.messages[i].role, expected.messages[i].role);
                EXPECT_EQ(apart.messages[i].content, expected.messages[i].content);
                EXPECT_EQ(
                    apart.messages[i].tool_calls.size(), expected.messages[i].tool_calls.size()
                );
            }
            EXPECT_EQ(apart.tokens, expected.tokens) << budget;
        }
    }
    EXPECT_EQ(
        fit_context_counted(branch, 10'000, false, &own).messages.back().content, own.content
    );
    EXPECT_EQ(own.content, "What is a REST API? Explain in 2 sentences.");
    EXPECT_EQ(own.role, "user");
}

// A stored row's text goes into the request shared, not copied, and the request keeps the row
// (a turn keeps its request for the whole answer: copies of a long context were most of a held
// stream's memory, issue 14); the turn's own message, not a stored row yet, is copied, and so is
// a row whose other fields (its thinking here) outweigh its text, which sharing would keep too.
TEST(FitContextTest, AStoredRowsTextIsSharedNotCopiedUnlessTheRowOutweighsIt) {
    auto question = message("user", std::string(2000, 'q'));
    auto answer = message("assistant", std::string(2000, 'a'));
    store::Message thought = row("assistant", std::string(2000, 't'));
    thought.thinking = std::string(8000, 'h');
    auto thoughtful = std::make_shared<const store::Message>(std::move(thought));
    const std::weak_ptr<const store::Message> question_kept = question;
    const std::weak_ptr<const store::Message> thoughtful_kept = thoughtful;
    const store::Message own = row("user", "and now?");
    auto fitted = fit_context_counted({thoughtful, answer, question}, 100'000, false, &own);
    ASSERT_EQ(fitted.messages.size(), 4U);
    EXPECT_EQ(fitted.messages[0].content.view().data(), question->content.data());
    EXPECT_EQ(fitted.messages[1].content.view().data(), answer->content.data());
    EXPECT_NE(fitted.messages[2].content.view().data(), thoughtful->content.data());
    EXPECT_EQ(fitted.messages[2].content, std::string(2000, 't'));
    EXPECT_NE(fitted.messages[3].content.view().data(), own.content.data());
    EXPECT_EQ(fitted.messages[3].content, "and now?");
    question.reset();
    answer.reset();
    thoughtful.reset();
    EXPECT_TRUE(thoughtful_kept.expired());  // copied: the request does not keep its thinking
    EXPECT_FALSE(question_kept.expired());
    EXPECT_EQ(fitted.messages[0].content, std::string(2000, 'q'));  // read after the branch went
    fitted.messages.clear();
    EXPECT_TRUE(question_kept.expired());
}

}  // namespace
}  // namespace parley::messages
