#include "sessions/routing.hpp"

#include <algorithm>
#include <array>

#include "common/strings.hpp"

namespace parley::sessions {

namespace {

// The word forms that make a message analytical. An explicit list rather than a stemmer, so that
// what matches is exactly what is written here: the seed's keywords (both spellings of analyse),
// the verbs' -s/-ed/-ing forms, their nouns, and "analytical". "why" and "how" have no inflections:
// "however", "whyever", "somehow" and "show" are other words. Sorted, for binary search.
constexpr std::array<std::string_view, 30> kAnalyticalWords = {
    "analyse",    "analysed",   "analyses",    "analysing",    "analysis", "analytical",
    "analyze",    "analyzed",   "analyzes",    "analyzing",    "compare",  "compared",
    "compares",   "comparing",  "comparison",  "comparisons",  "evaluate", "evaluated",
    "evaluates",  "evaluating", "evaluation",  "evaluations",  "explain",  "explained",
    "explaining", "explains",   "explanation", "explanations", "how",      "why",
};
static_assert(std::is_sorted(kAnalyticalWords.begin(), kAnalyticalWords.end()));

constexpr std::size_t kLongestWord =
    std::max_element(
        kAnalyticalWords.begin(),
        kAnalyticalWords.end(),
        [](std::string_view a, std::string_view b) { return a.size() < b.size(); }
    )->size();

// Letters, digits, '_' and every byte of a multi-byte UTF-8 sequence are word characters, so
// "how2" and "howé" are single words; everything else (spaces, punctuation, apostrophes) separates
// words: "how's" holds the word "how", "self-explaining" the word "explaining".
bool is_word_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' ||
           u >= 0x80;
}

bool is_analytical_word(std::string_view lower) {
    return std::binary_search(kAnalyticalWords.begin(), kAnalyticalWords.end(), lower);
}

}  // namespace

std::optional<std::string> analytical_cue(std::string_view message) {
    std::size_t i = 0;
    while (i < message.size()) {
        if (!is_word_char(message[i])) {
            ++i;
            continue;
        }
        const std::size_t start = i;
        while (i < message.size() && is_word_char(message[i])) {
            ++i;
        }
        const auto word = message.substr(start, i - start);
        if (word.size() <= kLongestWord && is_analytical_word(to_lower(word))) {
            return std::string(word);
        }
    }
    return std::nullopt;
}

RoutingDecision route(const RoutingInput& input) {
    RoutingDecision d;
    d.reasons.emplace_back("default: FAST_CONCISE");
    bool analytical = false;
    if (input.user_message_count > kSummarizationUserMessages) {
        d.strategy = Strategy::summarization_aware;
        d.reasons.push_back(
            std::to_string(input.user_message_count) + " user messages (more than " +
            std::to_string(kSummarizationUserMessages) + "): SUMMARIZATION_AWARE"
        );
    }
    if (const auto cue = analytical_cue(input.message)) {
        analytical = true;
        d.strategy = Strategy::analytical;
        d.reasons.push_back("the message asks for analysis (\"" + *cue + "\"): ANALYTICAL");
    }
    if (input.tool_result_count > kToolHeavyResults) {
        d.strategy = Strategy::tool_heavy;
        d.reasons.push_back(
            std::to_string(input.tool_result_count) + " tool results in the session (more than " +
            std::to_string(kToolHeavyResults) + "): TOOL_HEAVY"
        );
    }
    if (analytical) {
        d.verbosity = Verbosity::detailed;
    } else if (d.strategy != Strategy::fast_concise) {
        d.verbosity = Verbosity::standard;
    }
    return d;
}

std::string_view strategy_name(Strategy s) noexcept {
    switch (s) {
        case Strategy::fast_concise:
            return "FAST_CONCISE";
        case Strategy::summarization_aware:
            return "SUMMARIZATION_AWARE";
        case Strategy::analytical:
            return "ANALYTICAL";
        case Strategy::tool_heavy:
            return "TOOL_HEAVY";
    }
    return "FAST_CONCISE";
}

std::optional<Strategy> parse_strategy(std::string_view name) noexcept {
    for (const auto s : {
             Strategy::fast_concise,
             Strategy::summarization_aware,
             Strategy::analytical,
             Strategy::tool_heavy,
         }) {
        if (strategy_name(s) == name) {
            return s;
        }
    }
    return std::nullopt;
}

std::string_view verbosity_name(Verbosity v) noexcept {
    switch (v) {
        case Verbosity::concise:
            return "concise";
        case Verbosity::standard:
            return "standard";
        case Verbosity::detailed:
            return "detailed";
    }
    return "concise";
}

std::string_view system_prompt_addition(Strategy s) noexcept {
    switch (s) {
        case Strategy::fast_concise:
            return "Answer briefly and directly: lead with the answer, in a few sentences at "
                   "most, without preamble or repetition of the question.";
        case Strategy::summarization_aware:
            return "This conversation is long. Build on what was already established instead of "
                   "repeating it, keep the answer focused on the latest question, and when it "
                   "helps, recap the key points so far in a sentence or two.";
        case Strategy::analytical:
            return "The user asks for analysis. Reason it through step by step: explain the why "
                   "and the how, compare the alternatives that matter, state assumptions and "
                   "trade-offs, and structure the answer with short sections or lists.";
        case Strategy::tool_heavy:
            return "Tools have been used several times in this session. Ground the answer in the "
                   "tool results already obtained, say which tool a fact came from, and call a "
                   "tool again only when the information needed is not already available.";
    }
    return {};
}

GenerationHints generation_hints(Strategy s) noexcept {
    switch (s) {
        case Strategy::fast_concise:
            return {512, 0.3};
        case Strategy::summarization_aware:
            return {1024, 0.5};
        case Strategy::analytical:
            return {2048, 0.7};
        case Strategy::tool_heavy:
            return {1024, 0.2};
    }
    return {};
}

}  // namespace parley::sessions
