// The routing rules as a table: each row is a conversation state and the message being answered,
// with the strategy, verbosity and reasons expected. Covers the seed's weak spots (substring
// matches such as "show" for "how"), the thresholds on either side, and later rules winning.
#include "sessions/routing.hpp"

#include <gtest/gtest.h>

namespace parley::sessions {
namespace {

struct Case {
    const char* name;
    int user_messages;
    int tool_results;
    const char* message;
    Strategy strategy;
    Verbosity verbosity;
    std::size_t reasons;  // rules that fired, the default included
};

// Test names show the case's name, not its bytes.
void PrintTo(const Case& c, std::ostream* out) {
    *out << c.name;
}

class RoutingTable : public ::testing::TestWithParam<Case> {};

TEST_P(RoutingTable, Decides) {
    const Case& c = GetParam();
    const auto d = route({c.user_messages, c.tool_results, c.message});
    EXPECT_EQ(strategy_name(d.strategy), strategy_name(c.strategy)) << c.message;
    EXPECT_EQ(verbosity_name(d.verbosity), verbosity_name(c.verbosity)) << c.message;
    EXPECT_EQ(d.reasons.size(), c.reasons) << c.message;
    ASSERT_FALSE(d.reasons.empty());
    EXPECT_EQ(d.reasons.front(), "default: FAST_CONCISE");
    // The last reason names the winning strategy.
    const auto& last = d.reasons.back();
    EXPECT_EQ(
        last.substr(last.size() - strategy_name(d.strategy).size()), strategy_name(d.strategy)
    ) << last;
}

using S = Strategy;
using V = Verbosity;

const Case kCases[] = {
    // The default.
    {"plain", 1, 0, "Hello there", S::fast_concise, V::concise, 1},
    {"empty", 0, 0, "", S::fast_concise, V::concise, 1},
    // Each analytical word, whole, any case, with punctuation around it.
    {"why_question", 1, 0, "Why?", S::analytical, V::detailed, 2},
    {"how_lower", 1, 0, "how does TCP work", S::analytical, V::detailed, 2},
    {"how_upper", 1, 0, "HOW DOES IT WORK", S::analytical, V::detailed, 2},
    {"hows", 1, 0, "how's that possible", S::analytical, V::detailed, 2},
    {"explain", 1, 0, "Please explain closures.", S::analytical, V::detailed, 2},
    {"explaining", 1, 0, "Try explaining it again", S::analytical, V::detailed, 2},
    {"explanation", 1, 0, "I need an explanation", S::analytical, V::detailed, 2},
    {"hyphenated", 1, 0, "a self-explaining design", S::analytical, V::detailed, 2},
    {"analyze", 1, 0, "analyze this log", S::analytical, V::detailed, 2},
    {"analyse", 1, 0, "Analyse the results", S::analytical, V::detailed, 2},
    {"analysis", 1, 0, "give me an analysis", S::analytical, V::detailed, 2},
    {"compare", 1, 0, "compare Rust and Go", S::analytical, V::detailed, 2},
    {"compared", 1, 0, "Rust compared to Go", S::analytical, V::detailed, 2},
    {"comparison", 1, 0, "a comparison, please", S::analytical, V::detailed, 2},
    {"evaluate", 1, 0, "(evaluate) these options", S::analytical, V::detailed, 2},
    {"evaluating", 1, 0, "I am evaluating options", S::analytical, V::detailed, 2},
    // Substrings are not words: the seed's weak spot.
    {"show", 1, 0, "show me the code", S::fast_concise, V::concise, 1},
    {"however", 1, 0, "However, I disagree", S::fast_concise, V::concise, 1},
    {"whyever", 1, 0, "whyever not", S::fast_concise, V::concise, 1},
    {"somehow", 1, 0, "it works somehow", S::fast_concise, V::concise, 1},
    {"showcase", 1, 0, "a showcase of howitzers", S::fast_concise, V::concise, 1},
    {"how_digit", 1, 0, "how2 guide", S::fast_concise, V::concise, 1},
    {"how_accent", 1, 0, "how\xC3\xA9 is no word", S::fast_concise, V::concise, 1},
    {"explainer", 1, 0, "an explainer video", S::fast_concise, V::concise, 1},
    {"comparable", 1, 0, "comparable prices", S::fast_concise, V::concise, 1},
    // Summarization threshold: more than 10 user messages.
    {"ten_messages", 10, 0, "ok", S::fast_concise, V::concise, 1},
    {"eleven_messages", 11, 0, "ok", S::summarization_aware, V::standard, 2},
    {"many_messages", 40, 0, "ok", S::summarization_aware, V::standard, 2},
    // Tool-heavy threshold: more than 2 tool results.
    {"two_tools", 1, 2, "ok", S::fast_concise, V::concise, 1},
    {"three_tools", 1, 3, "ok", S::tool_heavy, V::standard, 2},
    // Later rules win.
    {"analytical_beats_summary", 11, 0, "why so?", S::analytical, V::detailed, 3},
    {"tools_beat_analytical", 1, 3, "explain", S::tool_heavy, V::detailed, 3},
    {"tools_beat_summary", 11, 3, "ok", S::tool_heavy, V::standard, 3},
    {"all_rules", 11, 3, "Compare them", S::tool_heavy, V::detailed, 4},
    {"thresholds_just_below", 10, 2, "show however", S::fast_concise, V::concise, 1},
};

INSTANTIATE_TEST_SUITE_P(Cases, RoutingTable, ::testing::ValuesIn(kCases), [](const auto& p) {
    return std::string(p.param.name);
});

TEST(RoutingTest, ReasonsSayWhichRulesFired) {
    const auto d = route({12, 4, "Why does it fail?"});
    ASSERT_EQ(d.reasons.size(), 4U);
    EXPECT_EQ(d.reasons[1], "12 user messages (more than 10): SUMMARIZATION_AWARE");
    EXPECT_EQ(d.reasons[2], "the message asks for analysis (\"Why\"): ANALYTICAL");
    EXPECT_EQ(d.reasons[3], "4 tool results in the session (more than 2): TOOL_HEAVY");
}

TEST(RoutingTest, AnalyticalCueIsTheWordAsWritten) {
    EXPECT_EQ(analytical_cue("So... EXPLAIN!"), "EXPLAIN");
    EXPECT_EQ(analytical_cue("show however whyever"), std::nullopt);
    EXPECT_EQ(analytical_cue("first how then why"), "how");
}

TEST(RoutingTest, NamesRoundTrip) {
    for (const auto s :
         {Strategy::fast_concise,
          Strategy::summarization_aware,
          Strategy::analytical,
          Strategy::tool_heavy}) {
        EXPECT_EQ(parse_strategy(strategy_name(s)), s);
        EXPECT_FALSE(system_prompt_addition(s).empty());
        const auto hints = generation_hints(s);
        EXPECT_GT(hints.max_tokens, 0);
        EXPECT_GE(hints.temperature, 0.0);
        EXPECT_LE(hints.temperature, 1.0);
    }
    EXPECT_EQ(strategy_name(Strategy::fast_concise), "FAST_CONCISE");
    EXPECT_EQ(strategy_name(Strategy::summarization_aware), "SUMMARIZATION_AWARE");
    EXPECT_EQ(strategy_name(Strategy::analytical), "ANALYTICAL");
    EXPECT_EQ(strategy_name(Strategy::tool_heavy), "TOOL_HEAVY");
    EXPECT_EQ(parse_strategy("analytical"), std::nullopt);
    EXPECT_EQ(parse_strategy(""), std::nullopt);
}

TEST(RoutingTest, AnalyticalAsksForMoreTokensThanConcise) {
    EXPECT_GT(
        generation_hints(Strategy::analytical).max_tokens,
        generation_hints(Strategy::fast_concise).max_tokens
    );
}

}  // namespace
}  // namespace parley::sessions
