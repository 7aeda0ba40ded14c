// Routing strategies (seed 004): a pure function from the state of a conversation and the message
// being answered to a response strategy, which sets an addition to the system prompt and
// suggested generation settings. The seed's rules, in its order, later rules winning:
//   default                                   → FAST_CONCISE
//   more than 10 user messages                → SUMMARIZATION_AWARE
//   the message asks to analyze, explain, …   → ANALYTICAL
//   more than 2 tool results in the session   → TOOL_HEAVY
// Unlike the seed, the keywords match whole words only ("show" is not "how", "however" is not
// "how"); see kAnalyticalWords in routing.cpp for the exact word forms. No I/O, no state, safe on
// any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::sessions {

enum class Strategy { fast_concise, summarization_aware, analytical, tool_heavy };

// How long the answer should be; derived from the rules that fired (see route()).
enum class Verbosity { concise, standard, detailed };

struct RoutingInput {
    // User messages in the conversation, the one being answered included.
    int user_message_count = 0;
    // Tool results in the conversation so far (every round of every turn).
    int tool_result_count = 0;
    // The user message being answered.
    std::string message;
};

struct RoutingDecision {
    Strategy strategy = Strategy::fast_concise;
    Verbosity verbosity = Verbosity::concise;
    // Every rule that fired, in rule order, in words ("12 user messages (more than 10)"); the last
    // one decided the strategy.
    std::vector<std::string> reasons;
};

// Suggested generation settings for a strategy. The turn applies them where the conversation has
// no setting of its own (a conversation's explicit max_tokens / temperature win).
struct GenerationHints {
    int max_tokens = 1024;
    double temperature = 0.7;
};

// Thresholds of the seed's rules: strictly more than these counts fires the rule.
inline constexpr int kSummarizationUserMessages = 10;
inline constexpr int kToolHeavyResults = 2;

// Applies the rules to `input`. Verbosity: detailed when the message asks for analysis (even when
// TOOL_HEAVY wins the strategy), standard when another rule than the default fired, else concise.
RoutingDecision route(const RoutingInput& input);

// Whether `message` asks for analysis: one of the words of kAnalyticalWords, whole-word and
// case-insensitively. Returns the word as written in the message, for the reason.
std::optional<std::string> analytical_cue(std::string_view message);

// The seed's names: "FAST_CONCISE", "SUMMARIZATION_AWARE", "ANALYTICAL", "TOOL_HEAVY".
std::string_view strategy_name(Strategy s) noexcept;

// The inverse of strategy_name (exact, upper-case); nullopt for anything else.
std::optional<Strategy> parse_strategy(std::string_view name) noexcept;

// "concise", "standard", "detailed".
std::string_view verbosity_name(Verbosity v) noexcept;

// The text the strategy appends to the conversation's system prompt (one paragraph, no leading or
// trailing newline).
std::string_view system_prompt_addition(Strategy s) noexcept;

GenerationHints generation_hints(Strategy s) noexcept;

}  // namespace parley::sessions
